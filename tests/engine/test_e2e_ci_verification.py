"""`verification: ci` end to end (issue 17 item 3): the simulator, real git, the real CLI.

A ci target runs none of its verification commands on the build host (here a command that
fails: had it run, the unit would be `blocked verification_failed`); the PR is opened and the
repository's own CI on GitHub verifies the pushed head. With `merge_via: github_auto_merge`
GitHub merges it when the required checks pass, without another agentd run; a red CI is never
merged; a base that requires no checks never merges a ci target unattended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import yaml
from e2e import E2E, PYTHON, e2e

FAILS = f'{PYTHON} -c "import sys; sys.exit(3)"'  # would block the unit if it ever ran here
CI_MINUTE = {"checks": ["test"], "after_ms": 60_000}


def repo(ci: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"},
        "allow_auto_merge": True,
        **({"ci": ci} if ci is not None else {}),
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def target(verification: str | None) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [FAILS],
    }
    if verification is not None:
        entry["verification"] = verification
    return [{"repo": "api", "targets": [entry]}]


def only_unit(env: E2E, summary: dict[str, Any]) -> dict[str, Any]:
    [unit] = env.units(summary, repository="api", alert_class="dependabot")
    return unit


def check_runs(env: E2E, sha: str) -> dict[str, dict[str, Any]]:
    with httpx.Client(
        base_url=env.sim.api_url, headers={"Authorization": f"token {env.token}"}
    ) as http:
        runs = http.get(f"/repos/acme-org/api/commits/{sha}/check-runs").json()["check_runs"]
    return {run["name"]: run for run in runs}


def merges(env: E2E) -> list[str]:
    """Every merge agentd asked for: REST merges and auto-merge enablings."""
    calls = []
    for request in env.sim.admin.requests():
        if request.method == "PUT" and request.path.endswith("/merge"):
            calls.append("rest")
        elif request.path == "/graphql" and "AutoMerge" in json.loads(request.body)["query"]:
            calls.append("auto-merge")
    return calls


def assert_not_verified_here(unit: dict[str, Any]) -> None:
    assert unit["verification_provenance"] == "not_run", unit
    [entry] = unit["verification"]
    assert entry["provenance"] == "not_run" and entry["exit_code"] is None
    assert "verification: ci" in entry["not_run_reason"]


def test_ci_mode_opens_the_pr_unverified_here_and_github_merges_when_ci_is_green(
    tmp_path: Path,
) -> None:
    sim_repo = repo(CI_MINUTE, rulesets=[{"name": "main", "required_checks": ["test"]}])
    with e2e(tmp_path, scenario(sim_repo), target("ci"), merge_via="github_auto_merge") as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending")
        assert unit["detail"].startswith("auto-merge enabled (squash"), unit["detail"]
        assert_not_verified_here(unit)
        [pull] = env.sim.admin.pulls("api")
        assert not pull["merged"] and merges(env) == ["auto-merge"]
        # GitHub merges it now: the run's later iteration does not check its gate again.
        reads = [r.path for r in env.sim.admin.requests() if r.method == "GET"]
        assert sum(p.endswith("/check-runs") for p in reads) == 1, reads
        # …nor fetch its base again: once for the unit's work, and the ls-remote of its
        # branch before the push (git's protocol v2 lists refs through upload-pack too)
        fetches = [g for g in env.sim.admin.git_requests() if g.endpoint == "git-upload-pack"]
        assert len(fetches) == 2, fetches
        assert "not run: verification: ci" in pull["body"]
        assert check_runs(env, pull["head_sha"])["test"]["status"] == "queued"

        env.sim.admin.ci_elapse("api", 40)
        assert check_runs(env, pull["head_sha"])["test"]["status"] == "in_progress"
        assert not env.sim.admin.pulls("api")[0]["merged"]
        env.sim.admin.ci_elapse("api", 30)  # CI finishes green: GitHub merges, agentd is gone
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"], pull
        assert check_runs(env, pull["head_sha"])["test"]["conclusion"] == "success"
        assert merges(env) == ["auto-merge"]


def test_a_red_ci_is_never_merged_and_the_next_run_reports_it(tmp_path: Path) -> None:
    ci = {**CI_MINUTE, "conclusion": "failure"}
    sim_repo = repo(ci, protection={"required_checks": ["test"]})
    with e2e(tmp_path, scenario(sim_repo), target("ci"), merge_via="github_auto_merge") as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert only_unit(env, summary)["remaining_blocker"] == "checks_pending"
        env.sim.admin.ci_elapse("api", 61)
        [pull] = env.sim.admin.pulls("api")
        assert not pull["merged"]
        assert check_runs(env, pull["head_sha"])["test"]["conclusion"] == "failure"

        result, summary = env.run()
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "checks_red"), unit
        assert "failing checks: test" in unit["detail"]
        assert not env.sim.admin.pulls("api")[0]["merged"]
        assert merges(env) == ["auto-merge"]


def test_a_base_without_required_checks_never_merges_a_ci_target(tmp_path: Path) -> None:
    sim_repo = repo({**CI_MINUTE, "after_ms": 0})  # green at once, but nothing requires it
    with e2e(tmp_path, scenario(sim_repo), target("ci")) as env:
        for _ in range(2):
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            unit = only_unit(env, summary)
            assert (unit["outcome"], unit["remaining_blocker"]) == (
                "opened_pr",
                "branch_protection_block",
            ), unit
            assert "verification: ci" in unit["detail"]
            assert "requires no status checks" in unit["detail"]
            assert "add required status checks to main" in unit["detail"]
            assert "'verification: local'" in unit["detail"]
            assert_not_verified_here(unit)
        [pull] = env.sim.admin.pulls("api")
        assert check_runs(env, pull["head_sha"])["test"]["conclusion"] == "success"
        assert not pull["merged"] and merges(env) == []


def test_ci_mode_by_profile_default_merges_through_rest_once_ci_is_green(tmp_path: Path) -> None:
    sim_repo = repo(CI_MINUTE, protection={"required_checks": ["test"]})
    with e2e(tmp_path, scenario(sim_repo), target(None)) as env:
        profile = yaml.safe_load(env.profile_path.read_text(encoding="utf-8"))
        profile["profile"]["verification"] = {"mode": "ci"}
        env.profile_path.write_text(json.dumps(profile), encoding="utf-8")
        result, summary = env.run()
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending")
        assert_not_verified_here(unit)
        env.sim.admin.ci_elapse("api", 61)
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        unit = only_unit(env, summary)
        assert unit["outcome"] == "merged", unit
        assert "required checks green: test" in unit["detail"]
        assert merges(env) == ["rest"]


def test_local_mode_still_runs_the_commands_here(tmp_path: Path) -> None:
    sim_repo = repo(CI_MINUTE, protection={"required_checks": ["test"]})
    with e2e(tmp_path, scenario(sim_repo), target(None)) as env:
        _, summary = env.run()
        unit = only_unit(env, summary)
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_failed"), unit
        assert unit["verification_provenance"] == "observed"
        assert unit["verification"][0]["exit_code"] == 3
        assert env.sim.admin.pulls("api") == [] and merges(env) == []
