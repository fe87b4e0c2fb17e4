"""Every JSON body the simulator returns validates against GitHub's published schemas.

The schemas are githubkit's models generated from GitHub's OpenAPI description for API
version 2022-11-28 (a dev dependency). No endpoint is exempt; error bodies included.
"""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from agentd.simulator import Simulator

models = pytest.importorskip("githubkit_schemas.v2022_11_28.models")


def rule_union() -> Any:
    from typing import Union

    members = [
        getattr(models, n) for n in dir(models) if n.startswith("RepositoryRuleDetailedOneof")
    ]
    return list[Union[tuple(members)]]  # type: ignore[valid-type]  # noqa: UP007


def validate(model: Any, data: Any) -> None:
    TypeAdapter(model).validate_python(data)


def push_branch(sim: Simulator, branch: str, content: str) -> None:
    clone = sim.clone_path("api")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-b", branch], check=True, env=env)
    (clone / "requirements.txt").write_text(content)
    subprocess.run(["git", "-C", str(clone), "commit", "-qam", "bump"], check=True, env=env)
    subprocess.run(["git", "-C", str(clone), "push", "-q", "origin", branch], check=True, env=env)


def test_every_endpoint_matches_githubs_schemas(sim: Simulator, client: httpx.Client) -> None:
    owner = "acme-org"
    repo = f"/repos/{owner}/api"
    checked: list[tuple[str, int]] = []

    def check(method: str, path: str, model: Any, status: int = 200, **kwargs: Any) -> Any:
        response = client.request(method, path, **kwargs)
        assert response.status_code == status, (path, response.status_code, response.text[:300])
        data = response.json() if response.content else None
        validate(model, data)
        checked.append((path, status))
        return data

    check("GET", "/user", models.PrivateUser)
    check("GET", "/rate_limit", models.RateLimitOverview)
    check("GET", repo, models.FullRepository)
    check("GET", f"/orgs/{owner}/repos", list[models.MinimalRepository])
    check("GET", f"/users/{owner}/repos", list[models.MinimalRepository])
    alerts = check("GET", f"{repo}/dependabot/alerts", list[models.DependabotAlert])
    check("GET", f"{repo}/dependabot/alerts/{alerts[0]['number']}", models.DependabotAlert)
    check("GET", f"/orgs/{owner}/dependabot/alerts", list[models.DependabotAlertWithRepository])
    code = check("GET", f"{repo}/code-scanning/alerts", list[models.CodeScanningAlertItems])
    check("GET", f"{repo}/code-scanning/alerts/{code[0]['number']}", models.CodeScanningAlert)
    check(
        "GET",
        f"/orgs/{owner}/code-scanning/alerts",
        list[models.CodeScanningOrganizationAlertItems],
    )
    secrets = check("GET", f"{repo}/secret-scanning/alerts", list[models.SecretScanningAlert])
    check(
        "GET", f"{repo}/secret-scanning/alerts/{secrets[0]['number']}", models.SecretScanningAlert
    )
    check(
        "GET",
        f"{repo}/secret-scanning/alerts/{secrets[0]['number']}/locations",
        list[models.SecretScanningLocation],
    )
    check(
        "GET", f"/orgs/{owner}/secret-scanning/alerts", list[models.OrganizationSecretScanningAlert]
    )
    check("GET", f"{repo}/branches", list[models.ShortBranch])
    check("GET", f"{repo}/branches/main", models.BranchWithProtection)
    check("GET", f"{repo}/branches/main/protection", models.BranchProtection)
    check("GET", f"{repo}/rules/branches/main", rule_union())
    check(
        "GET",
        f"{repo}/commits/main/check-runs",
        models.ReposOwnerRepoCommitsRefCheckRunsGetResponse200,
    )
    check("GET", f"{repo}/commits/main/status", models.CombinedCommitStatus)
    check("GET", f"{repo}/commits/main", models.Commit)
    ref = check("GET", "/repos/third-party-org/setup-thing/git/ref/tags/v1", models.GitRef)
    tag = check(
        "GET", f"/repos/third-party-org/setup-thing/git/tags/{ref['object']['sha']}", models.GitTag
    )
    check(
        "GET",
        f"/repos/third-party-org/setup-thing/git/commits/{tag['object']['sha']}",
        models.GitCommit,
    )

    push_branch(sim, "feature", "requests==2.32.4\nurllib3==1.26.19\n")
    pull = check(
        "POST",
        f"{repo}/pulls",
        models.PullRequest,
        201,
        json={"head": "feature", "base": "main", "title": "Bump", "body": "b"},
    )
    number = pull["number"]
    check("GET", f"{repo}/pulls", list[models.PullRequestSimple])
    check("GET", f"{repo}/pulls/{number}", models.PullRequest)
    check("PATCH", f"{repo}/pulls/{number}", models.PullRequest, json={"body": "updated"})
    check("GET", f"{repo}/pulls/{number}/files", list[models.DiffEntry])
    comment = check(
        "POST", f"{repo}/issues/{number}/comments", models.IssueComment, 201, json={"body": "hello"}
    )
    check("GET", f"{repo}/issues/{number}/comments", list[models.IssueComment])
    check(
        "PATCH",
        f"{repo}/issues/comments/{comment['id']}",
        models.IssueComment,
        json={"body": "edited"},
    )
    check(
        "POST", f"{repo}/issues/{number}/labels", list[models.Label], json={"labels": ["sec-agent"]}
    )
    check(
        "PUT",
        f"{repo}/issues/{number}/labels",
        list[models.Label],
        json={"labels": ["sec-agent", "x"]},
    )
    check("DELETE", f"{repo}/issues/{number}/labels/x", list[models.Label])
    check("GET", f"{repo}/issues/{number}/labels", list[models.Label])
    check("GET", f"{repo}/labels", list[models.Label])
    head = client.get(f"{repo}/pulls/{number}").json()["head"]["sha"]
    check("PUT", f"{repo}/pulls/{number}/merge", models.BasicError, 409, json={"sha": "0" * 40})
    check(
        "PUT",
        f"{repo}/pulls/{number}/merge",
        models.PullRequestMergeResult,
        json={"sha": head, "merge_method": "squash"},
    )

    # error bodies
    check(
        "POST",
        f"{repo}/pulls",
        models.ValidationError,
        422,
        json={"head": "main", "base": "main", "title": "x"},
    )
    check("GET", "/repos/acme-org/web/dependabot/alerts", models.BasicError, 403)
    check("GET", "/repos/acme-org/web/code-scanning/alerts", models.BasicError, 403)
    check("GET", "/repos/acme-org/docs/code-scanning/alerts", models.BasicError, 404)
    check("GET", "/repos/acme-org/web/secret-scanning/alerts", models.BasicError, 404)
    check("GET", "/repos/acme-org/web/branches/main/protection", models.BasicError, 404)
    check("GET", "/repos/acme-org/nope", models.BasicError, 404)
    check("GET", f"{repo}/dependabot/alerts?page=2", models.BasicError, 400)
    unauthenticated = httpx.get(f"{sim.api_url}/user")
    assert unauthenticated.status_code == 401
    validate(models.BasicError, unauthenticated.json())
    assert len(checked) >= 45


