"""Remediation overhead: a full auto_merge run over many pip repositories, trivial verification.

Reports the wall time per remediation unit outside verification (the time agentd itself
spends: discovery, worktrees, updater, git, PR and merge calls, reports).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentd.engine.run import RunOptions, execute_run
from agentd.github.auth import Token, TokenKind
from agentd.profile import load_profile
from agentd.settings import Settings
from agentd.simulator import Simulator

TOKEN = "ghp_" + "r" * 36


def scenario(repos: int) -> dict[str, Any]:
    green = {
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
    }
    return {
        "owner": {"login": "bench-org", "type": "org"},
        "rate_limit": {"limit": 1_000_000},
        "repositories": [
            {"name": f"svc-{i:03d}", "files": {"requirements.txt": "requests==2.25.0\n"}, **green}
            for i in range(repos)
        ],
    }


def profile(sim: Simulator) -> dict[str, Any]:
    clones = sim.workdir / "clones"
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [f"{sys.executable} -c pass"],
    }
    return {
        "profile": {
            "profile_id": "bench",
            "owner": "bench-org",
            "owner_type": "org",
            "runtime": {"local_clone_root": str(clones), "max_parallel_repos": 4},
            "budget": {"max_new_prs": 1000, "max_merges": 1000},
            "defaults": {
                "mutation_mode": "auto_merge",
                "auto_merge": {
                    "ecosystem_rules": {
                        "pip": {"allow_lockfile_only": True, "forbid_manifest_changes": True}
                    }
                },
            },
        },
        "repositories": [
            {"repo": r.name, "local_path": str(clones / r.name), "targets": [target]}
            for r in sim.scenario.repositories
        ],
    }


@dataclass
class RemediationResult:
    repos: int
    units: int
    merged: int
    seconds: float
    verification_seconds: float

    @property
    def overhead_per_unit(self) -> float:
        return (self.seconds - self.verification_seconds) / max(1, self.units)


def run(workdir: Path, repos: int) -> RemediationResult:
    with Simulator(scenario(repos), workdir / "sim") as sim:
        path = workdir / "profile.yaml"
        path.write_text(yaml.safe_dump(profile(sim)))
        settings = Settings(api_url=sim.api_url, git_url=sim.git_url, state_dir=workdir / "state")
        started = time.perf_counter()
        summary = execute_run(
            load_profile(path),
            settings,
            RunOptions(),
            environ={},
            token=Token(TokenKind.CLASSIC_PAT, TOKEN),
        )
        elapsed = time.perf_counter() - started
    verification = sum(float(c["duration_seconds"]) for u in summary.units for c in u.verification)
    merged = sum(1 for u in summary.units if u.outcome.value == "merged")
    return RemediationResult(repos, len(summary.units), merged, elapsed, verification)
