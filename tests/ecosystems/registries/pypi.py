"""A local Python package index: minimal wheels built here, served as PEP 503 pages.

A wheel is a zip with `METADATA`, `WHEEL` and `RECORD` in its `.dist-info`; that is all
uv and poetry need to resolve and lock it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from ecosystems.localindex import serve_directory, write_simple_index


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def build_wheel(name: str, version: str, requires: Sequence[str] = ()) -> tuple[str, bytes]:
    """(file name, bytes) of a pure-Python wheel declaring `requires` (PEP 508 strings)."""
    stem = canonicalize_name(name).replace("-", "_")
    dist_info = f"{stem}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {requirement}\n" for requirement in requires
    )
    files = {
        f"{stem}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: agentd-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    return f"{stem}-{version}-py3-none-any.whl", buffer.getvalue()


@dataclass
class PythonIndex:
    root: Path
    wheels: dict[str, bytes] = field(default_factory=dict)

    def publish(self, name: str, version: str, requires: Sequence[str] = ()) -> PythonIndex:
        filename, data = build_wheel(name, version, requires)
        self.wheels[filename] = data
        write_simple_index(self.root, self.wheels)
        return self

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Yields the simple index URL (`http://127.0.0.1:PORT/simple/`)."""
        write_simple_index(self.root, self.wheels)
        with serve_directory(self.root) as base:
            yield f"{base}/simple/"


def pyproject(index_url: str, dependencies: Sequence[str], tool: str) -> str:
    """A project for `tool` ("uv" or "poetry") whose only index is the local one: uv takes
    it from the environment (`index_env`); poetry can only take it from pyproject.toml, and
    agentd accepts that source because the environment names the same URL."""
    listed = ", ".join(f'"{d}"' for d in dependencies)
    head = (
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
        f"dependencies = [{listed}]\n"
    )
    if tool == "uv":
        return head
    return head + (
        "\n[tool.poetry]\npackage-mode = false\n\n"
        f'[[tool.poetry.source]]\nname = "local"\nurl = "{index_url}"\npriority = "primary"\n'
    )


def index_env(index_url: str) -> dict[str, str]:
    """The operator's index settings (uv's default index; poetry's `local` source)."""
    return {"UV_DEFAULT_INDEX": index_url, "POETRY_REPOSITORIES_LOCAL_URL": index_url}


def http_world(index: PythonIndex) -> PythonIndex:
    """urllib3 and requests as the real advisories know them, plus made-up dependents.

    Only urllib3 1.26.5 exists yet: a project locked now gets the 1.x line."""
    index.publish("urllib3", "1.26.5")
    index.publish("httpclient", "1.0.0", ["urllib3>=1.21,<3"])
    index.publish("pinned-client", "1.0.0", ["urllib3==1.26.5"])
    index.publish("requests", "2.25.0", ["urllib3>=1.21.1,<3"])
    return index


def publish_http_fixes(index: PythonIndex) -> None:
    """Fixes on both urllib3 lines, newer releases never chosen, and the requests fix."""
    for version in ("1.26.18", "1.26.19", "1.26.20", "2.2.2", "2.3.0"):
        index.publish("urllib3", version)
    index.publish("requests", "2.32.4", ["urllib3>=1.21.1,<3"])
    index.publish("requests", "2.32.5", ["urllib3>=1.21.1,<3"])
