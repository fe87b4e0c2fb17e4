"""pnpm: `pnpm-lock.yaml`, driven by `pnpm install --lockfile-only --ignore-scripts`.

The exact target is reached with an override keyed by the vulnerable version
(`lodash@4.17.15: 4.17.21`) for one run, which is then taken away (see `nodejs`). pnpm
10 and later read overrides from `pnpm-workspace.yaml` (pnpm 12 ignores the `pnpm` field
of package.json); older pnpm reads `pnpm.overrides` in package.json. When the lockfile
alone cannot hold the fix, the importer's own range is bumped where it excludes the
target, and an override is kept for dependents that still pin the old version; both are
manifest changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.model import DepfileError, as_dict, load_yaml
from agentd.ecosystems._shared.nodejs import (
    PackageJson,
    bump_declared_ranges,
    mentions,
    note,
    override_key,
    quiet_npm_env,
    require_locked,
    require_targets,
    survivors,
)
from agentd.ecosystems._shared.repo_config import check_pnpm
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRunner,
    UpdateRefused,
    bumps_by_file,
    guarded_update,
)
from agentd.vocabulary import ReasonCode

WORKSPACE_FILE = "pnpm-workspace.yaml"
_INSTALL = (
    "install",
    "--lockfile-only",
    "--ignore-scripts",
    "--ignore-pnpmfile",
    "--no-frozen-lockfile",
)
_OVERRIDES_LINE = re.compile(r"^overrides:[ \t]*(#.*)?$", re.MULTILINE)
_VERSION = re.compile(r"^(\d+)\.")
WORKSPACE_OVERRIDES_SINCE = 10


@dataclass
class _Project:
    directory: Path
    lockfile: Path
    display: str
    root: Path
    importers: list[Path] = field(default_factory=list)  # every importer's package.json

    @property
    def workspace_file(self) -> Path:
        return self.directory / WORKSPACE_FILE


def _open_project(context: UpdateContext, display: str) -> _Project:
    lockfile = context.file(display)
    project = _Project(lockfile.parent, lockfile, display, lockfile.parent / "package.json")
    if not project.root.is_file():
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"no package.json next to {display}")
    try:
        data = load_yaml(display, lockfile.read_bytes())
    except (OSError, DepfileError) as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"cannot read {display}: {exc}"
        ) from None
    for key in as_dict(data.get("importers")) or {".": {}}:
        manifest = context.file(str(PurePosixPath(display).parent / str(key) / "package.json"))
        if manifest.is_file() and manifest not in project.importers:
            project.importers.append(manifest)
    return project


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_workspace_overrides(path: Path, entries: dict[str, str]) -> None:
    """Add override entries to pnpm-workspace.yaml, keeping every other line as it is."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    current = _workspace_settings(path, text).get("overrides")
    if current is not None and (not isinstance(current, dict) or not _OVERRIDES_LINE.search(text)):
        raise UpdateRefused(
            ReasonCode.MANIFEST_CHANGE_REQUIRED,
            f"{WORKSPACE_FILE} writes overrides in a form agentd does not edit; a person adds "
            + ", ".join(f"{k}: {v}" for k, v in entries.items()),
        )
    if current is None:
        lines = "".join(f"  {_quote(k)}: {_quote(v)}\n" for k, v in entries.items())
        separator = "" if not text or text.endswith("\n") else "\n"
        text = f"{text}{separator}overrides:\n{lines}"
    else:
        match = _OVERRIDES_LINE.search(text)
        assert match is not None  # noqa: S101 - checked above
        after = text[match.end() :].lstrip("\n")
        indent = re.match(r"[ \t]+", after)
        pad = indent.group(0) if indent else "  "
        lines = "".join(f"{pad}{_quote(k)}: {_quote(v)}\n" for k, v in entries.items())
        text = text[: match.end()] + "\n" + lines + text[match.end() :].lstrip("\r\n")
    written = _workspace_settings(path, text).get("overrides")
    if not isinstance(written, dict) or any(written.get(k) != v for k, v in entries.items()):
        raise UpdateRefused(
            ReasonCode.MANIFEST_CHANGE_REQUIRED, f"could not add overrides to {WORKSPACE_FILE}"
        )
    path.write_text(text, encoding="utf-8")


def _workspace_settings(path: Path, text: str) -> dict[str, object]:
    try:
        return load_yaml(path.name, text.encode("utf-8")) if text.strip() else {}
    except DepfileError as exc:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, str(exc)) from None


