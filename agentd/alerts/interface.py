"""The alert-class plug-in interface: what the engine asks of each class, and nothing more.

The engine (`agentd.engine.lifecycle`) owns the unit lifecycle once for every class:
gates → isolated workspace → the plug-in's change → re-check → verification → commit →
publish → review gate → merge → one final record. A plug-in only knows its alerts:

- `plan`        inventory → units (a unit the plug-in can already settle carries `settled`)
- `propose`     what it would change, read-only, in the unit's workspace (or settle the unit)
- `apply`       make the change in the workspace
- `recheck`     prove the captured change removes what was alerted (raise `UnitError` if not)
- `hold`        what keeps a person in the loop before a merge (or `UnitError` to refuse)
- `candidates`  existing PRs by others that may carry the change (native Dependabot); the
                engine adopts one only if it carries exactly the change agentd built
- `describe`    the PR's title, body, commit message and stamp
- `open_alerts` the numbers of the class's open alerts now (re-read before publish and merge)
- `orphaned`    why an agent PR whose key no unit planned in this run can be closed

Plug-ins never push, open, update, label, comment on or merge PRs: `agentd.delivery` does,
on the engine's behalf. They refuse by raising `agentd.errors.UnitError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agentd.engine.context import RunContext, Workspace
from agentd.github.models import PullRequest
from agentd.inventory import ClassInventory
from agentd.profile import TITLE_PLACEHOLDERS, Repository, Target
from agentd.stamp import Stamp
from agentd.units import branch_name, remediation_key
from agentd.verify import VerificationResult
from agentd.vocabulary import AlertClass, AlertState, ReasonCode, UnitResult


@dataclass
class Unit:
    """One remediation unit: at most one PR, identified by its remediation key."""

    alert_class: AlertClass
    repo: Repository
    base: str
    key: str
    branch: str
    target: Target | None = None
    default_branch: str = ""
    alert_numbers: list[int] = field(default_factory=list)
    advisory_ids: list[str] = field(default_factory=list)
    rule_id: str | None = None
    alert_number: int | None = None
    triage_state: str | None = None
    manual_follow_up: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Per alert: does the change fix it, or why does it stay open (set by the plug-in).
    alert_states: list[AlertState] = field(default_factory=list)
    settled: UnitResult | None = None  # the plug-in's final word at planning time
    payload: Any = None  # the plug-in's own data (alerts, triage, …)

    @property
    def target_id(self) -> str:
        return self.target.target_id if self.target is not None else "*"

    @property
    def protected_branches(self) -> list[str]:
        return [b for b in (self.base, self.default_branch) if b]


@dataclass
class Proposal:
    """What a unit would change, worked out without changing anything."""

    intent: str  # completes "would …" in report-only runs, e.g. "open a PR: a 1.0 → 1.1"
    summary: list[str] = field(default_factory=list)  # the record's `changes`
    payload: Any = None


@dataclass
class Change:
    """A change in the workspace, or an existing PR that already carries it."""

    files: list[str]  # repo-relative files the change touches: the only ones the PR may touch
    summary: list[str] = field(default_factory=list)
    manifest_files: list[str] = field(default_factory=list)
    payload: Any = None


@dataclass(frozen=True)
class Hold:
    """Why a PR must wait for a person even when everything else is green."""

    reason: ReasonCode | None
    detail: str


@dataclass(frozen=True)
class Description:
    title: str
    body: str  # without the stamp: the engine adds it
    commit_message: str
    stamp: Stamp


@dataclass(frozen=True)
class Orphan:
    """Why an agent PR no unit planned in this run is closed."""

    reason: ReasonCode
    explanation: str  # completes "agentd is closing this pull request: …"


class AlertPlugin(ABC):
    """One alert class. Subclasses are registered in `agentd.alerts.registry`."""

    alert_class: AlertClass
    disabled_reason: ReasonCode  # what a repository with the class turned off reports
    may_merge: bool = True  # False: its PRs are for people only (secret scanning)

    @abstractmethod
    def plan(
        self, ctx: RunContext, repo: Repository, alerts: ClassInventory, base: str, default: str
    ) -> list[Unit]:
        """Every unit of one repository whose alerts of this class were read completely."""

    @abstractmethod
    def propose(self, ctx: RunContext, unit: Unit, ws: Workspace) -> Proposal:
        """What the unit would change; raise `UnitError` when there is nothing it can do."""

    def candidates(self, ctx: RunContext, unit: Unit, proposal: Proposal) -> list[PullRequest]:
        """Existing PRs not made by agentd that may already carry the change (the engine
        checks author, repository, commits and tree before adopting one)."""
        return []

    @abstractmethod
    def apply(self, ctx: RunContext, unit: Unit, proposal: Proposal, ws: Workspace) -> Change:
        """Make the change in the workspace; raise `UnitError` to refuse."""

    def recheck(self, ctx: RunContext, unit: Unit, change: Change, ws: Workspace) -> None:
        """Prove the change removes what was alerted; raise `UnitError` when it does not."""
        return None

    def hold(self, ctx: RunContext, unit: Unit, change: Change) -> Hold | None:
        """What keeps a person in the loop; raise `UnitError` to refuse the change."""
        return None

    @abstractmethod
    def describe(
        self,
        ctx: RunContext,
        unit: Unit,
        change: Change,
        verification: VerificationResult,
        hold: Hold | None,
    ) -> Description:
        """The PR title, body, commit message and stamp for a verified change."""

    @abstractmethod
    def open_alerts(self, ctx: RunContext, repo: Repository) -> set[int]:
        """The numbers of the repository's open alerts of this class, read now."""

    @abstractmethod
    def orphaned(self, ctx: RunContext, repo: Repository, stamp: Stamp) -> Orphan:
        """Why the agent PR carrying `stamp` is no longer backed by an open alert."""


def pr_title(template: str, unit: Unit, **fields: str) -> str:
    """The profile's PR title template filled for `unit`; placeholders a class has no value
    for (a rule id for Dependabot, say) are empty."""
    values = dict.fromkeys(TITLE_PLACEHOLDERS, "")
    values.update(alert_class=unit.alert_class.value, target_id=unit.target_id, repo=unit.repo.repo)
    values.update(fields)
    return template.format(**values)


def new_unit(
    ctx: RunContext,
    alert_class: AlertClass,
    repo: Repository,
    base: str,
    target: Target | None,
    *,
    default_branch: str = "",
    qualifier: str | int | None = None,
    key_suffix: str = "",
    **fields: Any,
) -> Unit:
    """A unit with its remediation key and branch name (SPEC §6)."""
    target_id = target.target_id if target is not None else "*"
    key = remediation_key(
        ctx.profile.profile.owner, repo.repo, alert_class, base, target_id, qualifier=qualifier
    )
    key += key_suffix
    branch = branch_name(
        ctx.profile.profile.defaults.branch_template, alert_class, target_id, key, repo.repo
    )
    return Unit(alert_class, repo, base, key, branch, target, default_branch, **fields)
