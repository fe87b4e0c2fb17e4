"""yarn: `yarn.lock`, classic (yarn 1) and berry (yarn 2+), driven by the project's yarn.

Which yarn: a `packageManager: yarn@x.y.z` in package.json is honoured through corepack
(which fetches that release from the registry); otherwise the `yarn` on PATH. Either way
the lockfile says which yarn it needs (berry lockfiles carry `__metadata`) and the yarn
that runs must agree (a berry project normally pins its release through `yarnPath` in
`.yarnrc.yml`, which yarn 1 honours too), otherwise the update is refused — yarn 1 would
rewrite a berry lockfile, and berry would migrate a classic one. A committed release is
repository code: it runs only inside the sandbox; yarn plugins, a yarn 1 `yarn-path`,
registries and credentials in the project's yarn config are refused first (`repo_config`).

Each bump is reached the least intrusive way that works, and a bump that cannot be
reached is reported in `unfixed` while the others' fixes stand:
1. Lock exactly the target version (copies with a patch in their own major line only): a
   temporary aliased dependency (`"agentd-fix-0": "npm:lodash@4.17.21"`) makes yarn
   resolve the fixed release with its metadata, checksum and dependencies; then every
   range of the package that the fixed release satisfies (node-semver's rules) is moved
   onto that entry — yarn 1 has no dedupe command, and berry's `yarn dedupe` ignores
   aliased releases. The alias is removed and yarn runs again, pruning it.
2. A copy still locked is held by a dependent whose range excludes the fix (express
   ^4.17.1 locked at 4.17.1 pins cookie 0.4.0): its dependents are updated in range,
   level by level from the immediate ones up (`lockgraph`), each level tried only when
   the registry has a newer in-range release of one of them, until the copy is gone.
   A level that brings a possibly vulnerable version of a bumped package (`landing`)
   or changes more than the fixed copies need is narrowed or undone.
3. Only then a manifest change, and only when the rules allow one: the project's own
   range is bumped, or a `resolutions` entry added (berry: keyed by the exact descriptor;
   classic: by name, only when no other major line of the package is locked). A copy
   with no patch in its own major line is never forced across it: if no dependent's
   update removes it, it is `no_patch_available`.
Scripts never run: `--ignore-scripts` (classic), `enableScripts: false` (berry); classic
installs into a modules folder outside the worktree, berry only updates the lockfile
(`--mode=update-lockfile`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.interface import (
    PackageBump,
    UnfixedBump,
    UpdateContext,
    UpdateResult,
)
from agentd.ecosystems._shared.landing import landed_note, possibly_vulnerable, same_line
from agentd.ecosystems._shared.model import DepfileError, as_dict, as_str, load_yaml
from agentd.ecosystems._shared.nodejs import (
    PackageJson,
    bump_declared_ranges,
    locked_versions,
    mentions,
    note,
    quiet_npm_env,
    survivors,
)
from agentd.ecosystems._shared.npmsemver import parse_version, satisfies
from agentd.ecosystems._shared.repo_config import check_yarn
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRun,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    find_executable,
    guarded_update,
    read_or_refuse,
)
from agentd.ecosystems.yarn.lockgraph import LockEntry, LockGraph
from agentd.vocabulary import ReasonCode

ALIAS_PREFIX = "agentd-fix-"
MAX_PARENT_LEVELS = 8
_BERRY_MARKER = re.compile(r"^__metadata:", re.MULTILINE)
_VERSION_LINE = re.compile(r'^  version:? "?(?P<version>[^"\s]+)"?\s*$', re.MULTILINE)
# a registry release only (`yarn@1.22.19`, optionally `+sha512.<hex>`): a URL would make
# corepack run a program the repository chose
_PACKAGE_MANAGER = re.compile(r"^yarn@\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.]+)?$")
_BERRY_ARTIFACTS = (".yarn/install-state.gz", ".pnp.cjs", ".pnp.loader.mjs", ".pnp.data.json")
_YARN_ENV = {
    "YARN_ENABLE_SCRIPTS": "false",
    "YARN_ENABLE_TELEMETRY": "0",
    "YARN_ENABLE_IMMUTABLE_INSTALLS": "false",
    "YARN_ENABLE_PROGRESS_BARS": "false",
    "SKIP_YARN_COREPACK_CHECK": "1",
    "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
    "COREPACK_ENABLE_AUTO_PIN": "0",  # never add a packageManager field to package.json
}


@dataclass
class _Project:
    directory: Path
    lockfile: Path
    display: str
    root: Path
    berry: bool
    workspaces: list[Path] = field(default_factory=list)

    @property
    def manifests(self) -> list[Path]:
        return [self.root, *self.workspaces]


def _open_project(context: UpdateContext, display: str) -> _Project:
    lockfile = context.file(display)
    root = lockfile.parent / "package.json"
    if not root.is_file():
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"no package.json next to {display}")
    text = read_or_refuse(lockfile, display)
    project = _Project(lockfile.parent, lockfile, display, root, bool(_BERRY_MARKER.search(text)))
    if project.berry:
        for workspace in _berry_workspaces(display, text):
            manifest = context.file(str(PurePosixPath(display).parent / workspace / "package.json"))
            if manifest.is_file() and manifest != root:
                project.workspaces.append(manifest)
    return project


def _berry_workspaces(display: str, text: str) -> list[str]:
    try:
        data = load_yaml(display, text.encode("utf-8"))
    except DepfileError as exc:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, str(exc)) from None
    found = []
    for entry in data.values():
        resolution = as_str(as_dict(entry).get("resolution")) or ""
        if "@workspace:" in resolution:
            found.append(resolution.split("@workspace:", 1)[1])
    return found


def _pins_yarn(context: UpdateContext, display: str) -> bool:
    """Whether the project's package.json pins a yarn release (`packageManager`)."""
    try:
        manifest = context.file(str(PurePosixPath(display).parent / "package.json"))
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    value = data.get("packageManager") if isinstance(data, dict) else None
    return isinstance(value, str) and bool(_PACKAGE_MANAGER.match(value.strip()))


