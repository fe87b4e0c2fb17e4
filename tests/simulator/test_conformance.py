"""Conformance to GitHub's official REST description (`@octokit/openapi`, pinned below).

(a) every route the simulator serves exists in api.github.com's description (API version
2022-11-28) and in GHES 3.17's, method and path template; (b) every request agentd sends
exists there, and its path and query parameters and JSON body conform to the operation's
`parameters` and `requestBody`; (c) every response body the simulator serves validates
against the operation's schema for its status code. (b) and (c) read the simulator's
request log after real traffic: agentd's own CLI runs against a scenario that drives every
endpoint it uses, plus a sweep over every route (refusals included).

The description is OpenAPI 3.0.3: its schemas are turned into JSON Schema 2020-12 once
(`nullable: true` becomes "or null", local `$ref`s point into one registered resource) and
validated with `jsonschema`, asserting the `date-time`, `date` and `uri` formats.
Install the package as .ci/run does: `npm install --prefix /opt/octokit-openapi
@octokit/openapi@<VERSION>` (or point AGENTD_OCTOKIT_OPENAPI at another npm prefix).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from agentd.simulator import Simulator, api
from agentd.simulator.http import LoggedRequest

VERSION = "23.0.2"  # @octokit/openapi; .ci/run installs the same
PREFIX_ENV = "AGENTD_OCTOKIT_OPENAPI"
DEFAULT_PREFIX = Path("/opt/octokit-openapi")
BASE = "urn:github-rest"

# Served outside the route table (server.py answers it before routing).
UNROUTED = [("GET", "/rate_limit")]

# GitHub's GraphQL endpoint: not part of the REST description.
GRAPHQL = "/graphql"

# Where GitHub's description is known to be wrong (an open issue upstream) and the simulator
# answers as GitHub does: (operation template, JSON path regex, error message prefix).
DESCRIPTION_INACCURACIES: dict[tuple[str, str, str], str] = {
    ("/repos/{owner}/{repo}/pulls", r"\$\[\d+\]\.labels\[\d+\]\.description", "None is not"): (
        "pull-request-simple: a label without a description is null, as in pull-request "
        "(github/rest-api-description#1812)"
    ),
}

# Statuses GitHub may answer on any operation, documented there or not: a conditional GET's
# 304 (no body); an unsupported API version (400), authentication, permission, a resource
# the token cannot see (404), rate limits and server errors, all with basic-error bodies.
ANY_OPERATION = frozenset({304, 400, 401, 403, 404, 429, 500, 502, 503, 504})


# --- the description ----------------------------------------------------------------------


def generated_dir() -> Path:
    prefix = Path(os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX)
    package = prefix / "node_modules" / "@octokit" / "openapi"
    try:
        found = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        found = None
    if found == VERSION:
        return package / "generated"
    why = (
        f"@octokit/openapi@{VERSION} is not installed under {prefix} (found: {found}); "
        f"npm install --prefix {prefix} @octokit/openapi@{VERSION}"
    )
    if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema dialect → JSON Schema 2020-12, over a whole document subtree."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: (v if k in ("example", "examples", "enum", "default") else to_json_schema(v))
        for k, v in node.items()
    }
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        out["$ref"] = BASE + ref
    if out.get("nullable") is True:  # 3.0: "null is allowed too", whatever else is said
        del out["nullable"]
        return {"anyOf": [{"type": "null"}, out]}
    return out


_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.IGNORECASE)


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def _date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("mailto", "urn"))


# Only these formats are asserted (jsonschema's defaults would depend on optional packages).
FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(_date_time)
FORMATS.checks("date", raises=ValueError)(_date)
FORMATS.checks("uri")(_uri)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]
    path_params: dict[str, str]


class Description:
    """One OpenAPI description: path matching, `$ref` resolution, cached validators."""

    def __init__(self, raw: dict[str, Any], schemas: bool = True) -> None:
        self.doc: dict[str, Any] = (
            {"paths": to_json_schema(raw["paths"]), "components": to_json_schema(raw["components"])}
            if schemas
            else {"paths": raw["paths"], "components": raw["components"]}
        )
        self.registry: Registry[Any] = Registry().with_resource(
            BASE, DRAFT202012.create_resource(self.doc)
        )
        self._validators: dict[int, Draft202012Validator] = {}
        self._paths: list[tuple[int, re.Pattern[str], list[str], str]] = []
        for template, item in self.doc["paths"].items():
            multi = {
                p["name"]
                for method, op in item.items()
                if method != "parameters" and isinstance(op, dict)
                for p in self.parameters(item, op)
                if p.get("x-multi-segment")
            }
            names: list[str] = []

            def group(
                match: re.Match[str], names: list[str] = names, multi: set[str] = multi
            ) -> str:
                names.append(match.group(1))
                return "(.+)" if match.group(1) in multi else "([^/]+)"

            regex = re.compile(re.sub(r"\\\{([^}]+)\\\}", group, re.escape(template)))
            literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
            self._paths.append((literal, regex, names, template))
        self._paths.sort(key=lambda entry: -entry[0])

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            pointer = node["$ref"].removeprefix(BASE).removeprefix("#")
            node = self.doc
            for part in pointer.strip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def parameters(self, item: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
            param = self.resolve(raw)
            merged[(param["name"], param["in"])] = param
        return list(merged.values())

    def operation(self, method: str, path: str) -> Operation | None:
        for _literal, regex, names, template in self._paths:
            match = regex.fullmatch(path)
            op = self.doc["paths"][template].get(method.lower()) if match else None
            if match and isinstance(op, dict):
                values = {n: unquote(v) for n, v in zip(names, match.groups(), strict=True)}
                return Operation(method.upper(), template, op, values)
        return None

    def errors(self, schema: dict[str, Any], instance: Any, template: str = "") -> list[str]:
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = Draft202012Validator(schema, registry=self.registry, format_checker=FORMATS)
            self._validators[id(schema)] = validator
        found = sorted(
            (e for e in validator.iter_errors(instance) if not inaccurate(template, e)),
            key=lambda e: list(e.absolute_path),
        )
        return [f"{e.json_path}: {short(e.message)}" for e in found[:5]]

    def schema(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.doc["components"]["schemas"][name]
        return found


def inaccurate(template: str, error: ValidationError) -> bool:
    return any(
        template == where and re.fullmatch(path, error.json_path) and error.message.startswith(msg)
        for where, path, msg in DESCRIPTION_INACCURACIES
    )


def short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def json_schema(content: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema of a JSON media type in a `content` map (application/json first)."""
    if not content:
        return None
    for media in ("application/json", *sorted(content)):
        if media in content and "json" in media and "schema" in content[media]:
            schema: dict[str, Any] = content[media]["schema"]
            return schema
    return None


def coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query or path string as the parameter's schema types it (style simple/form)."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind == "array":
        return value.split(",")
    return value


@pytest.fixture(scope="module")
def generated() -> Path:
    return generated_dir()


@pytest.fixture(scope="module")
def github(generated: Path) -> Description:
    raw = json.loads((generated / "api.github.com.json").read_text(encoding="utf-8"))
    return Description(raw)


@pytest.fixture(scope="module")
def ghes(generated: Path) -> Description:
    raw = json.loads((generated / "ghes-3.17.json").read_text(encoding="utf-8"))
    return Description(raw, schemas=False)


# --- the checks -----------------------------------------------------------------------------


def request_problems(github: Description, op: Operation, logged: LoggedRequest) -> list[str]:
    """(b): path and query parameters and the JSON body against the operation."""
    problems: list[str] = []
    item = github.doc["paths"][op.template]
    params = github.parameters(item, op.spec)
    by_place = {(p["in"], p["name"]): p for p in params}
    for name, value in op.path_params.items():
        param = by_place.get(("path", name))
        if param is None:
            problems.append(f"path parameter {name} is not declared")
            continue
        typed = coerce(value, github.resolve(param["schema"]))
        problems += [f"path {name}={value!r}: {e}" for e in github.errors(param["schema"], typed)]
    for name, value in logged.query.items():
        param = by_place.get(("query", name))
        if param is None:
            problems.append(f"query parameter {name!r} is not a parameter of this operation")
            continue
        typed = coerce(value, github.resolve(param["schema"]))
        problems += [f"query {name}={value!r}: {e}" for e in github.errors(param["schema"], typed)]
    for param in params:
        if param["in"] == "query" and param.get("required") and param["name"] not in logged.query:
            problems.append(f"required query parameter {param['name']!r} is missing")
    body = github.resolve(op.spec.get("requestBody"))
    if body is None:
        if logged.body.strip():
            problems.append("a request body where the operation takes none")
        return problems
    if not logged.body.strip():
        if body.get("required"):
            problems.append("the required request body is missing")
        return problems
    schema = json_schema(body.get("content"))
    try:
        data = json.loads(logged.body)
    except ValueError:
        return [*problems, "the request body is not JSON"]
    if schema is not None:
        problems += [f"body {e}" for e in github.errors(schema, data)]
    return problems


