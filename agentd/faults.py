"""Crash-consistency fault injection: die at a named point (tests only, off by default).

`AGENTD_FAULT_POINT=after_merge` makes the process SIGKILL itself the first time it reaches
that point (`after_merge:2` the second time). When the variable is unset, `point()` is one
comparison against None.
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = (
    "before_push", "after_push",
    "before_pr_create", "after_pr_create",
    "before_pr_update", "after_pr_update",
    "before_label", "after_label",
    "before_merge", "after_merge",
    "before_report_write", "after_report_write",
    "before_lock_release", "after_lock_release",
)  # fmt: skip

_SPEC = os.environ.get("AGENTD_FAULT_POINT") or None
_lock = threading.Lock()
_seen: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    if _SPEC is None:
        return None
    name, _, count = _SPEC.partition(":")
    return name, int(count) if count.isdigit() else 1


_TARGET = _target()


def point(name: str) -> None:
    if _TARGET is None or _TARGET[0] != name:
        return
    with _lock:
        _seen[name] = _seen.get(name, 0) + 1
        if _seen[name] >= _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
