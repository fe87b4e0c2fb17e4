"""The REST API under a path prefix, as GitHub Enterprise Server serves it (/api/v3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import TOKEN, sample_scenario

from agentd.simulator import Simulator

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ghes(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(sample_scenario(), tmp_path / "sim", api_prefix="/api/v3/") as simulator:
        yield simulator


def test_the_api_is_served_only_under_the_prefix(ghes: Simulator) -> None:
    assert ghes.rest_url == f"{ghes.api_url}/api/v3"
    assert httpx.get(f"{ghes.rest_url}/user", headers=AUTH).status_code == 200
    root = httpx.get(f"{ghes.api_url}/user", headers=AUTH)
    assert root.status_code == 404
    assert root.json()["message"] == "Not Found"
    assert [(r.path, r.route) for r in ghes.admin.requests()][-1] == (
        "/user",
        "outside the API prefix",
    )


def test_links_and_urls_carry_the_prefix(ghes: Simulator) -> None:
    listing = httpx.get(
        f"{ghes.rest_url}/repos/acme-org/api/dependabot/alerts",
        params={"per_page": 1},
        headers=AUTH,
    )
    assert listing.status_code == 200
    assert listing.headers["link"].startswith(f"<{ghes.rest_url}/repos/acme-org/api/")
    assert listing.json()[0]["url"].startswith(f"{ghes.rest_url}/repos/acme-org/api/")
    following = httpx.get(listing.headers["link"].split(";")[0].strip("<>"), headers=AUTH)
    assert following.status_code == 200
    repo = httpx.get(f"{ghes.rest_url}/repos/acme-org/api", headers=AUTH).json()
    assert repo["owner"]["url"].startswith(f"{ghes.rest_url}/")


def test_graphql_is_beside_the_rest_prefix(ghes: Simulator) -> None:
    answer = httpx.post(f"{ghes.api_url}/api/graphql", json={}, headers=AUTH)
    assert answer.status_code == 200
    assert "A query attribute must be specified" in answer.text
    assert httpx.post(f"{ghes.api_url}/graphql", json={}, headers=AUTH).status_code == 404


def test_without_a_prefix_everything_is_the_api(sim: Simulator) -> None:
    assert sim.rest_url == sim.api_url
    assert httpx.get(f"{sim.api_url}/user", headers=AUTH).status_code == 200
    assert httpx.get(f"{sim.api_url}/api/v3/user", headers=AUTH).status_code == 404
