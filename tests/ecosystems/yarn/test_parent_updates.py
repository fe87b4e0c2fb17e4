"""yarn: in-range updates of a vulnerable copy's dependents, and delivering the largest subset.

The registry reproduces the shapes of real yarn repositories (issue 15): a dependent that
pins the vulnerable copy exactly while a newer release in the project's range does not
(express ^4.17.1 → cookie 0.4.0), the same one level further up, a copy with no patch in
its own major line, and a package nothing in range can move.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import pytest
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateResult, parse_dependency_file
from agentd.ecosystems._shared.landing import possibly_vulnerable
from agentd.ecosystems.yarn import ECOSYSTEM
from agentd.ecosystems.yarn.updater import YarnUpdater, tool_for
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
from ecosystems.registries.http import Answer
from ecosystems.registries.npm import (
    NpmRegistry,
    NpmVersion,
    read_tree,
    registry_env,
    write_package_json,
)
from ecosystems.registries.npm import _tarball as tarball
from ecosystems.registries.osv import write_advisory
from ecosystems.registries.toolenv import private_home, updater_context
from ecosystems.registries.yarn import (
    project_files,
    require_berry_release,
    require_yarn_classic,
)
from ecosystems.yarn.test_updater import LOCK, Project, lock


def world_before() -> NpmRegistry:
    """What the registry held when the project locked its dependencies."""
    registry = NpmRegistry()
    registry.publish("acme-cookie", "0.4.0")
    registry.publish("acme-express", "4.17.1", {"acme-cookie": "0.4.0"})  # pins it exactly
    registry.publish("acme-semver", "6.3.0")
    registry.publish("acme-io", "5.0.0", {"acme-semver": "6.3.0"})
    registry.publish("acme-pm2", "5.1.0", {"acme-io": "5.0.0"})  # pins the pinning parent
    registry.publish("acme-lodash", "4.17.15")
    registry.publish("uses-lodash", "1.0.0", {"acme-lodash": "^4.17.0"})
    registry.publish("acme-old", "1.0.0")  # fixed only in 2.0.0
    registry.publish("uses-old", "1.0.0", {"acme-old": "^1.0.0"})
    registry.publish("acme-pinned", "1.0.0")
    registry.publish("pins-pinned", "1.0.0", {"acme-pinned": "1.0.0"})  # never released again
    return registry


def publish_fixes(registry: NpmRegistry) -> None:
    """Fixed releases, and newer dependents in the project's ranges that take them."""
    registry.publish("acme-cookie", "0.4.1").publish("acme-cookie", "0.4.2")
    registry.publish("acme-express", "4.21.2", {"acme-cookie": "0.4.2"})  # above the target
    registry.publish("acme-semver", "6.3.1").publish("acme-semver", "6.3.2")
    registry.publish("acme-io", "5.0.2", {"acme-semver": "^6.3.2"})
    registry.publish("acme-pm2", "5.4.3", {"acme-io": "5.0.2"})
    registry.publish("acme-lodash", "4.17.16").publish("acme-lodash", "4.17.21")
    registry.publish("acme-old", "2.0.0")
    registry.publish("acme-pinned", "1.0.1")


DEPENDENCIES = {
    "acme-express": "^4.17.1",
    "acme-pm2": "^5.1.0",
    "uses-lodash": "^1.0.0",
    "uses-old": "^1.0.0",
    "pins-pinned": "1.0.0",
}


def bump(name: str, old: str, new: str, in_line: bool = True) -> PackageBump:
    return PackageBump(name, LOCK, old, new, (f"GHSA-{name}",), "transitive", in_line)


COOKIE = bump("acme-cookie", "0.4.0", "0.4.1")
SEMVER = bump("acme-semver", "6.3.0", "6.3.1")
LODASH = bump("acme-lodash", "4.17.15", "4.17.21")
OLD = bump("acme-old", "1.0.0", "2.0.0", in_line=False)
PINNED = bump("acme-pinned", "1.0.0", "1.0.1")


@pytest.fixture(params=[False], ids=["classic"])
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Project]:
    berry: bool = request.param
    require_yarn_classic()
    if berry:
        require_berry_release()
    registry = world_before()
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        project.create(DEPENDENCIES, berry)
        publish_fixes(registry)
        yield project


BOTH = pytest.mark.parametrize("project", [False, True], ids=["classic", "berry"], indirect=True)


