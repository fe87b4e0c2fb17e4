"""The merge pass: the review gate, then a merge pinned to the head sha (SPEC §10).

`merged` is reported only when GitHub's merge API answered that it merged. A head that
moved (409) is re-evaluated by the next iteration, never forced. The merge is tried with the
pinned sha without waiting for GitHub to compute `mergeable` (the PR is read once): the
merge call decides that itself (405 "Pull Request is not mergeable" on a conflict). The
files of agentd's own commit are known: they are read from GitHub only for a PR by someone
else or one whose head is not that single commit on the base. A missing approval or a
merge-queue base ends `opened_pr` without any merge call, whatever the token could bypass;
a base behind a merge queue is enqueued through GraphQL (`enqueuePullRequest`), never merged
through REST. With `merge_via: github_auto_merge`, a PR that passes everything but pending
checks gets GitHub's native auto-merge, pinned to the verified head (`expectedHeadOid`).
A `verification: ci` unit (no verification ran here) whose base requires no status checks is
never merged: it ends `opened_pr branch_protection_block` naming the fix.
GitHub's refusals (405) are mapped: reviews and merge queues → `opened_pr`, signatures →
`blocked`, a refused merge method → the next allowed one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from agentd.alerts.interface import Hold
from agentd.delivery.gate import (
    BaseRules,
    ChecksState,
    ChecksVerdict,
    ProtectionUnreadableError,
    ReviewVerdict,
    diff_problems,
    evaluate_checks,
    evaluate_reviews,
    merge_methods,
    unverified_commits,
)
from agentd.delivery.pulls import from_the_repository_itself, opened_by
from agentd.engine.context import RunContext
from agentd.github.client import GitHubError, GitHubHTTPError
from agentd.github.models import PullFile, PullRequest, Repository
from agentd.log import get_logger
from agentd.mutation import MutationKind
from agentd.stamp import StampError, parse_stamp
from agentd.vocabulary import Outcome, ReasonCode, UnitResult

log = get_logger("merge")


@dataclass(frozen=True)
class MergeRequest:
    repo: str
    base: str
    number: int
    key: str
    expected_files: Sequence[str]
    verification_passed: bool
    branch: str  # the head must be exactly this branch of the repository itself
    head_sha: str  # what agentd pushed or verified: the only head it merges
    author: str  # who must have opened the PR (agentd's own login, or dependabot[bot])
    hold: Hold | None = None
    commit_title: str = ""
    target_id: str = ""
    # `verification: ci`: nothing ran on the build host; the base's required checks are the
    # verification, so a base that requires none never merges the unit
    verified_on_github: bool = False
    # The files agentd's own commit (`head_sha`, one commit on the base) changes: what the
    # diff check needs, without reading the PR's files. None: read them from GitHub.
    built_files: tuple[str, ...] | None = None


def _identity_problem(request: MergeRequest, pull: PullRequest) -> str | None:
    if pull.state != "open":
        return f"PR #{pull.number} is {pull.state}"
    try:
        stamp = parse_stamp(pull.body)
    except StampError as exc:
        return f"PR stamp is not valid: {exc}"
    if stamp is None or stamp.remediation_key != request.key:
        return "PR stamp does not carry this unit's remediation key"
    if not opened_by(pull, request.author):
        who = pull.user.login if pull.user else "unknown"
        return f"PR #{pull.number} was opened by {who}, not {request.author}"
    if not from_the_repository_itself(pull):
        return f"PR #{pull.number} comes from another repository"
    if pull.head.ref != request.branch:
        return f"PR head {pull.head.ref} is not the unit's branch {request.branch}"
    if pull.base.ref != request.base:
        return f"PR base {pull.base.ref} is not {request.base}"
    return None


@dataclass(frozen=True)
class MergeOutcome:
    result: UnitResult
    reevaluate: bool = False  # the head moved under us: look again in the next iteration
    # GitHub merges the PR itself (auto-merge enabled, or enqueued): nothing for agentd to
    # check again in this run
    handed_to_github: bool = False

    @property
    def merged(self) -> bool:
        return self.result.outcome is Outcome.MERGED


def merge_if_allowed(
    ctx: RunContext, request: MergeRequest, created: PullRequest | None = None
) -> MergeOutcome:
    """The review gate, then the merge. `created`: the PR as GitHub answered agentd's create
    call in this very pass; it stands in for reading the PR again (unless only GitHub's
    `mergeable_state` can settle an unreadable review requirement), and it has no reviews:
    none can predate the PR, and one submitted in the moment since is as unseen as one
    submitted just after a read."""
    result = _gate_and_merge(ctx, request, created)
    outcome = result if isinstance(result, MergeOutcome) else MergeOutcome(result)
    reason = outcome.result.reason or outcome.result.remaining_blocker
    log.debug(
        "merge gate decided",
        extra={
            "repo": request.repo,
            "pr": request.number,
            "head": request.head_sha,
            "outcome": outcome.result.outcome.value,
            "reason": reason.value if reason else None,
            "detail": outcome.result.detail.splitlines()[0] if outcome.result.detail else "",
            "reevaluate": outcome.reevaluate,
        },
    )
    return outcome


@dataclass(frozen=True)
class _Gate:
    """What the gate learned about one PR, for the merge (or its native equivalents)."""

    pull: PullRequest
    rules: BaseRules
    checks: ChecksVerdict
    methods: list[str]
    reviews: str


def _gate_and_merge(
    ctx: RunContext, request: MergeRequest, created: PullRequest | None
) -> UnitResult | MergeOutcome:
    if not ctx.policy.allows(MutationKind.MERGE):
        return UnitResult.opened_pr(
            detail=f"mutation mode {ctx.policy.mode.value}: a person merges"
        )
    if request.hold is not None:
        return UnitResult.opened_pr(request.hold.reason, request.hold.detail)
    if not request.verification_passed:
        return UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, "verification did not pass")
    gate = _review_gate(ctx, request, created)
    if not isinstance(gate, _Gate):
        return gate
    if gate.checks.state is ChecksState.PENDING:
        return _enable_auto_merge(ctx, request, gate)
    if not ctx.budget.take_merge():
        return _budget_spent(ctx)
    if gate.rules.merge_queue is not None:
        return _enqueue(ctx, request, gate)
    return _merge(ctx, request, gate)


def _review_gate(
    ctx: RunContext, request: MergeRequest, created: PullRequest | None
) -> _Gate | UnitResult | MergeOutcome:
    """Everything SPEC §10 requires, in order; a _Gate when only pending checks (or
    nothing) stand between the PR and its merge."""
    pull = created if created is not None else ctx.api.pull(request.repo, request.number)
    problem = _identity_problem(request, pull)
    if problem:
        return UnitResult.blocked(ReasonCode.POLICY_BLOCKED, problem)
    if pull.head.sha != request.head_sha:
        return _moved(
            f"the head moved to {pull.head.sha[:12]} after agentd pushed or verified "
            f"{request.head_sha[:12]}; re-evaluated, never merged unverified"
        )
    repository = _repository(ctx, request.repo)
    try:
        rules = ctx.base_rules.read(ctx.api, request.repo, request.base, _admin(repository))
    except ProtectionUnreadableError as exc:
        return exc.unit_result()
    if request.verified_on_github and not rules.checks:
        return UnitResult.opened_pr(ReasonCode.BRANCH_PROTECTION_BLOCK, _unverified(request))
    checks = evaluate_checks(
        ctx.api, request.repo, request.head_sha, rules.checks, rules.every_check
    )
    log.debug(
        "checks read",
        extra={
            "repo": request.repo,
            "pr": request.number,
            "required": sorted(rules.checks),
            "state": checks.state.value,
            "detail": checks.detail,
        },
    )
    early = _checks_outcome(ctx, checks)
    if early is not None:
        return early
    # GitHub's own machinery merges: auto-merge while checks are pending, or the queue
    github_merges = checks.state is ChecksState.PENDING or rules.merge_queue is not None
    if created is not None and rules.reviews_unreadable and not github_merges:
        # Only GitHub's verdict on the PR stands in for the review requirement agentd
        # cannot read, and the create call's answer does not carry it yet.
        pull = ctx.api.pull(request.repo, request.number)
        if pull.head.sha != request.head_sha:
            return _moved(f"the head moved to {pull.head.sha[:12]} before the merge")
    facts = _PullFacts(pull, created is not None, repository, github_merges)
    return _pull_gate(ctx, facts, request, rules, checks)


def _checks_outcome(ctx: RunContext, checks: ChecksVerdict) -> UnitResult | None:
    if checks.state is ChecksState.RED:
        return UnitResult.blocked(ReasonCode.CHECKS_RED, checks.detail)
    if checks.state is ChecksState.NONE:
        return UnitResult.opened_pr(ReasonCode.BRANCH_PROTECTION_BLOCK, checks.detail)
    if checks.state is ChecksState.PENDING and not _via_auto_merge(ctx):
        return UnitResult.opened_pr(ReasonCode.CHECKS_PENDING, checks.detail)
    return None


@dataclass(frozen=True)
class _PullFacts:
    pull: PullRequest
    created: bool  # created by agentd in this pass: no review exists yet
    repository: Repository | None
    github_merges: bool  # auto-merge or the merge queue merges, not agentd's REST call


def _pull_gate(
    ctx: RunContext,
    facts: _PullFacts,
    request: MergeRequest,
    rules: BaseRules,
    checks: ChecksVerdict,
) -> _Gate | UnitResult:
    pull, repository = facts.pull, facts.repository
    patterns = ctx.profile.profile.verification.secret_redaction_patterns
    problems = diff_problems(_files(ctx, request, pull), request.expected_files, patterns)
    if problems:
        return UnitResult.blocked(ReasonCode.POLICY_BLOCKED, "; ".join(problems))
    if rules.reviews_unreadable and pull.mergeable is None and not facts.github_merges:
        # Only GitHub's own verdict (mergeable_state) can stand in for the unreadable
        # review requirement; agentd does not sleep on it: the next pass looks again.
        return UnitResult.opened_pr(
            ReasonCode.CHECKS_PENDING,
            "GitHub is still computing whether the PR can be merged (mergeable: null) and "
            "only its verdict can tell whether a review is outstanding; agentd never merges "
            "blind, the next pass looks again",
        )
    reviews = _reviews(ctx, request, facts, rules)
    if not reviews.ok:
        return UnitResult.opened_pr(ReasonCode.BRANCH_PROTECTION_BLOCK, reviews.detail)
    if pull.mergeable is False:
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            "GitHub reports a merge conflict; the next run rebuilds the branch on the current base",
        )
    signatures = _signature_problem(ctx, request, rules)
    if signatures is not None:
        return signatures
    methods, why = merge_methods(ctx.profile.profile.defaults.merge_method, rules, repository)
    if not methods and rules.merge_queue is None:
        return UnitResult.blocked(
            ReasonCode.BRANCH_PROTECTION_BLOCK, f"no merge method is allowed: {why}"
        )
    return _Gate(pull, rules, checks, methods, reviews.detail)


def _files(ctx: RunContext, request: MergeRequest, pull: PullRequest) -> list[PullFile]:
    """The PR's files: from agentd's own commit when the PR is exactly that commit on the base
    (GitHub counts one commit), else as GitHub lists them."""
    if request.built_files is not None and pull.commits == 1:
        return [PullFile(filename=name) for name in request.built_files]
    return ctx.api.pull_files(request.repo, request.number)


def _reviews(
    ctx: RunContext, request: MergeRequest, facts: _PullFacts, rules: BaseRules
) -> ReviewVerdict:
    """The PR's reviews against the base's requirements; approvals by the PR's author or
    by agentd's own account never count."""
    reviews = () if facts.created else ctx.api.reviews(request.repo, request.number)
    return evaluate_reviews(
        rules,
        reviews,
        head_sha=request.head_sha,
        excluded=(request.author, ctx.login()),
        token_is_admin=_admin(facts.repository) is not False,
        mergeable_state=facts.pull.mergeable_state,
        github_merges=facts.github_merges,
    )


