"""The remediation unit's lifecycle — the only copy, for every alert class.

    settled at planning? ─ yes → record
    gates: automation mode, clone
    isolated workspace (worktree of the fetched base, private home; always removed)
      plug-in proposes the change (read-only)   → report-only/dry-run stops here ("would …")
      gates: environment and platform, verification workdir
      adopt an existing PR that carries the change (verified on its head), or
      plug-in applies the change → re-check → hold → verification
      commit → publish (compare-and-set) → review gate → merge
    one final record, built from what happened

Refusals anywhere are `UnitError`s (or git/GitHub faults); `agentd.errors.result_for` maps
every failure to the unit's result, and an unexpected exception is reported as agentd's
own defect (`failed internal_error`). A rate-limit stop is not a unit's failure: it ends
promotion for the whole run and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agentd.alerts.interface import AlertPlugin, Change, Hold, Proposal, Unit
from agentd.audit import unit_key
from agentd.delivery.merge import MergeRequest, merge_if_allowed
from agentd.delivery.publish import publish, restamp
from agentd.engine.context import RunContext, Workspace
from agentd.engine.verification import verification_workdir, verify_target, why_failed
from agentd.environment import target_environment_problem
from agentd.errors import AgentdError, RateLimitedError, UnitError, result_for
from agentd.github.models import PullRequest
from agentd.log import get_logger
from agentd.redaction import redact
from agentd.report import UnitRecord
from agentd.stamp import replace_stamp
from agentd.verify import VerificationResult
from agentd.vocabulary import (
    AutomationMode,
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


def run_unit(ctx: RunContext, plugin: AlertPlugin, unit: Unit) -> UnitOutcome:
    """Take one unit through its lifecycle; never raises for the unit's own failure."""
    facts = _Facts()
    result = settle(unit.key, lambda: _lifecycle(ctx, plugin, unit, facts))
    return UnitOutcome(
        build_record(unit, facts, result),
        opened=facts.opened,
        merged=result.outcome is Outcome.MERGED,
    )


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
    with ctx.worktree(unit.repo, unit.base, unit.key) as ws:
        proposal = plugin.propose(ctx, unit, ws)
        facts.changes = list(proposal.summary)
        _mutation_gate(ctx, proposal)
        _environment_gate(ctx, unit, ws)
        adopted = _adopt_existing(ctx, plugin, unit, proposal, facts)
        if adopted is not None:
            return adopted
        change = plugin.apply(ctx, unit, proposal, ws)
        facts.changes = change.summary or facts.changes
        plugin.recheck(ctx, unit, change, ws)
        hold = plugin.hold(ctx, unit, change)
        verification = _verify(ctx, unit, ws, facts)
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


def _mutation_gate(ctx: RunContext, proposal: Proposal) -> None:
    if ctx.policy.mode.may_push:
        return
    dry = " (dry run)" if ctx.policy.dry_run else ""
    raise UnitError.skipped(
        ReasonCode.POLICY_BLOCKED,
        f"mutation mode {ctx.policy.mode.value}{dry}: would {proposal.intent}",
    )


def _environment_gate(ctx: RunContext, unit: Unit, ws: Workspace) -> None:
    if unit.target is None:
        raise UnitError(ReasonCode.POLICY_BLOCKED, "no target takes these alerts")
    problem = target_environment_problem(unit.target, ctx.allowed_env)
    if problem is not None:
        raise UnitError(problem.reason, problem.message)
    verification_workdir(unit.target, ws.path)


def _verify(ctx: RunContext, unit: Unit, ws: Workspace, facts: _Facts) -> VerificationResult:
    assert unit.target is not None  # noqa: S101 - the environment gate checked it
    verification = verify_target(ctx, unit.target, ws.path)
    facts.verification = verification
    if not verification.passed:
        raise UnitError(ReasonCode.VERIFICATION_FAILED, why_failed(verification))
    return verification


def _adopt_existing(
    ctx: RunContext, plugin: AlertPlugin, unit: Unit, proposal: Proposal, facts: _Facts
) -> UnitResult | None:
    """Adopt the first existing PR that carries exactly this change and verifies on its head."""
    if ctx.profile.profile.defaults.native_dependabot_pr_strategy != "adopt_first":
        return None
    for pull in plugin.candidates(ctx, unit, proposal):
        ctx.git_for(unit.repo).fetch_branch(pull.head.ref)
        with ctx.worktree(unit.repo, unit.base, unit.key + ":adopt", ref=pull.head.sha) as ws:
            change = plugin.adopt(ctx, unit, proposal, pull, ws)
            if isinstance(change, str):
                facts.notes.append(f"{_who(pull)} PR #{pull.number} left alone: {change}")
                continue
            facts.pr_source, facts.pull = PRSource.NATIVE_DEPENDABOT, pull
            try:
                verification = _verify(ctx, unit, ws, facts)
            except UnitError:
                raise UnitError(
                    ReasonCode.VERIFICATION_FAILED,
                    f"verification of PR #{pull.number}'s head failed: {why_failed(facts.verification or VerificationResult())}",
                ) from None
        hold = plugin.hold(ctx, unit, change)
        restamp(
            ctx, unit.repo.repo, pull, plugin.describe(ctx, unit, change, verification, hold).stamp
        )
        facts.notes.append(
            f"adopted {_who(pull)} PR #{pull.number} (verified on its head; never pushed to)"
        )
        return _deliver(ctx, plugin, unit, facts, pull, pull.head.ref, change, hold, pull.title)
    return None


def _who(pull: PullRequest) -> str:
    login = pull.user.login if pull.user is not None else "unknown"
    return "native Dependabot" if login == "dependabot[bot]" else login


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
    if not change.files or not ws.tree.changed_files():
        raise UnitError(ReasonCode.VERIFICATION_FAILED, "the change left every file as it was")
    description = plugin.describe(ctx, unit, change, verification, hold)
    ws.tree.commit_all(redact(description.commit_message), sorted(set(change.files)))
    published = publish(
        ctx,
        ws,
        repo=unit.repo.repo,
        key=unit.key,
        branch=unit.branch,
        base=unit.base,
        protected=unit.protected_branches,
        title=description.title,
        body=redact(replace_stamp(description.body, description.stamp)),
    )
    facts.pr_source, facts.pull = PRSource.AGENT_MANAGED, published.pull
    facts.opened = published.created or published.pushed
    return _deliver(
        ctx, plugin, unit, facts, published.pull, published.branch, change, hold, description.title
    )


def _deliver(
    ctx: RunContext,
    plugin: AlertPlugin,
    unit: Unit,
    facts: _Facts,
    pull: PullRequest,
    branch: str,
    change: Change,
    hold: Hold | None,
    title: str,
) -> UnitResult:
    """The review gate and the merge, for classes whose PRs may merge at all."""
    if not plugin.may_merge:
        return UnitResult.opened_pr(hold.reason if hold else None, hold.detail if hold else "")
    facts.unit_pass = UnitPass.MERGE
    merge = merge_if_allowed(
        ctx,
        MergeRequest(
            repo=unit.repo.repo,
            base=unit.base,
            number=pull.number,
            key=unit.key,
            expected_files=sorted(set(change.files)),
            verification_passed=True,
            branch=branch,
            hold=hold,
            commit_title=title,
        ),
    )
    facts.opened = facts.opened or merge.reevaluate
    return merge.result


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
    )
