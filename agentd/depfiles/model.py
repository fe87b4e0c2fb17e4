"""The shape every dependency-file parser returns."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Dependency:
    ecosystem: str  # GitHub alert ecosystem: pip | npm | rust | go
    name: str
    version: str
    manifest_path: str
    relationship: str  # direct | transitive | unknown
    scope: str | None = None  # runtime | development | None


class DepfileError(ValueError):
    pass


def text_of(path: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DepfileError(f"{path}: not UTF-8 text") from None


def load_json(path: str, content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(text_of(path, content))
    except ValueError as exc:
        raise DepfileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DepfileError(f"{path}: expected a JSON object")
    return data


def load_toml(path: str, content: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(text_of(path, content))
    except tomllib.TOMLDecodeError as exc:
        raise DepfileError(f"{path}: not valid TOML ({exc})") from None


def load_yaml(path: str, content: bytes) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text_of(path, content))
    except yaml.YAMLError as exc:
        raise DepfileError(f"{path}: not valid YAML ({str(exc)[:200]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DepfileError(f"{path}: expected a YAML mapping")
    return data


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
