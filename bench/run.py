"""The scale benchmark in one command: `make bench` (`python bench/run.py`).

Side by side in one run, at 100 ms latency: the real upstream report-only loop (real `gh`),
`agentd discover` cold and warm, and `agentd run --mutation-mode report_only`, for each size
(repositories x Dependabot alerts each); then `agentd run` in auto_merge over N one-unit
repositories with local verification and with `verification: ci`. Figures go to
bench/results/latest.json and, on a full run, to the scale section of docs/performance.md
(`bench/report.py`; the efficacy section stays).

Sizes (environment or arguments):
  BENCH_QUICK=1 / --quick     10x10 and 30x10, 10 units per mode, no docs written (< 2 min)
  BENCH_CASES / --cases       e.g. "50x10,200x10,1000x10,1000x100" (the full run's default)
  BENCH_UNITS / --units       remediation units per mode (full: 200; 0: no remediation)
  BENCH_LATENCY_MS / --latency-ms   (default 100)
  --no-upstream               skip the upstream loop (no gh needed)
  --report-only-run           measure only `agentd run --mutation-mode report_only` per size
                              (no upstream loop, no discovery; e.g. for its peak RSS)
  --write / --no-write        write docs/performance.md (default: on a full run only)
The full run takes about 1.5 hours on 2 shared cores (measured: the 1,000 x 100 case alone,
without the upstream loop, 27 min, 9 of them materialising the organisation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import remediation, report, scale, shards

ROOT = Path(__file__).resolve().parents[1]
FULL_CASES = "50x10,200x10,1000x10,1000x100"
QUICK_CASES = "10x10,30x10"


def parse_cases(text: str) -> list[scale.Case]:
    cases = []
    for item in text.split(","):
        repos, _, alerts = item.strip().partition("x")
        cases.append(scale.Case(int(repos), int(alerts or 10)))
    return cases


def arguments(argv: list[str]) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=env.get("BENCH_QUICK") == "1")
    parser.add_argument("--cases", default=env.get("BENCH_CASES"))
    units = env.get("BENCH_UNITS")
    parser.add_argument("--units", type=int, default=int(units) if units else None)
    parser.add_argument("--latency-ms", type=int, default=int(env.get("BENCH_LATENCY_MS") or 100))
    parser.add_argument("--no-upstream", action="store_true")
    parser.add_argument("--report-only-run", action="store_true")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    args.cases = parse_cases(args.cases or (QUICK_CASES if args.quick else FULL_CASES))
    if args.units is None:
        args.units = 10 if args.quick else 200
    if args.write is None:
        args.write = not args.quick
    return args


def command(argv: list[str]) -> str:
    settings = [f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_")]
    return " ".join([*settings, "python bench/run.py", *argv])


def gh_version() -> str:
    gh = shutil.which("gh")
    if gh is None:
        return "no gh"
    out = subprocess.run([gh, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "gh"


def main(argv: list[str]) -> int:
    args = arguments(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "command": command(argv),
        "latency_ms": args.latency_ms,
        "gh_version": gh_version(),
        "scale": [],
        "remediation": {},
    }
    upstream = not (args.no_upstream or args.report_only_run) and shutil.which("gh") is not None
    if not upstream:
        print("bench: the upstream loop is skipped (--no-upstream or no gh on PATH)", flush=True)
    with tempfile.TemporaryDirectory(prefix="agentd-bench-") as tmp:
        for case in args.cases:
            workdir = Path(tmp) / f"scale-{case.repos}x{case.alerts}"
            workdir.mkdir()
            figures = scale.run(
                workdir,
                case,
                args.latency_ms,
                with_upstream=upstream,
                with_discover=not args.report_only_run,
            )
            results["scale"].append(figures)
            print(summary_line(figures), flush=True)
        for mode in ("local", "ci") if args.units > 0 else ():
            workdir = Path(tmp) / f"remediation-{mode}"
            workdir.mkdir()
            figures = remediation.run(workdir, args.units, mode, args.latency_ms)
            results["remediation"][mode] = figures
            print(remediation_line(figures), flush=True)
        if args.units > 0:
            workdir = Path(tmp) / "shards"
            workdir.mkdir()
            results["shards"] = shards.run(workdir, args.units, args.latency_ms)
            print(f"shards: {results['shards']}", flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"results: {args.output} ({results['seconds'] / 60:.1f} min)")
    for verdict in report.verdicts(results):
        print(
            f"  {verdict.word:>25}: {verdict.threshold}"
            + (f" — {verdict.measured}" if verdict.measured else "")
        )
    if args.write:
        report.write(results, ROOT / "docs" / "performance.md")
        print("written: docs/performance.md (scale section)")
    return 0


def summary_line(figures: dict[str, Any]) -> str:
    parts = [f"{figures['repos']}x{figures['alerts_per_repo']} @ {figures['latency_ms']} ms:"]
    for name, row in figures["rows"].items():
        status = "" if row["exit_code"] == 0 else f" EXIT {row['exit_code']}"
        parts.append(
            f"{name} {row['seconds']:.1f}s/{row['requests']}req/used {row['rate_limit_used']}/"
            f"{row['peak_rss_mb']:.0f}MB{status}"
        )
    return " ".join(parts)


def remediation_line(figures: dict[str, Any]) -> str:
    head = f"remediation {figures['mode']} {figures['repos']} repos:"
    if "units" not in figures:
        why = figures.get("unavailable") or figures.get("failed") or "?"
        return f"{head} not measured ({why.splitlines()[0]})"
    return (
        f"{head} {figures['units']} units {figures['outcomes']}, merged on GitHub "
        f"{figures['merged_on_github']}, {figures['seconds']:.1f}s, {figures['requests']} req, "
        f"agentd {figures['overhead_per_unit_seconds']:.3f}s/unit"
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
