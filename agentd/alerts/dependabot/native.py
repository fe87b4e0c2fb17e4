"""Which native Dependabot PRs a unit may adopt (SPEC §7), single or grouped.

Dependabot opens a security PR per vulnerable package
(`dependabot/npm_and_yarn/ui/lodash-4.17.21`) or, with grouped security updates, one PR
per ecosystem that bumps several (`dependabot/npm_and_yarn/ui/group-security-npm_and_yarn-
<digest>`, a configured group's name in place of `group-security-…`; such a group may span
directories). Branch names and titles say too little to trust, so the match is structural:
a candidate is Dependabot's, on the unit's base, under the head prefix, for this unit's
ecosystem; it changes every dependency file the unit fixes and nothing outside the unit's
target. The lifecycle then adopts a candidate only when its change is exactly agentd's own,
file for file (its tree equals the captured one), and every commit is its author's; a
grouped PR that bumps one package fewer, or touches one file more, is left alone and
agentd opens its own PR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from agentd.alerts.dependabot.plan import UnitPlan
from agentd.github.models import PullRequest

NATIVE_AUTHOR = "dependabot[bot]"


@dataclass
class Candidates:
    pulls: list[PullRequest] = field(default_factory=list)  # worth comparing with agentd's change
    notes: list[str] = field(default_factory=list)  # why each other native PR is left alone


def candidates(
    pulls: Iterable[PullRequest],
    plan: UnitPlan,
    prefix: str,
    target_path: str,
    files_of: Callable[[int], set[str]],
) -> Candidates:
    """The native PRs (of the unit's base) that may carry this unit's change."""
    found = Candidates()
    for pull in pulls:
        if not _native(pull, prefix):
            continue
        why = mismatch(pull, plan, prefix, target_path, files_of)
        if why is None:
            found.pulls.append(pull)
        else:
            found.notes.append(f"native Dependabot PR #{pull.number} left alone: {why}")
    return found


def _native(pull: PullRequest, prefix: str) -> bool:
    return (
        pull.user is not None
        and pull.user.login == NATIVE_AUTHOR
        and pull.head.ref.startswith(prefix)
    )


def mismatch(
    pull: PullRequest,
    plan: UnitPlan,
    prefix: str,
    target_path: str,
    files_of: Callable[[int], set[str]],
) -> str | None:
    """Why `pull` cannot carry this unit's change, or None when it may (the lifecycle
    then compares its tree with agentd's)."""
    if plan.ecosystem is None:
        return "this unit has no ecosystem to match"
    slug = plan.ecosystem.dependabot_branch_slug
    segment = pull.head.ref.removeprefix(prefix).split("/", 1)[0]
    if segment != slug:
        return f"its head {pull.head.ref} is not a {slug} update"
    files = files_of(pull.number)
    missing = sorted({b.manifest_path for b in plan.delivered()} - files)
    if missing:
        return f"it does not change {', '.join(missing)}, which this unit fixes"
    outside = sorted(f for f in files if not _inside(f, target_path))
    if outside:
        return (
            f"it also changes {', '.join(outside[:5])}, outside target {target_path!r} "
            "(a grouped update across directories is more than this unit's change)"
        )
    return None


def _inside(path: str, target_path: str) -> bool:
    root = PurePosixPath(target_path)
    return str(root) == "." or PurePosixPath(path).is_relative_to(root)
