"""Where a secret-scanning alert's secret still is, and what that allows (SPEC §9).

Pure decisions over the alert, its locations and a reader of the fetched base branch: no
network, no writes. Location payloads are untrusted: a commit path that is absolute,
climbs out with `..`, or holds backslashes or control characters is refused, and the
descriptions of issue/PR/discussion locations are built from the numbers in their URLs
only, so no text from a payload (and never the secret) reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Protocol

from agentd.github.models import SecretLocation, SecretScanningAlert
from agentd.gitops import Git
from agentd.paths import relative_path
from agentd.vocabulary import ReasonCode, TriageState, UnitResult

FOLLOW_UP = (
    "rotate or revoke the credential at its provider now (removing it from the code does not make it safe)",
    "review the provider's access logs for use of the credential since it was first committed",
    "check where else the credential was used or copied (CI variables, other repositories)",
)
HISTORY_FOLLOW_UP = "the secret remains in git history; purge it only if your policy requires (agentd never rewrites history)"

_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_LOCATION_TYPE = re.compile(r"[a-z_]{1,64}")


class SecretWhere(StrEnum):
    ON_BASE = "on_base"  # in tracked files at the fetched base
    HISTORY_ONLY = "history_only"  # in the repository's commits, not at the base any more
    OUTSIDE_CODE = "outside_code"  # in no commit: only issue/PR/discussion/wiki text
    UNKNOWN = "unknown"  # agentd cannot tell


class BaseReader(Protocol):
    """The fetched base branch of one repository; its errors (e.g. GitError) reach the caller."""

    def read(self, path: str) -> bytes | None:
        """The file's content at the base, or None when no file is there."""
        ...

    def blob_sha(self, path: str) -> str | None:
        """The blob id of the file at the base, or None when no file is there."""
        ...


@dataclass(frozen=True)
class Triage:
    state: TriageState
    where: SecretWhere
    present_paths: list[str] = field(default_factory=list)
    outside_locations: list[str] = field(default_factory=list)
    detail: str = ""
    # True only when every present path holds the value GitHub returned, literally.
    replaceable: bool = False


@dataclass(frozen=True)
class GitBaseReader:
    """A `BaseReader` over a clone's already-fetched ref (e.g. `refs/remotes/origin/main`)."""

    git: Git
    ref: str

    def read(self, path: str) -> bytes | None:
        return self.git.show_file(self.ref, path)

    def blob_sha(self, path: str) -> str | None:
        sha = self.git.run("rev-parse", "--verify", "--quiet", f"{self.ref}:{path}", check=False)
        sha = sha.strip()
        if not sha or self.git.run("cat-file", "-t", sha, check=False).strip() != "blob":
            return None  # no entry, or a directory or submodule: no file there
        return sha


# --- triage -----------------------------------------------------------------------------


def triage(
    alert: SecretScanningAlert, locations: Sequence[SecretLocation], base: BaseReader | None
) -> Triage:
    """Classify where the alert's secret is, from its locations and the fetched base.

    `base` is None when there is no clone to read the base from: every commit location is
    then undecided.

    Commit locations are checked path by path at the base:
    - value known: the path holds it if the base file contains the value; a file whose
      blob is still the one GitHub found the secret in also holds it, though not
      literally (e.g. encoded), so agentd cannot replace it there.
    - value not returned: the path holds it if its blob at the base is the location's
      blob; the path no longer holds it if no file is there any more; a file whose blob
      changed, or a location without a blob id, leaves it undecided (the edit may or may
      not have removed the secret, and agentd has no value to look for).
    A refused (unconfined) path and a location type agentd does not know are undecided.

    Then: any path holds it → `on_base`; else anything undecided → `unknown` (never
    `history_only` while it may still be on the base); else commit locations, all gone
    → `history_only`; else issue/PR/discussion/wiki locations only → `outside_code`; no
    locations at all → `unknown`. Wiki commits count as outside: the wiki is a separate
    repository agentd does not clean. This relies, like GitHub's own alert, on GitHub
    listing a location for every path that held the secret.

    State: resolution `false_positive`/`used_in_tests` → false_positive; resolution
    `revoked` or validity `inactive` → revoked; `history_only` → historical; otherwise
    active (outside the code or undecided, it is still exposed).
    """
    commits = [loc for loc in locations if loc.type == "commit"]
    others = [loc for loc in locations if loc.type != "commit"]
    outside = _dedupe(d for loc in others if (d := _describe_outside(loc)) is not None)
    checks = [_check_commit(loc, alert.secret, base) for loc in commits]
    checks += [
        _Check(_Status.UNDECIDED, None, f"a location of a kind agentd does not know ({_kind(loc)})")
        for loc in others
        if loc.type not in _OUTSIDE
    ]
    where, detail = _where(alert.secret, checks, outside)
    present = _paths(checks, _Status.LITERAL, _Status.PRESENT)
    return Triage(
        state=_state(alert, where),
        where=where,
        present_paths=present,
        outside_locations=outside,
        detail=detail,
        replaceable=bool(present) and not _paths(checks, _Status.PRESENT),
    )


