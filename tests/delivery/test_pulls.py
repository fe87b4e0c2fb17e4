"""An unchanged organisation gets zero mutating requests: no PR is edited just to restamp it."""

from __future__ import annotations

from pathlib import Path

from e2e import e2e

from agentd.stamp import Stamp, render_stamp, same_visible_content
from agentd.vocabulary import AlertClass

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "pending"}],
            "protection": {"required_checks": ["ci"]},
        }
    ],
}


def stamp(last_pass_at: str, advisory: str = "GHSA-9hjg-9r4m-mvj7") -> str:
    return render_stamp(
        Stamp(
            remediation_key="acme-org/api:dependabot:main:root",
            alert_class=AlertClass.DEPENDABOT,
            target_id="root",
            base_branch="main",
            advisory_ids=[advisory],
            agent_version="0.1.0",
            last_pass_at=last_pass_at,
        )
    )


def test_only_the_time_of_the_pass_is_not_a_visible_change() -> None:
    old = f"body\n\n{stamp('2026-12-01T00:00:00+00:00')}\n"
    assert same_visible_content(old, f"body\n\n{stamp('2026-12-02T00:00:00+00:00')}\n")
    assert not same_visible_content(old, f"other\n\n{stamp('2026-12-01T00:00:00+00:00')}\n")
    changed = stamp("2026-12-01T00:00:00+00:00", "GHSA-j8r2-6x86-q33q")
    assert not same_visible_content(old, f"body\n\n{changed}\n")


def test_a_second_run_on_an_unchanged_organisation_mutates_nothing(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        result, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["remaining_blocker"] == "checks_pending", unit
        env.sim.admin.reset()
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["remaining_blocker"] == "checks_pending", unit
        assert [(r.method, r.path) for r in env.mutating()] == []
