"""Token preflight: what the token may do, read before anything is done with it (SPEC §4.2).

`discover` and `run` both start here, `run` after taking the lock and before any mutation:

- the token's kind must be one of `auth.supported_auth_modes`;
- `GET /user` (the run needs the account anyway, for its commit identity) must succeed:
  no connection at all, or server errors retries did not cure, is `UnreachableError`
  (exit 75, naming the URL and where it came from); a 404 or an answer that is no account
  is a URL that is not a GitHub API (78); a 401 is a rejected token;
- `GET /users/{owner}`: the profile's owner must exist on that host (404: a contract
  error naming `profile.owner`) and be the kind `profile.owner_type` says;
- a classic PAT (`ghp_`) carries its OAuth scopes in that answer's `X-OAuth-Scopes` header:
  every scope a required capability needs must be there (`repo` includes `security_events`,
  as GitHub's scope tree does), so the check costs no further request;
- a fine-grained PAT (`github_pat_`) has no scope header: what it may read is proven by
  reads (GitHub answers 403 "Resource not accessible by personal access token" for a
  permission the token lacks). `run` spends one request on it, `discover` reads
  everything anyway. What a fine-grained token may *write* cannot be read without
  writing: a refusal then is reported per unit as `auth_insufficient`.

A required capability (`auth.required_capabilities`, the closed list of SPEC §4.2) that the
token lacks is a contract error (exit 78) naming the scope or permission to grant.

The `workflow` scope (fine-grained: Workflows: write) is needed only to push a change to a
file under `.github/workflows/` (code-scanning fixes, `actions` updates). Without it the run
still does everything else: a workflow change is then `blocked auth_insufficient` when
GitHub refuses the push, and the preflight warns up front (log and `discover`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from agentd.errors import ContractError, RateLimitedError, UnreachableError
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.client import (
    ConnectionFailedError,
    GitHubError,
    GitHubHTTPError,
    MalformedResponseError,
    TransientError,
)
from agentd.github.models import Account
from agentd.inventory import Coverage, Inventory
from agentd.log import get_logger
from agentd.profile import Profile, default_api_url
from agentd.vocabulary import AlertClass, AutomationMode

log = get_logger("preflight")


@dataclass(frozen=True)
class Grant:
    """What one profile capability needs: classic scopes (all of them), fine-grained
    repository permissions (all of them), and why agentd needs it."""

    scopes: tuple[str, ...]
    permissions: tuple[str, ...]
    why: str


# Every value of `profile.Capability` (tests/test_preflight.py proves the two agree).
GRANTS: dict[str, Grant] = {
    "read_repository_metadata": Grant(
        ("repo",), ("Metadata: read",), "read each repository, its default branch and rulesets"
    ),
    "read_security_alerts": Grant(
        ("repo", "security_events"),
        (),  # per enabled alert class: ALERT_PERMISSIONS
        "list the open alerts of every enabled class",
    ),
    "push_branches": Grant(
        ("repo",), ("Contents: write",), "push the fix branch (git over HTTPS) and read files"
    ),
    "open_and_update_pull_requests": Grant(
        ("repo",), ("Pull requests: write",), "open, update, label and comment on its own PRs"
    ),
    "read_workflow_and_check_status": Grant(
        ("repo",),
        ("Checks: read", "Commit statuses: read"),
        "read the check runs and commit statuses of a PR head (the merge gate)",
    ),
    "merge_pull_requests_when_policy_allows": Grant(
        ("repo",),
        ("Contents: write", "Pull requests: write"),
        "merge (REST), enable auto-merge or enqueue in a merge queue (GraphQL)",
    ),
}
ALERT_PERMISSIONS: dict[AlertClass, str] = {
    AlertClass.DEPENDABOT: "Dependabot alerts: read",
    AlertClass.CODE_SCANNING: "Code scanning alerts: read",
    AlertClass.SECRET_SCANNING: "Secret scanning alerts: read",
}
_ALERT_PATHS = {
    AlertClass.DEPENDABOT: "dependabot/alerts",
    AlertClass.CODE_SCANNING: "code-scanning/alerts",
    AlertClass.SECRET_SCANNING: "secret-scanning/alerts",
}
WORKFLOW_SCOPE = "workflow"
WORKFLOW_PERMISSION = "Workflows: write"
# A classic scope's children: GitHub lists only the parent in X-OAuth-Scopes.
IMPLIED_SCOPES: dict[str, frozenset[str]] = {
    "repo": frozenset({"repo:status", "repo_deployment", "public_repo", "repo:invite",
                       "security_events"}),
}  # fmt: skip
NOT_ACCESSIBLE = "resource not accessible by personal access token"
_KINDS = {
    TokenKind.CLASSIC_PAT: "a classic personal access token (ghp_...)",
    TokenKind.FINE_GRAINED_PAT: "a fine-grained personal access token (github_pat_...)",
}


# --- what the profile needs --------------------------------------------------------------


def edits_workflows(profile: Profile) -> bool:
    """Whether a run may push a workflow file: code-scanning fixes edit
    `.github/workflows/`, and so do updates of the `actions` ecosystem."""
    settings = profile.profile
    return AlertClass.CODE_SCANNING in settings.supported_alert_classes or any(
        "actions" in target.ecosystems for repo in profile.repositories for target in repo.targets
    )


def _workflow_wanted(profile: Profile) -> bool:
    return "push_branches" in profile.profile.auth.required_capabilities and edits_workflows(
        profile
    )


def classic_scopes_needed(profile: Profile) -> dict[str, list[str]]:
    """Each classic scope the required capabilities need → those capabilities."""
    needed: dict[str, list[str]] = {}
    for capability in profile.profile.auth.required_capabilities:
        for scope in GRANTS[capability].scopes:
            needed.setdefault(scope, []).append(capability)
    return needed


def fine_grained_permissions(profile: Profile) -> dict[str, list[str]]:
    """The exact fine-grained repository permission set the profile needs → why."""
    needed: dict[str, list[str]] = {}
    for capability in profile.profile.auth.required_capabilities:
        grant = GRANTS[capability]
        permissions = list(grant.permissions)
        if capability == "read_security_alerts":
            permissions += [
                ALERT_PERMISSIONS[c]
                for c in AlertClass
                if c in profile.profile.supported_alert_classes
            ]
        for permission in permissions:
            needed.setdefault(permission, []).append(capability)
    if _workflow_wanted(profile):
        needed.setdefault(WORKFLOW_PERMISSION, []).append("push_branches (workflow files)")
    return needed


def listed_scopes(headers: Mapping[str, str]) -> list[str] | None:
    """`X-OAuth-Scopes` as GitHub lists it; None without the header (a fine-grained token,
    or a server that does not send it)."""
    value = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    return None if value is None else [s.strip() for s in value.split(",") if s.strip()]


def granted_scopes(headers: Mapping[str, str]) -> frozenset[str] | None:
    """A classic token's scopes, the children of each listed scope included."""
    listed = listed_scopes(headers)
    if listed is None:
        return None
    return frozenset(listed).union(*(IMPLIED_SCOPES.get(s, frozenset()) for s in listed))


