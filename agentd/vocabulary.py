"""The closed vocabularies of SPEC §11 and the unit result that enforces them.

Every value agentd reports about a remediation unit comes from an enum in this module.
A `UnitResult` cannot be built with a reason outside the vocabulary, nor with a
`blocked`/`skipped`/`failed` outcome that carries no reason.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator


class Outcome(StrEnum):
    MERGED = "merged"
    OPENED_PR = "opened_pr"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    FAILED = "failed"


OUTCOMES_NEEDING_REASON = frozenset({Outcome.BLOCKED, Outcome.SKIPPED, Outcome.FAILED})


class ReasonCode(StrEnum):
    SUPERSEDED = "superseded"
    ADVISORY_WITHDRAWN = "advisory_withdrawn"
    DEPENDENCY_REMOVED = "dependency_removed"
    UNSUPPORTED_ALERT_CLASS = "unsupported_alert_class"
    UNSUPPORTED_ECOSYSTEM = "unsupported_ecosystem"
    VERIFICATION_UNAVAILABLE = "verification_unavailable"
    VERIFICATION_FAILED = "verification_failed"
    CHECKS_PENDING = "checks_pending"
    CHECKS_RED = "checks_red"
    BRANCH_PROTECTION_BLOCK = "branch_protection_block"
    MANIFEST_CHANGE_REQUIRED = "manifest_change_required"
    NO_PATCH_AVAILABLE = "no_patch_available"
    CLONE_MISSING = "clone_missing"
    RATE_LIMITED = "rate_limited"
    ENV_MISMATCH = "env_mismatch"
    AUTH_INSUFFICIENT = "auth_insufficient"
    REGISTRY_AUTH_MISSING = "registry_auth_missing"
    LOCK_CONTENDED = "lock_contended"
    POLICY_BLOCKED = "policy_blocked"
    UNSUPPORTED_RULE = "unsupported_rule"
    CODE_SCANNING_DISABLED = "code_scanning_disabled"
    SECRET_SCANNING_DISABLED = "secret_scanning_disabled"
    NO_ANALYSIS_FOUND = "no_analysis_found"
    HISTORY_REWRITE_REQUIRED = "history_rewrite_required"
    # (+) agentd-only: agentd itself failed (a defect to report), never the repository's fault
    INTERNAL_ERROR = "internal_error"


class AlertClass(StrEnum):
    DEPENDABOT = "dependabot"
    CODE_SCANNING = "code_scanning"
    SECRET_SCANNING = "secret_scanning"


class TriageState(StrEnum):
    """Incident triage state of a secret-scanning alert (SPEC §9)."""

    ACTIVE = "active"
    REVOKED = "revoked"
    HISTORICAL = "historical"
    FALSE_POSITIVE = "false_positive"


class AutomationMode(StrEnum):
    ACTIVE = "active"
    MANUAL_ONLY = "manual_only"
    IGNORED = "ignored"


class MutationMode(StrEnum):
    REPORT_ONLY = "report_only"
    PULL_REQUEST = "pull_request"
    AUTO_MERGE = "auto_merge"

    @property
    def may_push(self) -> bool:
        return self is not MutationMode.REPORT_ONLY

    @property
    def may_merge(self) -> bool:
        return self is MutationMode.AUTO_MERGE


class Provenance(StrEnum):
    """Where a verification result comes from: it ran here, or it did not run."""

    OBSERVED = "observed"
    NOT_RUN = "not_run"


class PRSource(StrEnum):
    NATIVE_DEPENDABOT = "native_dependabot"
    AGENT_MANAGED = "agent_managed"


class UnitPass(StrEnum):
    REMEDIATION = "remediation"
    MERGE = "merge"


class UnitResult(BaseModel):
    """The final state of one remediation unit: an outcome plus, where required, one reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    reason: ReasonCode | None = None
    remaining_blocker: ReasonCode | None = None
    detail: str = ""

    @model_validator(mode="after")
    def _reason_matches_outcome(self) -> UnitResult:
        if self.outcome in OUTCOMES_NEEDING_REASON and self.reason is None:
            raise ValueError(f"outcome {self.outcome.value!r} requires a reason code")
        if self.outcome not in OUTCOMES_NEEDING_REASON and self.reason is not None:
            raise ValueError(
                f"outcome {self.outcome.value!r} carries no reason code "
                "(use remaining_blocker for what still stands in the way)"
            )
        if self.outcome is Outcome.MERGED and self.remaining_blocker is not None:
            raise ValueError("a merged unit has no remaining blocker")
        return self

    @classmethod
    def merged(cls, detail: str = "") -> UnitResult:
        return cls(outcome=Outcome.MERGED, detail=detail)

    @classmethod
    def opened_pr(cls, blocker: ReasonCode | None = None, detail: str = "") -> UnitResult:
        return cls(outcome=Outcome.OPENED_PR, remaining_blocker=blocker, detail=detail)

    @classmethod
    def blocked(cls, reason: ReasonCode, detail: str = "") -> UnitResult:
        return cls(outcome=Outcome.BLOCKED, reason=reason, detail=detail)

    @classmethod
    def skipped(cls, reason: ReasonCode, detail: str = "") -> UnitResult:
        return cls(outcome=Outcome.SKIPPED, reason=reason, detail=detail)

    @classmethod
    def failed(cls, reason: ReasonCode, detail: str = "") -> UnitResult:
        return cls(outcome=Outcome.FAILED, reason=reason, detail=detail)


class AlertState(BaseModel):
    """One alert of a unit, after it: whether the unit's change removes every vulnerable
    version it names, else why it stays open (a reason from the closed vocabulary)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    package: str
    advisory_id: str
    fixed: bool
    reason: ReasonCode | None = None
    detail: str = ""

    @model_validator(mode="after")
    def _open_alerts_say_why(self) -> AlertState:
        if self.fixed == (self.reason is not None):
            raise ValueError("an alert the change fixes has no reason; one it leaves has one")
        return self
