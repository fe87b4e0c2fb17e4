"""What the uv and poetry updaters share: lockfile checks and pyproject.toml range bumps.

A PEP 508 requirement that pins the vulnerable version (`requests==2.25.0`, or a range
whose upper bound excludes the fix) is rewritten in place, keeping its extras and
markers and every other byte of the file: an `==` pin moves to the fixed version; other
ranges keep the clauses that admit it and gain `>=fixed`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from agentd.ecosystems._shared.interface import PackageBump
from agentd.ecosystems._shared.tooling import UpdateRefused, parse_or_refuse
from agentd.vocabulary import ReasonCode


def locked_versions(lockfile: Path, display: str, name: str) -> set[str]:
    wanted = canonicalize_name(name)
    found = parse_or_refuse(lockfile, display)
    return {d.version for d in found if canonicalize_name(d.name) == wanted}


def require_locked(lockfile: Path, display: str, bumps: list[PackageBump]) -> None:
    for bump in bumps:
        if bump.current_version not in locked_versions(lockfile, display, bump.name):
            raise UpdateRefused(
                ReasonCode.DEPENDENCY_REMOVED,
                f"{display} no longer locks {bump.name} {bump.current_version}",
            )


def unfixed(lockfile: Path, display: str, bumps: list[PackageBump]) -> list[PackageBump]:
    """Bumps whose vulnerable version is still locked, or whose target is not."""
    left = []
    for bump in bumps:
        versions = locked_versions(lockfile, display, bump.name)
        if bump.current_version in versions or bump.target_version not in versions:
            left.append(bump)
    return left


def describe(bumps: list[PackageBump]) -> str:
    return ", ".join(f"{b.name} {b.current_version} → {b.target_version}" for b in bumps)


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _requirement_strings(data: dict[str, Any]) -> Iterator[str]:
    project = _table(data.get("project"))
    groups: list[Any] = [project.get("dependencies")]
    groups += list(_table(project.get("optional-dependencies")).values())
    groups += list(_table(data.get("dependency-groups")).values())
    groups.append(_table(_table(data.get("tool")).get("uv")).get("dev-dependencies"))
    for group in groups:
        for item in group if isinstance(group, list) else []:
            if isinstance(item, str):
                yield item


def _bumped_specifier(specifier: SpecifierSet, target: str) -> str:
    if any(spec.operator in ("==", "===") for spec in specifier):
        return f"=={target}"
    kept = [str(spec) for spec in specifier if spec.contains(target, prereleases=True)]
    kept = [clause for clause in kept if not clause.startswith((">=", ">", "~="))]
    return ",".join([f">={target}", *kept])


def bumped_requirement(text: str, bump: PackageBump) -> str | None:
    """The requirement rewritten to admit the target, or None when it needs no change."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    if canonicalize_name(requirement.name) != canonicalize_name(bump.name):
        return None
    specifier = requirement.specifier
    if specifier.contains(bump.target_version, prereleases=True) or not specifier.contains(
        bump.current_version, prereleases=True
    ):
        return None
    try:
        new = SpecifierSet(_bumped_specifier(specifier, bump.target_version))
    except InvalidSpecifier:
        return None
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = " ;" + text.split(";", 1)[1] if requirement.marker else ""  # kept verbatim
    return f"{requirement.name}{extras}{new}{marker}"


def _quoted(new: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"{match[1]}{new}{match[1]}"

    return replace


def bump_pep508_requirements(pyproject: Path, bumps: list[PackageBump]) -> list[str]:
    """Rewrite, in place, every PEP 508 requirement that excludes a bump's target."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"pyproject.toml: {exc}") from None
    changes = []
    for requirement in set(_requirement_strings(data)):
        for bump in bumps:
            new = bumped_requirement(requirement, bump)
            if new is None:
                continue
            pattern = re.compile(r"([\"'])" + re.escape(requirement) + r"\1")
            text, count = pattern.subn(_quoted(new), text)
            if count:
                changes.append(f"{requirement} → {new}")
    if changes:
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"rewriting the requirements would break pyproject.toml ({exc}); "
                f"a person makes: {'; '.join(changes)}",
            ) from None
        pyproject.write_text(text, encoding="utf-8")
    return changes
