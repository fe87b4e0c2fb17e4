"""agentd's one exception tree, its exit codes (SPEC §13), and the one failure → outcome map.

Every error agentd raises on purpose derives from `AgentdError`, which carries two things:
what a command exits with when the error stops it (`exit_code`), and what a remediation
unit reports when the error stops the unit (`outcome` + `reason`). `result_for` turns any
exception into a unit result: agentd's own errors report their reason; anything else is a
defect in agentd and is reported as `failed internal_error`, naming the exception type —
never disguised as a verification or GitHub problem.

    AgentdError
    ├── ContractError            the profile or runtime contract (78)
    ├── UsageError               the command line (2)
    ├── LockContendedError       another run holds the lock (75, lock_contended)
    ├── RateLimitedError         the primary limit or budget floor (75, rate_limited)
    ├── UnreachableError         GitHub's API cannot be reached at all (75)
    ├── UnitError                stops one unit with an explicit outcome and reason
    │   ├── PathEscapeError      a path leaves the repository or target (blocked policy_blocked)
    │   ├── BudgetExhaustedError a blast-radius budget is spent (blocked policy_blocked)
    │   └── RememberedRefusalError  GitHub refused this very change before (agentd.delivery.refusals)
    ├── InfrastructureError      git, the workspace or GitHub failed under a unit (failed)
    │   ├── GitError (agentd.gitops), WorkspaceError (agentd.engine.context)
    │   │   ├── PushRejectedError  the push lost a race (looked at again)
    │   │   └── PushRefusedError   GitHub refused the push for good, with its outcome and reason:
    │   │       GitAuthError, WorkflowScopeError (blocked auth_insufficient), BranchRuleError
    │   │       (blocked branch_protection_block), PushProtectionError (blocked policy_blocked),
    │   │       ArchivedRepositoryError (skipped policy_blocked)
    │   └── GitHubError (agentd.github.client): GitHubHTTPError, TransientError,
    │       MalformedResponseError, PaginationError, OutsideApiError
    └── MutationForbiddenError   a mutation the mode forbids reached the lowest layer (a bug guard)
"""

from __future__ import annotations

from enum import IntEnum

from agentd.vocabulary import Outcome, ReasonCode, UnitResult


class ExitCode(IntEnum):
    OK = 0
    UNITS_FAILED = 1
    USAGE = 2
    TEMPFAIL = 75  # lock contended or rate limited: retry later (EX_TEMPFAIL)
    CONFIG = 78  # contract or profile error (EX_CONFIG)


class AgentdError(Exception):
    """An error agentd raises on purpose: a message for a person, and what it means."""

    exit_code: ExitCode = ExitCode.USAGE
    outcome: Outcome = Outcome.FAILED
    reason: ReasonCode = ReasonCode.POLICY_BLOCKED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message

    def unit_result(self) -> UnitResult:
        """What a unit reports when this error stops it."""
        return UnitResult(outcome=self.outcome, reason=self.reason, detail=self.message)


class ContractError(AgentdError):
    """The profile or the runtime contract is not satisfied; nothing was touched."""

    exit_code = ExitCode.CONFIG
    outcome = Outcome.BLOCKED


class UsageError(AgentdError):
    exit_code = ExitCode.USAGE


class LockContendedError(AgentdError):
    exit_code = ExitCode.TEMPFAIL
    outcome = Outcome.BLOCKED
    reason = ReasonCode.LOCK_CONTENDED
    holder: dict[str, object] | None = None  # the live holder's lock record, without its token


class RateLimitedError(AgentdError):
    exit_code = ExitCode.TEMPFAIL
    outcome = Outcome.BLOCKED
    reason = ReasonCode.RATE_LIMITED


class UnreachableError(AgentdError):
    """No connection to GitHub's API (refused, DNS, TLS, timeout): nothing was read or
    changed, and the next run may succeed; the hint says where the URL came from."""

    exit_code = ExitCode.TEMPFAIL
    outcome = Outcome.FAILED
    reason = ReasonCode.VERIFICATION_UNAVAILABLE


class UnitError(AgentdError):
    """Stops one unit with the given outcome and reason; the run goes on with the others."""

    exit_code = ExitCode.UNITS_FAILED

    def __init__(self, reason: ReasonCode, detail: str, outcome: Outcome = Outcome.BLOCKED) -> None:
        super().__init__(detail)
        self.reason = reason
        self.outcome = outcome

    @classmethod
    def skipped(cls, reason: ReasonCode, detail: str) -> UnitError:
        return cls(reason, detail, Outcome.SKIPPED)

    @classmethod
    def failed(cls, reason: ReasonCode, detail: str) -> UnitError:
        return cls(reason, detail, Outcome.FAILED)


class PathEscapeError(UnitError):
    """A path from a profile, an alert or a repository leaves where it must stay."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.POLICY_BLOCKED, detail)


class BudgetExhaustedError(UnitError):
    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.POLICY_BLOCKED, detail)


class InfrastructureError(AgentdError):
    """git, the unit's workspace or GitHub failed while a unit was in hand."""

    exit_code = ExitCode.UNITS_FAILED
    outcome = Outcome.FAILED
    reason = ReasonCode.VERIFICATION_UNAVAILABLE
    source = "agentd"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def unit_result(self) -> UnitResult:
        return UnitResult(outcome=self.outcome, reason=self.reason, detail=f"{self.source}: {self}")


def result_for(exc: BaseException) -> UnitResult:
    """The one mapping from a failure that stopped a unit to the unit's result."""
    if isinstance(exc, AgentdError):
        return exc.unit_result()
    return UnitResult.failed(ReasonCode.INTERNAL_ERROR, internal_error_detail(exc))


def internal_error_detail(exc: BaseException) -> str:
    return (
        f"internal error in agentd ({type(exc).__name__}: {exc}); "
        "this is a bug in agentd, not in the repository — please report it with the run log"
    )


def is_internal(result: UnitResult) -> bool:
    return result.reason is ReasonCode.INTERNAL_ERROR
