"""Verifying a unit's change: the target's own commands, in its workdir, in the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

from agentd.engine.context import RunContext
from agentd.errors import PathEscapeError, UnitError
from agentd.paths import confine
from agentd.profile import Target
from agentd.verify import Sandbox, VerificationResult, run_verification
from agentd.vocabulary import ReasonCode

CREDENTIAL_PATHS = (
    ".config/gh",
    ".ssh",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".aws",
    ".docker",
    ".cargo/credentials.toml",
    ".config/git/credentials",
)


def verification_workdir(target: Target, worktree: Path) -> Path:
    """The target's `verification_workdir` in the worktree; never silently another one."""
    try:
        workdir = confine(worktree, target.verification_workdir)
    except PathEscapeError as exc:
        raise UnitError(
            ReasonCode.POLICY_BLOCKED, f"verification_workdir of {target.target_id}: {exc}"
        ) from None
    if not workdir.is_dir():
        raise UnitError(
            ReasonCode.VERIFICATION_UNAVAILABLE,
            f"verification_workdir {target.verification_workdir!r} of target "
            f"{target.target_id} does not exist on the base branch; fix the profile",
        )
    return workdir


def verify_target(ctx: RunContext, target: Target, worktree: Path) -> VerificationResult:
    settings = ctx.profile.profile.verification
    return run_verification(
        target.argv(),
        workdir=verification_workdir(target, worktree),
        allowed_env=ctx.allowed_env.values,
        timeout=float(target.verification_timeout_seconds or settings.default_timeout_seconds),
        sandbox=Sandbox(settings.sandbox, writable=(worktree,), hidden=sandbox_hidden(ctx)),
        redaction_patterns=settings.secret_redaction_patterns,
    )


def sandbox_hidden(ctx: RunContext) -> tuple[Path, ...]:
    """What a sandboxed command must not see: agentd's state and its user's credentials
    (gh's token, ssh keys, registry logins). The rest of the home stays readable: toolchains
    often live there."""
    home = Path(os.path.expanduser("~"))
    hidden = [ctx.state_dir, *(home / name for name in CREDENTIAL_PATHS)]
    if os.environ.get("GH_CONFIG_DIR"):
        hidden.append(Path(os.environ["GH_CONFIG_DIR"]))
    return tuple(hidden)


def why_failed(verification: VerificationResult) -> str:
    failed = verification.failure()
    if failed is None:
        return "verification did not pass"
    if failed.not_run_reason:
        return f"verification could not run {failed.command}: {failed.not_run_reason}"
    how = "timed out, process group killed" if failed.timed_out else f"exit {failed.exit_code}"
    return f"verification failed: {failed.command} ({how})\n{failed.output_tail[-1500:]}"
