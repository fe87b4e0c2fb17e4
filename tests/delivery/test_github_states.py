"""GitHub's states that decide a merge: lazy mergeability, many statuses (issue 3/6, point 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e import e2e


def repo(**extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def merge_calls(env: Any) -> list[Any]:
    return [r for r in env.sim.admin.requests() if r.method == "PUT" and r.path.endswith("/merge")]


def test_a_pr_whose_mergeability_github_has_not_computed_is_never_merged_blind(
    tmp_path: Path,
) -> None:
    with e2e(tmp_path, scenario(repo(mergeable_unknown_reads=1000)), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending"), unit
        assert "mergeable: null" in unit["detail"] and merge_calls(env) == []


def test_every_one_of_more_than_thirty_required_statuses_is_read(tmp_path: Path) -> None:
    names = [f"status-{n:02d}" for n in range(35)]
    checks = [{"name": n, "outcome": "success", "kind": "status"} for n in names]
    with e2e(
        tmp_path,
        scenario(repo(checks=checks, protection={"required_checks": names})),
        [{"repo": "api"}],
    ) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit
        status_reads = [r for r in env.sim.admin.requests() if r.path.endswith("/status")]
        assert status_reads and all(r.query.get("per_page") == "100" for r in status_reads)


def test_a_failing_thirty_first_status_blocks(tmp_path: Path) -> None:
    names = [f"status-{n:02d}" for n in range(35)]
    checks = [{"name": n, "outcome": "success", "kind": "status"} for n in names[:-1]]
    checks.append({"name": names[-1], "outcome": "failure", "kind": "status"})
    with e2e(
        tmp_path,
        scenario(repo(checks=checks, protection={"required_checks": names})),
        [{"repo": "api"}],
    ) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "checks_red"), unit
        assert names[-1] in unit["detail"] and merge_calls(env) == []


def test_a_native_pr_whose_body_cannot_take_the_stamp_is_verified_but_left_to_a_person(
    tmp_path: Path,
) -> None:
    native = {
        "branch": "dependabot/pip/requests-2.32.4",
        "title": "Bump requests from 2.25.0 to 2.32.4",
        "body": "Release notes\n" + "x" * 65_400,
        "files": {"requirements.txt": "requests==2.32.4\n"},
    }
    with e2e(tmp_path, scenario(repo(dependabot_prs=[native])), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["pr_source"] == "native_dependabot" and unit["outcome"] == "opened_pr", unit
        assert "too long to carry agentd's stamp" in unit["detail"]
        assert not [r for r in env.mutating() if r.method == "PATCH"] and merge_calls(env) == []
        [pull] = env.sim.admin.pulls("api")
        assert pull["state"] == "open" and len(pull["body"]) <= 65536
