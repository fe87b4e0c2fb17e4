"""Rule `actions/unpinned-tag`: pin `uses: owner/repo@tag` to the tag's commit SHA.

Only the line the alert points at changes: `@tag` becomes `@<40-hex sha>` and `# tag` is
kept as a trailing comment. The SHA comes from the API (annotated tags dereferenced).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agentd.rules.workflow import WorkflowError, load_workflow

RULE_ID = "actions/unpinned-tag"
_USES = re.compile(
    r"^(?P<lead>\s*(-\s+)?uses\s*:\s*)(?P<quote>['\"]?)(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)"
    r"(?P<path>/[^@\s'\"]*)?@(?P<ref>[^\s'\"#]+)(?P=quote)(?P<rest>.*)$"
)
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Pin:
    text: str | None
    reason: str
    action: str = ""
    tag: str = ""
    sha: str = ""


def pin_line(
    text: str, line_number: int, resolve: Callable[[str, str], str | None], pin_first_party: bool
) -> Pin:
    """Pin the action on `line_number` (1-based). `resolve(owner/repo, tag)` gives a commit SHA."""
    lines = text.splitlines(keepends=True)
    if not 1 <= line_number <= len(lines):
        return Pin(None, f"line {line_number} is outside the file")
    line = lines[line_number - 1]
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    match = _USES.match(body)
    if match is None:
        return Pin(None, f"line {line_number} has no `uses: owner/repo@ref`")
    owner, repo, ref = match.group("owner"), match.group("repo"), match.group("ref")
    action = f"{owner}/{repo}"
    if _SHA.match(ref):
        return Pin(None, f"{action} is already pinned")
    if owner.lower() in ("actions", "github") and not pin_first_party:
        return Pin(None, f"{action} is first-party; the profile does not pin first-party actions")
    sha = resolve(action, ref)
    if sha is None or not _SHA.match(sha):
        return Pin(None, f"{action}@{ref} is not a tag that resolves to a commit")
    rest = match.group("rest")
    comment = f" # {ref}" + (
        f" {rest.strip().lstrip('#').strip()}" if rest.strip().startswith("#") else ""
    )
    trailing = "" if rest.strip().startswith("#") else rest
    new = (
        f"{match.group('lead')}{match.group('quote')}{action}{match.group('path') or ''}@{sha}"
        f"{match.group('quote')}{trailing.rstrip()}{comment}{ending}"
    )
    fixed = "".join([*lines[: line_number - 1], new, *lines[line_number:]])
    if not _only_uses_changed(text, fixed):
        return Pin(None, "the edit would change more than the uses: value")
    return Pin(fixed, f"pinned {action}@{ref} to {sha}", action, ref, sha)


def _strip_refs(node: object) -> object:
    if isinstance(node, dict):
        return {k: ("@" if k == "uses" else _strip_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_strip_refs(v) for v in node]
    return node


def _only_uses_changed(before: str, after: str) -> bool:
    try:
        return _strip_refs(load_workflow(before)) == _strip_refs(load_workflow(after))
    except WorkflowError:
        return False