def response_problems(github: Description, op: Operation, logged: LoggedRequest) -> list[str]:
    """(c): the response body against the schema for its status code."""
    status, text = logged.status, logged.response_body or ""
    if status == 0:  # an injected dropped connection: no response at all
        return []
    responses = op.spec.get("responses", {})
    entry = responses.get(str(status)) or responses.get("default")
    if entry is None and status not in ANY_OPERATION:
        return [f"status {status} is not a documented response of this operation"]
    schema = json_schema(github.resolve(entry).get("content")) if entry is not None else None
    if schema is None and status >= 400:  # GitHub's error body, documented or left implicit
        schema = github.schema("basic-error")
    if schema is None:
        return [] if not text else [f"status {status} documents no body, got {short(text)}"]
    if not text:
        return [f"status {status} documents a JSON body, got none"]
    return [f"{status} {e}" for e in github.errors(schema, json.loads(text), op.template)]


def route_sample(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "sample1", template)


def test_every_simulator_route_is_in_the_description(
    github: Description, ghes: Description
) -> None:
    served = [(r.method, r.name) for r in api.ROUTES] + UNROUTED
    missing = [
        f"{name} {method} {template}"
        for method, template in served
        for name, description in (("api.github.com", github), ("ghes-3.17", ghes))
        if description.operation(method, route_sample(template)) is None
    ]
    assert not missing, "routes the description does not have:\n" + "\n".join(missing)


# --- traffic ---------------------------------------------------------------------------------


def api_exchanges(log: list[LoggedRequest]) -> list[LoggedRequest]:
    """The REST exchanges: neither the admin API nor GraphQL."""
    return [r for r in log if not r.path.startswith("/_sim") and r.path != GRAPHQL]


NATIVE_BODY = "Bumps [requests](https://github.com/psf/requests) from 2.25.0 to 2.32.4.\n"
WORKFLOW_BUILD = "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"
WORKFLOW_PINNABLE = "name: lint\non: push\npermissions:\n  contents: read\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: third-party-org/setup-thing@v1\n      - run: make lint\n"


