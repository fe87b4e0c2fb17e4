"""OSV advisories (the GitHub Advisory Database format) as GitHub Dependabot shapes.

The simulator derives Dependabot alerts from these files; tests use them as real data.
Each OSV `affected[].ranges[].events` list becomes GitHub `vulnerable_version_range`
strings (`< 2.32.4`, `>= 2.0.0, < 2.0.7`, `<= 0.18.0`) with their first patched version.

GitHub writes `affected[].database_specific.last_known_affected_version_range` when its own
range cannot be said in OSV events (`<= 2.0.6` with a fix in 2.0.7, or `< 2.32.0` when the
first patched version is 2.32.2). The GitHub range then uses that upper bound, and the
`fixed` event stays the first patched version, the way the REST API reports it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

DEFAULT_ADVISORY_DIR = Path(__file__).parent / "data" / "advisories"
MAX_ADVISORY_BYTES = 4 * 1024 * 1024
OSV_TO_GITHUB = {
    "PyPI": "pip",
    "npm": "npm",
    "crates.io": "rust",
    "Go": "go",
    "Maven": "maven",
    "RubyGems": "rubygems",
    "NuGet": "nuget",
    "Packagist": "composer",
    "Pub": "pub",
    "Hex": "erlang",
    "GitHub Actions": "actions",
    "SwiftURL": "swift",
}
_SEVERITY = {
    "LOW": "low",
    "MODERATE": "medium",
    "MEDIUM": "medium",
    "HIGH": "high",
    "CRITICAL": "critical",
}
# Short names of the weaknesses the bundled advisories (and common ones) cite; others fall
# back to their id, since GitHub always sends a name.
CWE_NAMES = {
    "CWE-20": "Improper Input Validation",
    "CWE-22": "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
    "CWE-74": "Improper Neutralization of Special Elements in Output Used by a Downstream "
    "Component ('Injection')",
    "CWE-77": "Improper Neutralization of Special Elements used in a Command ('Command Injection')",
    "CWE-78": "Improper Neutralization of Special Elements used in an OS Command "
    "('OS Command Injection')",
    "CWE-79": "Improper Neutralization of Input During Web Page Generation "
    "('Cross-site Scripting')",
    "CWE-89": "Improper Neutralization of Special Elements used in an SQL Command "
    "('SQL Injection')",
    "CWE-94": "Improper Control of Generation of Code ('Code Injection')",
    "CWE-200": "Exposure of Sensitive Information to an Unauthorized Actor",
    "CWE-203": "Observable Discrepancy",
    "CWE-208": "Observable Timing Discrepancy",
    "CWE-287": "Improper Authentication",
    "CWE-295": "Improper Certificate Validation",
    "CWE-352": "Cross-Site Request Forgery (CSRF)",
    "CWE-385": "Covert Timing Channel",
    "CWE-400": "Uncontrolled Resource Consumption",
    "CWE-502": "Deserialization of Untrusted Data",
    "CWE-522": "Insufficiently Protected Credentials",
    "CWE-601": "URL Redirection to Untrusted Site ('Open Redirect')",
    "CWE-669": "Incorrect Resource Transfer Between Spheres",
    "CWE-670": "Always-Incorrect Control Flow Implementation",
    "CWE-770": "Allocation of Resources Without Limits or Throttling",
    "CWE-918": "Server-Side Request Forgery (SSRF)",
    "CWE-1050": "Excessive Platform Resource Consumption within a Loop",
    "CWE-1321": "Improperly Controlled Modification of Object Prototype Attributes "
    "('Prototype Pollution')",
    "CWE-1333": "Inefficient Regular Expression Complexity",
}
_LAST_KNOWN = re.compile(r"^\s*(<=|<|=)\s*(\S+)\s*$")


class AdvisoryError(ValueError):
    """An advisory file that is not readable OSV; the message names the file."""


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerable range of one package, as GitHub states it."""

    ecosystem: str  # GitHub alert ecosystem: pip, npm, rust, go, ...
    package: str
    vulnerable_version_range: str
    first_patched_version: str | None

    def to_github(self, severity: str) -> dict[str, Any]:
        """The `security_vulnerability` / `vulnerabilities[]` object of an alert."""
        first = self.first_patched_version
        return {
            "package": {"ecosystem": self.ecosystem, "name": self.package},
            "severity": severity,
            "vulnerable_version_range": self.vulnerable_version_range,
            "first_patched_version": {"identifier": first} if first else None,
        }


