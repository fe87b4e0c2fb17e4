"""Exit codes (SPEC §13) and the user-facing error types that map onto them.

An `AgentdError` is an error a user can cause or fix: the CLI prints its message (and
hint) without a traceback and exits with its code. Anything else is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNITS_FAILED = 1
    USAGE = 2
    TEMPFAIL = 75  # lock contended or rate limited: retry later (EX_TEMPFAIL)
    CONFIG = 78  # contract or profile error (EX_CONFIG)


class AgentdError(Exception):
    """An error with a message for a person: what went wrong and what to do."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ContractError(AgentdError):
    """The profile or the runtime contract is not satisfied; nothing was touched."""

    exit_code = ExitCode.CONFIG


class LockContendedError(AgentdError):
    exit_code = ExitCode.TEMPFAIL


class RateLimitedError(AgentdError):
    exit_code = ExitCode.TEMPFAIL


class UsageError(AgentdError):
    exit_code = ExitCode.USAGE
