"""agentd refuses state it cannot trust: directories others may write, planted files.

Issue "Wave 2 — 2/6", finding 11: a group/world-writable state directory (and `git/` inside
it, where the askpass helper git runs is written) was accepted, a symlinked `askpass.sh` was
written through, and a FIFO in place of the lock file hung agentd. Each case runs the real
CLI against the simulator and must end at once with a contract error (exit 78) that names
the path and the fix, having changed nothing.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e import E2E, e2e

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
}
CONTRACT_ERROR = 78


def _refused(env: E2E, *needles: str) -> str:
    started = time.monotonic()
    try:
        result = env.agentd("run", "--profile", str(env.profile_path), "--json", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("agentd hung instead of refusing")
    assert time.monotonic() - started < 20
    assert result.returncode == CONTRACT_ERROR, (result.returncode, result.stderr[-2000:])
    for needle in needles:
        assert needle in result.stderr, result.stderr[-2000:]
    assert env.mutating() == []
    return result.stderr


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777], ids=["group", "others", "both"])
def test_a_state_dir_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        env.state_dir.mkdir()
        env.state_dir.chmod(mode)
        _refused(env, str(env.state_dir), f"chmod go-w {env.state_dir}")
        assert not (env.state_dir / "git").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_state_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        env.state_dir.mkdir(mode=0o700)
        os.chown(env.state_dir, 65534, 65534)
        _refused(env, str(env.state_dir), "chown")


def test_a_git_dir_others_may_write_is_refused(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        (env.state_dir / "git").mkdir(parents=True)
        env.state_dir.chmod(0o700)
        (env.state_dir / "git").chmod(0o775)
        _refused(env, str(env.state_dir / "git"), f"chmod go-w {env.state_dir / 'git'}")
        assert not (env.state_dir / "git" / "askpass.sh").exists()


def test_a_symlinked_askpass_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        victim = tmp_path / "victim.sh"
        victim.write_text("#!/bin/sh\necho operator script\n")
        victim.chmod(0o644)
        (env.state_dir / "git").mkdir(parents=True, mode=0o700)
        env.state_dir.chmod(0o700)
        (env.state_dir / "git" / "askpass.sh").symlink_to(victim)
        _refused(env, str(env.state_dir / "git" / "askpass.sh"), "symbolic link")
        assert victim.read_text() == "#!/bin/sh\necho operator script\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o644


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _symlink(path: Path) -> None:
    (path.parent.parent / "elsewhere.lock").write_text("{}")
    path.symlink_to(path.parent.parent / "elsewhere.lock")


@pytest.mark.parametrize(
    ("plant", "kind"),
    [(_fifo, "a FIFO"), (_directory, "a directory"), (_symlink, "a symbolic link")],
    ids=["fifo", "directory", "symlink"],
)
def test_a_lock_file_that_is_not_a_regular_file_is_refused_quickly(
    tmp_path: Path, plant: Callable[[Path], None], kind: str
) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        plant(lock)
        _refused(env, str(lock), kind, "rm ")
        assert not lock.with_name(lock.name + ".guard").exists()  # refused before the guard


def test_a_world_writable_clone_root_is_refused(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        clones = env.sim.workdir / "clones"
        clones.chmod(0o777)
        _refused(env, str(clones), f"chmod o-w {clones}")