class _Status(Enum):
    PRESENT = "present"
    LITERAL = "literal"  # present, and holds the known value literally
    GONE = "gone"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class _Check:
    status: _Status
    path: str | None
    why: str = ""


def _check_commit(location: SecretLocation, secret: str | None, base: BaseReader | None) -> _Check:
    path = _confined(location.details.get("path"))
    if path is None:
        return _Check(
            _Status.UNDECIDED,
            None,
            "a location path was refused (absolute, `..`, backslash or control characters)",
        )
    if base is None:
        return _Check(_Status.UNDECIDED, path, f"no clone to read {path} from")
    blob = location.details.get("blob_sha")
    found_blob = (
        blob.lower() if isinstance(blob, str) and _OBJECT_ID.fullmatch(blob.lower()) else None
    )
    if secret:
        content = base.read(path)
        if content is None:
            return _Check(_Status.GONE, path)
        if secret.encode() in content:
            return _Check(_Status.LITERAL, path)
        same_blob = found_blob is not None and base.blob_sha(path) == found_blob
        return _Check(_Status.PRESENT if same_blob else _Status.GONE, path)
    current = base.blob_sha(path)
    if current is None:
        return _Check(_Status.GONE, path)
    if found_blob is None:
        return _Check(_Status.UNDECIDED, path, f"GitHub gave no blob id for {path}")
    if current == found_blob:
        return _Check(_Status.PRESENT, path)
    return _Check(_Status.UNDECIDED, path, f"{path} has changed since the secret was found in it")


def _where(
    secret: str | None, checks: Sequence[_Check], outside: list[str]
) -> tuple[SecretWhere, str]:
    held = _paths(checks, _Status.LITERAL, _Status.PRESENT)
    undecided = [c.why for c in checks if c.status is _Status.UNDECIDED]
    if held:
        detail = _on_base_detail(secret, held, _paths(checks, _Status.PRESENT))
        unchecked = f"; agentd could not check: {'; '.join(undecided)}" if undecided else ""
        return SecretWhere.ON_BASE, detail + unchecked
    if undecided:
        not_returned = "" if secret else "GitHub did not return the secret's value, and "
        return SecretWhere.UNKNOWN, (
            "cannot tell whether the secret is still on the base branch: "
            f"{not_returned}{'; '.join(undecided)}"
        )
    if checks:
        return (
            SecretWhere.HISTORY_ONLY,
            "the secret is no longer on the base branch; it survives only in history",
        )
    if outside:
        return SecretWhere.OUTSIDE_CODE, f"the secret is in no commit, only in {', '.join(outside)}"
    return SecretWhere.UNKNOWN, (
        "cannot tell whether the secret is still on the base branch: GitHub listed no locations"
    )


def _paths(checks: Sequence[_Check], *statuses: _Status) -> list[str]:
    return sorted({c.path for c in checks if c.status in statuses and c.path is not None})


def _on_base_detail(secret: str | None, held: list[str], not_literal: list[str]) -> str:
    detail = f"the secret is still on the base branch in {', '.join(held)}"
    if not secret:
        return (
            f"{detail}; GitHub did not return its value, and agentd cannot replace a value "
            "it does not know"
        )
    if not_literal:
        return (
            f"{detail}; {', '.join(not_literal)} still hold the blob it was found in but not "
            "its literal value (it may be encoded), which agentd cannot replace"
        )
    return detail


def _state(alert: SecretScanningAlert, where: SecretWhere) -> TriageState:
    if alert.resolution in ("false_positive", "used_in_tests"):
        return TriageState.FALSE_POSITIVE
    if alert.resolution == "revoked" or alert.validity == "inactive":
        return TriageState.REVOKED
    return TriageState.HISTORICAL if where is SecretWhere.HISTORY_ONLY else TriageState.ACTIVE


def _confined(value: Any) -> str | None:
    """The repo-relative path of a file, or None when the payload's path is not one."""
    clean = relative_path(value) if isinstance(value, str) else None
    return None if clean == "." else clean


