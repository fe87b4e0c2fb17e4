"""GitHub Enterprise Server and GHE.com: where the API is, and where the token may go."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from e2e import E2E, profile_for
from support import base_profile, require_tool, run_agentd, write_profile

from agentd.errors import ContractError
from agentd.github.auth import Token, TokenKind
from agentd.mutation import MutationPolicy
from agentd.profile import default_api_url, load_profile
from agentd.session import api_base_url, open_client
from agentd.settings import Settings
from agentd.simulator import Simulator
from agentd.vocabulary import MutationMode


@pytest.mark.parametrize(
    ("host", "api"),
    [
        ("github.com", "https://api.github.com"),
        ("GitHub.com", "https://api.github.com"),
        ("acme.ghe.com", "https://api.acme.ghe.com"),  # GHE.com data residency
        ("ghe.example.com", "https://ghe.example.com/api/v3"),
        ("ghe.example.com:8443", "https://ghe.example.com:8443/api/v3"),
        ("ghe.com.example.org", "https://ghe.com.example.org/api/v3"),  # not a ghe.com host
    ],
)
def test_the_api_of_each_kind_of_host(host: str, api: str) -> None:
    assert default_api_url(host) == api


def _profile(tmp_path: Path, **auth: str) -> Path:
    data = base_profile(tmp_path / "clones")
    data["profile"]["auth"] = auth
    return write_profile(tmp_path / "profile.yaml", data)


def test_api_base_url_is_derived_for_ghe_com(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, github_host="acme.ghe.com")).profile
    assert api_base_url(profile, Settings()) == "https://api.acme.ghe.com"
    override = Settings(api_url="http://127.0.0.1:9/api/v3/")
    assert api_base_url(profile, override) == "http://127.0.0.1:9/api/v3"


@pytest.mark.parametrize(
    ("host", "api_url"),
    [
        ("github.com", "https://ghe.example.com/api/v3"),
        ("github.com", "https://github.com/api/v3"),  # the web host, not the API host
        ("ghe.example.com", "https://api.github.com"),
        ("ghe.example.com", "https://ghe.example.com.evil.test/api/v3"),
        ("acme.ghe.com", "https://api.other.ghe.com"),
    ],
)
def test_an_api_url_on_another_host_is_refused(tmp_path: Path, host: str, api_url: str) -> None:
    path = _profile(tmp_path, github_host=host, api_url=api_url)
    result = run_agentd("validate", str(path))
    assert result.returncode == 78, result.stdout + result.stderr
    assert "profile.auth.api_url" in result.stderr
    assert f"never sends a {host} token to another host" in result.stderr
    assert "fix: remove auth.api_url" in result.stderr
    with pytest.raises(ContractError):
        load_profile(path)


@pytest.mark.parametrize(
    ("host", "api_url"),
    [
        ("github.com", "https://api.github.com"),
        ("ghe.example.com", "https://ghe.example.com/api/v3"),
        ("ghe.example.com", "https://GHE.example.com:8443/api/v3"),  # same host, other port
        ("acme.ghe.com", "https://api.acme.ghe.com"),
    ],
)
def test_an_api_url_of_the_hosts_own_api_is_accepted(
    tmp_path: Path, host: str, api_url: str
) -> None:
    profile = load_profile(_profile(tmp_path, github_host=host, api_url=api_url)).profile
    assert api_base_url(profile, Settings()) == api_url


def test_the_environment_override_is_allowed_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profile = load_profile(_profile(tmp_path, github_host="github.com")).profile
    token = Token(TokenKind.CLASSIC_PAT, "ghp_" + "e" * 36)
    settings = Settings(api_url="http://127.0.0.1:9/api/v3", state_dir=tmp_path / "state")
    policy = MutationPolicy(MutationMode.REPORT_ONLY)
    with caplog.at_level(logging.INFO, logger="agentd"):
        api = open_client(profile, settings, policy, token=token)
    api.client.close()
    assert api.client.base_url == "http://127.0.0.1:9/api/v3/"
    [record] = [r for r in caplog.records if "AGENTD_API_URL" in r.getMessage()]
    assert record.__dict__["api_url"] == "http://127.0.0.1:9/api/v3"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="agentd"):
        open_client(profile, Settings(state_dir=tmp_path / "state"), policy, token=token)
    assert not [r for r in caplog.records if "AGENTD_API_URL" in r.getMessage()]


def test_a_run_against_an_api_under_api_v3_merges(tmp_path: Path) -> None:
    """GHES's layout: REST under /api/v3 (nothing at the root), GraphQL at /api/graphql."""
    require_tool("gh")
    repo = {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
    }
    scenario = {"owner": {"login": "acme-org", "type": "org"}, "repositories": [repo]}
    with Simulator(scenario, tmp_path / "sim", api_prefix="/api/v3") as sim:
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(profile_for(sim, [{"repo": "api"}]), sort_keys=False))
        env = E2E(sim, tmp_path, path, tmp_path / "state")
        assert env.env()["AGENTD_API_URL"] == f"{sim.api_url}/api/v3"

        discovered = env.agentd("discover", "--profile", str(path))
        assert discovered.returncode == 0, discovered.stdout + discovered.stderr
        assert f"via {sim.api_url}/api/v3" in discovered.stdout

        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot", repository="api")
        assert unit["outcome"] == "merged", unit["detail"]
        assert unit["pr_url"]
        [pull] = sim.admin.pulls("api")
        assert pull["merged"]
        assert sim.admin.alerts("api", "dependabot")[0]["state"] == "fixed"
        requests = sim.admin.requests()
        assert not [r.path for r in requests if r.route == "outside the API prefix"]
        assert any(r.method == "PUT" and r.path.endswith("/merge") for r in requests)
