"""`poetry.lock` (TOML `[[package]]`)."""

from __future__ import annotations

from agentd.depfiles.model import Dependency, as_dict, as_list, load_toml


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    found = []
    for package in (as_dict(p) for p in as_list(data.get("package"))):
        if not isinstance(package.get("name"), str) or not isinstance(package.get("version"), str):
            continue
        if as_dict(package.get("source")).get("type") in ("directory", "file", "git"):
            continue
        scope = "development" if package.get("category") == "dev" else None
        found.append(Dependency("pip", package["name"], package["version"], path, "unknown", scope))
    return found
