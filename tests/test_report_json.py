"""Reports written a unit at a time (`agentd.report_json`, issue 17): the same text the whole
summary tree gives, redacted the same way, without holding the whole run's text in memory."""

from __future__ import annotations

import io
import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from pg import fresh_database  # noqa: F401 - the pg_url fixture

from agentd.redaction import MASK, REDACTOR, redact
from agentd.render import render_table
from agentd.report import AlertRow, RunSummary, UnitRecord, render_summary, write_run_report
from agentd.report_json import write_summary
from agentd.store import open_store
from agentd.vocabulary import AlertClass, AlertState, ReasonCode, UnitResult

SECRET = "s3cr3t-value-for-report"
PATTERN = r"internal-[0-9]{4}"


def alert(number: int, fixed: bool = False) -> AlertState:
    return AlertState(
        number=number,
        package=f"benchpkg-{number}",
        advisory_id=f"GHSA-{number:04d}-aaaa-bbbb",
        fixed=fixed,
        reason=None if fixed else ReasonCode.VERIFICATION_FAILED,
        detail="" if fixed else f"no version of benchpkg-{number} fixes it (é ✓)",
    )


def record(index: int, alerts: int) -> UnitRecord:
    return UnitRecord(
        repository=f"repo-{index:04d}",
        base="main",
        target_id="root",
        remediation_key=f"org/repo-{index:04d}:dependabot:main:root",
        alert_class=AlertClass.DEPENDABOT,
        result=UnitResult.blocked(
            ReasonCode.VERIFICATION_FAILED, f'said "{SECRET}"\nthen internal-1234'
        ),
        alert_numbers=list(range(1, alerts + 1)),
        advisory_ids=[f"GHSA-{n:04d}-aaaa-bbbb" for n in range(1, alerts + 1)],
        notes=[f"token {SECRET} in a note", "ghp_" + "x" * 36],
        alert_states=[alert(n, fixed=n % 3 == 0) for n in range(1, alerts + 1)],
    )


def summary(units: int, alerts: int = 3) -> RunSummary:
    return RunSummary(
        profile_id="acme",
        owner="org",
        mutation_mode="report_only",
        dry_run=False,
        generated_at="2026-12-01T00:00:00+00:00",
        finished_at="2026-12-01T00:05:00+00:00",
        open_alerts_by_class={"dependabot": units * alerts},
        warnings=[f"a warning naming {SECRET}"],
        iterations={"dependabot": 1},
        units=[record(i, alerts) for i in range(units)],
        remaining_open_alerts=[
            {"repository": f"repo-{i:04d}", "alert_class": "dependabot", "number": n, "why": "x"}
            for i in range(units)
            for n in range(1, alerts + 1)
        ],
        rate_limit={"limit": 5000, "remaining": 4000, "used": 1000, "reset": 1},
        run_id="20261201T000000Z-abcd",
        report_path="/state/runs/acme/20261201T000000Z-abcd.jsonl",
        repository_modes={f"repo-{i:04d}": "active" for i in range(units)},
    )


@pytest.fixture(autouse=True)
def _secrets() -> None:
    REDACTOR.register(SECRET)
    REDACTOR.register_patterns([PATTERN])


@pytest.mark.parametrize("units", [0, 1, 3])
def test_the_report_files_are_the_text_of_the_whole_tree_redacted(
    tmp_path: Path, units: int
) -> None:
    run = summary(units)
    jsonl = write_run_report(tmp_path, run)
    latest = (jsonl.parent / "latest.json").read_text(encoding="utf-8")
    assert latest == redact(json.dumps(run.to_json(), indent=2)) + "\n"
    lines = [redact(json.dumps(run.unit_json(u), sort_keys=True)) + "\n" for u in run.units]
    assert jsonl.read_text(encoding="utf-8") == "".join(lines)
    assert SECRET not in latest and "internal-1234" not in latest and "ghp_" not in latest
    printed = io.StringIO()
    write_summary(run, printed)  # what `agentd run --json` prints
    assert printed.getvalue() + "\n" == latest


@pytest.mark.parametrize("units", [0, 2])
def test_the_store_keeps_what_the_parse_and_encode_round_trip_gave(
    tmp_path: Path, units: int
) -> None:
    run = summary(units)
    before = json.loads(redact(json.dumps(run.to_json())))  # the store's form until now
    store = open_store(tmp_path, None)
    store.record(run)
    with sqlite3.connect(tmp_path / "agentd.db") as db:
        (text,) = db.execute("SELECT summary_json FROM runs").fetchone()
        rows = db.execute(
            "SELECT repository, target_id, remediation_key, alert_class, outcome, reason_code,"
            " remaining_blocker, pr_url, record_json FROM units ORDER BY id"
        ).fetchall()
    # SQLite keeps the text as a blob written in pieces; its bytes are the same text.
    assert text == json.dumps(before).encode("ascii")
    assert rows == [
        (
            u["repository"], u["target_id"], u["remediation_key"], u["alert_class"],
            u["outcome"], u["reason_code"], u["remaining_blocker"], u["pr_url"], json.dumps(u),
        )
        for u in before["units"]
    ]  # fmt: skip
    assert SECRET.encode() not in text and MASK.encode() in text
    stored = store.run(run.run_id)
    assert stored is not None and stored.summary == before


def test_postgresql_keeps_the_same_records(pg_url: str, tmp_path: Path) -> None:
    run = summary(2)
    store = open_store(tmp_path, pg_url)
    store.record(run)
    stored = store.run(run.run_id)
    assert stored is not None
    assert stored.summary == json.loads(redact(json.dumps(run.to_json())))
    assert [u["remediation_key"] for u in store.latest_units("acme", "2026", "2027")] == [
        u.remediation_key for u in run.units
    ]


def test_an_alert_row_is_the_alert_state_json() -> None:
    assert list(AlertRow._fields) == list(AlertState.model_fields)
    for state in (alert(1), alert(3, fixed=True)):
        assert AlertRow.of(state).to_json() == state.model_dump(mode="json")
    unit = record(0, 4)
    assert all(isinstance(a, AlertRow) for a in unit.alert_states)


def test_writing_the_reports_never_holds_the_whole_run_in_memory(tmp_path: Path) -> None:
    """The peak Python memory of writing latest.json and the JSONL report stays a small part
    of the report's size (building the whole text took several copies of it)."""
    run = summary(units=120, alerts=100)
    tracemalloc.start()
    try:
        jsonl = write_run_report(tmp_path, run)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = (jsonl.parent / "latest.json").stat().st_size
    assert size > 5_000_000
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte latest.json"


def test_recording_a_run_never_holds_its_stored_text_whole(tmp_path: Path) -> None:
    """The summary's text is spooled and written into SQLite in pieces (incremental blob
    I/O): Python's peak stays below one copy of it (it held two)."""
    run = summary(units=120, alerts=100)
    store = open_store(tmp_path, None)
    tracemalloc.start()
    try:
        store.record(run)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with sqlite3.connect(tmp_path / "agentd.db") as db:
        (size,) = db.execute("SELECT length(summary_json) FROM runs").fetchone()
    assert size > 3_000_000
    assert peak < size, f"peak {peak:,} bytes for {size:,} bytes stored"


def test_the_table_is_the_one_the_whole_tree_gives() -> None:
    run = summary(3)
    assert render_summary(run) == render_table(run.to_json())
