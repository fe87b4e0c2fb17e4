"""The simulator serves at benchmark scale: no Nagle stalls, organisation pages cut from a
view built once per world change (so a page costs its own alerts, not the organisation's)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN
from support import require_tool

from agentd.simulator import Simulator, api
from agentd.simulator.server import Handler

VULNERABLE_LOCK = json.dumps(
    {"lockfileVersion": 3, "packages": {"": {}, "node_modules/lodash": {"version": "4.17.15"}}}
)
FIXED_LOCK = json.dumps(
    {"lockfileVersion": 3, "packages": {"": {}, "node_modules/lodash": {"version": "4.17.21"}}}
)
WORKFLOW = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: third-party-org/setup-thing@v1\n"
REPOS = 12


def scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": f"r{i:02d}",
                "files": {
                    "package-lock.json": VULNERABLE_LOCK,
                    ".github/workflows/ci.yml": WORKFLOW,
                },
            }
            for i in range(REPOS)
        ],
    }


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Simulator, httpx.Client]]:
    with (
        Simulator(scenario(), tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        yield sim, http


def walk(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = http.get(next_url)
        assert response.status_code == 200, response.text
        items += response.json()
        pages += 1
        link = response.headers.get("link", "")
        next_url = link.split(";")[0].strip("<>") if 'rel="next"' in link else None
    return items, pages


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls = [0]
    original = getattr(api, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(api, name, wrapper)
    return calls


def test_accepted_connections_disable_nagle(
    org: tuple[Simulator, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers and body leave in two writes: with Nagle on, each kept-alive response stalls
    on the client's delayed ACK (≈ 40 ms), which the benchmark would charge to agentd."""
    seen: list[int] = []
    original = Handler.setup

    def setup(self: Handler) -> None:
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(Handler, "setup", setup)
    _, http = org
    for _ in range(3):  # one kept-alive connection
        assert http.get("/rate_limit").status_code == 200
    assert seen and all(seen), seen


def test_organisation_pages_render_only_their_own_alerts(
    org: tuple[Simulator, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, http = org
    per_repo = len(sim.admin.alerts("r00", "dependabot"))
    total = per_repo * REPOS
    dependabot = counting(monkeypatch, "dependabot_json")
    alerts, pages = walk(http, "/orgs/acme-org/dependabot/alerts?state=open&per_page=5")
    assert len(alerts) == total and pages == -(-total // 5)
    assert dependabot[0] == total  # each alert rendered once, not once per page
    listed = {(a["repository"]["name"], a["number"]) for a in alerts}
    assert len(listed) == total
    keys = [(a["created_at"], a["number"]) for a in alerts]
    assert keys == sorted(keys, reverse=True)

    code = counting(monkeypatch, "code_json")
    findings, code_pages = walk(http, "/orgs/acme-org/code-scanning/alerts?state=open&per_page=4")
    assert len(findings) == code[0] and code_pages > 1
    repos = [f["repository"]["name"] for f in findings]
    assert repos == sorted(repos)  # repository after repository, each newest first


def test_organisation_pages_follow_every_change(org: tuple[Simulator, httpx.Client]) -> None:
    sim, http = org
    url = "/orgs/acme-org/dependabot/alerts?state=open&per_page=100"
    first = http.get(url)
    etag = first.headers["etag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    numbers = {(a["repository"]["name"], a["number"]) for a in first.json()}

    sim.admin.dismiss_alert("r03", "dependabot", 1)
    dismissed = http.get(url)
    assert dismissed.headers["etag"] != etag
    assert {(a["repository"]["name"], a["number"]) for a in dismissed.json()} == numbers - {
        ("r03", 1)
    }

    # a push behind the simulator's back (straight into the bare repository) fixes r05
    clone = sim.clone_path("r05")
    (clone / "package-lock.json").write_text(FIXED_LOCK)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(clone),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    for args in (["commit", "-qam", "bump lodash"], ["push", "-q", "origin", "HEAD"]):
        subprocess.run(["git", "-C", str(clone), *args], env=env, check=True)
    fixed = http.get(url).json()
    assert {a["repository"]["name"] for a in fixed} == {f"r{i:02d}" for i in range(REPOS)} - {"r05"}
    every = {
        (a["repository"]["name"], a["state"])
        for a in walk(http, "/orgs/acme-org/dependabot/alerts?per_page=100")[0]
    }
    assert ("r05", "fixed") in every and ("r03", "dismissed") in every


def test_real_gh_reaches_the_simulator_through_github_localhost(
    org: tuple[Simulator, httpx.Client], tmp_path: Path
) -> None:
    """The benchmark's peer: `gh api --paginate` with GH_HOST=github.localhost speaks plain
    HTTP to api.github.localhost through HTTP_PROXY, which is the simulator's own loopback
    port (it accepts absolute-form request targets and links pages to the Host asked for)."""
    require_tool("gh")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench import measure

    sim, _ = org
    sim.admin.reset()
    env = {**measure.gh_env(sim, tmp_path), "GH_TOKEN": TOKEN}
    path = "/repos/acme-org/r00/dependabot/alerts?state=open&per_page=1"
    result = subprocess.run(
        ["gh", "api", "--paginate", path, "--jq", ".[].number"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    numbers = sorted(int(n) for n in result.stdout.split())
    assert numbers == [a["number"] for a in sim.admin.alerts("r00", "dependabot")]
    logged = sim.admin.requests()
    assert len(logged) == len(numbers)  # one page per alert, every one through the simulator
    assert {r.headers.get("Host") for r in logged} == {"api.github.localhost"}
    assert all(r.status == 200 for r in logged)
