"""What agentd last pushed to each of its branches: the lease for the next push.

A push is compare-and-set against the sha agentd itself last pushed to the branch, not the
sha it just fetched: a commit somebody else added since is never overwritten. Recorded per
remediation key under the state directory, written atomically.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from agentd.units import key_short

_LOCK = threading.Lock()


class PushLedger:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "pushed"

    def _file(self, key: str) -> Path:
        return self.directory / f"{key_short(key)}.json"

    def last_pushed(self, key: str, branch: str) -> str | None:
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("branch") != branch:
            return None
        sha = data.get("sha")
        return sha if isinstance(sha, str) else None

    def record(self, key: str, branch: str, sha: str) -> None:
        with _LOCK:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self._file(key)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps({"key": key, "branch": branch, "sha": sha}), encoding="utf-8")
            os.replace(tmp, target)
