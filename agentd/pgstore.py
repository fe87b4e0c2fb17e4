"""The PostgreSQL run store and run lock, for fleets (`store_url: postgresql://…`).

The same tables and queries as the SQLite store (`agentd.store.SqlStore`), versioned in
`agentd_schema` and migrated forward under a transaction-scoped advisory lock, so shards
starting together never migrate twice. The run lock is a session advisory lock
(`pg_try_advisory_lock`) on a stable 64-bit key of profile and shard, held by a connection
of its own for the run's lifetime: the server frees it when that session ends, however the
run ends (a crashed host's lock goes when its connection does, no TTL to wait out).

The URL's password (or libpq's PGPASSWORD / ~/.pgpass) is used by libpq alone: agentd shows
the store as `postgresql://USER@HOST:PORT/DATABASE` (`where`), registers any password with
the redactor, and never logs the URL. A store that cannot be reached stops the run before it
starts, in one line naming the host and the cause (exit 75: retry later).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo

from agentd.errors import ContractError, LockContendedError, UsageError
from agentd.redaction import REDACTOR, redact
from agentd.store import SqlStore, StoreError

CONNECT_TIMEOUT_SECONDS = 10
_MIGRATION_KEY = int.from_bytes(hashlib.sha256(b"agentd-schema").digest()[:8], "big", signed=True)
# A refused login or a missing database is a setting to fix, not a store that is down;
# libpq reports them at connection time as text only (no SQLSTATE).
_REFUSED = ("password authentication failed", "no pg_hba.conf entry", "does not exist")


def _pg_v1(db: psycopg.Connection[Any]) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            id BIGSERIAL PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            profile_id TEXT NOT NULL,
            generated_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            mutation_mode TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            stopped TEXT,
            report_path TEXT,
            summary_json TEXT NOT NULL,
            lock_recovered INTEGER NOT NULL DEFAULT 0,
            rate_limit_remaining INTEGER,
            shard TEXT
        );
        CREATE INDEX runs_profile ON runs (profile_id, id);
        CREATE TABLE units (
            id BIGSERIAL PRIMARY KEY,
            run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
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
            run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            alert_class TEXT NOT NULL,
            open_at_start INTEGER,
            open_at_end INTEGER,
            PRIMARY KEY (run_id, alert_class)
        );
        """
    )


PG_MIGRATIONS = (_pg_v1,)


def where(url: str) -> str:
    """The store for people: `postgresql://USER@HOST:PORT/DATABASE`, never the password."""
    params = _params(url)
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or "local socket"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname', '')}"


def _params(url: str) -> dict[str, Any]:
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise UsageError(
            "the store URL is not a valid postgresql:// URL (its text is not shown: it may "
            "hold a password)",
            "write postgresql://USER@HOST:PORT/DATABASE in store_url or AGENTD_STORE_URL",
        ) from None
    REDACTOR.register(str(params["password"]) if params.get("password") else None)
    return params


def _cause(exc: psycopg.Error) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return redact(first.removeprefix("connection failed: "))


def connect(url: str, purpose: str, **options: Any) -> psycopg.Connection[Any]:
    """A connection, or a one-line error naming the store (no password) and the cause: a
    refused login or missing database is a setting to fix (78), anything else retry (75)."""
    shown = where(url)
    try:
        return psycopg.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=purpose[:63],
            **options,
        )
    except psycopg.Error as exc:
        cause = _cause(exc)
        if any(marker in cause for marker in _REFUSED):
            raise ContractError(
                f"the PostgreSQL store {shown} refused agentd: {cause}",
                "check the user and database in store_url / AGENTD_STORE_URL, and the "
                "password in PGPASSWORD or ~/.pgpass",
            ) from None
        raise StoreError(
            f"cannot reach the PostgreSQL store {shown}: {cause}",
            "start PostgreSQL or fix the host in store_url / AGENTD_STORE_URL; "
            "nothing was changed, the next run retries",
        ) from None


