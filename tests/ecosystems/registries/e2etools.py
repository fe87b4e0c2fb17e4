"""Building blocks for updater end-to-end tests: scenarios and an offline profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from e2e import E2E, verify_ok
from support import require_tool

from ecosystems.registries.toolenv import OFFLINE

LOCKFILE_RULE = {"allow_lockfile_only": True, "forbid_manifest_changes": True}
REVIEW_MANIFESTS_RULE = {"allow_lockfile_only": True, "forbid_manifest_changes": False}


def repo(name: str, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A repository whose required check is green: a clean fix can merge unattended."""
    return {
        "name": name,
        "files": files,
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
        **extra,
    }


def scenario(*repos: dict[str, Any], advisory_dirs: list[Path] | None = None) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "extra_advisory_dirs": [str(d) for d in advisory_dirs or []],
        "repositories": list(repos),
    }


def target(ecosystem: str, path: str = ".", target_id: str = "root") -> dict[str, Any]:
    return {
        "target_id": target_id,
        "path": path,
        "ecosystems": [ecosystem],
        "verification_commands": [verify_ok()],
    }


def configure(
    env: E2E,
    rules: dict[str, dict[str, bool]],
    allowed: dict[str, str],
    sandbox: str | None = None,
) -> None:
    """Add ecosystem rules, and give updaters (only) the registry settings and proxy trap.

    The values go through the profile's dotenv file, so agentd's own process (and its
    git and GitHub traffic) never sees them: only the scrubbed updater and verification
    environments do. `sandbox` sets `verification.sandbox` (else the profile default).
    """
    profile = yaml.safe_load(env.profile_path.read_text(encoding="utf-8"))
    values = {**OFFLINE, **allowed}
    dotenv = env.root / "updaters.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    profile["profile"]["verification"] = {
        "environment_allowlist": sorted(values),
        "dotenv_path": str(dotenv),
    }
    if sandbox is not None:
        if sandbox != "none":
            require_tool("bwrap")
        profile["profile"]["verification"]["sandbox"] = sandbox
    profile["profile"]["defaults"]["auto_merge"]["ecosystem_rules"].update(rules)
    env.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")


def the_unit(env: E2E, summary: dict[str, Any], repository: str) -> dict[str, Any]:
    units = env.units(summary, alert_class="dependabot", repository=repository)
    assert len(units) == 1, units
    return units[0]


def explain(unit: dict[str, Any]) -> tuple[Any, ...]:
    return (unit["outcome"], unit["reason_code"], unit["remaining_blocker"], unit["detail"])


def file_on_main(env: E2E, repository: str, path: str) -> str:
    import subprocess

    return subprocess.run(
        ["git", "--git-dir", str(env.sim.remote_path(repository)), "show", f"main:{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
