"""Remediation cost: `agentd run` in auto_merge over N pip repositories (one vulnerable pin
each, so one unit each), at the benchmark's latency, as a child process.

Two verification modes:
- `local`: a trivial verification command on this host, required check `ci` already green;
  agentd merges through the REST API.
- `ci` (`verification: ci`): no command here; the repository's own CI reports `ci` a while
  after each push, `merge_via: github_auto_merge`, and GitHub (the simulator) merges when the
  check turns green — counted after the run, with no later agentd run. When this agentd does
  not know the mode yet (the profile or the simulator refuses it), the case is reported as
  not measured, with the reason.

The figure that matters is agentd's own time per unit: wall time minus the verification
commands' and the updater tools' time (both from the run's own records), divided by units.
Requests are counted twice: all of the run's, and the units' own — all less discovery's
reads (the token, the owner, the repository listing, the organisation's streams and
configurations, per-repository coverage probes), which the scale rows measure on their own.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from agentd.errors import AgentdError
from agentd.profile import load_profile
from agentd.simulator import Simulator
from agentd.simulator.scenario import ScenarioError
from bench import measure, scale

OWNER = scale.OWNER
# GETs only discovery makes (a unit's own alert re-read, `…/dependabot/alerts`, is not here).
DISCOVERY = re.compile(
    r"^/(user|rate_limit|users/[^/]+|orgs/.*|repos/[^/]+/[^/]+"
    r"|repos/[^/]+/[^/]+/(code|secret)-scanning/alerts)\?"
)
CI_AFTER_MS = 3000  # the repository's CI finishes this long after a push


def scenario(repos: int, mode: str) -> dict[str, Any]:
    base: dict[str, Any] = {"protection": {"required_checks": ["ci"]}}
    if mode == "ci":
        base |= {"ci": {"checks": ["ci"], "after_ms": CI_AFTER_MS}, "allow_auto_merge": True}
    else:
        base |= {"checks": [{"name": "ci", "outcome": "success"}]}
    names = [f"svc-{i:04d}" for i in range(repos)]
    return {
        "owner": {"login": OWNER, "type": "org"},
        "rate_limit": {"limit": 10_000_000},
        "repositories": [
            {"name": name, "files": {"requirements.txt": "requests==2.25.0\n"}, **base}
            for name in names
        ],
        # code scanning on through default setup, as in a GHAS organisation: no probe each
        "code_security_configurations": [scale.default_setup_configuration(names)],
    }


def profile(sim: Simulator, mode: str) -> dict[str, Any]:
    target: dict[str, Any] = {"target_id": "root", "path": ".", "ecosystems": ["pip"]}
    if mode == "ci":
        target["verification"] = "ci"
    else:
        target["verification_commands"] = [f"{sys.executable} -c pass"]
    defaults: dict[str, Any] = {
        "mutation_mode": "auto_merge",
        "auto_merge": {
            "ecosystem_rules": {
                "pip": {"allow_lockfile_only": True, "forbid_manifest_changes": True}
            }
        },
    }
    if mode == "ci":
        defaults["merge_via"] = "github_auto_merge"
    budget = {"max_new_prs": 100_000, "max_merges": 100_000}
    return scale.fleet_profile(sim, target, defaults, budget=budget)


def log_records(stderr: str) -> Iterator[dict[str, Any]]:
    """The run's JSON log records (other lines skipped)."""
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def tool_seconds(stderr: str) -> float:
    """The updater tools' time, from the run's debug log (one record per tool command)."""
    return sum(
        (float(r["duration_seconds"]) for r in log_records(stderr)
         if "tool" in r and "duration_seconds" in r),
        0.0,
    )  # fmt: skip


def run(workdir: Path, repos: int, mode: str, latency_ms: int) -> dict[str, Any]:
    result: dict[str, Any] = {"repos": repos, "mode": mode, "latency_ms": latency_ms}
    try:
        sim = Simulator(scenario(repos, mode), workdir / "sim")
    except ScenarioError as exc:
        return {**result, "unavailable": f"the simulator has no repository CI yet ({exc})"[:300]}
    with sim:
        path = workdir / "profile.yaml"
        path.write_text(yaml.safe_dump(profile(sim, mode), sort_keys=False), encoding="utf-8")
        try:
            load_profile(path)
        except AgentdError as exc:
            return {**result, "unavailable": f"this agentd refuses the profile ({exc})"[:300]}
        scale.prewarm(sim)
        sim.admin.set_latency(latency_ms)
        home = workdir / "home"
        home.mkdir(exist_ok=True)
        args = ["run", "--profile", str(path), "--json", "-v"]
        sample = measure.agentd(sim, f"remediation {mode}", args, workdir / "state", home)
        try:
            summary = json.loads(sample.stdout)
        except ValueError:
            return {**result, "failed": sample.stderr[-2000:], **sample.figures()}
        units = summary.get("units", [])
        if mode == "ci":
            time.sleep(CI_AFTER_MS / 1000 + 1)  # the last CI runs finish; nobody runs agentd
        merged_on_github = sum(
            1 for r in sim.scenario.repositories for p in sim.admin.pulls(r.name) if p["merged"]
        )
    verification = sum(
        float(c.get("duration_seconds", 0)) for u in units for c in u.get("verification") or []
    )
    tools = tool_seconds(sample.stderr)
    merged = sum(1 for u in units if u.get("outcome") == "merged")
    count = max(1, len(units))
    return {
        **result,
        **sample.figures(),
        "units": len(units),
        "merged_by_agentd": merged,
        "merged_on_github": merged_on_github,
        "outcomes": _outcomes(units),
        "verification_seconds": round(verification, 2),
        "updater_tool_seconds": round(tools, 2),
        "overhead_per_unit_seconds": round((sample.seconds - verification - tools) / count, 3),
        "requests_per_unit": round(sample.requests / count, 1),
        "discovery_requests": discovery_requests(sample.reads),
        "units_started_twice": started_twice(sample.stderr),
    }


def started_twice(stderr: str) -> int:
    """How many units the run took through their lifecycle more than once (the debug log's
    "unit started", once per lifecycle; a later pass that only re-checks a gate or keeps a
    record logs no such line)."""
    starts = Counter(
        str(r.get("remediation_key")) for r in log_records(stderr) if r.get("msg") == "unit started"
    )
    return sum(1 for n in starts.values() if n > 1)


def discovery_requests(reads: list[str]) -> int:
    """How many of the run's requests were discovery's (see the module docstring)."""
    return sum(1 for read in reads if DISCOVERY.match(read))


def _outcomes(units: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for unit in units:
        key = unit.get("outcome", "?") + (
            f"/{unit['reason_code']}" if unit.get("reason_code") else ""
        )
        counts[key] = counts.get(key, 0) + 1
    return counts
