"""The organisation's code security configurations: GitHub's shapes, cursor pagination,
status filter and refusals, and default setup actually turning code scanning on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN

from agentd.simulator import Simulator
from agentd.simulator.scenario import ScenarioError, load_scenario

CONFIGURATIONS = "/orgs/acme-org/code-security/configurations"


def scenario(**overrides: Any) -> dict[str, Any]:
    names = ["on", "enforced", "detached", "failed", "off-setup", "plain"]
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": n, "files": {"README.md": "x\n"}, "features": {"code_scanning": "no_analysis"}}
            for n in names
        ],
        "code_security_configurations": [
            {"name": "GitHub recommended", "target_type": "global"},
            {
                "name": "org",
                "repositories": {
                    "on": "attached",
                    "enforced": "enforced",
                    "detached": "detached",
                    "failed": "failed",
                },
            },
            {
                "name": "scan off",
                "code_scanning_default_setup": "disabled",
                "repositories": {"off-setup": "attached"},
            },
        ],
        **overrides,
    }


@pytest.fixture
def http(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    overrides = getattr(request, "param", {})
    with (
        Simulator(scenario(**overrides), tmp_path / "sim") as sim,
        httpx.Client(
            base_url=sim.api_url,
            headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
        ) as client,
    ):
        yield client


def test_configurations_are_listed_and_cursor_paginated(http: httpx.Client) -> None:
    first = http.get(CONFIGURATIONS, params={"per_page": "2"})
    assert first.status_code == 200
    assert [(c["id"], c["name"], c["target_type"]) for c in first.json()] == [
        (17, "GitHub recommended", "global"),
        (18, "org", "organization"),
    ]
    assert first.json()[1]["code_scanning_default_setup"] == "enabled"
    after = first.links["next"]["url"]
    assert "after=" in after and "&page=" not in after and "?page=" not in after
    rest = http.get(after).json()
    assert [c["name"] for c in rest] == ["scan off"]
    assert rest[0]["code_scanning_default_setup"] == "disabled"
    globals_only = http.get(CONFIGURATIONS, params={"target_type": "global"}).json()
    assert [c["id"] for c in globals_only] == [17]


def test_attached_repositories_are_filtered_by_status(http: httpx.Client) -> None:
    everyone = http.get(f"{CONFIGURATIONS}/18/repositories").json()
    assert [(r["status"], r["repository"]["full_name"]) for r in everyone] == [
        ("attached", "acme-org/on"),
        ("enforced", "acme-org/enforced"),
        ("detached", "acme-org/detached"),
        ("failed", "acme-org/failed"),
    ]
    applied = http.get(f"{CONFIGURATIONS}/18/repositories", params={"status": "attached,enforced"})
    assert [r["repository"]["name"] for r in applied.json()] == ["on", "enforced"]
    paged = http.get(f"{CONFIGURATIONS}/18/repositories", params={"per_page": "1"})
    assert len(paged.json()) == 1 and "after=" in paged.links["next"]["url"]
    assert http.get(f"{CONFIGURATIONS}/999/repositories").status_code == 404


def test_default_setup_turns_code_scanning_on_where_it_applies(http: httpx.Client) -> None:
    def code(name: str) -> int:
        return http.get(f"/repos/acme-org/{name}/code-scanning/alerts").status_code

    assert code("on") == 200 and code("enforced") == 200
    # not in force (detached, failed), default setup disabled, or attached nowhere
    assert [code(n) for n in ("detached", "failed", "off-setup", "plain")] == [404] * 4


@pytest.mark.parametrize("http", [{"viewer": {"security_manager": False}}], indirect=True)
def test_a_member_without_the_role_is_refused(http: httpx.Client) -> None:
    for path in (CONFIGURATIONS, f"{CONFIGURATIONS}/18/repositories"):
        refused = http.get(path)
        assert refused.status_code == 403
        assert refused.json()["message"] == "Must have admin rights to Repository."


@pytest.mark.parametrize(
    "http",
    [{"auth": {"fine_grained": True, "permissions": {"metadata": "read"}}}],
    indirect=True,
)
def test_a_fine_grained_token_needs_organisation_administration(http: httpx.Client) -> None:
    refused = http.get(CONFIGURATIONS)
    assert refused.status_code == 403
    assert refused.headers["X-Accepted-GitHub-Permissions"] == "organization_administration=read"


def test_a_user_account_has_no_configurations(tmp_path: Path) -> None:
    user = scenario(owner={"login": "alice", "type": "user"})
    with (
        Simulator(user, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        assert client.get("/orgs/alice/code-security/configurations").status_code == 404


@pytest.mark.parametrize(
    ("configurations", "why"),
    [
        ([{"name": "a", "repositories": {"nope": "attached"}}], "no repository 'nope'"),
        (
            [
                {"name": "a", "repositories": {"on": "attached"}},
                {"name": "b", "repositories": {"on": "attached"}},
            ],
            "one configuration at most",
        ),
    ],
)
def test_a_scenario_attaching_what_github_cannot_is_refused(
    configurations: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(ScenarioError, match=why):
        load_scenario(scenario(code_security_configurations=configurations))


def test_without_configurations_nothing_changes() -> None:
    parsed, _ = load_scenario(scenario(code_security_configurations=[]))
    assert {r.features.code_scanning for r in parsed.repositories} == {"no_analysis"}
