"""Settings that live outside the profile: taken from `AGENTD_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentd.errors import UsageError


class Settings(BaseSettings):
    """`AGENTD_PROFILES_DIR`, `AGENTD_STATE_DIR`, `AGENTD_LOG_FORMAT`, `AGENTD_API_URL`,
    `AGENTD_GIT_URL`, ..."""

    model_config = SettingsConfigDict(env_prefix="AGENTD_", extra="ignore")

    profiles_dir: Path = Field(default=Path("profiles"))
    state_dir: Path | None = None
    log_format: Literal["auto", "human", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    api_url: str | None = None
    # Where git fetches and pushes: a template with {owner} and {repo} (tests, mirrors);
    # default https://{auth.github_host}/{owner}/{repo}.git. Never a clone's configured remote.
    git_url: str | None = None
    metrics_dir: Path | None = None  # node_exporter textfile collector directory


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise UsageError(
            f"invalid AGENTD_* environment setting: {exc}",
            "fix or unset the variable named above",
        ) from None


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
    raise UsageError(
        f"no profile {value!r} in {settings.profiles_dir.resolve()} "
        f"(looked for {value}/profile.yaml and {value}.yaml)",
        "pass a path to the profile file, or set AGENTD_PROFILES_DIR to the directory "
        "that holds <id>/profile.yaml",
    )
