"""`yarn.lock`: classic (yarn 1 text format) and berry (yarn 2+, YAML with `__metadata`).

Classic entries (`"a@^1.0.0", a@~1.0.1:` + `version "1.0.3"`) carry no workspace
information, so their relationship is "unknown". Berry lockfiles list each workspace with
its dependency descriptors, which resolve to the registry entries they point at: those
are direct, the rest transitive ("unknown" when no workspace lists its dependencies).
A patch of a registry package is that package; workspaces (and their patches), git, file,
link and portal entries are not registry packages and are skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any
from urllib.parse import unquote

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.model import (
    Dependency,
    DepfileError,
    as_dict,
    as_str,
    frozen_graph,
    load_yaml,
    text_of,
    unique,
)

_CLASSIC_VERSION = re.compile(r'^version:?\s+"?(?P<version>[^"\s]+)"?$')
_BERRY_NPM = re.compile(r"^(?P<name>@?[^@]+)@npm:(?P<version>[^\s]+)$")
_BERRY_PATCH = re.compile(r"^@?[^@]+@patch:(?P<inner>[^#]+)#")
_BERRY_MARKER = re.compile(r"^__metadata:", re.MULTILINE)


def _split_spec(spec: str) -> tuple[str, str] | None:
    """`@s/a@^1.0.0` → (`@s/a`, `^1.0.0`)."""
    at = spec.find("@", 1)
    if at <= 0:
        return None
    return spec[:at], spec[at + 1 :]


def _classic_package(header: str) -> str | None:
    """The package an entry header resolves (None for local / URL sources)."""
    specs = [s.strip().strip('"') for s in header.split(",")]
    split = _split_spec(specs[0]) if specs and specs[0] else None
    if split is None:
        return None
    name, spec_range = split
    if spec_range.startswith("npm:"):  # an alias: `foo@npm:real@^1.0.0`
        real = _split_spec(spec_range[4:])
        return real[0] if real else spec_range[4:]
    if ":" in spec_range:
        return None  # file:, link:, portal:, workspace:, git and tarball URLs
    return name


def _classic(path: str, text: str) -> list[Dependency]:
    entries: list[tuple[int, str | None, str | None]] = []  # (line, package, version)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if not line.rstrip().endswith(":"):
                raise DepfileError(f"{path}:{number}: not a yarn.lock entry header")
            entries.append((number, _classic_package(line.rstrip()[:-1]), None))
            continue
        if not entries:
            raise DepfileError(f"{path}:{number}: indented line outside an entry")
        indent = len(line) - len(line.lstrip(" "))
        match = _CLASSIC_VERSION.match(line.strip()) if indent == 2 else None
        if match:
            start, package, _ = entries[-1]
            entries[-1] = (start, package, match["version"])
    found = []
    for start, package, version in entries:
        if version is None:
            raise DepfileError(f"{path}:{start}: entry has no version")
        if package and version[:1].isdigit():
            found.append(Dependency("npm", package, version, path, "unknown"))
    return found


def _registry_package(entry: dict[str, Any]) -> tuple[str, str] | None:
    """The registry (name, version) an entry resolves to; a patched package counts as its
    registry release (`typescript@patch:typescript@npm%3A5.3.3#...` is typescript 5.3.3)."""
    resolution = as_str(entry.get("resolution")) or ""
    patch = _BERRY_PATCH.match(resolution)
    if patch:
        resolution = unquote(patch["inner"])
    match = _BERRY_NPM.match(resolution)
    if match is None or not match["version"][:1].isdigit():
        return None
    return match["name"], match["version"]


def _berry_direct(entries: dict[str, dict[str, Any]]) -> set[tuple[str, str]] | None:
    """Registry packages the workspaces depend on; None when no workspace lists any."""
    by_descriptor = {
        descriptor.strip().strip('"'): entry
        for key, entry in entries.items()
        for descriptor in key.split(",")
    }
    direct: set[tuple[str, str]] = set()
    listed = False
    for entry in entries.values():
        if "@workspace:" not in (as_str(entry.get("resolution")) or ""):
            continue
        dependencies = as_dict(entry.get("dependencies"))
        listed = listed or bool(dependencies)
        for name, value in dependencies.items():
            spec = str(value)
            descriptor = f"{name}@{spec if ':' in spec else 'npm:' + spec}"
            package = _registry_package(by_descriptor.get(descriptor, {}))
            if package:
                direct.add(package)
    return direct if listed else None


def _berry(path: str, content: bytes) -> list[Dependency]:
    data = load_yaml(path, content)
    if not isinstance(data.get("__metadata"), dict):
        raise DepfileError(f"{path}: yarn berry lockfile without a __metadata mapping")
    entries = {
        str(key): entry
        for key, entry in data.items()
        if key != "__metadata" and isinstance(entry, dict)
    }
    direct = _berry_direct(entries)
    found = []
    for entry in entries.values():
        package = _registry_package(entry)
        if package:
            if direct is None:
                relationship = "unknown"
            else:
                relationship = "direct" if package in direct else "transitive"
            found.append(Dependency("npm", package[0], package[1], path, relationship))
    return found


def parse(path: str, content: bytes) -> list[Dependency]:
    text = text_of(path, content)
    if _BERRY_MARKER.search(text):
        return unique(_berry(path, content))
    return unique(_classic(path, text))


_DEPENDENCY_SECTIONS = ("dependencies:", "optionalDependencies:")


def _dependency_package(name: str, spec: str) -> str:
    """The package a dependency line names: `foo "npm:real@^1"` is `real`, else `foo`."""
    if spec.startswith("npm:"):
        real = _split_spec(spec[4:])
        if real is not None:
            return real[0]
    return name


def _classic_dependency(line: str) -> str:
    """`"@s/a" "^1.0.0"` or `b "npm:real@^2"` → the package it names."""
    text = line.strip()
    if text.startswith('"'):
        name, _, spec = text[1:].partition('"')
    else:
        name, _, spec = text.partition(" ")
    return _dependency_package(name, spec.strip().strip('"'))


def _classic_graph(text: str) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    package: str | None = None
    in_dependencies = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            package = _classic_package(line.rstrip().removesuffix(":"))
            in_dependencies = False
            if package:
                edges[package] |= set()
        elif indent == 2:
            in_dependencies = line.strip() in _DEPENDENCY_SECTIONS
        elif indent == 4 and in_dependencies and package:
            edges[package].add(_classic_dependency(line))
    return edges


def _berry_graph(path: str, content: bytes) -> dict[str, set[str]]:
    data = load_yaml(path, content)
    edges: dict[str, set[str]] = defaultdict(set)
    for key, raw in data.items():
        entry = as_dict(raw)
        package = _registry_package(entry) if key != "__metadata" else None
        if package is None:
            continue  # workspaces, and git, file, link and portal packages
        for section in ("dependencies", "optionalDependencies", "peerDependencies"):
            for name, spec in as_dict(entry.get(section)).items():
                edges[package[0]].add(_dependency_package(str(name), str(spec)))
        edges[package[0]] |= set()
    return edges


def graph(path: str, content: bytes) -> Graph:
    """Package name → the names it depends on (an alias: its real package)."""
    text = text_of(path, content)
    if _BERRY_MARKER.search(text):
        return frozen_graph(_berry_graph(path, content))
    return frozen_graph(_classic_graph(text))
