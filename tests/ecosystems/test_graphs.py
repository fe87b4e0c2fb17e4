"""The dependency graph each lockfile format records (name → names it depends on), read
from the realistic fixtures under `<ecosystem>/fixtures/`; the churn check walks it."""

from __future__ import annotations

import pytest

from agentd.ecosystems import ECOSYSTEMS, by_name, dependency_graph
from ecosystems.samples import ROOT

EDGES = {
    "npm/fixtures/v1/package-lock.json": {"debug": {"ms"}, "mocha": {"ms"}, "lodash": set()},
    "npm/fixtures/v2/package-lock.json": {
        "micromatch": {"braces", "picomatch"},
        "braces": {"fill-range"},
    },
    "npm/fixtures/v3/package-lock.json": {
        "express": {"cookie", "send"},
        "send": {"ms"},
        "react": {"loose-envify"},
    },
    "yarn/fixtures/classic/yarn.lock": {
        "@babel/code-frame": {"@babel/highlight", "chalk"},
        "braces": {"fill-range"},
    },
    "yarn/fixtures/berry/yarn.lock": {
        "micromatch": {"braces", "picomatch"},
        "fill-range": {"to-regex-range"},
    },
    "pnpm/fixtures/v5/pnpm-lock.yaml": {
        "react-dom": {"loose-envify", "react", "scheduler"},
        "@babel/core": {"debug"},
    },
    "pnpm/fixtures/v6/pnpm-lock.yaml": {
        "axios": {"follow-redirects"},
        "to-regex-range": {"is-number"},
    },
    "pnpm/fixtures/v9/pnpm-lock.yaml": {"cross-spawn": {"path-key", "which"}, "which": {"isexe"}},
    "poetry/fixtures/2/poetry.lock": {"jinja2": {"MarkupSafe"}, "markupsafe": set()},
    "poetry/fixtures/1.1/poetry.lock": {"flask": {"Jinja2"}},
    "uv/fixtures/uv.lock": {
        "requests": {"certifi", "chardet", "idna", "pysocks", "urllib3"},
        "jinja2": {"markupsafe"},
    },
    "cargo/fixtures/Cargo.lock": {
        "regex": {"aho-corasick", "memchr", "regex-syntax"},
        "app": {"regex", "smallvec", "util"},
    },
    # pip-compile's `# via` annotations: certifi is `# via requests`, and so on
    "pip/fixtures/requirements.txt": {
        "requests": {"certifi", "chardet", "idna", "pysocks", "urllib3"},
        "jinja2": {"markupsafe"},
        "markupsafe": set(),
    },
}


@pytest.mark.parametrize("relative", sorted(EDGES))
def test_fixture_graphs(relative: str) -> None:
    graph = dependency_graph(relative, (ROOT / relative).read_bytes())
    assert graph is not None
    assert {name: set(graph[name]) for name in EDGES[relative]} == EDGES[relative]


def test_an_alias_points_at_its_real_package() -> None:
    v3 = dependency_graph(
        "package-lock.json", (ROOT / "npm/fixtures/v3/package-lock.json").read_bytes()
    )
    berry = dependency_graph("yarn.lock", (ROOT / "yarn/fixtures/berry/yarn.lock").read_bytes())
    v9 = dependency_graph("pnpm-lock.yaml", (ROOT / "pnpm/fixtures/v9/pnpm-lock.yaml").read_bytes())
    assert v3 is not None and "my-lodash" not in v3  # installed as my-lodash, it is lodash
    assert berry is not None and "old-lodash" not in berry
    assert v9 is not None and "legacy-semver" not in v9 and "semver" in v9


def test_files_that_record_no_graph() -> None:
    dev = (ROOT / "pip/fixtures/requirements-dev.txt").read_bytes()
    assert dependency_graph("requirements-dev.txt", dev) is None  # hand-written pins
    go = (ROOT / "gomod/fixtures/go.mod").read_bytes()
    assert dependency_graph("go.mod", go) is None
    go_record = by_name("go")
    assert go_record is not None and go_record.minimum_version_selection


def test_pip_compile_line_annotations() -> None:
    text = b"""idna==3.4  # via requests, yarl
requests==2.31.0  # via -r requirements.in
yarl==1.9.4
    # via
    #   aiohttp
    #   -r requirements.in
aiohttp==3.9.5
    # via -r requirements.in
"""
    graph = dependency_graph("requirements.txt", text)
    assert graph is not None
    assert {name: set(graph[name]) for name in graph} == {
        "idna": set(),
        "requests": {"idna"},
        "yarl": {"idna"},
        "aiohttp": {"yarl"},
    }


def test_every_ecosystem_says_which_other_packages_an_update_may_move() -> None:
    """A new ecosystem without a graph reader would let the churn check allow nothing but
    the bumped packages; it must say so on purpose."""
    for ecosystem in ECOSYSTEMS:
        assert ecosystem.graph is not None or ecosystem.minimum_version_selection, ecosystem.name
