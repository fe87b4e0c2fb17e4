"""Wiring shared by commands: state directory, API base URL, token, client.

The state directory holds what agentd must be able to trust later: the askpass helper git
runs, worktrees, the run store, the audit log. It is refused (contract error, exit 78) when
another user owns it or could write in it, and so is its `git/` directory.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from agentd.errors import ContractError
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, acquire_token
from agentd.github.cache import ConditionalCache
from agentd.github.client import GitHubClient, MutationObserver
from agentd.log import get_logger
from agentd.mutation import MutationPolicy
from agentd.profile import Profile, default_api_url
from agentd.settings import Settings

log = get_logger("session")


def state_dir(profile: Profile, settings: Settings) -> Path:
    """`AGENTD_STATE_DIR`, else `{local_clone_root}/.github-security-agent` (SPEC §12)."""
    if settings.state_dir is not None:
        path = settings.state_dir
    else:
        path = Path(profile.profile.runtime.local_clone_root) / ".github-security-agent"
    refuse_unsafe_directory(path, "state directory")
    return path


def refuse_unsafe_directory(path: Path, what: str, follow_symlinks: bool = True) -> None:
    """Refuse a directory another user owns or may write in; one that does not exist yet
    is fine (agentd creates it 0700)."""
    try:
        info = path.stat() if follow_symlinks else path.lstat()
    except FileNotFoundError:
        return
    except NotADirectoryError:  # a parent is a file: the directory can never be created
        ancestors = list(path.parents)  # outermost first below: the file that blocks it
        blocker = next(p for p in reversed(ancestors) if p.exists() and not p.is_dir())
        raise ContractError(
            f"{what} {path} cannot exist: {blocker} is a file, not a directory",
            f"point the setting that names {blocker} at a directory (or remove that file)",
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ContractError(
            f"{what} {path} is not a directory", f"remove it (rm {path}); agentd creates it"
        )
    if info.st_uid != os.geteuid():
        raise ContractError(
            f"{what} {path} is owned by uid {info.st_uid}, not by agentd's user "
            f"(uid {os.geteuid()}): another user could change what agentd trusts there",
            f"chown -R {os.geteuid()} {path} (or point AGENTD_STATE_DIR at agentd's own directory)",
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ContractError(
            f"{what} {path} is writable by its group or by others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): they could replace what agentd runs from it",
            f"chmod go-w {path}",
        )


def write_private_file(path: Path, text: str, mode: int = 0o700) -> Path:
    """Write `path` for agentd's user only, never through a symlink: a symlink (or anything
    but a regular file) there is refused; the file is replaced atomically, not rewritten."""
    try:
        existing = path.lstat()
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(existing.st_mode) else "not a regular file"
        raise ContractError(
            f"{path} is {kind}; agentd writes it itself and will not write through it",
            f"remove it (rm {path}) and find out who put it there",
        )
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # one per writer
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)  # whatever the umask
        handle.write(text)
    os.replace(tmp, path)
    return path


def api_base_url(profile: Profile, settings: Settings) -> str:
    """`AGENTD_API_URL`, else `auth.api_url`, else derived from `auth.github_host`."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    auth = profile.profile.auth
    if auth.api_url:
        return auth.api_url  # its host is github_host's API host (checked when loaded)
    return default_api_url(auth.github_host)


def open_client(
    profile: Profile,
    settings: Settings,
    policy: MutationPolicy,
    token: Token | None = None,
    observer: MutationObserver | None = None,
) -> GitHubAPI:
    token = token or acquire_token(profile.profile.auth.github_host)
    if settings.api_url:  # tests, the simulator and the demo: allowed, never silent
        log.info(
            "AGENTD_API_URL overrides the profile's API base: the token goes to it",
            extra={"api_url": api_base_url(profile, settings)},
        )
    cache_dir = state_dir(profile, settings) / "http-cache"
    try:
        client = GitHubClient(
            api_base_url(profile, settings),
            token,
            policy,
            cache=ConditionalCache(cache_dir),
            min_rate_limit_remaining=profile.profile.budget.min_rate_limit_remaining,
            observer=observer,
        )
    except OSError as exc:  # ssl.SSLError too: the CA bundle named in the environment
        raise _trust_store_error(exc) from None
    return GitHubAPI(client, profile.profile.owner, profile.profile.owner_type)


def _trust_store_error(exc: OSError) -> ContractError:
    named = {n: os.environ[n] for n in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(n)}
    where = ", ".join(f"{n}={v}" for n, v in named.items()) or "the system CA bundle"
    why = exc.strerror or str(exc)
    return ContractError(
        f"cannot load the CA certificates to trust GitHub with ({where}): {why}",
        "point SSL_CERT_FILE at a readable PEM bundle (or unset it to use the system's)",
    )
