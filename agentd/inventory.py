"""What GitHub knows about a profile's repositories: metadata, scanning coverage, alerts.

Repository metadata comes from one listing of the owner's repositories per run
(`GitHubAPI.repositories`), never from one read per repository. For an organisation, open
alerts of each class come from one paginated organisation stream; a repository absent from
a stream is settled by the listing's `security_and_analysis` where that is conclusive, else
(code scanning) by the organisation's code security configurations
(`agentd.code_security`), else by a remembered probe answer (`agentd.coverage_memory`),
else probed on its own, so that "disabled", "no analysis" and "zero alerts" are told
apart — coverage is never reported as zero alerts. For a user, every repository's alerts are read on its own. Independent reads
run concurrently.

A rate-limit stop aborts the whole inventory: agentd never acts on (or presents) a partial
picture as complete. Other failures (HTTP errors, faults retries did not cure, malformed
answers, pagination that was refused) are recorded per repository and class as
`unavailable`, or as the repository's `error` for its metadata, with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from agentd.code_security import default_setup_repositories
from agentd.coverage_memory import CoverageMemory
from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubError, GitHubHTTPError
from agentd.github.models import (
    CodeScanningAlert,
    DependabotAlert,
    FeatureStatus,
    Repository,
    SecretScanningAlert,
)
from agentd.log import get_logger
from agentd.vocabulary import AlertClass

log = get_logger("inventory")
T = TypeVar("T")
R = TypeVar("R")
Alert = DependabotAlert | CodeScanningAlert | SecretScanningAlert


class Coverage(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    NO_ANALYSIS = "no_analysis"
    UNAVAILABLE = "unavailable"  # could not be read (permissions, repeated faults)


@dataclass
class ClassInventory:
    coverage: Coverage
    alerts: list[Any] = field(default_factory=list)
    detail: str = ""

    @property
    def open_count(self) -> int | None:
        return len(self.alerts) if self.coverage is Coverage.ENABLED else None


@dataclass
class RepoInventory:
    name: str
    metadata: Repository | None = None
    error: str = ""
    classes: dict[AlertClass, ClassInventory] = field(default_factory=dict)

    def alerts(self, alert_class: AlertClass) -> list[Any]:
        entry = self.classes.get(alert_class)
        return entry.alerts if entry else []


@dataclass
class Inventory:
    repos: dict[str, RepoInventory]
    used_org_endpoints: bool

    def open_counts(self) -> dict[str, int]:
        totals = {c.value: 0 for c in AlertClass}
        for repo in self.repos.values():
            for alert_class, entry in repo.classes.items():
                totals[alert_class.value] += len(entry.alerts)
        return totals


def parallel_map(fn: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """Map in threads; the first exception (e.g. a rate-limit stop) propagates."""
    items = list(items)
    if len(items) <= 1 or max_workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="agentd-read") as pool:
        return list(pool.map(fn, items))


_LISTERS: dict[AlertClass, Callable[[GitHubAPI, str | None], Iterable[Any]]] = {
    AlertClass.DEPENDABOT: lambda api, repo: api.dependabot_alerts(repo),
    AlertClass.CODE_SCANNING: lambda api, repo: api.code_scanning_alerts(repo),
    AlertClass.SECRET_SCANNING: lambda api, repo: api.secret_scanning_alerts(repo),
}


def _coverage_error(alert_class: AlertClass, exc: GitHubHTTPError) -> ClassInventory:
    """Map GitHub's coverage answers (facts §1 to §3) onto a coverage state."""
    message = exc.message.lower()
    if "not accessible" in message or "saml" in message or exc.status == 401:
        return ClassInventory(Coverage.UNAVAILABLE, detail=exc.message)
    if alert_class is AlertClass.CODE_SCANNING:
        if exc.status == 404 and "no analysis" in message:
            return ClassInventory(Coverage.NO_ANALYSIS, detail=exc.message)
        if exc.status == 403 and ("not enabled" in message or "must be enabled" in message):
            return ClassInventory(Coverage.DISABLED, detail=exc.message)
        if exc.status == 403:  # any other refusal is about the token, not the repository
            return ClassInventory(
                Coverage.UNAVAILABLE,
                detail=f"HTTP 403: {exc.message} — grant the token security_events (classic) "
                "or 'Code scanning alerts: read' (fine-grained)",
            )
    if alert_class is AlertClass.SECRET_SCANNING and exc.status == 404 and message == "not found":
        return ClassInventory(
            Coverage.UNAVAILABLE,
            detail="HTTP 404: Not Found — GitHub shows secret-scanning alerts only to a "
            "repository admin or a security manager: grant the token's account admin on the "
            "repository, or the organisation's security manager role",
        )
    if alert_class is AlertClass.SECRET_SCANNING and exc.status == 404 and "disabled" in message:
        return ClassInventory(Coverage.DISABLED, detail=exc.message)
    if (
        alert_class is AlertClass.DEPENDABOT
        and exc.status == 403
        and ("disabled" in message or "not available" in message)
    ):
        return ClassInventory(Coverage.DISABLED, detail=exc.message)
    return ClassInventory(Coverage.UNAVAILABLE, detail=f"HTTP {exc.status}: {exc.message}")


