"""The run store: history of runs, units and open-alert counts (SPEC §12).

One interface (`Store`), two backends sharing the same tables and queries (`SqlStore`):
- SQLite, the embedded default (`RunStore`): one database per state directory
  (`{state_dir}/agentd.db`), WAL mode, schema versioned by `PRAGMA user_version`;
- PostgreSQL (`agentd.pgstore`), chosen by `store_url: postgresql://…` (profile) or
  `AGENTD_STORE_URL`: one store for a fleet of hosts, its runs' locks advisory locks.
Both migrate forward only. Everything stored passes through the redactor first; no secret
can reach the database.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentd.errors import UnreachableError
from agentd.profile import Profile
from agentd.report import RunSummary
from agentd.report_json import StoredSummary, stored_summary
from agentd.runid import legacy_run_id, new_run_id
from agentd.settings import Settings
from agentd.vocabulary import ReasonCode

DB_NAME = "agentd.db"
LEGACY_ID_DIGITS = 8  # a run id starts with 8 digits (its date); old integer ids are shorter
LOCK_CONTENDED = (
    ReasonCode.LOCK_CONTENDED.value
)  # `runs.stopped` of an attempt that found the lock held


class StoreError(UnreachableError):
    """The run store cannot be reached or written (a PostgreSQL down): retry later (75)."""


STORE_ERRORS: tuple[type[Exception], ...] = (OSError, sqlite3.Error, StoreError)
Migration = Callable[[sqlite3.Connection], None]


def _v1(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            profile_id TEXT NOT NULL,
            generated_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            mutation_mode TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            stopped TEXT,
            report_path TEXT,
            summary_json TEXT NOT NULL
        );
        CREATE INDEX runs_profile ON runs (profile_id, id);
        CREATE TABLE units (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            repository TEXT NOT NULL,
            target_id TEXT NOT NULL,
            remediation_key TEXT NOT NULL,
            alert_class TEXT NOT NULL,
            outcome TEXT NOT NULL,
            reason_code TEXT,
            remaining_blocker TEXT,
            pr_url TEXT,
            record_json TEXT NOT NULL
        );
        CREATE INDEX units_run ON units (run_id);
        CREATE INDEX units_key ON units (remediation_key);
        CREATE TABLE alert_counts (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            alert_class TEXT NOT NULL,
            open_at_start INTEGER,
            open_at_end INTEGER,
            PRIMARY KEY (run_id, alert_class)
        );
        """
    )


def _v2(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE runs ADD COLUMN lock_recovered INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE runs ADD COLUMN rate_limit_remaining INTEGER")


def _v3(db: sqlite3.Connection) -> None:
    """The run id (`agentd.runid`); runs recorded before it get one from their start and row."""
    db.execute("ALTER TABLE runs ADD COLUMN run_id TEXT")
    rows = db.execute("SELECT id, generated_at FROM runs").fetchall()
    db.executemany(
        "UPDATE runs SET run_id = ? WHERE id = ?",
        [(legacy_run_id(generated_at, row), row) for row, generated_at in rows],
    )
    db.execute("CREATE UNIQUE INDEX runs_run_id ON runs (run_id)")


def _v4(db: sqlite3.Connection) -> None:
    """The shard a run covered (`K/N`; NULL: the whole profile)."""
    db.execute("ALTER TABLE runs ADD COLUMN shard TEXT")


_RUN_COLUMNS = (
    "id, run_id, profile_id, generated_at, finished_at, mutation_mode, dry_run, stopped,"
    " report_path, lock_recovered, rate_limit_remaining, shard, summary_json"
)


def _v5(db: sqlite3.Connection) -> None:
    """`summary_json` moves to the end of the row: only there does SQLite reserve a
    zero-filled blob without building it in memory (a run's summary is then written into it
    in pieces). The table is rebuilt with its rows, ids and indexes, with foreign keys off
    (SQLite's own recipe): the units' references keep naming `runs`, and nothing cascades.
    Its own transaction, version included, so a crash leaves v4 or v5, never half of it."""
    db.commit()  # foreign_keys can change only outside a transaction
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        db.execute("BEGIN")
        db.execute("ALTER TABLE runs RENAME TO runs_v4")
        db.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT,"
            " profile_id TEXT NOT NULL, generated_at TEXT NOT NULL, finished_at TEXT NOT NULL,"
            " mutation_mode TEXT NOT NULL, dry_run INTEGER NOT NULL, stopped TEXT,"
            " report_path TEXT, lock_recovered INTEGER NOT NULL DEFAULT 0,"
            " rate_limit_remaining INTEGER, shard TEXT, summary_json TEXT NOT NULL)"
        )
        db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) SELECT {_RUN_COLUMNS} FROM runs_v4")  # noqa: S608 - constant
        db.execute("DROP TABLE runs_v4")
        db.execute("CREATE INDEX runs_profile ON runs (profile_id, id)")
        db.execute("CREATE UNIQUE INDEX runs_run_id ON runs (run_id)")
        if db.execute("PRAGMA foreign_key_check").fetchall():
            raise sqlite3.IntegrityError("units refer to runs the rebuilt table lacks")
        db.execute("PRAGMA user_version = 5")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.execute("PRAGMA legacy_alter_table = OFF")
        db.execute("PRAGMA foreign_keys = ON")


