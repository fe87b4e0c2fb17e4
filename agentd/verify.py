"""The verification runner of SPEC §4.5.

Commands run argv-only (never a shell) in the target's `verification_workdir`, with an
environment built from scratch: `PATH`, a private temporary `HOME`, `LANG`, and only the
allowed variables (`agentd.environment`: the allowlisted ones, and the certificate and proxy
settings of agentd's own environment). Each command has a timeout. The command gets its own process group,
which is killed on timeout and again after the command finishes (background children left
behind die with it). The tail of the output is kept, redacted, for the report. Every result
states its provenance: `observed` (it ran; exit code recorded) or `not_run` (and why).

Sandboxes (`Sandbox.kind`, the profile's `verification.sandbox`):
- `bwrap`: bubblewrap. The system read-only; only the worktree and the private home
  writable; a private pid namespace (the sandbox dies with the command, `setsid` children
  included) and, unless `network` is set, no network; the hidden paths (clones, the state
  directory, the dotenv file, credentials) replaced by empty ones. A writable git worktree's
  own git directory is put back read-only so git works in it.
- `auto`: `bwrap` when bubblewrap can start here, else nothing runs (`not_run`, and why).
- `none`: the explicit opt-out: the command runs as agentd's user, unconfined.
A command whose program cannot be found (a bare name on the PATH it gets, a path relative
to its workdir) is not started either: `not_run`, naming the program (a typo is no failure).
Whether bubblewrap can start is probed once (`bwrap … true`) and remembered for a while.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentd import children
from agentd.redaction import redact
from agentd.shutdown import STOP
from agentd.vocabulary import Provenance

OUTPUT_TAIL_BYTES = 4000
HOME_PREFIX = "agentd-home-"
# A path into a command's private home, which is deleted when its verification ends.
_PRIVATE_HOME = re.compile(r"(?:/[^\s'\"/]+)*/" + HOME_PREFIX + r"[A-Za-z0-9_]+")
DELETED_HOME = "<deleted verification home>"
KILL_GRACE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 10.0
PROBE_CACHE_SECONDS = 900.0  # a run probes once; a daemon notices an installed bwrap later
SANDBOX_KINDS = ("auto", "bwrap", "none")
_BWRAP_SYSTEM = ("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc")


@dataclass(frozen=True)
class CommandResult:
    command: str
    provenance: Provenance
    exit_code: int | None = None
    timed_out: bool = False
    duration_seconds: float = 0.0
    output_tail: str = ""
    not_run_reason: str = ""
    missing_program: str = ""  # set when not run because its program is not on PATH

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
    # Set when nothing ran here by design: what verifies the change instead (`verification: ci`).
    elsewhere: str = ""

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

    kind: str  # "auto" | "bwrap" | "none" (see the module docstring)
    writable: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    network: bool = False  # share the host network (updaters: registries); else none


def verification_path(allowed: Mapping[str, str]) -> str:
    """The PATH commands get: agentd's own, unless the allowlist provides one."""
    return allowed.get("PATH") or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")


def program_missing(program: str, path: str, workdir: Path) -> bool:
    """Whether `program` (argv[0]) cannot be started: a bare name is looked up on `path`;
    a path (`./gradlew`, `.venv/bin/pytest`) is taken relative to the command's workdir."""
    if "/" in program:
        candidate = Path(program) if Path(program).is_absolute() else workdir / program
        return not (candidate.is_file() and os.access(candidate, os.X_OK))
    return shutil.which(program, path=path) is None


def not_found_reason(program: str, path: str) -> str:
    if "/" in program:
        return f"`{program}` not found (no executable file at that path)"
    return f"`{program}` not found on PATH ({path})"


def annotate_private_home(text: str) -> str:
    """Say so where output names a file in a verification's private home (npm's "complete
    log of this run can be found in ..."): that home is deleted when verification ends."""
    return _PRIVATE_HOME.sub(DELETED_HOME, text)


def scrubbed_env(home: Path, allowed: Mapping[str, str]) -> dict[str, str]:
    env = {
        "PATH": verification_path(allowed),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home / "tmp"),
        "CI": "true",
    }
    env.update(allowed)
    return env


# --- can bubblewrap start here? ------------------------------------------------------------


def unavailable_reason(problem: str) -> str:
    """The one line a unit reports when the sandbox it needs cannot start."""
    return (
        f"bubblewrap cannot start here ({problem}); install bubblewrap or set "
        "verification.sandbox: none to opt out"
    )


