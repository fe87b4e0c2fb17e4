"""The review gate of SPEC §10: what must hold before agentd merges anything.

Required checks come from classic branch protection and from rulesets on the base branch;
a protected branch whose protection cannot be read blocks the merge (`auth_insufficient`).
A base branch that requires no checks at all is not a licence to merge: then every check
reported on the head must be complete and successful, and there must be at least one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from agentd.errors import UnitError
from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubHTTPError
from agentd.github.models import PullFile
from agentd.vocabulary import ReasonCode

_SUCCESSFUL = {"success", "neutral", "skipped"}
_PROTECTED = re.compile(r"(^|/)(\.git/|node_modules/)|(^|/)\.env($|\.)")


class ProtectionUnreadableError(UnitError):
    """The base branch is protected but its protection could not be read."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.AUTH_INSUFFICIENT, detail)


class ChecksState(StrEnum):
    GREEN = "green"
    PENDING = "pending"
    RED = "red"
    NONE = "none"  # nothing required and nothing reported: a person must decide


@dataclass(frozen=True)
class ChecksVerdict:
    state: ChecksState
    detail: str


def required_checks(api: GitHubAPI, repo: str, base: str) -> set[str]:
    """Every status-check context required on `base` by classic protection or rulesets."""
    names: set[str] = set()
    branch = api.branch(repo, base)
    if branch.protected:
        try:
            protection = api.branch_protection(repo, base)
        except GitHubHTTPError as exc:
            if exc.status == 404 and "not protected" in exc.message.lower():
                protection = None
            elif exc.status in (401, 403, 404):
                raise ProtectionUnreadableError(
                    f"branch protection of {base} cannot be read ({exc.status} {exc.message})"
                ) from None
            else:
                raise
        if protection is not None and protection.required_status_checks is not None:
            names |= protection.required_status_checks.names()
    try:
        rules = api.branch_rules(repo, base)
    except GitHubHTTPError as exc:
        if exc.status in (401, 403, 404):
            raise ProtectionUnreadableError(
                f"rulesets of {base} cannot be read ({exc.status} {exc.message})"
            ) from None
        raise
    for rule in rules:
        names |= rule.required_checks()
    return names


def _contexts(api: GitHubAPI, repo: str, sha: str) -> dict[str, str]:
    """Every check run and commit status on `sha`, as context → success|pending|failure."""
    states: dict[str, str] = {}
    for run in api.check_runs(repo, sha):
        if run.status != "completed":
            state = "pending"
        else:
            state = "success" if run.conclusion in _SUCCESSFUL else "failure"
        # A failure anywhere under one name wins over an older success of the same name.
        if states.get(run.name) != "failure":
            states[run.name] = state
    for status in api.combined_status(repo, sha).statuses:
        state = {"success": "success", "pending": "pending"}.get(status.state, "failure")
        states.setdefault(status.context, state)
    return states


def evaluate_checks(api: GitHubAPI, repo: str, sha: str, required: set[str]) -> ChecksVerdict:
    states = _contexts(api, repo, sha)
    considered = {name: states.get(name, "missing") for name in required} if required else states
    if not considered:
        return ChecksVerdict(
            ChecksState.NONE,
            "the base branch requires no checks and none reported on the head; "
            "an unattended merge is not safe",
        )
    red = sorted(n for n, s in considered.items() if s == "failure")
    waiting = sorted(n for n, s in considered.items() if s in ("pending", "missing"))
    if red:
        return ChecksVerdict(ChecksState.RED, f"failing checks: {', '.join(red)}")
    if waiting:
        return ChecksVerdict(ChecksState.PENDING, f"checks not finished: {', '.join(waiting)}")
    kind = "required checks" if required else "reported checks (none required)"
    return ChecksVerdict(ChecksState.GREEN, f"{kind} green: {', '.join(sorted(considered))}")


def is_protected_path(path: str, redaction_patterns: Iterable[str] = ()) -> bool:
    if _PROTECTED.search(path) or PurePosixPath(path).name.startswith(".env"):
        return True
    return any(re.search(pattern, path) for pattern in redaction_patterns)


def diff_problems(
    files: Sequence[PullFile], expected: Iterable[str], redaction_patterns: Sequence[str] = ()
) -> list[str]:
    """Why a PR's diff is not exactly what the fix needs (empty when it is)."""
    wanted = set(expected)
    problems = []
    for file in files:
        if is_protected_path(file.filename, redaction_patterns):
            problems.append(f"touches protected path {file.filename}")
        elif file.filename not in wanted:
            problems.append(f"touches {file.filename}, which the fix does not need")
        if file.previous_filename:
            problems.append(f"renames {file.previous_filename}")
    missing = wanted - {f.filename for f in files}
    if missing:
        problems.append(f"does not contain {', '.join(sorted(missing))}")
    return problems
