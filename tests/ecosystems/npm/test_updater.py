"""The npm updater against a local registry: exact lockfile-only bumps, manifest fallbacks.

Every test serves its packages from a loopback registry built here; the updater's
environment carries a proxy trap, so a request that tries to leave loopback fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    run,
    updater_context,
)

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


def _v1_lock(
    project: Project, manifest: dict[str, object], entries: dict[str, tuple[str, dict[str, str]]]
) -> None:
    """A lockfile v1 as npm 6 wrote it (flat `dependencies` with `requires`)."""
    dependencies: dict[str, object] = {}
    for name, (version, requires) in entries.items():
        published = project.registry.packages[name][version]
        entry: dict[str, object] = {
            "version": version,
            "resolved": f"{project.url}{name}/-/{name}-{version}.tgz",
            "integrity": published.integrity,
        }
        if requires:
            entry["requires"] = requires
        dependencies[name] = entry
    lock = {"name": manifest["name"], "version": manifest["version"], "lockfileVersion": 1,
            "requires": True, "dependencies": dependencies}  # fmt: skip
    write_package_json(project.root, manifest)
    (project.root / LOCK).write_text(json.dumps(lock, indent=2) + "\n")


def test_a_lockfile_v1_is_rewritten_as_v2_and_the_pr_says_so(project: Project) -> None:
    """Before: a v1 lockfile (npm 6) was refused outright. npm 7+ rewrites it anyway; v2
    keeps the section npm 6 reads, so the fix goes through and the notes say what changed."""
    manifest = {"name": "old", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}}
    _v1_lock(project, manifest, {
        "uses-lodash": ("1.0.0", {"lodash": "^4.17.0"}), "lodash": ("4.17.15", {}),
    })  # fmt: skip
    publish_lodash_fixes(project.registry)
    manifest_before = (project.root / "package.json").read_bytes()

    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    lock = json.loads((project.root / LOCK).read_text())
    assert lock["lockfileVersion"] == 2 and "dependencies" in lock  # npm 6 still reads it
    assert _versions(project.locked(), "lodash") == ["4.17.21"]
    assert (project.root / "package.json").read_bytes() == manifest_before
    assert any("lockfile v1" in n and "v2" in n for n in result.notes)
    project.assert_consistent()


def test_a_package_the_lockfile_no_longer_holds_is_dependency_removed(project: Project) -> None:
    directory = project.create({"name": "web", "version": "1.0.0"})
    before = read_tree(directory)
    result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])
    assert result.blocked is None and result.changed_files == []
    [left] = result.unfixed
    assert left.reason is ReasonCode.DEPENDENCY_REMOVED
    assert read_tree(directory) == before


# --- in-range parent updates, subsets, copies with no patch in their line ---------------


def _parent_registry() -> NpmRegistry:
    """express-like: `server` 1.0.0 pins `cookie` 0.4.0 exactly; `server` 1.1.0 (in the
    app's ^1.0.0 range) moves to cookie 0.7.1. lodash rides along for mixed units."""
    registry = lodash_registry()
    registry.publish("cookie", "0.4.0")
    registry.publish("server", "1.0.0", {"cookie": "0.4.0"})
    return registry


def _publish_parent_fix(registry: NpmRegistry) -> None:
    registry.publish("cookie", "0.7.0").publish("cookie", "0.7.1")
    registry.publish("server", "1.1.0", {"cookie": "0.7.1"})


def test_a_parent_pinning_the_child_exactly_is_updated_in_range(tmp_path: Path) -> None:
    """Before: an override (a manifest change) or nothing. Now: `server` moves in range to a
    release that no longer pins the vulnerable cookie; package.json stays as it was."""
    require_tool("npm")
    registry = _parent_registry()
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        directory = project.create(
            {"name": "app", "version": "1.0.0", "dependencies": {"server": "^1.0.0"}}
        )
        _publish_parent_fix(registry)
        manifest_before = (directory / "package.json").read_bytes()
        bump = PackageBump(
            "cookie", LOCK, "0.4.0", "0.7.0", ("GHSA-pxg6-pf52-xh8x",), "transitive", in_line=False
        )

        result = NpmUpdater().apply(project.context(), [bump])

        assert result.blocked is None, (result.blocked_detail, result.tool_output)
        assert result.unfixed == [] and result.manifest_files == []
        assert (directory / "package.json").read_bytes() == manifest_before
        locked = project.locked()
        assert _versions(locked, "cookie") == ["0.7.1"] and _versions(locked, "server") == ["1.1.0"]
        assert "via server 1.0.0 → 1.1.0" in result.notes[0], result.notes
        project.assert_consistent()


def test_a_parent_the_project_pins_exactly_needs_a_manifest_change(tmp_path: Path) -> None:
    """express 4.17.1 pinned in package.json holds cookie 0.4.0: no in-range update can drop
    it, and the honest reason is a manifest change, not "no patch"."""
    require_tool("npm")
    registry = _parent_registry()
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        project.create({"name": "app", "version": "1.0.0", "dependencies": {"server": "1.0.0"}})
        _publish_parent_fix(registry)
        bump = PackageBump(
            "cookie", LOCK, "0.4.0", "0.7.0", ("GHSA-pxg6-pf52-xh8x",), "transitive",
            in_line=False,
        )  # fmt: skip

        result = NpmUpdater().apply(replace(project.context(), manifest_changes=False), [bump])

        [left] = result.unfixed
        assert left.reason is ReasonCode.MANIFEST_CHANGE_REQUIRED, left
        assert "server" in left.detail and "package.json pins exactly" in left.detail
        assert result.changed_files == []


def test_one_package_that_cannot_move_leaves_the_others_fixed(tmp_path: Path) -> None:
    """Before: one refusal threw away every other fix. `pins-lodash` pins lodash exactly and
    has no newer release, and the rules forbid manifest changes: lodash is reported with its
    reason, cookie's fix (through its parent) stands."""
    require_tool("npm")
    registry = _parent_registry()
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        directory = project.create(
            {
                "name": "app",
                "version": "1.0.0",
                "dependencies": {"server": "^1.0.0", "pins-lodash": "^1.0.0"},
            }
        )
        _publish_parent_fix(registry)
        publish_lodash_fixes(registry)
        manifest_before = (directory / "package.json").read_bytes()
        bumps = [
            PackageBump(
                "cookie",
                LOCK,
                "0.4.0",
                "0.7.0",
                ("GHSA-pxg6-pf52-xh8x",),
                "transitive",
                in_line=False,
            ),
            _bump("lodash", "4.17.15", "4.17.21"),
        ]

        result = NpmUpdater().apply(replace(project.context(), manifest_changes=False), bumps)

        assert result.blocked is None, (result.blocked_detail, result.tool_output)
        [left] = result.unfixed
        assert (left.bump.name, left.reason) == ("lodash", ReasonCode.MANIFEST_CHANGE_REQUIRED)
        assert "pins-lodash 1.0.0" in left.detail
        assert (
            result.manifest_files == []
            and (directory / "package.json").read_bytes() == manifest_before
        )
        locked = project.locked()
        assert _versions(locked, "cookie") == ["0.7.1"]
        assert _versions(locked, "lodash") == ["4.17.15"]
        project.assert_consistent()


def test_a_copy_with_no_patch_in_its_line_is_never_forced_across_it(tmp_path: Path) -> None:
    """Before: `select_fix_version` crossed lines silently (braces 2.3.2 → 3.0.3) and forced
    the new major into dependents that never asked for it. A copy whose dependents admit
    only its own line, and no in-range parent update removes, stays: no_patch_available."""
    require_tool("npm")
    registry = _parent_registry()
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        project.create(
            {
                "name": "app",
                "version": "1.0.0",
                "dependencies": {"old-lodash": "^1.0.0", "uses-lodash": "^1.0.0"},
            }
        )
        publish_lodash_fixes(registry)
        before = project.locked()
        bump = PackageBump(
            "lodash", LOCK, "3.10.1", "4.17.21", LODASH_ADVISORY, "transitive", in_line=False
        )

        result = NpmUpdater().apply(project.context(), [bump])

        assert result.blocked is None, (result.blocked_detail, result.tool_output)
        [left] = result.unfixed
        assert left.reason is ReasonCode.NO_PATCH_AVAILABLE
        assert "old-lodash 1.0.0" in left.detail and "another" in left.detail
        assert project.locked() == before  # nothing forced, nothing else moved
        assert result.changed_files == []


def test_a_committed_peer_conflict_resolves_as_npm_6_did(tmp_path: Path) -> None:
    """A tree whose committed peer dependencies already conflict makes npm 7+ refuse every
    re-resolution (ERESOLVE); it is resolved with --legacy-peer-deps and the PR says so."""
    require_tool("npm")
    registry = lodash_registry()
    registry.publish("framework", "1.0.0").publish("framework", "2.0.0")
    registry.publish("plugin", "1.0.0", peer_dependencies={"framework": "^2.0.0"})
    with registry.serve() as url:
        project = Project(registry, url, tmp_path / "repo", private_home(tmp_path))
        write_package_json(project.root, {"name": "app", "version": "1.0.0", "dependencies": {
            "framework": "1.0.0", "plugin": "1.0.0", "uses-lodash": "^1.0.0"}})  # fmt: skip
        run(["npm", "install", "--package-lock-only", "--ignore-scripts", "--legacy-peer-deps"],
            project.root, offline_env(project.home, project.env))  # fmt: skip
        publish_lodash_fixes(registry)

        result = NpmUpdater().apply(project.context(), [_bump("lodash", "4.17.15", "4.17.21")])

        assert result.blocked is None, (result.blocked_detail, result.tool_output)
        assert _versions(project.locked(), "lodash") == ["4.17.21"]
        assert any("--legacy-peer-deps" in n for n in result.notes)


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


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_registry_is_an_environment_problem(project: Project, where: str) -> None:
    """Issue 15, cause 7, for npm: a registry npm cannot reach was reported as a failed fix
    (verification_failed) instead of the runner's environment."""
    directory = project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}}
    )
    publish_lodash_fixes(project.registry)
    url, cause = UNREACHABLE[where]
    before = read_tree(directory)
    context = updater_context(
        project.root,
        project.home,
        {**registry_env(url + "/"), "NPM_CONFIG_FETCH_RETRIES": "0", **DIRECT},
    )

    result = NpmUpdater().apply(context, [_bump("lodash", "4.17.15", "4.17.21")])

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    assert result.blocked_detail.startswith(f"npm {cause}"), result.blocked_detail
    assert read_tree(directory) == before
