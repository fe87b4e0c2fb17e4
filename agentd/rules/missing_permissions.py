"""Rule `actions/missing-workflow-permissions`: add a least-privilege top-level block.

The fix inserts `permissions:` / `contents: read` (or the minimal permissions CodeQL's
messages propose) as a top-level key right before `jobs:`, changing no other byte. It fails
closed (see `token_scopes`): a workflow known to need more is left unchanged and refused; one
that cannot be proven read-only is fixed but handed to a person (`review`); only a workflow
whose every governed job and step is known read-only gets a fix that may merge unattended.

CodeQL alerts a job only when neither it nor the workflow declares permissions, so when
every job already has its own block the alert is stale: nothing to do, and a top-level block
would change nothing at run time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from agentd.rules.base import FileFix, Finding, RuleEnvironment, refuse, split_lines
from agentd.rules.token_scopes import assess
from agentd.rules.workflow import WorkflowError, indent_unit, load_workflow, newline_of

RULE_ID = "actions/missing-workflow-permissions"
_PROPOSAL = re.compile(r"\{([a-z-]+:\s*(read|write|none)(,\s*[a-z-]+:\s*(read|write|none))*)\}")
_LEVEL = {"none": 0, "read": 1, "write": 2}
_JOBS = re.compile(r"^jobs\s*:", re.MULTILINE)


def proposed_permissions(message: str) -> dict[str, str]:
    """Permissions CodeQL's alert message proposes, e.g. '{contents: read}'."""
    return _proposal(message) or {"contents": "read"}


def _proposal(message: str) -> dict[str, str] | None:
    match = _PROPOSAL.search(message or "")
    if not match:
        return None
    pairs = [p.split(":") for p in match.group(1).split(",")]
    return {k.strip(): v.strip() for k, v in pairs}


def minimal_permissions(findings: Sequence[Finding]) -> dict[str, str]:
    """The union of every alert's proposal (one alert per job), strongest level per scope."""
    merged: dict[str, str] = {}
    for finding in findings:
        for scope, level in (_proposal(finding.message) or {}).items():
            if _LEVEL[level] >= _LEVEL[merged.get(scope, "none")]:
                merged[scope] = level
    return merged or {"contents": "read"}


class MissingPermissionsRule:
    rule_id: str = RULE_ID

    def fix_file(
        self, path: str, text: str, findings: Sequence[Finding], env: RuleEnvironment
    ) -> FileFix:
        fix = _plan(text, minimal_permissions(findings))
        fix.notes = [f"{path}: {n}" for n in fix.notes]
        fix.review = [f"{path}: {r}" for r in fix.review]
        return fix

    def check(self, path: str, before: str, after: str) -> str | None:
        return check_fix(before, after)


RULE = MissingPermissionsRule()


def _plan(text: str, permissions: dict[str, str]) -> FileFix:
    """The fix with unprefixed notes; `fix_file` adds the path."""
    try:
        data = load_workflow(text)
    except WorkflowError as exc:
        return refuse(f"left unchanged: the workflow cannot be parsed ({exc})")
    if "permissions" in data:
        return FileFix(None, notes=["already has a top-level permissions block"])
    if not isinstance(data.get("jobs"), dict) or not data["jobs"]:
        return refuse("left unchanged: the workflow has no jobs mapping")
    assessment = assess(data)
    if assessment.jobs_checked == 0:
        return FileFix(None, notes=["every job declares its own permissions; nothing to add"])
    writes = [f"the alert proposes {k}: write" for k, v in permissions.items() if v == "write"]
    if writes or assessment.needs_write:
        return refuse(
            "left unchanged: read-only permissions would break it: "
            + "; ".join(writes + assessment.needs_write)
        )
    fixed = _insert_block(text, permissions)
    problem = "no top-level `jobs:` line" if fixed is None else check_fix(text, fixed)
    if fixed is None or problem:
        return refuse(f"left unchanged: the edit failed its own check ({problem})")
    return FileFix(
        fixed,
        notes=[f"added top-level permissions {_inline(permissions)}"],
        review=[f"cannot rule out write needs: {why}" for why in assessment.unknown],
    )


def check_fix(before: str, after: str) -> str | None:
    """Both versions parse and differ only by lines inserting a read-only top-level block."""
    try:
        old, new = load_workflow(before), load_workflow(after)
    except WorkflowError as exc:
        return f"a version does not parse: {exc}"
    if "permissions" in old or "permissions" not in new:
        return "the fix must add a top-level permissions block to a workflow without one"
    if {k: v for k, v in new.items() if k != "permissions"} != old:
        return "the workflow changed beyond the permissions block"
    problem = _grant_problem(new["permissions"])
    if problem:
        return problem
    inserted = inserted_lines(split_lines(before), split_lines(after))
    if inserted is None:
        return "the text changed other than by inserted lines"
    try:
        block = yaml.safe_load("".join(inserted))
    except yaml.YAMLError:
        block = None
    if block != {"permissions": new["permissions"]}:
        return "the inserted lines are not exactly the permissions block"
    return None


def _insert_block(text: str, permissions: dict[str, str]) -> str | None:
    match = _JOBS.search(text)
    if match is None:
        return None
    newline, indent = newline_of(text), indent_unit(text)
    block = "".join(
        [f"permissions:{newline}", *(f"{indent}{k}: {v}{newline}" for k, v in permissions.items())]
    )
    return text[: match.start()] + block + newline + text[match.start() :]


def _grant_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not block:
        return "the permissions block is not a mapping of scopes"
    if any(v not in ("read", "none") for v in block.values()):
        return "the permissions block grants more than read"
    return None


def inserted_lines(before: list[str], after: list[str]) -> list[str] | None:
    """The lines `after` inserts at one place into `before`, or None if it changed more."""
    extra = len(after) - len(before)
    if extra <= 0:
        return None
    start = 0
    while start < len(before) and before[start] == after[start]:
        start += 1
    if after[start + extra :] != before[start:]:
        return None
    return after[start : start + extra]


def _inline(permissions: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in permissions.items()) + "}"