class PostgresStore(SqlStore):
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self._where = where(url)
        with self._connect() as db:
            self._migrate(db)

    @property
    def where(self) -> str:
        return self._where

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        db = connect(self.url, "agentd store")
        try:
            with db:  # commits when the block succeeds, rolls back otherwise; closes
                yield db
        except psycopg.Error as exc:
            raise StoreError(
                f"the PostgreSQL store {self._where} failed: {_cause(exc)}",
                "see PostgreSQL's log; the next run retries",
            ) from None

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            row = db.execute("SELECT version FROM agentd_schema").fetchone()
            return int(row[0]) if row else 0

    def _migrate(self, db: psycopg.Connection[Any]) -> None:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_KEY,))
        db.execute("CREATE TABLE IF NOT EXISTS agentd_schema (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM agentd_schema").fetchone()
        if row is None:
            db.execute("INSERT INTO agentd_schema (version) VALUES (0)")
        version = int(row[0]) if row else 0
        for number, migration in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            migration(db)
            db.execute("UPDATE agentd_schema SET version = %s", (number,))


# --- the run lock -----------------------------------------------------------------------

WHOLE_PROFILE = "all"  # the scope of a run without --shard


def lock_key(profile_id: str, scope: str) -> int:
    """A stable signed 64-bit advisory lock key for a profile and a shard (`scope`)."""
    digest = hashlib.sha256(f"agentd-run-lock\0{profile_id}\0{scope}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_HOLDER = """
SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start::text
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid::bigint = %s AND l.objid::bigint = %s
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class AdvisoryLock:
    """The run lock of a profile (or one shard of it) in the PostgreSQL store: held by a
    connection of its own from `acquire` until `release` (or until the process is gone).
    A shard's run also holds the profile's key shared, and a whole-profile run holds it
    exclusively: shards run side by side, never beside a run of the whole profile."""

    recovery = None  # the server frees a dead holder's lock: there is never one to recover

    def __init__(self, url: str, profile_id: str, scope: str) -> None:
        self.url = url
        self.profile_id = profile_id
        self.scope = scope
        self.key = lock_key(profile_id, scope)
        self.whole_key = lock_key(profile_id, WHOLE_PROFILE)
        self._db: psycopg.Connection[Any] | None = None

    @property
    def name(self) -> str:
        return f"advisory lock {self.key} ({self.profile_id} {self.scope}) in {where(self.url)}"

    def acquire(self) -> AdvisoryLock:
        me = f"agentd {self.profile_id} {self.scope} pid {os.getpid()} on {socket.gethostname()}"
        # keepalives: a holder whose host vanished is noticed, and its lock freed.
        db = connect(self.url, me, autocommit=True, keepalives=1, keepalives_idle=60)
        try:
            if self.key != self.whole_key:
                self._take(db, "pg_try_advisory_lock_shared", self.whole_key)
            self._take(db, "pg_try_advisory_lock", self.key)
        except BaseException:
            db.close()  # and with the session, whatever it took
            raise
        self._db = db
        return self

    def _take(self, db: psycopg.Connection[Any], function: str, key: int) -> None:
        taken = db.execute(f"SELECT {function}(%s)", (key,)).fetchone()
        if not (taken and taken[0]):
            raise self._contended(db, key)

    def _contended(self, db: psycopg.Connection[Any], key: int) -> LockContendedError:
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        row = db.execute(_HOLDER, (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
        holder = (
            {"pid": row[0], "application_name": row[1], "client_addr": row[2], "since": row[3]}
            if row
            else None
        )
        who = (
            f"held by {holder['application_name'] or 'backend ' + str(row and row[0])}"
            f" from {holder['client_addr'] or 'a local socket'} since {holder['since']}"
            if holder
            else "held by another session"
        )
        error = LockContendedError(
            f"lock_contended: profile {self.profile_id!r} ({self.scope}) is already running "
            f"({who}); {self.name}",
            "wait for that run to finish: its lock goes when its session ends",
        )
        error.holder = holder
        return error

    def release(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        try:
            db.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass  # the session is gone, and its lock with it
        finally:
            db.close()
