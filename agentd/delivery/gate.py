"""The review gate of SPEC §10: what must hold before agentd merges anything.

What the base branch requires is read without admin wherever GitHub allows it: classic
protection in full when the token may read it (admin), else the branch's protection summary
(required checks, readable with contents:read); rulesets through the rules endpoint (required
checks, pull-request reviews, merge queue, signatures, linear history, workflows, code
scanning). Only when no required checks can be read at all on a protected branch is the unit
`blocked auth_insufficient`.

Reviews are part of the gate and agentd never bypasses them, even with a token that could:
the latest decisive review of each reviewer counts (COMMENTED does not change it, DISMISSED
withdraws it), a change request stops the merge, and when the last push must be approved
only approvals of the head count. When classic protection exists but cannot be read, its
review requirement is unknown: agentd then fails closed and merges only with an approval of
the head, or when GitHub itself reports that nothing blocks the PR (`mergeable_state`
clean, has_hooks or unstable; a bypass-capable token still sees `blocked`).

A base branch that requires no checks at all is not a licence to merge: then every check
reported on the head must be complete and successful, and there must be at least one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from agentd.errors import UnitError
from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubHTTPError
from agentd.github.models import (
    Branch,
    BranchProtection,
    BranchRule,
    PullCommit,
    PullFile,
    Repository,
    Review,
)
from agentd.vocabulary import ReasonCode

_SUCCESSFUL = {"success", "neutral", "skipped"}
_PROTECTED = re.compile(r"(^|/)(\.git/|node_modules/)|(^|/)\.env($|\.)")
_METHOD_ORDER = ("squash", "rebase", "merge")
# GitHub's own word that nothing (reviews included) blocks the merge for this token.
_NOTHING_BLOCKS = {"clean", "has_hooks", "unstable"}
_DECISIVE = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


class ProtectionUnreadableError(UnitError):
    """The base branch is protected but none of its required checks could be read."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.AUTH_INSUFFICIENT, detail)


class ChecksState(StrEnum):
    GREEN = "green"
    PENDING = "pending"
    RED = "red"
    NONE = "none"  # nothing required and nothing reported: a person must decide


@dataclass(frozen=True)
class ChecksVerdict:
    state: ChecksState
    detail: str


@dataclass(frozen=True)
class ReviewRule:
    """One review requirement of the base: classic protection or a ruleset's pull_request."""

    source: str
    count: int
    code_owners: bool = False
    last_push: bool = False
    bypassable: bool = True  # whether an admin (or a bypass actor) is exempt on GitHub


@dataclass(frozen=True)
class BaseRules:
    """What the base branch requires before a merge, as far as this token can read it."""

    checks: frozenset[str] = frozenset()
    reviews: tuple[ReviewRule, ...] = ()
    reviews_unreadable: str = ""  # why classic protection (and its reviews) could not be read
    merge_queue: str | None = None  # the queue's merge method when the base requires a queue
    signatures: bool = False
    linear_history: bool = False
    rule_methods: frozenset[str] | None = None  # what the pull_request rules allow
    every_check: bool = False  # workflows / code_scanning rules: every reported check counts
    notes: tuple[str, ...] = field(default=())

    @property
    def approvals_needed(self) -> int:
        counts = [max(r.count, 1 if r.code_owners else 0) for r in self.reviews]
        return max(counts, default=0)

    @property
    def last_push_approval(self) -> bool:
        return any(r.last_push for r in self.reviews)


def read_base_rules(api: GitHubAPI, repo: str, base: str, admin: bool | None = None) -> BaseRules:
    """Every requirement of `base` this token can read (see the module docstring).

    `admin`: whether the run's repository listing says the token's account administers the
    repository. An admin reads classic protection directly (no branch read: the protection
    is the whole of it); a non-admin reads only the branch's summary, since GitHub answers
    the protection endpoint with 404 to anyone else. None: not known, try both."""
    rules = _RulesBuilder()
    if admin is True:
        protection, why = _classic_protection(api, repo, base)
        if protection is not None:
            rules.add_classic(protection)
        elif why:  # an admin refused after all (a token's scope): as for a non-admin
            _add_summary(rules, api.branch(repo, base), base, why)
    else:
        branch = api.branch(repo, base)
        if branch.classic_protection():
            protection, why = (
                (None, _NOT_ADMIN) if admin is False else (_classic_protection(api, repo, base))
            )
            if protection is not None:
                rules.add_classic(protection)
            elif why:
                _add_summary(rules, branch, base, why)
    try:
        branch_rules = api.branch_rules(repo, base)
    except GitHubHTTPError as exc:
        if exc.status in (401, 403, 404):
            raise ProtectionUnreadableError(
                f"rulesets of {base} cannot be read ({exc.status} {exc.message})"
            ) from None
        raise
    for rule in branch_rules:
        rules.add_rule(rule)
    return rules.build()


