"""uv.lock."""

from __future__ import annotations

from collections.abc import Callable

from agentd.ecosystems import parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_uv_lock_workspace(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/uv.lock") == {
        ("jinja2", "3.1.2", "direct", "runtime"),
        ("requests", "2.25.0", "direct", "runtime"),
        ("ecdsa", "0.18.0", "direct", "runtime"),  # an optional-dependencies extra
        ("numpy", "1.26.4", "direct", "runtime"),  # resolution forks: both versions
        ("numpy", "2.1.0", "direct", "runtime"),
        ("urllib3", "1.26.5", "direct", "runtime"),  # required by the `shared` member
        ("pytest", "8.3.3", "direct", "development"),
        ("certifi", "2024.8.30", "transitive", "runtime"),
        ("chardet", "3.0.4", "transitive", "runtime"),
        ("idna", "2.10", "transitive", "runtime"),
        ("markupsafe", "2.1.5", "transitive", "runtime"),
        ("pysocks", "1.7.1", "transitive", "runtime"),  # the socks extra of requests
        ("six", "1.16.0", "transitive", "runtime"),
        ("colorama", "0.4.6", "transitive", "development"),
        ("iniconfig", "2.0.0", "transitive", "development"),
        ("packaging", "24.1", "transitive", "development"),
        ("pluggy", "1.5.0", "transitive", "development"),
    }  # the project, the workspace member and the local directory package are not listed


def test_uv_virtual_root() -> None:
    lock = b'version = 1\n\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\ndependencies = [{ name = "flask" }]\n\n[[package]]\nname = "flask"\nversion = "3.0.2"\nsource = { registry = "https://pypi.org/simple" }\n'
    deps = parse_dependency_file("uv.lock", lock)
    assert [(d.name, d.relationship, d.scope) for d in deps] == [("flask", "direct", "runtime")]


def test_uv_lock() -> None:
    text = 'version = 1\n\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { editable = "." }\ndependencies = [{ name = "requests" }]\n\n[[package]]\nname = "requests"\nversion = "2.25.0"\nsource = { registry = "https://pypi.org/simple" }\ndependencies = [{ name = "urllib3" }]\n\n[[package]]\nname = "urllib3"\nversion = "1.26.5"\nsource = { registry = "https://pypi.org/simple" }\n'
    assert versions("uv.lock", text) == {
        "requests": ("2.25.0", "direct"),
        "urllib3": ("1.26.5", "transitive"),
    }
