"""Path confinement: the one check every caller uses before touching a repository path.

Paths come from alert payloads, profiles and repository contents, all of which may be
hostile. `relative_path` refuses a path that cannot be a repository-relative path at all
(absolute, `..`, control characters, backslashes, huge); `confine` also resolves symlinks
on disk and refuses anything that ends up outside the root (the repository, or a target's
sub-path inside it). Neither ever falls back to another directory.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from agentd.errors import PathEscapeError

MAX_PATH = 4096
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def relative_path(path: str) -> str | None:
    """The normalised repository-relative posix path, or None when `path` is not one."""
    if not path or len(path) > MAX_PATH or _UNSAFE.search(path) or "\\" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    return str(pure)


def confine(root: Path, path: str, *, within: str = ".") -> Path:
    """The absolute path of repository-relative `path` under `root`, symlinks resolved.

    Raises PathEscapeError when the path is malformed or resolves outside `root` / `within`
    (a sub-path of `root`, e.g. a target's directory).
    """
    clean = relative_path(path)
    scope = relative_path(within)
    if clean is None or scope is None:
        raise PathEscapeError(f"refusing path {path[:200]!r}: not a path inside the repository")
    base = root.resolve()
    fence = (base / scope).resolve()
    resolved = (base / clean).resolve()
    if not _inside(base, fence) or not _inside(fence, resolved):
        where = "the repository" if scope == "." else f"{scope!r}"
        raise PathEscapeError(f"refusing path {clean!r}: it resolves outside {where}")
    return resolved


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents
