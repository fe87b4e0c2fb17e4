"""Real pnpm releases for corepack, served by the local npm registry.

The pnpm updater runs the project's own pnpm release through corepack, which fetches it
from `COREPACK_NPM_REGISTRY`. `.ci/run` packs the releases the tests pin into
/opt/pnpm-releases (`AGENTD_PNPM_RELEASES` points elsewhere); without them the tests that
need them are skipped, or fail under AGENTD_REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support import require_tool

from ecosystems.registries.npm import NpmRegistry

PNPM_8 = "8.15.9"
PNPM_9 = "9.15.9"
PNPM_10 = "10.34.8"
RELEASES = Path(os.environ.get("AGENTD_PNPM_RELEASES", "/opt/pnpm-releases"))


def release_tarball(version: str) -> Path:
    return RELEASES / f"pnpm-{version}.tgz"


def require_pnpm_releases(*versions: str) -> None:
    """corepack, and the pnpm release tarballs the test serves; skip (or fail) without."""
    require_tool("corepack")
    missing = [v for v in versions if not release_tarball(v).is_file()]
    if not missing:
        return
    why = (
        f"pnpm release tarballs {', '.join(missing)} are not in {RELEASES} "
        f"(`npm pack pnpm@<version> --pack-destination {RELEASES}`, as .ci/run does)"
    )
    if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def serve_pnpm(registry: NpmRegistry, *versions: str) -> NpmRegistry:
    require_pnpm_releases(*versions)
    for version in versions:
        registry.add_tarball(release_tarball(version))
    return registry


def sha512_pin(version: str) -> str:
    """`pnpm@<version>+sha512.<hex>`, as `corepack use` writes packageManager."""
    digest = hashlib.sha512(release_tarball(version).read_bytes()).hexdigest()
    return f"pnpm@{version}+sha512.{digest}"


def corepack_settings(url: str, home: Path) -> dict[str, str]:
    """The operator's corepack settings: the local registry, a shared COREPACK_HOME, and
    no npm signature check (the served tarballs carry no registry signatures)."""
    return {
        "COREPACK_NPM_REGISTRY": url.rstrip("/"),
        "COREPACK_INTEGRITY_KEYS": "0",
        "COREPACK_HOME": str(home),
    }
