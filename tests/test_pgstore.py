"""The PostgreSQL store's own behaviour, against a real server: advisory run locks, a store
that is down, a refused login, and the URL's password kept out of everything agentd says."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pg import fresh_database  # noqa: F401 - the pg_url fixture
from support import base_profile, require_tool, run_agentd, write_profile

from agentd.errors import ContractError, LockContendedError
from agentd.lock import open_run_lock
from agentd.pgstore import AdvisoryLock, PostgresStore, lock_key, where
from agentd.profile import parse_profile
from agentd.store import StoreError

CANARY = "canary-pw-9f3e1c"
HOLDER = textwrap.dedent(
    """
    import sys, time
    from agentd.pgstore import AdvisoryLock
    lock = AdvisoryLock(sys.argv[1], "acme", "shard-1-of-2").acquire()
    print("LOCKED", flush=True)
    time.sleep(120)
    """
)


def with_password(url: str, password: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{port or parts.port or 5432}"
    return urlunsplit(
        (parts.scheme, f"{parts.username}:{password}@{host}", parts.path, parts.query, "")
    )


def test_one_holder_per_profile_and_shard(pg_url: str) -> None:
    first = AdvisoryLock(pg_url, "acme", "shard-1-of-2").acquire()
    other_shard = AdvisoryLock(pg_url, "acme", "shard-2-of-2").acquire()
    other_profile = AdvisoryLock(pg_url, "beta", "shard-1-of-2").acquire()
    with pytest.raises(LockContendedError) as contended:
        AdvisoryLock(pg_url, "acme", "shard-1-of-2").acquire()
    assert contended.value.exit_code == 75
    holder = contended.value.holder
    assert holder is not None and "agentd acme shard-1-of-2 pid" in str(holder["application_name"])
    assert "shard-1-of-2" in contended.value.message
    first.release()
    AdvisoryLock(pg_url, "acme", "shard-1-of-2").acquire().release()
    other_shard.release()
    other_profile.release()


def test_shards_never_run_beside_a_run_of_the_whole_profile(pg_url: str) -> None:
    whole = AdvisoryLock(pg_url, "acme", "all").acquire()
    with pytest.raises(LockContendedError) as contended:
        AdvisoryLock(pg_url, "acme", "shard-2-of-2").acquire()
    assert "agentd acme all pid" in str(contended.value.holder)
    whole.release()
    shard = AdvisoryLock(pg_url, "acme", "shard-2-of-2").acquire()
    with pytest.raises(LockContendedError) as contended:
        AdvisoryLock(pg_url, "acme", "all").acquire()
    assert "agentd acme shard-2-of-2 pid" in str(contended.value.holder)
    shard.release()
    AdvisoryLock(pg_url, "acme", "all").acquire().release()


def test_a_dead_holders_lock_is_freed_by_the_server(pg_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "LOCKED"
        with pytest.raises(LockContendedError):
            AdvisoryLock(pg_url, "acme", "shard-1-of-2").acquire()
        proc.send_signal(signal.SIGKILL)  # no release: the session ends with the process
        proc.wait(timeout=10)
        lock = _acquire_eventually(pg_url)
        lock.release()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _acquire_eventually(url: str) -> AdvisoryLock:
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            return AdvisoryLock(url, "acme", "shard-1-of-2").acquire()
        except LockContendedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_lock_key_is_stable_and_distinct() -> None:
    assert lock_key("acme", "shard-1-of-2") == lock_key("acme", "shard-1-of-2")
    assert lock_key("acme", "shard-1-of-2") != lock_key("acme", "shard-2-of-2")
    assert lock_key("acme", "all") == 2053250097936894732  # the same on every host, every run
    assert -(2**63) <= lock_key("x", "all") < 2**63


def test_a_store_url_takes_the_advisory_lock_not_the_file(tmp_path: Path) -> None:
    lock = open_run_lock(tmp_path / "x.lock", "acme", 60, "shard-1-of-2", "postgresql://h/db")
    assert isinstance(lock, AdvisoryLock) and lock.scope == "shard-1-of-2"


def test_where_never_shows_the_password() -> None:
    url = f"postgresql://agentd:{CANARY}@db.example.com:5433/fleet"
    assert where(url) == "postgresql://agentd@db.example.com:5433/fleet"


def test_a_store_that_is_down_is_one_line_naming_the_host_exit_75(tmp_path: Path) -> None:
    url = f"postgresql://agentd:{CANARY}@127.0.0.1:9/fleet"
    with pytest.raises(StoreError) as down:
        PostgresStore(url)
    assert down.value.exit_code == 75
    assert "127.0.0.1:9" in down.value.message and CANARY not in str(down.value)
    # Through the CLI: the run stops before anything, in one line (and its fix).
    require_tool("gh")
    root = tmp_path / "clones"
    root.mkdir()
    profile = write_profile(tmp_path / "profile.yaml", base_profile(root))
    env = {
        "GH_TOKEN": "ghp_" + "L" * 36,
        "AGENTD_API_URL": "http://127.0.0.1:9",
        "AGENTD_STORE_URL": url,
        "AGENTD_STATE_DIR": str(tmp_path / "state"),
    }
    result = run_agentd("run", "--profile", str(profile), "--shard", "1/2", env=env)
    assert result.returncode == 75, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("agentd: error:")]
    assert errors == [
        "agentd: error: cannot reach the PostgreSQL store postgresql://agentd@127.0.0.1:9/fleet: "
        + errors[0].split("/fleet: ", 1)[1]
    ]
    assert "refused" in errors[0].lower() or "connect" in errors[0].lower()
    assert CANARY not in result.stdout + result.stderr
    report = run_agentd("report", "--profile", str(profile), env=env)
    assert report.returncode == 75 and "127.0.0.1:9" in report.stderr
    assert CANARY not in report.stdout + report.stderr


def test_a_refused_login_is_a_setting_to_fix_exit_78(pg_url: str) -> None:
    wrong = with_password(pg_url, CANARY)
    with pytest.raises(ContractError) as refused:
        PostgresStore(wrong)
    assert refused.value.exit_code == 78
    assert "password authentication failed" in refused.value.message
    assert CANARY not in str(refused.value)


def test_a_profile_never_holds_the_store_password(tmp_path: Path) -> None:
    data = base_profile(tmp_path)
    data["profile"]["store_url"] = f"postgresql://agentd:{CANARY}@db.example.com/fleet"
    import yaml

    with pytest.raises(ContractError) as refused:
        parse_profile(yaml.safe_dump(data), tmp_path / "profile.yaml")
    assert "store_url" in refused.value.message and "PGPASSWORD" in refused.value.message
    assert CANARY not in str(refused.value)
    data["profile"]["store_url"] = "postgresql://agentd@db.example.com/fleet"
    loaded = parse_profile(yaml.safe_dump(data), tmp_path / "profile.yaml")
    assert loaded.profile.profile.store_url == "postgresql://agentd@db.example.com/fleet"
