"""Cargo.lock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import DepfileError, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_cargo_workspace(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/Cargo.lock") == {
        ("regex", "1.10.6", "direct", None),
        ("smallvec", "1.6.0", "direct", None),  # `smallvec 1.6.0` names one of two versions
        ("smallvec", "1.13.2", "direct", None),  # required by the second member
        ("tokio-fork", "1.38.0", "direct", None),  # a git source is still a crate
        ("aho-corasick", "1.1.3", "transitive", None),
        ("memchr", "2.7.4", "transitive", None),
        ("regex-syntax", "0.8.4", "transitive", None),
    }  # the members `app` and `util` have no source and are not dependencies


def test_cargo_v1_entries_with_sources() -> None:
    lock = b"""[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "libc 0.2.1 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "libc"
version = "0.2.1"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "libc"
version = "0.2.150"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum libc 0.2.1 (registry+https://github.com/rust-lang/crates.io-index)" = "abc"
"""
    deps = parse_dependency_file("Cargo.lock", lock)
    assert {(d.name, d.version, d.relationship) for d in deps} == {
        ("libc", "0.2.1", "direct"),
        ("libc", "0.2.150", "transitive"),
    }


@pytest.mark.parametrize("content", [b'version = 3\n[[package]]\nname = "a"\nversion = ', b"\x00"])
def test_malformed_cargo_lock_is_refused(content: bytes) -> None:
    with pytest.raises(DepfileError, match=r"Cargo\.lock"):
        parse_dependency_file("crates/Cargo.lock", content)


def test_cargo_lock() -> None:
    text = 'version = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["smallvec"]\n\n[[package]]\nname = "smallvec"\nversion = "1.6.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n\n[[package]]\nname = "libc"\nversion = "0.2.1"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'
    assert versions("Cargo.lock", text) == {
        "smallvec": ("1.6.0", "direct"),
        "libc": ("0.2.1", "transitive"),
    }
