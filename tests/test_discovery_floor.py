"""Discovery at the request floor: one repository listing, the organisation streams, and
only the coverage probes nothing else can settle; a report-only run reads no repository on
its own; probe answers without validators are remembered for a bounded time, per profile."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from e2e import e2e, verify_ok

from agentd.coverage_memory import CoverageMemory
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.cache import ConditionalCache
from agentd.github.client import GitHubClient
from agentd.inventory import Coverage, collect_inventory
from agentd.mutation import MutationPolicy
from agentd.simulator import Simulator
from agentd.simulator.http import LoggedRequest
from agentd.vocabulary import AlertClass, MutationMode

TOKEN = "ghp_" + "F" * 36
REPO_READ = "/repos/{owner}/{repo}"
STREAMS = {f"/orgs/{{org}}/{kind}/alerts" for kind in ("dependabot", "code-scanning", "secret-scanning")}  # fmt: skip
NO_ANALYSIS = [f"r{i:02d}" for i in range(10, 14)]
DEPENDABOT_OFF = "r14"
CODE_SCANNING_ON = "r15"  # enabled, no alerts: only a probe tells it from "no analysis"
ARCHIVED = "r16"


def fleet(owner: dict[str, str] | None = None) -> dict[str, Any]:
    """20 private repositories: 8 with Dependabot alerts; code scanning off (settled by the
    listing's security_and_analysis) except 4 without analysis and one enabled; secret
    scanning off on half (settled by the listing too)."""
    repos = []
    for i in range(20):
        name = f"r{i:02d}"
        files = {"requirements.txt": "requests==2.25.0\n"} if i < 8 else {"README.md": "x\n"}
        code = "no_analysis" if name in NO_ANALYSIS else "disabled"
        features: dict[str, str] = {
            "code_scanning": "enabled" if name == CODE_SCANNING_ON else code,
            "secret_scanning": "disabled" if i % 2 else "enabled",
        }
        if name == DEPENDABOT_OFF:
            features["dependabot_alerts"] = "disabled"
        repos.append(
            {"name": name, "files": files, "features": features, "archived": name == ARCHIVED}
        )
    return {"owner": owner or {"login": "acme-org", "type": "org"}, "repositories": repos}


REPOS = [{"repo": f"r{i:02d}"} for i in range(20)]


def discover(env: Any) -> dict[str, Any]:
    result = env.agentd("discover", "--profile", str(env.profile_path), "--json")
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def url(request: LoggedRequest) -> str:
    return request.path + "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))


def probes(requests: list[LoggedRequest]) -> Counter[tuple[str, str]]:
    """Per-repository alert listings: (repository, class)."""
    return Counter(
        (r.path.split("/")[3], r.path.split("/")[4])
        for r in requests
        if r.route.startswith(REPO_READ + "/") and r.route.endswith("/alerts")
    )


def rate_limited(requests: list[LoggedRequest]) -> list[str]:
    return [f"{r.path} {r.status}" for r in requests if r.status != 304 and r.path != "/rate_limit"]


def test_cold_discovery_is_the_listing_the_streams_and_the_needed_probes(tmp_path: Path) -> None:
    with e2e(tmp_path, fleet(), REPOS) as env:
        data = discover(env)
        requests = env.sim.admin.requests()
        routes = Counter(r.route for r in requests)
        assert routes["/orgs/{org}/repos"] == 1
        assert all(routes[stream] == 1 for stream in STREAMS), routes
        assert routes[REPO_READ] == 0, "metadata comes from the listing"
        # Probed: no analysis (4), Dependabot off (1), code scanning enabled (1), and the
        # archived repository's alert lists (its settings say nothing about them); nothing
        # the streams or security_and_analysis settle.
        assert set(probes(requests)) == {
            *((name, "code-scanning") for name in NO_ANALYSIS),
            (DEPENDABOT_OFF, "dependabot"),
            (CODE_SCANNING_ON, "code-scanning"),
            (ARCHIVED, "dependabot"),
            (ARCHIVED, "secret-scanning"),
        }
        assert max(Counter(url(r) for r in requests).values()) == 1, "a URL read twice"
        coverage = {r["repo"]: r["coverage"] for r in data["repos"]}
        assert coverage["r00"]["dependabot"]["open_alerts"] == 3
        assert coverage["r08"]["dependabot"] == {"coverage": "enabled", "open_alerts": 0, "detail": ""}  # fmt: skip
        assert coverage["r01"]["secret_scanning"]["coverage"] == "disabled"
        assert coverage["r02"]["secret_scanning"]["open_alerts"] == 0
        assert coverage["r00"]["code_scanning"]["coverage"] == "disabled"
        assert coverage["r10"]["code_scanning"]["coverage"] == "no_analysis"
        assert coverage[CODE_SCANNING_ON]["code_scanning"]["open_alerts"] == 0
        assert coverage[DEPENDABOT_OFF]["dependabot"]["coverage"] == "disabled"

        env.sim.admin.reset()
        again = discover(env)
        warm = env.sim.admin.requests()
        assert len(rate_limited(warm)) <= 5, rate_limited(warm)
        # Probes that ended 403/404 (no validator) are remembered, not asked again.
        assert set(probes(warm)) == {
            (CODE_SCANNING_ON, "code-scanning"),
            (ARCHIVED, "dependabot"),
            (ARCHIVED, "secret-scanning"),
        }
        probed_again = [r for r in warm if r.route.startswith(REPO_READ + "/")]
        assert all(r.status == 304 for r in probed_again), "a probe that answered 200 is free"
        assert {r["repo"]: r["coverage"] for r in again["repos"]} == coverage


def test_a_report_only_run_reads_no_repository_on_its_own(tmp_path: Path) -> None:
    with e2e(tmp_path, fleet(), REPOS) as env:
        result, summary = env.run("--mutation-mode", "report_only")
        assert result.returncode == 0, result.stderr[-2000:]
        requests = env.sim.admin.requests()
        assert [r.path for r in requests if r.route == REPO_READ] == []
        assert Counter(r.route for r in requests)["/orgs/{org}/repos"] == 1
        archived = env.units(summary, repository=ARCHIVED, alert_class="dependabot")
        assert archived and all("archived" in u["detail"] for u in archived), archived


def test_a_user_owned_profile_is_listed_through_user_repos(tmp_path: Path) -> None:
    with e2e(tmp_path, fleet({"login": "alice", "type": "user"}), REPOS) as env:
        data = discover(env)
        requests = env.sim.admin.requests()
        listing = [r for r in requests if r.route == "/user/repos"]
        assert len(listing) == 1 and "collaborator" in listing[0].query["affiliation"]
        assert [r.path for r in requests if r.route == REPO_READ] == []
        repos = {r["repo"]: r for r in data["repos"]}
        assert all(r["error"] == "" and r["default_branch"] == "main" for r in repos.values())
        assert repos["r00"]["coverage"]["dependabot"]["open_alerts"] == 3


def test_a_repository_missing_from_the_listing_gets_the_per_repository_error(
    tmp_path: Path,
) -> None:
    scenario = fleet()
    with e2e(tmp_path, scenario, [*REPOS, {"repo": "gone"}]) as env:
        result = env.agentd("discover", "--profile", str(env.profile_path), "--json")
        data = json.loads(result.stdout)
        gone = next(r for r in data["repos"] if r["repo"] == "gone")
        assert gone["error"] == "HTTP 404: Not Found"


def _inventory(sim: Simulator, cache: Path, memory: CoverageMemory) -> dict[str, Coverage]:
    client = GitHubClient(
        sim.api_url,
        Token(TokenKind.CLASSIC_PAT, TOKEN),
        MutationPolicy(MutationMode.REPORT_ONLY),
        cache=ConditionalCache(cache),
    )
    try:
        inventory = collect_inventory(
            GitHubAPI(client, "acme-org", "org"), NO_ANALYSIS, [AlertClass.CODE_SCANNING], 4, memory
        )
    finally:
        client.close()
    return {n: r.classes[AlertClass.CODE_SCANNING].coverage for n, r in inventory.repos.items()}


def test_coverage_memory_expires_and_is_per_profile(tmp_path: Path) -> None:
    now = [1_000_000.0]

    def memory(profile_id: str) -> CoverageMemory:
        path = tmp_path / "state" / "coverage" / f"{profile_id}.json"
        return CoverageMemory(path, ttl_seconds=6 * 3600, clock=lambda: now[0])

    with Simulator(fleet(), tmp_path / "sim") as sim:

        def probed(profile_id: str) -> int:
            sim.admin.reset()
            found = _inventory(sim, tmp_path / "cache", memory(profile_id))
            assert set(found.values()) == {Coverage.NO_ANALYSIS}
            return sum(probes(sim.admin.requests()).values())

        assert probed("one") == len(NO_ANALYSIS)
        now[0] += 5 * 3600
        assert probed("one") == 0  # remembered
        assert probed("two") == len(NO_ANALYSIS)  # another profile's memory is its own
        now[0] += 1.5 * 3600
        assert probed("one") == len(NO_ANALYSIS)  # 6.5 h: expired, asked again
        assert probed("one") == 0


def test_coverage_memory_off_asks_every_time(tmp_path: Path) -> None:
    with Simulator(fleet(), tmp_path / "sim") as sim:
        for _ in range(2):
            sim.admin.reset()
            off = CoverageMemory(tmp_path / "coverage.json", ttl_seconds=0)
            _inventory(sim, tmp_path / "cache", off)
            assert sum(probes(sim.admin.requests()).values()) == len(NO_ANALYSIS)
        assert not (tmp_path / "coverage.json").exists()


def test_two_merges_in_one_repository_never_read_it(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {
                    "svc-a/requirements.txt": "requests==2.25.0\n",
                    "svc-b/requirements.txt": "requests==2.25.0\n",
                },
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            }
        ],
    }
    targets = [
        {
            "target_id": name,
            "path": name,
            "ecosystems": ["pip"],
            "verification_commands": [verify_ok()],
        }
        for name in ("svc-a", "svc-b")
    ]
    with e2e(tmp_path, scenario, [{"repo": "api", "targets": targets}]) as env:
        result, summary = env.run()
        merged = env.units(summary, outcome="merged")
        assert len(merged) == 2, (summary.get("units"), result.stderr[-2000:])
        reads = [r for r in env.sim.admin.requests() if r.route == REPO_READ]
        # The listing shows the permissions the gate needs; merge settings are not read (a
        # refused method falls back to the next).
        assert reads == [], "no unit reads the repository itself"
