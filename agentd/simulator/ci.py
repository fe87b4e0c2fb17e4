"""The repository's own CI: the check runs a workflow on `pull_request` produces.

A scenario repository with `ci` has a workflow GitHub Actions runs for every pull request:
when a PR is opened, and whenever its head branch receives a push (`synchronize`), GitHub
creates one check run per job for the new head sha — `queued`, then `in_progress` — and
completes them `after_ms` later with the scenario's conclusion. Nothing else gets them: a
commit that is no PR's head has no runs (unlike the scenario's static `checks`, which every
commit reports). Overrides (`Simulator.admin.set_check`) apply to them by name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentd.simulator.scenario import Check

if TYPE_CHECKING:
    from agentd.simulator.world import RepoState


@dataclass(frozen=True)
class Run:
    """One CI check run of a head: its state now and when it started and finished."""

    check: Check
    outcome: str  # queued | pending (in progress) | success | failure
    created_at: float
    started_at: float | None
    completed_at: float | None


def start(state: RepoState, sha: str) -> None:
    """The pull_request workflow is triggered for `sha` (caller holds the world lock)."""
    if state.config.ci is not None:
        state.ci_started.setdefault(sha, time.time())


def runs(state: RepoState, sha: str, now: float | None = None) -> list[Run]:
    """The CI check runs of `sha` as they stand at `now` (none if no PR head ever was it)."""
    ci, created = state.config.ci, state.ci_started.get(sha)
    if ci is None or created is None:
        return []
    now = time.time() if now is None else now
    delay = ci.after_ms / 1000
    started = created + delay / 2  # a runner picks the job up halfway through the delay
    outcome: str
    started_at: float | None
    completed_at: float | None
    if now >= created + delay:
        outcome, started_at, completed_at = ci.conclusion, started, created + delay
    elif now >= started:
        outcome, started_at, completed_at = "pending", started, None
    else:
        outcome, started_at, completed_at = "queued", None, None
    return [Run(Check(name=name), outcome, created, started_at, completed_at) for name in ci.checks]
