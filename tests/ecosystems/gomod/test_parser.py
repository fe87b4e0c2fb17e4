"""go.mod: direct and indirect requirements, replace and exclude directives."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import DepfileError, file_kind, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_go_mod(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/go.mod") == {
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


def test_go_mod_blocks_indirect_and_replace() -> None:
    text = "module example.com/app\n\ngo 1.21\n\nrequire github.com/a/b v1.2.3\n\nrequire (\n\tgolang.org/x/net v0.17.0 // indirect\n\tgithub.com/c/d v0.1.0\n)\n\nreplace github.com/c/d => github.com/c/d v0.1.1\n"
    assert versions("go.mod", text) == {
        "github.com/a/b": ("v1.2.3", "direct"),
        "golang.org/x/net": ("v0.17.0", "transitive"),
        "github.com/c/d": ("v0.1.1", "direct"),
    }


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
