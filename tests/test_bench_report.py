"""`bench/report.py` says what the figures say: thresholds missed read "NOT met", met ones
"met", unmeasured ones "not measured", and no sentence claims what the figures do not carry."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report


def row(seconds: float, requests: int, used: int, rss: float = 80.0, repeated: int = 0) -> Any:
    return {
        "seconds": seconds,
        "requests": requests,
        "rate_limit_used": used,
        "peak_rss_mb": rss,
        "exit_code": 0,
        "repeated_reads": repeated,
    }


def case(repos: int, alerts: int, scale: float, discovery_requests: int) -> dict[str, Any]:
    return {
        "repos": repos,
        "alerts_per_repo": alerts,
        "alerts": repos * alerts,
        "latency_ms": 100,
        "rows": {
            "upstream": row(100.0 * scale, 3 * repos, 3 * repos),
            "discover_cold": row(5.0 * scale, discovery_requests, discovery_requests),
            "discover_warm": row(4.0 * scale, discovery_requests, 2),
            "report_only": row(6.0 * scale, discovery_requests + repos, discovery_requests),
        },
        "report_only_units": repos,
        "report_only_discovery_reads": discovery_requests,
        "report_only_other_requests": repos,
    }


def good() -> dict[str, Any]:
    remediation = {
        "repos": 200,
        "units": 200,
        "outcomes": {"merged": 200},
        "merged_by_agentd": 200,
        "merged_on_github": 200,
        "seconds": 100.0,
        "verification_seconds": 50.0,
        "updater_tool_seconds": 10.0,
        "requests": 1400,
        "requests_per_unit": 7.0,
        "discovery_requests": 12,
        "mode": "local",
        "units_started_twice": 0,
        "peak_rss_mb": 90.0,
        "overhead_per_unit_seconds": 0.2,
    }
    ci = {**remediation, "outcomes": {"opened_pr": 200}, "merged_by_agentd": 0, "mode": "ci"}
    ci["verification_seconds"] = 0.0
    ci["seconds"] = 50.0
    return {
        "date": "2026-12-02",
        "machine": "x86_64 Linux",
        "cores": 2,
        "latency_ms": 100,
        "seconds": 600,
        "scale": [case(200, 10, 1.0, 40), case(1000, 100, 40.0, 1100)],
        "remediation": {"local": remediation, "ci": ci},
        "shards": {
            "repos": 200,
            "exit_codes": [0, 0],
            "shard_repositories": [98, 102],
            "handled_by_both": 0,
            "handled_by_neither": 0,
            "overlapped": True,
            "repositories_with_duplicate_prs": 0,
            "repositories_without_pr": 0,
            "combined_runs": 2,
            "combined_units": 200,
            "combined_repositories": 200,
            "report_exit_code": 0,
        },
    }


def verdict_of(results: dict[str, Any], start: str) -> str:
    text = report.render(results)
    [line] = [ln for ln in text.splitlines() if ln.startswith(f"| {start}")]
    return line.rsplit("|", 2)[-2].strip()


def test_figures_that_meet_every_threshold_read_met() -> None:
    results = good()
    judged = {v.threshold: v for v in report.verdicts(results)}
    measurable = [v for v in judged.values() if v.met is not None]
    assert len(measurable) == 14 and all(v.met for v in measurable), measurable
    assert verdict_of(results, "cold discovery, 200 repositories") == "met"
    assert "14 of 14 thresholds met, 0 not met, 0 not measured" in report.render(results)


def test_figures_that_miss_thresholds_say_so() -> None:
    results = copy.deepcopy(good())
    base = results["scale"][0]
    base["rows"]["discover_cold"]["requests"] = 570  # the measurement
    base["rows"]["discover_warm"]["rate_limit_used"] = 29
    base["rows"]["report_only"]["repeated_reads"] = 400
    results["scale"][1]["rows"]["report_only"]["peak_rss_mb"] = 1430.0
    results["remediation"]["local"]["requests"] = 4200  # 21 per merged unit
    results["remediation"]["ci"]["merged_on_github"] = 150
    text = report.render(results)
    assert verdict_of(results, "cold discovery, 200 repositories") == "NOT met"
    assert verdict_of(results, "warm discovery") == "NOT met"
    assert verdict_of(results, "a report-only run makes no more") == "NOT met"
    assert verdict_of(results, "1,000 x 100: report-only run peak RSS") == "NOT met"
    assert verdict_of(results, "1,000 x 100: discovery peak RSS") == "met"
    assert verdict_of(results, "auto_merge at 100 ms: ≤ 8 requests") == "NOT met"
    assert verdict_of(results, "200 units in `verification: ci`: every unit") == "NOT met"
    assert "150 of 200 merged on GitHub" in text
    assert "570 requests" in text and "1430 MB" in text
    assert "every unit merged." not in text and "all merged" not in text


def test_requests_per_merged_unit_are_the_units_own_and_both_figures_are_shown() -> None:
    results = copy.deepcopy(good())
    results["remediation"]["local"]["requests"] = 1613  # 8.065 per unit with discovery's 13
    results["remediation"]["local"]["discovery_requests"] = 13
    text = report.render(results)
    assert verdict_of(results, "auto_merge at 100 ms: ≤ 8 requests") == "met"
    assert "8.00 requests per merged unit (the run's 1,613 less discovery's 13" in text
    assert "8.06 counting discovery's" in text
    results["remediation"]["local"]["discovery_requests"] = 12
    assert verdict_of(results, "auto_merge at 100 ms: ≤ 8 requests") == "NOT met"


def test_a_unit_done_twice_or_a_shard_overlap_is_not_met() -> None:
    results = copy.deepcopy(good())
    results["remediation"]["ci"]["units_started_twice"] = 3
    results["shards"]["repositories_with_duplicate_prs"] = 1
    text = report.render(results)
    assert verdict_of(results, "a unit whose inputs did not change") == "NOT met"
    assert "ci: 3 of 200 units taken through their lifecycle twice" in text
    assert verdict_of(results, "two shards on one PostgreSQL store") == "NOT met"
    assert "1 with a duplicate PR" in text


def test_a_slower_than_linear_run_is_not_linear() -> None:
    results = copy.deepcopy(good())
    results["scale"][1]["rows"]["discover_cold"]["seconds"] = 5.0 * 50 * 3  # 3x too steep
    assert verdict_of(results, "1,000 repositories x 100 alerts: discovery stays linear") == (
        "NOT met"
    )
    assert verdict_of(results, "1,000 repositories x 100 alerts: a report-only") == "met"


def test_missing_figures_are_not_measured_never_met() -> None:
    results = {"date": "2026-12-02", "scale": [], "remediation": {}}
    assert all(v.met is None for v in report.verdicts(results))
    failed = copy.deepcopy(good())
    failed["scale"][0]["rows"]["discover_cold"]["exit_code"] = 1
    failed["remediation"]["ci"] = {"repos": 200, "mode": "ci", "unavailable": "no ci mode"}
    assert verdict_of(failed, "cold discovery, 200 repositories") == "not measured in this run"
    text = report.render(failed)
    assert "failed (exit 1)" in text and "not measured: no ci mode" in text


def test_the_section_is_replaced_in_place_keeping_efficacy(tmp_path: Path) -> None:
    path = tmp_path / "performance.md"
    path.write_text(
        "# Performance\n\nold hand-written figures: about 3.4 per repository\n\n"
        "<!-- efficacy:start -->\nefficacy table\n<!-- efficacy:end -->\n"
    )
    report.write(good(), path)
    first = path.read_text()
    assert "about 3.4 per repository" not in first and "efficacy table" in first
    assert first.count(report.START) == 1
    worse = copy.deepcopy(good())
    worse["scale"][0]["rows"]["discover_cold"]["requests"] = 570
    report.write(worse, path)
    second = path.read_text()
    assert second.count(report.START) == 1 and "570 requests" in second
    assert "efficacy table" in second and "systemd hardening" in second
