"""Reading GitHub Actions workflows without disturbing their bytes."""

from __future__ import annotations

import re
from typing import Any

import yaml


class WorkflowError(ValueError):
    pass


def load_workflow(text: str) -> dict[Any, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise WorkflowError("a workflow must be a YAML mapping")
    return data


def triggers(data: dict[Any, Any]) -> set[str]:
    # PyYAML reads the bare key `on` as boolean True.
    on = data.get("on", data.get(True))
    if isinstance(on, str):
        return {on}
    if isinstance(on, list | dict):
        return {str(t) for t in on}
    return set()


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def indent_unit(text: str) -> str:
    """The indentation the file uses for one nesting level (defaults to two spaces)."""
    for line in text.splitlines():
        match = re.match(r"^( +)\S", line)
        if match:
            return match.group(1)
    return "  "