def _read_repo_class(api: GitHubAPI, repo: str, alert_class: AlertClass) -> ClassInventory:
    try:
        alerts = list(_LISTERS[alert_class](api, repo))
    except GitHubHTTPError as exc:
        return _coverage_error(alert_class, exc)
    except GitHubError as exc:
        return ClassInventory(Coverage.UNAVAILABLE, detail=str(exc))
    return ClassInventory(Coverage.ENABLED, alerts)


def _org_stream(api: GitHubAPI, alert_class: AlertClass) -> dict[str, list[Any]] | None:
    """Open alerts of one class for the whole organisation, by repository; None if the
    organisation endpoint cannot be used (then every repository is read on its own)."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    try:
        for alert in _LISTERS[alert_class](api, None):
            if alert.repository is not None:
                grouped[alert.repository.name].append(alert)
    except GitHubError as exc:
        log.info(
            "organisation alert endpoint unavailable; reading repositories one by one",
            extra={"alert_class": alert_class.value, "why": str(exc)},
        )
        return None
    return grouped


def _read_metadata(api: GitHubAPI, repo: str) -> RepoInventory:
    try:
        return RepoInventory(repo, metadata=api.listed_repository(repo))
    except GitHubHTTPError as exc:
        return RepoInventory(repo, error=f"HTTP {exc.status}: {exc.message}")
    except GitHubError as exc:
        return RepoInventory(repo, error=str(exc))


def _enabled(feature: FeatureStatus | None) -> bool | None:
    return None if feature is None else feature.status == "enabled"


def _from_listing(
    metadata: Repository, alert_class: AlertClass, stream_read: bool
) -> ClassInventory | None:
    """Coverage the listing's `security_and_analysis` settles without a probe (None when it
    does not, or the token may not see the block)."""
    security = metadata.security_and_analysis
    if security is None:
        return None
    # GitHub serves no Dependabot alerts for an archived repository whatever its settings
    # say: only a probe tells what its alert lists answer.
    stream_read = stream_read and not metadata.archived
    if alert_class is AlertClass.SECRET_SCANNING:
        enabled = _enabled(security.secret_scanning)
        if enabled is False:
            return ClassInventory(
                Coverage.DISABLED, detail="security_and_analysis: secret scanning is disabled"
            )
        # Enabled and absent from the organisation stream: no open alerts.
        return ClassInventory(Coverage.ENABLED) if enabled and stream_read else None
    if alert_class is AlertClass.DEPENDABOT:
        # Security updates need Dependabot alerts: enabled updates mean enabled alerts.
        updates = _enabled(security.dependabot_security_updates)
        return ClassInventory(Coverage.ENABLED) if updates and stream_read else None
    # Code scanning on a private repository needs Advanced Security or Code Security;
    # enabled says nothing about whether an analysis exists ("no analysis" vs zero alerts).
    licences = [_enabled(security.advanced_security), _enabled(security.code_security)]
    if metadata.private and False in licences and True not in licences:
        return ClassInventory(
            Coverage.DISABLED,
            detail="security_and_analysis: neither Advanced Security nor Code Security is "
            "enabled on this private repository",
        )
    return None


@dataclass
class _Coverage:
    """Decides each repository's coverage of each class with as few probes as possible."""

    api: GitHubAPI
    streams: dict[AlertClass, dict[str, list[Any]] | None]
    memory: CoverageMemory | None

    def settled(self, repo: RepoInventory, alert_class: AlertClass) -> ClassInventory | None:
        stream = self.streams.get(alert_class)
        if stream is not None and repo.name in stream:
            if self.memory is not None:
                self.memory.forget(self.api.owner, repo.name, alert_class)
            return ClassInventory(Coverage.ENABLED, stream[repo.name])
        if repo.metadata is not None:
            listed = _from_listing(repo.metadata, alert_class, stream is not None)
            if listed is not None:
                return listed
        if (
            stream is not None
            and (configured := self._default_setup(repo, alert_class)) is not None
        ):
            if self.memory is not None:
                self.memory.forget(self.api.owner, repo.name, alert_class)
            return configured
        if stream is None or self.memory is None:
            return None
        remembered = self.memory.recall(self.api.owner, repo.name, alert_class)
        if remembered is None:
            return None
        return ClassInventory(Coverage(remembered.coverage), detail=remembered.detail)

    def _default_setup(self, repo: RepoInventory, alert_class: AlertClass) -> ClassInventory | None:
        """Code scanning on through a configuration's default setup, and the repository
        absent from the stream: enabled with no open alerts. An archived repository is
        probed (no configuration runs an analysis there)."""
        archived = repo.metadata is not None and repo.metadata.archived
        if alert_class is AlertClass.CODE_SCANNING and not archived:
            setups = default_setup_repositories(self.api)
            found = setups.get(repo.name.lower()) if setups is not None else None
            if found is not None:
                return ClassInventory(Coverage.ENABLED, detail=found.detail)
        return None

    def probed(self, name: str, alert_class: AlertClass) -> ClassInventory:
        entry = _read_repo_class(self.api, name, alert_class)
        if self.memory is not None and self.streams.get(alert_class) is not None:
            self.memory.remember(
                self.api.owner, name, alert_class, entry.coverage.value, entry.detail
            )
        return entry


