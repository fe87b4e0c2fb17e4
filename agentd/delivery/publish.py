"""Publishing a verified change: commit, compare-and-set push, PR create/update.

The branch always holds exactly one commit of agentd's on top of the freshly fetched base:
the commit of the tree that was re-checked and verified. An existing branch whose single
commit already has the same tree is reused without a push (no churn); otherwise the branch
is force-pushed with a lease on the sha agentd last pushed there (`ledger`), so neither a
concurrent writer nor a person's commit is ever overwritten. agentd only acts on PRs its
own account opened from the repository itself.

Only a lost race is looked at again. A push GitHub refuses for good (a rule, the token's
scope, push protection, an archive: `PushRefusedError`) stops the unit with its reason and,
when it belongs to the change, is remembered (`refusals`): the same change is not pushed
again until it or the profile changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentd import faults
from agentd.delivery.ledger import PushLedger
from agentd.delivery.pulls import PullRequestOutcome, ensure_pull_request, find_unit_pr
from agentd.delivery.refusals import RefusalMemory, profile_fingerprint
from agentd.engine.context import RunContext, Workspace
from agentd.errors import BudgetExhaustedError, UnitError
from agentd.github.client import GitHubHTTPError
from agentd.github.models import PullRequest
from agentd.gitops import PushRefusedError, PushRejectedError, guard_push
from agentd.log import get_logger
from agentd.stamp import GITHUB_BODY_LIMIT, Stamp, replace_stamp, same_visible_content
from agentd.vocabulary import ReasonCode

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
    edited: str = ""  # why agentd left a branch a person edited alone (nothing pushed)


def _reusable(ws: Workspace, remote_sha: str | None, tree: str | None) -> bool:
    if remote_sha is None or tree is None:
        return False
    return (
        ws.operator.parent_of(remote_sha) == ws.start_sha
        and ws.operator.tree_of(remote_sha) == tree
    )


def _refusals(ctx: RunContext, ws: Workspace, key: str, commit: str) -> RefusalMemory:
    """A refusal is remembered by the key, the tree agentd pushes and the profile."""
    tree = ws.tree.tree_of(commit) or commit
    return RefusalMemory(ctx.state_dir, key, tree, profile_fingerprint(ctx.profile))


def _audit_push(ctx: RunContext, ws: Workspace, branch: str, sha: str, result: str) -> None:
    if ctx.audit is not None:
        ctx.audit.push(ws.operator.repo.name, branch, sha, result)


def _agentds_own(ctx: RunContext, ws: Workspace, sha: str, key: str) -> bool:
    """Whether the branch tip is one commit of agentd's for this key on top of the base's
    history (used when the ledger has no record, e.g. a fresh state dir)."""
    base = ws.operator.merge_base(sha, ws.start_sha)
    if base is None or ws.operator.parent_of(sha) != base:
        return False
    authors = ws.operator.authors(base, sha)
    message = ws.operator.run("log", "-1", "--format=%B", sha)
    return authors == [ctx.commit_identity()] and (f"Remediation-Key: {key}" in message)


def push_change(
    ws: Workspace,
    ctx: RunContext,
    key: str,
    branch: str,
    protected: Sequence[str],
    commit: str,
    repo: str = "",
) -> tuple[str, bool]:
    """Make `branch` hold `commit` (or an identical commit); return (sha, pushed).

    The lease is the sha agentd itself last pushed: a branch that moved since to a commit
    that is not agentd's raises `EditedByPersonError` and is never pushed over.
    """
    tree = ws.tree.tree_of(commit)
    ledger = PushLedger(ctx.state_dir)
    for attempt in range(PUSH_ATTEMPTS):
        remote_sha = ws.operator.fetch_branch(branch)
        if _reusable(ws, remote_sha, tree):
            assert remote_sha is not None  # noqa: S101 - narrowed by _reusable
            log.debug(
                "branch already holds this change on this base: no push",
                extra={"branch": branch, "sha": remote_sha},
            )
            ledger.record(key, branch, remote_sha)
            return remote_sha, False
        ours = ledger.last_pushed(key, branch)
        log.debug(
            "pushing",
            extra={
                "branch": branch,
                "remote_sha": remote_sha,
                "lease": ours,
                "via": ctx.profile.profile.defaults.commit_via,
                "attempt": attempt + 1,
            },
        )
        if (
            remote_sha is not None
            and remote_sha != ours
            and not _agentds_own(ctx, ws, remote_sha, key)
        ):
            raise EditedByPersonError(branch, remote_sha)
        if ctx.profile.profile.defaults.commit_via == "api":
            try:
                signed = _commit_via_api(ws, ctx, repo, branch, protected, commit, remote_sha)
            except GitHubHTTPError as exc:
                if exc.status == 422 and attempt < PUSH_ATTEMPTS - 1:  # the ref raced us
                    continue
                raise
            _audit_push(ctx, ws, branch, signed, "ok")
            ledger.record(key, branch, signed)
            return signed, True
        try:
            ws.tree.push_branch(branch, remote_sha, ctx.policy, protected=protected, source=commit)
        except PushRefusedError:
            _audit_push(ctx, ws, branch, commit, "refused")
            raise
        except PushRejectedError:
            _audit_push(ctx, ws, branch, commit, "rejected")
            if attempt == PUSH_ATTEMPTS - 1:
                raise
            log.info("push lost a race; looking again", extra={"branch": branch})
            continue
        _audit_push(ctx, ws, branch, commit, "ok")
        ledger.record(key, branch, commit)
        return commit, True
    raise AssertionError("unreachable")  # pragma: no cover


def _commit_via_api(
    ws: Workspace,
    ctx: RunContext,
    repo: str,
    branch: str,
    protected: Sequence[str],
    commit: str,
    remote_sha: str | None,
) -> str:
    """Recreate `commit` through GitHub's Git Data API (GitHub signs what it creates) and
    point `branch` at it; the tree GitHub builds must be exactly the one agentd checked."""
    guard_push(branch, protected, ctx.policy)
    entries: list[dict[str, Any]] = []
    for path, blob in sorted(ws.tree.changes(ws.start_sha, commit).items()):
        if not blob:
            entries.append({"path": path, "mode": "100644", "type": "blob", "sha": None})
            continue
        content = ws.tree.show_file(commit, path) or b""
        sha = ctx.api.create_blob(repo, content)
        entries.append({"path": path, "mode": "100644", "type": "blob", "sha": sha})
    base_tree = ws.tree.tree_of(ws.start_sha) or ""
    tree = ctx.api.create_tree(repo, base_tree, entries)
    if tree != ws.tree.tree_of(commit):
        raise UnitError(
            ReasonCode.VERIFICATION_FAILED,
            "GitHub built a different tree from the change agentd checked; nothing was pushed",
        )
    message = ws.tree.run("log", "-1", "--format=%B", commit)
    faults.point("before_push")
    signed = ctx.api.create_commit(repo, message, tree, [ws.start_sha])
    if remote_sha is None:
        ctx.api.create_branch_ref(repo, branch, signed)
    else:
        ctx.api.move_branch_ref(repo, branch, signed)
    faults.point("after_push")
    return signed


class EditedByPersonError(Exception):
    """agentd's branch carries commits that are not agentd's: a person is working on it."""

    def __init__(self, branch: str, sha: str) -> None:
        super().__init__(
            f"the branch {branch} was edited by a person (its head {sha[:12]} is not a commit "
            "agentd pushed); agentd neither pushes over it nor merges it"
        )
        self.sha = sha


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
    commit: str,
) -> Published:
    """Push `commit` and create or update the unit's PR (one per key).

    When the branch was edited by a person, nothing is pushed and the PR is left as it is:
    the result says so (`edited`), and the engine stops the unit at `opened_pr`.
    """
    refusals = _refusals(ctx, ws, key, commit)
    refusals.check()  # GitHub refused this very change before: reported, not pushed again
    existing = find_unit_pr(ctx.pulls, repo, branch=branch, key=key, author=ctx.login())
    log.debug(
        "unit's PR looked up",
        extra={"repo": repo, "key": key, "existing": existing.number if existing else None},
    )
    if existing is not None:
        branch = existing.head.ref  # e.g. opened under an earlier branch_template
    if existing is None and not ctx.budget.take_new_pr():
        raise BudgetExhaustedError(
            f"budget.max_new_prs ({ctx.budget.max_new_prs}) reached this run"
        )
    try:
        sha, pushed = push_change(ws, ctx, key, branch, protected, commit, repo)
    except EditedByPersonError as edited:
        if existing is None:
            ctx.budget.give_back_new_pr()
            raise UnitError(ReasonCode.POLICY_BLOCKED, str(edited)) from None
        return Published(existing, branch, edited.sha, False, False, False, edited=str(edited))
    except PushRefusedError as refused:
        if existing is None:
            ctx.budget.give_back_new_pr()
        refusals.remember(refused)
        raise
    refusals.forget()
    try:
        outcome: PullRequestOutcome = ensure_pull_request(
            ctx.pulls,
            repo,
            branch=branch,
            base=base,
            title=title,
            body=body,
            labels=ctx.profile.profile.defaults.pr_labels,
            existing=existing,
            author=ctx.login(),
        )
    except BaseException:
        if existing is None:
            ctx.budget.give_back_new_pr()
        raise
    if existing is None and not outcome.created:
        ctx.budget.give_back_new_pr()  # adopted after a race: no new PR was opened
    return Published(outcome.pull, branch, sha, pushed, outcome.created, outcome.updated)


def restamp(ctx: RunContext, repo: str, pull: PullRequest, stamp: Stamp) -> bool:
    """Put the unit's stamp into an adopted PR's body (the only edit agentd makes to it).

    False when the stamped body would exceed GitHub's limit: agentd does not shorten
    somebody else's text, so the PR stays unstamped (and unmerged by agentd).
    """
    body = replace_stamp(pull.body or "", stamp)
    if len(body) > GITHUB_BODY_LIMIT:
        return False
    if not same_visible_content(pull.body, body):
        ctx.api.update_pull(repo, pull.number, body=body)
    return True
