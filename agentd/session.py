"""Wiring shared by commands: state directory, API base URL, token, client."""

from __future__ import annotations

from pathlib import Path

from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, acquire_token
from agentd.github.cache import ConditionalCache
from agentd.github.client import GitHubClient, MutationObserver
from agentd.mutation import MutationPolicy
from agentd.profile import Profile
from agentd.settings import Settings


def state_dir(profile: Profile, settings: Settings) -> Path:
    """`AGENTD_STATE_DIR`, else `{local_clone_root}/.github-security-agent` (SPEC §12)."""
    if settings.state_dir is not None:
        return settings.state_dir
    return Path(profile.profile.runtime.local_clone_root) / ".github-security-agent"


def api_base_url(profile: Profile, settings: Settings) -> str:
    """`AGENTD_API_URL`, else `auth.api_url`, else derived from `auth.github_host`."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    auth = profile.profile.auth
    if auth.api_url:
        return auth.api_url
    if auth.github_host == "github.com":
        return "https://api.github.com"
    return f"https://{auth.github_host}/api/v3"


def open_client(
    profile: Profile,
    settings: Settings,
    policy: MutationPolicy,
    token: Token | None = None,
    observer: MutationObserver | None = None,
) -> GitHubAPI:
    token = token or acquire_token(profile.profile.auth.github_host)
    cache_dir = state_dir(profile, settings) / "http-cache"
    client = GitHubClient(
        api_base_url(profile, settings),
        token,
        policy,
        cache=ConditionalCache(cache_dir),
        min_rate_limit_remaining=profile.profile.budget.min_rate_limit_remaining,
        observer=observer,
    )
    return GitHubAPI(client, profile.profile.owner, profile.profile.owner_type)