def agentd_scenario() -> dict[str, Any]:
    """Every endpoint agentd uses: all three alert classes, agent and native PRs, pending
    and green checks, classic protection, rulesets, unreadable protection, disabled
    features, no analysis, action pinning (annotated tag), a superseded PR closed."""
    ci = [{"name": "ci", "outcome": "success"}]
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {
                    "requirements.txt": "requests==2.25.0\n",
                    ".github/workflows/ci.yml": WORKFLOW_BUILD,
                    ".github/workflows/lint.yml": WORKFLOW_PINNABLE,
                    ".env": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7CONFORM\nDEBUG=1\n",
                },
                "history": [
                    {"message": "oops", "files": {"old.sh": "T=xoxb-1234567890-1234567890-abcdefghijklmnopqrst\n"}},
                    {"message": "remove", "delete": ["old.sh"]},
                ],
                "checks": ci,
                "protection": {"required_checks": ["ci"]},
            },
            {
                "name": "native",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "lint", "outcome": "success", "kind": "status"}],
                "protection": None,
                "rulesets": [{"name": "main", "required_checks": ["lint"]}],
                "dependabot_prs": [
                    {
                        "branch": "dependabot/pip/requests-2.32.4",
                        "title": "Bump requests from 2.25.0 to 2.32.4",
                        "body": NATIVE_BODY,
                        "files": {"requirements.txt": "requests==2.32.4\n"},
                    }
                ],
            },
            {
                "name": "pending",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "ci", "outcome": "pending"}],
                "protection": {"required_checks": ["ci"]},
                "permissions": {"admin": True},  # reads classic protection itself
            },
            {
                "name": "locked",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": ci,
                "protection": {"required_checks": ["ci"], "readable": False},
            },
            {
                "name": "web",
                "files": {"README.md": "x"},
                "features": {"code_scanning": "disabled", "secret_scanning": "disabled"},
            },
            {"name": "docs", "files": {"README.md": "x"}, "features": {"code_scanning": "no_analysis"}},
        ],
        "action_repositories": [
            {"repo": "third-party-org/setup-thing", "tags": {"v1": {"annotated": True}}}
        ],
        "code_security_configurations": [{"name": "org", "repositories": {"native": "attached"}}],
    }  # fmt: skip


def outcomes(summary: dict[str, Any]) -> list[tuple[str, ...]]:
    keys = ("repository", "alert_class", "outcome", "reason_code", "detail")
    return [tuple(str(u.get(k))[:200] for k in keys) for u in summary.get("units", [])]


@pytest.fixture(scope="module")
def agentd_traffic(tmp_path_factory: pytest.TempPathFactory) -> list[LoggedRequest]:
    """The simulator's log of real agentd runs: discover, a full run, then a run that finds
    the alerts of open PRs dismissed (and closes those PRs as superseded)."""
    from e2e import e2e, verify_ok

    tmp = tmp_path_factory.mktemp("agentd")
    repos = [{"repo": name} for name in ("api", "native", "pending", "locked", "web", "docs")]
    code_scanning = {
        "allowlisted_rules": ["actions/missing-workflow-permissions", "actions/unpinned-tag"],
        "auto_merge_rules": ["actions/missing-workflow-permissions"],
    }
    with e2e(tmp, agentd_scenario(), repos, code_scanning=code_scanning) as env:
        env.sim.admin.keep_responses()
        profile = yaml.safe_load(env.profile_path.read_text(encoding="utf-8"))
        for entry in profile["repositories"]:
            entry["targets"][0]["verification_commands"] = [verify_ok()]
        env.profile_path.write_text(yaml.safe_dump(profile), encoding="utf-8")
        discovered = env.agentd("discover", "--profile", str(env.profile_path), "--json")
        assert discovered.returncode == 0, discovered.stderr[-3000:]
        # 1: completed with failed units — still traffic; what it must reach is checked below
        result, summary = env.run()
        assert result.returncode in (0, 1), outcomes(summary) or result.stderr[-3000:]
        for alert in env.sim.admin.alerts("pending", "dependabot"):
            env.sim.admin.dismiss_alert("pending", "dependabot", alert["number"])
        for alert in env.sim.admin.alerts("api", "code_scanning"):  # an open PR's alert goes
            if alert["state"] == "open":
                env.sim.admin.dismiss_alert("api", "code_scanning", alert["number"])
        again, summary = env.run()
        assert again.returncode in (0, 1), outcomes(summary) or again.stderr[-3000:]
        return api_exchanges(env.sim.admin.requests())


def push_branch(sim: Simulator, branch: str) -> None:
    clone = sim.clone_path("api")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for argv in (
        ["checkout", "-q", "-b", branch],
        ["commit", "-qam", "bump"],
        ["push", "-q", "origin", branch],
    ):
        if argv[0] == "commit":
            (clone / "requirements.txt").write_text("requests==2.32.4\nurllib3==1.26.19\n")
        subprocess.run(["git", "-C", str(clone), *argv], check=True, env=env)


