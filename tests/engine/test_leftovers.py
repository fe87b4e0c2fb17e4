"""What a killed run leaves behind is pruned by the next run (issue 16, defect 11), and only
that: the operator's own worktrees are never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from e2e import PYTHON, e2e

from agentd.engine.leftovers import OWNER_FILE, claim, prune_leftovers
from agentd.gitops import Git, GitEnvironment

VULNERABLE = {"requirements.txt": "requests==2.25.0\n"}


def git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), *args], capture_output=True, text=True, check=True
    ).stdout


def registered(clone: Path) -> list[str]:
    listing = git(clone, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def running_with(marker: str) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_a_run_killed_mid_verification_is_cleaned_up_by_the_next_run(tmp_path: Path) -> None:
    marker = f"agentd-test-{uuid.uuid4().hex}"
    flag = tmp_path / "sleep-while-this-exists"
    flag.touch()
    code = "import os, sys, time; time.sleep(300 if os.path.exists(sys.argv[1]) else 0)"
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [f'{PYTHON} -c "{code}" {flag} {marker}'],
    }
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": VULNERABLE}],
    }
    tmp = tmp_path / "tmp"  # agentd's temporary directory
    tmp.mkdir()
    with e2e(tmp_path, scenario, [{"repo": "api", "targets": [target]}], "pull_request") as env:
        clone = env.sim.workdir / "clones" / "api"
        agentd = subprocess.Popen(
            [PYTHON, "-m", "agentd", "run", "--profile", str(env.profile_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env.env(TMPDIR=str(tmp)),
        )
        try:
            deadline = time.monotonic() + 120
            while not running_with(marker):
                assert time.monotonic() < deadline, "the verification never started"
                time.sleep(0.1)
            agentd.send_signal(signal.SIGKILL)
            agentd.wait(timeout=30)
        finally:
            if agentd.poll() is None:
                agentd.kill()
        # What the killed run left: its worktree, registered in the operator's clone.
        worktrees = env.state_dir / "worktrees"
        [left] = [p for p in registered(clone) if p != str(clone)]
        assert Path(left).is_relative_to(worktrees) and Path(left).is_dir()
        # The operator's own worktrees: one in use, one whose directory is gone (prunable).
        own = tmp_path / "operator-wt"
        gone = tmp_path / "operator-moved-away"
        git(clone, "worktree", "add", "--quiet", "--detach", str(own))
        git(clone, "worktree", "add", "--quiet", "--detach", str(gone))
        subprocess.run(["rm", "-rf", str(gone)], check=True)

        flag.unlink()
        result, summary = env.run(TMPDIR=str(tmp))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "no longer running" in summary["lock_recovery"]["reason"]
        assert sorted(registered(clone)) == sorted([str(clone), str(own), str(gone)])
        assert not worktrees.exists() or list(worktrees.iterdir()) == []
        assert list(tmp.glob("agentd-home-*")) == []
        assert list((env.state_dir / "git").glob("home-*")) == []
        assert (own / ".git").is_file()


def test_pruning_spares_live_runs_and_reaps_dead_ones(tmp_path: Path) -> None:
    state = tmp_path / "state"
    root = state / "worktrees"
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    dead = root / "20260101T000000Z-dead"
    dead.mkdir(parents=True)
    (dead / OWNER_FILE).write_text(
        json.dumps({"pid": dead_pid.pid, "hostname": os.uname().nodename, "profile_id": "x"})
    )
    legacy = root / f"20250101T000000Z-{dead_pid.pid}"  # before owner.json
    (legacy / "api-1.home").mkdir(parents=True)
    other_profile = root / "other-profile-live-run"
    claim(other_profile, "other")  # this process: alive, another profile
    earlier_in_this_process = root / "earlier"
    claim(earlier_in_this_process, "acme")  # same profile, same (daemon) process: over
    current = root / "current"
    claim(current, "acme")
    pruned = prune_leftovers(state, [], "acme", "current")
    assert sorted(Path(p).name for p in pruned.run_dirs) == sorted(
        [dead.name, legacy.name, "earlier"]
    )
    assert sorted(p.name for p in root.iterdir()) == ["current", "other-profile-live-run"]


def test_only_agentd_worktrees_of_finished_runs_are_unregistered(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "--quiet", str(clone)], check=True)
    git(
        clone,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "x",
    )
    state = tmp_path / "state"
    live = state / "worktrees" / "live-run"
    claim(live, "other")
    git(clone, "worktree", "add", "--quiet", "--detach", str(live / "api-1"))
    git(
        clone,
        "worktree",
        "add",
        "--quiet",
        "--detach",
        str(state / "worktrees" / "gone-run" / "api-2"),
    )
    subprocess.run(["rm", "-rf", str(state / "worktrees" / "gone-run")], check=True)
    outside = tmp_path / "elsewhere" / "wt"
    git(clone, "worktree", "add", "--quiet", "--detach", str(outside))
    subprocess.run(["rm", "-rf", str(outside)], check=True)  # missing, but the operator's
    operator = Git(clone, GitEnvironment.create(tmp_path / "gitstate"))
    pruned = prune_leftovers(state, [operator], "acme", "current")
    assert len(pruned.registrations) == 1 and "gone-run" in pruned.registrations[0]
    assert sorted(registered(clone)) == sorted([str(clone), str(live / "api-1"), str(outside)])
