"""Discovery and report-only cost at fleet scale, side by side with the real upstream loop.

One organisation of N repositories with A Dependabot alerts each (synthetic advisories for
packages pinned in requirements.txt, the real advisories' size), a workflow with code-scanning
findings in every fifth repository and code scanning disabled in every seventh (private, no
licence); the others scan through one organisation configuration with default setup. Against
one simulator, in one run:

- the upstream report-only loop (`../shared/compat/upstream-scripts/run_report_only.py`,
  `gh api --paginate` per repository and alert class) with the real `gh`;
- `agentd discover` cold (empty state directory) and warm (the same one again);
- `agentd run --mutation-mode report_only` (an empty state directory of its own).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentd.osv import DEFAULT_ADVISORY_DIR
from agentd.simulator import Simulator
from bench import measure

OWNER = "bench-org"
CLASSES = ["dependabot", "code_scanning", "secret_scanning"]
TEMPLATE = DEFAULT_ADVISORY_DIR / "GHSA-34jh-p97f-mpxf.json"  # a real PyPI advisory's size
GHSA_ALPHABET = "23456789cfghjmpqrvwx"
WORKFLOW = (
    "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: third-party-org/setup-thing@v1\n      - run: make test\n"
)


def upstream_script() -> Path:
    default = measure.ROOT.parent / "shared" / "compat" / "upstream-scripts" / "run_report_only.py"
    return Path(os.environ.get("BENCH_UPSTREAM_SCRIPT") or default)


@dataclass(frozen=True)
class Case:
    repos: int
    alerts: int  # Dependabot alerts per repository


def _ghsa(index: int) -> str:
    digits = []
    for _ in range(12):
        index, rest = divmod(index, len(GHSA_ALPHABET))
        digits.append(GHSA_ALPHABET[rest])
    word = "".join(digits)
    return f"GHSA-{word[:4]}-{word[4:8]}-{word[8:]}"


def write_advisories(directory: Path, count: int) -> None:
    """One advisory per synthetic package `benchpkg-K` (versions below 2.0.0 affected)."""
    directory.mkdir(parents=True, exist_ok=True)
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    for index in range(count):
        ghsa = _ghsa(1000 + index)
        advisory = {
            **template,
            "id": ghsa,
            "aliases": [],
            "summary": f"benchpkg-{index} mishandles input",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"benchpkg-{index}"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}
                    ],
                }
            ],
        }
        (directory / f"{ghsa}.json").write_text(json.dumps(advisory), encoding="utf-8")


def scenario(case: Case, advisories: Path) -> dict[str, Any]:
    pins = "".join(f"benchpkg-{k}==1.0.0\n" for k in range(case.alerts))
    repositories = []
    for index in range(case.repos):
        files = {"requirements.txt": pins}
        if index % 5 == 0:
            files[".github/workflows/ci.yml"] = WORKFLOW
        features = {"code_scanning": "disabled"} if index % 7 == 3 else {}
        repositories.append({"name": f"repo-{index:04d}", "files": files, "features": features})
    scanned = [r["name"] for r in repositories if not r["features"]]
    return {
        "owner": {"login": OWNER, "type": "org"},
        "rate_limit": {"limit": 10_000_000},
        "advisory_dir": str(advisories),
        "repositories": repositories,
        "code_security_configurations": [default_setup_configuration(scanned)],
    }


def default_setup_configuration(repositories: list[str]) -> dict[str, Any]:
    """How a GHAS organisation turns code scanning on today: one organisation configuration
    with default setup, attached to the repositories that scan."""
    return {
        "name": "org default setup",
        "code_scanning_default_setup": "enabled",
        "repositories": dict.fromkeys(repositories, "attached"),
    }


def profile(sim: Simulator, mode: str = "report_only") -> dict[str, Any]:
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "alert_classes": CLASSES,  # the upstream loop reads the classes its targets name
        "verification_commands": [f"{sys.executable} -c pass"],
    }
    return fleet_profile(sim, target, {"mutation_mode": mode})


def fleet_profile(
    sim: Simulator, target: dict[str, Any], defaults: dict[str, Any], **settings: Any
) -> dict[str, Any]:
    """The benchmark's profile: every repository of the simulator with `target`, cloned
    under the simulator's workdir, the default parallelism; `settings` (e.g. a budget) are
    further profile settings."""
    clones = sim.workdir / "clones"
    return {
        "profile": {
            "profile_id": "bench",
            "owner": OWNER,
            "owner_type": "org",
            "runtime": {"local_clone_root": str(clones), "max_parallel_repos": 4},
            **settings,
            "defaults": defaults,
        },
        "repositories": [
            {"repo": r.name, "local_path": str(clones / r.name), "targets": [target]}
            for r in sim.scenario.repositories
        ],
    }


def prewarm(sim: Simulator) -> None:
    """Derive every repository's alerts before anything is timed: GitHub has them ready, and
    otherwise whichever command runs first would pay the simulator's analysis."""
    for state in sim.world.repos.values():
        sim.world.refresh(state)


