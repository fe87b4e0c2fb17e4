"""The Dependabot pass end to end: simulator, real git, real gh, the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e import e2e


def pip_repo(requirements: str = "requests==2.25.0\n", **extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": requirements, "app.py": "print('hi')\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def test_pinned_requests_is_bumped_merged_and_fixed(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot", repository="api")
        assert unit["outcome"] == "merged", (
            unit["reason_code"],
            unit["remaining_blocker"],
            unit["detail"],
        )
        assert unit["pr_source"] == "agent_managed"
        assert unit["verification_provenance"] == "observed"
        assert sorted(unit["advisory_ids"]) == [
            "GHSA-9hjg-9r4m-mvj7",
            "GHSA-9wx4-h78v-vm56",
            "GHSA-j8r2-6x86-q33q",
        ]
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"] and pull["state"] == "closed"
        assert "agentd:remediation" in pull["body"]
        alerts = env.sim.admin.alerts("api", "dependabot")
        assert alerts and all(a["state"] == "fixed" for a in alerts)
        content = env.sim.remote_path("api")
        import subprocess

        main = subprocess.run(
            ["git", "--git-dir", str(content), "show", "main:requirements.txt"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert main == "requests==2.32.4\n"

        env.sim.admin.reset()
        again, summary2 = env.run()
        assert again.returncode == 0, again.stderr[-2000:]
        assert env.mutating() == []
