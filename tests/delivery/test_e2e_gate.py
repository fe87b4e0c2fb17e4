"""The review gate end to end: simulator, real git, real gh, the real CLI (SPEC §10).

Required reviews are never bypassed (not even by an admin token GitHub would let through),
a merge-queue base is enqueued and never merged through REST, a non-admin token merges a
classically protected base from what it can read, linear history merges by squash, and
native auto-merge is pinned to the verified head and merged by GitHub once checks pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from e2e import E2E, e2e

ADMIN = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}


def pip_repo(**extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def only_unit(env: E2E, summary: dict[str, Any]) -> dict[str, Any]:
    [unit] = env.units(summary, repository="api", alert_class="dependabot")
    return unit


def rest_merges(env: E2E) -> list[Any]:
    return [r for r in env.sim.admin.requests() if r.method == "PUT" and r.path.endswith("/merge")]


def graphql_calls(env: E2E) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in env.sim.admin.requests() if r.path == "/graphql"]


def test_a_missing_review_is_never_bypassed_and_an_approval_merges(tmp_path: Path) -> None:
    protection = {"required_checks": ["ci"], "required_reviews": {"count": 1}}
    repo = pip_repo(protection=protection, permissions=ADMIN)
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == (
            "opened_pr",
            "branch_protection_block",
        ), unit["detail"]
        assert "review required" in unit["detail"] and "0 present" in unit["detail"]
        assert rest_merges(env) == [] and graphql_calls(env) == []
        [pull] = env.sim.admin.pulls("api")
        # GitHub would have let this admin token through (enforce_admins is off): agentd did not.
        with httpx.Client(
            base_url=env.sim.api_url, headers={"Authorization": f"token {env.token}"}
        ) as http:
            shown = http.get(f"/repos/acme-org/api/pulls/{pull['number']}").json()
            assert shown["mergeable_state"] == "blocked"

        env.sim.admin.review("api", pull["number"], "alice")
        result, summary = env.run()
        unit = only_unit(env, summary)
        assert unit["outcome"] == "merged", unit["detail"]
        assert "approved by alice" in unit["detail"]
        assert [r.status for r in rest_merges(env)] == [200]


def test_a_merge_queue_base_is_enqueued_never_merged_through_rest(tmp_path: Path) -> None:
    ruleset = {"required_checks": ["ci"], "merge_queue": {"merge_method": "SQUASH"}}
    repo = pip_repo(rulesets=[ruleset], permissions=ADMIN)
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending")
        assert "requires a merge queue: enqueued" in unit["detail"]
        [enqueue] = graphql_calls(env)
        [pull] = env.sim.admin.pulls("api")
        assert "enqueuePullRequest" in enqueue["query"]
        assert enqueue["variables"]["oid"] == pull["head_sha"]
        assert pull["merged"]  # the queue merged it, by its own method
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert env.units(summary, repository="api", alert_class="dependabot") == []
        assert rest_merges(env) == []


def test_a_non_admin_token_merges_a_classically_protected_base(tmp_path: Path) -> None:
    repo = pip_repo(protection={"required_checks": ["ci"]})  # permissions.admin: false
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert unit["outcome"] == "merged", unit["detail"]
        # The listing says the token is no admin: GitHub would answer 404, so agentd does
        # not ask; the branch's protection summary names the required checks.
        paths = [r.path for r in env.sim.admin.requests()]
        assert not [p for p in paths if p.endswith("/branches/main/protection")], paths
        assert [p for p in paths if p.endswith("/branches/main")], paths
        assert "required checks green: ci" in unit["detail"]


def test_linear_history_merges_by_squash(tmp_path: Path) -> None:
    protection = {"required_checks": ["ci"], "required_linear_history": True}
    repo = pip_repo(protection=protection, permissions=ADMIN)
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}], merge_method="merge") as env:
        _, summary = env.run()
        unit = only_unit(env, summary)
        assert unit["outcome"] == "merged", unit["detail"]
        assert "by squash" in unit["detail"]
        assert [json.loads(r.body)["merge_method"] for r in rest_merges(env)] == ["squash"]


def test_native_auto_merge_is_pinned_and_github_merges_when_checks_pass(tmp_path: Path) -> None:
    repo = pip_repo(
        checks=[{"name": "ci", "outcome": "pending"}],
        protection={"required_checks": ["ci"]},
        allow_auto_merge=True,
    )
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}], merge_via="github_auto_merge") as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending")
        assert unit["detail"].startswith("auto-merge enabled (squash"), unit["detail"]
        [enable] = graphql_calls(env)
        [pull] = env.sim.admin.pulls("api")
        assert "enablePullRequestAutoMerge" in enable["query"]
        assert enable["variables"]["oid"] == pull["head_sha"]
        assert not pull["merged"]

        env.sim.admin.set_check("api", "ci", "success")
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"]
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert env.units(summary, repository="api", alert_class="dependabot") == []
        assert all(a["state"] == "fixed" for a in env.sim.admin.alerts("api", "dependabot"))
        assert rest_merges(env) == [] and len(graphql_calls(env)) == 1
