"""`agentd demo`: the newcomer's first command works offline, fast, and honestly."""

from __future__ import annotations

import time

from support import run_agentd


def test_demo_runs_offline_and_prints_a_readable_report() -> None:
    started = time.monotonic()
    result = run_agentd("demo", timeout=120, env={"GH_TOKEN": "", "PATH": "/usr/bin:/bin"})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert elapsed < 30, elapsed
    out = result.stdout
    for heading in (
        "Merged (",
        "Waiting for review or checks (",
        "Blocked — needs a person (",
        "Skipped (",
    ):
        assert heading in out, out
    assert "payments-api/root [dependabot]" in out
    assert "requests 2.25.0 → 2.32.4" in out
    assert "actions/missing-workflow-permissions" in out
    assert "history_rewrite_required" in out
    assert "repository is manual_only" in out
    assert "what to do:" in out and "follow-up: rotate or revoke" in out
    for secret in ("AKIAIOSFODNN7DEMOKEY", "ghp_DEMOdemoDEMOdemo"):
        assert secret not in out + result.stderr
    assert "Traceback" not in result.stderr
