"""Helpers shared by agentd's tests: tool requirements, CLI runner, profile builders."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def require_tool(name: str) -> str:
    """Path of a tool the test needs; skip without it unless AGENTD_REQUIRE_TOOLS=1."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required tool {name!r} is not installed (AGENTD_REQUIRE_TOOLS=1)")
    pytest.skip(f"{name} is not installed")


def run_agentd(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `agentd` command line in a subprocess."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTD_", "GH_", "GITHUB_"))}
    base["AGENTD_LOG_FORMAT"] = "json"
    return subprocess.run(
        [sys.executable, "-m", "agentd", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def base_profile(clone_root: Path, mutation_mode: str = "report_only") -> dict[str, Any]:
    """A small, valid profile: one active repository with two targets, one manual repo."""
    return copy.deepcopy(
        {
            "profile": {
                "profile_id": "acme",
                "owner": "acme-org",
                "owner_type": "org",
                "supported_alert_classes": ["dependabot", "code_scanning", "secret_scanning"],
                "auth": {"github_host": "github.com"},
                "runtime": {"local_clone_root": str(clone_root), "max_parallel_repos": 2},
                "concurrency": {"stale_lock_ttl_seconds": 7200},
                "verification": {"environment_allowlist": ["NPM_TOKEN"]},
                "defaults": {"mutation_mode": mutation_mode, "pr_labels": ["sec-agent"]},
            },
            "repositories": [
                {
                    "repo": "api",
                    "local_path": str(clone_root / "api"),
                    "automation_mode": "active",
                    "targets": [
                        {
                            "target_id": "root",
                            "path": ".",
                            "ecosystems": ["pip"],
                            "verification_commands": ["python -m pytest -q"],
                        },
                        {
                            "target_id": "ui",
                            "path": "ui",
                            "ecosystems": ["npm"],
                            "verification_commands": ["npm ci", "npm test"],
                        },
                    ],
                },
                {
                    "repo": "billing",
                    "local_path": str(clone_root / "billing"),
                    "automation_mode": "manual_only",
                    "manual_only_reason": "change board",
                    "targets": [],
                },
            ],
        }
    )


def write_profile(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
