"""The shape every dependency-file parser returns, and safe loaders for their formats.

Lockfiles are untrusted repository content: loaders read data only (no YAML tags, no
code), cap the size, and turn every decoding problem into `DepfileError`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPFILE_BYTES = 64 * 1024 * 1024
# libyaml's composer recurses in C without a depth check: very deep nesting crashes the
# process instead of raising. Nesting comes from flow brackets, or in block style from a
# deeper column (indentation, or compact `- - -` / `? ` indicators and their anchors and
# tags). Lockfiles nest a handful of levels; the absurd is refused before parsing.
MAX_YAML_FLOW_DEPTH = 256
MAX_YAML_BLOCK_PREFIX = 1024
_YAML_FLOW_BRACKET = re.compile(r"[\[\]{}]")
_YAML_BLOCK_PREFIX = re.compile(r"^(?:[ \t]|[-?:](?=[ \t]|$)|[&!][^ \t]*)+", re.MULTILINE)


@dataclass(frozen=True)
class Dependency:
    ecosystem: str  # GitHub alert ecosystem: "pip" | "npm" | "rust" | "go"
    name: str  # as written (npm scoped names keep their scope)
    version: str
    manifest_path: str  # repo-relative path of the dependency file it came from
    relationship: str  # "direct" | "transitive" | "unknown"
    scope: str | None = None  # "runtime" | "development" | None


class DepfileError(ValueError):
    """A dependency file that cannot be read; the message names the path."""


def text_of(path: str, content: bytes) -> str:
    if len(content) > MAX_DEPFILE_BYTES:
        raise DepfileError(f"{path}: larger than {MAX_DEPFILE_BYTES} bytes")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DepfileError(f"{path}: not UTF-8 text") from None
    if "\x00" in text:
        raise DepfileError(f"{path}: contains NUL bytes")
    return text


def load_json(path: str, content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(text_of(path, content))
    except (ValueError, RecursionError) as exc:
        raise DepfileError(f"{path}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise DepfileError(f"{path}: expected a JSON object at the top level")
    return data


def load_toml(path: str, content: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(text_of(path, content))
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise DepfileError(f"{path}: not valid TOML ({str(exc)[:200]})") from None


class _PlainYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML where every plain scalar stays a string.

    Lockfile versions such as `1.10` must not become the float 1.1, nor `no` a boolean.
    """


_PlainYamlLoader.yaml_implicit_resolvers = {}


def _yaml_flow_depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _YAML_FLOW_BRACKET.finditer(text):
        if bracket.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _yaml_block_prefix(text: str) -> int:
    """The longest run of indentation and block indicators that starts a line."""
    return max((len(m.group()) for m in _YAML_BLOCK_PREFIX.finditer(text)), default=0)


def load_yaml(path: str, content: bytes) -> dict[str, Any]:
    text = text_of(path, content)
    if _yaml_flow_depth(text) > MAX_YAML_FLOW_DEPTH or _yaml_block_prefix(text) > (
        MAX_YAML_BLOCK_PREFIX
    ):
        raise DepfileError(f"{path}: YAML nested too deeply")
    try:
        data = yaml.load(text, Loader=_PlainYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        raise DepfileError(f"{path}: not valid YAML ({str(exc)[:200]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DepfileError(f"{path}: expected a YAML mapping at the top level")
    return data


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def is_true(value: Any) -> bool:
    """YAML/JSON/TOML truth as lockfiles write it (`true`, or the string `"true"`)."""
    return value is True or value == "true"


def unique(dependencies: Iterable[Dependency]) -> list[Dependency]:
    """Drop exact duplicates, keeping the first occurrence's position."""
    return list(dict.fromkeys(dependencies))


def reachable(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Every node reachable from `roots` (roots included) through `edges`."""
    seen: set[str] = set()
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(edges.get(node, ()))
    return seen


def scope_of(node: str, runtime: set[str], development: set[str]) -> str | None:
    if node in runtime:
        return "runtime"
    if node in development:
        return "development"
    return None


def frozen_graph(edges: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """A dependency graph as the ecosystem record's `graph` reader returns it."""
    return {name: frozenset(targets) for name, targets in edges.items()}
