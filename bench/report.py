"""The scale section of docs/performance.md, rendered from one `bench/run.py` run's figures.

Every sentence is computed from the results: nothing here states a conclusion the figures
do not carry, and each acceptance threshold of issue 17 is printed as met, not met, or not
measured in this run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = "<!-- scale:start -->"
END = "<!-- scale:end -->"
SYSTEMD = (
    "## systemd hardening\n\n"
    "`systemd-analyze security --offline=true` (systemd 252) scores both shipped services\n"
    "`2.2 OK` (`agentd.service`, `agentd-run@.service`); `tests/test_systemd.py` keeps it at OK or better.\n"
)
ROWS = (
    ("upstream", "upstream loop (real `gh api --paginate`)"),
    ("discover_cold", "`agentd discover`, cold"),
    ("discover_warm", "`agentd discover`, warm"),
    ("report_only", "`agentd run --mutation-mode report_only`"),
)
LINEAR_SLACK = 1.1  # "stays linear": cost grows at most 1.1x as fast as the alerts


@dataclass(frozen=True)
class Verdict:
    threshold: str
    measured: str  # what the figures say; "" when not measured
    met: bool | None  # None: not measured in this run

    @property
    def word(self) -> str:
        return "not measured in this run" if self.met is None else "met" if self.met else "NOT met"


def _case(results: dict[str, Any], repos: int, alerts: int) -> dict[str, Any] | None:
    return next(
        (
            c
            for c in results.get("scale", [])
            if c["repos"] == repos and c["alerts_per_repo"] == alerts and "rows" in c
        ),
        None,
    )


def _row(case: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    row = (case or {}).get("rows", {}).get(name)
    return row if row and row.get("exit_code") == 0 else None


def _remediation(results: dict[str, Any], mode: str) -> dict[str, Any] | None:
    run = results.get("remediation", {}).get(mode)
    return run if run and "units" in run else None


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    """Issue 17's acceptance thresholds, each judged on this run's figures."""
    out: list[Verdict] = []
    base = _case(results, 200, 10)
    cold, warm = _row(base, "discover_cold"), _row(base, "discover_warm")
    upstream = _row(base, "upstream")

    def add(
        threshold: str, ready: bool, measured: Callable[[], str], ok: Callable[[], bool]
    ) -> None:
        out.append(Verdict(threshold, measured() if ready else "", ok() if ready else None))

    add(
        "cold discovery, 200 repositories x 10 alerts at 100 ms: ≤ 60 requests",
        cold is not None,
        lambda: f"{cold['requests']} requests",
        lambda: cold["requests"] <= 60,
    )
    add(
        "cold discovery, 200 x 10: ≤ 0.1x the upstream loop's wall time",
        cold is not None and upstream is not None,
        lambda: f"{_ratio(cold['seconds'], upstream['seconds']):.2f}x",
        lambda: _ratio(cold["seconds"], upstream["seconds"]) <= 0.1,
    )
    add(
        "warm discovery, 200 x 10: ≤ 5 rate-limited requests",
        warm is not None,
        lambda: f"{warm['rate_limit_used']} rate-limited requests",
        lambda: warm["rate_limit_used"] <= 5,
    )
    judged = [
        c for c in results.get("scale", []) if _row(c, "report_only") and _row(c, "discover_cold")
    ]
    add(
        "a report-only run makes no more requests than discovery plus the units' own reads",
        bool(judged),
        lambda: "; ".join(
            f"{c['repos']}x{c['alerts_per_repo']}: {c['report_only_discovery_reads']} of discovery's "
            f"reads (discovery: {c['rows']['discover_cold']['requests']}), "
            f"{c['report_only_other_requests']} other requests, "
            f"{c['rows']['report_only']['repeated_reads']} URLs read again"
            for c in judged
        ),
        lambda: all(
            c["report_only_discovery_reads"] <= c["rows"]["discover_cold"]["requests"]
            and c["rows"]["report_only"]["repeated_reads"] == 0
            for c in judged
        ),
    )
    big = _case(results, 1000, 100)
    for name, label in (("discover_cold", "discovery"), ("report_only", "a report-only run")):
        grows = _growth(results, name)
        add(
            f"1,000 repositories x 100 alerts: {label} stays linear",
            _row(big, name) is not None and grows is not None,
            lambda grows=grows: _growth_text(grows),
            lambda grows=grows: grows["time"] <= LINEAR_SLACK and grows["requests"] <= LINEAR_SLACK,
        )
    for name, label in (("discover_cold", "discovery"), ("report_only", "report-only run")):
        row = _row(big, name)
        add(
            f"1,000 x 100: {label} peak RSS < 300 MB",
            row is not None,
            lambda row=row: f"{row['peak_rss_mb']:.0f} MB",
            lambda row=row: row["peak_rss_mb"] < 300,
        )
    local = _remediation(results, "local")
    merged = (local or {}).get("merged_by_agentd", 0)
    add(
        "auto_merge at 100 ms: ≤ 8 requests per merged unit",
        local is not None and merged > 0 and "discovery_requests" in local,
        lambda: (
            f"{_own_requests(local) / merged:.2f} requests per merged unit (the run's "
            f"{local['requests']:,} less discovery's {local['discovery_requests']:,}, over "
            f"{merged} merged units; {local['requests'] / merged:.2f} counting discovery's)"
        ),
        lambda: _own_requests(local) / merged <= 8,
    )
    add(
        "auto_merge at 100 ms: ≤ 0.3 s of agentd time per merged unit outside verification and updater tools",
        local is not None and merged > 0,
        lambda: f"{_agentd_seconds(local) / merged:.3f} s",
        lambda: _agentd_seconds(local) / merged <= 0.3,
    )
    ci = _remediation(results, "ci")
    add(
        "200 units in `verification: ci`: ≤ 0.3 s of agentd time per unit outside the updater tools",
        ci is not None and ci["units"] >= 200,
        lambda: f"{_agentd_seconds(ci) / ci['units']:.3f} s over {ci['units']} units",
        lambda: _agentd_seconds(ci) / ci["units"] <= 0.3,
    )
    add(
        "200 units in `verification: ci`: every unit merged by GitHub when its checks turn green, no later agentd run",
        ci is not None and ci["units"] >= 200,
        lambda: f"{ci['merged_on_github']} of {ci['repos']} merged on GitHub",
        lambda: ci["merged_on_github"] == ci["repos"],
    )
    runs = [r for r in (local, ci) if r is not None and "units_started_twice" in r]
    add(
        "a unit whose inputs did not change is not processed twice in a run",
        bool(runs),
        lambda: "; ".join(
            f"{r['mode']}: {r['units_started_twice']} of {r['units']} units taken through "
            "their lifecycle twice"
            for r in runs
        ),
        lambda: all(r["units_started_twice"] == 0 for r in runs),
    )
    sharded = results.get("shards")
    add(
        "two shards on one PostgreSQL store: every repository once, one report",
        bool(sharded) and "combined_units" in sharded,
        lambda: _shards_measured(sharded),
        lambda: _shards_ok(sharded),
    )
    return out


def _shards_measured(s: dict[str, Any]) -> str:
    return (
        f"{s['repos']} repositories, shards {s['shard_repositories'][0]} + "
        f"{s['shard_repositories'][1]}, {'at the same time' if s['overlapped'] else 'NOT overlapping'}; "
        f"{s['handled_by_both']} handled by both, {s['handled_by_neither']} by neither, "
        f"{s['repositories_with_duplicate_prs']} with a duplicate PR; one report of "
        f"{s['combined_runs']} runs, {s['combined_repositories']} repositories"
    )


def _shards_ok(s: dict[str, Any]) -> bool:
    return (
        s["exit_codes"] == [0, 0]
        and s["overlapped"]
        and s["handled_by_both"] == 0
        and s["handled_by_neither"] == 0
        and s["repositories_with_duplicate_prs"] == 0
        and s["combined_runs"] == 2
        and s["combined_repositories"] == s["repos"]
    )


def _own_requests(run: dict[str, Any]) -> int:
    """The units' own requests: the run's less discovery's (measured in the scale rows)."""
    return int(run["requests"]) - int(run.get("discovery_requests", 0))