def tool_for(context: UpdateContext, files: Iterable[str]) -> str:
    """corepack when every project pins its yarn release and corepack is there, else yarn."""
    pinned = all(_pins_yarn(context, display) for display in files)
    return "corepack" if pinned and find_executable("corepack", context.env) else "yarn"


@dataclass
class _Yarn:
    """yarn itself, or `corepack yarn` (the release package.json pins)."""

    runner: ToolRunner
    prefix: tuple[str, ...]

    def run(self, args: list[str], cwd: Path) -> ToolRun:
        return self.runner.run([*self.prefix, *args], cwd)

    def check(self, args: list[str], cwd: Path, *, reason: ReasonCode, what: str) -> ToolRun:
        return self.runner.check([*self.prefix, *args], cwd, reason=reason, what=what)

    def tail(self) -> str:
        return self.runner.tail()


class YarnUpdater:
    name = "yarn"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        files = bumps_by_file(bumps)
        tool = tool_for(context, files)
        unfixed: list[UnfixedBump] = []

        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_yarn(context, files)
            yarn = _Yarn(runner, ("yarn",) if tool == "corepack" else ())
            for display, file_bumps in files.items():
                project = _open_project(context, display)
                guard.add(project.lockfile, *project.manifests)
                guard.add_artifacts(*(project.directory / a for a in _BERRY_ARTIFACTS))
                manifests += project.manifests
                _require_matching_yarn(yarn, project)
                update = _YarnUpdate(yarn, project, context.home, context.manifest_changes)
                notes += update.run(file_bumps)
                unfixed.extend(update.unfixed)

        env = {**quiet_npm_env(), **_YARN_ENV}
        result = guarded_update(context, tool, env, body, registry_errors=True)
        if result.blocked is None:
            result.unfixed = unfixed
        return result


def _require_matching_yarn(yarn: _Yarn, project: _Project) -> None:
    run = yarn.check(
        ["--version"],
        project.directory,
        reason=ReasonCode.VERIFICATION_UNAVAILABLE,
        what="asking yarn for its version",
    )
    lines = run.output.strip().splitlines()
    version = lines[-1].strip() if lines else ""
    classic = version.startswith("1.")
    if project.berry and classic:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_UNAVAILABLE,
            f"{project.display} is a yarn berry lockfile, but the yarn here is {version} and "
            "the project pins no release (yarnPath) it could use",
        )
    if not project.berry and not classic:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_UNAVAILABLE,
            f"{project.display} is a yarn 1 lockfile, but the project runs yarn {version}, "
            "which would migrate it",
        )


