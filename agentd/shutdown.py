"""Stopping a run: gracefully on the first Ctrl-C or SIGTERM, at once on the second.

`agentd run` installs the two-stage handlers (`install_flag_handlers`):
- the first SIGINT/SIGTERM sets `STOP.requested` and says so on stderr, with how long the
  units in hand may still take (the latest deadline of the programs running, see
  `agentd.children`). A run checks the flag between units: the units in hand finish, no new
  one starts, the report is written, the lock released; the command exits 128 + signal.
- the second aborts (`STOP.aborted`): every running program's process group is killed at
  once, and the work stops where it stands by raising `RunAborted` (in the main thread, if it
  is inside `STOP.abortable()`; in worker threads, at their next `check_abort()`). The
  unwinding removes the worktrees; the run records itself as interrupted and releases its
  lock.

Code that holds the lock but has no units to finish (lock tests, short commands) installs
the raising handler instead, so `finally` blocks and context managers release what they hold.
The daemon has its own handlers (graceful only; see agentd.scheduler).
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from agentd import children


class StopRequested(SystemExit):
    """Raised in the main thread by the raising handler; exit status 128 + signal."""


class RunAborted(StopRequested):
    """The run was aborted (a second Ctrl-C or SIGTERM): stop the work in hand now.

    A SystemExit, so no `except Exception` (a unit's own error handling) can swallow it."""


class StopFlag:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._aborted = threading.Event()
        self.signal_number: int | None = None
        self._abortable = False

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def request(self, signum: int | None = None) -> None:
        if not self.requested:
            self.signal_number = signum
        self._event.set()

    def abort(self, signum: int | None = None) -> None:
        self.request(signum)
        self.signal_number = signum or self.signal_number
        self._aborted.set()

    def clear(self) -> None:
        self._event.clear()
        self._aborted.clear()
        self.signal_number = None

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    @property
    def exit_code(self) -> int:
        """128 + the signal that stopped the run (130 for Ctrl-C)."""
        return 128 + (self.signal_number or signal.SIGINT)

    def check_abort(self) -> None:
        """Raise `RunAborted` once the run is aborted: called before starting more work."""
        if self.aborted:
            raise RunAborted(self.exit_code)

    @contextmanager
    def abortable(self) -> Iterator[None]:
        """Inside this block an abort raises `RunAborted` in the main thread at once."""
        main = threading.current_thread() is threading.main_thread()
        self._abortable = main
        try:
            self.check_abort()
            yield
        finally:
            if main:
                self._abortable = False

    @property
    def raises_on_abort(self) -> bool:
        return self._abortable


STOP = StopFlag()


def _say(line: str) -> None:
    """Straight to fd 2: the handler may run while the main thread is writing to sys.stderr."""
    with suppress(OSError):
        os.write(2, (line + "\n").encode("utf-8", errors="replace"))


def _again(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def stopping_message(signum: int, remaining: float | None) -> str:
    within = "" if remaining is None else f" (up to {math.ceil(remaining)} s)"
    return f"agentd: stopping after the current unit{within}; {_again(signum)} again to abort now"


def _raise(signum: int, _frame: FrameType | None) -> None:
    STOP.request(signum)
    raise StopRequested(128 + signum)


def _two_stage(signum: int, _frame: FrameType | None) -> None:
    if not STOP.requested:
        STOP.request(signum)
        _say(stopping_message(signum, children.longest_remaining()))
        return
    if STOP.aborted:
        children.kill_all()  # anything started since; the abort is already unwinding
        return
    STOP.abort(signum)
    killed = children.kill_all()
    _say(
        f"agentd: aborting now: killed {killed} running command(s); removing the worktrees "
        "and releasing the lock"
    )
    if STOP.raises_on_abort:
        raise RunAborted(STOP.exit_code)


def install_raising_handlers() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise)


def install_flag_handlers() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _two_stage)
