"""Per-run reports (SPEC §12): one JSONL record per unit, plus `latest.json`.

`{state_dir}/runs/{profile_id}/{run_id}.jsonl` holds each remediation unit's final
state for the run; `latest.json` beside it summarises the run. Both are written atomically
and pass through the redactor, so no secret value can reach them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from agentd import __version__, faults, upstream_report
from agentd.report_json import write_summary, write_unit_lines
from agentd.runid import new_run_id
from agentd.verify import annotate_private_home
from agentd.vocabulary import (
    AlertClass,
    AlertState,
    Outcome,
    Provenance,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AlertRow(NamedTuple):
    """An `AlertState` in an eighth of its memory, with the same JSON."""

    number: int
    package: str
    advisory_id: str
    fixed: bool
    reason: ReasonCode | None
    detail: str

    @classmethod
    def of(cls, state: AlertState | AlertRow) -> AlertRow:
        if isinstance(state, AlertRow):
            return state
        return cls(
            state.number,
            state.package,
            state.advisory_id,
            state.fixed,
            state.reason,
            state.detail,
        )

    def to_json(self) -> dict[str, Any]:
        """`AlertState.model_dump(mode="json")`."""
        return {
            "number": self.number,
            "package": self.package,
            "advisory_id": self.advisory_id,
            "fixed": self.fixed,
            "reason": self.reason.value if self.reason is not None else None,
            "detail": self.detail,
        }


@dataclass
class UnitRecord:
    """Everything SPEC §12 asks of one unit's report line."""

    repository: str
    base: str
    target_id: str
    remediation_key: str
    alert_class: AlertClass
    result: UnitResult
    unit_pass: UnitPass = UnitPass.REMEDIATION
    pr_source: PRSource | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    rule_id: str | None = None
    alert_number: int | None = None
    alert_numbers: list[int] = field(default_factory=list)
    triage_state: str | None = None
    advisory_ids: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    platform_constraints: list[str] = field(default_factory=list)
    manual_follow_up: list[str] = field(default_factory=list)
    verification_provenance: Provenance = Provenance.NOT_RUN
    verification: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Kept as `AlertRow`s (given as `AlertState`s too): a run holds one per alert until its
    # report is written, 100,000 at fleet scale (issue 17).
    alert_states: Sequence[AlertState | AlertRow] = ()
    # A later attempt in the same run that did not replace this (merged) record.
    later: UnitRecord | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.alert_states = tuple(AlertRow.of(a) for a in self.alert_states)

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome

    @property
    def secret_type(self) -> str | None:
        return upstream_report.secret_type(self.alert_class, self.notes)

    def to_json(self) -> dict[str, Any]:
        data = {
            "repository": self.repository,
            "base": self.base,
            "target_id": self.target_id,
            "remediation_key": self.remediation_key,
            "alert_class": self.alert_class.value,
            "rule_id": self.rule_id,
            "alert_number": self.alert_number,
            "alert_numbers": self.alert_numbers,
            "triage_state": self.triage_state,
            "advisory_ids": self.advisory_ids,
            "pr_source": self.pr_source.value if self.pr_source else None,
            "pass": self.unit_pass.value,
            "outcome": self.result.outcome.value,
            "reason_code": self.result.reason.value if self.result.reason else None,
            "remaining_blocker": (
                self.result.remaining_blocker.value if self.result.remaining_blocker else None
            ),
            "detail": annotate_private_home(self.result.detail),
            "pr_url": self.pr_url,
            "pr_number": self.pr_number,
            "changes": self.changes,
            "platform_constraints": self.platform_constraints,
            "manual_follow_up": self.manual_follow_up,
            "verification_provenance": self.verification_provenance.value,
            "verification": [_annotated(command) for command in self.verification],
            "notes": self.notes,
            # per alert: fixed by this unit's change, or open with its reason
            "alerts": [AlertRow.of(a).to_json() for a in self.alert_states],
            "secret_type": self.secret_type,
        }
        return data


def _annotated(command: dict[str, Any]) -> dict[str, Any]:
    tail = command.get("output_tail")
    return {**command, "output_tail": annotate_private_home(tail)} if tail else command


