"""Discovery cost: agentd's inventory against a naive sequential walk.

The naive baseline is what a `gh api --paginate` loop does: for every repository, read its
metadata and each alert class's list, one request after another, with no caching.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.cache import ConditionalCache
from agentd.github.client import GitHubClient
from agentd.inventory import collect_inventory
from agentd.mutation import MutationPolicy
from agentd.simulator import Simulator
from agentd.vocabulary import AlertClass, MutationMode

TOKEN = "ghp_" + "b" * 36
CLASSES = list(AlertClass)


def scenario(repos: int) -> dict[str, Any]:
    items = []
    for index in range(repos):
        files = (
            {"requirements.txt": "requests==2.25.0\n"} if index % 2 == 0 else {"README.md": "x\n"}
        )
        if index % 5 == 0:
            files[".github/workflows/ci.yml"] = (
                "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n"
            )
        features = {"code_scanning": "disabled"} if index % 7 == 3 else {}
        items.append({"name": f"repo-{index:04d}", "files": files, "features": features})
    return {
        "owner": {"login": "bench-org", "type": "org"},
        "rate_limit": {"limit": 1_000_000},
        "repositories": items,
    }


@dataclass
class Measurement:
    label: str
    seconds: float
    requests: int
    rate_limit_used: int


def _used(sim: Simulator) -> int:
    return sim.admin.rate_limit(TOKEN)["used"]


def agentd_inventory(sim: Simulator, cache_dir: Path, repos: list[str], label: str) -> Measurement:
    client = GitHubClient(
        sim.api_url,
        Token(TokenKind.CLASSIC_PAT, TOKEN),
        MutationPolicy(MutationMode.REPORT_ONLY),
        cache=ConditionalCache(cache_dir),
    )
    api = GitHubAPI(client, "bench-org", "org")
    sim.admin.reset()
    before = _used(sim)
    started = time.perf_counter()
    inventory = collect_inventory(api, repos, CLASSES, max_workers=8)
    elapsed = time.perf_counter() - started
    client.close()
    assert len(inventory.repos) == len(repos)
    return Measurement(label, elapsed, len(sim.admin.requests()), _used(sim) - before)


def naive_walk(sim: Simulator, repos: list[str]) -> Measurement:
    sim.admin.reset()
    before = _used(sim)
    started = time.perf_counter()
    paths = {
        AlertClass.DEPENDABOT: "dependabot/alerts",
        AlertClass.CODE_SCANNING: "code-scanning/alerts",
        AlertClass.SECRET_SCANNING: "secret-scanning/alerts",
    }
    with httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for repo in repos:
            http.get(f"/repos/bench-org/{repo}")
            for alert_class in CLASSES:
                url: str | None = (
                    f"/repos/bench-org/{repo}/{paths[alert_class]}?state=open&per_page=100"
                )
                while url:
                    response = http.get(url)
                    link = response.headers.get("link", "")
                    url = link.split(";")[0].strip("<>") if 'rel="next"' in link else None
    elapsed = time.perf_counter() - started
    return Measurement(
        "naive sequential walk", elapsed, len(sim.admin.requests()), _used(sim) - before
    )


def run(workdir: Path, repos: int, latency_ms: int) -> list[Measurement]:
    with Simulator(scenario(repos), workdir / f"sim-{repos}", latency_ms=latency_ms) as sim:
        names = [r.name for r in sim.scenario.repositories]
        cache = workdir / f"cache-{repos}"
        cold = agentd_inventory(sim, cache, names, "agentd cold")
        warm = agentd_inventory(sim, cache, names, "agentd warm (conditional)")
        naive = naive_walk(sim, names)
    return [cold, warm, naive]
