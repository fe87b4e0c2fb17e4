"""What this run already learned about each unit, so a later iteration does not redo work
whose inputs did not change.

Two kinds of knowledge, both keyed by remediation key and both gone when the run ends:
- the plug-in's own notes (`notes`): e.g. which package copies the updater could not move;
- the unit's last attempt (`attempt`): the inputs it ran on (its alerts and the base
  commit), the record it ended with and, when it got as far as the review gate, the merge
  request pinned to the head agentd pushed. A later iteration with the same inputs does not
  run the updater or verification again: it reports the same record or, for a PR that
  waits on checks or reviews, only re-checks the gate.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentd.delivery.merge import MergeRequest
    from agentd.report import UnitRecord


@dataclass(frozen=True)
class UnitInputs:
    """What a unit's work depends on within one run."""

    alert_numbers: frozenset[int]
    base_sha: str


@dataclass(frozen=True)
class Attempt:
    inputs: UnitInputs
    record: UnitRecord
    gate: MergeRequest | None = None  # the PR waits at the review gate: re-check only that
    # GitHub merges the PR itself (auto-merge enabled): nothing left for this run to do, even
    # if the base moved meanwhile (GitHub's own rules decide what that means for the merge)
    handed_to_github: bool = False


class RunMemory:
    """Thread-safe: repositories are worked on in parallel (a unit's key is one repository's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[str, dict[Any, Any]] = {}
        self._attempts: dict[str, Attempt] = {}

    def notes(self, key: str) -> dict[Any, Any]:
        """The plug-in's notes about the unit (a dict it may fill in)."""
        with self._lock:
            return self._notes.setdefault(key, {})

    def unchanged(self, key: str, inputs: UnitInputs) -> Attempt | None:
        """The unit's last attempt in this run, if it ran on exactly these inputs."""
        with self._lock:
            attempt = self._attempts.get(key)
        return attempt if attempt is not None and attempt.inputs == inputs else None

    def handed_to_github(self, key: str, alerts: frozenset[int]) -> Attempt | None:
        """The unit's attempt in this run that handed its PR to GitHub's auto-merge, if its
        alerts are still these: its record stands, nothing (not even the base) is read."""
        with self._lock:
            attempt = self._attempts.get(key)
        if attempt is None or not attempt.handed_to_github:
            return None
        return attempt if attempt.inputs.alert_numbers == alerts else None

    def remember(self, key: str, attempt: Attempt) -> None:
        with self._lock:
            self._attempts[key] = attempt

    def forget(self, key: str) -> None:
        """The next iteration does the unit again (its head moved, it failed, …)."""
        with self._lock:
            self._attempts.pop(key, None)