class _Probe:
    """`bwrap <the sandbox's own flags> -- true`, run once and remembered for a while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answer: tuple[float, str | None] | None = None

    def problem(self) -> str | None:
        """None when bubblewrap starts here, else why not (one line)."""
        with self._lock:
            now = time.monotonic()
            if self._answer is None or now - self._answer[0] > PROBE_CACHE_SECONDS:
                self._answer = (now, _probe_bwrap())
            return self._answer[1]

    def forget(self) -> None:
        with self._lock:
            self._answer = None


def _probe_bwrap() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed"
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", *_BWRAP_SYSTEM]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [*argv, "--", "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=PROBE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return f"bwrap did not finish within {PROBE_TIMEOUT_SECONDS:.0f}s"
        finally:
            _kill_group(proc)  # a bwrap killed half-way leaves its namespace's init behind
        errors.seek(0)
        said = errors.read().decode("utf-8", errors="replace")
    return None if proc.returncode == 0 else _why_bwrap_failed(proc.returncode, said)


def _why_bwrap_failed(returncode: int, stderr: str) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        if name == "SIGSYS":
            return (
                "bwrap was killed by SIGSYS: a seccomp filter (systemd SystemCallFilter=) "
                "refuses a system call it needs"
            )
        return f"bwrap was killed by {name}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = lines[-1].removeprefix("bwrap: ") if lines else f"bwrap exited {returncode}"
    return redact(said)[:300]


BWRAP = _Probe()


# --- the bubblewrap command line -------------------------------------------------------------


def _hide(paths: Iterable[Path]) -> list[str]:
    """Mounts that replace each existing path with an empty one, outer paths first. What
    does not exist needs no hiding (and cannot be mounted over); what agentd's user cannot
    even look at (e.g. /run/user under ProtectHome=) the sandbox cannot reach either."""
    args: list[str] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            args += ["--tmpfs", str(path)]
        else:  # a file, a socket, a FIFO: all become an empty file
            args += ["--ro-bind", "/dev/null", str(path)]
    return args


def worktree_git_dir(worktree: Path, writable: Sequence[Path]) -> Path | None:
    """The common git dir of `worktree` when it is a git worktree, else None.

    The worktree's `.git` file is the repository's to rewrite, so it is believed only when
    git's own back-reference (`<common>/worktrees/<name>/gitdir`, outside the sandbox's
    writable paths) names this very worktree."""
    pointer = worktree / ".git"
    try:
        if not stat.S_ISREG(pointer.lstat().st_mode):
            return None
        text = pointer.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir:"):
            return None
        git_dir = Path(text.removeprefix("gitdir:").strip())
        back = Path((git_dir / "gitdir").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return None
    common = git_dir.parent.parent
    trusted = (
        git_dir.is_absolute()
        and git_dir.parent.name == "worktrees"
        and back.resolve() == pointer.resolve()
        and not any(common.resolve().is_relative_to(w.resolve()) for w in writable)
    )
    return common if trusted else None


def bwrap_argv(
    bwrap: str,
    argv: list[str],
    *,
    workdir: Path,
    home: Path,
    sandbox: Sandbox,
    env: Mapping[str, str],
) -> list[str]:
    """Hidden paths first, then what is put back: git dirs read-only, the writable paths."""
    writable = (*sandbox.writable, home)
    wrapped = [bwrap, "--die-with-parent", "--new-session", "--unshare-all"]
    wrapped += ["--share-net"] if sandbox.network else []
    wrapped += [*_BWRAP_SYSTEM, *_hide(sandbox.hidden)]
    for path in writable:
        git_dir = worktree_git_dir(path, writable)
        wrapped += ["--ro-bind", str(git_dir), str(git_dir)] if git_dir else []
    for path in writable:
        wrapped += ["--bind", str(path), str(path)]
    wrapped += ["--chdir", str(workdir), "--clearenv"]
    for name, value in env.items():
        wrapped += ["--setenv", name, value]
    return [*wrapped, "--", *argv]


# --- running one command ---------------------------------------------------------------------


def _tail(data: bytes, patterns: Sequence[re.Pattern[str]]) -> str:
    text = data[-OUTPUT_TAIL_BYTES * 2 :].decode("utf-8", errors="replace")
    text = redact(text)
    for pattern in patterns:
        text = pattern.sub("***", text)
    return text[-OUTPUT_TAIL_BYTES:]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, give the leader a grace period, then SIGKILL
    whatever is left of the group, whether or not the leader is gone already."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:  # the group is empty: nothing was left behind
        proc.wait()
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _sandboxed(
    argv: list[str], workdir: Path, home: Path, sandbox: Sandbox, env: Mapping[str, str]
) -> list[str] | str:
    """The argv to start, or why nothing may start."""
    if sandbox.kind not in SANDBOX_KINDS:
        return f"unknown sandbox {sandbox.kind!r}; nothing runs outside a known sandbox"
    bwrap = None
    if sandbox.kind != "none":
        problem = BWRAP.problem()
        bwrap = shutil.which("bwrap")
        if problem or bwrap is None:
            return unavailable_reason(problem or "bwrap is not installed")
    if bwrap is None:
        return argv
    return bwrap_argv(bwrap, argv, workdir=workdir, home=home, sandbox=sandbox, env=env)


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
    STOP.check_abort()  # an aborted run starts nothing more
    started_argv = _sandboxed(argv, workdir, home, sandbox, env)
    if isinstance(started_argv, str):
        return CommandResult(shown, Provenance.NOT_RUN, not_run_reason=started_argv)
    path = env.get("PATH", "")
    if program_missing(argv[0], path, workdir):  # a typo is no failing test
        return CommandResult(
            shown,
            Provenance.NOT_RUN,
            not_run_reason=redact(not_found_reason(argv[0], path)),
            missing_program=redact(argv[0]),
        )
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(
                started_argv,
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
            with children.tracked(proc.pid, timeout):
                proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)  # also what a finished command left running in its group
        STOP.check_abort()  # killed by the abort: there is no result to report
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
    home_parent: Path | None = None,
) -> VerificationResult:
    """Run the commands in order; stop at the first failure (later ones are `not_run`).

    The commands' private home is made in `home_parent` (a run's own directory, which the
    next run prunes if this one is killed), else in the system's temporary directory."""
    if not commands:
        return VerificationResult(
            [CommandResult("(none)", Provenance.NOT_RUN, not_run_reason="no verification commands")]
        )
    patterns = [re.compile(p) for p in redaction_patterns]
    results: list[CommandResult] = []
    with tempfile.TemporaryDirectory(prefix=HOME_PREFIX, dir=home_parent) as home_dir:
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