_NOT_ADMIN = "the token's account is not an admin of the repository; reading it needs admin"


def _add_summary(rules: _RulesBuilder, branch: Branch, base: str, why: str) -> None:
    """Classic protection that cannot be read: the required checks of the branch's
    protection summary, and its reviews unknown."""
    summary = branch.summary_checks()
    if summary is None:
        raise ProtectionUnreadableError(
            f"branch protection of {base} cannot be read ({why}) and the branch's "
            "protection summary shows no required checks"
        )
    rules.checks |= summary
    rules.reviews_unreadable = why


class BaseRulesCache:
    """What each base requires, read once per repository and base in a run: the branch, its
    classic protection and its rules. Nothing about a head is kept here: the required
    checks are evaluated for every head sha, and the merge stays pinned to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: dict[tuple[str, str], threading.Lock] = {}
        self._known: dict[tuple[str, str], BaseRules | str] = {}  # str: why unreadable

    def read(self, api: GitHubAPI, repo: str, base: str, admin: bool | None = None) -> BaseRules:
        """`read_base_rules`, once per (repo, base); an unreadable base stays unreadable for
        the run, a transient failure is not remembered."""
        key = (repo, base)
        with self._lock:
            reading = self._reading.setdefault(key, threading.Lock())
        with reading:
            known = self._known.get(key)
            if known is None:
                try:
                    known = read_base_rules(api, repo, base, admin)
                except ProtectionUnreadableError as exc:
                    known = exc.message
                with self._lock:
                    self._known[key] = known
        if isinstance(known, str):
            raise ProtectionUnreadableError(known)
        return known


def _classic_protection(
    api: GitHubAPI, repo: str, base: str
) -> tuple[BranchProtection | None, str]:
    """Classic protection, or None with why it cannot be read ("" when there is none)."""
    try:
        return api.branch_protection(repo, base), ""
    except GitHubHTTPError as exc:
        if exc.status == 404 and "not protected" in exc.message.lower():
            return None, ""
        if exc.status in (401, 403, 404):
            return None, f"{exc.status} {exc.message}; reading it needs admin"
        raise


class _RulesBuilder:
    def __init__(self) -> None:
        self.checks: set[str] = set()
        self.reviews: list[ReviewRule] = []
        self.reviews_unreadable = ""
        self.merge_queue: str | None = None
        self.signatures = False
        self.linear_history = False
        self.rule_methods: set[str] | None = None
        self.every_check = False
        self.notes: list[str] = []

    def add_classic(self, protection: BranchProtection) -> None:
        if protection.required_status_checks is not None:
            self.checks |= protection.required_status_checks.names()
        enforced = protection.enforce_admins is not None and protection.enforce_admins.enabled
        reviews = protection.required_pull_request_reviews
        if reviews is not None:
            self.reviews.append(
                ReviewRule(
                    "classic protection",
                    reviews.required_approving_review_count,
                    reviews.require_code_owner_reviews,
                    reviews.require_last_push_approval,
                    bypassable=not enforced,
                )
            )
        self.linear_history |= bool(
            protection.required_linear_history and protection.required_linear_history.enabled
        )
        self.signatures |= bool(
            protection.required_signatures and protection.required_signatures.enabled
        )

    def add_rule(self, rule: BranchRule) -> None:
        source = f"ruleset {rule.ruleset_id}" if rule.ruleset_id is not None else "a ruleset"
        if rule.type == "required_status_checks":
            self.checks |= rule.required_checks()
        elif rule.type == "pull_request":
            self._add_pull_request_rule(rule, source)
        elif rule.type == "merge_queue":
            self.merge_queue = str(rule.param("merge_method") or "MERGE").lower()
        elif rule.type == "required_signatures":
            self.signatures = True
        elif rule.type == "required_linear_history":
            self.linear_history = True
        elif rule.type in ("workflows", "code_scanning"):
            self.every_check = True
            self.notes.append(f"{source} requires {rule.type.replace('_', ' ')} results")

    def _add_pull_request_rule(self, rule: BranchRule, source: str) -> None:
        count = rule.param("required_approving_review_count", 0)
        self.reviews.append(
            ReviewRule(
                source,
                count if isinstance(count, int) else 1,
                rule.param("require_code_owner_review") is True,
                rule.param("require_last_push_approval") is True,
            )
        )
        methods = rule.param("allowed_merge_methods")
        if isinstance(methods, list):
            allowed = {str(m) for m in methods}
            self.rule_methods = (
                allowed if self.rule_methods is None else self.rule_methods & allowed
            )

    def build(self) -> BaseRules:
        return BaseRules(
            checks=frozenset(self.checks),
            reviews=tuple(self.reviews),
            reviews_unreadable=self.reviews_unreadable,
            merge_queue=self.merge_queue,
            signatures=self.signatures,
            linear_history=self.linear_history,
            rule_methods=frozenset(self.rule_methods) if self.rule_methods is not None else None,
            every_check=self.every_check,
            notes=tuple(self.notes),
        )


def _contexts(api: GitHubAPI, repo: str, sha: str, required: set[str]) -> dict[str, str]:
    """Every check run and commit status on `sha`, as context → success|pending|failure.
    When every `required` name is a check run, the statuses cannot change the verdict (a
    check run's state wins over a status of the same name) and are not read."""
    states: dict[str, str] = {}
    for run in api.check_runs(repo, sha):
        if run.status != "completed":
            state = "pending"
        else:
            state = "success" if run.conclusion in _SUCCESSFUL else "failure"
        # A failure anywhere under one name wins over an older success of the same name.
        if states.get(run.name) != "failure":
            states[run.name] = state
    if required and required <= states.keys():
        return states
    for status in api.combined_status(repo, sha).statuses:
        state = {"success": "success", "pending": "pending"}.get(status.state, "failure")
        states.setdefault(status.context, state)
    return states


def evaluate_checks(
    api: GitHubAPI, repo: str, sha: str, required: Iterable[str], every_check: bool = False
) -> ChecksVerdict:
    """The checks verdict; `every_check` (a workflows or code_scanning rule, whose checks
    agentd cannot name) makes every reported check count beside the required ones."""
    required = set(required)
    states = _contexts(api, repo, sha, set() if every_check else required)
    considered = {name: states.get(name, "missing") for name in required} if required else states
    if every_check:
        considered = {**states, **considered}
    if not considered:
        return ChecksVerdict(
            ChecksState.NONE,
            "the base branch requires no checks and none reported on the head; "
            "an unattended merge is not safe",
        )
    red = sorted(n for n, s in considered.items() if s == "failure")
    waiting = sorted(n for n, s in considered.items() if s in ("pending", "missing"))
    if red:
        return ChecksVerdict(ChecksState.RED, f"failing checks: {', '.join(red)}")
    if waiting:
        return ChecksVerdict(ChecksState.PENDING, f"checks not finished: {', '.join(waiting)}")
    kind = "required checks" if required else "reported checks (none required)"
    return ChecksVerdict(ChecksState.GREEN, f"{kind} green: {', '.join(sorted(considered))}")


def is_protected_path(path: str, redaction_patterns: Iterable[str] = ()) -> bool:
    if _PROTECTED.search(path) or PurePosixPath(path).name.startswith(".env"):
        return True
    return any(re.search(pattern, path) for pattern in redaction_patterns)


def diff_problems(
    files: Sequence[PullFile], expected: Iterable[str], redaction_patterns: Sequence[str] = ()
) -> list[str]:
    """Why a PR's diff is not exactly what the fix needs (empty when it is)."""
    wanted = set(expected)
    problems = []
    for file in files:
        if is_protected_path(file.filename, redaction_patterns):
            problems.append(f"touches protected path {file.filename}")
        elif file.filename not in wanted:
            problems.append(f"touches {file.filename}, which the fix does not need")
        if file.previous_filename:
            problems.append(f"renames {file.previous_filename}")
    missing = wanted - {f.filename for f in files}
    if missing:
        problems.append(f"does not contain {', '.join(sorted(missing))}")
    return problems


# --- reviews -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewVerdict:
    ok: bool
    detail: str


def latest_reviews(reviews: Sequence[Review], excluded: Iterable[str]) -> dict[str, Review]:
    """Each reviewer's latest decisive review (APPROVED, CHANGES_REQUESTED or DISMISSED);
    a COMMENTED review changes nothing. `excluded` (the PR's author, who cannot review their
    own PR, and the account agentd runs as, which is no independent reviewer) never count."""
    skip = {login.lower() for login in excluded}
    latest: dict[str, Review] = {}
    for review in reviews:
        login = review.user.login if review.user else ""
        if not login or login.lower() in skip or review.state not in _DECISIVE:
            continue
        latest[login] = review
    return latest


def evaluate_reviews(
    rules: BaseRules,
    reviews: Sequence[Review],
    *,
    head_sha: str,
    excluded: Iterable[str],
    token_is_admin: bool,
    mergeable_state: str | None,
    github_merges: bool = False,
) -> ReviewVerdict:
    """Whether the PR's reviews satisfy everything the base requires, without any bypass.
    `github_merges`: GitHub's own machinery (auto-merge, the merge queue) will merge, which
    bypasses nothing, so a requirement agentd cannot read is left to GitHub."""
    latest = latest_reviews(reviews, excluded)
    objecting = sorted(n for n, r in latest.items() if r.state == "CHANGES_REQUESTED")
    if objecting:
        return ReviewVerdict(False, f"review required: changes requested by {', '.join(objecting)}")
    head_only = rules.last_push_approval or bool(rules.reviews_unreadable)
    approvers = sorted(
        n
        for n, r in latest.items()
        if r.state == "APPROVED" and (not head_only or r.commit_id == head_sha)
    )
    on_head = f" of the head {head_sha[:12]}" if head_only else ""
    needed = rules.approvals_needed
    if len(approvers) < needed:
        sources = ", ".join(sorted({r.source for r in rules.reviews if r.count or r.code_owners}))
        return ReviewVerdict(
            False,
            f"review required: {needed} approving review(s){on_head} needed, "
            f"{len(approvers)} present ({sources})",
        )
    owners = [r.source for r in rules.reviews if r.code_owners and r.bypassable]
    if owners and token_is_admin:
        return ReviewVerdict(
            False,
            f"review required: code-owner review ({', '.join(owners)}); agentd cannot verify "
            "code ownership and its token could bypass the requirement, so a person merges",
        )
    if rules.reviews_unreadable and not approvers:
        return _unreadable_reviews(rules.reviews_unreadable, mergeable_state, github_merges)
    if approvers:
        return ReviewVerdict(True, f"approved{on_head} by {', '.join(approvers)}")
    return ReviewVerdict(True, "no review required")


def _unreadable_reviews(
    why: str, mergeable_state: str | None, github_merges: bool
) -> ReviewVerdict:
    if github_merges:
        return ReviewVerdict(
            True,
            f"classic protection unreadable ({why}); GitHub enforces any review it requires "
            "before it merges (no bypass)",
        )
    if mergeable_state in _NOTHING_BLOCKS:
        return ReviewVerdict(
            True,
            f"classic protection unreadable ({why}); GitHub reports the PR {mergeable_state}, "
            "so no review is outstanding",
        )
    return ReviewVerdict(
        False,
        f"review may be required: classic protection cannot be read ({why}); agentd merges "
        "only with an approval of the head or when GitHub reports nothing blocking "
        f"(mergeable_state {mergeable_state or 'unknown'})",
    )


# --- merge methods and signatures ---------------------------------------------------------


def merge_methods(
    preferred: str, rules: BaseRules, repository: Repository | None
) -> tuple[list[str], str]:
    """The merge methods to try, best first, and why the others are out."""
    repo_methods = repository.merge_methods() if repository is not None else None
    order = [preferred, *(m for m in _METHOD_ORDER if m != preferred)]
    methods = [
        m
        for m in order
        if (repo_methods is None or m in repo_methods)
        and (rules.rule_methods is None or m in rules.rule_methods)
        and not (rules.linear_history and m == "merge")
    ]
    why = []
    if repo_methods is not None:
        why.append(f"the repository allows {', '.join(sorted(repo_methods)) or 'no method'}")
    if rules.rule_methods is not None:
        why.append(f"rulesets allow {', '.join(sorted(rules.rule_methods)) or 'no method'}")
    if rules.linear_history:
        why.append("linear history forbids merge commits")
    return methods, "; ".join(why)


def unverified_commits(commits: Sequence[PullCommit]) -> list[str]:
    return [commit.sha[:12] for commit in commits if not commit.verified]
