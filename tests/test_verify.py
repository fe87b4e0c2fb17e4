"""The verification runner: argv only, scrubbed environment, timeouts kill the group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import require_tool

from agentd.redaction import REDACTOR
from agentd.verify import BWRAP, Sandbox, VerificationResult, run_verification, worktree_git_dir
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


@pytest.mark.parametrize("kind", ["none", "bwrap"])
def test_missing_tool_is_not_run_not_failed(tmp_path: Path, kind: str) -> None:
    """A program that is not on the PATH verification uses never starts, in the sandbox
    too (bubblewrap would report it as a failing command): `not_run`, naming it."""
    if kind == "bwrap":
        require_tool("bwrap")
    result = _run(tmp_path, ["pytset", "-q"], [PY, "-c", "pass"], sandbox=Sandbox(kind))
    assert result.provenance is Provenance.NOT_RUN
    first, second = result.commands
    assert first.exit_code is None and first.missing_program == "pytset"
    assert first.not_run_reason.startswith("`pytset` not found on PATH (")
    assert second.not_run_reason == "an earlier command failed"


def test_a_program_path_is_looked_up_in_the_workdir(tmp_path: Path) -> None:
    """`./run-tests` is the workdir's, not agentd's working directory's."""
    script = tmp_path / "run-tests"
    script.write_text(f"#!{PY}\nprint('ran')\n")
    script.chmod(0o755)
    assert _run(tmp_path, ["./run-tests"]).passed
    missing = _run(tmp_path, ["./nope"]).commands[0]
    assert missing.missing_program == "./nope"
    assert "no executable file at that path" in missing.not_run_reason


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


def test_what_a_finished_command_leaves_in_its_group_is_killed(tmp_path: Path) -> None:
    """`sandbox: none` too: a background child that ignores SIGTERM dies with the command."""
    pidfile = tmp_path / "straggler.pid"
    straggler = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    script = (
        "import subprocess, sys, time, os\n"
        f"subprocess.Popen([sys.executable, '-c', {straggler!r}])\n"
        f"while not os.path.exists({str(pidfile)!r}): time.sleep(0.05)\n"
    )
    result = _run(tmp_path, [PY, "-c", script])
    assert result.passed, result.commands[0].output_tail
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _running(pid), "a child left in the command's group survived it"


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (re)parent to reap it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    BWRAP.forget()
    yield
    BWRAP.forget()


def _fake_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    calls = tmp_path / "bwrap-calls"
    fake = bin_dir / "bwrap"
    fake.write_text(
        f"#!/bin/sh\necho x >> {calls}\n"
        "echo 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


@pytest.mark.parametrize("kind", ["auto", "bwrap"])
def test_no_sandbox_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_probe: None, kind: str
) -> None:
    """bubblewrap cannot start: nothing runs, each command says why in one line, and the
    probe ran once for all of them."""
    calls = _fake_bwrap(tmp_path, monkeypatch)
    marker = tmp_path / "ran"
    for _ in range(2):
        result = _run(tmp_path, [PY, "-c", f"open({str(marker)!r}, 'w')"], sandbox=Sandbox(kind))
        [command] = result.commands
        assert command.provenance is Provenance.NOT_RUN
        assert command.not_run_reason == (
            "bubblewrap cannot start here (No permissions to create new namespace); install "
            "bubblewrap or set verification.sandbox: none to opt out"
        )
    assert not marker.exists()
    assert calls.read_text() == "x\n"


def test_an_unknown_sandbox_runs_nothing(tmp_path: Path) -> None:
    result = _run(tmp_path, [PY, "-c", "pass"], sandbox=Sandbox("chroot"))
    assert result.commands[0].provenance is Provenance.NOT_RUN


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _clone_root_with_worktree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """clones/{api,billing}, a state dir inside the clone root, api's worktree inside it."""
    clones = tmp_path / "clones"
    for name in ("api", "billing"):
        (clones / name).mkdir(parents=True)
        _git("init", "-q", "-b", "main", cwd=clones / name)
        (clones / name / "README.md").write_text(f"{name}-secret-content\n")
        _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x", "--allow-empty",
             cwd=clones / name)  # fmt: skip
        _git("add", "README.md", cwd=clones / name)
        _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "y", cwd=clones / name)
    state = clones / ".github-security-agent"
    worktree = state / "worktrees" / "run" / "api-1"
    _git("worktree", "add", "-q", "--detach", str(worktree), "HEAD", cwd=clones / "api")
    return clones, state, worktree


