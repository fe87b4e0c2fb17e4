"""The secret-scanning plug-in (SPEC §9): incident triage and review-only cleanup PRs.

Each open alert is one unit with a triage state (`active`, `revoked`, `historical`,
`false_positive`, see `triage`). A secret still literally in tracked text files on the
base branch gets a cleanup PR replacing it with a placeholder or an environment-variable
reference, when the profile allows; everywhere else the unit says why not (history only,
only in issue or PR text, value unknown). Cleanup PRs are never merged; agentd never
dismisses or resolves alerts, rotates credentials or rewrites history.

The secret value is fetched for one alert at a time, registered with the redactor on
arrival (see `SecretScanningAlert`), held in memory only, and never written anywhere.
"""

from __future__ import annotations

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
from agentd.alerts.secret_scanning.cleanup import replace_secret
from agentd.alerts.secret_scanning.triage import (
    GitBaseReader,
    Triage,
    cleanup_decision,
    follow_up,
    triage,
)
from agentd.engine.context import RunContext, Workspace
from agentd.errors import UnitError
from agentd.github.client import GitHubError
from agentd.github.models import SecretScanningAlert
from agentd.inventory import ClassInventory
from agentd.paths import confine
from agentd.profile import Repository, Target
from agentd.report import utc_now
from agentd.stamp import Stamp
from agentd.verify import VerificationResult
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult

NEVER_MERGED = (
    "secret-scanning cleanup PRs are never merged; a person reviews, merges, and rotates the secret"
)


@dataclass
class _Alert:
    alert: SecretScanningAlert
    triage: Triage


@dataclass
class _Cleanup:
    after: dict[str, str] = field(default_factory=dict)  # path → text with the secret replaced
    notes: list[str] = field(default_factory=list)


class SecretScanningPlugin(AlertPlugin):
    alert_class = AlertClass.SECRET_SCANNING
    disabled_reason = ReasonCode.SECRET_SCANNING_DISABLED
    may_merge = False

    def plan(
        self, ctx: RunContext, repo: Repository, alerts: ClassInventory, base: str, default: str
    ) -> list[Unit]:
        # The base is fetched only when there is an alert to triage against it.
        reader = _base_reader(ctx, repo, base) if alerts.alerts else None
        units = []
        for listed in sorted(alerts.alerts, key=lambda a: a.number):
            if ctx.stop.requested:
                break
            units.append(self._unit(ctx, repo, base, default, listed, reader))
        return units

    def _unit(
        self,
        ctx: RunContext,
        repo: Repository,
        base: str,
        default: str,
        listed: SecretScanningAlert,
        reader: GitBaseReader | None,
    ) -> Unit:
        try:
            alert = ctx.api.secret_scanning_alert(repo.repo, listed.number)
            locations = ctx.api.secret_locations(repo.repo, listed.number)
        except GitHubError as exc:
            failed = UnitResult(
                outcome=exc.outcome, reason=exc.reason, detail=f"cannot read alert: {exc}"
            )
            return new_unit(
                ctx, self.alert_class, repo, base, None, default_branch=default,
                qualifier=listed.number, alert_number=listed.number,
                alert_numbers=[listed.number], settled=failed,
            )  # fmt: skip
        found = triage(alert, locations, reader)
        target = _target(found, repo.targets)
        return new_unit(
            ctx, self.alert_class, repo, base, target, default_branch=default,
            qualifier=alert.number, triage_state=found.state.value,
            manual_follow_up=follow_up(found),
            notes=[f"secret type: {alert.secret_type_display_name or alert.secret_type}"],
            alert_number=alert.number, alert_numbers=[alert.number],
            payload=_Alert(alert, found),
        )  # fmt: skip

    def propose(self, ctx: RunContext, unit: Unit, ws: Workspace) -> Proposal:
        found: _Alert = unit.payload
        refusal = cleanup_decision(found.triage)
        if refusal is not None:
            assert refusal.reason is not None  # noqa: S101 - refusals carry a reason
            raise UnitError(refusal.reason, refusal.detail, refusal.outcome)
        if unit.target is None or AlertClass.SECRET_SCANNING not in unit.target.alert_classes:
            raise UnitError(
                ReasonCode.POLICY_BLOCKED, "no target takes secret-scanning alerts for these files"
            )
        policy = ctx.profile.profile.defaults.secret_scanning
        if not (policy.prepare_cleanup_prs and policy.allow_placeholder_replacements):
            raise UnitError(
                ReasonCode.POLICY_BLOCKED,
                "the profile does not allow cleanup PRs with placeholder replacements",
            )
        cleanup = _cleanup(found, ws)
        paths = ", ".join(sorted(cleanup.after))
        return Proposal(
            intent=f"open a cleanup PR for {paths}", summary=cleanup.notes, payload=cleanup
        )

    def apply(self, ctx: RunContext, unit: Unit, proposal: Proposal, ws: Workspace) -> Change:
        cleanup: _Cleanup = proposal.payload
        for path, text in cleanup.after.items():
            confine(ws.path, path).write_text(text, encoding="utf-8")
        return Change(files=sorted(cleanup.after), summary=cleanup.notes, payload=cleanup)

    def recheck(self, ctx: RunContext, unit: Unit, change: Change, ws: Workspace) -> None:
        found: _Alert = unit.payload
        secret = (found.alert.secret or "").encode()
        left = [p for p in change.files if secret and secret in (ws.read(p) or b"")]
        if left:
            raise UnitError(
                ReasonCode.VERIFICATION_FAILED, f"the secret is still in {', '.join(left)}"
            )

    def hold(self, ctx: RunContext, unit: Unit, change: Change) -> Hold | None:
        return Hold(ReasonCode.POLICY_BLOCKED, NEVER_MERGED)

    def describe(
        self,
        ctx: RunContext,
        unit: Unit,
        change: Change,
        verification: VerificationResult,
        hold: Hold | None,
    ) -> Description:
        found: _Alert = unit.payload
        alert = found.alert
        assert unit.target is not None  # noqa: S101 - checked when proposing
        secret_type = alert.secret_type or "secret"
        template = ctx.profile.profile.defaults.secret_scanning.pr_title_template
        title = pr_title(template, unit, secret_type=secret_type, alert_number=str(alert.number))
        message = (
            f"fix(secret-scanning): remove a committed {secret_type} from "
            f"{unit.target.target_id}\n\nSecret-scanning alert #{alert.number}. "
            f"The credential must be rotated at its provider.\n\nRemediation-Key: {unit.key}\n"
        )
        stamp = Stamp(
            remediation_key=unit.key,
            alert_class=AlertClass.SECRET_SCANNING,
            target_id=unit.target.target_id,
            base_branch=unit.base,
            alert_number=alert.number,
            secret_type=alert.secret_type or "unknown",
            agent_version=__version__,
            last_pass_at=utc_now(),
        )
        return Description(title, _body(unit, found, change, verification), message, stamp)

    def open_alerts(self, ctx: RunContext, repo: Repository) -> set[int]:
        return {a.number for a in ctx.api.secret_scanning_alerts(repo.repo)}

    def orphaned(self, ctx: RunContext, repo: Repository, stamp: Stamp) -> Orphan:
        assert stamp.alert_number is not None  # noqa: S101 - secret stamps carry one
        alert = ctx.api.secret_scanning_alert(repo.repo, stamp.alert_number)
        if alert.state == "resolved":
            how = f" as {alert.resolution}" if alert.resolution else ""
            why = f"secret-scanning alert #{alert.number} was resolved{how}"
        else:
            why = f"no unit of this run covers secret-scanning alert #{alert.number} any more"
        return Orphan(ReasonCode.SUPERSEDED, why)


def _base_reader(ctx: RunContext, repo: Repository, base: str) -> GitBaseReader | None:
    if not ctx.git_for(repo).is_repository():
        return None
    return GitBaseReader(ctx.refreshed(repo, base), f"refs/remotes/origin/{base}")


def _target(found: Triage, targets: list[Target]) -> Target | None:
    return next((t for p in found.present_paths if (t := target_for(p, targets)) is not None), None)


def _cleanup(found: _Alert, ws: Workspace) -> _Cleanup:
    secret = found.alert.secret or ""
    cleanup = _Cleanup()
    for path in found.triage.present_paths:
        try:
            text = confine(ws.path, path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise UnitError(
                ReasonCode.POLICY_BLOCKED, f"{path} is not a text file; clean it up by hand"
            ) from None
        replaced = replace_secret(path, text, secret, found.alert.secret_type)
        if replaced.text is None:
            raise UnitError(ReasonCode.POLICY_BLOCKED, replaced.reason)
        cleanup.after[path] = replaced.text
        cleanup.notes.append(replaced.reason)
    return cleanup


def _verified(verification: VerificationResult) -> str:
    if verification.elsewhere:
        return f"not run by agentd; {verification.elsewhere}"
    return "passed" if verification.passed else "did not pass (see the run report)"


def _body(unit: Unit, found: _Alert, change: Change, verification: VerificationResult) -> str:
    alert = found.alert
    kind = alert.secret_type_display_name or alert.secret_type or "secret"
    lines = [
        f"agentd removes a committed **{kind}** from `{unit.base}` "
        f"(secret-scanning alert [#{alert.number}]({alert.html_url})).",
        "",
        "**Removing it from the code does not make it safe.** Treat the credential as compromised.",
        "",
        "### Changes",
        "",
        *[f"- {note}" for note in change.summary],
        "",
        f"Triage state: `{unit.triage_state}`. Verification: {_verified(verification)}.",
        "",
        "### Manual follow-up",
        "",
        *[f"- [ ] {action}" for action in unit.manual_follow_up],
        "",
        "This PR is never merged by agentd, and agentd never dismisses or resolves the alert.",
    ]
    return "\n".join(lines)