def _agentd_seconds(run: dict[str, Any]) -> float:
    return (
        float(run["seconds"])
        - float(run["verification_seconds"])
        - float(run["updater_tool_seconds"])
    )


def _growth(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    """How cost grew from the smallest to the largest case, relative to the alerts."""
    cases = sorted(
        (c for c in results.get("scale", []) if _row(c, name)), key=lambda c: c["alerts"]
    )
    if len(cases) < 2 or cases[-1]["alerts"] == cases[0]["alerts"]:
        return None
    first, last = cases[0], cases[-1]
    size = last["alerts"] / first["alerts"]
    a, b = first["rows"][name], last["rows"][name]
    return {
        "first": first,
        "last": last,
        "size": size,
        "time": _ratio(b["seconds"], a["seconds"]) / size,
        "requests": _ratio(b["requests"], a["requests"]) / size,
    }


def _growth_text(grows: dict[str, Any]) -> str:
    first, last = grows["first"], grows["last"]
    return (
        f"{first['repos']}x{first['alerts_per_repo']} → {last['repos']}x{last['alerts_per_repo']} "
        f"({grows['size']:.0f}x the alerts): time x{grows['time'] * grows['size']:.1f}, "
        f"requests x{grows['requests'] * grows['size']:.1f}"
    )


def _scale_table(case: dict[str, Any]) -> list[str]:
    upstream = _row(case, "upstream")
    lines = [
        f"### {case['repos']} repositories x {case['alerts_per_repo']} Dependabot alerts "
        f"({case['alerts']:,} alerts), {case['latency_ms']} ms latency",
        "",
        "| command | wall | x upstream | requests | rate limit used | peak RSS | URLs read again |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, label in ROWS:
        row = case["rows"].get(name)
        if row is None:
            lines.append(f"| {label} | not run | | | | | |")
            continue
        if row["exit_code"] != 0:
            lines.append(f"| {label} | failed (exit {row['exit_code']}) | | | | | |")
            continue
        times = f"{row['seconds'] / upstream['seconds']:.2f}x" if upstream else "-"
        lines.append(
            f"| {label} | {row['seconds']:.1f} s | {times} | {row['requests']:,} | "
            f"{row['rate_limit_used']:,} | {row['peak_rss_mb']:.0f} MB | {row['repeated_reads']:,} |"
        )
    report = _row(case, "report_only")
    if report is not None:
        lines += [
            "",
            f"The report-only run reported {case['report_only_units']:,} units with "
            f"{report['requests']:,} requests: {case['report_only_discovery_reads']:,} to URLs "
            f"discovery reads and {case['report_only_other_requests']:,} others.",
        ]
    return lines


def _growth_lines(results: dict[str, Any]) -> list[str]:
    cases = sorted(
        (c for c in results.get("scale", []) if _row(c, "discover_cold")),
        key=lambda c: (c["alerts"], c["repos"]),
    )
    if not cases:
        return []
    lines = [
        "## How it grows",
        "",
        "| repositories x alerts | upstream s / req | discover cold s / req | per repository (cold) | report-only s / req | report-only peak RSS |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in cases:
        cold = case["rows"]["discover_cold"]
        up, ro = _row(case, "upstream"), _row(case, "report_only")
        lines.append(
            f"| {case['repos']} x {case['alerts_per_repo']} | "
            + (f"{up['seconds']:.1f} / {up['requests']:,}" if up else "-")
            + f" | {cold['seconds']:.1f} / {cold['requests']:,} | "
            f"{cold['seconds'] / case['repos']:.3f} s, {cold['requests'] / case['repos']:.2f} req | "
            + (
                f"{ro['seconds']:.1f} / {ro['requests']:,} | {ro['peak_rss_mb']:.0f} MB"
                if ro
                else "- | -"
            )
            + " |"
        )
    lines.append("")
    for name, label in (("discover_cold", "Cold discovery"), ("report_only", "A report-only run")):
        grows = _growth(results, name)
        if grows:
            lines.append(f"- {label}: {_growth_text(grows)}.")
    return lines


def _remediation_lines(results: dict[str, Any]) -> list[str]:
    runs = results.get("remediation", {})
    if not runs:
        return []
    lines = [
        "## Remediation (`agentd run`, auto_merge)",
        "",
        "| verification | units | outcomes | merged on GitHub | wall | verification | updater tools | agentd per unit | requests per unit: own / with discovery's | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for mode, run in runs.items():
        if "units" not in run:
            why = run.get("unavailable") or run.get("failed") or "no figures"
            notes.append(
                f"- `{mode}` with {run['repos']} repositories: not measured: {why.splitlines()[0]}"
            )
            continue
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(run["outcomes"].items()))
        lines.append(
            f"| {mode} | {run['units']} | {outcomes} | {run['merged_on_github']} | {run['seconds']:.1f} s | "
            f"{run['verification_seconds']:.1f} s | {run['updater_tool_seconds']:.1f} s | "
            f"{_agentd_seconds(run) / max(1, run['units']):.3f} s | "
            f"{_own_requests(run) / max(1, run['units']):.2f} / {run['requests_per_unit']} | "
            f"{run['peak_rss_mb']:.0f} MB |"
        )
    return lines + (["", *notes] if notes else [])


def render(results: dict[str, Any]) -> str:
    gh = results.get("gh_version", "gh")
    lines = [
        START,
        "## Scale",
        "",
        f"Date: {results.get('date', '?')}. Machine: {results.get('machine', '?')} "
        f"({results.get('cores', '?')} cores). Command: `{results.get('command', 'make bench')}`; "
        f"the whole benchmark took {results.get('seconds', 0) / 60:.1f} min. One simulator per size "
        f"on loopback, {results.get('latency_ms', '?')} ms added to every API request; every command "
        f"is a child process (wall time, requests and rate limit from the simulator's traffic, peak "
        f"RSS from the child's rusage). The upstream loop runs with {gh}.",
        "",
    ]
    for case in results.get("scale", []):
        if "rows" in case:
            lines += [*_scale_table(case), ""]
    lines += [*_growth_lines(results), ""]
    lines += [*_remediation_lines(results), ""]
    lines += [
        "## Acceptance (issue 17)",
        "",
        "| threshold | measured | verdict |",
        "| --- | --- | --- |",
    ]
    judged = verdicts(results)
    for verdict in judged:
        lines.append(f"| {verdict.threshold} | {verdict.measured or '-'} | {verdict.word} |")
    met = sum(1 for v in judged if v.met)
    missed = sum(1 for v in judged if v.met is False)
    lines += [
        "",
        f"{met} of {len(judged)} thresholds met, {missed} not met, "
        f"{len(judged) - met - missed} not measured in this run.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], path: Path) -> None:
    """Replace (or add) the scale section, keeping the rest of the file (efficacy's section)."""
    text = render(results)
    current = path.read_text(encoding="utf-8") if path.is_file() else "# Performance\n"
    if START in current and END in current:
        head, rest = current.split(START, 1)
        updated = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:  # the first time: the old hand-written figures go, efficacy's section stays
        kept = ""
        efficacy = ("<!-- efficacy:start -->", "<!-- efficacy:end -->")
        if efficacy[0] in current and efficacy[1] in current:
            kept = (
                efficacy[0]
                + current.split(efficacy[0], 1)[1].split(efficacy[1], 1)[0]
                + efficacy[1]
            )
        updated = "# Performance\n\n" + text + "\n" + SYSTEMD + ("\n" + kept + "\n" if kept else "")
    path.write_text(updated, encoding="utf-8")
