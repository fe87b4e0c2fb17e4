"""The per-profile run lock of SPEC §4.3.

The lock file `{local_clone_root}/{lock_filename}` holds a JSON record (pid, hostname,
start time, TTL, agentd version, a random token). The check-and-replace is made atomic
with a `filelock` guard on a sibling file, so two agentd processes can never both decide
the lock is theirs. A record is stale when its holder's pid is gone on this host, when it
is older than its TTL, or when it cannot be read.

The lock file and its guard must be regular files: a FIFO (which would block the read
forever), a directory, a socket or a symlink there is refused at once with a contract error
(exit 78), as is a clone root anyone may write in. Not 75: that means "retry later", and a
planted file does not go away by waiting (the systemd units even count 75 as success).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from agentd import __version__, faults
from agentd.errors import AgentdError, ContractError, LockContendedError

GUARD_TIMEOUT_SECONDS = 10.0
MAX_RECORD_BYTES = 64 * 1024


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

    @classmethod
    def new(cls, profile_id: str, ttl_seconds: int) -> LockRecord:
        now = time.time()
        return cls(
            pid=os.getpid(),
            hostname=socket.gethostname(),
            started_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            started_at_epoch=now,
            ttl_seconds=ttl_seconds,
            agentd_version=__version__,
            profile_id=profile_id,
            token=uuid.uuid4().hex,
        )

    def age_seconds(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.started_at_epoch)

    def describe(self) -> str:
        return (
            f"pid {self.pid} on {self.hostname}, started {self.started_at} "
            f"({int(self.age_seconds())}s ago, TTL {self.ttl_seconds}s, "
            f"agentd {self.agentd_version})"
        )


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
            "holder": asdict(self.record) | {"token": None} if self.record else None,
            "why_stale": self.why_stale,
        }


@dataclass(frozen=True)
class LockRecovery:
    """What was replaced when a stale lock was taken over; goes into the run report."""

    previous_holder: LockRecord | None
    reason: str
    recovered_at: str

    def to_json(self) -> dict[str, object]:
        holder = asdict(self.previous_holder) if self.previous_holder else None
        if holder:
            holder.pop("token", None)
        return {"previous_holder": holder, "reason": self.reason, "recovered_at": self.recovered_at}


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        return LockRecord(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            started_at=str(data["started_at"]),
            started_at_epoch=float(data["started_at_epoch"]),
            ttl_seconds=int(data["ttl_seconds"]),
            agentd_version=str(data.get("agentd_version", "unknown")),
            profile_id=str(data.get("profile_id", "")),
            token=str(data.get("token", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable lock record: {exc}") from None


def _staleness(record: LockRecord) -> str | None:
    if record.age_seconds() > record.ttl_seconds:
        return f"older than its TTL ({int(record.age_seconds())}s > {record.ttl_seconds}s)"
    if record.hostname == socket.gethostname() and not _pid_alive(record.pid):
        return f"holder pid {record.pid} is no longer running on {record.hostname}"
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
    """`with ProfileLock(path, profile_id, ttl) as lock:` — raises LockContendedError."""

    def __init__(self, path: Path, profile_id: str, ttl_seconds: int) -> None:
        self.path = path
        self.profile_id = profile_id
        self.ttl_seconds = ttl_seconds
        self.record: LockRecord | None = None
        self.recovery: LockRecovery | None = None
        self._guard = FileLock(str(path.with_name(path.name + ".guard")))

    def acquire(self) -> ProfileLock:
        _check_lock_directory(self.path.parent)
        refuse_special_file(self.path)
        refuse_special_file(self.path.with_name(self.path.name + ".guard"))
        try:
            with self._guard.acquire(timeout=GUARD_TIMEOUT_SECONDS):
                inspection = inspect_lock(self.path)
                if inspection.state is LockState.ACTIVE and inspection.record:
                    raise LockContendedError(
                        f"lock_contended: profile {self.profile_id!r} is already running "
                        f"({inspection.record.describe()}); lock file {self.path}",
                        "wait for that run to finish; if it is truly gone, run "
                        f"'agentd lock break --profile {self.profile_id}'",
                    )
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
        return self

    def release(self) -> None:
        """Remove the lock file if it is still ours. Safe to call more than once."""
        if self.record is None:
            return
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