MIGRATIONS: tuple[Migration, ...] = (_v1, _v2, _v3, _v4, _v5)
_SELECT = "SELECT id, run_id, profile_id, generated_at, finished_at, summary_json FROM runs"
# `{value}`: how the backend passes `summary_json` (a placeholder, or a reserved blob)
_INSERT_RUN = (
    "INSERT INTO runs (run_id, profile_id, generated_at, finished_at, mutation_mode, dry_run,"
    " stopped, report_path, summary_json, lock_recovered, rate_limit_remaining, shard)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, {value}, ?, ?, ?) RETURNING id"
)


@dataclass(frozen=True)
class StoredRun:
    id: str  # the run id
    profile_id: str
    generated_at: str
    finished_at: str
    summary: dict[str, Any]
    row: int = 0  # the store's own row number (joins, old integer references)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredRun:
        number, run_id, profile_id, generated_at, finished_at, summary_json = row
        summary = json.loads(summary_json)
        summary.setdefault("run_id", run_id)  # recorded before run ids existed
        return cls(run_id, profile_id, generated_at, finished_at, summary, number)


class Store(Protocol):
    """What agentd needs of a run store, whichever the backend."""

    @property
    def where(self) -> str: ...  # for people: a path, or a URL without its password

    @property
    def schema_version(self) -> int: ...

    def record(self, summary: RunSummary) -> str: ...

    def runs(self, profile_id: str | None = None, limit: int = 20) -> list[StoredRun]: ...

    def run(self, ref: str | None = None, profile_id: str | None = None) -> StoredRun | None: ...

    def matching(self, ref: str, profile_id: str | None = None) -> list[StoredRun]: ...

    def runs_between(self, profile_id: str | None, since: str, until: str) -> list[StoredRun]: ...

    def latest_units(
        self, profile_id: str | None, since: str, until: str
    ) -> list[dict[str, Any]]: ...

    def trends(self, profile_id: str | None, last: int = 10) -> list[dict[str, Any]]: ...

    def lock_contentions(self, profile_id: str) -> int: ...

    def lock_recoveries(self, profile_id: str) -> int: ...


def store_url(profile: Profile | None, settings: Settings) -> str | None:
    """`AGENTD_STORE_URL`, else the profile's `store_url`; None: the embedded SQLite store."""
    if settings.store_url:
        return settings.store_url
    return profile.profile.store_url if profile is not None else None


def open_store(state_dir: Path, url: str | None) -> Store:
    """The store a URL names (PostgreSQL), else the SQLite store of the state directory."""
    if url:
        from agentd.pgstore import PostgresStore  # noqa: PLC0415 - psycopg only when used

        return PostgresStore(url)
    return RunStore(state_dir)