@dataclass
class _YarnUpdate:
    yarn: _Yarn
    project: _Project
    home: Path
    manifest_changes: bool
    unfixed: list[UnfixedBump] = field(default_factory=list)

    def run(self, bumps: list[PackageBump]) -> list[str]:
        active = self._reachable(bumps)
        if not active:
            return []
        in_line = [b for b in active if b.in_line]
        if in_line:
            self._lock_targets(in_line)
        left = self.still_locked(active)
        notes = [note(b, "lockfile only") for b in in_line if b not in left]
        risks: dict[PackageBump, list[str]] = {}
        if left:
            parents = _ParentUpdates(self, active)
            left = parents.run(left)
            notes += parents.notes
            risks = parents.risks
        notes += self._settle(left, risks)
        return notes

    def leave(self, bump: PackageBump, reason: ReasonCode, detail: str) -> None:
        self.unfixed.append(UnfixedBump(bump, reason, detail))

    # --- running yarn -----------------------------------------------------------------------

    def install_args(self) -> list[str]:
        if self.project.berry:
            return ["install", "--mode=update-lockfile"]
        return [
            "install",
            "--ignore-scripts",
            "--non-interactive",
            "--no-progress",
            "--ignore-engines",
            "--modules-folder",
            str(self.home / "yarn-node-modules"),
        ]

    def _install(self, what: str) -> None:
        run = self.yarn.run(self.install_args(), self.project.directory)
        if not run.ok:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                f"{what}: `{run.command}` exited {run.exit_code}"
                + (" (timed out)" if run.timed_out else ""),
                self.yarn.tail(),
            )

    def graph(self) -> LockGraph:
        try:
            text = self.project.lockfile.read_text(encoding="utf-8")
            return LockGraph.parse(self.project.display, text, self.project.berry)
        except (OSError, UnicodeDecodeError, DepfileError) as exc:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                f"yarn left {self.project.display} unreadable: {exc}",
            ) from None

    def still_locked(self, bumps: list[PackageBump]) -> list[PackageBump]:
        return survivors(self.project.lockfile, self.project.display, bumps)

    # --- which bumps can be tried at all -----------------------------------------------------

    def _reachable(self, bumps: list[PackageBump]) -> list[PackageBump]:
        existing = self._resolutions()
        reachable = []
        for bump in bumps:
            pinned = [k for k in existing if k.rsplit("/", 1)[-1].split("@npm:")[0] == bump.name]
            pinned += mentions(existing, bump.name)
            if pinned:
                self.leave(
                    bump,
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"package.json resolutions already pin {bump.name} "
                    f"({', '.join(sorted(set(pinned)))}); a person updates them",
                )
            elif bump.current_version not in locked_versions(
                self.project.lockfile, self.project.display, bump.name
            ):
                self.leave(
                    bump,
                    ReasonCode.DEPENDENCY_REMOVED,
                    f"{self.project.display} no longer locks {bump.name} {bump.current_version}",
                )
            else:
                reachable.append(bump)
        return reachable

    # --- 1. lock exactly the target ----------------------------------------------------------

    def _lock_targets(self, bumps: list[PackageBump]) -> None:
        project = self.project
        original = project.root.read_bytes()
        root = PackageJson.load(project.root)
        aliases = root.section("dependencies")
        for index, bump in enumerate(bumps):
            aliases[f"{ALIAS_PREFIX}{index}"] = f"npm:{bump.name}@{bump.target_version}"
        root.save()
        self._install("locking the fixed versions")
        move = move_berry_ranges if project.berry else move_classic_ranges
        text = project.lockfile.read_text(encoding="utf-8")
        for index, bump in enumerate(bumps):
            text = move(text, bump, f"{ALIAS_PREFIX}{index}")
        project.lockfile.write_text(text, encoding="utf-8")
        project.root.write_bytes(original)
        self._install("removing the temporary aliases")

    # --- 3. what an in-range update cannot reach ---------------------------------------------

    def _settle(self, left: list[PackageBump], risks: dict[PackageBump, list[str]]) -> list[str]:
        if not left:
            return []
        graph = self.graph()
        manifest = []
        for bump in left:
            held = _held_by(graph, bump)
            if bump in risks:
                why = (
                    f"the in-range update of what requires it ({held}) that removes it brings "
                    f"{', '.join(risks[bump])}, possibly vulnerable"
                )
            else:
                why = f"no in-range update of what requires it ({held}) removes it"
            if not bump.in_line:
                self.leave(
                    bump,
                    ReasonCode.NO_PATCH_AVAILABLE,
                    f"{bump.name} {bump.current_version} has no patched version in its own major "
                    f"line (the first fix, {bump.target_version}, is in another), and {why}",
                )
            elif not self.manifest_changes:
                self.leave(
                    bump,
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"{bump.name} {bump.current_version} stays: {why}; only a manifest change "
                    "(package.json resolutions or a range) reaches the fix, which the rules forbid",
                )
            else:
                manifest.append(bump)
        return self._keep_manifest_change(manifest) if manifest else []

    def _resolutions(self) -> dict[str, object]:
        return as_dict(PackageJson.load(self.project.root).data.get("resolutions"))

    def _keep_manifest_change(self, bumps: list[PackageBump]) -> list[str]:
        notes = bump_declared_ranges(self.project.manifests, bumps)
        if notes:
            self._install("bumping the declared ranges")
        keyed: dict[PackageBump, list[str]] = {}
        for bump in self.still_locked(bumps):
            try:
                keyed[bump] = self._resolution_keys(bump)
            except UpdateRefused as refusal:
                self.leave(bump, refusal.reason, refusal.detail)
        if keyed:
            root = PackageJson.load(self.project.root)
            resolutions = root.section("resolutions")
            for bump, keys in keyed.items():
                for key in keys:
                    resolutions[key] = (
                        f"npm:{bump.target_version}" if self.project.berry else bump.target_version
                    )
                notes.append(note(bump, "package.json resolutions"))
            root.save()
            self._install("adding resolutions for dependents that pin the old version")
        still = self.still_locked(list(keyed))
        if still:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                "yarn still locks " + ", ".join(f"{b.name} {b.current_version}" for b in still),
                self.yarn.tail(),
            )
        return notes

    def _resolution_keys(self, bump: PackageBump) -> list[str]:
        text = self.project.lockfile.read_text(encoding="utf-8")
        if self.project.berry:
            return berry_descriptors(self.project.display, text, bump)
        others = {
            v
            for v in locked_versions(self.project.lockfile, self.project.display, bump.name)
            if not same_line(v, bump.target_version)
        }
        if others:
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"a dependent pins {bump.name} {bump.current_version}; a yarn 1 resolution "
                f"would also move {bump.name} {', '.join(sorted(others))} to "
                f"{bump.target_version}, so a person decides",
            )
        return [bump.name]


