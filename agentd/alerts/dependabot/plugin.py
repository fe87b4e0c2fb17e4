"""The Dependabot plug-in (SPEC §7): one unit per repository + base + target.

Plans the version choices per vulnerable package, adopts a qualifying native Dependabot PR
or drives the ecosystem's updater in the unit's workspace, proves that no vulnerable
version survives, and says when the ecosystem rules hold a merge for a person. The engine
does everything else (gates, verification, commit, publish, gate, merge, record).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentd import __version__, ecosystems
from agentd.alerts.dependabot import churn, native
from agentd.alerts.dependabot.body import render_body
from agentd.alerts.dependabot.plan import (
    UnitPlan,
    alert_states,
    group_by_target,
    open_states,
    plan_unit,
    survivors,
    unexpected,
)
from agentd.alerts.interface import (
    AlertPlugin,
    Change,
    Description,
    Hold,
    Orphan,
    Proposal,
    Unit,
    new_unit,
    pr_title,
)
from agentd.ecosystems import PackageBump, UnfixedBump, UpdateContext, UpdateResult
from agentd.engine.context import RunContext, Workspace
from agentd.engine.verification import sandbox_hidden, tool_caches
from agentd.errors import PathEscapeError, UnitError
from agentd.github.models import DependabotAlert, PullRequest
from agentd.inventory import ClassInventory
from agentd.paths import relative_path
from agentd.profile import Repository
from agentd.redaction import redact
from agentd.report import utc_now
from agentd.stamp import Stamp
from agentd.verify import Sandbox, VerificationResult, scrubbed_env
from agentd.vocabulary import AlertClass, Outcome, ReasonCode, UnitResult

_PROBLEM_ORDER = (
    ReasonCode.NO_PATCH_AVAILABLE,
    ReasonCode.VERIFICATION_FAILED,
    ReasonCode.POLICY_BLOCKED,
    ReasonCode.UNSUPPORTED_ECOSYSTEM,
    ReasonCode.DEPENDENCY_REMOVED,
    ReasonCode.SUPERSEDED,
)
_BLOCKING = {
    ReasonCode.NO_PATCH_AVAILABLE,
    ReasonCode.VERIFICATION_FAILED,
    ReasonCode.POLICY_BLOCKED,
}
_SKIPPING = {ReasonCode.DEPENDENCY_REMOVED, ReasonCode.UNSUPPORTED_ECOSYSTEM, ReasonCode.SUPERSEDED}
_ORPHANED = {
    ReasonCode.SUPERSEDED: "the alerts it addressed are no longer open (fixed elsewhere or dismissed)",
    ReasonCode.ADVISORY_WITHDRAWN: "the advisories it addressed were withdrawn",
    ReasonCode.DEPENDENCY_REMOVED: "the vulnerable dependency is no longer in the repository",
}


@dataclass
class _Applied:
    plan: UnitPlan
    update: UpdateResult | None = None  # None: an adopted PR carries the change


class DependabotPlugin(AlertPlugin):
    alert_class = AlertClass.DEPENDABOT
    disabled_reason = ReasonCode.UNSUPPORTED_ALERT_CLASS

    def plan(
        self, ctx: RunContext, repo: Repository, alerts: ClassInventory, base: str, default: str
    ) -> list[Unit]:
        by_target, unmapped = group_by_target(list(alerts.alerts), repo.targets)
        units = [
            new_unit(
                ctx, self.alert_class, repo, base, None, default_branch=default,
                key_suffix=f":unmapped:{u.manifest_path}",
                alert_numbers=[a.number for a in u.alerts], advisory_ids=_ghsa_ids(u.alerts),
                settled=UnitResult(
                    outcome=Outcome.BLOCKED if u.manifest_path == "(unsafe path)" else Outcome.SKIPPED,
                    reason=u.reason, detail=u.detail,
                ),
            )
            for u in unmapped
        ]  # fmt: skip
        for target in repo.targets:
            target_alerts = by_target.get(target.target_id)
            if target_alerts:
                units.append(
                    new_unit(
                        ctx, self.alert_class, repo, base, target, default_branch=default,
                        alert_numbers=[a.number for a in target_alerts],
                        advisory_ids=_ghsa_ids(target_alerts), payload=target_alerts,
                    )
                )  # fmt: skip
        return units

    def propose(self, ctx: RunContext, unit: Unit, ws: Workspace) -> Proposal:
        assert unit.target is not None  # noqa: S101 - units without a target are settled
        context = _update_context(ctx, unit, ws)
        plan = plan_unit(unit.target, unit.payload, lambda path: _read(context, path))
        unit.advisory_ids = plan.advisory_ids or unit.advisory_ids
        if not plan.fixable:
            raise _nothing_delivered(unit, plan, _problem(plan))
        return Proposal(
            intent=f"open a PR: {'; '.join(plan.summary())}", summary=plan.summary(), payload=plan
        )

    def candidates(self, ctx: RunContext, unit: Unit, proposal: Proposal) -> list[PullRequest]:
        assert unit.target is not None  # noqa: S101
        repo = unit.repo.repo
        found = native.candidates(
            [p for p in ctx.pulls.of(repo) if p.base.ref == unit.base],
            proposal.payload,
            ctx.profile.profile.defaults.native_dependabot_head_branch_prefix,
            unit.target.path,
            lambda number: {f.filename for f in ctx.api.pull_files(repo, number)},
        )
        unit.notes += found.notes
        return found.pulls

    def apply(self, ctx: RunContext, unit: Unit, proposal: Proposal, ws: Workspace) -> Change:
        plan: UnitPlan = proposal.payload
        update = apply_largest_subset(ctx, unit, plan, _update_context(ctx, unit, ws, plan), ws)
        return Change(
            files=sorted(set(update.changed_files)),
            summary=update.notes + [c for c in plan.summary() if "→" not in c],
            manifest_files=list(update.manifest_files),
            payload=_Applied(plan, update),
        )

    def recheck(self, ctx: RunContext, unit: Unit, change: Change, ws: Workspace) -> None:
        """No vulnerable version survives that the change claims to fix, and nothing changed
        that no fix requires (churn); record, per alert, whether the change fixes it or why
        it stays open."""
        applied: _Applied = change.payload
        found = survivors(applied.plan, ws.read)
        claimed = unexpected(applied.plan, found)
        if claimed:
            raise UnitError(
                ReasonCode.VERIFICATION_FAILED,
                "vulnerable versions survive the update: "
                + "; ".join(s.describe() for s in claimed),
            )
        base = ws.start_sha
        drift = churn.of_update(
            applied.plan,
            applied.update,
            change.files,
            lambda p: ws.tree.show_file(base, p),
            ws.read,
        )
        if drift is not None:
            unit.alert_states = open_states(applied.plan, ReasonCode.VERIFICATION_FAILED, drift)
            raise UnitError(ReasonCode.VERIFICATION_FAILED, drift)
        unit.alert_states = alert_states(applied.plan, found)

    def hold(self, ctx: RunContext, unit: Unit, change: Change) -> Hold | None:
        """Whether the ecosystem rules let this change merge unattended, hold it, or refuse it."""
        applied: _Applied = change.payload
        assert applied.plan.updater is not None  # noqa: S101
        name = applied.plan.updater.name
        rules = ctx.profile.profile.defaults.auto_merge
        rule = rules.ecosystem_rules.get(name)  # type: ignore[call-overload]
        if change.manifest_files:
            files = ", ".join(change.manifest_files)
            if rule is not None and rule.forbid_manifest_changes:
                raise UnitError(
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"the fix changes manifest {files}, which the {name} rule forbids",
                )
            return Hold(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"the fix changes manifest {files}; a person reviews it",
            )
        if rule is None:
            if rules.unlisted_ecosystem_outcome == "blocked":
                raise UnitError(ReasonCode.POLICY_BLOCKED, f"no auto-merge rule for {name}")
            return Hold(
                ReasonCode.POLICY_BLOCKED, f"no auto-merge rule for {name}; a person merges"
            )
        if not rule.allow_lockfile_only:
            return Hold(ReasonCode.POLICY_BLOCKED, f"{name} rule does not allow unattended merges")
        return None

    def describe(
        self,
        ctx: RunContext,
        unit: Unit,
        change: Change,
        verification: VerificationResult,
        hold: Hold | None,
    ) -> Description:
        applied: _Applied = change.payload
        assert unit.target is not None  # noqa: S101
        title = pr_title(ctx.profile.profile.defaults.pr_title_template, unit)
        stamp = _stamp(unit, applied.plan)
        return Description(
            title=title,
            body=render_body(
                ctx,
                unit,
                applied.plan,
                verification,
                hold,
                applied.update.notes if applied.update else None,
            ),
            commit_message=_commit_message(unit, applied.plan),
            stamp=stamp,
        )

    def open_alerts(self, ctx: RunContext, repo: Repository) -> set[int]:
        return {a.number for a in ctx.api.dependabot_alerts(repo.repo)}

    def orphaned(self, ctx: RunContext, repo: Repository, stamp: Stamp) -> Orphan:
        reason = _why_orphaned(ctx, repo, stamp)
        return Orphan(reason, _ORPHANED[reason])


# --- planning helpers -------------------------------------------------------------------------


def _ghsa_ids(alerts: list[DependabotAlert]) -> list[str]:
    return sorted({a.security_advisory.ghsa_id for a in alerts})


def _update_context(
    ctx: RunContext, unit: Unit, ws: Workspace, plan: UnitPlan | None = None
) -> UpdateContext:
    assert unit.target is not None  # noqa: S101
    settings = ctx.profile.profile.verification
    rule = None
    if plan is not None and plan.ecosystem is not None:
        rules = ctx.profile.profile.defaults.auto_merge.ecosystem_rules
        rule = rules.get(plan.ecosystem.name)  # type: ignore[call-overload]
    return UpdateContext(
        manifest_changes=not (rule is not None and rule.forbid_manifest_changes),
        worktree=ws.path,
        target_path=unit.target.path,
        env=scrubbed_env(ws.home, ctx.allowed_env.values),
        home=ws.home,
        timeout_seconds=float(
            unit.target.verification_timeout_seconds or settings.default_timeout_seconds
        ),
        # the verification sandbox, with the network shared: updaters need their registries
        sandbox=Sandbox(
            settings.sandbox,
            writable=(ws.path, ws.home, *tool_caches(ctx)),
            hidden=sandbox_hidden(ctx),
            network=True,
        ),
    )


def _read(context: UpdateContext, path: str) -> bytes | None:
    try:
        file = context.file(path)
        return file.read_bytes() if file.is_file() else None
    except (PathEscapeError, OSError):
        return None


def _problem(plan: UnitPlan) -> UnitError:
    problems = [p for p in plan.packages if p.problem is not None]
    worst = min(
        problems,
        key=lambda p: _PROBLEM_ORDER.index(p.problem) if p.problem in _PROBLEM_ORDER else 99,
    )
    assert worst.problem is not None  # noqa: S101
    detail = "; ".join(f"{p.display_name}: {p.detail}" for p in problems)
    if worst.problem in _BLOCKING:
        return UnitError(worst.problem, detail)
    return UnitError.skipped(worst.problem, detail)


def apply_largest_subset(
    ctx: RunContext, unit: Unit, plan: UnitPlan, context: UpdateContext, ws: Workspace
) -> UpdateResult:
    """The updater's change for every bump it can reach. A refusal of the whole batch is
    narrowed down: each bump alone, then the ones that worked together, so one package the
    updater cannot move never throws away the others' fixes."""
    assert plan.updater is not None  # noqa: S101 - fixable packages always have an updater
    bumps = plan.bumps()
    known: dict[tuple[str, str, str], UnfixedBump] = ctx.memory.notes(unit.key)
    if bumps and all(_copy(b) in known for b in bumps):
        # Earlier in this run the updater could not move exactly these copies; nothing
        # they depend on changed since, so it is not asked again.
        plan.leave([replace(known[_copy(b)], bump=b) for b in bumps])
        raise _nothing_delivered(unit, plan, _problem_of_unfixed(plan))
    update = plan.updater.apply(context, bumps)
    if _refused(update, context) and len(bumps) > 1:
        _reset(ws, update.changed_files)
        update = _narrowed(plan, context, ws, bumps, update)
    if update.blocked is not None:
        raise _updater_refusal(update)
    plan.leave(update.unfixed)
    known.update({_copy(u.bump): u for u in update.unfixed})
    if not update.changed_files or not plan.delivered():
        raise _nothing_delivered(unit, plan, _problem_of_unfixed(plan))
    return update


