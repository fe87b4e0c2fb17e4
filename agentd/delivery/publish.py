"""Publishing a verified change: commit, compare-and-set push, PR create/update.

Shared by every pass that opens agent-managed PRs. The branch always holds exactly one
commit on top of the freshly fetched base. An existing branch whose single commit already
has the same tree is reused without a push (no churn); otherwise the branch is
force-pushed with a lease on the sha last seen, so a concurrent writer makes the push fail
instead of being overwritten — and then agentd looks again rather than failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentd.delivery.pulls import PullRequestOutcome, ensure_pull_request, find_unit_pr
from agentd.engine.context import RunContext, Workspace
from agentd.errors import BudgetExhaustedError
from agentd.github.models import PullRequest
from agentd.gitops import PushRejectedError
from agentd.log import get_logger
from agentd.stamp import Stamp, replace_stamp

log = get_logger("publish")
PUSH_ATTEMPTS = 3


@dataclass(frozen=True)
class Published:
    pull: PullRequest
    branch: str  # the unit's branch, or the branch of the PR that already carries its key
    head_sha: str
    pushed: bool  # a new commit reached the branch
    created: bool  # the PR was created by this call
    updated: bool


def _reusable(ws: Workspace, remote_sha: str | None, tree: str | None) -> bool:
    if remote_sha is None or tree is None:
        return False
    return (
        ws.operator.parent_of(remote_sha) == ws.start_sha
        and ws.operator.tree_of(remote_sha) == tree
    )


def _audit_push(ctx: RunContext, ws: Workspace, branch: str, sha: str, result: str) -> None:
    if ctx.audit is not None:
        ctx.audit.push(ws.operator.repo.name, branch, sha, result)


def push_change(
    ws: Workspace, ctx: RunContext, branch: str, protected: Sequence[str]
) -> tuple[str, bool]:
    """Make `branch` hold the worktree's HEAD (or an identical commit); return (sha, pushed)."""
    head = ws.tree.rev_parse("HEAD")
    tree = ws.tree.tree_of("HEAD")
    if head is None:
        raise PushRejectedError(["push", branch], 1, "worktree has no HEAD commit")
    for attempt in range(PUSH_ATTEMPTS):
        remote_sha = ws.operator.fetch_branch(branch)
        if _reusable(ws, remote_sha, tree):
            assert remote_sha is not None  # noqa: S101 - narrowed by _reusable
            return remote_sha, False
        try:
            ws.tree.push_branch(branch, remote_sha, ctx.policy, protected=protected)
        except PushRejectedError:
            _audit_push(ctx, ws, branch, head, "rejected")
            if attempt == PUSH_ATTEMPTS - 1:
                raise
            log.info("push lost a race; looking again", extra={"branch": branch})
            continue
        _audit_push(ctx, ws, branch, head, "ok")
        return head, True
    raise AssertionError("unreachable")  # pragma: no cover


def publish(
    ctx: RunContext,
    ws: Workspace,
    *,
    repo: str,
    key: str,
    branch: str,
    base: str,
    protected: Sequence[str],
    title: str,
    body: str,
) -> Published:
    """Push the worktree's commit and create or update the unit's PR (one per key)."""
    existing = find_unit_pr(ctx.api, repo, branch=branch, key=key, author=ctx.login())
    if existing is not None:
        branch = existing.head.ref  # e.g. opened under an earlier branch_template
    if existing is None and not ctx.budget.take_new_pr():
        raise BudgetExhaustedError(
            f"budget.max_new_prs ({ctx.budget.max_new_prs}) reached this run"
        )
    try:
        sha, pushed = push_change(ws, ctx, branch, protected)
        outcome: PullRequestOutcome = ensure_pull_request(
            ctx.api,
            repo,
            branch=branch,
            base=base,
            title=title,
            body=body,
            labels=ctx.profile.profile.defaults.pr_labels,
            existing=existing,
        )
    except BaseException:
        if existing is None:
            ctx.budget.give_back_new_pr()
        raise
    if existing is None and not outcome.created:
        ctx.budget.give_back_new_pr()  # adopted after a race: no new PR was opened
    return Published(outcome.pull, branch, sha, pushed, outcome.created, outcome.updated)


def restamp(ctx: RunContext, repo: str, pull: PullRequest, stamp: Stamp) -> None:
    """Put the unit's stamp into an adopted PR's body (the only edit agentd makes to it)."""
    body = replace_stamp(pull.body or "", stamp)
    if body != (pull.body or ""):
        ctx.api.update_pull(repo, pull.number, body=body)
