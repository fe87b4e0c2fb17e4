"""The per-profile run lock of SPEC §4.3.

The lock file `{local_clone_root}/{lock_filename}` holds a JSON record (pid, hostname,
boot id and process start time, start time, last heartbeat, TTL, agentd version, a random
token). The check-and-replace is made atomic with a `filelock` guard on a sibling file, so
two agentd processes can never both decide the lock is theirs.

While it holds the lock, agentd refreshes the record's heartbeat from a daemon thread
(every `heartbeat_interval(ttl)` seconds). Who may take a lock over:
- a holder on this host holds it for as long as its process runs, whatever its age (a
  six-hour run is not taken over at the two-hour TTL); it is stale once that process is
  gone (its pid dead, or reused by another process: see `agentd.liveness`);
- a holder on another host (a shared clone root) cannot be checked: it is stale when its
  heartbeat is older than the TTL;
- an unreadable record is stale.

The lock file and its guard must be regular files: a FIFO (which would block the read
forever), a directory, a socket or a symlink there is refused at once with a contract error
(exit 78), as is a clone root anyone may write in. Not 75: that means "retry later", and a
planted file does not go away by waiting (the systemd units even count 75 as success).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol

from filelock import FileLock, Timeout

from agentd import __version__, faults
from agentd.errors import AgentdError, ContractError, LockContendedError
from agentd.liveness import ProcessIdentity
from agentd.log import get_logger

log = get_logger("lock")
GUARD_TIMEOUT_SECONDS = 10.0
HEARTBEAT_GUARD_TIMEOUT_SECONDS = 2.0
MAX_HEARTBEAT_SECONDS = 30.0
MAX_RECORD_BYTES = 64 * 1024


def heartbeat_interval(ttl_seconds: int) -> float:
    """Often enough that a live holder on another host never looks stale: four beats a TTL."""
    return max(1.0, min(MAX_HEARTBEAT_SECONDS, ttl_seconds / 4))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class LockState(StrEnum):
    ABSENT = "absent"
    ACTIVE = "active"
    STALE = "stale"


@dataclass(frozen=True)
class LockRecord:
    pid: int
    hostname: str
    started_at: str
    started_at_epoch: float
    ttl_seconds: int
    agentd_version: str
    profile_id: str
    token: str
    heartbeat_at: str = ""
    heartbeat_at_epoch: float = 0.0
    boot_id: str | None = None
    pid_start_ticks: int | None = None

    @classmethod
    def new(cls, profile_id: str, ttl_seconds: int) -> LockRecord:
        now = time.time()
        me = ProcessIdentity.current()
        return cls(
            pid=me.pid,
            hostname=me.hostname,
            started_at=_iso(now),
            started_at_epoch=now,
            ttl_seconds=ttl_seconds,
            agentd_version=__version__,
            profile_id=profile_id,
            token=uuid.uuid4().hex,
            heartbeat_at=_iso(now),
            heartbeat_at_epoch=now,
            boot_id=me.boot_id,
            pid_start_ticks=me.start_ticks,
        )

    def beat(self) -> LockRecord:
        now = time.time()
        return dataclasses.replace(self, heartbeat_at=_iso(now), heartbeat_at_epoch=now)

    @property
    def holder(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.hostname, self.boot_id, self.pid_start_ticks)

    def age_seconds(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.started_at_epoch)

    def heartbeat_age_seconds(self, now: float | None = None) -> float:
        """Since the last heartbeat (a record from before heartbeats: since it started)."""
        last = self.heartbeat_at_epoch or self.started_at_epoch
        return max(0.0, (now or time.time()) - last)

    def describe(self) -> str:
        return (
            f"pid {self.pid} on {self.hostname}, started {self.started_at} "
            f"({int(self.age_seconds())}s ago, last heartbeat "
            f"{int(self.heartbeat_age_seconds())}s ago, TTL {self.ttl_seconds}s, "
            f"agentd {self.agentd_version})"
        )

    def public(self) -> dict[str, object]:
        """The record without its token: what reports, the store and `--json` show."""
        return {k: v for k, v in asdict(self).items() if k != "token"}


@dataclass(frozen=True)
class LockInspection:
    state: LockState
    path: Path
    record: LockRecord | None
    why_stale: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "path": str(self.path),
            "holder": self.record.public() | {"token": None} if self.record else None,
            "why_stale": self.why_stale,
        }


@dataclass(frozen=True)
class LockRecovery:
    """What was replaced when a stale lock was taken over; goes into the run report."""

    previous_holder: LockRecord | None
    reason: str
    recovered_at: str

    def to_json(self) -> dict[str, object]:
        holder = self.previous_holder.public() if self.previous_holder else None
        return {"previous_holder": holder, "reason": self.reason, "recovered_at": self.recovered_at}


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISLNK: "a symbolic link",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISDIR: "a directory",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def _unsafe(path: Path, mode: int) -> ContractError:
    return ContractError(
        f"lock file {path} is {_file_kind(mode)}, not a regular file; agentd refuses to use it",
        f"remove it (rm -r {path}) and find out who put it there: only agentd writes it",
    )


def refuse_special_file(path: Path) -> None:
    """Refuse anything but a regular file (or nothing) at `path`, without opening it."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise _unsafe(path, mode)


