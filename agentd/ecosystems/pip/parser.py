"""Fully pinned `requirements*.txt` lines (`name==version`, extras, markers, hashes).

Only exact pins count, the way GitHub reads these files: `name==1.0`, `name===1.0`,
`name[extra]==1.0 ; python_version < "3.9"`, with `--hash` options and backslash
continuations. Ranges, wildcards, URLs, editable installs and option lines (`-r`, `-c`,
`-e`, `--index-url`) are not pins; each file stands alone.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from agentd.ecosystems._shared.model import Dependency, text_of, unique

_COMMENT = re.compile(r"(^|\s+)#.*$")
_PER_REQUIREMENT_OPTION = re.compile(r"\s+--?[A-Za-z]")


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined, comments removed."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(_COMMENT.sub("", pending + raw))
        pending = ""
    if pending:
        lines.append(_COMMENT.sub("", pending))
    return lines


def _pinned(line: str) -> tuple[str, str] | None:
    requirement_text = _PER_REQUIREMENT_OPTION.split(line, maxsplit=1)[0].strip()
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement:
        return None
    specifiers = list(requirement.specifier)
    if requirement.url or len(specifiers) != 1:
        return None
    (specifier,) = specifiers
    if specifier.operator not in ("==", "===") or specifier.version.endswith(".*"):
        return None
    try:  # a version that does not order under PEP 440 can match no advisory range
        Version(specifier.version)
    except InvalidVersion:
        return None
    return requirement.name, specifier.version


def parse(path: str, content: bytes) -> list[Dependency]:
    found = []
    for line in _logical_lines(text_of(path, content)):
        stripped = line.strip()
        if not stripped or stripped.startswith("-"):
            continue
        pin = _pinned(stripped)
        if pin is not None:
            found.append(Dependency("pip", pin[0], pin[1], path, "direct", "runtime"))
    return unique(found)
