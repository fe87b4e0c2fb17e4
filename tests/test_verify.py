"""The verification runner: argv only, scrubbed environment, timeouts kill the group."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from support import require_tool

from agentd.redaction import REDACTOR
from agentd.verify import Sandbox, VerificationResult, run_verification
from agentd.vocabulary import Provenance

NONE = Sandbox("none")
PY = sys.executable


def _run(
    tmp_path: Path,
    *commands: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 30,
    sandbox: Sandbox = NONE,
) -> VerificationResult:
    return run_verification(
        list(commands), workdir=tmp_path, allowed_env=env or {}, timeout=timeout, sandbox=sandbox
    )


def test_passing_and_failing_commands_are_observed(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        [PY, "-c", "print('ok')"],
        [PY, "-c", "import sys; sys.exit(3)"],
        [PY, "-c", "pass"],
    )
    assert not result.passed
    first, second, third = result.commands
    assert (
        first.provenance is Provenance.OBSERVED
        and first.exit_code == 0
        and "ok" in first.output_tail
    )
    assert second.exit_code == 3
    assert third.provenance is Provenance.NOT_RUN
    assert third.not_run_reason == "an earlier command failed"


def test_environment_is_built_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_shouldnotleak000000000000000000000000")
    monkeypatch.setenv("AGENTD_UNLISTED", "unlisted-value")
    script = "import os, json; print(json.dumps(dict(os.environ)))"
    result = _run(tmp_path, [PY, "-c", script], env={"NPM_TOKEN": "npm-allowed"})
    assert result.passed
    seen = json.loads(result.commands[0].output_tail)
    assert "GH_TOKEN" not in seen and "AGENTD_UNLISTED" not in seen
    assert seen["NPM_TOKEN"] == "npm-allowed"
    assert seen["HOME"] != os.environ.get("HOME")
    assert set(seen) <= {"PATH", "HOME", "LANG", "TMPDIR", "CI", "NPM_TOKEN", "LC_CTYPE", "PWD"}


def test_no_shell_interpretation(tmp_path: Path) -> None:
    result = _run(tmp_path, ["echo", "$HOME", ";", "touch", "pwned"])
    assert result.passed
    assert "$HOME ; touch pwned" in result.commands[0].output_tail
    assert not (tmp_path / "pwned").exists()


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-survived"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w')\n")
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = _run(tmp_path, [PY, "-c", script], timeout=1)
    assert time.monotonic() - started < 10
    command = result.commands[0]
    assert command.timed_out and not result.passed
    assert command.provenance is Provenance.OBSERVED
    time.sleep(3.5)
    assert not marker.exists(), "a grandchild survived the process-group kill"


def test_output_tail_is_redacted(tmp_path: Path) -> None:
    REDACTOR.register("dotenv-secret-value")
    result = run_verification(
        [[PY, "-c", "print('leak dotenv-secret-value and internal-pw-123')"]],
        workdir=tmp_path,
        allowed_env={},
        timeout=30,
        sandbox=NONE,
        redaction_patterns=[r"internal-pw-\d+"],
    )
    tail = result.commands[0].output_tail
    assert "dotenv-secret-value" not in tail and "internal-pw-123" not in tail


def test_missing_tool_is_not_run_not_failed(tmp_path: Path) -> None:
    result = _run(tmp_path, ["definitely-not-a-tool-xyz", "--version"])
    assert result.provenance is Provenance.NOT_RUN
    assert "not installed" in result.commands[0].not_run_reason


def test_bwrap_sandbox_confines_writes_and_reads(tmp_path: Path) -> None:
    require_tool("bwrap")
    worktree = tmp_path / "state" / "worktrees" / "u1"
    worktree.mkdir(parents=True)
    secret_file = tmp_path / "state" / "token-like"
    secret_file.write_text("state-dir-content")
    outside = tmp_path / "outside"
    outside.mkdir()
    home = tmp_path / "agentd-home" / ".config" / "gh"
    home.mkdir(parents=True)
    (home / "hosts.yml").write_text(
        "github.com:\n    oauth_token: ghp_SANDBOXcanary000000000000000000000000\n"
    )
    sandbox = Sandbox(
        "bwrap", writable=(worktree,), hidden=(tmp_path / "state", tmp_path / "agentd-home")
    )
    probe = (
        "import pathlib, socket, sys\n"
        f"pathlib.Path({str(worktree / 'ok')!r}).write_text('x')\n"
        "out = []\n"
        f"try: pathlib.Path({str(outside / 'bad')!r}).write_text('x'); out.append('wrote')\n"
        "except OSError: pass\n"
        f"try: out.append(pathlib.Path({str(secret_file)!r}).read_text())\n"
        "except OSError: pass\n"
        f"try: out.append(pathlib.Path({str(home / 'hosts.yml')!r}).read_text())\n"
        "except OSError: pass\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 22), timeout=1); out.append('network')\n"
        "except OSError: pass\n"
        "print('RESULT', out)\n"
    )
    result = _run(worktree, [PY, "-c", probe], sandbox=sandbox)
    tail = result.commands[0].output_tail
    if "RESULT" not in tail and "Operation not permitted" in tail:
        pytest.skip("this kernel does not allow unprivileged namespaces for bwrap")
    assert result.passed, tail
    assert "RESULT []" in tail
    assert (worktree / "ok").exists()
    assert not (outside / "bad").exists()