def _nothing_delivered(unit: Unit, plan: UnitPlan, problem: UnitError) -> UnitError:
    """The unit's error when it delivers nothing; every alert stays open with its reason."""
    unit.alert_states = open_states(plan, problem.reason, str(problem))
    return problem


def _copy(bump: PackageBump) -> tuple[str, str, str]:
    return (bump.manifest_path, bump.name, bump.current_version)


def _narrowed(
    plan: UnitPlan,
    context: UpdateContext,
    ws: Workspace,
    bumps: list[PackageBump],
    refusal: UpdateResult,
) -> UpdateResult:
    assert plan.updater is not None  # noqa: S101
    working: list[PackageBump] = []
    unfixed: list[UnfixedBump] = []
    for bump in bumps:
        alone = plan.updater.apply(context, [bump])
        _reset(ws, alone.changed_files)
        if alone.blocked is not None:
            unfixed.append(UnfixedBump(bump, alone.blocked, _one_line(alone.blocked_detail)))
        elif _refused(alone, context):
            why = f"the fix changes {', '.join(alone.manifest_files)}, which the rules forbid"
            unfixed.append(UnfixedBump(bump, ReasonCode.MANIFEST_CHANGE_REQUIRED, why))
        elif alone.unfixed:
            unfixed += alone.unfixed
        else:
            working.append(bump)
    if not working:
        return refusal if refusal.blocked is not None else UpdateResult(unfixed=unfixed)
    together = plan.updater.apply(context, working)
    if _refused(together, context):
        _reset(ws, together.changed_files)
        return refusal if refusal.blocked is not None else UpdateResult(unfixed=unfixed)
    together.unfixed = [*unfixed, *together.unfixed]
    return together


