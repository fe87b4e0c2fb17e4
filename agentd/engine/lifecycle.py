"""The remediation unit's lifecycle — the only copy, for every alert class.

    settled at planning? ─ yes → record
    gates: automation mode, clone
    isolated workspace (worktree of the fetched base, private home; always removed)
      plug-in proposes the change (read-only)   → report-only/dry-run stops here: "would …",
                                                  or the agentd PR already open for the unit
      gates: environment and platform, verification workdir
      plug-in applies the change → the change is captured (a tree) → re-check on it → hold
      adopt an existing PR that carries exactly that change (verified on its head), or
      verification (none here for a `verification: ci` target: the base's required checks on
      GitHub verify the pushed head) → nothing it wrote reaches the commit (tamper check)
      alerts re-read → commit of the captured tree → publish (lease on agentd's last push)
      → alerts re-read (unless read moments ago: `ALERTS_FRESH_SECONDS`) → review gate →
      merge pinned to the sha agentd pushed or verified
    one final record, built from what happened

A unit whose inputs (its alerts, the base commit) did not change since an earlier iteration
of the same run is not done again (`agentd.engine.memory`): it keeps its record, and a PR
waiting at the review gate has only the gate checked again.

Refusals anywhere are `UnitError`s (or git/GitHub faults); `agentd.errors.result_for` maps
every failure to the unit's result, and an unexpected exception is reported as agentd's
own defect (`failed internal_error`). A rate-limit stop is not a unit's failure: it ends
promotion for the whole run and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agentd.alerts.interface import AlertPlugin, Change, Hold, Proposal, Unit
from agentd.audit import unit_key
from agentd.delivery.merge import (
    MergeOutcome,
    MergeRequest,
    merge_if_allowed,
    read_base_rules_ahead,
)
from agentd.delivery.publish import publish, restamp
from agentd.delivery.pulls import find_unit_pr, from_the_repository_itself, valid_stamp
from agentd.engine.context import RunContext, Workspace
from agentd.engine.memory import Attempt, UnitInputs
from agentd.engine.verification import (
    deferred_to_github,
    failure_reason,
    sandbox_kind,
    verification_workdir,
    verified_on_github,
    verify_target,
    why_failed,
)
from agentd.environment import target_environment_problem
from agentd.errors import AgentdError, RateLimitedError, UnitError, result_for
from agentd.github.models import PullRequest
from agentd.log import get_logger
from agentd.mutation import MutationKind
from agentd.redaction import redact
from agentd.report import UnitRecord
from agentd.stamp import stamped_body
from agentd.verify import VerificationResult
from agentd.vocabulary import (
    AutomationMode,
    MutationMode,
    Outcome,
    Provenance,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)

log = get_logger("lifecycle")


@dataclass
class UnitOutcome:
    record: UnitRecord
    opened: bool = False  # a PR was created, a new commit pushed, or the head moved under us
    merged: bool = False


@dataclass
class _Facts:
    """What happened to a unit so far; its record is built from these once, at the end."""

    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verification: VerificationResult | None = None
    unit_pass: UnitPass = UnitPass.REMEDIATION
    pr_source: PRSource | None = None
    pull: PullRequest | None = None
    opened: bool = False
    created: PullRequest | None = None  # the PR as GitHub answered its creation in this pass
    start_sha: str | None = None  # the base commit, fetched before the unit starts
    gate: MergeRequest | None = None  # what the review gate was asked (PR read fresh)
    reevaluate: bool = False  # what the gate saw needs the whole unit again
    alerts_read: _AlertsRead | None = None  # the unit's alerts as re-read before publish
    handed_to_github: bool = False  # auto-merge enabled: GitHub merges the PR


# The alerts re-read before publish also stand for the re-read before the merge when the
# merge follows within this many seconds in the same pass (the push and the PR's creation
# in between): one read at most this old precedes both. Any later pass reads them again.
ALERTS_FRESH_SECONDS = 30.0


@dataclass(frozen=True)
class _AlertsRead:
    still_open: list[int]  # which of the unit's alerts GitHub reported open
    at: float  # time.monotonic() of the read

    def fresh(self) -> bool:
        return time.monotonic() - self.at <= ALERTS_FRESH_SECONDS


def run_unit(ctx: RunContext, plugin: AlertPlugin, unit: Unit) -> UnitOutcome:
    """Take one unit through its lifecycle; never raises for the unit's own failure."""
    handed = ctx.memory.handed_to_github(unit.key, frozenset(unit.alert_numbers))
    if handed is not None:
        return UnitOutcome(handed.record)
    inputs = _inputs(ctx, unit)
    earlier = ctx.memory.unchanged(unit.key, inputs) if inputs is not None else None
    if earlier is not None:
        return _again(ctx, plugin, unit, earlier)
    facts = _Facts(start_sha=inputs.base_sha if inputs is not None else None)
    log.debug(
        "unit started",
        extra={
            "remediation_key": unit.key,
            "target": unit.target_id,
            "base": unit.base,
            "alerts": unit.alert_numbers,
            "settled_at_planning": unit.settled is not None,
        },
    )
    result = settle(unit.key, lambda: _lifecycle(ctx, plugin, unit, facts))
    reason = result.reason or result.remaining_blocker
    log.debug(
        "unit finished",
        extra={
            "remediation_key": unit.key,
            "outcome": result.outcome.value,
            "reason": reason.value if reason else None,
            "pr": facts.pull.number if facts.pull else None,
            "detail": result.detail.splitlines()[0] if result.detail else "",
        },
    )
    outcome = UnitOutcome(
        build_record(unit, facts, result),
        opened=facts.opened,
        merged=result.outcome is Outcome.MERGED,
    )
    if inputs is not None:
        attempt = Attempt(inputs, outcome.record, facts.gate, facts.handed_to_github)
        _remember(ctx, unit.key, attempt, facts.reevaluate)
    return outcome


