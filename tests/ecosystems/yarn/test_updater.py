"""The yarn updater, classic and berry, against a local registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e import e2e

from agentd.ecosystems import PackageBump, parse_dependency_file, updater_for
from agentd.ecosystems.yarn.updater import YarnUpdater, move_classic_ranges
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
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    run,
    updater_context,
)
from ecosystems.registries.yarn import (
    project_files,
    require_berry_release,
    require_yarn_classic,
    write_berry_project,
)

LOCK = "yarn.lock"


@dataclass
class Project:
    registry: NpmRegistry
    url: str
    root: Path
    home: Path
    sandbox: str = "none"  # a berry project's own release runs only inside the sandbox

    def create(self, dependencies: dict[str, str], berry: bool = False) -> Path:
        write_package_json(
            self.root, {"name": "web", "version": "1.0.0", "dependencies": dependencies}
        )
        lock(self.root, self.url, self.home, berry)
        self.sandbox = "bwrap" if berry else "none"
        return self.root

    def assert_consistent(self, berry: bool) -> None:
        """yarn itself would not change the lockfile (frozen / immutable install passes)."""
        env = offline_env(self.home, registry_env(self.url))
        if berry:
            run(["yarn", "install", "--immutable", "--mode=skip-build"], self.root, env)
        else:
            modules = str(self.home / "check-node-modules")
            run(
                [
                    "yarn",
                    "install",
                    "--frozen-lockfile",
                    "--ignore-scripts",
                    "--modules-folder",
                    modules,
                ],
                self.root,
                env,
            )

    def versions(self, name: str) -> list[str]:
        found = parse_dependency_file(LOCK, (self.root / LOCK).read_bytes())
        return sorted({d.version for d in found if d.name == name})


def lock(directory: Path, url: str, home: Path, berry: bool) -> None:
    """Write a fixture's yarn.lock with the yarn the project uses."""
    env = offline_env(home, {**registry_env(url), "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"})
    if berry:
        write_berry_project(directory, require_berry_release())
        run(["yarn", "install", "--mode=update-lockfile"], directory, env)
        (directory / ".yarn" / "install-state.gz").unlink(missing_ok=True)
    else:
        modules = home / "fixture-node-modules"
        run(
            ["yarn", "install", "--ignore-scripts", "--modules-folder", str(modules)],
            directory,
            env,
        )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    require_yarn_classic()
    registry = lodash_registry()
    with registry.serve() as url:
        yield Project(registry, url, tmp_path / "repo", private_home(tmp_path))


def _bump(old: str = "4.17.15", new: str = "4.17.21") -> PackageBump:
    return PackageBump("lodash", LOCK, old, new, ("GHSA-35jh-r3h4-6jhm",), "transitive")


def _apply(project: Project) -> tuple[object, ...]:
    context = updater_context(
        project.root, project.home, registry_env(project.url), sandbox=project.sandbox
    )
    result = YarnUpdater().apply(context, [_bump()])
    return result.blocked, result.blocked_detail, result.tool_output, result


def test_routing() -> None:
    assert isinstance(updater_for(["yarn"], "npm", "web/yarn.lock"), YarnUpdater)
    assert updater_for(["yarn"], "npm", "web/pnpm-lock.yaml") is None


@pytest.mark.parametrize("berry", [False, True], ids=["classic", "berry"])
def test_transitive_bump_is_lockfile_only_and_exact(project: Project, berry: bool) -> None:
    project.create({"uses-lodash": "^1.0.0", "old-lodash": "1.0.0"}, berry)
    publish_lodash_fixes(project.registry)
    manifest = (project.root / "package.json").read_bytes()

    blocked, detail, output, result = _apply(project)

    assert blocked is None, (detail, output)
    assert result.changed_files == [LOCK] and result.manifest_files == []  # type: ignore[attr-defined]
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    assert project.versions("helper") == ["1.0.0"]
    assert (project.root / "package.json").read_bytes() == manifest
    assert not (project.root / "node_modules").exists()
    assert not (project.root / ".yarn" / "install-state.gz").exists()
    assert "agentd-fix" not in (project.root / LOCK).read_text()
    assert "/lodash" in project.registry.requests
    project.assert_consistent(berry)


