"""Repository code run for verification cannot reach what agentd must keep to itself.

Issue "Wave 2 — 2/6", findings 7 and 9: under the old default (`sandbox: none`) a
verification command read `GH_TOKEN` from agentd's `/proc/<pid>/environ`, gh's
`hosts.yml`, the dotenv file and the state directory, read and wrote another repository's
clone, appended to the operator's `.git/config`, reached the network, and left a `setsid`
child behind that wrote a file after agentd had exited; `sandbox: bwrap` still showed the
dotenv file and every other clone. The attack below is a real verification command, run by
the real CLI against the simulator, under the default profile and under `sandbox: bwrap`,
with `verification.network: none` (the default, `host`, lets commands reach registries).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from e2e import TOKEN, e2e
from support import require_tool

ENV_CANARY = "env-canary-7f3a9c"
HOSTS_CANARY = "gho_HostsYmlCanary0000000000000000000000"
DOTENV_CANARY = "dotenv-canary-51d2e8"
STATE_CANARY = "state-canary-a4b7"
CLONE_CANARY = "other-clone-canary-c9e1"
SLEEPER = "agentd-sleeper-canary-3e8d"

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "success"}],
            "protection": {"required_checks": ["ci"]},
        },
        {"name": "billing", "files": {"README.md": f"{CLONE_CANARY}\n"}},
    ],
}

# Every attempt prints a boolean, never what it read: a success is a leak, whatever it read.
ATTACK = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, time
    from pathlib import Path

    c = json.loads(Path(sys.argv[1]).read_text())

    def read(path, canary):
        try:
            return canary in Path(path).read_text(errors="replace")
        except OSError:
            return False

    def write(path, text):
        try:
            with open(path, "a") as handle:
                handle.write(text)
            return True
        except OSError:
            return False

    def environ_leak():
        for proc in Path("/proc").iterdir():
            try:
                data = (proc / "environ").read_bytes()
            except OSError:
                continue
            if c["env_canary"].encode() in data or c["token"].encode() in data:
                return True
        return False

    def network():
        try:
            socket.create_connection((c["host"], c["port"]), timeout=2).close()
            return True
        except OSError:
            return False

    sleeper = "import sys, time; time.sleep(3); open(sys.argv[1], 'w').write('late')"
    subprocess.Popen(
        [sys.executable, "-c", sleeper, c["late_marker"], c["sleeper"]],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    attacks = {
        "agentd_environ": environ_leak(),
        "gh_hosts_yml": read(c["hosts_yml"], c["hosts_canary"]),
        "dotenv_file": read(c["dotenv"], c["dotenv_canary"]),
        "state_dir": read(c["state_file"], c["state_canary"]),
        "other_clone_read": read(c["other_clone_file"], c["clone_canary"]),
        "other_clone_write": write(c["other_clone_write"], "pwned"),
        "operator_git_config": write(c["operator_git_config"], "[core]\\n\\tpwned = true\\n"),
        "network": network(),
    }
    controls = {
        "worktree_write": write("sandbox-probe.txt", "ok"),
        "allowlisted_env": os.environ.get("ALLOWED_SECRET") == "allowed-value-123",
        "unlisted_env_absent": "UNLISTED_SECRET" not in os.environ,
    }
    print("ATTACK-RESULT " + json.dumps({"attacks": attacks, "controls": controls}))
    """
)


def _plant(root: Path, env: Any) -> dict[str, Any]:
    """Canaries where agentd keeps secrets, and the attack's instructions."""
    (root / "gh-config").mkdir()
    (root / "gh-config" / "hosts.yml").write_text(
        f"github.com:\n    oauth_token: {HOSTS_CANARY}\n    user: agentd-bot\n"
    )
    (root / "secrets.env").write_text(
        f"ALLOWED_SECRET=allowed-value-123\nUNLISTED_SECRET={DOTENV_CANARY}\n"
    )
    env.state_dir.mkdir()
    (env.state_dir / "canary.txt").write_text(STATE_CANARY)
    api = urlsplit(env.sim.api_url)
    clones = env.sim.workdir / "clones"
    return {
        "env_canary": ENV_CANARY,
        "token": TOKEN,
        "hosts_yml": str(root / "gh-config" / "hosts.yml"),
        "hosts_canary": HOSTS_CANARY,
        "dotenv": str(root / "secrets.env"),
        "dotenv_canary": DOTENV_CANARY,
        "state_file": str(env.state_dir / "canary.txt"),
        "state_canary": STATE_CANARY,
        "other_clone_file": str(clones / "billing" / "README.md"),
        "clone_canary": CLONE_CANARY,
        "other_clone_write": str(clones / "billing" / "pwned.txt"),
        "operator_git_config": str(clones / "api" / ".git" / "config"),
        "host": api.hostname,
        "port": api.port,
        "late_marker": str(root / "late-marker"),
        "sleeper": SLEEPER,
    }


def _profile(env: Any, root: Path, sandbox: str | None, network: str | None = "none") -> None:
    profile = yaml.safe_load(env.profile_path.read_text())
    verification: dict[str, Any] = {
        "dotenv_path": str(root / "secrets.env"),
        "environment_allowlist": ["ALLOWED_SECRET"],
    }
    if network is not None:
        verification["network"] = network
    if sandbox is not None:
        verification["sandbox"] = sandbox
    profile["profile"]["verification"] = verification
    env.profile_path.write_text(yaml.safe_dump(profile))


