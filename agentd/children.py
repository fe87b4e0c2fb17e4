"""The programs agentd is waiting on right now: their process groups and deadlines.

Verification commands, updater tools and git each run in a session of their own, so
a Ctrl-C typed at the terminal does not reach them: the first Ctrl-C lets them finish (and
says how long that may take: `longest_remaining`), the second kills every group registered
here at once (`kill_all`).

The signal handler reads this registry in the main thread, possibly while that very thread
is registering a child, so it takes no lock: single dict operations are atomic, and the
handler only works on a copy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_running: dict[int, float] = {}  # process group id -> monotonic deadline


@contextlib.contextmanager
def tracked(pgid: int, timeout: float) -> Iterator[None]:
    """Register process group `pgid` (which must end within `timeout`) while in the block."""
    _running[pgid] = time.monotonic() + timeout
    try:
        yield
    finally:
        _running.pop(pgid, None)


def longest_remaining() -> float | None:
    """Seconds until the last deadline of what runs now; None when nothing runs."""
    deadlines = list(_running.copy().values())
    if not deadlines:
        return None
    return max(0.0, max(deadlines) - time.monotonic())


def kill_all() -> int:
    """SIGKILL every registered process group; how many there were."""
    groups = list(_running.copy())
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return len(groups)


def run_text(
    argv: Sequence[str], *, timeout: float, env: Mapping[str, str], input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(capture_output=True, text=True)`, tracked (see `_run`)."""
    out, err, code = _run(argv, timeout, env, input_text, text=True)
    return subprocess.CompletedProcess(list(argv), code, out, err)


def run_bytes(
    argv: Sequence[str], *, timeout: float, env: Mapping[str, str]
) -> subprocess.CompletedProcess[bytes]:
    out, err, code = _run(argv, timeout, env, None, text=False)
    return subprocess.CompletedProcess(list(argv), code, out, err)


def _run(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str],
    input_data: str | None,
    *,
    text: bool,
) -> tuple[Any, Any, int]:
    """Run `argv` in a process group of its own, registered while it runs. On a timeout (or
    when the run is aborted under it) the group is killed and the exception re-raised."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        text=text,
        # A session of its own, not only a process group: without a controlling terminal,
        # ssh fails at once where it would ask, instead of stopping (SIGTTIN) in the
        # background group of an interactive run until the timeout.
        start_new_session=True,
    )
    with tracked(proc.pid, timeout):
        try:
            stdout, stderr = proc.communicate(input_data, timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return stdout, stderr, proc.returncode
