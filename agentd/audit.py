"""The append-only audit log (SPEC §12): one JSON line per mutation, fsync'd per record.

Every mutating GitHub request (PR create/update/close, comment, label, merge) and every
push is recorded with time, profile, repository, remediation key, request id and result.
Lines pass through the redactor; a secret can never reach the log.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from agentd.mutation import MutationKind
from agentd.redaction import redact
from agentd.report import utc_now

_REPO = re.compile(r"^/repos/[^/]+/([^/]+)/")
CURRENT_KEY: ContextVar[str | None] = ContextVar("agentd_current_key", default=None)


@contextmanager
def unit_key(key: str) -> Iterator[None]:
    """Attribute every mutation inside the block to this remediation key."""
    token = CURRENT_KEY.set(key)
    try:
        yield
    finally:
        CURRENT_KEY.reset(token)


class AuditLog:
    def __init__(self, path: Path, profile_id: str, run_id: str) -> None:
        self.path = path
        self.profile_id = profile_id
        self.run_id = run_id
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def record(self, **fields: Any) -> None:
        entry = {
            "time": utc_now(),
            "profile": self.profile_id,
            "run_id": self.run_id,
            "remediation_key": CURRENT_KEY.get(),
            **fields,
        }
        line = redact(json.dumps(entry, sort_keys=True, default=str)) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def api_mutation(
        self, kind: MutationKind, method: str, path: str, status: int | None, request_id: str | None
    ) -> None:
        """Observer for the GitHub client: one record per mutating request that was sent."""
        match = _REPO.match(path)
        self.record(
            action=kind.value,
            method=method,
            path=path,
            repository=match.group(1) if match else None,
            status=status,
            request_id=request_id,
            result="ok" if status is not None and status < 400 else "error",
        )

    def push(self, repository: str, branch: str, sha: str | None, result: str) -> None:
        self.record(action="push", repository=repository, branch=branch, sha=sha, result=result)


def read_audit(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
