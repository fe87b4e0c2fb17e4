"""Which pnpm release updates a project, and that it keeps the lockfile's format.

`packageManager: pnpm@<version>` in the project's package.json decides; without it, the
major that writes the lockfile's format (as Dependabot does): `5.3` pnpm 6, `5.4` pnpm 7,
`6.0` pnpm 8, `9.0` pnpm 9. Whatever runs, the lockfile must come out in the format it
went in: a release that would migrate it (a pin newer than the lockfile) is refused,
because that rewrite is the project's decision, not a security fix's.
"""

from __future__ import annotations

import re
from pathlib import Path

from agentd.ecosystems._shared.corepack import Release, pinned_release
from agentd.ecosystems._shared.tooling import UpdateRefused
from agentd.vocabulary import ReasonCode

_FORMAT_MAJOR = {"5.3": 6, "5.4": 7, "6.0": 8, "6.1": 8, "9.0": 9}
_LOCKFILE_VERSION = re.compile(r"^lockfileVersion:[ \t]*['\"]?([0-9.]+)['\"]?[ \t]*$", re.M)


def lockfile_format(lockfile: Path) -> str:
    """The `lockfileVersion` a pnpm-lock.yaml declares ('' when it declares none)."""
    try:
        text = lockfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    match = _LOCKFILE_VERSION.search(text)
    return match.group(1) if match else ""


def choose_release(manifest: Path, lockfile: Path, display: str) -> Release:
    pinned = pinned_release(manifest, "pnpm")
    if pinned is not None:
        return pinned
    found = lockfile_format(lockfile)
    major = _FORMAT_MAJOR.get(found)
    if major is None:
        raise UpdateRefused(
            ReasonCode.UNSUPPORTED_ECOSYSTEM,
            f"{display} has lockfileVersion {found or '(none)'}, which no pnpm release agentd "
            "knows writes; pin the project's pnpm in package.json packageManager",
        )
    return Release("pnpm", str(major), major, f"lockfileVersion {found} in {display}")


def require_format(lockfile: Path, display: str, before: str, release: Release) -> None:
    """Refuse when the run rewrote the lockfile into another format."""
    after = lockfile_format(lockfile)
    if after != before:
        raise UpdateRefused(
            ReasonCode.UNSUPPORTED_ECOSYSTEM,
            f"{release.label} ({release.why}) rewrites {display} from lockfileVersion "
            f"{before} to {after or '(none)'}; a person migrates the lockfile",
        )
