"""The profile lock (SPEC §4.3), exercised with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import base_profile, require_tool, run_agentd, write_profile

from agentd.errors import ContractError, LockContendedError
from agentd.lock import LockRecord, LockState, ProfileLock, inspect_lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agentd.lock import ProfileLock
    from agentd.shutdown import install_raising_handlers
    install_raising_handlers()
    with ProfileLock(Path(sys.argv[1]), "acme", 7200):
        print("LOCKED", flush=True)
        time.sleep(60)
    """
)


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    root = tmp_path / "clones"
    root.mkdir()
    return write_profile(tmp_path / "profile.yaml", base_profile(root))


def _lock_path(profile_path: Path) -> Path:
    return profile_path.parent / "clones" / ".github-security-agent.acme.lock"


@pytest.fixture
def holder(profile_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(_lock_path(profile_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "LOCKED"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _write_record(path: Path, **overrides: object) -> None:
    record = LockRecord.new("acme", 7200).__dict__ | overrides
    path.write_text(json.dumps(record), encoding="utf-8")


def test_second_process_gets_lock_contended_exit_75(
    profile_path: Path, holder: subprocess.Popen[str]
) -> None:
    require_tool("gh")
    # A valid PAT and an API nobody answers: the lock must stop the run before any request.
    env = {"GH_TOKEN": "ghp_" + "L" * 36, "AGENTD_API_URL": "http://127.0.0.1:9"}
    result = run_agentd("run", "--profile", str(profile_path), env=env)
    assert result.returncode == 75, result.stderr
    assert "lock_contended" in result.stderr
    assert f"pid {holder.pid}" in result.stderr
    # The holder's lock is untouched.
    assert json.loads(_lock_path(profile_path).read_text())["pid"] == holder.pid


def test_lock_status_reports_the_live_holder(
    profile_path: Path, holder: subprocess.Popen[str]
) -> None:
    result = run_agentd("lock", "status", "--profile", str(profile_path), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["state"] == "active"
    assert status["holder"]["pid"] == holder.pid
    assert status["holder"]["token"] is None


def test_break_refuses_a_live_holder_unless_forced(
    profile_path: Path, holder: subprocess.Popen[str]
) -> None:
    refused = run_agentd("lock", "break", "--profile", str(profile_path))
    assert refused.returncode == 75
    assert "refusing to break a live lock" in refused.stderr
    assert _lock_path(profile_path).exists()
    forced = run_agentd("lock", "break", "--profile", str(profile_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not _lock_path(profile_path).exists()


def test_sigterm_to_the_holder_releases_the_lock(
    profile_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert _lock_path(profile_path).exists()
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(timeout=10) == 128 + signal.SIGTERM
    assert not _lock_path(profile_path).exists()


def test_dead_pid_lock_is_recovered_and_reported(tmp_path: Path) -> None:
    from e2e import e2e

    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [{"name": "api", "files": {"README.md": "hi"}}],
    }
    with e2e(tmp_path, scenario, [{"repo": "api"}], mode="report_only") as env:
        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        dead = _dead_pid()
        _write_record(lock, pid=dead)
        status = env.agentd("lock", "status", "--profile", str(env.profile_path))
        assert "stale" in status.stdout
        assert f"holder pid {dead} is no longer running" in status.stdout
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        assert summary["lock_recovery"]["previous_holder"]["pid"] == dead
        assert "no longer running" in summary["lock_recovery"]["reason"]
        latest = json.loads((env.state_dir / "runs" / "e2e" / "latest.json").read_text())
        assert latest["lock_recovery"]["previous_holder"]["pid"] == dead
        assert not lock.exists()  # released again when the run ended


def test_lock_older_than_ttl_is_recovered_even_if_pid_lives(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    _write_record(lock, pid=os.getpid(), started_at_epoch=time.time() - 100, ttl_seconds=60)
    assert inspect_lock(lock).state is LockState.STALE
    with ProfileLock(lock, "acme", 7200) as taken:
        assert taken.recovery is not None
        assert "older than its TTL" in taken.recovery.reason
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_lock_on_another_host_within_ttl_is_respected(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    _write_record(lock, pid=_dead_pid(), hostname="some-other-host.invalid")
    with pytest.raises(LockContendedError):
        ProfileLock(lock, "acme", 7200).acquire()


def test_corrupt_lock_record_is_treated_as_stale(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("{not json", encoding="utf-8")
    with ProfileLock(lock, "acme", 7200) as taken:
        assert taken.recovery is not None
        assert "unreadable" in taken.recovery.reason


def test_release_leaves_a_foreign_lock_alone(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    taken = ProfileLock(lock, "acme", 7200).acquire()
    _write_record(lock, pid=os.getpid())  # someone broke and re-took it meanwhile
    taken.release()
    assert lock.exists()


def test_lock_record_contents(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with ProfileLock(lock, "acme", 900):
        record = json.loads(lock.read_text())
    assert record["pid"] == os.getpid()
    assert record["ttl_seconds"] == 900
    assert {"hostname", "started_at", "agentd_version", "profile_id"} <= record.keys()


def test_lock_status_refuses_a_fifo_at_once(profile_path: Path) -> None:
    """`inspect_lock` (lock status, discover, run) never opens a FIFO for reading: that
    would wait for a writer forever."""
    os.mkfifo(_lock_path(profile_path))
    started = time.monotonic()
    result = run_agentd("lock", "status", "--profile", str(profile_path), timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 78, result.stderr
    assert "is a FIFO, not a regular file" in result.stderr
    with pytest.raises(ContractError):
        inspect_lock(_lock_path(profile_path))
    with pytest.raises(ContractError):
        ProfileLock(_lock_path(profile_path), "acme", 7200).acquire()


def test_a_planted_guard_file_is_refused(profile_path: Path) -> None:
    guard = _lock_path(profile_path).with_name(_lock_path(profile_path).name + ".guard")
    guard.symlink_to(profile_path)
    with pytest.raises(ContractError, match="symbolic link"):
        ProfileLock(_lock_path(profile_path), "acme", 7200).acquire()
    assert "acme" in profile_path.read_text()  # the symlink's target was not truncated
