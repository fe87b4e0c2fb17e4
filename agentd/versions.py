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
from packaging.version import Version as Pep440Version

MAX_VERSION_LENGTH = 128
MAX_RANGE_LENGTH = 512
MAX_CLAUSES = 8
PEP440_ECOSYSTEMS = frozenset({"pip"})
SEMVER_ECOSYSTEMS = frozenset({"npm", "rust", "go"})
SUPPORTED_ECOSYSTEMS = PEP440_ECOSYSTEMS | SEMVER_ECOSYSTEMS

_CLAUSE = re.compile(r"(?P<op><=|>=|==|!=|<|>|=)\s*(?P<version>[^\s<>=,]+)")
_CANONICAL_OPERATOR = {"==": "="}


class VersionError(ValueError):
    """A version string that the ecosystem's rules do not accept."""


class RangeError(ValueError):
    """A `vulnerable_version_range` that is not GitHub's comparison syntax."""


class UnsupportedEcosystem(ValueError):
    """An ecosystem agentd has no version ordering for."""


def _require_supported(ecosystem: str) -> None:
    if ecosystem not in SUPPORTED_ECOSYSTEMS:
        raise UnsupportedEcosystem(f"no version ordering for ecosystem {str(ecosystem)[:40]!r}")


def _clean_text(text: object, what: str, limit: int, error: type[ValueError]) -> str:
    if not isinstance(text, str):
        raise error(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > limit:
        raise error(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise error(f"{what} {text[:40]!r} contains control characters")
    clean = text.strip()
    if not clean:
        raise error(f"{what} is empty")
    return clean


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A version of one ecosystem, totally ordered within that ecosystem only.

    `key` is the sort key; `line` is the major line (PEP 440: epoch and first release
    number; semver: the major, or `(0, minor)` under 0.x the way caret ranges treat it,
    except in Go, whose 0.x minors share one module path).
    Comparing versions of different ecosystems raises `TypeError`.
    """

    ecosystem: str
    text: str
    key: tuple[Any, ...] = field(repr=False)
    line: tuple[int, ...] = field(repr=False)
    is_prerelease: bool = field(repr=False)

    def _comparable_key(self, other: object) -> tuple[Any, ...] | None:
        if isinstance(other, Version) and other.ecosystem == self.ecosystem:
            return other.key
        return None

    def __eq__(self, other: object) -> bool:
        key = self._comparable_key(other)
        if key is None:
            return NotImplemented
        return self.key == key

    def __lt__(self, other: object) -> bool:
        key = self._comparable_key(other)
        if key is None:
            return NotImplemented
        return self.key < key

    def __hash__(self) -> int:
        return hash((self.ecosystem, self.key))

    def __str__(self) -> str:
        return self.text


def _pep440(ecosystem: str, text: str) -> Version:
    try:
        parsed = Pep440Version(text)
    except InvalidVersion:
        raise VersionError(f"not a PEP 440 version: {text[:60]!r}") from None
    return Version(
        ecosystem,
        text,
        key=(parsed,),
        line=(parsed.epoch, parsed.release[0]),
        is_prerelease=parsed.is_prerelease,
    )


def _strip_semver_prefix(ecosystem: str, text: str) -> str:
    body = text
    if ecosystem == "npm":
        body = body.lstrip("=").lstrip()
    if body[:1] in ("v", "V"):
        body = body[1:]
    return body


def _prerelease_key(prerelease: str | None) -> tuple[Any, ...]:
    """A release sorts after its pre-releases; numeric identifiers sort before alphanumeric."""
    if prerelease is None:
        return (1,)
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (0, parts)


def _semver(ecosystem: str, text: str) -> Version:
    body = _strip_semver_prefix(ecosystem, text)
    try:
        parsed = semver.Version.parse(body, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        raise VersionError(f"not a semantic version: {text[:60]!r}") from None
    prerelease = str(parsed.prerelease) if parsed.prerelease is not None else None
    major, minor = int(parsed.major), int(parsed.minor)
    return Version(
        ecosystem,
        text,
        # Build metadata (`+incompatible`, `+build.5`) never takes part in ordering.
        key=(major, minor, int(parsed.patch), _prerelease_key(prerelease)),
        # Go's line is the module path (`/v2` from 2 on): v0 minors share it, and `go get`
        # moves between them as Dependabot does (golang.org/x/net v0.12.0 → v0.17.0).
        line=(0, minor) if major == 0 and ecosystem != "go" else (major,),
        is_prerelease=prerelease is not None,
    )


def parse_version(ecosystem: str, text: str) -> Version:
    """Parse `text` by the rules of `ecosystem` (a GitHub alert ecosystem)."""
    _require_supported(ecosystem)
    clean = _clean_text(text, "version", MAX_VERSION_LENGTH, VersionError)
    if ecosystem in PEP440_ECOSYSTEMS:
        return _pep440(ecosystem, clean)
    return _semver(ecosystem, clean)


def _as_version(ecosystem: str, version: str | Version) -> Version:
    if isinstance(version, Version):
        if version.ecosystem != ecosystem:
            raise VersionError(
                f"a {version.ecosystem} version cannot be compared with {ecosystem} versions"
            )
        return version
    return parse_version(ecosystem, version)


@dataclass(frozen=True)
class Clause:
    """One `OP VERSION` comparison of a range; the operator is canonical (`==` → `=`)."""

    operator: str
    version: Version

    def holds(self, version: Version) -> bool:
        match self.operator:
            case "=":
                return version == self.version
            case "!=":
                return version != self.version
            case "<":
                return version < self.version
            case "<=":
                return version <= self.version
            case ">":
                return version > self.version
            case _:
                return version >= self.version

    def __str__(self) -> str:
        return f"{self.operator} {self.version.text}"


@dataclass(frozen=True)
class VersionRange:
    """GitHub's `vulnerable_version_range`: comma-separated clauses that must all hold."""

    ecosystem: str
    clauses: tuple[Clause, ...]

    @classmethod
    def parse(cls, ecosystem: str, text: str) -> VersionRange:
        _require_supported(ecosystem)
        clean = _clean_text(text, "version range", MAX_RANGE_LENGTH, RangeError)
        parts = clean.split(",")
        if len(parts) > MAX_CLAUSES:
            raise RangeError(f"version range {clean[:60]!r} has more than {MAX_CLAUSES} clauses")
        return cls(ecosystem, tuple(_parse_clause(ecosystem, part, clean) for part in parts))

    def contains(self, version: str | Version) -> bool:
        parsed = _as_version(self.ecosystem, version)
        return all(clause.holds(parsed) for clause in self.clauses)

    def __str__(self) -> str:
        return ", ".join(str(clause) for clause in self.clauses)


def _parse_clause(ecosystem: str, part: str, whole: str) -> Clause:
    match = _CLAUSE.fullmatch(part.strip())
    if match is None:
        raise RangeError(
            f"version range {whole[:60]!r}: clause {part.strip()[:40]!r} is not "
            "'OPERATOR VERSION' (operators: =, ==, !=, <, <=, >, >=)"
        )
    operator = _CANONICAL_OPERATOR.get(match["op"], match["op"])
    try:
        version = parse_version(ecosystem, match["version"])
    except VersionError as exc:
        raise RangeError(f"version range {whole[:60]!r}: {exc}") from None
    return Clause(operator, version)


@dataclass(frozen=True)
class AdvisoryRange:
    """One vulnerable range of one advisory for one package."""

    advisory_id: str
    vulnerable_version_range: str
    first_patched_version: str | None


@dataclass(frozen=True)
class FixSelection:
    """The version to move to (None when there is none) and why."""

    version: str | None
    crosses_major: bool
    reason: str
    applicable: tuple[str, ...]  # advisory ids whose ranges contain the current version


def is_vulnerable(
    ecosystem: str, version: str | Version, ranges: Iterable[AdvisoryRange]
) -> list[str]:
    """The advisory ids (sorted, unique) whose range contains `version`."""
    parsed = _as_version(ecosystem, version)
    return sorted(
        {
            r.advisory_id
            for r in ranges
            if VersionRange.parse(ecosystem, r.vulnerable_version_range).contains(parsed)
        }
    )


def same_major_line(ecosystem: str, a: str, b: str) -> bool:
    return parse_version(ecosystem, a).line == parse_version(ecosystem, b).line


@dataclass(frozen=True)
class _ParsedRange:
    advisory: AdvisoryRange
    range: VersionRange
    first_patched: Version | None


def select_fix_version(
    ecosystem: str,
    current: str,
    ranges: Sequence[AdvisoryRange],
    available: Sequence[str] | None = None,
) -> FixSelection:
    """The smallest version outside every range and ≥ every applicable first patch.

    Applicable ranges are those containing `current`. Taking the *smallest* safe version
    keeps the package in its current major line whenever the applicable ranges offer a
    patch there: ranges of other lines never raise the floor (urllib3 1.26.5 with 1.x and
    2.x ranges lands on 1.26.19, not 2.2.2). `available` (published versions), when given,
    restricts the choice to versions that exist. Pre-releases are only chosen when
    `current` is itself a pre-release.
    """
    now = parse_version(ecosystem, current)
    parsed = [_parse_range(ecosystem, r) for r in ranges]
    applicable = [p for p in parsed if p.range.contains(now)]
    ids = tuple(sorted({p.advisory.advisory_id for p in applicable}))
    if not applicable:
        return FixSelection(None, False, "current version not vulnerable", ids)
    unpatched = sorted({p.advisory.advisory_id for p in applicable if p.first_patched is None})
    if unpatched:
        return FixSelection(None, False, f"no patched version for {', '.join(unpatched)}", ids)
    floor = max(p.first_patched for p in applicable if p.first_patched is not None)
    if available is None:
        chosen, problem = _step_past_ranges(now, floor, parsed)
    else:
        chosen, problem = _smallest_available(ecosystem, now, floor, parsed, available)
    if chosen is None:
        return FixSelection(None, False, problem, ids)
    crosses = chosen.line != now.line
    reason = "smallest version outside every advisory range"
    if crosses:
        reason += f"; the advisories offer no patch in the current line of {now.text}"
    return FixSelection(chosen.text, crosses, reason, ids)


def _parse_range(ecosystem: str, advisory: AdvisoryRange) -> _ParsedRange:
    first = advisory.first_patched_version
    return _ParsedRange(
        advisory,
        VersionRange.parse(ecosystem, advisory.vulnerable_version_range),
        parse_version(ecosystem, first) if first else None,
    )


def _step_past_ranges(
    now: Version, floor: Version, parsed: Sequence[_ParsedRange]
) -> tuple[Version | None, str]:
    """From the floor, move to the first patched version of any range the candidate is in."""
    candidate = floor
    for _ in range(len(parsed) + 1):
        if candidate.is_prerelease and not now.is_prerelease:
            return (
                None,
                f"no patched version: the first patched version {candidate} is a pre-release",
            )
        containing = [p for p in parsed if p.range.contains(candidate)]
        if not containing:
            return candidate, ""
        unpatched = sorted({p.advisory.advisory_id for p in containing if p.first_patched is None})
        if unpatched:
            return None, (
                f"no patched version: {candidate} is inside {', '.join(unpatched)}, "
                "which has no patched version"
            )
        following = max(p.first_patched for p in containing if p.first_patched is not None)
        if following <= candidate:
            break
        candidate = following
    return None, "no patched version outside every advisory range (inconsistent advisory data)"


def _smallest_available(
    ecosystem: str,
    now: Version,
    floor: Version,
    parsed: Sequence[_ParsedRange],
    available: Sequence[str],
) -> tuple[Version | None, str]:
    published = []
    for text in available:
        try:
            published.append(parse_version(ecosystem, text))
        except VersionError:
            continue  # registries list odd versions; they are simply not candidates
    for candidate in sorted(set(published)):
        if candidate < floor or candidate <= now:
            continue
        if candidate.is_prerelease and not now.is_prerelease:
            continue
        if not any(p.range.contains(candidate) for p in parsed):
            return candidate, ""
    return (
        None,
        f"no patched version published: nothing available at or above {floor} is outside every advisory range",
    )