def _held_by(graph: LockGraph, bump: PackageBump) -> str:
    """Who requires the copy: its dependents in the lockfile, else the project itself."""
    dependents = {
        d.describe()
        for copy in graph.copies(bump.name, bump.current_version)
        for d in graph.dependents(copy)
        if not d.workspace
    }
    if not dependents:
        return "the project's package.json"
    shown = sorted(dependents)
    return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


# --- 2. in-range updates of the dependents -----------------------------------------------------


@dataclass
class _Trial:
    before: LockGraph
    after: LockGraph
    fixed: set[PackageBump]
    risky: list[str]


@dataclass
class _ParentUpdates:
    """Remove copies by updating what requires them in range, immediate dependents first."""

    update: _YarnUpdate
    bumps: list[PackageBump]  # every bump of the lockfile: none may gain a vulnerable version
    notes: list[str] = field(default_factory=list)
    # copies an in-range update removes only by bringing a possibly vulnerable version
    risks: dict[PackageBump, list[str]] = field(default_factory=dict)
    _releases: dict[str, list[str] | None] = field(default_factory=dict)

    def run(self, left: list[PackageBump]) -> list[PackageBump]:
        """The bumps whose copies stay (the others are noted)."""
        start = self.update.graph()
        pending = list(left)
        tried: dict[PackageBump, set[str]] = {b: set() for b in pending}
        for level in range(1, MAX_PARENT_LEVELS + 1):
            graph = self.update.graph()
            climbing, growing = [], False
            for bump in pending:
                above = [e for e in self._plan(graph, bump, level) if e.specs[0] not in tried[bump]]
                tried[bump].update(e.specs[0] for e in above)
                growing = growing or bool(above)
                # re-resolving only entries the registry has nothing newer for changes nothing
                if any(self._can_move(e) for e in above):
                    climbing.append(bump)
            if not growing:
                break
            fixed = self._attempt(climbing, level) if climbing else set()
            pending = [b for b in pending if b not in fixed]
        stay = self.update.still_locked(pending)
        end = self.update.graph()
        for bump in pending:
            if bump not in stay:  # removed along with another copy's dependents
                landed = end.versions(bump.name) - start.versions(bump.name)
                self.notes.append(
                    landed_note(bump, landed, "lockfile only, along with the updates above")
                )
        return stay

    def _plan(self, graph: LockGraph, bump: PackageBump, level: int) -> list[LockEntry]:
        return graph.ancestors(graph.copies(bump.name, bump.current_version), level)

    def _attempt(self, bumps: list[PackageBump], level: int) -> set[PackageBump]:
        """Update the dependents of these copies up to `level`; keep what removes copies
        without a new risk and without changing what the removed copies did not need."""
        graph = self.update.graph()
        plans = {b: self._plan(graph, b, level) for b in bumps}
        plans = {b: p for b, p in plans.items() if p}
        if not plans:
            return set()
        trial = self._trial(graph, plans)
        if trial is None:  # yarn could not resolve them: one of the dependents may be why
            return self._one_by_one(plans, level) if len(plans) > 1 else set()
        if trial.fixed and not trial.risky and _only_needed(trial, plans):
            self._record(trial, {b: plans[b] for b in trial.fixed})
            return trial.fixed
        self._write(graph.text)
        if not trial.fixed:
            return set()
        if trial.fixed != set(plans):
            return self._attempt(sorted(trial.fixed, key=_order), level)
        if len(plans) == 1:
            self.risks.update({b: trial.risky for b in plans})
            return set()
        return self._one_by_one(plans, level)

    def _one_by_one(
        self, plans: dict[PackageBump, list[LockEntry]], level: int
    ) -> set[PackageBump]:
        done: set[PackageBump] = set()
        for bump in sorted(plans, key=_order):
            done |= self._attempt([bump], level)
        return done

    def _trial(self, graph: LockGraph, plans: dict[PackageBump, list[LockEntry]]) -> _Trial | None:
        removed = {e for entries in plans.values() for e in entries}
        self._write(graph.without(removed))
        update = self.update
        run = update.yarn.run(update.install_args(), update.project.directory)
        if not run.ok:
            self._write(graph.text)
            if run.timed_out:
                raise UpdateRefused(
                    ReasonCode.VERIFICATION_FAILED,
                    f"updating dependents in range: `{run.command}` was killed at the update "
                    "deadline",
                    update.yarn.tail(),
                )
            return None
        after = update.graph()
        fixed = {b for b in plans if not after.copies(b.name, b.current_version)}
        names = {b.name for b in self.bumps}
        risky = possibly_vulnerable(
            self.bumps,
            {n: graph.versions(n) for n in names},
            {n: after.versions(n) for n in names},
        )
        return _Trial(graph, after, fixed, risky)

    def _write(self, text: str) -> None:
        self.update.project.lockfile.write_text(text, encoding="utf-8")

    def _record(self, trial: _Trial, plans: dict[PackageBump, list[LockEntry]]) -> None:
        for bump in sorted(plans, key=_order):
            moved = []
            for entry in plans[bump]:
                now = {e.version for e in _successors(entry, trial)}
                if now and now != {entry.version}:
                    moved.append(f"{entry.describe()} → {', '.join(sorted(now))}")
            immediate = trial.before.ancestors(
                trial.before.copies(bump.name, bump.current_version), 1
            )
            landed = {
                child.version
                for dependent in immediate
                for successor in _successors(dependent, trial)
                for spec in successor.dependencies
                if (child := trial.after.resolve(spec)) is not None and child.name == bump.name
            }
            how = "lockfile only, via " + (
                ", ".join(moved) or ", ".join(e.describe() for e in immediate) + " re-resolved"
            )
            self.notes.append(landed_note(bump, landed, how))

    # --- is there anything to move? ----------------------------------------------------------

    def _can_move(self, entry: LockEntry) -> bool:
        """Whether the registry has a newer release than the locked one in one of the entry's
        ranges (unknown counts as yes): re-resolving it can change something."""
        releases = self._versions(entry)
        current = parse_version(entry.version)
        if releases is None or current is None:
            return True
        for spec in entry.specs:
            spec_range = _spec_range(spec)
            if spec_range is None:
                return True
            for release in releases:
                parsed = parse_version(release)
                if parsed is None or parsed.compare(current) <= 0:
                    continue
                fits = satisfies(release, spec_range)
                if fits is None or fits:
                    return True
        return False

    def _versions(self, entry: LockEntry) -> list[str] | None:
        key = f"{entry.name}@{entry.version}"
        if key not in self._releases:
            self._releases[key] = self._ask_registry(entry.name, entry.version)
        return self._releases[key]

    def _ask_registry(self, name: str, current: str) -> list[str] | None:
        update = self.update
        if update.project.berry:
            args = ["npm", "info", name, "--fields", "versions", "--json"]
        else:
            args = ["info", name, "versions", "--json", "--non-interactive"]
        run = update.yarn.run(args, update.project.directory)
        if not run.ok:
            return None
        return _versions_from(run.output, current)


