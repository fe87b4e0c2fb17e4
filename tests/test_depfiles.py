"""Dependency-file parsers: realistic lockfiles in, installed versions out."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentd.depfiles import DepfileError, file_kind, parse_dependency_file

EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "1000"))


def versions(path: str, text: str) -> dict[str, tuple[str, str]]:
    return {d.name: (d.version, d.relationship) for d in parse_dependency_file(path, text.encode())}


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


def test_yarn_classic_and_berry() -> None:
    classic = '# yarn lockfile v1\n\n"@babel/core@^7.0.0", "@babel/core@^7.1.0":\n  version "7.22.0"\n  resolved "https://registry.yarnpkg.com/x"\n\nlodash@^4.17.0:\n  version "4.17.15"\n'
    assert versions("yarn.lock", classic) == {
        "@babel/core": ("7.22.0", "unknown"),
        "lodash": ("4.17.15", "unknown"),
    }
    berry = '__metadata:\n  version: 8\n\n"lodash@npm:^4.17.0":\n  version: 4.17.15\n  resolution: "lodash@npm:4.17.15"\n\n"app@workspace:.":\n  version: 0.0.0-use.local\n  resolution: "app@workspace:."\n'
    assert versions("yarn.lock", berry) == {"lodash": ("4.17.15", "unknown")}


def test_uv_lock() -> None:
    text = 'version = 1\n\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { editable = "." }\ndependencies = [{ name = "requests" }]\n\n[[package]]\nname = "requests"\nversion = "2.25.0"\nsource = { registry = "https://pypi.org/simple" }\ndependencies = [{ name = "urllib3" }]\n\n[[package]]\nname = "urllib3"\nversion = "1.26.5"\nsource = { registry = "https://pypi.org/simple" }\n'
    assert versions("uv.lock", text) == {
        "requests": ("2.25.0", "direct"),
        "urllib3": ("1.26.5", "transitive"),
    }


def test_poetry_lock() -> None:
    text = '[[package]]\nname = "jinja2"\nversion = "3.1.2"\ndescription = ""\noptional = false\npython-versions = ">=3.7"\n\n[metadata]\nlock-version = "2.0"\n'
    assert versions("poetry.lock", text) == {"jinja2": ("3.1.2", "unknown")}


def test_cargo_lock() -> None:
    text = 'version = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["smallvec"]\n\n[[package]]\nname = "smallvec"\nversion = "1.6.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n\n[[package]]\nname = "libc"\nversion = "0.2.1"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'
    assert versions("Cargo.lock", text) == {
        "smallvec": ("1.6.0", "direct"),
        "libc": ("0.2.1", "transitive"),
    }


def test_go_mod() -> None:
    text = "module example.com/app\n\ngo 1.21\n\nrequire github.com/a/b v1.2.3\n\nrequire (\n\tgolang.org/x/net v0.17.0 // indirect\n\tgithub.com/c/d v0.1.0\n)\n\nreplace github.com/c/d => github.com/c/d v0.1.1\n"
    assert versions("go.mod", text) == {
        "github.com/a/b": ("v1.2.3", "direct"),
        "golang.org/x/net": ("v0.17.0", "transitive"),
        "github.com/c/d": ("v0.1.1", "direct"),
    }


def test_kinds() -> None:
    assert file_kind("a/requirements-prod.txt") == "requirements"
    assert file_kind("go.sum") is None
    assert file_kind("x/Cargo.lock") == "cargo-lock"


@pytest.mark.parametrize(
    "path",
    ["package-lock.json", "pnpm-lock.yaml", "uv.lock", "poetry.lock", "Cargo.lock", "go.mod"],
)
def test_garbage_is_refused(path: str) -> None:
    with pytest.raises(DepfileError):
        parse_dependency_file(path, b"\xff\xfe not [ valid {")


@settings(max_examples=EXAMPLES // 4, deadline=None)
@given(
    st.binary(max_size=300),
    st.sampled_from(
        [
            "requirements.txt",
            "package-lock.json",
            "pnpm-lock.yaml",
            "yarn.lock",
            "uv.lock",
            "poetry.lock",
            "Cargo.lock",
            "go.mod",
        ]
    ),
)
def test_arbitrary_bytes_parse_or_refuse_cleanly(content: bytes, path: str) -> None:
    try:
        result = parse_dependency_file(path, content)
    except DepfileError:
        return
    assert isinstance(result, list)
