"""The Dependabot pass (SPEC §7): one unit per repository + base + target.

For each unit: plan the version choices, adopt a qualifying native Dependabot PR or apply
the ecosystem's updater in a fresh worktree, prove no vulnerable version survives, verify,
publish a stamped PR, and merge it when the review gate allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentd import __version__
from agentd import ecosystems as depfiles
from agentd.alerts.dependabot.plan import (
    UnitPlan,
    group_by_target,
    plan_unit,
    surviving_vulnerable,
)
from agentd.delivery.merge import Hold, MergeRequest, merge_if_allowed
from agentd.delivery.publish import BudgetExhaustedError, publish
from agentd.ecosystems import (
    UnsafePathError,
    UpdateContext,
    UpdateResult,
    branch_slug,
    is_lockfile,
)
from agentd.engine.common import (
    UNIT_FAULTS,
    UnitOutcome,
    record_verification,
    resolve_base,
    unit_fault,
    verify_target,
    why_failed,
)
from agentd.engine.context import RunContext, Workspace
from agentd.environment import target_environment_problem
from agentd.github.models import DependabotAlert, PullRequest
from agentd.inventory import Coverage, RepoInventory
from agentd.log import get_logger
from agentd.profile import Repository, Target
from agentd.redaction import redact
from agentd.report import UnitRecord, utc_now
from agentd.stamp import Stamp, replace_stamp
from agentd.units import branch_name, remediation_key
from agentd.verify import VerificationResult, scrubbed_env
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)

log = get_logger("dependabot")
NATIVE_AUTHOR = "dependabot[bot]"
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


@dataclass(frozen=True)
class UnitSpec:
    repo: Repository
    target: Target
    base: str
    default_branch: str
    alerts: list[DependabotAlert]
    key: str
    branch: str


# --- entry point ----------------------------------------------------------------------


def process_repository(
    ctx: RunContext, repo: Repository, inventory: RepoInventory
) -> list[UnitOutcome]:
    """Every Dependabot unit of one repository, in order; never raises for one unit's fault."""
    entry = inventory.classes.get(AlertClass.DEPENDABOT)
    base = resolve_base(ctx, repo, inventory)
    owner = ctx.profile.profile.owner
    if entry is None or base is None or inventory.metadata is None:
        key = remediation_key(owner, repo.repo, AlertClass.DEPENDABOT, base or "?", "*")
        reason = inventory.error or "repository could not be read"
        return [
            _record(
                repo,
                base or "?",
                "*",
                key,
                UnitResult.blocked(ReasonCode.AUTH_INSUFFICIENT, reason),
            )
        ]
    if entry.coverage is not Coverage.ENABLED:
        key = remediation_key(owner, repo.repo, AlertClass.DEPENDABOT, base, "*")
        result = (
            UnitResult.skipped(
                ReasonCode.UNSUPPORTED_ALERT_CLASS,
                f"Dependabot alerts are {entry.coverage.value}: {entry.detail}",
            )
            if entry.coverage is Coverage.DISABLED
            else UnitResult.blocked(
                ReasonCode.AUTH_INSUFFICIENT, f"Dependabot alerts unreadable: {entry.detail}"
            )
        )
        return [_record(repo, base, "*", key, result)]
    alerts: list[DependabotAlert] = list(entry.alerts)
    by_target, unmapped = group_by_target(alerts, repo.targets)
    outcomes = [
        _record(
            repo, base, "*",
            f"{remediation_key(owner, repo.repo, AlertClass.DEPENDABOT, base, 'unmapped')}"
            f":{u.manifest_path}",
            UnitResult.skipped(u.reason, u.detail) if u.reason is not ReasonCode.POLICY_BLOCKED
            else UnitResult.blocked(u.reason, u.detail) if u.manifest_path == "(unsafe path)"
            else UnitResult.skipped(u.reason, u.detail),
            alerts=u.alerts,
        )
        for u in unmapped
    ]  # fmt: skip
    for target in repo.targets:
        target_alerts = by_target.get(target.target_id)
        if not target_alerts:
            continue
        key = remediation_key(owner, repo.repo, AlertClass.DEPENDABOT, base, target.target_id)
        spec = UnitSpec(
            repo=repo,
            target=target,
            base=base,
            default_branch=inventory.metadata.default_branch,
            alerts=target_alerts,
            key=key,
            branch=branch_name(
                ctx.profile.profile.defaults.branch_template,
                AlertClass.DEPENDABOT,
                target.target_id,
                key,
                repo.repo,
            ),
        )
        if ctx.stop.requested:
            break
        outcomes.append(process_unit(ctx, spec))
    return outcomes


