"""Verification runs in the target's own workdir, or the unit says why it cannot."""

from __future__ import annotations

from pathlib import Path

from e2e import e2e, verify_ok

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "success"}],
            "protection": {"required_checks": ["ci"]},
        }
    ],
}


def test_a_missing_verification_workdir_is_reported_not_replaced(tmp_path: Path) -> None:
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok()],
        "verification_workdir": "tests/unit",
    }
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_unavailable")
        assert "'tests/unit'" in unit["detail"] and "does not exist" in unit["detail"]
        assert unit["verification_provenance"] == "not_run"
        assert env.sim.admin.pulls("api") == []
