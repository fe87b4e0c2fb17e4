"""What GitHub lets the token see is reported as coverage, with the fix."""

from __future__ import annotations

from pathlib import Path

from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.client import GitHubClient
from agentd.inventory import Coverage, collect_inventory
from agentd.mutation import MutationPolicy
from agentd.simulator import Simulator
from agentd.vocabulary import AlertClass, MutationMode

TOKEN = "ghp_" + "I" * 36


def test_secret_scanning_hidden_from_a_non_admin_is_unavailable_with_the_fix(
    tmp_path: Path,
) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "viewer": {"security_manager": False},
        "repositories": [{"name": "api", "files": {".env": "AWS=AKIAIOSFODNN7CANARY9\n"}}],
    }
    with Simulator(scenario, tmp_path / "sim") as sim:
        client = GitHubClient(
            sim.api_url,
            Token(TokenKind.CLASSIC_PAT, TOKEN),
            MutationPolicy(MutationMode.REPORT_ONLY),
        )
        inventory = collect_inventory(
            GitHubAPI(client, "acme-org", "org"), ["api"], [AlertClass.SECRET_SCANNING]
        )
        entry = inventory.repos["api"].classes[AlertClass.SECRET_SCANNING]
        assert entry.coverage is Coverage.UNAVAILABLE
        assert "security manager" in entry.detail and "admin" in entry.detail


def test_a_code_scanning_403_that_is_not_disabled_is_a_permission_problem(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "off", "files": {"a": "x"}, "features": {"code_scanning": "disabled"}},
            {
                "name": "denied",
                # Public: its security_and_analysis cannot settle code scanning, so it is probed.
                "private": False,
                "files": {"a": "x"},
                "features": {"code_scanning": "disabled"},
                "code_scanning_disabled_message": "Must have admin rights to Repository.",
            },
        ],
    }
    with Simulator(scenario, tmp_path / "sim") as sim:
        client = GitHubClient(
            sim.api_url,
            Token(TokenKind.CLASSIC_PAT, TOKEN),
            MutationPolicy(MutationMode.REPORT_ONLY),
        )
        api = GitHubAPI(client, "acme-org", "org")
        inventory = collect_inventory(api, ["off", "denied"], [AlertClass.CODE_SCANNING])
        assert (
            inventory.repos["off"].classes[AlertClass.CODE_SCANNING].coverage is Coverage.DISABLED
        )
        denied = inventory.repos["denied"].classes[AlertClass.CODE_SCANNING]
        assert denied.coverage is Coverage.UNAVAILABLE and "security_events" in denied.detail
