"""The lockfile package graph: a copy's dependents, nearest first."""

from __future__ import annotations

from agentd.ecosystems._shared.jsgraph import LockGraph, describe


def _graph() -> LockGraph:
    """app → framework 1.0.0 → express 4.17.1 → cookie 0.4.0; app → cookie-user → cookie;
    a cycle (a ⇄ b) above cookie; a workspace member reaching only b."""
    graph = LockGraph()
    graph.add_importer(".", [("framework", "1.0.0"), ("cookie-user", "1.0.0")])
    graph.add_importer("packages/tool", [("b", "1.0.0")])
    graph.add_package(("framework", "1.0.0"), [("express", "4.17.1")])
    graph.add_package(("express", "4.17.1"), [("cookie", "0.4.0")])
    graph.add_package(("cookie-user", "1.0.0"), [("cookie", "0.4.0")])
    graph.add_package(("a", "1.0.0"), [("b", "1.0.0"), ("cookie", "0.4.0")])
    graph.add_package(("b", "1.0.0"), [("a", "1.0.0")])
    graph.add_package(("cookie", "0.4.0"), [])
    return graph


def test_ancestors_come_level_by_level_each_at_its_shortest_distance() -> None:
    levels = _graph().ancestor_levels(("cookie", "0.4.0"))
    assert levels == [
        {("express", "4.17.1"), ("cookie-user", "1.0.0"), ("a", "1.0.0")},
        {("framework", "1.0.0"), ("b", "1.0.0")},
    ]


def test_importers_and_dependents() -> None:
    graph = _graph()
    cookie = ("cookie", "0.4.0")
    assert graph.importers_reaching(cookie) == [".", "packages/tool"]
    assert graph.importers_reaching(("express", "4.17.1")) == ["."]
    assert graph.declaring_importers(("framework", "1.0.0")) == ["."]
    assert graph.declaring_importers(cookie) == []
    assert describe(graph.dependents(cookie)) == "a 1.0.0, cookie-user 1.0.0, express 4.17.1"
    assert graph.descendants("packages/tool") == {("a", "1.0.0"), ("b", "1.0.0"), cookie}
    assert graph.versions("cookie") == {"0.4.0"} and cookie in graph
    assert ("cookie", "0.7.1") not in graph
