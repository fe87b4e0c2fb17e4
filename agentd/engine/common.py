"""Plumbing every pass shares: unit outcomes, verification of a target, coverage records."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agentd.engine.context import RunContext, WorkspaceError
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.gitops import GitError
from agentd.inventory import ClassInventory, Coverage, RepoInventory
from agentd.profile import Repository, Target
from agentd.report import UnitRecord
from agentd.units import remediation_key
from agentd.verify import Sandbox, VerificationResult, run_verification
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult


@dataclass
class UnitOutcome:
    record: UnitRecord
    opened: bool = False  # a PR was created or a new commit pushed
    merged: bool = False


UNIT_FAULTS = (GitError, WorkspaceError, TransientError, GitHubHTTPError)


def unit_fault(exc: Exception) -> UnitResult:
    """A git or GitHub fault that stopped one unit (the run goes on with the others)."""
    if isinstance(exc, GitHubHTTPError) and exc.status in (401, 403):
        return UnitResult.failed(ReasonCode.AUTH_INSUFFICIENT, f"GitHub: {exc}")
    source = "git" if isinstance(exc, GitError | WorkspaceError) else "GitHub"
    return UnitResult.failed(ReasonCode.VERIFICATION_UNAVAILABLE, f"{source}: {exc}")


def finish(record: UnitRecord, result: UnitResult) -> UnitOutcome:
    record.result = result
    return UnitOutcome(record)


def resolve_base(ctx: RunContext, repo: Repository, inventory: RepoInventory) -> str | None:
    configured = repo.default_base_branch or ctx.profile.profile.defaults.default_base_branch
    if configured != "auto":
        return configured
    return inventory.metadata.default_branch if inventory.metadata else None


def coverage_outcome(
    ctx: RunContext,
    repo: Repository,
    inventory: RepoInventory,
    alert_class: AlertClass,
    disabled: ReasonCode,
) -> tuple[str, ClassInventory] | UnitOutcome:
    """The base branch and the class's alerts, or the one record saying why there are none."""
    base = resolve_base(ctx, repo, inventory)
    entry = inventory.classes.get(alert_class)
    key = remediation_key(ctx.profile.profile.owner, repo.repo, alert_class, base or "?", "*")
    record = UnitRecord(repo.repo, base or "?", "*", key, alert_class, UnitResult.opened_pr())
    if base is None or entry is None or inventory.metadata is None:
        return finish(
            record,
            UnitResult.blocked(
                ReasonCode.AUTH_INSUFFICIENT, inventory.error or "repository could not be read"
            ),
        )
    if entry.coverage is Coverage.DISABLED:
        return finish(
            record, UnitResult.skipped(disabled, entry.detail or f"{alert_class.value} is disabled")
        )
    if entry.coverage is Coverage.NO_ANALYSIS:
        return finish(
            record,
            UnitResult.skipped(ReasonCode.NO_ANALYSIS_FOUND, entry.detail or "no analysis found"),
        )
    if entry.coverage is Coverage.UNAVAILABLE:
        return finish(
            record,
            UnitResult.blocked(ReasonCode.AUTH_INSUFFICIENT, f"alerts unreadable: {entry.detail}"),
        )
    return base, entry


def verify_target(ctx: RunContext, target: Target, worktree: Path) -> VerificationResult:
    settings = ctx.profile.profile.verification
    workdir = (worktree / target.verification_workdir).resolve()
    if worktree.resolve() not in (workdir, *workdir.parents) or not workdir.is_dir():
        workdir = worktree
    return run_verification(
        target.argv(),
        workdir=workdir,
        allowed_env=ctx.allowed_env.values,
        timeout=float(target.verification_timeout_seconds or settings.default_timeout_seconds),
        sandbox=Sandbox(settings.sandbox, writable=(worktree,), hidden=sandbox_hidden(ctx)),
        redaction_patterns=settings.secret_redaction_patterns,
    )


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


def record_verification(record: UnitRecord, verification: VerificationResult) -> None:
    record.verification_provenance = verification.provenance
    record.verification = verification.to_json()


def pr_title(template: str, **fields: str) -> str:
    values = {
        "alert_class": "",
        "target_id": "",
        "repo": "",
        "rule_id": "",
        "secret_type": "",
        "alert_number": "",
    }
    values.update(fields)
    return template.format(**values)
