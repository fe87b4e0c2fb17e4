"""One-command benchmark runner: `python bench/run.py [--quick]`; results to docs/performance.md."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import discovery, memory, remediation, report

ROOT = Path(__file__).resolve().parents[1]


def median_of(runs: list[list[discovery.Measurement]]) -> list[dict[str, object]]:
    rows = []
    for index, first in enumerate(runs[0]):
        samples = [run[index] for run in runs]
        rows.append(
            {
                "label": first.label,
                "seconds": round(statistics.median(s.seconds for s in samples), 3),
                "requests": first.requests,
                "rate_limit_used": first.rate_limit_used,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="one repetition, the 40-repository case only"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    cases = [(40, 50)] if args.quick else [(40, 50), (10, 100), (50, 100), (200, 100)]
    repeat = 1 if args.quick else args.repeat
    results = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "discovery": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for repos, latency in cases:
            runs = [discovery.run(Path(tmp) / f"r{i}", repos, latency) for i in range(repeat)]
            rows = median_of(runs)
            results["discovery"].append({"repos": repos, "latency_ms": latency, "rows": rows})
            cold, warm, naive = rows
            print(
                f"{repos} repos @ {latency} ms: agentd cold {cold['seconds']}s / {cold['requests']} req, warm {warm['seconds']}s / used {warm['rate_limit_used']}, naive {naive['seconds']}s / {naive['requests']} req",
                flush=True,
            )
        for repos in [50] if not args.quick else [10]:
            samples = [remediation.run(Path(tmp) / f"rem{repos}-{i}", repos) for i in range(repeat)]
            best = sorted(samples, key=lambda r: r.overhead_per_unit)[len(samples) // 2]
            results["remediation"] = {
                "repos": repos,
                "units": best.units,
                "merged": best.merged,
                "seconds": round(best.seconds, 2),
                "verification_seconds": round(best.verification_seconds, 2),
                "overhead_per_unit_seconds": round(best.overhead_per_unit, 3),
            }
            print(
                f"remediation {repos} repos: {best.units} units, {best.merged} merged, {best.seconds:.1f}s, overhead {best.overhead_per_unit:.3f}s/unit",
                flush=True,
            )
        results["memory"] = []
        for repos in [100] if args.quick else [100, 300, 1000]:
            point = memory.run(Path(tmp), repos)
            results["memory"].append(point)
            print(
                f"memory {repos} repos: {point['alerts']} alerts, peak RSS {point['peak_rss_mb']:.0f} MB, {point['seconds']:.1f}s",
                flush=True,
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"results: {args.output}")
    if not args.quick:
        report.write(results, ROOT / "docs" / "performance.md")
        print("written: docs/performance.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