def process_unit(ctx: RunContext, spec: UnitSpec) -> UnitOutcome:
    mode = ctx.profile.automation_mode(spec.repo)
    if mode is not AutomationMode.ACTIVE:
        why = spec.repo.manual_only_reason or spec.repo.ignored_reason or ""
        return _early(
            spec,
            UnitResult.skipped(
                ReasonCode.POLICY_BLOCKED, f"repository is {mode.value}: {why}".rstrip(": ")
            ),
        )
    if not ctx.git_for(spec.repo).is_repository():
        return _early(
            spec,
            UnitResult.skipped(ReasonCode.CLONE_MISSING, f"no git clone at {spec.repo.local_path}"),
        )
    try:
        with ctx.worktree(spec.repo, spec.base, spec.key) as ws:
            return _remediate(ctx, spec, ws)
    except UNIT_FAULTS as exc:
        return _early(spec, unit_fault(exc))


# --- the unit's steps ---------------------------------------------------------------------


def _remediate(ctx: RunContext, spec: UnitSpec, ws: Workspace) -> UnitOutcome:
    context = _update_context(ctx, spec, ws)
    plan = plan_unit(spec.target, spec.alerts, lambda path: _read(context, path))
    record = _spec_record(spec, UnitResult.opened_pr())  # placeholder result, replaced below
    record.changes = plan.summary()
    record.advisory_ids = plan.advisory_ids or sorted(
        {a.security_advisory.ghsa_id for a in spec.alerts}
    )
    if not plan.fixable:
        return _finish(record, _problem_result(plan))
    if not ctx.policy.mode.may_push:
        return _finish(record, UnitResult.skipped(
            ReasonCode.POLICY_BLOCKED,
            f"mutation mode {ctx.policy.mode.value}{' (dry run)' if ctx.policy.dry_run else ''}: "
            f"would open a PR: {'; '.join(plan.summary())}",
        ))  # fmt: skip
    problem = target_environment_problem(spec.target, ctx.allowed_env)
    if problem:
        return _finish(record, UnitResult.blocked(problem.reason, problem.message))
    if ctx.profile.profile.defaults.native_dependabot_pr_strategy == "adopt_first":
        adopted = _try_adopt(ctx, spec, plan, record)
        if adopted is not None:
            return adopted
    return _apply_and_publish(ctx, spec, ws, plan, record, context)


def _apply_and_publish(
    ctx: RunContext,
    spec: UnitSpec,
    ws: Workspace,
    plan: UnitPlan,
    record: UnitRecord,
    context: UpdateContext,
) -> UnitOutcome:
    assert plan.updater is not None  # noqa: S101 - fixable packages always have an updater
    try:
        update = plan.updater.apply(context, plan.bumps())
    except UnsafePathError as exc:
        return _finish(record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, str(exc)))
    if update.blocked is not None:
        return _finish(record, _updater_refusal(update))
    record.changes = update.notes + [c for c in plan.summary() if "→" not in c]
    survivors = surviving_vulnerable(plan, lambda path: _read(context, path))
    if survivors:
        return _finish(record, UnitResult.blocked(
            ReasonCode.VERIFICATION_FAILED,
            f"vulnerable versions survive the update: {'; '.join(survivors)}",
        ))  # fmt: skip
    hold = _merge_hold(ctx, plan, update)
    if isinstance(hold, UnitResult):
        return _finish(record, hold)
    verification = verify_target(ctx, spec.target, ws.path)
    record_verification(record, verification)
    if not verification.passed:
        return _finish(
            record, UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, why_failed(verification))
        )
    changed = sorted(set(update.changed_files))
    if not changed or ws.tree.changed_files() == []:
        return _finish(
            record,
            UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, "the updater changed no file"),
        )
    ws.tree.commit_all(_commit_message(spec, plan), changed)
    title = ctx.profile.profile.defaults.pr_title_template.format(
        target_id=spec.target.target_id, alert_class="dependabot", repo=spec.repo.repo,
        rule_id="", secret_type="", alert_number="",
    )  # fmt: skip
    body = render_body(ctx, spec, plan, update, verification, hold)
    try:
        published = publish(
            ctx, ws, repo=spec.repo.repo, branch=spec.branch, base=spec.base,
            protected=[spec.base, spec.default_branch], title=title, body=body,
        )  # fmt: skip
    except BudgetExhaustedError as exc:
        return _finish(record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, str(exc)))
    record.pr_source = PRSource.AGENT_MANAGED
    record.pr_url, record.pr_number = published.pull.html_url, published.pull.number
    record.unit_pass = UnitPass.MERGE
    merge = merge_if_allowed(ctx, MergeRequest(
        repo=spec.repo.repo, base=spec.base, number=published.pull.number, key=spec.key,
        expected_files=changed, verification_passed=True, branch=spec.branch, hold=hold,
        commit_title=title,
    ))  # fmt: skip
    return UnitOutcome(
        _with_result(record, merge.result),
        opened=published.created or published.pushed or merge.reevaluate,
        merged=merge.merged,
    )


