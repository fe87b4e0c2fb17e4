"""poetry: `poetry.lock`, driven by `poetry lock` with the package constrained.

Poetry has no "move this package to exactly this version" command (`poetry update
--lock name` takes the newest the constraints allow), but `poetry lock` keeps every
locked version it can (poetry 2; `--no-update` before). So the fixed version is pinned in
a temporary dependency group, poetry locks, the group is removed and poetry locks again:
the fixed version stays, the lock's content hash matches the untouched pyproject.toml,
and the change is lockfile-only. When the project's own requirement excludes the fix, it
is rewritten (an exact pin moves to the fixed version; a PEP 508 range gains
`>=fixed`) — a manifest change; a dependency of a dependency that pins the old version
cannot be fixed from here, and the update is refused.

Poetry runs with `--no-plugins`: without it, poetry puts the project's `.poetry/plugins`
on its path and executes any `.pth` file there, repository code inside poetry itself.
Sources, `poetry.toml` settings and in-tree builds are checked first (`python_config`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from packaging.utils import canonicalize_name

from agentd.ecosystems._shared.interface import PackageBump, UpdateContext, UpdateResult
from agentd.ecosystems._shared.pyproject import (
    bump_pep508_requirements,
    describe,
    require_locked,
    unfixed,
)
from agentd.ecosystems._shared.python_config import check_poetry
from agentd.ecosystems._shared.tooling import (
    FileGuard,
    ToolRun,
    ToolRunner,
    UpdateRefused,
    guarded_update,
)
from agentd.vocabulary import ReasonCode

PIN_GROUP = "agentd-fix"
_POETRY_ENV = {
    "POETRY_NO_INTERACTION": "1",
    "POETRY_KEYRING_ENABLED": "false",
    "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    "NO_COLOR": "1",
    # else poetry runs the `.venv/bin/python` a repository may commit next to pyproject.toml
    "POETRY_VIRTUALENVS_IN_PROJECT": "false",
}
_VERSION = re.compile(r"(\d+)\.\d+")
_UNSOLVABLE = ("version solving failed", "SolverProblemError", "is forbidden", "depends on")


class PoetryUpdater:
    name = "poetry"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        def body(
            runner: ToolRunner, guard: FileGuard, manifests: list[Path], notes: list[str]
        ) -> None:
            check_poetry(context, {b.manifest_path for b in bumps})
            lock_args = _lock_args(runner, context)
            for display in sorted({b.manifest_path for b in bumps}):
                file_bumps = [b for b in bumps if b.manifest_path == display]
                lockfile = context.file(display)
                pyproject = lockfile.parent / "pyproject.toml"
                guard.add(lockfile, pyproject)
                manifests.append(pyproject)
                update = _PoetryUpdate(runner, lock_args, lockfile, pyproject, display)
                notes += update.run(file_bumps)

        return guarded_update(context, "poetry", _POETRY_ENV, body, registry_errors=True)


def _lock_args(runner: ToolRunner, context: UpdateContext) -> list[str]:
    run = runner.check(
        ["--no-plugins", "--version"],
        context.home,
        reason=ReasonCode.VERIFICATION_UNAVAILABLE,
        what="poetry",
    )
    match = _VERSION.search(run.output)
    major = int(match.group(1)) if match else 2
    # -v: poetry names the cause of a failed connection (DNS, TLS, refused) only when verbose
    return ["--no-plugins", "lock", "--no-interaction", "-v"] + (
        ["--no-update"] if major < 2 else []
    )


def pin_group(bumps: list[PackageBump]) -> str:
    lines = "".join(f'"{b.name}" = "=={b.target_version}"\n' for b in bumps)
    return (
        f"\n\n[tool.poetry.group.{PIN_GROUP}]\noptional = true\n\n"
        f"[tool.poetry.group.{PIN_GROUP}.dependencies]\n{lines}"
    )


def _with_target(target: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return match["lead"] + target

    return replace


def bump_poetry_pins(pyproject: Path, bumps: list[PackageBump]) -> list[str]:
    """Move exact pins in poetry's own dependency tables (`requests = "2.25.0"`, or
    `{version = "==2.25.0", ...}`) to the fixed version."""
    text = pyproject.read_text(encoding="utf-8")
    changes = []
    for bump in bumps:
        name = r"[-_.]+".join(re.escape(p) for p in canonicalize_name(bump.name).split("-"))
        pattern = re.compile(
            rf"""^(?P<lead>[ \t]*["']?{name}["']?[ \t]*=[ \t]*(?:\{{[^}}\n]*?version[ \t]*=[ \t]*)?["'](?:==)?)"""
            + re.escape(bump.current_version)
            + r"""(?=["'])""",
            re.IGNORECASE | re.MULTILINE,
        )
        text, count = pattern.subn(_with_target(bump.target_version), text)
        if count:
            changes.append(f"{bump.name} pin {bump.current_version} → {bump.target_version}")
    if changes:
        pyproject.write_text(text, encoding="utf-8")
    return changes


class _PoetryUpdate:
    def __init__(
        self,
        runner: ToolRunner,
        lock_args: list[str],
        lockfile: Path,
        pyproject: Path,
        display: str,
    ) -> None:
        self.runner = runner
        self.lock_args = lock_args
        self.lockfile = lockfile
        self.pyproject = pyproject
        self.display = display

    def run(self, bumps: list[PackageBump]) -> list[str]:
        if not self.pyproject.is_file():
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED, f"no pyproject.toml next to {self.display}"
            )
        require_locked(self.lockfile, self.display, bumps)
        run = self._pin_and_release(bumps)
        if run.ok and not unfixed(self.lockfile, self.display, bumps):
            return [self._note(b, "lockfile only") for b in bumps]
        if run.timed_out:
            raise UpdateRefused(
                ReasonCode.VERIFICATION_FAILED, "poetry lock timed out", self.runner.tail()
            )
        changes = bump_pep508_requirements(self.pyproject, bumps)
        changes += bump_poetry_pins(self.pyproject, bumps)
        if not changes:
            unsolvable = any(marker in run.output for marker in _UNSOLVABLE)
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED
                if unsolvable
                else ReasonCode.VERIFICATION_FAILED,
                f"poetry cannot lock {describe(bumps)}"
                + (": a dependency pins the old version" if unsolvable else ""),
                self.runner.tail(),
            )
        run = self._pin_and_release(bumps)
        left = unfixed(self.lockfile, self.display, bumps)
        if not run.ok or left:
            raise UpdateRefused(
                ReasonCode.MANIFEST_CHANGE_REQUIRED,
                f"poetry cannot lock {describe(left or bumps)} even with the project's "
                "requirements bumped",
                self.runner.tail(),
            )
        return [f"pyproject.toml: {c}" for c in changes] + [
            self._note(b, "requirement bumped") for b in bumps
        ]

    def _pin_and_release(self, bumps: list[PackageBump]) -> ToolRun:
        """Lock with the fixed versions pinned in a temporary group, then without it."""
        base = self.pyproject.read_bytes()
        self.pyproject.write_bytes(base + pin_group(bumps).encode("utf-8"))
        try:
            run = self.runner.run(self.lock_args, self.lockfile.parent)
        finally:
            self.pyproject.write_bytes(base)
        if not run.ok:
            return run
        return self.runner.run(self.lock_args, self.lockfile.parent)

    def _note(self, bump: PackageBump, how: str) -> str:
        return (
            f"{bump.name} {bump.current_version} → {bump.target_version} in {self.display} ({how})"
        )
