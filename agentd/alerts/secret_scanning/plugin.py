"""The secret-scanning pass (SPEC §9): incident triage and review-only cleanup PRs.

Each open alert gets a triage state (`active`, `revoked`, `historical`, `false_positive`).
A secret still in a tracked text file on the base branch gets a cleanup PR replacing it
with a placeholder or an environment-variable reference, when the profile allows; one that
survives only in history is `blocked history_rewrite_required`. Cleanup PRs are never
merged; agentd never dismisses or resolves alerts, rotates credentials or rewrites history.

The secret value is fetched for one alert at a time, registered with the redactor on
arrival (see `SecretScanningAlert`), held in memory only, and never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentd import __version__
from agentd.alerts.dependabot.plan import safe_manifest_path, target_for
from agentd.alerts.secret_scanning.cleanup import replace_secret
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
)
from agentd.engine.context import RunContext, Workspace
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.github.models import SecretScanningAlert
from agentd.gitops import GitError
from agentd.inventory import RepoInventory
from agentd.profile import Repository, Target
from agentd.redaction import redact
from agentd.report import UnitRecord, utc_now
from agentd.stamp import Stamp, replace_stamp
from agentd.units import branch_name, remediation_key
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    PRSource,
    ReasonCode,
    TriageState,
    UnitPass,
    UnitResult,
)

FOLLOW_UP = (
    "rotate or revoke the credential at its provider now (removing it from the code does not make it safe)",
    "review the provider's access logs for use of the credential since it was first committed",
    "check where else the credential was used or copied (CI variables, other repositories)",
)
HISTORY_FOLLOW_UP = "the secret remains in git history; purge it only if your policy requires (agentd never rewrites history)"


@dataclass
class SecretUnit:
    repo: Repository
    target: Target | None
    base: str
    default_branch: str
    alert: SecretScanningAlert
    paths: list[str]
    key: str
    branch: str
    notes: list[str] = field(default_factory=list)


def process_repository(
    ctx: RunContext, repo: Repository, inventory: RepoInventory
) -> list[UnitOutcome]:
    covered = coverage_outcome(
        ctx, repo, inventory, AlertClass.SECRET_SCANNING, ReasonCode.SECRET_SCANNING_DISABLED
    )
    if isinstance(covered, UnitOutcome):
        return [covered]
    base, entry = covered
    assert inventory.metadata is not None  # noqa: S101
    outcomes = []
    for listed in sorted(entry.alerts, key=lambda a: a.number):
        if ctx.stop.requested:
            break
        outcomes.append(_process_alert(ctx, repo, inventory, base, listed))
    return outcomes


def _process_alert(
    ctx: RunContext,
    repo: Repository,
    inventory: RepoInventory,
    base: str,
    listed: SecretScanningAlert,
) -> UnitOutcome:
    owner = ctx.profile.profile.owner
    try:
        alert = ctx.api.secret_scanning_alert(repo.repo, listed.number)
        locations = ctx.api.secret_locations(repo.repo, listed.number)
    except (GitHubHTTPError, TransientError) as exc:
        key = remediation_key(
            owner, repo.repo, AlertClass.SECRET_SCANNING, base, "*", qualifier=listed.number
        )
        record = UnitRecord(
            repo.repo,
            base,
            "*",
            key,
            AlertClass.SECRET_SCANNING,
            UnitResult.opened_pr(),
            alert_number=listed.number,
        )
        return finish(
            record,
            UnitResult.failed(ReasonCode.VERIFICATION_UNAVAILABLE, f"cannot read alert: {exc}"),
        )
    paths = sorted(
        {
            p
            for loc in locations
            if loc.type == "commit"
            and (p := safe_manifest_path(str(loc.details.get("path", "")))) is not None
        }
    )
    target = next((t for p in paths if (t := target_for(p, repo.targets)) is not None), None)
    target_id = target.target_id if target else "*"
    key = remediation_key(
        owner, repo.repo, AlertClass.SECRET_SCANNING, base, target_id, qualifier=alert.number
    )
    assert inventory.metadata is not None  # noqa: S101
    unit = SecretUnit(
        repo, target, base, inventory.metadata.default_branch, alert, paths, key,
        branch_name(ctx.profile.profile.defaults.branch_template, AlertClass.SECRET_SCANNING, target_id, key, repo.repo),
    )  # fmt: skip
    return _triage_and_clean(ctx, unit)


def _present_on_base(ctx: RunContext, unit: SecretUnit) -> list[str]:
    """Tracked files on the base branch that still contain the secret."""
    secret = unit.alert.secret
    if not secret or not ctx.git_for(unit.repo).is_repository():
        return []
    git = ctx.git_for(unit.repo)
    if ctx.profile.profile.runtime.clone_refresh_policy == "fetch_existing_only":
        git.fetch(f"+refs/heads/{unit.base}:refs/remotes/origin/{unit.base}")
    present = []
    for path in unit.paths:
        content = git.show_file(f"refs/remotes/origin/{unit.base}", path)
        if content is not None and secret.encode() in content:
            present.append(path)
    return present


def _triage(unit: SecretUnit, present: list[str]) -> TriageState:
    alert = unit.alert
    if alert.resolution in ("false_positive", "used_in_tests"):
        return TriageState.FALSE_POSITIVE
    if alert.resolution == "revoked" or alert.validity == "inactive":
        return TriageState.REVOKED
    return TriageState.ACTIVE if present else TriageState.HISTORICAL


def _triage_and_clean(ctx: RunContext, unit: SecretUnit) -> UnitOutcome:
    record = _record(unit)
    try:
        present = _present_on_base(ctx, unit)
    except GitError as exc:
        return finish(record, UnitResult.failed(ReasonCode.VERIFICATION_UNAVAILABLE, f"git: {exc}"))
    triage = _triage(unit, present)
    record.triage_state = triage.value
    record.manual_follow_up = [] if triage is TriageState.FALSE_POSITIVE else list(FOLLOW_UP)
    mode = ctx.profile.automation_mode(unit.repo)
    if mode is not AutomationMode.ACTIVE:
        return finish(
            record,
            UnitResult.skipped(
                ReasonCode.POLICY_BLOCKED, f"repository is {mode.value}; incident recorded"
            ),
        )
    if not ctx.git_for(unit.repo).is_repository():
        return finish(
            record,
            UnitResult.skipped(ReasonCode.CLONE_MISSING, f"no git clone at {unit.repo.local_path}"),
        )
    if not present:
        record.manual_follow_up.append(HISTORY_FOLLOW_UP)
        return finish(record, UnitResult.blocked(
            ReasonCode.HISTORY_REWRITE_REQUIRED, "the secret is no longer on the base branch; it survives only in history"
        ))  # fmt: skip
    policy = ctx.profile.profile.defaults.secret_scanning
    if unit.target is None or AlertClass.SECRET_SCANNING not in unit.target.alert_classes:
        return finish(
            record,
            UnitResult.blocked(
                ReasonCode.POLICY_BLOCKED, "no target takes secret-scanning alerts for these files"
            ),
        )
    if not (policy.prepare_cleanup_prs and policy.allow_placeholder_replacements):
        return finish(
            record,
            UnitResult.blocked(
                ReasonCode.POLICY_BLOCKED,
                "the profile does not allow cleanup PRs with placeholder replacements",
            ),
        )
    if not ctx.policy.mode.may_push:
        return finish(
            record,
            UnitResult.skipped(
                ReasonCode.POLICY_BLOCKED,
                f"mutation mode {ctx.policy.mode.value}: would open a cleanup PR for {', '.join(present)}",
            ),
        )
    try:
        with ctx.worktree(unit.repo, unit.base, unit.key) as ws:
            return _clean(ctx, unit, ws, record, present)
    except UNIT_FAULTS as exc:
        return finish(record, unit_fault(exc))


def _clean(
    ctx: RunContext, unit: SecretUnit, ws: Workspace, record: UnitRecord, present: list[str]
) -> UnitOutcome:
    secret = unit.alert.secret or ""
    changed = []
    for path in present:
        file = (ws.path / path).resolve()
        if ws.path.resolve() not in file.parents:
            return finish(
                record,
                UnitResult.blocked(
                    ReasonCode.POLICY_BLOCKED, f"{path} resolves outside the repository"
                ),
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return finish(
                record,
                UnitResult.blocked(
                    ReasonCode.POLICY_BLOCKED, f"{path} is not a text file; clean it up by hand"
                ),
            )
        cleanup = replace_secret(path, text, secret, unit.alert.secret_type)
        if cleanup.text is None:
            return finish(record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, cleanup.reason))
        file.write_text(cleanup.text, encoding="utf-8")
        unit.notes.append(cleanup.reason)
        changed.append(path)
    record.changes = list(unit.notes)
    assert unit.target is not None  # noqa: S101 - checked by the caller
    verification = verify_target(ctx, unit.target, ws.path)
    record_verification(record, verification)
    secret_type = unit.alert.secret_type or "secret"
    ws.tree.commit_all(
        f"fix(secret-scanning): remove a committed {secret_type} from {unit.target.target_id}\n\n"
        f"Secret-scanning alert #{unit.alert.number}. The credential must be rotated at its provider.\n\n"
        f"Remediation-Key: {unit.key}\n",
        changed,
    )
    title = pr_title(
        ctx.profile.profile.defaults.secret_scanning.pr_title_template,
        secret_type=secret_type, target_id=unit.target.target_id, repo=unit.repo.repo,
        alert_class="secret_scanning", alert_number=str(unit.alert.number),
    )  # fmt: skip
    try:
        published = publish(
            ctx,
            ws,
            repo=unit.repo.repo,
            branch=unit.branch,
            base=unit.base,
            protected=[unit.base, unit.default_branch],
            title=title,
            body=_body(unit, record, verification.passed),
        )
    except BudgetExhaustedError as exc:
        return finish(record, UnitResult.blocked(ReasonCode.POLICY_BLOCKED, str(exc)))
    record.pr_source, record.pr_url, record.pr_number = (
        PRSource.AGENT_MANAGED,
        published.pull.html_url,
        published.pull.number,
    )
    record.unit_pass = UnitPass.REMEDIATION
    result = UnitResult.opened_pr(
        ReasonCode.POLICY_BLOCKED,
        "secret-scanning cleanup PRs are never merged; a person reviews, merges, and rotates the secret",
    )
    record.result = result
    return UnitOutcome(record, opened=published.created or published.pushed)


def _body(unit: SecretUnit, record: UnitRecord, verified: bool) -> str:
    alert = unit.alert
    lines = [
        f"agentd removes a committed **{alert.secret_type_display_name or alert.secret_type or 'secret'}** "
        f"from `{unit.base}` (secret-scanning alert [#{alert.number}]({alert.html_url})).",
        "",
        "**Removing it from the code does not make it safe.** Treat the credential as compromised.",
        "",
        "### Changes",
        "",
        *[f"- {note}" for note in unit.notes],
        "",
        f"Triage state: `{record.triage_state}`. Verification: {'passed' if verified else 'did not pass (see the run report)'}.",
        "",
        "### Manual follow-up",
        "",
        *[f"- [ ] {action}" for action in record.manual_follow_up],
        "",
        "This PR is never merged by agentd, and agentd never dismisses or resolves the alert.",
    ]
    stamp = Stamp(
        remediation_key=unit.key,
        alert_class=AlertClass.SECRET_SCANNING,
        target_id=unit.target.target_id if unit.target else "none",
        base_branch=unit.base,
        alert_number=alert.number,
        secret_type=alert.secret_type or "unknown",
        agent_version=__version__,
        last_pass_at=utc_now(),
    )
    return redact(replace_stamp("\n".join(lines), stamp))


def _record(unit: SecretUnit) -> UnitRecord:
    return UnitRecord(
        repository=unit.repo.repo,
        base=unit.base,
        target_id=unit.target.target_id if unit.target else "*",
        remediation_key=unit.key,
        alert_class=AlertClass.SECRET_SCANNING,
        result=UnitResult.opened_pr(),
        alert_number=unit.alert.number,
        alert_numbers=[unit.alert.number],
        platform_constraints=list(unit.target.platform_constraints) if unit.target else [],
        notes=[f"secret type: {unit.alert.secret_type_display_name or unit.alert.secret_type}"],
    )
