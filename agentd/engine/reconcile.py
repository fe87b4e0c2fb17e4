"""Reconcile: close agent-managed PRs no longer backed by an open alert (SPEC §5).

Only in active repositories whose alerts were read completely in this run; a PR is closed
with a comment saying why, and reported `skipped superseded`, `advisory_withdrawn` or
`dependency_removed`. Native Dependabot PRs and PRs without a valid agentd stamp are never
touched.
"""

from __future__ import annotations

from agentd import ecosystems as depfiles
from agentd.alerts.dependabot.plan import group_by_target, safe_manifest_path
from agentd.audit import unit_key
from agentd.engine.common import resolve_base
from agentd.engine.context import RunContext
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.github.models import DependabotAlert, PullRequest
from agentd.inventory import Coverage, Inventory
from agentd.log import get_logger
from agentd.profile import Repository
from agentd.report import UnitRecord
from agentd.stamp import Stamp, StampError, parse_stamp
from agentd.units import remediation_key
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)

log = get_logger("reconcile")
_EXPLAIN = {
    ReasonCode.SUPERSEDED: "the alerts it addressed are no longer open (fixed elsewhere or dismissed)",
    ReasonCode.ADVISORY_WITHDRAWN: "the advisories it addressed were withdrawn",
    ReasonCode.DEPENDENCY_REMOVED: "the vulnerable dependency is no longer in the repository",
}


def _branch_prefix(template: str) -> str:
    return template.split("{", 1)[0]


def _live_keys(ctx: RunContext, repo: Repository, inventory: Inventory) -> set[str] | None:
    """Keys of Dependabot units with open alerts now; None when the picture is incomplete."""
    entry = inventory.repos.get(repo.repo)
    if entry is None or entry.metadata is None or entry.error:
        return None
    alerts = entry.classes.get(AlertClass.DEPENDABOT)
    if alerts is None or alerts.coverage is not Coverage.ENABLED:
        return None
    base = resolve_base(ctx, repo, entry)
    by_target, _ = group_by_target(list(alerts.alerts), repo.targets)
    owner = ctx.profile.profile.owner
    return {
        remediation_key(owner, repo.repo, AlertClass.DEPENDABOT, base or "?", t) for t in by_target
    }


def reconcile(ctx: RunContext, inventory: Inventory | None) -> list[UnitRecord]:
    if inventory is None or not ctx.policy.mode.may_push:
        return []
    records = []
    prefix = _branch_prefix(ctx.profile.profile.defaults.branch_template)
    for repo in ctx.profile.repositories:
        if ctx.profile.automation_mode(repo) is not AutomationMode.ACTIVE:
            continue
        live = _live_keys(ctx, repo, inventory)
        if live is None:
            continue
        try:
            pulls = [p for p in ctx.api.pulls(repo.repo) if p.head.ref.startswith(prefix)]
        except (GitHubHTTPError, TransientError) as exc:
            log.warning("cannot list PRs for reconcile", extra={"repo": repo.repo, "why": str(exc)})
            continue
        for pull in pulls:
            try:
                stamp = parse_stamp(pull.body)
            except StampError:
                continue
            if stamp is None or stamp.alert_class is not AlertClass.DEPENDABOT:
                continue
            if stamp.remediation_key in live or not stamp.remediation_key.startswith(
                f"{ctx.profile.profile.owner}/{repo.repo}:"
            ):
                continue
            records.append(_close(ctx, repo, pull, stamp))
    return records


def _why_orphaned(ctx: RunContext, repo: Repository, stamp: Stamp) -> ReasonCode:
    wanted = set(stamp.advisory_ids or [])
    alerts: list[DependabotAlert] = [
        a for a in ctx.api.dependabot_alerts(repo.repo, state="auto_dismissed,dismissed,fixed")
        if a.security_advisory.ghsa_id in wanted
    ]  # fmt: skip
    if alerts and all(
        a.state == "auto_dismissed" or a.security_advisory.withdrawn_at for a in alerts
    ):
        return ReasonCode.ADVISORY_WITHDRAWN
    fixed = [a for a in alerts if a.state == "fixed"]
    if fixed and all(not _still_present(ctx, repo, stamp.base_branch, a) for a in fixed):
        return ReasonCode.DEPENDENCY_REMOVED
    return ReasonCode.SUPERSEDED


def _still_present(ctx: RunContext, repo: Repository, base: str, alert: DependabotAlert) -> bool:
    path = safe_manifest_path(alert.dependency.manifest_path)
    if path is None:
        return True
    content = ctx.git_for(repo).show_file(f"refs/remotes/origin/{base}", path)
    if content is None:
        return False
    package = alert.dependency.package
    name = depfiles.normalize_name(package.ecosystem, package.name)
    try:
        found = depfiles.parse_dependency_file(path, content)
    except depfiles.DepfileError:
        return True
    return any(depfiles.normalize_name(d.ecosystem, d.name) == name for d in found)


def _close(ctx: RunContext, repo: Repository, pull: PullRequest, stamp: Stamp) -> UnitRecord:
    reason = _why_orphaned(ctx, repo, stamp)
    comment = (
        f"agentd is closing this pull request: {_EXPLAIN[reason]} (`{reason.value}`). "
        "Nothing else needs to happen; a new alert would get a new pull request."
    )
    with unit_key(stamp.remediation_key):
        ctx.api.create_comment(repo.repo, pull.number, comment)
        ctx.api.update_pull(repo.repo, pull.number, state="closed")
    return UnitRecord(
        repository=repo.repo,
        base=stamp.base_branch,
        target_id=stamp.target_id,
        remediation_key=stamp.remediation_key,
        alert_class=AlertClass.DEPENDABOT,
        result=UnitResult.skipped(reason, f"closed PR #{pull.number}: {_EXPLAIN[reason]}"),
        unit_pass=UnitPass.REMEDIATION,
        pr_source=PRSource.AGENT_MANAGED,
        pr_url=pull.html_url,
        pr_number=pull.number,
        advisory_ids=list(stamp.advisory_ids or []),
    )