def _order(bump: PackageBump) -> tuple[str, str]:
    return bump.name, bump.current_version


def _spec_range(spec: str) -> str | None:
    """The semver range of a lockfile descriptor (None: a tag, URL or other protocol)."""
    at = spec.find("@", 1)
    if at <= 0:
        return None
    spec_range = spec[at + 1 :]
    if spec_range.startswith("npm:"):
        spec_range = spec_range[4:]
        inner = spec_range.find("@", 1)
        if inner > 0:
            spec_range = spec_range[inner + 1 :]
    return spec_range if satisfies("0.0.0", spec_range) is not None else None


_QUOTED_VERSION = re.compile(r'"(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)"')


def _versions_from(output: str, current: str) -> list[str] | None:
    """Releases from `yarn info <name> versions --json` (classic: a JSON line with `data`) or
    `yarn npm info <name> --fields versions --json` (berry: an object with `versions`),
    both sorted ascending. Only the output's tail is kept: a list cut above the current
    version cannot tell, so it answers None."""
    for line in reversed(output.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            found = data.get("versions", data.get("data"))
            if isinstance(found, list) and all(isinstance(v, str) for v in found):
                return found
    seen = [(v, p) for v in _QUOTED_VERSION.findall(output) if (p := parse_version(v))]
    floor = parse_version(current)
    ordered = all(a[1].compare(b[1]) <= 0 for a, b in pairwise(seen))
    if seen and floor is not None and ordered and seen[0][1].compare(floor) <= 0:
        return [v for v, _ in seen]
    return None


def _successors(entry: LockEntry, trial: _Trial) -> list[LockEntry]:
    """The entries that took a re-resolved entry's place: those holding its descriptors,
    else (nothing asks for those any more) the versions of its package the trial added."""
    holding = {e for spec in entry.specs if (e := trial.after.resolve(spec)) is not None}
    if holding:
        return sorted(holding, key=lambda e: e.specs)
    old = trial.before.versions(entry.name)
    return [e for e in trial.after.entries if e.name == entry.name and e.version not in old]


def _only_needed(trial: _Trial, plans: dict[PackageBump, list[LockEntry]]) -> bool:
    """The entries re-resolved only for copies the trial did not remove stayed as they were
    (so the change holds nothing those copies' fixes do not need)."""
    needed = {e for b in trial.fixed for e in plans[b]}
    spare = {e for b, entries in plans.items() if b not in trial.fixed for e in entries} - needed
    for entry in spare:
        for spec in entry.specs:
            now = trial.after.resolve(spec)
            if now is None or now.version != entry.version:
                return False
    return True


# --- lockfile text (classic) and descriptors (berry) ------------------------------------------


def _split_spec(spec: str) -> tuple[str, str] | None:
    """`@s/a@^1.0.0` → (`@s/a`, `^1.0.0`); an alias `x@npm:lodash@^4` → (`lodash`, `^4`)."""
    spec = spec.strip().strip('"')
    at = spec.find("@", 1)
    if at <= 0:
        return None
    name, spec_range = spec[:at], spec[at + 1 :]
    if spec_range.startswith("npm:"):
        spec_range = spec_range[4:]
        if spec_range.find("@", 1) > 0:  # an alias: `npm:real-name@range`
            return _split_spec(spec_range)
    return name, spec_range


def _header_specs(block: str) -> list[str]:
    header = block.split("\n", 1)[0].rstrip()
    return [s.strip().strip('"') for s in header.removesuffix(":").split(",")]


def _block_version(block: str) -> str | None:
    match = _VERSION_LINE.search(block)
    return match["version"] if match else None


def _with_specs(block: str, specs: list[str]) -> str:
    body = block.split("\n", 1)[1] if "\n" in block else ""
    return ", ".join(f'"{s}"' for s in specs) + ":\n" + body


def move_classic_ranges(text: str, bump: PackageBump, alias: str) -> str:
    """Move every range of the package that the target satisfies onto the target's entry.

    The target's entry is the one yarn wrote for the temporary alias; ranges the target
    does not satisfy (or that are not semver ranges) stay where they are.
    """
    blocks = re.split(r"\n\s*\n", text)
    target_index = next(
        (
            i
            for i, block in enumerate(blocks)
            if any(s.startswith(f"{alias}@") for s in _header_specs(block))
        ),
        None,
    )
    if target_index is None:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            f"yarn did not lock {bump.name} {bump.target_version} for the temporary alias",
        )
    moved: list[str] = []
    for index, block in enumerate(blocks):
        if index == target_index or _block_version(block) != bump.current_version:
            continue
        keep: list[str] = []
        move: list[str] = []
        for spec in _header_specs(block):
            split = _split_spec(spec)
            fits = split and split[0] == bump.name and satisfies(bump.target_version, split[1])
            (move if fits else keep).append(spec)
        if move:
            moved += move
            blocks[index] = _with_specs(block, keep) if keep else ""
    target = blocks[target_index]
    blocks[target_index] = _with_specs(target, _header_specs(target) + moved)
    return "\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"


