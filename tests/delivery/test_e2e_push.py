"""Pushes GitHub refuses, end to end: real git over smart HTTP with the token from askpass.

The simulator refuses like GitHub (a workflow file without the `workflow` scope, a ruleset's
signature rule, push protection, an archived repository); agentd reports each with its
reason, never retries it in the run, and does not push the same change again next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e import E2E, TOKEN, e2e

BUILD = "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"
CODE_SCANNING = {
    "allowlisted_rules": ["actions/missing-workflow-permissions"],
    "auto_merge_rules": ["actions/missing-workflow-permissions"],
}
AWS = "AKIAIOSFODNN7PUSHPRO"


def scenario(*repos: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos), **extra}


def pip_repo(name: str = "api", **extra: Any) -> dict[str, Any]:
    files = {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"}
    return {"name": name, "files": files, "checks": [{"name": "ci", "outcome": "success"}], **extra}


def only_unit(env: E2E, summary: dict[str, Any], alert_class: str) -> dict[str, Any]:
    [unit] = env.units(summary, repository="api", alert_class=alert_class)
    return unit


def test_a_workflow_fix_without_the_workflow_scope_is_blocked_and_not_pushed_again(
    tmp_path: Path,
) -> None:
    repo = {"name": "api", "files": {".github/workflows/ci.yml": BUILD}}
    narrow = {"auth": {"token_scopes": {TOKEN: ["repo", "security_events"]}}}
    with e2e(tmp_path, scenario(repo, **narrow), [{"repo": "api"}], code_scanning=CODE_SCANNING) as env:  # fmt: skip
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary, "code_scanning")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "auth_insufficient")
        assert "without `workflow` scope" in unit["detail"]
        assert "grant the token the workflow scope" in unit["detail"]
        [push] = env.sim.admin.pushes("api")  # refused once, not retried in the run
        assert (push.result, push.rule) == ("rejected", "workflow scope")
        assert env.sim.admin.pulls("api") == []

        _, again = env.run()
        unit = only_unit(env, again, "code_scanning")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "auth_insufficient")
        assert "not retried until the change or the profile changes" in unit["detail"]
        assert "rejected by GitHub on " in unit["detail"]
        assert len(env.sim.admin.pushes("api")) == 1  # the same change is not pushed again

        env.sim.admin.push("api", "main", {"README.md": "moved on\n"}, "a person's commit")
        _, moved = env.run()  # another base: another change, tried again
        assert only_unit(env, moved, "code_scanning")["reason_code"] == "auth_insufficient"
        assert len(env.sim.admin.pushes("api")) == 2


def test_a_ruleset_requiring_signatures_blocks_the_push(tmp_path: Path) -> None:
    signed = {"name": "signed", "include": ["refs/heads/security/**"], "required_signatures": True}
    with e2e(tmp_path, scenario(pip_repo(rulesets=[signed])), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary, "dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "branch_protection_block")
        assert "GH013: Commits must have verified signatures" in unit["detail"]
        assert [p.rule for p in env.sim.admin.pushes("api")] == ["repository rules"]
        assert env.sim.admin.pulls("api") == []
        audit = (env.state_dir / "audit" / "e2e.jsonl").read_text()
        assert '"result": "refused"' in audit


def test_push_protection_blocks_and_is_never_bypassed(tmp_path: Path) -> None:
    leaky = pip_repo(
        files={"requirements.txt": f"requests==2.25.0\n# mirror key {AWS}\n"},
        features={"push_protection": "enabled", "secret_scanning": "disabled"},
    )
    with e2e(tmp_path, scenario(leaky), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary, "dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "policy_blocked")
        assert "GH009: Secrets detected" in unit["detail"]
        assert "never bypasses push protection" in unit["detail"]
        assert AWS not in unit["detail"]
        assert [p.result for p in env.sim.admin.pushes("api")] == ["rejected"]
        assert not any("unblock-secret" in r.path for r in env.sim.admin.requests())


def test_an_archived_repository_is_never_pushed_to(tmp_path: Path) -> None:
    repos = scenario(pip_repo(archived=True), pip_repo("web"))
    with e2e(tmp_path, repos, [{"repo": "api"}, {"repo": "web"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary, "dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "policy_blocked")
        assert env.sim.admin.pushes("api") == []
        assert not any(g.service == "git-receive-pack" for g in env.sim.admin.git_requests() if g.repo == "api")  # fmt: skip
        [web] = env.units(summary, repository="web", alert_class="dependabot")
        assert web["outcome"] == "merged", web["detail"]  # over HTTP, with the token
        assert [p.result for p in env.sim.admin.pushes("web")] == ["ok"]
