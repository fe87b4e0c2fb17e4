"""The REST endpoints, with GitHub's field names, status codes and error bodies."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from agentd.simulator import ci, gitdata, gitstore, orgviews, protection, shapes
from agentd.simulator.analysis import CodeFinding, DependencyFinding, SecretFinding
from agentd.simulator.http import HttpError, Request, Response, cursor_slice, page_slice
from agentd.simulator.scenario import CodeSecurityConfiguration
from agentd.simulator.world import Alert, Pull, RepoState, World

Handler = Callable[[World, Request, dict[str, str]], Response]
DOC_DEP = "/dependabot/alerts#list-dependabot-alerts-for-a-repository"
DOC_PULLS = "/pulls/pulls#create-a-pull-request"
DOC_MERGE = "/pulls/pulls#merge-a-pull-request"
DOC_SECRETS = "/secret-scanning/secret-scanning#list-secret-scanning-alerts-for-a-repository"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    regex = (
        "^"
        + re.sub(
            r"\{(\w+)\}",
            lambda m: (
                f"(?P<{m.group(1)}>{'.+' if m.group(1) in ('branch', 'name_path') else '[^/]+'})"
            ),
            template,
        )
        + "$"
    )

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, re.compile(regex), template, handler))
        return handler

    return register


def not_found(doc: str = "") -> HttpError:
    return HttpError(404, shapes.error("Not Found", doc, 404))


def repo_or_404(world: World, params: dict[str, str]) -> RepoState:
    state = world.repo(params["owner"], params["repo"])
    if state is None:
        raise not_found()
    return state


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, body, headers or {})


def body_dict(request: Request) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise HttpError(400, shapes.error("Problems parsing JSON", "", 400))
    return request.body


# --- identity, limits, repositories ------------------------------------------------------


@route("GET", "/user")
def get_user(world: World, request: Request, params: dict[str, str]) -> Response:
    return ok(
        shapes.private_user(world.api_url, world.scenario.viewer.login, world.scenario.viewer.id)
    )


@route("GET", "/users/{user}")
def get_account(world: World, request: Request, params: dict[str, str]) -> Response:
    """Any account by login: the scenario's owner (user or organisation) and its viewer."""
    login = params["user"].lower()
    owner, viewer = world.scenario.owner, world.scenario.viewer
    if login == owner.login.lower():
        kind = "Organization" if owner.type == "org" else "User"
        return ok(shapes.public_user(world.api_url, owner.login, 500, kind))
    if login == viewer.login.lower():
        return ok(shapes.public_user(world.api_url, viewer.login, viewer.id))
    raise not_found("/users/users#get-a-user")


def security_and_analysis(state: RepoState) -> dict[str, Any]:
    features = state.config.features
    code = "enabled" if features.code_scanning != "disabled" else "disabled"
    return {
        "advanced_security": {"status": code},
        "code_security": {"status": code},
        "secret_scanning": {"status": features.secret_scanning},
        "secret_scanning_push_protection": {"status": "disabled"},
        "dependabot_security_updates": {
            "status": "enabled" if features.dependabot_alerts == "enabled" else "disabled"
        },
    }


def _security_visible(world: World, state: RepoState) -> bool:
    """GitHub shows `security_and_analysis` to a repository admin, or to an owner or
    security manager of the organisation that owns the repository; to others it is absent."""
    org = world.scenario.owner.type == "org"
    return state.config.permissions.admin or (org and world.scenario.viewer.security_manager)


def full_repo_json(world: World, state: RepoState) -> dict[str, Any]:
    body = shapes.full_repo(
        world.api_url, world.owner_json(), state.name, state.rid, private=state.config.private,
        default_branch=state.config.default_branch, archived=state.config.archived,
        permissions=state.config.permissions.model_dump(), security=security_and_analysis(state),
        delete_branch_on_merge=state.config.delete_branch_on_merge, merge_methods=list(state.config.allowed_merge_methods),
        allow_auto_merge=state.config.allow_auto_merge, open_issues=open_issues(state),
    )  # fmt: skip
    if not _security_visible(world, state):
        del body["security_and_analysis"]
    return body


def open_issues(state: RepoState) -> int:
    """GitHub's `open_issues_count`: open issues and open pull requests together."""
    return state.config.open_issues + sum(1 for p in state.pulls.values() if p.state == "open")


# The merge settings are shown by `GET /repos/{owner}/{repo}` only, never in a listing.
_MERGE_SETTINGS = ("allow_rebase_merge", "allow_squash_merge", "allow_merge_commit", "allow_auto_merge")  # fmt: skip


def minimal_repo_json(world: World, state: RepoState) -> dict[str, Any]:
    """An item of an organisation's or a user's repository listing (`minimal-repository`)."""
    body = full_repo_json(world, state)
    for name in _MERGE_SETTINGS:
        del body[name]
    return body


def simple_repo_json(world: World, state: RepoState) -> dict[str, Any]:
    return shapes.simple_repo(
        world.api_url, world.owner_json(), state.name, state.rid, state.config.private
    )


@route("GET", "/repos/{owner}/{repo}")
def get_repo(world: World, request: Request, params: dict[str, str]) -> Response:
    return ok(full_repo_json(world, repo_or_404(world, params)))


@route("GET", "/orgs/{org}/repos")
def org_repos(world: World, request: Request, params: dict[str, str]) -> Response:
    if (
        world.scenario.owner.type != "org"
        or params["org"].lower() != world.scenario.owner.login.lower()
    ):
        raise not_found()
    chunk, headers = page_slice(
        request, [minimal_repo_json(world, s) for s in world.repos.values()]
    )
    return ok(chunk, headers=headers)


@route("GET", "/users/{user}/repos")
def user_repos(world: World, request: Request, params: dict[str, str]) -> Response:
    if params["user"].lower() != world.scenario.owner.login.lower():
        return ok([])
    chunk, headers = page_slice(
        request, [minimal_repo_json(world, s) for s in world.repos.values()]
    )
    return ok(chunk, headers=headers)


def _viewer_affiliation(world: World) -> str:
    """How the token's account reaches the scenario's repositories."""
    owner, viewer = world.scenario.owner, world.scenario.viewer
    if owner.type == "org":
        return "organization_member"
    return "owner" if owner.login.lower() == viewer.login.lower() else "collaborator"


