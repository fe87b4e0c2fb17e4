"""`yarn.lock`: classic (v1 text) and berry (YAML with `__metadata`)."""

from __future__ import annotations

import re

from agentd.depfiles.model import Dependency, load_yaml, text_of

_HEADER = re.compile(r'^("?)(?P<spec>(@[^@/"]+/)?[^@"\s]+)@')
_VERSION = re.compile(r'^\s+version:?\s+"?(?P<version>[^"\s]+)"?\s*$')


def _classic(path: str, text: str) -> list[Dependency]:
    found = []
    name: str | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            match = _HEADER.match(line)
            name = match["spec"] if match else None
            continue
        version = _VERSION.match(line)
        if version and name:
            found.append(Dependency("npm", name, version["version"], path, "unknown"))
            name = None
    return found


def _berry(path: str, content: bytes) -> list[Dependency]:
    data = load_yaml(path, content)
    found = []
    for key, entry in data.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        match = re.match(
            r"^(?P<name>@?[^@]+)@npm:(?P<version>[^\s]+)$", str(entry.get("resolution", ""))
        )
        if match:  # workspace:, patch:, git and file resolutions are not registry packages
            found.append(Dependency("npm", match["name"], match["version"], path, "unknown"))
    return found


def parse(path: str, content: bytes) -> list[Dependency]:
    text = text_of(path, content)
    if "__metadata:" in text:
        return _berry(path, content)
    return _classic(path, text)
