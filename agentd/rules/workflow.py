"""Reading GitHub Actions workflows without disturbing their bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

# Steps and triggers that need the GITHUB_TOKEN to write somewhere.
_WRITE_ACTIONS = re.compile(
    r"^(actions/(create-release|upload-release-asset|deploy-pages|github-script|labeler|stale)|"
    r"softprops/action-gh-release|ncipollo/release-action|peaceiris/actions-gh-pages|"
    r"JamesIves/github-pages-deploy-action|pypa/gh-action-pypi-publish|docker/login-action|"
    r"peter-evans/(create-pull-request|create-or-update-comment)|"
    r"marocchino/sticky-pull-request-comment|thollander/actions-comment-pull-request|"
    r"stefanzweifel/git-auto-commit-action|googleapis/release-please-action|"
    r"changesets/action|goreleaser/goreleaser-action|release-drafter/release-drafter)(@|/|$)",
    re.IGNORECASE,
)
_WRITE_COMMANDS = re.compile(
    r"\bgh\s+(release|pr\s+(create|comment|merge|edit|review|close)|issue\s+(create|comment|edit|close)|"
    r"api\b[^\n]*(-X|--method)\s*(POST|PUT|PATCH|DELETE)|label|workflow\s+run|repo\s+edit)|"
    r"\bgit\s+push\b|\bnpm\s+publish\b|\btwine\s+upload\b|\bcargo\s+publish\b|\bdocker\s+push\b|"
    r"\bpoetry\s+publish\b|\buv\s+publish\b|\bgem\s+push\b",
    re.IGNORECASE,
)


class WorkflowError(ValueError):
    pass


def load_workflow(text: str) -> dict[Any, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise WorkflowError("a workflow must be a YAML mapping")
    return data


def _triggers(data: dict[Any, Any]) -> set[str]:
    # PyYAML reads the bare key `on` as boolean True.
    on = data.get("on", data.get(True))
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return {str(t) for t in on}
    if isinstance(on, dict):
        return {str(t) for t in on}
    return set()


@dataclass(frozen=True)
class WriteNeeds:
    reasons: tuple[str, ...]

    @property
    def needs_write(self) -> bool:
        return bool(self.reasons)


def write_needs(data: dict[Any, Any]) -> WriteNeeds:
    """Signs that a workflow needs write scopes (publishing, releases, Pages, bots...)."""
    reasons: list[str] = []
    if "pull_request_target" in _triggers(data):
        reasons.append("runs on pull_request_target")
    jobs = data.get("jobs") or {}
    for job_name, job in jobs.items() if isinstance(jobs, dict) else []:
        if not isinstance(job, dict):
            continue
        if job.get("environment"):
            reasons.append(f"job {job_name} deploys to an environment")
        permissions = job.get("permissions")
        if isinstance(permissions, dict) and any(v == "write" for v in permissions.values()):
            reasons.append(f"job {job_name} declares write permissions")
        for step in job.get("steps") or []:
            if not isinstance(step, dict):
                continue
            uses = str(step.get("uses", ""))
            if _WRITE_ACTIONS.match(uses):
                reasons.append(f"job {job_name} uses {uses.split('@', maxsplit=1)[0]}")
            run = str(step.get("run", ""))
            match = _WRITE_COMMANDS.search(run)
            if match:
                reasons.append(f"job {job_name} runs `{match.group(0).strip()}`")
            if "id-token" in str(step):
                reasons.append(f"job {job_name} requests an OIDC id-token")
    return WriteNeeds(tuple(dict.fromkeys(reasons)))


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def indent_unit(text: str) -> str:
    """The indentation the file uses for one nesting level (defaults to two spaces)."""
    for line in text.splitlines():
        match = re.match(r"^( +)\S", line)
        if match:
            return match.group(1)
    return "  "
