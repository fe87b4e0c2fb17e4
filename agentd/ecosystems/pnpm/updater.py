"""pnpm: `pnpm-lock.yaml`, driven by the project's own pnpm release (see `release`),
run through corepack with `--lockfile-only --ignore-scripts --ignore-pnpmfile`.

Per lockfile, each vulnerable copy is taken the least intrusive way that works:
1. the copy itself, in range and exactly to its target: an override keyed by the
   vulnerable version (`lodash@4.17.15: 4.17.21`) for one run, then taken away (see
   `nodejs`); pnpm keeps the fixed version wherever its dependents' ranges admit it;
2. an in-range update of its dependents, nearest first (see `parents`): lockfile only;
3. only where the rules allow manifest changes (`UpdateContext.manifest_changes`): the
   importer's own range bumped where it excludes the target, and an override kept for
   dependents that still pin the old version.
A copy with no patch in its own major line (`PackageBump.in_line` false) is never pinned
or overridden across it: only step 2 may remove it. A copy none of these reaches goes to
`UpdateResult.unfixed` with its reason; the other copies' fixes stand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentd.ecosystems._shared.corepack import Manager, corepack_env, runner_tool
from agentd.ecosystems._shared.interface import (
    PackageBump,
    UnfixedBump,
    UpdateContext,
    UpdateResult,
)
from agentd.ecosystems._shared.jsgraph import LockGraph, describe
from agentd.ecosystems._shared.nodejs import (
    bump_declared_ranges,
    locked_versions,
    mentions,
    note,
    override_key,
    quiet_npm_env,
    require_locked,
    require_reached,
    survivors,
)
from agentd.ecosystems._shared.npmsemver import parse_version
from agentd.ecosystems._shared.repo_config import check_pnpm
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    guarded_update,
)
from agentd.ecosystems.pnpm.parents import ParentWalk
from agentd.ecosystems.pnpm.project import Pnpm, Project, open_project
from agentd.ecosystems.pnpm.release import choose_release, lockfile_format
from agentd.vocabulary import ReasonCode


class PnpmUpdater:
    name = "pnpm"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        unfixed: list[UnfixedBump] = []

        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_pnpm(context, bumps_by_file(bumps))
            for display, file_bumps in bumps_by_file(bumps).items():
                project = open_project(context, display)
                guard.add(project.lockfile, *project.manifests)
                manifests += project.manifests
                manager = Manager(runner, choose_release(project.root, project.lockfile, display))
                manager.start(project.directory)
                pnpm = Pnpm(manager, project, lockfile_format(project.lockfile))
                update = _ProjectUpdate(pnpm, guard, context.manifest_changes)
                notes += update.run(file_bumps)
                unfixed.extend(update.unfixed)

        env = _pnpm_env(context)
        tool = runner_tool({**context.env, **env}, "pnpm")
        result = guarded_update(context, tool, env, body, registry_errors=True)
        if result.blocked is None:
            result.unfixed = unfixed
        return result


def _pnpm_env(context: UpdateContext) -> dict[str, str]:
    """pnpm 11+ reads `PNPM_CONFIG_*`, older pnpm `npm_config_*`. The store (unless the
    operator shares one as `npm_config_store_dir`) and pnpm's lock files go to the unit's
    private home: inside the sandbox /tmp is read-only (pnpm takes `XDG_RUNTIME_DIR`
    instead when only the user can write there), and pnpm would put a store for a worktree
    on another mount inside the worktree. agentd chose the release, so pnpm never switches
    to another itself."""
    runtime = context.home / "xdg-runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    shared = context.env.get("npm_config_store_dir") or context.env.get("NPM_CONFIG_STORE_DIR")
    store = shared or str(context.home / "pnpm-store")  # a shared one is writable in the sandbox
    return {
        **quiet_npm_env(),
        **corepack_env(context),
        "PNPM_CONFIG_IGNORE_SCRIPTS": "true",
        "PNPM_CONFIG_UPDATE_NOTIFIER": "false",
        "PNPM_CONFIG_STORE_DIR": store,
        "npm_config_store_dir": store,
        "PNPM_CONFIG_MANAGE_PACKAGE_MANAGER_VERSIONS": "false",
        "npm_config_manage_package_manager_versions": "false",
        "XDG_RUNTIME_DIR": str(runtime),
    }


@dataclass
class _ProjectUpdate:
    pnpm: Pnpm
    guard: FileGuard
    manifest_changes: bool
    unfixed: list[UnfixedBump] = field(default_factory=list)

    @property
    def project(self) -> Project:
        return self.pnpm.project

    def run(self, bumps: list[PackageBump]) -> list[str]:
        project = self.project
        require_locked(project.lockfile, project.display, bumps)
        before = {b.name: locked_versions(project.lockfile, project.display, b.name) for b in bumps}
        overridden = self._already_overridden(bumps)
        walk = ParentWalk(self.pnpm, self.guard)
        pinnable = [b for b in bumps if b.in_line and b not in overridden]
        if pinnable:
            self._pin_and_release(pinnable)
        fixed = [b for b in bumps if walk.reached(b, before[b.name])]
        notes = [self._note(b, before, "lockfile only") for b in fixed]
        for bump in bumps:
            if bump in fixed:
                continue
            via = walk.free(bump, before[bump.name])
            if via is not None:
                freed = [b for b in bumps if b not in fixed and walk.reached(b, before[b.name])]
                notes += [self._note(b, before, f"lockfile only, via {via}") for b in freed]
                fixed += freed
        left = [b for b in bumps if b not in fixed]
        notes += self._fix_with_manifests(self._triage(left, overridden, walk))
        require_reached(
            project.lockfile, project.display, [b for b in bumps if b not in self._unfixed],
            before, self.pnpm.manager.runner.tail(),
        )  # fmt: skip
        return notes

    @property
    def _unfixed(self) -> list[PackageBump]:
        return [u.bump for u in self.unfixed]

    def _pin_and_release(self, bumps: list[PackageBump]) -> None:
        self.pnpm.add_overrides({override_key(b): b.target_version for b in bumps})
        self.pnpm.install("pinning the fixed versions")
        self.guard.put_back(self.pnpm.overrides_file)
        self.pnpm.install("releasing the pins")

    def _already_overridden(self, bumps: list[PackageBump]) -> dict[PackageBump, str]:
        existing = self.pnpm.existing_overrides()
        name = self.pnpm.overrides_file.name
        return {
            bump: f"{name} already overrides {bump.name} "
            f"({', '.join(mentions(existing, bump.name))}); a person updates it"
            for bump in bumps
            if mentions(existing, bump.name)
        }

    def _triage(
        self, left: list[PackageBump], overridden: dict[PackageBump, str], walk: ParentWalk
    ) -> list[PackageBump]:
        """The copies steps 1 and 2 left: those a manifest change may fix, the rest unfixed."""
        graph = self.project.graph()
        manifest_fixable = []
        for bump in left:
            stuck = _held_by(bump, graph) + (
                f" ({'; '.join(walk.failures)})" if walk.failures else ""
            )
            if not bump.in_line:
                reason, detail = ReasonCode.NO_PATCH_AVAILABLE, (
                    f"{bump.name} {bump.current_version} has no patch in its own major line "
                    f"(the first fix, {bump.target_version}, is in another), and {stuck}"
                )  # fmt: skip
            elif bump in overridden:
                reason, detail = ReasonCode.MANIFEST_CHANGE_REQUIRED, overridden[bump]
            elif not self.manifest_changes:
                reason, detail = ReasonCode.MANIFEST_CHANGE_REQUIRED, (
                    f"{stuck}: the fix needs a manifest change (a range bump or an override), "
                    "which the rules forbid"
                )  # fmt: skip
            else:
                manifest_fixable.append(bump)
                continue
            self.unfixed.append(UnfixedBump(bump, reason, detail))
        return manifest_fixable

    def _fix_with_manifests(self, bumps: list[PackageBump]) -> list[str]:
        """Step 3: bump the importers' own ranges, then override what dependents pin."""
        if not bumps:
            return []
        project = self.project
        notes = bump_declared_ranges(list(project.importers.values()), bumps)
        if notes:
            self.pnpm.install("bumping the declared ranges")
        left = survivors(project.lockfile, project.display, bumps)
        if left:
            self.pnpm.add_overrides({override_key(b): b.target_version for b in left})
            self.pnpm.install("keeping overrides for dependents that pin the old version")
            notes += [note(b, f"override in {self.pnpm.overrides_file.name}") for b in left]
        still = survivors(project.lockfile, project.display, bumps)
        if still:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                "pnpm still locks " + ", ".join(f"{b.name} {b.current_version}" for b in still),
                self.pnpm.manager.runner.tail(),
            )
        return notes

    def _note(self, bump: PackageBump, before: dict[str, set[str]], how: str) -> str:
        """`cookie 0.4.0 → 0.7.1 in pnpm-lock.yaml (lockfile only, via express ...)`."""
        project = self.project
        now = locked_versions(project.lockfile, project.display, bump.name)
        landed = _lowest(now - before[bump.name]) or _lowest(
            {v for v in now if _at_least(v, bump.target_version)}
        )
        if landed is None:
            return f"{bump.name} {bump.current_version} removed from {bump.manifest_path} ({how})"
        return f"{bump.name} {bump.current_version} → {landed} in {bump.manifest_path} ({how})"


def _lowest(versions: set[str]) -> str | None:
    parsed = [(parse_version(v), v) for v in versions]
    ordered = sorted((p, v) for p, v in parsed if p is not None)
    return ordered[0][1] if ordered else (min(versions) if versions else None)


def _at_least(version: str, target: str) -> bool:
    left, right = parse_version(version), parse_version(target)
    return left is not None and right is not None and left >= right


def _held_by(bump: PackageBump, graph: LockGraph) -> str:
    """Who holds the copy in place: `express 4.17.1 requires cookie 0.4.0 and ...`."""
    node = (bump.name, bump.current_version)
    copy = f"{bump.name} {bump.current_version}"
    parts = []
    dependents = graph.dependents(node)
    if dependents:
        one = len(dependents) == 1
        parts.append(
            f"{describe(dependents)} require{'s' if one else ''} {copy} and no in-range update "
            f"of {'it' if one else 'them'} or {'its' if one else 'their'} dependents removes it"
        )
    declared = [(Path(i) / "package.json").as_posix() for i in graph.declaring_importers(node)]
    if declared:
        parts.append(f"{', '.join(declared)} declare{'s' if len(declared) == 1 else ''} {copy}")
    return "; ".join(parts) or f"nothing in the lockfile removes {copy}"
