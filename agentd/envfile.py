""".env-style files: agentd's settings file and the profile's `verification.dotenv_path`.

The settings file (`AGENTD_ENV_FILE`, default `/etc/agentd/agentd.env` when it exists and
is readable) is loaded into agentd's own environment before anything reads it, for every
command and the daemon alike, so a cron line needs no inline variables. A variable
already in the environment wins over the file. It may hold `GH_TOKEN`: every value that
looks like a credential (by its name or its shape) is registered with the redactor the
moment it is read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from agentd.errors import UsageError
from agentd.log import get_logger
from agentd.redaction import REDACTOR

ENV_FILE_VARIABLE = "AGENTD_ENV_FILE"
DEFAULT_ENV_FILE = Path("/etc/agentd/agentd.env")

_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|_AUTH|CREDENTIALS?)$|^(NPM_|"
    r"YARN_|PNPM_|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|UV_INDEX|POETRY_HTTP_BASIC|"
    r"CARGO_REGISTRIES_|TWINE_)",
    re.IGNORECASE,
)


def read_dotenv(path: Path) -> dict[str, str]:
    """The assignments of a .env file (names without a value are left out)."""
    return {name: value for name, value in dotenv_values(path).items() if value is not None}


def looks_secret(name: str, value: str) -> bool:
    """A credential by its name (…_TOKEN, …_PASSWORD, NPM_…) or by its shape (ghp_…)."""
    return bool(_SECRET_NAME.search(name)) or REDACTOR.contains_secret(value)


@dataclass(frozen=True)
class EnvFileLoad:
    path: Path | None  # the file loaded, if any
    applied: list[str] = field(default_factory=list)  # names it set
    kept: list[str] = field(default_factory=list)  # names the environment already had
    warnings: list[str] = field(default_factory=list)


def load_env_file(environ: MutableMapping[str, str] | None = None) -> EnvFileLoad:
    """Load the settings env file into `environ` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_FILE_VARIABLE)
    if named == "":
        return EnvFileLoad(None)  # set but empty: no env file, not even the default
    path = Path(named) if named else DEFAULT_ENV_FILE
    if named is None and not (path.is_file() and os.access(path, os.R_OK)):
        return EnvFileLoad(None)
    try:
        values = read_dotenv(path) if path.is_file() else None
    except OSError as exc:
        values, why = None, exc.strerror or str(exc)
    else:
        why = "it does not exist or is not a file"
    if values is None:
        raise UsageError(
            f"{ENV_FILE_VARIABLE}={path} cannot be read ({why}): "
            f"create it, fix its permissions, or unset {ENV_FILE_VARIABLE}"
        )
    return _apply(path, values, environ)


def _apply(path: Path, values: dict[str, str], environ: MutableMapping[str, str]) -> EnvFileLoad:
    applied, kept, secret = [], [], False
    for name, value in values.items():
        if looks_secret(name, value):
            REDACTOR.register(value)
            secret = True
        if name == ENV_FILE_VARIABLE:
            continue
        if name in environ:
            kept.append(name)
        else:
            environ[name] = value
            applied.append(name)
    warnings = []
    mode = path.stat().st_mode
    if secret and mode & stat.S_IRWXO:  # root:agentd 0640 is the intended set-up
        warnings.append(
            f"{path} holds credentials and any user may read it "
            f"(mode {stat.S_IMODE(mode):04o}); chmod o-rwx {path}"
        )
    return EnvFileLoad(path, applied, kept, warnings)


def log_env_file(loaded: EnvFileLoad) -> None:
    """What the env file did, once logging is configured (names only, never values)."""
    log = get_logger("settings")
    for warning in loaded.warnings:
        log.warning(warning)
    if loaded.path is not None:
        log.debug(
            "settings env file loaded",
            extra={
                "path": str(loaded.path),
                "set": loaded.applied,
                "kept_from_environment": loaded.kept,
            },
        )