def _inputs(ctx: RunContext, unit: Unit) -> UnitInputs | None:
    """What the unit's work depends on; None for a unit that costs nothing to settle again
    (settled at planning, stopped by a repository gate, or a report-only pass)."""
    if unit.settled is not None or not ctx.policy.mode.may_push:
        return None
    if ctx.profile.automation_mode(unit.repo) is not AutomationMode.ACTIVE:
        return None
    if not ctx.git_for(unit.repo).is_repository():
        return None
    try:
        sha = ctx.base_sha(unit.repo, unit.base)
    except AgentdError:
        return None  # the lifecycle meets the same fault and reports it
    return UnitInputs(frozenset(unit.alert_numbers), sha) if sha else None


def _remember(ctx: RunContext, key: str, attempt: Attempt, reevaluate: bool) -> None:
    """A failure (perhaps transient) or a gate that saw the PR move is done again next time."""
    if reevaluate or attempt.record.outcome is Outcome.FAILED:
        ctx.memory.forget(key)
    else:
        ctx.memory.remember(key, attempt)


def _again(ctx: RunContext, plugin: AlertPlugin, unit: Unit, earlier: Attempt) -> UnitOutcome:
    """The unit ran on these very inputs earlier in this run: its record stands; a PR
    waiting at the review gate has the gate (and nothing else) checked again."""
    request = earlier.gate
    log.debug(
        "unit unchanged since an earlier pass of this run",
        extra={
            "remediation_key": unit.key,
            "base_sha": earlier.inputs.base_sha,
            "next": "re-check the review gate" if request else "keep its record",
        },
    )
    if request is None:
        return UnitOutcome(earlier.record)
    moved = False

    def gate() -> UnitResult:
        nonlocal moved
        merge = _gate(ctx, plugin, unit, request)
        moved = merge.reevaluate
        return merge.result

    result = settle(unit.key, gate)
    record = replace(earlier.record, result=result, notes=list(earlier.record.notes), later=None)
    _remember(ctx, unit.key, replace(earlier, record=record), moved)
    return UnitOutcome(record, opened=moved, merged=result.outcome is Outcome.MERGED)


def settle(key: str, step: Callable[[], UnitResult]) -> UnitResult:
    """Run one unit's work with its mutations attributed to `key`; whatever stops it becomes
    its result (`result_for`). A rate-limit stop is the run's, not the unit's: it propagates."""
    with unit_key(key):
        try:
            return step()
        except RateLimitedError:
            raise
        except Exception as exc:
            if not isinstance(exc, AgentdError):
                log.exception("internal error in a unit", extra={"remediation_key": key})
            return result_for(exc)


