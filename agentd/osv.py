"""OSV advisories (the GitHub Advisory Database format) as GitHub Dependabot shapes.

The simulator derives Dependabot alerts from these files; tests use them as real data.
Each OSV `affected[].ranges[].events` list becomes GitHub `vulnerable_version_range`
strings (`< 2.32.4`, `>= 2.0.0, < 2.0.7`, `<= 0.18.0`) with their first patched version.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

DEFAULT_ADVISORY_DIR = Path(__file__).parent / "data" / "advisories"
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


class AdvisoryError(ValueError):
    pass


@dataclass(frozen=True)
class Vulnerability:
    ecosystem: str
    package: str
    vulnerable_version_range: str
    first_patched_version: str | None


@dataclass(frozen=True)
class Advisory:
    ghsa_id: str
    cve_id: str | None
    summary: str
    description: str
    severity: str
    cvss_vector: str | None
    cwe_ids: tuple[str, ...]
    references: tuple[str, ...]
    published_at: str
    updated_at: str
    withdrawn_at: str | None
    vulnerabilities: tuple[Vulnerability, ...]

    def to_github_security_advisory(self) -> dict[str, Any]:
        score = cvss3_base_score(self.cvss_vector) if self.cvss_vector else 0.0
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
            "vulnerabilities": [vulnerability_json(v, self.severity) for v in self.vulnerabilities],
            "cvss": {"vector_string": self.cvss_vector, "score": score},
            "cvss_severities": {
                "cvss_v3": {"vector_string": self.cvss_vector, "score": score},
                "cvss_v4": {"vector_string": None, "score": 0.0},
            },
            "epss": None,
            "cwes": [{"cwe_id": cwe, "name": cwe} for cwe in self.cwe_ids],
        }


def vulnerability_json(vulnerability: Vulnerability, severity: str) -> dict[str, Any]:
    first = vulnerability.first_patched_version
    return {
        "package": {"ecosystem": vulnerability.ecosystem, "name": vulnerability.package},
        "severity": severity,
        "vulnerable_version_range": vulnerability.vulnerable_version_range,
        "first_patched_version": {"identifier": first} if first else None,
    }


def events_to_ranges(events: Iterable[dict[str, str]]) -> list[tuple[str, str | None]]:
    """OSV events → [(vulnerable_version_range, first_patched_version)]."""
    ranges: list[tuple[str, str | None]] = []
    introduced: str | None = None
    for event in events:
        if "introduced" in event:
            if introduced is not None:
                ranges.append((_lower(introduced) or ">= 0", None))
            introduced = event["introduced"]
        elif "fixed" in event and introduced is not None:
            ranges.append((_join(_lower(introduced), f"< {event['fixed']}"), event["fixed"]))
            introduced = None
        elif "last_affected" in event and introduced is not None:
            ranges.append((_join(_lower(introduced), f"<= {event['last_affected']}"), None))
            introduced = None
    if introduced is not None:
        ranges.append((_lower(introduced) or ">= 0", None))
    return ranges


def _lower(introduced: str) -> str:
    return "" if introduced in ("0", "") else f">= {introduced}"


def _join(lower: str, upper: str) -> str:
    return f"{lower}, {upper}" if lower else upper


def _advisory(data: dict[str, Any], source: str) -> Advisory:
    try:
        ghsa = str(data["id"])
        aliases = [str(a) for a in data.get("aliases", [])]
        specific = data.get("database_specific", {}) or {}
        vector = next(
            (
                s["score"]
                for s in data.get("severity", []) or []
                if str(s.get("type", "")).startswith("CVSS_V3")
            ),
            None,
        )
        vulnerabilities = []
        for affected in data.get("affected", []):
            package = affected["package"]
            ecosystem = OSV_TO_GITHUB.get(package["ecosystem"], package["ecosystem"].lower())
            for osv_range in affected.get("ranges", []):
                if osv_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
                    continue
                for text, first in events_to_ranges(osv_range.get("events", [])):
                    vulnerabilities.append(Vulnerability(ecosystem, package["name"], text, first))
        return Advisory(
            ghsa_id=ghsa,
            cve_id=next((a for a in aliases if a.startswith("CVE-")), None),
            summary=str(data.get("summary", "")).strip(),
            description=str(data.get("details", "")),
            severity=_SEVERITY.get(str(specific.get("severity", "")).upper(), "medium"),
            cvss_vector=vector,
            cwe_ids=tuple(specific.get("cwe_ids", []) or []),
            references=tuple(r["url"] for r in data.get("references", []) if "url" in r),
            published_at=str(data.get("published", "")),
            updated_at=str(data.get("modified", data.get("published", ""))),
            withdrawn_at=data.get("withdrawn"),
            vulnerabilities=tuple(vulnerabilities),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise AdvisoryError(f"{source}: not an OSV advisory ({exc})") from None


def load_advisories(directory: Path) -> list[Advisory]:
    advisories = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AdvisoryError(f"{path}: cannot read ({exc})") from None
        advisories.append(_advisory(data, str(path)))
    return advisories


def normalize_package(ecosystem: str, name: str) -> str:
    return canonicalize_name(name) if ecosystem == "pip" else name


def advisories_for(
    advisories: Iterable[Advisory], ecosystem: str, package: str
) -> list[tuple[Advisory, Vulnerability]]:
    wanted = normalize_package(ecosystem, package)
    return [
        (advisory, v)
        for advisory in advisories
        for v in advisory.vulnerabilities
        if v.ecosystem == ecosystem and normalize_package(ecosystem, v.package) == wanted
    ]


# --- CVSS 3.x base score (FIRST specification, section 7.1) -------------------------------

_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _roundup(value: float) -> float:
    integer = round(value * 100000)
    return integer / 100000.0 if integer % 10000 == 0 else (math.floor(integer / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    metrics = dict(part.split(":", 1) for part in vector.split("/")[1:] if ":" in part)
    if (
        not re.match(r"^CVSS:3\.[01]/", vector)
        or not {"AV", "AC", "PR", "UI", "S", "C", "I", "A"} <= metrics.keys()
    ):
        return 0.0
    scope_changed = metrics["S"] == "C"
    iss = 1 - (1 - _WEIGHTS["C"][metrics["C"]]) * (1 - _WEIGHTS["I"][metrics["I"]]) * (
        1 - _WEIGHTS["A"][metrics["A"]]
    )
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
    exploitability = (
        8.22 * _WEIGHTS["AV"][metrics["AV"]] * _WEIGHTS["AC"][metrics["AC"]]
        * _PR[metrics["S"]][metrics["PR"]] * _WEIGHTS["UI"][metrics["UI"]]
    )  # fmt: skip
    if impact <= 0:
        return 0.0
    if scope_changed:
        return _roundup(min(1.08 * (impact + exploitability), 10))
    return _roundup(min(impact + exploitability, 10))
