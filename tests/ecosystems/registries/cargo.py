"""A local cargo registry (a `local-registry` source): an index and `.crate` files on disk.

The operator points crates.io at it with a source replacement in the config of a cargo
home of its own (`CARGO_HOME`, allowlisted), so cargo resolves and locks without any
network; a repository's own `.cargo/config.toml` may not name registries.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path


def index_path(name: str) -> str:
    """Where cargo's index layout keeps a crate's file."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


def _crate(name: str, version: str, dependencies: dict[str, str]) -> bytes:
    listed = "".join(f'{dep} = "{req}"\n' for dep, req in dependencies.items())
    files = {
        "Cargo.toml": f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n\n'
        f"[dependencies]\n{listed}",
        "src/lib.rs": "",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 499162500
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _index_dependency(name: str, requirement: str) -> dict[str, object]:
    return {
        "name": name,
        "req": requirement,
        "features": [],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
    }


@dataclass
class CargoRegistry:
    root: Path

    def publish(
        self, name: str, version: str, dependencies: dict[str, str] | None = None
    ) -> CargoRegistry:
        deps = dependencies or {}
        crate = _crate(name, version, deps)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"{name}-{version}.crate").write_bytes(crate)
        entry = {
            "name": name,
            "vers": version,
            "deps": [_index_dependency(dep, req) for dep, req in deps.items()],
            "cksum": hashlib.sha256(crate).hexdigest(),
            "features": {},
            "yanked": False,
        }
        path = self.root / "index" / index_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as index:
            index.write(json.dumps(entry) + "\n")
        return self

    def source_replacement(self) -> str:
        """cargo config text that swaps crates.io for this registry."""
        return (
            '[source.crates-io]\nreplace-with = "agentd-test-registry"\n\n'
            f'[source.agentd-test-registry]\nlocal-registry = "{self.root}"\n'
        )

    def env(self) -> dict[str, str]:
        """The operator's setting: a cargo home whose config replaces crates.io (cargo
        only reads it there, never writes: a read-only one works inside the sandbox)."""
        home = self.root.with_name(self.root.name + "-cargo-home")
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(self.source_replacement())
        return {"CARGO_HOME": str(home)}


def write_crate_project(directory: Path, dependencies: dict[str, str]) -> None:
    listed = "".join(f'{dep} = "{req}"\n' for dep, req in dependencies.items())
    (directory / "src").mkdir(parents=True, exist_ok=True)
    (directory / "src" / "lib.rs").write_text("")
    (directory / "Cargo.toml").write_text(
        f'[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{listed}'
    )
