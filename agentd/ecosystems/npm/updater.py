"""npm: `package-lock.json` / `npm-shrinkwrap.json`, driven by npm.

Every run is `npm install --package-lock-only --ignore-scripts --no-audit --no-fund`:
npm resolves against the registry the operator's environment names (a project `.npmrc`
that names a registry, a credential or a program is refused first, see `repo_config`),
writes only the lockfile, never `node_modules`, and never runs a lifecycle script.

Per vulnerable copy, in this order, keeping every manifest as it was:
1. the exact fix in range: the copy is pinned for one run — an `overrides` entry keyed by
   the vulnerable version (`"lodash@4.17.15": "4.17.21"`, which leaves other major lines
   alone) or, for a package the root declares itself, an exact spec — and then the pin is
   taken away and npm runs again (see `nodejs`): what stays is a lockfile-only change;
2. an in-range update of its dependents (`npm update <dependents>`), level by level up the
   lockfile graph, when a dependent pins the vulnerable version (express 4.17.1 pins cookie
   0.4.0; express 4.21 in range brings cookie 0.7): Dependabot's "update the parent";
3. only where the rules allow manifest changes: the declared range bumped, else an
   `overrides` entry, reported in `manifest_files`.
A copy with no patch in its own major line (`PackageBump.in_line` False) only ever gets
step 2. A copy none of this fixes is reported in `unfixed` with its reason; the others'
fixes stand. A lockfile v1 (npm 6) is rewritten as v2, which npm 6 still reads, and the
PR says so. A tree whose committed peer dependencies already conflict (ERESOLVE on any
re-resolution) is resolved with `--legacy-peer-deps`, as npm 6 did, and the PR says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.interface import (
    PackageBump,
    UnfixedBump,
    UpdateContext,
    UpdateResult,
)
from agentd.ecosystems._shared.landing import same_line
from agentd.ecosystems._shared.nodejs import (
    PackageJson,
    accepts,
    bump_declared_ranges,
    locked_versions,
    mentions,
    note,
    override_key,
    quiet_npm_env,
    require_targets,
    survivors,
    versions_in,
)
from agentd.ecosystems._shared.repo_config import check_npm
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    guarded_update,
)
from agentd.versions import VersionError, parse_version
from agentd.vocabulary import ReasonCode

_INSTALL = (
    "install",
    "--package-lock-only",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--no-update-notifier",
)
_UPDATE = ("update", *_INSTALL[1:])
_MARKER = "node_modules/"  # lockfile keys of installed packages contain it
_DEPENDENCY_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies")
MAX_PARENT_LEVELS = 3
V1_REWRITE = "--lockfile-version=2"
_EXACT = re.compile(r"^=?v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


@dataclass
class _Project:
    directory: Path
    lockfile: Path
    display: str  # repo-relative lockfile path
    root: Path  # the root package.json
    workspaces: list[Path] = field(default_factory=list)  # workspace package.json files
    flags: list[str] = field(default_factory=list)  # extra npm flags this project needs
    notes: list[str] = field(default_factory=list)  # what the PR must say about the run

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
    if not isinstance(version, int) or version < 1:
        raise UpdateRefused(
            ReasonCode.UNSUPPORTED_ECOSYSTEM,
            f"{display} has lockfileVersion {version!r}, which npm does not write",
        )
    if version == 1:
        # npm 7+ rewrites a v1 lockfile anyway; v2 keeps the v1 section npm 6 reads.
        project.flags.append(V1_REWRITE)
        project.notes.append(
            f"{display} was lockfile v1 (npm 6); npm rewrote it as lockfile v2, which npm 6 "
            "still reads"
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
        unfixed: list[UnfixedBump] = []

        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_npm(context, bumps_by_file(bumps))
            for display, file_bumps in bumps_by_file(bumps).items():
                project = _open_project(context, display)
                guard.add(project.lockfile, *project.manifests)
                manifests += project.manifests
                done, left = _update_project(runner, project, file_bumps, context)
                notes += done
                unfixed.extend(left)

        result = guarded_update(context, "npm", quiet_npm_env(), body, registry_errors=True)
        result.unfixed = unfixed if result.blocked is None else []
        return result


def _install(runner: ToolRunner, project: _Project, what: str, args: tuple[str, ...] = ()) -> None:
    """`npm install` (or `npm update <names>` with `args`) for the lockfile only.

    A committed tree whose peer dependencies already conflict makes npm 7+ refuse any
    re-resolution (ERESOLVE); such a project is resolved as npm 6 did, and the PR says so.
    """
    command = _UPDATE + args if args else _INSTALL
    run = runner.run([*command, *project.flags], project.directory)
    if not run.ok and "ERESOLVE" in run.output and "--legacy-peer-deps" not in project.flags:
        project.flags.append("--legacy-peer-deps")
        project.notes.append(
            "the project's committed dependency tree has conflicting peer dependencies, so "
            "npm resolved it with --legacy-peer-deps (as npm 6 did)"
        )
        run = runner.run([*command, *project.flags], project.directory)
    if run.ok:
        return
    reason = ReasonCode.VERIFICATION_FAILED
    if "ERESOLVE" in run.output or "EOVERRIDE" in run.output:
        reason = ReasonCode.MANIFEST_CHANGE_REQUIRED
    raise UpdateRefused(
        reason,
        f"{what}: `{run.command}` exited {run.exit_code}"
        + (" (timed out)" if run.timed_out else ""),
        runner.tail(),
    )


def _unfixed(
    runner: ToolRunner, project: _Project, bumps: list[PackageBump], *, ask_npm: bool = True
) -> list[PackageBump]:
    """Bumps whose vulnerable version is still locked, or whose fixed copy a dependent's
    range does not admit: npm can keep such an invalid edge from the pinned run instead of
    nesting the old version again, so `npm ls` is asked too (not needed after a plain
    `npm update`, which leaves no pinned edge behind)."""
    if not bumps:
        return []
    left = survivors(project.lockfile, project.display, bumps)
    if not ask_npm:
        return left
    names = sorted({b.name for b in bumps})
    run = runner.run(["ls", "--package-lock-only", "--all", *names], project.directory)
    if run.timed_out:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, "npm ls timed out", runner.tail())
    invalid = {name for name in names if f"invalid: {name}@" in run.output}
    return [b for b in bumps if b in left or b.name in invalid]


def _update_project(
    runner: ToolRunner, project: _Project, bumps: list[PackageBump], context: UpdateContext
) -> tuple[list[str], list[UnfixedBump]]:
    unfixed = _no_longer_locked(project, bumps)
    bumps = [b for b in bumps if b not in {u.bump for u in unfixed}]
    if not bumps:
        return [], unfixed
    if V1_REWRITE in project.flags:  # rewrite it once, before anything moves
        _install(runner, project, "rewriting the v1 lockfile")
    exact = [b for b in bumps if b.in_line]
    if exact:
        _pin_and_release(runner, project, exact)
    left = _unfixed(runner, project, bumps)
    via: dict[PackageBump, list[str]] = {}
    if left:
        via = _update_dependents(runner, project, left)
        left = _unfixed(runner, project, bumps)
    in_lockfile = [b for b in bumps if b not in left]
    notes = [_how(project, b, via.get(b, [])) for b in in_lockfile]
    fixable = [b for b in left if b.in_line]
    if fixable and context.manifest_changes:
        notes += _keep_manifest_change(runner, project, fixable)
        left = _unfixed(runner, project, bumps)
    _require_fixed(project, [b for b in bumps if b not in left], runner.tail())
    unfixed += [UnfixedBump(b, *_why_left(project, b, context)) for b in left]
    return [*project.notes, *notes], unfixed


def _no_longer_locked(project: _Project, bumps: list[PackageBump]) -> list[UnfixedBump]:
    return [
        UnfixedBump(
            bump,
            ReasonCode.DEPENDENCY_REMOVED,
            f"{project.display} no longer locks {bump.name} {bump.current_version}",
        )
        for bump in bumps
        if bump.current_version not in locked_versions(project.lockfile, project.display, bump.name)
    ]


def _pin_and_release(runner: ToolRunner, project: _Project, bumps: list[PackageBump]) -> None:
    """Pin the vulnerable copies to their fix for one run, then release the pins: npm keeps
    the fixed copies wherever the dependents' ranges admit them."""
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
    try:
        _install(runner, project, "pinning the fixed versions")
    finally:
        project.root.write_bytes(original)
    _install(runner, project, "releasing the pins")