@pytest.mark.parametrize("berry", [False, True], ids=["classic", "berry"])
def test_a_direct_pin_gets_its_range_bumped(project: Project, berry: bool) -> None:
    project.create({"lodash": "4.17.15", "uses-lodash": "^1.0.0"}, berry)
    publish_lodash_fixes(project.registry)

    blocked, detail, output, result = _apply(project)

    assert blocked is None, (detail, output)
    assert result.manifest_files == ["package.json"]  # type: ignore[attr-defined]
    declared = json.loads((project.root / "package.json").read_text())["dependencies"]
    assert declared["lodash"] == "4.17.21"
    assert project.versions("lodash") == ["4.17.21"]


@pytest.mark.parametrize("berry", [False, True], ids=["classic", "berry"])
def test_a_pinning_dependent_gets_a_resolution(project: Project, berry: bool) -> None:
    project.create({"uses-lodash": "^1.0.0", "pins-lodash": "1.0.0"}, berry)
    publish_lodash_fixes(project.registry)

    blocked, detail, output, result = _apply(project)

    assert blocked is None, (detail, output)
    assert result.manifest_files == ["package.json"]  # type: ignore[attr-defined]
    resolutions = json.loads((project.root / "package.json").read_text())["resolutions"]
    expected = {"lodash@npm:4.17.15": "npm:4.17.21"} if berry else {"lodash": "4.17.21"}
    assert resolutions == expected
    assert project.versions("lodash") == ["4.17.21"]
    project.assert_consistent(berry)


def test_classic_resolution_that_would_move_another_major_line_is_left_unfixed(
    project: Project,
) -> None:
    project.create({"uses-lodash": "^1.0.0", "pins-lodash": "1.0.0", "old-lodash": "1.0.0"})
    publish_lodash_fixes(project.registry)
    manifest = (project.root / "package.json").read_bytes()

    blocked, detail, output, result = _apply(project)

    assert blocked is None, (detail, output)
    [left] = result.unfixed  # type: ignore[attr-defined]
    assert left.reason is ReasonCode.MANIFEST_CHANGE_REQUIRED
    assert "3.10.1" in left.detail
    assert (project.root / "package.json").read_bytes() == manifest
    assert "4.17.15" in project.versions("lodash")  # pins-lodash still holds it
    project.assert_consistent(berry=False)


def test_berry_lockfile_without_a_pinned_release_is_refused(project: Project) -> None:
    project.create({"uses-lodash": "^1.0.0"}, berry=True)
    (project.root / ".yarnrc.yml").write_text("enableTelemetry: false\n")  # no yarnPath
    before = read_tree(project.root)
    blocked, detail, _output, _ = _apply(project)
    assert blocked is ReasonCode.VERIFICATION_UNAVAILABLE, detail
    assert read_tree(project.root) == before


def test_classic_range_move_keeps_ranges_the_target_does_not_satisfy() -> None:
    text = (
        '"agentd-fix-0@npm:lodash@4.17.21":\n  version "4.17.21"\n\n'
        'lodash@4.17.15, lodash@^4.17.0, "lodash@~4.17.10", lodash@latest:\n  version "4.17.15"\n'
    )
    moved = move_classic_ranges(text, _bump(), "agentd-fix-0")
    assert '"agentd-fix-0@npm:lodash@4.17.21", "lodash@^4.17.0", "lodash@~4.17.10":' in moved
    assert '"lodash@4.17.15", "lodash@latest":\n  version "4.17.15"' in moved


