"""`agentd daemon`: schedules, no overlap, SIGHUP reload, graceful SIGTERM, sd_notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import e2e

SCENARIO: dict[str, Any] = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "pending"}],
        }
    ],
}


def slow_target(seconds: float) -> dict[str, Any]:
    return {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [f'{sys.executable} -c "import time; time.sleep({seconds})"'],
    }


def start_daemon(
    env: Any, profiles: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentd", "daemon", "--profiles-dir", str(profiles)],
        env=env.env(**(extra or {})), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def events(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    return parsed


def wait_for(proc: subprocess.Popen[str], lines: list[str], message: str, timeout: float) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            time.sleep(0.05)
            continue
        lines.append(line)
        if message in line:
            return
    raise AssertionError(f"{message!r} not seen in {timeout}s:\n" + "".join(lines[-20:]))


def install_profile(env: Any, profiles: Path, schedule: str, target: dict[str, Any]) -> Path:
    data = yaml.safe_load(env.profile_path.read_text())
    data["profile"]["schedule"] = schedule
    data["repositories"][0]["targets"] = [target]
    path = profiles / "e2e" / "profile.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_schedule_overlap_reload_and_graceful_stop(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}], mode="pull_request") as env:
        profiles = tmp_path / "profiles"
        path = install_profile(env, profiles, "*/1 * * * * *", slow_target(2.5))
        notify = tmp_path / "notify.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(notify))
        listener.settimeout(10)
        proc = start_daemon(env, profiles, {"NOTIFY_SOCKET": str(notify)})
        lines: list[str] = []
        try:
            assert listener.recv(1024).decode().startswith("READY=1")
            wait_for(proc, lines, "scheduled run starting", 20)
            wait_for(
                proc, lines, "run skipped: the previous run of this profile is still going", 20
            )
            wait_for(proc, lines, "scheduled run finished", 30)

            path.write_text("profile: [this is not a profile\n")
            proc.send_signal(signal.SIGHUP)
            wait_for(proc, lines, "profile not loaded; keeping the previous version", 15)
            wait_for(proc, lines, "scheduled run starting", 20)  # the old profile keeps running

            # SIGTERM in the middle of a run: the unit in hand finishes, the report is written,
            # the lock is released, no worktree is left behind.
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            # Read while waiting: runs log their progress, and a full pipe would block them.
            _, rest = proc.communicate(timeout=60)
            assert proc.returncode == 0
            lines += rest.splitlines(keepends=True)
        finally:
            if proc.poll() is None:
                proc.kill()
            listener.close()
        seen = events(lines)
        assert any(e["msg"] == "daemon stopped" for e in seen)
        starts = [e for e in seen if e["msg"] == "scheduled run starting"]
        finishes = [e for e in seen if e["msg"] == "scheduled run finished"]
        assert (
            len(finishes) == len(starts) >= 2
        )  # every started run finished, even the interrupted one
        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        assert not lock.exists()
        latest = json.loads((env.state_dir / "runs" / "e2e" / "latest.json").read_text())
        assert latest["finished_at"]
        worktrees = env.state_dir / "worktrees"
        assert not any(p.is_dir() for p in worktrees.glob("*/*")) if worktrees.exists() else True
        assert len(env.sim.admin.pulls("api")) == 1  # runs never overlapped into duplicate PRs
        assert os.path.exists(notify)


def test_the_checkout_schedules_nothing_from_its_template(tmp_path: Path) -> None:
    """`agentd daemon` started in the checkout (AGENTD_PROFILES_DIR defaults to ./profiles)."""
    from support import REPO_ROOT

    from agentd.scheduler import Daemon
    from agentd.settings import Settings

    daemon = Daemon(Settings(profiles_dir=REPO_ROOT / "profiles"))
    daemon.load()
    assert daemon.jobs == {}


def test_the_daemon_logs_each_profiles_next_run_in_its_time_zone(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}], mode="pull_request") as env:
        profiles = tmp_path / "profiles"
        install_profile(env, profiles, "*/2 * * * * *", slow_target(0))
        tokyo = yaml.safe_load(env.profile_path.read_text())
        tokyo["profile"]["profile_id"] = "tokyo"
        tokyo["profile"]["schedule"] = {
            "cron": "0 3 * * 1",  # Mondays at 03:00 (crontab weekdays: 0 and 7 are Sunday)
            "timezone": "Asia/Tokyo",
            "jitter_seconds": 60,
        }
        (profiles / "tokyo.yaml").write_text(yaml.safe_dump(tokyo))
        proc = start_daemon(env, profiles)
        lines: list[str] = []
        try:
            wait_for(proc, lines, "daemon ready", 20)
            wait_for(proc, lines, "scheduled run finished", 30)
            wait_for(proc, lines, '"next run"', 10)  # after the run, its next one
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    seen = events(lines)
    scheduled = {e["profile"]: e for e in seen if e["msg"] == "profile scheduled"}
    assert scheduled["tokyo"]["timezone"] == "Asia/Tokyo"
    assert scheduled["tokyo"]["jitter_seconds"] == 60
    nexts = [e for e in seen if e["msg"] == "next run"]
    ready = next(i for i, e in enumerate(seen) if e["msg"] == "daemon ready")
    finished = next(i for i, e in enumerate(seen) if e["msg"] == "scheduled run finished")
    assert {e["profile"] for e in seen[ready:] if e["msg"] == "next run"} >= {"e2e", "tokyo"}
    assert any(e["profile"] == "e2e" for e in seen[finished:] if e["msg"] == "next run")
    tokyo_next = datetime.fromisoformat(
        next(e for e in nexts if e["profile"] == "tokyo")["next_run"]
    )
    assert tokyo_next.utcoffset() == timedelta(hours=9)
    assert tokyo_next.weekday() == 0 and tokyo_next.hour == 3  # Monday, jitter at most 60 s
    assert (tokyo_next.minute, tokyo_next.second) <= (1, 0)


def test_cron_fields_mean_what_crontab_says() -> None:
    from agentd.cron import cron_trigger

    sunday = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)

    def next_fire(expression: str) -> datetime:
        fire = cron_trigger(expression).get_next_fire_time(None, sunday)
        assert fire is not None
        return fire

    assert next_fire("0 3 * * 1").strftime("%a %H:%M") == "Mon 03:00"
    assert next_fire("0 3 * * 0").strftime("%a") == "Sun" == next_fire("0 3 * * 7").strftime("%a")
    assert next_fire("0 3 * * 1-5").strftime("%a") == "Mon"
    assert next_fire("0 13 * * 5-7").strftime("%a") == "Sun"  # today, 13:00
    assert next_fire("0 3 * * */2").strftime("%a") == "Tue"  # 0,2,4,6: Sun Tue Thu Sat
    assert next_fire("0 3 * * sat").strftime("%a") == "Sat"
    assert cron_trigger("0 3 * * *", "Europe/Berlin", 600).jitter == 600
    with pytest.raises(ValueError, match="day of month or day of week"):
        cron_trigger("0 3 1 * 1")


@pytest.mark.parametrize(
    ("schedule", "where"),
    [
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus_Mons"}, "profile.schedule.timezone"),
        ({"cron": "0 3 * * *", "jitter_seconds": -5}, "profile.schedule.jitter_seconds"),
        ({"cron": "0 3 1 * mon"}, "profile.schedule.cron"),
        ({"cron": "0 3 * * *", "tz": "UTC"}, "profile.schedule.tz"),
    ],
)
def test_bad_schedules_are_refused_naming_the_key(
    schedule: dict[str, Any], where: str, tmp_path: Path
) -> None:
    from support import base_profile, run_agentd, write_profile

    data = base_profile(tmp_path / "clones")
    data["profile"]["schedule"] = schedule
    result = run_agentd("validate", str(write_profile(tmp_path / "p.yaml", data)))
    assert result.returncode == 78, result.stderr
    assert f"{where} (line" in result.stderr and "Traceback" not in result.stderr
