"""An inventory of 100,000 alerts fits in memory: an alert keeps its own fields only; what
alerts repeat (advisory, package, repository) is held once."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import httpx

from agentd.github.api import GitHubAPI
from agentd.github.client import GitHubClient
from agentd.simulator import Simulator

TOKEN = "ghp_" + "M" * 36
ALERTS = 3000


class Listing:
    """A client whose listings are the given JSON items (each parsed anew, as from a page)."""

    def __init__(self, items: list[str]) -> None:
        self.items = items

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        return (json.loads(item) for item in self.items)


def org_alert_pages(tmp_path: Path) -> list[str]:
    """The simulator's organisation Dependabot alerts (GitHub's full shape: advisory with
    description, every vulnerable range, references, CVSS, CWEs), repeated over repositories."""
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "api", "files": {"requirements.txt": "requests==2.25.0\nurllib3==1.26.5\n"}}
        ],
    }
    with Simulator(scenario, tmp_path / "sim") as sim:
        answer = httpx.get(
            f"{sim.api_url}/orgs/acme-org/dependabot/alerts",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
    items = []
    for index in range(ALERTS):
        alert = dict(answer[index % len(answer)])
        alert["number"] = index + 1
        alert["html_url"] = (
            f"https://github.com/acme-org/r{index // 10}/security/dependabot/{index}"
        )
        alert["repository"] = {**alert["repository"], "name": f"r{index // 10}"}
        items.append(json.dumps(alert))
    return items


def test_alerts_keep_their_own_fields_and_share_the_rest(tmp_path: Path) -> None:
    items = org_alert_pages(tmp_path)
    assert len(items[0]) > 1500  # a realistic alert, not a stub
    api = GitHubAPI(cast(GitHubClient, Listing(items)), "acme-org", "org")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        alerts = list(api.dependabot_alerts())
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(alerts) == ALERTS
    # 100,000 alerts in well under 300 MB: about 1 KB each (it was about 12 KB).
    assert kept / ALERTS < 1500, f"{kept / ALERTS:.0f} bytes per alert"
    assert alerts[0].security_advisory is alerts[len(alerts) // 2].security_advisory
    assert {a.repository.name for a in alerts if a.repository} == {
        f"r{i}" for i in range(ALERTS // 10)
    }
