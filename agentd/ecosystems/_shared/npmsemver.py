"""node-semver's `satisfies` for the ranges package.json files and yarn.lock headers use.

Supported: `||` unions, space-joined comparators, hyphen ranges (`1.2 - 2.3.4`), x-ranges
(`1.x`, `*`, `""`), tilde and caret ranges, `v`/`=` prefixes. A prerelease version only
satisfies a range when a comparator of the same range names a prerelease of the same
`major.minor.patch`, as node-semver does. Anything else (tags, URLs, `workspace:`,
`file:`) is not a semver range: `satisfies` answers None, and callers treat that as
"cannot tell", never as a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver

_PARTIAL = r"v?(?P<major>[0-9]+|[xX*])(?:\.(?P<minor>[0-9]+|[xX*])(?:\.(?P<patch>[0-9]+|[xX*])(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)?)?"
_SIMPLE = re.compile(rf"^(?P<op><=|>=|<|>|=|~>|~|\^)?\s*{_PARTIAL}$")
_HYPHEN = re.compile(r"^(?P<low>\S+)\s+-\s+(?P<high>\S+)$")
_WILD = frozenset({"x", "X", "*"})
MAX_RANGE_LENGTH = 1024


@dataclass(frozen=True)
class _Partial:
    major: int | None
    minor: int | None
    patch: int | None
    pre: str | None

    def floor(self) -> semver.Version:
        return semver.Version(self.major or 0, self.minor or 0, self.patch or 0, self.pre)


@dataclass(frozen=True)
class _Comparator:
    op: str  # one of < <= > >= =
    version: semver.Version

    def holds(self, version: semver.Version) -> bool:
        order = version.compare(self.version)
        return {
            "<": order < 0,
            "<=": order <= 0,
            ">": order > 0,
            ">=": order >= 0,
            "=": order == 0,
        }[self.op]


def _number(text: str | None) -> int | None:
    return None if text is None or text in _WILD else int(text)


def _partial(text: str) -> _Partial | None:
    match = _SIMPLE.match(text)
    if match is None or match["op"]:
        return None
    return _from_match(match)


def _from_match(match: re.Match[str]) -> _Partial:
    major, minor, patch = (_number(match[k]) for k in ("major", "minor", "patch"))
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    return _Partial(major, minor, patch, match["pre"] if patch is not None else None)


def _upper(major: int, minor: int = 0, patch: int = 0) -> _Comparator:
    return _Comparator("<", semver.Version(major, minor, patch, "0"))


def _x_range(op: str, p: _Partial) -> list[_Comparator]:
    if p.major is None:
        return [] if op in ("", "=", ">=", "<=") else [_Comparator("<", semver.Version(0, 0, 0))]
    if p.minor is None or p.patch is None:
        low = semver.Version(p.major, p.minor or 0, 0)
        high = _upper(p.major + 1) if p.minor is None else _upper(p.major, p.minor + 1)
        return {
            "": [_Comparator(">=", low), high],
            "=": [_Comparator(">=", low), high],
            ">=": [_Comparator(">=", low)],
            ">": [_Comparator(">=", high.version.replace(prerelease=None))],
            "<": [_Comparator("<", semver.Version(low.major, low.minor, 0, "0"))],
            "<=": [high],
        }[op]
    return [_Comparator(op or "=", p.floor())]


def _tilde(p: _Partial) -> list[_Comparator]:
    if p.major is None:
        return []
    if p.minor is None:
        return [_Comparator(">=", p.floor()), _upper(p.major + 1)]
    return [_Comparator(">=", p.floor()), _upper(p.major, p.minor + 1)]


def _caret(p: _Partial) -> list[_Comparator]:
    if p.major is None:
        return []
    low = _Comparator(">=", p.floor())
    if p.major > 0 or p.minor is None:
        return [low, _upper(p.major + 1)]
    if p.minor > 0 or p.patch is None:
        return [low, _upper(0, p.minor + 1)]
    return [low, _upper(0, 0, p.patch + 1)]


def _simple(token: str) -> list[_Comparator] | None:
    match = _SIMPLE.match(token)
    if match is None:
        return None
    op, partial = match["op"] or "", _from_match(match)
    if op in ("~", "~>"):
        return _tilde(partial)
    if op == "^":
        return _caret(partial)
    return _x_range(op, partial)


def _hyphen(low_text: str, high_text: str) -> list[_Comparator] | None:
    low, high = _partial(low_text), _partial(high_text)
    if low is None or high is None:
        return None
    comparators = [] if low.major is None else [_Comparator(">=", low.floor())]
    if high.major is None:
        return comparators
    if high.minor is None:
        return [*comparators, _upper(high.major + 1)]
    if high.patch is None:
        return [*comparators, _upper(high.major, high.minor + 1)]
    return [*comparators, _Comparator("<=", high.floor())]


def _tokens(part: str) -> list[str]:
    """Comparator tokens, with `>= 1.2` glued back to `>=1.2` as node-semver does."""
    glued = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", part.strip())
    return [t for t in glued.split() if t]


def _comparator_set(part: str) -> list[_Comparator] | None:
    hyphen = _HYPHEN.match(part.strip())
    if hyphen:
        return _hyphen(hyphen["low"], hyphen["high"])
    comparators: list[_Comparator] = []
    for token in _tokens(part):
        parsed = _simple(token)
        if parsed is None:
            return None
        comparators += parsed
    return comparators


def _allows_prerelease(comparators: list[_Comparator], version: semver.Version) -> bool:
    if not version.prerelease:
        return True
    return any(
        c.version.prerelease
        and c.version.prerelease != "0"
        and (c.version.major, c.version.minor, c.version.patch)
        == (version.major, version.minor, version.patch)
        for c in comparators
    )


def parse_version(text: str) -> semver.Version | None:
    try:
        return semver.Version.parse(text.strip().removeprefix("v").removeprefix("="))
    except (ValueError, TypeError):
        return None


def satisfies(version_text: str, range_text: str) -> bool | None:
    """Whether the version is in the npm range; None when either is not semver."""
    version = parse_version(version_text)
    if version is None or len(range_text) > MAX_RANGE_LENGTH:
        return None
    matched = False
    for part in range_text.split("||"):
        comparators = _comparator_set(part)
        if comparators is None:
            return None
        if all(c.holds(version) for c in comparators) and _allows_prerelease(comparators, version):
            matched = True
    return matched