# --- in-range updates of the dependents -----------------------------------------------------


def _packages(project: _Project) -> dict[str, dict[str, object]]:
    data = _load_lock(project).get("packages")
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)}


def _name_of(key: str, entry: dict[str, object]) -> str:
    name = entry.get("name")
    if isinstance(name, str) and name:
        return name
    return key.rsplit(_MARKER, 1)[-1]


def _dependents(packages: dict[str, dict[str, object]], name: str, version: str) -> dict[str, str]:
    """Installed packages (name → version) whose own range on `name` admits `version`: the
    ones that may hold that copy in place. The root project and workspaces are not
    updatable in range (their ranges are manifests)."""
    found: dict[str, str] = {}
    for key, entry in packages.items():
        if _MARKER not in key or entry.get("link"):
            continue
        for field_name in _DEPENDENCY_FIELDS:
            specs = entry.get(field_name)
            spec = specs.get(name) if isinstance(specs, dict) else None
            if isinstance(spec, str) and accepts(spec, version):
                found[_name_of(key, entry)] = str(entry.get("version", ""))
    return found


def _update_dependents(
    runner: ToolRunner, project: _Project, bumps: list[PackageBump]
) -> dict[PackageBump, list[str]]:
    """Move the dependents of the surviving copies to the newest versions their own
    dependents admit, one level up the graph at a time, until the copies are gone. A level
    that removes nothing, or brings an older copy of a bumped package, is undone. Returns,
    per bump a level fixed, the moves that did it."""
    via: dict[PackageBump, list[str]] = {}
    frontier = {(b.name, b.current_version) for b in bumps}
    tried: set[str] = set()
    for _ in range(MAX_PARENT_LEVELS):
        packages = _packages(project)
        parents: dict[str, str] = {}
        for name, version in frontier:
            parents.update(_dependents(packages, name, version))
        names = sorted(set(parents) - tried)
        if not names:
            break
        tried.update(names)
        before = project.lockfile.read_bytes()
        left_before = bumps
        try:
            _install(runner, project, f"updating {', '.join(names)} in range", tuple(names))
        except UpdateRefused:
            project.lockfile.write_bytes(before)
            break
        left = _unfixed(runner, project, bumps, ask_npm=False)
        if len(left) < len(left_before) and not _older_copies(project, bumps, before):
            moves = _moves(project, parents, names)
            via.update({b: moves for b in left_before if b not in left})
            bumps = left
            if not left:
                break
        else:
            project.lockfile.write_bytes(before)
        frontier = set(parents.items())
    return via


