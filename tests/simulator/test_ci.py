"""The simulator's repository CI (scenario `ci:`): check runs for PR heads, as GitHub Actions
creates them for a workflow on `pull_request` (opened, synchronize)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from conftest import TOKEN, sample_scenario

from agentd.simulator import Simulator

REPO = "/repos/acme-org/api"


def ci_scenario(**ci: Any) -> dict[str, Any]:
    scenario = sample_scenario()
    scenario["repositories"][0]["ci"] = {"checks": ["test"], "after_ms": 10_000, **ci}
    return scenario


def runs(http: httpx.Client, sha: str) -> list[tuple[str, str, str | None]]:
    found = http.get(f"{REPO}/commits/{sha}/check-runs").json()["check_runs"]
    return [(r["name"], r["status"], r["conclusion"]) for r in found if r["name"] != "ci"]


def open_pull(sim: Simulator, http: httpx.Client) -> dict[str, Any]:
    sim.admin.push("api", "feature", {"requirements.txt": "requests==2.32.4\n"})
    pull = http.post(
        f"{REPO}/pulls", json={"head": "feature", "base": "main", "title": "Bump", "body": "b"}
    )
    assert pull.status_code == 201, pull.text
    return dict(pull.json())


def test_ci_runs_for_an_opened_pr_and_for_every_push_to_its_head(tmp_path: Path) -> None:
    with (
        Simulator(ci_scenario(conclusion="failure"), tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as http,
    ):
        pushed = sim.admin.push("api", "before-any-pr", {"x.txt": "x\n"})
        assert runs(http, pushed) == []  # a branch without a PR: no pull_request event
        first = open_pull(sim, http)["head"]["sha"]
        assert runs(http, first) == [("test", "queued", None)]
        sim.admin.ci_elapse("api", 11)
        assert runs(http, first) == [("test", "completed", "failure")]
        second = sim.admin.push("api", "feature", {"app.py": "print('fixed')\n"})  # synchronize
        assert runs(http, second) == [("test", "queued", None)]
        assert runs(http, first) == [("test", "completed", "failure")]  # the old head keeps its


def test_auto_merge_waits_for_ci_and_merges_when_it_is_green(tmp_path: Path) -> None:
    scenario = ci_scenario()
    scenario["repositories"][0]["allow_auto_merge"] = True
    scenario["repositories"][0]["rulesets"] = [{"name": "main", "required_checks": ["test"]}]
    with (
        Simulator(scenario, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as http,
    ):
        pull = open_pull(sim, http)
        enable = http.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!, $oid: GitObjectID) { enablePullRequestAutoMerge("
                "input: {pullRequestId: $id, mergeMethod: SQUASH, expectedHeadOid: $oid}) "
                "{ pullRequest { number } } }",
                "variables": {"id": pull["node_id"], "oid": pull["head"]["sha"]},
            },
        )
        assert "errors" not in enable.json(), enable.text
        sim.admin.ci_elapse("api", 6)  # in progress: nothing merges
        assert not sim.admin.pulls("api")[0]["merged"]
        sim.admin.ci_elapse("api", 5)
        assert sim.admin.pulls("api")[0]["merged"]
