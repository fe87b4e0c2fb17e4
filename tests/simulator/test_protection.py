"""Branch protection, rulesets, reviews, the merge queue and GraphQL, as GitHub answers them.

Messages come from GitHub's own answers (see docs/simulator.md): 405 "At least 1 approving
review is required by reviewers with write access.", "1 review requesting changes by
reviewers with write access.", "Changes must be made through the merge queue" behind
"Repository rule violations found", "Commits must have verified signatures.", 404 "Not
Found" on the protection endpoint for a non-admin, and GraphQL's 200-with-`errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from conftest import TOKEN

from agentd.simulator import Simulator

OWNER = "acme-org"
VIEWER = "agentd-bot"
REVIEWS_REQUIRED = "At least 1 approving review is required by reviewers with write access."
RULE_VIOLATIONS = "Repository rule violations found\n\n"
ENABLE = (
    "mutation($pr: ID!, $method: PullRequestMergeMethod!, $oid: GitObjectID!) {\n"
    "  enablePullRequestAutoMerge(input: {pullRequestId: $pr, mergeMethod: $method, "
    "expectedHeadOid: $oid}) { pullRequest { number } }\n}"
)
ENQUEUE = (
    "mutation($pr: ID!, $oid: GitObjectID!) {\n"
    "  enqueuePullRequest(input: {pullRequestId: $pr, expectedHeadOid: $oid}) "
    "{ mergeQueueEntry { position state } }\n}"
)


def repo(**extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"app.py": "a\n", "docs/readme.md": "r\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        **extra,
    }


@contextmanager
def github(tmp_path: Path, *repos: dict[str, Any], **scenario: Any) -> Iterator[Any]:
    data = {"owner": {"login": OWNER, "type": "org"}, "repositories": list(repos), **scenario}
    with (
        Simulator(data, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as http,
    ):
        yield sim, http


def open_pull(sim: Simulator, http: httpx.Client, files: dict[str, str] | None = None) -> Any:
    sim.admin.push("api", "fix", files or {"app.py": "b\n"})
    created = http.post(
        f"/repos/{OWNER}/api/pulls", json={"head": "fix", "base": "main", "title": "Fix"}
    )
    assert created.status_code == 201, created.text
    return created.json()


def merge(http: httpx.Client, pull: Any, method: str = "squash") -> httpx.Response:
    url = f"/repos/{OWNER}/api/pulls/{pull['number']}/merge"
    return http.put(url, json={"sha": pull["head"]["sha"], "merge_method": method})


def refusal(response: httpx.Response, status: int = 405) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["status"] == str(status) and body["documentation_url"].startswith("https://")
    return str(body["message"])


def graphql(http: httpx.Client, query: str, **variables: Any) -> Any:
    answered = http.post("/graphql", json={"query": query, "variables": variables})
    assert answered.status_code == 200, answered.text
    return answered.json()


def test_classic_protection_is_readable_by_an_admin_only(tmp_path: Path) -> None:
    reviews = {"count": 2, "code_owners": True, "last_push_approval": True}
    protection = {"required_checks": ["ci"], "required_reviews": reviews, "enforce_admins": True}
    with github(tmp_path, repo(protection=protection), repo(name="admin", protection=protection,
                permissions={"admin": True})) as (_sim, http):  # fmt: skip
        hidden = http.get(f"/repos/{OWNER}/api/branches/main/protection")
        assert refusal(hidden, 404) == "Not Found"
        summary = http.get(f"/repos/{OWNER}/api/branches/main").json()
        assert summary["protected"] is True
        assert summary["protection"]["required_status_checks"] == {
            "enforcement_level": "everyone",
            "contexts": ["ci"],
            "checks": [{"context": "ci", "app_id": None}],
        }
        full = http.get(f"/repos/{OWNER}/admin/branches/main/protection").json()
        assert full["enforce_admins"]["enabled"] is True
        assert full["required_pull_request_reviews"]["required_approving_review_count"] == 2
        assert full["required_pull_request_reviews"]["require_code_owner_reviews"] is True
        assert full["required_pull_request_reviews"]["require_last_push_approval"] is True
        assert full["required_signatures"]["enabled"] is False


def test_the_rules_endpoint_lists_every_rule_of_active_rulesets(tmp_path: Path) -> None:
    ruleset = {
        "required_checks": ["ci"],
        "pull_request": {"required_approving_review_count": 2, "allowed_merge_methods": ["squash"]},
        "merge_queue": {"merge_method": "SQUASH"},
        "required_signatures": True,
        "required_linear_history": True,
        "workflows": [".github/workflows/ci.yml"],
        "code_scanning_tools": ["CodeQL"],
    }
    evaluating = {"required_checks": ["later"], "enforcement": "evaluate"}
    with github(tmp_path, repo(rulesets=[ruleset, evaluating])) as (_sim, http):
        rules = http.get(f"/repos/{OWNER}/api/rules/branches/main").json()
        by_type = {rule["type"]: rule for rule in rules}
        assert set(by_type) == {
            "deletion", "required_status_checks", "pull_request", "merge_queue",
            "required_signatures", "required_linear_history", "workflows", "code_scanning",
        }  # fmt: skip
        pull_request = by_type["pull_request"]["parameters"]
        assert pull_request["required_approving_review_count"] == 2
        assert pull_request["allowed_merge_methods"] == ["squash"]
        assert by_type["merge_queue"]["parameters"]["merge_method"] == "SQUASH"
        assert all(rule["ruleset_id"] == 1 for rule in rules)
        assert http.get(f"/repos/{OWNER}/api/rules/branches/other").json() == []


def test_a_missing_approval_refuses_everyone_but_a_bypassing_admin(tmp_path: Path) -> None:
    protection = {"required_checks": ["ci"], "required_reviews": {"count": 1}}
    with github(tmp_path, repo(protection=protection)) as (sim, http):
        pull = open_pull(sim, http)
        assert refusal(merge(http, pull)) == REVIEWS_REQUIRED
        assert (
            http.get(f"/repos/{OWNER}/api/pulls/{pull['number']}").json()["mergeable_state"]
            == "blocked"
        )
        sim.world.repos["api"].config.permissions.admin = True  # GitHub lets an admin bypass
        assert merge(http, pull).json()["merged"] is True


def test_enforce_admins_binds_an_admin_too(tmp_path: Path) -> None:
    protection = {"required_reviews": {"count": 1}, "enforce_admins": True}
    with github(tmp_path, repo(protection=protection, permissions={"admin": True})) as (sim, http):
        pull = open_pull(sim, http)
        assert refusal(merge(http, pull)) == REVIEWS_REQUIRED
        sim.admin.review("api", pull["number"], "alice")
        assert merge(http, pull).json()["merged"] is True


def test_the_latest_review_of_each_reviewer_counts(tmp_path: Path) -> None:
    protection = {"required_reviews": {"count": 1}}
    with github(tmp_path, repo(protection=protection)) as (sim, http):
        pull = open_pull(sim, http)
        number = pull["number"]
        sim.admin.review("api", number, "alice", "APPROVED")
        sim.admin.review("api", number, "bob", "CHANGES_REQUESTED")
        assert refusal(merge(http, pull)) == (
            "1 review requesting changes by reviewers with write access."
        )
        sim.admin.review("api", number, "bob", "COMMENTED")  # changes nothing
        assert "requesting changes" in refusal(merge(http, pull))
        sim.admin.review("api", number, "bob", "APPROVED")
        reviews = http.get(f"/repos/{OWNER}/api/pulls/{number}/reviews").json()
        assert [r["state"] for r in reviews] == [
            "APPROVED",
            "CHANGES_REQUESTED",
            "COMMENTED",
            "APPROVED",
        ]
        assert {r["user"]["login"] for r in reviews} == {"alice", "bob"}
        assert all(r["commit_id"] == pull["head"]["sha"] for r in reviews)
        assert merge(http, pull).json()["merged"] is True


def test_last_push_approval_needs_an_approval_of_the_head(tmp_path: Path) -> None:
    reviews = {"count": 1, "last_push_approval": True}
    with github(tmp_path, repo(protection={"required_reviews": reviews})) as (sim, http):
        pull = open_pull(sim, http)
        sim.admin.review("api", pull["number"], "alice")
        moved = sim.admin.push("api", "fix", {"app.py": "c\n"})
        pull["head"]["sha"] = moved
        assert refusal(merge(http, pull)) == (
            f"New changes require approval from someone other than {VIEWER} because they were "
            "the last pusher."
        )
        sim.admin.review("api", pull["number"], "alice")
        assert merge(http, pull).json()["merged"] is True


def test_stale_approvals_are_dismissed_when_the_base_asks(tmp_path: Path) -> None:
    reviews = {"count": 1, "dismiss_stale": True}
    with github(tmp_path, repo(protection={"required_reviews": reviews})) as (sim, http):
        pull = open_pull(sim, http)
        sim.admin.review("api", pull["number"], "alice")
        pull["head"]["sha"] = sim.admin.push("api", "fix", {"app.py": "c\n"})
        listed = http.get(f"/repos/{OWNER}/api/pulls/{pull['number']}/reviews").json()
        assert [r["state"] for r in listed] == ["DISMISSED"]
        assert refusal(merge(http, pull)) == REVIEWS_REQUIRED


def test_code_owners_must_approve_what_they_own(tmp_path: Path) -> None:
    files = {"app.py": "a\n", ".github/CODEOWNERS": "*.py @alice\ndocs/ @bob\n"}
    reviews = {"count": 1, "code_owners": True}
    with github(tmp_path, repo(files=files, protection={"required_reviews": reviews})) as (
        sim,
        http,
    ):
        pull = open_pull(sim, http)
        sim.admin.review("api", pull["number"], "carol")
        assert refusal(merge(http, pull)) == "Waiting on code owner review from @alice."
        sim.admin.review("api", pull["number"], "alice")
        assert merge(http, pull).json()["merged"] is True


def test_a_ruleset_binds_everyone_off_its_bypass_list(tmp_path: Path) -> None:
    ruleset = {"pull_request": {"required_approving_review_count": 1}}
    admin = {"admin": True}
    with github(tmp_path, repo(rulesets=[ruleset], permissions=admin)) as (sim, http):
        pull = open_pull(sim, http)
        assert refusal(merge(http, pull)) == RULE_VIOLATIONS + REVIEWS_REQUIRED
        sim.world.repos["api"].config.rulesets[0].bypass = True
        assert merge(http, pull).json()["merged"] is True


def test_linear_history_and_signatures(tmp_path: Path) -> None:
    protection = {"required_linear_history": True, "required_signatures": True}
    with github(tmp_path, repo(protection=protection)) as (sim, http):
        pull = open_pull(sim, http)
        assert (
            refusal(merge(http, pull, "merge"))
            == "Merge commits are not allowed on this repository."
        )
        assert refusal(merge(http, pull, "squash")) == "Commits must have verified signatures."
        commits = http.get(f"/repos/{OWNER}/api/pulls/{pull['number']}/commits").json()
        assert [c["sha"] for c in commits] == [pull["head"]["sha"]]
        assert commits[0]["commit"]["verification"]["verified"] is False
        sim.world.repos["api"].config.verified_commits = True
        assert merge(http, pull, "squash").json()["merged"] is True


def test_a_merge_queue_base_refuses_rest_and_merges_what_is_enqueued(tmp_path: Path) -> None:
    ruleset = {"required_checks": ["ci"], "merge_queue": {"merge_method": "SQUASH"}}
    with github(tmp_path, repo(rulesets=[ruleset], permissions={"admin": True})) as (sim, http):
        pull = open_pull(sim, http)
        assert refusal(merge(http, pull)) == (
            RULE_VIOLATIONS + "Changes must be made through the merge queue"
        )
        node = pull["node_id"]
        moved = graphql(http, ENQUEUE, pr=node, oid="0" * 40)
        assert moved["data"] == {"enqueuePullRequest": None}
        assert moved["errors"][0]["type"] == "UNPROCESSABLE"
        assert moved["errors"][0]["message"] == (
            "Head branch was modified. Review and try the merge again."
        )
        queued = graphql(http, ENQUEUE, pr=node, oid=pull["head"]["sha"])
        entry = queued["data"]["enqueuePullRequest"]["mergeQueueEntry"]
        assert (entry["position"], entry["state"]) == (1, "QUEUED")
        [merged] = sim.admin.pulls("api")
        assert merged["merged"]
        log = subject(sim)
        assert log.startswith("Fix (#1)")  # squashed, as the queue's method says


def subject(sim: Simulator) -> str:
    import subprocess

    return subprocess.run(
        ["git", "--git-dir", str(sim.remote_path("api")), "log", "-1", "--format=%s%n%P", "main"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_enqueue_refuses_what_the_base_still_requires(tmp_path: Path) -> None:
    ruleset = {
        "merge_queue": {},
        "pull_request": {"required_approving_review_count": 1},
    }
    with github(tmp_path, repo(rulesets=[ruleset])) as (sim, http):
        pull = open_pull(sim, http)
        refused = graphql(http, ENQUEUE, pr=pull["node_id"], oid=pull["head"]["sha"])
        assert refused["errors"][0]["message"] == f"Pull request {REVIEWS_REQUIRED}"


def test_auto_merge_is_pinned_and_merges_when_the_checks_turn_green(tmp_path: Path) -> None:
    pending = [{"name": "ci", "outcome": "pending"}]
    protected = repo(checks=pending, protection={"required_checks": ["ci"]}, allow_auto_merge=True)
    with github(tmp_path, protected) as (sim, http):
        pull = open_pull(sim, http)
        node, head = pull["node_id"], pull["head"]["sha"]
        stale = graphql(http, ENABLE, pr=node, method="SQUASH", oid="0" * 40)
        assert stale["errors"][0]["message"].startswith("Head branch was modified")
        enabled = graphql(http, ENABLE, pr=node, method="SQUASH", oid=head)
        assert enabled["data"]["enablePullRequestAutoMerge"]["pullRequest"]["number"] == 1
        shown = http.get(f"/repos/{OWNER}/api/pulls/1").json()
        assert shown["auto_merge"]["merge_method"] == "squash"
        assert shown["auto_merge"]["enabled_by"]["login"] == VIEWER
        assert not sim.admin.pulls("api")[0]["merged"]
        sim.admin.set_check("api", "ci", "success")
        assert sim.admin.pulls("api")[0]["merged"]


def test_a_push_disables_auto_merge(tmp_path: Path) -> None:
    pending = [{"name": "ci", "outcome": "pending"}]
    protected = repo(checks=pending, protection={"required_checks": ["ci"]}, allow_auto_merge=True)
    with github(tmp_path, protected) as (sim, http):
        pull = open_pull(sim, http)
        graphql(http, ENABLE, pr=pull["node_id"], method="SQUASH", oid=pull["head"]["sha"])
        sim.admin.push("api", "fix", {"app.py": "unreviewed\n"})
        sim.admin.set_check("api", "ci", "success")
        [after] = sim.admin.pulls("api")
        assert not after["merged"] and after["auto_merge"] is None


def test_auto_merge_refusals(tmp_path: Path) -> None:
    off = repo(
        checks=[{"name": "ci", "outcome": "pending"}], protection={"required_checks": ["ci"]}
    )
    clean = repo(name="clean", protection={"required_checks": ["ci"]}, allow_auto_merge=True)
    bare = repo(name="bare", allow_auto_merge=True)
    with github(tmp_path, off, clean, bare) as (sim, http):
        messages = {}
        for name in ("api", "clean", "bare"):
            sim.admin.push(name, "fix", {"app.py": "b\n"})
            pull = http.post(
                f"/repos/{OWNER}/{name}/pulls", json={"head": "fix", "base": "main", "title": "t"}
            ).json()
            answer = graphql(
                http, ENABLE, pr=pull["node_id"], method="SQUASH", oid=pull["head"]["sha"]
            )
            messages[name] = answer["errors"][0]["message"]
        assert messages == {
            "api": "Pull request Auto merge is not allowed for this repository",
            "clean": "Pull request is in clean status",
            "bare": "Pull request Protected branch rules not configured for this branch",
        }


def test_graphql_answers_like_github(tmp_path: Path) -> None:
    with github(tmp_path, repo()) as (sim, http):
        unknown = graphql(http, "mutation { mergeBranch(input: {}) { clientMutationId } }")
        assert (
            unknown["errors"][0]["message"]
            == "Field 'mergeBranch' doesn't exist on type 'Mutation'"
        )
        assert unknown["errors"][0]["extensions"]["code"] == "undefinedField"
        missing = graphql(http, ENQUEUE, pr="PR_nope", oid="0" * 40)
        assert missing["errors"][0]["type"] == "NOT_FOUND"
        assert missing["errors"][0]["message"] == (
            "Could not resolve to a node with the global id of 'PR_nope'."
        )
        no_query = http.post("/graphql", json={"variables": {}}).json()
        assert no_query["errors"][0]["message"] == (
            "A query attribute must be specified and must be a string."
        )
        not_json = http.post("/graphql", content=b"{", headers={"Content-Type": "application/json"})
        assert refusal_plain(not_json, 400) == "Problems parsing JSON"
        anonymous = httpx.post(f"{sim.api_url}/graphql", json={"query": ENQUEUE})
        assert anonymous.status_code == 401


def refusal_plain(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["message"])


def test_secret_scanning_is_shown_to_admins_and_security_managers_only(tmp_path: Path) -> None:
    leaked = {"config.env": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7SIMTEST\n"}
    admin = repo(name="admin", files=leaked, permissions={"admin": True})
    with github(tmp_path, repo(files=leaked), admin, viewer={"security_manager": False}) as (
        _sim,
        http,
    ):
        hidden = http.get(f"/repos/{OWNER}/api/secret-scanning/alerts")
        assert refusal(hidden, 404) == "Not Found"
        assert refusal(http.get(f"/orgs/{OWNER}/secret-scanning/alerts"), 404) == "Not Found"
        shown = http.get(f"/repos/{OWNER}/admin/secret-scanning/alerts")
        assert shown.status_code == 200 and shown.json()


def test_mergeable_state_says_what_blocks_for_anyone(tmp_path: Path) -> None:
    checks = [{"name": "ci", "outcome": "success"}, {"name": "lint", "outcome": "failure"}]
    protection = {"required_checks": ["ci"], "required_reviews": {"count": 1}}
    admin = {"admin": True}
    with github(tmp_path, repo(checks=checks, protection=protection, permissions=admin)) as (
        sim,
        http,
    ):
        pull = open_pull(sim, http)
        url = f"/repos/{OWNER}/api/pulls/{pull['number']}"
        assert http.get(url).json()["mergeable_state"] == "blocked"  # an admin sees it too
        sim.admin.review("api", pull["number"], "alice")
        assert http.get(url).json()["mergeable_state"] == "unstable"  # lint fails, not required
        sim.admin.set_check("api", "lint", "success")
        assert http.get(url).json()["mergeable_state"] == "clean"
