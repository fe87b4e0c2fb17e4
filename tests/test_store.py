"""The run store's one interface, against both backends: SQLite (embedded) and a real
PostgreSQL (`tests/pg.py`; never a mock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import fresh_database  # noqa: F401 - the pg_url fixture

from agentd.redaction import REDACTOR
from agentd.report import RunSummary, UnitRecord
from agentd.store import RunStore, Store, open_store
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return open_store(tmp_path, None)
    return open_store(tmp_path, request.getfixturevalue("pg_url"))


def unit(repository: str, key: str, result: UnitResult) -> UnitRecord:
    return UnitRecord(
        repository=repository,
        base="main",
        target_id="root",
        remediation_key=key,
        alert_class=AlertClass.DEPENDABOT,
        result=result,
    )


def summary(
    run_id: str, hours_ago: float, *units: UnitRecord, shard: str | None = None, **extra: object
) -> RunSummary:
    at = (NOW - timedelta(hours=hours_ago)).isoformat(timespec="seconds")
    return RunSummary(
        profile_id=str(extra.pop("profile_id", "acme")),
        owner="acme-org",
        mutation_mode="pull_request",
        dry_run=False,
        generated_at=at,
        finished_at=at,
        open_alerts_at_start={"dependabot": 3},
        open_alerts_by_class={"dependabot": len(units)},
        units=list(units),
        run_id=run_id,
        shard=shard,
        **extra,  # type: ignore[arg-type]
    )


def test_runs_are_recorded_listed_and_found_by_id_or_its_start(store: Store) -> None:
    opened = unit("api", "acme-org/api:a", UnitResult.opened_pr())
    store.record(summary("20261201T010000Z-aaaa", 3, opened))
    store.record(summary("20261201T020000Z-bbbb", 2, opened, shard="1/2"))
    store.record(summary("20261201T020000Z-cccc", 1, profile_id="other"))
    assert [r.id for r in store.runs("acme")] == ["20261201T020000Z-bbbb", "20261201T010000Z-aaaa"]
    assert len(store.runs()) == 3
    assert store.runs("acme", limit=1)[0].summary["shard"] == "1/2"
    run = store.run("20261201T01")
    assert run is not None and run.summary["units"][0]["remediation_key"] == "acme-org/api:a"
    assert [r.id for r in store.matching("20261201T02")] == [
        "20261201T020000Z-cccc",
        "20261201T020000Z-bbbb",
    ]
    assert store.run("20261201T02") is None  # ambiguous
    assert store.run(profile_id="other") is not None


def test_trends_latest_units_and_lock_counts(store: Store) -> None:
    store.record(summary("r1", 5, unit("api", "k1", UnitResult.blocked(ReasonCode.CHECKS_RED))))
    store.record(summary("r2", 4, unit("api", "k1", UnitResult.merged())))
    contended = summary("r3", 3, stopped=ReasonCode.LOCK_CONTENDED.value)
    store.record(contended)
    trends = store.trends("acme")
    assert [t["run"] for t in trends] == ["r1", "r2", "r3"]
    assert trends[0]["open"] == {"dependabot": 1}
    since = (NOW - timedelta(days=1)).isoformat()
    until = NOW.isoformat()
    [latest] = store.latest_units("acme", since, until)
    assert latest["outcome"] == "merged"
    assert len(store.runs_between("acme", since, until)) == 3
    assert store.lock_contentions("acme") == 1
    assert store.lock_recoveries("acme") == 0


def test_nothing_secret_reaches_the_store(store: Store) -> None:
    secret = "hunter2-" + "s" * 20
    REDACTOR.register(secret)
    leaky = unit("api", "k", UnitResult.failed(ReasonCode.VERIFICATION_FAILED, f"echo {secret}"))
    store.record(summary("r1", 1, leaky))
    [run] = store.runs("acme")
    assert secret not in str(run.summary)


def test_the_schema_is_current_and_migrating_again_changes_nothing(store: Store) -> None:
    version = store.schema_version
    assert version >= 1
    store.record(summary("r1", 1))
    again = open_store(Path(store.where).parent, None) if isinstance(store, RunStore) else None
    if again is None:
        from agentd.pgstore import PostgresStore

        assert isinstance(store, PostgresStore)
        again = PostgresStore(store.url)
    assert again.schema_version == version
    assert [r.id for r in again.runs()] == ["r1"]