def read_base_rules_ahead(ctx: RunContext, repo: str, base: str) -> None:
    """Start reading what `base` requires in the background, while the unit verifies and
    publishes: the gate's own read then waits for this one (`BaseRulesCache`) instead of
    asking GitHub again. Whatever fails here is the gate's to meet again: an unreadable base
    is remembered by the cache, anything else (a transient fault, a rate-limit stop) is not."""

    def read() -> None:
        try:
            ctx.base_rules.read(ctx.api, repo, base, _admin(_repository(ctx, repo)))
        except Exception as exc:  # the gate reads again and meets it itself
            log.debug("base rules read ahead failed", extra={"repo": repo, "why": str(exc)})

    threading.Thread(target=read, name=f"base-rules-{repo}", daemon=True).start()


def _repository(ctx: RunContext, repo: str) -> Repository | None:
    """The repository as the run's listing shows it (its permissions; merge settings only
    when it had to be read on its own); None when unreadable (then the gate assumes the
    token could bypass, and a merge method GitHub refuses falls back to the next)."""
    try:
        return ctx.api.listed_repository(repo)
    except GitHubError:
        return None


def _admin(repository: Repository | None) -> bool | None:
    """Whether the token's account administers the repository; None when not shown."""
    if repository is None or repository.permissions is None:
        return None
    return repository.permissions.admin


