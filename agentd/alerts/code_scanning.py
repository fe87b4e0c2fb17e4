"""The code-scanning plug-in (SPEC §8): one unit per target and rule.

Only rules in the profile's `allowlisted_rules` that have a deterministic fixer in
`agentd.rules` enter remediation; the rest are `skipped unsupported_rule`. An alert whose
location is no path inside the repository, or that no target takes, is a unit of its own
with the reason. The fixer edits the alerted workflow files, its own post-fix check proves
the edit is exactly the fix, and what the fixer could not rule out holds the merge for a
person; only `auto_merge_rules` may merge unattended.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agentd import __version__
from agentd.alerts.dependabot.plan import target_for
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
from agentd.engine.context import RunContext, Workspace
from agentd.errors import UnitError
from agentd.github.client import GitHubError
from agentd.github.models import CodeScanningAlert
from agentd.inventory import ClassInventory
from agentd.paths import confine, relative_path
from agentd.profile import Repository, Target
from agentd.report import utc_now
from agentd.rules import Environment, Finding, Rule, rule_for
from agentd.stamp import Stamp
from agentd.verify import VerificationResult
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult

WORKFLOWS = ".github/workflows/"


@dataclass
class _Edits:
    rule: Rule
    before: dict[str, str] = field(default_factory=dict)  # path → text on the base
    after: dict[str, str] = field(default_factory=dict)  # path → fixed text
    notes: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # what a person must look at


def _environment(ctx: RunContext) -> Environment:
    """What a rule may ask of GitHub: a tag's commit (annotated tags dereferenced)."""
    api = ctx.api

    def resolve_tag(action: str, tag: str) -> str | None:
        try:
            obj = api.tag_ref(action, tag).object
            for _ in range(5):  # annotated tags may point at tags
                if obj.type == "commit":
                    return obj.sha
                if obj.type != "tag":
                    return None
                obj = api.tag_object(action, obj.sha).object
        except GitHubError:
            return None
        return None

    pin_first_party = ctx.profile.profile.defaults.code_scanning.pin_first_party_actions
    return Environment(pin_first_party=pin_first_party, resolver=resolve_tag)


def finding(alert: CodeScanningAlert) -> Finding | None:
    """The alert as a rule sees it, or None when its location is no repository path."""
    instance = alert.most_recent_instance
    location = instance.location if instance else None
    path = relative_path(location.path) if location is not None else None
    if instance is None or location is None or path is None:
        return None
    message = instance.message.text if instance.message else ""
    return Finding(alert.number, path, location.start_line or 0, message or "")


