"""Planning reports what cannot be worked on up front, with its alerts."""

from __future__ import annotations

from pathlib import Path

from e2e import e2e


def test_an_archived_repository_is_reported_and_never_pushed_to(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "api", "archived": True, "files": {"requirements.txt": "requests==2.25.0\n"}}
        ],
    }
    with e2e(tmp_path, scenario, [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "policy_blocked")
        assert "archived" in unit["detail"] and len(unit["alert_numbers"]) == 3
        assert env.mutating() == [] and env.sim.admin.branches("api").keys() == {"main"}
        remaining = [
            r for r in summary["remaining_open_alerts"] if r["alert_class"] == "dependabot"
        ]
        assert {r["why"] for r in remaining} == {"policy_blocked"}
