"""The code-scanning plug-in under the engine: gates for every class, no silent alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e import e2e, verify_ok

CI = (
    "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"
)
RULES = {
    "allowlisted_rules": ["actions/missing-workflow-permissions"],
    "auto_merge_rules": ["actions/missing-workflow-permissions"],
}


def scenario(**files: str) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {".github/workflows/ci.yml": CI, **files},
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
                "features": {"secret_scanning": "disabled"},
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


def code_units(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for u in summary["units"] if u["alert_class"] == "code_scanning"]


def test_a_missing_required_variable_holds_a_code_scanning_fix(tmp_path: Path) -> None:
    repos = [{"repo": "api", "targets": [target(required_env_vars=["NPM_TOKEN"])]}]
    with e2e(tmp_path, scenario(), repos, code_scanning=RULES) as env:
        _, summary = env.run()
        [unit] = code_units(summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "registry_auth_missing")
        assert "NPM_TOKEN" in unit["detail"] and env.sim.admin.pulls("api") == []


def test_a_code_scanning_fix_is_not_made_for_a_platform_the_target_does_not_support(
    tmp_path: Path,
) -> None:
    repos = [{"repo": "api", "targets": [target(supported_platforms=["darwin"])]}]
    with e2e(tmp_path, scenario(), repos, code_scanning=RULES) as env:
        _, summary = env.run()
        [unit] = code_units(summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "env_mismatch")
        assert env.sim.admin.pulls("api") == []


def test_an_alert_outside_every_target_is_a_unit_with_a_reason(tmp_path: Path) -> None:
    repos = [{"repo": "api", "targets": [target(target_id="svc", path="services")]}]
    with e2e(tmp_path, scenario(**{"services/app.py": "x\n"}), repos, code_scanning=RULES) as env:
        _, summary = env.run()
        [unit] = code_units(summary)
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "policy_blocked")
        assert "no target covers .github/workflows/ci.yml" in unit["detail"]
        assert unit["alert_numbers"] and unit["rule_id"] == "actions/missing-workflow-permissions"
        remaining = [
            r for r in summary["remaining_open_alerts"] if r["alert_class"] == "code_scanning"
        ]
        assert remaining and all(r["why"] == "policy_blocked" for r in remaining)


def test_a_base_that_is_not_the_default_branch_reads_its_own_alerts(tmp_path: Path) -> None:
    scene = scenario()
    scene["repositories"][0]["branches"] = {"develop": {"files": {"x.txt": "x\n"}}}
    repos = [{"repo": "api", "default_base_branch": "develop", "targets": [target()]}]
    with e2e(tmp_path, scene, repos, mode="report_only", code_scanning=RULES) as env:
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        reads = [
            r for r in env.sim.admin.requests() if r.path.endswith("/api/code-scanning/alerts")
        ]
        assert any(r.query.get("ref") == "refs/heads/develop" for r in reads), reads