def _signature_problem(
    ctx: RunContext, request: MergeRequest, rules: BaseRules
) -> UnitResult | None:
    if not rules.signatures:
        return None
    unverified = unverified_commits(ctx.api.pull_commits(request.repo, request.number))
    if not unverified:
        return None
    return UnitResult.blocked(
        ReasonCode.BRANCH_PROTECTION_BLOCK,
        f"the base requires verified signatures and commit(s) {', '.join(unverified)} of the "
        "PR are not verified; agentd does not merge them (sign commits, or let GitHub create "
        "them through the API)",
    )


def _unverified(request: MergeRequest) -> str:
    return (
        f"target {request.target_id} is in verification: ci, but {request.base} requires no "
        "status checks (neither branch protection nor a ruleset), so nothing verified this "
        "change and it is never merged unattended; add required status checks to "
        f"{request.base} (branch protection or a ruleset), or set 'verification: local' on "
        "the target so agentd runs its commands first"
    )


def _via_auto_merge(ctx: RunContext) -> bool:
    return ctx.profile.profile.defaults.merge_via == "github_auto_merge"


def _moved(detail: str) -> MergeOutcome:
    return MergeOutcome(UnitResult.opened_pr(detail=detail), reevaluate=True)


def _budget_spent(ctx: RunContext) -> UnitResult:
    return UnitResult.opened_pr(
        ReasonCode.POLICY_BLOCKED,
        f"budget.max_merges ({ctx.budget.max_merges}) reached this run",
    )


