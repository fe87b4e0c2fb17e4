"""The package graph a JS lockfile records: who depends on which locked copy.

A lockfile pins every copy exactly, and a copy's dependents are what hold it in place:
when a dependent requires the vulnerable version exactly (express 4.17.1 → cookie 0.4.0),
no in-range update of the copy itself removes it, but an in-range update of a dependent
(or of the dependent's dependents) may. The updaters walk these ancestors level by level,
nearest first, so the smallest update that frees the copy is tried before a wider one.

Nodes are `(name, version)` without peer suffixes; importers (the project and its
workspace members) are roots, named by their path relative to the lockfile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Node = tuple[str, str]  # (package name, version)


@dataclass
class LockGraph:
    children: dict[Node, set[Node]] = field(default_factory=dict)
    importers: dict[str, set[Node]] = field(default_factory=dict)  # path -> direct deps

    def add_package(self, node: Node, dependencies: Iterable[Node]) -> None:
        self.children.setdefault(node, set()).update(dependencies)

    def add_importer(self, path: str, dependencies: Iterable[Node]) -> None:
        self.importers.setdefault(path, set()).update(dependencies)

    def __contains__(self, node: object) -> bool:
        return node in self.children or any(node in d for d in self.importers.values())

    def versions(self, name: str) -> set[str]:
        nodes = set(self.children).union(*self.importers.values())
        return {version for package, version in nodes if package == name}

    def parents(self) -> dict[Node, set[Node]]:
        found: dict[Node, set[Node]] = {}
        for parent, children in self.children.items():
            for child in children:
                if child != parent:
                    found.setdefault(child, set()).add(parent)
        return found

    def ancestor_levels(self, node: Node) -> list[set[Node]]:
        """The packages that depend on `node`: its direct dependents first, then theirs;
        each package at its shortest distance, importers left out."""
        parents = self.parents()
        seen = {node}
        levels: list[set[Node]] = []
        current = {node}
        while current:
            above = {p for n in current for p in parents.get(n, ()) if p not in seen}
            if not above:
                break
            seen |= above
            levels.append(above)
            current = above
        return levels

    def importers_reaching(self, node: Node) -> list[str]:
        """The importers whose dependency tree holds `node`, in path order."""
        holders = {node}.union(*self.ancestor_levels(node))
        return sorted(path for path, direct in self.importers.items() if direct & holders)

    def declaring_importers(self, node: Node) -> list[str]:
        """The importers that list `node` as a direct dependency."""
        return sorted(path for path, direct in self.importers.items() if node in direct)

    def descendants(self, importer: str) -> set[Node]:
        """Every package in an importer's dependency tree."""
        seen: set[Node] = set()
        pending = list(self.importers.get(importer, ()))
        while pending:
            node = pending.pop()
            if node not in seen:
                seen.add(node)
                pending += self.children.get(node, ())
        return seen

    def dependents(self, node: Node) -> list[Node]:
        """The packages that depend on `node` directly."""
        return sorted(self.parents().get(node, ()))


def describe(nodes: Iterable[Node]) -> str:
    return ", ".join(f"{name} {version}" for name, version in sorted(nodes))
