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
from agentd.liveness import start_ticks
from agentd.lock import LockRecord, LockState, ProfileLock, heartbeat_interval, inspect_lock

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


def test_a_live_holder_on_this_host_holds_the_lock_whatever_its_age(tmp_path: Path) -> None:
    """Issue 16/14: a six-hour run (the shipped unit allows it) is not taken over at the
    two-hour TTL while its process runs, even without a heartbeat (an older agentd)."""
    lock = tmp_path / "x.lock"
    hours_ago = time.time() - 3 * 3600
    _write_record(lock, started_at_epoch=hours_ago, heartbeat_at_epoch=hours_ago)
    assert inspect_lock(lock).state is LockState.ACTIVE
    with pytest.raises(LockContendedError) as refused:
        ProfileLock(lock, "acme", 7200).acquire()
    assert refused.value.holder is not None and refused.value.holder["pid"] == os.getpid()
    assert "token" not in refused.value.holder
    assert json.loads(lock.read_text())["started_at_epoch"] == hours_ago  # untouched


def test_a_pid_that_now_belongs_to_another_process_holds_nothing(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    ticks = start_ticks(os.getpid())
    if ticks is None:
        pytest.skip("no /proc here: a reused pid cannot be told apart")
    _write_record(lock, pid_start_ticks=ticks + 1)  # the holder died, its pid was reused
    inspection = inspect_lock(lock)
    assert inspection.state is LockState.STALE
    assert "no longer running" in (inspection.why_stale or "")


def test_another_hosts_lock_is_stale_only_when_its_heartbeat_is_older_than_the_ttl(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "x.lock"
    other = {"hostname": "some-other-host.invalid", "pid": _dead_pid(), "ttl_seconds": 600}
    _write_record(lock, **other, started_at_epoch=time.time() - 7200)  # old, but beating
    assert inspect_lock(lock).state is LockState.ACTIVE
    _write_record(lock, **other, heartbeat_at_epoch=time.time() - 601)
    inspection = inspect_lock(lock)
    assert inspection.state is LockState.STALE
    assert "no heartbeat from some-other-host.invalid" in (inspection.why_stale or "")
    with ProfileLock(lock, "acme", 7200) as taken:
        assert taken.recovery is not None and "no heartbeat" in taken.recovery.reason


def test_a_held_lock_beats_until_released(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with ProfileLock(lock, "acme", 7200, heartbeat_seconds=0.05) as held:
        first = json.loads(lock.read_text())
        deadline = time.monotonic() + 10
        while json.loads(lock.read_text())["heartbeat_at_epoch"] == first["heartbeat_at_epoch"]:
            assert time.monotonic() < deadline, "the heartbeat never refreshed the record"
            time.sleep(0.05)
        beaten = json.loads(lock.read_text())
        assert beaten["token"] == first["token"]
        assert beaten["started_at_epoch"] == first["started_at_epoch"]
        assert held.record is not None
    assert not lock.exists()
    time.sleep(0.2)
    assert not lock.exists()  # no beat after the release brings it back


def test_the_heartbeat_never_rewrites_a_lock_that_is_no_longer_ours(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    taken = ProfileLock(lock, "acme", 7200, heartbeat_seconds=3600).acquire()
    _write_record(lock, pid=os.getpid(), token="someone-else")  # broken and re-taken meanwhile
    assert taken.refresh() is False
    assert json.loads(lock.read_text())["token"] == "someone-else"
    taken.release()
    assert lock.exists()


def test_heartbeat_interval_stays_well_inside_the_ttl() -> None:
    assert heartbeat_interval(7200) == 30
    assert heartbeat_interval(60) == 15


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


def test_a_contended_run_is_recorded_in_the_store_the_metrics_and_its_json(
    tmp_path: Path,
) -> None:
    """Issue 16/14: a live run older than the TTL keeps its lock; the run that finds it held
    exits 75 and says so in `--json`, in the run store and in the metrics, not only on stderr."""
    from e2e import e2e

    from agentd.store import RunStore

    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [{"name": "api", "files": {"README.md": "hi"}}],
    }
    with e2e(tmp_path, scenario, [{"repo": "api"}], mode="report_only") as env:
        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        hours_ago = time.time() - 3 * 3600  # this test process is the live holder
        _write_record(lock, profile_id="e2e", started_at_epoch=hours_ago, heartbeat_at_epoch=0)
        held = lock.read_text()
        result, summary = env.run()
        assert result.returncode == 75, result.stderr[-2000:]
        assert "lock_contended" in result.stderr
        assert summary["lock_contended"] is True
        assert summary["lock_holder"]["pid"] == os.getpid()
        assert "token" not in summary["lock_holder"]
        assert summary["stopped"] == "lock_contended"
        assert lock.read_text() == held
        assert env.mutating() == []
        [row] = RunStore(env.state_dir).runs("e2e")
        assert row.summary["lock_contended"] is True
        assert row.summary["lock_holder"]["pid"] == os.getpid()
        [unit] = row.summary["units"]
        assert unit["reason_code"] == "lock_contended" and f"pid {os.getpid()}" in unit["detail"]
        metrics = (env.state_dir / "metrics" / "agentd-lock_e2e.prom").read_text()
        assert 'agentd_lock_contended_total{profile="e2e"} 1' in metrics
        assert not (env.state_dir / "runs" / "e2e" / "latest.json").exists()
        runs = env.agentd("runs", "--profile", str(env.profile_path), "--json")
        assert json.loads(runs.stdout)["runs"][0]["outcomes"]["blocked"] == 1