@dataclass(frozen=True)
class Advisory:
    ghsa_id: str
    cve_id: str | None
    summary: str
    description: str
    severity: str  # low | medium | high | critical
    cvss_vector: str | None
    cwe_ids: tuple[str, ...]
    references: tuple[str, ...]
    published_at: str
    updated_at: str
    withdrawn_at: str | None
    vulnerabilities: tuple[Vulnerability, ...]

    @property
    def cvss_score(self) -> float:
        return cvss3_score_or_zero(self.cvss_vector)

    def to_github_security_advisory(self) -> dict[str, Any]:
        """The `security_advisory` object of a Dependabot alert (API version 2022-11-28)."""
        score = self.cvss_score
        identifiers = [{"type": "GHSA", "value": self.ghsa_id}]
        if self.cve_id:
            identifiers.append({"type": "CVE", "value": self.cve_id})
        return {
            "ghsa_id": self.ghsa_id,
            "cve_id": self.cve_id,
            "summary": self.summary,
            "description": self.description,
            "severity": self.severity,
            "identifiers": identifiers,
            "references": [{"url": url} for url in self.references],
            "published_at": self.published_at,
            "updated_at": self.updated_at,
            "withdrawn_at": self.withdrawn_at,
            "vulnerabilities": [v.to_github(self.severity) for v in self.vulnerabilities],
            "cvss": {"vector_string": self.cvss_vector, "score": score},
            "cvss_severities": {
                "cvss_v3": {"vector_string": self.cvss_vector, "score": score},
                "cvss_v4": {"vector_string": None, "score": 0.0},
            },
            "cwes": [{"cwe_id": cwe, "name": CWE_NAMES.get(cwe, cwe)} for cwe in self.cwe_ids],
        }


def vulnerability_json(vulnerability: Vulnerability, severity: str) -> dict[str, Any]:
    return vulnerability.to_github(severity)


# --- OSV events → GitHub ranges -----------------------------------------------------------


def events_to_ranges(events: Iterable[Mapping[str, str]]) -> list[tuple[str, str | None]]:
    """One OSV `events` list → [(vulnerable_version_range, first_patched_version)].

    introduced 0 + fixed X → `< X`; introduced A + fixed X → `>= A, < X`;
    introduced 0 + last_affected Y → `<= Y`; introduced A + last_affected Y → `>= A, <= Y`;
    introduced A alone → `>= A`. Several introduced/fixed pairs give several ranges.
    """
    ranges: list[tuple[str, str | None]] = []
    introduced: str | None = None
    for event in events:
        if "introduced" in event:
            if introduced is not None:  # a second start with no end: the first is open
                ranges.append((_lower_bound(introduced) or ">= 0", None))
            introduced = str(event["introduced"])
        elif "fixed" in event and introduced is not None:
            fixed = str(event["fixed"])
            ranges.append((_join(_lower_bound(introduced), f"< {fixed}"), fixed))
            introduced = None
        elif "last_affected" in event and introduced is not None:
            last = str(event["last_affected"])
            ranges.append((_join(_lower_bound(introduced), f"<= {last}"), None))
            introduced = None
    if introduced is not None:
        ranges.append((_lower_bound(introduced) or ">= 0", None))
    return ranges


def _lower_bound(introduced: str) -> str:
    return "" if introduced in ("0", "") else f">= {introduced}"


def _join(lower: str, upper: str) -> str:
    return f"{lower}, {upper}" if lower else upper


