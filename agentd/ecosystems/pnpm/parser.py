"""`pnpm-lock.yaml`, lockfile versions 5.x (pnpm 7), 6.x (pnpm 8) and 9.x (pnpm 9/10).

Package keys: `/name/1.0.0_peer@1.0.0` (v5), `/name@1.0.0(peer@1.0.0)` (v6),
`name@1.0.0` with `snapshots` for the peer-resolved copies (v9). Direct dependencies are
the ones the root or a workspace importer lists. v5/v6 mark dev-only packages with
`dev: true`; v9 dropped the flag, so scope comes from walking `snapshots` from the
importers' runtime and development dependencies.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.jsgraph import LockGraph, Node
from agentd.ecosystems._shared.model import (
    Dependency,
    DepfileError,
    as_dict,
    as_str,
    frozen_graph,
    is_true,
    load_yaml,
    reachable,
    scope_of,
    unique,
)

_RUNTIME = ("dependencies", "optionalDependencies")
_DEVELOPMENT = ("devDependencies",)


def _split_name_version(text: str) -> tuple[str, str] | None:
    """`@s/a@1.0.0(peer@2)` or `a@1.0.0_peer@2` → (name, version without peer suffix)."""
    head = text.split("(", 1)[0]
    at = head.rfind("@")
    if at <= 0:
        return None
    name, version = head[:at], head[at + 1 :]
    return name, version.split("_", 1)[0]


def _split_v5_key(key: str) -> tuple[str, str] | None:
    """`/@scope/name/1.0.0_peer@1.0.0` → (`@scope/name`, `1.0.0`)."""
    parts = key.lstrip("/").split("/")
    size = 3 if parts[0].startswith("@") else 2
    if len(parts) != size:
        return None
    return "/".join(parts[:-1]), parts[-1].split("_", 1)[0]


def _split_key(key: str, v5: bool) -> tuple[str, str] | None:
    return _split_v5_key(key) if v5 else _split_name_version(key.lstrip("/"))


def _reference_key(name: str, reference: str) -> str | None:
    """A dependency's resolved reference → the key of the snapshot it points at (v9)."""
    head = reference.split("(", 1)[0]
    if ":" in head:
        return None  # link:, file:, workspace: and tarball references
    return reference if head.rfind("@") > 0 else f"{name}@{reference}"


def _resolved(name: str, value: Any, v5: bool) -> tuple[str, str] | None:
    """An importer entry → (package name, version).

    v5: `18.2.0_react@18.2.0`, alias `/real/1.0.0`; v6/v9: `{version: 18.2.0(react@18.2.0)}`,
    alias `/real@1.0.0` (v6) or `real@1.0.0` (v9); `link:`/`file:` entries are not packages.
    """
    reference = as_str(value) if isinstance(value, str) else as_str(as_dict(value).get("version"))
    if not reference or ":" in reference.split("(", 1)[0]:
        return None
    if v5:
        if reference.startswith("/"):
            return _split_v5_key(reference)
        return name, reference.split("_", 1)[0]
    reference = reference.lstrip("/")
    if reference.split("(", 1)[0].rfind("@") > 0:
        return _split_name_version(reference)
    return name, reference.split("(", 1)[0]


def _importers(data: dict[str, Any]) -> list[dict[str, Any]]:
    importers = as_dict(data.get("importers"))
    return [as_dict(i) for i in importers.values()] if importers else [data]


def _direct(data: dict[str, Any], v5: bool) -> set[tuple[str, str]]:
    pairs = set()
    for importer in _importers(data):
        for section in (*_RUNTIME, *_DEVELOPMENT):
            for name, value in as_dict(importer.get(section)).items():
                pair = _resolved(str(name), value, v5)
                if pair:
                    pairs.add(pair)
    return pairs


def _v9_scopes(data: dict[str, Any]) -> tuple[set[str], set[str]]:
    """`name@version` of the snapshots reachable from runtime / development importer deps."""
    edges: dict[str, list[str]] = {}
    for key, snapshot in as_dict(data.get("snapshots")).items():
        targets = []
        for section in ("dependencies", "optionalDependencies"):
            for name, reference in as_dict(as_dict(snapshot).get(section)).items():
                target = _reference_key(str(name), str(reference))
                if target:
                    targets.append(target)
        edges[str(key)] = targets

    def roots(sections: tuple[str, ...]) -> list[str]:
        found = []
        for importer in _importers(data):
            for section in sections:
                for name, value in as_dict(importer.get(section)).items():
                    reference = as_str(as_dict(value).get("version"))
                    target = _reference_key(str(name), reference) if reference else None
                    if target:
                        found.append(target)
        return found

    def plain(keys: set[str]) -> set[str]:  # any peer-resolved copy decides for the package
        return {key.split("(", 1)[0] for key in keys}

    return (
        plain(reachable(roots(_RUNTIME), edges)),
        plain(reachable(roots(_DEVELOPMENT), edges)),
    )


