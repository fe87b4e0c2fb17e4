"""GitHub's Git Data API for writes: blobs, trees, commits and refs (`commit_via: api`).

Commits created here are signed by GitHub (they count as verified for signature rules), are
attributed to the token's account, and a ref update honours GitHub's rules: creating an
existing ref is a 422, a non-fast-forward update needs `force`, and a base branch's rules
(signatures) apply.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from typing import Any

from agentd.simulator import gitstore, shapes
from agentd.simulator.http import HttpError
from agentd.simulator.world import RepoState, World

DOC = "/git"


def _unprocessable(message: str, doc: str = DOC) -> HttpError:
    return HttpError(422, shapes.error(message, doc, 422))


def create_blob(state: RepoState, data: dict[str, Any]) -> str:
    content = data.get("content")
    if not isinstance(content, str):
        raise _unprocessable('Invalid request.\n\n"content" wasn\'t supplied.')
    raw = base64.b64decode(content) if data.get("encoding") == "base64" else content.encode()
    return (
        gitstore.run_git(state.path, "hash-object", "-w", "--stdin", input_bytes=raw)
        .decode()
        .strip()
    )


def create_tree(state: RepoState, data: dict[str, Any]) -> str:
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise _unprocessable('Invalid request.\n\n"tree" wasn\'t supplied.')
    with tempfile.TemporaryDirectory(prefix="sim-index-") as scratch:
        env = {**gitstore.git_env(), "GIT_INDEX_FILE": os.path.join(scratch, "index")}
        base = data.get("base_tree")
        if base:
            gitstore.run_git(state.path, "read-tree", str(base), env=env)
        for entry in entries:
            path, sha = str(entry.get("path", "")), entry.get("sha")
            if sha is None and "content" not in entry:
                gitstore.run_git(state.path, "update-index", "--force-remove", "--", path, env=env)
                continue
            if sha is None:
                sha = create_blob(state, {"content": entry["content"]})
            mode = str(entry.get("mode", "100644"))
            gitstore.run_git(
                state.path, "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", env=env
            )
        return gitstore.run_git(state.path, "write-tree", env=env).decode().strip()


def create_commit(world: World, state: RepoState, data: dict[str, Any]) -> str:
    tree, parents = data.get("tree"), data.get("parents") or []
    if not isinstance(tree, str) or not isinstance(parents, list):
        raise _unprocessable('Invalid request.\n\n"tree" wasn\'t supplied.')
    login, uid = world.scenario.viewer.login, world.scenario.viewer.id
    email = f"{uid}+{login}@users.noreply.github.com"
    env = {
        **gitstore.git_env(),
        "GIT_AUTHOR_NAME": login, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com",
        "GIT_AUTHOR_DATE": f"{int(time.time())} +0000", "GIT_COMMITTER_DATE": f"{int(time.time())} +0000",
    }  # fmt: skip
    args = [
        "commit-tree",
        tree,
        *[a for p in parents for a in ("-p", str(p))],
        "-m",
        str(data.get("message", "")),
    ]
    sha = gitstore.run_git(state.path, *args, env=env).decode().strip()
    state.signed.add(sha)  # GitHub signs commits it creates for a token (web-flow)
    return sha


def update_ref(state: RepoState, branch: str, sha: str, *, create: bool, force: bool) -> None:
    current = gitstore.branch_sha(state.path, branch)
    if create and current is not None:
        raise _unprocessable("Reference already exists", "/git/refs#create-a-reference")
    if not create and current is None:
        raise _unprocessable("Reference does not exist", "/git/refs#update-a-reference")
    if current is not None and not force:
        ancestors = gitstore.rev_list(state.path, f"{current}..{sha}")
        if gitstore.merge_base(state.path, current, sha) != current or not ancestors:
            raise _unprocessable("Update is not a fast forward", "/git/refs#update-a-reference")
    if not gitstore.update_ref(state.path, branch, sha, current):
        raise _unprocessable("Reference update failed", "/git/refs#update-a-reference")