# --- the checks --------------------------------------------------------------------------


def check_auth_mode(profile: Profile, token: Token) -> None:
    """The token's kind must be one `auth.supported_auth_modes` allows (no request)."""
    allowed = profile.profile.auth.supported_auth_modes
    if token.kind.value in allowed:
        return
    other = next(TokenKind(m) for m in allowed)
    raise ContractError(
        f"the token is {_KINDS[token.kind]}, but auth.supported_auth_modes allows only "
        f"{', '.join(allowed)}",
        f"give gh {_KINDS[other]} for {profile.profile.auth.github_host}, or add "
        f"{token.kind.value} to auth.supported_auth_modes",
    )


@dataclass
class TokenCheck:
    """What the preflight learned: the account, the classic scopes (None: unknown, proven
    by reads instead), and warnings that do not stop a run."""

    kind: TokenKind
    account: Account
    scopes: frozenset[str] | None
    listed: list[str] = field(default_factory=list)  # X-OAuth-Scopes as GitHub lists it
    warnings: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    def capability(self, profile: Profile) -> dict[str, Any]:
        """`discover`'s `token_permissions` capability."""
        if self.scopes is not None:
            shown = ", ".join(self.listed) or "none"
            needed = sorted(classic_scopes_needed(profile))
            if _workflow_wanted(profile):
                needed.append(f"{WORKFLOW_SCOPE} (checked, not required)")
            evidence = f"X-OAuth-Scopes: {shown}; the profile needs {', '.join(needed) or 'none'}"
        else:
            wanted = ", ".join(fine_grained_permissions(profile))
            evidence = (
                f"no scope header: read permissions proven by reads ({'; '.join(self.probes)}); "
                f"write permissions cannot be read without writing, grant: {wanted}"
            )
        if self.warnings:
            evidence += "; " + "; ".join(self.warnings)
        return {"ok": not self.warnings, "evidence": evidence}


