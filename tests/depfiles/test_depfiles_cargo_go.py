"""Cargo.lock and go.mod."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.depfiles import DepfileError, file_kind, parse_dependency_file

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_cargo_workspace(fixture_rows: Rows) -> None:
    assert fixture_rows("cargo/Cargo.lock") == {
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


def test_go_mod(fixture_rows: Rows) -> None:
    assert fixture_rows("go/go.mod") == {
        ("github.com/gin-gonic/gin", "v1.9.1", "direct", "runtime"),
        ("github.com/google/uuid", "v1.6.0", "direct", "runtime"),
        ("golang.org/x/crypto", "v0.17.0", "direct", "runtime"),
        ("github.com/pkg/errors", "v0.9.1", "direct", "runtime"),  # a single-line require
        ("github.com/bytedance/sonic", "v1.9.1", "transitive", "runtime"),
        ("github.com/docker/docker", "v24.0.7+incompatible", "transitive", "runtime"),
        ("github.com/new/dep", "v1.4.2", "transitive", "runtime"),  # replace old => new v
        ("golang.org/x/net", "v0.17.0", "transitive", "runtime"),  # version-specific replace
        ("golang.org/x/text", "v0.14.0", "transitive", "runtime"),  # replace of another version
        ("golang.org/x/sys", "v0.0.0-20220722155257-8c9f86f7a55f", "transitive", "runtime"),
        ("gopkg.in/yaml.v3", "v3.0.1", "transitive", "runtime"),
    }  # the local replacement and the excluded version are not listed


def test_go_sum_alone_is_not_a_dependency_file() -> None:
    assert file_kind("go.sum") is None
    with pytest.raises(DepfileError, match=r"go\.sum"):
        parse_dependency_file("go.sum", b"github.com/a/b v1.0.0 h1:abc=\n")


def test_go_mod_quoted_paths_and_tabs() -> None:
    text = 'module example.com/app\n\nrequire\t"github.com/a/b" v1.2.3\nrequire (\n)\nrequire ()\n'
    deps = parse_dependency_file("go.mod", text.encode())
    assert [(d.name, d.version) for d in deps] == [("github.com/a/b", "v1.2.3")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"go 1.21\nrequire github.com/a/b v1.0.0\n", "no module directive"),
        (b"module x\nrequire (\n  github.com/a/b v1.0.0\n", "unterminated require block"),
        (b"module x\nrequire github.com/a/b\n", "expected 'module/path vX.Y.Z'"),
        (b"module x\nrequire github.com/a/b 1.0.0\n", "expected 'module/path vX.Y.Z'"),
        (b"module x\nreplace github.com/a/b v1.0.0\n", "malformed replace"),
        (b"module x\nrun rm -rf /\n", "unknown directive"),
        (b"module x\n\xff\n", "not UTF-8"),
    ],
)
def test_malformed_go_mod_is_refused(content: bytes, message: str) -> None:
    with pytest.raises(DepfileError, match=message):
        parse_dependency_file("svc/go.mod", content)


@pytest.mark.parametrize("content", [b'version = 3\n[[package]]\nname = "a"\nversion = ', b"\x00"])
def test_malformed_cargo_lock_is_refused(content: bytes) -> None:
    with pytest.raises(DepfileError, match=r"Cargo\.lock"):
        parse_dependency_file("crates/Cargo.lock", content)