@pytest.fixture(scope="module")
def sweep_traffic(tmp_path_factory: pytest.TempPathFactory) -> list[LoggedRequest]:
    """Every route, directly, with its successes and its refusals."""
    from conftest import TOKEN, sample_scenario

    scenario = sample_scenario()
    scenario["code_security_configurations"] = [
        {"name": "GitHub recommended", "target_type": "global", "description": "Suggested"},
        {"name": "org", "repositories": {"api": "attached", "docs": "enforced", "web": "failed"}},
    ]
    with (
        Simulator(scenario, tmp_path_factory.mktemp("sweep") / "sim") as sim,
        httpx.Client(
            base_url=sim.api_url,
            headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
        ) as http,
    ):
        sim.admin.keep_responses()
        repo = "/repos/acme-org/api"
        action = "/repos/third-party-org/setup-thing"

        def get(path: str, **params: str) -> Any:
            response = http.get(path, params=params)
            return response.json() if response.content else None

        for path in (
            "/user", "/rate_limit", repo, "/orgs/acme-org/repos", "/users/acme-org/repos", "/user/repos",
            "/users/acme-org", "/users/agentd-bot", "/users/no-such-owner",
            f"{repo}/vulnerability-alerts", "/repos/acme-org/web/vulnerability-alerts",
            "/orgs/acme-org/dependabot/alerts", "/orgs/acme-org/code-scanning/alerts",
            "/orgs/acme-org/secret-scanning/alerts", f"{repo}/branches", f"{repo}/branches/main",
            f"{repo}/branches/main/protection", f"{repo}/rules/branches/main",
            f"{repo}/commits/main/check-runs", f"{repo}/commits/main/status",
            f"{repo}/commits/main", f"{repo}/labels", f"{repo}/pulls",
            "/repos/acme-org/web/dependabot/alerts", "/repos/acme-org/web/code-scanning/alerts",
            "/repos/acme-org/docs/code-scanning/alerts",
            "/repos/acme-org/web/secret-scanning/alerts",
            "/repos/acme-org/web/branches/main/protection", "/repos/acme-org/nope",
            f"{repo}/commits/no-such-ref", f"{repo}/pulls/999",
        ):  # fmt: skip
            get(path)
        get(f"{repo}/dependabot/alerts", page="2")
        configurations = "/orgs/acme-org/code-security/configurations"
        first = http.get(configurations, params={"per_page": "1"})
        get(configurations, target_type="global")
        get(configurations, target_type="nope")
        http.get(first.links["next"]["url"])
        get(f"{configurations}/18/repositories", status="attached,enforced", per_page="1")
        get(f"{configurations}/18/repositories")
        get(f"{configurations}/18/repositories", status="nope")
        get(f"{configurations}/999/repositories")
        get(f"{repo}/dependabot/alerts", state="open,fixed", sort="updated", per_page="1")
        for kind in ("dependabot", "code-scanning", "secret-scanning"):
            alerts = get(f"{repo}/{kind}/alerts", state="open")
            get(f"{repo}/{kind}/alerts/{alerts[0]['number']}")
            get(f"{repo}/{kind}/alerts/99999")
        secrets = get(f"{repo}/secret-scanning/alerts")
        get(f"{repo}/secret-scanning/alerts/{secrets[0]['number']}/locations")
        main = get(f"{repo}/branches/main")["commit"]["sha"]
        base_tree = get(f"{repo}/git/commits/{main}")["tree"]["sha"]
        blob = http.post(f"{repo}/git/blobs", json={"content": "x\n", "encoding": "utf-8"}).json()
        entry = {"path": "swept.txt", "mode": "100644", "type": "blob", "sha": blob["sha"]}
        tree = http.post(f"{repo}/git/trees", json={"base_tree": base_tree, "tree": [entry]}).json()
        made = http.post(
            f"{repo}/git/commits", json={"message": "sweep", "tree": tree["sha"], "parents": [main]}
        ).json()
        for _ in range(2):  # created, then 422 "Reference already exists"
            http.post(f"{repo}/git/refs", json={"ref": "refs/heads/swept", "sha": made["sha"]})
        http.patch(f"{repo}/git/refs/heads%2Fswept", json={"sha": main, "force": True})
        http.patch(f"{repo}/git/refs/heads%2Fswept", json={"sha": made["sha"]})  # fast-forward
        ref = get(f"{action}/git/ref/tags/v1")
        tag = get(f"{action}/git/tags/{ref['object']['sha']}")
        get(f"{action}/git/commits/{tag['object']['sha']}")
        get(f"{action}/git/ref/tags/nope")
        get(f"{action}/git/commits/{'0' * 40}")

        push_branch(sim, "feature")
        pull = http.post(
            f"{repo}/pulls", json={"head": "feature", "base": "main", "title": "Bump", "body": "b"}
        ).json()
        number = pull["number"]
        http.post(f"{repo}/pulls", json={"head": "feature", "base": "main", "title": "again"})
        http.post(f"{repo}/pulls", json={"head": "main", "base": "main", "title": "x"})
        get(f"{repo}/pulls", state="all", head="acme-org:feature", base="main")
        get(f"{repo}/pulls/{number}")
        http.patch(f"{repo}/pulls/{number}", json={"body": "updated"})
        for sub in ("files", "reviews", "commits", "merge"):
            get(f"{repo}/pulls/{number}/{sub}")
        comment = http.post(f"{repo}/issues/{number}/comments", json={"body": "hello"}).json()
        get(f"{repo}/issues/{number}/comments")
        http.patch(f"{repo}/issues/comments/{comment['id']}", json={"body": "edited"})
        http.post(f"{repo}/issues/{number}/labels", json={"labels": ["sec-agent"]})
        http.put(f"{repo}/issues/{number}/labels", json={"labels": ["sec-agent", "x"]})
        http.delete(f"{repo}/issues/{number}/labels/x")
        http.delete(f"{repo}/issues/{number}/labels/not-there")
        get(f"{repo}/issues/{number}/labels")
        head = get(f"{repo}/pulls/{number}")["head"]["sha"]
        get(f"{repo}/commits/{head}/check-runs")
        get(f"{repo}/commits/{head}/status")
        http.put(f"{repo}/pulls/{number}/merge", json={"sha": "0" * 40})
        http.put(f"{repo}/pulls/{number}/merge", json={"sha": head, "merge_method": "squash"})
        get(f"{repo}/pulls/{number}/merge")
        http.put(f"{repo}/pulls/{number}/merge", json={"sha": head})
        etag = http.get("/user").headers["ETag"]
        http.get("/user", headers={"If-None-Match": etag})
        httpx.get(f"{sim.api_url}/user")
        http.get("/user", headers={"X-GitHub-Api-Version": "1999-01-01"})
        for kind, status in (("status", 502), ("status", 503), ("secondary", 403)):
            sim.admin.inject(kind, status=status, route=f"{repo}/pulls$")
            get(f"{repo}/pulls")
        sim.admin.set_rate_limit(TOKEN, used=5000, limit=5000)
        get(f"{repo}/branches")
        return api_exchanges(sim.admin.requests())