def _lifecycle(ctx: RunContext, plugin: AlertPlugin, unit: Unit, facts: _Facts) -> UnitResult:
    if unit.settled is not None:
        return unit.settled
    _repository_gates(ctx, unit)
    with ctx.worktree(unit.repo, unit.base, unit.key, ref=facts.start_sha) as ws:
        log.debug("workspace ready", extra={"remediation_key": unit.key, "base_sha": ws.start_sha})
        proposal = plugin.propose(ctx, unit, ws)
        facts.changes = list(proposal.summary)
        log.debug("proposed", extra={"remediation_key": unit.key, "intent": proposal.intent})
        if not ctx.policy.mode.may_push:
            return _what_would_happen(ctx, plugin, unit, proposal, ws, facts)
        _environment_gate(ctx, unit, ws)
        change = plugin.apply(ctx, unit, proposal, ws)
        facts.changes = change.summary or facts.changes
        _capture(ws, change)
        plugin.recheck(ctx, unit, change, ws)
        hold = plugin.hold(ctx, unit, change)
        log.debug(
            "change made and re-checked",
            extra={
                "remediation_key": unit.key,
                "files": change.files,
                "tree": ws.captured,
                "hold": hold.detail if hold else None,
            },
        )
        if plugin.may_merge and hold is None and ctx.policy.allows(MutationKind.MERGE):
            read_base_rules_ahead(ctx, unit.repo.repo, unit.base)  # while verification runs
        adopted = _adopt_existing(ctx, plugin, unit, proposal, ws, change, hold, facts)
        if adopted is not None:
            return adopted
        verification = _verify(ctx, unit, ws, facts)
        _untampered(ws)
        return _commit_and_deliver(ctx, plugin, unit, facts, ws, change, verification, hold)


def _repository_gates(ctx: RunContext, unit: Unit) -> None:
    mode = ctx.profile.automation_mode(unit.repo)
    if mode is not AutomationMode.ACTIVE:
        why = unit.repo.manual_only_reason or unit.repo.ignored_reason or ""
        raise UnitError.skipped(
            ReasonCode.POLICY_BLOCKED, f"repository is {mode.value}: {why}".rstrip(": ")
        )
    if not ctx.git_for(unit.repo).is_repository():
        raise UnitError.skipped(ReasonCode.CLONE_MISSING, f"no git clone at {unit.repo.local_path}")


def _what_would_happen(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    proposal: Proposal,
    ws: Workspace,
    facts: _Facts,
) -> UnitResult:
    """The mutation gate of report_only and --dry-run runs: what this run would change,
    given the PRs that exist now. A unit whose agentd PR is already open reports that PR
    (`opened_pr`), never a PR still to open; a unit without one is `skipped`."""
    mode = ctx.policy.describe()
    pull = find_unit_pr(
        ctx.pulls, unit.repo.repo, branch=unit.branch, key=unit.key, author=ctx.login()
    )
    if pull is None:
        log.debug("no PR yet: stops at the mutation gate", extra={"remediation_key": unit.key})
        raise UnitError.skipped(
            ReasonCode.POLICY_BLOCKED,
            f"{mode}: would {proposal.intent}{_native_alternative(ctx, plugin, unit, proposal)}",
        )
    facts.pr_source, facts.pull = PRSource.AGENT_MANAGED, pull
    stale = _why_not_current(unit, ws, pull)
    log.debug(
        "agentd PR already open",
        extra={"remediation_key": unit.key, "pr": pull.number, "stale": stale or None},
    )
    if stale:
        plan = f"would update it ({stale}): rebuild it on the current {unit.base}, verify, push"
    else:
        plan = _next_step(ctx, plugin)
    state = f"but {stale}" if stale else f"and up to date with {unit.base}"
    return UnitResult.opened_pr(
        ReasonCode.POLICY_BLOCKED, f"{mode}: PR #{pull.number} already open {state}; {plan}"
    )


def _why_not_current(unit: Unit, ws: Workspace, pull: PullRequest) -> str:
    """Why an open agentd PR does not carry this unit's change on the current base ("" if it
    does: one commit on the base agentd just fetched, for the same alerts)."""
    head = ws.operator.fetch_branch(pull.head.ref)  # a read: fetched into the operator's clone
    if head is None or ws.operator.parent_of(head) != ws.start_sha:
        return f"it is not on the current {unit.base}"
    stamp = valid_stamp(pull)
    if stamp is None:
        return "it carries no valid agentd stamp"
    if unit.advisory_ids and sorted(stamp.advisory_ids or []) != sorted(unit.advisory_ids):
        return "the alerts it fixes changed"
    if unit.alert_number is not None and stamp.alert_number != unit.alert_number:
        return "the alert it fixes changed"
    return ""


