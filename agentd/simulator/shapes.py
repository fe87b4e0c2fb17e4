"""JSON bodies shaped exactly like GitHub's (API version 2022-11-28).

Every builder emits all the fields GitHub's published schema requires, so the contract
test can validate each body against the generated models.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"


def iso(ts: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def node_id(kind: str, number: int | str) -> str:
    return hashlib.sha1(f"{kind}:{number}".encode()).hexdigest()[:20]  # noqa: S324 - an id, not security


def user(api: str, login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    base = f"{api}/users/{login}"
    return {
        "login": login, "id": uid, "node_id": node_id("user", uid),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
        "url": base, "html_url": f"{WEB}/{login}", "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events", "type": kind, "site_admin": False,
    }  # fmt: skip


def public_user(api: str, login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    """`GET /users/{username}`: a user's or an organisation's public profile."""
    return {
        **user(api, login, uid, kind), "user_view_type": "public", "name": login, "company": None,
        "blog": "", "location": None, "email": None, "hireable": None, "bio": None,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": iso(1_600_000_000), "updated_at": iso(1_700_000_000),
    }  # fmt: skip


def private_user(api: str, login: str, uid: int) -> dict[str, Any]:
    return {
        **user(api, login, uid), "name": login, "company": None, "blog": "", "location": None,
        "email": None, "hireable": None, "bio": None, "public_repos": 0, "public_gists": 0,
        "followers": 0, "following": 0, "created_at": iso(1_600_000_000), "updated_at": iso(1_700_000_000),
        "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0, "disk_usage": 0,
        "collaborators": 0, "two_factor_authentication": True,
    }  # fmt: skip


def _repo_urls(api: str, full: str) -> dict[str, Any]:
    base = f"{api}/repos/{full}"
    return {
        "url": base, "archive_url": f"{base}/{{archive_format}}{{/ref}}", "assignees_url": f"{base}/assignees{{/user}}",
        "blobs_url": f"{base}/git/blobs{{/sha}}", "branches_url": f"{base}/branches{{/branch}}",
        "collaborators_url": f"{base}/collaborators{{/collaborator}}", "comments_url": f"{base}/comments{{/number}}",
        "commits_url": f"{base}/commits{{/sha}}", "compare_url": f"{base}/compare/{{base}}...{{head}}",
        "contents_url": f"{base}/contents/{{+path}}", "contributors_url": f"{base}/contributors",
        "deployments_url": f"{base}/deployments", "downloads_url": f"{base}/downloads", "events_url": f"{base}/events",
        "forks_url": f"{base}/forks", "git_commits_url": f"{base}/git/commits{{/sha}}",
        "git_refs_url": f"{base}/git/refs{{/sha}}", "git_tags_url": f"{base}/git/tags{{/sha}}",
        "issue_comment_url": f"{base}/issues/comments{{/number}}", "issue_events_url": f"{base}/issues/events{{/number}}",
        "issues_url": f"{base}/issues{{/number}}", "keys_url": f"{base}/keys{{/key_id}}", "labels_url": f"{base}/labels{{/name}}",
        "languages_url": f"{base}/languages", "merges_url": f"{base}/merges", "milestones_url": f"{base}/milestones{{/number}}",
        "notifications_url": f"{base}/notifications{{?since,all,participating}}", "pulls_url": f"{base}/pulls{{/number}}",
        "releases_url": f"{base}/releases{{/id}}", "stargazers_url": f"{base}/stargazers", "statuses_url": f"{base}/statuses/{{sha}}",
        "subscribers_url": f"{base}/subscribers", "subscription_url": f"{base}/subscription", "tags_url": f"{base}/tags",
        "teams_url": f"{base}/teams", "trees_url": f"{base}/git/trees{{/sha}}", "hooks_url": f"{base}/hooks",
    }  # fmt: skip


def simple_repo(
    api: str, owner: dict[str, Any], name: str, rid: int, private: bool
) -> dict[str, Any]:
    full = f"{owner['login']}/{name}"
    return {
        "id": rid, "node_id": node_id("repo", rid), "name": name, "full_name": full, "owner": owner,
        "private": private, "html_url": f"{WEB}/{full}", "description": None, "fork": False,
        **_repo_urls(api, full),
    }  # fmt: skip


def full_repo(
    api: str, owner: dict[str, Any], name: str, rid: int, *, private: bool, default_branch: str,
    archived: bool, permissions: dict[str, bool], security: dict[str, Any], delete_branch_on_merge: bool,
    merge_methods: list[str], allow_auto_merge: bool = False, open_issues: int = 0,
) -> dict[str, Any]:  # fmt: skip
    full = f"{owner['login']}/{name}"
    return {
        **simple_repo(api, owner, name, rid, private),
        "git_url": f"git://github.com/{full}.git", "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"{WEB}/{full}.git", "svn_url": f"{WEB}/{full}", "mirror_url": None, "homepage": None,
        "language": None, "forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "size": 1,
        "default_branch": default_branch, "open_issues_count": open_issues, "has_issues": True, "has_downloads": True, "has_projects": False,
        "has_wiki": False, "has_pages": False, "has_discussions": False, "archived": archived, "disabled": False,
        "visibility": "private" if private else "public", "pushed_at": iso(1_700_000_000), "created_at": iso(1_600_000_000),
        "updated_at": iso(1_700_000_000), "permissions": permissions, "allow_rebase_merge": "rebase" in merge_methods,
        "allow_squash_merge": "squash" in merge_methods, "allow_merge_commit": "merge" in merge_methods, "allow_auto_merge": allow_auto_merge,
        "delete_branch_on_merge": delete_branch_on_merge, "subscribers_count": 0, "network_count": 0,
        "license": None, "forks": 0, "open_issues": open_issues, "watchers": 0, "security_and_analysis": security,
    }  # fmt: skip


# The colours Dependabot gives the labels it creates; others get GitHub's default grey.
LABEL_COLORS = {
    "dependencies": "0366d6",
    "security": "ee0701",
    "python": "2b67c6",
    "javascript": "168700",
}


def label(api: str, full: str, name: str, lid: int, color: str | None = None) -> dict[str, Any]:
    return {
        "id": lid, "node_id": node_id("label", lid), "url": f"{api}/repos/{full}/labels/{name}",
        "name": name, "description": None, "color": color or LABEL_COLORS.get(name, "ededed"), "default": False,
        "archived_at": None, "archived_by": None,
    }  # fmt: skip


def error(
    message: str, doc: str = "", status: int = 404, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": message,
        "documentation_url": f"{DOCS}{doc}",
        "status": str(status),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def basic_user_ref(api: str, login: str, uid: int, kind: str) -> dict[str, Any]:
    return user(api, login, uid, kind)
