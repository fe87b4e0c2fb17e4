"""The simulator behaves like GitHub: derived alerts, real merges, HTTP realism, faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AWS_KEY, TOKEN

from agentd.simulator import SCENARIOS, Simulator

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@x",
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
}


def git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), *args], check=True, capture_output=True, text=True, env=GIT_ENV
    ).stdout


def push(sim: Simulator, repo: str, branch: str, files: dict[str, str]) -> None:
    clone = sim.clone_path(repo)
    git(clone, "checkout", "-q", "-B", branch, "origin/main")
    for name, content in files.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text(content)
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", f"change {branch}")
    git(clone, "push", "-q", "-f", "origin", branch)


RUST_GO_ADVISORY = {
    "id": "GHSA-xxxx-test-rust",
    "modified": "2024-01-01T00:00:00Z",
    "published": "2024-01-01T00:00:00Z",
    "aliases": [],
    "summary": "test advisory",
    "details": "test",
    "affected": [
        {
            "package": {"ecosystem": "crates.io", "name": "smallvec"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}],
        },
        {
            "package": {"ecosystem": "Go", "name": "golang.org/x/net"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}],
        },
    ],
    "database_specific": {"severity": "HIGH"},
}

LOCKFILES = {
    "requirements.txt": "requests==2.25.0\n",
    "js/package-lock.json": json.dumps(
        {
            "lockfileVersion": 3,
            "packages": {
                "": {"dependencies": {"lodash": "^4"}},
                "node_modules/lodash": {"version": "4.17.15"},
                "node_modules/braces": {"version": "3.0.2"},
            },
        }
    ),
    "py/uv.lock": 'version = 1\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\ndependencies = [{ name = "urllib3" }]\n[[package]]\nname = "urllib3"\nversion = "1.26.5"\nsource = { registry = "https://pypi.org/simple" }\n',
    "poetry/poetry.lock": '[[package]]\nname = "jinja2"\nversion = "3.1.2"\ndescription = ""\noptional = false\npython-versions = ">=3.7"\n',
    "pnpm/pnpm-lock.yaml": "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      micromatch:\n        specifier: ^4\n        version: 4.0.5\npackages:\n  micromatch@4.0.5:\n    resolution: {integrity: x}\n",
    "yarn/yarn.lock": '# yarn lockfile v1\n\nfollow-redirects@^1.15.0:\n  version "1.15.2"\n',
    "rs/Cargo.lock": 'version = 3\n[[package]]\nname = "smallvec"\nversion = "1.6.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n',
    "go/go.mod": "module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/net v0.10.0\n",
}
EXPECTED = {
    ("requirements.txt", "requests"), ("js/package-lock.json", "lodash"), ("js/package-lock.json", "braces"),
    ("py/uv.lock", "urllib3"), ("poetry/poetry.lock", "jinja2"), ("pnpm/pnpm-lock.yaml", "micromatch"),
    ("yarn/yarn.lock", "follow-redirects"), ("rs/Cargo.lock", "smallvec"), ("go/go.mod", "golang.org/x/net"),
}  # fmt: skip


def auth(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.api_url, headers={"Authorization": f"token {TOKEN}"})


def test_dependabot_alerts_from_every_dependency_file_format(tmp_path: Path) -> None:
    extra = tmp_path / "advisories"
    extra.mkdir()
    (extra / "GHSA-xxxx-test-rust.json").write_text(json.dumps(RUST_GO_ADVISORY))
    scenario = {
        "owner": {"login": "acme-org"},
        "extra_advisory_dirs": [str(extra)],
        "repositories": [{"name": "mono", "files": LOCKFILES}],
    }
    with Simulator(scenario, tmp_path / "sim") as sim, auth(sim) as client:
        alerts = client.get(
            "/repos/acme-org/mono/dependabot/alerts", params={"per_page": 100}
        ).json()
        found = {
            (a["dependency"]["manifest_path"], a["dependency"]["package"]["name"]) for a in alerts
        }
        assert found == EXPECTED
        ecosystems = {a["dependency"]["package"]["ecosystem"] for a in alerts}
        assert ecosystems == {"pip", "npm", "rust", "go"}
        requests_alerts = [a for a in alerts if a["dependency"]["package"]["name"] == "requests"]
        assert len(requests_alerts) == 3  # three real advisories on requests 2.25.0


def test_alert_turns_fixed_after_a_merged_bump(sim: Simulator, client: httpx.Client) -> None:
    before = client.get("/repos/acme-org/api/dependabot/alerts", params={"state": "open"}).json()
    assert {a["dependency"]["package"]["name"] for a in before} == {"requests", "urllib3"}
    push(sim, "api", "bump", {"requirements.txt": "requests==2.32.4\nurllib3==1.26.5\n"})
    pull = client.post(
        "/repos/acme-org/api/pulls", json={"head": "bump", "base": "main", "title": "bump"}
    ).json()
    merged = client.put(
        f"/repos/acme-org/api/pulls/{pull['number']}/merge",
        json={"sha": pull["head"]["sha"], "merge_method": "merge"},
    )
    assert merged.status_code == 200 and merged.json()["merged"]
    after = {a["number"]: a for a in client.get("/repos/acme-org/api/dependabot/alerts").json()}
    requests_alerts = [
        a for a in after.values() if a["dependency"]["package"]["name"] == "requests"
    ]
    assert requests_alerts and all(a["state"] == "fixed" and a["fixed_at"] for a in requests_alerts)
    assert all(
        a["state"] == "open"
        for a in after.values()
        if a["dependency"]["package"]["name"] == "urllib3"
    )
    assert {a["number"] for a in before} <= set(after)  # numbers are stable


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merges_are_real(sim: Simulator, client: httpx.Client, method: str) -> None:
    push(sim, "api", "feature", {"app.py": "print('new')\n"})
    pull = client.post(
        "/repos/acme-org/api/pulls", json={"head": "feature", "base": "main", "title": "feat"}
    ).json()
    response = client.put(
        f"/repos/acme-org/api/pulls/{pull['number']}/merge",
        json={"sha": pull["head"]["sha"], "merge_method": method},
    )
    assert response.status_code == 200
    remote = sim.remote_path("api")
    shown = subprocess.run(
        ["git", "--git-dir", str(remote), "show", "main:app.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == "print('new')\n"
    parents = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%P", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(parents) == (2 if method == "merge" else 1)
    assert client.get(f"/repos/acme-org/api/pulls/{pull['number']}/merge").status_code == 204


def test_code_and_secret_scanning_derived_with_coverage_errors(
    sim: Simulator, client: httpx.Client
) -> None:
    code = client.get("/repos/acme-org/api/code-scanning/alerts").json()
    rules = {(a["rule"]["id"], a["most_recent_instance"]["location"]["path"]) for a in code}
    assert rules == {
        ("actions/missing-workflow-permissions", ".github/workflows/ci.yml"),
        ("actions/unpinned-tag", ".github/workflows/ci.yml"),
    }
    secrets = client.get("/repos/acme-org/api/secret-scanning/alerts").json()
    assert [s["secret"] for s in secrets] == [AWS_KEY]  # removed from main, still open: history
    assert secrets[0]["state"] == "open"
    hidden = client.get(
        "/repos/acme-org/api/secret-scanning/alerts", params={"hide_secret": "true"}
    ).json()
    assert "secret" not in hidden[0]
    locations = client.get(
        f"/repos/acme-org/api/secret-scanning/alerts/{secrets[0]['number']}/locations"
    ).json()
    assert locations[0]["details"]["path"] == "config/.env"
    disabled = client.get("/repos/acme-org/web/code-scanning/alerts")
    assert (
        disabled.status_code == 403
        and disabled.json()["message"] == "Code scanning is not enabled for this repository."
    )
    no_analysis = client.get("/repos/acme-org/docs/code-scanning/alerts")
    assert no_analysis.status_code == 404 and no_analysis.json()["message"] == "no analysis found"
    secret_off = client.get("/repos/acme-org/web/secret-scanning/alerts")
    assert secret_off.status_code == 404 and "disabled" in secret_off.json()["message"]
    dep_off = client.get("/repos/acme-org/web/dependabot/alerts")
    assert (
        dep_off.status_code == 403
        and dep_off.json()["message"] == "Dependabot alerts are disabled for this repository."
    )


def test_pull_request_refusals(sim: Simulator, client: httpx.Client) -> None:
    push(sim, "api", "feature", {"app.py": "x\n"})
    first = client.post(
        "/repos/acme-org/api/pulls", json={"head": "feature", "base": "main", "title": "a"}
    )
    assert first.status_code == 201
    duplicate = client.post(
        "/repos/acme-org/api/pulls", json={"head": "feature", "base": "main", "title": "a"}
    )
    assert duplicate.status_code == 422
    assert (
        duplicate.json()["errors"][0]["message"]
        == "A pull request already exists for acme-org:feature."
    )
    number = first.json()["number"]
    stale = client.put(f"/repos/acme-org/api/pulls/{number}/merge", json={"sha": "0" * 40})
    assert stale.status_code == 409
    sim.admin.set_check("api", "ci", "failure")
    head = first.json()["head"]["sha"]
    red = client.put(f"/repos/acme-org/api/pulls/{number}/merge", json={"sha": head})
    assert (
        red.status_code == 405
        and 'Required status check "ci" is expected.' in red.json()["message"]
    )


def test_ruleset_only_required_checks_refuse_merges(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org"},
        "repositories": [
            {
                "name": "api",
                "files": {"a": "1"},
                "checks": [{"name": "lint", "outcome": "pending"}],
                "rulesets": [{"required_checks": ["lint"]}],
            }
        ],
    }
    with Simulator(scenario, tmp_path / "sim") as sim, auth(sim) as client:
        push(sim, "api", "f", {"a": "2"})
        pull = client.post(
            "/repos/acme-org/api/pulls", json={"head": "f", "base": "main", "title": "t"}
        ).json()
        refused = client.put(
            f"/repos/acme-org/api/pulls/{pull['number']}/merge", json={"sha": pull["head"]["sha"]}
        )
        assert refused.status_code == 405
        assert refused.json()["message"].startswith("Repository rule violations found")
        rules = client.get("/repos/acme-org/api/rules/branches/main").json()
        assert any(r["type"] == "required_status_checks" for r in rules)


def test_cursor_pagination_over_250_alerts(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {},
            **{
                f"node_modules/pkg{i}/node_modules/lodash": {"version": "4.17.15"}
                for i in range(90)
            },
        },
    }
    files = {f"p{j}/package-lock.json": json.dumps(lock) for j in range(1)}
    # 90 copies x 3 lodash advisories = 270 alerts? Alerts are per manifest+package+advisory: spread over manifests.
    files = {
        f"p{j}/package-lock.json": json.dumps(
            {
                "lockfileVersion": 3,
                "packages": {"": {}, "node_modules/lodash": {"version": "4.17.15"}},
            }
        )
        for j in range(90)
    }
    scenario = {"owner": {"login": "acme-org"}, "repositories": [{"name": "big", "files": files}]}
    with Simulator(scenario, tmp_path / "sim") as sim, auth(sim) as client:
        url: str | None = f"{sim.api_url}/repos/acme-org/big/dependabot/alerts?per_page=100"
        seen: list[int] = []
        pages = 0
        while url:
            response = client.get(url)
            assert "&page=" not in url and "?page=" not in url
            seen += [a["number"] for a in response.json()]
            pages += 1
            link = response.headers.get("link", "")
            assert 'rel="last"' not in link
            url = link.split(";")[0].strip("<>") if 'rel="next"' in link else None
        assert len(seen) == len(set(seen)) == 270
        assert pages == 3
        assert (
            client.get("/repos/acme-org/big/dependabot/alerts", params={"page": 2}).status_code
            == 400
        )


def test_conditional_requests_cost_nothing(sim: Simulator, client: httpx.Client) -> None:
    first = client.get("/repos/acme-org/api/dependabot/alerts")
    used = int(first.headers["x-ratelimit-used"])
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = client.get("/repos/acme-org/api/dependabot/alerts", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-used"]) == used
    assert sim.admin.rate_limit(TOKEN)["used"] == used


def test_every_fault_kind_is_observable(sim: Simulator, client: httpx.Client) -> None:
    sim.admin.inject("status", count=2, status=502)
    assert [client.get("/user").status_code for _ in range(3)] == [502, 502, 200]
    sim.admin.inject("drop")
    with pytest.raises(httpx.TransportError):
        client.get("/user")
    sim.admin.inject("secondary", retry_after=2)
    limited = client.get("/user")
    assert limited.status_code == 403 and limited.headers["retry-after"] == "2"
    assert "secondary rate limit" in limited.json()["message"]
    sim.admin.inject("merge_409")
    push(sim, "api", "f1", {"app.py": "y\n"})
    pull = client.post(
        "/repos/acme-org/api/pulls", json={"head": "f1", "base": "main", "title": "t"}
    ).json()
    assert (
        client.put(
            f"/repos/acme-org/api/pulls/{pull['number']}/merge", json={"sha": pull["head"]["sha"]}
        ).status_code
        == 409
    )
    push(sim, "api", "f2", {"app.py": "z\n"})
    sim.admin.inject("pr_create_race")
    raced = client.post(
        "/repos/acme-org/api/pulls", json={"head": "f2", "base": "main", "title": "t"}
    )
    assert raced.status_code == 422
    assert [p for p in sim.admin.pulls("api") if p["head"] == "f2"]  # the racer's PR exists
    sim.admin.inject("primary_exhaust")
    exhausted = client.get("/user")
    assert exhausted.status_code == 403 and exhausted.headers["x-ratelimit-remaining"] == "0"
    assert "API rate limit exceeded" in exhausted.json()["message"]
    counts = sim.admin.counts()
    assert counts["GET /user"] >= 5
    assert any(r.mutating for r in sim.admin.requests())


def test_sim_serve_starts_fast_and_clones_push(tmp_path: Path) -> None:
    workdir = tmp_path / "served"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentd", "sim", "serve", "--scenario", str(SCENARIOS / "sample.yaml"), "--workdir", str(workdir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.monotonic() - started
        assert "serving http://127.0.0.1:" in line
        assert elapsed < 3.0, elapsed
        manifest: dict[str, Any] = json.loads((workdir / "sim.json").read_text())
        assert (
            httpx.get(
                f"{manifest['api_url']}/user", headers={"Authorization": f"Bearer {TOKEN}"}
            ).status_code
            == 200
        )
        clone = Path(next(iter(manifest["clones"].values())))
        git(clone, "checkout", "-q", "-b", "pushed")
        (clone / "NEW.txt").write_text("x")
        git(clone, "add", "-A")
        git(clone, "commit", "-qm", "new")
        git(clone, "push", "-q", "origin", "pushed")
        remote = Path(next(iter(manifest["remotes"].values())))
        assert (
            subprocess.run(
                ["git", "--git-dir", str(remote), "rev-parse", "pushed"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