def _package_keys(data: dict[str, Any], v9: bool) -> list[str]:
    keys = [str(k) for k in as_dict(data.get("packages"))]
    if v9:  # snapshots hold every installed copy; packages may lack e.g. patched ones
        keys += [str(k) for k in as_dict(data.get("snapshots"))]
    return keys


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_yaml(path, content)
    version_text = str(data.get("lockfileVersion", ""))
    if not version_text:
        raise DepfileError(f"{path}: no lockfileVersion")
    v5 = version_text.startswith("5")
    v9 = not v5 and not version_text.startswith("6")
    direct = _direct(data, v5)
    runtime, development = _v9_scopes(data) if v9 else (set(), set())
    packages = as_dict(data.get("packages"))
    found = []
    for key in _package_keys(data, v9):
        split = _split_key(key, v5)
        if split is None or not split[1][:1].isdigit():
            continue  # tarball, git and directory packages have no registry version
        name, version = split
        if v9:
            scope = scope_of(f"{name}@{version}", runtime, development)
        else:
            scope = "development" if is_true(as_dict(packages.get(key)).get("dev")) else "runtime"
        relationship = "direct" if (name, version) in direct else "transitive"
        found.append(Dependency("npm", name, version, path, relationship, scope))
    return _prefer_known_scope(unique(found))


def _prefer_known_scope(dependencies: list[Dependency]) -> list[Dependency]:
    """One entry per (name, version, relationship); runtime beats development beats None."""
    rank = {"runtime": 0, "development": 1, None: 2}
    best: dict[tuple[str, str, str], Dependency] = {}
    for dependency in dependencies:
        identity = (dependency.name, dependency.version, dependency.relationship)
        current = best.get(identity)
        if current is None or rank[dependency.scope] < rank[current.scope]:
            best[identity] = dependency
    return list(best.values())


def _snapshot_entries(data: dict[str, Any], v5: bool) -> dict[str, Any]:
    """Every installed copy and its resolved dependencies (v9: `snapshots`)."""
    v9 = not v5 and not str(data.get("lockfileVersion", "")).startswith("6")
    return as_dict(data.get("snapshots") if v9 else data.get("packages"))


def _edges(entry: dict[str, Any], sections: tuple[str, ...], v5: bool) -> list[Node]:
    found = []
    for section in sections:
        for name, value in as_dict(entry.get(section)).items():
            pair = _resolved(str(name), value, v5)
            if pair:
                found.append(pair)
    return found


def lock_graph(path: str, content: bytes) -> LockGraph:
    """Which locked copy depends on which (peer suffixes dropped), importers as roots."""
    data = load_yaml(path, content)
    v5 = str(data.get("lockfileVersion", "")).startswith("5")
    graph = LockGraph()
    importers = as_dict(data.get("importers")) or {".": data}
    for key, importer in importers.items():
        graph.add_importer(str(key), _edges(as_dict(importer), (*_RUNTIME, *_DEVELOPMENT), v5))
    for key, entry in _snapshot_entries(data, v5).items():
        split = _split_key(str(key), v5)
        if split is not None:
            graph.add_package(split, _edges(as_dict(entry), _RUNTIME, v5))
    return graph


def _edges_of(entry: dict[str, Any], v5: bool) -> set[str]:
    """The package names an entry's dependencies resolve to (an alias: its real package)."""
    names = set()
    for section in _RUNTIME:
        for name, value in as_dict(entry.get(section)).items():
            pair = _resolved(str(name), value, v5)
            names.add(pair[0] if pair else str(name))
    return names


def graph(path: str, content: bytes) -> Graph:
    """Package name → the names it depends on, from `packages` (v5, v6) or `snapshots` (v9),
    peer-resolved copies merged into their package."""
    data = load_yaml(path, content)
    v5 = str(data.get("lockfileVersion", "")).startswith("5")
    edges: dict[str, set[str]] = defaultdict(set)
    for section in ("packages", "snapshots"):
        for key, entry in as_dict(data.get(section)).items():
            split = _split_key(str(key), v5)
            if split is not None:
                edges[split[0]] |= _edges_of(as_dict(entry), v5)
    return frozen_graph(edges)