class PnpmUpdater:
    name = "pnpm"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_pnpm(context, bumps_by_file(bumps))
            in_workspace_file = _pnpm_major(runner, context) >= WORKSPACE_OVERRIDES_SINCE
            for display, file_bumps in bumps_by_file(bumps).items():
                project = _open_project(context, display)
                guard.add(project.lockfile, project.workspace_file, *project.importers)
                manifests += [project.workspace_file, *project.importers]
                updater = _ProjectUpdate(runner, guard, project, in_workspace_file)
                notes += updater.run(file_bumps)

        return guarded_update(context, "pnpm", _pnpm_env(context), body)


def _pnpm_env(context: UpdateContext) -> dict[str, str]:
    """pnpm 11+ reads `PNPM_CONFIG_*`, not `npm_config_*`. Its store and its lock files go
    to the unit's private home: inside the sandbox /tmp is read-only (pnpm takes
    `XDG_RUNTIME_DIR` instead when only the user can write there), and pnpm would put a
    store for a worktree on another mount inside the worktree."""
    runtime = context.home / "xdg-runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        **quiet_npm_env(),
        "PNPM_CONFIG_IGNORE_SCRIPTS": "true",
        "PNPM_CONFIG_UPDATE_NOTIFIER": "false",
        "PNPM_CONFIG_STORE_DIR": str(context.home / "pnpm-store"),
        "XDG_RUNTIME_DIR": str(runtime),
    }


def _pnpm_major(runner: ToolRunner, context: UpdateContext) -> int:
    run = runner.check(
        ["--version"], context.home, reason=ReasonCode.VERIFICATION_UNAVAILABLE, what="pnpm"
    )
    match = _VERSION.match(run.output.strip().splitlines()[-1] if run.output.strip() else "")
    return int(match.group(1)) if match else WORKSPACE_OVERRIDES_SINCE


@dataclass
class _ProjectUpdate:
    runner: ToolRunner
    guard: FileGuard
    project: _Project
    in_workspace_file: bool

    def run(self, bumps: list[PackageBump]) -> list[str]:
        project = self.project
        require_locked(project.lockfile, project.display, bumps)
        self._refuse_existing_overrides(bumps)
        self._add_overrides({override_key(b): b.target_version for b in bumps})
        self._install("pinning the fixed versions")
        self.guard.put_back(self._overrides_file)
        self._install("releasing the pins")
        left = survivors(project.lockfile, project.display, bumps)
        notes = [note(b, "lockfile only") for b in bumps if b not in left]
        if left:
            bumped = bump_declared_ranges(project.importers, left)
            if bumped:
                self._install("bumping the declared ranges")
            notes += bumped
        left = survivors(project.lockfile, project.display, left)
        if left:
            self._add_overrides({override_key(b): b.target_version for b in left})
            self._install("keeping overrides for dependents that pin the old version")
            notes += [note(b, f"override in {self._overrides_file.name}") for b in left]
        still = survivors(project.lockfile, project.display, bumps)
        if still:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                "pnpm still locks " + ", ".join(f"{b.name} {b.current_version}" for b in still),
                self.runner.tail(),
            )
        require_targets(project.lockfile, project.display, bumps, self.runner.tail())
        return notes

    @property
    def _overrides_file(self) -> Path:
        return self.project.workspace_file if self.in_workspace_file else self.project.root

    def _existing_overrides(self) -> dict[str, object]:
        if self.in_workspace_file:
            path = self.project.workspace_file
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            return as_dict(_workspace_settings(path, text).get("overrides"))
        return as_dict(
            as_dict(PackageJson.load(self.project.root).data.get("pnpm")).get("overrides")
        )

    def _refuse_existing_overrides(self, bumps: list[PackageBump]) -> None:
        existing = self._existing_overrides()
        for bump in bumps:
            if mentions(existing, bump.name):
                raise UpdateRefused(
                    ReasonCode.MANIFEST_CHANGE_REQUIRED,
                    f"{self._overrides_file.name} already overrides {bump.name} "
                    f"({', '.join(mentions(existing, bump.name))}); a person updates it",
                )

    def _add_overrides(self, entries: dict[str, str]) -> None:
        if self.in_workspace_file:
            add_workspace_overrides(self.project.workspace_file, entries)
            return
        root = PackageJson.load(self.project.root)
        root.section("pnpm", "overrides").update(entries)
        root.save()

    def _install(self, what: str) -> None:
        run = self.runner.run(_INSTALL, self.project.directory)
        if not run.ok:
            reason = (
                ReasonCode.MANIFEST_CHANGE_REQUIRED
                if "ERR_PNPM_PEER" in run.output or "ERESOLVE" in run.output
                else ReasonCode.VERIFICATION_FAILED
            )
            raise UpdateRefused(
                reason,
                f"{what}: `{run.command}` exited {run.exit_code}"
                + (" (timed out)" if run.timed_out else ""),
                self.runner.tail(),
            )
