"""The Dependabot pass end to end: simulator, real git, real gh, the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e import e2e


def pip_repo(requirements: str = "requests==2.25.0\n", **extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "files": {"requirements.txt": requirements, "app.py": "print('hi')\n"},
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
        **extra,
    }


def scenario(*repos: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": list(repos)}


def test_pinned_requests_is_bumped_merged_and_fixed(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot", repository="api")
        assert unit["outcome"] == "merged", (
            unit["reason_code"],
            unit["remaining_blocker"],
            unit["detail"],
        )
        assert unit["pr_source"] == "agent_managed"
        assert unit["verification_provenance"] == "observed"
        assert sorted(unit["advisory_ids"]) == [
            "GHSA-9hjg-9r4m-mvj7",
            "GHSA-9wx4-h78v-vm56",
            "GHSA-j8r2-6x86-q33q",
        ]
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"] and pull["state"] == "closed"
        assert "agentd:remediation" in pull["body"]
        alerts = env.sim.admin.alerts("api", "dependabot")
        assert alerts and all(a["state"] == "fixed" for a in alerts)
        content = env.sim.remote_path("api")
        import subprocess

        main = subprocess.run(
            ["git", "--git-dir", str(content), "show", "main:requirements.txt"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert main == "requests==2.32.4\n"

        env.sim.admin.reset()
        again, _summary2 = env.run()
        assert again.returncode == 0, again.stderr[-2000:]
        assert env.mutating() == []


def test_pending_checks_open_a_pr_and_the_next_run_merges(tmp_path: Path) -> None:
    repo = pip_repo(checks=[{"name": "ci", "outcome": "pending"}])
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending"), (
            unit["detail"]
        )
        assert not any(
            r.route.endswith("/merge") and r.method == "PUT" for r in env.sim.admin.requests()
        )
        env.sim.admin.set_check("api", "ci", "success")
        result, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "merged", unit["detail"]
        assert len(env.sim.admin.pulls("api")) == 1


def test_red_checks_block_and_leave_the_pr_open(tmp_path: Path) -> None:
    repo = pip_repo(checks=[{"name": "ci", "outcome": "failure"}])
    with e2e(tmp_path, scenario(repo), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "checks_red")
        [pull] = env.sim.admin.pulls("api")
        assert pull["state"] == "open"


def test_failing_verification_blocks_and_pushes_nothing(tmp_path: Path) -> None:
    import sys

    failing = f"{sys.executable} -c \"import sys; print('boom: tests failed'); sys.exit(3)\""
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [failing],
    }
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api", "targets": [target]}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_failed")
        assert "boom: tests failed" in unit["detail"]
        assert unit["verification"][0]["exit_code"] == 3
        assert env.mutating() == []
        assert set(env.sim.admin.branches("api")) == {"main"}


def test_verification_timeout_kills_and_blocks(tmp_path: Path) -> None:
    import sys

    slow = f'{sys.executable} -c "import time; time.sleep(60)"'
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [slow],
        "verification_timeout_seconds": 1,
    }
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api", "targets": [target]}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_failed")
        assert unit["verification"][0]["timed_out"] is True
        assert env.mutating() == []


def test_report_only_and_pull_request_modes(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api"}], mode="report_only") as env:
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "policy_blocked")
        assert "would open a PR" in unit["detail"]
        assert env.mutating() == []
        _, summary = env.run("--mutation-mode", "pull_request", "--allow-escalation")
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "opened_pr"
        assert not any(
            r.method == "PUT" and r.path.endswith("/merge") for r in env.sim.admin.requests()
        )
        assert len(env.sim.admin.pulls("api")) == 1


def test_manual_ignored_and_missing_clone(tmp_path: Path) -> None:
    repos = [
        pip_repo(),
        {**pip_repo(), "name": "billing"},
        {**pip_repo(), "name": "legacy"},
        {**pip_repo(), "name": "gone"},
    ]
    profile_repos = [
        {"repo": "api"},
        {"repo": "billing", "automation_mode": "manual_only", "manual_only_reason": "change board"},
        {"repo": "legacy", "automation_mode": "ignored", "ignored_reason": "archived"},
        {"repo": "gone"},
    ]
    with e2e(tmp_path, scenario(*repos), profile_repos) as env:
        import shutil

        shutil.rmtree(env.sim.clone_path("gone"))
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        by_repo = {u["repository"]: u for u in env.units(summary, alert_class="dependabot")}
        assert by_repo["api"]["outcome"] == "merged"
        assert (by_repo["billing"]["outcome"], by_repo["billing"]["reason_code"]) == (
            "skipped",
            "policy_blocked",
        )
        assert (by_repo["legacy"]["outcome"], by_repo["legacy"]["reason_code"]) == (
            "skipped",
            "policy_blocked",
        )
        assert (by_repo["gone"]["outcome"], by_repo["gone"]["reason_code"]) == (
            "skipped",
            "clone_missing",
        )
        touched = {r.path.split("/")[3] for r in env.mutating() if r.path.startswith("/repos/")}
        assert touched == {"api"}


def test_held_lock_exits_75_with_no_mutation(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api"}]) as env:
        from agentd.lock import ProfileLock

        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        with ProfileLock(lock, "e2e", 7200):
            result, _ = env.run()
        assert result.returncode == 75
        assert "lock_contended" in result.stderr
        assert env.mutating() == []


def test_pr_create_race_and_existing_pr_give_one_pr_per_key(tmp_path: Path) -> None:
    with e2e(
        tmp_path,
        scenario(pip_repo(checks=[{"name": "ci", "outcome": "pending"}])),
        [{"repo": "api"}],
    ) as env:
        env.sim.admin.inject("pr_create_race")
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "opened_pr", unit["detail"]
        pulls = env.sim.admin.pulls("api")
        assert len(pulls) == 1
        assert "agentd:remediation" in pulls[0]["body"]  # the racer's PR was adopted and updated
        env.sim.admin.reset()
        _, summary = env.run()
        assert len(env.sim.admin.pulls("api")) == 1
        assert not any(
            r.method == "POST" and r.path.endswith("/pulls") for r in env.sim.admin.requests()
        )


NATIVE_BODY = "Bumps [requests](https://github.com/psf/requests) from 2.25.0 to {v}.\n<details><summary>Release notes</summary></details>"


def test_qualifying_native_dependabot_pr_is_adopted_without_pushes(tmp_path: Path) -> None:
    native = {
        "branch": "dependabot/pip/requests-2.32.4",
        "title": "Bump requests from 2.25.0 to 2.32.4",
        "body": NATIVE_BODY.format(v="2.32.4"),
        "files": {"requirements.txt": "requests==2.32.4\n"},
    }
    with e2e(tmp_path, scenario(pip_repo(dependabot_prs=[native])), [{"repo": "api"}]) as env:
        before = env.sim.admin.branches("api")["dependabot/pip/requests-2.32.4"]
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert unit["pr_source"] == "native_dependabot"
        assert unit["outcome"] == "merged", unit["detail"]
        [pull] = env.sim.admin.pulls("api")
        assert pull["merged"] and "agentd:remediation" in pull["body"]
        assert pull["head_sha"] == before  # never pushed to
        assert not any(
            r.method == "POST" and r.path.endswith("/pulls") for r in env.sim.admin.requests()
        )


def test_non_qualifying_native_pr_is_left_alone(tmp_path: Path) -> None:
    native = {
        "branch": "dependabot/pip/requests-2.31.0",
        "title": "Bump requests from 2.25.0 to 2.31.0",
        "body": NATIVE_BODY.format(v="2.31.0"),
        "files": {"requirements.txt": "requests==2.31.0\n"},
    }
    with e2e(tmp_path, scenario(pip_repo(dependabot_prs=[native])), [{"repo": "api"}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert unit["pr_source"] == "agent_managed" and unit["outcome"] == "merged"
        assert any("left alone" in note and "2.32.4" in note for note in unit["notes"]), unit[
            "notes"
        ]
        native_pr = next(
            p for p in env.sim.admin.pulls("api") if p["head"].startswith("dependabot/")
        )
        assert native_pr["state"] == "open" and "agentd:remediation" not in native_pr["body"]


def _snapshot(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file()
        and not str(p.relative_to(path)).startswith(
            (
                ".git/objects",
                ".git/worktrees",
                ".git/refs/remotes",
                ".git/logs",
                ".git/FETCH_HEAD",
                ".git/packed-refs",
            )
        )
    }


def test_operator_checkout_is_untouched_even_when_a_run_fails(tmp_path: Path) -> None:
    import subprocess
    import sys

    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api"}]) as env:
        clone = env.sim.clone_path("api")
        subprocess.run(
            ["git", "-C", str(clone), "checkout", "-q", "-b", "operator-work"], check=True
        )
        (clone / "requirements.txt").write_text("requests==2.0.0 # my local experiment\n")
        (clone / "untracked.txt").write_text("mine")
        subprocess.run(["git", "-C", str(clone), "add", "requirements.txt"], check=True)
        (clone / "app.py").write_text("print('edited, not staged')\n")
        before = _snapshot(clone)
        result, _ = env.run()
        assert result.returncode == 0
        assert _snapshot(clone) == before
        # a run that fails mid-way: the verification command dies
        env.sim.admin.reset()
        failing = {
            "target_id": "root",
            "path": ".",
            "ecosystems": ["pip"],
            "verification_commands": [f'{sys.executable} -c "raise SystemExit(9)"'],
        }
        import yaml

        profile = yaml.safe_load(env.profile_path.read_text())
        profile["repositories"][0]["targets"] = [failing]
        env.sim.admin.push("api", "main", {"requirements.txt": "requests==2.25.0\n"}, "regress")
        env.profile_path.write_text(yaml.safe_dump(profile))
        env.run()
        assert _snapshot(clone) == before
        assert not list((env.state_dir / "worktrees").rglob("requirements.txt"))


def test_two_targets_give_two_prs(tmp_path: Path) -> None:
    repo = {
        **pip_repo(),
        "files": {
            "requirements.txt": "requests==2.25.0\n",
            "worker/requirements.txt": "urllib3==1.26.5\n",
        },
    }
    from e2e import verify_ok

    targets = [
        {
            "target_id": "root",
            "path": ".",
            "ecosystems": ["pip"],
            "verification_commands": [verify_ok()],
        },
        {
            "target_id": "worker",
            "path": "worker",
            "ecosystems": ["pip"],
            "verification_commands": [verify_ok()],
        },
    ]
    with e2e(
        tmp_path, scenario(repo), [{"repo": "api", "targets": targets}], mode="pull_request"
    ) as env:
        _, summary = env.run()
        units = {u["target_id"]: u for u in env.units(summary, repository="api")}
        assert units["root"]["outcome"] == units["worker"]["outcome"] == "opened_pr"
        assert "urllib3 1.26.5 → 1.26.19" in " ".join(units["worker"]["changes"])
        assert len(env.sim.admin.pulls("api")) == 2


def test_manifest_change_forbidden_and_no_patch(tmp_path: Path) -> None:
    repo = {**pip_repo(), "files": {"requirements.txt": "requests==2.25.0\nflask>=2.0\n"}}
    ecdsa = {**pip_repo(), "name": "crypto", "files": {"requirements.txt": "ecdsa==0.18.0\n"}}
    with e2e(tmp_path, scenario(repo, ecdsa), [{"repo": "api"}, {"repo": "crypto"}]) as env:
        _, summary = env.run()
        [api_unit] = env.units(summary, repository="api")
        assert (api_unit["outcome"], api_unit["reason_code"]) == (
            "blocked",
            "manifest_change_required",
        )
        [crypto] = env.units(summary, repository="crypto")
        assert (crypto["outcome"], crypto["reason_code"]) == ("blocked", "no_patch_available")
        assert env.mutating() == []


def test_ruleset_checks_and_moved_head_and_unreadable_protection(tmp_path: Path) -> None:
    ruleset_repo = {
        **pip_repo(checks=[{"name": "lint", "outcome": "pending"}]),
        "protection": None,
        "rulesets": [{"name": "main", "required_checks": ["lint"]}],
    }
    locked = {
        **pip_repo(),
        "name": "locked",
        "protection": {"required_checks": ["ci"], "readable": False},
    }
    with e2e(
        tmp_path, scenario(ruleset_repo, locked), [{"repo": "api"}, {"repo": "locked"}]
    ) as env:
        _, summary = env.run()
        [api_unit] = env.units(summary, repository="api")
        assert (api_unit["outcome"], api_unit["remaining_blocker"]) == (
            "opened_pr",
            "checks_pending",
        )
        [locked_unit] = env.units(summary, repository="locked")
        assert (locked_unit["outcome"], locked_unit["reason_code"]) == (
            "blocked",
            "auth_insufficient",
        )
        env.sim.admin.set_check("api", "lint", "success")
        env.sim.admin.inject("merge_409")
        _, summary = env.run()
        [api_unit] = env.units(summary, repository="api")
        # the 409 is re-evaluated (never forced): the next iteration merges on the fresh head
        assert api_unit["outcome"] == "merged", api_unit["detail"]
        merges = [
            r for r in env.sim.admin.requests() if r.method == "PUT" and r.path.endswith("/merge")
        ]
        assert [r.status for r in merges] == [409, 200]


def test_alert_dismissed_after_pr_closes_it_as_superseded(tmp_path: Path) -> None:
    with e2e(
        tmp_path,
        scenario(pip_repo(checks=[{"name": "ci", "outcome": "pending"}])),
        [{"repo": "api"}],
    ) as env:
        env.run()
        [pull] = env.sim.admin.pulls("api")
        for alert in env.sim.admin.alerts("api", "dependabot"):
            env.sim.admin.dismiss_alert("api", "dependabot", alert["number"], "tolerable_risk")
        _, summary = env.run()
        [unit] = [
            u for u in env.units(summary, repository="api") if u["pr_number"] == pull["number"]
        ]
        assert (unit["outcome"], unit["reason_code"]) == ("skipped", "superseded")
        [closed] = env.sim.admin.pulls("api")
        assert closed["state"] == "closed" and not closed["merged"]
        assert any("superseded" in c for c in closed["comments"])


def test_a_full_run_verifies_inside_the_bwrap_sandbox(tmp_path: Path) -> None:
    import sys

    import pytest
    import yaml
    from support import require_tool

    require_tool("bwrap")
    hosts = tmp_path / "gh-config" / "hosts.yml"
    hosts.parent.mkdir(parents=True)
    hosts.write_text("github.com:\n    oauth_token: ghp_" + "Q" * 36 + "\n")
    probe = (
        f"{sys.executable} -c \"import pathlib; pathlib.Path('sandboxed.txt').write_text('x'); "
        f"p = pathlib.Path('{hosts}'); print('TOKEN-VISIBLE' if p.exists() else 'TOKEN-HIDDEN')\""
    )
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [probe],
    }
    with e2e(tmp_path, scenario(pip_repo()), [{"repo": "api", "targets": [target]}]) as env:
        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["verification"] = {"sandbox": "bwrap"}
        env.profile_path.write_text(yaml.safe_dump(profile))
        _, summary = env.run()
        [unit] = env.units(summary, repository="api")
        tail = unit["verification"][0]["output_tail"]
        if "Operation not permitted" in tail or "setting up uid map" in tail:
            pytest.skip("unprivileged namespaces are not available here")
        assert unit["outcome"] == "merged", (unit["detail"], tail)
        assert "TOKEN-HIDDEN" in tail, tail


def test_transient_base_modified_405_is_retried_not_blocked(tmp_path: Path) -> None:
    with e2e(
        tmp_path,
        scenario(pip_repo(checks=[{"name": "ci", "outcome": "pending"}])),
        [{"repo": "api"}],
    ) as env:
        env.run()  # opens the PR; checks pending
        env.sim.admin.set_check("api", "ci", "success")
        env.sim.admin.reset()
        env.sim.admin.inject(
            "status",
            status=405,
            message="Base branch was modified. Review and try the merge again.",
            route="/merge$",
            method="PUT",
        )
        result, summary = (
            env.run()
        )  # nothing new is pushed: only the retry can merge it in this run
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "merged", unit["detail"]
        merges = [
            r.status
            for r in env.sim.admin.requests()
            if r.method == "PUT" and r.path.endswith("/merge")
        ]
        assert merges == [405, 200]
