"""Fully pinned `requirements*.txt` (`name==version`, extras, markers, hashes)."""

from __future__ import annotations

import re

from agentd.depfiles.model import Dependency, text_of

_PIN = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*===?\s*(?P<version>[A-Za-z0-9.!+_-]+)\s*(;|#|\\|$|\s)"
)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse(path: str, content: bytes) -> list[Dependency]:
    found = []
    for line in _logical_lines(text_of(path, content)):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        match = _PIN.match(line + " ")
        if match and not re.search(
            r"[<>!~]=?|,", line.split(";")[0].split("#")[0].replace("==", "")
        ):
            found.append(
                Dependency("pip", match["name"], match["version"], path, "direct", "runtime")
            )
    return found
