"""`merge_if_allowed` against the simulator: reviews, merge queues, signatures, linear
history, merge methods and native auto-merge, with GitHub's own answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import base_profile, write_profile

from agentd.delivery import merge as merging
from agentd.delivery.merge import MergeOutcome, MergeRequest, merge_if_allowed
from agentd.engine.context import Budget, RunContext
from agentd.environment import AllowedEnvironment
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.client import GitHubClient
from agentd.github.models import Account
from agentd.gitops import GitEnvironment
from agentd.mutation import MutationForbiddenError, MutationKind, MutationPolicy, classify_request
from agentd.profile import load_profile
from agentd.simulator import Simulator
from agentd.stamp import Stamp, render_stamp
from agentd.vocabulary import AlertClass, MutationMode, Outcome, ReasonCode

TOKEN = "ghp_" + "m" * 36
KEY = "acme-org/api:dependabot:main:root"
BRANCH = "security/dependabot/root/0123456789ab"
GREEN = [{"name": "ci", "outcome": "success"}]
PENDING = [{"name": "ci", "outcome": "pending"}]


@dataclass
class Harness:
    sim: Simulator
    ctx: RunContext
    number: int
    head: str

    def merge(self, **changes: Any) -> MergeOutcome:
        request = MergeRequest(
            repo="api", base="main", number=self.number, key=KEY, expected_files=["app.py"],
            verification_passed=True, branch=BRANCH, head_sha=self.head, author="agentd-bot",
        )  # fmt: skip
        for name, value in changes.items():
            object.__setattr__(request, name, value)
        return merge_if_allowed(self.ctx, request)

    def requests(self, method: str, suffix: str) -> list[Any]:
        return [
            r for r in self.sim.admin.requests() if r.method == method and r.path.endswith(suffix)
        ]

    def merged(self) -> bool:
        return bool(self.sim.admin.pulls("api")[0]["merged"])


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Any]:
    sims: list[Simulator] = []

    def build(
        mode: str = "auto_merge", *, merge_via: str = "api", method: str = "squash", **repo: Any
    ) -> Harness:
        scenario = {
            "owner": {"login": "acme-org", "type": "org"},
            "repositories": [{"name": "api", "files": {"app.py": "a\n"}, "checks": GREEN, **repo}],
        }
        sim = Simulator(scenario, tmp_path / f"sim{len(sims)}").start()
        sims.append(sim)
        head = sim.admin.push("api", BRANCH, {"app.py": "fixed\n"})
        data = base_profile(tmp_path, mode)
        data["profile"]["defaults"].update(merge_method=method, merge_via=merge_via)
        profile = load_profile(write_profile(tmp_path / f"p{len(sims)}" / "acme.yaml", data))
        policy = MutationPolicy(MutationMode(mode))
        client = GitHubClient(sim.api_url, Token(TokenKind.CLASSIC_PAT, TOKEN), policy)
        api = GitHubAPI(client, "acme-org", "org")
        stamp = render_stamp(
            Stamp(
                remediation_key=KEY, alert_class=AlertClass.DEPENDABOT, target_id="root",
                base_branch="main", advisory_ids=["GHSA-9hjg-9r4m-mvj7"], agent_version="0.1.0",
                last_pass_at="2026-01-01T00:00:00+00:00",
            )
        )  # fmt: skip
        body = f"Fix\n\n{stamp}\n"
        pull = GitHubAPI(
            GitHubClient(sim.api_url, Token(TokenKind.CLASSIC_PAT, TOKEN), MutationPolicy(
                MutationMode.PULL_REQUEST)), "acme-org", "org",
        ).create_pull("api", BRANCH, "main", "chore(deps): fix", body)  # fmt: skip
        state = tmp_path / f"state{len(sims)}"
        state.mkdir()
        ctx = RunContext(
            profile=profile.profile, api=api, policy=policy,
            git_env=GitEnvironment.create(state, None), state_dir=state,
            allowed_env=AllowedEnvironment({}), budget=Budget(5, 5), run_id="run-1",
            account=Account(login="agentd-bot", id=1001),
        )  # fmt: skip
        return Harness(sim, ctx, pull.number, head)

    yield build
    for sim in sims:
        sim.stop()


def outcome(result: MergeOutcome) -> tuple[str, str | None]:
    unit = result.result
    reason = unit.reason or unit.remaining_blocker
    return unit.outcome.value, reason.value if reason else None


def test_a_missing_approval_is_never_bypassed_even_by_an_admin(harness: Any) -> None:
    h = harness(
        protection={"required_checks": ["ci"], "required_reviews": {"count": 1}},
        permissions={"admin": True},
    )
    result = h.merge()
    assert outcome(result) == ("opened_pr", "branch_protection_block")
    assert "review required: 1 approving review(s) needed, 0 present" in result.result.detail
    assert h.requests("PUT", "/merge") == [] and not h.merged()
    h.sim.admin.review("api", h.number, "alice")
    result = h.merge()
    assert outcome(result) == ("merged", None)
    assert "approved by alice" in result.result.detail


def test_a_change_request_is_respected(harness: Any) -> None:
    h = harness(permissions={"admin": True})
    h.sim.admin.review("api", h.number, "alice", "CHANGES_REQUESTED")
    result = h.merge()
    assert outcome(result) == ("opened_pr", "branch_protection_block")
    assert result.result.detail == "review required: changes requested by alice"


def test_a_ruleset_review_rule_binds_a_token_on_its_bypass_list(harness: Any) -> None:
    ruleset = {"pull_request": {"required_approving_review_count": 1}, "bypass": True}
    h = harness(rulesets=[ruleset])
    assert outcome(h.merge()) == ("opened_pr", "branch_protection_block")
    assert h.requests("PUT", "/merge") == []


def test_a_non_admin_merges_a_classically_protected_base_from_the_summary(harness: Any) -> None:
    h = harness(protection={"required_checks": ["ci"]})
    result = h.merge()
    assert outcome(result) == ("merged", None), result.result.detail
    # The listing says the token is no admin: GitHub would answer 404, so agentd does not ask.
    assert h.requests("GET", "/branches/main/protection") == []
    assert h.requests("GET", "/branches/main")  # its protection summary instead
    assert "required checks green: ci" in result.result.detail


def test_unreadable_classic_reviews_need_an_approval_of_the_head(harness: Any) -> None:
    h = harness(protection={"required_checks": ["ci"], "required_reviews": {"count": 1}})
    result = h.merge()
    assert outcome(result) == ("opened_pr", "branch_protection_block")
    assert result.result.detail.startswith("review may be required")
    h.sim.admin.review("api", h.number, "alice")
    assert outcome(h.merge()) == ("merged", None)


def test_nothing_readable_is_auth_insufficient(harness: Any) -> None:
    h = harness(protection={"required_checks": ["ci"], "readable": False})
    assert outcome(h.merge()) == ("blocked", "auth_insufficient")


def test_linear_history_never_merges_with_a_merge_commit(harness: Any) -> None:
    h = harness(method="merge", protection={"required_linear_history": True},
                permissions={"admin": True})  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("merged", None)
    [put] = h.requests("PUT", "/merge")
    assert json.loads(put.body)["merge_method"] == "squash"


def test_a_refused_merge_method_falls_back_to_an_allowed_one(harness: Any) -> None:
    h = harness(permissions={"admin": True})
    message = "Squash merges are not allowed on this repository."
    h.sim.admin.inject("status", status=405, message=message, route=r"/pulls/\d+/merge$")
    result = h.merge()
    assert outcome(result) == ("merged", None)
    assert f"by rebase (after GitHub refused squash: {message})" in result.result.detail
    assert [json.loads(r.body)["merge_method"] for r in h.requests("PUT", "/merge")] == [
        "squash",
        "rebase",
    ]


def test_no_allowed_merge_method_is_blocked_with_why(harness: Any) -> None:
    h = harness(allowed_merge_methods=["merge"], protection={"required_linear_history": True},
                permissions={"admin": True})  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("blocked", "branch_protection_block")
    # No listing shows the merge settings: GitHub's refusals tell, and nothing merged.
    assert result.result.detail == (
        "GitHub refused every allowed merge method: squash: Squash merges are not allowed on "
        "this repository.; rebase: Rebase merges are not allowed on this repository."
    )
    assert [json.loads(r.body)["merge_method"] for r in h.requests("PUT", "/merge")] == [
        "squash",
        "rebase",
    ]
    assert not h.merged()


def test_unverified_commits_on_a_signature_base_are_blocked(harness: Any) -> None:
    h = harness(rulesets=[{"required_signatures": True}])
    result = h.merge()
    assert outcome(result) == ("blocked", "branch_protection_block")
    assert f"commit(s) {h.head[:12]} of the PR are not verified" in result.result.detail
    signed = harness(rulesets=[{"required_signatures": True}], verified_commits=True)
    assert outcome(signed.merge()) == ("merged", None)


def test_a_merge_queue_base_is_enqueued_never_merged_through_rest(harness: Any) -> None:
    ruleset = {"required_checks": ["ci"], "merge_queue": {"merge_method": "SQUASH"}}
    h = harness(rulesets=[ruleset], permissions={"admin": True})
    result = h.merge()
    assert outcome(result) == ("opened_pr", "checks_pending")
    assert "requires a merge queue: enqueued at position 1 (QUEUED)" in result.result.detail
    [enqueue] = h.requests("POST", "/graphql")
    variables = json.loads(enqueue.body)["variables"]
    assert variables["oid"] == h.head
    assert h.requests("PUT", "/merge") == []
    assert h.merged()  # the queue merged it


def test_auto_merge_is_enabled_pinned_and_github_merges(harness: Any) -> None:
    h = harness(
        merge_via="github_auto_merge", checks=PENDING, allow_auto_merge=True,
        protection={"required_checks": ["ci"]}, permissions={"admin": True},
    )  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("opened_pr", "checks_pending")
    assert result.result.detail.startswith(f"auto-merge enabled (squash, pinned to {h.head[:12]})")
    [enable] = h.requests("POST", "/graphql")
    sent = json.loads(enable.body)
    assert "enablePullRequestAutoMerge" in sent["query"]
    assert sent["variables"] == {"pr": sent["variables"]["pr"], "method": "SQUASH", "oid": h.head}
    again = h.merge()  # already enabled: nothing sent twice
    assert again.result.detail.startswith("auto-merge enabled (squash)")
    assert len(h.requests("POST", "/graphql")) == 1
    h.sim.admin.set_check("api", "ci", "success")
    assert h.merged() and h.requests("PUT", "/merge") == []


def test_auto_merge_falls_back_to_a_method_the_repository_allows(harness: Any) -> None:
    """No listing shows the merge settings: GitHub's refusal of a method tells, and the
    next method is tried; the handover to GitHub is said."""
    h = harness(
        merge_via="github_auto_merge", checks=PENDING, allow_auto_merge=True,
        allowed_merge_methods=["rebase"], protection={"required_checks": ["ci"]},
    )  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("opened_pr", "checks_pending") and result.handed_to_github
    assert result.result.detail.startswith(
        "auto-merge enabled (rebase (after GitHub refused squash: Pull request Merge method "
        "squash is not allowed on this repository)"
    ), result.result.detail
    sent = [json.loads(r.body)["variables"]["method"] for r in h.requests("POST", "/graphql")]
    assert sent == ["SQUASH", "REBASE"]
    h.sim.admin.set_check("api", "ci", "success")
    assert h.merged()


def test_auto_merge_refused_by_github_stays_opened_pr(harness: Any) -> None:
    h = harness(merge_via="github_auto_merge", checks=PENDING,
                protection={"required_checks": ["ci"]}, permissions={"admin": True})  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("opened_pr", "checks_pending")
    assert (
        "auto-merge could not be enabled (Pull request Auto merge is not allowed for this "
        "repository)"
    ) in result.result.detail


def test_auto_merge_is_not_enabled_while_an_approval_is_missing(harness: Any) -> None:
    protection = {"required_checks": ["ci"], "required_reviews": {"count": 1}}
    h = harness(merge_via="github_auto_merge", checks=PENDING, allow_auto_merge=True,
                protection=protection, permissions={"admin": True})  # fmt: skip
    result = h.merge()
    assert outcome(result) == ("opened_pr", "branch_protection_block")
    assert result.result.detail.startswith("review required")
    assert h.requests("POST", "/graphql") == []


def test_pending_checks_without_auto_merge_send_nothing(harness: Any) -> None:
    h = harness(checks=PENDING, protection={"required_checks": ["ci"]}, allow_auto_merge=True)
    assert outcome(h.merge()) == ("opened_pr", "checks_pending")
    assert h.requests("POST", "/graphql") == []


def test_a_workflows_rule_makes_every_reported_check_count(harness: Any) -> None:
    checks = [*GREEN, {"name": "e2e", "outcome": "failure"}]
    h = harness(checks=checks, rulesets=[{"required_checks": ["ci"], "workflows": ["ci.yml"]}])
    result = h.merge()
    assert outcome(result) == ("blocked", "checks_red")
    assert result.result.detail == "failing checks: e2e"


def test_graphql_is_a_merge_class_mutation_refused_below_auto_merge(harness: Any) -> None:
    assert classify_request("POST", "/graphql") is MutationKind.MERGE
    assert classify_request("POST", "/api/graphql") is MutationKind.MERGE
    h = harness("pull_request", merge_via="github_auto_merge", checks=PENDING,
                allow_auto_merge=True, protection={"required_checks": ["ci"]})  # fmt: skip
    assert h.merge().result.detail == "mutation mode pull_request: a person merges"
    with pytest.raises(MutationForbiddenError):
        h.ctx.api.enable_auto_merge("PR_x", "squash", h.head)
    assert h.requests("POST", "/graphql") == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("At least 1 approving review is required by reviewers with write access.", "opened_pr"),
        (
            "Repository rule violations found\n\n1 review requesting changes by reviewers with "
            "write access.",
            "opened_pr",
        ),
        ("Waiting on code owner review from @alice.", "opened_pr"),
        (
            "Repository rule violations found\n\nChanges must be made through the merge queue",
            "opened_pr",
        ),
        ("Commits must have verified signatures.", "blocked"),
        ("Pull Request is not mergeable", "opened_pr"),  # a conflict: rebuilt next run
    ],
)
def test_githubs_405_answers_map_to_outcomes(message: str, expected: str) -> None:
    result = merging._refusal_405(message)
    assert result.outcome is Outcome(expected)
    reason = result.reason or result.remaining_blocker
    assert reason is ReasonCode.BRANCH_PROTECTION_BLOCK
    assert "\n" not in result.detail


def test_the_merge_is_tried_at_once_while_github_computes_mergeable(harness: Any) -> None:
    """`mergeable: null` is not waited on: the PR is read once and the merge, pinned to the
    head, is GitHub's answer — 405 on a conflict, reported for a rebuild, never forced."""
    h = harness(mergeable_unknown_reads=1000)
    h.sim.admin.push("api", "main", {"app.py": "changed on main\n"})
    result = h.merge()
    assert outcome(result) == ("opened_pr", "branch_protection_block")
    assert "not mergeable" in result.result.detail and not h.merged()
    assert [r.status for r in h.requests("PUT", "/merge")] == [405]
    assert len(h.requests("GET", f"/pulls/{h.number}")) == 1


def test_a_pr_whose_mergeability_is_unknown_merges_with_the_pinned_sha(harness: Any) -> None:
    h = harness(mergeable_unknown_reads=1000)
    result = h.merge()
    assert outcome(result) == ("merged", None)
    [put] = h.requests("PUT", "/merge")
    assert json.loads(put.body)["sha"] == h.head
    assert len(h.requests("GET", f"/pulls/{h.number}")) == 1
