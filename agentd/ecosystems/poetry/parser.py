"""`poetry.lock` (TOML `[[package]]`), lock versions 1.x and 2.x.

The lockfile does not say which packages the project requires directly (pyproject.toml
does), so the relationship is "unknown". Scope: `category = "dev"` in old lockfiles;
Poetry 2 records `groups` (a package in `main` is runtime, one only in other groups is
development); Poetry 1.2 to 1.8 records neither. Local `directory` / `file` packages and VCS
or URL sources are not registry releases and are skipped.
"""

from __future__ import annotations

from typing import Any

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.model import (
    Dependency,
    as_dict,
    as_list,
    as_str,
    frozen_graph,
    load_toml,
    unique,
)

_NOT_REGISTRY = frozenset({"directory", "file", "git", "url"})


def _scope(package: dict[str, Any]) -> str | None:
    category = as_str(package.get("category"))
    if category:
        return "development" if category == "dev" else "runtime"
    groups = [g for g in as_list(package.get("groups")) if isinstance(g, str)]
    if groups:
        return "runtime" if "main" in groups else "development"
    return None


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    found = []
    for package in (as_dict(raw) for raw in as_list(data.get("package"))):
        name, version = as_str(package.get("name")), as_str(package.get("version"))
        if not name or not version:
            continue
        if as_str(as_dict(package.get("source")).get("type")) in _NOT_REGISTRY:
            continue
        found.append(Dependency("pip", name, version, path, "unknown", _scope(package)))
    return unique(found)


def graph(path: str, content: bytes) -> Graph:
    """Package name → the names its `[package.dependencies]` table lists (optional ones
    included: an extra the project enables is one of them)."""
    data = load_toml(path, content)
    edges: dict[str, set[str]] = {}
    for package in (as_dict(raw) for raw in as_list(data.get("package"))):
        name = as_str(package.get("name"))
        if name:
            edges.setdefault(name, set()).update(
                str(d) for d in as_dict(package.get("dependencies"))
            )
    return frozen_graph(edges)
