"""Deriving alerts the way GitHub does, from the repository contents.

- Dependabot: dependency files on the default branch matched against the advisories.
- Code scanning: workflow files on the default branch (two CodeQL Actions rules).
- Secret scanning: token patterns in every blob reachable from any ref (history included).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from agentd import ecosystems
from agentd.osv import Advisory, Vulnerability, advisories_for
from agentd.simulator import gitstore
from agentd.versions import RangeError, VersionError, VersionRange


@dataclass(frozen=True)
class DependencyFinding:
    manifest_path: str
    ecosystem: str
    package: str  # as written in the file
    version: str
    relationship: str
    scope: str | None
    advisory: Advisory
    vulnerability: Vulnerability

    @property
    def identity(self) -> tuple[str, str, str]:
        return (
            self.manifest_path,
            ecosystems.normalize_name(self.ecosystem, self.package),
            self.advisory.ghsa_id,
        )


def dependabot_findings(
    repo: Path, sha: str, advisories: Sequence[Advisory]
) -> list[DependencyFinding]:
    files = {
        p: b for p, b in gitstore.list_files(repo, sha).items() if ecosystems.is_dependency_file(p)
    }
    blobs = gitstore.read_blobs(repo, list(files.values()))
    findings: dict[tuple[str, str, str], DependencyFinding] = {}
    for path, blob in sorted(files.items()):
        try:
            dependencies = ecosystems.parse_dependency_file(path, blobs.get(blob, b""))
        except ecosystems.DepfileError:
            continue
        for dep in dependencies:
            for advisory, vulnerability in advisories_for(advisories, dep.ecosystem, dep.name):
                try:
                    hit = VersionRange.parse(
                        dep.ecosystem, vulnerability.vulnerable_version_range
                    ).contains(dep.version)
                except (RangeError, VersionError):
                    continue
                if hit:
                    finding = DependencyFinding(
                        path,
                        dep.ecosystem,
                        dep.name,
                        dep.version,
                        dep.relationship,
                        dep.scope,
                        advisory,
                        vulnerability,
                    )
                    findings.setdefault(finding.identity, finding)
    return list(findings.values())


@dataclass(frozen=True)
class CodeFinding:
    rule_id: str
    path: str
    line: int
    key: str  # stable identity within the file (job name or action reference)
    message: str


MISSING_PERMISSIONS = "actions/missing-workflow-permissions"
UNPINNED_TAG = "actions/unpinned-tag"
_USES = re.compile(
    r"^\s*(-\s+)?uses\s*:\s*['\"]?(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(/[^@\s'\"]*)?@(?P<ref>[^\s'\"#]+)"
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
PERMISSIONS_MESSAGE = (
    "Actions job or workflow does not limit the permissions of the GITHUB_TOKEN. Consider "
    "setting an explicit permissions block, using the following as a minimal starting point: "
    "{contents: read}"
)


def _job_lines(text: str) -> dict[str, int]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "jobs" and isinstance(value, yaml.MappingNode):
                for job_key, _ in value.value:
                    lines[str(job_key.value)] = job_key.start_mark.line + 1
    return lines


def workflow_findings(path: str, text: str) -> list[CodeFinding]:
    findings: list[CodeFinding] = []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return findings
    if not isinstance(data, dict):
        return findings
    jobs = data.get("jobs") if isinstance(data.get("jobs"), dict) else {}
    if "permissions" not in data:
        lines = _job_lines(text)
        for job, body in (jobs or {}).items():
            if isinstance(body, dict) and "permissions" not in body:
                findings.append(
                    CodeFinding(
                        MISSING_PERMISSIONS,
                        path,
                        lines.get(str(job), 1),
                        f"job:{job}",
                        PERMISSIONS_MESSAGE,
                    )
                )
    for number, line in enumerate(text.splitlines(), 1):
        match = _USES.match(line)
        if not match:
            continue
        action, ref = match["action"], match["ref"]
        if action.split("/")[0].lower() in ("actions", "github") or _SHA.match(ref):
            continue
        message = f"Unpinned 3rd party Action '{action}' step uses '{action}' with ref '{ref}', not a pinned commit hash"
        findings.append(CodeFinding(UNPINNED_TAG, path, number, f"uses:{action}@{ref}", message))
    return findings


def code_scanning_findings(repo: Path, sha: str) -> list[CodeFinding]:
    files = {
        p: b for p, b in gitstore.list_files(repo, sha).items()
        if p.startswith(".github/workflows/") and p.endswith((".yml", ".yaml"))
    }  # fmt: skip
    blobs = gitstore.read_blobs(repo, list(files.values()))
    findings = []
    for path, blob in sorted(files.items()):
        findings += workflow_findings(path, blobs.get(blob, b"").decode("utf-8", errors="replace"))
    return findings


SECRET_PATTERNS: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    (
        "github_personal_access_token",
        "GitHub Personal Access Token",
        "GitHub",
        re.compile(r"\bghp_[A-Za-z0-9]{36}\b"),
    ),
    ("aws_access_key_id", "AWS Access Key ID", "AWS", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "slack_api_token",
        "Slack API Token",
        "Slack",
        re.compile(r"\bxoxb-[0-9]{8,}-[0-9]{8,}-[A-Za-z0-9]{16,}\b"),
    ),
)


@dataclass(frozen=True)
class SecretLocation:
    commit: str
    path: str
    line: int
    start_column: int
    end_column: int
    blob: str


@dataclass
class SecretFinding:
    secret_type: str
    display_name: str
    provider: str
    value: str
    locations: list[SecretLocation]


def secret_findings(repo: Path) -> list[SecretFinding]:
    found: dict[tuple[str, str], SecretFinding] = {}
    scanned: dict[str, list[tuple[str, str, str, str, int, int, int]]] = {}
    commits = list(reversed(gitstore.all_commits(repo)))
    for commit in commits:
        files = gitstore.list_files(repo, commit)
        missing = [b for b in set(files.values()) if b not in scanned]
        for blob, content in gitstore.read_blobs(repo, missing).items():
            scanned[blob] = scan(content)
        for path, blob in sorted(files.items()):
            for secret_type, display, provider, value, line, start, end in scanned.get(blob, []):
                finding = found.setdefault(
                    (secret_type, value), SecretFinding(secret_type, display, provider, value, [])
                )
                if not any(loc.blob == blob and loc.path == path for loc in finding.locations):
                    finding.locations.append(SecretLocation(commit, path, line, start, end, blob))
    return list(found.values())


def scan(content: bytes) -> list[tuple[str, str, str, str, int, int, int]]:
    """(type, display name, provider, value, line, start column, end column) of each secret."""
    if b"\0" in content[:8000]:
        return []
    text = content.decode("utf-8", errors="replace")
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for secret_type, display, provider, pattern in SECRET_PATTERNS:
            for match in pattern.finditer(line):
                hits.append(
                    (
                        secret_type,
                        display,
                        provider,
                        match.group(0),
                        number,
                        match.start() + 1,
                        match.end() + 1,
                    )
                )
    return hits
