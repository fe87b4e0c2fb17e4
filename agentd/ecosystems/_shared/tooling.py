"""What the tool-driven updaters share: running the ecosystem's tool, guarding files.

A tool runs argv-only in the project directory with the unit's scrubbed environment
(never agentd's own), under one deadline for the whole update, through the verification
runner: its own process group, killed as a group on timeout, output tail redacted, and
inside the unit's sandbox (`UpdateContext.sandbox`: the verification sandbox with the
network shared for registries). Without a sandbox decision no tool runs at all. What the
repository's own config may ask of the tool is checked before (`repo_config`, `python_config`).

`FileGuard` keeps the original bytes of every file an update may touch, so the updater
can report exactly which files changed, or put every one of them back before it refuses:
a refused update never leaves a half-edited lockfile behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentd import ecosystems
from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.model import Dependency
from agentd.ecosystems._shared.toolerrors import unreachable_registry
from agentd.errors import UnitError
from agentd.log import get_logger
from agentd.redaction import redact
from agentd.verify import Sandbox, run_command
from agentd.vocabulary import Provenance, ReasonCode

OUTPUT_LIMIT = 4000
log = get_logger("updater")


class UpdateRefused(UnitError):
    """Raised inside an updater to stop, restore every guarded file and refuse."""

    def __init__(self, reason: ReasonCode, detail: str, output: str = "") -> None:
        super().__init__(reason, redact(detail))
        self.detail = redact(detail)
        self.output = redact(output)

    def result(self) -> UpdateResult:
        return UpdateResult.refuse(self.reason, self.detail, self.output)


@dataclass(frozen=True)
class ToolRun:
    command: str
    exit_code: int | None
    timed_out: bool
    output: str  # redacted tail

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def find_executable(name: str, env: Mapping[str, str]) -> str | None:
    """The tool on the scrubbed PATH, else next to agentd's interpreter (a venv's bin)."""
    found = shutil.which(name, path=env.get("PATH"))
    if found:
        return found
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.is_file() and os.access(sibling, os.X_OK) else None


class ToolRunner:
    """Runs one ecosystem's tool for one update, under one deadline."""

    def __init__(
        self,
        context: UpdateContext,
        tool: str,
        extra_env: Mapping[str, str] | None = None,
        *,
        registry_errors: bool = False,
    ) -> None:
        self.context = context
        self.tool = tool
        # a failed run whose output shows the registry unreachable refuses the update
        # `verification_unavailable` (`toolerrors`), whatever the updater would make of it
        self.registry_errors = registry_errors
        self.env = {**context.env, **(extra_env or {})}
        self.deadline = time.monotonic() + context.timeout_seconds
        self.outputs: list[str] = []
        executable = find_executable(tool, self.env)
        if executable is None:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_UNAVAILABLE, f"{tool} is not installed on this runner"
            )
        self.executable = executable

    def run(self, args: Iterable[str], cwd: Path) -> ToolRun:
        argv = [self.executable, *args]
        shown = " ".join([self.tool, *argv[1:]])
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return ToolRun(shown, None, True, "[update deadline reached before this command]")
        result = run_command(
            argv,
            workdir=cwd,
            env=self.env,
            timeout=remaining,
            home=self.context.home,
            sandbox=self._sandbox(),
        )
        if result.provenance is not Provenance.OBSERVED:
            raise UpdateRefused(ReasonCode.VERIFICATION_UNAVAILABLE, result.not_run_reason)
        run = ToolRun(redact(shown), result.exit_code, result.timed_out, result.output_tail)
        self.outputs.append(f"$ {run.command}\n{run.output.strip()}")
        log.debug(
            "%s exited %s after %.1fs",
            run.command,
            "timeout" if run.timed_out else run.exit_code,
            result.duration_seconds,
            extra={"tool": self.tool, "duration_seconds": result.duration_seconds},
        )
        if self.registry_errors and not run.ok:
            problem = unreachable_registry(run.output)
            if problem is not None:
                raise UpdateRefused(
                    ReasonCode.VERIFICATION_UNAVAILABLE,
                    f"{self.tool} {problem} (an environment problem, not the fix)",
                    self.tail(),
                )
        return run

    def _sandbox(self) -> Sandbox:
        if self.context.sandbox is None:  # fail closed: nobody said where tools may run
            raise UpdateRefused(
                ReasonCode.POLICY_BLOCKED,
                f"no sandbox was chosen for this update, so {self.tool} does not run",
            )
        return self.context.sandbox

    def check(self, args: Iterable[str], cwd: Path, *, reason: ReasonCode, what: str) -> ToolRun:
        """Run; a failure or timeout refuses the update with the tool's own words."""
        run = self.run(args, cwd)
        if run.timed_out:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED,
                f"{what}: `{run.command}` was killed at the update deadline "
                f"({self.context.timeout_seconds:.0f}s)",
                self.tail(),
            )
        if not run.ok:
            raise UpdateRefused(
                reason, f"{what}: `{run.command}` exited {run.exit_code}", self.tail()
            )
        return run

    def tail(self) -> str:
        return redact("\n".join(self.outputs))[-OUTPUT_LIMIT:]


