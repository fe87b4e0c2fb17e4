"""The pnpm updater against a local registry: the project's own pnpm release through
corepack, exact lockfile-only bumps, in-range parent updates, overrides only when allowed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from e2e import e2e
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateContext, parse_dependency_file, updater_for
from agentd.ecosystems.pnpm import ECOSYSTEM
from agentd.ecosystems.pnpm.project import add_workspace_overrides
from agentd.ecosystems.pnpm.release import lockfile_format
from agentd.ecosystems.pnpm.updater import PnpmUpdater
from agentd.vocabulary import ReasonCode
from ecosystems.registries.corepack import (
    PNPM_8,
    PNPM_9,
    PNPM_10,
    corepack_settings,
    serve_pnpm,
    sha512_pin,
)
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
from ecosystems.registries.osv import write_advisory
from ecosystems.registries.toolenv import (
    DIRECT,
    UNREACHABLE,
    offline_env,
    private_home,
    run,
    updater_context,
)

LOCK = "pnpm-lock.yaml"
COOKIE_ADVISORY = "GHSA-pxg6-pf52-xh8x"
INSTALL = ["install", "--lockfile-only", "--ignore-scripts"]


@dataclass
class Project:
    registry: NpmRegistry
    url: str
    root: Path
    home: Path
    corepack_home: Path

    @property
    def env(self) -> dict[str, str]:
        return {**registry_env(self.url), **corepack_settings(self.url, self.corepack_home)}

    def context(self, manifest_changes: bool = True) -> UpdateContext:
        context = updater_context(self.root, self.home, self.env)
        return dataclasses.replace(context, manifest_changes=manifest_changes)

    def pnpm(self, release: str, *args: str) -> None:
        """The given pnpm release, whatever package.json pins (as a developer's would)."""
        env = {**offline_env(self.home, self.env), "COREPACK_ENABLE_PROJECT_SPEC": "0"}
        run(["corepack", f"pnpm@{release}", *args], self.root, env)

    def create(self, manifest: dict[str, object], release: str = PNPM_9) -> Path:
        write_package_json(self.root, manifest)
        self.pnpm(release, *INSTALL)
        return self.root

    def assert_consistent(self, release: str = PNPM_9) -> None:
        """That pnpm release accepts the lockfile as up to date."""
        self.pnpm(release, *INSTALL, "--frozen-lockfile")

    def versions(self, name: str) -> list[str]:
        found = parse_dependency_file(LOCK, (self.root / LOCK).read_bytes())
        return sorted({d.version for d in found if d.name == name})


@pytest.fixture(scope="session")
def corepack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One corepack cache for the session: each pnpm release is unpacked once."""
    return tmp_path_factory.mktemp("corepack")


def _project(tmp_path: Path, corepack_home: Path, registry: NpmRegistry) -> Iterator[Project]:
    require_tool("pnpm")
    serve_pnpm(registry, PNPM_8, PNPM_9, PNPM_10)
    with registry.serve() as url:
        yield Project(registry, url, tmp_path / "repo", private_home(tmp_path), corepack_home)


@pytest.fixture
def project(tmp_path: Path, corepack_home: Path) -> Iterator[Project]:
    yield from _project(tmp_path, corepack_home, lodash_registry())


def express_registry() -> NpmRegistry:
    """express 4.17.1 requires cookie 0.4.0 exactly (the real case); lodash as in
    `lodash_registry`; a framework that pins express exactly, one level up."""
    registry = lodash_registry()
    registry.publish("cookie", "0.4.0")
    registry.publish("express", "4.17.1", {"cookie": "0.4.0"})
    registry.publish("framework", "1.0.0", {"express": "4.17.1"})
    return registry


def publish_express_fixes(registry: NpmRegistry) -> None:
    """The first fix of cookie, a newer one, and releases of its dependents that need it."""
    registry.publish("cookie", "0.7.0").publish("cookie", "0.7.1")
    registry.publish("express", "4.21.2", {"cookie": "0.7.1"})
    registry.publish("framework", "1.0.1", {"express": "^4.21.0"})


@pytest.fixture
def express(tmp_path: Path, corepack_home: Path) -> Iterator[Project]:
    yield from _project(tmp_path, corepack_home, express_registry())


def _bump(old: str = "4.17.15", new: str = "4.17.21") -> PackageBump:
    return PackageBump("lodash", LOCK, old, new, ("GHSA-35jh-r3h4-6jhm",), "transitive")


def _cookie() -> PackageBump:
    return PackageBump("cookie", LOCK, "0.4.0", "0.7.0", (COOKIE_ADVISORY,), "transitive")


def test_routing() -> None:
    assert isinstance(updater_for(["pnpm"], "npm", "web/pnpm-lock.yaml"), PnpmUpdater)
    assert updater_for(["pnpm"], "npm", "package-lock.json") is None
    assert ECOSYSTEM.parent_updates


def test_transitive_bump_is_lockfile_only_and_exact(project: Project) -> None:
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "old-lodash": "1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)
    manifest = (project.root / "package.json").read_bytes()

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and result.manifest_files == []
    assert result.notes == ["lodash 4.17.15 → 4.17.21 in pnpm-lock.yaml (lockfile only)"]
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    assert project.versions("helper") == ["1.0.0"]
    assert (project.root / "package.json").read_bytes() == manifest
    assert not (project.root / "pnpm-workspace.yaml").exists()
    assert not (project.root / "node_modules").exists()
    assert "/lodash" in project.registry.requests
    project.assert_consistent()


@pytest.mark.parametrize(
    ("release", "overrides_file"), [(None, "package.json"), (PNPM_10, "pnpm-workspace.yaml")]
)
def test_a_dependent_pinning_the_old_version_keeps_an_override(
    project: Project, release: str | None, overrides_file: str
) -> None:
    """pnpm before 10 reads overrides from package.json, pnpm 10+ from the workspace file."""
    manifest: dict[str, object] = {
        "name": "web", "version": "1.0.0",
        "dependencies": {"uses-lodash": "^1.0.0", "pins-lodash": "1.0.0", "old-lodash": "1.0.0"},
    }  # fmt: skip
    if release:
        manifest["packageManager"] = f"pnpm@{release}"
    project.create(manifest, release or PNPM_9)
    publish_lodash_fixes(project.registry)

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == [overrides_file]
    if overrides_file == "package.json":
        overrides = json.loads((project.root / "package.json").read_text())["pnpm"]["overrides"]
    else:
        overrides = yaml.safe_load((project.root / overrides_file).read_text())["overrides"]
    assert overrides == {"lodash@4.17.15": "4.17.21"}
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    project.assert_consistent(release or PNPM_9)


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
    assert "install --lockfile-only" in result.blocked_detail and result.tool_output
    assert read_tree(project.root) == before  # no override file, no half-edited lockfile


# --- parent updates -----------------------------------------------------------------------------


def test_a_parent_pinning_the_child_exactly_is_updated_in_range(express: Project) -> None:
    """express 4.17.1 pins cookie 0.4.0: a newer express in ^4.17.1 frees it, lockfile only,
    even where manifest changes are forbidden; cookie lands above the smallest fix."""
    express.create({"name": "web", "version": "1.0.0", "dependencies": {"express": "^4.17.1"}})
    publish_express_fixes(express.registry)
    manifest = (express.root / "package.json").read_bytes()

    result = PnpmUpdater().apply(express.context(manifest_changes=False), [_cookie()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert (result.changed_files, result.manifest_files, result.unfixed) == ([LOCK], [], [])
    assert result.notes == [
        "cookie 0.4.0 → 0.7.1 in pnpm-lock.yaml (lockfile only, via express 4.17.1 → 4.21.2)"
    ]
    assert express.versions("cookie") == ["0.7.1"]
    assert express.versions("express") == ["4.21.2"]
    assert (express.root / "package.json").read_bytes() == manifest
    express.assert_consistent()


def test_parents_are_walked_level_by_level(express: Project) -> None:
    """framework 1.0.0 pins express 4.17.1, which pins cookie 0.4.0: updating express alone
    cannot help; the next level up (framework 1.0.1) does."""
    express.create({"name": "web", "version": "1.0.0", "dependencies": {"framework": "^1.0.0"}})
    publish_express_fixes(express.registry)

    result = PnpmUpdater().apply(express.context(manifest_changes=False), [_cookie()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.manifest_files == [] and result.unfixed == []
    assert result.notes == [
        "cookie 0.4.0 → 0.7.1 in pnpm-lock.yaml (lockfile only, "
        "via express 4.17.1 → 4.21.2; framework 1.0.0 → 1.0.1)"
    ]
    assert express.versions("framework") == ["1.0.1"]
    express.assert_consistent()


def test_a_workspace_member_s_dependents_are_updated_in_that_member(express: Project) -> None:
    write_package_json(express.root / "packages" / "api", {
        "name": "api", "version": "1.0.0", "dependencies": {"express": "^4.17.1"},
    })  # fmt: skip
    (express.root / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n")
    express.create({"name": "root", "version": "1.0.0", "private": True})
    publish_express_fixes(express.registry)
    before = read_tree(express.root)

    result = PnpmUpdater().apply(express.context(manifest_changes=False), [_cookie()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert (result.changed_files, result.unfixed) == ([LOCK], [])
    assert "via express 4.17.1 → 4.21.2" in result.notes[0]
    assert express.versions("cookie") == ["0.7.1"]
    after = read_tree(express.root)
    assert {k: v for k, v in after.items() if k != LOCK} == {
        k: v for k, v in before.items() if k != LOCK
    }
    express.assert_consistent()


def test_a_mixed_unit_delivers_the_fix_it_can_and_reports_the_other(express: Project) -> None:
    """No express release frees cookie and the rules forbid manifest changes: cookie is
    left (naming express), lodash's fix stands, and the lockfile holds nothing else."""
    express.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"express": "^4.17.1", "uses-lodash": "^1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(express.registry)
    express.registry.publish("cookie", "0.7.0")
    manifest = (express.root / "package.json").read_bytes()

    result = PnpmUpdater().apply(express.context(manifest_changes=False), [_bump(), _cookie()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert (result.changed_files, result.manifest_files) == ([LOCK], [])
    assert result.notes == ["lodash 4.17.15 → 4.17.21 in pnpm-lock.yaml (lockfile only)"]
    [left] = result.unfixed
    assert (left.bump, left.reason) == (_cookie(), ReasonCode.MANIFEST_CHANGE_REQUIRED)
    assert left.detail.startswith("express 4.17.1 requires cookie 0.4.0 and no in-range update")
    assert express.versions("cookie") == ["0.4.0"] and express.versions("express") == ["4.17.1"]
    assert express.versions("lodash") == ["4.17.21"]
    assert (express.root / "package.json").read_bytes() == manifest
    express.assert_consistent()


def test_a_copy_with_no_patch_in_its_line_is_never_forced(project: Project) -> None:
    """lodash 3.10.1's first fix is in the 4 line: no override drags old-lodash's copy
    across it, even where manifest changes are allowed; the in-line fix is delivered."""
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0", "old-lodash": "1.0.0"}}
    )  # fmt: skip
    publish_lodash_fixes(project.registry)
    off_line = dataclasses.replace(_bump("3.10.1", "4.17.21"), in_line=False)

    result = PnpmUpdater().apply(project.context(), [_bump(), off_line])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert (result.changed_files, result.manifest_files) == ([LOCK], [])
    [left] = result.unfixed
    assert (left.bump, left.reason) == (off_line, ReasonCode.NO_PATCH_AVAILABLE)
    assert "no patch in its own major line" in left.detail and "old-lodash 1.0.0" in left.detail
    assert project.versions("lodash") == ["3.10.1", "4.17.21"]
    assert "overrides" not in (project.root / "package.json").read_text()
    project.assert_consistent()


def test_a_parent_update_may_remove_a_copy_with_no_patch_in_its_line(project: Project) -> None:
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"old-lodash": "^1.0.0"}})
    publish_lodash_fixes(project.registry)
    project.registry.publish("old-lodash", "1.1.0", {"lodash": "^4.17.21"})
    off_line = dataclasses.replace(_bump("3.10.1", "4.17.21"), in_line=False)

    result = PnpmUpdater().apply(project.context(manifest_changes=False), [off_line])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.unfixed == [] and result.manifest_files == []
    assert result.notes == [
        "lodash 3.10.1 → 4.17.22 in pnpm-lock.yaml (lockfile only, via old-lodash 1.0.0 → 1.1.0)"
    ]
    assert project.versions("lodash") == ["4.17.22"]


