"""The shipped systemd units verify, and their hardening scores OK or better."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import REPO_ROOT, require_tool

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
