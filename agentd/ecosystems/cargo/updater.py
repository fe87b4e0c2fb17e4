"""cargo: `Cargo.lock`, driven by `cargo update -p name@version --precise target`.

`--precise` moves exactly that copy (the `name@version` spec picks one copy when several
major lines are locked) to exactly the target, or fails when a requirement excludes it.
A workspace member's own exact pin (`name = "=1.6.0"`) is then moved to the target, a
manifest change; a dependency of a dependency that pins the old version cannot be fixed
from here and the update is refused with cargo's explanation. cargo resolves from the
index only: nothing is built, no build script runs, and cargo config that names a program,
a registry or a credential is refused before cargo starts (`repo_config`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.repo_config import check_cargo
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    find_executable,
    guarded_update,
    parse_or_refuse,
)
from agentd.vocabulary import ReasonCode

_CARGO_ENV = {"CARGO_TERM_COLOR": "never", "CARGO_TERM_PROGRESS_WHEN": "never"}


def _rustup_home(env: dict[str, str]) -> dict[str, str]:
    """Where rustup keeps the toolchain, when `cargo` is rustup's proxy.

    The updater's HOME is private, so the proxy would find no toolchain; its location
    (not a credential) is taken from agentd's own settings.
    """
    if "RUSTUP_HOME" in env:
        return {}
    cargo = find_executable("cargo", env)
    if cargo is None or Path(cargo).resolve().name != "rustup":
        return {}
    home = os.environ.get("RUSTUP_HOME") or str(Path.home() / ".rustup")
    return {"RUSTUP_HOME": home} if Path(home).is_dir() else {}


def locked_versions(lockfile: Path, display: str, name: str) -> set[str]:
    return {d.version for d in parse_or_refuse(lockfile, display) if d.name == name}


def member_manifests(directory: Path) -> list[Path]:
    """The workspace's Cargo.toml files (build output and VCS metadata left out)."""
    found = []
    for path in sorted(directory.rglob("Cargo.toml")):
        parts = path.relative_to(directory).parts
        if not {"target", ".git", ".cargo"} & set(parts):
            found.append(path)
    return found


def bump_exact_pin(manifest: Path, bump: PackageBump) -> bool:
    """Move `name = "=old"` (or `version = "=old"` in its table) to the target."""
    text = manifest.read_text(encoding="utf-8")
    name = re.escape(bump.name)
    old = re.escape(bump.current_version)
    inline = re.compile(
        rf"""^(?P<lead>[ \t]*["']?{name}["']?[ \t]*=[ \t]*(?:\{{[^}}\n]*?version[ \t]*=[ \t]*)?["']=[ \t]*){old}(?=["'])""",
        re.MULTILINE,
    )
    table = re.compile(
        rf"""(?P<lead>^\[[^\]\n]*dependencies\.{name}\][^\[]*?^[ \t]*version[ \t]*=[ \t]*["']=[ \t]*){old}(?=["'])""",
        re.MULTILINE | re.DOTALL,
    )
    new, count = inline.subn(lambda m: m["lead"] + bump.target_version, text)
    new, more = table.subn(lambda m: m["lead"] + bump.target_version, new)
    if count + more:
        manifest.write_text(new, encoding="utf-8")
    return bool(count + more)


class CargoUpdater:
    name = "cargo"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_cargo(context, {b.manifest_path for b in bumps})
            for display in sorted({b.manifest_path for b in bumps}):
                lockfile = context.file(display)
                members = member_manifests(lockfile.parent)
                guard.add(lockfile, *members)
                manifests += members
                for bump in (b for b in bumps if b.manifest_path == display):
                    notes.append(_update(runner, lockfile, display, members, bump))

        return guarded_update(
            context,
            "cargo",
            {**_CARGO_ENV, **_rustup_home(context.env)},
            body,
            registry_errors=True,
        )


def _precise(runner: ToolRunner, lockfile: Path, bump: PackageBump) -> bool:
    args = ["update", "-p", f"{bump.name}@{bump.current_version}", "--precise", bump.target_version]
    run = runner.run(args, lockfile.parent)
    if run.timed_out:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, "cargo update timed out", runner.tail())
    return run.ok


def _update(
    runner: ToolRunner, lockfile: Path, display: str, members: list[Path], bump: PackageBump
) -> str:
    if bump.current_version not in locked_versions(lockfile, display, bump.name):
        raise UpdateRefused(
            ReasonCode.DEPENDENCY_REMOVED,
            f"{display} no longer locks {bump.name} {bump.current_version}",
        )
    how = "lockfile only"
    if not _precise(runner, lockfile, bump):
        edited = [m for m in members if bump_exact_pin(m, bump)]
        if not edited or not _precise(runner, lockfile, bump):
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"cargo cannot move {bump.name} {bump.current_version} to {bump.target_version}: "
                "a requirement excludes it"
                + ("" if edited else " (not one of the workspace's own exact pins)"),
                runner.tail(),
            )
        how = "exact pin bumped in " + ", ".join(m.name for m in edited)
    versions = locked_versions(lockfile, display, bump.name)
    if bump.current_version in versions or bump.target_version not in versions:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            f"cargo did not lock {bump.name} {bump.target_version} in place of {bump.current_version}",
            runner.tail(),
        )
    return f"{bump.name} {bump.current_version} → {bump.target_version} in {display} ({how})"
