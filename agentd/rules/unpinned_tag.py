"""Rule `actions/unpinned-tag`: pin `uses: owner/repo@tag` to the tag's commit SHA.

Only the lines the alerts point at change: `@tag` becomes `@<40-hex sha>` and `# tag` is
kept as a trailing comment. The SHA comes from the environment (the plug-in resolves it
through the API, annotated tags dereferenced). First-party actions (`actions/*`,
`github/*`) are pinned only when the profile asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentd.rules.base import FileFix, Finding, RuleEnvironment, refuse, split_lines
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
    already_pinned: bool = False


def pin_line(
    text: str, line_number: int, resolve: Callable[[str, str], str | None], pin_first_party: bool
) -> Pin:
    """Pin the action on `line_number` (1-based). `resolve(owner/repo, tag)` gives a commit SHA."""
    lines = split_lines(text)
    if not 1 <= line_number <= len(lines):
        return Pin(None, f"line {line_number} is outside the file")
    line = lines[line_number - 1]
    match = _USES.match(line.rstrip("\r\n"))
    if match is None:
        return Pin(None, f"line {line_number} has no `uses: owner/repo@ref`")
    owner, ref = match.group("owner"), match.group("ref")
    action = f"{owner}/{match.group('repo')}"
    if _SHA.match(ref):
        return Pin(None, f"{action} is already pinned", already_pinned=True)
    if match.group("rest").strip() and not match.group("rest").strip().startswith("#"):
        return Pin(None, f"line {line_number}: text after {action}@{ref} that is not a comment")
    if owner.lower() in ("actions", "github") and not pin_first_party:
        return Pin(None, f"{action} is first-party; the profile does not pin first-party actions")
    sha = resolve(action, ref)
    if sha is None or not _SHA.match(sha):
        return Pin(None, f"{action}@{ref} is not a tag that resolves to a commit")
    new = _pinned(match, sha) + line[len(line.rstrip("\r\n")) :]
    fixed = "".join([*lines[: line_number - 1], new, *lines[line_number:]])
    if not _only_uses_changed(text, fixed):
        return Pin(None, "the edit would change more than the uses: value")
    return Pin(fixed, f"pinned {action}@{ref} to {sha}", action, ref, sha)


def _pinned(match: re.Match[str], sha: str) -> str:
    """The matched `uses:` line (without its ending) pinned to `sha`, `# tag` kept."""
    rest = match.group("rest").strip()
    old_comment = rest.lstrip("#").strip()
    comment = f" # {match.group('ref')}" + (f" {old_comment}" if old_comment else "")
    quote = match.group("quote")
    return (
        f"{match.group('lead')}{quote}{match.group('owner')}/{match.group('repo')}"
        f"{match.group('path') or ''}@{sha}{quote}{comment}"
    )


class UnpinnedTagRule:
    rule_id: str = RULE_ID

    def fix_file(
        self, path: str, text: str, findings: Sequence[Finding], env: RuleEnvironment
    ) -> FileFix:
        fix = FileFix(None)
        done: set[int] = set()
        # Bottom-up, as the line numbers come from the alerts (each pin rewrites one line).
        for finding in sorted(findings, key=lambda f: f.start_line, reverse=True):
            if finding.start_line in done:
                continue
            done.add(finding.start_line)
            pin = pin_line(
                fix.text or text, finding.start_line, env.resolve_tag, env.pin_first_party
            )
            where = f"{path}:{finding.start_line}"
            if pin.text is None:
                (fix.notes if pin.already_pinned else fix.review).append(f"{where}: {pin.reason}")
                continue
            fix.text = pin.text
            fix.notes.append(f"{where}: {pin.reason}")
        if fix.text is None:
            fix.refused = bool(fix.review)
            return fix
        problem = self.check(path, text, fix.text)
        if problem:
            return refuse(f"{path}: left unchanged: the edit failed its own check ({problem})")
        return fix

    def check(self, path: str, before: str, after: str) -> str | None:
        old, new = split_lines(before), split_lines(after)
        if len(old) != len(new):
            return "lines were added or removed"
        changed = [(n, a, b) for n, (a, b) in enumerate(zip(old, new, strict=True), 1) if a != b]
        if not changed:
            return "nothing changed"
        for number, old_line, new_line in changed:
            problem = _pin_problem(old_line, new_line)
            if problem:
                return f"line {number}: {problem}"
        if not _only_uses_changed(before, after):
            return "the parsed workflow changed beyond uses: refs"
        return None


RULE = UnpinnedTagRule()


def _pin_problem(old_line: str, new_line: str) -> str | None:
    old = _USES.match(old_line.rstrip("\r\n"))
    if old is None or _SHA.match(old.group("ref")):
        return "it was not an unpinned `uses: owner/repo@ref` line"
    new = _USES.match(new_line.rstrip("\r\n"))
    if new is None or not _SHA.match(new.group("ref")):
        return "it does not pin a 40-hex commit SHA"
    ending = old_line[len(old_line.rstrip("\r\n")) :]
    if new_line != _pinned(old, new.group("ref")) + ending:
        return "it is not `@<sha> # <tag>` with the rest of the line kept"
    return None


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
