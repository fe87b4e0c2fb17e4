"""End-to-end harness: a simulator, a profile for its clones, and the real `agentd` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from support import require_tool

from agentd.simulator import Simulator
from agentd.vocabulary import ReasonCode

TOKEN = "ghp_" + "T0kenCanary" + "x" * 25
PYTHON = sys.executable


def verify_ok() -> str:
    return f"{PYTHON} -c \"print('tests pass')\""


@dataclass
class E2E:
    sim: Simulator
    root: Path
    profile_path: Path
    state_dir: Path
    token: str = TOKEN

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("AGENTD_", "GH_", "GITHUB_"))
        }
        return {
            **base,
            "GH_TOKEN": self.token,
            "GH_CONFIG_DIR": str(self.root / "gh-config"),
            "AGENTD_API_URL": self.sim.rest_url,  # with an API prefix (GHES): under it
            "AGENTD_GIT_URL": self.sim.git_url,
            "AGENTD_STATE_DIR": str(self.state_dir),
            "AGENTD_LOG_FORMAT": "json",
            **extra,
        }

    def agentd(
        self, *args: str, timeout: float = 180, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "agentd", *args],
            capture_output=True, text=True, env=self.env(**extra_env), timeout=timeout, check=False,
        )  # fmt: skip

    def run(
        self, *extra: str, **extra_env: str
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        result = self.agentd(
            "run", "--profile", str(self.profile_path), "--json", *extra, **extra_env
        )
        try:
            summary = json.loads(result.stdout)
        except ValueError:
            summary = {}
        self.check_honesty(summary)
        return result, summary

    def check_honesty(self, summary: dict[str, Any]) -> None:
        """Every unit speaks the closed vocabulary, and `merged` only where GitHub merged."""
        reasons = {r.value for r in ReasonCode}
        for unit in summary.get("units", []):
            if unit["outcome"] in ("blocked", "skipped", "failed"):
                assert unit["reason_code"] in reasons, unit
            else:
                assert unit["reason_code"] is None, unit
            if unit["outcome"] == "merged":
                pull = next(
                    p
                    for p in self.sim.admin.pulls(unit["repository"])
                    if p["number"] == unit["pr_number"]
                )
                assert pull["merged"], unit

    def units(self, summary: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
        return [u for u in summary.get("units", []) if all(u.get(k) == v for k, v in match.items())]

    def mutating(self) -> list[Any]:
        return self.sim.admin.mutating_requests()


def profile_for(
    sim: Simulator, repos: list[dict[str, Any]], mode: str = "auto_merge", **defaults: Any
) -> dict[str, Any]:
    clone_root = sim.workdir / "clones"
    entries = []
    for repo in repos:
        entry = {
            "repo": repo["repo"],
            "local_path": str(clone_root / repo["repo"]),
            **{k: v for k, v in repo.items() if k != "repo"},
        }
        entry.setdefault("automation_mode", "active")
        entry.setdefault(
            "targets",
            [
                {
                    "target_id": "root",
                    "path": ".",
                    "ecosystems": ["pip"],
                    "verification_commands": [verify_ok()],
                }
            ],
        )
        entries.append(entry)
    return {
        "profile": {
            "profile_id": "e2e",
            "owner": sim.owner,
            "owner_type": sim.scenario.owner.type,
            "runtime": {"local_clone_root": str(clone_root), "max_parallel_repos": 2},
            "defaults": {
                "mutation_mode": mode,
                "auto_merge": {
                    "ecosystem_rules": {
                        "pip": {
                            "allow_lockfile_only": True,
                            "require_fully_pinned_requirements_txt_as_lockfile": True,
                            "forbid_manifest_changes": True,
                        },
                        "npm": {"allow_lockfile_only": True, "forbid_manifest_changes": True},
                    }
                },
                **defaults,
            },
        },
        "repositories": entries,
    }


@contextmanager
def e2e(
    tmp_path: Path,
    scenario: dict[str, Any],
    repos: list[dict[str, Any]],
    mode: str = "auto_merge",
    **defaults: Any,
) -> Iterator[E2E]:
    require_tool("gh")
    with Simulator(scenario, tmp_path / "sim") as sim:
        # git over smart HTTP with token auth: every e2e run goes through agentd's askpass
        # path and GitHub's push rules, never the bare repositories' local paths.
        assert sim.git_url.startswith("http://"), sim.git_url
        profile = profile_for(sim, repos, mode, **defaults)
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
        yield E2E(sim, tmp_path, path, tmp_path / "state")