def test_e2e_classic_and_berry_merge_and_a_direct_pin_is_blocked(tmp_path: Path) -> None:
    require_yarn_classic()
    release = require_berry_release()
    marker = tmp_path / "lifecycle-script-ran"
    registry = lodash_registry()
    registry.publish("scripted", "1.0.0", scripts={"postinstall": marker_script(marker)})
    home = private_home(tmp_path)
    with registry.serve() as url:
        fixtures = {}
        for name, dependencies, berry in (
            ("classic", {"uses-lodash": "^1.0.0", "scripted": "1.0.0"}, False),
            ("berry", {"uses-lodash": "^1.0.0", "scripted": "1.0.0"}, True),
            ("pinned", {"lodash": "4.17.15"}, False),
        ):
            directory = tmp_path / "fixtures" / name
            write_package_json(directory, {
                "name": name, "version": "1.0.0", "dependencies": dependencies,
                "scripts": {"preinstall": marker_script(marker), "prepare": marker_script(marker)},
            })  # fmt: skip
            if berry:
                write_berry_project(directory, release)
            lock(directory, url, home, berry)
            fixtures[name] = project_files(directory)
        publish_lodash_fixes(registry)
        world = scenario(*(repo(name, files) for name, files in fixtures.items()))
        with e2e(
            tmp_path, world, [{"repo": n, "targets": [target("yarn")]} for n in fixtures]
        ) as env:
            # the berry repository's own release may run only inside the sandbox
            configure(env, {"yarn": LOCKFILE_RULE}, registry_env(url), sandbox="bwrap")
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            for name in ("classic", "berry"):
                unit = the_unit(env, summary, name)
                assert unit["outcome"] == "merged", (name, explain(unit))
                alerts = env.sim.admin.alerts(name, "dependabot")
                assert alerts and all(a["state"] == "fixed" for a in alerts)
                locked = parse_dependency_file(LOCK, file_on_main(env, name, LOCK).encode())
                assert {d.version for d in locked if d.name == "lodash"} == {"4.17.21"}
            pinned = the_unit(env, summary, "pinned")
            assert (pinned["outcome"], pinned["reason_code"]) == (
                "blocked",
                "manifest_change_required",
            ), explain(pinned)
            assert not marker.exists(), "a lifecycle script ran during the update"


def test_repository_yarn_plugins_are_refused(tmp_path: Path) -> None:
    from agentd.ecosystems import PackageBump, UpdateContext
    from agentd.ecosystems.yarn.updater import YarnUpdater
    from agentd.vocabulary import ReasonCode

    (tmp_path / "package.json").write_text('{"name": "app", "dependencies": {"lodash": "^4.17.0"}}')
    lock = '__metadata:\n  version: 8\n\n"lodash@npm:^4.17.0":\n  version: 4.17.15\n  resolution: "lodash@npm:4.17.15"\n'
    (tmp_path / "yarn.lock").write_text(lock)
    (tmp_path / ".yarnrc.yml").write_text("plugins:\n  - path: .yarn/plugins/evil.cjs\n")
    context = UpdateContext(
        worktree=tmp_path,
        target_path=".",
        env={"PATH": "/usr/bin:/bin"},
        home=tmp_path,
        timeout_seconds=30,
    )
    result = YarnUpdater().apply(
        context,
        [PackageBump("lodash", "yarn.lock", "4.17.15", "4.17.21", ("GHSA-35jh-r3h4-6jhm",))],
    )
    assert result.blocked is ReasonCode.POLICY_BLOCKED
    assert (tmp_path / "yarn.lock").read_text() == lock


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_registry_is_an_environment_problem(project: Project, where: str) -> None:
    """Issue 15, cause 7, for yarn classic: a registry yarn cannot reach was reported as a
    failed fix instead of the runner's environment."""
    project.create({"uses-lodash": "^1.0.0"})
    publish_lodash_fixes(project.registry)
    url, cause = UNREACHABLE[where]
    before = read_tree(project.root)
    settings = {**registry_env(url + "/"), "NPM_CONFIG_FETCH_RETRIES": "0", **DIRECT}

    result = YarnUpdater().apply(
        updater_context(project.root, project.home, settings, sandbox=project.sandbox), [_bump()]
    )

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"yarn {cause}"), result.blocked_detail
    assert read_tree(project.root) == before
