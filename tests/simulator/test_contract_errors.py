"""Every refusal the simulator can give validates against GitHub's published error schemas.

The success bodies are covered by test_contract.py; this module walks the error paths
(auth, versions, rate limits, faults, merges, pulls, protection, lookups) and the bodies of
API version 2026-03-10, against githubkit's generated models.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN
from pydantic import TypeAdapter

from agentd.simulator import Simulator

models = pytest.importorskip("githubkit_schemas.v2022_11_28.models")
models_2026 = pytest.importorskip("githubkit_schemas.v2026_03_10.models")

OWNER = "jdoe"
SCENARIO: dict[str, Any] = {
    "owner": {"login": OWNER, "type": "user"},
    "auth": {"tokens": [TOKEN]},
    "repositories": [
        {
            "name": "classic",
            "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "a\n"},
            "checks": [{"name": "ci", "outcome": "failure"}],
            "protection": {"required_checks": ["ci"], "readable": False},
            "allowed_merge_methods": ["merge", "squash"],
        },
        {
            "name": "ruled",
            "files": {"app.py": "a\n"},
            "checks": [{"name": "lint", "outcome": "pending"}],
            "rulesets": [{"required_checks": ["lint"]}],
        },
    ],
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@x",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
}


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[tuple[Simulator, httpx.Client]]:
    with (
        Simulator(SCENARIO, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as client,
    ):
        yield sim, client


def push_branch(sim: Simulator, repo: str, branch: str, content: str) -> None:
    clone = sim.clone_path(repo)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(clone), *args], check=True, capture_output=True, env=GIT_ENV
        )

    git("checkout", "-q", "-B", branch, "origin/main")
    (clone / "app.py").write_text(content)
    git("commit", "-qam", f"change on {branch}")
    git("push", "-q", "origin", branch)


def refused(response: httpx.Response, status: int, model: Any = None) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text[:300])
    body: dict[str, Any] = response.json()
    TypeAdapter(model or models.BasicError).validate_python(body)
    assert body.get("status") == str(status)
    return body


def open_pull(sim: Simulator, client: httpx.Client, repo: str, branch: str) -> dict[str, Any]:
    push_branch(sim, repo, branch, f"{branch}\n")
    created = client.post(
        f"/repos/{OWNER}/{repo}/pulls", json={"head": branch, "base": "main", "title": branch}
    )
    assert created.status_code == 201, created.text
    pull: dict[str, Any] = created.json()
    return pull


def test_authentication_and_version_refusals(refusing: tuple[Simulator, httpx.Client]) -> None:
    sim, client = refusing
    refused(httpx.get(f"{sim.api_url}/user"), 401)
    unknown = httpx.get(f"{sim.api_url}/user", headers={"Authorization": "token ghp_" + "u" * 36})
    assert refused(unknown, 401)["message"] == "Bad credentials"
    old = client.get("/user", headers={"X-GitHub-Api-Version": "2019-01-01"})
    refused(old, 400)


def test_rate_limit_and_fault_refusals(refusing: tuple[Simulator, httpx.Client]) -> None:
    sim, client = refusing
    sim.admin.inject("status", count=1, status=502)
    refused(client.get("/user"), 502)
    sim.admin.inject("secondary", retry_after=7)
    assert "secondary rate limit" in refused(client.get("/user"), 403)["message"]
    sim.admin.set_rate_limit(TOKEN, used=5000)
    assert "API rate limit exceeded" in refused(client.get("/user"), 403)["message"]


def test_merge_refusals(refusing: tuple[Simulator, httpx.Client]) -> None:
    sim, client = refusing
    pull = open_pull(sim, client, "classic", "bump")
    merge_url = f"/repos/{OWNER}/classic/pulls/{pull['number']}/merge"
    refused(client.get(merge_url), 404)  # not merged yet
    stale = client.put(merge_url, json={"sha": "1" * 40})
    assert refused(stale, 409)["message"].startswith("Head branch was modified")
    rebase = client.put(merge_url, json={"sha": pull["head"]["sha"], "merge_method": "rebase"})
    assert refused(rebase, 405)["message"] == "Rebase merges are not allowed on this repository."
    red = client.put(merge_url, json={"sha": pull["head"]["sha"]})
    assert refused(red, 405)["message"] == 'Required status check "ci" is expected.'
    ruled = open_pull(sim, client, "ruled", "lint-me")
    ruleset = client.put(
        f"/repos/{OWNER}/ruled/pulls/{ruled['number']}/merge", json={"sha": ruled["head"]["sha"]}
    )
    assert refused(ruleset, 405)["message"].startswith("Repository rule violations found\n\n")
    client.patch(f"/repos/{OWNER}/classic/pulls/{pull['number']}", json={"state": "closed"})
    closed = client.put(merge_url, json={"sha": pull["head"]["sha"]})
    assert refused(closed, 405)["message"] == "Pull Request is not mergeable"


def test_pull_creation_refusals(refusing: tuple[Simulator, httpx.Client]) -> None:
    sim, client = refusing
    open_pull(sim, client, "classic", "twice")
    url = f"/repos/{OWNER}/classic/pulls"
    duplicate = client.post(url, json={"head": "twice", "base": "main", "title": "again"})
    body = refused(duplicate, 422, models.ValidationError)
    assert body["errors"][0]["message"] == f"A pull request already exists for {OWNER}:twice."
    missing = client.post(url, json={"head": "no-such-branch", "base": "main", "title": "t"})
    refused(missing, 422, models.ValidationError)
    empty = client.post(url, json={"head": "main", "base": "main", "title": "t"})
    refused(empty, 422, models.ValidationError)


def test_lookup_refusals(refusing: tuple[Simulator, httpx.Client]) -> None:
    _sim, client = refusing
    repo = f"/repos/{OWNER}/classic"
    protection = client.get(f"{repo}/branches/main/protection")
    assert refused(protection, 403)["message"] == "Resource not accessible by personal access token"
    refused(client.get(f"{repo}/branches/no-such-branch"), 404)
    refused(client.get(f"/repos/{OWNER}/ruled/branches/main/protection"), 404)
    for org_list in ("dependabot", "code-scanning", "secret-scanning"):
        refused(client.get(f"/orgs/{OWNER}/{org_list}/alerts"), 404)  # a user owner
    refused(client.get(f"/orgs/{OWNER}/repos"), 404)
    refused(client.get(f"{repo}/dependabot/alerts/999"), 404)
    refused(client.get(f"{repo}/code-scanning/alerts/999"), 404)
    refused(client.get(f"{repo}/secret-scanning/alerts/999"), 404)
    refused(client.get(f"{repo}/dependabot/alerts", params={"after": "%%%"}), 400)
    refused(client.get(f"{repo}/commits/{'f' * 40}/check-runs"), 422)
    refused(client.get(f"{repo}/commits/{'f' * 40}/status"), 422)
    refused(client.get(f"{repo}/pulls/999"), 404)
    refused(client.get(f"{repo}/issues/999/comments"), 404)
    refused(client.patch(f"{repo}/issues/comments/999", json={"body": "x"}), 404)
    refused(client.get(f"{repo}/vulnerability-alerts/nothing-here"), 404)


def test_bodies_of_api_version_2026_03_10(refusing: tuple[Simulator, httpx.Client]) -> None:
    _sim, client = refusing
    headers = {"X-GitHub-Api-Version": "2026-03-10"}
    limits = client.get("/rate_limit", headers=headers)
    TypeAdapter(models_2026.RateLimitOverview).validate_python(limits.json())
    alerts = client.get(f"/repos/{OWNER}/classic/dependabot/alerts", headers=headers).json()
    assert alerts
    TypeAdapter(list[models_2026.DependabotAlert]).validate_python(alerts)
