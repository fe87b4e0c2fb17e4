"""Version ordering, GitHub's vulnerable ranges, and fix-version selection (SPEC §7).

Ordering follows each ecosystem's own rules: PEP 440 (`packaging`) for pip, semver (the
`semver` package) for npm, cargo and go (Go's `v` prefix, pseudo-versions and
`+incompatible` included). GitHub's `vulnerable_version_range` syntax (`>= 4.3.0, < 4.3.5`)
is parsed once for all ecosystems. Hostile input (garbage, NUL bytes, huge strings) is
refused with `VersionError` / `RangeError`, never another exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any

import semver
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440

MAX_TEXT = 256
PEP440_ECOSYSTEMS = frozenset({"pip"})
SEMVER_ECOSYSTEMS = frozenset({"npm", "rust", "go"})
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "=")
_SEMVER_LOOSE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


class VersionError(ValueError):
    pass


class RangeError(ValueError):
    pass


class UnsupportedEcosystem(ValueError):
    pass


def _check_text(text: str, what: str, error: type[ValueError]) -> str:
    if not isinstance(text, str):
        raise error(f"{what} must be text")
    if len(text) > MAX_TEXT or "\x00" in text or not text.strip():
        raise error(f"{what} is empty, too long or contains control characters")
    if any(ord(ch) < 32 for ch in text):
        raise error(f"{what} contains control characters")
    return text.strip()


@total_ordering
@dataclass(frozen=True)
class Version:
    """A version of one ecosystem; comparable only with versions of the same ecosystem."""

    ecosystem: str
    text: str
    key: Any = field(compare=False, repr=False)

    def _other_key(self, other: object) -> Any:
        if not isinstance(other, Version) or other.ecosystem != self.ecosystem:
            return NotImplemented
        return other.key

    def __eq__(self, other: object) -> bool:
        key = self._other_key(other)
        return NotImplemented if key is NotImplemented else bool(self.key == key)

    def __lt__(self, other: object) -> bool:
        key = self._other_key(other)
        return NotImplemented if key is NotImplemented else bool(self.key < key)

    def __hash__(self) -> int:
        return hash((self.ecosystem, str(self.key)))

    @property
    def is_prerelease(self) -> bool:
        if self.ecosystem in PEP440_ECOSYSTEMS:
            return bool(self.key.is_prerelease)
        return self.key.prerelease is not None

    def line(self) -> tuple[int, ...]:
        """The major line: PEP 440's first release number; semver's major (minor under 0.x)."""
        if self.ecosystem in PEP440_ECOSYSTEMS:
            return (self.key.release[0],)
        if self.key.major == 0:
            return (0, self.key.minor)
        return (self.key.major,)


def _semver(text: str) -> semver.Version:
    body = text[1:] if text[:1] in ("v", "=") else text
    body = body.removesuffix("+incompatible") if body.endswith("+incompatible") else body
    match = _SEMVER_LOOSE.match("v" + body if not body.startswith("v") else body)
    if match is None:
        raise VersionError(f"not a semantic version: {text!r}")
    return semver.Version(
        int(match["major"]),
        int(match["minor"] or 0),
        int(match["patch"] or 0),
        match["pre"],
        match["build"],
    )


def parse_version(ecosystem: str, text: str) -> Version:
    clean = _check_text(text, "version", VersionError)
    if ecosystem in PEP440_ECOSYSTEMS:
        try:
            return Version(ecosystem, clean, Pep440(clean))
        except InvalidVersion:
            raise VersionError(f"not a PEP 440 version: {clean!r}") from None
    if ecosystem in SEMVER_ECOSYSTEMS:
        return Version(ecosystem, clean, _semver(clean))
    raise UnsupportedEcosystem(f"no version ordering for ecosystem {ecosystem!r}")


@dataclass(frozen=True)
class Clause:
    operator: str
    version: Version

    def holds(self, version: Version) -> bool:
        op = self.operator
        if op in ("=", "=="):
            return version == self.version
        if op == "!=":
            return version != self.version
        if op == "<":
            return version < self.version
        if op == "<=":
            return version <= self.version
        if op == ">":
            return version > self.version
        return version >= self.version


@dataclass(frozen=True)
class VersionRange:
    ecosystem: str
    clauses: tuple[Clause, ...]

    @classmethod
    def parse(cls, ecosystem: str, text: str) -> VersionRange:
        clean = _check_text(text, "version range", RangeError)
        clauses = []
        for raw in clean.split(","):
            part = raw.strip()
            operator = next((op for op in _OPERATORS if part.startswith(op)), None)
            if operator is None:
                raise RangeError(f"range clause {part[:40]!r} has no comparison operator")
            value = part[len(operator) :].strip()
            if not value or " " in value:
                raise RangeError(f"range clause {part[:40]!r} has no single version")
            try:
                clauses.append(Clause(operator, parse_version(ecosystem, value)))
            except VersionError as exc:
                raise RangeError(f"range {clean[:60]!r}: {exc}") from None
        return cls(ecosystem, tuple(clauses))

    def contains(self, version: str | Version) -> bool:
        parsed = parse_version(self.ecosystem, version) if isinstance(version, str) else version
        return all(clause.holds(parsed) for clause in self.clauses)

    def __str__(self) -> str:
        return ", ".join(f"{c.operator} {c.version.text}" for c in self.clauses)


@dataclass(frozen=True)
class AdvisoryRange:
    advisory_id: str
    vulnerable_version_range: str
    first_patched_version: str | None


@dataclass(frozen=True)
class FixSelection:
    version: str | None
    crosses_major: bool
    reason: str
    applicable: tuple[str, ...]


def is_vulnerable(ecosystem: str, version: str, ranges: Iterable[AdvisoryRange]) -> list[str]:
    parsed = parse_version(ecosystem, version)
    return sorted(
        {
            r.advisory_id
            for r in ranges
            if VersionRange.parse(ecosystem, r.vulnerable_version_range).contains(parsed)
        }
    )


def same_major_line(ecosystem: str, a: str, b: str) -> bool:
    return parse_version(ecosystem, a).line() == parse_version(ecosystem, b).line()


def select_fix_version(
    ecosystem: str,
    current: str,
    ranges: Sequence[AdvisoryRange],
    available: Sequence[str] | None = None,
) -> FixSelection:
    """The smallest version outside every range and ≥ every applicable first patch.

    Applicable ranges are those containing `current`. A first patched version in the
    current major line is preferred; crossing lines happens only when the applicable
    ranges offer nothing in the current line.
    """
    now = parse_version(ecosystem, current)
    parsed = [(r, VersionRange.parse(ecosystem, r.vulnerable_version_range)) for r in ranges]
    applicable = [(r, vr) for r, vr in parsed if vr.contains(now)]
    ids = tuple(sorted({r.advisory_id for r, _ in applicable}))
    if not applicable:
        return FixSelection(None, False, "current version not vulnerable", ids)
    unpatched = sorted({r.advisory_id for r, _ in applicable if not r.first_patched_version})
    if unpatched:
        return FixSelection(None, False, f"no patched version for {', '.join(unpatched)}", ids)
    floor = max(parse_version(ecosystem, r.first_patched_version or "") for r, _ in applicable)
    candidates = _candidates(ecosystem, now, floor, parsed, available)
    for candidate in candidates:
        if any(vr.contains(candidate) for _, vr in parsed):
            continue
        return FixSelection(
            candidate.text,
            candidate.line() != now.line(),
            "smallest version outside every advisory range",
            ids,
        )
    return FixSelection(None, False, "no version outside every advisory range is known", ids)


def _candidates(
    ecosystem: str,
    now: Version,
    floor: Version,
    parsed: Sequence[tuple[AdvisoryRange, VersionRange]],
    available: Sequence[str] | None,
) -> list[Version]:
    if available is not None:
        versions = []
        for text in available:
            try:
                versions.append(parse_version(ecosystem, text))
            except VersionError:
                continue
        allow_pre = now.is_prerelease
        return sorted(v for v in versions if v >= floor and (allow_pre or not v.is_prerelease))
    # Without a registry listing, the candidates are the floor and every first patched
    # version above it (a fix may land inside another advisory's range: step past it).
    firsts = {
        parse_version(ecosystem, r.first_patched_version)
        for r, _ in parsed
        if r.first_patched_version
    }
    return sorted({floor, *(v for v in firsts if v >= floor)})
