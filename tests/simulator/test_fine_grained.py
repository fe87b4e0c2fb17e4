"""Fine-grained tokens: a permission the token lacks is GitHub's 403 with the permission named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from conftest import TOKEN, sample_scenario

from agentd.simulator import Simulator, api
from agentd.simulator.permissions import NEEDS

FINE = "github_pat_" + "p" * 40


def _scenario(permissions: dict[str, str] | None) -> dict[str, Any]:
    return {**sample_scenario(), "auth": {"permissions": permissions}}


def test_a_missing_permission_is_refused_with_the_accepted_permissions(tmp_path: Path) -> None:
    granted = {"metadata": "read", "pull_requests": "read", "checks": "read"}
    with Simulator(_scenario(granted), tmp_path / "sim") as sim:

        def get(path: str, token: str = FINE) -> httpx.Response:
            return httpx.get(f"{sim.api_url}{path}", headers={"Authorization": f"Bearer {token}"})

        assert get("/user").status_code == 200  # needs no permission
        assert get("/repos/acme-org/api").status_code == 200
        assert get("/repos/acme-org/api/pulls").status_code == 200
        refused = get("/repos/acme-org/api/dependabot/alerts")
        assert refused.status_code == 403
        assert refused.json()["message"] == "Resource not accessible by personal access token"
        assert refused.headers["x-accepted-github-permissions"] == "vulnerability_alerts=read"
        assert "x-ratelimit-remaining" in refused.headers
        assert get("/repos/acme-org/api/labels").status_code == 200  # any one alternative
        comment = httpx.post(
            f"{sim.api_url}/repos/acme-org/api/issues/1/comments",
            json={"body": "x"},
            headers={"Authorization": f"Bearer {FINE}"},
        )
        assert comment.status_code == 403
        assert comment.headers["x-accepted-github-permissions"] == (
            "issues=write; pull_requests=write"
        )
        # classic tokens have scopes, not permissions: never checked here
        assert get("/repos/acme-org/api/dependabot/alerts", TOKEN).status_code == 200

        merge = httpx.put(
            f"{sim.api_url}/repos/acme-org/api/pulls/1/merge",
            json={},
            headers={"Authorization": f"Bearer {FINE}"},
        )
        assert merge.status_code == 403  # write includes read, read is not write
        assert merge.headers["x-accepted-github-permissions"] == "contents=write"


def test_without_a_permission_set_a_fine_grained_token_may_do_everything(tmp_path: Path) -> None:
    with Simulator(_scenario(None), tmp_path / "sim") as sim:
        answer = httpx.get(
            f"{sim.api_url}/repos/acme-org/api/dependabot/alerts",
            headers={"Authorization": f"Bearer {FINE}"},
        )
        assert answer.status_code == 200


def test_every_needed_permission_names_a_real_route() -> None:
    routes = {(r.method, r.name) for r in api.ROUTES}
    assert set(NEEDS) <= routes, set(NEEDS) - routes
    unchecked = {name for method, name in routes - set(NEEDS)}
    assert unchecked == {"/user"}, unchecked
