"""Rule `actions/missing-workflow-permissions`: add a least-privilege top-level block.

The fix inserts `permissions:` / `contents: read` (or the minimal permissions CodeQL's
message proposes) as a top-level key right before `jobs:`, changing no other byte. A
workflow that looks like it needs write scopes is never given a read-only block here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentd.rules.workflow import WorkflowError, indent_unit, load_workflow, newline_of, write_needs

RULE_ID = "actions/missing-workflow-permissions"
_PROPOSAL = re.compile(r"\{([a-z-]+:\s*(read|write|none)(,\s*[a-z-]+:\s*(read|write|none))*)\}")


@dataclass(frozen=True)
class Fix:
    text: str | None
    reason: str  # why no fix (when text is None), or what was done
    needs_review: bool = False


def proposed_permissions(message: str) -> dict[str, str]:
    """Permissions CodeQL's alert message proposes, e.g. '{contents: read}'."""
    match = _PROPOSAL.search(message or "")
    if not match:
        return {"contents": "read"}
    pairs = [p.split(":") for p in match.group(1).split(",")]
    return {k.strip(): v.strip() for k, v in pairs}


def fix_missing_permissions(text: str, message: str = "") -> Fix:
    try:
        data = load_workflow(text)
    except WorkflowError as exc:
        return Fix(None, f"workflow cannot be parsed: {exc}")
    if "permissions" in data:
        return Fix(None, "the workflow already has a top-level permissions block")
    needs = write_needs(data)
    if needs.needs_write:
        return Fix(
            None,
            "the workflow seems to need write scopes: " + "; ".join(needs.reasons),
            needs_review=True,
        )
    permissions = proposed_permissions(message)
    if any(v == "write" for v in permissions.values()):
        return Fix(
            None, f"the proposed permissions {permissions} include write scopes", needs_review=True
        )
    newline, indent = newline_of(text), indent_unit(text)
    block = (
        "permissions:"
        + newline
        + "".join(f"{indent}{k}: {v}{newline}" for k, v in permissions.items())
    )
    match = re.search(r"^jobs\s*:", text, re.MULTILINE)
    if match is None:
        return Fix(None, "no top-level jobs: key to insert the block before")
    fixed = text[: match.start()] + block + newline + text[match.start() :]
    if not only_added(text, fixed, {"permissions": permissions}):
        return Fix(None, "the edit would change more than the permissions block")
    return Fix(fixed, f"added top-level permissions {permissions}")


def only_added(before: str, after: str, added: dict[str, object]) -> bool:
    """Both parse, and `after` equals `before` plus exactly the added top-level keys."""
    try:
        old, new = load_workflow(before), load_workflow(after)
    except WorkflowError:
        return False
    return {**old, **added} == new and set(new) - set(old) == set(added)
