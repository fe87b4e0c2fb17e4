"""Dependency-file parsers: what a lockfile or pinned manifest says is installed.

Used by the simulator (to derive Dependabot alerts the way GitHub does) and by the engine
(to prove after an update that no vulnerable version survives, direct or transitive).
Every parser refuses malformed input with `DepfileError` and never executes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from agentd.depfiles import cargo, gomod, npm, pnpm, poetry, requirements, uv, yarn
from agentd.depfiles.model import Dependency, DepfileError

Parser = Callable[[str, bytes], list[Dependency]]

_BY_NAME = {
    "package-lock.json": "package-lock",
    "npm-shrinkwrap.json": "package-lock",
    "pnpm-lock.yaml": "pnpm-lock",
    "yarn.lock": "yarn-lock",
    "uv.lock": "uv-lock",
    "poetry.lock": "poetry-lock",
    "Cargo.lock": "cargo-lock",
    "go.mod": "go-mod",
}
_KINDS: dict[str, tuple[str, Parser]] = {
    "requirements": ("pip", requirements.parse),
    "package-lock": ("npm", npm.parse),
    "pnpm-lock": ("npm", pnpm.parse),
    "yarn-lock": ("npm", yarn.parse),
    "uv-lock": ("pip", uv.parse),
    "poetry-lock": ("pip", poetry.parse),
    "cargo-lock": ("rust", cargo.parse),
    "go-mod": ("go", gomod.parse),
}


def file_kind(path: str) -> str | None:
    """`requirements` | `package-lock` | `pnpm-lock` | `yarn-lock` | `uv-lock` |
    `poetry-lock` | `cargo-lock` | `go-mod`, by file name; None for other files."""
    name = PurePosixPath(path).name
    if name.startswith("requirements") and name.endswith(".txt"):
        return "requirements"
    return _BY_NAME.get(name)


def is_dependency_file(path: str) -> bool:
    return file_kind(path) is not None


def ecosystem_of_file(path: str) -> str | None:
    """The GitHub alert ecosystem of a dependency file: pip | npm | rust | go."""
    kind = file_kind(path)
    return _KINDS[kind][0] if kind else None


def normalize_name(ecosystem: str, name: str) -> str:
    """Package identity: PEP 503 for pip (`Jinja2` == `jinja2`), exact elsewhere."""
    return canonicalize_name(name) if ecosystem == "pip" else name


def parse_dependency_file(path: str, content: bytes) -> list[Dependency]:
    """Every (package, version) the file pins; `path` is repo-relative and posix."""
    kind = file_kind(path)
    if kind is None:
        raise DepfileError(f"{path}: not a dependency file agentd reads")
    if not isinstance(content, bytes):
        raise DepfileError(f"{path}: content must be bytes")
    try:
        return _KINDS[kind][1](path, content)
    except DepfileError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # A safety net: the parsers check shapes themselves, so this means a shape they
        # did not expect; the file is still refused rather than crashing the caller.
        raise DepfileError(f"{path}: malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


__all__ = [
    "Dependency",
    "DepfileError",
    "ecosystem_of_file",
    "file_kind",
    "is_dependency_file",
    "normalize_name",
    "parse_dependency_file",
]