def units_of(sample: measure.Sample) -> int:
    try:
        return len(json.loads(sample.stdout).get("units", []))
    except ValueError:
        return 0


def _upstream_units(sample: measure.Sample | None) -> int | None:
    try:
        return int(json.loads(sample.stdout)["units"]) if sample else None
    except (ValueError, KeyError, TypeError):
        return None


def run(
    workdir: Path,
    case: Case,
    latency_ms: int,
    with_upstream: bool = True,
    with_discover: bool = True,
) -> dict[str, Any]:
    advisories = workdir / "advisories"
    write_advisories(advisories, case.alerts)
    with Simulator(scenario(case, advisories), workdir / "sim") as sim:
        path = workdir / "profile.yaml"
        path.write_text(yaml.safe_dump(profile(sim), sort_keys=False), encoding="utf-8")
        home = workdir / "home"
        home.mkdir(exist_ok=True)
        prewarm(sim)
        sim.admin.set_latency(latency_ms)
        samples: dict[str, measure.Sample] = {}
        if with_upstream and upstream_script().is_file():
            argv = [sys.executable, str(upstream_script()), "--profile", str(path)]
            argv += ["--output-root", str(workdir / "upstream-out")]
            samples["upstream"] = measure.run(sim, "upstream", argv, measure.gh_env(sim, home))
        if with_discover:
            state = workdir / "state-discover"
            args = ["discover", "--profile", str(path), "--json"]
            samples["discover_cold"] = measure.agentd(sim, "discover cold", args, state, home)
            samples["discover_warm"] = measure.agentd(sim, "discover warm", args, state, home)
        run_args = ["run", "--profile", str(path), "--mutation-mode", "report_only", "--json"]
        samples["report_only"] = measure.agentd(
            sim, "report_only", run_args, workdir / "state-run", home
        )
    cold, report = samples.get("discover_cold"), samples["report_only"]
    discovered = set(cold.reads) if cold else set()
    result: dict[str, Any] = {
        "repos": case.repos,
        "alerts_per_repo": case.alerts,
        "alerts": case.repos * case.alerts,
        "latency_ms": latency_ms,
        "rows": {name: sample.figures() for name, sample in samples.items()},
        "report_only_units": units_of(report),
        "upstream_units": _upstream_units(samples.get("upstream")),
        # reads a report-only run makes beyond discovery's own URLs (the units' own reads)
        "report_only_discovery_reads": sum(1 for r in report.reads if r in discovered),
        "report_only_other_requests": report.requests
        - sum(1 for r in report.reads if r in discovered),
    }
    failed = {name: s.stderr[-2000:] for name, s in samples.items() if s.exit_code != 0}
    if failed:
        result["failures"] = failed
    return result