def _next_step(ctx: RunContext, plugin: AlertPlugin) -> str:
    """What a run in the requested mode does with an up-to-date PR."""
    if ctx.policy.dry_run and ctx.policy.requested is MutationMode.AUTO_MERGE and plugin.may_merge:
        return "would re-check its gate (reviews, checks) and merge it when the gate passes"
    if ctx.policy.dry_run and ctx.policy.requested is not MutationMode.REPORT_ONLY:
        return "would re-check it; a person merges it"
    return "nothing to change; a person reviews and merges it"


def _native_alternative(
    ctx: RunContext, plugin: AlertPlugin, unit: Unit, proposal: Proposal
) -> str:
    if ctx.profile.profile.defaults.native_dependabot_pr_strategy != "adopt_first":
        return ""
    numbers = [f"#{p.number}" for p in plugin.candidates(ctx, unit, proposal)]
    if not numbers:
        return ""
    return (
        f" (or adopt native Dependabot PR {', '.join(numbers)} if it carries exactly this change)"
    )


def _environment_gate(ctx: RunContext, unit: Unit, ws: Workspace) -> None:
    if unit.target is None:
        raise UnitError(ReasonCode.POLICY_BLOCKED, "no target takes these alerts")
    problem = target_environment_problem(unit.target, ctx.allowed_env)
    if problem is not None:
        raise UnitError(problem.reason, problem.message)
    if not verified_on_github(ctx, unit.target):
        verification_workdir(unit.target, ws.path)
    sandbox_kind(ctx.profile)  # no repository code (updater or verification) runs unsandboxed


def _capture(ws: Workspace, change: Change) -> None:
    """Freeze the change before anything else runs: the re-check reads it, the commit holds it."""
    if not change.files or ws.capture(change.files) == ws.base_tree():
        raise UnitError(ReasonCode.VERIFICATION_FAILED, "the change left every file as it was")


def _untampered(ws: Workspace) -> None:
    """Verification may not alter what was re-checked: nothing it wrote is ever committed."""
    assert ws.captured is not None  # noqa: S101 - captured before verification
    altered = ws.tree.differs_from(ws.captured)
    if altered:
        raise UnitError(
            ReasonCode.VERIFICATION_FAILED,
            f"verification changed {', '.join(altered[:10])} after the change was checked; "
            "nothing was committed (a test suite must not rewrite tracked files)",
        )


def _verify(ctx: RunContext, unit: Unit, ws: Workspace, facts: _Facts) -> VerificationResult:
    assert unit.target is not None  # noqa: S101 - the environment gate checked it
    if verified_on_github(ctx, unit.target):
        facts.verification = deferred_to_github()
        return facts.verification
    verification = verify_target(ctx, unit.target, ws.path)
    facts.verification = verification
    log.debug(
        "verified",
        extra={
            "remediation_key": unit.key,
            "passed": verification.passed,
            "provenance": verification.provenance.value,
        },
    )
    if not verification.passed:
        raise UnitError(failure_reason(verification), why_failed(verification))
    return verification


def _adopt_existing(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    proposal: Proposal,
    ws: Workspace,
    change: Change,
    hold: Hold | None,
    facts: _Facts,
) -> UnitResult | None:
    """Adopt an existing PR that carries exactly the change agentd built, verified on its head."""
    if ctx.profile.profile.defaults.native_dependabot_pr_strategy != "adopt_first":
        return None
    assert ws.captured is not None  # noqa: S101 - captured before adoption is considered
    ours = ws.tree.changes(ws.start_sha, ws.captured)
    for pull in plugin.candidates(ctx, unit, proposal):
        why = _adoption_problem(ws, pull, ours, change)
        log.debug(
            "adoption considered",
            extra={"remediation_key": unit.key, "pr": pull.number, "refused": why},
        )
        if why is not None:
            facts.notes.append(f"{_who(pull)} PR #{pull.number} left alone: {why}")
            continue
        facts.pr_source, facts.pull = PRSource.NATIVE_DEPENDABOT, pull
        verification = _verify_head(ctx, unit, pull, facts)
        stamp = plugin.describe(ctx, unit, change, verification, hold).stamp
        if not restamp(ctx, unit.repo.repo, pull, stamp):
            return UnitResult.opened_pr(
                ReasonCode.POLICY_BLOCKED,
                f"PR #{pull.number}'s body is too long to carry agentd's stamp within GitHub's "
                "limit; it is verified, and a person merges it",
            )
        facts.notes.append(
            f"adopted {_who(pull)} PR #{pull.number} (its change is exactly agentd's, verified "
            "on its head; never pushed to)"
        )
        author = pull.user.login if pull.user else ""
        return _deliver(
            ctx, plugin, unit, facts, _Merge(pull, pull.head.ref, pull.head.sha, author, pull.title),
            change, hold,
        )  # fmt: skip
    return None


