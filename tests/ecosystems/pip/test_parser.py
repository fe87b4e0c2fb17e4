"""Fully pinned requirements*.txt."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import DepfileError, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_pip_compile_output_with_hashes_and_markers(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/requirements.txt") == {
        (name, version, "direct", "runtime")
        for name, version in [
            ("certifi", "2024.8.30"), ("chardet", "3.0.4"), ("idna", "2.10"), ("jinja2", "3.1.2"),
            ("markupsafe", "2.1.5"), ("pysocks", "1.7.1"), ("requests", "2.25.0"), ("urllib3", "1.26.5"),
        ]
    }  # fmt: skip


def test_only_exact_pins_count(fixture_rows: Rows) -> None:
    assert {
        (name, version) for name, version, _, _ in fixture_rows("fixtures/requirements-dev.txt")
    } == {
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


def test_requirements() -> None:
    text = (
        "# comment\n-r base.txt\nrequests[socks]==2.25.0 ; python_version >= '3.8'\n"
        "urllib3==1.26.5 \\\n    --hash=sha256:abc\nflask>=2.0\n-e .\nJinja2===3.1.2\n"
    )
    assert versions("sub/requirements-dev.txt", text) == {
        "requests": ("2.25.0", "direct"),
        "urllib3": ("1.26.5", "direct"),
        "Jinja2": ("3.1.2", "direct"),
    }
