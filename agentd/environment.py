"""The verification environment of SPEC §4.5: which variables a target may see.

Values come from names in `verification.environment_allowlist`, read from agentd's own
environment or from the profile's `dotenv_path` file, and every secret among them is
registered with the redactor the moment it is read.

Two kinds of settings pass from agentd's own environment without being allowlisted, so
agentd works behind a corporate CA or proxy without profile changes:
- certificate settings (`CERTIFICATE_VARIABLES`): paths to CA bundles, not secrets, never
  redacted;
- proxy settings (`PROXY_VARIABLES`): a proxy URL's `user:password@` is a credential, so it
  is removed (and redacted) unless the operator allowlists the variable, which passes the
  URL whole, as a secret like any allowlisted value.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from agentd.envfile import read_dotenv
from agentd.log import get_logger
from agentd.profile import Profile, Target
from agentd.redaction import REDACTOR
from agentd.vocabulary import ReasonCode

log = get_logger("environment")

CERTIFICATE_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "CARGO_HTTP_CAINFO",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
)
PROXY_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy",
)  # fmt: skip
_USERINFO = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?(?P<userinfo>[^@/]*)@(?P<rest>.*)$"
)

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
    """Allowlisted names with their values, from the process environment or the dotenv file,
    then the certificate and proxy settings of agentd's own environment."""
    settings = profile.profile.verification
    allowed = set(settings.environment_allowlist)
    values: dict[str, str] = {}
    error = ""
    if settings.dotenv_path:
        path = Path(settings.dotenv_path)
        if path.is_file():
            for name, value in read_dotenv(path).items():
                _register_secret(name, value)  # every value of the file but a CA path
                if name in allowed:
                    values[name] = value
        else:
            error = f"dotenv_path {path} does not exist"
    for name in allowed:
        if name in environ:
            _register_secret(name, environ[name])
            values.setdefault(name, environ[name])
    for name, value in passthrough_environment(environ, allowed).items():
        values.setdefault(name, value)
    return AllowedEnvironment(values, error)


def passthrough_environment(
    environ: Mapping[str, str], allowlisted: Collection[str] = ()
) -> dict[str, str]:
    """Certificate and proxy settings of agentd's environment, proxy credentials removed
    (an allowlisted proxy variable is the operator's to pass whole: not here)."""
    values = {name: environ[name] for name in CERTIFICATE_VARIABLES if environ.get(name)}
    for name in PROXY_VARIABLES:
        value = environ.get(name)
        if not value or name in allowlisted:
            continue
        match = _USERINFO.match(value)
        if match is not None:
            _register_secret(name, value)
            log.warning(
                "%s carries credentials: passed to tools without them; allowlist %s in "
                "verification.environment_allowlist to pass them",
                name,
                name,
            )
            value = (match["scheme"] or "") + match["rest"]
        values[name] = value
    return values


def _register_secret(name: str, value: str) -> None:
    """Mask a value read for tools, unless it is a certificate setting or a proxy URL
    without credentials (then only its credentials are masked)."""
    if name in CERTIFICATE_VARIABLES:
        return
    if name in PROXY_VARIABLES:
        match = _USERINFO.match(value)
        if match is not None:
            REDACTOR.register(match["userinfo"])
            REDACTOR.register(match["userinfo"].partition(":")[2])
            REDACTOR.register(value)
        return
    REDACTOR.register(value)


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