def test_protection_reviews_and_auto_merge_bodies_match_githubs_schemas(tmp_path: Any) -> None:
    ruleset = {
        "required_checks": ["ci"],
        "pull_request": {"required_approving_review_count": 1, "allowed_merge_methods": ["squash"]},
        "merge_queue": {"merge_method": "SQUASH"},
        "required_signatures": True,
        "required_linear_history": True,
        "workflows": [".github/workflows/ci.yml"],
        "code_scanning_tools": ["CodeQL"],
    }
    reviews = {"count": 1, "code_owners": True, "last_push_approval": True}
    protection = {"required_checks": ["ci"], "required_reviews": reviews, "enforce_admins": True}
    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [
            {
                "name": "api",
                "files": {"app.py": "a\n"},
                "checks": [{"name": "ci", "outcome": "pending"}],
                "permissions": {"admin": True},
                "protection": protection,
                "allow_auto_merge": True,
            },
            {"name": "ruled", "files": {"app.py": "a\n"}, "rulesets": [ruleset]},
        ],
    }
    with (
        Simulator(scenario, tmp_path / "sim") as sim,
        httpx.Client(
            base_url=sim.api_url, headers={"Authorization": "token ghp_" + "c" * 36}
        ) as http,
    ):

        def check(path: str, model: Any, status: int = 200, method: str = "GET", **kw: Any) -> Any:
            response = http.request(method, path, **kw)
            assert response.status_code == status, (path, response.text[:300])
            validate(model, response.json())
            return response.json()

        repo = "/repos/acme-org/api"
        check(f"{repo}/branches/main/protection", models.BranchProtection)
        check(f"{repo}/branches/main", models.BranchWithProtection)
        check("/repos/acme-org/ruled/branches/main/protection", models.BasicError, 404)
        rules = check("/repos/acme-org/ruled/rules/branches/main", rule_union())
        assert len(rules) == 8
        check(repo, models.FullRepository)
        sim.admin.push("api", "fix", {"app.py": "b\n"})
        pull = check(
            f"{repo}/pulls", models.PullRequest, 201, "POST",
            json={"head": "fix", "base": "main", "title": "Fix"},
        )  # fmt: skip
        number = pull["number"]
        sim.admin.review("api", number, "alice", "CHANGES_REQUESTED", body="no")
        sim.admin.review("api", number, "alice", "APPROVED")
        check(f"{repo}/pulls/{number}/reviews", list[models.PullRequestReview])
        check(f"{repo}/pulls/{number}/commits", list[models.Commit])
        query = (
            "mutation($pr: ID!, $oid: GitObjectID!) { enablePullRequestAutoMerge(input: "
            "{pullRequestId: $pr, mergeMethod: SQUASH, expectedHeadOid: $oid}) { clientMutationId } }"
        )
        variables = {"pr": pull["node_id"], "oid": pull["head"]["sha"]}
        enabled = http.post("/graphql", json={"query": query, "variables": variables}).json()
        assert "errors" not in enabled, enabled
        shown = check(f"{repo}/pulls/{number}", models.PullRequest)
        assert shown["auto_merge"]["merge_method"] == "squash"
        check(f"{repo}/pulls", list[models.PullRequestSimple])
        refused = check(
            f"{repo}/pulls/{number}/merge", models.BasicError, 405, "PUT",
            json={"sha": pull["head"]["sha"]},
        )  # fmt: skip
        assert refused["message"] == 'Required status check "ci" is expected.'
