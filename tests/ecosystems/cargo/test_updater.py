"""The cargo updater against a local-registry source built here (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateContext, parse_dependency_file, updater_for
from agentd.ecosystems.cargo.updater import CargoUpdater, _rustup_home
from agentd.vocabulary import ReasonCode
from ecosystems.registries.cargo import CargoRegistry, write_crate_project
from ecosystems.registries.e2etools import (
    LOCKFILE_RULE,
    configure,
    explain,
    file_on_main,
    repo,
    scenario,
    target,
    the_unit,
)
from ecosystems.registries.npm import read_tree
from ecosystems.registries.osv import write_advisory
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    run,
    updater_context,
)

LOCK = "Cargo.lock"
SMALLVEC = "GHSA-43w2-9j62-hq99"


def registry(root: Path) -> CargoRegistry:
    """smallvec on two lines, a dependent of each, and one that pins an exact version."""
    crates = CargoRegistry(root)
    crates.publish("smallvec", "0.6.13").publish("smallvec", "1.6.0")
    crates.publish("midlib", "1.0.0", {"smallvec": "^1.6"})
    crates.publish("oldlib", "1.0.0", {"smallvec": "^0.6"})
    crates.publish("pinlib", "1.0.0", {"smallvec": "=1.6.0"})
    return crates


def publish_fixes(crates: CargoRegistry) -> None:
    crates.publish("smallvec", "0.6.14").publish("smallvec", "1.6.1").publish("smallvec", "1.7.0")


def lock(directory: Path, home: Path, crates: CargoRegistry) -> None:
    env = offline_env(home, {**_rustup_home(offline_env(home)), **crates.env()})
    run(["cargo", "generate-lockfile"], directory, env)


def context(directory: Path, home: Path, crates: CargoRegistry) -> UpdateContext:
    return updater_context(directory, home, crates.env())


def versions(content: bytes, name: str = "smallvec") -> list[str]:
    found = parse_dependency_file(LOCK, content)
    return sorted({d.version for d in found if d.name == name})


def _bump(old: str, new: str) -> PackageBump:
    return PackageBump("smallvec", LOCK, old, new, (SMALLVEC,), "transitive")


@pytest.fixture
def crates(tmp_path: Path) -> CargoRegistry:
    require_tool("cargo")
    return registry(tmp_path / "registry")


def _project(tmp_path: Path, crates: CargoRegistry, dependencies: dict[str, str]) -> Path:
    directory = tmp_path / "repo"
    write_crate_project(directory, dependencies)
    lock(directory, private_home(tmp_path), crates)
    publish_fixes(crates)
    return directory


def test_routing() -> None:
    assert isinstance(updater_for(["cargo"], "rust", "svc/Cargo.lock"), CargoUpdater)
    assert updater_for(["cargo"], "rust", "Cargo.toml") is None


def test_both_major_lines_move_exactly_in_one_call(tmp_path: Path, crates: CargoRegistry) -> None:
    directory = _project(tmp_path, crates, {"midlib": "1", "oldlib": "1"})
    manifest = (directory / "Cargo.toml").read_bytes()

    result = CargoUpdater().apply(
        context(directory, private_home(tmp_path), crates),
        [_bump("1.6.0", "1.6.1"), _bump("0.6.13", "0.6.14")],
    )

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert versions((directory / LOCK).read_bytes()) == ["0.6.14", "1.6.1"]  # not 1.7.0
    assert (directory / "Cargo.toml").read_bytes() == manifest
    assert not (directory / "target").exists()
    assert len(result.notes) == 2


def test_an_exact_pin_of_the_workspace_is_moved(tmp_path: Path, crates: CargoRegistry) -> None:
    directory = _project(tmp_path, crates, {"smallvec": "=1.6.0", "midlib": "1"})

    result = CargoUpdater().apply(
        context(directory, private_home(tmp_path), crates), [_bump("1.6.0", "1.6.1")]
    )

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["Cargo.toml"]
    assert 'smallvec = "=1.6.1"' in (directory / "Cargo.toml").read_text()
    assert versions((directory / LOCK).read_bytes()) == ["1.6.1"]


def test_a_dependency_pinning_the_old_version_is_refused(
    tmp_path: Path, crates: CargoRegistry
) -> None:
    directory = _project(tmp_path, crates, {"pinlib": "1", "midlib": "1"})
    before = read_tree(directory)

    result = CargoUpdater().apply(
        context(directory, private_home(tmp_path), crates), [_bump("1.6.0", "1.6.1")]
    )

    assert result.blocked is ReasonCode.MANIFEST_CHANGE_REQUIRED
    assert "pinlib" in result.tool_output  # cargo's own explanation
    assert read_tree(directory) == before


def test_e2e_lockfile_only_merges_and_an_exact_pin_is_blocked(tmp_path: Path) -> None:
    require_tool("cargo")
    advisories = tmp_path / "advisories"
    write_advisory(
        advisories, SMALLVEC, "crates.io", "smallvec", [("0.6.3", "0.6.14"), ("1.0.0", "1.6.1")],
        "Buffer overflow in SmallVec::insert_many",
    )  # fmt: skip
    crates = registry(tmp_path / "registry")
    fixtures = {}
    for name, dependencies in {
        "app": {"midlib": "1", "oldlib": "1"},
        "pinned": {"smallvec": "=1.6.0"},
    }.items():
        directory = tmp_path / "fixtures" / name
        write_crate_project(directory, dependencies)
        lock(directory, private_home(tmp_path), crates)
        fixtures[name] = {
            p.relative_to(directory).as_posix(): p.read_text()
            for p in directory.rglob("*")
            if p.is_file()
        }
    publish_fixes(crates)
    world = scenario(*(repo(n, f) for n, f in fixtures.items()), advisory_dirs=[advisories])
    with e2e(tmp_path, world, [{"repo": n, "targets": [target("cargo")]} for n in fixtures]) as env:
        configure(env, {"cargo": LOCKFILE_RULE}, crates.env())
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        app = the_unit(env, summary, "app")
        assert app["outcome"] == "merged", explain(app)
        alerts = env.sim.admin.alerts("app", "dependabot")
        assert alerts and all(a["state"] == "fixed" for a in alerts)  # one per package + advisory
        assert versions(file_on_main(env, "app", LOCK).encode()) == ["0.6.14", "1.6.1"]
        pinned = the_unit(env, summary, "pinned")
        assert (pinned["outcome"], pinned["reason_code"]) == (
            "blocked",
            "manifest_change_required",
        ), explain(pinned)


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_registry_is_an_environment_problem(
    tmp_path: Path, crates: CargoRegistry, where: str
) -> None:
    """Issue 15, cause 7: cargo's network failure was reported as "a requirement excludes
    it" (manifest_change_required)."""
    directory = _project(tmp_path, crates, {"midlib": "1"})
    url, cause = UNREACHABLE[where]
    cargo_home = tmp_path / "unreachable-cargo-home"
    cargo_home.mkdir()
    (cargo_home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "unreachable"\n\n'
        f'[source.unreachable]\nregistry = "sparse+{url}/index/"\n'
    )
    allowed = {"CARGO_HOME": str(cargo_home), "CARGO_NET_RETRY": "0", **DIRECT}
    before = read_tree(directory)

    result = CargoUpdater().apply(
        updater_context(directory, private_home(tmp_path), allowed), [_bump("1.6.0", "1.6.1")]
    )

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"cargo {cause}"), result.blocked_detail
    assert read_tree(directory) == before
