"""package-lock.json / npm-shrinkwrap.json, lockfile versions 1, 2 and 3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentd.ecosystems import Dependency, DepfileError, parse_dependency_file
from ecosystems.samples import versions

Rows = Callable[[str], set[tuple[str, str, str, str | None]]]


def test_v3_with_workspaces_aliases_and_links(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v3/package-lock.json") == {
        ("express", "4.18.2", "direct", "runtime"),
        ("lodash", "4.17.15", "direct", "runtime"),
        ("lodash", "4.17.21", "direct", "runtime"),  # `my-lodash` is an alias of lodash
        ("jest", "29.7.0", "direct", "development"),
        ("fsevents", "2.3.3", "direct", "runtime"),  # optionalDependencies are direct
        ("react", "18.2.0", "direct", "runtime"),  # hoisted; declared by the ui workspace
        ("follow-redirects", "1.15.2", "direct", "runtime"),  # in the workspace's node_modules
        ("cookie", "0.5.0", "transitive", "runtime"),
        ("send", "0.18.0", "transitive", "runtime"),
        ("ms", "2.0.0", "transitive", "runtime"),
        ("ms", "2.1.3", "transitive", "runtime"),  # nested under send
        ("loose-envify", "1.4.0", "transitive", "runtime"),
        ("semver", "6.3.0", "transitive", "runtime"),  # devOptional is not dev-only
        ("braces", "3.0.2", "transitive", "development"),
        ("fill-range", "7.0.1", "transitive", "development"),
        ("cross-spawn", "7.0.3", "transitive", "development"),
        ("path-key", "3.1.1", "transitive", "development"),
        ("from-git", "1.0.0", "transitive", "runtime"),
    }  # the @shop/ui link and the workspace folders themselves are not packages


def test_v2_reads_the_packages_map(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v2/package-lock.json") == {
        ("micromatch", "4.0.5", "direct", "runtime"),
        ("braces", "3.0.2", "transitive", "runtime"),
        ("fill-range", "7.0.1", "transitive", "runtime"),
        ("picomatch", "2.3.1", "transitive", "runtime"),
    }


def test_v1_nested_tree(fixture_rows: Rows) -> None:
    assert fixture_rows("fixtures/v1/package-lock.json") == {
        ("debug", "2.6.9", "unknown", "runtime"),
        ("lodash", "4.17.15", "unknown", "runtime"),
        ("ms", "2.0.0", "unknown", "runtime"),
        ("mocha", "10.2.0", "unknown", "development"),
        ("ms", "2.1.3", "transitive", "development"),
        ("semver", "5.7.1", "unknown", "runtime"),  # alias `npm:semver@5.7.1`
    }  # git and file: entries carry no registry version


def test_shrinkwrap_and_manifest_path(parse_fixture: Callable[[str], list[Dependency]]) -> None:
    content = (Path(__file__).parent / "fixtures" / "v2" / "package-lock.json").read_bytes()
    deps = parse_dependency_file("services/api/npm-shrinkwrap.json", content)
    assert {d.manifest_path for d in deps} == {"services/api/npm-shrinkwrap.json"}
    assert all(d.ecosystem == "npm" for d in deps)
    assert len(deps) == len(parse_fixture("fixtures/v2/package-lock.json"))


def test_a_lockfile_without_dependencies() -> None:
    lock = {
        "name": "empty",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": {"name": "empty"}},
    }
    assert parse_dependency_file("package-lock.json", json.dumps(lock).encode()) == []
    assert parse_dependency_file("package-lock.json", b'{"lockfileVersion": 1}') == []


@pytest.mark.parametrize(
    "content",
    [b"", b"[]", b'"text"', b"{", b'{"name": "x"}', b"\xff\xfe{}", b'{"packages": 1, "x": "\x00"}'],
)
def test_malformed_lockfiles_are_refused(content: bytes) -> None:
    with pytest.raises(DepfileError, match=r"web/package-lock\.json"):
        parse_dependency_file("web/package-lock.json", content)


def test_odd_entries_are_skipped_not_fatal() -> None:
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"a": "1", "b": "1"}},
            "node_modules/a": {"version": 7},
            "node_modules/b": "not an object",
            "node_modules/c": {"version": "1.0.0", "dev": "yes"},
            "node_modules/": {"version": "1.0.0"},
        },
    }
    deps = parse_dependency_file("package-lock.json", json.dumps(lock).encode())
    assert [(d.name, d.version, d.scope) for d in deps] == [("c", "1.0.0", "runtime")]


def test_package_lock_v3_direct_and_transitive() -> None:
    lock = {
        "name": "app", "lockfileVersion": 3, "requires": True,
        "packages": {
            "": {"name": "app", "dependencies": {"express": "^4.18.0"}, "devDependencies": {"jest": "^29.0.0"}},
            "node_modules/express": {"version": "4.18.2"},
            "node_modules/cookie": {"version": "0.5.0"},
            "node_modules/jest": {"version": "29.7.0", "dev": True},
            "node_modules/express/node_modules/cookie": {"version": "0.6.0"},
            "node_modules/@scope/pkg": {"version": "1.0.0"},
            "node_modules/local": {"resolved": "../local", "link": True},
        },
    }  # fmt: skip
    deps = parse_dependency_file("ui/package-lock.json", json.dumps(lock).encode())
    got = {(d.name, d.version, d.relationship, d.scope) for d in deps}
    assert ("express", "4.18.2", "direct", "runtime") in got
    assert ("cookie", "0.5.0", "transitive", "runtime") in got
    assert ("cookie", "0.6.0", "transitive", "runtime") in got
    assert ("jest", "29.7.0", "direct", "development") in got
    assert ("@scope/pkg", "1.0.0", "transitive", "runtime") in got
    assert all(d.name != "local" for d in deps)


def test_package_lock_v1() -> None:
    lock = {
        "lockfileVersion": 1,
        "dependencies": {
            "lodash": {"version": "4.17.15", "dependencies": {"x": {"version": "1.0.0"}}}
        },
    }
    # v1 hoists everything to the top level, so the top level says nothing about "direct".
    assert versions("package-lock.json", json.dumps(lock)) == {
        "lodash": ("4.17.15", "unknown"),
        "x": ("1.0.0", "transitive"),
    }
