"""pnpm-lock.yaml, lockfile versions 5.4 (pnpm 7), 6.0 (pnpm 8) and 9.0 (pnpm 9/10)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentd.ecosystems import DepfileError, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_v5(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v5/pnpm-lock.yaml") == {
        ("lodash", "4.17.15", "direct", "runtime"),
        ("react-dom", "18.2.0", "direct", "runtime"),  # `18.2.0_react@18.2.0` peer suffix
        ("semver", "5.7.1", "direct", "runtime"),  # alias `/semver/5.7.1`
        ("@babel/core", "7.22.0", "direct", "development"),
        ("typescript", "5.0.4", "direct", "development"),
        ("debug", "4.3.4", "transitive", "development"),
        ("ms", "2.1.2", "transitive", "development"),
        ("react", "18.2.0", "transitive", "runtime"),
        ("loose-envify", "1.4.0", "transitive", "runtime"),
        ("js-tokens", "4.0.0", "transitive", "runtime"),
        ("scheduler", "0.23.0", "transitive", "runtime"),
    }


def test_v6_workspace_importers(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v6/pnpm-lock.yaml") == {
        ("axios", "1.6.0", "direct", "runtime"),
        ("micromatch", "4.0.5", "direct", "runtime"),
        ("react-dom", "18.2.0", "direct", "runtime"),  # `(react@18.2.0)` peer suffix
        ("lodash", "4.17.15", "direct", "runtime"),  # alias `lodash-old`
        ("typescript", "5.2.2", "direct", "development"),
        ("follow-redirects", "1.15.3", "transitive", "runtime"),
        ("braces", "3.0.2", "transitive", "runtime"),
        ("fill-range", "7.0.1", "transitive", "runtime"),
        ("to-regex-range", "5.0.1", "transitive", "runtime"),
        ("is-number", "7.0.0", "transitive", "runtime"),
        ("picomatch", "2.3.1", "transitive", "runtime"),
        ("react", "18.2.0", "transitive", "runtime"),
        ("loose-envify", "1.4.0", "transitive", "runtime"),
        ("js-tokens", "4.0.0", "transitive", "runtime"),
        ("scheduler", "0.23.0", "transitive", "runtime"),
    }  # the `link:../shared` workspace is not a package


def test_v9_scope_from_snapshots(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v9/pnpm-lock.yaml") == {
        ("cookie", "0.5.0", "direct", "runtime"),
        ("react", "18.2.0", "direct", "runtime"),
        ("react-dom", "18.2.0", "direct", "runtime"),
        ("semver", "7.5.1", "direct", "runtime"),  # alias `legacy-semver` → semver@7.5.1
        ("braces", "3.0.2", "direct", "runtime"),  # direct in the packages/tool importer
        ("@types/node", "20.10.0", "direct", "development"),
        ("cross-spawn", "7.0.3", "direct", "development"),
        ("fill-range", "7.0.1", "transitive", "runtime"),
        ("loose-envify", "1.4.0", "transitive", "runtime"),
        ("js-tokens", "4.0.0", "transitive", "runtime"),
        ("scheduler", "0.23.0", "transitive", "runtime"),
        ("which", "2.0.2", "transitive", "development"),
        ("isexe", "2.0.0", "transitive", "development"),
        ("path-key", "3.1.1", "transitive", "development"),
        ("undici-types", "5.26.5", "transitive", "development"),
    }


def test_v9_nested_peer_suffixes_and_prereleases() -> None:
    lock = """lockfileVersion: '9.0'
importers:
  .:
    devDependencies:
      '@trivago/prettier-plugin-sort-imports':
        specifier: ^6.0.0
        version: 6.0.2(prettier-plugin-svelte@3.4.1(prettier@3.8.1)(svelte@5.49.1))(prettier@3.8.1)
packages:
  '@trivago/prettier-plugin-sort-imports@6.0.2':
    resolution: {integrity: sha512-x}
  '@babel/types@8.0.0-rc.1':
    resolution: {integrity: sha512-y}
  tarball-dep@https://codeload.github.com/acme/dep/tar.gz/abc:
    resolution: {tarball: https://codeload.github.com/acme/dep/tar.gz/abc}
    version: 1.0.0
snapshots:
  '@trivago/prettier-plugin-sort-imports@6.0.2(prettier-plugin-svelte@3.4.1(prettier@3.8.1)(svelte@5.49.1))(prettier@3.8.1)':
    dependencies:
      '@babel/types': 8.0.0-rc.1
  '@babel/types@8.0.0-rc.1': {}
"""
    deps = parse_dependency_file("pnpm-lock.yaml", lock.encode())
    assert {(d.name, d.version, d.relationship, d.scope) for d in deps} == {
        ("@trivago/prettier-plugin-sort-imports", "6.0.2", "direct", "development"),
        ("@babel/types", "8.0.0-rc.1", "transitive", "development"),
    }


@pytest.mark.parametrize(
    "content",
    [
        b"packages: {}\n",
        b"- a\n- b\n",
        b"lockfileVersion: '9.0'\npackages: [\n",
        b"a: !!python/object:os.system x\n",
    ],
)
def test_malformed_lockfiles_are_refused(content: bytes) -> None:
    with pytest.raises(DepfileError, match=r"pnpm-lock\.yaml"):
        parse_dependency_file("app/pnpm-lock.yaml", content)


def test_yaml_tags_never_construct_objects() -> None:
    lock = (
        b"lockfileVersion: '9.0'\npackages:\n  a@1.0.0: !!python/object/apply:os.system ['true']\n"
    )
    with pytest.raises(DepfileError):
        parse_dependency_file("pnpm-lock.yaml", lock)


def test_pnpm_v6_and_v9() -> None:
    v6 = "lockfileVersion: '6.0'\ndependencies:\n  lodash:\n    specifier: ^4.17.0\n    version: 4.17.15\npackages:\n  /lodash@4.17.15:\n    dev: false\n  /braces@3.0.2:\n    dev: false\n  /@types/node@20.1.0:\n    dev: true\n"
    assert versions("pnpm-lock.yaml", v6) == {
        "lodash": ("4.17.15", "direct"),
        "braces": ("3.0.2", "transitive"),
        "@types/node": ("20.1.0", "transitive"),
    }
    v9 = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      react-dom:\n        specifier: ^18\n        version: 18.2.0(react@18.2.0)\npackages:\n  react-dom@18.2.0:\n    resolution: {integrity: sha512-x}\n  react@18.2.0:\n    resolution: {integrity: sha512-y}\n"
    assert versions("pnpm-lock.yaml", v9) == {
        "react-dom": ("18.2.0", "direct"),
        "react": ("18.2.0", "transitive"),
    }


@pytest.mark.parametrize("version", ["v5", "v6", "v9"])
def test_the_lockfile_graph_links_each_copy_to_its_dependents(version: str) -> None:
    from pathlib import Path

    from agentd.ecosystems.pnpm.parser import lock_graph

    path = Path(__file__).parent / "fixtures" / version / "pnpm-lock.yaml"
    graph = lock_graph("pnpm-lock.yaml", path.read_bytes())
    # js-tokens ← loose-envify ← react, react-dom (peer suffixes dropped) and scheduler
    assert graph.ancestor_levels(("js-tokens", "4.0.0"))[:2] == [
        {("loose-envify", "1.4.0")},
        {("react", "18.2.0"), ("react-dom", "18.2.0"), ("scheduler", "0.23.0")},
    ]
    assert ("react-dom", "18.2.0") in graph
