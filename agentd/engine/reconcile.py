"""Reconcile: close agent-managed PRs that no unit of this run stands behind (SPEC §5).

Generic over alert classes, like Renovate's prune step: the run records which remediation
keys each class planned per repository (only where that class's alerts were read
completely). An open PR authored by agentd's own account, from the repository itself,
whose valid stamp carries a key of this repository that no unit planned in this run, is
closed with a comment saying why — the plug-in of the stamp's class says why
(`superseded`, `advisory_withdrawn`, `dependency_removed`, …) — and reported as a unit.
PRs are found by their stamp, not by branch name, so a changed `branch_template` does not
orphan them. Native Dependabot PRs, other people's PRs and PRs without a valid stamp are
never touched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from agentd.alerts.registry import plugin_for
from agentd.delivery.pulls import agent_pulls, valid_stamp
from agentd.engine.context import RunContext
from agentd.engine.lifecycle import settle
from agentd.github.client import GitHubError
from agentd.github.models import PullRequest
from agentd.inventory import parallel_map
from agentd.log import get_logger
from agentd.profile import Repository
from agentd.report import UnitRecord
from agentd.stamp import Stamp
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)

log = get_logger("reconcile")


class PlannedKeys:
    """The keys each class planned per repository in its latest iteration."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[AlertClass, dict[str, set[str]]] = {}

    def forget(self, alert_class: AlertClass) -> None:
        with self._lock:
            self._keys[alert_class] = {}

    def add(self, alert_class: AlertClass, repo: str, keys: Iterable[str]) -> None:
        with self._lock:
            self._keys.setdefault(alert_class, {}).setdefault(repo, set()).update(keys)

    def complete_classes(self, repo: str) -> set[AlertClass]:
        """Classes whose alerts of `repo` were read completely (its picture is whole)."""
        with self._lock:
            return {c for c, repos in self._keys.items() if repo in repos}

    def planned(self, alert_class: AlertClass, repo: str, key: str) -> bool:
        with self._lock:
            return key in self._keys.get(alert_class, {}).get(repo, set())


def reconcile(ctx: RunContext, planned: PlannedKeys) -> list[UnitRecord]:
    """Close the orphaned agentd PRs; a report_only or dry run reports which it would close.
    Repositories are reconciled in parallel (`max_parallel_repos`), from the run's listing
    of their open PRs."""
    repos = [
        repo
        for repo in ctx.profile.repositories
        if ctx.profile.automation_mode(repo) is AutomationMode.ACTIVE
        and planned.complete_classes(repo.repo)
    ]
    workers = ctx.profile.profile.runtime.max_parallel_repos
    done = parallel_map(lambda repo: _reconcile(ctx, planned, repo), repos, workers)
    return [record for records in done for record in records]


def _reconcile(ctx: RunContext, planned: PlannedKeys, repo: Repository) -> list[UnitRecord]:
    classes = planned.complete_classes(repo.repo)
    try:
        pulls = agent_pulls(ctx.pulls, repo.repo, ctx.login())
    except GitHubError as exc:
        log.warning("cannot list PRs for reconcile", extra={"repo": repo.repo, "why": str(exc)})
        return []
    records = []
    for pull, stamp in _stamped(pulls):
        if stamp.alert_class not in classes or not _belongs(ctx, repo, stamp):
            continue
        if planned.planned(stamp.alert_class, repo.repo, stamp.remediation_key):
            continue
        log.debug(
            "orphaned agentd PR",
            extra={"repo": repo.repo, "pr": pull.number, "key": stamp.remediation_key},
        )
        record = _close(ctx, repo, pull, stamp)
        if record is not None:
            records.append(record)
    return records


def _stamped(pulls: list[PullRequest]) -> list[tuple[PullRequest, Stamp]]:
    return [(pull, stamp) for pull in pulls if (stamp := valid_stamp(pull)) is not None]


def _belongs(ctx: RunContext, repo: Repository, stamp: Stamp) -> bool:
    return stamp.remediation_key.startswith(f"{ctx.profile.profile.owner}/{repo.repo}:")


def _close(ctx: RunContext, repo: Repository, pull: PullRequest, stamp: Stamp) -> UnitRecord | None:
    if ctx.policy.mode.may_push and not _still_orphaned(ctx, repo, pull, stamp):
        return None
    result = settle(stamp.remediation_key, lambda: _close_orphan(ctx, repo, pull, stamp))
    return UnitRecord(
        repository=repo.repo,
        base=stamp.base_branch,
        target_id=stamp.target_id,
        remediation_key=stamp.remediation_key,
        alert_class=stamp.alert_class,
        result=result,
        unit_pass=UnitPass.REMEDIATION,
        pr_source=PRSource.AGENT_MANAGED,
        pr_url=pull.html_url,
        pr_number=pull.number,
        alert_number=stamp.alert_number,
        alert_numbers=[stamp.alert_number] if stamp.alert_number else [],
        advisory_ids=list(stamp.advisory_ids or []),
    )


def _still_orphaned(ctx: RunContext, repo: Repository, pull: PullRequest, stamp: Stamp) -> bool:
    """The run's listing may be older than the PR's state (GitHub's auto-merge merges on its
    own): the PR is read again before it is closed, and left alone unless it is still open
    with the same stamp."""
    try:
        now = ctx.api.pull(repo.repo, pull.number)
    except GitHubError as exc:
        log.warning(
            "cannot read an orphaned PR again; left open",
            extra={"repo": repo.repo, "pr": pull.number, "why": str(exc)},
        )
        return False
    current = valid_stamp(now)
    if now.state != "open" or current is None or current.remediation_key != stamp.remediation_key:
        ctx.pulls.drop(repo.repo, pull.number)
        log.debug("orphan no longer open as it was: left alone", extra={"pr": pull.number})
        return False
    return True


def _close_orphan(ctx: RunContext, repo: Repository, pull: PullRequest, stamp: Stamp) -> UnitResult:
    orphan = plugin_for(stamp.alert_class).orphaned(ctx, repo, stamp)
    if not ctx.policy.mode.may_push:
        return UnitResult.skipped(
            ReasonCode.POLICY_BLOCKED,
            f"{ctx.policy.describe()}: would close PR #{pull.number}: {orphan.explanation}",
        )
    comment = (
        f"agentd is closing this pull request: {orphan.explanation} (`{orphan.reason.value}`). "
        "Nothing else needs to happen; a new alert would get a new pull request."
    )
    ctx.api.create_comment(repo.repo, pull.number, comment)
    ctx.api.update_pull(repo.repo, pull.number, state="closed")
    ctx.pulls.drop(repo.repo, pull.number)
    return UnitResult.skipped(orphan.reason, f"closed PR #{pull.number}: {orphan.explanation}")
