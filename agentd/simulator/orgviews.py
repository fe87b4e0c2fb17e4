"""Organisation alert listings without rebuilding every alert for every page.

An organisation page used to re-analyse every repository and render every alert's JSON to
cut out 100 of them (0.94 s per page at 10,000 alerts, so a 100,000-alert organisation took
longer to serve than to scan). A view here is the ordered list of (repository, alert) pairs a
listing shows, built once per world change and kept; a page renders JSON for its own slice
only. The order and membership are exactly what the per-page rebuild produced, so bodies,
Link headers and ETags are unchanged.

A view is rebuilt when its signature moves: the world's alert generation (bumped wherever an
alert is created or changes state), each repository's feature switch, and what `refresh`
re-analyses on — the default branch head (Dependabot, code scanning) or every ref (secret
scanning) — read from the ref files, as pushes arrive behind the simulator's back.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from agentd.simulator import gitstore
from agentd.simulator.world import Alert, RepoState, World

Entry = tuple[RepoState, Alert]
# paging parameters select a slice of a view, every other parameter selects the view
PAGING = frozenset({"page", "per_page", "after", "before"})
MAX_VIEWS = 32

_FEATURE: dict[str, Callable[[RepoState], str]] = {
    "dependabot": lambda s: s.config.features.dependabot_alerts,
    "code_scanning": lambda s: s.config.features.code_scanning,
    "secret_scanning": lambda s: s.config.features.secret_scanning,
}


def _content(kind: str, state: RepoState) -> Hashable:
    """What `World.refresh` compares to decide whether this class needs re-analysis."""
    if kind == "secret_scanning":
        return tuple(sorted(gitstore.refs(state.path).values()))
    # the loose ref read directly (every page asks, for every repository), else the full lookup
    try:
        with open(f"{state.path}/refs/heads/{state.config.default_branch}", "rb") as ref:
            sha = ref.read(64).strip()
    except OSError:
        sha = b""
    if len(sha) == 40:
        return sha
    return gitstore.branch_sha(state.path, state.config.default_branch)


def signature(world: World, kind: str) -> Hashable:
    feature = _FEATURE[kind]
    repos = tuple(
        (name, feature(state), _content(kind, state) if feature(state) == "enabled" else None)
        for name, state in world.repos.items()
    )
    return (world.alert_generation, world.api_url, repos)


def view(
    world: World,
    kind: str,
    query: dict[str, str],
    build: Callable[[list[RepoState]], list[Entry]],
) -> list[Entry]:
    """The ordered entries of one organisation listing, rebuilt only after a world change.

    `build` receives the repositories whose `kind` feature is enabled, already refreshed.
    """
    key = (kind, tuple(sorted((k, v) for k, v in query.items() if k not in PAGING)))
    views: dict[Hashable, tuple[Hashable, list[Entry]]] = world.org_views
    cached = views.get(key)  # (signature, entries) is stored as one tuple: no lock to read it
    if cached is not None and cached[0] == signature(world, kind):
        return cached[1]
    with world.lock:
        enabled = [s for s in world.repos.values() if _FEATURE[kind](s) == "enabled"]
        for state in enabled:
            world.refresh(state)
        entries = build(enabled)
        views.pop(key, None)
        views[key] = (signature(world, kind), entries)
        while len(views) > MAX_VIEWS:
            views.pop(next(iter(views)))
        return entries


def render(entries: list[Entry], to_json: Callable[[RepoState, Alert], Any]) -> list[Any]:
    return [to_json(state, alert) for state, alert in entries]