_BERRY_KEY = re.compile(r"^(?P<key>\S.*?):\s*$")
_BERRY_RESOLUTION = re.compile(r'^  resolution: "?(?P<resolution>[^"\s]+)"?\s*$')


def _berry_entries(lines: list[str]) -> list[tuple[int, list[str], str]]:
    """(key line index, descriptors, resolution) of every top-level lockfile entry."""
    entries: list[tuple[int, list[str], str]] = []
    for index, line in enumerate(lines):
        key = _BERRY_KEY.match(line)
        if key and not line.startswith(("#", "__metadata")):
            descriptors = [d.strip() for d in key["key"].strip('"').split(",")]
            entries.append((index, descriptors, ""))
            continue
        resolution = _BERRY_RESOLUTION.match(line)
        if resolution and entries:
            start, descriptors, _ = entries[-1]
            entries[-1] = (start, descriptors, resolution["resolution"])
    return entries


def move_berry_ranges(text: str, bump: PackageBump, alias: str) -> str:
    """Berry: move the package's descriptors the target satisfies onto the target's entry."""
    lines = text.split("\n")
    entries = _berry_entries(lines)
    target = next((e for e in entries if any(d.startswith(f"{alias}@") for d in e[1])), None)
    if target is None:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED,
            f"yarn did not lock {bump.name} {bump.target_version} for the temporary alias",
        )
    moved: list[str] = []
    emptied: list[int] = []
    for index, descriptors, resolution in entries:
        if resolution != f"{bump.name}@npm:{bump.current_version}":
            continue
        keep: list[str] = []
        move: list[str] = []
        for descriptor in descriptors:
            split = _split_spec(descriptor)
            fits = split and split[0] == bump.name and satisfies(bump.target_version, split[1])
            (move if fits else keep).append(descriptor)
        moved += move
        if move and keep:
            lines[index] = f'"{", ".join(keep)}":'
        elif move:
            emptied.append(index)
    lines[target[0]] = f'"{", ".join(target[1] + moved)}":'
    starts = [e[0] for e in entries] + [len(lines)]
    drop = {line for index in emptied for line in range(index, starts[starts.index(index) + 1])}
    return "\n".join(line for number, line in enumerate(lines) if number not in drop)


def berry_descriptors(display: str, text: str, bump: PackageBump) -> list[str]:
    """Descriptors (`lodash@npm:4.17.15`) that still resolve to the vulnerable version."""
    try:
        data = load_yaml(display, text.encode("utf-8"))
    except DepfileError as exc:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, str(exc)) from None
    wanted = f"{bump.name}@npm:{bump.current_version}"
    found = []
    for key, entry in data.items():
        if as_str(as_dict(entry).get("resolution")) == wanted:
            found += [d.strip().strip('"') for d in str(key).split(",")]
    return found