def _processes_with(token: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and token.encode() in cmdline:
            found.append(proc.name)
    return found


@pytest.mark.parametrize(
    ("sandbox", "network", "reached"),
    [(None, "none", []), ("bwrap", "none", []), (None, None, ["network"])],
    ids=["default-profile", "bwrap", "default-network-host"],
)
def test_a_verification_command_reaches_nothing_of_agentds(
    tmp_path: Path, sandbox: str | None, network: str | None, reached: list[str]
) -> None:
    """With `verification.network: none` nothing is reached; with the default (`host`)
    verification commands reach the network (registries for `npm ci`, `pip install`; a
    loopback listener stands for one here) and nothing else of agentd's."""
    require_tool("bwrap")
    (tmp_path / "attack.py").write_text(ATTACK)
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [
            f"{sys.executable} {tmp_path / 'attack.py'} {tmp_path / 'attack.json'}"
        ],
    }
    repos = [
        {"repo": "api", "targets": [target]},
        {"repo": "billing", "automation_mode": "manual_only", "manual_only_reason": "victim"},
    ]
    with e2e(tmp_path, SCENARIO, repos, mode="pull_request") as env:
        (tmp_path / "attack.json").write_text(json.dumps(_plant(tmp_path, env)))
        _profile(env, tmp_path, sandbox, network)
        git_config = (env.sim.workdir / "clones" / "api" / ".git" / "config").read_bytes()
        result, summary = env.run(OPERATOR_SECRET_CANARY=ENV_CANARY)
        outputs = [c["output_tail"] for u in summary.get("units", []) for c in u["verification"]]
        report = next((o for o in outputs if "ATTACK-RESULT" in o), None)
        assert report is not None, (result.returncode, result.stderr[-3000:], outputs)
        seen = json.loads(report.split("ATTACK-RESULT ", 1)[1].splitlines()[0])
        assert seen["controls"] == dict.fromkeys(seen["controls"], True), seen
        assert [name for name, ok in seen["attacks"].items() if ok] == reached
        assert not (env.sim.workdir / "clones" / "billing" / "pwned.txt").exists()
        assert (env.sim.workdir / "clones" / "api" / ".git" / "config").read_bytes() == git_config
        assert _processes_with(SLEEPER) == [], "a setsid child outlived the verification"
        time.sleep(4)
        assert not (tmp_path / "late-marker").exists(), "a setsid child wrote after the run"


def test_sandbox_none_is_an_explicit_opt_out_reported_as_such(tmp_path: Path) -> None:
    """`none` still runs verification, and says so in the log and in latest.json."""
    repos = [{"repo": "api"}]
    with e2e(tmp_path, SCENARIO, repos, mode="pull_request") as env:
        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["verification"] = {"sandbox": "none"}
        env.profile_path.write_text(yaml.safe_dump(profile))
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [warning] = summary["warnings"]
        assert "verification.sandbox is none (explicit opt-out)" in warning
        assert "explicit opt-out" in result.stderr  # the run's log
        latest = json.loads((env.state_dir / "runs" / "e2e" / "latest.json").read_text())
        assert latest["warnings"] == [warning]
        [unit] = env.units(summary, repository="api")
        assert unit["verification_provenance"] == "observed"


# --- agentd itself: non-dumpable, so its environment is not the same user's to read -------

PR_GET_DUMPABLE = 3


def test_the_cli_marks_agentd_non_dumpable(tmp_path: Path) -> None:
    script = (
        "import ctypes, sys\n"
        "from agentd.cli import main\n"
        "main(['validate', sys.argv[1]])\n"
        f"print('DUMPABLE', ctypes.CDLL(None).prctl({PR_GET_DUMPABLE}, 0, 0, 0, 0))\n"
    )
    template = Path(__file__).resolve().parents[2] / "profiles" / "template" / "profile.yaml"
    result = subprocess.run(
        [sys.executable, "-c", script, str(template)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert "DUMPABLE 0" in result.stdout, result.stdout + result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_another_process_of_the_same_user_cannot_read_agentds_environ() -> None:
    """As an unprivileged user: a child reads its parent's environ only while the parent is
    dumpable; `harden_process` (what `agentd` runs first) takes that away."""
    from agentd.cli import PR_SET_DUMPABLE, harden_process

    libc = ctypes.CDLL(None, use_errno=True)

    def parent_environ_readable(harden: bool) -> bool:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a uid change cleared it: like exec
                if harden:
                    assert harden_process()
                reader = subprocess.run(
                    ["/bin/cat", f"/proc/{os.getpid()}/environ"],
                    capture_output=True, check=False, timeout=10,
                )  # fmt: skip
                code = 0 if reader.returncode == 0 and reader.stdout else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) in (0, 3), status
        return os.WEXITSTATUS(status) == 0

    assert parent_environ_readable(harden=False), "the control: a dumpable parent is readable"
    assert not parent_environ_readable(harden=True)
