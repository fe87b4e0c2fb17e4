"""Where an in-range update landed a package, and whether it brought a new risk with it.

An update of a vulnerable copy's dependents re-resolves them (and what they newly need)
to the newest versions their ranges admit, so a copy can land above its target, and a
newer dependent may bring another version of the same package. The updater does not see
the advisories, only each bump's vulnerable version and the smallest fixed one, so a
version that appears is accepted only with evidence that it is fixed: at least the
target of a bump in its own major line, else at least a version of that line the unit
left alone (not vulnerable). Anything else — an older release of a patched line, a major
line the lockfile never held — counts as a possible new vulnerability (a full refresh can
bring an exact `semver 7.0.0` from a newer parent; a targeted update must not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import semver

from agentd.ecosystems._shared.interface import PackageBump
from agentd.ecosystems._shared.npmsemver import parse_version


def same_line(a: str, b: str) -> bool:
    """Same major line (for 0.x: same minor, as caret ranges read it)."""
    left, right = parse_version(a), parse_version(b)
    if left is None or right is None or left.major != right.major:
        return False
    return left.major > 0 or left.minor == right.minor


def _at_least(version: semver.Version, floors: Iterable[str], pick: str) -> bool | None:
    parsed = [p for p in (parse_version(f) for f in floors) if p is not None]
    if not parsed:
        return None
    floor = max(parsed) if pick == "max" else min(parsed)
    return version.compare(floor) >= 0


def possibly_vulnerable(
    bumps: Iterable[PackageBump], before: Mapping[str, set[str]], after: Mapping[str, set[str]]
) -> list[str]:
    """`name version` of every version of a bumped package that appeared without evidence
    it is fixed (see the module docstring)."""
    by_name: dict[str, list[PackageBump]] = {}
    for bump in bumps:
        by_name.setdefault(bump.name, []).append(bump)
    found = []
    for name, own in sorted(by_name.items()):
        vulnerable = {b.current_version for b in own}
        left_alone = before.get(name, set()) - vulnerable
        for version in sorted(after.get(name, set()) - before.get(name, set())):
            parsed = parse_version(version)
            if parsed is None:
                found.append(f"{name} {version}")
                continue
            targets = [b.target_version for b in own if same_line(b.target_version, version)]
            safe = _at_least(parsed, targets, "max")
            if safe is None:
                safe = _at_least(parsed, [v for v in left_alone if same_line(v, version)], "min")
            if not safe:
                found.append(f"{name} {version}")
    return found


def landed_note(bump: PackageBump, landed: Iterable[str], how: str) -> str:
    """One PR-body line for a fixed bump: where it landed and how."""
    versions = sorted(set(landed), key=lambda v: (parse_version(v) is None, v))
    where = f"in {bump.manifest_path}"
    if not versions:
        return f"{bump.name} {bump.current_version} removed from {bump.manifest_path} ({how})"
    return f"{bump.name} {bump.current_version} → {', '.join(versions)} {where} ({how})"
