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


def test_a_withdrawn_dependabot_alert_is_gone_from_lists_and_answers_410(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
    }
    with Simulator(scenario, tmp_path / "sim") as sim:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{sim.api_url}/repos/acme-org/api/dependabot/alerts"
        numbers = [a["number"] for a in httpx.get(url, headers=headers).json()]
        sim.admin.withdraw_alert("api", numbers[0])
        listed = httpx.get(
            url, params={"state": "open,fixed,dismissed,auto_dismissed"}, headers=headers
        )
        assert numbers[0] not in [a["number"] for a in listed.json()]
        gone = httpx.get(f"{url}/{numbers[0]}", headers=headers)
        assert gone.status_code == 410
        assert "withdrawn" in gone.json()["message"]
