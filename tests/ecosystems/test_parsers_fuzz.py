"""Hostile input: every parser returns a list or raises DepfileError, nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentd.ecosystems import Dependency, DepfileError, dependency_graph, parse_dependency_file
from ecosystems.samples import ROOT, dependency_file_samples

EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "300"))
SAMPLES = {relative: (ROOT / relative).read_bytes() for relative in dependency_file_samples()}
PATHS = [
    "requirements.txt", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml",
    "yarn.lock", "uv.lock", "poetry.lock", "Cargo.lock", "go.mod",
]  # fmt: skip
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_refuses(path: str, content: bytes) -> None:
    try:
        result = parse_dependency_file(path, content)
    except DepfileError as exc:
        assert path in str(exc)
        return
    assert isinstance(result, list)
    assert all(isinstance(d, Dependency) and d.manifest_path == path for d in result)
    assert all(isinstance(d.name, str) and isinstance(d.version, str) for d in result)
    graph = dependency_graph(path, content)  # a file that parses has a graph, or None
    assert graph is None or all(
        isinstance(name, str)
        and isinstance(targets, frozenset)
        and all(isinstance(t, str) for t in targets)
        for name, targets in graph.items()
    )


@FUZZ
@given(st.sampled_from(PATHS), st.binary(max_size=400))
def test_arbitrary_bytes(path: str, content: bytes) -> None:
    parses_or_refuses(path, content)


@FUZZ
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.data(),
)
def test_damaged_real_lockfiles(relative: str, data: st.DataObject) -> None:
    original = SAMPLES[relative]
    start = data.draw(st.integers(0, len(original)), label="start")
    end = data.draw(st.integers(start, min(len(original), start + 64)), label="end")
    patch = data.draw(
        st.binary(max_size=16) | st.sampled_from([b"", b"\n", b":", b'"', b"[", b"@", b"  "])
    )
    parses_or_refuses(relative, original[:start] + patch + original[end:])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["", "node_modules/a", "node_modules/a/node_modules/@s/b", "packages/w", "version",
     "dependencies", "packages", "lockfileVersion", "importers", "snapshots", "a@1.0.0",
     "/a/1.0.0", "/a@1.0.0(b@2)", "__metadata", "resolution", "dev", "link", "name"]
)  # fmt: skip
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from(["1.0.0", "npm:a@1.0.0", "link:../x", "a@npm:1.0.0", "x"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(st.dictionaries(KEYS, SHAPED | JSON_VALUES, max_size=5))
def test_lockfile_shaped_json_and_yaml(document: dict[str, object]) -> None:
    parses_or_refuses("package-lock.json", json.dumps(document).encode())
    as_yaml = yaml.safe_dump(document).encode()
    parses_or_refuses("pnpm-lock.yaml", as_yaml)
    parses_or_refuses("yarn.lock", b"__metadata:\n  version: 8\n" + as_yaml)


TOML_VALUE = st.sampled_from(
    ['"1.0.0"', '"a"', "1", "true", "[]", '["a", "b 1.0"]', '{ editable = "." }', '{ registry = "x" }',
     '[{ name = "a" }]', '[{ name = "a", version = "1.0.0" }]', '{ type = "git" }', '["main"]']
)  # fmt: skip
TOML_KEY = st.sampled_from(
    [
        "name",
        "version",
        "source",
        "dependencies",
        "groups",
        "category",
        "optional-dependencies",
        "dev-dependencies",
    ]
)


@FUZZ
@given(st.lists(st.dictionaries(TOML_KEY, TOML_VALUE, max_size=6), max_size=5))
def test_lockfile_shaped_toml(packages: list[dict[str, str]]) -> None:
    text = "version = 1\n\n" + "".join(
        "[[package]]\n" + "".join(f"{key} = {value}\n" for key, value in p.items()) + "\n"
        for p in packages
    )
    for path in ("uv.lock", "poetry.lock", "Cargo.lock"):
        parses_or_refuses(path, text.encode())


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            ["module x", "go 1.21", "require (", ")", "require a/b v1.0.0", "a/b v1.2.3 // indirect",
             "replace a/b => c/d v1.0.0", "replace a/b v1.0.0 => ../d", "exclude a/b v1.0.0",
             "replace (", "a/b =>", "require a/b", "// comment", "retract [v1.0.0, v1.1.0]", "tool x/y"]
        ),
        max_size=12,
    )
)  # fmt: skip
def test_go_mod_statements(lines: list[str]) -> None:
    parses_or_refuses("go.mod", "\n".join(lines).encode())


PARSE_STDIN = (
    "import sys\n"
    "from agentd.ecosystems import DepfileError, parse_dependency_file\n"
    "try:\n"
    "    parse_dependency_file(sys.argv[1], sys.stdin.buffer.read())\n"
    "except DepfileError:\n"
    "    print('refused')\n"
    "else:\n"
    "    print('parsed')\n"
)
DEEP = 100_000


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("package-lock.json", b'{"packages": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
        ("pnpm-lock.yaml", b"a: " + b"[" * DEEP + b"]" * DEEP),
        ("pnpm-lock.yaml", b"a: " + b"{a: " * DEEP + b"}" * DEEP),
        ("pnpm-lock.yaml", b"- " * DEEP + b"x"),
        ("pnpm-lock.yaml", b"- &a !t " * DEEP + b"x"),
        ("pnpm-lock.yaml", b"? " * DEEP + b"x"),
        ("yarn.lock", b"__metadata:\n  version: 8\nx:\n" + b"- " * DEEP + b"x"),
        ("pnpm-lock.yaml", b"".join(b" " * i + b"k:\n" for i in range(0, 3000, 2)) + b" " * 3000 + b"x\n"),
        ("uv.lock", b"a = " + b"[" * DEEP + b"]" * DEEP),
        ("Cargo.lock", b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000),
    ],
    ids=["json", "yaml-flow-seq", "yaml-flow-map", "yaml-compact-seq", "yaml-anchored-seq",
         "yaml-complex-keys", "yarn-berry", "yaml-indented", "toml-array", "toml-table"],
)  # fmt: skip
def test_deep_nesting_is_refused_not_a_crash(path: str, content: bytes) -> None:
    """In a child process: libyaml overflowing the C stack would kill the interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PARSE_STDIN, path],
        input=content,
        capture_output=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() in (b"refused", b"parsed")


def test_yaml_alias_bombs_stay_cheap() -> None:
    bomb = b"lockfileVersion: '9.0'\na: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        bomb += (
            f"{chr(97 + level)}: &{chr(97 + level)} [".encode()
            + b", ".join([f"*{chr(96 + level)}".encode()] * 9)
            + b"]\n"
        )
    bomb += b"importers: {'.': {dependencies: *i}}\npackages: *i\nsnapshots: *i\n"
    parses_or_refuses("pnpm-lock.yaml", bomb)


@pytest.mark.parametrize(
    "path",
    ["package-lock.json", "pnpm-lock.yaml", "uv.lock", "poetry.lock", "Cargo.lock", "go.mod"],
)
def test_garbage_is_refused(path: str) -> None:
    with pytest.raises(DepfileError):
        parse_dependency_file(path, b"\xff\xfe not [ valid {")


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