def apply(project: Project, bumps: list[PackageBump], manifest_changes: bool) -> UpdateResult:
    context = updater_context(
        project.root, project.home, registry_env(project.url), sandbox=project.sandbox
    )
    return YarnUpdater().apply(replace(context, manifest_changes=manifest_changes), bumps)


def reasons(result: UpdateResult) -> dict[str, tuple[ReasonCode, str]]:
    return {u.bump.name: (u.reason, u.detail) for u in result.unfixed}


def test_yarn_declares_parent_updates() -> None:
    assert ECOSYSTEM.parent_updates


@BOTH
def test_a_parent_pinning_the_copy_is_updated_in_range_without_touching_package_json(
    project: Project,
) -> None:
    manifest = (project.root / "package.json").read_bytes()

    result = apply(project, [COOKIE], manifest_changes=False)

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.unfixed == []
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert (project.root / "package.json").read_bytes() == manifest
    # the parent's own pin decides: above the smallest fix, which is fine
    assert project.versions("acme-cookie") == ["0.4.2"]
    assert project.versions("acme-express") == ["4.21.2"]
    # targeted: nothing else moved (acme-pm2 5.4.3 and acme-io 5.0.2 are in range too)
    assert project.versions("acme-pm2") == ["5.1.0"]
    assert project.versions("acme-semver") == ["6.3.0"]
    assert result.notes == [
        "acme-cookie 0.4.0 → 0.4.2 in yarn.lock (lockfile only, via acme-express 4.17.1 → 4.21.2)"
    ]
    project.assert_consistent(project.sandbox == "bwrap")


def test_the_walk_climbs_a_level_when_the_immediate_dependent_is_pinned_too(
    project: Project,
) -> None:
    result = apply(project, [SEMVER], manifest_changes=False)

    assert result.blocked is None and result.unfixed == [], result
    assert project.versions("acme-semver") == ["6.3.2"]
    assert project.versions("acme-io") == ["5.0.2"]
    assert project.versions("acme-pm2") == ["5.4.3"]
    assert result.notes == [
        "acme-semver 6.3.0 → 6.3.2 in yarn.lock "
        "(lockfile only, via acme-io 5.0.0 → 5.0.2, acme-pm2 5.1.0 → 5.4.3)"
    ]
    assert result.manifest_files == []
    project.assert_consistent(project.sandbox == "bwrap")


@BOTH
def test_a_mixed_unit_delivers_every_fix_it_reaches_and_says_why_for_the_rest(
    project: Project,
) -> None:
    manifest = (project.root / "package.json").read_bytes()

    result = apply(project, [COOKIE, SEMVER, LODASH, OLD, PINNED], manifest_changes=False)

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    left = reasons(result)
    assert set(left) == {"acme-old", "acme-pinned"}
    reason, detail = left["acme-pinned"]
    assert reason is ReasonCode.MANIFEST_CHANGE_REQUIRED
    assert "pins-pinned 1.0.0" in detail  # names the dependent that pins it
    reason, detail = left["acme-old"]
    assert reason is ReasonCode.NO_PATCH_AVAILABLE
    assert "own major line" in detail and "uses-old 1.0.0" in detail
    # the others' fixes stand, lockfile only
    assert result.manifest_files == [] and result.changed_files == [LOCK]
    assert (project.root / "package.json").read_bytes() == manifest
    assert project.versions("acme-cookie") == ["0.4.2"]
    assert project.versions("acme-semver") == ["6.3.2"]
    assert project.versions("acme-lodash") == ["4.17.21"]
    # what could not be fixed is left exactly as it was: never forced across a major line
    assert project.versions("acme-old") == ["1.0.0"]
    assert project.versions("acme-pinned") == ["1.0.0"]
    assert len(result.notes) == 3
    assert "acme-lodash 4.17.15 → 4.17.21 in yarn.lock (lockfile only)" in result.notes
    project.assert_consistent(project.sandbox == "bwrap")


def test_a_copy_without_a_patch_in_its_line_is_never_forced(project: Project) -> None:
    before = read_tree(project.root)

    result = apply(project, [OLD], manifest_changes=True)  # even where manifests may change

    assert result.blocked is None
    [left] = result.unfixed
    assert (left.bump, left.reason) == (OLD, ReasonCode.NO_PATCH_AVAILABLE)
    assert result.changed_files == []
    assert read_tree(project.root) == before


