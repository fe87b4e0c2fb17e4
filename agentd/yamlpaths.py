"""YAML loading that remembers where every value came from.

Profile errors must name the YAML path (`repositories[1].targets[0].path`) and the line.
PyYAML's composed node tree carries line marks; this module walks it once and builds a
map from path tuples to 1-based line numbers, and refuses duplicate mapping keys, which
plain `yaml.safe_load` would silently collapse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class LocatedDocument:
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """Line of the deepest known prefix of `path` (an unknown key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def format_path(path: PathKey) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def load_located(text: str) -> LocatedDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlSyntaxError(f"not valid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None
    if node is None:
        return LocatedDocument(data=None)
    lines: dict[PathKey, int] = {}
    _index(node, (), lines)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - compose already parsed it
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None
    return LocatedDocument(data=data, lines=lines)


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            key_line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlSyntaxError(
                    f"duplicate key {format_path((*path, key))!s} "
                    f"(first at line {seen[key]}, again at line {key_line})",
                    key_line,
                )
            seen[key] = key_line
            _index(value_node, (*path, key), lines)
            lines[(*path, key)] = key_line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), lines)
