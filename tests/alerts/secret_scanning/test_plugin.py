"""The secret-scanning plug-in under the engine: a cleanup PR only after passing verification."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from e2e import e2e, verify_ok

AWS = "AKIAIOSFODNN7CANARY3"
FAILS = f'{sys.executable} -c "raise SystemExit(3)"'


def scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {".env": f"AWS_ACCESS_KEY_ID={AWS}\nDEBUG=1\n", "README.md": "x\n"},
                "features": {"code_scanning": "disabled"},
            }
        ],
    }


def target(**extra: Any) -> dict[str, Any]:
    return {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok()],
        **extra,
    }


def secret_unit(summary: dict[str, Any]) -> dict[str, Any]:
    [unit] = [u for u in summary["units"] if u["alert_class"] == "secret_scanning"]
    return unit


def test_no_cleanup_pr_when_the_targets_verification_fails(tmp_path: Path) -> None:
    repos = [{"repo": "api", "targets": [target(verification_commands=[FAILS])]}]
    with e2e(tmp_path, scenario(), repos, mode="pull_request") as env:
        result, summary = env.run()
        unit = secret_unit(summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_failed")
        assert "exit 3" in unit["detail"] and unit["verification_provenance"] == "observed"
        assert unit["triage_state"] == "active" and unit["manual_follow_up"]
        assert env.sim.admin.pulls("api") == [] and env.mutating() == []
        assert AWS not in result.stdout + result.stderr


def test_no_cleanup_pr_on_a_platform_the_target_does_not_support(tmp_path: Path) -> None:
    repos = [{"repo": "api", "targets": [target(supported_platforms=["darwin"])]}]
    with e2e(tmp_path, scenario(), repos, mode="pull_request") as env:
        _, summary = env.run()
        unit = secret_unit(summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "env_mismatch")
        assert "darwin" in unit["detail"] and unit["verification_provenance"] == "not_run"
        assert env.sim.admin.pulls("api") == []


def test_a_passing_target_gets_a_cleanup_pr_that_is_never_merged(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), [{"repo": "api", "targets": [target()]}]) as env:
        _, summary = env.run()
        unit = secret_unit(summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "policy_blocked")
        [pull] = env.sim.admin.pulls("api")
        assert pull["state"] == "open" and not pull["merged"] and AWS not in pull["body"]


def test_a_repository_without_secret_alerts_is_not_fetched(tmp_path: Path) -> None:
    """Triage reads the base branch, so the base is fetched for a repository with secret
    alerts only: a run over a fleet with none makes no git request for them."""
    quiet = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"README.md": "x\n"}}],
    }
    with e2e(tmp_path, quiet, [{"repo": "api", "targets": [target()]}]) as env:
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert [g.service for g in env.sim.admin.git_requests() if g.repo == "api"] == []