# --- GitHub's own merge machinery: auto-merge and the merge queue ---------------------------


def _enable_auto_merge(
    ctx: RunContext, request: MergeRequest, gate: _Gate
) -> UnitResult | MergeOutcome:
    """Everything but pending checks passed: GitHub merges the pinned head when they pass."""
    pending = gate.checks.detail
    if gate.pull.auto_merge is not None:
        result = UnitResult.opened_pr(
            ReasonCode.CHECKS_PENDING,
            f"auto-merge enabled ({gate.pull.auto_merge.merge_method or 'GitHub'}); {pending}",
        )
        return MergeOutcome(result, handed_to_github=True)
    methods = [gate.rules.merge_queue] if gate.rules.merge_queue else gate.methods
    if not gate.pull.node_id or not methods:
        return UnitResult.opened_pr(
            ReasonCode.CHECKS_PENDING, f"{pending}; auto-merge not enabled (no PR node id)"
        )
    if not ctx.budget.take_merge():
        return _budget_spent(ctx)
    refused: list[str] = []
    for method in methods:
        try:
            ctx.api.enable_auto_merge(gate.pull.node_id, method, request.head_sha)
        except GitHubError as exc:
            if _method_refused(_message(exc)) and method != methods[-1]:
                refused.append(f"{method}: {_message(exc)}")
                continue
            result = UnitResult.opened_pr(
                ReasonCode.CHECKS_PENDING,
                f"{pending}; auto-merge could not be enabled ({_message(exc)}); a later run "
                "merges once the checks are green",
            )
            return MergeOutcome(result, reevaluate=_head_moved(exc))
        fallback = f" (after GitHub refused {'; '.join(refused)})" if refused else ""
        result = UnitResult.opened_pr(
            ReasonCode.CHECKS_PENDING,
            f"auto-merge enabled ({method}{fallback}, pinned to {request.head_sha[:12]}): "
            f"GitHub merges when the checks pass; {pending}; {gate.reviews}",
        )
        return MergeOutcome(result, handed_to_github=True)
    raise AssertionError("unreachable")  # pragma: no cover - the last method returns


def _enqueue(ctx: RunContext, request: MergeRequest, gate: _Gate) -> UnitResult | MergeOutcome:
    """A base behind a merge queue is never merged through REST: the PR is enqueued."""
    queue = f"the base {request.base} requires a merge queue"
    if not gate.pull.node_id:
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK, f"{queue}; the PR has no node id to enqueue"
        )
    try:
        entry = ctx.api.enqueue_pull(gate.pull.node_id, request.head_sha)
    except GitHubError as exc:
        result = UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            f"{queue} and agentd could not enqueue the PR ({_message(exc)}); never merged "
            "through REST",
        )
        return MergeOutcome(result, reevaluate=_head_moved(exc))
    queued = entry.get("mergeQueueEntry")
    where = ""
    if isinstance(queued, dict):
        where = f" at position {queued.get('position')} ({queued.get('state')})"
    return UnitResult.opened_pr(
        ReasonCode.CHECKS_PENDING,
        f"{queue}: enqueued{where}, pinned to {request.head_sha[:12]}; GitHub merges it when "
        f"the queue's checks pass; {gate.checks.detail}; {gate.reviews}",
    )


