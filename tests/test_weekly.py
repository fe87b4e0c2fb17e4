"""`agentd report --format weekly`: a calendar window with its dates, each unit once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import run_agentd

from agentd.errors import UsageError
from agentd.report import RunSummary, UnitRecord
from agentd.store import RunStore
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult
from agentd.weekly import window_from

NOW = datetime.now(UTC).replace(microsecond=0)


def record(key: str, result: UnitResult) -> UnitRecord:
    return UnitRecord(
        repository="api",
        base="main",
        target_id="root",
        remediation_key=key,
        alert_class=AlertClass.DEPENDABOT,
        result=result,
    )


def store_run(store: RunStore, days_ago: float, *units: UnitRecord, dry_run: bool = False) -> None:
    at = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    summary = RunSummary(
        profile_id="acme",
        owner="acme-org",
        mutation_mode="pull_request",
        dry_run=dry_run,
        generated_at=at,
        finished_at=at,
        open_alerts_by_class={"dependabot": len(units)},
        units=list(units),
    )
    store.record(summary)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    store = RunStore(tmp_path)
    opened = record("acme-org/api:pr", UnitResult.opened_pr())
    store_run(store, 10, record("acme-org/api:old", UnitResult.merged()))  # outside the week
    # One PR left open across several runs (agentd re-stamps it each time): one unit.
    store_run(
        store, 5, opened, record("acme-org/api:fix", UnitResult.blocked(ReasonCode.CHECKS_RED))
    )
    store_run(store, 3, opened)
    store_run(store, 1, opened, record("acme-org/api:fix", UnitResult.merged()))
    store_run(store, 0.5, record("acme-org/api:dry", UnitResult.opened_pr()), dry_run=True)
    return tmp_path


def weekly(state: Path, *args: str) -> str:
    result = run_agentd("report", "--format", "weekly", *args, env={"AGENTD_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr
    return result.stdout


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {name} |"))


def test_default_window_is_the_last_seven_days_with_each_unit_once(history: Path) -> None:
    text = weekly(history)
    since = (NOW - timedelta(days=7)).strftime("%Y-%m-%d")
    assert text.startswith(f"# agentd weekly summary: {since} ")
    assert f"→ {NOW.strftime('%Y-%m-%d')} " in text.splitlines()[0] and "(7 days)" in text
    assert "Runs in the window: 3 (dry runs left out: 1)" in text
    assert "Units: 2, each counted once, in its latest state in the window" in text
    assert row(text, "opened_pr") == "| opened_pr | 1 |"  # not once per run
    assert row(text, "merged") == "| merged | 1 |"  # the blocked unit merged later
    assert row(text, "blocked") == "| blocked | 0 |"


def test_since_until_and_iso_week_choose_the_window(history: Path) -> None:
    day = (NOW - timedelta(days=10)).strftime("%Y-%m-%d")
    text = weekly(history, "--since", day, "--until", day)
    assert (
        text.splitlines()[0]
        == f"# agentd weekly summary: {day} → "
        + (NOW - timedelta(days=9)).strftime("%Y-%m-%d")
        + " UTC (1 day)"
    )
    assert "Runs in the window: 1" in text and row(text, "merged") == "| merged | 1 |"
    assert row(text, "opened_pr") == "| opened_pr | 0 |"

    year, week, _ = (NOW - timedelta(days=10)).isocalendar()
    label = f"{year}-W{week:02d}"
    text = weekly(history, "--week", label)
    assert text.splitlines()[0].startswith(f"# agentd weekly summary: {label}, ")
    assert row(text, "merged") != "| merged | 0 |"


def test_bad_windows_are_one_line_usage_errors(history: Path) -> None:
    for args in (
        ["--since", "last tuesday"],
        ["--week", "2024-23"],
        ["--since", "2024-06-09", "--until", "2024-06-02"],
    ):
        result = run_agentd(
            "report", "--format", "weekly", *args, env={"AGENTD_STATE_DIR": str(history)}
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("agentd: error: ") and "Traceback" not in result.stderr


def test_window_bounds() -> None:
    window = window_from("2024-06-03", "2024-06-09", None)
    assert window.bounds() == ("2024-06-03T00:00:00+00:00", "2024-06-10T00:00:00+00:00")
    assert window_from(None, None, "2024-W23").bounds() == (
        "2024-06-03T00:00:00+00:00",
        "2024-06-10T00:00:00+00:00",
    )
    with pytest.raises(UsageError):
        window_from("2024-06-03", None, "2024-W23")