def collect_inventory(
    api: GitHubAPI,
    repos: Sequence[str],
    alert_classes: Sequence[AlertClass],
    max_workers: int = 8,
    memory: CoverageMemory | None = None,
) -> Inventory:
    """Metadata, coverage and open alerts for `repos`. Raises RateLimitedError.

    The owner's repository listing (once per run) and the organisation streams are read
    concurrently; a repository is then probed only for a class neither they, the listing's
    `security_and_analysis` nor the coverage memory settle."""
    use_org = api.owner_type == "org"
    tasks: list[Callable[[], Any]] = [api.repositories]
    if use_org:
        tasks += [partial(_org_stream, api, c) for c in alert_classes]
    results = parallel_map(lambda task: task(), tasks, max_workers)
    streams: dict[AlertClass, dict[str, list[Any]] | None] = (
        dict(zip(alert_classes, results[1:], strict=True)) if use_org else {}
    )
    metadata = parallel_map(partial(_read_metadata, api), repos, max_workers)
    inventory = Inventory({r.name: r for r in metadata}, use_org)
    coverage = _Coverage(api, streams, memory)

    probes: list[tuple[str, AlertClass]] = []
    for name, repo in inventory.repos.items():
        if repo.error:
            continue
        for alert_class in alert_classes:
            entry = coverage.settled(repo, alert_class)
            if entry is None:
                probes.append((name, alert_class))
            else:
                repo.classes[alert_class] = entry

    for (name, alert_class), entry in zip(
        probes, parallel_map(lambda item: coverage.probed(*item), probes, max_workers), strict=True
    ):
        inventory.repos[name].classes[alert_class] = entry
    if memory is not None:
        memory.save()
    return inventory