# --- the project's pnpm release ---------------------------------------------------------------


@pytest.mark.parametrize("pin", ["sha512", None])
def test_a_lockfile_in_an_older_format_is_updated_by_the_pnpm_that_writes_it(
    project: Project, pin: str | None
) -> None:
    """A 6.0 lockfile (pnpm 8): the packageManager pin
    runs (corepack checks its integrity), else the newest pnpm 8; pnpm 12 on PATH would
    rewrite it. The format stays."""
    manifest: dict[str, object] = {
        "name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"},
    }  # fmt: skip
    if pin:
        manifest["packageManager"] = sha512_pin(PNPM_8)
    project.create(manifest, PNPM_8)
    assert lockfile_format(project.root / LOCK) == "6.0"
    publish_lodash_fixes(project.registry)

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK]
    assert lockfile_format(project.root / LOCK) == "6.0"
    assert project.versions("lodash") == ["4.17.21"]
    assert f"$ corepack {sha512_pin(PNPM_8) if pin else 'pnpm@8'} --version\n{PNPM_8}" in (
        result.tool_output
    )
    assert not (project.home / "corepack").exists()  # the allowlisted COREPACK_HOME serves
    project.assert_consistent(PNPM_8)


def test_a_pin_that_would_migrate_the_lockfile_is_refused(project: Project) -> None:
    project.create(
        {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}}, PNPM_8
    )
    package = json.loads((project.root / "package.json").read_text())
    package["packageManager"] = f"pnpm@{PNPM_9}"
    (project.root / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    publish_lodash_fixes(project.registry)
    before = read_tree(project.root)

    result = PnpmUpdater().apply(project.context(), [_bump()])

    assert result.blocked is ReasonCode.UNSUPPORTED_ECOSYSTEM, result.blocked_detail
    assert "lockfileVersion 6.0 to 9.0" in result.blocked_detail
    assert "packageManager in package.json" in result.blocked_detail
    assert read_tree(project.root) == before


def test_without_corepack_the_pnpm_on_path_runs_only_for_its_own_major(
    project: Project, tmp_path: Path
) -> None:
    path_dir = tmp_path / "bin"  # node and pnpm, no corepack
    path_dir.mkdir()
    for tool in ("node", "pnpm"):
        (path_dir / tool).symlink_to(require_tool(tool))
    on_path = subprocess.run(
        ["pnpm", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})
    publish_lodash_fixes(project.registry)
    context = project.context()
    context = dataclasses.replace(context, env={**context.env, "PATH": str(path_dir)})
    before = read_tree(project.root)

    refused = PnpmUpdater().apply(context, [_bump()])

    assert refused.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, refused.blocked_detail
    assert refused.blocked_detail == (
        "pnpm 9 is needed (lockfileVersion 9.0 in pnpm-lock.yaml), but `pnpm --version` "
        f"reported {on_path}; install corepack so agentd can run pnpm@9"
    )
    assert read_tree(project.root) == before
    package = json.loads((project.root / "package.json").read_text())
    package["packageManager"] = f"pnpm@{on_path}"
    (project.root / "package.json").write_text(json.dumps(package, indent=2) + "\n")

    result = PnpmUpdater().apply(context, [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert result.changed_files == [LOCK] and project.versions("lodash") == ["4.17.21"]
    assert "$ pnpm --version" in result.tool_output and "corepack" not in result.tool_output


def test_without_an_allowlisted_corepack_home_the_private_home_holds_it(project: Project) -> None:
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})
    publish_lodash_fixes(project.registry)
    env = {k: v for k, v in project.env.items() if k != "COREPACK_HOME"}
    context = updater_context(project.root, project.home, env)

    result = PnpmUpdater().apply(context, [_bump()])

    assert result.blocked is None, (result.blocked_detail, result.tool_output)
    assert list((project.home / "corepack").glob(f"*/pnpm/{PNPM_9}/package.json"))


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


# --- end to end ---------------------------------------------------------------------------------


def test_e2e_lockfile_only_and_parent_updates_merge_and_a_forbidden_manifest_change_blocks(
    tmp_path: Path, corepack_home: Path
) -> None:
    require_tool("pnpm")
    marker = tmp_path / "lifecycle-script-ran"
    registry = serve_pnpm(express_registry(), PNPM_9)
    registry.publish("scripted", "1.0.0", scripts={"preinstall": marker_script(marker)})
    home = private_home(tmp_path)
    advisories = tmp_path / "advisories"
    write_advisory(
        advisories, COOKIE_ADVISORY, "npm", "cookie", [("0", "0.7.0")],
        "cookie accepts cookie name, path, and domain with out of bounds characters",
    )  # fmt: skip
    with registry.serve() as url:
        allowed = {**registry_env(url), **corepack_settings(url, corepack_home)}
        fixtures = {}
        for name, dependencies in {
            "web": {"uses-lodash": "^1.0.0", "scripted": "1.0.0"},
            "pinned": {"pins-lodash": "1.0.0"},
            "server": {"express": "^4.17.1"},
        }.items():
            directory = tmp_path / "fixtures" / name
            write_package_json(directory, {
                "name": name, "version": "1.0.0", "dependencies": dependencies,
                "scripts": {"preinstall": marker_script(marker), "postinstall": marker_script(marker)},
            })  # fmt: skip
            run(["corepack", f"pnpm@{PNPM_9}", *INSTALL], directory, offline_env(home, allowed))
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        publish_lodash_fixes(registry)
        publish_express_fixes(registry)
        world = scenario(*(repo(n, f) for n, f in fixtures.items()), advisory_dirs=[advisories])
        profile_repos = [{"repo": n, "targets": [target("pnpm")]} for n in fixtures]
        with e2e(tmp_path, world, profile_repos) as env:
            configure(env, {"pnpm": LOCKFILE_RULE}, allowed)
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]

            web = the_unit(env, summary, "web")
            assert web["outcome"] == "merged", explain(web)
            assert all(a["state"] == "fixed" for a in env.sim.admin.alerts("web", "dependabot"))
            locked = parse_dependency_file(LOCK, file_on_main(env, "web", LOCK).encode())
            assert {d.version for d in locked if d.name == "lodash"} == {"4.17.21"}

            server = the_unit(env, summary, "server")
            assert server["outcome"] == "merged", explain(server)
            alerts = env.sim.admin.alerts("server", "dependabot")
            assert alerts and all(a["state"] == "fixed" for a in alerts)
            assert file_on_main(env, "server", "package.json") == fixtures["server"]["package.json"]
            locked = parse_dependency_file(LOCK, file_on_main(env, "server", LOCK).encode())
            assert {d.version for d in locked if d.name == "cookie"} == {"0.7.1"}
            [pull] = env.sim.admin.pulls("server")
            assert "via express 4.17.1 → 4.21.2" in pull["body"]

            pinned = the_unit(env, summary, "pinned")
            assert (pinned["outcome"], pinned["reason_code"]) == (
                "blocked",
                "manifest_change_required",
            ), explain(pinned)
            assert "pins-lodash 1.0.0 requires lodash 4.17.15" in pinned["detail"], explain(pinned)
            assert env.sim.admin.pulls("pinned") == []
            assert not marker.exists(), "a lifecycle script ran during the update"


@pytest.mark.parametrize("where", sorted(UNREACHABLE))
def test_an_unreachable_registry_is_an_environment_problem(project: Project, where: str) -> None:
    """Issue 15, cause 7, for pnpm: a registry pnpm cannot reach was reported as a failed
    fix instead of the runner's environment."""
    project.create({"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})
    publish_lodash_fixes(project.registry)
    url, cause = UNREACHABLE[where]
    unreachable = {"NPM_CONFIG_REGISTRY": url + "/", "PNPM_CONFIG_REGISTRY": url + "/"}
    settings = {**project.env, **unreachable, "NPM_CONFIG_FETCH_RETRIES": "0", **DIRECT}
    before = read_tree(project.root)

    result = PnpmUpdater().apply(updater_context(project.root, project.home, settings), [_bump()])

    assert result.blocked is ReasonCode.VERIFICATION_UNAVAILABLE, result.blocked_detail
    # the process is corepack running the project's pnpm release
    assert cause in result.blocked_detail, result.blocked_detail
    assert read_tree(project.root) == before
