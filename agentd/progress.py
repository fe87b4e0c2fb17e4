"""What a run is doing while it runs: the engine reports, an observer tells people.

The engine (`agentd.engine.run`) calls a `RunObserver` at a handful of points: the run
starts, a pass of an alert class starts and has read its alerts, a repository starts and
ends, closing orphaned PRs starts, the run ends. `ProgressLog` turns those calls into log
lines of the `agentd.progress` logger — on a terminal (human log format) plain sentences
such as `[12/250] payments-api: dependabot merged #41 (2 alerts)`, in JSON mode the same
as one object per line with an `event` field and the facts as fields. Once a repository of
a pass has finished, each end line says about how long the pass has left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from agentd.log import get_logger
from agentd.report import RunSummary, UnitRecord
from agentd.vocabulary import AlertClass, Outcome

log = get_logger("progress")
MAX_UNITS_SHOWN = 3
MIN_ETA_SECONDS = 5  # below this an estimate is noise


class RunObserver:
    """The engine's progress interface; every method does nothing unless overridden."""

    def run_started(self, run_id: str, profile_id: str, mode: str, repositories: int) -> None:
        return None

    def pass_started(self, alert_class: AlertClass, number: int, repositories: int) -> None:
        return None

    def alerts_read(self, alert_class: AlertClass, number: int, open_alerts: int) -> None:
        return None

    def repository_started(self, alert_class: AlertClass, repo: str, open_alerts: int) -> None:
        return None

    def repository_finished(
        self, alert_class: AlertClass, repo: str, records: Sequence[UnitRecord]
    ) -> None:
        return None

    def reconcile_started(self) -> None:
        return None

    def run_finished(self, summary: RunSummary) -> None:
        return None


def _label(alert_class: AlertClass) -> str:
    return alert_class.value.replace("_", " ")


def _count(count: int, singular: str, plural: str = "") -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def _repositories(count: int) -> str:
    return _count(count, "repository", "repositories")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _alerts(record: UnitRecord) -> int:
    return len(record.alert_numbers) or (1 if record.alert_number else 0)


def _reason(record: UnitRecord) -> str | None:
    reason = record.result.reason or record.result.remaining_blocker
    return reason.value if reason else None


def describe_unit(record: UnitRecord) -> str:
    """One unit's state in a few words: `merged #41 (2 alerts)`, `blocked verification_failed`."""
    outcome = record.outcome
    pr = f" #{record.pr_number}" if record.pr_number else ""
    if outcome is Outcome.MERGED:
        text = f"merged{pr}"
    elif outcome is Outcome.OPENED_PR:
        blocker = _reason(record)
        text = f"PR{pr} open" + (f", waiting: {blocker}" if blocker else "")
    else:
        text = outcome.value + (f" {_reason(record)}" if _reason(record) else "")
    count = _alerts(record)
    return text + (f" ({_count(count, 'alert')})" if count else "")


def describe_repository(alert_class: AlertClass, records: Sequence[UnitRecord]) -> str:
    """`dependabot merged #41 (2 alerts); blocked verification_failed (1 alert)`."""
    if not records:
        return f"no open {_label(alert_class)} alerts"
    parts = [describe_unit(r) for r in records[:MAX_UNITS_SHOWN]]
    if len(records) > MAX_UNITS_SHOWN:
        parts.append(f"and {len(records) - MAX_UNITS_SHOWN} more")
    return f"{_label(alert_class)} {'; '.join(parts)}"


def outcome_counts(summary: RunSummary) -> str:
    counts = ", ".join(f"{n} {o}" for o, n in summary.outcome_counts().items() if n)
    return counts or "no units"


def run_headline(summary: RunSummary) -> str:
    """What `agentd run` says last: `2 merged, 1 blocked; agentd report --run <id> ...`."""
    return (
        f"{outcome_counts(summary)}"
        + (" (dry run: nothing was changed)" if summary.dry_run else "")
        + f"; `agentd report --run {summary.run_id}` shows this report again"
    )


