"""Graceful termination: SIGTERM/SIGINT ask the process to stop.

A run checks `STOP.requested` between units, so the unit in hand finishes, the report is
written and the lock released. Code that holds the lock but has no units to finish (lock
tests, short commands) installs the raising handler instead, so `finally` blocks and
context managers release what they hold.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopRequested(SystemExit):
    """Raised in the main thread by the raising handler; exit status 128 + signal."""


class StopFlag:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_number: int | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int | None = None) -> None:
        self.signal_number = signum
        self._event.set()

    def clear(self) -> None:
        self._event.clear()
        self.signal_number = None

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


STOP = StopFlag()


def _raise(signum: int, _frame: FrameType | None) -> None:
    STOP.request(signum)
    raise StopRequested(128 + signum)


def _flag(signum: int, _frame: FrameType | None) -> None:
    STOP.request(signum)


def install_raising_handlers() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise)


def install_flag_handlers() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _flag)