def _message(exc: GitHubError) -> str:
    return str(getattr(exc, "graphql_message", "") or getattr(exc, "message", "") or exc)


def _head_moved(exc: GitHubError) -> bool:
    return "head branch was modified" in _message(exc).lower()


# --- the REST merge -------------------------------------------------------------------------


def _merge(ctx: RunContext, request: MergeRequest, gate: _Gate) -> UnitResult | MergeOutcome:
    """The REST merge, pinned to the verified head; a refused method falls back to the next
    allowed one."""
    refused: list[str] = []
    for method in gate.methods:
        try:
            answer = _merge_call(ctx, request, gate.pull, method)
        except GitHubHTTPError as exc:
            if exc.status == 405 and _method_refused(exc.message):
                refused.append(f"{method}: {exc.message}")
                continue
            ctx.pulls.forget(request.repo)  # closed or conflicting meanwhile: list again
            return _refusal(exc)
        if answer.get("merged") is not True:
            return UnitResult.blocked(
                ReasonCode.BRANCH_PROTECTION_BLOCK, "the merge API did not confirm a merge"
            )
        ctx.pulls.drop(request.repo, request.number)
        fallback = f" (after GitHub refused {'; '.join(refused)})" if refused else ""
        return UnitResult.merged(
            f"merged {gate.pull.head.sha[:12]} by {method}{fallback}; {gate.checks.detail}; "
            f"{gate.reviews}"
        )
    return UnitResult.blocked(
        ReasonCode.BRANCH_PROTECTION_BLOCK,
        f"GitHub refused every allowed merge method: {'; '.join(refused)}",
    )


def _merge_call(
    ctx: RunContext, request: MergeRequest, pull: PullRequest, method: str
) -> dict[str, object]:
    title = request.commit_title or pull.title
    return ctx.api.merge_pull(
        request.repo,
        pull.number,
        sha=request.head_sha,
        method=method,
        title=f"{title} (#{pull.number})",
    )


_METHOD_REFUSALS = (
    "are not allowed on this repository",
    "must not contain merge commits",
    "merge strategy",
    "merge method",
)
_REVIEW_REFUSALS = (
    "approving review",
    "requesting changes",
    "code owner review",
    "last pusher",
    "review required",
)


def _method_refused(message: str) -> bool:
    lowered = message.lower()
    return any(text in lowered for text in _METHOD_REFUSALS) and "merge queue" not in lowered


def _refusal(exc: GitHubHTTPError) -> UnitResult | MergeOutcome:
    """GitHub's refusal of a merge, as the unit's outcome."""
    message = exc.message.lower()
    if exc.status == 409:
        return _moved(f"the head moved before the merge ({exc.message}); re-evaluated, not forced")
    if exc.status == 405 and "base branch was modified" in message:
        # GitHub's transient refusal while it recomputes: look again next iteration.
        return _moved(f"GitHub asked to retry the merge ({exc.message})")
    if exc.status == 405:
        return _refusal_405(exc.message)
    if exc.status in (401, 403):
        return UnitResult.blocked(
            ReasonCode.AUTH_INSUFFICIENT, f"merge not permitted: {exc.message}"
        )
    return UnitResult.blocked(
        ReasonCode.BRANCH_PROTECTION_BLOCK, f"merge refused ({exc.status}): {exc.message}"
    )


def _refusal_405(message: str) -> UnitResult:
    lowered = message.lower()
    shown = " ".join(message.split())
    if "not mergeable" in lowered:
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            f"GitHub says {shown} (a merge conflict with the base); not merged, the next run "
            "rebuilds the branch on the current base",
        )
    if any(text in lowered for text in _REVIEW_REFUSALS):
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK, f"review required: GitHub says {shown}"
        )
    if "merge queue" in lowered:
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            f"the base requires a merge queue: GitHub says {shown}; not merged through REST",
        )
    if "signature" in lowered:
        return UnitResult.blocked(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            f"the base requires verified signatures: GitHub says {shown}",
        )
    return UnitResult.blocked(
        ReasonCode.BRANCH_PROTECTION_BLOCK, f"GitHub refused the merge: {shown}"
    )
