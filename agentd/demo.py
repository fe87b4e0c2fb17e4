"""`agentd demo`: one complete, offline, locked pass against the bundled simulator.

The newcomer's first command. It starts the simulator with a built-in organisation, writes
a profile for its clones (auto_merge, the usual rules), runs the same engine `agentd run`
uses, and prints the report a person would want to read.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from agentd.engine.run import RunOptions, execute_run
from agentd.github.auth import Token, TokenKind
from agentd.profile import load_profile
from agentd.report import render_summary
from agentd.settings import Settings
from agentd.simulator import SCENARIOS, Simulator

DEMO_TOKEN = "ghp_" + "agentdDemoToken" + "0" * 21


def demo_profile(sim: Simulator) -> dict[str, Any]:
    clones = sim.workdir / "clones"
    python = sys.executable
    compile_check = f"{python} -m compileall -q ."

    def repo(name: str, ecosystems: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "repo": name,
            "local_path": str(clones / name),
            "targets": [
                {
                    "target_id": "root",
                    "path": ".",
                    "ecosystems": ecosystems,
                    "verification_commands": [compile_check],
                }
            ],
            **extra,
        }

    return {
        "profile": {
            "profile_id": "demo",
            "owner": sim.owner,
            "owner_type": "org",
            "runtime": {"local_clone_root": str(clones), "max_parallel_repos": 3},
            "defaults": {
                "mutation_mode": "auto_merge",
                "auto_merge": {
                    "ecosystem_rules": {
                        "pip": {
                            "allow_lockfile_only": True,
                            "require_fully_pinned_requirements_txt_as_lockfile": True,
                            "forbid_manifest_changes": True,
                        }
                    }
                },
                "code_scanning": {
                    "allowlisted_rules": [
                        "actions/missing-workflow-permissions",
                        "actions/unpinned-tag",
                    ],
                    "auto_merge_rules": ["actions/missing-workflow-permissions"],
                },
            },
        },
        "repositories": [
            repo("payments-api", ["pip"]),
            repo("web-portal", ["actions"]),
            repo("search-service", ["pip"]),
            repo("infra-config", ["pip"]),
            repo(
                "billing",
                ["pip"],
                automation_mode="manual_only",
                manual_only_reason="PCI scope: changes go through the change board",
            ),
        ],
    }


def run_demo(workdir: Path | None = None) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="agentd-demo-") as tmp:
        root = workdir or Path(tmp)
        print("agentd demo: starting the bundled GitHub simulator (offline) ...", flush=True)
        with Simulator(SCENARIOS / "demo.yaml", root / "sim") as sim:
            profile_path = root / "demo-profile.yaml"
            profile_path.write_text(
                yaml.safe_dump(demo_profile(sim), sort_keys=False), encoding="utf-8"
            )
            settings = Settings(api_url=sim.api_url, git_url=sim.git_url, state_dir=root / "state")
            print(
                f"  simulator at {sim.api_url}; {len(sim.scenario.repositories)} repositories of {sim.owner}; profile {profile_path}"
            )
            print("  running one locked pass under auto_merge ...\n", flush=True)
            summary = execute_run(
                load_profile(profile_path),
                settings,
                RunOptions(),
                environ={},
                token=Token(TokenKind.CLASSIC_PAT, DEMO_TOKEN),
            )
            print(render_summary(summary))
            requests = sim.admin.requests()
            print(
                f"\nThe simulator saw {len(requests)} API requests ({sum(r.mutating for r in requests)} mutating) "
                f"in {time.monotonic() - started:.1f}s."
            )
            print(
                "Next: copy profiles/template/profile.yaml, run `agentd validate`, then `agentd discover`."
            )
    return 1 if summary.has_failures else 0
