"""A full run under network faults: it completes correctly or stops honestly (issue 8/8)."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from e2e import TOKEN, e2e


def scenario() -> dict[str, Any]:
    green = {
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
    }
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}, **green},
            {"name": "web", "files": {"requirements.txt": "urllib3==1.26.5\n"}, **green},
            {"name": "jobs", "files": {"requirements.txt": "jinja2==3.1.2\n"}, **green},
        ],
    }


REPOS = [{"repo": "api"}, {"repo": "web"}, {"repo": "jobs"}]


def merges_respected_the_gate(env: Any) -> None:
    """Every merge call came after a read of that PR's checks, with the head sha pinned."""
    log = env.sim.admin.requests()
    for index, request in enumerate(log):
        if request.method == "PUT" and request.path.endswith("/merge"):
            assert '"sha"' in request.body
            repo = request.path.split("/")[3]
            assert any(
                r.path.startswith(f"/repos/acme-org/{repo}/commits/") and "check-runs" in r.path
                for r in log[:index]
            )


def test_faults_everywhere_still_converge(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), REPOS) as env:
        admin = env.sim.admin
        admin.inject("status", count=4, status=502, route="/dependabot/alerts")
        admin.inject("status", count=2, status=503, route="/check-runs")
        admin.inject("drop", count=2, route="/pulls$", method="GET")
        admin.inject("secondary", count=1, retry_after=1, route="/pulls$", method="POST")
        admin.inject("pr_create_race", count=1)
        admin.inject("merge_409", count=1)
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        outcomes = {u["repository"]: u["outcome"] for u in summary["units"]}
        assert outcomes == {"api": "merged", "web": "merged", "jobs": "merged"}, [
            (u["repository"], u["detail"]) for u in summary["units"]
        ]
        for repo in ("api", "web", "jobs"):
            heads = collections.Counter(p["head"] for p in admin.pulls(repo))
            assert all(n == 1 for n in heads.values()), heads
            assert all(a["state"] == "fixed" for a in admin.alerts(repo, "dependabot"))
        merges_respected_the_gate(env)


def test_primary_exhaustion_mid_run_stops_promotion(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), REPOS) as env:
        import yaml

        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["budget"] = {
            "min_rate_limit_remaining": 0
        }  # let GitHub's own 403 stop it
        env.profile_path.write_text(yaml.safe_dump(profile))
        env.sim.admin.set_rate_limit(TOKEN, used=0, limit=30)
        result, summary = env.run()
        assert result.returncode == 75, result.stderr[-2000:]
        assert summary["stopped"] == "rate_limited"
        assert any(u["reason_code"] == "rate_limited" for u in summary["units"])
        for unit in summary["units"]:
            if unit["outcome"] == "merged":
                pull = next(
                    p
                    for p in env.sim.admin.pulls(unit["repository"])
                    if p["number"] == unit["pr_number"]
                )
                assert pull["merged"]
        merges_respected_the_gate(env)
        # Nothing acted after the limit was hit: no mutation follows the first exhaustion 403.
        log = env.sim.admin.requests()
        first_refusal = next(i for i, r in enumerate(log) if r.status == 403)
        assert not any(r.mutating for r in log[first_refusal:])
        # The next run, with budget again, finishes the job without duplicates.
        env.sim.admin.set_rate_limit(TOKEN, used=0, limit=5000)
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        for repo in ("api", "web", "jobs"):
            heads = collections.Counter(p["head"] for p in env.sim.admin.pulls(repo))
            assert all(n == 1 for n in heads.values()), heads


def test_budget_floor_stops_before_anything_mutates(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), REPOS) as env:
        env.sim.admin.set_rate_limit(TOKEN, used=0, limit=150)  # below the default floor of 200
        result, summary = env.run()
        assert result.returncode == 75
        assert summary["stopped"] == "rate_limited"
        assert env.mutating() == []