def _verify_head(
    ctx: RunContext, unit: Unit, pull: PullRequest, facts: _Facts
) -> VerificationResult:
    """Verify an adoptable PR's own head (on GitHub, for a `verification: ci` target)."""
    assert unit.target is not None  # noqa: S101 - the environment gate checked it
    if verified_on_github(ctx, unit.target):
        facts.verification = deferred_to_github()
        return facts.verification
    with ctx.worktree(unit.repo, unit.base, unit.key + ":adopt", ref=pull.head.sha) as head:
        try:
            return _verify(ctx, unit, head, facts)
        except UnitError as failed:
            raise UnitError(
                ReasonCode.VERIFICATION_FAILED,
                f"verification of PR #{pull.number}'s head failed: {failed.message}",
            ) from None


def _adoption_problem(
    ws: Workspace, pull: PullRequest, ours: dict[str, str], change: Change
) -> str | None:
    """Why `pull` is not exactly agentd's change by its own author from this repository."""
    if not from_the_repository_itself(pull):
        return "it comes from another repository"
    sha = ws.operator.fetch_branch(pull.head.ref)
    if sha != pull.head.sha:
        return "its head moved while agentd looked at it"
    fork_point = ws.operator.merge_base(sha, ws.start_sha)
    if fork_point is None:
        return "it shares no history with the base branch"
    login = pull.user.login if pull.user else ""
    others = sorted({name for name, _ in ws.operator.authors(fork_point, sha) if name != login})
    if others:
        return f"it carries commits by {', '.join(others)}"
    theirs = ws.operator.changes(fork_point, sha)
    if theirs != ours:
        differing = sorted(p for p in set(theirs) | set(ours) if theirs.get(p) != ours.get(p))
        return (
            f"its change differs from agentd's in {', '.join(differing[:5])} "
            f"(agentd's: {'; '.join(change.summary) or ', '.join(sorted(ours))})"
        )
    return None


def _who(pull: PullRequest) -> str:
    login = pull.user.login if pull.user is not None else "unknown"
    return "native Dependabot" if login == "dependabot[bot]" else login


def _still_open(ctx: RunContext, plugin: AlertPlugin, unit: Unit) -> list[int]:
    """Which of the unit's alerts are still open, read now."""
    open_now = plugin.open_alerts(ctx, unit.repo)
    return [n for n in unit.alert_numbers if n in open_now]


def _commit_and_deliver(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    facts: _Facts,
    ws: Workspace,
    change: Change,
    verification: VerificationResult,
    hold: Hold | None,
) -> UnitResult:
    assert ws.captured is not None  # noqa: S101 - captured before verification
    if unit.alert_numbers:
        facts.alerts_read = _AlertsRead(_still_open(ctx, plugin, unit), time.monotonic())
    if facts.alerts_read is not None and not facts.alerts_read.still_open:
        raise UnitError.skipped(
            ReasonCode.SUPERSEDED,
            "every alert of this unit was fixed or dismissed while agentd worked on it",
        )
    description = plugin.describe(ctx, unit, change, verification, hold)
    message = redact(description.commit_message)
    defaults = ctx.profile.profile.defaults
    commit = ws.tree.commit_tree(
        ws.captured, ws.start_sha, message, ctx.commit_identity(), defaults.signing_key
    )
    published = publish(
        ctx,
        ws,
        repo=unit.repo.repo,
        key=unit.key,
        branch=unit.branch,
        base=unit.base,
        protected=unit.protected_branches,
        title=description.title,
        body=stamped_body(redact(description.body), description.stamp),
        commit=commit,
    )
    facts.pr_source, facts.pull = PRSource.AGENT_MANAGED, published.pull
    log.debug(
        "published",
        extra={
            "remediation_key": unit.key,
            "pr": published.pull.number,
            "pr_created": published.created,
            "pushed": published.pushed,
            "updated": published.updated,
            "edited_by_person": bool(published.edited),
        },
    )
    if published.edited:
        return UnitResult.opened_pr(ReasonCode.POLICY_BLOCKED, published.edited)
    facts.opened = published.created or published.pushed
    if published.created:
        facts.created = published.pull
    target = _Merge(
        published.pull,
        published.branch,
        published.head_sha,
        ctx.login(),
        description.title,
        built_files=tuple(sorted(ws.tree.changes(ws.start_sha, commit))),
    )
    return _deliver(ctx, plugin, unit, facts, target, change, hold)


