"""Real git repositories for tests: a bare 'remote' and an operator's clone of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "person@example.invalid",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "person@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def make_remote_and_clone(root: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare repository with one commit of `files` on main, and a clone of it."""
    remote = root / "remote.git"
    seed = root / "seed"
    clone = root / "clone"
    git(root, "init", "--bare", "-q", str(remote))
    git(root, "init", "-q", str(seed))
    for name, content in files.items():
        path = seed / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", str(remote), "HEAD:refs/heads/main")
    git(root, "clone", "-q", str(remote), str(clone))
    return remote, clone
