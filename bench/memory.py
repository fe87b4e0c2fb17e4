"""Peak memory of discovery over many repositories and alerts (run in a child process)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from agentd.simulator import Simulator

TOKEN = "ghp_" + "m" * 36
# Ten alerts per repository from the real advisories: requests 3, urllib3 3, jinja2 2, ecdsa 1, idna 0 ...
REQUIREMENTS = "requests==2.25.0\nurllib3==1.26.5\njinja2==3.1.2\necdsa==0.18.0\n"
LOCK = json.dumps(
    {"lockfileVersion": 3, "packages": {"": {}, "node_modules/cookie": {"version": "0.6.0"}}}
)

CHILD = """
import json, resource, sys, time
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.client import GitHubClient
from agentd.inventory import collect_inventory
from agentd.mutation import MutationPolicy
from agentd.vocabulary import AlertClass, MutationMode
api_url, repos = sys.argv[1], json.loads(sys.argv[2])
client = GitHubClient(api_url, Token(TokenKind.CLASSIC_PAT, sys.argv[3]), MutationPolicy(MutationMode.REPORT_ONLY))
started = time.perf_counter()
inventory = collect_inventory(GitHubAPI(client, "mem-org", "org"), repos, [AlertClass.DEPENDABOT], max_workers=8)
print(json.dumps({"alerts": inventory.open_counts()["dependabot"], "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scenario(repos: int) -> dict[str, Any]:
    return {
        "owner": {"login": "mem-org", "type": "org"},
        "rate_limit": {"limit": 10_000_000},
        "repositories": [
            {
                "name": f"r{i:04d}",
                "files": {"requirements.txt": REQUIREMENTS, "package-lock.json": LOCK},
            }
            for i in range(repos)
        ],
    }


def run(workdir: Path, repos: int) -> dict[str, Any]:
    with Simulator(scenario(repos), workdir / f"mem-{repos}") as sim:
        names = [r.name for r in sim.scenario.repositories]
        result = subprocess.run(
            [sys.executable, "-c", CHILD, sim.api_url, json.dumps(names), TOKEN],
            capture_output=True,
            text=True,
            check=True,
        )
    data: dict[str, Any] = json.loads(result.stdout)
    data["repos"] = repos
    data["children_max_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return data
