"""Fixtures for the simulator's own tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentd.simulator import Simulator

TOKEN = "ghp_" + "s" * 36
AWS_KEY = "AKIAIOSFODNN7SIMTEST"
WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: third-party-org/setup-thing@v1\n      - run: pytest\n"


def sample_scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {
                    "requirements.txt": "requests==2.25.0\nurllib3==1.26.5\n",
                    ".github/workflows/ci.yml": WORKFLOW,
                    "app.py": "print('hi')\n",
                },
                "history": [
                    {
                        "message": "add config",
                        "files": {"config/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"},
                    },
                    {"message": "remove config", "delete": ["config/.env"]},
                ],
                "checks": [{"name": "ci", "outcome": "success"}],
                "permissions": {"admin": True},  # reads classic protection (admin only)
                "protection": {"required_checks": ["ci"]},
                "rulesets": [{"name": "main", "required_checks": ["ci"]}],
            },
            {
                "name": "web",
                "files": {"README.md": "web"},
                "features": {
                    "code_scanning": "disabled",
                    "secret_scanning": "disabled",
                    "dependabot_alerts": "disabled",
                },
            },
            {
                "name": "docs",
                "files": {"README.md": "docs"},
                "features": {"code_scanning": "no_analysis"},
            },
        ],
        "action_repositories": [
            {
                "repo": "third-party-org/setup-thing",
                "tags": {"v1": {"annotated": True}, "v1.0.0": {"annotated": False}},
            }
        ],
    }


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(sample_scenario(), tmp_path / "sim") as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sim.api_url,
        headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
    ) as http:
        yield http
