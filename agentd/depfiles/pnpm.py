"""`pnpm-lock.yaml`, lockfile versions 5.x, 6.x and 9.x."""

from __future__ import annotations

import re
from typing import Any

from agentd.depfiles.model import Dependency, as_dict, load_yaml

_PEER_SUFFIX = re.compile(r"(\(.*\)|_[^/]*@.*)$")


def _split_key(key: str) -> tuple[str, str] | None:
    """`/name/1.0.0` (v5), `/name@1.0.0` (v6), `name@1.0.0` (v9), scoped names too."""
    key = _PEER_SUFFIX.sub("", key.lstrip("/"))
    if "@" in key[1:]:
        at = key.rindex("@")
        return key[:at], key[at + 1 :]
    if "/" in key:
        name, _, version = key.rpartition("/")
        return name, version
    return None


def _direct(data: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    sections = [data, *as_dict(data.get("importers")).values()]
    for section in sections:
        for key in ("dependencies", "devDependencies", "optionalDependencies"):
            names |= set(as_dict(as_dict(section).get(key)))
    return names


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_yaml(path, content)
    direct = _direct(data)
    found = []
    for key, entry in as_dict(data.get("packages")).items():
        split = _split_key(str(key))
        if split is None:
            continue
        name, version = split
        if not version[:1].isdigit():
            continue
        dev = as_dict(entry).get("dev") is True
        found.append(
            Dependency(
                "npm",
                name,
                version,
                path,
                "direct" if name in direct else "transitive",
                "development" if dev else "runtime",
            )
        )
    return found
