"""Coverage answers remembered between runs: "disabled" and "no analysis", for a while.

A per-repository coverage probe that GitHub answers 403 or 404 carries no validator, so it
cannot be asked conditionally: asked every run, it costs rate limit every run. Those two
answers are remembered per profile, repository and alert class for `ttl_seconds`
(`AGENTD_COVERAGE_MEMORY_HOURS`, default 6; 0 turns the memory off), in one small JSON file
per profile under the state directory.

A remembered answer is used only where the class's organisation stream was read in the same
run: an alert that appears meanwhile shows up in the stream and wins, so the memory can delay
"enabled, zero alerts" but never hide an alert.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agentd.errors import ContractError
from agentd.log import get_logger
from agentd.session import write_private_file
from agentd.vocabulary import AlertClass

log = get_logger("coverage_memory")
DEFAULT_TTL_HOURS = 6.0
REMEMBERED = frozenset({"disabled", "no_analysis"})


@dataclass(frozen=True)
class Remembered:
    coverage: str
    detail: str
    at: float


class CoverageMemory:
    def __init__(
        self, path: Path, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._entries = self._load() if ttl_seconds > 0 else {}
        self._dirty = False

    @classmethod
    def for_profile(
        cls, state_dir: Path, profile_id: str, ttl_hours: float = DEFAULT_TTL_HOURS
    ) -> CoverageMemory:
        return cls(state_dir / "coverage" / f"{profile_id}.json", ttl_hours * 3600)

    @staticmethod
    def _key(owner: str, repo: str, alert_class: AlertClass) -> str:
        return f"{owner.lower()}/{repo.lower()}:{alert_class.value}"

    def recall(self, owner: str, repo: str, alert_class: AlertClass) -> Remembered | None:
        """The remembered answer, if it is younger than the TTL."""
        with self._lock:
            entry = self._entries.get(self._key(owner, repo, alert_class))
        if entry is None or not 0 <= self.clock() - entry.at < self.ttl_seconds:
            return None
        return entry

    def remember(
        self, owner: str, repo: str, alert_class: AlertClass, coverage: str, detail: str
    ) -> None:
        if self.ttl_seconds <= 0 or coverage not in REMEMBERED:
            return
        with self._lock:
            self._entries[self._key(owner, repo, alert_class)] = Remembered(
                coverage, detail, self.clock()
            )
            self._dirty = True

    def forget(self, owner: str, repo: str, alert_class: AlertClass) -> None:
        with self._lock:
            if self._entries.pop(self._key(owner, repo, alert_class), None) is not None:
                self._dirty = True

    def save(self) -> None:
        """Write the memory (expired entries dropped) if it changed; a failure only costs
        probes next run."""
        with self._lock:
            if not self._dirty:
                return
            now = self.clock()
            live = {
                key: {"coverage": e.coverage, "detail": e.detail, "at": e.at}
                for key, e in self._entries.items()
                if 0 <= now - e.at < self.ttl_seconds
            }
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private_file(self.path, json.dumps(live, sort_keys=True), mode=0o600)
        except (OSError, ContractError) as exc:
            log.warning("could not save the coverage memory", extra={"why": str(exc)})

    def _load(self) -> dict[str, Remembered]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        entries = {}
        for key, value in data.items():
            try:
                entry = Remembered(str(value["coverage"]), str(value["detail"]), float(value["at"]))
            except (TypeError, KeyError, ValueError):
                continue
            if entry.coverage in REMEMBERED:
                entries[str(key)] = entry
        return entries