def _older_copies(project: _Project, bumps: list[PackageBump], before: bytes) -> bool:
    """Whether the update brought a version of a bumped package that is new to the
    lockfile and below the fix (a newer parent pinning an older, still vulnerable copy)."""
    for bump in bumps:
        now = locked_versions(project.lockfile, project.display, bump.name)
        added = now - versions_in(project.display, before, bump.name)
        if any(_below(v, bump.target_version) for v in added):
            return True
    return False


def _below(version: str, target: str) -> bool:
    try:
        return parse_version("npm", version).key < parse_version("npm", target).key
    except VersionError:
        return True  # unorderable: not provably fixed


def _moves(project: _Project, parents: dict[str, str], names: list[str]) -> list[str]:
    packages = _packages(project)
    moves = []
    for name in names:
        now = sorted({str(e.get("version")) for k, e in packages.items() if _name_of(k, e) == name})
        if parents.get(name) and parents[name] not in now:
            moves.append(f"{name} {parents[name]} → {', '.join(now) or 'removed'}")
    return moves


# --- the manifest fallback and the result -----------------------------------------------


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
    return notes


def _require_fixed(project: _Project, done: list[PackageBump], tail: str) -> None:
    """Every bump reported fixed locks a version at or above its fix."""
    for bump in done:
        versions = locked_versions(project.lockfile, project.display, bump.name)
        if bump.current_version in versions:
            require_targets(project.lockfile, project.display, [bump], tail)


def _how(project: _Project, bump: PackageBump, moved: list[str]) -> str:
    now = sorted(locked_versions(project.lockfile, project.display, bump.name))
    fixed = [v for v in now if not _below(v, bump.target_version)]
    in_line = [v for v in fixed if same_line(v, bump.current_version)]
    via = f", via {'; '.join(moved)}" if moved else ""
    landed = ", ".join(in_line or fixed) or "removed"
    return (
        f"{bump.name} {bump.current_version} → {landed} in {bump.manifest_path} "
        f"(lockfile only{via})"
    )


def _exact(spec: str) -> bool:
    """A declared spec that admits one version only (`4.17.1`, `=4.17.1`)."""
    return bool(_EXACT.match(spec.strip()))


def _why_left(
    project: _Project, bump: PackageBump, context: UpdateContext
) -> tuple[ReasonCode, str]:
    holders = _dependents(_packages(project), bump.name, bump.current_version)
    held = ", ".join(f"{n} {v}" for n, v in sorted(holders.items())) or "the project itself"
    root = PackageJson.load(project.root)
    pinned_here = sorted(n for n in holders if any(_exact(spec) for _, spec in root.declared(n)))
    if not bump.in_line and pinned_here:
        return ReasonCode.MANIFEST_CHANGE_REQUIRED, (
            f"{bump.name} {bump.current_version} comes from {', '.join(pinned_here)}, which "
            f"{project.root.name} pins exactly; a newer release may drop the vulnerable copy, "
            "and only a manifest change can bring one"
            + ("" if context.manifest_changes else " (the rules forbid it)")
        )
    if not bump.in_line:
        return ReasonCode.NO_PATCH_AVAILABLE, (
            f"{bump.name} {bump.current_version} has no patched version in its own major line "
            f"(the first fix, {bump.target_version}, is in another), and no in-range update "
            f"of what requires it ({held}) removes it"
        )
    if root.declared(bump.name) and not holders:
        where = "the project's own declared range"
    else:
        where = f"its dependents' ranges ({held}), even at their newest in-range versions,"
    why = f"{where} exclude {bump.name} {bump.target_version}"
    if context.manifest_changes:
        return ReasonCode.MANIFEST_CHANGE_REQUIRED, why
    return ReasonCode.MANIFEST_CHANGE_REQUIRED, (
        f"{why}; only a manifest change (a range bump or an override) fixes it, which the "
        "rules forbid"
    )
