"""The code-scanning pass (SPEC §8): one unit per target and allowlisted rule.

Coverage is reported per repository (`code_scanning_disabled`, `no_analysis_found`), rules
outside the allowlist are `skipped unsupported_rule`, and the allowlisted ones get their
deterministic fix, a rule-specific check (both versions parse and differ only by the fix),
the target's own verification, a stamped PR, and a merge only for `auto_merge_rules`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from agentd import __version__
from agentd.alerts.dependabot.plan import safe_manifest_path, target_for
from agentd.delivery.merge import Hold, MergeRequest, merge_if_allowed
from agentd.delivery.publish import BudgetExhaustedError, publish
from agentd.engine.common import (
    UNIT_FAULTS,
    UnitOutcome,
    coverage_outcome,
    finish,
    pr_title,
    record_verification,
    unit_fault,
    verify_target,
    why_failed,
)
from agentd.engine.context import RunContext, Workspace
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.github.models import CodeScanningAlert
from agentd.inventory import RepoInventory
from agentd.profile import Repository, Target
from agentd.redaction import redact
from agentd.report import UnitRecord, utc_now
from agentd.rules import missing_permissions, unpinned_tag
from agentd.stamp import Stamp, replace_stamp
from agentd.units import branch_name, remediation_key
from agentd.verify import CommandResult
from agentd.vocabulary import AlertClass, AutomationMode, PRSource, ReasonCode, UnitPass, UnitResult

SUPPORTED_RULES = (missing_permissions.RULE_ID, unpinned_tag.RULE_ID)


@dataclass
class RuleUnit:
    repo: Repository
    target: Target
    rule_id: str
    base: str
    default_branch: str
    alerts: list[CodeScanningAlert]
    key: str
    branch: str
    edits: dict[str, str] = field(default_factory=dict)  # path → new text
    notes: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # why a person must look


def _location(alert: CodeScanningAlert) -> tuple[str | None, int]:
    instance = alert.most_recent_instance
    location = instance.location if instance else None
    if location is None:
        return None, 0
    return safe_manifest_path(location.path), location.start_line or 0


def process_repository(
    ctx: RunContext, repo: Repository, inventory: RepoInventory
) -> list[UnitOutcome]:
    covered = coverage_outcome(
        ctx, repo, inventory, AlertClass.CODE_SCANNING, ReasonCode.CODE_SCANNING_DISABLED
    )
    if isinstance(covered, UnitOutcome):
        return [covered]
    base, entry = covered
    assert inventory.metadata is not None  # noqa: S101 - coverage_outcome checked it
    settings = ctx.profile.profile.defaults.code_scanning
    groups: dict[tuple[str, str], list[CodeScanningAlert]] = defaultdict(list)
    for alert in entry.alerts:
        path, _ = _location(alert)
        target = target_for(path, repo.targets) if path else None
        if target is None or AlertClass.CODE_SCANNING not in target.alert_classes:
            continue
        groups[(target.target_id, alert.rule.id or "unknown")].append(alert)
    outcomes = []
    owner = ctx.profile.profile.owner
    for (target_id, rule_id), alerts in sorted(groups.items()):
        target = next(t for t in repo.targets if t.target_id == target_id)
        key = remediation_key(
            owner, repo.repo, AlertClass.CODE_SCANNING, base, target_id, qualifier=rule_id
        )
        unit = RuleUnit(
            repo, target, rule_id, base, inventory.metadata.default_branch, alerts, key,
            branch_name(ctx.profile.profile.defaults.branch_template, AlertClass.CODE_SCANNING, target_id, key, repo.repo),
        )  # fmt: skip
        if rule_id not in settings.allowlisted_rules or rule_id not in SUPPORTED_RULES:
            why = (
                "not in the profile's allowlisted_rules"
                if rule_id not in settings.allowlisted_rules
                else "agentd has no deterministic fix for it"
            )
            outcomes.append(
                finish(
                    _record(unit),
                    UnitResult.skipped(ReasonCode.UNSUPPORTED_RULE, f"{rule_id}: {why}"),
                )
            )
            continue
        if ctx.stop.requested:
            break
        outcomes.append(process_unit(ctx, unit))
    return outcomes


def process_unit(ctx: RunContext, unit: RuleUnit) -> UnitOutcome:
    record = _record(unit)
    mode = ctx.profile.automation_mode(unit.repo)
    if mode is not AutomationMode.ACTIVE:
        return finish(
            record, UnitResult.skipped(ReasonCode.POLICY_BLOCKED, f"repository is {mode.value}")
        )
    if not ctx.git_for(unit.repo).is_repository():
        return finish(
            record,
            UnitResult.skipped(ReasonCode.CLONE_MISSING, f"no git clone at {unit.repo.local_path}"),
        )
    try:
        with ctx.worktree(unit.repo, unit.base, unit.key) as ws:
            return _remediate(ctx, unit, ws, record)
    except UNIT_FAULTS as exc:
        return finish(record, unit_fault(exc))


def _resolver(ctx: RunContext) -> Callable[[str, str], str | None]:
    def resolve(action: str, tag: str) -> str | None:
        try:
            ref = ctx.api.tag_ref(action, tag)
            obj = ref.object
            for _ in range(5):  # annotated tags may point at tags
                if obj.type == "commit":
                    return obj.sha
                if obj.type != "tag":
                    return None
                obj = ctx.api.tag_object(action, obj.sha).object
        except (GitHubHTTPError, TransientError):
            return None
        return None

    return resolve


def _plan_edits(ctx: RunContext, unit: RuleUnit, ws: Workspace) -> None:
    by_path: dict[str, list[CodeScanningAlert]] = defaultdict(list)
    for alert in unit.alerts:
        path, _ = _location(alert)
        if path is None or not path.startswith(".github/workflows/"):
            unit.review.append(f"alert #{alert.number}: location is not a workflow file")
            continue
        by_path[path].append(alert)
    pin_first_party = ctx.profile.profile.defaults.code_scanning.pin_first_party_actions
    for path, alerts in sorted(by_path.items()):
        file = (ws.path / path).resolve()
        if ws.path.resolve() not in file.parents or not file.is_file():
            unit.review.append(f"{path}: not in the repository any more")
            continue
        text = unit.edits.get(path) or file.read_text(encoding="utf-8", errors="surrogateescape")
        if unit.rule_id == missing_permissions.RULE_ID:
            message = next(
                (
                    a.most_recent_instance.message.text
                    for a in alerts
                    if a.most_recent_instance and a.most_recent_instance.message
                ),
                "",
            )
            fix = missing_permissions.fix_missing_permissions(text, message)
            if fix.text is None:
                (unit.review if fix.needs_review or "parsed" in fix.reason else unit.notes).append(
                    f"{path}: {fix.reason}"
                )
                continue
            unit.edits[path] = fix.text
            unit.notes.append(f"{path}: {fix.reason}")
        else:
            # Bottom-up so earlier line numbers stay valid (each pin changes one line only).
            for alert in sorted(alerts, key=lambda a: _location(a)[1], reverse=True):
                pin = unpinned_tag.pin_line(
                    text, _location(alert)[1], _resolver(ctx), pin_first_party
                )
                if pin.text is None:
                    unit.review.append(f"{path}:{_location(alert)[1]}: {pin.reason}")
                    continue
                text = pin.text
                unit.edits[path] = text
                unit.notes.append(f"{path}:{_location(alert)[1]}: {pin.reason}")


def _remediate(ctx: RunContext, unit: RuleUnit, ws: Workspace, record: UnitRecord) -> UnitOutcome:
    _plan_edits(ctx, unit, ws)
    record.changes = unit.notes + unit.review
    if not unit.edits:
        if unit.review:
            return finish(
                record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, "; ".join(unit.review))
            )
        return finish(
            record,
            UnitResult.skipped(ReasonCode.SUPERSEDED, "nothing left to fix on the base branch"),
        )
    if not ctx.policy.mode.may_push:
        return finish(
            record,
            UnitResult.skipped(
                ReasonCode.POLICY_BLOCKED,
                f"mutation mode {ctx.policy.mode.value}: would fix {', '.join(sorted(unit.edits))}",
            ),
        )
    for path, text in unit.edits.items():
        (ws.path / path).write_text(text, encoding="utf-8", errors="surrogateescape")
    verification = verify_target(ctx, unit.target, ws.path)
    record_verification(record, verification)
    if not verification.passed:
        return finish(
            record, UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, why_failed(verification))
        )
    changed = sorted(unit.edits)
    ws.tree.commit_all(
        f"fix(code-scanning): {unit.rule_id} in {unit.target.target_id}\n\n"
        + "\n".join(f"- {n}" for n in unit.notes)
        + f"\n\nRemediation-Key: {unit.key}\n",
        changed,
    )
    title = pr_title(
        ctx.profile.profile.defaults.code_scanning.pr_title_template,
        rule_id=unit.rule_id,
        target_id=unit.target.target_id,
        repo=unit.repo.repo,
        alert_class="code_scanning",
    )
    hold = _hold(ctx, unit)
    body = _body(ctx, unit, verification.commands, hold)
    try:
        published = publish(
            ctx,
            ws,
            repo=unit.repo.repo,
            branch=unit.branch,
            base=unit.base,
            protected=[unit.base, unit.default_branch],
            title=title,
            body=body,
        )
    except BudgetExhaustedError as exc:
        return finish(record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, str(exc)))
    record.pr_source, record.pr_url, record.pr_number = (
        PRSource.AGENT_MANAGED,
        published.pull.html_url,
        published.pull.number,
    )
    record.unit_pass = UnitPass.MERGE
    merge = merge_if_allowed(ctx, MergeRequest(
        repo=unit.repo.repo, base=unit.base, number=published.pull.number, key=unit.key,
        expected_files=changed, verification_passed=True, branch=unit.branch, hold=hold, commit_title=title,
    ))  # fmt: skip
    record.result = merge.result
    return UnitOutcome(
        record,
        opened=published.created or published.pushed or merge.reevaluate,
        merged=merge.merged,
    )


def _hold(ctx: RunContext, unit: RuleUnit) -> Hold | None:
    if unit.rule_id not in ctx.profile.profile.defaults.code_scanning.auto_merge_rules:
        return Hold(
            ReasonCode.POLICY_BLOCKED, f"{unit.rule_id} is not in auto_merge_rules; a person merges"
        )
    if unit.review:
        return Hold(
            ReasonCode.POLICY_BLOCKED, "some findings need a person: " + "; ".join(unit.review)
        )
    return None


def _stamp(unit: RuleUnit) -> Stamp:
    return Stamp(
        remediation_key=unit.key,
        alert_class=AlertClass.CODE_SCANNING,
        target_id=unit.target.target_id,
        base_branch=unit.base,
        alert_number=min(a.number for a in unit.alerts),
        agent_version=__version__,
        last_pass_at=utc_now(),
    )


def _body(ctx: RunContext, unit: RuleUnit, commands: list[CommandResult], hold: Hold | None) -> str:
    lines = [
        f"agentd fixes code-scanning rule `{unit.rule_id}` in target `{unit.target.target_id}` on `{unit.base}`.",
        "",
        "### Changes",
        "",
        *[f"- {note}" for note in unit.notes],
        "",
        "### Alerts",
        "",
        *[
            f"- [#{a.number}]({a.html_url}) `{_location(a)[0]}` line {_location(a)[1]}"
            for a in sorted(unit.alerts, key=lambda a: a.number)
        ],
        "",
        "Both versions of every edited workflow parse as YAML and differ only by this fix.",
        "",
        "### Verification",
        "",
        *[
            f"- `{c.command}`: {'passed' if c.passed else 'not run: ' + c.not_run_reason if c.not_run_reason else f'failed (exit {c.exit_code})'}"
            for c in commands
        ],
        "",
        "### What happens next",
        "",
        f"- {hold.detail}."
        if hold
        else (
            "- agentd merges this PR once the required checks are green."
            if ctx.policy.mode.may_merge
            else "- A person reviews and merges."
        ),
    ]
    if unit.review:
        lines += ["", "### Needs a person", "", *[f"- {r}" for r in unit.review]]
    return redact(replace_stamp("\n".join(lines), _stamp(unit)))


def _record(unit: RuleUnit) -> UnitRecord:
    return UnitRecord(
        repository=unit.repo.repo,
        base=unit.base,
        target_id=unit.target.target_id,
        remediation_key=unit.key,
        alert_class=AlertClass.CODE_SCANNING,
        result=UnitResult.opened_pr(),
        rule_id=unit.rule_id,
        alert_number=min(a.number for a in unit.alerts),
        alert_numbers=sorted(a.number for a in unit.alerts),
        platform_constraints=list(unit.target.platform_constraints),
    )
