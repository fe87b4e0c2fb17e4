"""Reading which repositories run default setup through a code security configuration:
once per run, the whole answer or none (then every repository is probed as before)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agentd.code_security import default_setup_repositories
from agentd.errors import RateLimitedError
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.client import GitHubClient
from agentd.mutation import MutationPolicy
from agentd.simulator import Simulator
from agentd.vocabulary import MutationMode

TOKEN = "ghp_" + "C" * 36
CONFIGURATIONS = "/orgs/{org}/code-security/configurations"


def scenario(owner_type: str = "org") -> dict[str, Any]:
    names = [f"r{i:03d}" for i in range(150)]
    return {
        "owner": {"login": "acme-org", "type": owner_type},
        "repositories": [{"name": n, "files": {"README.md": "x\n"}} for n in names],
        "code_security_configurations": [
            {"name": "no setup", "code_scanning_default_setup": "not_set",
             "repositories": {"r000": "attached"}},
            {"name": "default setup", "repositories": {
                **dict.fromkeys(names[1:130], "attached"), "r130": "enforced",
                "r131": "failed", "r132": "detached", "r133": "attaching"}},
        ],
    }  # fmt: skip


@contextmanager
def api_for(sim: Simulator, owner_type: str = "org") -> Iterator[GitHubAPI]:
    client = GitHubClient(
        sim.api_url,
        Token(TokenKind.CLASSIC_PAT, TOKEN),
        MutationPolicy(MutationMode.REPORT_ONLY),
        max_attempts=1,
    )
    try:
        yield GitHubAPI(client, "acme-org", owner_type)
    finally:
        client.close()


def test_attached_and_enforced_under_default_setup_in_two_pages(tmp_path: Path) -> None:
    with Simulator(scenario(), tmp_path / "sim") as sim, api_for(sim) as api:
        found = default_setup_repositories(api)
        assert found is not None
        assert set(found) == {f"r{i:03d}" for i in range(1, 131)}
        assert found["r130"].status == "enforced" and found["r001"].configuration == "default setup"
        assert default_setup_repositories(api) is found  # once per run
        routes = [r.route for r in sim.admin.requests()]
        # the configurations, then 130 attached repositories: two pages of 100
        assert routes.count(CONFIGURATIONS) == 1
        assert routes.count(f"{CONFIGURATIONS}/{{configuration_id}}/repositories") == 2


@pytest.mark.parametrize("route", ["configurations$", "repositories"])
def test_any_refusal_means_unknown_and_is_not_asked_again(tmp_path: Path, route: str) -> None:
    with Simulator(scenario(), tmp_path / "sim") as sim, api_for(sim) as api:
        sim.admin.inject("status", status=404, message="Not Found", route=route)
        assert default_setup_repositories(api) is None  # never a partial answer
        sent = len(sim.admin.requests())
        assert default_setup_repositories(api) is None
        assert len(sim.admin.requests()) == sent


def test_a_user_account_sends_nothing(tmp_path: Path) -> None:
    with Simulator(scenario("user"), tmp_path / "sim") as sim, api_for(sim, "user") as api:
        assert default_setup_repositories(api) is None
        assert sim.admin.requests() == []


def test_a_rate_limit_stop_propagates_and_is_not_remembered(tmp_path: Path) -> None:
    with Simulator(scenario(), tmp_path / "sim") as sim, api_for(sim) as api:
        sim.admin.set_rate_limit(TOKEN, used=5000, limit=5000)
        with pytest.raises(RateLimitedError):
            default_setup_repositories(api)
        sim.admin.set_rate_limit(TOKEN, used=0, limit=5000)
        found = default_setup_repositories(api)
        assert found is not None and "r001" in found
