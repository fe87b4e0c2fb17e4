"""In-range updates of a vulnerable copy's dependents (Dependabot's parent updates).

When a dependent requires the vulnerable version exactly (express 4.17.1 → cookie 0.4.0,
lint-staged 15.2.0 → micromatch 4.0.5), the copy stays however the copy itself is
pinned; a newer release of the dependent, inside the range its own dependents (or the
project) declare, may require a fixed one. The walk updates the copy's direct dependents
first, then theirs, one level per `pnpm update`, re-reading the lockfile graph after
each, and stops as soon as the copy is gone (and nothing between it and the fix came in
instead). package.json never changes: pnpm writes the new ranges there, the walk puts
the files back and lets `pnpm install --lockfile-only` settle the lockfile's specifiers.
A walk that does not free the copy is undone, so it leaves no churn behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentd.ecosystems._shared.interface import PackageBump
from agentd.ecosystems._shared.jsgraph import LockGraph, Node
from agentd.ecosystems._shared.nodejs import locked_versions, short_of_target
from agentd.ecosystems._shared.tooling import FileGuard
from agentd.ecosystems.pnpm.project import Pnpm

MAX_LEVELS = 8  # dependents of dependents ...; deeper chains are left to a person


@dataclass
class ParentWalk:
    pnpm: Pnpm
    guard: FileGuard
    failures: list[str] = field(default_factory=list)  # pnpm update runs that failed

    def reached(self, bump: PackageBump, before: set[str]) -> bool:
        """The vulnerable copy is gone and nothing below the fix replaced it."""
        project = self.pnpm.project
        versions = locked_versions(project.lockfile, project.display, bump.name)
        return bump.current_version not in versions and not short_of_target(bump, versions, before)

    def free(self, bump: PackageBump, before: set[str]) -> str | None:
        """Update the copy's dependents level by level until it is gone; what moved
        (`express 4.17.1 → 4.21.2`), or None with the lockfile as it was."""
        project = self.pnpm.project
        snapshot = project.lockfile.read_bytes()
        start = project.graph()
        node: Node = (bump.name, bump.current_version)
        updated: set[str] = set()
        for depth in range(1, MAX_LEVELS + 1):
            graph = project.graph()
            levels = graph.ancestor_levels(node)
            if len(levels) < depth or not self._update(graph, node, levels[depth - 1]):
                break
            updated |= {name for name, _ in levels[depth - 1]}
            if self.reached(bump, before):
                return moved(start, project.graph(), updated)
        project.lockfile.write_bytes(snapshot)
        return None

    def _update(self, graph: LockGraph, node: Node, level: set[Node]) -> bool:
        """One `pnpm update` per importer holding the copy, of the level's packages in
        that importer's tree; the manifests put back and the lockfile settled after."""
        project = self.pnpm.project
        ok = True
        for importer in graph.importers_reaching(node):
            if importer not in project.importers:
                continue  # no package.json there: nothing pnpm could update
            tree = graph.descendants(importer)
            names = sorted({name for name, version in level if (name, version) in tree})
            if not names:
                continue
            run = self.pnpm.update(names, importer)
            if not run.ok:
                self.failures.append(f"`{run.command}` exited {run.exit_code}")
                ok = False
                break
        touched = set(self.guard.changed())
        changed = [path for path in project.manifests if path in touched]
        for path in changed:
            self.guard.put_back(path)
        if ok and changed:
            self.pnpm.install("settling the lockfile after updating dependents")
        return ok


def moved(before: LockGraph, after: LockGraph, names: set[str]) -> str:
    """`express 4.17.1 → 4.21.2` for every updated package whose versions changed."""
    parts = []
    for name in sorted(names):
        old, new = before.versions(name), after.versions(name)
        if old != new:
            gone, came = ", ".join(sorted(old - new)), ", ".join(sorted(new - old))
            parts.append(f"{name} {gone or '(kept)'} → {came or 'removed'}")
    return "; ".join(parts) or f"pnpm update {' '.join(sorted(names))}"
