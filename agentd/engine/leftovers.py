"""What a killed run leaves behind, and its removal.

Everything a run makes on disk lives in its run directory `{state_dir}/worktrees/{run_id}/`:
the units' worktrees and private homes, the verification homes (`agentd-home-*`), git's
home. `owner.json` in it names the process that made it (`agentd.liveness`). A run that
ends removes its directory and unregisters its worktrees from the clones (`remove_run`).
A run killed with SIGKILL cannot: so every run, once it holds its lock, prunes
(`prune_leftovers`) the run directories whose owner is gone and, in each of its clones, the
worktree registrations that point into `{state_dir}/worktrees/` and whose run is gone.

Only those. A run directory whose owner still runs (another profile sharing the state
directory) is left alone, and so is every worktree outside agentd's directory: the
operator's own worktrees are never touched, which is why agentd never runs a plain
`git worktree prune` (it would also drop the operator's worktrees whose directory is
missing, e.g. on an unmounted disk).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agentd.errors import InfrastructureError
from agentd.gitops import Git
from agentd.liveness import ProcessIdentity
from agentd.log import get_logger
from agentd.session import write_private_file
from agentd.verify import HOME_PREFIX

log = get_logger("leftovers")
OWNER_FILE = "owner.json"
# A directory nobody claims can only be old agentd's; none lives this long (runs: hours).
UNCLAIMED_AGE_SECONDS = 2 * 24 * 3600
_LEGACY_RUN_ID = re.compile(r"-(\d+)$")  # before owner.json: {UTC timestamp}-{pid}


@dataclass
class Pruned:
    run_dirs: list[str] = field(default_factory=list)
    registrations: list[str] = field(default_factory=list)
    homes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.run_dirs or self.registrations or self.homes)


def worktrees_root(state_dir: Path) -> Path:
    return state_dir / "worktrees"


def claim(run_dir: Path, profile_id: str) -> None:
    """Make the run's directory and record whose it is."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = ProcessIdentity.current().to_json() | {"profile_id": profile_id}
    write_private_file(run_dir / OWNER_FILE, json.dumps(owner), mode=0o600)


def remove_run(run_dir: Path, clones: Iterable[Git]) -> None:
    """The end of a run: its directory, and whatever of it is still registered in a clone
    (an aborted unit may not have removed its worktree)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    root = run_dir.parent
    for clone in clones:
        _unregister(clone, root, lambda path: _run_dir_of(root, path) == run_dir.name)


def prune_leftovers(state_dir: Path, clones: Iterable[Git], profile_id: str, run_id: str) -> Pruned:
    """Remove what earlier, killed runs left (called by run `run_id` of `profile_id`, under
    its lock); never fails the run (logs what it could not)."""
    pruned = Pruned()
    root = worktrees_root(state_dir)
    live: set[str] = set()
    if root.is_dir():
        for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            if run_dir.name != run_id and _owner_gone(run_dir, profile_id):
                shutil.rmtree(run_dir, ignore_errors=True)
                pruned.run_dirs.append(str(run_dir))
            else:
                live.add(run_dir.name)
    for clone in clones:
        pruned.registrations += _unregister(
            clone, root, lambda path: _run_dir_of(root, path) not in live
        )
    pruned.homes = _sweep_unclaimed_homes(state_dir)
    if pruned:
        log.info(
            "removed what earlier runs that were killed left behind",
            extra={
                "run_dirs": pruned.run_dirs,
                "worktree_registrations": pruned.registrations,
                "homes": pruned.homes,
            },
        )
    return pruned


def _owner_gone(run_dir: Path, profile_id: str) -> bool:
    """Whether the run that made `run_dir` is over. Its process is gone; or it is this very
    process (the daemon) and a run of this profile, whose lock this run now holds."""
    try:
        data = json.loads((run_dir / OWNER_FILE).read_text(encoding="utf-8"))
        owner = ProcessIdentity.from_json(data)
        if owner == ProcessIdentity.current():
            return bool(data.get("profile_id") == profile_id)
        return owner.alive() is False
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _older_than(run_dir, UNCLAIMED_AGE_SECONDS)
    legacy = _LEGACY_RUN_ID.search(run_dir.name)
    if legacy:
        owner = ProcessIdentity(int(legacy.group(1)), ProcessIdentity.current().hostname)
        return owner.alive() is False
    return _older_than(run_dir, UNCLAIMED_AGE_SECONDS)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _run_dir_of(root: Path, worktree: Path) -> str | None:
    """The run directory's name when `worktree` lies in agentd's worktree directory."""
    try:
        relative = worktree.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else None


def _unregister(clone: Git, root: Path, doomed: Callable[[Path], bool]) -> list[str]:
    """Remove the clone's worktrees inside `root` for which `doomed` says so."""
    removed: list[str] = []
    try:
        if not clone.is_repository():
            return removed
        for path in clone.worktrees():
            if _run_dir_of(root, path) is None or not doomed(path):
                continue
            clone.remove_worktree(path)
            if clone.has_worktree(path):
                log.warning(
                    "could not unregister a worktree an earlier run left",
                    extra={"clone": str(clone.repo), "worktree": str(path)},
                )
                continue
            removed.append(f"{clone.repo}: {path}")
    except (InfrastructureError, OSError) as exc:
        log.warning(
            "could not look for worktrees earlier runs left",
            extra={"clone": str(clone.repo), "why": str(exc)},
        )
    return removed


def _sweep_unclaimed_homes(state_dir: Path) -> list[str]:
    """Private homes agentd made before they moved into the run directory: the verification
    homes in the temporary directory, git's homes in `{state_dir}/git`. Only agentd's user's,
    and only old ones (no run lasts that long)."""
    candidates = [
        *Path(tempfile.gettempdir()).glob(f"{HOME_PREFIX}*"),
        *(state_dir / "git").glob("home-*"),
    ]
    removed = []
    for path in candidates:
        try:
            info = path.lstat()
        except OSError:
            continue
        is_dir = path.is_dir() and not path.is_symlink()
        if is_dir and info.st_uid == os.geteuid() and _older_than(path, UNCLAIMED_AGE_SECONDS):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed
