"""`go.mod`: `require` lines and blocks (`// indirect` marks transitive), `replace` honoured."""

from __future__ import annotations

import re

from agentd.depfiles.model import Dependency, DepfileError, text_of

_REQ = re.compile(r"^(?P<module>[^\s]+)\s+(?P<version>v[^\s]+)(?P<comment>\s*//.*)?$")
_REPLACE = re.compile(
    r"^(?P<old>[^\s]+)(\s+v[^\s]+)?\s*=>\s*(?P<new>[^\s]+)(\s+(?P<version>v[^\s]+))?\s*$"
)


def _statements(text: str, keyword: str) -> list[str]:
    lines: list[str] = []
    block = False
    for raw in text.splitlines():
        line = raw.strip()
        if block:
            if line == ")":
                block = False
            elif line and not line.startswith("//"):
                lines.append(line)
        elif line == f"{keyword} (" or line.startswith(f"{keyword} ("):
            block = True
        elif line.startswith(f"{keyword} "):
            lines.append(line[len(keyword) + 1 :].strip())
    return lines


def parse(path: str, content: bytes) -> list[Dependency]:
    text = text_of(path, content)
    if not re.search(r"^module\s+\S+", text, re.MULTILINE):
        raise DepfileError(f"{path}: no module directive")
    replaced: dict[str, tuple[str, str]] = {}
    for statement in _statements(text, "replace"):
        match = _REPLACE.match(statement)
        if match and match["version"]:
            replaced[match["old"]] = (match["new"], match["version"])
    found = []
    for statement in _statements(text, "require"):
        match = _REQ.match(statement)
        if not match:
            continue
        module, version = match["module"], match["version"]
        if module in replaced:
            module, version = replaced[module]
        indirect = "indirect" in (match["comment"] or "")
        found.append(
            Dependency("go", module, version, path, "transitive" if indirect else "direct")
        )
    return found
