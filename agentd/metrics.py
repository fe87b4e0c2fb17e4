"""Prometheus metrics after every run, in node_exporter's textfile-collector format.

Written atomically (temporary file + rename) to `AGENTD_METRICS_DIR` (point it at the
textfile collector's directory) or `{state_dir}/metrics/`, one file per profile. Runs that
found the lock held by a live run write their own file (`agentd-lock_{profile}.prom`), so a
contended attempt never replaces the last real run's gauges.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from agentd.errors import is_internal
from agentd.report import RunSummary
from agentd.vocabulary import AlertClass, Outcome


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return time.time()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(summary: RunSummary, lock_recoveries: int) -> str:
    profile = _escape(summary.profile_id)
    start, end = _epoch(summary.generated_at), _epoch(summary.finished_at or summary.generated_at)
    success = 0 if summary.has_failures or summary.stopped else 1
    lines = [
        "# HELP agentd_last_run_start_timestamp_seconds Start of the last run.",
        "# TYPE agentd_last_run_start_timestamp_seconds gauge",
        f'agentd_last_run_start_timestamp_seconds{{profile="{profile}"}} {start:.0f}',
        "# HELP agentd_last_run_end_timestamp_seconds End of the last run.",
        "# TYPE agentd_last_run_end_timestamp_seconds gauge",
        f'agentd_last_run_end_timestamp_seconds{{profile="{profile}"}} {end:.0f}',
        "# HELP agentd_last_run_success 1 if the last run completed without failed units or an early stop.",
        "# TYPE agentd_last_run_success gauge",
        f'agentd_last_run_success{{profile="{profile}"}} {success}',
        "# HELP agentd_last_run_duration_seconds Wall time of the last run.",
        "# TYPE agentd_last_run_duration_seconds gauge",
        f'agentd_last_run_duration_seconds{{profile="{profile}"}} {max(0.0, end - start):.3f}',
        "# HELP agentd_units Units of the last run by outcome and reason code.",
        "# TYPE agentd_units gauge",
    ]
    counts: dict[tuple[str, str], int] = {}
    for unit in summary.units:
        key = (unit.outcome.value, unit.result.reason.value if unit.result.reason else "")
        counts[key] = counts.get(key, 0) + 1
    for known in Outcome:
        if not any(name == known.value for name, _ in counts):
            counts[(known.value, "")] = 0
    for (name, reason), count in sorted(counts.items()):
        lines.append(
            f'agentd_units{{profile="{profile}",outcome="{name}",reason="{reason}"}} {count}'
        )
    internal = sum(1 for unit in summary.units if is_internal(unit.result))
    lines += [
        "# HELP agentd_internal_errors Units of the last run stopped by a defect in agentd itself.",
        "# TYPE agentd_internal_errors gauge",
        f'agentd_internal_errors{{profile="{profile}"}} {internal}',
        "# HELP agentd_open_alerts Open alerts at the end of the last run.",
        "# TYPE agentd_open_alerts gauge",
    ]
    for alert_class in AlertClass:
        if alert_class.value in summary.open_alerts_by_class:
            value = summary.open_alerts_by_class[alert_class.value]
            lines.append(
                f'agentd_open_alerts{{profile="{profile}",class="{alert_class.value}"}} {value}'
            )
    remaining = summary.rate_limit.get("remaining")
    if isinstance(remaining, int):
        lines += [
            "# HELP agentd_rate_limit_remaining GitHub API requests left at the end of the last run.",
            "# TYPE agentd_rate_limit_remaining gauge",
            f'agentd_rate_limit_remaining{{profile="{profile}"}} {remaining}',
        ]
    lines += [
        "# HELP agentd_lock_recoveries_total Stale locks recovered by runs of this profile.",
        "# TYPE agentd_lock_recoveries_total counter",
        f'agentd_lock_recoveries_total{{profile="{profile}"}} {lock_recoveries}',
    ]
    return "\n".join(lines) + "\n"


def render_contention_metrics(profile_id: str, contended: int, last_at: str) -> str:
    profile = _escape(profile_id)
    return (
        "\n".join(
            [
                "# HELP agentd_lock_contended_total Runs of this profile that found its lock held "
                "by a live run and did not start.",
                "# TYPE agentd_lock_contended_total counter",
                f'agentd_lock_contended_total{{profile="{profile}"}} {contended}',
                "# HELP agentd_last_lock_contended_timestamp_seconds When a run last found the lock held.",
                "# TYPE agentd_last_lock_contended_timestamp_seconds gauge",
                f'agentd_last_lock_contended_timestamp_seconds{{profile="{profile}"}} '
                f"{_epoch(last_at):.0f}",
            ]
        )
        + "\n"
    )


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    tmp = directory / f".{name}.{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def write_metrics(directory: Path, summary: RunSummary, lock_recoveries: int) -> Path:
    return _write(
        directory, f"agentd_{summary.profile_id}.prom", render_metrics(summary, lock_recoveries)
    )


def write_contention_metrics(directory: Path, profile_id: str, contended: int, at: str) -> Path:
    return _write(
        directory,
        f"agentd-lock_{profile_id}.prom",
        render_contention_metrics(profile_id, contended, at),
    )