@pytest.fixture(scope="module")
def ci_traffic(tmp_path_factory: pytest.TempPathFactory) -> list[LoggedRequest]:
    """A repository's own CI on a PR head: check runs queued, in progress, then completed."""
    from conftest import TOKEN, sample_scenario

    scenario = sample_scenario()
    scenario["repositories"][0]["ci"] = {"checks": ["test", "lint"], "after_ms": 60_000}
    with (
        Simulator(scenario, tmp_path_factory.mktemp("ci") / "sim") as sim,
        httpx.Client(
            base_url=sim.api_url,
            headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
        ) as http,
    ):
        sim.admin.keep_responses()
        repo = "/repos/acme-org/api"
        push_branch(sim, "ci-head")
        pull = http.post(
            f"{repo}/pulls", json={"head": "ci-head", "base": "main", "title": "CI", "body": "b"}
        ).json()
        runs_of = f"{repo}/commits/{pull['head']['sha']}/check-runs"
        seen = []
        for step in (0, 40, 30):  # queued (at 0 s), in progress (40 s), completed (70 s)
            sim.admin.ci_elapse("api", step)
            runs = {r["name"]: r for r in http.get(runs_of).json()["check_runs"]}
            seen.append((runs["test"]["status"], runs["test"]["conclusion"]))
        assert seen == [("queued", None), ("in_progress", None), ("completed", "success")]
        assert runs["lint"]["started_at"] < runs["lint"]["completed_at"]
        main_runs = http.get(f"{repo}/commits/main/check-runs").json()["check_runs"]
        assert [r["name"] for r in main_runs] == ["ci"]  # no PR head: no CI run
        return api_exchanges(sim.admin.requests())


