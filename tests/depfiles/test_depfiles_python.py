"""requirements*.txt, uv.lock and poetry.lock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.depfiles import DepfileError, parse_dependency_file

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_pip_compile_output_with_hashes_and_markers(fixture_rows: Rows) -> None:
    assert fixture_rows("requirements.txt") == {
        (name, version, "direct", "runtime")
        for name, version in [
            ("certifi", "2024.8.30"), ("chardet", "3.0.4"), ("idna", "2.10"), ("jinja2", "3.1.2"),
            ("markupsafe", "2.1.5"), ("pysocks", "1.7.1"), ("requests", "2.25.0"), ("urllib3", "1.26.5"),
        ]
    }  # fmt: skip


def test_only_exact_pins_count(fixture_rows: Rows) -> None:
    assert {(name, version) for name, version, _, _ in fixture_rows("requirements-dev.txt")} == {
        ("pytest", "8.3.3"),
        ("coverage", "7.6.1"),  # extras and spaces around ==
        ("ecdsa", "0.18.0"),  # ===
        ("Django", "4.2.0"),  # name as written, marker ignored
        ("PyYAML", "6.0.1"),  # per-requirement --hash option
    }  # ranges, wildcards, -e, URLs, -r/-c and index options are not pins


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("requests==2.25.0", [("requests", "2.25.0")]),
        ("requests == 2.25.0  # security pin", [("requests", "2.25.0")]),
        ("requests[socks,security]==2.25.0;python_version<'3.9'", [("requests", "2.25.0")]),
        ("torch==2.1.0+cpu", [("torch", "2.1.0+cpu")]),
        ("requests==2.*", []),
        ("requests>=2.25.0", []),
        ("requests==2.25.0,<3", []),
        ("requests", []),
        ("requests==not a version", []),
        ("legacy===2004-custom-build", []),
        ("legacy===1.0", [("legacy", "1.0")]),
        ("requests@https://example.com/requests.whl", []),
        ("#requests==2.25.0", []),
        ("--requirement other.txt", []),
        ("urllib3==1.26.5 \\\n  --hash=sha256:aa \\\n  --hash=sha256:bb", [("urllib3", "1.26.5")]),
        ("six==1.16.0 \\", [("six", "1.16.0")]),  # a continuation at end of file
    ],
)
def test_requirement_lines(line: str, expected: list[tuple[str, str]]) -> None:
    deps = parse_dependency_file("requirements/requirements-prod.txt", line.encode())
    assert [(d.name, d.version) for d in deps] == expected


def test_requirements_refuse_binary() -> None:
    with pytest.raises(DepfileError, match=r"requirements\.txt"):
        parse_dependency_file("requirements.txt", b"requests==2.25.0\x00\n")
    with pytest.raises(DepfileError, match="not UTF-8"):
        parse_dependency_file("requirements.txt", b"\xff\xfe\x00r")


def test_uv_lock_workspace(fixture_rows: Rows) -> None:
    assert fixture_rows("uv/uv.lock") == {
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


def test_poetry_1_8(fixture_rows: Rows) -> None:
    assert fixture_rows("poetry-1.8/poetry.lock") == {
        (name, version, "unknown", None)
        for name, version in [("certifi", "2024.8.30"), ("jinja2", "3.1.2"), ("markupsafe", "2.1.5"),
                              ("requests", "2.25.0"), ("urllib3", "1.26.5")]
    }  # fmt: skip  # directory and git packages are not registry releases


def test_poetry_2_groups(fixture_rows: Rows) -> None:
    assert fixture_rows("poetry-2/poetry.lock") == {
        ("jinja2", "3.1.2", "unknown", "runtime"),
        ("markupsafe", "2.1.5", "unknown", "runtime"),
        ("packaging", "24.1", "unknown", "runtime"),  # in main and dev
        ("pytest", "8.3.3", "unknown", "development"),
        ("colorama", "0.4.6", "unknown", "development"),
        ("iniconfig", "2.0.0", "unknown", "development"),
    }


def test_poetry_1_1_categories(fixture_rows: Rows) -> None:
    assert fixture_rows("poetry-1.1/poetry.lock") == {
        ("flask", "1.1.2", "unknown", "runtime"),
        ("Jinja2", "2.11.3", "unknown", "runtime"),
        ("pytest", "6.2.5", "unknown", "development"),
    }


@pytest.mark.parametrize("path", ["uv.lock", "poetry.lock"])
@pytest.mark.parametrize(
    "content", [b"[[package]\nname = 1", b"version = 1\nversion = 2\n", b"\xff\xfe", b'a = "\x00"']
)
def test_malformed_toml_is_refused(path: str, content: bytes) -> None:
    with pytest.raises(DepfileError, match=path):
        parse_dependency_file(f"py/{path}", content)


@pytest.mark.parametrize("path", ["uv.lock", "poetry.lock"])
def test_odd_toml_shapes_yield_nothing(path: str) -> None:
    assert parse_dependency_file(path, b'package = "not a table"\n') == []
    assert parse_dependency_file(path, b"[[package]]\nname = 1\nversion = [2]\n") == []
