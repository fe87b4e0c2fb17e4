"""`package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.

v2/v3 (npm 7+): the `packages` map, keyed by install location
(`node_modules/a/node_modules/b`, `packages/web/node_modules/c` inside a workspace).
Link entries (workspaces, `file:` links) are not registry packages. A package is direct
when it sits in the `node_modules` of the root or of a workspace that declares it.
v1 (npm 5/6): the nested `dependencies` tree; the lockfile alone cannot tell a direct
dependency from a hoisted transitive one at the top level, so those are "unknown".
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.model import (
    Dependency,
    DepfileError,
    as_dict,
    as_str,
    frozen_graph,
    is_true,
    load_json,
    unique,
)

_DECLARATIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_MARKER = "node_modules/"


def _declared(entry: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in _DECLARATIONS:
        names |= set(as_dict(entry.get(key)))
    return names


def _split_location(key: str) -> tuple[str, str]:
    """`web/node_modules/a/node_modules/@s/b` → (`web/node_modules/a`, `@s/b`)."""
    parent, _, name = key.rpartition(_MARKER)
    return parent.removesuffix("/"), name


def _scope(entry: dict[str, Any]) -> str:
    # `devOptional` marks a dev dependency that is also an optional one of a runtime package.
    return "development" if is_true(entry.get("dev")) else "runtime"


def _parse_packages(path: str, packages: dict[str, Any]) -> list[Dependency]:
    # Roots are the project ("") and its workspaces (entries outside any node_modules).
    roots = {
        key: _declared(as_dict(entry)) for key, entry in packages.items() if _MARKER not in key
    }
    found = []
    for key, raw in packages.items():
        entry = as_dict(raw)
        version = as_str(entry.get("version"))
        if _MARKER not in key or is_true(entry.get("link")) or not version:
            continue
        parent, installed_as = _split_location(key)
        if not installed_as or not version[:1].isdigit():
            continue
        direct = parent in roots and installed_as in roots[parent]
        if not direct and parent == "":  # npm hoists workspace dependencies to the root
            direct = any(installed_as in declared for declared in roots.values())
        name = as_str(entry.get("name")) or installed_as  # `name` is set for aliases
        relationship = "direct" if direct else "transitive"
        found.append(Dependency("npm", name, version, path, relationship, _scope(entry)))
    return found


def _parse_v1(path: str, top: dict[str, Any]) -> list[Dependency]:
    found = []
    queue: deque[tuple[dict[str, Any], bool]] = deque([(top, True)])
    while queue:
        dependencies, at_top = queue.popleft()
        for installed_as, raw in dependencies.items():
            entry = as_dict(raw)
            version = as_str(entry.get("version"))
            if not version:
                continue
            queue.append((as_dict(entry.get("dependencies")), False))
            name = str(installed_as)
            if version.startswith("npm:"):  # an alias: `npm:real-name@1.2.3`
                name, _, version = version[4:].rpartition("@")
            if not name or not version[:1].isdigit():
                continue  # file:, git+, link: and other non-registry entries
            relationship = "unknown" if at_top else "transitive"
            found.append(Dependency("npm", name, version, path, relationship, _scope(entry)))
    return found


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_json(path, content)
    packages = data.get("packages")
    if isinstance(packages, dict):
        return unique(_parse_packages(path, packages))
    dependencies = data.get("dependencies")
    if isinstance(dependencies, dict):
        return unique(_parse_v1(path, dependencies))
    if "lockfileVersion" in data:
        return []  # a lockfile of a project without dependencies
    raise DepfileError(f"{path}: not an npm lockfile (no packages or dependencies)")


def _declared_package(name: str, spec: object) -> str:
    """The package a declaration names: `"x": "npm:real@^1"` is `real`, else `x`."""
    text = spec if isinstance(spec, str) else ""
    if not text.startswith("npm:"):
        return name
    real = text[4:].rpartition("@")[0]
    return real or text[4:]


def _requirements(entry: dict[str, Any], sections: tuple[str, ...]) -> set[str]:
    return {
        _declared_package(str(name), spec)
        for section in sections
        for name, spec in as_dict(entry.get(section)).items()
    }


def _graph_packages(packages: dict[str, Any]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    sections = ("dependencies", "optionalDependencies", "peerDependencies")
    for key, raw in packages.items():
        entry = as_dict(raw)
        if _MARKER not in key or is_true(entry.get("link")):
            continue  # the project, its workspaces and links to them are no packages
        name = as_str(entry.get("name")) or _split_location(key)[1]
        edges[name] |= _requirements(entry, sections)
    return edges


def _graph_v1(top: dict[str, Any]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    queue: deque[dict[str, Any]] = deque([top])
    while queue:
        for installed_as, raw in queue.popleft().items():
            entry = as_dict(raw)
            queue.append(as_dict(entry.get("dependencies")))
            version = as_str(entry.get("version")) or ""
            name = _declared_package(str(installed_as), version)
            edges[name] |= _requirements(entry, ("requires",))
    return edges


def graph(path: str, content: bytes) -> Graph:
    """Package name → the names it requires (`dependencies`, optional and peer ones; v1:
    `requires`); an alias's edges are its real package's."""
    data = load_json(path, content)
    packages = data.get("packages")
    if isinstance(packages, dict):
        return frozen_graph(_graph_packages(packages))
    dependencies = data.get("dependencies")
    return frozen_graph(_graph_v1(dependencies if isinstance(dependencies, dict) else {}))