@dataclass(frozen=True)
class _Merge:
    """The PR to merge, pinned to the head agentd pushed or verified."""

    pull: PullRequest
    branch: str
    head_sha: str
    author: str
    title: str
    built_files: tuple[str, ...] | None = None  # what agentd's own commit changes


def _deliver(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    facts: _Facts,
    target: _Merge,
    change: Change,
    hold: Hold | None,
) -> UnitResult:
    """The review gate and the merge, for classes whose PRs may merge at all."""
    if not plugin.may_merge:
        return UnitResult.opened_pr(hold.reason if hold else None, hold.detail if hold else "")
    facts.unit_pass = UnitPass.MERGE
    request = MergeRequest(
        repo=unit.repo.repo,
        base=unit.base,
        number=target.pull.number,
        key=unit.key,
        expected_files=sorted(set(change.files)),
        verification_passed=True,
        branch=target.branch,
        head_sha=target.head_sha,
        author=target.author,
        hold=hold,
        commit_title=target.title,
        built_files=target.built_files,
        target_id=unit.target_id,
        verified_on_github=unit.target is not None and verified_on_github(ctx, unit.target),
    )
    merge = _gate(ctx, plugin, unit, request, facts.created, facts.alerts_read)
    facts.gate = request  # what a later pass re-checks when nothing else changed
    facts.handed_to_github = merge.handed_to_github  # …unless GitHub merges it
    facts.reevaluate = merge.reevaluate
    facts.opened = facts.opened or merge.reevaluate
    return merge.result


def _gate(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    request: MergeRequest,
    created: PullRequest | None = None,
    alerts_read: _AlertsRead | None = None,
) -> MergeOutcome:
    """The alerts re-read (or read moments ago in this pass), then the review gate and the
    merge pinned to `request.head_sha`."""
    if request.hold is None and ctx.policy.allows(MutationKind.MERGE):
        if alerts_read is not None and alerts_read.fresh():
            still = alerts_read.still_open
        else:
            still = _still_open(ctx, plugin, unit)
        if set(still) != set(unit.alert_numbers):
            gone = sorted(set(unit.alert_numbers) - set(still))
            # the next iteration plans again with the alerts as they are
            return MergeOutcome(
                UnitResult.opened_pr(
                    detail=f"alerts {', '.join(f'#{n}' for n in gone)} were fixed or dismissed "
                    "meanwhile; not merged, re-evaluated with the current alerts"
                ),
                reevaluate=True,
            )
    return merge_if_allowed(ctx, request, created)


def build_record(unit: Unit, facts: _Facts, result: UnitResult) -> UnitRecord:
    """The unit's one record, from what happened."""
    verification = facts.verification
    return UnitRecord(
        repository=unit.repo.repo,
        base=unit.base,
        target_id=unit.target_id,
        remediation_key=unit.key,
        alert_class=unit.alert_class,
        result=result,
        unit_pass=facts.unit_pass,
        pr_source=facts.pr_source,
        pr_url=facts.pull.html_url if facts.pull else None,
        pr_number=facts.pull.number if facts.pull else None,
        rule_id=unit.rule_id,
        alert_number=unit.alert_number,
        alert_numbers=sorted(unit.alert_numbers),
        triage_state=unit.triage_state,
        advisory_ids=sorted(unit.advisory_ids),
        changes=list(facts.changes),
        platform_constraints=list(unit.target.platform_constraints) if unit.target else [],
        manual_follow_up=list(unit.manual_follow_up),
        verification_provenance=verification.provenance if verification else Provenance.NOT_RUN,
        verification=verification.to_json() if verification else [],
        notes=[*unit.notes, *facts.notes],
        alert_states=list(unit.alert_states),
    )
