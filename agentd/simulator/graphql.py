"""`POST /graphql`, for exactly the mutations agentd uses: enablePullRequestAutoMerge and
enqueuePullRequest, with GitHub's answer shapes.

GraphQL answers 200 even when it refuses: `{"data": {"<mutation>": null}, "errors":
[{"type", "path", "locations", "message"}]}`. An unknown field is GitHub's `undefinedField`
error; a body that is not JSON is a 400 "Problems parsing JSON"; a missing query is GitHub's
"A query attribute must be specified and must be a string.". Arguments are read from the
`input: {...}` object, each a `$variable` or an inline literal.
"""

from __future__ import annotations

import re
from typing import Any

from agentd.simulator import automerge, shapes
from agentd.simulator.api import Route
from agentd.simulator.http import HttpError, Request, Response
from agentd.simulator.world import AutoMergeRequest, Pull, RepoState, World

DOC = "https://docs.github.com/graphql"
MUTATIONS = ("enablePullRequestAutoMerge", "enqueuePullRequest")
_FIELD = re.compile(r"\bmutation\b[^{]*\{\s*(\w+)", re.DOTALL)
_ARGUMENT = re.compile(r"(\w+)\s*:\s*(\$\w+|\"[^\"]*\"|[A-Za-z_][\w]*)")


def handle(world: World, request: Request, params: dict[str, str]) -> Response:
    if not isinstance(request.body, dict):
        raise HttpError(400, {"message": "Problems parsing JSON", "documentation_url": DOC})
    query = request.body.get("query")
    if not isinstance(query, str):
        return _errors([{"message": "A query attribute must be specified and must be a string."}])
    variables = request.body.get("variables") or {}
    found = _FIELD.search(query)
    name = found.group(1) if found else ""
    if name not in MUTATIONS:
        return _undefined(name or "query")
    arguments = _arguments(query, variables if isinstance(variables, dict) else {})
    target = _pull(world, str(arguments.get("pullRequestId", "")))
    if target is None:
        node = arguments.get("pullRequestId", "")
        return _refused(
            name, "NOT_FOUND", f"Could not resolve to a node with the global id of '{node}'."
        )
    state, pull = target
    expected = arguments.get("expectedHeadOid")
    if name == "enablePullRequestAutoMerge":
        method = str(arguments.get("mergeMethod") or "MERGE").lower()
        outcome = automerge.enable(world, state, pull, method, expected)
        if isinstance(outcome, str):
            return _refused(name, "UNPROCESSABLE", outcome)
        return _data(name, {"pullRequest": _auto_merge_pull(pull, outcome)})
    entry = automerge.enqueue(world, state, pull, expected)
    if isinstance(entry, str):
        return _refused(name, "UNPROCESSABLE", entry)
    queued = {
        "position": entry.position,
        "state": entry.state,
        "enqueuedAt": shapes.iso(entry.enqueued_at),
    }
    return _data(name, {"mergeQueueEntry": queued})


def _arguments(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    start = query.find("input:")
    body = query[start:] if start >= 0 else query
    body = body[: body.find("}") + 1] if "}" in body else body
    values: dict[str, Any] = {}
    for key, raw in _ARGUMENT.findall(body):
        if raw.startswith("$"):
            values[key] = variables.get(raw[1:])
        elif raw.startswith('"'):
            values[key] = raw[1:-1]
        else:
            values[key] = raw
    values.pop("input", None)
    return values


def node_id(state: RepoState, pull: Pull) -> str:
    return shapes.node_id("pr", f"{state.rid}:{pull.number}")


def _pull(world: World, node: str) -> tuple[RepoState, Pull] | None:
    for state in world.repos.values():
        for pull in state.pulls.values():
            if node_id(state, pull) == node:
                return state, pull
    return None


def _auto_merge_pull(pull: Pull, request: AutoMergeRequest) -> dict[str, Any]:
    return {
        "number": pull.number,
        "autoMergeRequest": {
            "mergeMethod": request.method.upper(),
            "enabledAt": shapes.iso(request.enabled_at),
        },
    }


def _data(name: str, payload: dict[str, Any]) -> Response:
    return Response(200, {"data": {name: payload}})


def _errors(errors: list[dict[str, Any]]) -> Response:
    return Response(200, {"errors": errors})


def _refused(name: str, kind: str, message: str) -> Response:
    error = {
        "type": kind,
        "path": [name],
        "locations": [{"line": 2, "column": 3}],
        "message": message,
    }
    return Response(200, {"data": {name: None}, "errors": [error]})


def _undefined(name: str) -> Response:
    return _errors(
        [
            {
                "path": ["mutation", name],
                "extensions": {"code": "undefinedField", "typeName": "Mutation", "fieldName": name},
                "locations": [{"line": 2, "column": 3}],
                "message": f"Field '{name}' doesn't exist on type 'Mutation'",
            }
        ]
    )


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The GraphQL endpoint: served beside the REST routes (it is not one of them)."""
    return (ROUTE, {}) if method == "POST" and path == "/graphql" else None


ROUTE = Route("POST", re.compile(r"^/graphql$"), "/graphql", handle)
