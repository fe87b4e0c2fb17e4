"""The churn check: an update changes only the packages its fixes require.

After the updater ran, the dependency files it changed are parsed as they were at the base
commit and as they are now. A package whose versions differ must be one the unit bumps,
one the updater moved on purpose (`UpdateResult.moved`: a parent updated in range), or
one those depend on — reachable from them in the graph the lockfile records, after the
update (new and moved transitive dependencies) or before it (the ones that went). Any
other package that changed blocks the unit: a tool that also refreshed unrelated packages
ships changes nobody reviewed for the fix.

Without a graph (a hand-written requirements list) only the bumped and moved packages may
change, and new names may appear (a new transitive dependency). go.mod records no graph
either, but Go's minimum version selection only ever raises requirements and `go mod
tidy` drops indirect ones nothing needs: those are allowed there, a lowered version or a
dropped direct requirement is not.

Pure logic over file contents: no git, no tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from agentd import ecosystems
from agentd.alerts.dependabot.plan import UnitPlan
from agentd.ecosystems import Dependency, DepfileError, Ecosystem, Graph, UpdateResult
from agentd.ecosystems._shared.model import reachable
from agentd.versions import RangeError, VersionError, parse_version

MAX_LISTED = 10

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Drift:
    """One package whose versions the update changed although no fix requires it."""

    path: str
    name: str
    removed: tuple[str, ...]  # versions only the base had
    added: tuple[str, ...]  # versions only the update has

    def describe(self) -> str:
        if not self.added:
            return f"{self.name} {', '.join(self.removed)} (removed)"
        if not self.removed:
            return f"{self.name} {', '.join(self.added)} (added)"
        return f"{self.name} {', '.join(self.removed)} → {', '.join(self.added)}"


def of_update(
    plan: UnitPlan, update: UpdateResult | None, files: Iterable[str], before: Reader, after: Reader
) -> str | None:
    """Why a unit's change may not stand for churn, or None: its bumped packages, and the
    ones its updater moved on purpose, are the ones that may change."""
    moved = list(update.moved) if update is not None else []
    bumped = [b.name for b in plan.bumps()]
    if plan.ecosystem is not None and plan.ecosystem.parent_updates:
        # The updater may move, in range, whatever depends on a vulnerable copy.
        moved += _ancestors(files, before, bumped)
    return problem(files, before, after, [*bumped, *moved])


def _ancestors(files: Iterable[str], before: Reader, names: Iterable[str]) -> list[str]:
    """Every package that (transitively) depends on one of `names` before the update."""
    found: set[str] = set()
    for path in sorted(set(files)):
        content = before(path)
        try:
            graph = ecosystems.dependency_graph(path, content) if content is not None else None
        except DepfileError:
            continue  # `problem` reports the file it cannot compare
        if graph is None:
            continue
        reverse: dict[str, set[str]] = {}
        for parent, children in graph.items():
            for child in children:
                reverse.setdefault(child, set()).add(parent)
        found |= reachable(names, reverse)
    return sorted(found)


def problem(
    files: Iterable[str], before: Reader, after: Reader, wanted: Iterable[str]
) -> str | None:
    """Why the change may not stand (what else it changed, or which file cannot be read),
    or None when it changes only what its fixes require."""
    try:
        drifts = unrequired_changes(files, before, after, wanted)
    except DepfileError as exc:
        return f"cannot compare the dependency files before and after the update: {exc}"
    return describe(drifts) if drifts else None


def unrequired_changes(
    files: Iterable[str], before: Reader, after: Reader, wanted: Iterable[str]
) -> list[Drift]:
    """Every package the change alters in `files` beyond `wanted` (the bumped and moved
    names) and what they depend on. Files no parser reads (manifests such as package.json:
    the ecosystem rules decide on those) and files the change adds or deletes are not
    compared; a dependency file that does not parse raises DepfileError."""
    names = set(wanted)
    drifts: list[Drift] = []
    for path in sorted(set(files)):
        ecosystem = ecosystems.for_file(path)
        old, new = before(path), after(path)
        if ecosystem is None or old is None or new is None or old == new:
            continue
        drifts += _file_drifts(ecosystem, path, old, new, names)
    return drifts


def describe(drifts: list[Drift]) -> str:
    """One line for the unit's detail: what changed that no fix requires (the first few)."""
    several = len({d.path for d in drifts}) > 1
    items = [d.describe() + (f" in {d.path}" if several else "") for d in drifts[:MAX_LISTED]]
    more = f" and {len(drifts) - MAX_LISTED} more" if len(drifts) > MAX_LISTED else ""
    where = "" if several else f" in {drifts[0].path}"
    return f"the update also changed {', '.join(items)}{more}{where}, which no fix requires"


def _file_drifts(
    ecosystem: Ecosystem, path: str, old: bytes, new: bytes, wanted: set[str]
) -> list[Drift]:
    norm = partial(ecosystems.normalize_name, ecosystem.alert_ecosystem)
    old_deps = ecosystems.parse_dependency_file(path, old)
    new_deps = ecosystems.parse_dependency_file(path, new)
    before, after = _versions(old_deps, norm), _versions(new_deps, norm)
    allowed, graphed = _required(path, (old, new), {norm(name) for name in wanted}, norm)
    spelled = {norm(d.name): d.name for d in [*old_deps, *new_deps]}
    drifts = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name, set()), after.get(name, set())
        if was == now or name in allowed or (not graphed and not was):
            continue  # without a graph a new name is a new transitive dependency
        if ecosystem.minimum_version_selection and _selected(ecosystem, name, was, now, old_deps):
            continue
        drifts.append(Drift(path, spelled[name], _sorted(was - now), _sorted(now - was)))
    return drifts


def _required(
    path: str, contents: tuple[bytes, ...], roots: set[str], norm: Callable[[str], str]
) -> tuple[set[str], bool]:
    """The roots and all they depend on in the graphs the contents record (before the update:
    what went; after it: what came), and whether any content records a graph at all."""
    graphs = [ecosystems.dependency_graph(path, content) for content in contents]
    found = [_normalized(graph, norm) for graph in graphs if graph is not None]
    return roots.union(*(reachable(roots, graph) for graph in found)), bool(found)


def _versions(dependencies: list[Dependency], norm: Callable[[str], str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for dependency in dependencies:
        found.setdefault(norm(dependency.name), set()).add(dependency.version)
    return found


def _normalized(graph: Graph, norm: Callable[[str], str]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, targets in graph.items():
        edges.setdefault(norm(name), set()).update(norm(t) for t in targets)
    return edges


def _selected(
    ecosystem: Ecosystem, name: str, was: set[str], now: set[str], old: list[Dependency]
) -> bool:
    """Whether minimum version selection explains the change: a new module, a raised
    version, or an indirect requirement `go mod tidy` dropped."""
    if not was:
        return True
    if not now:
        norm = ecosystems.normalize_name
        return all(
            d.relationship == "transitive"
            for d in old
            if norm(ecosystem.alert_ecosystem, d.name) == name
        )
    try:
        lowest_now = min(parse_version(ecosystem.alert_ecosystem, v) for v in now)
        return all(parse_version(ecosystem.alert_ecosystem, v) < lowest_now for v in was)
    except (VersionError, RangeError):
        return False


def _sorted(versions: set[str]) -> tuple[str, ...]:
    return tuple(sorted(versions))