def test_agentd_requests_conform(github: Description, agentd_traffic: list[LoggedRequest]) -> None:
    problems: set[str] = set()
    for logged in agentd_traffic:
        version = {k.lower(): v for k, v in logged.headers.items()}.get("x-github-api-version")
        if version not in (None, "2022-11-28"):  # the description checked here is 2022-11-28's
            problems.add(f"{logged.method} {logged.path}: X-GitHub-Api-Version {version}")
        op = github.operation(logged.method, logged.path)
        if op is None:
            problems.add(f"{logged.method} {logged.path}: no such operation")
            continue
        problems.update(
            f"{op.method} {op.template}: {problem}"
            for problem in request_problems(github, op, logged)
        )
    assert not problems, "agentd's requests the description does not allow:\n" + "\n".join(
        sorted(problems)
    )


def test_every_response_body_conforms(
    github: Description,
    agentd_traffic: list[LoggedRequest],
    sweep_traffic: list[LoggedRequest],
    ci_traffic: list[LoggedRequest],
) -> None:
    problems: set[str] = set()
    checked = 0
    for logged in [*agentd_traffic, *sweep_traffic, *ci_traffic]:
        op = github.operation(logged.method, logged.path)
        if op is None:
            problems.add(f"{logged.method} {logged.path}: no such operation")
            continue
        checked += 1
        problems.update(
            f"{op.method} {op.template} ({logged.path}): {problem}"
            for problem in response_problems(github, op, logged)
        )
    assert not problems, "responses the description does not allow:\n" + "\n".join(sorted(problems))
    assert checked >= 150


def test_every_served_route_is_exercised(
    agentd_traffic: list[LoggedRequest], sweep_traffic: list[LoggedRequest]
) -> None:
    hit = {(r.method, r.route) for r in [*agentd_traffic, *sweep_traffic]}
    hit |= {(r.method, r.path) for r in [*agentd_traffic, *sweep_traffic]}
    served = [(r.method, r.name) for r in api.ROUTES] + UNROUTED
    missed = [f"{m} {t}" for m, t in served if (m, t) not in hit]
    assert not missed, "routes no traffic here reaches (add them to sweep_traffic):\n" + "\n".join(
        missed
    )


def test_agentd_uses_the_endpoints_this_file_claims(agentd_traffic: list[LoggedRequest]) -> None:
    unserved = sorted(
        {f"{r.method} {r.path}" for r in agentd_traffic if r.route == "?"}
        - {f"{m} {t}" for m, t in UNROUTED}
    )
    assert not unserved, f"agentd calls what the simulator does not serve: {unserved}"
    used = {f"{r.method} {r.route}" for r in agentd_traffic}
    for needed in (
        "GET /repos/{owner}/{repo}/dependabot/alerts",
        "GET /repos/{owner}/{repo}/code-scanning/alerts",
        "GET /repos/{owner}/{repo}/code-scanning/alerts/{number}",
        "GET /repos/{owner}/{repo}/secret-scanning/alerts",
        "GET /repos/{owner}/{repo}/secret-scanning/alerts/{number}",
        "GET /repos/{owner}/{repo}/secret-scanning/alerts/{number}/locations",
        "POST /repos/{owner}/{repo}/pulls",
        "PATCH /repos/{owner}/{repo}/pulls/{number}",
        "PUT /repos/{owner}/{repo}/pulls/{number}/merge",
        "GET /repos/{owner}/{repo}/pulls/{number}/files",
        "POST /repos/{owner}/{repo}/issues/{number}/comments",
        "POST /repos/{owner}/{repo}/issues/{number}/labels",
        "GET /repos/{owner}/{repo}/branches/{branch}/protection",
        "GET /repos/{owner}/{repo}/rules/branches/{branch}",
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
        "GET /repos/{owner}/{repo}/commits/{ref}/status",
        "GET /repos/{owner}/{repo}/git/ref/tags/{tag}",
        "GET /repos/{owner}/{repo}/git/tags/{sha}",
        "GET /user",
        "GET /users/{user}",
        "GET /orgs/{org}/code-security/configurations",
        "GET /orgs/{org}/code-security/configurations/{configuration_id}/repositories",
    ):
        assert needed in used, (needed, sorted(used))