class CodeScanningPlugin(AlertPlugin):
    alert_class = AlertClass.CODE_SCANNING
    disabled_reason = ReasonCode.CODE_SCANNING_DISABLED

    def plan(
        self, ctx: RunContext, repo: Repository, alerts: ClassInventory, base: str, default: str
    ) -> list[Unit]:
        groups: dict[tuple[str, str], list[CodeScanningAlert]] = defaultdict(list)
        outside: dict[tuple[str, str], list[CodeScanningAlert]] = defaultdict(list)
        found = list(alerts.alerts)
        if base != default:  # the organisation stream holds the default branch's alerts
            found = list(ctx.api.code_scanning_alerts(repo.repo, ref=f"refs/heads/{base}"))
        for alert in found:
            rule_id = alert.rule.id or "unknown"
            where = finding(alert)
            target = target_for(where.path, repo.targets) if where else None
            if where is None:
                outside[(rule_id, "(no repository path)")].append(alert)
            elif target is None or AlertClass.CODE_SCANNING not in target.alert_classes:
                outside[(rule_id, where.path)].append(alert)
            else:
                groups[(target.target_id, rule_id)].append(alert)
        units = [
            self._outside_unit(ctx, repo, base, default, rule_id, path, group)
            for (rule_id, path), group in sorted(outside.items())
        ]
        for (target_id, rule_id), group in sorted(groups.items()):
            target = next(t for t in repo.targets if t.target_id == target_id)
            units.append(self._unit(ctx, repo, base, default, target, rule_id, group))
        return units

    def _unit(
        self,
        ctx: RunContext,
        repo: Repository,
        base: str,
        default: str,
        target: Target,
        rule_id: str,
        alerts: list[CodeScanningAlert],
    ) -> Unit:
        settings = ctx.profile.profile.defaults.code_scanning
        settled = None
        if rule_id not in settings.allowlisted_rules:
            settled = UnitResult.skipped(
                ReasonCode.UNSUPPORTED_RULE, f"{rule_id}: not in the profile's allowlisted_rules"
            )
        elif rule_for(rule_id) is None:
            settled = UnitResult.skipped(
                ReasonCode.UNSUPPORTED_RULE, f"{rule_id}: agentd has no deterministic fix for it"
            )
        return new_unit(
            ctx, self.alert_class, repo, base, target, default_branch=default, qualifier=rule_id,
            rule_id=rule_id, alert_number=min(a.number for a in alerts),
            alert_numbers=[a.number for a in alerts], settled=settled, payload=alerts,
        )  # fmt: skip

    def _outside_unit(
        self,
        ctx: RunContext,
        repo: Repository,
        base: str,
        default: str,
        rule_id: str,
        path: str,
        alerts: list[CodeScanningAlert],
    ) -> Unit:
        if path.startswith("("):
            detail = "the alerts' location is not a path inside the repository; refused"
            settled = UnitResult.blocked(ReasonCode.POLICY_BLOCKED, detail)
        else:
            target = target_for(path, repo.targets)
            detail = (
                f"no target covers {path}; add a target whose path contains it"
                if target is None
                else f"target {target.target_id} does not take code-scanning alerts ({path})"
            )
            settled = UnitResult.skipped(ReasonCode.POLICY_BLOCKED, detail)
        return new_unit(
            ctx, self.alert_class, repo, base, None, default_branch=default, qualifier=rule_id,
            key_suffix=f":unmapped:{path}", rule_id=rule_id,
            alert_number=min(a.number for a in alerts), alert_numbers=[a.number for a in alerts],
            settled=settled,
        )  # fmt: skip

    def propose(self, ctx: RunContext, unit: Unit, ws: Workspace) -> Proposal:
        edits = _plan_edits(ctx, unit, ws)
        summary = edits.notes + edits.review
        if not edits.after:
            if edits.review:
                raise UnitError(ReasonCode.POLICY_BLOCKED, "; ".join(edits.review))
            raise UnitError.skipped(ReasonCode.SUPERSEDED, "nothing left to fix on the base branch")
        return Proposal(
            intent=f"fix {', '.join(sorted(edits.after))}", summary=summary, payload=edits
        )

    def apply(self, ctx: RunContext, unit: Unit, proposal: Proposal, ws: Workspace) -> Change:
        edits: _Edits = proposal.payload
        for path, text in edits.after.items():
            confine(ws.path, path).write_text(text, encoding="utf-8", errors="surrogateescape")
        return Change(files=sorted(edits.after), summary=proposal.summary, payload=edits)

    def recheck(self, ctx: RunContext, unit: Unit, change: Change, ws: Workspace) -> None:
        edits: _Edits = change.payload
        for path in sorted(edits.after):
            after = (ws.read(path) or b"").decode("utf-8", errors="surrogateescape")
            problem = edits.rule.check(path, edits.before[path], after)
            if problem is not None:
                raise UnitError(
                    ReasonCode.VERIFICATION_FAILED, f"{path}: the fix is not the rule's: {problem}"
                )

    def hold(self, ctx: RunContext, unit: Unit, change: Change) -> Hold | None:
        edits: _Edits = change.payload
        if unit.rule_id not in ctx.profile.profile.defaults.code_scanning.auto_merge_rules:
            return Hold(
                ReasonCode.POLICY_BLOCKED,
                f"{unit.rule_id} is not in auto_merge_rules; a person merges",
            )
        if edits.review:
            return Hold(
                ReasonCode.POLICY_BLOCKED, "some findings need a person: " + "; ".join(edits.review)
            )
        return None

    def describe(
        self,
        ctx: RunContext,
        unit: Unit,
        change: Change,
        verification: VerificationResult,
        hold: Hold | None,
    ) -> Description:
        edits: _Edits = change.payload
        assert unit.target is not None and unit.alert_number is not None  # noqa: S101
        template = ctx.profile.profile.defaults.code_scanning.pr_title_template
        title = pr_title(template, unit, rule_id=unit.rule_id or "")
        message = (
            f"fix(code-scanning): {unit.rule_id} in {unit.target.target_id}\n\n"
            + "\n".join(f"- {n}" for n in edits.notes)
            + f"\n\nRemediation-Key: {unit.key}\n"
        )
        stamp = Stamp(
            remediation_key=unit.key,
            alert_class=AlertClass.CODE_SCANNING,
            target_id=unit.target.target_id,
            base_branch=unit.base,
            alert_number=unit.alert_number,
            agent_version=__version__,
            last_pass_at=utc_now(),
        )
        return Description(title, _body(ctx, unit, edits, verification, hold), message, stamp)

    def open_alerts(self, ctx: RunContext, repo: Repository) -> set[int]:
        return {a.number for a in ctx.api.code_scanning_alerts(repo.repo)}

    def orphaned(self, ctx: RunContext, repo: Repository, stamp: Stamp) -> Orphan:
        assert stamp.alert_number is not None  # noqa: S101 - code-scanning stamps carry one
        alert = ctx.api.code_scanning_alert(repo.repo, stamp.alert_number)
        state = alert.state or "unknown"
        if state in ("fixed", "dismissed", "closed"):
            why = f"code-scanning alert #{alert.number} was {state}"
        else:
            why = (
                f"no open alert of this rule and target is left to fix (alert #{alert.number} "
                f"is {state})"
            )
        return Orphan(ReasonCode.SUPERSEDED, why)


