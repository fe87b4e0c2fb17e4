"""The review gate's reading of the base's requirements and of a PR's reviews (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from agentd.delivery import gate
from agentd.delivery.gate import (
    BaseRules,
    ProtectionUnreadableError,
    ReviewRule,
    evaluate_reviews,
    latest_reviews,
    merge_methods,
    read_base_rules,
    unverified_commits,
)
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.github.models import (
    Branch,
    BranchProtection,
    BranchRule,
    PullCommit,
    Repository,
    Review,
)

HEAD = "a" * 40
OLD = "b" * 40
SUMMARY = {"enabled": True, "required_status_checks": {"contexts": ["ci"], "checks": []}}


def refusal(status: int, message: str) -> GitHubHTTPError:
    return GitHubHTTPError("GET", "https://api.github.com/x", status, {"message": message})


@dataclass
class FakeAPI:
    """The three reads the gate makes about a base branch."""

    summary: dict[str, Any] | None = field(default_factory=lambda: dict(SUMMARY))
    protected: bool = True
    protection: dict[str, Any] | GitHubHTTPError | None = None
    rules: list[dict[str, Any]] | GitHubHTTPError = field(default_factory=list)

    def branch(self, repo: str, name: str) -> Branch:
        data = {"name": name, "commit": {"sha": HEAD}, "protected": self.protected}
        return Branch.model_validate({**data, "protection": self.summary})

    def branch_protection(self, repo: str, name: str) -> BranchProtection | None:
        if isinstance(self.protection, GitHubHTTPError):
            raise self.protection
        return BranchProtection.model_validate(self.protection or {})

    def branch_rules(self, repo: str, name: str) -> list[BranchRule]:
        if isinstance(self.rules, GitHubHTTPError):
            raise self.rules
        return [BranchRule.model_validate(rule) for rule in self.rules]


def read(api: FakeAPI) -> BaseRules:
    return read_base_rules(api, "api", "main")  # type: ignore[arg-type]


def review(login: str, state: str = "APPROVED", commit: str = HEAD, rid: int = 0) -> Review:
    return Review.model_validate(
        {"id": rid, "user": {"login": login}, "state": state, "commit_id": commit}
    )


def verdict(rules: BaseRules, reviews: list[Review], **kw: Any) -> tuple[bool, str]:
    options: dict[str, Any] = {
        "head_sha": HEAD,
        "excluded": ("agentd-bot",),
        "token_is_admin": False,
        "mergeable_state": "blocked",
        **kw,
    }
    result = evaluate_reviews(rules, reviews, **options)
    return result.ok, result.detail


ONE_APPROVAL = BaseRules(reviews=(ReviewRule("classic protection", 1),))


def test_classic_protection_read_in_full_by_an_admin() -> None:
    api = FakeAPI(
        protection={
            "required_status_checks": {"contexts": ["ci", "lint"]},
            "required_pull_request_reviews": {
                "required_approving_review_count": 2,
                "require_code_owner_reviews": True,
                "require_last_push_approval": True,
                "dismiss_stale_reviews": False,
            },
            "enforce_admins": {"enabled": True},
            "required_linear_history": {"enabled": True},
            "required_signatures": {"enabled": True},
        }
    )
    rules = read(api)
    assert rules.checks == {"ci", "lint"}
    assert rules.reviews == (ReviewRule("classic protection", 2, True, True, bypassable=False),)
    assert rules.linear_history and rules.signatures and not rules.reviews_unreadable
    assert rules.approvals_needed == 2 and rules.last_push_approval


def test_unreadable_classic_protection_falls_back_to_the_branch_summary() -> None:
    rules = read(FakeAPI(protection=refusal(404, "Not Found")))
    assert rules.checks == {"ci"}
    assert "404 Not Found" in rules.reviews_unreadable


def test_nothing_readable_on_a_protected_branch_is_auth_insufficient() -> None:
    api = FakeAPI(summary={"enabled": True}, protection=refusal(403, "Resource not accessible"))
    with pytest.raises(ProtectionUnreadableError) as caught:
        read(api)
    assert "shows no required checks" in caught.value.message


def test_a_branch_that_is_not_protected_reads_only_rules() -> None:
    api = FakeAPI(protected=True, protection=refusal(404, "Branch not protected"))
    assert read(api) == BaseRules()
    ruleset_only = FakeAPI(summary={"enabled": False}, protection=refusal(500, "never asked"))
    assert read(ruleset_only) == BaseRules()


def test_ruleset_rules_become_requirements() -> None:
    pull_request = {
        "required_approving_review_count": 1,
        "require_code_owner_review": False,
        "require_last_push_approval": True,
        "dismiss_stale_reviews_on_push": False,
        "required_review_thread_resolution": False,
        "allowed_merge_methods": ["squash", "rebase"],
    }
    checks = {"required_status_checks": [{"context": "build"}]}
    api = FakeAPI(
        protected=False,
        rules=[
            {"type": "required_status_checks", "parameters": checks, "ruleset_id": 7},
            {"type": "pull_request", "parameters": pull_request, "ruleset_id": 7},
            {"type": "merge_queue", "parameters": {"merge_method": "SQUASH"}, "ruleset_id": 7},
            {"type": "required_signatures", "ruleset_id": 7},
            {"type": "required_linear_history", "ruleset_id": 7},
            {"type": "workflows", "parameters": {"workflows": []}, "ruleset_id": 8},
            {"type": "deletion", "ruleset_id": 7},
        ],
    )
    rules = read(api)
    assert rules.checks == {"build"}
    assert rules.reviews == (ReviewRule("ruleset 7", 1, False, True),)
    assert rules.merge_queue == "squash"
    assert rules.signatures and rules.linear_history and rules.every_check
    assert rules.rule_methods == {"squash", "rebase"}
    assert rules.notes == ("ruleset 8 requires workflows results",)


def test_unreadable_rules_are_auth_insufficient() -> None:
    with pytest.raises(ProtectionUnreadableError):
        read(FakeAPI(protected=False, rules=refusal(403, "Resource not accessible")))


def test_the_latest_decisive_review_of_each_reviewer_counts() -> None:
    reviews = [
        review("alice", "CHANGES_REQUESTED", rid=1),
        review("alice", "COMMENTED", rid=2),
        review("bob", "APPROVED", rid=3),
        review("bob", "DISMISSED", rid=4),
        review("carol", "APPROVED", rid=5),
        review("agentd-bot", "APPROVED", rid=6),
    ]
    latest = latest_reviews(reviews, ["AGENTD-BOT"])
    assert {n: r.state for n, r in latest.items()} == {
        "alice": "CHANGES_REQUESTED",
        "bob": "DISMISSED",
        "carol": "APPROVED",
    }


def test_a_required_approval_must_be_present() -> None:
    assert verdict(ONE_APPROVAL, []) == (
        False,
        "review required: 1 approving review(s) needed, 0 present (classic protection)",
    )
    assert verdict(ONE_APPROVAL, [review("agentd-bot")])[0] is False  # its own account
    assert verdict(ONE_APPROVAL, [review("alice")]) == (True, "approved by alice")
    assert verdict(ONE_APPROVAL, [review("alice", commit=OLD)])[0] is True


def test_a_change_request_stops_the_merge_even_when_nothing_is_required() -> None:
    ok, detail = verdict(BaseRules(), [review("alice"), review("bob", "CHANGES_REQUESTED")])
    assert not ok and detail == "review required: changes requested by bob"
    assert verdict(BaseRules(), []) == (True, "no review required")


def test_last_push_approval_counts_only_approvals_of_the_head() -> None:
    rules = BaseRules(reviews=(ReviewRule("ruleset 1", 1, last_push=True),))
    ok, detail = verdict(rules, [review("alice", commit=OLD)])
    assert not ok and f"of the head {HEAD[:12]} needed, 0 present" in detail
    assert verdict(rules, [review("alice")]) == (True, f"approved of the head {HEAD[:12]} by alice")


def test_code_owner_reviews_are_left_to_github_only_when_the_token_cannot_bypass() -> None:
    rules = BaseRules(reviews=(ReviewRule("classic protection", 0, code_owners=True),))
    assert verdict(rules, [])[0] is False  # code owners need at least one approval
    assert verdict(rules, [review("alice")], token_is_admin=False)[0] is True
    ok, detail = verdict(rules, [review("alice")], token_is_admin=True)
    assert not ok and "cannot verify code ownership" in detail
    enforced = BaseRules(reviews=(ReviewRule("classic", 0, True, bypassable=False),))
    assert verdict(enforced, [review("alice")], token_is_admin=True)[0] is True


def test_unreadable_classic_reviews_fail_closed() -> None:
    rules = BaseRules(reviews_unreadable="404 Not Found; reading it needs admin")
    ok, detail = verdict(rules, [])
    assert not ok and detail.startswith("review may be required: classic protection cannot be read")
    assert "(mergeable_state blocked)" in detail
    assert verdict(rules, [review("alice", commit=OLD)])[0] is False  # not of the head
    assert verdict(rules, [review("alice")])[0] is True
    for state in ("clean", "has_hooks", "unstable"):
        assert verdict(rules, [], mergeable_state=state)[0] is True
    assert verdict(rules, [], mergeable_state=None)[0] is False
    ok, detail = verdict(rules, [], github_merges=True)  # auto-merge and queues bypass nothing
    assert ok and "GitHub enforces any review it requires" in detail
    known = BaseRules(reviews=(ReviewRule("ruleset 1", 1),), reviews_unreadable="404 Not Found")
    assert verdict(known, [], github_merges=True)[0] is False  # a known requirement is agentd's


def repository(**flags: bool) -> Repository:
    data = {"id": 1, "name": "api", "full_name": "o/api", "owner": {"login": "o"}}
    return Repository.model_validate({**data, **flags})


def test_merge_methods_honour_the_repository_the_rules_and_linear_history() -> None:
    assert merge_methods("squash", BaseRules(), None) == (["squash", "rebase", "merge"], "")
    linear = BaseRules(linear_history=True)
    assert merge_methods("merge", linear, None)[0] == ["squash", "rebase"]
    allowed = repository(allow_merge_commit=True, allow_squash_merge=False, allow_rebase_merge=True)
    methods, why = merge_methods("squash", BaseRules(rule_methods=frozenset({"rebase"})), allowed)
    assert methods == ["rebase"]
    assert why == "the repository allows merge, rebase; rulesets allow rebase"
    none, why = merge_methods("squash", linear, repository(
        allow_merge_commit=True, allow_squash_merge=False, allow_rebase_merge=False
    ))  # fmt: skip
    assert none == [] and why.endswith("linear history forbids merge commits")


def test_unverified_commits_are_named() -> None:
    commits = [
        PullCommit.model_validate({"sha": HEAD, "commit": {"verification": {"verified": True}}}),
        PullCommit.model_validate({"sha": OLD, "commit": {"verification": {"verified": False}}}),
        PullCommit.model_validate({"sha": "c" * 40, "commit": {}}),
    ]
    assert unverified_commits(commits) == [OLD[:12], "c" * 12]


def test_a_bases_rules_are_read_once_per_run_and_a_transient_fault_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[Any] = [
        TransientError("502 from GitHub"),
        BaseRules(checks=frozenset({"ci"})),
        ProtectionUnreadableError("rulesets of main cannot be read (403 Forbidden)"),
    ]
    reads: list[tuple[str, str]] = []

    def read(api: Any, repo: str, base: str, admin: bool | None = None) -> BaseRules:
        reads.append((repo, base))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(gate, "read_base_rules", read)
    cache = gate.BaseRulesCache()
    with pytest.raises(TransientError):
        cache.read(None, "api", "main")  # type: ignore[arg-type]
    assert cache.read(None, "api", "main").checks == {"ci"}  # type: ignore[arg-type]
    assert cache.read(None, "api", "main").checks == {"ci"}  # type: ignore[arg-type]
    for _ in range(2):  # an unreadable base stays unreadable for the run
        with pytest.raises(ProtectionUnreadableError, match="403 Forbidden"):
            cache.read(None, "web", "main")  # type: ignore[arg-type]
    assert reads == [("api", "main"), ("api", "main"), ("web", "main")]


def test_a_bases_rules_read_ahead_are_the_gates_and_a_failed_one_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unit starts reading its base's rules while it verifies; the gate then takes that
    answer (one read), and a read ahead that failed leaves the gate to read for itself."""
    import threading
    from types import SimpleNamespace

    from agentd.delivery import merge

    answers: list[Any] = [BaseRules(checks=frozenset({"ci"})), TransientError("502")]
    reads: list[tuple[str, bool | None]] = []
    done = threading.Event()

    def read(api: Any, repo: str, base: str, admin: bool | None = None) -> BaseRules:
        reads.append((repo, admin))
        answer = answers.pop(0)
        done.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(gate, "read_base_rules", read)
    listed = SimpleNamespace(permissions=SimpleNamespace(admin=False))
    api = SimpleNamespace(listed_repository=lambda repo: listed)
    ctx: Any = SimpleNamespace(api=api, base_rules=gate.BaseRulesCache())
    for repo in ("api", "web"):
        done.clear()
        merge.read_base_rules_ahead(ctx, repo, "main")
        assert done.wait(5)
    assert ctx.base_rules.read(api, "api", "main").checks == {"ci"}  # no second read
    answers.append(BaseRules(checks=frozenset({"lint"})))
    assert ctx.base_rules.read(api, "web", "main").checks == {"lint"}  # read again
    assert reads == [("api", False), ("web", False), ("web", None)]