def url_source(api: GitHubAPI, profile: Profile) -> str:
    """Which setting chose the API base agentd talks to, for an error's fix."""
    base = api.client.base_url.rstrip("/")
    auth = profile.profile.auth
    if auth.api_url:
        return "auth.api_url" if base == auth.api_url.rstrip("/") else "AGENTD_API_URL"
    return "auth.github_host" if base == default_api_url(auth.github_host) else "AGENTD_API_URL"


def _host_shown(api: GitHubAPI, profile: Profile) -> str:
    if url_source(api, profile) == "AGENTD_API_URL":
        return api.client.base_url.rstrip("/")
    return profile.profile.auth.github_host


def unreachable(api: GitHubAPI, profile: Profile, exc: ConnectionFailedError) -> UnreachableError:
    return UnreachableError(
        str(exc),
        f"check {url_source(api, profile)} (the API base URL) and the network: "
        f"{exc.base_url} must be reachable from this machine",
    )


def not_an_api(api: GitHubAPI, profile: Profile, detail: str) -> ContractError:
    """A server that answers, but not as GitHub's REST API does (a web page, a wrong path)."""
    return ContractError(
        f"{api.client.base_url.rstrip('/')} does not answer as a GitHub REST API: {detail}",
        f"check {url_source(api, profile)}: github.com's API is https://api.github.com, "
        "GitHub Enterprise Server's https://HOST/api/v3, GHE.com's https://api.SUBDOMAIN.ghe.com",
    )


def check_owner(api: GitHubAPI, profile: Profile) -> None:
    """`profile.owner` exists on the host, and is the kind `profile.owner_type` says.
    Another failure to read it is left to the run's own reads (logged, not fatal)."""
    settings = profile.profile
    try:
        owner = api.owner_account()
    except GitHubHTTPError as exc:
        if exc.status != 404:
            log.warning("could not read the profile's owner", extra={"why": str(exc)})
            return
        raise ContractError(
            f"owner {settings.owner!r} not found on {_host_shown(api, profile)} "
            f"(GET /users/{settings.owner} answered 404)",
            "fix profile.owner: the login of the user or organisation that owns the repositories",
        ) from None
    except (GitHubError, RateLimitedError) as exc:  # the run's own reads meet it again
        log.warning("could not read the profile's owner", extra={"why": str(exc)})
        return
    kind = "org" if owner.type == "Organization" else "user"
    if kind != settings.owner_type:
        what = "an organisation" if kind == "org" else "a user"
        raise ContractError(
            f"owner {settings.owner!r} is {what} on {_host_shown(api, profile)}, but "
            f"profile.owner_type is {settings.owner_type}",
            f"set profile.owner_type: {kind}",
        )