@dataclass
class RunSummary:
    profile_id: str
    owner: str
    mutation_mode: str
    dry_run: bool
    generated_at: str
    finished_at: str = ""
    repositories_by_mode: dict[str, int] = field(default_factory=dict)
    open_alerts_by_class: dict[str, int] = field(default_factory=dict)
    open_alerts_at_start: dict[str, int] = field(default_factory=dict)
    lock_recovery: dict[str, Any] | None = None
    lock_contended: bool = False  # the lock was held by a live run: this run did not start
    lock_holder: dict[str, Any] | None = None  # that run's lock record (without its token)
    stopped: str | None = None  # why promotion stopped early (rate_limited, SIGTERM), if it did
    warnings: list[str] = field(default_factory=list)  # run-level, e.g. the sandbox opt-out
    iterations: dict[str, int] = field(default_factory=dict)
    units: list[UnitRecord] = field(default_factory=list)
    remaining_open_alerts: list[dict[str, Any]] = field(default_factory=list)
    rate_limit: dict[str, Any] = field(default_factory=dict)
    agent_version: str = __version__
    report_path: str = ""
    run_id: str = ""  # agentd.runid: the one id of this run everywhere
    # Each repository's automation mode; the units carry it (`repository_mode`).
    repository_modes: dict[str, str] = field(default_factory=dict)
    shard: str | None = None  # `K/N` for `agentd run --shard K/N` (agentd.shard); None: all

    def outcome_counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for unit in self.units:
            counts[unit.outcome.value] += 1
        return counts

    def reason_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for unit in self.units:
            if unit.result.reason is not None:
                counts[unit.result.reason.value] = counts.get(unit.result.reason.value, 0) + 1
        return counts

    @property
    def has_failures(self) -> bool:
        return any(u.outcome is Outcome.FAILED for u in self.units)

    @property
    def rate_limited(self) -> bool:
        return any(u.result.reason is ReasonCode.RATE_LIMITED for u in self.units) or (
            self.stopped == ReasonCode.RATE_LIMITED.value
        )

    def unit_json(self, unit: UnitRecord) -> dict[str, Any]:
        """One unit's record: agentd's fields and the upstream reporting model's."""
        upstream = upstream_report.unit_fields(
            owner=self.owner,
            repository=unit.repository,
            repository_mode=self.repository_modes.get(unit.repository),
            manual_follow_up=unit.manual_follow_up,
            secret_type=unit.secret_type,
        )
        return {**upstream, **unit.to_json()}

    def to_json(self) -> dict[str, Any]:
        """The whole summary as one tree (it shares the summary's lists: read it, do not
        change it). Reports are written from `frame_json` a unit at a time (`report_json`)."""
        return self.frame_json() | {"units": [self.unit_json(u) for u in self.units]}

    def frame_json(self) -> dict[str, Any]:
        """The summary's fields around its units, in their order; `units` is left empty."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_FIELDS}
        data.update(
            upstream_report.summary_fields(
                self.repositories_by_mode, self.open_alerts_by_class, self.warnings
            )
        )
        data["units"] = []
        data["outcomes"] = self.outcome_counts()
        data["reasons"] = self.reason_counts()
        return data


_NOT_FIELDS = frozenset({"units", "repository_modes"})


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """A file written whole or not at all: what is written goes to a temporary file that
    replaces `path` only when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def runs_dir(state_dir: Path, profile_id: str, shard: str | None = None) -> Path:
    """`runs/{profile_id}`; a shard's runs (`K/N`) in `runs/{profile_id}/shard-K-of-N`, so
    shards sharing a state directory never overwrite each other's `latest.json`."""
    directory = state_dir / "runs" / profile_id
    return directory / f"shard-{shard.replace('/', '-of-')}" if shard else directory


def write_run_report(state_dir: Path, summary: RunSummary) -> Path:
    """Write the JSONL unit records and `latest.json`; return the JSONL path."""
    directory = runs_dir(state_dir, summary.profile_id, summary.shard)
    summary.run_id = summary.run_id or new_run_id()
    jsonl = directory / f"{summary.run_id}.jsonl"
    summary.report_path = str(jsonl)
    faults.point("before_report_write")
    with _atomic(jsonl) as handle:
        write_unit_lines(summary, handle)
    with _atomic(directory / "latest.json") as handle:
        write_summary(summary, handle)
        handle.write("\n")
    faults.point("after_report_write")
    return jsonl


def read_latest(state_dir: Path, profile_id: str) -> dict[str, Any] | None:
    path = runs_dir(state_dir, profile_id) / "latest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def render_summary(summary: RunSummary) -> str:
    """The report a person wants to read: what merged, what waits and why, what to do."""
    from agentd.render import render_table  # noqa: PLC0415 - render imports this module

    # The table names no alert one by one: the units go without their alerts' states, so a
    # run of 100,000 alerts is not held twice to print it.
    data = summary.frame_json()
    data["units"] = [summary.unit_json(u) | {"alerts": []} for u in summary.units]
    return render_table(data)