def test_bwrap_hides_clones_state_and_dotenv_but_not_the_worktree(tmp_path: Path) -> None:
    require_tool("bwrap")
    clones, state, worktree = _clone_root_with_worktree(tmp_path)
    (state / "audit.jsonl").write_text("state-secret\n")
    dotenv = tmp_path / "secrets.env"
    dotenv.write_text("UNLISTED=dotenv-secret\n")
    probe = (
        "import pathlib, subprocess\n"
        "def read(p):\n"
        "    try: return pathlib.Path(p).read_text().strip()\n"
        "    except OSError as e: return type(e).__name__\n"
        f"print('OTHER', read({str(clones / 'billing' / 'README.md')!r}))\n"
        f"print('STATE', read({str(state / 'audit.jsonl')!r}))\n"
        f"print('DOTENV', read({str(dotenv)!r}) or 'empty')\n"
        "print('OWN', read('README.md'))\n"
        "pathlib.Path('written.txt').write_text('x')\n"
        "out = subprocess.run(['git', 'log', '--format=%s', '-1'], capture_output=True, text=True)\n"
        "print('GIT', out.stdout.strip() or out.stderr.strip())\n"
    )
    sandbox = Sandbox("bwrap", writable=(worktree,), hidden=(clones, state, dotenv))
    result = _run(worktree, [PY, "-c", probe], sandbox=sandbox)
    tail = result.commands[0].output_tail
    assert result.passed, tail
    assert "OTHER FileNotFoundError" in tail
    assert "STATE FileNotFoundError" in tail
    assert "DOTENV" in tail and "dotenv-secret" not in tail
    assert "OWN api-secret-content" in tail  # the worktree itself (under the hidden state dir)
    assert "GIT y" in tail  # its repository's git dir is put back, read-only
    assert (worktree / "written.txt").exists()


def test_a_rewritten_git_file_cannot_expose_another_clone(tmp_path: Path) -> None:
    """The worktree's `.git` is the repository's to rewrite: pointing it at another clone's
    git dir exposes nothing, because git's back-reference does not name this worktree."""
    clones, state, worktree = _clone_root_with_worktree(tmp_path)
    assert worktree_git_dir(worktree, (worktree,)) == clones / "api" / ".git"
    _git("worktree", "add", "-q", "--detach", str(state / "other"), "HEAD", cwd=clones / "billing")
    billing_gitdir = next((clones / "billing" / ".git" / "worktrees").iterdir())
    (worktree / ".git").write_text(f"gitdir: {billing_gitdir}\n")
    assert worktree_git_dir(worktree, (worktree,)) is None
    fake = worktree / "fake" / "worktrees" / "x"
    fake.mkdir(parents=True)
    (fake / "gitdir").write_text(f"{worktree / '.git'}\n")
    (worktree / ".git").write_text(f"gitdir: {fake}\n")
    assert worktree_git_dir(worktree, (worktree,)) is None  # a git dir it wrote itself


def test_bwrap_kills_a_setsid_grandchild_with_the_command(tmp_path: Path) -> None:
    require_tool("bwrap")
    marker = tmp_path / "late"
    sleeper = f"import time; time.sleep(2); open({str(marker)!r}, 'w')"
    script = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {sleeper!r}], start_new_session=True)\n"
    )
    result = _run(tmp_path, [PY, "-c", script], sandbox=Sandbox("bwrap", writable=(tmp_path,)))
    assert result.passed, result.commands[0].output_tail
    time.sleep(3)
    assert not marker.exists(), "a setsid grandchild outlived the sandbox"
