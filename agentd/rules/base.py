"""The interface every code-scanning rule implements (SPEC §8).

A rule gets one workflow file and the alerts on it, and answers with a `FileFix`: the new
text (or none), what it did, and what a person must look at. The plug-in owns everything
else: fetching alerts, confining paths, writing files, verifying, publishing, merging.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Finding:
    """One alert, as a rule sees it."""

    alert_number: int
    path: str  # repo-relative posix path, already confined by the caller
    start_line: int
    message: str  # the alert's most_recent_instance.message.text ("" if none)


@dataclass
class FileFix:
    text: str | None  # the new file text; None = leave this file unchanged
    notes: list[str] = field(default_factory=list)  # what was done, one line each
    review: list[str] = field(default_factory=list)  # non-empty → never merged unattended
    refused: bool = False  # the rule refuses to fix this file; the reason is in review


class RuleEnvironment(Protocol):
    pin_first_party: bool

    def resolve_tag(self, action: str, tag: str) -> str | None:
        """`"owner/repo"`, `"v4"` → the commit SHA the tag points at, or None."""
        ...


class Rule(Protocol):
    rule_id: str

    def fix_file(
        self, path: str, text: str, findings: Sequence[Finding], env: RuleEnvironment
    ) -> FileFix: ...

    def check(self, path: str, before: str, after: str) -> str | None:
        """The rule's own post-fix check: None = ok, else what is wrong with `after`."""
        ...


@dataclass
class Environment:
    """A `RuleEnvironment` built from a resolver callable (the plug-in's or a test's)."""

    pin_first_party: bool = False
    resolver: Callable[[str, str], str | None] = field(default=lambda action, tag: None)

    def resolve_tag(self, action: str, tag: str) -> str | None:
        return self.resolver(action, tag)


def refuse(why: str) -> FileFix:
    return FileFix(None, review=[why], refused=True)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, so CRLF and a missing final newline are compared too.

    Only `\n` ends a line, as for git and CodeQL's line numbers (`str.splitlines` would also
    split on form feeds and Unicode separators).
    """
    return [line for line in re.split(r"(?<=\n)", text) if line]