def _plan_edits(ctx: RunContext, unit: Unit, ws: Workspace) -> _Edits:
    assert unit.rule_id is not None  # noqa: S101
    rule = rule_for(unit.rule_id)
    assert rule is not None  # noqa: S101 - units of unknown rules are settled at planning
    edits = _Edits(rule)
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for alert in unit.payload:
        where = finding(alert)
        if where is None or not where.path.startswith(WORKFLOWS):
            edits.review.append(f"alert #{alert.number}: location is not a workflow file")
            continue
        by_path[where.path].append(where)
    environment = _environment(ctx)
    for path, findings in sorted(by_path.items()):
        file = confine(ws.path, path)
        if not file.is_file():
            edits.review.append(f"{path}: not in the repository any more")
            continue
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
        fix = rule.fix_file(path, text, findings, environment)
        edits.notes += fix.notes
        edits.review += fix.review
        if fix.text is not None and fix.text != text:
            edits.before[path], edits.after[path] = text, fix.text
    return edits


def _body(
    ctx: RunContext,
    unit: Unit,
    edits: _Edits,
    verification: VerificationResult,
    hold: Hold | None,
) -> str:
    assert unit.target is not None  # noqa: S101
    alerts: list[CodeScanningAlert] = sorted(unit.payload, key=lambda a: a.number)
    lines = [
        f"agentd fixes code-scanning rule `{unit.rule_id}` in target "
        f"`{unit.target.target_id}` on `{unit.base}`.",
        "",
        "### Changes",
        "",
        *[f"- {note}" for note in edits.notes],
        "",
        "### Alerts",
        "",
    ]
    for alert in alerts:
        where = finding(alert)
        location = f"`{where.path}` line {where.start_line}" if where else "(no location)"
        lines.append(f"- [#{alert.number}]({alert.html_url}) {location}")
    lines += [
        "",
        "Every edited file passed the rule's own check: it differs from the base only by this fix.",
        "",
        "### Verification",
        "",
        *[
            f"- `{c.command}`: {_command_outcome(c.passed, c.not_run_reason, c.exit_code)}"
            for c in verification.commands
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
    if edits.review:
        lines += ["", "### Needs a person", "", *[f"- {r}" for r in edits.review]]
    return "\n".join(lines)


def _command_outcome(passed: bool, not_run_reason: str, exit_code: int | None) -> str:
    if passed:
        return "passed"
    return f"not run: {not_run_reason}" if not_run_reason else f"failed (exit {exit_code})"
