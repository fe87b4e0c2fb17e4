"""Ctrl-C and SIGTERM during `agentd run` (issue 16, defect 5), with a real run.

The first signal lets the units in hand finish (their verification is not interrupted),
starts no new unit, writes the report, releases the lock and exits 128 + signal. The second
aborts now: the verification's process group is killed, the worktrees removed, the lock
released, the run recorded as interrupted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import E2E, PYTHON, e2e

from agentd import children
from agentd.shutdown import STOP, RunAborted, StopFlag, stopping_message

VULNERABLE = {"requirements.txt": "requests==2.25.0\n"}
TIMEOUT = 100


def scenario(*names: str) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": name, "files": VULNERABLE} for name in names],
    }


def sleeping_target(seconds: float, marker: str) -> dict[str, Any]:
    command = f'{PYTHON} -c "import sys, time; time.sleep(float(sys.argv[1]))" {seconds} {marker}'
    return {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [command],
        "verification_timeout_seconds": TIMEOUT,
    }


def marked(marker: str) -> list[int]:
    """Live processes whose command line carries `marker` (the sleeping verification)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Running:
    env: E2E
    proc: subprocess.Popen[bytes]
    marker: str
    out: Path
    err: Path

    def finish(self, timeout: float) -> tuple[int, str, dict[str, Any]]:
        code = self.proc.wait(timeout=timeout)
        stdout = self.out.read_text()
        return code, self.err.read_text(), json.loads(stdout) if stdout.strip() else {}


