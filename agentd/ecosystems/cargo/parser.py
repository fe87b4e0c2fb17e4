"""`Cargo.lock` (TOML `[[package]]`, lockfile versions 1 to 4).

Packages without a `source` are workspace members or path dependencies, not registry
crates, and are skipped. Direct dependencies are those the members list; an entry is
`name`, `name version` when several versions are locked, or `name version (source)` in
version 1 lockfiles.
"""

from __future__ import annotations

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


def _direct(members: list[dict[str, object]]) -> tuple[set[str], set[tuple[str, str]]]:
    """(names listed without a version, (name, version) pairs listed with one)."""
    names: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for member in members:
        for entry in as_list(member.get("dependencies")):
            parts = str(entry).split()
            if len(parts) == 1:
                names.add(parts[0])
            elif len(parts) >= 2:
                pairs.add((parts[0], parts[1]))
    return names, pairs


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    packages = [
        p
        for p in (as_dict(raw) for raw in as_list(data.get("package")))
        if as_str(p.get("name")) and as_str(p.get("version"))
    ]
    members = [p for p in packages if "source" not in p]
    direct_names, direct_pairs = _direct(members)
    found = []
    for package in packages:
        if "source" not in package:
            continue
        name, version = package["name"], package["version"]
        direct = name in direct_names or (name, version) in direct_pairs
        relationship = "direct" if direct else "transitive"
        found.append(Dependency("rust", name, version, path, relationship))
    return unique(found)


def graph(path: str, content: bytes) -> Graph:
    """Crate name → the crates its `dependencies` list names (`name`, `name version` or
    `name version (source)`); workspace members included, as nothing bumps them."""
    data = load_toml(path, content)
    edges: dict[str, set[str]] = {}
    for package in (as_dict(raw) for raw in as_list(data.get("package"))):
        name = as_str(package.get("name"))
        if name:
            targets = (str(entry).split() for entry in as_list(package.get("dependencies")))
            edges.setdefault(name, set()).update(parts[0] for parts in targets if parts)
    return frozen_graph(edges)
