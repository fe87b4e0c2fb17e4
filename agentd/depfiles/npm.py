"""`package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3."""

from __future__ import annotations

from typing import Any

from agentd.depfiles.model import Dependency, DepfileError, as_dict, load_json


def _direct_names(root: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        names |= set(as_dict(root.get(key)))
    return names


def _name_from_key(key: str) -> str:
    return key.rsplit("node_modules/", 1)[-1]


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_json(path, content)
    packages = data.get("packages")
    if isinstance(packages, dict):
        root = as_dict(packages.get(""))
        direct = _direct_names(root)
        found = []
        for key, entry in packages.items():
            if not key or "node_modules/" not in key or not isinstance(entry, dict):
                continue
            if entry.get("link") or not isinstance(entry.get("version"), str):
                continue
            name = str(entry.get("name") or _name_from_key(key))
            top_level = key.count("node_modules/") == 1 and key.startswith("node_modules/")
            relationship = "direct" if top_level and name in direct else "transitive"
            scope = "development" if entry.get("dev") else "runtime"
            found.append(Dependency("npm", name, entry["version"], path, relationship, scope))
        return found
    if "dependencies" in data:
        return list(_walk_v1(path, as_dict(data.get("dependencies")), True))
    raise DepfileError(f"{path}: no packages or dependencies section")


def _walk_v1(path: str, deps: dict[str, Any], top: bool) -> list[Dependency]:
    found = []
    for name, entry in deps.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            continue
        version = entry["version"]
        if not version[:1].isdigit():
            continue  # file:, git+, link: entries
        scope = "development" if entry.get("dev") else "runtime"
        found.append(
            Dependency("npm", name, version, path, "direct" if top else "transitive", scope)
        )
        found += _walk_v1(path, as_dict(entry.get("dependencies")), False)
    return found
