"""npm: `package-lock.json` / `npm-shrinkwrap.json` (lockfile v2 and v3), driven by npm.

Every run is `npm install --package-lock-only --ignore-scripts --no-audit --no-fund`:
npm resolves against the registry the operator's environment names (a project `.npmrc`
that names a registry, a credential or a program is refused first, see `repo_config`),
writes only the lockfile, never `node_modules`, and never runs a lifecycle script.

To reach the exact target version (`npm update` would take the newest in range), the
vulnerable copies are pinned for one run — an `overrides` entry keyed by the vulnerable
version (`"lodash@4.17.15": "4.17.21"`, which leaves other major lines alone) or, for a
package the root declares itself (npm refuses overrides of direct dependencies), an
exact spec — and then the pin is taken away and npm runs again (see `nodejs`). A copy
whose dependent excludes the target comes back vulnerable; then the fix keeps a manifest
change: the declared range bumped where the project's own range excludes the target,
else the `overrides` entry, reported in `manifest_files`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.nodejs import (
    PackageJson,
    accepts,
    bump_declared_ranges,
    mentions,
    note,
    override_key,
    quiet_npm_env,
    require_locked,
    require_targets,
    survivors,
)
from agentd.ecosystems._shared.repo_config import check_npm
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    guarded_update,
)
from agentd.vocabulary import ReasonCode

_INSTALL = (
    "install",
    "--package-lock-only",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--no-update-notifier",
)
_MARKER = "node_modules/"  # lockfile keys of installed packages contain it


@dataclass
class _Project:
    directory: Path
    lockfile: Path
    display: str  # repo-relative lockfile path
    root: Path  # the root package.json
    workspaces: list[Path] = field(default_factory=list)  # workspace package.json files

    @property
    def manifests(self) -> list[Path]:
        return [self.root, *self.workspaces]


def _load_lock(project: _Project) -> dict[str, object]:
    try:
        data = json.loads(project.lockfile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"cannot read {project.display}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"{project.display} is not an object")
    return data


def _open_project(context: UpdateContext, display: str) -> _Project:
    lockfile = context.file(display)
    project = _Project(lockfile.parent, lockfile, display, lockfile.parent / "package.json")
    if not project.root.is_file():
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"no package.json next to {display}")
    data = _load_lock(project)
    version = data.get("lockfileVersion")
    if not isinstance(version, int) or version < 2:
        raise UpdateRefused(
            ReasonCode.UNSUPPORTED_ECOSYSTEM,
            f"{display} is lockfile v{version}; npm 7+ would rewrite it wholesale, so it is "
            "left for a person (regenerate it with a current npm first)",
        )
    packages = data.get("packages")
    for key in packages if isinstance(packages, dict) else {}:
        if key and _MARKER not in key:  # a workspace (a path outside any node_modules)
            manifest = context.file(str(PurePosixPath(display).parent / key / "package.json"))
            if manifest.is_file():
                project.workspaces.append(manifest)
    return project


class NpmUpdater:
    name = "npm"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_npm(context, bumps_by_file(bumps))
            for display, file_bumps in bumps_by_file(bumps).items():
                project = _open_project(context, display)
                guard.add(project.lockfile, *project.manifests)
                manifests += project.manifests
                notes += _update_project(runner, project, file_bumps)

        return guarded_update(context, "npm", quiet_npm_env(), body)


def _install(runner: ToolRunner, project: _Project, what: str) -> None:
    reason = ReasonCode.VERIFICATION_FAILED
    run = runner.run(_INSTALL, project.directory)
    if run.ok:
        return
    if "ERESOLVE" in run.output or "EOVERRIDE" in run.output:
        reason = ReasonCode.MANIFEST_CHANGE_REQUIRED
    raise UpdateRefused(
        reason,
        f"{what}: `{run.command}` exited {run.exit_code}"
        + (" (timed out)" if run.timed_out else ""),
        runner.tail(),
    )


def _unfixed(runner: ToolRunner, project: _Project, bumps: list[PackageBump]) -> list[PackageBump]:
    """Bumps whose vulnerable version is still locked, or whose fixed copy a dependent's
    range does not admit: npm can keep such an invalid edge from the pinned run instead of
    nesting the old version again, so `npm ls` is asked too."""
    left = survivors(project.lockfile, project.display, bumps)
    names = sorted({b.name for b in bumps})
    run = runner.run(["ls", "--package-lock-only", "--all", *names], project.directory)
    if run.timed_out:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, "npm ls timed out", runner.tail())
    invalid = {name for name in names if f"invalid: {name}@" in run.output}
    return [b for b in bumps if b in left or b.name in invalid]


def _update_project(runner: ToolRunner, project: _Project, bumps: list[PackageBump]) -> list[str]:
    require_locked(project.lockfile, project.display, bumps)
    original = project.root.read_bytes()
    root = PackageJson.load(project.root)
    overrides = root.section("overrides")
    for bump in bumps:
        if mentions(overrides, bump.name):
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"package.json already overrides {bump.name} "
                f"({', '.join(mentions(overrides, bump.name))}); a person updates that override",
            )
    for bump in bumps:
        declared = root.declared(bump.name)
        for section, spec in declared:
            if accepts(spec, bump.current_version):  # the root's own copy: pin its spec
                root.set_spec(section, bump.name, bump.target_version)
        if not declared:  # npm refuses overrides of the root's direct dependencies
            overrides[override_key(bump)] = bump.target_version
    if not overrides:
        del root.data["overrides"]
    root.save()
    _install(runner, project, "pinning the fixed versions")
    project.root.write_bytes(original)
    _install(runner, project, "releasing the pins")
    left = _unfixed(runner, project, bumps)
    notes = [note(b, "lockfile only") for b in bumps if b not in left]
    if left:
        notes += _keep_manifest_change(runner, project, left)
    require_targets(project.lockfile, project.display, bumps, runner.tail())
    return notes


def _keep_manifest_change(
    runner: ToolRunner, project: _Project, bumps: list[PackageBump]
) -> list[str]:
    """The lockfile alone cannot hold the fix: bump the project's own ranges that exclude
    the target, then override what dependents still pin."""
    notes = bump_declared_ranges(project.manifests, bumps)
    if notes:
        _install(runner, project, "bumping the declared ranges")
    left = _unfixed(runner, project, bumps)
    if left:
        root = PackageJson.load(project.root)
        for bump in left:
            if root.declared(bump.name):
                raise UpdateRefused(
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"a dependent pins {bump.name} {bump.current_version}, and npm refuses an "
                    "override of a package the root declares itself",
                )
            root.section("overrides")[override_key(bump)] = bump.target_version
            notes.append(note(bump, "package.json overrides"))
        root.save()
        _install(runner, project, "adding overrides for dependents that pin the old version")
    still = _unfixed(runner, project, bumps)
    if still:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            "npm still locks (or leaves unsatisfied) "
            + ", ".join(f"{b.name} {b.current_version}" for b in still)
            + " after the manifest change",
            runner.tail(),
        )
    return notes