def _refused(update: UpdateResult, context: UpdateContext) -> bool:
    """Refused outright, or a manifest change where the rules forbid one."""
    return update.blocked is not None or bool(
        update.manifest_files and not context.manifest_changes
    )


def _reset(ws: Workspace, files: list[str]) -> None:
    """Put files an update trial changed back to the base commit's content."""
    for path in files:
        original = ws.tree.show_file(ws.start_sha, path)
        target = ws.path / path
        if original is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(original)


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:300]


def _problem_of_unfixed(plan: UnitPlan) -> UnitError:
    """Nothing could be delivered: the unit's reason is the most telling of the packages'."""
    rows = plan.not_fixed()
    reasons = [reason for _, _, reason, _ in rows]
    worst = min(
        reasons,
        key=lambda r: _PROBLEM_ORDER.index(r) if r in _PROBLEM_ORDER else -1,
        default=ReasonCode.VERIFICATION_FAILED,
    )
    detail = "; ".join(f"{name} ({path}): {reason.value} — {d}" for name, path, reason, d in rows)
    if worst in _SKIPPING:
        return UnitError.skipped(worst, detail or "the updater changed nothing")
    return UnitError(worst, detail or "the updater changed nothing")


def _updater_refusal(update: UpdateResult) -> UnitError:
    assert update.blocked is not None  # noqa: S101
    detail = update.blocked_detail + (f"\n{update.tool_output}" if update.tool_output else "")
    if update.blocked in _SKIPPING:
        return UnitError.skipped(update.blocked, detail)
    return UnitError(update.blocked, detail)