def _merge_hold(ctx: RunContext, plan: UnitPlan, update: UpdateResult) -> Hold | UnitResult | None:
    """Whether the ecosystem rules let this change merge unattended, hold it, or block it."""
    assert plan.updater is not None  # noqa: S101
    rules = ctx.profile.profile.defaults.auto_merge
    rule = rules.ecosystem_rules.get(plan.updater.name)  # type: ignore[call-overload]
    if update.manifest_changed:
        files = ", ".join(update.manifest_files)
        if rule is not None and rule.forbid_manifest_changes:
            return UnitResult.blocked(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"the fix changes manifest {files}, which the {plan.updater.name} rule forbids",
            )
        return Hold(
            ReasonCode.MANIFEST_CHANGE_REQUIRED,
            f"the fix changes manifest {files}; a person reviews it",
        )
    if rule is None:
        if rules.unlisted_ecosystem_outcome == "blocked":
            return UnitResult.blocked(
                ReasonCode.POLICY_BLOCKED, f"no auto-merge rule for {plan.updater.name}"
            )
        return Hold(
            ReasonCode.POLICY_BLOCKED,
            f"no auto-merge rule for {plan.updater.name}; a person merges",
        )
    if not rule.allow_lockfile_only:
        return Hold(
            ReasonCode.POLICY_BLOCKED, f"{plan.updater.name} rule does not allow unattended merges"
        )
    return None


# --- native Dependabot PRs ------------------------------------------------------------------


def _native_candidates(ctx: RunContext, spec: UnitSpec) -> list[PullRequest]:
    prefix = ctx.profile.profile.defaults.native_dependabot_head_branch_prefix
    return [
        p for p in ctx.api.pulls(spec.repo.repo, base=spec.base)
        if p.user is not None and p.user.login == NATIVE_AUTHOR and p.head.ref.startswith(prefix)
    ]  # fmt: skip


def _try_adopt(
    ctx: RunContext, spec: UnitSpec, plan: UnitPlan, record: UnitRecord
) -> UnitOutcome | None:
    """Adopt a native PR that fixes exactly this unit's advisories; None to go on alone."""
    for pull in _native_candidates(ctx, spec):
        why = _native_mismatch(ctx, spec, plan, pull)
        if why is None:
            return _adopt(ctx, spec, plan, record, pull)
        record.notes.append(f"native Dependabot PR #{pull.number} left alone: {why}")
    return None


def _native_mismatch(
    ctx: RunContext, spec: UnitSpec, plan: UnitPlan, pull: PullRequest
) -> str | None:
    if len(plan.packages) != 1 or len(plan.fixable) != 1:
        return f"this unit fixes {len(plan.packages)} packages; a native PR bumps one"
    package = plan.fixable[0]
    segment = pull.head.ref.split("/")[1] if pull.head.ref.count("/") >= 2 else ""
    if branch_slug(package.key.ecosystem) != segment:
        return f"its head {pull.head.ref} is not a {package.key.ecosystem} update"
    files = {f.filename for f in ctx.api.pull_files(spec.repo.repo, pull.number)}
    if package.key.manifest_path not in files:
        return f"it does not change {package.key.manifest_path}"
    return None


