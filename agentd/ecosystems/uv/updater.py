"""uv: `uv.lock`, driven by `uv lock --upgrade-package name==version`.

uv moves exactly the named packages to exactly those versions and keeps every other
locked version, so a bump that the project's requirements admit is lockfile-only. When
one of the project's own requirements (`[project]` dependencies, optional dependencies,
dependency groups) excludes the fix, that requirement is rewritten (a manifest change)
and uv locks again; a dependency of a dependency that pins the old version cannot be
fixed from here, and the update is refused. uv installs nothing for a lock and never
downloads a Python (`UV_PYTHON_DOWNLOADS=never`), nor runs the project's own `.venv`
(`UV_PROJECT_ENVIRONMENT` is in the private home); it builds the project (or a source) only
to read metadata it cannot read statically, which outside the sandbox is refused first,
with the indexes and settings a repository may not choose (`python_config`).
"""

from __future__ import annotations

from pathlib import Path

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.pyproject import (
    bump_pep508_requirements,
    describe,
    require_locked,
    unfixed,
)
from agentd.ecosystems._shared.python_config import check_uv
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRun,
    ToolRunner,
    UpdateRefused,
    guarded_update,
)
from agentd.vocabulary import ReasonCode

_UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
_UNSOLVABLE = ("No solution found", "unsatisfiable")


class UvUpdater:
    name = "uv"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_uv(context, {b.manifest_path for b in bumps})
            for display in sorted({b.manifest_path for b in bumps}):
                file_bumps = [b for b in bumps if b.manifest_path == display]
                lockfile = context.file(display)
                pyproject = lockfile.parent / "pyproject.toml"
                guard.add(lockfile, pyproject)
                manifests.append(pyproject)
                notes += _update(runner, lockfile, pyproject, display, file_bumps)

        return guarded_update(context, "uv", _uv_env(context), body, registry_errors=True)


def _uv_env(context: UpdateContext) -> dict[str, str]:
    """uv finds its interpreter in the project's environment first, running the
    `.venv/bin/python` a repository may commit; the project environment is put in the
    private home instead, so uv takes an interpreter from PATH."""
    return {**_UV_ENV, "UV_PROJECT_ENVIRONMENT": str(context.home / "uv-project-environment")}


def _lock(runner: ToolRunner, directory: Path, bumps: list[PackageBump]) -> ToolRun:
    args = ["lock"]
    for bump in bumps:
        args += ["--upgrade-package", f"{bump.name}=={bump.target_version}"]
    return runner.run(args, directory)


def _update(
    runner: ToolRunner, lockfile: Path, pyproject: Path, display: str, bumps: list[PackageBump]
) -> list[str]:
    if not pyproject.is_file():
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, f"no pyproject.toml next to {display}")
    require_locked(lockfile, display, bumps)
    run = _lock(runner, lockfile.parent, bumps)
    if run.ok and not unfixed(lockfile, display, bumps):
        return [
            f"{b.name} {b.current_version} → {b.target_version} in {display} (lockfile only)"
            for b in bumps
        ]
    if run.timed_out:
        raise UpdateRefused(ReasonCode.VERIFICATION_FAILED, "uv lock timed out", runner.tail())
    changes = bump_pep508_requirements(pyproject, bumps)
    if not changes:
        unsolvable = any(marker in run.output for marker in _UNSOLVABLE)
        raise UpdateRefused(
            ReasonCode.MANIFEST_CHANGE_REQUIRED if unsolvable else ReasonCode.VERIFICATION_FAILED,
            f"uv cannot lock {describe(bumps)}"
            + (": a dependency pins the old version" if unsolvable else ""),
            runner.tail(),
        )
    run = _lock(runner, lockfile.parent, bumps)
    left = unfixed(lockfile, display, bumps)
    if not run.ok or left:
        raise UpdateRefused(
            ReasonCode.MANIFEST_CHANGE_REQUIRED,
            f"uv cannot lock {describe(left or bumps)} even with the project's requirements bumped",
            runner.tail(),
        )
    return [f"pyproject.toml: {change}" for change in changes] + [
        f"{b.name} {b.current_version} → {b.target_version} in {display} (requirement bumped)"
        for b in bumps
    ]
