"""The pnpm updater against a local registry: exact lockfile-only bumps, overrides when needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateContext, parse_dependency_file, updater_for
from agentd.ecosystems.pnpm.updater import PnpmUpdater, add_workspace_overrides
from agentd.vocabulary import ReasonCode
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

LOCK = "pnpm-lock.yaml"
PNPM_INSTALL = ["pnpm", "install", "--lockfile-only", "--ignore-scripts"]


@dataclass
class Project:
    registry: NpmRegistry
    url: str
    root: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return registry_env(self.url)

    def context(self) -> UpdateContext:
        return updater_context(self.root, self.home, self.env)

    def create(self, manifest: dict[str, object]) -> Path:
        write_package_json(self.root, manifest)
        run(PNPM_INSTALL, self.root, offline_env(self.home, self.env))
        return self.root

    def assert_consistent(self) -> None:
        """pnpm itself accepts the lockfile as up to date."""
        run([*PNPM_INSTALL, "--frozen-lockfile"], self.root, offline_env(self.home, self.env))

    def versions(self, name: str) -> list[str]:
        found = parse_dependency_file(LOCK, (self.root / LOCK).read_bytes())
        return sorted({d.version for d in found if d.name == name})


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    require_tool("pnpm")
    registry = lodash_registry()
    with registry.serve() as url:
        yield Project(registry, url, tmp_path / "repo", private_home(tmp_path))


def _bump(old: str = "4.17.15", new: str = "4.17.21") -> PackageBump:
    return PackageBump("lodash", LOCK, old, new, ("GHSA-35jh-r3h4-6jhm",), "transitive")


def test_routing() -> None:
    assert isinstance(updater_for(["pnpm"], "npm", "web/pnpm-lock.yaml"), PnpmUpdater)
    assert updater_for(["pnpm"], "npm", "package-lock.json") is None


def test_transitive_bump_is_lockfile_only_and_exact(project: Project) -> None:
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "old-lodash": "1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)
    manifest = (project.root / "package.json").read_bytes()

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    assert project.versions("helper") == ["1.0.0"]
    assert (project.root / "package.json").read_bytes() == manifest
    assert not (project.root / "pnpm-workspace.yaml").exists()
    assert not (project.root / "node_modules").exists()
    assert "/lodash" in project.registry.requests
    project.assert_consistent()


def test_a_dependent_pinning_the_old_version_keeps_an_override(project: Project) -> None:
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "pins-lodash": "1.0.0", "old-lodash": "1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["pnpm-workspace.yaml"]
    settings = yaml.safe_load((project.root / "pnpm-workspace.yaml").read_text())
    assert settings["overrides"] == {"lodash@4.17.15": "4.17.21"}
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    project.assert_consistent()


def test_a_direct_pin_gets_its_range_bumped(project: Project) -> None:
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.15", "uses-lodash": "^1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == ["package.json"]
    assert json.loads((project.root / "package.json").read_text())["dependencies"]["lodash"] == (
        "4.17.21"
    )
    assert not (project.root / "pnpm-workspace.yaml").exists()
    assert project.versions("lodash") == ["4.17.21"]


def test_an_unresolvable_bump_restores_every_file(project: Project) -> None:
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})
    before = read_tree(project.root)
    result = PnpmUpdater().apply(project.context(), [_bump()])
    assert result.blocked is ReasonCode.VERIFICATION_FAILED
    assert "pnpm install" in result.blocked_detail and result.tool_output
    assert read_tree(project.root) == before  # no override file, no half-edited lockfile


def test_workspace_overrides_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pnpm-workspace.yaml"
    path.write_text("packages:\n  - 'apps/*'\n# pinned for a reason\noverrides:\n    foo: 1.0.0\n")
    add_workspace_overrides(path, {"lodash@4.17.15": "4.17.21"})
    text = path.read_text()
    assert text.startswith("packages:\n  - 'apps/*'\n# pinned for a reason\noverrides:\n")
    assert yaml.safe_load(text)["overrides"] == {"lodash@4.17.15": "4.17.21", "foo": "1.0.0"}
    flow = tmp_path / "flow.yaml"
    flow.write_text("overrides: {foo: 1.0.0}\n")
    with pytest.raises(Exception, match="does not edit"):
        add_workspace_overrides(flow, {"a@1": "2"})


def test_e2e_lockfile_only_merges_and_a_forbidden_manifest_change_blocks(tmp_path: Path) -> None:
    require_tool("pnpm")
    marker = tmp_path / "lifecycle-script-ran"
    registry = lodash_registry()
    registry.publish("scripted", "1.0.0", scripts={"preinstall": marker_script(marker)})
    home = private_home(tmp_path)
    with registry.serve() as url:
        fixtures = {}
        for name, dependencies in {
            "web": {"uses-lodash": "^1.0.0", "scripted": "1.0.0"},
            "pinned": {"pins-lodash": "1.0.0"},
        }.items():
            directory = tmp_path / "fixtures" / name
            write_package_json(directory, {
                "name": name, "version": "1.0.0", "dependencies": dependencies,
                "scripts": {"preinstall": marker_script(marker), "postinstall": marker_script(marker)},
            })  # fmt: skip
            run(PNPM_INSTALL, directory, offline_env(home, registry_env(url)))
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        publish_lodash_fixes(registry)
        world = scenario(repo("web", fixtures["web"]), repo("pinned", fixtures["pinned"]))
        profile_repos = [
            {"repo": "web", "targets": [target("pnpm")]},
            {"repo": "pinned", "targets": [target("pnpm")]},
        ]
        with e2e(tmp_path, world, profile_repos) as env:
            configure(env, {"pnpm": LOCKFILE_RULE}, registry_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]

            web = the_unit(env, summary, "web")
            assert web["outcome"] == "merged", explain(web)
            assert all(a["state"] == "fixed" for a in env.sim.admin.alerts("web", "dependabot"))
            locked = parse_dependency_file(LOCK, file_on_main(env, "web", LOCK).encode())
            assert {d.version for d in locked if d.name == "lodash"} == {"4.17.21"}

            pinned = the_unit(env, summary, "pinned")
            assert (pinned["outcome"], pinned["reason_code"]) == (
                "blocked",
                "manifest_change_required",
            ), explain(pinned)
            assert env.sim.admin.pulls("pinned") == []
            assert not marker.exists(), "a lifecycle script ran during the update"
