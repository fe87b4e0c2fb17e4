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

from agentd.ecosystems._shared.interface import Graph
from agentd.ecosystems._shared.model import Dependency, frozen_graph, text_of, unique

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


_VIA = re.compile(r"^via\b\s*(?P<rest>.*)$")
_INLINE_VIA = re.compile(r"\s#\s*via\b\s*(?P<rest>.*)$")
_VIA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


class _ViaReader:
    """Edges from pip-compile's (and `uv pip compile`'s) `# via` annotations: a package
    listed under another's `via` is what requires it."""

    def __init__(self) -> None:
        self.edges: dict[str, set[str]] = {}
        self.annotated = False
        self.current: str | None = None  # the requirement the annotations belong to
        self.listing = False  # inside a multi-line `# via` list

    def requirement(self, line: str) -> None:
        code = _COMMENT.sub("", line).rstrip("\\").strip()
        if code.startswith("-"):
            if not line[:1].isspace():
                self.current = None  # an option line (`-r`, `--index-url`), not a hash
        elif code:
            pin = _pinned(code)
            self.current = pin[0] if pin else None
            if self.current:
                self.edges.setdefault(self.current, set())
        inline = _INLINE_VIA.search(line)
        if inline:
            self.via(inline["rest"].split(","))

    def comment(self, text: str) -> None:
        via = _VIA.match(text.strip())
        if via:
            self.listing = not via["rest"]
            self.via([via["rest"]])
        elif self.listing and text[:1].isspace() and text.strip():
            self.via([text])
        else:
            self.listing = False

    def via(self, entries: list[str]) -> None:
        self.annotated = True
        for entry in entries:
            name = _VIA_NAME.match(entry.strip())
            if name and self.current:  # `-r requirements.in` and `-c ...` are the roots
                self.edges.setdefault(name.group(), set()).add(self.current)


def graph(path: str, content: bytes) -> Graph | None:
    """Package name → the names it requires, from `# via` annotations; None for a file
    without them (a hand-written list records no graph)."""
    reader = _ViaReader()
    for line in text_of(path, content).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            reader.comment(stripped[1:])
        elif not stripped:
            reader.listing = False
        else:
            reader.listing = False
            reader.requirement(line)
    return frozen_graph(reader.edges) if reader.annotated else None
