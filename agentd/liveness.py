"""Is the process that wrote a record (a lock, a run directory) still running?

A pid alone is not enough: after the holder died its pid may belong to another process, and
after a reboot any pid may. So a record also carries the boot id and the process's start
time (Linux: `/proc/sys/kernel/random/boot_id`, field 22 of `/proc/<pid>/stat`); when both
were recorded and can be read now, a live pid only counts as the holder if they match.
A process on another host cannot be checked from here: `alive` says None.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot; None where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        # The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    hostname: str
    boot_id: str | None = None
    start_ticks: int | None = None

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), boot_id(), start_ticks(pid))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessIdentity:
        ticks = data.get("start_ticks")
        boot = data.get("boot_id")
        return cls(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            boot_id=str(boot) if boot else None,
            start_ticks=int(ticks) if ticks is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "hostname": self.hostname,
            "boot_id": self.boot_id,
            "start_ticks": self.start_ticks,
        }

    @property
    def local(self) -> bool:
        return self.hostname == socket.gethostname()

    def alive(self) -> bool | None:
        """True while the very process runs, False once it is gone (or its pid was reused),
        None when it runs on another host."""
        if not self.local:
            return None
        if not pid_exists(self.pid):
            return False
        now_boot = boot_id()
        if self.boot_id and now_boot and self.boot_id != now_boot:
            return False
        now_start = start_ticks(self.pid)
        return not (
            self.start_ticks is not None and now_start is not None and now_start != self.start_ticks
        )
