"""The verification environment of SPEC §4.5: which variables a target may see.

Values come only from names in `verification.environment_allowlist`, read from agentd's
own environment or from the profile's `dotenv_path` file. Every value is registered with
the redactor the moment it is read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentd.envfile import read_dotenv
from agentd.profile import Profile, Target
from agentd.redaction import REDACTOR
from agentd.vocabulary import ReasonCode

_REGISTRY_CREDENTIAL = re.compile(
    r"(_TOKEN|_AUTH|_AUTH_TOKEN|_PASSWORD|_API_KEY)$|^(NPM_|YARN_|PNPM_|PIP_INDEX_URL|"
    r"PIP_EXTRA_INDEX_URL|UV_INDEX|POETRY_HTTP_BASIC|CARGO_REGISTRIES_|GOPROXY|GOPRIVATE|"
    r"GONOSUMDB|TWINE_)"
)


def is_registry_credential(name: str) -> bool:
    return bool(_REGISTRY_CREDENTIAL.search(name))


def current_platform() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform.startswith(("win", "cygwin")):
        return "windows"
    return sys.platform


@dataclass(frozen=True)
class AllowedEnvironment:
    values: dict[str, str]
    dotenv_error: str = ""


def load_allowed_environment(profile: Profile, environ: Mapping[str, str]) -> AllowedEnvironment:
    """Allowlisted names with their values, from the process environment or the dotenv file."""
    settings = profile.profile.verification
    allowed = set(settings.environment_allowlist)
    values: dict[str, str] = {}
    error = ""
    if settings.dotenv_path:
        path = Path(settings.dotenv_path)
        if path.is_file():
            for name, value in read_dotenv(path).items():
                REDACTOR.register(value)  # every value of the dotenv file is a secret
                if name in allowed:
                    values[name] = value
        else:
            error = f"dotenv_path {path} does not exist"
    for name in allowed:
        if name in environ:
            REDACTOR.register(environ[name])
            values.setdefault(name, environ[name])
    return AllowedEnvironment(values, error)


@dataclass(frozen=True)
class EnvironmentProblem:
    reason: ReasonCode
    message: str


def target_environment_problem(
    target: Target, allowed: AllowedEnvironment
) -> EnvironmentProblem | None:
    """Why the target cannot be verified here, or None (SPEC §4.5, checked before verifying)."""
    platform = current_platform()
    if platform not in target.supported_platforms:
        return EnvironmentProblem(
            ReasonCode.ENV_MISMATCH,
            f"this runner is {platform}; target supports {', '.join(target.supported_platforms)}",
        )
    missing = [name for name in target.required_env_vars if name not in allowed.values]
    if not missing:
        return None
    credential = [name for name in missing if is_registry_credential(name)]
    reason = ReasonCode.REGISTRY_AUTH_MISSING if credential else ReasonCode.ENV_MISMATCH
    return EnvironmentProblem(
        reason,
        f"required variables not available: {', '.join(missing)} (they must be in "
        "verification.environment_allowlist and set in agentd's environment or the dotenv file)",
    )
