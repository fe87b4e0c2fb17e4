"""Fine-grained personal access tokens: the repository permission each endpoint needs.

A scenario may give its fine-grained tokens a permission set (`auth.permissions`, e.g.
`{metadata: read, contents: write}`; write includes read). A request whose endpoint needs a
permission the token lacks gets GitHub's answer: 403 "Resource not accessible by personal
access token" with `X-Accepted-GitHub-Permissions` naming what would do (`a=read; b=read`:
any one of them). Without `auth.permissions` a fine-grained token may do everything.
Classic tokens are never checked here (their scopes are `X-OAuth-Scopes`).
"""

from __future__ import annotations

from agentd.simulator.scenario import Auth

NOT_ACCESSIBLE = "Resource not accessible by personal access token"
_LEVELS = {"read": 1, "write": 2}

Need = tuple[tuple[str, str], ...]  # alternatives: (permission, level), any one will do

_ISSUES_READ: Need = (("issues", "read"), ("pull_requests", "read"))
_ISSUES_WRITE: Need = (("issues", "write"), ("pull_requests", "write"))
_R = "/repos/{owner}/{repo}"

# (method, route template) → what it needs; a route not listed needs nothing (`GET /user`),
# and neither does one listed with no alternatives (GitHub: "no permissions required").
NEEDS: dict[tuple[str, str], Need] = {
    ("GET", "/users/{user}"): (),
    ("GET", _R): (("metadata", "read"),),
    ("GET", "/orgs/{org}/repos"): (("metadata", "read"),),
    ("GET", "/users/{user}/repos"): (("metadata", "read"),),
    ("GET", "/user/repos"): (("metadata", "read"),),
    ("GET", f"{_R}/vulnerability-alerts"): (("administration", "read"),),
    ("GET", f"{_R}/dependabot/alerts"): (("vulnerability_alerts", "read"),),
    ("GET", f"{_R}/dependabot/alerts/{{number}}"): (("vulnerability_alerts", "read"),),
    ("GET", "/orgs/{org}/dependabot/alerts"): (("vulnerability_alerts", "read"),),
    ("GET", f"{_R}/code-scanning/alerts"): (("security_events", "read"),),
    ("GET", f"{_R}/code-scanning/alerts/{{number}}"): (("security_events", "read"),),
    ("GET", "/orgs/{org}/code-scanning/alerts"): (("security_events", "read"),),
    ("GET", f"{_R}/secret-scanning/alerts"): (("secret_scanning_alerts", "read"),),
    ("GET", f"{_R}/secret-scanning/alerts/{{number}}"): (("secret_scanning_alerts", "read"),),
    ("GET", f"{_R}/secret-scanning/alerts/{{number}}/locations"): (
        ("secret_scanning_alerts", "read"),
    ),
    ("GET", "/orgs/{org}/secret-scanning/alerts"): (("secret_scanning_alerts", "read"),),
    # an organisation permission, not a repository one: "Administration" (organization)
    ("GET", "/orgs/{org}/code-security/configurations"): (("organization_administration", "read"),),
    ("GET", "/orgs/{org}/code-security/configurations/{configuration_id}/repositories"): (
        ("organization_administration", "read"),
    ),
    ("GET", f"{_R}/pulls"): (("pull_requests", "read"),),
    ("POST", f"{_R}/pulls"): (("pull_requests", "write"),),
    ("GET", f"{_R}/pulls/{{number}}"): (("pull_requests", "read"),),
    ("PATCH", f"{_R}/pulls/{{number}}"): (("pull_requests", "write"),),
    ("GET", f"{_R}/pulls/{{number}}/files"): (("pull_requests", "read"),),
    ("GET", f"{_R}/pulls/{{number}}/reviews"): (("pull_requests", "read"),),
    ("GET", f"{_R}/pulls/{{number}}/commits"): (("pull_requests", "read"),),
    ("GET", f"{_R}/pulls/{{number}}/merge"): (("pull_requests", "read"),),
    ("PUT", f"{_R}/pulls/{{number}}/merge"): (("contents", "write"),),
    ("GET", f"{_R}/issues/{{number}}/comments"): _ISSUES_READ,
    ("POST", f"{_R}/issues/{{number}}/comments"): _ISSUES_WRITE,
    ("PATCH", f"{_R}/issues/comments/{{comment_id}}"): _ISSUES_WRITE,
    ("GET", f"{_R}/issues/{{number}}/labels"): _ISSUES_READ,
    ("POST", f"{_R}/issues/{{number}}/labels"): _ISSUES_WRITE,
    ("PUT", f"{_R}/issues/{{number}}/labels"): _ISSUES_WRITE,
    ("DELETE", f"{_R}/issues/{{number}}/labels/{{name}}"): _ISSUES_WRITE,
    ("GET", f"{_R}/labels"): _ISSUES_READ,
    ("GET", f"{_R}/branches"): (("contents", "read"),),
    ("GET", f"{_R}/branches/{{branch}}"): (("contents", "read"),),
    ("GET", f"{_R}/branches/{{branch}}/protection"): (("administration", "read"),),
    ("GET", f"{_R}/rules/branches/{{branch}}"): (("metadata", "read"),),
    ("GET", f"{_R}/commits/{{ref}}/check-runs"): (("checks", "read"),),
    ("GET", f"{_R}/commits/{{ref}}/status"): (("statuses", "read"),),
    ("GET", f"{_R}/commits/{{ref}}"): (("contents", "read"),),
    ("GET", f"{_R}/git/ref/tags/{{tag}}"): (("contents", "read"),),
    ("GET", f"{_R}/git/tags/{{sha}}"): (("contents", "read"),),
    ("GET", f"{_R}/git/commits/{{sha}}"): (("contents", "read"),),
    ("POST", f"{_R}/git/blobs"): (("contents", "write"),),
    ("POST", f"{_R}/git/trees"): (("contents", "write"),),
    ("POST", f"{_R}/git/commits"): (("contents", "write"),),
    ("POST", f"{_R}/git/refs"): (("contents", "write"),),
    ("PATCH", f"{_R}/git/refs/{{ref}}"): (("contents", "write"),),
}


def is_fine_grained(auth: Auth, token: str) -> bool:
    return auth.fine_grained or token.startswith("github_pat_")


def denied(auth: Auth, token: str, method: str, route: str) -> str | None:
    """None when the token may call `method route`; else the X-Accepted-GitHub-Permissions
    value naming what it lacks."""
    need = NEEDS.get((method, route))
    if not need or auth.permissions is None or not is_fine_grained(auth, token):
        return None
    granted = auth.permissions
    if any(_LEVELS.get(granted.get(name, ""), 0) >= _LEVELS[level] for name, level in need):
        return None
    return "; ".join(f"{name}={level}" for name, level in need)