def test_a_copy_without_a_patch_in_its_line_goes_when_its_dependent_drops_it(
    project: Project,
) -> None:
    project.registry.publish("uses-old", "1.1.0", {"acme-old": "^2.0.0"})

    result = apply(project, [OLD], manifest_changes=False)

    assert result.blocked is None and result.unfixed == [], result
    assert project.versions("acme-old") == ["2.0.0"]
    assert result.notes == [
        "acme-old 1.0.0 → 2.0.0 in yarn.lock (lockfile only, via uses-old 1.0.0 → 1.1.0)"
    ]


def test_a_parent_update_that_brings_a_vulnerable_version_is_not_taken(
    project: Project,
) -> None:
    # the only newer acme-express in range also brings acme-lodash 4.17.16 (vulnerable)
    project.registry.packages["acme-express"].pop("4.21.2")
    project.registry.publish(
        "acme-express", "4.21.3", {"acme-cookie": "0.4.2", "acme-lodash": "4.17.16"}
    )

    result = apply(project, [COOKIE, LODASH], manifest_changes=False)

    assert result.blocked is None
    reason, detail = reasons(result)["acme-cookie"]
    assert reason is ReasonCode.MANIFEST_CHANGE_REQUIRED
    assert "acme-lodash 4.17.16, possibly vulnerable" in detail
    assert project.versions("acme-lodash") == ["4.17.21"]
    assert project.versions("acme-express") == ["4.17.1"]


def test_where_manifests_may_change_a_pin_nothing_in_range_moves_gets_a_resolution(
    project: Project,
) -> None:
    result = apply(project, [COOKIE, PINNED], manifest_changes=True)

    assert result.blocked is None and result.unfixed == [], result
    assert result.manifest_files == ["package.json"]
    resolutions = json.loads((project.root / "package.json").read_text())["resolutions"]
    assert resolutions == {"acme-pinned": "1.0.1"}  # cookie needed none: its parent moved
    assert project.versions("acme-cookie") == ["0.4.2"]


def test_possibly_vulnerable_needs_evidence_of_a_fix() -> None:
    bumps = [bump("semver", "6.3.0", "6.3.1"), bump("semver", "7.2.3", "7.5.2")]
    before = {"semver": {"5.7.2", "6.3.0", "7.2.3", "7.5.4"}}
    after = {"semver": {"5.7.1", "5.7.3", "6.3.2", "7.0.0", "7.6.0", "8.0.0"}}
    assert possibly_vulnerable(bumps, before, after) == [
        "semver 5.7.1",  # older than the release of its line the unit left alone
        "semver 7.0.0",  # below the fix of its line
        "semver 8.0.0",  # a line nothing says anything about
    ]


