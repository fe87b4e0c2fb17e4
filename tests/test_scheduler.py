"""`agentd daemon`: schedules, no overlap, SIGHUP reload, graceful SIGTERM, sd_notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
