"""`uv.lock` (TOML `[[package]]` entries with their dependency edges).

The project and its workspace members (`source = { editable = ... }` or
`{ virtual = ... }`) are not dependencies; neither are local `path` / `directory`
packages. Direct dependencies are the members' `dependencies`, `optional-dependencies`
and `dev-dependencies`; scope follows the edges from the runtime and the development
roots.
"""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.model import (
    Dependency,
    as_dict,
    as_list,
    as_str,
    frozen_graph,
    load_toml,
    reachable,
    scope_of,
    unique,
)

_ROOT_SOURCES = frozenset({"editable", "virtual"})
_LOCAL_SOURCES = frozenset({"path", "directory"})


def _node(name: str, version: str) -> str:
    return f"{canonicalize_name(name)}=={version}"


def _edge_targets(entries: list[Any], versions_by_name: dict[str, list[str]]) -> list[str]:
    """Dependency entries (`{ name = "x" }`, `{ name = "x", version = "1.0" }`) → nodes."""
    targets = []
    for raw in entries:
        entry = as_dict(raw)
        name = as_str(entry.get("name"))
        if not name:
            continue
        pinned = as_str(entry.get("version"))
        for version in [pinned] if pinned else versions_by_name.get(canonicalize_name(name), []):
            targets.append(_node(name, version))
    return targets


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    packages = [
        p
        for p in (as_dict(raw) for raw in as_list(data.get("package")))
        if as_str(p.get("name")) and as_str(p.get("version"))
    ]
    versions_by_name: dict[str, list[str]] = {}
    for package in packages:
        versions_by_name.setdefault(canonicalize_name(package["name"]), []).append(
            package["version"]
        )
    roots = [p for p in packages if _ROOT_SOURCES & set(as_dict(p.get("source")))]
    runtime_roots: list[str] = []
    development_roots: list[str] = []
    for root in roots:
        runtime_roots += _edge_targets(as_list(root.get("dependencies")), versions_by_name)
        for group in as_dict(root.get("optional-dependencies")).values():
            runtime_roots += _edge_targets(as_list(group), versions_by_name)
        for group in as_dict(root.get("dev-dependencies")).values():
            development_roots += _edge_targets(as_list(group), versions_by_name)
    edges = {
        _node(p["name"], p["version"]): _edge_targets(
            as_list(p.get("dependencies"))
            + [
                d
                for group in as_dict(p.get("optional-dependencies")).values()
                for d in as_list(group)
            ],
            versions_by_name,
        )
        for p in packages
    }
    runtime = reachable(runtime_roots, edges)
    development = reachable(development_roots, edges)
    direct = set(runtime_roots) | set(development_roots)
    found = []
    for package in packages:
        source = set(as_dict(package.get("source")))
        if source & (_ROOT_SOURCES | _LOCAL_SOURCES):
            continue
        node = _node(package["name"], package["version"])
        relationship = "direct" if node in direct else "transitive"
        scope = scope_of(node, runtime, development)
        found.append(
            Dependency("pip", package["name"], package["version"], path, relationship, scope)
        )
    return unique(found)


def graph(path: str, content: bytes) -> Graph:
    """Package name → the names its `dependencies`, `optional-dependencies` and
    `dev-dependencies` entries name (the project and its members included)."""
    data = load_toml(path, content)
    edges: dict[str, set[str]] = {}
    for package in (as_dict(raw) for raw in as_list(data.get("package"))):
        name = as_str(package.get("name"))
        if not name:
            continue
        entries = as_list(package.get("dependencies"))
        for section in ("optional-dependencies", "dev-dependencies"):
            entries += [
                d for group in as_dict(package.get(section)).values() for d in as_list(group)
            ]
        names = (as_str(as_dict(entry).get("name")) for entry in entries)
        edges.setdefault(name, set()).update(n for n in names if n)
    return frozen_graph(edges)