def _adopt(
    ctx: RunContext, spec: UnitSpec, plan: UnitPlan, record: UnitRecord, pull: PullRequest
) -> UnitOutcome | None:
    """Verify the native PR on a local checkout of its head; re-stamp; merge via the API."""
    operator = ctx.git_for(spec.repo)
    operator.fetch_branch(pull.head.ref)
    with ctx.worktree(spec.repo, spec.base, spec.key + ":native", ref=pull.head.sha) as ws:
        context = _update_context(ctx, spec, ws)
        package = plan.fixable[0]
        content = _read(context, package.key.manifest_path)
        wanted = {b.target_version for b in package.bumps}
        found = {
            d.version
            for d in depfiles.parse_dependency_file(package.key.manifest_path, content or b"")
            if depfiles.normalize_name(d.ecosystem, d.name) == package.key.name
        }  # fmt: skip
        if found != wanted:
            record.notes.append(
                f"native Dependabot PR #{pull.number} left alone: it moves "
                f"{package.display_name} to {', '.join(sorted(found)) or 'nothing'}; "
                f"the smallest fixing version is {', '.join(sorted(wanted))}"
            )
            return None
        survivors = surviving_vulnerable(plan, lambda path: _read(context, path))
        if survivors:
            record.notes.append(
                f"native PR #{pull.number} left alone: still vulnerable: {'; '.join(survivors)}"
            )
            return None
        verification = verify_target(ctx, spec.target, ws.path)
    record_verification(record, verification)
    record.pr_source, record.pr_url, record.pr_number = (
        PRSource.NATIVE_DEPENDABOT,
        pull.html_url,
        pull.number,
    )
    if not verification.passed:
        return _finish(
            record,
            UnitResult.blocked(
                ReasonCode.VERIFICATION_FAILED, "verification of the native PR's head failed"
            ),
        )
    stamp = _stamp(spec, plan)
    body = replace_stamp(pull.body or "", stamp)
    if body != (pull.body or ""):
        ctx.api.update_pull(spec.repo.repo, pull.number, body=body)
    files = [f.filename for f in ctx.api.pull_files(spec.repo.repo, pull.number)]
    manifest_files = [f for f in files if not is_lockfile(f)]
    hold = (
        Hold(
            ReasonCode.MANIFEST_CHANGE_REQUIRED,
            f"the native PR changes manifest {', '.join(manifest_files)}",
        )
        if manifest_files
        else None
    )
    record.unit_pass = UnitPass.MERGE
    record.notes.append(
        f"adopted native Dependabot PR #{pull.number} (verified on its head; never pushed to)"
    )
    merge = merge_if_allowed(ctx, MergeRequest(
        repo=spec.repo.repo, base=spec.base, number=pull.number, key=spec.key, expected_files=files,
        verification_passed=True,
        head_prefix=ctx.profile.profile.defaults.native_dependabot_head_branch_prefix,
        hold=hold, commit_title=pull.title,
    ))  # fmt: skip
    return UnitOutcome(
        _with_result(record, merge.result), opened=merge.reevaluate, merged=merge.merged
    )


# --- helpers ----------------------------------------------------------------------------------


def _update_context(ctx: RunContext, spec: UnitSpec, ws: Workspace) -> UpdateContext:
    settings = ctx.profile.profile.verification
    return UpdateContext(
        worktree=ws.path,
        target_path=spec.target.path,
        env=scrubbed_env(ws.home, ctx.allowed_env.values),
        home=ws.home,
        timeout_seconds=float(
            spec.target.verification_timeout_seconds or settings.default_timeout_seconds
        ),
    )


def _read(context: UpdateContext, path: str) -> bytes | None:
    try:
        file = context.file(path)
    except UnsafePathError:
        return None
    try:
        return file.read_bytes() if file.is_file() else None
    except OSError:
        return None


def _problem_result(plan: UnitPlan) -> UnitResult:
    problems = [p for p in plan.packages if p.problem is not None]
    worst = min(
        problems,
        key=lambda p: _PROBLEM_ORDER.index(p.problem) if p.problem in _PROBLEM_ORDER else 99,
    )
    assert worst.problem is not None  # noqa: S101
    detail = "; ".join(f"{p.display_name}: {p.detail}" for p in problems)
    if worst.problem in _BLOCKING:
        return UnitResult.blocked(worst.problem, detail)
    return UnitResult.skipped(worst.problem, detail)


def _updater_refusal(update: UpdateResult) -> UnitResult:
    assert update.blocked is not None  # noqa: S101
    detail = update.blocked_detail + (f"\n{update.tool_output}" if update.tool_output else "")
    if update.blocked in (
        ReasonCode.DEPENDENCY_REMOVED,
        ReasonCode.UNSUPPORTED_ECOSYSTEM,
        ReasonCode.SUPERSEDED,
    ):
        return UnitResult.skipped(update.blocked, detail)
    return UnitResult.blocked(update.blocked, detail)


def _stamp(spec: UnitSpec, plan: UnitPlan) -> Stamp:
    return Stamp(
        remediation_key=spec.key,
        alert_class=AlertClass.DEPENDABOT,
        target_id=spec.target.target_id,
        base_branch=spec.base,
        advisory_ids=plan.advisory_ids,
        agent_version=__version__,
        last_pass_at=utc_now(),
    )


