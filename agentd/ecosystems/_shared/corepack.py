"""Running the project's own JS package manager release through corepack.

A lockfile is only as readable as the release that wrote it: pnpm 9+ rewrites a 6.0
lockfile, pnpm 11+ fails on a `packageManager: pnpm@8.14.0` project, and a yarn or npm
major changes its lockfile's shape. So the updaters run `corepack <manager>@<version>`
in the project directory: the exact release `packageManager` in package.json pins
(`pnpm@8.14.0`, with or without its `+sha512.<hex>` integrity, which corepack checks),
else a release of the major the lockfile's format belongs to (`pnpm@8`: the newest one
corepack already holds, else the registry's newest).

agentd names the release itself (`COREPACK_ENABLE_PROJECT_SPEC=0`), so corepack never
acts on what the repository asks for beyond that: not a `.corepack.env` file (which
could point it at another registry, `COREPACK_ENV_FILE=0`), not a URL in
`packageManager` (refused here), never a rewrite of package.json (`AUTO_PIN=0`), never
a prompt. Its downloads go to the operator's `COREPACK_HOME` when allowlisted (shared
between units), else to the unit's private home; `COREPACK_NPM_REGISTRY` and
`COREPACK_INTEGRITY_KEYS` from the allowlist reach it as they are. Without corepack, the
manager on PATH runs when its major is the one needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agentd.ecosystems._shared.interface import UpdateContext
from agentd.ecosystems._shared.nodejs import PackageJson
from agentd.ecosystems._shared.tooling import ToolRun, ToolRunner, UpdateRefused, find_executable
from agentd.vocabulary import ReasonCode

COREPACK = "corepack"
_PIN = re.compile(
    r"^(?P<name>[a-z]+)@(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"
    r"(?:\+(?P<hash>[a-z0-9]+\.[0-9a-fA-F]+))?$"
)
_VERSION = re.compile(r"^v?(\d+)\.\d+\.\d+\S*$")


@dataclass(frozen=True)
class Release:
    """The package manager release an update runs, and why that one."""

    name: str  # pnpm | npm | yarn
    spec: str  # `8.14.0+sha512.<hex>` (a pin) or `8` (a major, see above)
    major: int
    why: str  # "packageManager in package.json" | "lockfileVersion 6.0"

    @property
    def label(self) -> str:
        return f"{self.name}@{self.spec.split('+', 1)[0]}"


def pinned_release(manifest: Path, name: str) -> Release | None:
    """The release package.json's `packageManager` pins, when it names this manager."""
    value = PackageJson.load(manifest).data.get("packageManager")
    if value is None:
        return None
    match = _PIN.match(value) if isinstance(value, str) else None
    if match is None:
        raise UpdateRefused(
            ReasonCode.UNSUPPORTED_ECOSYSTEM,
            f"{manifest.name} packageManager {str(value)[:80]!r} is not <manager>@<exact "
            "version>; corepack cannot run it",
        )
    if match["name"] != name:
        return None
    spec = match["version"] + (f"+{match['hash']}" if match["hash"] else "")
    major = int(match["version"].split(".", 1)[0])
    return Release(name, spec, major, f"packageManager in {manifest.name}")


def corepack_env(context: UpdateContext) -> dict[str, str]:
    """What corepack needs in the scrubbed environment (see the module docstring)."""
    home = context.env.get("COREPACK_HOME") or str(context.home / "corepack")
    return {
        "COREPACK_HOME": home,
        "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
        "COREPACK_ENABLE_PROJECT_SPEC": "0",
        "COREPACK_ENABLE_AUTO_PIN": "0",
        "COREPACK_ENV_FILE": "0",
        "COREPACK_ENABLE_UNSAFE_CUSTOM_URLS": "0",
    }


def runner_tool(env: dict[str, str], fallback: str) -> str:
    """corepack when installed, else the manager itself on PATH."""
    return COREPACK if find_executable(COREPACK, env) else fallback


@dataclass
class Manager:
    """One release of a package manager, run through corepack or from PATH."""

    runner: ToolRunner
    release: Release
    version: str = ""  # what `--version` reported

    @property
    def prefix(self) -> list[str]:
        if self.runner.tool == COREPACK:
            return [f"{self.release.name}@{self.release.spec}"]
        return []

    def run(self, args: Iterable[str], cwd: Path) -> ToolRun:
        return self.runner.run([*self.prefix, *args], cwd)

    def start(self, cwd: Path) -> None:
        """Fetch (corepack) and ask the release for its version, in the project
        directory; refuse when it cannot run or is not the major needed."""
        run = self.runner.check(
            [*self.prefix, "--version"],
            cwd,
            reason=ReasonCode.VERIFICATION_UNAVAILABLE,
            what=f"starting {self.release.label} ({self.release.why})",
        )
        lines = run.output.strip().splitlines()
        match = _VERSION.match(lines[-1].strip()) if lines else None
        if match is None or int(match.group(1)) != self.release.major:
            found = lines[-1].strip()[:40] if lines else "nothing"
            raise UpdateRefused(
                ReasonCode.VERIFICATION_UNAVAILABLE,
                f"{self.release.name} {self.release.major} is needed ({self.release.why}), "
                f"but `{run.command}` reported {found}; install corepack so agentd can run "
                f"{self.release.label}",
                self.runner.tail(),
            )
        self.version = lines[-1].strip().removeprefix("v")

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0]) if self.version else self.release.major
