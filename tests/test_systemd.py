"""The shipped systemd units verify, and their hardening scores OK or better."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support import REPO_ROOT, require_tool

from agentd.verify import BWRAP, Sandbox, run_verification

UNITS = sorted((REPO_ROOT / "systemd").iterdir())


def _installed_copy(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this checkout's agentd (verify checks it exists)."""
    agentd = shutil.which("agentd") or str(REPO_ROOT / ".venv" / "bin" / "agentd")
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/bin/agentd", agentd))
    return tmp_path


def test_units_verify(tmp_path: Path) -> None:
    require_tool("systemd-analyze")
    copy = _installed_copy(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *[f"./{u.name}" for u in UNITS]],
        cwd=copy, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("name", ["agentd.service", "agentd-run@.service"])
def test_service_hardening_scores_ok(tmp_path: Path, name: str) -> None:
    require_tool("systemd-analyze")
    copy = _installed_copy(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"./{name}"],
        cwd=copy, capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", result.stdout)
    assert match, result.stdout[-500:] + result.stderr
    assert match.group(2) in ("OK", "SAFE"), match.group(0)
    assert float(match.group(1)) <= 4.0


def test_units_treat_75_as_temporary_and_run_hardened() -> None:
    oneshot = (REPO_ROOT / "systemd" / "agentd-run@.service").read_text()
    daemon = (REPO_ROOT / "systemd" / "agentd.service").read_text()
    timer = (REPO_ROOT / "systemd" / "agentd-run@.timer").read_text()
    assert "SuccessExitStatus=75" in oneshot and "RestartForceExitStatus=75" in daemon
    for unit in (oneshot, daemon):
        for setting in (
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=\n",
            "UMask=0077",
            "SystemCallFilter=@system-service",
            "RestrictAddressFamilies=",
        ):
            assert setting in unit, setting
        assert re.search(r"^ReadWritePaths=\S+ \S+$", unit, re.MULTILINE)
    for setting in ("OnCalendar=", "RandomizedDelaySec=", "Persistent=true"):
        assert setting in timer


# --- bwrap under the units' own confinement ---------------------------------------------------
#
# Finding 8 (issue "Wave 2 — 2/6"): the units' SystemCallFilter= killed bwrap (SIGSYS at
# capset, then mount), RestrictAddressFamilies= refused the netlink socket bwrap needs for
# loopback under --unshare-net, and ProcSubset=pid / ProtectKernelTunables= /
# ProtectKernelLogs= left no fully visible /proc, so bwrap could not mount its own. Without
# systemd this test rebuilds that confinement: the unit's effective system-call allow list
# (its groups expanded by `systemd-analyze syscall-filter`, in systemd's order semantics) and
# address-family filter as libseccomp filters (kill on a refused call, EAFNOSUPPORT on a
# refused family), NoNewPrivileges, the unit's /proc mount settings (as root, in a private
# mount namespace) and an unprivileged user, and runs a real bwrap verification inside it.
# Mount settings that do not touch /proc (ProtectSystem, ProtectHome, PrivateTmp) are plain
# bind/tmpfs mounts that bwrap's `--ro-bind / /` copies like any other, and are not rebuilt.

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_GT = 6
EAFNOSUPPORT = 97
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
NOBODY = 65534
TUNABLES = (
    "/proc/sys", "/proc/sysrq-trigger", "/proc/latency_stats", "/proc/acpi", "/proc/timer_stats",
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/sys",
)  # fmt: skip


class _ScmpArgCmp(ctypes.Structure):
    _fields_: ClassVar[list[tuple[str, Any]]] = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _service_settings(unit: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@functools.cache
def _syscall_group(name: str) -> frozenset[str]:
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager", name],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    entries = [e.strip() for e in listing.splitlines()[1:]]
    return frozenset(_expand([e for e in entries if e and not e.startswith("#")]))


def _expand(names: list[str]) -> set[str]:
    return {s for n in names for s in (_syscall_group(n) if n.startswith("@") else {n})}


def effective_syscalls(filters: list[str]) -> set[str]:
    """systemd's semantics: the first SystemCallFilter= line decides allow-list mode (and
    brings @default along); later lines add (plain) or remove (~) names, in order."""
    assert filters and not filters[0].startswith("~"), "the shipped units use an allow list"
    allowed = _expand(["@default"])
    for value in filters:
        names = _expand(value.removeprefix("~").split())
        allowed = allowed - names if value.startswith("~") else allowed | names
    return allowed


def _libseccomp() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
            pytest.fail("libseccomp.so.2 is not installed (apt-get install libseccomp2)")
        pytest.skip("libseccomp.so.2 is not installed")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
        ctypes.POINTER(_ScmpArgCmp),
    ]  # fmt: skip
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    return lib


def _syscall_filter(lib: ctypes.CDLL, allowed: set[str]) -> int:
    ctx = lib.seccomp_init(SCMP_ACT_KILL_PROCESS)
    for name in sorted(allowed):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:  # a name this architecture does not have
            assert lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, 0, None) == 0, name
    return int(ctx)


def _family_filter(lib: ctypes.CDLL, families: list[str]) -> int:
    """socket() with a family outside the list fails with EAFNOSUPPORT, as systemd does."""
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    allowed = {int(getattr(socket, f)) for f in families}
    refuse = 0x00050000 | EAFNOSUPPORT
    for family in range(max(allowed) + 1):
        if family not in allowed:
            cmp = (_ScmpArgCmp * 1)(_ScmpArgCmp(0, SCMP_CMP_EQ, family, 0))
            assert lib.seccomp_rule_add_array(ctx, refuse, socket_nr, 1, cmp) == 0
    above = (_ScmpArgCmp * 1)(_ScmpArgCmp(0, SCMP_CMP_GT, max(allowed), 0))
    assert lib.seccomp_rule_add_array(ctx, refuse, socket_nr, 1, above) == 0
    return int(ctx)