def exchange(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
    status: int = 200,
    response: Any = None,
) -> LoggedRequest:
    return LoggedRequest(
        0, 0.0, method, path, "", query or {}, status, method != "GET",
        "" if body is None else json.dumps(body), {}, "",
        "" if response is None else json.dumps(response),
    )  # fmt: skip


def test_the_checks_are_not_vacuous(github: Description, ghes: Description) -> None:
    """Known-bad requests and bodies are refused, so a pass above means something."""
    assert github.operation("GET", "/repos/o/r/nope") is None
    assert github.operation("PUT", "/user") is None
    assert ghes.operation("GET", route_sample("/repos/{owner}/{repo}/pulls/{number}/files"))
    ref = github.operation("GET", "/repos/o/r/git/ref/tags/v1")
    assert ref is not None and ref.path_params["ref"] == "tags/v1"

    def bad_request(logged: LoggedRequest) -> list[str]:
        op = github.operation(logged.method, logged.path)
        assert op is not None
        return request_problems(github, op, logged)

    alerts = "/repos/o/r/dependabot/alerts"
    assert not bad_request(exchange("GET", alerts, query={"state": "open", "per_page": "100"}))
    assert bad_request(exchange("GET", alerts, query={"bogus": "1"}))
    assert bad_request(exchange("GET", alerts, query={"per_page": "many"}))
    assert bad_request(exchange("GET", "/repos/o/r/dependabot/alerts/first"))
    assert bad_request(exchange("POST", "/repos/o/r/pulls", body={"head": "x", "title": "t"}))
    merge = "/repos/o/r/pulls/1/merge"
    assert not bad_request(exchange("PUT", merge, body={"sha": "a" * 40, "merge_method": "squash"}))
    assert bad_request(exchange("PUT", merge, body={"merge_method": "fast-forward"}))
    assert bad_request(exchange("GET", "/user", body={"x": 1}))

    def bad_response(logged: LoggedRequest) -> list[str]:
        op = github.operation(logged.method, logged.path)
        assert op is not None
        return response_problems(github, op, logged)

    assert bad_response(exchange("GET", "/user", response={"login": "x"}))
    assert not bad_response(exchange("GET", "/user", status=304))
    assert bad_response(exchange("GET", "/user", status=304, response={"login": "x"}))
    assert bad_response(exchange("GET", "/user", status=418, response={"message": "teapot"}))
    assert not bad_response(exchange("GET", "/user", status=401, response={"message": "no"}))
    assert bad_response(exchange("GET", "/user", status=401, response={"message": 1}))
    assert bad_response(exchange("GET", "/repos/o/r/vulnerability-alerts", status=204, response={}))
    run = {"id": 1, "name": "ci", "status": "completed", "conclusion": None, "head_sha": "a"}
    assert bad_response(
        exchange(
            "GET",
            "/repos/o/r/commits/main/check-runs",
            response={"total_count": 1, "check_runs": [run]},
        )
    )
    stamp = {"login": "x", "id": 1, "created_at": "yesterday"}
    assert any("created_at" in p for p in bad_response(exchange("GET", "/user", response=stamp)))