def _commit_message(spec: UnitSpec, plan: UnitPlan) -> str:
    bumps = plan.bumps()
    head = (
        f"chore(deps): bump {bumps[0].name} {bumps[0].current_version} → {bumps[0].target_version}"
        if len(bumps) == 1
        else f"chore(deps): bump {len(bumps)} vulnerable dependencies in {spec.target.target_id}"
    )
    lines = [head, ""] + [
        f"- {b.name} {b.current_version} → {b.target_version} ({b.manifest_path})" for b in bumps
    ]
    lines += ["", f"Fixes: {', '.join(plan.advisory_ids)}", f"Remediation-Key: {spec.key}"]
    return redact("\n".join(lines)) + "\n"


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_body(
    ctx: RunContext,
    spec: UnitSpec,
    plan: UnitPlan,
    update: UpdateResult,
    verification: VerificationResult,
    hold: Hold | None,
) -> str:
    advisories = {a.security_advisory.ghsa_id: a for p in plan.fixable for a in p.alerts}
    lines = [
        f"agentd bumps the vulnerable dependencies of target `{spec.target.target_id}` "
        f"(`{spec.target.path}`) on `{spec.base}` to the smallest versions that fix every open "
        "advisory, without leaving the current major line where a fix exists there.",
        "",
        "| package | from | to | file |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b.name} | {b.current_version} | {b.target_version} | `{b.manifest_path}` |"
        for b in plan.bumps()
    ]
    lines += ["", "### Advisories", ""]
    for ghsa, alert in sorted(advisories.items()):
        advisory = alert.security_advisory
        lines.append(
            f"- [{ghsa}]({advisory.html_url}) ({advisory.severity}): {_one_line(advisory.summary)}"
            + (
                f" — alert [#{alert.number}]({alert.html_url})"
                if alert.html_url
                else f" — alert #{alert.number}"
            )
        )
    left = [p for p in plan.packages if p.problem is not None]
    if left:
        lines += ["", "### Not fixed by this PR", ""]
        lines += [
            f"- {p.display_name} (`{p.key.manifest_path}`): `{p.problem.value}`: "
            f"{_one_line(p.detail)}"
            for p in left
            if p.problem
        ]
    lines += ["", "### Verification", "", "| command | result |", "| --- | --- |"]
    for command in verification.commands:
        outcome = (
            f"passed (exit 0, {command.duration_seconds:.1f}s)" if command.passed
            else f"not run: {command.not_run_reason}" if command.not_run_reason
            else f"failed (exit {command.exit_code})"
        )  # fmt: skip
        lines.append(f"| `{_one_line(command.command, 80)}` | {outcome} |")
    lines += ["", "### What happens next", ""]
    if hold is not None:
        lines.append(f"- This PR waits for a person: {hold.detail}.")
    elif ctx.policy.mode.may_merge:
        lines.append(
            "- agentd merges this PR once every required check on the base branch is green."
        )
    else:
        lines.append(f"- Mutation mode is `{ctx.policy.mode.value}`: a person reviews and merges.")
    lines.append(
        "- If these alerts are fixed, dismissed or withdrawn elsewhere, agentd closes this PR "
        "with a comment."
    )
    lines.append("- agentd updates this branch only when the fix itself changes.")
    return redact(replace_stamp("\n".join(lines), _stamp(spec, plan)))


def _record(
    repo: Repository,
    base: str,
    target_id: str,
    key: str,
    result: UnitResult,
    alerts: list[DependabotAlert] | None = None,
) -> UnitOutcome:
    record = UnitRecord(
        repository=repo.repo, base=base, target_id=target_id, remediation_key=key,
        alert_class=AlertClass.DEPENDABOT, result=result,
        alert_numbers=sorted(a.number for a in alerts or []),
        advisory_ids=sorted({a.security_advisory.ghsa_id for a in alerts or []}),
    )  # fmt: skip
    return UnitOutcome(record)


def _spec_record(spec: UnitSpec, result: UnitResult) -> UnitRecord:
    return UnitRecord(
        repository=spec.repo.repo,
        base=spec.base,
        target_id=spec.target.target_id,
        remediation_key=spec.key,
        alert_class=AlertClass.DEPENDABOT,
        result=result,
        alert_numbers=sorted(a.number for a in spec.alerts),
        advisory_ids=sorted({a.security_advisory.ghsa_id for a in spec.alerts}),
        platform_constraints=list(spec.target.platform_constraints),
    )


def _early(spec: UnitSpec, result: UnitResult) -> UnitOutcome:
    return UnitOutcome(_spec_record(spec, result))


def _finish(record: UnitRecord, result: UnitResult) -> UnitOutcome:
    return UnitOutcome(_with_result(record, result))


def _with_result(record: UnitRecord, result: UnitResult) -> UnitRecord:
    record.result = result
    return record