def _with_last_known(
    ranges: list[tuple[str, str | None]], events: Sequence[Mapping[str, str]], hint: object
) -> list[tuple[str, str | None]]:
    """Apply GitHub's `last_known_affected_version_range` to a single-range events list."""
    match = _LAST_KNOWN.match(hint) if isinstance(hint, str) else None
    if match is None or len(ranges) != 1:
        return ranges
    introduced = next((str(e["introduced"]) for e in events if "introduced" in e), "0")
    operator, version = match[1], match[2]
    text = (
        f"= {version}"
        if operator == "="
        else _join(_lower_bound(introduced), f"{operator} {version}")
    )
    return [(text, ranges[0][1])]


# --- OSV JSON → Advisory ------------------------------------------------------------------


def github_ecosystem(osv_ecosystem: str) -> str:
    """GitHub's alert ecosystem for an OSV ecosystem (`PyPI` → `pip`, `Go` → `go`)."""
    base = osv_ecosystem.split(":", 1)[0]  # OSV allows `Debian:11`-style suffixes
    return OSV_TO_GITHUB.get(base, base.lower())


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value


def _optional_text(value: object, what: str) -> str:
    return "" if value is None else _text(value, what)


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} is not an object")
    return value


def _affected_vulnerabilities(affected: Mapping[str, Any]) -> list[Vulnerability]:
    package = _mapping(affected.get("package"), "affected[].package")
    name = _text(package.get("name"), "affected[].package.name")
    ecosystem = github_ecosystem(_text(package.get("ecosystem"), "affected[].package.ecosystem"))
    hint = _mapping(affected.get("database_specific"), "affected[].database_specific").get(
        "last_known_affected_version_range"
    )
    found: list[Vulnerability] = []
    osv_ranges = _list(affected.get("ranges"), "affected[].ranges")
    for osv_range in (_mapping(r, "affected[].ranges[]") for r in osv_ranges):
        if osv_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not package versions
        events = [_mapping(e, "events[]") for e in _list(osv_range.get("events"), "events")]
        ranges = _with_last_known(events_to_ranges(events), events, hint)
        found += [Vulnerability(ecosystem, name, text, first) for text, first in ranges]
    if not osv_ranges:  # an explicit version list is GitHub's `= X` per version
        for version in _list(affected.get("versions"), "affected[].versions"):
            found.append(Vulnerability(ecosystem, name, f"= {_text(version, 'version')}", None))
    return found


def _cvss_vector(data: Mapping[str, Any]) -> str | None:
    for raw in _list(data.get("severity"), "severity"):
        entry = _mapping(raw, "severity[]")
        if str(entry.get("type", "")).startswith("CVSS_V3"):
            return _text(entry.get("score"), "severity[].score")
    return None


def _severity(specific: Mapping[str, Any], vector: str | None) -> str:
    named = _SEVERITY.get(str(specific.get("severity", "")).upper())
    if named:
        return named
    score = cvss3_score_or_zero(vector)  # GitHub's qualitative bands for CVSS 3
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0 or score == 0.0:
        return "medium"
    return "low"


def parse_advisory(data: Mapping[str, Any], source: str) -> Advisory:
    """One OSV advisory object → `Advisory`; `source` names it in errors."""
    try:
        ghsa = _text(data.get("id"), "id")
        aliases = [_text(a, "aliases[]") for a in _list(data.get("aliases"), "aliases")]
        specific = _mapping(data.get("database_specific"), "database_specific")
        vector = _cvss_vector(data)
        vulnerabilities: list[Vulnerability] = []
        for affected in _list(data.get("affected"), "affected"):
            vulnerabilities += _affected_vulnerabilities(_mapping(affected, "affected[]"))
        withdrawn = data.get("withdrawn")
        published = _text(data.get("published") or data.get("modified"), "published")
        return Advisory(
            ghsa_id=ghsa,
            cve_id=next((a for a in aliases if a.startswith("CVE-")), None),
            summary=_optional_text(data.get("summary"), "summary"),
            description=_optional_text(data.get("details"), "details"),
            severity=_severity(specific, vector),
            cvss_vector=vector,
            cwe_ids=tuple(_text(c, "cwe_ids[]") for c in _list(specific.get("cwe_ids"), "cwe_ids")),
            references=tuple(
                _text(_mapping(r, "references[]").get("url"), "references[].url")
                for r in _list(data.get("references"), "references")
            ),
            published_at=published,
            updated_at=_text(data.get("modified", published), "modified"),
            withdrawn_at=_text(withdrawn, "withdrawn") if withdrawn is not None else None,
            vulnerabilities=tuple(vulnerabilities),
        )
    except (TypeError, KeyError) as exc:
        raise AdvisoryError(f"{source}: not an OSV advisory ({exc})") from None


