"""`bench/scale.py` at a tiny size: every command runs, the real upstream loop reaches the
simulator through `gh`, and the figures come from the simulator's own traffic."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import require_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import remediation, run, scale


def test_a_tiny_scale_case_measures_every_command(tmp_path: Path) -> None:
    require_tool("gh")
    if not scale.upstream_script().is_file():
        pytest.skip(f"no upstream loop at {scale.upstream_script()}")
    figures = scale.run(tmp_path, scale.Case(repos=3, alerts=2), latency_ms=0)
    rows = figures["rows"]
    assert {name: row["exit_code"] for name, row in rows.items()} == {
        "upstream": 0,
        "discover_cold": 0,
        "discover_warm": 0,
        "report_only": 0,
    }, figures.get("failures")
    # the peer: one `gh api --paginate` per repository and class, every one counted
    assert rows["upstream"]["requests"] == 3 * 3 == rows["upstream"]["rate_limit_used"]
    assert figures["upstream_units"] is not None and figures["upstream_units"] >= 3 * 2
    assert rows["discover_cold"]["rate_limit_used"] > rows["discover_warm"]["rate_limit_used"]
    assert all(row["peak_rss_mb"] > 10 for row in rows.values())


def test_synthetic_advisories_give_each_repository_its_alerts(tmp_path: Path) -> None:
    scale.write_advisories(tmp_path / "adv", 5)
    ids = {p.stem for p in (tmp_path / "adv").glob("GHSA-*.json")}
    assert len(ids) == 5
    data = scale.scenario(scale.Case(repos=2, alerts=5), tmp_path / "adv")
    pins = data["repositories"][0]["files"]["requirements.txt"].splitlines()
    assert pins == [f"benchpkg-{k}==1.0.0" for k in range(5)]


def test_sizes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_QUICK", "1")
    quick = run.arguments([])
    assert quick.quick and not quick.write and quick.units == 10
    assert [(c.repos, c.alerts) for c in quick.cases] == [(10, 10), (30, 10)]
    monkeypatch.delenv("BENCH_QUICK")
    monkeypatch.setenv("BENCH_CASES", "200x10,1000x100")
    monkeypatch.setenv("BENCH_UNITS", "0")
    full = run.arguments([])
    assert full.write and full.units == 0
    assert [(c.repos, c.alerts) for c in full.cases] == [(200, 10), (1000, 100)]


def test_updater_tool_time_is_read_from_the_run_log() -> None:
    log = "\n".join(
        [
            '{"message": "npm exited 0 after 1.5s", "tool": "npm", "duration_seconds": 1.5}',
            '{"message": "other"}',
            "not json",
            '{"tool": "uv", "duration_seconds": 0.25}',
        ]
    )
    assert remediation.tool_seconds(log) == 1.75