@dataclass
class FileGuard:
    """Original bytes (or absence) of the files an update may touch."""

    context: UpdateContext
    originals: dict[Path, bytes | None] = field(default_factory=dict)
    artifacts: dict[Path, bool] = field(default_factory=dict)  # path -> existed before

    def add(self, *paths: Path) -> None:
        for path in paths:
            if path not in self.originals:
                self.originals[path] = path.read_bytes() if path.is_file() else None

    def add_artifacts(self, *paths: Path) -> None:
        """Tool by-products (install state, caches) removed again unless they pre-existed."""
        for path in paths:
            self.artifacts.setdefault(path, path.exists())

    def original(self, path: Path) -> bytes | None:
        return self.originals[path]

    def put_back(self, path: Path) -> None:
        original = self.originals[path]
        if original is None:
            path.unlink(missing_ok=True)
        elif not path.is_file() or path.read_bytes() != original:
            path.write_bytes(original)

    def changed(self) -> list[Path]:
        return [
            path
            for path, original in self.originals.items()
            if (path.read_bytes() if path.is_file() else None) != original
        ]

    def restore(self) -> None:
        for path in self.originals:
            self.put_back(path)
        self.remove_artifacts()

    def remove_artifacts(self) -> None:
        for path, existed in self.artifacts.items():
            if existed or not path.exists():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.context.worktree.resolve()).as_posix()

    def result(self, manifests: Iterable[Path], notes: list[str], output: str) -> UpdateResult:
        self.remove_artifacts()
        changed = self.changed()
        manifest_set = set(manifests)
        return UpdateResult(
            changed_files=sorted(self.relative(p) for p in changed),
            manifest_files=sorted(self.relative(p) for p in changed if p in manifest_set),
            notes=notes,
            tool_output=output,
        )


def read_or_refuse(path: Path, display: str) -> str:
    """A file the update reads; unreadable (or not UTF-8), it refuses the update."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"cannot read {display}: {exc}"
        ) from None


def parse_or_refuse(path: Path, display: str) -> list[Dependency]:
    """What a dependency file the update reads pins; unreadable or malformed, it refuses
    the update."""
    try:
        return ecosystems.parse_dependency_file(display, path.read_bytes())
    except (OSError, ecosystems.DepfileError) as exc:
        raise UpdateRefused(
            ReasonCode.VERIFICATION_FAILED, f"cannot read {display}: {exc}"
        ) from None


def project_dir(context: UpdateContext, dependency_file: str) -> Path:
    """The directory holding a dependency file: where its tool runs."""
    return context.file(dependency_file).parent


UpdateBody = Callable[[ToolRunner, FileGuard, list[Path], list[str]], None]


def bumps_by_file(bumps: Iterable[PackageBump]) -> dict[str, list[PackageBump]]:
    """The bumps grouped by the dependency file they touch, in a stable order."""
    grouped: dict[str, list[PackageBump]] = {}
    for bump in bumps:
        grouped.setdefault(bump.manifest_path, []).append(bump)
    return dict(sorted(grouped.items()))


def guarded_update(
    context: UpdateContext,
    tool: str,
    env: Mapping[str, str],
    body: UpdateBody,
    *,
    registry_errors: bool = False,
) -> UpdateResult:
    """Run one ecosystem's update with every file it touches guarded.

    `body` adds files to the guard, appends manifests it changed and notes for the PR, and
    raises `UpdateRefused` to stop; a refusal restores every guarded file byte for byte first.
    `registry_errors`: see `ToolRunner` (every updater should pass True).
    """
    guard = FileGuard(context)
    notes: list[str] = []
    manifests: list[Path] = []
    try:
        runner = ToolRunner(context, tool, env, registry_errors=registry_errors)
        body(runner, guard, manifests, notes)
        return guard.result(manifests, notes, runner.tail())
    except UpdateRefused as refusal:
        guard.restore()
        return refusal.result()
