"""yarn releases for tests: yarn 1 on PATH, and a berry release a fixture pins (yarnPath).

Berry projects usually commit their release and point `yarnPath` at it; the tests do the
same with a release installed on the machine, so no test downloads yarn.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import require_tool

BERRY_ENV = "AGENTD_TEST_YARN_BERRY"
DEFAULT_BERRY = Path("/opt/yarn-berry/node_modules/@yarnpkg/cli-dist/bin/yarn.js")
BERRY_RELEASE = ".yarn/releases/yarn-berry.cjs"


def _missing(what: str) -> None:
    if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{what} (AGENTD_REQUIRE_TOOLS=1)")
    pytest.skip(what)


def require_yarn_classic() -> str:
    path = require_tool("yarn")
    version = subprocess.run(
        [path, "--version"], capture_output=True, text=True, cwd="/", check=False
    ).stdout.strip()
    if not version.startswith("1."):
        _missing(f"yarn on PATH is {version or 'unknown'}, the tests need yarn 1 (classic)")
    return path


def require_berry_release() -> Path:
    """A yarn berry release (a single JS file), from AGENTD_TEST_YARN_BERRY or /opt."""
    candidate = Path(os.environ.get(BERRY_ENV) or DEFAULT_BERRY)
    if not candidate.is_file():
        _missing(f"no yarn berry release at {candidate} (set {BERRY_ENV})")
    return candidate


def write_berry_project(directory: Path, release: Path) -> None:
    """Pin the berry release (scripts not disabled here: turning them off is the updater's
    job; the registry comes from the environment, see `npm.registry_env`)."""
    target = directory / BERRY_RELEASE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(release, target)
    (directory / ".yarnrc.yml").write_text(f"yarnPath: {BERRY_RELEASE}\nenableTelemetry: false\n")


def project_files(directory: Path) -> dict[str, str]:
    """A fixture project's files for a simulator scenario (install state left out)."""
    return {
        p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "install-state.gz" and "node_modules" not in p.parts
    }