@contextmanager
def running(tmp_path: Path, repos: list[str], seconds: float, parallel: int) -> Iterator[Running]:
    marker = f"agentd-test-{uuid.uuid4().hex}"
    entries = [{"repo": name, "targets": [sleeping_target(seconds, marker)]} for name in repos]
    with e2e(tmp_path, scenario(*repos), entries, mode="pull_request") as env:
        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["runtime"]["max_parallel_repos"] = parallel
        env.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))
        out, err = tmp_path / "stdout", tmp_path / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [PYTHON, "-m", "agentd", "run", "--profile", str(env.profile_path), "--json"],
                stdout=stdout,
                stderr=stderr,
                env=env.env(),
            )
        try:
            wait_for(lambda: marked(marker), 120, "the verification to start")
            yield Running(env, proc, marker, out, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pid in marked(marker):
                os.kill(pid, signal.SIGKILL)


def registered_worktrees(clone: Path) -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(clone), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def assert_cleaned_up(env: E2E, repos: list[str]) -> None:
    lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
    assert not lock.exists(), "the lock outlived the run"
    worktrees = env.state_dir / "worktrees"
    assert not worktrees.exists() or list(worktrees.iterdir()) == []
    for repo in repos:
        clone = env.sim.workdir / "clones" / repo
        assert registered_worktrees(clone) == [str(clone)], "a worktree stayed registered"


def test_first_ctrl_c_finishes_the_unit_in_hand_then_stops_with_130(tmp_path: Path) -> None:
    with running(tmp_path, ["api", "web"], seconds=4, parallel=1) as run:
        run.proc.send_signal(signal.SIGINT)
        code, stderr, summary = run.finish(timeout=120)
        assert code == 130, stderr[-2000:]
        said = re.search(
            r"^agentd: stopping after the current unit \(up to (\d+) s\); "
            r"Ctrl-C again to abort now$",
            stderr,
            re.MULTILINE,
        )
        assert said, stderr[-2000:]
        assert TIMEOUT - 15 <= int(said.group(1)) <= TIMEOUT
        # The verification was not interrupted: the unit in hand finished and opened its PR.
        [api] = run.env.units(summary, repository="api", alert_class="dependabot")
        assert api["outcome"] == "opened_pr", api
        assert api["verification"][0]["exit_code"] == 0
        # No new unit started after the Ctrl-C.
        assert run.env.units(summary, repository="web") == []
        assert run.env.sim.admin.pulls("web") == []
        assert summary["stopped"] == "interrupted (SIGINT): stopped after the units in hand"
        latest = json.loads((run.env.state_dir / "runs" / "e2e" / "latest.json").read_text())
        assert latest["stopped"] == summary["stopped"]
        assert_cleaned_up(run.env, ["api", "web"])


def test_second_ctrl_c_aborts_now_killing_the_verification(tmp_path: Path) -> None:
    """Repositories in parallel: the workers' verifications are killed and unwound."""
    with running(tmp_path, ["api", "web"], seconds=300, parallel=2) as run:
        time.sleep(1)  # let the second repository's verification start too
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        started = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        code, stderr, summary = run.finish(timeout=60)
        assert time.monotonic() - started < 30, "the abort waited for the verification"
        assert code == 130, stderr[-2000:]
        assert "Ctrl-C again to abort now" in stderr
        assert "agentd: aborting now" in stderr
        wait_for(lambda: not marked(run.marker), 10, "the verification to be killed")
        assert (
            summary["stopped"] == "interrupted (SIGINT): aborted; the units in hand were abandoned"
        )
        assert run.env.mutating() == []
        assert_cleaned_up(run.env, ["api", "web"])
        rows = subprocess.run(
            [PYTHON, "-m", "agentd", "runs", "--profile", str(run.env.profile_path), "--json"],
            capture_output=True,
            text=True,
            env=run.env.env(),
            check=True,
        )
        assert json.loads(rows.stdout)["runs"], "the interrupted run was not recorded"
        assert "Traceback" not in stderr


def test_sigterm_is_graceful_and_a_second_sigterm_aborts(tmp_path: Path) -> None:
    """One repository: the unit runs in the main thread, where the abort is raised."""
    with running(tmp_path, ["api"], seconds=300, parallel=1) as run:
        run.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert run.proc.poll() is None, "the first SIGTERM must let the unit finish"
        assert marked(run.marker), "the first SIGTERM must not interrupt the verification"
        run.proc.send_signal(signal.SIGTERM)
        code, stderr, summary = run.finish(timeout=60)
        assert code == 128 + signal.SIGTERM, stderr[-2000:]
        assert "SIGTERM again to abort now" in stderr
        wait_for(lambda: not marked(run.marker), 10, "the verification to be killed")
        assert summary["stopped"].startswith("interrupted (SIGTERM): aborted")
        assert "Traceback" not in stderr
        assert_cleaned_up(run.env, ["api"])


# --- the pieces ------------------------------------------------------------------------------


def test_the_message_names_the_longest_remaining_deadline() -> None:
    with children.tracked(999_999_1, 30), children.tracked(999_999_2, 900):
        remaining = children.longest_remaining()
    assert remaining is not None and 899 < remaining <= 900
    assert children.longest_remaining() is None
    assert stopping_message(signal.SIGINT, 899.2) == (
        "agentd: stopping after the current unit (up to 900 s); Ctrl-C again to abort now"
    )
    assert stopping_message(signal.SIGTERM, None) == (
        "agentd: stopping after the current unit; SIGTERM again to abort now"
    )


def test_abort_kills_every_registered_process_group() -> None:
    sleeper = subprocess.Popen(["sleep", "60"], process_group=0)
    try:
        with children.tracked(sleeper.pid, 60):
            assert children.kill_all() == 1
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_an_aborted_flag_stops_new_work_with_the_signals_exit_code() -> None:
    flag = StopFlag()
    flag.check_abort()  # nothing requested: no-op
    flag.request(signal.SIGINT)
    flag.check_abort()  # graceful: work in hand goes on
    assert flag.exit_code == 130 and not flag.aborted
    flag.abort(signal.SIGTERM)
    with pytest.raises(RunAborted) as aborted:
        flag.check_abort()
    assert aborted.value.code == 128 + signal.SIGTERM
    assert not isinstance(aborted.value, Exception)  # no unit's `except Exception` swallows it
    assert STOP is not flag


def test_git_and_tools_run_in_a_session_of_their_own() -> None:
    """A Ctrl-C typed at the terminal reaches agentd only, never a push in flight, and a
    program that would ask on the terminal fails at once instead of stopping in the
    background."""
    probe = "import os; print(os.getsid(0) == os.getpid(), os.getsid(0) != int(os.sys.argv[1]))"
    result = children.run_text(
        [PYTHON, "-c", probe, str(os.getsid(0))], timeout=30, env=dict(os.environ)
    )
    assert result.stdout.split() == ["True", "True"], result.stderr
    assert children.longest_remaining() is None  # no longer registered once it ended
