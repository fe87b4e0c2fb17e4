"""A Go module proxy on disk (`GOPROXY=file://...`): `list`, `.info`, `.mod` and `.zip`.

Each module gets one package at its root whose source imports the packages of the
modules it requires, so `go mod tidy` keeps those requirements.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path


def package_name(module: str) -> str:
    return "".join(ch for ch in module.rsplit("/", 1)[-1] if ch.isalnum()) or "pkg"


def go_source(package: str, imports: list[str]) -> str:
    lines = "".join(f'\t_ "{path}"\n' for path in imports)
    return f"package {package}\n" + (f"\nimport (\n{lines})\n" if imports else "")


def go_mod(module: str, requires: dict[str, str], go: str = "1.19") -> str:
    text = f"module {module}\n\ngo {go}\n"
    if requires:
        text += "\nrequire (\n" + "".join(f"\t{m} {v}\n" for m, v in requires.items()) + ")\n"
    return text


@dataclass
class GoProxy:
    root: Path

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    def publish(self, module: str, version: str, requires: dict[str, str] | None = None) -> GoProxy:
        requires = requires or {}
        directory = self.root / module / "@v"
        directory.mkdir(parents=True, exist_ok=True)
        mod = go_mod(module, requires)
        source = go_source(package_name(module), list(requires))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, text in {"go.mod": mod, f"{package_name(module)}.go": source}.items():
                archive.writestr(
                    zipfile.ZipInfo(f"{module}@{version}/{name}", (2020, 1, 1, 0, 0, 0)), text
                )
        (directory / f"{version}.zip").write_bytes(buffer.getvalue())
        (directory / f"{version}.mod").write_text(mod)
        (directory / f"{version}.info").write_text(
            json.dumps({"Version": version, "Time": "2020-01-01T00:00:00Z"})
        )
        with (directory / "list").open("a") as listing:
            listing.write(version + "\n")
        return self

    def env(self, private: str) -> dict[str, str]:
        """Settings that make `go` use only this proxy; `private` lists module prefixes
        that have no checksum-database entry (the test modules)."""
        return {"GOPROXY": self.url, "GONOSUMDB": private, "GOFLAGS": "-mod=mod"}