# --- description --------------------------------------------------------------------------------


def _stamp(unit: Unit, plan: UnitPlan) -> Stamp:
    assert unit.target is not None  # noqa: S101
    return Stamp(
        remediation_key=unit.key,
        alert_class=AlertClass.DEPENDABOT,
        target_id=unit.target.target_id,
        base_branch=unit.base,
        advisory_ids=plan.advisory_ids,
        agent_version=__version__,
        last_pass_at=utc_now(),
    )


def _commit_message(unit: Unit, plan: UnitPlan) -> str:
    bumps = plan.delivered()
    head = (
        f"chore(deps): bump {bumps[0].name} {bumps[0].current_version} → {bumps[0].target_version}"
        if len(bumps) == 1
        else f"chore(deps): bump {len(bumps)} vulnerable dependencies in {unit.target_id}"
    )
    lines = [head, ""] + [
        f"- {b.name} {b.current_version} → {b.target_version} ({b.manifest_path})" for b in bumps
    ]
    lines += ["", f"Fixes: {', '.join(plan.advisory_ids)}", f"Remediation-Key: {unit.key}"]
    return redact("\n".join(lines)) + "\n"


# --- reconcile ----------------------------------------------------------------------------------


def _why_orphaned(ctx: RunContext, repo: Repository, stamp: Stamp) -> ReasonCode:
    wanted = set(stamp.advisory_ids or [])
    states = "auto_dismissed,dismissed,fixed,open"
    alerts: list[DependabotAlert] = [
        a for a in ctx.api.dependabot_alerts(repo.repo, state=states)
        if a.security_advisory.ghsa_id in wanted
    ]  # fmt: skip
    # GitHub removes the alerts of a withdrawn advisory (a GET answers 410 Gone);
    # `auto_dismissed` is auto-triage, a dismissal, not a withdrawal.
    if wanted and all(a.security_advisory.withdrawn_at for a in alerts):
        return ReasonCode.ADVISORY_WITHDRAWN
    fixed = [a for a in alerts if a.state == "fixed"]
    if fixed:
        base = stamp.base_branch
        ctx.refreshed(repo, base)  # the clone may predate the commit that removed it
        if all(not _still_present(ctx, repo, base, a) for a in fixed):
            return ReasonCode.DEPENDENCY_REMOVED
    return ReasonCode.SUPERSEDED


def _still_present(ctx: RunContext, repo: Repository, base: str, alert: DependabotAlert) -> bool:
    path = relative_path(alert.dependency.manifest_path)
    if path is None:
        return True
    content = ctx.git_for(repo).show_file(f"refs/remotes/origin/{base}", path)
    if content is None:
        return False
    package = alert.dependency.package
    name = ecosystems.normalize_name(package.ecosystem, package.name)
    try:
        found = ecosystems.parse_dependency_file(path, content)
    except ecosystems.DepfileError:
        return True
    return any(ecosystems.normalize_name(d.ecosystem, d.name) == name for d in found)
