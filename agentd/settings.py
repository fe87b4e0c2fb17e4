"""Settings that live outside the profile: taken from `AGENTD_*` environment variables
(after the settings env file, `agentd.envfile`, has been loaded into the environment)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentd.errors import UsageError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["auto", "human", "json"]


class Settings(BaseSettings):
    """`AGENTD_PROFILES_DIR`, `AGENTD_STATE_DIR`, `AGENTD_LOG_FORMAT`, `AGENTD_API_URL`,
    `AGENTD_GIT_URL`, ..."""

    model_config = SettingsConfigDict(env_prefix="AGENTD_", extra="ignore")

    profiles_dir: Path = Field(default=Path("profiles"))
    state_dir: Path | None = None
    log_format: LogFormat = "auto"
    log_level: LogLevel = "INFO"
    api_url: str | None = None
    # Where git fetches and pushes: a template with {owner} and {repo} (tests, mirrors);
    # default https://{auth.github_host}/{owner}/{repo}.git. Never a clone's configured remote.
    git_url: str | None = None
    metrics_dir: Path | None = None  # node_exporter textfile collector directory
    # The run store (agentd.store): postgresql://… for a fleet; overrides the profile's
    # store_url. It may hold a password (the settings env file is private); never printed.
    store_url: str | None = None
    # How long a coverage probe's "disabled" / "no analysis" is remembered (0: never).
    coverage_memory_hours: float = Field(default=6.0, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _any_case_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


_ALLOWED = {
    "log_level": "debug, info, warning, error (any case)",
    "log_format": ", ".join(get_args(LogFormat)),
}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise UsageError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """One line naming each bad variable, its value and what it may be."""
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "?"
        allowed = _ALLOWED.get(name)
        what = f"use one of {allowed}" if allowed else error["msg"].removeprefix("Value error, ")
        variable = f"AGENTD_{name.upper()}"
        value = os.environ.get(variable, error.get("input"))
        problems.append(f"{variable}={value!r} is invalid: {what}")
    return "; ".join(problems)


def discover_profiles(directory: Path) -> list[Path]:
    """The profile files of a profiles directory: `<id>/profile.yaml` and `<id>.yaml`."""
    candidates = sorted(directory.glob("*/profile.yaml")) + sorted(directory.glob("*.yaml"))
    return [p for p in candidates if p.is_file()]


def profile_ids(directory: Path) -> list[str]:
    """The ids a profiles directory offers to `--profile` (by file name, not loaded)."""
    return sorted(
        {
            p.parent.name if p.name == "profile.yaml" else p.stem
            for p in discover_profiles(directory)
        }
    )


def resolve_profile_path(value: str, settings: Settings) -> Path:
    """`--profile` accepts a path to a profile file (or its directory) or a profile id."""
    candidate = Path(value)
    looks_like_path = "/" in value or value.endswith((".yaml", ".yml")) or candidate.exists()
    if looks_like_path:
        return candidate / "profile.yaml" if candidate.is_dir() else candidate
    for option in (
        settings.profiles_dir / value / "profile.yaml",
        settings.profiles_dir / f"{value}.yaml",
    ):
        if option.is_file():
            return option
    known = profile_ids(settings.profiles_dir)
    close = difflib.get_close_matches(value, known, n=1)
    if close:
        hint = f"did you mean {close[0]!r}? (profiles there: {', '.join(known)})"
    elif known:
        hint = f"profiles there: {', '.join(known)}; or pass a path to a profile file"
    else:
        hint = (
            "pass a path to the profile file, or set AGENTD_PROFILES_DIR to the directory "
            "that holds <id>/profile.yaml"
        )
    raise UsageError(
        f"no profile {value!r} in {settings.profiles_dir.resolve()} "
        f"(looked for {value}/profile.yaml and {value}.yaml)",
        hint,
    )
