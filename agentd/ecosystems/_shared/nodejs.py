"""What the npm, pnpm and yarn updaters share: package.json edits and lockfile checks.

The JS package managers take the newest version a range admits (`npm update`, `pnpm
update`, `yarn up`); to lock exactly the smallest fix without touching a manifest, npm
and pnpm pin the vulnerable copies to the target for one run of the tool (an override
keyed by the vulnerable version, or an exact spec), then take the pin away and run the
tool again. The package manager keeps a locked version that still satisfies every
dependent's range, so what stays is a lockfile-only change; a copy whose dependent's
range excludes the target falls back to the vulnerable version, and that is how the
updater learns a manifest change is needed (yarn reaches the same state differently,
see `yarn`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentd import ecosystems
from agentd.ecosystems._shared.interface import PackageBump
from agentd.ecosystems._shared.npmsemver import parse_version, satisfies
from agentd.ecosystems._shared.tooling import UpdateRefused
from agentd.vocabulary import ReasonCode

DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")
_SIMPLE_SPEC = re.compile(r"^(?P<prefix>\^|~|=|v)?\d+(\.\d+){0,2}([-+][0-9A-Za-z.+-]*)?$")
_INDENT = re.compile(r"^(?P<indent>[ \t]+)\"", re.MULTILINE)


@dataclass
class PackageJson:
    """A package.json, rewritten with the file's own indentation and final newline."""

    path: Path
    data: dict[str, Any]
    indent: str
    final_newline: bool

    @classmethod
    def load(cls, path: Path) -> PackageJson:
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED, f"cannot read {path.name}: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"{path.name} is not an object")
        match = _INDENT.search(text)
        return cls(path, data, match["indent"] if match else "  ", text.endswith("\n"))

    def dumps(self) -> str:
        text = json.dumps(self.data, indent=self.indent, ensure_ascii=False)
        return text + ("\n" if self.final_newline else "")

    def save(self) -> None:
        self.path.write_text(self.dumps(), encoding="utf-8")

    def declared(self, name: str) -> list[tuple[str, str]]:
        """(section, spec) for every section that declares the package."""
        found = []
        for section in DEPENDENCY_SECTIONS:
            spec = _as_dict(self.data.get(section)).get(name)
            if isinstance(spec, str):
                found.append((section, spec))
        return found

    def set_spec(self, section: str, name: str, spec: str) -> None:
        self.data[section][name] = spec

    def section(self, *keys: str) -> dict[str, Any]:
        """A nested object (created when missing), e.g. `section("pnpm", "overrides")`."""
        node = self.data
        for key in keys:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        return node


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def bumped_spec(spec: str, target: str) -> str:
    """The smallest edit of a declared range that admits the target version."""
    match = _SIMPLE_SPEC.match(spec.strip())
    if match and match["prefix"] in ("^", "~"):
        return f"{match['prefix']}{target}"
    return target


def accepts(spec: str, version: str) -> bool:
    """Whether a declared spec admits the version (an unreadable spec does not)."""
    return satisfies(version, spec.removeprefix("npm:")) is True


def bump_declared_ranges(manifests: list[Path], bumps: list[PackageBump]) -> list[str]:
    """Bump every declared range that admits the vulnerable version but not the fix."""
    notes = []
    for manifest in manifests:
        package = PackageJson.load(manifest)
        edited = False
        for bump in bumps:
            for section, spec in package.declared(bump.name):
                if accepts(spec, bump.current_version) and not accepts(spec, bump.target_version):
                    package.set_spec(section, bump.name, bumped_spec(spec, bump.target_version))
                    notes.append(note(bump, f"{section} range in {manifest.name} bumped"))
                    edited = True
        if edited:
            package.save()
    return notes


def override_key(bump: PackageBump) -> str:
    """An override selector for exactly the vulnerable version (never another major line)."""
    return f"{bump.name}@{bump.current_version}"


def mentions(overrides: dict[str, Any], name: str) -> list[str]:
    """Top-level override keys that already select this package."""
    return [key for key in overrides if key == name or key.startswith(f"{name}@")]


def locked_versions(lockfile: Path, display: str, name: str) -> set[str]:
    """Every version of a package a lockfile holds (refusing an unreadable lockfile)."""
    try:
        return versions_in(display, lockfile.read_bytes(), name)
    except OSError as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"the tool left {display} unreadable: {exc}"
        ) from None


def versions_in(display: str, content: bytes, name: str) -> set[str]:
    """Every version of a package a lockfile's content holds (refusing unreadable content)."""
    try:
        dependencies = ecosystems.parse_dependency_file(display, content)
    except ecosystems.DepfileError as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"the tool left {display} unreadable: {exc}"
        ) from None
    return {d.version for d in dependencies if d.name == name}


def survivors(lockfile: Path, display: str, bumps: list[PackageBump]) -> list[PackageBump]:
    """The bumps whose vulnerable version is still locked."""
    return [
        bump
        for bump in bumps
        if bump.current_version in locked_versions(lockfile, display, bump.name)
    ]


def require_locked(lockfile: Path, display: str, bumps: list[PackageBump]) -> None:
    """Refuse a bump whose vulnerable version the lockfile no longer holds."""
    for bump in bumps:
        if bump.current_version not in locked_versions(lockfile, display, bump.name):
            raise UpdateRefused(
                ReasonCode.DEPENDENCY_REMOVED,
                f"{display} no longer locks {bump.name} {bump.current_version}",
            )


def require_targets(lockfile: Path, display: str, bumps: list[PackageBump], tail: str) -> None:
    """Refuse when the tool finished without locking every target version."""
    missing = [
        bump
        for bump in bumps
        if bump.target_version not in locked_versions(lockfile, display, bump.name)
    ]
    if missing:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            f"{display} does not lock "
            + ", ".join(f"{b.name} {b.target_version}" for b in missing)
            + " after the update",
            tail,
        )


def note(bump: PackageBump, how: str) -> str:
    return f"{bump.name} {bump.current_version} → {bump.target_version} in {bump.manifest_path} ({how})"


def quiet_npm_env() -> dict[str, str]:
    """npm-config settings every JS package manager honours: no scripts, no side trips."""
    return {
        "npm_config_ignore_scripts": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
        "npm_config_progress": "false",
    }


def short_of_target(bump: PackageBump, versions: set[str], before: set[str]) -> list[str]:
    """Versions the update added between the vulnerable one and the fix: not a fix.

    A bump's target is the smallest fixed version; an update of a dependent may land the
    package above it, which is fine, or on a newer release still below it, which is not.
    (The engine re-checks every locked version against the advisories afterwards.)"""
    low, high = parse_version(bump.current_version), parse_version(bump.target_version)
    short = []
    for version in sorted(versions - before):
        parsed = parse_version(version)
        if parsed is None or low is None or high is None or low < parsed < high:
            short.append(version)  # a version agentd cannot order is no proven fix
    return short


def require_reached(
    lockfile: Path, display: str, bumps: list[PackageBump], before: dict[str, set[str]], tail: str
) -> None:
    """Refuse when a bump the update claims is not reached: its vulnerable version is still
    locked, or the version that replaced it is below the fix."""
    missing = []
    for bump in bumps:
        versions = locked_versions(lockfile, display, bump.name)
        short = short_of_target(bump, versions, before.get(bump.name, set()))
        if bump.current_version in versions or short:
            missing.append(f"{bump.name} {', '.join(short) or bump.current_version}")
    if missing:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            f"{display} still locks {', '.join(missing)} below the fix after the update",
            tail,
        )
