"""GitHub's size limits, as the simulator enforces them."""

from __future__ import annotations

from pathlib import Path

import httpx

from agentd.simulator import Simulator

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"README.md": "x\n"},
            "branches": {"work": {"files": {"a.txt": "a\n"}}},
        }
    ],
}
TOKEN = "ghp_" + "S" * 36


def test_a_pull_request_body_over_65536_characters_is_refused(tmp_path: Path) -> None:
    with Simulator(SCENARIO, tmp_path / "sim") as sim:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{sim.api_url}/repos/acme-org/api/pulls"
        data = {"title": "t", "head": "work", "base": "main", "body": "x" * 65537}
        answer = httpx.post(url, json=data, headers=headers)
        assert answer.status_code == 422
        assert (
            answer.json()["errors"][0]["message"]
            == "body is too long (maximum is 65536 characters)"
        )
        created = httpx.post(url, json={**data, "body": "x" * 65536}, headers=headers)
        assert created.status_code == 201
        patched = httpx.patch(
            f"{url}/{created.json()['number']}", json={"body": "y" * 65537}, headers=headers
        )
        assert patched.status_code == 422