def _mount(libc: ctypes.CDLL, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    if libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def _rebuild_proc_mounts(libc: ctypes.CDLL, settings: dict[str, list[str]]) -> None:
    """The unit's /proc as systemd mounts it, in a private mount namespace (root only)."""
    assert libc.unshare(CLONE_NEWNS) == 0
    _mount(libc, "none", "/", "", MS_REC | MS_PRIVATE, "")
    options = []
    if settings.get("ProtectProc", ["default"])[-1] != "default":
        options.append(f"hidepid={settings['ProtectProc'][-1]}")
    if settings.get("ProcSubset", ["all"])[-1] == "pid":
        options.append("subset=pid")
    if options:
        _mount(libc, "proc", "/proc", "proc", 0, ",".join(options))
    read_only = list(TUNABLES) if settings.get("ProtectKernelTunables") == ["yes"] else []
    if settings.get("ProtectControlGroups") == ["yes"]:
        read_only.append("/sys/fs/cgroup")
    for path in (p for p in read_only if os.path.exists(p)):
        _mount(libc, path, path, "", MS_BIND | MS_REC, "")
        _mount(libc, path, path, "", MS_REMOUNT | MS_BIND | MS_RDONLY, "")
    if settings.get("ProtectKernelLogs") == ["yes"] and os.path.exists("/proc/kmsg"):
        _mount(libc, "/dev/null", "/proc/kmsg", "", MS_BIND, "")


def _confined_verification(
    settings: dict[str, list[str]], worktree: Path, hidden: Path, confine: bool = True
) -> str:
    """Fork; in the child enter the unit's confinement (with `confine`: else only its user),
    run a bwrap verification, report."""
    lib = _libseccomp()
    syscalls = _syscall_filter(lib, effective_syscalls(settings["SystemCallFilter"]))
    families = _family_filter(lib, settings["RestrictAddressFamilies"][-1].split())
    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        os.close(read_end)
        report: dict[str, object] = {}
        try:
            if os.geteuid() == 0:
                if confine:
                    _rebuild_proc_mounts(libc, settings)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            if confine:
                assert lib.seccomp_load(families) == 0 and lib.seccomp_load(syscalls) == 0
            BWRAP.forget()
            report["probe"] = BWRAP.problem()
            result = run_verification(
                [["/bin/sh", "-c", "ls /proc >/dev/null && echo verified > result.txt"]],
                workdir=worktree, allowed_env={}, timeout=30,
                sandbox=Sandbox("bwrap", writable=(worktree,), hidden=(hidden,)),
            )  # fmt: skip
            report["verification"] = result.to_json()
        except BaseException as exc:
            report["error"] = repr(exc)
        finally:
            os.write(write_end, json.dumps(report).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return answer or json.dumps({"error": f"the confined child died: wait status {status}"})


def _leftovers(token: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and token in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.parametrize("name", ["agentd.service", "agentd-run@.service"])
def test_bwrap_verification_runs_under_the_units_confinement(name: str) -> None:
    require_tool("systemd-analyze")
    require_tool("bwrap")
    settings = _service_settings(REPO_ROOT / "systemd" / name)
    base = Path(tempfile.mkdtemp(prefix="agentd-unit-"))
    try:
        worktree, hidden = base / "state" / "worktree", base / "state"
        worktree.mkdir(parents=True)
        (hidden / "secret").write_text("state")
        if os.geteuid() == 0:  # the units run as an unprivileged user
            for path in (base, hidden, worktree):
                os.chown(path, NOBODY, NOBODY)
        control = json.loads(_confined_verification(settings, worktree, hidden, confine=False))
        if control.get("probe") or "error" in control:  # the host, not the unit
            pytest.skip(f"bwrap cannot start unprivileged on this host: {control}")
        (worktree / "result.txt").unlink()  # the control run's
        report = json.loads(_confined_verification(settings, worktree, hidden))
        assert "error" not in report, report
        assert report["probe"] is None, f"{name}: bwrap cannot start: {report['probe']}"
        [command] = report["verification"]
        assert command["exit_code"] == 0, command
        assert (worktree / "result.txt").read_text() == "verified\n"
        assert _leftovers(str(worktree)) == [], "the verification left processes behind"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_units_say_what_they_allow_for_bwrap() -> None:
    for name in ("agentd.service", "agentd-run@.service"):
        unit = REPO_ROOT / "systemd" / name
        settings = _service_settings(unit)
        assert "Namespaces stay allowed" not in unit.read_text()  # the old, wrong claim
        assert "bubblewrap" in unit.read_text()
        assert "RestrictNamespaces" not in settings and "ProcSubset" not in settings
        assert "pivot_root" in effective_syscalls(settings["SystemCallFilter"])


def test_documentation_points_at_the_guide_the_package_installs() -> None:
    """`Documentation=` names the operator guide where the wheel installs it, for the install
    the guide describes (a venv at /opt/agentd, /usr/bin/agentd linked to it)."""
    import tomllib

    prefix = "file:///opt/agentd/"
    shared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["shared-data"]
    installed = {target: source for source, target in shared.items()}
    for unit in UNITS:
        docs = re.findall(r"^Documentation=(.+)$", unit.read_text(), re.MULTILINE)
        assert docs, unit.name
        for uri in (u for line in docs for u in line.split()):
            assert uri.startswith(prefix), (unit.name, uri)
            source = installed.get(uri.removeprefix(prefix))
            assert source and (REPO_ROOT / source).is_file(), (unit.name, uri)
    guide = (REPO_ROOT / "docs" / "operator-guide.md").read_text()
    assert "python3 -m venv /opt/agentd" in guide
