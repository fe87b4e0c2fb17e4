"""The merge pass: the review gate, then a merge pinned to the head sha (SPEC §10).

`merged` is reported only when GitHub's merge API answered that it merged. A head that
moved (409) is re-evaluated by the next iteration, never forced; a refusal (405) is a
`branch_protection_block`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from agentd.alerts.interface import Hold
from agentd.delivery.gate import (
    ChecksState,
    ProtectionUnreadableError,
    diff_problems,
    evaluate_checks,
    required_checks,
)
from agentd.engine.context import RunContext
from agentd.github.client import GitHubHTTPError
from agentd.github.models import PullRequest
from agentd.mutation import MutationKind
from agentd.stamp import StampError, parse_stamp
from agentd.vocabulary import Outcome, ReasonCode, UnitResult

MERGEABLE_POLLS = 4
MERGEABLE_POLL_SECONDS = 0.5


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


def _fresh_pull(ctx: RunContext, repo: str, number: int) -> PullRequest:
    pull = ctx.api.pull(repo, number)
    for _ in range(MERGEABLE_POLLS):
        if pull.mergeable is not None or pull.state != "open":
            break
        time.sleep(MERGEABLE_POLL_SECONDS)  # GitHub computes mergeability asynchronously
        pull = ctx.api.pull(repo, number)
    return pull


def _identity_problem(request: MergeRequest, pull: PullRequest) -> str | None:
    if pull.state != "open":
        return f"PR #{pull.number} is {pull.state}"
    try:
        stamp = parse_stamp(pull.body)
    except StampError as exc:
        return f"PR stamp is not valid: {exc}"
    if stamp is None or stamp.remediation_key != request.key:
        return "PR stamp does not carry this unit's remediation key"
    if pull.user is None or pull.user.login.lower() != request.author.lower():
        who = pull.user.login if pull.user else "unknown"
        return f"PR #{pull.number} was opened by {who}, not {request.author}"
    head, base = pull.head.repo, pull.base.repo
    if head is None or base is None or head.full_name != base.full_name:
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

    @property
    def merged(self) -> bool:
        return self.result.outcome is Outcome.MERGED


def merge_if_allowed(ctx: RunContext, request: MergeRequest) -> MergeOutcome:
    result = _gate_and_merge(ctx, request)
    if isinstance(result, MergeOutcome):
        return result
    return MergeOutcome(result)


def _gate_and_merge(ctx: RunContext, request: MergeRequest) -> UnitResult | MergeOutcome:
    if not ctx.policy.allows(MutationKind.MERGE):
        return UnitResult.opened_pr(
            detail=f"mutation mode {ctx.policy.mode.value}: a person merges"
        )
    if request.hold is not None:
        return UnitResult.opened_pr(request.hold.reason, request.hold.detail)
    if not request.verification_passed:
        return UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, "verification did not pass")
    pull = _fresh_pull(ctx, request.repo, request.number)
    problem = _identity_problem(request, pull)
    if problem:
        return UnitResult.blocked(ReasonCode.POLICY_BLOCKED, problem)
    if pull.head.sha != request.head_sha:
        return MergeOutcome(
            UnitResult.opened_pr(
                detail=f"the head moved to {pull.head.sha[:12]} after agentd pushed or verified "
                f"{request.head_sha[:12]}; re-evaluated, never merged unverified"
            ),
            reevaluate=True,
        )
    try:
        required = required_checks(ctx.api, request.repo, request.base)
    except ProtectionUnreadableError as exc:
        return exc.unit_result()
    verdict = evaluate_checks(ctx.api, request.repo, request.head_sha, required)
    if verdict.state is ChecksState.RED:
        return UnitResult.blocked(ReasonCode.CHECKS_RED, verdict.detail)
    if verdict.state is ChecksState.PENDING:
        return UnitResult.opened_pr(ReasonCode.CHECKS_PENDING, verdict.detail)
    if verdict.state is ChecksState.NONE:
        return UnitResult.opened_pr(ReasonCode.BRANCH_PROTECTION_BLOCK, verdict.detail)
    files = ctx.api.pull_files(request.repo, request.number)
    patterns = ctx.profile.profile.verification.secret_redaction_patterns
    problems = diff_problems(files, request.expected_files, patterns)
    if problems:
        return UnitResult.blocked(ReasonCode.POLICY_BLOCKED, "; ".join(problems))
    if pull.mergeable is False:
        return UnitResult.opened_pr(
            ReasonCode.BRANCH_PROTECTION_BLOCK,
            "GitHub reports a merge conflict; the next run rebuilds the branch on the current base",
        )
    if not ctx.budget.take_merge():
        return UnitResult.opened_pr(
            ReasonCode.POLICY_BLOCKED,
            f"budget.max_merges ({ctx.budget.max_merges}) reached this run",
        )
    return _merge(ctx, request, pull, verdict.detail)


def _merge(
    ctx: RunContext, request: MergeRequest, pull: PullRequest, checks: str
) -> UnitResult | MergeOutcome:
    method = ctx.profile.profile.defaults.merge_method
    title = request.commit_title or pull.title
    try:
        answer = ctx.api.merge_pull(
            request.repo,
            pull.number,
            sha=request.head_sha,
            method=method,
            title=f"{title} (#{pull.number})",
        )
    except GitHubHTTPError as exc:
        if exc.status == 409:
            return MergeOutcome(
                UnitResult.opened_pr(
                    detail=f"the head moved before the merge ({exc.message}); re-evaluated, not forced"
                ),
                reevaluate=True,
            )
        if exc.status == 405 and "base branch was modified" in exc.message.lower():
            # GitHub's transient refusal while it recomputes: look again next iteration.
            return MergeOutcome(
                UnitResult.opened_pr(detail=f"GitHub asked to retry the merge ({exc.message})"),
                reevaluate=True,
            )
        if exc.status == 405:
            return UnitResult.blocked(
                ReasonCode.BRANCH_PROTECTION_BLOCK, f"GitHub refused the merge: {exc.message}"
            )
        if exc.status in (401, 403):
            return UnitResult.blocked(
                ReasonCode.AUTH_INSUFFICIENT, f"merge not permitted: {exc.message}"
            )
        return UnitResult.blocked(
            ReasonCode.BRANCH_PROTECTION_BLOCK, f"merge refused ({exc.status}): {exc.message}"
        )
    if answer.get("merged") is not True:
        return UnitResult.blocked(
            ReasonCode.BRANCH_PROTECTION_BLOCK, "the merge API did not confirm a merge"
        )
    return UnitResult.merged(f"merged {pull.head.sha[:12]} by {method}; {checks}")
