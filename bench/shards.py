"""Two shards of one profile at the same time on one PostgreSQL store (issue 17): the
remediation scenario's repositories split by `--shard 1/2` and `--shard 2/2`, two child
processes with their own state directories (two hosts), one simulator at the benchmark's
latency. Counted afterwards: which repositories each shard handled, PRs per repository on
GitHub, and what one `agentd report` from a third state directory sees.

The store is a fresh database on the server named by `BENCH_POSTGRES_URL` (else
`AGENTD_TEST_POSTGRES_URL`, which `.ci/run` exports); without one the case is reported as
not measured, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from agentd.simulator import Simulator
from bench import measure, remediation, scale

VARIABLES = ("BENCH_POSTGRES_URL", "AGENTD_TEST_POSTGRES_URL")


def server_url() -> str | None:
    return next((os.environ[v] for v in VARIABLES if os.environ.get(v)), None)


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    import psycopg

    name = f"agentd_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(workdir: Path, repos: int, latency_ms: int) -> dict[str, Any]:
    result: dict[str, Any] = {"repos": repos, "latency_ms": latency_ms}
    url = server_url()
    if url is None:
        return {**result, "unavailable": f"no PostgreSQL server ({' or '.join(VARIABLES)})"}
    try:
        with fresh_database(url) as store:
            return {**result, **_measure(workdir, repos, latency_ms, store)}
    except Exception as exc:  # the server refused, psycopg missing: say so, measure the rest
        return {**result, "unavailable": f"PostgreSQL store unavailable: {exc}"[:300]}


def _measure(workdir: Path, repos: int, latency_ms: int, store: str) -> dict[str, Any]:
    sim = Simulator(remediation.scenario(repos, "local"), workdir / "sim")
    with sim:
        path = workdir / "profile.yaml"
        path.write_text(yaml.safe_dump(remediation.profile(sim, "local"), sort_keys=False))
        scale.prewarm(sim)
        sim.admin.set_latency(latency_ms)
        sim.admin.reset()
        started = time.perf_counter()
        procs = {k: _start(sim, path, workdir, k, store) for k in (1, 2)}
        summaries = {k: _finish(p) for k, p in procs.items()}
        seconds = time.perf_counter() - started
        sim.admin.set_latency(0)
        report = _agentd(sim, path, workdir / "host-3", store, "report", "--format", "json")
        pulls = Counter(r.name for r in sim.scenario.repositories for _ in sim.admin.pulls(r.name))
    handled = {k: _repositories(s) for k, s in summaries.items()}
    combined = json.loads(report.stdout) if report.returncode == 0 else {}
    return {
        "seconds": round(seconds, 1),
        "exit_codes": [summaries[k].get("exit_code") for k in (1, 2)],
        "shard_repositories": [len(handled[k]) for k in (1, 2)],
        "handled_by_both": len(handled[1] & handled[2]),
        "handled_by_neither": repos - len(handled[1] | handled[2]),
        "overlapped": _overlapped(summaries[1], summaries[2]),
        "repositories_with_duplicate_prs": sum(1 for n in pulls.values() if n > 1),
        "repositories_without_pr": repos - len(pulls),
        "combined_runs": len(combined.get("combined_runs", [])),
        "combined_units": len(combined.get("units", [])),
        "combined_repositories": len({u["repository"] for u in combined.get("units", [])}),
        "report_exit_code": report.returncode,
    }


def _env(sim: Simulator, host: Path, store: str) -> dict[str, str]:
    home = host / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**measure.base_env(sim, host / "state", home), "AGENTD_STORE_URL": store}


def _start(
    sim: Simulator, path: Path, workdir: Path, k: int, store: str
) -> tuple[subprocess.Popen[bytes], Path]:
    host = workdir / f"host-{k}"
    env = _env(sim, host, store)
    argv = [sys.executable, "-m", "agentd", "run", "--profile", str(path), "--shard", f"{k}/2"]
    output = host / "summary.json"
    with output.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [*argv, "--json"], env=env, cwd=measure.ROOT, stdout=out, stderr=subprocess.DEVNULL
        )
    return proc, output


def _finish(started: tuple[subprocess.Popen[bytes], Path]) -> dict[str, Any]:
    proc, output = started
    code = proc.wait()
    text = output.read_text(encoding="utf-8")
    try:
        summary = json.loads(text)
    except ValueError:
        summary = {}
    return {**summary, "exit_code": code}


def _agentd(
    sim: Simulator, path: Path, host: Path, store: str, *args: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "agentd", args[0], "--profile", str(path), *args[1:]]
    return subprocess.run(
        argv, env=_env(sim, host, store), cwd=measure.ROOT, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def _repositories(summary: dict[str, Any]) -> set[str]:
    return {str(u["repository"]) for u in summary.get("units", [])}


def _overlapped(one: dict[str, Any], two: dict[str, Any]) -> bool:
    """Whether the two runs were under way at the same time (ISO timestamps compare)."""
    try:
        return bool(
            one["generated_at"] <= two["finished_at"] and two["generated_at"] <= one["finished_at"]
        )
    except KeyError:
        return False