# --- locations outside the code ---------------------------------------------------------

_ISSUE = r"/issues/(\d+)(?:[/?#]|$)"
_PULL = r"/pulls?/(\d+)(?:[/?#]|$)"
_DISCUSSION = r"/discussions/(\d+)(?:[/?#]|$)"

# type → (details key, pattern whose groups are numbers, description, fallback)
_OUTSIDE: dict[str, tuple[str, str, str, str]] = {
    "issue_title": ("issue_title_url", _ISSUE, "issue #{0} title", "an issue title"),
    "issue_body": ("issue_body_url", _ISSUE, "issue #{0} body", "an issue body"),
    "issue_comment": (
        "issue_comment_url", r"/issues/comments/(\d+)", "issue comment {0}", "an issue comment",
    ),
    "pull_request_title": ("pull_request_title_url", _PULL, "PR #{0} title", "a PR title"),
    "pull_request_body": ("pull_request_body_url", _PULL, "PR #{0} body", "a PR body"),
    "pull_request_comment": (
        "pull_request_comment_url", r"/issues/comments/(\d+)", "PR comment {0}", "a PR comment",
    ),
    "pull_request_review": (
        "pull_request_review_url", r"/pulls?/(\d+)/reviews/(\d+)", "PR #{0} review {1}", "a PR review",
    ),
    "pull_request_review_comment": (
        "pull_request_review_comment_url", r"/pulls/comments/(\d+)", "PR review comment {0}",
        "a PR review comment",
    ),
    "discussion_title": (
        "discussion_title_url", _DISCUSSION, "discussion #{0} title", "a discussion title",
    ),
    "discussion_body": (
        "discussion_body_url", _DISCUSSION, "discussion #{0} body", "a discussion body",
    ),
    "discussion_comment": (
        "discussion_comment_url", r"/discussions/(\d+)#discussioncomment-(\d+)",
        "discussion #{0} comment {1}", "a discussion comment",
    ),
    "wiki_commit": ("commit_sha", r"^([0-9a-f]{12})[0-9a-f]{28}$", "wiki (commit {0})", "the wiki"),
}  # fmt: skip


def _describe_outside(location: SecretLocation) -> str | None:
    """'issue #12 body', 'PR #3 comment 99'...: only numbers from the payload, never its text."""
    if location.type not in _OUTSIDE:
        return None
    key, pattern, template, fallback = _OUTSIDE[location.type]
    value = location.details.get(key)
    match = re.search(pattern, value) if isinstance(value, str) else None
    return template.format(*match.groups()) if match else fallback


def _kind(location: SecretLocation) -> str:
    return location.type if _LOCATION_TYPE.fullmatch(location.type) else "unnamed"


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- what triage allows -----------------------------------------------------------------


def cleanup_decision(result: Triage) -> UnitResult | None:
    """The unit's final result when no cleanup PR may be prepared; None when one may."""
    if result.where is SecretWhere.ON_BASE:
        if result.replaceable:
            return None
        return UnitResult.blocked(
            ReasonCode.POLICY_BLOCKED, f"{result.detail}; clean it up by hand"
        )
    if result.where is SecretWhere.HISTORY_ONLY:
        return UnitResult.blocked(ReasonCode.HISTORY_REWRITE_REQUIRED, result.detail)
    if result.where is SecretWhere.OUTSIDE_CODE:
        return UnitResult.blocked(
            ReasonCode.POLICY_BLOCKED,
            f"{result.detail}; edit or delete that text (and its edit history) and rotate "
            "the credential: agentd changes only code",
        )
    return UnitResult.blocked(ReasonCode.POLICY_BLOCKED, f"{result.detail}; check by hand")


def follow_up(result: Triage) -> list[str]:
    """The manual follow-up actions for the unit record and the cleanup PR."""
    if result.state is TriageState.FALSE_POSITIVE:
        return []
    actions = list(FOLLOW_UP)
    if result.where is SecretWhere.HISTORY_ONLY:
        actions.append(HISTORY_FOLLOW_UP)
    if result.where is SecretWhere.ON_BASE and not result.replaceable:
        actions.append(f"remove it by hand from {', '.join(result.present_paths)}")
    if result.where is SecretWhere.UNKNOWN:
        actions.append("check by hand whether the base branch still holds it")
    if result.outside_locations:
        actions.append(
            f"remove it from {', '.join(result.outside_locations)} (edit or delete the text, "
            "and delete the earlier revisions from its edit history)"
        )
    return actions
