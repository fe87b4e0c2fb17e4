"""`Cargo.lock` (TOML `[[package]]`; workspace members have no `source`)."""

from __future__ import annotations

from agentd.depfiles.model import Dependency, as_dict, as_list, load_toml


def parse(path: str, content: bytes) -> list[Dependency]:
    data = load_toml(path, content)
    packages = [as_dict(p) for p in as_list(data.get("package"))]
    members = [p for p in packages if "source" not in p]
    direct = {str(d).split(" ")[0] for m in members for d in as_list(m.get("dependencies"))}
    found = []
    for package in packages:
        if "source" not in package or not isinstance(package.get("version"), str):
            continue
        name = str(package.get("name"))
        found.append(
            Dependency(
                "rust", name, package["version"], path, "direct" if name in direct else "transitive"
            )
        )
    return found
