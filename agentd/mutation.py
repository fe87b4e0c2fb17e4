"""What a run may change, enforced at the lowest layer.

Every mutating HTTP request and every `git push` asks the run's `MutationPolicy` first. A
`report_only` (or `--dry-run`) run has a policy that refuses everything, so a bug in a pass
cannot turn into a mutation: the request is never sent.
"""

from __future__ import annotations

import re
from enum import StrEnum

from agentd.errors import AgentdError, ExitCode
from agentd.vocabulary import MutationMode


class MutationKind(StrEnum):
    PUSH = "push"
    PR_CREATE = "pr_create"
    PR_UPDATE = "pr_update"
    PR_CLOSE = "pr_close"
    COMMENT = "comment"
    LABEL = "label"
    MERGE = "merge"
    OTHER = "other"


class MutationForbiddenError(AgentdError):
    """A pass tried to change something its mutation mode does not allow (a bug)."""

    exit_code = ExitCode.UNITS_FAILED


_ROUTES: tuple[tuple[str, re.Pattern[str], MutationKind], ...] = (
    ("PUT", re.compile(r"/repos/[^/]+/[^/]+/pulls/\d+/merge$"), MutationKind.MERGE),
    # agentd sends GraphQL only for its merge-class mutations (enablePullRequestAutoMerge,
    # enqueuePullRequest): report_only and pull_request runs never send them.
    ("POST", re.compile(r"^(?!.*/repos/).*/graphql$"), MutationKind.MERGE),
    ("POST", re.compile(r"/repos/[^/]+/[^/]+/pulls$"), MutationKind.PR_CREATE),
    # `commit_via: api`: the Git Data API writes what a push would (a branch, never a base).
    ("POST", re.compile(r"/repos/[^/]+/[^/]+/git/(blobs|trees|commits|refs)$"), MutationKind.PUSH),
    ("PATCH", re.compile(r"/repos/[^/]+/[^/]+/git/refs/.+$"), MutationKind.PUSH),
    ("PATCH", re.compile(r"/repos/[^/]+/[^/]+/pulls/\d+$"), MutationKind.PR_UPDATE),
    ("POST", re.compile(r"/repos/[^/]+/[^/]+/issues/\d+/comments$"), MutationKind.COMMENT),
    ("PATCH", re.compile(r"/repos/[^/]+/[^/]+/issues/comments/\d+$"), MutationKind.COMMENT),
    ("POST", re.compile(r"/repos/[^/]+/[^/]+/issues/\d+/labels$"), MutationKind.LABEL),
    ("PUT", re.compile(r"/repos/[^/]+/[^/]+/issues/\d+/labels$"), MutationKind.LABEL),
    ("DELETE", re.compile(r"/repos/[^/]+/[^/]+/issues/\d+/labels/[^/]+$"), MutationKind.LABEL),
)


def classify_request(method: str, path: str) -> MutationKind | None:
    """The kind of mutation an API request is, or None for a read."""
    method = method.upper()
    if method in {"GET", "HEAD", "OPTIONS"}:
        return None
    for route_method, pattern, kind in _ROUTES:
        if method == route_method and pattern.search(path):
            return kind
    return MutationKind.OTHER


class MutationPolicy:
    def __init__(self, mode: MutationMode, dry_run: bool = False) -> None:
        self.mode = MutationMode.REPORT_ONLY if dry_run else mode
        self.requested = mode  # what a dry run reports it would do
        self.dry_run = dry_run

    def describe(self) -> str:
        """`mutation mode report_only`, `mutation mode auto_merge (dry run)`."""
        if self.dry_run:
            return f"mutation mode {self.requested.value} (dry run)"
        return f"mutation mode {self.mode.value}"

    def allows(self, kind: MutationKind) -> bool:
        if self.mode is MutationMode.REPORT_ONLY or kind is MutationKind.OTHER:
            return False
        if kind is MutationKind.MERGE:
            return self.mode is MutationMode.AUTO_MERGE
        return True

    def check(self, kind: MutationKind, what: str) -> None:
        if not self.allows(kind):
            raise MutationForbiddenError(
                f"refused {kind.value} ({what}): mutation mode {self.mode.value}"
                + (" (dry run)" if self.dry_run else "")
                + " does not allow it",
                "this is a bug in agentd if it appears in a report; please report it",
            )
