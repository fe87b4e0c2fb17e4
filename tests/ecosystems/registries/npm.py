"""A local npm registry: packuments and tarballs built by the test, served over loopback.

npm, pnpm and yarn (classic and berry) all speak this subset of the registry API:
`GET /<name>` (scoped names as `@scope%2fname`) returns the packument, and the tarball
URLs it names are served from the same server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ecosystems.registries.http import Answer, serve


@dataclass
class NpmVersion:
    manifest: dict[str, Any]
    tarball: bytes

    @property
    def integrity(self) -> str:
        return "sha512-" + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode()

    @property
    def shasum(self) -> str:
        return hashlib.sha1(self.tarball, usedforsecurity=False).hexdigest()


def _tarball(manifest: dict[str, Any], files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    contents = {"package.json": json.dumps(manifest, indent=2), **files}
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in sorted(contents.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 499162500
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class NpmRegistry:
    packages: dict[str, dict[str, NpmVersion]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def publish(
        self,
        name: str,
        version: str,
        dependencies: dict[str, str] | None = None,
        *,
        scripts: dict[str, str] | None = None,
        peer_dependencies: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
    ) -> NpmRegistry:
        manifest: dict[str, Any] = {"name": name, "version": version, "license": "MIT"}
        if dependencies:
            manifest["dependencies"] = dependencies
        if peer_dependencies:
            manifest["peerDependencies"] = peer_dependencies
        if scripts:
            manifest["scripts"] = scripts
        tarball = _tarball(manifest, files or {"index.js": f"module.exports = {version!r};\n"})
        self.packages.setdefault(name, {})[version] = NpmVersion(manifest, tarball)
        return self

    def add_tarball(self, tarball: Path) -> NpmRegistry:
        """Serve a real release tarball (`npm pack` output) under its own name and version."""
        data = tarball.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile("package/package.json")
            assert member is not None
            manifest = json.loads(member.read())
        self.packages.setdefault(manifest["name"], {})[manifest["version"]] = NpmVersion(
            manifest, data
        )
        return self

    def version_document(self, name: str, version: str, base: str) -> dict[str, Any]:
        published = self.packages[name][version]
        basename = name.rsplit("/", 1)[-1]
        document = {
            **published.manifest,
            "_id": f"{name}@{version}",
            "dist": {
                "tarball": f"{base}/{name}/-/{basename}-{version}.tgz",
                "integrity": published.integrity,
                "shasum": published.shasum,
            },
        }
        if "scripts" in published.manifest:
            document["hasInstallScript"] = True
        return document

    def packument(self, name: str, base: str) -> dict[str, Any]:
        versions = self.packages[name]
        documents = {version: self.version_document(name, version, base) for version in versions}
        latest = max(versions, key=lambda v: tuple(int(p) for p in v.split("-")[0].split(".")))
        times = {v: f"2020-01-{i + 1:02d}T00:00:00.000Z" for i, v in enumerate(versions)}
        return {
            "_id": name,
            "name": name,
            "dist-tags": {"latest": latest},
            "versions": documents,
            "time": {"created": "2020-01-01T00:00:00.000Z", **times},
        }

    def route(self, path: str, base: str) -> Answer:
        path = unquote(path.split("?", 1)[0]).lstrip("/")
        if "/-/" in path:
            name, _, file = path.partition("/-/")
            for version, published in self.packages.get(name, {}).items():
                if file == f"{name.rsplit('/', 1)[-1]}-{version}.tgz":
                    return 200, "application/octet-stream", published.tarball
            return 404, "application/json", b'{"error":"not found"}'
        if path in self.packages:
            body = json.dumps(self.packument(path, base)).encode()
            return 200, "application/json", body
        name, _, version = path.rpartition("/")  # `GET /<name>/<version>`, as corepack asks
        if version in self.packages.get(name, {}):
            body = json.dumps(self.version_document(name, version, base)).encode()
            return 200, "application/json", body
        return 404, "application/json", b'{"error":"not found"}'

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Yields the registry URL, with a trailing slash as npm writes it."""
        with serve(self.route, self.requests) as base:
            yield base + "/"


def registry_env(url: str) -> dict[str, str]:
    """The operator's registry setting for every JS package manager (never a project
    `.npmrc` or `.yarnrc.yml`: agentd refuses repository-chosen registries)."""
    return {
        "NPM_CONFIG_REGISTRY": url,  # npm, yarn 1, pnpm before 11
        "PNPM_CONFIG_REGISTRY": url,
        "YARN_NPM_REGISTRY_SERVER": url.rstrip("/"),  # berry
        "YARN_UNSAFE_HTTP_WHITELIST": "127.0.0.1",
    }


def write_package_json(directory: Path, manifest: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")


def marker_script(marker: Path) -> str:
    """A lifecycle script that leaves a marker file if it ever runs."""
    return f"node -e \"require('fs').writeFileSync({str(marker)!r}, 'ran')\""


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under a directory (for "nothing changed" assertions)."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def lodash_registry() -> NpmRegistry:
    """lodash on two major lines, and three ways to depend on it."""
    registry = NpmRegistry()
    registry.publish("lodash", "3.10.1").publish("lodash", "4.17.15")
    registry.publish("uses-lodash", "1.0.0", {"lodash": "^4.17.0"})
    registry.publish("pins-lodash", "1.0.0", {"lodash": "4.17.15"})
    registry.publish("old-lodash", "1.0.0", {"lodash": "^3.0.0"})
    return registry


def publish_lodash_fixes(registry: NpmRegistry) -> None:
    """The fix (with a new dependency of its own) and a newer release never chosen."""
    registry.publish("helper", "1.0.0")
    registry.publish("lodash", "4.17.21", {"helper": "^1.0.0"})
    registry.publish("lodash", "4.17.22")