def check_token(api: GitHubAPI, profile: Profile, token: Token) -> TokenCheck:
    """Auth mode, then `GET /user` and, for a classic token, its scopes, then the owner:
    two requests. Raises UnreachableError when GitHub cannot be reached, ContractError for a
    refused mode, a rejected token, a missing required scope or a wrong owner."""
    check_auth_mode(profile, token)
    try:
        account, headers = api.token_owner()
    except ConnectionFailedError as exc:
        raise unreachable(api, profile, exc) from None
    except TransientError as exc:  # server errors or dropped connections, after retries
        raise UnreachableError(
            f"GitHub at {api.client.base_url.rstrip('/')} keeps failing: {exc}",
            f"nothing was read or changed; the next run retries (if it persists, check "
            f"{url_source(api, profile)} and GitHub's status)",
        ) from None
    except MalformedResponseError as exc:
        raise not_an_api(api, profile, str(exc)) from None
    except GitHubHTTPError as exc:
        if exc.status == 404:
            raise not_an_api(api, profile, f"GET /user answered 404 {exc.message}") from None
        if exc.status != 401:
            raise
        raise ContractError(
            f"GitHub rejected the token: GET /user at {api.client.base_url} answered "
            f"401 {exc.message}",
            "the token is expired, revoked or for another host: create a new one and give it "
            f"to gh (gh auth login --hostname {profile.profile.auth.github_host})",
        ) from None
    scopes = granted_scopes(headers) if token.kind is TokenKind.CLASSIC_PAT else None
    check = TokenCheck(token.kind, account, scopes, listed_scopes(headers) or [])
    if token.kind is TokenKind.CLASSIC_PAT and scopes is None:
        log.warning("the classic token's answer has no X-OAuth-Scopes header; probing instead")
    if scopes is not None:
        _check_scopes(profile, scopes, check.listed)
        if _workflow_wanted(profile) and WORKFLOW_SCOPE not in scopes:
            check.warnings.append(
                "the token lacks the workflow scope: changes to .github/workflows/ "
                "(code-scanning fixes, actions updates) will be blocked auth_insufficient; "
                f"tick workflow at {_settings_url(profile, token.kind)}"
            )
    check_owner(api, profile)
    for warning in check.warnings:
        log.warning(warning)
    return check


def _check_scopes(profile: Profile, scopes: frozenset[str], listed: list[str]) -> None:
    missing = {s: caps for s, caps in classic_scopes_needed(profile).items() if s not in scopes}
    if not missing:
        return
    names = ", ".join(missing)
    capabilities = ", ".join(dict.fromkeys(c for caps in missing.values() for c in caps))
    has = ", ".join(listed) or "none"
    includes = " (repo includes security_events)" if "security_events" in missing else ""
    raise ContractError(
        f"the token (classic PAT) lacks the scope{'s' if len(missing) > 1 else ''} {names}, "
        f"which auth.required_capabilities need ({capabilities}); its scopes: {has}",
        f"edit the token at {_settings_url(profile, TokenKind.CLASSIC_PAT)} and tick "
        f"{names}{includes}, or remove those capabilities from auth.required_capabilities",
    )


def _settings_url(profile: Profile, kind: TokenKind) -> str:
    page = "tokens" if kind is TokenKind.CLASSIC_PAT else "personal-access-tokens"
    return f"https://{profile.profile.auth.github_host}/settings/{page}"


def missing_permission_error(profile: Profile, missing: Mapping[str, str]) -> ContractError:
    """`missing`: fine-grained permission → the read that proved it missing."""
    needs = fine_grained_permissions(profile)
    names = ", ".join(missing)
    capabilities = ", ".join(dict.fromkeys(c for p in missing for c in needs.get(p, [])))
    evidence = "; ".join(missing.values())
    return ContractError(
        f"the token (fine-grained PAT) lacks the repository permission"
        f"{'s' if len(missing) > 1 else ''} {names}, which auth.required_capabilities need "
        f"({capabilities}): {evidence}",
        f"edit the token at {_settings_url(profile, TokenKind.FINE_GRAINED_PAT)} and grant "
        f"{names} on every repository of the profile, or remove those capabilities from "
        "auth.required_capabilities",
    )


