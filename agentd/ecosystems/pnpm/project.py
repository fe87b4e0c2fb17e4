"""One pnpm project (a lockfile, its importers' package.json, pnpm-workspace.yaml) and
the pnpm release that updates it.

pnpm 10 and later read overrides from `pnpm-workspace.yaml` (pnpm 12 ignores the `pnpm`
field of package.json); older pnpm reads `pnpm.overrides` in package.json. Every run
keeps the lockfile's format (see `release`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentd.ecosystems._shared.corepack import Manager, Release
from agentd.ecosystems._shared.interface import UpdateContext
from agentd.ecosystems._shared.jsgraph import LockGraph
from agentd.ecosystems._shared.model import DepfileError, as_dict, load_yaml
from agentd.ecosystems._shared.nodejs import PackageJson
from agentd.ecosystems._shared.tooling import ToolRun, UpdateRefused
from agentd.ecosystems.pnpm.parser import lock_graph
from agentd.ecosystems.pnpm.release import require_format
from agentd.vocabulary import ReasonCode

WORKSPACE_FILE = "pnpm-workspace.yaml"
WORKSPACE_OVERRIDES_SINCE = 10
_SAFE = ("--ignore-scripts", "--ignore-pnpmfile")
_INSTALL = ("install", "--lockfile-only", *_SAFE, "--no-frozen-lockfile")
_UPDATE = ("--depth", "Infinity", "--lockfile-only", *_SAFE)
_OVERRIDES_LINE = re.compile(r"^overrides:[ \t]*(#.*)?$", re.MULTILINE)


@dataclass
class Project:
    directory: Path
    lockfile: Path
    display: str
    root: Path  # the root package.json
    importers: dict[str, Path] = field(default_factory=dict)  # lockfile key -> package.json

    @property
    def workspace_file(self) -> Path:
        return self.directory / WORKSPACE_FILE

    @property
    def manifests(self) -> list[Path]:
        return [self.workspace_file, *self.importers.values()]

    def graph(self) -> LockGraph:
        try:
            return lock_graph(self.display, self.lockfile.read_bytes())
        except (OSError, DepfileError) as exc:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED, f"pnpm left {self.display} unreadable: {exc}"
            ) from None


def open_project(context: UpdateContext, display: str) -> Project:
    lockfile = context.file(display)
    project = Project(lockfile.parent, lockfile, display, lockfile.parent / "package.json")
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
        if manifest.is_file() and manifest not in project.importers.values():
            project.importers[str(key)] = manifest
    return project


@dataclass
class Pnpm:
    """The project's pnpm release, run in the project; each run keeps the lockfile format."""

    manager: Manager
    project: Project
    lockfile_format: str

    @property
    def overrides_in_workspace_file(self) -> bool:
        return self.manager.major >= WORKSPACE_OVERRIDES_SINCE

    def install(self, what: str) -> None:
        run = self.manager.run(_INSTALL, self.project.directory)
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
                self.manager.runner.tail(),
            )
        self.keep_format()

    def update(self, names: Iterable[str], importer: str) -> ToolRun:
        """`pnpm update <names> --depth Infinity --lockfile-only` for one importer: each
        named package, wherever it sits in that importer's tree, to the newest version
        its dependents' ranges admit (pnpm also writes the new ranges to package.json;
        the caller puts them back)."""
        run = self.manager.run(["update", *names, *_UPDATE], self.project.directory / importer)
        if run.ok:
            self.keep_format()
        return run

    def keep_format(self) -> None:
        project = self.project
        require_format(project.lockfile, project.display, self.lockfile_format, self.release)

    @property
    def release(self) -> Release:
        return self.manager.release

    @property
    def overrides_file(self) -> Path:
        project = self.project
        return project.workspace_file if self.overrides_in_workspace_file else project.root

    def existing_overrides(self) -> dict[str, object]:
        if self.overrides_in_workspace_file:
            path = self.project.workspace_file
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            return as_dict(_workspace_settings(path, text).get("overrides"))
        data = PackageJson.load(self.project.root).data
        return as_dict(as_dict(data.get("pnpm")).get("overrides"))

    def add_overrides(self, entries: dict[str, str]) -> None:
        if self.overrides_in_workspace_file:
            add_workspace_overrides(self.project.workspace_file, entries)
            return
        root = PackageJson.load(self.project.root)
        root.section("pnpm", "overrides").update(entries)
        root.save()


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