def test_e2e_a_forbidding_rule_merges_the_lockfile_fixes_and_leaves_the_rest_open(
    tmp_path: Path,
) -> None:
    require_yarn_classic()
    advisories = tmp_path / "advisories"
    for number, (name, fixed) in enumerate(
        (
            ("acme-cookie", "0.4.1"),
            ("acme-semver", "6.3.1"),
            ("acme-lodash", "4.17.21"),
            ("acme-old", "2.0.0"),
            ("acme-pinned", "1.0.1"),
        ),
        start=2,
    ):
        ghsa = f"GHSA-{number}{number}{number}{number}-cfgh-jmpq"
        write_advisory(advisories, ghsa, "npm", name, [("0", fixed)], f"{name} is vulnerable")
    registry = world_before()
    home = private_home(tmp_path)
    with registry.serve() as url:
        directory = tmp_path / "fixture"
        write_package_json(
            directory, {"name": "web", "version": "1.0.0", "dependencies": DEPENDENCIES}
        )
        lock(directory, url, home, berry=False)
        files = project_files(directory)
        publish_fixes(registry)
        world = scenario(repo("web", files), advisory_dirs=[advisories])
        with e2e(tmp_path, world, [{"repo": "web", "targets": [target("yarn")]}]) as env:
            configure(env, {"yarn": LOCKFILE_RULE}, registry_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            unit = the_unit(env, summary, "web")
            assert unit["outcome"] == "merged", explain(unit)
            assert file_on_main(env, "web", "package.json") == files["package.json"]
            locked = parse_dependency_file(LOCK, file_on_main(env, "web", LOCK).encode())
            versions = {(d.name, d.version) for d in locked}
            assert {("acme-cookie", "0.4.2"), ("acme-semver", "6.3.2")} <= versions
            assert ("acme-lodash", "4.17.21") in versions
            states = {a["package"]: a for a in unit["alerts"]}
            assert {p for p, a in states.items() if a["fixed"]} == {
                "acme-cookie",
                "acme-semver",
                "acme-lodash",
            }
            assert states["acme-old"]["reason"] == "no_patch_available"
            assert states["acme-pinned"]["reason"] == "manifest_change_required"
            assert "pins-pinned 1.0.0" in states["acme-pinned"]["detail"]
            alerts = {
                a["identity"][1]: a["state"] for a in env.sim.admin.alerts("web", "dependabot")
            }
            assert alerts == {
                "acme-cookie": "fixed",
                "acme-semver": "fixed",
                "acme-lodash": "fixed",
                "acme-old": "open",
                "acme-pinned": "open",
            }


class CorepackRegistry(NpmRegistry):
    """Also answers `GET /<name>/<version>` (one version's document), which corepack asks."""

    def route(self, path: str, base: str) -> Answer:
        name, _, version = path.split("?", 1)[0].lstrip("/").rpartition("/")
        if version in self.packages.get(unquote(name), {}):
            document = self.packument(unquote(name), base)["versions"][version]
            return 200, "application/json", json.dumps(document).encode()
        return super().route(path, base)


def publish_yarn_release(registry: NpmRegistry, version: str) -> None:
    """The yarn 1 on PATH, republished as another release for corepack to fetch."""
    installed = Path(os.path.realpath(require_yarn_classic())).parent.parent
    files = {
        name: (installed / name).read_text(encoding="utf-8")
        for name in ("bin/yarn.js", "lib/cli.js", "lib/v8-compile-cache.js")
    }
    current = json.loads((installed / "package.json").read_text())["version"]
    files["lib/cli.js"] = files["lib/cli.js"].replace(
        f'"version":"{current}"', f'"version":"{version}"', 1
    )
    registry.publish("yarn", version, files=files)
    release = registry.packages["yarn"][version]
    manifest = {**release.manifest, "bin": {"yarn": "./bin/yarn.js"}}
    registry.packages["yarn"][version] = NpmVersion(manifest, tarball(manifest, files))


def test_package_manager_pin_runs_that_yarn_through_corepack(tmp_path: Path) -> None:
    require_tool("corepack")
    registry = CorepackRegistry(world_before().packages)
    publish_yarn_release(registry, "1.22.19")
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        project.create({"acme-express": "^4.17.1"})
        package_json = project.root / "package.json"
        pinned = {**json.loads(package_json.read_text()), "packageManager": "yarn@1.22.19"}
        package_json.write_text(json.dumps(pinned, indent=2) + "\n")
        manifest = package_json.read_bytes()
        publish_fixes(registry)
        allowed = {
            **registry_env(url),
            "COREPACK_NPM_REGISTRY": url.rstrip("/"),
            "COREPACK_INTEGRITY_KEYS": "0",  # the test registry signs nothing
        }
        context = updater_context(project.root, project.home, allowed)

        result = YarnUpdater().apply(replace(context, manifest_changes=False), [COOKIE])

        assert result.blocked is None and result.unfixed == [], result
        assert "/yarn/-/yarn-1.22.19.tgz" in registry.requests
        assert "corepack yarn install" in result.tool_output
        assert project.versions("acme-cookie") == ["0.4.2"]
        assert package_json.read_bytes() == manifest  # corepack pins nothing itself


@pytest.mark.parametrize(
    ("pin", "tool"),
    [
        ("yarn@1.22.19", "corepack"),
        ("yarn@4.5.0+sha512.0123abcdef", "corepack"),
        ("yarn@https://attacker.example/yarn.tgz", "yarn"),  # a program the repository chose
        ("pnpm@9.0.0", "yarn"),
        (None, "yarn"),
    ],
)
def test_only_a_registry_release_pin_runs_through_corepack(
    tmp_path: Path, pin: str | None, tool: str
) -> None:
    require_tool("corepack")
    manifest = {"name": "web"} | ({"packageManager": pin} if pin else {})
    write_package_json(tmp_path, manifest)
    context = updater_context(tmp_path, private_home(tmp_path))
    assert tool_for(context, [LOCK]) == tool
