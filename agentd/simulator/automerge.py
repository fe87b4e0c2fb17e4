"""GitHub's own merge machinery: native auto-merge and the merge queue.

`enable` and `enqueue` are what the GraphQL mutations do; `advance` is GitHub working in the
background: a PR whose auto-merge is enabled merges (or joins its base's queue) once nothing
blocks it, and a queued PR merges with the queue's method once its checks pass. Neither
bypasses anything. A push that moves the head disables auto-merge and drops the PR from the
queue (GitHub drops queued PRs whose head changes; for auto-merge this is what it does when
the pusher lacks write access, and the simulator does it always: the pinned head is the only
one that may merge).
"""

from __future__ import annotations

import time

from agentd.simulator import protection
from agentd.simulator.world import AutoMergeRequest, Pull, QueueEntry, RepoState, World

HEAD_MOVED = "Head branch was modified. Review and try the merge again."


def advance(world: World) -> None:
    """Let GitHub do what auto-merge and the merge queues are waiting for."""
    with world.lock:
        for state in world.repos.values():
            for pull in list(state.pulls.values()):
                if pull.state == "open" and (pull.auto_merge or pull.queue):
                    _advance(world, state, pull)


def _advance(world: World, state: RepoState, pull: Pull) -> None:
    head = world.head_sha(state, pull) or ""
    if pull.auto_merge is not None and pull.auto_merge.head != head:
        pull.auto_merge = None
    if pull.queue is not None and pull.queue.head != head:
        pull.queue = None
    queue = protection.queue_method(state, pull.base)
    if pull.auto_merge is not None:
        method = queue or pull.auto_merge.method
        if not ready(world, state, pull, head, method):
            return
        if queue is not None:  # "merge when ready" on a queue base: the PR joins the queue
            pull.queue, pull.auto_merge = _entry(state, head), None
            return
        _merge(world, state, pull, method, head)
    elif pull.queue is not None and ready(world, state, pull, head, queue or "merge"):
        _merge(world, state, pull, queue or "merge", head)


def ready(world: World, state: RepoState, pull: Pull, head: str, method: str) -> bool:
    """Nothing blocks the merge of `head` by GitHub's own machinery. The requirements are
    looked at first: a conflict needs a trial merge, which is worth making only for a PR
    whose checks and reviews no longer hold it (`advance` runs on every request)."""
    needs = protection.requirements(world, state, pull, head, method, rest=False)
    return needs.message() is None and not world.conflicts(state, pull)


def _merge(world: World, state: RepoState, pull: Pull, method: str, head: str) -> None:
    merged = world.merge(state, pull, method, None, None, head)
    if merged is not None:
        pull.auto_merge, pull.queue = None, None
    elif pull.queue is not None:
        pull.queue.state = "UNMERGEABLE"


def _entry(state: RepoState, head: str) -> QueueEntry:
    queued = [p for p in state.pulls.values() if p.queue is not None and p.state == "open"]
    return QueueEntry(head, len(queued) + 1, time.time())


def enable(
    world: World, state: RepoState, pull: Pull, method: str, expected_head: str | None
) -> str | AutoMergeRequest:
    """enablePullRequestAutoMerge: the request, or GitHub's refusal."""
    with world.lock:
        head = world.head_sha(state, pull) or ""
        if pull.state != "open":
            return "Pull request is closed"
        if not state.config.allow_auto_merge:
            return "Pull request Auto merge is not allowed for this repository"
        if expected_head and expected_head != head:
            return HEAD_MOVED
        if method not in state.config.allowed_merge_methods:
            return f"Pull request Merge method {method} is not allowed on this repository"
        if not protection.protected(state, pull.base):
            return "Pull request Protected branch rules not configured for this branch"
        if ready(world, state, pull, head, protection.queue_method(state, pull.base) or method):
            return "Pull request is in clean status"
        pull.auto_merge = AutoMergeRequest(method, head, world.viewer_actor, time.time())
        return pull.auto_merge


def enqueue(
    world: World, state: RepoState, pull: Pull, expected_head: str | None
) -> str | QueueEntry:
    """enqueuePullRequest: the queue entry, or GitHub's refusal."""
    with world.lock:
        head = world.head_sha(state, pull) or ""
        if pull.state != "open":
            return "Pull request is closed"
        queue = protection.queue_method(state, pull.base)
        if queue is None:
            return "Pull request is not mergeable via merge queue: the base branch does not require one"
        if expected_head and expected_head != head:
            return HEAD_MOVED
        if pull.queue is not None:
            return pull.queue
        needs = protection.requirements(world, state, pull, head, queue, rest=False)
        problems = needs.classic + needs.ruleset
        if problems:
            return "Pull request " + " ".join(problems)
        pull.queue = _entry(state, head)
        return pull.queue
