"""go: `go.mod` + `go.sum`, driven by `go get module@version` and `go mod tidy`.

Go has no separate lockfile: `go.mod` is the manifest and, through its `// indirect`
requirements, the record of every other module version the build selects. A fix that
only moves `// indirect` requirements (and go.sum) is the lockfile-only case; a fix that
moves a direct requirement, or any other directive (`go`, `toolchain`, `replace`), is a
manifest change.

Every run uses `GOFLAGS=-mod=mod` (plus the allowlisted GOFLAGS), `GOTOOLCHAIN=local`
(never download a toolchain) and `-modcacherw` (the private module cache can be deleted),
with GOPROXY/GONOSUMDB/GOPRIVATE as the profile allowlists them; the checksum database
stays on unless the profile says otherwise. `go get` and `go mod tidy` never run code
from the modules.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    guarded_update,
    parse_or_refuse,
)
from agentd.vocabulary import ReasonCode

_REQUIRE = re.compile(r"^(?P<module>\S+)\s+(?P<version>v\S+)(?P<comment>\s*//.*)?$")


def go_env(env: dict[str, str]) -> dict[str, str]:
    flags = env.get("GOFLAGS", "").split()
    flags = [f for f in flags if not f.startswith("-mod=")] + ["-mod=mod", "-modcacherw"]
    return {"GOFLAGS": " ".join(dict.fromkeys(flags)), "GOTOOLCHAIN": "local"}


def go_version(text: str) -> str:
    return text if text.startswith("v") else f"v{text}"


@dataclass(frozen=True)
class GoModShape:
    """What a go.mod says, split into direct requirements and everything else."""

    direct: dict[str, str]
    indirect: dict[str, str]
    other: Counter[str]  # every non-require directive line

    @classmethod
    def parse(cls, text: str) -> GoModShape:
        direct: dict[str, str] = {}
        indirect: dict[str, str] = {}
        other: Counter[str] = Counter()
        in_require = False
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("//"):
                continue
            if in_require:
                if line == ")":
                    in_require = False
                    continue
                cls._requirement(line, direct, indirect)
            elif line.startswith("require ("):
                in_require = True
            elif line.startswith("require "):
                cls._requirement(line.removeprefix("require ").strip(), direct, indirect)
            else:
                other[re.sub(r"\s+", " ", line)] += 1
        return cls(direct, indirect, other)

    @staticmethod
    def _requirement(line: str, direct: dict[str, str], indirect: dict[str, str]) -> None:
        match = _REQUIRE.match(line)
        if match is None:
            return
        is_indirect = "indirect" in (match["comment"] or "")
        (indirect if is_indirect else direct)[match["module"]] = match["version"]

    def manifest_changed(self, after: GoModShape) -> bool:
        return self.direct != after.direct or self.other != after.other


class GoModUpdater:
    name = "go"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            for display in sorted({b.manifest_path for b in bumps}):
                gomod = context.file(display)
                guard.add(gomod, gomod.parent / "go.sum")
                file_bumps = [b for b in bumps if b.manifest_path == display]
                manifest_change, file_notes = _update(runner, gomod, display, file_bumps)
                notes += file_notes
                if manifest_change:
                    manifests.append(gomod)

        return guarded_update(context, "go", go_env(context.env), body, registry_errors=True)


def _required(gomod: Path, display: str) -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for dependency in parse_or_refuse(gomod, display):
        versions.setdefault(dependency.name, set()).add(dependency.version)
    return versions


def _update(
    runner: ToolRunner, gomod: Path, display: str, bumps: list[PackageBump]
) -> tuple[bool, list[str]]:
    before_text = gomod.read_text(encoding="utf-8")
    required = _required(gomod, display)
    for bump in bumps:
        if bump.current_version not in required.get(bump.name, set()):
            raise UpdateRefused(
                ReasonCode.DEPENDENCY_REMOVED,
                f"{display} no longer requires {bump.name} {bump.current_version}",
            )
    targets = [f"{b.name}@{go_version(b.target_version)}" for b in bumps]
    runner.check(
        ["get", *targets], gomod.parent, reason=ReasonCode.VERIFICATION_FAILED, what="go get"
    )
    runner.check(
        ["mod", "tidy"], gomod.parent, reason=ReasonCode.VERIFICATION_FAILED, what="go mod tidy"
    )
    after = _required(gomod, display)
    wrong = [
        b
        for b in bumps
        if b.current_version in after.get(b.name, set())
        or go_version(b.target_version) not in after.get(b.name, set())
    ]
    if wrong:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            "go did not select "
            + ", ".join(f"{b.name} {go_version(b.target_version)}" for b in wrong)
            + " (another requirement selects a different version, or a replace directive applies)",
            runner.tail(),
        )
    changed = GoModShape.parse(before_text).manifest_changed(
        GoModShape.parse(gomod.read_text(encoding="utf-8"))
    )
    how = "direct requirement: manifest change" if changed else "indirect requirement"
    return changed, [
        f"{b.name} {b.current_version} → {go_version(b.target_version)} in {display} ({how})"
        for b in bumps
    ]