def _read_text(path: Path) -> str | None:
    """The lock file's text, or None when absent; never follows a symlink or waits on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:  # ELOOP (a symlink), ENXIO (a socket), ...
        refuse_special_file(path)
        raise
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise _unsafe(path, mode)
        return handle.read(MAX_RECORD_BYTES).decode("utf-8", errors="replace")


def _read_record(path: Path) -> LockRecord | None:
    """The record, or None when there is no lock file; raises ValueError when unreadable and
    ContractError when the lock file is not a regular file."""
    raw = _read_text(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        ticks = data.get("pid_start_ticks")
        return LockRecord(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            started_at=str(data["started_at"]),
            started_at_epoch=float(data["started_at_epoch"]),
            ttl_seconds=int(data["ttl_seconds"]),
            agentd_version=str(data.get("agentd_version", "unknown")),
            profile_id=str(data.get("profile_id", "")),
            token=str(data.get("token", "")),
            heartbeat_at=str(data.get("heartbeat_at") or ""),
            heartbeat_at_epoch=float(data.get("heartbeat_at_epoch") or 0.0),
            boot_id=str(data["boot_id"]) if data.get("boot_id") else None,
            pid_start_ticks=int(ticks) if ticks is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"unreadable lock record: {exc}") from None


def _staleness(record: LockRecord) -> str | None:
    alive = record.holder.alive()
    if alive is False:
        return f"holder pid {record.pid} is no longer running on {record.hostname}"
    if alive is None and record.heartbeat_age_seconds() > record.ttl_seconds:
        return (
            f"no heartbeat from {record.hostname} for {int(record.heartbeat_age_seconds())}s "
            f"(TTL {record.ttl_seconds}s)"
        )
    return None


def inspect_lock(path: Path) -> LockInspection:
    try:
        record = _read_record(path)
    except ValueError as exc:
        return LockInspection(LockState.STALE, path, None, str(exc))
    if record is None:
        return LockInspection(LockState.ABSENT, path, None)
    why = _staleness(record)
    return LockInspection(LockState.STALE if why else LockState.ACTIVE, path, record, why)


def _write_atomically(path: Path, record: LockRecord) -> None:
    tmp = path.with_name(f"{path.name}.{record.token}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(record), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _check_lock_directory(directory: Path) -> None:
    if not directory.is_dir():
        raise AgentdError(
            f"cannot take the lock: {directory} does not exist",
            "create runtime.local_clone_root or fix its path in the profile",
        )
    mode = directory.stat().st_mode
    if mode & stat.S_IWOTH:
        raise ContractError(
            f"local_clone_root {directory} is writable by everyone (mode "
            f"{stat.S_IMODE(mode):04o}): anyone could plant or replace agentd's lock there",
            f"chmod o-w {directory}",
        )


class ProfileLock:
    """`with ProfileLock(path, profile_id, ttl) as lock:` — raises LockContendedError, whose
    `holder` is the live holder's record (None when another process was taking the lock)."""

    def __init__(
        self,
        path: Path,
        profile_id: str,
        ttl_seconds: int,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.path = path
        self.profile_id = profile_id
        self.ttl_seconds = ttl_seconds
        self.heartbeat_seconds = heartbeat_seconds or heartbeat_interval(ttl_seconds)
        self.record: LockRecord | None = None
        self.recovery: LockRecovery | None = None
        self._guard = FileLock(str(path.with_name(path.name + ".guard")))
        self._beating = threading.Event()
        self._heart: threading.Thread | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    def acquire(self) -> ProfileLock:
        _check_lock_directory(self.path.parent)
        refuse_special_file(self.path)
        refuse_special_file(self.path.with_name(self.path.name + ".guard"))
        try:
            with self._guard.acquire(timeout=GUARD_TIMEOUT_SECONDS):
                inspection = inspect_lock(self.path)
                if inspection.state is LockState.ACTIVE and inspection.record:
                    raise self._contended(inspection.record)
                if inspection.state is LockState.STALE:
                    self.recovery = LockRecovery(
                        inspection.record,
                        inspection.why_stale or "stale",
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    )
                record = LockRecord.new(self.profile_id, self.ttl_seconds)
                _write_atomically(self.path, record)
                self.record = record
        except Timeout:
            raise LockContendedError(
                f"lock_contended: another agentd process is taking the lock {self.path}",
                "retry in a moment",
            ) from None
        self._start_heartbeat()
        return self

    def _contended(self, holder: LockRecord) -> LockContendedError:
        error = LockContendedError(
            f"lock_contended: profile {self.profile_id!r} is already running "
            f"({holder.describe()}); lock file {self.path}",
            "wait for that run to finish; if it is truly gone, run "
            f"'agentd lock break --profile {self.profile_id}'",
        )
        error.holder = holder.public()
        return error

    # --- heartbeat --------------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        self._beating.clear()
        self._heart = threading.Thread(
            target=self._beat_until_released, name="agentd-lock-heartbeat", daemon=True
        )
        self._heart.start()

    def _beat_until_released(self) -> None:
        while not self._beating.wait(self.heartbeat_seconds):
            if not self.refresh():
                return

    def refresh(self) -> bool:
        """Write a new heartbeat into the record if it is still ours; False once it is not
        (broken with --force and maybe taken by another run): the heartbeat stops then."""
        mine = self.record
        if mine is None:
            return False
        try:
            with self._guard.acquire(timeout=HEARTBEAT_GUARD_TIMEOUT_SECONDS):
                try:
                    current = _read_record(self.path)
                except (ValueError, AgentdError):
                    current = None
                if current is None or current.token != mine.token or self.record is None:
                    log.error(
                        "the run lock is no longer this run's (broken or taken over); "
                        "its heartbeat stops",
                        extra={"lock": str(self.path)},
                    )
                    return False
                beat = mine.beat()
                _write_atomically(self.path, beat)
                self.record = beat
        except Timeout:
            return True  # the guard is busy (someone is inspecting): beat next time
        except OSError as exc:
            log.warning("could not refresh the lock's heartbeat", extra={"why": str(exc)})
        return True

    def _stop_heartbeat(self) -> None:
        self._beating.set()
        heart, self._heart = self._heart, None
        if heart is not None and heart is not threading.current_thread():
            heart.join(timeout=HEARTBEAT_GUARD_TIMEOUT_SECONDS + 1)

    # --- release -----------------------------------------------------------------------------

    def release(self) -> None:
        """Remove the lock file if it is still ours. Safe to call more than once."""
        if self.record is None:
            return
        self._stop_heartbeat()
        faults.point("before_lock_release")
        with contextlib.suppress(Timeout), self._guard.acquire(timeout=GUARD_TIMEOUT_SECONDS):
            try:
                current = _read_record(self.path)
            except ValueError:
                current = None
            if current is not None and current.token == self.record.token:
                self.path.unlink(missing_ok=True)
        self.record = None
        faults.point("after_lock_release")

    def __enter__(self) -> ProfileLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def break_lock(path: Path, force: bool) -> LockInspection:
    """Remove a stale lock (or, with force, a live one). Returns what was removed."""
    guard_path = path.with_name(path.name + ".guard")
    refuse_special_file(guard_path)
    guard = FileLock(str(guard_path))
    with guard.acquire(timeout=GUARD_TIMEOUT_SECONDS):
        inspection = inspect_lock(path)
        if inspection.state is LockState.ACTIVE and not force:
            holder = inspection.record.describe() if inspection.record else "unknown holder"
            raise LockContendedError(
                f"lock_contended: refusing to break a live lock held by {holder}",
                "stop that run first, or pass --force if you are sure it is not running",
            )
        path.unlink(missing_ok=True)
        return inspection


# --- the run lock, whichever the store ------------------------------------------------------


class RunLock(Protocol):
    """A run's lock: the lock file (`ProfileLock`) or, with a PostgreSQL store, an advisory
    lock (`agentd.pgstore.AdvisoryLock`)."""

    @property
    def recovery(self) -> LockRecovery | None: ...

    @property
    def name(self) -> str: ...  # the lock file, or the advisory lock and its store

    def acquire(self) -> RunLock: ...

    def release(self) -> None: ...


def shard_lock_path(path: Path, shard_label: str | None) -> Path:
    """A shard's lock file beside the profile's: `NAME.shard-K-of-N.lock`."""
    if not shard_label:
        return path
    stem, dot, ext = path.name.rpartition(".")
    name = f"{stem}.{shard_label}.{ext}" if dot and stem else f"{path.name}.{shard_label}"
    return path.with_name(name)


def open_run_lock(
    lock_path: Path, profile_id: str, ttl_seconds: int, shard_label: str | None, url: str | None
) -> RunLock:
    """The lock a run of this profile (or shard) takes: in the PostgreSQL store when there is
    one (so runs on different hosts exclude each other), else the lock file."""
    if url:
        from agentd.pgstore import WHOLE_PROFILE, AdvisoryLock  # noqa: PLC0415 - psycopg if used

        return AdvisoryLock(url, profile_id, shard_label or WHOLE_PROFILE)
    return ProfileLock(shard_lock_path(lock_path, shard_label), profile_id, ttl_seconds)
