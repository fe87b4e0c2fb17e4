"""The verification runner of SPEC §4.5.

Commands run argv-only (never a shell) in the target's `verification_workdir`, with an
environment built from scratch: `PATH`, a private temporary `HOME`, `LANG`, and only the
allowlisted variables. Each command has a timeout; on timeout the whole process group is
killed. The tail of the output is kept, redacted, for the report. Every result states its
provenance: `observed` (it ran; exit code recorded) or `not_run` (and why).

With `sandbox: bwrap` commands run under bubblewrap: the system read-only, only the
worktree and the private home writable, the state directory hidden, no network.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentd.redaction import redact
from agentd.vocabulary import Provenance

OUTPUT_TAIL_BYTES = 4000
KILL_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class CommandResult:
    command: str
    provenance: Provenance
    exit_code: int | None = None
    timed_out: bool = False
    duration_seconds: float = 0.0
    output_tail: str = ""
    not_run_reason: str = ""

    @property
    def passed(self) -> bool:
        return self.provenance is Provenance.OBSERVED and self.exit_code == 0 and not self.timed_out

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "provenance": self.provenance.value,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_seconds": round(self.duration_seconds, 3),
            "output_tail": self.output_tail,
            "not_run_reason": self.not_run_reason,
        }


@dataclass(frozen=True)
class VerificationResult:
    commands: list[CommandResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.commands) and all(c.passed for c in self.commands)

    @property
    def provenance(self) -> Provenance:
        observed = any(c.provenance is Provenance.OBSERVED for c in self.commands)
        return Provenance.OBSERVED if observed else Provenance.NOT_RUN

    def failure(self) -> CommandResult | None:
        return next((c for c in self.commands if not c.passed), None)

    def to_json(self) -> list[dict[str, object]]:
        return [c.to_json() for c in self.commands]


@dataclass(frozen=True)
class Sandbox:
    """Where a command may write; what it must not see."""

    kind: str  # "none" | "bwrap"
    writable: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    network: bool = False  # share the host network (updaters: registries); else none


def scrubbed_env(home: Path, allowed: Mapping[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home / "tmp"),
        "CI": "true",
    }
    env.update(allowed)
    return env


def _bwrap_argv(
    argv: list[str], workdir: Path, home: Path, sandbox: Sandbox, env: Mapping[str, str]
) -> list[str]:
    wrapped = [
        "bwrap", "--die-with-parent", "--new-session", "--unshare-all",
        *(["--share-net"] if sandbox.network else []),
        "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
    ]  # fmt: skip
    for path in sandbox.hidden:  # what does not exist needs no hiding (and cannot be mounted over)
        if path.is_dir():
            wrapped += ["--tmpfs", str(path)]
        elif path.is_file():
            wrapped += ["--ro-bind", "/dev/null", str(path)]
    for path in (*sandbox.writable, home):
        wrapped += ["--bind", str(path), str(path)]
    wrapped += ["--chdir", str(workdir), "--clearenv"]
    for name, value in env.items():
        wrapped += ["--setenv", name, value]
    return [*wrapped, "--", *argv]


def _tail(data: bytes, patterns: Sequence[re.Pattern[str]]) -> str:
    text = data[-OUTPUT_TAIL_BYTES * 2 :].decode("utf-8", errors="replace")
    text = redact(text)
    for pattern in patterns:
        text = pattern.sub("***", text)
    return text[-OUTPUT_TAIL_BYTES:]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=KILL_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def run_command(
    argv: list[str],
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout: float,
    home: Path,
    sandbox: Sandbox,
    redaction_patterns: Sequence[re.Pattern[str]] = (),
) -> CommandResult:
    shown = redact(" ".join(argv))
    if sandbox.kind == "bwrap":
        if shutil.which("bwrap") is None:
            return CommandResult(
                shown,
                Provenance.NOT_RUN,
                not_run_reason="sandbox bwrap requested but bubblewrap is not installed",
            )
        argv = _bwrap_argv(argv, workdir, home, sandbox, env)
    elif shutil.which(argv[0], path=env.get("PATH")) is None and not Path(argv[0]).is_absolute():
        return CommandResult(
            shown, Provenance.NOT_RUN, not_run_reason=f"{argv[0]!r} is not installed on this runner"
        )
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(
                shown, Provenance.NOT_RUN, not_run_reason=f"could not start: {exc.strerror}"
            )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)  # also reaps background children left by a finished command
        output.seek(0)
        data = output.read()
    return CommandResult(
        command=shown,
        provenance=Provenance.OBSERVED,
        exit_code=proc.returncode,
        timed_out=timed_out,
        duration_seconds=time.monotonic() - started,
        output_tail=_tail(data, redaction_patterns)
        + (f"\n[killed after {timeout:.0f}s timeout]" if timed_out else ""),
    )


def run_verification(
    commands: Sequence[list[str]],
    *,
    workdir: Path,
    allowed_env: Mapping[str, str],
    timeout: float,
    sandbox: Sandbox,
    redaction_patterns: Sequence[str] = (),
) -> VerificationResult:
    """Run the commands in order; stop at the first failure (later ones are `not_run`)."""
    if not commands:
        return VerificationResult(
            [CommandResult("(none)", Provenance.NOT_RUN, not_run_reason="no verification commands")]
        )
    patterns = [re.compile(p) for p in redaction_patterns]
    results: list[CommandResult] = []
    with tempfile.TemporaryDirectory(prefix="agentd-home-") as home_dir:
        home = Path(home_dir)
        (home / "tmp").mkdir()
        env = scrubbed_env(home, allowed_env)
        for argv in commands:
            if results and not results[-1].passed:
                results.append(
                    CommandResult(
                        redact(" ".join(argv)),
                        Provenance.NOT_RUN,
                        not_run_reason="an earlier command failed",
                    )
                )
                continue
            results.append(
                run_command(
                    argv,
                    workdir=workdir,
                    env=env,
                    timeout=timeout,
                    home=home,
                    sandbox=sandbox,
                    redaction_patterns=patterns,
                )
            )
    return VerificationResult(results)
