"""Agent-managed pull requests: compare-and-set create/update, never two per key (SPEC §6).

Before creating work agentd looks up an open PR for the unit's branch. If one exists it is
updated; if creation loses a race (422 "already exists", or an ambiguous failure of the
create call) agentd looks again and adopts what it finds instead of failing or creating a
second one.

The open PRs of a repository are listed once per run (`OpenPulls`): the unit's lookup,
adoption of native PRs and reconcile all read that one listing, which agentd keeps current
with what it does itself (create, update, merge, close). Only a surprise — a create that
finds the PR already there — lists the repository again. A repository whose
`open_issues_count` (open issues and PRs together, from the run's repository listing) is 0
has no open PR to list. Should that count lag behind GitHub, the compare-and-set still
holds: the push finds the branch and the create's 422 "already exists" lists again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubError, GitHubHTTPError, TransientError
from agentd.github.models import PullRequest
from agentd.log import get_logger
from agentd.stamp import Stamp, StampError, parse_stamp, same_visible_content

log = get_logger("prs")
LOOKUP_ATTEMPTS = 3


@dataclass(frozen=True)
class PullRequestOutcome:
    pull: PullRequest
    created: bool
    updated: bool


class OpenPulls:
    """The open PRs of each repository, listed once per run and kept current with agentd's
    own changes to them. Thread-safe: repositories are worked on in parallel."""

    def __init__(self, api: GitHubAPI) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._listed: dict[str, dict[int, PullRequest]] = {}
        self._listing: dict[str, threading.Lock] = {}
        self._surprised: set[str] = set()  # forgotten once: only a real listing will do

    def of(self, repo: str) -> list[PullRequest]:
        """The repository's open PRs, oldest first (listed on first use in this run)."""
        with self._lock:
            listing = self._listing.setdefault(repo, threading.Lock())
        with listing:
            with self._lock:
                known = self._listed.get(repo)
            if known is None:
                known = {} if self._none_open(repo) else {p.number: p for p in self.api.pulls(repo)}
                with self._lock:
                    self._listed[repo] = known
        with self._lock:
            return sorted(known.values(), key=lambda p: p.number)

    def _none_open(self, repo: str) -> bool:
        """Whether the run's repository listing says the repository has no open issue or PR
        at all (then there is nothing to list). Not after a surprise: the count is as old as
        the run's listing."""
        with self._lock:
            if repo in self._surprised:
                return False
        try:
            count = self.api.listed_repository(repo).open_issues_count
        except GitHubError:
            return False
        return count == 0

    def put(self, repo: str, pull: PullRequest) -> None:
        """A PR as GitHub just answered agentd (created, updated): kept if open."""
        with self._lock:
            known = self._listed.get(repo)
            if known is None:
                return  # not listed yet: the first listing will show it
            if pull.state == "open":
                known[pull.number] = pull
            else:
                known.pop(pull.number, None)

    def drop(self, repo: str, number: int) -> None:
        """A PR agentd merged or closed (or found no longer open)."""
        with self._lock:
            known = self._listed.get(repo)
            if known is not None:
                known.pop(number, None)

    def forget(self, repo: str) -> None:
        """The listing may be out of date (GitHub surprised agentd): list again on next use."""
        with self._lock:
            self._listed.pop(repo, None)
            self._surprised.add(repo)


def find_open_pr(pulls: OpenPulls, repo: str, branch: str, author: str) -> PullRequest | None:
    """The open PR `author` opened from `branch` of the repository itself (oldest first).

    A PR somebody else opened from a branch of the same name is never agentd's: it is not
    pushed to, re-stamped, closed or merged.
    """
    matches = [
        p
        for p in pulls.of(repo)
        if p.head.ref == branch and opened_by(p, author) and from_the_repository_itself(p)
    ]
    if len(matches) > 1:
        log.warning(
            "more than one open PR for one branch; using the oldest",
            extra={"repo": repo, "branch": branch, "numbers": [p.number for p in matches]},
        )
    return min(matches, key=lambda p: p.number) if matches else None


def find_unit_pr(
    pulls: OpenPulls, repo: str, *, branch: str, key: str, author: str
) -> PullRequest | None:
    """The open PR of one remediation key: on its branch, or — when the branch name changed
    (a new `branch_template`) — the one of `author`'s PRs from this repository whose stamp
    carries the key. Never two PRs for one key."""
    found = find_open_pr(pulls, repo, branch, author)
    if found is not None:
        return found
    return next(
        (
            p
            for p in agent_pulls(pulls, repo, author)
            if (s := valid_stamp(p)) and s.remediation_key == key
        ),
        None,
    )


def agent_pulls(pulls: OpenPulls, repo: str, author: str) -> list[PullRequest]:
    """Open PRs opened by agentd's own account from branches of the repository itself."""
    return [p for p in pulls.of(repo) if opened_by(p, author) and from_the_repository_itself(p)]


def opened_by(pull: PullRequest, author: str) -> bool:
    return pull.user is not None and pull.user.login.lower() == author.lower()


def from_the_repository_itself(pull: PullRequest) -> bool:
    head, base = pull.head.repo, pull.base.repo
    return head is not None and base is not None and head.full_name == base.full_name


def valid_stamp(pull: PullRequest) -> Stamp | None:
    """The PR's stamp, or None when it has none or an invalid one (never trusted then)."""
    try:
        return parse_stamp(pull.body)
    except StampError:
        return None


def _already_exists(exc: GitHubHTTPError) -> bool:
    return exc.status == 422 and any(
        "already exists" in message for message in [exc.message, *exc.error_messages()]
    )


def _adopt_after_race(pulls: OpenPulls, repo: str, branch: str, author: str) -> PullRequest | None:
    for attempt in range(LOOKUP_ATTEMPTS):
        pulls.forget(repo)  # somebody opened it since the listing: list again
        found = find_open_pr(pulls, repo, branch, author)
        if found is not None:
            return found
        time.sleep(0.2 * (attempt + 1))
    return None


def ensure_pull_request(
    pulls: OpenPulls,
    repo: str,
    *,
    branch: str,
    base: str,
    title: str,
    body: str,
    labels: Sequence[str],
    author: str,
    existing: PullRequest | None = None,
) -> PullRequestOutcome:
    """Create the unit's PR, or bring the existing one up to date."""
    api = pulls.api
    created = False
    pull = existing or find_open_pr(pulls, repo, branch, author)
    if pull is None:
        try:
            pull = api.create_pull(repo, head=branch, base=base, title=title, body=body)
            created = True
        except GitHubHTTPError as exc:
            if not _already_exists(exc):
                raise
            pull = _adopt_after_race(pulls, repo, branch, author)
            if pull is None:
                raise
        except TransientError:
            pull = _adopt_after_race(pulls, repo, branch, author)
            if pull is None:
                raise
    updated = False
    if not created and (not same_visible_content(pull.body, body) or pull.title != title):
        pull = api.update_pull(repo, pull.number, title=title, body=body)
        updated = True
    pulls.put(repo, pull)
    missing = [
        label
        for label in labels
        if label not in {existing_label.name for existing_label in pull.labels}
    ]
    if missing:
        api.add_labels(repo, pull.number, missing)
    log.debug(
        "pull request ensured",
        extra={
            "repo": repo,
            "pr": pull.number,
            "pr_created": created,
            "updated": updated,
            "labels_added": missing,
        },
    )
    return PullRequestOutcome(pull, created, updated)
