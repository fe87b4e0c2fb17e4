"""yarn: `yarn.lock`, classic (yarn 1) and berry (yarn 2+), driven by the project's yarn.

The lockfile says which yarn it needs (berry lockfiles carry `__metadata`); the `yarn` on
PATH must agree (a berry project normally pins its release through `yarnPath` in
`.yarnrc.yml`, which yarn 1 honours too), otherwise the update is refused — yarn 1 would
rewrite a berry lockfile, and berry would migrate a classic one. That committed release
is repository code: it runs only inside the sandbox; yarn plugins, a yarn 1 `yarn-path`,
registries and credentials in the project's yarn config are refused first (`repo_config`).

To lock exactly the target version, a temporary aliased dependency
(`"agentd-fix-0": "npm:lodash@4.17.21"`) makes yarn resolve the fixed release with all
its metadata, checksum and dependencies; then every range of the package that the fixed
release satisfies (read with node-semver's rules) is moved onto that lockfile entry —
yarn 1 has no dedupe command, and berry's `yarn dedupe` ignores aliased releases.
The alias is removed and yarn runs again, pruning it. Ranges that exclude the target keep
the vulnerable version: then the project's own range is bumped, or a `resolutions` entry
added (berry: keyed by the exact descriptor; classic: by name, only when no other major
line of the package is locked). Scripts never run: `--ignore-scripts` (classic),
`enableScripts: false` (berry); classic installs into a modules folder outside the
worktree, berry only updates the lockfile (`--mode=update-lockfile`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.model import DepfileError, as_dict, as_str, load_yaml
from agentd.ecosystems._shared.nodejs import (
    PackageJson,
    bump_declared_ranges,
    locked_versions,
    mentions,
    note,
    quiet_npm_env,
    require_locked,
    require_targets,
    survivors,
)
from agentd.ecosystems._shared.npmsemver import parse_version, satisfies
from agentd.ecosystems._shared.repo_config import check_yarn
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    guarded_update,
)
from agentd.vocabulary import ReasonCode

ALIAS_PREFIX = "agentd-fix-"
_BERRY_MARKER = re.compile(r"^__metadata:", re.MULTILINE)
_VERSION_LINE = re.compile(r'^  version:? "?(?P<version>[^"\s]+)"?\s*$', re.MULTILINE)
_BERRY_ARTIFACTS = (".yarn/install-state.gz", ".pnp.cjs", ".pnp.loader.mjs", ".pnp.data.json")
_YARN_ENV = {
    "YARN_ENABLE_SCRIPTS": "false",
    "YARN_ENABLE_TELEMETRY": "0",
    "YARN_ENABLE_IMMUTABLE_INSTALLS": "false",
    "YARN_ENABLE_PROGRESS_BARS": "false",
    "SKIP_YARN_COREPACK_CHECK": "1",
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
    try:
        text = lockfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"cannot read {display}: {exc}"
        ) from None
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


class YarnUpdater:
    name = "yarn"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_yarn(context, bumps_by_file(bumps))
            for display, file_bumps in bumps_by_file(bumps).items():
                project = _open_project(context, display)
                guard.add(project.lockfile, *project.manifests)
                guard.add_artifacts(*(project.directory / a for a in _BERRY_ARTIFACTS))
                manifests += project.manifests
                _require_matching_yarn(runner, project)
                notes += _YarnUpdate(runner, project, context.home).run(file_bumps)

        return guarded_update(context, "yarn", {**quiet_npm_env(), **_YARN_ENV}, body)


def _require_matching_yarn(runner: ToolRunner, project: _Project) -> None:
    run = runner.check(
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
    runner: ToolRunner
    project: _Project
    home: Path

    def run(self, bumps: list[PackageBump]) -> list[str]:
        project = self.project
        require_locked(project.lockfile, project.display, bumps)
        self._refuse_existing_resolutions(bumps)
        original = project.root.read_bytes()
        root = PackageJson.load(project.root)
        aliases = root.section("dependencies")
        for index, bump in enumerate(bumps):
            aliases[f"{ALIAS_PREFIX}{index}"] = f"npm:{bump.name}@{bump.target_version}"
        root.save()
        self._install("locking the fixed versions")
        self._move_ranges(bumps)
        project.root.write_bytes(original)
        self._install("removing the temporary aliases")
        left = survivors(project.lockfile, project.display, bumps)
        notes = [note(b, "lockfile only") for b in bumps if b not in left]
        if left:
            notes += self._keep_manifest_change(left)
        require_targets(project.lockfile, project.display, bumps, self.runner.tail())
        return notes

    # --- running yarn -----------------------------------------------------------------------

    def _yarn(self, what: str, args: list[str]) -> None:
        if self.project.berry:
            args = [*args, "--mode=update-lockfile"]
        else:
            args = [
                *args,
                "--ignore-scripts",
                "--non-interactive",
                "--no-progress",
                "--ignore-engines",
                "--modules-folder",
                str(self.home / "yarn-node-modules"),
            ]
        run = self.runner.run(args, self.project.directory)
        if not run.ok:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                f"{what}: `{run.command}` exited {run.exit_code}"
                + (" (timed out)" if run.timed_out else ""),
                self.runner.tail(),
            )

    def _install(self, what: str) -> None:
        self._yarn(what, ["install"])

    # --- move the ranges the fixed release satisfies onto its entry ---------------------------

    def _move_ranges(self, bumps: list[PackageBump]) -> None:
        move = move_berry_ranges if self.project.berry else move_classic_ranges
        text = self.project.lockfile.read_text(encoding="utf-8")
        for index, bump in enumerate(bumps):
            text = move(text, bump, f"{ALIAS_PREFIX}{index}")
        self.project.lockfile.write_text(text, encoding="utf-8")

    # --- when the lockfile alone cannot hold the fix -----------------------------------------

    def _resolutions(self) -> dict[str, object]:
        return as_dict(PackageJson.load(self.project.root).data.get("resolutions"))

    def _refuse_existing_resolutions(self, bumps: list[PackageBump]) -> None:
        existing = self._resolutions()
        for bump in bumps:
            pinned = [k for k in existing if k.rsplit("/", 1)[-1].split("@npm:")[0] == bump.name]
            pinned += mentions(existing, bump.name)
            if pinned:
                raise UpdateRefused(
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"package.json resolutions already pin {bump.name} "
                    f"({', '.join(sorted(set(pinned)))}); a person updates them",
                )

    def _keep_manifest_change(self, bumps: list[PackageBump]) -> list[str]:
        notes = bump_declared_ranges(self.project.manifests, bumps)
        if notes:
            self._install("bumping the declared ranges")
        left = survivors(self.project.lockfile, self.project.display, bumps)
        if left:
            root = PackageJson.load(self.project.root)
            resolutions = root.section("resolutions")
            for bump in left:
                for key in self._resolution_keys(bump):
                    resolutions[key] = (
                        f"npm:{bump.target_version}" if self.project.berry else bump.target_version
                    )
                notes.append(note(bump, "package.json resolutions"))
            root.save()
            self._install("adding resolutions for dependents that pin the old version")
        still = survivors(self.project.lockfile, self.project.display, bumps)
        if still:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                "yarn still locks " + ", ".join(f"{b.name} {b.current_version}" for b in still),
                self.runner.tail(),
            )
        return notes

    def _resolution_keys(self, bump: PackageBump) -> list[str]:
        text = self.project.lockfile.read_text(encoding="utf-8")
        if self.project.berry:
            return berry_descriptors(self.project.display, text, bump)
        others = {
            v
            for v in locked_versions(self.project.lockfile, self.project.display, bump.name)
            if not _same_major_line(v, bump.target_version)
        }
        if others:
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"a dependent pins {bump.name} {bump.current_version}; a yarn 1 resolution "
                f"would also move {bump.name} {', '.join(sorted(others))} to "
                f"{bump.target_version}, so a person decides",
            )
        return [bump.name]


def _same_major_line(a: str, b: str) -> bool:
    left, right = parse_version(a), parse_version(b)
    if left is None or right is None:
        return False
    if left.major != right.major:
        return False
    return left.major > 0 or left.minor == right.minor


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
