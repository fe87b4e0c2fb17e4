"""`uv.lock` (TOML `[[package]]`)."""

from __future__ import annotations

from agentd.depfiles.model import Dependency, as_dict, as_list, load_toml


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    packages = [as_dict(p) for p in as_list(data.get("package"))]
    roots = [p for p in packages if {"editable", "virtual"} & set(as_dict(p.get("source")))]
    direct = {
        str(as_dict(d).get("name")) for root in roots for d in as_list(root.get("dependencies"))
    }
    direct |= {
        str(as_dict(d).get("name"))
        for root in roots
        for group in as_dict(root.get("dev-dependencies")).values()
        for d in as_list(group)
    }
    found = []
    for package in packages:
        if package in roots or not isinstance(package.get("version"), str):
            continue
        name = str(package.get("name"))
        found.append(
            Dependency(
                "pip", name, package["version"], path, "direct" if name in direct else "transitive"
            )
        )
    return found
