"""Verifying a unit's change: the target's own commands, in its workdir, in the sandbox.

Which sandbox (SPEC §3 `verification.sandbox`): `auto` (the default) and `bwrap` run every
command under bubblewrap, and when bubblewrap cannot start here nothing from the repository
runs: the unit is `blocked verification_unavailable` and says why. `none` is the explicit
opt-out, reported as a run-level warning (`sandbox_warnings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from agentd.engine.context import RunContext
from agentd.errors import AgentdError, ExitCode, PathEscapeError, UnitError
from agentd.log import get_logger
from agentd.paths import confine
from agentd.profile import Profile, Target
from agentd.verify import (
    BWRAP,
    CommandResult,
    Sandbox,
    VerificationResult,
    run_verification,
    unavailable_reason,
)
from agentd.vocabulary import Outcome, Provenance, ReasonCode

log = get_logger("verification")

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
OPT_OUT_WARNING = (
    "verification.sandbox is none (explicit opt-out): verification commands and updater tools "
    "run unsandboxed as agentd's user, so they can read what that user can read (other clones, "
    "the dotenv file, the state directory) and reach the network; see docs/security.md"
)


class SandboxUnavailableError(AgentdError):
    """The profile needs bubblewrap and it cannot start here: no repository code runs.

    Not a `UnitError`, so no caller can re-label it a verification failure."""

    exit_code = ExitCode.UNITS_FAILED
    outcome = Outcome.BLOCKED
    reason = ReasonCode.VERIFICATION_UNAVAILABLE


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


ON_GITHUB = "the required status checks of the base branch, on GitHub"
CI_NOT_RUN = (
    "verification: ci: not run on the build host; the base branch's required status checks "
    "on GitHub verify the pushed head, and nothing merges before they are green"
)


def verified_on_github(ctx: RunContext, target: Target) -> bool:
    """Whether `target` is in `verification: ci` (its own setting, else the profile's)."""
    return ctx.profile.verification_mode(target) == "ci"


def deferred_to_github() -> VerificationResult:
    """The verification result of a `ci` target: nothing ran here, and why (provenance
    `not_run`); the merge gate requires the base's required checks green on the head."""
    return VerificationResult(
        [CommandResult(ON_GITHUB, Provenance.NOT_RUN, not_run_reason=CI_NOT_RUN)],
        elsewhere=ON_GITHUB,
    )


def verify_target(ctx: RunContext, target: Target, worktree: Path) -> VerificationResult:
    settings = ctx.profile.profile.verification
    workdir = verification_workdir(target, worktree)
    sandbox = Sandbox(
        sandbox_kind(ctx.profile),
        writable=(worktree, *tool_caches(ctx)),
        hidden=sandbox_hidden(ctx),
        network=settings.network == "host",
    )
    return run_verification(
        target.argv(),
        workdir=workdir,
        allowed_env=ctx.allowed_env.values,
        timeout=float(target.verification_timeout_seconds or settings.default_timeout_seconds),
        sandbox=sandbox,
        redaction_patterns=settings.secret_redaction_patterns,
        home_parent=ctx.run_dir,
    )


def sandbox_kind(profile: Profile) -> str:
    """`bwrap`, or `none` when the profile opts out; raises when bubblewrap is needed and
    cannot start (probed once, see `agentd.verify.BWRAP`)."""
    if profile.profile.verification.sandbox == "none":
        return "none"
    problem = BWRAP.problem()
    if problem is not None:
        raise SandboxUnavailableError(unavailable_reason(problem))
    return "bwrap"


def sandbox_warnings(profile: Profile) -> list[str]:
    """Run-level warnings about the sandbox, for the log and the run summary."""
    if profile.profile.verification.sandbox != "none":
        return []
    log.warning(OPT_OUT_WARNING, extra={"profile_id": profile.id})
    return [OPT_OUT_WARNING]


def sandbox_hidden(ctx: RunContext) -> tuple[Path, ...]:
    """What a sandboxed program must not see: every clone (the clone root, and clones kept
    elsewhere), agentd's state, the dotenv file, and its user's credentials and sessions.

    The unit's own worktree (under the state dir) and its repository's git dir are put back
    by the sandbox (`agentd.verify.bwrap_argv`). The rest of the home stays readable:
    toolchains often live there."""
    profile = ctx.profile.profile
    clone_root = Path(profile.runtime.local_clone_root)
    hidden = [clone_root, ctx.state_dir]
    hidden += [
        Path(repo.local_path)
        for repo in ctx.profile.repositories
        if not Path(repo.local_path).is_relative_to(clone_root)
    ]
    if profile.verification.dotenv_path:
        hidden.append(Path(profile.verification.dotenv_path))
    return (*hidden, *credential_paths(os.environ))


# Package-manager cache locations an operator may share between units by allowlisting them
# (`verification.environment_allowlist`): under the sandbox they are the only writable
# places besides the worktree and the private home, so tools can fill them.
TOOL_CACHE_VARIABLES = frozenset(
    {
        "npm_config_cache",
        "NPM_CONFIG_CACHE",
        "npm_config_store_dir",
        "NPM_CONFIG_STORE_DIR",
        "pnpm_config_store_dir",  # pnpm 10+ reads its own prefix
        "PNPM_CONFIG_STORE_DIR",
        "pnpm_config_cache_dir",
        "PNPM_CONFIG_CACHE_DIR",
        "YARN_CACHE_FOLDER",
        "COREPACK_HOME",
        "PIP_CACHE_DIR",
        "UV_CACHE_DIR",
        "POETRY_CACHE_DIR",
        "CARGO_HOME",
        "GOMODCACHE",
        "GOCACHE",
        "XDG_CACHE_HOME",
    }
)


def tool_caches(ctx: RunContext) -> tuple[Path, ...]:
    """The allowlisted cache directories tools may write, created when missing. A cache
    under a hidden path (the clone root, the state dir) is never exposed."""
    hidden = sandbox_hidden(ctx)
    caches = []
    for name, value in sorted(ctx.allowed_env.values.items()):
        path = Path(value)
        if name not in TOOL_CACHE_VARIABLES or not path.is_absolute():
            continue
        if any(path.resolve().is_relative_to(h.resolve()) for h in hidden):
            log.warning("%s points under a path the sandbox hides; not shared", name)
            continue
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create the %s cache %s: %s", name, path, exc)
            continue
        caches.append(path)
    return tuple(caches)


def credential_paths(environ: Mapping[str, str]) -> list[Path]:
    """The agentd user's credentials (gh's token, ssh keys, registry logins) and session
    endpoints (ssh agent, the user's runtime dir with its D-Bus bus)."""
    home = Path(os.path.expanduser("~"))
    paths = [home / name for name in CREDENTIAL_PATHS]
    paths.append(Path(f"/run/user/{os.getuid()}"))
    for name in ("GH_CONFIG_DIR", "SSH_AUTH_SOCK", "XDG_RUNTIME_DIR"):
        if environ.get(name):
            paths.append(Path(environ[name]))
    if environ.get("XDG_CONFIG_HOME"):
        paths.append(Path(environ["XDG_CONFIG_HOME"]) / "gh")
    return paths


def failure_reason(verification: VerificationResult) -> ReasonCode:
    """`verification_failed` only when a command ran and failed: one that could not run
    (its program not found, ...) says nothing about the change."""
    failed = verification.failure()
    if failed is not None and failed.provenance is Provenance.NOT_RUN:
        return ReasonCode.VERIFICATION_UNAVAILABLE
    return ReasonCode.VERIFICATION_FAILED


def why_failed(verification: VerificationResult) -> str:
    failed = verification.failure()
    if failed is None:
        return "verification did not pass"
    if failed.missing_program:
        where = "" if "/" in failed.missing_program else " on PATH"
        return (
            f"verification command `{failed.missing_program}` not found{where}: fix the "
            f"profile's verification_commands, or install it where agentd runs "
            f"({failed.not_run_reason})"
        )
    if failed.not_run_reason:
        return f"verification could not run {failed.command}: {failed.not_run_reason}"
    how = "timed out, process group killed" if failed.timed_out else f"exit {failed.exit_code}"
    return f"verification failed: {failed.command} ({how})\n{failed.output_tail[-1500:]}"