class SqlStore:
    """The queries both backends run: written with `?` placeholders (SQLite's); a backend
    with another paramstyle sets `placeholder`. `_connect` yields a DB-API connection that
    has `execute` and commits when the block ends without an error."""

    placeholder = "?"

    def _connect(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sql(self, query: str) -> str:
        return query if self.placeholder == "?" else query.replace("?", self.placeholder)

    def _execute(self, db: Any, query: str, args: tuple[Any, ...] = ()) -> Any:
        return db.execute(self._sql(query), args)

    def _execute_many(self, db: Any, query: str, rows: Iterable[tuple[Any, ...]]) -> None:
        rows = iter(rows)
        first = next(rows, None)  # executemany with no rows is an error for some drivers
        if first is not None:
            db.cursor().executemany(self._sql(query), itertools.chain([first], rows))

    def _summary_value(self, stored: StoredSummary) -> tuple[str, Any]:
        """The `summary_json` value's SQL and its argument (the whole text, by default)."""
        return "?", stored.text

    def _fill_summary(self, db: Any, row: int, stored: StoredSummary) -> None:
        """Write `summary_json` after the row's insert, where `_summary_value` reserved it."""

    def record(self, summary: RunSummary) -> str:
        """Store a finished run; return its run id."""
        summary.run_id = summary.run_id or new_run_id()
        stored = stored_summary(summary)
        try:
            return self._record(summary, stored)
        finally:
            stored.close()

    def _record(self, summary: RunSummary, stored: StoredSummary) -> str:
        value_sql, value = self._summary_value(stored)
        with self._connect() as db:
            row = int(
                self._execute(
                    db,
                    _INSERT_RUN.replace("{value}", value_sql),
                    (
                        summary.run_id, summary.profile_id, summary.generated_at,
                        summary.finished_at, summary.mutation_mode, int(summary.dry_run),
                        summary.stopped, summary.report_path, value,
                        int(summary.lock_recovery is not None), summary.rate_limit.get("remaining"),
                        summary.shard,
                    ),
                ).fetchone()[0]
            )  # fmt: skip
            self._fill_summary(db, row, stored)
            self._execute_many(
                db,
                "INSERT INTO units (run_id, repository, target_id, remediation_key, alert_class,"
                " outcome, reason_code, remaining_blocker, pr_url, record_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        row, u["repository"], u["target_id"], u["remediation_key"],
                        u["alert_class"], u["outcome"], u["reason_code"], u["remaining_blocker"],
                        u["pr_url"], text,
                    )
                    for u, text in stored.records()
                ),
            )  # fmt: skip
            classes = set(summary.open_alerts_at_start) | set(summary.open_alerts_by_class)
            self._execute_many(
                db,
                "INSERT INTO alert_counts (run_id, alert_class, open_at_start, open_at_end)"
                " VALUES (?, ?, ?, ?)",
                [
                    (
                        row,
                        c,
                        summary.open_alerts_at_start.get(c),
                        summary.open_alerts_by_class.get(c),
                    )
                    for c in sorted(classes)
                ],
            )
        return summary.run_id

    def runs(self, profile_id: str | None = None, limit: int = 20) -> list[StoredRun]:
        """The latest runs, newest first."""
        query = _SELECT
        args: tuple[Any, ...] = ()
        if profile_id:
            query += " WHERE profile_id = ?"
            args = (profile_id,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._connect() as db:
            rows = self._execute(db, query, (*args, limit)).fetchall()
        return [StoredRun.from_row(r) for r in rows]

    def run(self, ref: str | None = None, profile_id: str | None = None) -> StoredRun | None:
        """The run `ref` names (the latest without one), or None; see `matching`."""
        if ref is None:
            latest = self.runs(profile_id, limit=1)
            return latest[0] if latest else None
        found = self.matching(ref, profile_id)
        return found[0] if len(found) == 1 else None

    def matching(self, ref: str, profile_id: str | None = None) -> list[StoredRun]:
        """The runs `ref` names: its run id exactly; a short number, the run with that old
        integer id (stores from before run ids); else the runs whose id starts with `ref`
        (`20261201T2147`), newest first."""
        where, args = ("", ()) if not profile_id else (" AND profile_id = ?", (profile_id,))
        select = _SELECT + " WHERE "
        with self._connect() as db:
            rows = self._execute(db, select + "run_id = ?" + where, (ref, *args)).fetchall()
            if not rows and ref.isdigit() and len(ref) < LEGACY_ID_DIGITS:
                rows = self._execute(db, select + "id = ?" + where, (int(ref), *args)).fetchall()
            if not rows and ref:
                rows = self._execute(
                    db,
                    select
                    + "substr(run_id, 1, CAST(? AS INTEGER)) = ?"
                    + where
                    + " ORDER BY id DESC",
                    (len(ref), ref, *args),
                ).fetchall()
        return [StoredRun.from_row(r) for r in rows]

    def runs_between(self, profile_id: str | None, since: str, until: str) -> list[StoredRun]:
        """The runs that finished in [since, until) (ISO UTC timestamps), oldest first."""
        query = (
            "SELECT id, profile_id, generated_at, finished_at, summary_json FROM runs"
            " WHERE finished_at >= ? AND finished_at < ?"
        )
        args: tuple[Any, ...] = (since, until)
        if profile_id:
            query += " AND profile_id = ?"
            args = (*args, profile_id)
        with self._connect() as db:
            rows = self._execute(db, query + " ORDER BY finished_at, id", args).fetchall()
        return [StoredRun(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def latest_units(self, profile_id: str | None, since: str, until: str) -> list[dict[str, Any]]:
        """Each unit of the runs that finished in [since, until) once, in its latest state;
        dry runs are left out (they describe what a run would have done)."""
        query = (
            "SELECT r.profile_id, u.remediation_key, u.record_json FROM units u"
            " JOIN runs r ON r.id = u.run_id"
            " WHERE r.finished_at >= ? AND r.finished_at < ? AND r.dry_run = 0"
        )
        args: tuple[Any, ...] = (since, until)
        if profile_id:
            query += " AND r.profile_id = ?"
            args = (*args, profile_id)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        with self._connect() as db:
            for run_profile, key, record in self._execute(
                db, query + " ORDER BY r.finished_at, r.id, u.id", args
            ):
                latest.pop((run_profile, key), None)
                latest[(run_profile, key)] = json.loads(record)
        return list(latest.values())

    def trends(self, profile_id: str | None, last: int = 10) -> list[dict[str, Any]]:
        """Open alerts per class at the end of each of the last runs, oldest first."""
        runs = list(reversed(self.runs(profile_id, limit=last)))
        with self._connect() as db:
            result = []
            for run in runs:
                counts = dict(
                    self._execute(
                        db,
                        "SELECT alert_class, open_at_end FROM alert_counts WHERE run_id = ?",
                        (run.row,),
                    ).fetchall()
                )
                result.append(
                    {
                        "run": run.id,
                        "profile_id": run.profile_id,
                        "finished_at": run.finished_at,
                        "open": counts,
                    }
                )
        return result

    def lock_contentions(self, profile_id: str) -> int:
        """Attempts of this profile that found the lock held by a live run."""
        with self._connect() as db:
            return int(
                self._execute(
                    db,
                    "SELECT COUNT(*) FROM runs WHERE profile_id = ? AND stopped = ?",
                    (profile_id, LOCK_CONTENDED),
                ).fetchone()[0]
            )

    def lock_recoveries(self, profile_id: str) -> int:
        with self._connect() as db:
            return int(
                self._execute(
                    db,
                    "SELECT COUNT(*) FROM runs WHERE profile_id = ? AND lock_recovered = 1",
                    (profile_id,),
                ).fetchone()[0]
            )


class RunStore(SqlStore):
    """The embedded SQLite store of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = state_dir / DB_NAME
        with self._connect() as db:
            self._migrate(db)
        self.path.chmod(0o600)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    @property
    def where(self) -> str:
        return str(self.path)

    def _summary_value(self, stored: StoredSummary) -> tuple[str, Any]:
        # Reserved as a blob of the text's size and written in pieces (incremental blob
        # I/O): the text of a run of 100,000 alerts (tens of MB) is never held whole, by
        # Python or by SQLite. Readers parse it as they parse text (json.loads takes bytes).
        return "zeroblob(?)", stored.size

    def _fill_summary(self, db: Any, row: int, stored: StoredSummary) -> None:
        with db.blobopen("runs", "summary_json", row) as blob:
            for chunk in stored.chunks():
                blob.write(chunk)

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
