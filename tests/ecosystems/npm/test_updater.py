"""The npm updater against a local registry: exact lockfile-only bumps, manifest fallbacks.

Every test serves its packages from a loopback registry built here; the updater's
environment carries a proxy trap, so a request that tries to leave loopback fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateContext, updater_for
from agentd.ecosystems.npm.updater import NpmUpdater
from agentd.vocabulary import ReasonCode
from ecosystems.registries.e2etools import (
    REVIEW_MANIFESTS_RULE,
    configure,
    explain,
    file_on_main,
    repo,
    scenario,
    target,
    the_unit,
)
from ecosystems.registries.npm import (
    NpmRegistry,
    lodash_registry,
    marker_script,
    publish_lodash_fixes,
    read_tree,
    registry_env,
    write_package_json,
)
from ecosystems.registries.toolenv import offline_env, private_home, run, updater_context

LOCK = "package-lock.json"
LODASH_ADVISORY = ("GHSA-35jh-r3h4-6jhm",)


@dataclass
class Project:
    registry: NpmRegistry
    url: str
    root: Path  # the repository
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return registry_env(self.url)

    def context(self, **extra: str) -> UpdateContext:
        return updater_context(self.root, self.home, {**self.env, **extra})

    def create(self, manifest: dict[str, object], where: str = ".") -> Path:
        directory = self.root / where
        write_package_json(directory, manifest)
        run(
            ["npm", "install", "--package-lock-only", "--ignore-scripts"],
            directory,
            offline_env(self.home, self.env),
        )
        return directory

    def assert_consistent(self, where: str = ".") -> None:
        """npm itself finds every dependency satisfied by the lockfile."""
        run(
            ["npm", "ls", "--package-lock-only", "--all"],
            self.root / where,
            offline_env(self.home, self.env),
        )

    def locked(self, where: str = ".") -> dict[str, str]:
        lock = json.loads((self.root / where / LOCK).read_text())
        return {key: entry.get("version", "") for key, entry in lock["packages"].items()}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    require_tool("npm")
    registry = lodash_registry()
    with registry.serve() as url:
        yield Project(registry, url, tmp_path / "repo", private_home(tmp_path))


def _versions(locked: dict[str, str], name: str) -> list[str]:
    return sorted({v for key, v in locked.items() if key.endswith(f"node_modules/{name}")})


def _bump(name: str, old: str, new: str, manifest: str = LOCK) -> PackageBump:
    return PackageBump(name, manifest, old, new, LODASH_ADVISORY, "transitive")


def test_registry_routes_npm_lockfiles_only() -> None:
    updater = updater_for(["npm"], "npm", "ui/package-lock.json")
    assert isinstance(updater, NpmUpdater)
    assert updater_for(["npm"], "npm", "npm-shrinkwrap.json") is updater
    assert updater_for(["npm"], "npm", "ui/yarn.lock") is None
    assert updater_for(["npm"], "pip", "package-lock.json") is None


def test_transitive_bump_is_lockfile_only_and_exact(project: Project) -> None:
    directory = project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "old-lodash": "1.0.0"}},
        "ui",
    )  # fmt: skip
    publish_lodash_fixes(project.registry)
    manifest_before = (directory / "package.json").read_bytes()

    result = NpmUpdater().apply(
        project.context(),
        [_bump("lodash", "4.17.15", "4.17.21", "ui/package-lock.json")],
    )

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == ["ui/package-lock.json"]
    assert result.manifest_files == []
    locked = project.locked("ui")
    # the smallest fix, not the newest; the other major line untouched
    assert _versions(locked, "lodash") == ["3.10.1", "4.17.21"]
    assert _versions(locked, "helper") == ["1.0.0"]  # the fix's new dependency is locked
    project.assert_consistent("ui")
    assert (directory / "package.json").read_bytes() == manifest_before
    assert not (directory / "node_modules").exists()
    assert "/lodash" in project.registry.requests  # resolved against the local registry
    assert "lockfile only" in result.notes[0]


def test_a_dependent_pinning_the_old_version_needs_an_override(project: Project) -> None:
    directory = project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "pins-lodash": "1.0.0", "old-lodash": "1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)

    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == ["package-lock.json", "package.json"]
    assert result.manifest_files == ["package.json"]
    manifest = json.loads((directory / "package.json").read_text())
    assert manifest["overrides"] == {"lodash@4.17.15": "4.17.21"}  # only that version
    assert _versions(project.locked(), "lodash") == ["3.10.1", "4.17.21"]
    project.assert_consistent()


def test_a_direct_pin_gets_its_range_bumped(project: Project) -> None:
    directory = project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.15", "uses-lodash": "^1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)

    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["package.json"]
    manifest = json.loads((directory / "package.json").read_text())
    assert manifest["dependencies"]["lodash"] == "4.17.21"
    assert "overrides" not in manifest
    assert project.locked()["node_modules/lodash"] == "4.17.21"


def test_workspaces_bump_their_own_pins_and_override_a_dependents_pin(project: Project) -> None:
    # npm keeps a pinned run's copy even where a dependent's range now rejects it, so the
    # updater asks `npm ls` as well as reading the lockfile
    write_package_json(
        project.root / "packages" / "web",
        {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.15", "uses-lodash": "^1.0.0"}},
    )  # fmt: skip
    write_package_json(
        project.root / "packages" / "api",
        {"name": "api", "version": "1.0.0", "dependencies": {"pins-lodash": "1.0.0"}},
    )
    project.create(
        {"name": "root", "version": "1.0.0", "private": True, "workspaces": ["packages/*"]}
    )
    publish_lodash_fixes(project.registry)

    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["package.json", "packages/web/package.json"]
    web = json.loads((project.root / "packages/web/package.json").read_text())
    assert web["dependencies"]["lodash"] == "4.17.21"
    root = json.loads((project.root / "package.json").read_text())
    assert root["overrides"] == {"lodash@4.17.15": "4.17.21"}
    assert _versions(project.locked(), "lodash") == ["4.17.21"]
    project.assert_consistent()


def test_an_unresolvable_bump_restores_every_file(project: Project) -> None:
    directory = project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}}
    )
    before = read_tree(directory)  # 4.17.21 is never published: npm cannot reach it

    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is ReasonCode.VERIFICATION_FAILED
    assert "npm install" in result.blocked_detail
    assert "4.17.21" in result.tool_output  # npm's own words, kept for the report
    assert read_tree(directory) == before


def test_lockfile_v1_is_left_for_a_person(project: Project) -> None:
    directory = project.root
    write_package_json(directory, {"name": "old", "version": "1.0.0"})
    (directory / LOCK).write_text(
        json.dumps({"lockfileVersion": 1, "dependencies": {"lodash": {"version": "4.17.15"}}})
    )
    before = read_tree(directory)
    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])
    assert result.blocked is ReasonCode.UNSUPPORTED_ECOSYSTEM
    assert read_tree(directory) == before


def test_a_package_the_lockfile_no_longer_holds_is_dependency_removed(project: Project) -> None:
    directory = project.create({"name": "web", "version": "1.0.0"})
    before = read_tree(directory)
    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])
    assert result.blocked is ReasonCode.DEPENDENCY_REMOVED
    assert read_tree(directory) == before


def test_tool_output_is_redacted(project: Project) -> None:
    from agentd.redaction import REDACTOR

    token = "npm_" + "S3cretRegistryToken" * 2
    REDACTOR.register(token)  # as the engine does for every allowlisted value
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})
    publish_lodash_fixes(project.registry)
    registry = f"{project.url}{token}/"  # npm prints URLs

    result = NpmUpdater().apply(
        project.context(NPM_TOKEN=token, NPM_CONFIG_REGISTRY=registry),
        [_bump("lodash", "4.17.15", "4.17.21")],
    )

    assert result.blocked is ReasonCode.VERIFICATION_FAILED
    assert "127.0.0.1" in result.tool_output and "***" in result.tool_output
    assert token not in result.tool_output + result.blocked_detail


# --- end to end -------------------------------------------------------------------------


def test_e2e_lockfile_only_merges_and_a_pinning_dependent_opens_a_pr(tmp_path: Path) -> None:
    require_tool("npm")
    marker = tmp_path / "lifecycle-script-ran"
    registry = NpmRegistry()
    registry.publish("lodash", "4.17.15")
    registry.publish("cross-spawn", "6.0.5")
    registry.publish("uses-lodash", "1.0.0", {"lodash": "^4.17.0"})
    registry.publish("pins-lodash", "1.0.0", {"lodash": "4.17.15"})
    registry.publish(
        "spawner",
        "1.0.0",
        {"cross-spawn": "^6.0.0"},
        scripts={"postinstall": marker_script(marker)},
    )
    home = private_home(tmp_path)
    with registry.serve() as url:
        fixtures = {}
        for name, dependencies in {
            "web": {"uses-lodash": "^1.0.0", "spawner": "^1.0.0"},
            "pinned": {"pins-lodash": "1.0.0"},
        }.items():
            directory = tmp_path / "fixtures" / name
            write_package_json(directory, {
                "name": name, "version": "1.0.0", "dependencies": dependencies,
                "scripts": {"preinstall": marker_script(marker), "prepare": marker_script(marker)},
            })  # fmt: skip
            run(["npm", "install", "--package-lock-only", "--ignore-scripts"], directory,
                offline_env(home, registry_env(url)))  # fmt: skip
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        registry.publish("lodash", "4.17.21").publish("lodash", "4.17.22")
        registry.publish("cross-spawn", "6.0.6").publish("cross-spawn", "7.0.5")
        world = scenario(repo("web", fixtures["web"]), repo("pinned", fixtures["pinned"]))
        profile_repos = [
            {"repo": "web", "targets": [target("npm")]},
            {"repo": "pinned", "targets": [target("npm")]},
        ]
        with e2e(tmp_path, world, profile_repos) as env:
            configure(env, {"npm": REVIEW_MANIFESTS_RULE}, registry_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]

            web = the_unit(env, summary, "web")
            assert web["outcome"] == "merged", explain(web)
            assert all(a["state"] == "fixed" for a in env.sim.admin.alerts("web", "dependabot"))
            lock = json.loads(file_on_main(env, "web", LOCK))["packages"]
            assert lock["node_modules/lodash"]["version"] == "4.17.21"
            assert lock["node_modules/cross-spawn"]["version"] == "6.0.6"  # same major line
            assert json.loads(file_on_main(env, "web", "package.json")) == json.loads(
                fixtures["web"]["package.json"]
            )

            pinned = the_unit(env, summary, "pinned")
            assert (pinned["outcome"], pinned["remaining_blocker"]) == (
                "opened_pr",
                "manifest_change_required",
            ), explain(pinned)
            [pull] = env.sim.admin.pulls("pinned")
            assert pull["state"] == "open" and not pull["merged"]
            assert not marker.exists(), "a lifecycle script ran during the update"
