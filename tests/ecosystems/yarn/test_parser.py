"""yarn.lock: classic (yarn 1) and berry (yarn 4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import DepfileError, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_classic(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/classic/yarn.lock") == {
        ("@babel/code-frame", "7.22.13", "unknown", None),
        ("braces", "3.0.2", "unknown", None),
        ("fill-range", "7.0.1", "unknown", None),
        ("follow-redirects", "1.15.2", "unknown", None),
        ("lodash", "4.17.15", "unknown", None),
        ("lodash", "4.17.21", "unknown", None),
        ("lodash", "4.17.20", "unknown", None),  # `my-lodash@npm:lodash@^4.17.20`
    }  # git and file: entries are not registry packages


def test_berry_workspaces_decide_direct(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/berry/yarn.lock") == {
        ("cookie", "0.5.0", "direct", None),
        ("micromatch", "4.0.5", "direct", None),
        ("lodash", "4.17.15", "direct", None),  # `old-lodash: npm:lodash@4.17.15`
        ("typescript", "5.3.3", "direct", None),  # through yarn's builtin compat patch
        ("lodash", "4.17.21", "transitive", None),
        ("braces", "3.0.2", "transitive", None),
        ("fill-range", "7.0.1", "transitive", None),
        ("to-regex-range", "5.0.1", "transitive", None),
        ("picomatch", "2.3.1", "transitive", None),
    }  # workspaces are not packages


def test_berry_yarn3_plain_ranges_and_no_workspace_dependencies() -> None:
    yarn3 = b"""__metadata:
  version: 6
  cacheKey: 8

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  dependencies:
    react: ^18.2.0
  languageName: unknown
  linkType: soft

"react@npm:^18.2.0":
  version: 18.2.0
  resolution: "react@npm:18.2.0"
  dependencies:
    loose-envify: ^1.1.0

"loose-envify@npm:^1.1.0":
  version: 1.4.0
  resolution: "loose-envify@npm:1.4.0"
"""
    deps = parse_dependency_file("yarn.lock", yarn3)
    assert {(d.name, d.relationship) for d in deps} == {
        ("react", "direct"),
        ("loose-envify", "transitive"),
    }
    bare = b'__metadata:\n  version: 8\n\n"lodash@npm:^4.17.0":\n  version: 4.17.15\n  resolution: "lodash@npm:4.17.15"\n'
    assert [(d.name, d.relationship) for d in parse_dependency_file("yarn.lock", bare)] == [
        ("lodash", "unknown")
    ]


@pytest.mark.parametrize(
    "content",
    [
        b'lodash@^4.17.0\n  version "4.17.15"\n',  # header without a colon
        b'  version "1.0.0"\n',  # an indented line outside any entry
        b'lodash@^4.17.0:\n  resolved "https://x"\n',  # an entry without a version
        b'__metadata:\n  version: 8\n"a@npm:1": [\n',  # berry that is not YAML
        b"__metadata:\n- 1\n",
    ],
)
def test_malformed_lockfiles_are_refused(content: bytes) -> None:
    with pytest.raises(DepfileError, match=r"yarn\.lock"):
        parse_dependency_file("web/yarn.lock", content)


def test_empty_classic_lockfile() -> None:
    assert parse_dependency_file("yarn.lock", b"# yarn lockfile v1\n\n\n") == []


def test_yarn_classic_and_berry() -> None:
    classic = '# yarn lockfile v1\n\n"@babel/core@^7.0.0", "@babel/core@^7.1.0":\n  version "7.22.0"\n  resolved "https://registry.yarnpkg.com/x"\n\nlodash@^4.17.0:\n  version "4.17.15"\n'
    assert versions("yarn.lock", classic) == {
        "@babel/core": ("7.22.0", "unknown"),
        "lodash": ("4.17.15", "unknown"),
    }
    berry = '__metadata:\n  version: 8\n\n"lodash@npm:^4.17.0":\n  version: 4.17.15\n  resolution: "lodash@npm:4.17.15"\n\n"app@workspace:.":\n  version: 0.0.0-use.local\n  resolution: "app@workspace:."\n'
    assert versions("yarn.lock", berry) == {"lodash": ("4.17.15", "unknown")}