@route("GET", "/user/repos")
def authenticated_user_repos(world: World, request: Request, params: dict[str, str]) -> Response:
    """The repositories the token's account may access, by `affiliation` (default all
    three); `type` together with `affiliation` or `visibility` is a 422, as on GitHub."""
    if request.param("type") and (request.param("affiliation") or request.param("visibility")):
        raise HttpError(422, shapes.error("Validation Failed", "/repos/repos#list-repositories-for-the-authenticated-user", 422, errors=[]))  # fmt: skip
    affiliation = _csv(request, "affiliation") or {"owner", "collaborator", "organization_member"}
    items = []
    if _viewer_affiliation(world) in affiliation:
        for state in world.repos.values():
            body = full_repo_json(world, state)
            body.pop("security_and_analysis", None)  # not part of this listing's `repository`
            items.append(body)
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/vulnerability-alerts")
def vulnerability_alerts(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    if state.config.features.dependabot_alerts != "enabled":
        raise not_found()
    return Response(204)


# --- Dependabot ---------------------------------------------------------------------------


def dependabot_json(
    world: World, state: RepoState, alert: Alert, with_repo: bool
) -> dict[str, Any]:
    finding: DependencyFinding = alert.finding
    full = world.full_name(state)
    vulnerability = {
        "package": {"ecosystem": finding.ecosystem, "name": finding.vulnerability.package},
        "severity": finding.advisory.severity,
        "vulnerable_version_range": finding.vulnerability.vulnerable_version_range,
        "first_patched_version": {"identifier": finding.vulnerability.first_patched_version}
        if finding.vulnerability.first_patched_version
        else None,
    }
    body = {
        "number": alert.number,
        "state": alert.state,
        "dependency": {
            "package": {"ecosystem": finding.ecosystem, "name": finding.package},
            "manifest_path": finding.manifest_path,
            "scope": finding.scope or "runtime",
            "relationship": finding.relationship
            if finding.relationship in ("direct", "transitive")
            else "unknown",
        },
        "security_advisory": finding.advisory.to_github_security_advisory(),
        "security_vulnerability": vulnerability,
        "url": f"{world.api_url}/repos/{full}/dependabot/alerts/{alert.number}",
        "html_url": f"{shapes.WEB}/{full}/security/dependabot/{alert.number}",
        "created_at": shapes.iso(alert.created_at),
        "updated_at": shapes.iso(alert.updated_at),
        "dismissed_at": shapes.iso(alert.dismissed_at) if alert.dismissed_at else None,
        "dismissed_by": world.viewer_json() if alert.dismissed_at else None,
        "dismissed_reason": alert.dismissed_reason,
        "dismissed_comment": alert.dismissed_comment,
        "fixed_at": shapes.iso(alert.fixed_at) if alert.fixed_at else None,
        "auto_dismissed_at": shapes.iso(alert.dismissed_at)
        if alert.state == "auto_dismissed" and alert.dismissed_at
        else None,
    }
    if with_repo:
        body["repository"] = simple_repo_json(world, state)
    return body


def _states(request: Request, default: str | None) -> set[str] | None:
    value = request.param("state", default)
    return {s.strip() for s in value.split(",")} if value else None


def _csv(request: Request, name: str) -> set[str]:
    return {v.strip() for v in (request.param(name) or "").split(",")} - {""}


def _dependabot_wanted(request: Request, alert: Alert) -> bool:
    if alert.withdrawn:
        return False  # removed from every listing
    finding: DependencyFinding = alert.finding
    wanted = {
        "state": alert.state,
        "ecosystem": finding.ecosystem,
        "package": finding.package,
        "manifest": finding.manifest_path,
        "severity": finding.advisory.severity,
    }
    for name, value in wanted.items():
        accepted = _csv(request, name)
        if accepted and value not in accepted:
            return False
    return True


def _sort_dependabot(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`sort` = created (default) | updated; `direction` = desc (default) | asc."""
    field = "updated_at" if request.param("sort") == "updated" else "created_at"
    return sorted(
        items,
        key=lambda item: (item[field], item["number"]),
        reverse=request.param("direction", "desc") != "asc",
    )


def _for_api_version(request: Request, alert_json: dict[str, Any]) -> dict[str, Any]:
    if request.api_version == "2026-03-10":  # that version removed `cvss` (cvss_severities stay)
        alert_json["security_advisory"].pop("cvss", None)
    return alert_json


def _dependabot_items(
    world: World, request: Request, state: RepoState, with_repo: bool
) -> list[dict[str, Any]]:
    world.refresh(state)
    items = [
        _for_api_version(request, dependabot_json(world, state, alert, with_repo))
        for alert in state.alerts["dependabot"].values()
        if _dependabot_wanted(request, alert)
    ]
    return _sort_dependabot(request, items)


def _dependabot_enabled(state: RepoState) -> None:
    if state.config.features.dependabot_alerts != "enabled":
        raise HttpError(
            403, shapes.error("Dependabot alerts are disabled for this repository.", DOC_DEP, 403)
        )


@route("GET", "/repos/{owner}/{repo}/dependabot/alerts")
def repo_dependabot(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _dependabot_enabled(state)
    chunk, headers = cursor_slice(request, _dependabot_items(world, request, state, False))
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/dependabot/alerts/{number}")
def repo_dependabot_one(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _dependabot_enabled(state)
    world.refresh(state)
    alert = next(
        (a for a in state.alerts["dependabot"].values() if str(a.number) == params["number"]), None
    )
    if alert is None:
        raise not_found()
    if alert.withdrawn:  # GitHub answers 410 Gone for a withdrawn alert (changelog 2026-10-13)
        raise HttpError(
            410,
            shapes.error(
                "The alert you requested has been withdrawn and is no longer available.",
                DOC_DEP,
                410,
            ),
        )
    return ok(_for_api_version(request, dependabot_json(world, state, alert, False)))


def _org_or_404(world: World, params: dict[str, str]) -> None:
    if (
        world.scenario.owner.type != "org"
        or params["org"].lower() != world.scenario.owner.login.lower()
    ):
        raise not_found()


def _dependabot_order(request: Request) -> Callable[[orgviews.Entry], tuple[str, int]]:
    """The key `_sort_dependabot` sorts rendered alerts by, read from the alert itself."""
    updated = request.param("sort") == "updated"
    return lambda entry: (
        shapes.iso(entry[1].updated_at if updated else entry[1].created_at),
        entry[1].number,
    )


@route("GET", "/orgs/{org}/dependabot/alerts")
def org_dependabot(world: World, request: Request, params: dict[str, str]) -> Response:
    _org_or_404(world, params)
    key, reverse = _dependabot_order(request), request.param("direction", "desc") != "asc"

    def build(repos: list[RepoState]) -> list[orgviews.Entry]:
        entries: list[orgviews.Entry] = []
        for state in repos:  # each repository sorted, then all of them (a stable sort twice)
            mine = [
                (state, a)
                for a in state.alerts["dependabot"].values()
                if _dependabot_wanted(request, a)
            ]
            entries += sorted(mine, key=key, reverse=reverse)
        return sorted(entries, key=key, reverse=reverse)

    entries, headers = cursor_slice(
        request, orgviews.view(world, "dependabot", request.query, build)
    )
    body = orgviews.render(
        entries,
        lambda state, alert: _for_api_version(request, dependabot_json(world, state, alert, True)),
    )
    return ok(body, headers=headers)


# --- code scanning --------------------------------------------------------------------------


def code_json(world: World, state: RepoState, alert: Alert, with_repo: bool) -> dict[str, Any]:
    finding: CodeFinding = alert.finding
    full = world.full_name(state)
    head = gitstore.branch_sha(state.path, state.config.default_branch) or ""
    security = alert.finding.rule_id == "actions/missing-workflow-permissions"
    body = {
        "number": alert.number,
        "created_at": shapes.iso(alert.created_at),
        "updated_at": shapes.iso(alert.updated_at),
        "url": f"{world.api_url}/repos/{full}/code-scanning/alerts/{alert.number}",
        "html_url": f"{shapes.WEB}/{full}/security/code-scanning/{alert.number}",
        "instances_url": f"{world.api_url}/repos/{full}/code-scanning/alerts/{alert.number}/instances",
        "state": alert.state,
        "fixed_at": shapes.iso(alert.fixed_at) if alert.fixed_at else None,
        "dismissed_by": None,
        "dismissed_at": shapes.iso(alert.dismissed_at) if alert.dismissed_at else None,
        "dismissed_reason": alert.dismissed_reason,
        "dismissed_comment": alert.dismissed_comment,
        "rule": {
            "id": finding.rule_id,
            "name": finding.rule_id.split("/")[-1],
            "severity": "warning",
            "security_severity_level": "medium" if security else "high",
            "description": "Workflow does not contain permissions"
            if security
            else "Unpinned tag for a non-immutable Action in workflow",
            "tags": [
                "actions",
                "security",
                "external/cwe/cwe-275" if security else "external/cwe/cwe-829",
            ],
        },
        "tool": {"name": "CodeQL", "version": "2.19.0", "guid": None},
        "most_recent_instance": {
            "ref": f"refs/heads/{state.config.default_branch}",
            "analysis_key": ".github/workflows/codeql.yml:analyze",
            "environment": "{}",
            "category": "/language:actions",
            "state": alert.state if alert.state in ("open", "dismissed", "fixed") else "open",
            "commit_sha": head,
            "message": {"text": finding.message},
            "location": {
                "path": finding.path,
                "start_line": finding.line,
                "end_line": finding.line,
                "start_column": 1,
                "end_column": 1,
            },
            "classifications": [],
        },
    }
    if with_repo:
        body["repository"] = simple_repo_json(world, state)
    return body


def _code_coverage(world: World, state: RepoState) -> None:
    mode = state.config.features.code_scanning
    if mode == "disabled":
        raise HttpError(
            403,
            shapes.error(
                state.config.code_scanning_disabled_message,
                "/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository",
                403,
            ),
        )
    if mode == "no_analysis":
        raise HttpError(
            404,
            shapes.error(
                "no analysis found",
                "/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository",
                404,
            ),
        )


def _code_items(
    world: World, request: Request, state: RepoState, with_repo: bool
) -> list[dict[str, Any]]:
    world.refresh(state)
    states = _states(request, None)
    alerts = sorted(state.alerts["code_scanning"].values(), key=lambda a: a.number, reverse=True)
    return [
        code_json(world, state, a, with_repo) for a in alerts if not states or a.state in states
    ]


@route("GET", "/repos/{owner}/{repo}/code-scanning/alerts")
def repo_code(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _code_coverage(world, state)
    chunk, headers = page_slice(request, _code_items(world, request, state, False))
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/code-scanning/alerts/{number}")
def repo_code_one(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _code_coverage(world, state)
    world.refresh(state)
    alert = next(
        (a for a in state.alerts["code_scanning"].values() if str(a.number) == params["number"]),
        None,
    )
    if alert is None:
        raise not_found()
    return ok(code_json(world, state, alert, False))


def _by_number_desc(
    kind: str, request: Request
) -> Callable[[list[RepoState]], list[orgviews.Entry]]:
    """Each repository's alerts newest first, repository after repository."""
    states = _states(request, None)

    def build(repos: list[RepoState]) -> list[orgviews.Entry]:
        entries: list[orgviews.Entry] = []
        for state in repos:
            alerts = sorted(state.alerts[kind].values(), key=lambda a: a.number, reverse=True)
            entries += [(state, a) for a in alerts if not states or a.state in states]
        return entries

    return build


@route("GET", "/orgs/{org}/code-scanning/alerts")
def org_code(world: World, request: Request, params: dict[str, str]) -> Response:
    _org_or_404(world, params)
    view = orgviews.view(
        world, "code_scanning", request.query, _by_number_desc("code_scanning", request)
    )
    entries, headers = page_slice(request, view)
    body = orgviews.render(entries, lambda state, alert: code_json(world, state, alert, True))
    return ok(body, headers=headers)


# --- secret scanning -----------------------------------------------------------------------


def secret_json(
    world: World, state: RepoState, alert: Alert, with_repo: bool, hide: bool
) -> dict[str, Any]:
    finding: SecretFinding = alert.finding
    full = world.full_name(state)
    first = finding.locations[0] if finding.locations else None
    body: dict[str, Any] = {
        "number": alert.number,
        "created_at": shapes.iso(alert.created_at),
        "updated_at": shapes.iso(alert.updated_at),
        "url": f"{world.api_url}/repos/{full}/secret-scanning/alerts/{alert.number}",
        "html_url": f"{shapes.WEB}/{full}/security/secret-scanning/{alert.number}",
        "locations_url": f"{world.api_url}/repos/{full}/secret-scanning/alerts/{alert.number}/locations",
        "state": alert.state,
        "resolution": alert.resolution,
        "resolved_at": shapes.iso(alert.updated_at) if alert.resolution else None,
        "resolved_by": None,
        "resolution_comment": None,
        "secret_type": finding.secret_type,
        "secret_type_display_name": finding.display_name,
        "provider": finding.provider,
        "provider_slug": finding.provider.lower(),
        "push_protection_bypassed": False,
        "push_protection_bypassed_by": None,
        "push_protection_bypassed_at": None,
        "validity": alert.validity,
        "publicly_leaked": False,
        "multi_repo": False,
        "is_base64_encoded": False,
        "first_location_detected": _location_details(world, state, first) if first else None,
        "has_more_locations": len(finding.locations) > 1,
    }
    if not hide:
        body["secret"] = finding.value
    if with_repo:
        body["repository"] = simple_repo_json(world, state)
    return body


def _location_details(world: World, state: RepoState, location: Any) -> dict[str, Any]:
    full = world.full_name(state)
    return {
        "path": location.path,
        "start_line": location.line,
        "end_line": location.line,
        "start_column": location.start_column,
        "end_column": location.end_column,
        "blob_sha": location.blob,
        "blob_url": f"{world.api_url}/repos/{full}/git/blobs/{location.blob}",
        "commit_sha": location.commit,
        "commit_url": f"{world.api_url}/repos/{full}/git/commits/{location.commit}",
    }


def _secret_readable(world: World, state: RepoState) -> None:
    """Secret-scanning alerts are shown to a repository admin or a security manager only;
    GitHub answers anyone else as if there were nothing there."""
    if not (state.config.permissions.admin or world.scenario.viewer.security_manager):
        raise not_found(DOC_SECRETS)


def _secret_enabled(state: RepoState) -> None:
    if state.config.features.secret_scanning != "enabled":
        raise HttpError(
            404,
            shapes.error(
                "Secret scanning is disabled on this repository.",
                "/secret-scanning/secret-scanning#list-secret-scanning-alerts-for-a-repository",
                404,
            ),
        )


def _secret_items(
    world: World, request: Request, state: RepoState, with_repo: bool
) -> list[dict[str, Any]]:
    world.refresh(state)
    states = _states(request, None)
    hide = request.param("hide_secret") == "true"
    alerts = sorted(state.alerts["secret_scanning"].values(), key=lambda a: a.number, reverse=True)
    return [
        secret_json(world, state, a, with_repo, hide)
        for a in alerts
        if not states or a.state in states
    ]


@route("GET", "/repos/{owner}/{repo}/secret-scanning/alerts")
def repo_secrets(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _secret_readable(world, state)
    _secret_enabled(state)
    chunk, headers = page_slice(request, _secret_items(world, request, state, False))
    return ok(chunk, headers=headers)


def _secret_alert(world: World, state: RepoState, number: str) -> Alert:
    world.refresh(state)
    alert = next(
        (a for a in state.alerts["secret_scanning"].values() if str(a.number) == number), None
    )
    if alert is None:
        raise not_found()
    return alert


@route("GET", "/repos/{owner}/{repo}/secret-scanning/alerts/{number}")
def repo_secret_one(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _secret_readable(world, state)
    _secret_enabled(state)
    alert = _secret_alert(world, state, params["number"])
    return ok(secret_json(world, state, alert, False, request.param("hide_secret") == "true"))


@route("GET", "/repos/{owner}/{repo}/secret-scanning/alerts/{number}/locations")
def repo_secret_locations(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    _secret_readable(world, state)
    _secret_enabled(state)
    alert = _secret_alert(world, state, params["number"])
    items = [
        {"type": "commit", "details": _location_details(world, state, loc)}
        for loc in alert.finding.locations
    ]
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/orgs/{org}/secret-scanning/alerts")
def org_secrets(world: World, request: Request, params: dict[str, str]) -> Response:
    _org_or_404(world, params)
    if not world.scenario.viewer.security_manager:  # organisation owners or security managers
        raise not_found(
            "/secret-scanning/secret-scanning#list-secret-scanning-alerts-for-an-organization"
        )
    view = orgviews.view(
        world, "secret_scanning", request.query, _by_number_desc("secret_scanning", request)
    )
    entries, headers = page_slice(request, view)
    hide = request.param("hide_secret") == "true"
    body = orgviews.render(
        entries, lambda state, alert: secret_json(world, state, alert, True, hide)
    )
    return ok(body, headers=headers)


# --- code security configurations -----------------------------------------------------------

DOC_CONFIGURATIONS = "/code-security/configurations"
# GitHub's answer to an organisation member who is neither an owner nor a security manager
# (the endpoints document only "403 Forbidden"; this is its usual role refusal).
NOT_SECURITY_MANAGER = "Must have admin rights to Repository."


def _security_manager_or_403(world: World, params: dict[str, str], doc: str) -> None:
    _org_or_404(world, params)
    if not world.scenario.viewer.security_manager:  # organisation owners or security managers
        raise HttpError(403, shapes.error(NOT_SECURITY_MANAGER, f"{DOC_CONFIGURATIONS}{doc}", 403))


def configuration_json(world: World, configuration: CodeSecurityConfiguration) -> dict[str, Any]:
    org = world.scenario.owner.login
    url = f"{world.api_url}/orgs/{org}/code-security/configurations/{configuration.id}"
    stamp = shapes.iso(0)
    return {
        "id": configuration.id, "name": configuration.name, "target_type": configuration.target_type,
        "description": configuration.description, "advanced_security": "enabled",
        "dependency_graph": "enabled", "dependency_graph_autosubmit_action": "not_set",
        "dependency_graph_autosubmit_action_options": {"labeled_runners": False},
        "dependabot_alerts": "enabled", "dependabot_security_updates": "not_set",
        "code_scanning_default_setup": configuration.code_scanning_default_setup,
        "code_scanning_default_setup_options": {"runner_type": "not_set", "runner_label": None},
        "code_scanning_delegated_alert_dismissal": "not_set", "secret_scanning": "enabled",
        "secret_scanning_push_protection": "enabled", "secret_scanning_delegated_bypass": "disabled",
        "secret_scanning_validity_checks": "disabled", "secret_scanning_non_provider_patterns": "disabled",
        "secret_scanning_generic_secrets": "disabled", "private_vulnerability_reporting": "enabled",
        "enforcement": configuration.enforcement, "url": url,
        "html_url": f"{shapes.WEB}/organizations/{org}/settings/security_products/configurations/edit/{configuration.id}",
        "created_at": stamp, "updated_at": stamp,
    }  # fmt: skip


@route("GET", "/orgs/{org}/code-security/configurations")
def org_configurations(world: World, request: Request, params: dict[str, str]) -> Response:
    """The organisation's configurations (`target_type`: `global` for GitHub's only, else all),
    cursor-paginated (`before`/`after`, 30 per page by default, 100 at most)."""
    doc = "#get-code-security-configurations-for-an-organization"
    _security_manager_or_403(world, params, doc)
    global_only = request.param("target_type") == "global"
    items = [
        configuration_json(world, c)
        for c in world.scenario.code_security_configurations
        if not global_only or c.target_type == "global"
    ]
    chunk, headers = cursor_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/orgs/{org}/code-security/configurations/{configuration_id}/repositories")
def configuration_repositories(world: World, request: Request, params: dict[str, str]) -> Response:
    """The repositories a configuration is attached to, with their attachment status,
    filtered by `status` (a comma list; `all` by default), cursor-paginated."""
    doc = "#get-repositories-associated-with-a-code-security-configuration"
    _security_manager_or_403(world, params, doc)
    configuration = next(
        (
            c
            for c in world.scenario.code_security_configurations
            if str(c.id) == params["configuration_id"]
        ),
        None,
    )
    if configuration is None:
        raise not_found(f"{DOC_CONFIGURATIONS}{doc}")
    wanted = _csv(request, "status") or {"all"}
    items = [
        {"status": status, "repository": simple_repo_json(world, world.repos[name])}
        for name, status in configuration.repositories.items()
        if "all" in wanted or status in wanted
    ]
    chunk, headers = cursor_slice(request, items)
    return ok(chunk, headers=headers)


# --- pull requests ----------------------------------------------------------------------------


def _branch_ref(world: World, state: RepoState, branch: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{world.scenario.owner.login}:{branch}",
        "ref": branch,
        "sha": sha,
        "user": world.owner_json(),
        "repo": full_repo_json(world, state),
    }


def _labels_json(world: World, state: RepoState, names: list[str]) -> list[dict[str, Any]]:
    full = world.full_name(state)
    return [
        shapes.label(world.api_url, full, name, state.labels.setdefault(name, world.new_id()))
        for name in names
    ]


def pull_json(world: World, state: RepoState, pull: Pull, detailed: bool) -> dict[str, Any]:
    full = world.full_name(state)
    base_url = f"{world.api_url}/repos/{full}"
    head_sha = world.head_sha(state, pull) or "0" * 40
    base_sha = gitstore.branch_sha(state.path, pull.base) or "0" * 40
    body: dict[str, Any] = {
        "url": f"{base_url}/pulls/{pull.number}",
        "id": state.rid * 10000 + pull.number,
        "node_id": shapes.node_id("pr", f"{state.rid}:{pull.number}"),
        "html_url": f"{shapes.WEB}/{full}/pull/{pull.number}",
        "diff_url": f"{shapes.WEB}/{full}/pull/{pull.number}.diff",
        "patch_url": f"{shapes.WEB}/{full}/pull/{pull.number}.patch",
        "issue_url": f"{base_url}/issues/{pull.number}",
        "commits_url": f"{base_url}/pulls/{pull.number}/commits",
        "review_comments_url": f"{base_url}/pulls/{pull.number}/comments",
        "review_comment_url": f"{base_url}/pulls/comments{{/number}}",
        "comments_url": f"{base_url}/issues/{pull.number}/comments",
        "statuses_url": f"{base_url}/statuses/{head_sha}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": world.actor_json(pull.author),
        "body": pull.body,
        "labels": _labels_json(world, state, pull.labels),
        "milestone": None,
        "active_lock_reason": None,
        "created_at": shapes.iso(pull.created_at),
        "updated_at": shapes.iso(pull.updated_at or pull.created_at),
        "closed_at": shapes.iso(pull.closed_at) if pull.closed_at else None,
        "merged_at": shapes.iso(pull.merged_at) if pull.merged_at else None,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch_ref(world, state, pull.head, head_sha),
        "base": _branch_ref(world, state, pull.base, base_sha),
        "_links": {
            "self": {"href": f"{base_url}/pulls/{pull.number}"},
            "html": {"href": f"{shapes.WEB}/{full}/pull/{pull.number}"},
            "issue": {"href": f"{base_url}/issues/{pull.number}"},
            "comments": {"href": f"{base_url}/issues/{pull.number}/comments"},
            "review_comments": {"href": f"{base_url}/pulls/{pull.number}/comments"},
            "review_comment": {"href": f"{base_url}/pulls/comments{{/number}}"},
            "commits": {"href": f"{base_url}/pulls/{pull.number}/commits"},
            "statuses": {"href": f"{base_url}/statuses/{head_sha}"},
        },
        "author_association": "CONTRIBUTOR" if pull.author[2] == "Bot" else "MEMBER",
        "auto_merge": _auto_merge_json(world, pull),
        "draft": pull.draft,
    }
    if detailed:
        merged = pull.merged_at is not None
        mergeable = None if pull.state != "open" else not world.conflicts(state, pull)
        pull.detail_reads += 1
        if pull.detail_reads <= state.config.mergeable_unknown_reads:
            mergeable = None  # GitHub has not computed it yet
        files = (
            gitstore.diff_files(
                state.path,
                gitstore.merge_base(state.path, base_sha, head_sha) or base_sha,
                head_sha,
            )
            if pull.state == "open"
            else []
        )
        body.update(
            {
                "merged": merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": _mergeable_state(world, state, pull, head_sha, mergeable),
                "merged_by": world.viewer_json() if merged else None,
                "comments": sum(1 for c in state.comments if c.issue == pull.number),
                "review_comments": 0,
                "maintainer_can_modify": pull.maintainer_can_modify,
                "commits": max(1, len(gitstore.rev_list(state.path, f"{base_sha}..{head_sha}")))
                if pull.state == "open"
                else 1,
                "additions": sum(f[2] for f in files),
                "deletions": sum(f[3] for f in files),
                "changed_files": len(files),
            }
        )
    return body


def _auto_merge_json(world: World, pull: Pull) -> dict[str, Any] | None:
    request = pull.auto_merge
    if request is None:
        return None
    return {
        "enabled_by": world.actor_json(request.enabled_by),
        "merge_method": request.method,
        "commit_title": "",
        "commit_message": "",
    }


def _mergeable_state(
    world: World, state: RepoState, pull: Pull, head: str, mergeable: bool | None
) -> str:
    """GitHub's `mergeable_state`, for anyone: `blocked` while any requirement is unmet
    (even for a token that could bypass it), `unstable` with a failing or pending check
    nothing requires, `clean` otherwise."""
    if mergeable is None:
        return "unknown"
    if not mergeable:
        return "dirty"
    method = protection.queue_method(state, pull.base) or state.config.allowed_merge_methods[0]
    needs = protection.requirements(world, state, pull, head, method, rest=False)
    if needs.message() is not None:
        return "blocked"
    outcomes = [o for _, o in world.checks_for(state, head, count_poll=False)]
    return "unstable" if any(o != "success" for o in outcomes) else "clean"


def pull_or_404(state: RepoState, number: str) -> Pull:
    pull = state.pulls.get(int(number)) if number.isdigit() else None
    if pull is None:
        raise not_found("/pulls/pulls#get-a-pull-request")
    return pull


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    wanted = request.param("state", "open")
    head = request.param("head")
    base = request.param("base")
    pulls = list(state.pulls.values())
    if wanted != "all":
        pulls = [p for p in pulls if p.state == wanted]
    if head and ":" in head:  # like GitHub, a head without "owner:" is silently ignored
        owner, _, branch = head.partition(":")
        pulls = [
            p
            for p in pulls
            if owner.lower() == world.scenario.owner.login.lower() and p.head == branch
        ]
    if base:
        pulls = [p for p in pulls if p.base == base]
    pulls.sort(key=lambda p: p.number, reverse=request.param("direction", "desc") == "desc")
    chunk, headers = page_slice(request, [pull_json(world, state, p, False) for p in pulls])
    return ok(chunk, headers=headers)


def _validation(
    message: str, doc: str = DOC_PULLS, field: str | None = None, code: str = "custom"
) -> HttpError:
    error: dict[str, Any] = {"resource": "PullRequest", "code": code, "message": message}
    if field:
        error["field"] = field
    return HttpError(
        422,
        {
            "message": "Validation Failed",
            "errors": [error],
            "documentation_url": f"{shapes.DOCS}{doc}",
            "status": "422",
        },
    )


MAX_BODY = 65536  # GitHub refuses longer PR and issue bodies


def _check_body(data: dict[str, Any]) -> None:
    if len(str(data.get("body") or "")) > MAX_BODY:
        raise _validation(f"body is too long (maximum is {MAX_BODY} characters)", field="body")


def create_pull_checked(world: World, state: RepoState, data: dict[str, Any]) -> Pull:
    _check_body(data)
    head, base = str(data.get("head", "")), str(data.get("base", ""))
    branch = head.split(":", 1)[1] if ":" in head else head
    if not data.get("title") or not branch or not base:
        raise _validation("title, head and base are required", code="missing_field")
    if gitstore.branch_sha(state.path, base) is None:
        raise _validation(f"base does not exist: {base}", field="base", code="invalid")
    head_sha = gitstore.branch_sha(state.path, branch)
    if head_sha is None:
        raise _validation(f"head does not exist: {branch}", field="head", code="invalid")
    if world.open_pull_for(state, branch) is not None:
        raise _validation(
            f"A pull request already exists for {world.scenario.owner.login}:{branch}."
        )
    base_sha = gitstore.branch_sha(state.path, base) or ""
    if not gitstore.rev_list(state.path, f"{base_sha}..{head_sha}"):
        raise _validation(f"No commits between {base} and {branch}")
    return world.create_pull(
        state,
        branch,
        base,
        str(data["title"]),
        str(data.get("body") or ""),
        world.viewer_actor,
        bool(data.get("draft")),
    )


@route("POST", "/repos/{owner}/{repo}/pulls")
def create_pull(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    with world.lock:
        pull = create_pull_checked(world, state, body_dict(request))
    return ok(pull_json(world, state, pull, True), 201)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    return ok(pull_json(world, state, pull_or_404(state, params["number"]), True))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}")
def update_pull(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    data = body_dict(request)
    _check_body(data)
    with world.lock:
        if "title" in data:
            pull.title = str(data["title"])
        if "body" in data:
            pull.body = str(data["body"] or "")
        if "base" in data:
            pull.base = str(data["base"])
        if data.get("state") in ("open", "closed") and pull.merged_at is None:
            pull.state = str(data["state"])
            pull.closed_at = time.time() if pull.state == "closed" else None
            pull.frozen_head_sha = world.head_sha(state, pull) if pull.state == "closed" else None
        pull.updated_at = time.time()
    return ok(pull_json(world, state, pull, True))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def pull_files(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    head = world.head_sha(state, pull) or ""
    base = gitstore.branch_sha(state.path, pull.base) or ""
    since = gitstore.merge_base(state.path, base, head) or base
    full = world.full_name(state)
    items = []
    for code, path, added, removed, previous in gitstore.diff_files(state.path, since, head):
        status = {"A": "added", "D": "removed", "R": "renamed", "C": "copied"}.get(code, "modified")
        item = {
            "sha": head, "filename": path, "status": status, "additions": added, "deletions": removed,
            "changes": added + removed, "blob_url": f"{shapes.WEB}/{full}/blob/{head}/{path}",
            "raw_url": f"{shapes.WEB}/{full}/raw/{head}/{path}",
            "contents_url": f"{world.api_url}/repos/{full}/contents/{path}?ref={head}",
        }  # fmt: skip
        if previous:
            item["previous_filename"] = previous
        items.append(item)
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def pull_reviews(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    with world.lock:
        protection.dismiss_stale(state, pull, world.head_sha(state, pull) or "")
        items = [protection.review_json(world, state, pull, r) for r in pull.reviews]
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")
def pull_commits(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    head = world.head_sha(state, pull) or ""
    base = gitstore.branch_sha(state.path, pull.base) or ""
    since = gitstore.merge_base(state.path, base, head) or base
    shas = gitstore.rev_list(state.path, f"{since}..{head}", reverse=True)[:250]
    chunk, headers = page_slice(request, [commit_json(world, state, sha) for sha in shas])
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge")
def pull_merged(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    if pull_or_404(state, params["number"]).merged_at is None:
        raise not_found()
    return Response(204)


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
def merge_pull(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    data = request.body if isinstance(request.body, dict) else {}
    with world.lock:
        if pull.state != "open":
            raise HttpError(405, shapes.error("Pull Request is not mergeable", DOC_MERGE, 405))
        head = world.head_sha(state, pull)
        if data.get("sha") and data["sha"] != head:
            raise HttpError(
                409,
                shapes.error(
                    "Head branch was modified. Review and try the merge again.", DOC_MERGE, 409
                ),
            )
        method = str(data.get("merge_method") or "merge")
        if method not in state.config.allowed_merge_methods:
            noun = {
                "merge": "Merge commits",
                "squash": "Squash merges",
                "rebase": "Rebase merges",
            }.get(method, method)
            raise HttpError(
                405, shapes.error(f"{noun} are not allowed on this repository.", DOC_MERGE, 405)
            )
        needs = protection.requirements(world, state, pull, head or "", method, rest=True)
        refusal = needs.message()
        if refusal is not None:
            raise HttpError(405, shapes.error(refusal, DOC_MERGE, 405))
        merged = world.merge(
            state, pull, method, data.get("commit_title"), data.get("commit_message"), head
        )
        if merged is None:
            raise HttpError(405, shapes.error("Pull Request is not mergeable", DOC_MERGE, 405))
    return ok({"sha": merged, "merged": True, "message": "Pull Request successfully merged"})


# --- comments and labels ------------------------------------------------------------------------


def comment_json(world: World, state: RepoState, comment: Any) -> dict[str, Any]:
    full = world.full_name(state)
    return {
        "id": comment.id, "node_id": shapes.node_id("comment", comment.id),
        "url": f"{world.api_url}/repos/{full}/issues/comments/{comment.id}",
        "html_url": f"{shapes.WEB}/{full}/pull/{comment.issue}#issuecomment-{comment.id}",
        "body": comment.body, "user": world.actor_json(comment.author),
        "created_at": shapes.iso(comment.created_at), "updated_at": shapes.iso(comment.updated_at),
        "issue_url": f"{world.api_url}/repos/{full}/issues/{comment.issue}", "author_association": "MEMBER",
    }  # fmt: skip


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_comments(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull_or_404(state, params["number"])
    items = [
        comment_json(world, state, c) for c in state.comments if str(c.issue) == params["number"]
    ]
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def create_comment(world: World, request: Request, params: dict[str, str]) -> Response:
    from agentd.simulator.world import Comment  # noqa: PLC0415

    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    text = body_dict(request).get("body")
    if not isinstance(text, str) or not text:
        raise _validation("body is required", code="missing_field")
    now = time.time()
    comment = Comment(world.new_id(), pull.number, text, world.viewer_actor, now, now)
    with world.lock:
        state.comments.append(comment)
    return ok(comment_json(world, state, comment), 201)


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_comment(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    comment = next((c for c in state.comments if str(c.id) == params["comment_id"]), None)
    if comment is None:
        raise not_found()
    comment.body = str(body_dict(request).get("body", comment.body))
    comment.updated_at = time.time()
    return ok(comment_json(world, state, comment))


@route("GET", "/repos/{owner}/{repo}/issues/{number}/labels")
def list_labels(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    chunk, headers = page_slice(request, _labels_json(world, state, pull.labels))
    return ok(chunk, headers=headers)


def _label_names(request: Request) -> list[str]:
    data = request.body
    names = data.get("labels") if isinstance(data, dict) else data
    if not isinstance(names, list) or not all(isinstance(n, str | dict) for n in names):
        raise _validation("labels must be a list", code="invalid")
    return [n if isinstance(n, str) else str(n.get("name", "")) for n in names]


@route("POST", "/repos/{owner}/{repo}/issues/{number}/labels")
def add_labels(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    with world.lock:
        for name in _label_names(request):
            if name and name not in pull.labels:
                pull.labels.append(name)
    return ok(_labels_json(world, state, pull.labels))


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels")
def set_labels(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    with world.lock:
        pull.labels = [n for n in dict.fromkeys(_label_names(request)) if n]
    return ok(_labels_json(world, state, pull.labels))


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}")
def remove_label(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    pull = pull_or_404(state, params["number"])
    name = unquote(params["name"])
    if name not in pull.labels:
        raise HttpError(404, shapes.error("Label does not exist", "/issues/labels", 404))
    pull.labels.remove(name)
    return ok(_labels_json(world, state, pull.labels))


@route("GET", "/repos/{owner}/{repo}/labels")
def repo_labels(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    chunk, headers = page_slice(request, _labels_json(world, state, sorted(state.labels)))
    return ok(chunk, headers=headers)


# --- branches, protection, rules, checks --------------------------------------------------------


def branch_json(world: World, state: RepoState, branch: str, sha: str) -> dict[str, Any]:
    full = world.full_name(state)
    classic = protection.classic(state, branch)
    body: dict[str, Any] = {
        "name": branch,
        "commit": commit_json(world, state, sha),
        "_links": {
            "self": f"{world.api_url}/repos/{full}/branches/{branch}",
            "html": f"{shapes.WEB}/{full}/tree/{branch}",
        },
        "protected": classic is not None,
        "protection": protection.summary_json(state, branch),
        "protection_url": f"{world.api_url}/repos/{full}/branches/{branch}/protection",
    }
    return body


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    full = world.full_name(state)
    items = [
        {
            "name": name,
            "commit": {"sha": sha, "url": f"{world.api_url}/repos/{full}/commits/{sha}"},
            "protected": bool(state.config.protection and name == state.config.default_branch),
        }
        for name, sha in sorted(gitstore.refs(state.path).items())
    ]
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


@route("GET", "/repos/{owner}/{repo}/branches/{branch}/protection")
def branch_protection(world: World, request: Request, params: dict[str, str]) -> Response:
    """Classic protection in full: readable by an admin only (others get GitHub's 404)."""
    state = repo_or_404(world, params)
    branch = unquote(params["branch"])
    classic = protection.classic(state, branch)
    doc = protection.DOC_PROTECTION
    if classic is not None and not classic.readable:
        message = "Resource not accessible by personal access token"
        raise HttpError(403, shapes.error(message, doc, 403))
    if not state.config.permissions.admin:
        raise not_found(doc)
    if gitstore.branch_sha(state.path, branch) is None:
        raise HttpError(404, shapes.error("Branch not found", doc, 404))
    if classic is None:
        raise HttpError(404, shapes.error("Branch not protected", doc, 404))
    return ok(protection.protection_json(world, state, branch, classic))


@route("GET", "/repos/{owner}/{repo}/branches/{branch}")
def get_branch(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    branch = unquote(params["branch"])
    sha = gitstore.branch_sha(state.path, branch)
    if sha is None:
        raise HttpError(
            404, shapes.error("Branch not found", "/branches/branches#get-a-branch", 404)
        )
    return ok(branch_json(world, state, branch, sha))


@route("GET", "/repos/{owner}/{repo}/rules/branches/{branch}")
def branch_rules(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    items = protection.rules_json(world, state, unquote(params["branch"]))
    chunk, headers = page_slice(request, items)
    return ok(chunk, headers=headers)


def _resolve_ref(state: RepoState, ref: str) -> str:
    sha = gitstore.resolve(state.path, unquote(ref))
    if sha is None:
        raise HttpError(
            422,
            shapes.error(
                f"No commit found for SHA: {ref}",
                "/checks/runs#list-check-runs-for-a-git-reference",
                422,
            ),
        )
    return sha


APP = {
    "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=", "client_id": "Iv1.05c79e9ad1f6bdfa",
    "owner": None, "name": "GitHub Actions", "description": "Automate your workflow", "external_url": "https://help.github.com/en/actions",
    "html_url": "https://github.com/apps/github-actions", "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
    "permissions": {"checks": "write"}, "events": ["check_run"],
}  # fmt: skip


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def check_runs(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    sha = _resolve_ref(state, params["ref"])
    full = world.full_name(state)
    created = shapes.iso(state.check_created.get(sha))
    checks = world.checks_for(state, sha, count_poll=True)
    timings = {run.check.name: run for run in ci.runs(state, sha)}  # read after: never behind
    runs = []
    for index, (check, outcome) in enumerate(checks, 1):
        if check.kind != "check_run":
            continue
        done = outcome not in ("pending", "queued")
        status = "completed" if done else "in_progress" if outcome == "pending" else "queued"
        started: str | None = created
        completed = shapes.iso() if done else None
        timing = timings.get(check.name)
        if timing is not None:  # the repository's CI: when its runner took it and finished
            started = shapes.iso(timing.started_at) if timing.started_at else None
            completed = shapes.iso(timing.completed_at or None) if done else None
        run_id = abs(hash((state.rid, sha, check.name))) % 10**9 + index
        runs.append(
            {
                "id": run_id, "head_sha": sha, "node_id": shapes.node_id("run", run_id), "external_id": "",
                "url": f"{world.api_url}/repos/{full}/check-runs/{run_id}", "html_url": f"{shapes.WEB}/{full}/runs/{run_id}",
                "details_url": f"{shapes.WEB}/{full}/actions/runs/{run_id}", "status": status,
                "conclusion": outcome if done else None, "started_at": started, "completed_at": completed,
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0, "annotations_url": f"{world.api_url}/repos/{full}/check-runs/{run_id}/annotations"},
                "name": check.name, "check_suite": {"id": run_id}, "app": {**APP, "owner": shapes.user(world.api_url, "github", 9919, "Organization")}, "pull_requests": [],
            }
        )  # fmt: skip
    chunk, headers = page_slice(request, runs)
    return ok({"total_count": len(runs), "check_runs": chunk}, headers=headers)


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/status")
def combined_status(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    sha = _resolve_ref(state, params["ref"])
    full = world.full_name(state)
    statuses = []
    for index, (check, outcome) in enumerate(world.checks_for(state, sha, count_poll=True), 1):
        if check.kind != "status":
            continue
        sid = abs(hash((state.rid, sha, check.name, "status"))) % 10**9 + index
        statuses.append(
            {
                "url": f"{world.api_url}/repos/{full}/statuses/{sha}", "avatar_url": None, "id": sid,
                "node_id": shapes.node_id("status", sid), "state": outcome, "description": f"{check.name} {outcome}",
                "target_url": None, "context": check.name, "created_at": shapes.iso(), "updated_at": shapes.iso(),
                "creator": world.viewer_json(),
            }
        )  # fmt: skip
    states = {s["state"] for s in statuses}
    combined = (
        "failure"
        if "failure" in states
        else "pending"
        if (not statuses or "pending" in states)
        else "success"
    )
    # Like GitHub: `state` covers every context, `statuses` is one page (30 by default).
    per_page = min(max(int(request.query.get("per_page") or 30), 1), 100)
    page = max(int(request.query.get("page") or 1), 1)
    shown = statuses[(page - 1) * per_page : page * per_page]
    return ok(
        {
            "state": combined, "statuses": shown, "sha": sha, "total_count": len(statuses),
            "repository": simple_repo_json(world, state), "commit_url": f"{world.api_url}/repos/{full}/commits/{sha}",
            "url": f"{world.api_url}/repos/{full}/commits/{sha}/status",
        }
    )  # fmt: skip


# --- git data (commits, tags) -----------------------------------------------------------------


def _git_repo(world: World, params: dict[str, str]) -> tuple[Any, str]:
    full = f"{params['owner']}/{params['repo']}"
    if full in world.action_repos:
        return world.action_repos[full], full
    state = repo_or_404(world, params)
    return state.path, world.full_name(state)


def git_commit_json(world: World, full: str, info: dict[str, Any]) -> dict[str, Any]:
    person = {"name": info["author"], "email": info["email"], "date": shapes.iso(info["time"])}
    sha = info["sha"]
    return {
        "sha": sha, "node_id": shapes.node_id("commit", sha), "url": f"{world.api_url}/repos/{full}/git/commits/{sha}",
        "html_url": f"{shapes.WEB}/{full}/commit/{sha}", "author": person, "committer": person, "message": info["message"],
        "tree": {"sha": info["tree"], "url": f"{world.api_url}/repos/{full}/git/trees/{info['tree']}"},
        "parents": [{"sha": p, "url": f"{world.api_url}/repos/{full}/git/commits/{p}", "html_url": f"{shapes.WEB}/{full}/commit/{p}"} for p in info["parents"]],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None},
    }  # fmt: skip


def commit_json(world: World, state: RepoState, sha: str) -> dict[str, Any]:
    full = world.full_name(state)
    info = gitstore.commit_info(state.path, sha) or {
        "sha": sha,
        "tree": sha,
        "parents": [],
        "author": "GitHub",
        "email": "noreply@github.com",
        "time": 0,
        "message": "",
    }
    git = git_commit_json(world, full, info)
    if state.config.verified_commits or sha in state.signed:  # registered key, or GitHub
        git["verification"] = {
            "verified": True, "reason": "valid", "signature": "-----BEGIN PGP SIGNATURE-----\n...",
            "payload": f"tree {info['tree']}", "verified_at": shapes.iso(float(str(info["time"]))),
        }  # fmt: skip
    return {
        "url": f"{world.api_url}/repos/{full}/commits/{sha}", "sha": sha, "node_id": git["node_id"],
        "html_url": git["html_url"], "comments_url": f"{world.api_url}/repos/{full}/commits/{sha}/comments",
        "commit": {
            "url": git["url"], "author": git["author"], "committer": git["committer"], "message": git["message"],
            "comment_count": 0, "tree": git["tree"], "verification": git["verification"],
        },
        "author": None, "committer": None,
        "parents": [{"sha": p["sha"], "url": f"{world.api_url}/repos/{full}/commits/{p['sha']}", "html_url": p["html_url"]} for p in git["parents"]],
    }  # fmt: skip


@route("GET", "/repos/{owner}/{repo}/git/ref/tags/{tag}")
def git_tag_ref(world: World, request: Request, params: dict[str, str]) -> Response:
    path, full = _git_repo(world, params)
    found = gitstore.tag_ref(path, unquote(params["tag"]))
    if found is None:
        raise not_found("/git/refs#get-a-reference")
    kind, sha = found
    return ok(
        {
            "ref": f"refs/tags/{params['tag']}", "node_id": shapes.node_id("ref", sha),
            "url": f"{world.api_url}/repos/{full}/git/refs/tags/{params['tag']}",
            "object": {"type": kind, "sha": sha, "url": f"{world.api_url}/repos/{full}/git/{'tags' if kind == 'tag' else 'commits'}/{sha}"},
        }
    )  # fmt: skip


@route("GET", "/repos/{owner}/{repo}/git/tags/{sha}")
def git_tag_object(world: World, request: Request, params: dict[str, str]) -> Response:
    path, full = _git_repo(world, params)
    tag = gitstore.tag_object(path, params["sha"])
    if tag is None:
        raise not_found("/git/tags#get-a-tag")
    return ok(
        {
            "node_id": shapes.node_id("tag", params["sha"]), "tag": tag["tag"], "sha": params["sha"],
            "url": f"{world.api_url}/repos/{full}/git/tags/{params['sha']}", "message": tag["message"],
            "tagger": {"name": "GitHub", "email": "noreply@github.com", "date": shapes.iso(gitstore.EPOCH)},
            "object": {"type": tag["type"], "sha": tag["object"], "url": f"{world.api_url}/repos/{full}/git/commits/{tag['object']}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None},
        }
    )  # fmt: skip


@route("POST", "/repos/{owner}/{repo}/git/blobs")
def create_blob(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    with world.lock:
        sha = gitdata.create_blob(state, body_dict(request))
    url = f"{world.api_url}/repos/{world.full_name(state)}/git/blobs/{sha}"
    return ok({"url": url, "sha": sha}, 201)


@route("POST", "/repos/{owner}/{repo}/git/trees")
def create_tree(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    with world.lock:
        sha = gitdata.create_tree(state, body_dict(request))
    url = f"{world.api_url}/repos/{world.full_name(state)}/git/trees/{sha}"
    return ok({"sha": sha, "url": url, "tree": [], "truncated": False}, 201)


@route("POST", "/repos/{owner}/{repo}/git/commits")
def create_git_commit(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    with world.lock:
        sha = gitdata.create_commit(world, state, body_dict(request))
    return ok(commit_json(world, state, sha)["commit"] | {"sha": sha, "node_id": shapes.node_id("commit", sha), "html_url": f"{shapes.WEB}/{world.full_name(state)}/commit/{sha}", "parents": git_commit_json(world, world.full_name(state), gitstore.commit_info(state.path, sha) or {})["parents"]}, 201)  # fmt: skip


def _ref_json(world: World, state: RepoState, branch: str, sha: str) -> dict[str, Any]:
    full = world.full_name(state)
    return {
        "ref": f"refs/heads/{branch}", "node_id": shapes.node_id("ref", f"{full}:{branch}"),
        "url": f"{world.api_url}/repos/{full}/git/refs/heads/{branch}",
        "object": {"type": "commit", "sha": sha, "url": f"{world.api_url}/repos/{full}/git/commits/{sha}"},
    }  # fmt: skip


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    data = body_dict(request)
    branch = str(data.get("ref", "")).removeprefix("refs/heads/")
    with world.lock:
        gitdata.update_ref(state, branch, str(data.get("sha", "")), create=True, force=False)
        world.pushed(state, branch)
    return ok(_ref_json(world, state, branch, str(data["sha"])), 201)


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")
def patch_ref(world: World, request: Request, params: dict[str, str]) -> Response:
    state = repo_or_404(world, params)
    data = body_dict(request)
    branch = unquote(params["ref"]).removeprefix("heads/")
    with world.lock:
        gitdata.update_ref(
            state, branch, str(data.get("sha", "")), create=False, force=bool(data.get("force"))
        )
        world.pushed(state, branch)
    return ok(_ref_json(world, state, branch, str(data["sha"])))


@route("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
def git_commit(world: World, request: Request, params: dict[str, str]) -> Response:
    path, full = _git_repo(world, params)
    info = gitstore.commit_info(path, params["sha"])
    if info is None:
        raise not_found("/git/commits#get-a-commit-object")
    return ok(git_commit_json(world, full, info))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}")
def get_commit(world: World, request: Request, params: dict[str, str]) -> Response:
    path, full = _git_repo(world, params)
    sha = gitstore.resolve(path, unquote(params["ref"]))
    if sha is None:
        raise HttpError(
            422,
            shapes.error(
                f"No commit found for SHA: {params['ref']}", "/commits/commits#get-a-commit", 422
            ),
        )
    info = gitstore.commit_info(path, sha)
    assert info is not None  # noqa: S101
    git = git_commit_json(world, full, info)
    return ok(
        {
            "url": f"{world.api_url}/repos/{full}/commits/{sha}", "sha": sha, "node_id": git["node_id"], "html_url": git["html_url"],
            "comments_url": f"{world.api_url}/repos/{full}/commits/{sha}/comments",
            "commit": {"url": git["url"], "author": git["author"], "committer": git["committer"], "message": git["message"], "comment_count": 0, "tree": git["tree"], "verification": git["verification"]},
            "author": None, "committer": None,
            "parents": [{"sha": p["sha"], "url": f"{world.api_url}/repos/{full}/commits/{p['sha']}", "html_url": p["html_url"]} for p in git["parents"]],
        }
    )  # fmt: skip


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        if candidate.method != method:
            continue
        found = candidate.pattern.match(path)
        if found:
            return candidate, found.groupdict()
    return None


def path_exists(path: str) -> bool:
    return any(r.pattern.match(path) for r in ROUTES)
