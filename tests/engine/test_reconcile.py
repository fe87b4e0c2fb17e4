"""Reconcile end to end: agent PRs of every class are closed when no unit stands behind them."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from e2e import E2E, e2e, verify_ok
from support import base_profile, write_profile

from agentd.engine.context import Budget, RunContext
from agentd.engine.reconcile import PlannedKeys, reconcile
from agentd.environment import AllowedEnvironment
from agentd.github.models import Account, PullRequest
from agentd.mutation import MutationPolicy
from agentd.profile import load_profile
from agentd.stamp import Stamp, render_stamp
from agentd.vocabulary import AlertClass, MutationMode

CI = (
    "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"
)
AWS = "AKIAIOSFODNN7CANARY5"
TARGET = {
    "target_id": "root",
    "path": ".",
    "ecosystems": ["pip"],
    "verification_commands": [verify_ok()],
}
REVIEW_ONLY = {
    "allowlisted_rules": ["actions/missing-workflow-permissions"],
    "auto_merge_rules": [],
}


def scenario(**files: str) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": files or {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            }
        ],
    }


def open_pulls(env: E2E) -> list[dict[str, Any]]:
    return [p for p in env.sim.admin.pulls("api") if p["state"] == "open"]


def comments_on(env: E2E, number: int) -> list[str]:
    pulls = {p["number"]: p for p in env.sim.admin.pulls("api")}
    return list(pulls[number]["comments"])


def test_code_and_secret_scanning_prs_are_closed_when_their_alerts_are_dismissed(
    tmp_path: Path,
) -> None:
    files = {".github/workflows/ci.yml": CI, ".env": f"AWS_ACCESS_KEY_ID={AWS}\n"}
    with e2e(
        tmp_path, scenario(**files), [{"repo": "api", "targets": [TARGET]}],
        mode="pull_request", code_scanning=REVIEW_ONLY,
    ) as env:  # fmt: skip
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        opened = {u["alert_class"]: u for u in summary["units"] if u["outcome"] == "opened_pr"}
        assert set(opened) == {"code_scanning", "secret_scanning"}, summary["units"]
        for alert_class, unit in opened.items():
            env.sim.admin.dismiss_alert("api", alert_class, unit["alert_number"], "false_positive")

        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        assert open_pulls(env) == []
        for alert_class, unit in opened.items():
            [closed] = env.units(summary, alert_class=alert_class, pr_number=unit["pr_number"])
            assert (closed["outcome"], closed["reason_code"]) == ("skipped", "superseded")
            assert f"#{unit['alert_number']}" in closed["detail"]
            pull = next(p for p in env.sim.admin.pulls("api") if p["number"] == unit["pr_number"])
            assert pull["state"] == "closed" and not pull["merged"]
            [comment] = comments_on(env, unit["pr_number"])
            assert "agentd is closing this pull request" in comment and "`superseded`" in comment


def test_a_branch_template_change_keeps_one_pr_per_key(tmp_path: Path) -> None:
    with e2e(
        tmp_path, scenario(), [{"repo": "api", "targets": [TARGET]}], mode="pull_request"
    ) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [first] = open_pulls(env)

        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["defaults"]["branch_template"] = (
            "agentd/{target_id}/{remediation_key_short}"
        )
        env.profile_path.write_text(yaml.safe_dump(profile))
        env.sim.admin.reset()
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        assert [p["number"] for p in open_pulls(env)] == [first["number"]]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "opened_pr" and unit["pr_number"] == first["number"]
        assert not [r for r in env.mutating() if r.method == "POST" and r.route.endswith("/pulls")]


def test_a_dependency_a_person_removed_is_reported_dependency_removed(tmp_path: Path) -> None:
    with e2e(
        tmp_path, scenario(), [{"repo": "api", "targets": [TARGET]}], mode="pull_request"
    ) as env:
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [pull] = open_pulls(env)
        # A person drops the dependency on main; the operator's clone has not seen it yet.
        env.sim.admin.push("api", "main", {"requirements.txt": "flask==3.0.3\n"}, "drop requests")

        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [closed] = env.units(summary, pr_number=pull["number"])
        assert (closed["outcome"], closed["reason_code"]) == ("skipped", "dependency_removed")
        assert open_pulls(env) == []
        assert "`dependency_removed`" in comments_on(env, pull["number"])[0]


def test_a_pr_whose_advisories_were_withdrawn_is_closed_as_withdrawn(tmp_path: Path) -> None:
    with e2e(
        tmp_path, scenario(), [{"repo": "api", "targets": [TARGET]}], mode="pull_request"
    ) as env:
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [pull] = open_pulls(env)
        for alert in env.sim.admin.alerts("api", "dependabot"):
            env.sim.admin.withdraw_alert("api", alert["number"])
        result, summary = env.run()
        [closed] = env.units(summary, pr_number=pull["number"])
        assert (closed["outcome"], closed["reason_code"]) == ("skipped", "advisory_withdrawn")
        assert open_pulls(env) == []


def test_repositories_are_reconciled_in_parallel(tmp_path: Path) -> None:
    """Each repository's listing is awaited by the other's: one at a time would never meet."""
    data = base_profile(tmp_path, "auto_merge")
    billing = data["repositories"][1]
    billing["automation_mode"] = "active"
    billing.pop("manual_only_reason")
    billing["targets"] = [TARGET]
    profile = load_profile(write_profile(tmp_path / "p" / "acme.yaml", data)).profile
    both_listing = threading.Barrier(2, timeout=20)
    listed: list[str] = []

    class Listing:
        def listed_repository(self, repo: str) -> Any:
            return SimpleNamespace(open_issues_count=None)  # the listing does not say

        def pulls(self, repo: str, **_: Any) -> list[Any]:
            listed.append(repo)
            both_listing.wait()
            return []

    ctx = RunContext(
        profile=profile, api=Listing(),  # type: ignore[arg-type]
        policy=MutationPolicy(MutationMode.AUTO_MERGE), git_env=None,  # type: ignore[arg-type]
        state_dir=tmp_path, allowed_env=AllowedEnvironment({}), budget=Budget(1, 1),
        run_id="run-1", account=Account(login="agentd-bot", id=1),
    )  # fmt: skip
    planned = PlannedKeys()
    for repo in ("api", "billing"):
        planned.add(AlertClass.DEPENDABOT, repo, [])
    assert reconcile(ctx, planned) == []
    assert sorted(listed) == ["api", "billing"]


def test_an_orphan_merged_since_the_runs_listing_is_left_alone(tmp_path: Path) -> None:
    """The listing is the run's (read once); GitHub's auto-merge may have merged the PR since.
    It is read again before closing, and a PR no longer open is neither commented on nor
    closed."""
    profile = load_profile(
        write_profile(tmp_path / "p" / "acme.yaml", base_profile(tmp_path, "auto_merge"))
    ).profile
    stamp = Stamp(
        remediation_key="acme-org/api:dependabot:main:gone", alert_class=AlertClass.DEPENDABOT,
        target_id="root", base_branch="main", advisory_ids=["GHSA-9hjg-9r4m-mvj7"], agent_version="0.1.0",
        last_pass_at="2026-01-01T00:00:00+00:00",
    )  # fmt: skip
    repo = {"name": "api", "full_name": "acme-org/api"}
    listed = {
        "number": 7, "state": "open", "body": f"Fix\n\n{render_stamp(stamp)}\n",
        "user": {"login": "agentd-bot"}, "head": {"ref": "security/x", "sha": "a" * 40, "repo": repo},
        "base": {"ref": "main", "sha": "b" * 40, "repo": repo},
    }  # fmt: skip
    mutations: list[str] = []

    class GitHub:
        def listed_repository(self, repo: str) -> Any:
            return SimpleNamespace(open_issues_count=1)

        def pulls(self, repo: str, **_: Any) -> list[PullRequest]:
            return [PullRequest.model_validate(listed)]

        def pull(self, repo: str, number: int) -> PullRequest:
            return PullRequest.model_validate({**listed, "state": "closed", "merged": True})

        def __getattr__(self, name: str) -> Any:
            return lambda *_a, **_k: mutations.append(name)

    ctx = RunContext(
        profile=profile, api=GitHub(),  # type: ignore[arg-type]
        policy=MutationPolicy(MutationMode.AUTO_MERGE), git_env=None,  # type: ignore[arg-type]
        state_dir=tmp_path, allowed_env=AllowedEnvironment({}), budget=Budget(1, 1),
        run_id="run-1", account=Account(login="agentd-bot", id=1),
    )  # fmt: skip
    planned = PlannedKeys()
    planned.add(AlertClass.DEPENDABOT, "api", [])
    assert reconcile(ctx, planned) == []
    assert mutations == []
