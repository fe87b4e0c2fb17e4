"""Finer points where the simulator must answer like GitHub, not like a convenient fake."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import TOKEN, sample_scenario

from agentd.simulator import Simulator, materialize

FINE_GRAINED = "github_pat_" + "f" * 40
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@x",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
}
NPM_LOCK = json.dumps(
    {"lockfileVersion": 3, "packages": {"": {}, "node_modules/lodash": {"version": "4.17.15"}}}
)


def git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), *args], check=True, capture_output=True, text=True, env=GIT_ENV
    ).stdout


def push_branch(sim: Simulator, branch: str, files: dict[str, str]) -> None:
    clone = sim.clone_path("api")
    git(clone, "checkout", "-q", "-B", branch, "origin/main")
    for name, content in files.items():
        (clone / name).write_text(content)
    git(clone, "commit", "-qam", f"change on {branch}")
    git(clone, "push", "-q", "origin", branch)


def test_header_names_are_case_insensitive(sim: Simulator) -> None:
    with httpx.Client(base_url=sim.api_url) as raw:
        lower = {"authorization": f"token {TOKEN}"}
        first = raw.get("/repos/acme-org/api", headers=lower)
        assert first.status_code == 200
        again = raw.get(
            "/repos/acme-org/api", headers={**lower, "if-none-match": first.headers["etag"]}
        )
        assert again.status_code == 304
        old = raw.get("/user", headers={**lower, "x-github-api-version": "2019-01-01"})
        assert old.status_code == 400


def test_only_classic_tokens_carry_oauth_scopes(sim: Simulator) -> None:
    classic = httpx.get(f"{sim.api_url}/user", headers={"Authorization": f"token {TOKEN}"})
    assert "repo" in classic.headers["x-oauth-scopes"]
    fine = httpx.get(f"{sim.api_url}/user", headers={"Authorization": f"Bearer {FINE_GRAINED}"})
    assert fine.status_code == 200
    assert "x-oauth-scopes" not in fine.headers


def test_unauthenticated_answers_carry_rate_limit_headers(sim: Simulator) -> None:
    answer = httpx.get(f"{sim.api_url}/user")
    assert answer.status_code == 401
    assert answer.headers["x-ratelimit-limit"] == "60"
    assert answer.headers["x-github-request-id"]


def test_api_version_2026_03_10_drops_removed_fields(sim: Simulator) -> None:
    def get(path: str, version: str) -> Any:
        headers = {"Authorization": f"token {TOKEN}", "X-GitHub-Api-Version": version}
        return httpx.get(f"{sim.api_url}{path}", headers=headers).json()

    assert "rate" in get("/rate_limit", "2022-11-28")
    assert "rate" not in get("/rate_limit", "2026-03-10")
    old_alert = get("/repos/acme-org/api/dependabot/alerts", "2022-11-28")[0]
    new_alert = get("/repos/acme-org/api/dependabot/alerts", "2026-03-10")[0]
    assert "cvss" in old_alert["security_advisory"]
    assert "cvss" not in new_alert["security_advisory"]
    assert "cvss_severities" in new_alert["security_advisory"]


def test_dependabot_severity_filter_and_sorting(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [{"name": "web", "files": {"package-lock.json": NPM_LOCK}}],
    }
    with (
        Simulator(scenario, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as client,
    ):
        url = "/repos/acme-org/web/dependabot/alerts"
        every = client.get(url).json()
        assert {a["security_advisory"]["severity"] for a in every} == {"medium", "high"}
        high = client.get(url, params={"severity": "high"}).json()
        assert high and {a["security_advisory"]["severity"] for a in high} == {"high"}
        assert len(high) < len(every)
        numbers = [a["number"] for a in every]
        assert numbers == sorted(numbers, reverse=True)  # created, newest first
        ascending = [a["number"] for a in client.get(url, params={"direction": "asc"}).json()]
        assert ascending == sorted(numbers)
        time.sleep(1.1)  # timestamps have one-second resolution, as GitHub's do
        sim.admin.dismiss_alert("web", "dependabot", min(numbers))
        by_update = client.get(url, params={"sort": "updated"}).json()
        assert by_update[0]["number"] == min(numbers)


def test_merge_lands_the_verified_head_not_a_later_push(
    sim: Simulator, client: httpx.Client
) -> None:
    push_branch(sim, "feature", {"app.py": "print('verified')\n"})
    pull = client.post(
        "/repos/acme-org/api/pulls", json={"head": "feature", "base": "main", "title": "t"}
    ).json()
    verified = pull["head"]["sha"]
    state = sim.world.repos["api"]
    pull_state = state.pulls[pull["number"]]
    sim.admin.push("api", "feature", {"app.py": "print('unverified')\n"})
    merged = sim.world.merge(state, pull_state, "merge", None, None, verified)
    assert merged is not None
    shown = subprocess.run(
        ["git", "--git-dir", str(sim.remote_path("api")), "show", "main:app.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == "print('verified')\n"


def test_advisory_dir_argument_replaces_the_packaged_data(tmp_path: Path) -> None:
    empty = tmp_path / "no-advisories"
    empty.mkdir()
    with (
        Simulator(sample_scenario(), tmp_path / "sim", advisory_dir=empty) as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as client,
    ):
        alerts = client.get("/repos/acme-org/api/dependabot/alerts")
        assert alerts.status_code == 200 and alerts.json() == []


def test_materialize_without_serving_is_deterministic_and_pushable(tmp_path: Path) -> None:
    first = materialize(sample_scenario(), tmp_path / "one", api_url="http://127.0.0.1:9")
    second = materialize(sample_scenario(), tmp_path / "two")
    written = json.loads((tmp_path / "one" / "sim.json").read_text())
    assert written == first and first["api_url"] == "http://127.0.0.1:9"
    assert set(first["remotes"]) == {"api", "web", "docs"}

    def head(manifest: dict[str, Any], repo: str, ref: str = "main") -> str:
        return subprocess.run(
            ["git", "--git-dir", manifest["remotes"][repo], "rev-parse", ref],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert head(first, "api") == head(second, "api")  # fixed identities and dates
    clone = Path(first["clones"]["api"])
    origin = git(clone, "remote", "get-url", "origin").strip()
    assert (
        Path(origin).is_absolute()
        and Path(origin).resolve() == Path(first["remotes"]["api"]).resolve()
    )
    git(clone, "checkout", "-q", "-b", "pushed")
    (clone / "new.txt").write_text("x")
    git(clone, "add", "new.txt")
    git(clone, "commit", "-qm", "new")
    git(clone, "push", "-q", "origin", "pushed")
    assert head(first, "api", "pushed") == git(clone, "rev-parse", "HEAD").strip()


def test_native_dependabot_prs_look_like_dependabots(tmp_path: Path) -> None:
    native = {
        "branch": "dependabot/pip/requests-2.32.4",
        "title": "Bump requests from 2.25.0 to 2.32.4",
        "body": "Bumps [requests](https://github.com/psf/requests) from 2.25.0 to 2.32.4.",
        "files": {"requirements.txt": "requests==2.32.4\n"},
    }
    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [
            {
                "name": "api",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "dependabot_prs": [native],
            }
        ],
    }
    with (
        Simulator(scenario, tmp_path / "sim") as sim,
        httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"}) as client,
    ):
        [pull] = client.get("/repos/acme-org/api/pulls").json()
        assert pull["user"]["login"] == "dependabot[bot]"
        assert (pull["user"]["id"], pull["user"]["type"]) == (49699333, "Bot")
        labels = {label["name"]: label["color"] for label in pull["labels"]}
        assert labels == {"dependencies": "0366d6", "python": "2b67c6", "security": "ee0701"}
        files = client.get(f"/repos/acme-org/api/pulls/{pull['number']}/files").json()
        assert [f["filename"] for f in files] == ["requirements.txt"]


def test_faults_can_target_a_route_template(sim: Simulator, client: httpx.Client) -> None:
    sim.admin.inject("status", count=1, status=503, route="/repos/{owner}/{repo}", method="GET")
    assert client.get("/user").status_code == 200  # another route: untouched
    assert client.get("/repos/acme-org/api/pulls").status_code == 200
    assert client.get("/repos/acme-org/api").status_code == 503
    assert client.get("/repos/acme-org/api").status_code == 200