class _Pass:
    """Counters of the pass in progress (its repositories run in parallel threads)."""

    def __init__(self, alert_class: AlertClass, number: int, total: int) -> None:
        self.alert_class = alert_class
        self.number = number
        self.total = total
        self.started = 0
        self.finished = 0
        self.began = time.monotonic()

    def eta(self) -> float | None:
        """Seconds the pass has left, once a repository has finished."""
        if not self.finished or self.finished >= self.total:
            return None
        elapsed = time.monotonic() - self.began
        return elapsed / self.finished * (self.total - self.finished)


class ProgressLog(RunObserver):
    """Progress as INFO lines of the `agentd.progress` logger (stderr; stdout keeps the report)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pass = _Pass(AlertClass.DEPENDABOT, 0, 0)
        self._run_began = time.monotonic()

    def _emit(self, message: str, event: str, **fields: Any) -> None:
        log.info(message, extra={"event": event, **fields})

    def run_started(self, run_id: str, profile_id: str, mode: str, repositories: int) -> None:
        self._run_began = time.monotonic()
        self._emit(
            f"run {run_id}: profile {profile_id}, mode {mode}, {_repositories(repositories)}",
            "run_started",
            run_id=run_id,
            profile=profile_id,
            mutation_mode=mode,
            repositories=repositories,
        )

    def pass_started(self, alert_class: AlertClass, number: int, repositories: int) -> None:
        with self._lock:
            self._pass = _Pass(alert_class, number, repositories)
        label = _label(alert_class)
        if number == 1:
            doing = f"reading the {label} alerts of {_repositories(repositories)}"
        else:
            doing = (
                f"PRs were opened or merged in pass {number - 1}, which can fix or reveal "
                "alerts; reading the alerts again"
            )
        self._emit(
            f"{label}, pass {number}: {doing}",
            "pass_started",
            alert_class=alert_class.value,
            pass_number=number,
            repositories=repositories,
        )

    def alerts_read(self, alert_class: AlertClass, number: int, open_alerts: int) -> None:
        with self._lock:
            self._pass.began = time.monotonic()  # the estimate counts repository work only
        self._emit(
            f"{_label(alert_class)}, pass {number}: {_count(open_alerts, 'open alert')}; "
            "working through the repositories",
            "alerts_read",
            alert_class=alert_class.value,
            pass_number=number,
            open_alerts=open_alerts,
        )

    def repository_started(self, alert_class: AlertClass, repo: str, open_alerts: int) -> None:
        with self._lock:
            self._pass.started += 1
            index, total, number = self._pass.started, self._pass.total, self._pass.number
        self._emit(
            f"[{index}/{total}] {repo}: {_label(alert_class)} started "
            f"({_count(open_alerts, 'open alert')})",
            "repository_started",
            alert_class=alert_class.value,
            pass_number=number,
            repository=repo,
            index=index,
            total=total,
            open_alerts=open_alerts,
        )

    def repository_finished(
        self, alert_class: AlertClass, repo: str, records: Sequence[UnitRecord]
    ) -> None:
        with self._lock:
            self._pass.finished += 1
            index, total, number = self._pass.finished, self._pass.total, self._pass.number
            eta = self._pass.eta()
        message = f"[{index}/{total}] {repo}: {describe_repository(alert_class, records)}"
        if eta is not None and eta >= MIN_ETA_SECONDS:
            message += f"; about {_duration(eta)} left in this pass"
        self._emit(
            message,
            "repository_finished",
            alert_class=alert_class.value,
            pass_number=number,
            repository=repo,
            index=index,
            total=total,
            eta_seconds=round(eta) if eta is not None else None,
            units=[
                {
                    "outcome": r.outcome.value,
                    "reason": _reason(r),
                    "pr_number": r.pr_number,
                    "alerts": _alerts(r),
                }
                for r in records
            ],
        )

    def reconcile_started(self) -> None:
        self._emit("checking agentd's open PRs for ones whose alerts are gone", "reconcile_started")

    def run_finished(self, summary: RunSummary) -> None:
        seconds = time.monotonic() - self._run_began
        self._emit(
            f"run {summary.run_id} finished in {_duration(seconds)}: {outcome_counts(summary)}",
            "run_finished",
            run_id=summary.run_id,
            outcomes=summary.outcome_counts(),
            seconds=round(seconds),
        )