def load_advisories(directory: Path) -> list[Advisory]:
    """Every `GHSA-*.json` under `directory` (sorted by path); other files are skipped."""
    if not directory.is_dir():
        raise AdvisoryError(f"{directory}: advisory directory does not exist")
    return [_load_file(path) for path in sorted(directory.rglob("GHSA-*.json"))]


def _load_file(path: Path) -> Advisory:
    try:
        if path.stat().st_size > MAX_ADVISORY_BYTES:
            raise AdvisoryError(f"{path}: larger than {MAX_ADVISORY_BYTES} bytes")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        if isinstance(exc, AdvisoryError):
            raise
        raise AdvisoryError(f"{path}: cannot read an OSV advisory ({exc})") from None
    if not isinstance(data, dict):
        raise AdvisoryError(f"{path}: not an OSV advisory (top level is not an object)")
    return parse_advisory(data, str(path))


def normalize_package(ecosystem: str, name: str) -> str:
    """Package identity per ecosystem: PEP 503 for pip (`Jinja2` == `jinja2`), else exact."""
    return canonicalize_name(name) if ecosystem == "pip" else name


def advisories_for(
    advisories: Iterable[Advisory], ecosystem: str, package: str
) -> list[tuple[Advisory, Vulnerability]]:
    """Every (advisory, vulnerable range) naming this package in this ecosystem."""
    wanted = normalize_package(ecosystem, package)
    return [
        (advisory, v)
        for advisory in advisories
        for v in advisory.vulnerabilities
        if v.ecosystem == ecosystem and normalize_package(ecosystem, v.package) == wanted
    ]


# --- CVSS 3.x base score (FIRST CVSS v3.1 specification, section 7) -----------------------

_CVSS3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_CVSS3_PRIVILEGES = {
    "U": {"N": 0.85, "L": 0.62, "H": 0.27},
    "C": {"N": 0.85, "L": 0.68, "H": 0.5},
}
_CVSS3_PREFIX = re.compile(r"^CVSS:3\.[01]/")


def _roundup(value: float) -> float:
    """Roundup: the smallest one-decimal number ≥ value (3.1's float-safe form, also for 3.0)."""
    integer = round(value * 100000)
    if integer % 10000 == 0:
        return integer / 100000.0
    return (math.floor(integer / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    """The CVSS 3.0/3.1 base score of a vector string; `ValueError` when it is not one."""
    prefix = _CVSS3_PREFIX.match(vector)
    if prefix is None:
        raise ValueError(f"not a CVSS 3 vector: {vector[:80]!r}")
    metrics: dict[str, str] = {}
    for part in vector[prefix.end() :].split("/"):
        name, _, value = part.partition(":")
        metrics[name] = value
    try:
        scope = metrics["S"]
        privileges = _CVSS3_PRIVILEGES[scope][metrics["PR"]]
        weights = {name: _CVSS3_WEIGHTS[name][metrics[name]] for name in _CVSS3_WEIGHTS}
    except KeyError:
        raise ValueError(f"incomplete or invalid CVSS 3 vector: {vector[:80]!r}") from None
    iss = 1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"])
    changed = scope == "C"
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * weights["AV"] * weights["AC"] * privileges * weights["UI"]
    if impact <= 0:
        return 0.0
    if changed:
        return _roundup(min(1.08 * (impact + exploitability), 10))
    return _roundup(min(impact + exploitability, 10))


def cvss3_score_or_zero(vector: str | None) -> float:
    if not vector:
        return 0.0
    try:
        return cvss3_base_score(vector)
    except ValueError:
        return 0.0