def _not_accessible(exc: GitHubError) -> bool:
    return (
        isinstance(exc, GitHubHTTPError)
        and exc.status == 403
        and NOT_ACCESSIBLE in (exc.message.lower())
    )


def _required_missing(profile: Profile, missing: dict[str, str]) -> dict[str, str]:
    needs = fine_grained_permissions(profile)
    return {p: why for p, why in missing.items() if p in needs and p != WORKFLOW_PERMISSION}


def probe_for_run(api: GitHubAPI, profile: Profile, check: TokenCheck) -> None:
    """A token without scope header: one cheap read, the first enabled alert class of the
    first active repository (one alert). Raises ContractError when GitHub answers that the
    token lacks that permission and the profile requires reading alerts."""
    if check.scopes is not None:
        return
    classes = [c for c in AlertClass if c in profile.profile.supported_alert_classes]
    repos = [
        r.repo for r in profile.repositories if profile.automation_mode(r) is AutomationMode.ACTIVE
    ]
    if not classes or not repos:
        return
    path = f"/repos/{quote(profile.profile.owner, safe='')}/{quote(repos[0], safe='')}/"
    path += _ALERT_PATHS[classes[0]]
    try:
        api.client.get(path, {"per_page": 1, "state": "open"})
    except GitHubError as exc:
        if _not_accessible(exc):
            missing = {ALERT_PERMISSIONS[classes[0]]: str(exc)}
            required = _required_missing(profile, missing)
            if required:
                raise missing_permission_error(profile, required) from None
        check.probes.append(f"{path}: {exc}")  # inconclusive (disabled, not visible, ...)
        log.info("token probe inconclusive", extra={"why": str(exc)})
        return
    check.probes.append(f"GET {path} answered")


def probe_for_discover(
    api: GitHubAPI, profile: Profile, check: TokenCheck, inventory: Inventory
) -> None:
    """A token without scope header: what discover's reads proved it lacks (metadata and
    alert listings answered 403 "not accessible"), plus the checks and statuses of one
    branch. Raises ContractError for a permission a required capability needs."""
    if check.scopes is not None:
        return
    missing: dict[str, str] = {}
    readable = [(n, r) for n, r in inventory.repos.items() if r.metadata is not None]
    for name, repo in inventory.repos.items():
        if repo.error and NOT_ACCESSIBLE in repo.error.lower():
            missing.setdefault("Metadata: read", f"repository {name}: {repo.error}")
        for alert_class, entry in repo.classes.items():
            if entry.coverage is Coverage.UNAVAILABLE and NOT_ACCESSIBLE in entry.detail.lower():
                missing.setdefault(
                    ALERT_PERMISSIONS[alert_class], f"{alert_class.value} of {name}: {entry.detail}"
                )
    check.probes.append(f"{len(readable)}/{len(inventory.repos)} repositories and their alerts")
    if readable:
        name, repo = readable[0]
        branch = quote(repo.metadata.default_branch if repo.metadata else "", safe="")
        base = f"/repos/{quote(profile.profile.owner, safe='')}/{quote(name, safe='')}"
        for permission, path in (
            ("Checks: read", f"{base}/commits/{branch}/check-runs"),
            ("Commit statuses: read", f"{base}/commits/{branch}/status"),
        ):
            try:
                api.client.get(path, {"per_page": 1})
                check.probes.append(f"GET {path} answered")
            except GitHubError as exc:
                if _not_accessible(exc):
                    missing.setdefault(permission, str(exc))
                else:
                    check.probes.append(f"{path}: {exc}")
    required = _required_missing(profile, missing)
    if required:
        raise missing_permission_error(profile, required)
    check.warnings += [f"the token lacks {p} ({why})" for p, why in missing.items()]


def preflight_run(api: GitHubAPI, profile: Profile, token: Token) -> TokenCheck:
    """`run`'s preflight, after the lock and before any mutation: at most three requests
    (`GET /user`, whose account the run keeps, the owner, and one probe for a fine-grained
    token)."""
    check = check_token(api, profile, token)
    probe_for_run(api, profile, check)
    return check
