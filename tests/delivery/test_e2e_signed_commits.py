"""A base whose rules require verified signatures merges agentd's fix with `commit_via: api`:
GitHub creates (and signs) the commit through the Git Data API (issue 3/6, point 5)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from e2e import e2e


def scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "ci", "outcome": "success"}],
                "rulesets": [
                    {"name": "signed", "required_checks": ["ci"], "required_signatures": True}
                ],
            }
        ],
    }


def main_file(env: Any) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(env.sim.remote_path("api")), "show", "main:requirements.txt"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_a_signature_rule_blocks_git_commits_and_merges_api_commits(tmp_path: Path) -> None:
    with e2e(tmp_path / "git", scenario(), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "branch_protection_block"), (
            unit
        )
        assert "signatures" in unit["detail"] and main_file(env) == "requests==2.25.0\n"

    with e2e(tmp_path / "api", scenario(), [{"repo": "api"}], commit_via="api") as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit
        assert main_file(env) == "requests==2.32.4\n"
        writes = {(r.method, r.route) for r in env.mutating()}
        assert ("POST", "/repos/{owner}/{repo}/git/commits") in writes
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"]
