"""Native Dependabot PRs, single and grouped (issue 15, cause 9).

Unit tests of the structural match (`native.candidates`), then the real CLI against the
simulator: a grouped security PR whose change is exactly agentd's is adopted and merged;
one that bumps a package fewer, or touches one file more, is left alone with the reason
and agentd opens its own PR.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from e2e import e2e

from agentd.alerts.dependabot import native
from agentd.alerts.dependabot.plan import PackageKey, PackagePlan, UnitPlan
from agentd.ecosystems import PackageBump, UnfixedBump, by_name
from agentd.github.models import Account, BranchRef, PullRequest
from agentd.profile import Target
from agentd.vocabulary import ReasonCode

PREFIX = "dependabot/"
GROUPED = "dependabot/npm_and_yarn/ui/group-security-npm_and_yarn-5a1f3b9c2d"


def pull(number: int, head: str, login: str = "dependabot[bot]") -> PullRequest:
    return PullRequest(
        number=number,
        state="open",
        user=Account(login=login),
        head=BranchRef(ref=head, sha="a" * 40),
        base=BranchRef(ref="main", sha="b" * 40),
    )


def npm_plan(*bumps: tuple[str, str]) -> UnitPlan:
    """A unit of the `ui` target bumping (name, lockfile) pairs."""
    packages = [
        PackagePlan(
            PackageKey("npm", name, path),
            name,
            [],
            [PackageBump(name, path, "1.0.0", "1.0.1", ("GHSA-xxxx-xxxx-xxxx",))],
        )
        for name, path in bumps
    ]
    return UnitPlan(Target(target_id="ui", path="ui"), [], packages, by_name("npm"))


def match(
    pulls: list[PullRequest], plan: UnitPlan, files: dict[int, set[str]]
) -> tuple[list[int], list[str]]:
    found = native.candidates(pulls, plan, PREFIX, plan.target.path, files.__getitem__)
    return [p.number for p in found.pulls], found.notes


def test_a_grouped_pr_over_the_units_files_is_a_candidate() -> None:
    plan = npm_plan(("lodash", "ui/package-lock.json"), ("braces", "ui/package-lock.json"))
    assert match([pull(7, GROUPED)], plan, {7: {"ui/package-lock.json"}}) == ([7], [])


def test_a_single_package_pr_is_a_candidate_too() -> None:
    plan = npm_plan(("lodash", "ui/package-lock.json"))
    head = "dependabot/npm_and_yarn/ui/lodash-4.17.21"
    assert match([pull(3, head)], plan, {3: {"ui/package-lock.json"}}) == ([3], [])


def test_prs_that_cannot_carry_the_units_change_are_left_alone_with_why() -> None:
    plan = npm_plan(("lodash", "ui/package-lock.json"), ("minimist", "ui/yarn.lock"))
    pulls = [
        pull(1, "dependabot/pip/ui/group-security-pip-0123456789"),
        pull(2, GROUPED),
        pull(3, "dependabot/npm_and_yarn/multi-9f8e7d6c5b"),
        pull(4, GROUPED, login="mallory"),  # not Dependabot's: not even considered
        pull(5, "renovate/lodash-4.x"),
    ]
    files = {
        2: {"ui/package-lock.json"},
        3: {"ui/package-lock.json", "ui/yarn.lock", "api/package-lock.json"},
    }
    assert match(pulls, plan, files) == (
        [],
        [
            "native Dependabot PR #1 left alone: its head "
            "dependabot/pip/ui/group-security-pip-0123456789 is not a npm_and_yarn update",
            "native Dependabot PR #2 left alone: it does not change ui/yarn.lock, "
            "which this unit fixes",
            "native Dependabot PR #3 left alone: it also changes api/package-lock.json, "
            "outside target 'ui' (a grouped update across directories is more than this "
            "unit's change)",
        ],
    )


def test_a_bump_the_updater_left_is_not_required_of_a_native_pr() -> None:
    plan = npm_plan(("lodash", "ui/package-lock.json"), ("minimist", "ui/yarn.lock"))
    left = plan.packages[1].bumps[0]
    plan.leave([UnfixedBump(left, ReasonCode.NO_PATCH_AVAILABLE, "none in its line")])
    assert match([pull(2, GROUPED)], plan, {2: {"ui/package-lock.json"}}) == ([2], [])


# --- end to end -------------------------------------------------------------------------------

FIXED = "requests==2.32.4\nurllib3==1.26.19\n"  # what agentd builds for this repository
GROUP_BRANCH = "dependabot/pip/group-security-pip-6c1e0a7b4f"
GROUP_TITLE = "Bump the pip group across 1 directory with 2 updates"


def scenario(files: dict[str, str]) -> dict[str, Any]:
    native_pr = {
        "branch": GROUP_BRANCH,
        "title": GROUP_TITLE,
        "body": "Bumps the pip group with 2 updates: requests and urllib3.",
        "files": files,
    }
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {
                    "requirements.txt": "requests==2.25.0\nurllib3==1.26.5\n",
                    "app.py": "print('hi')\n",
                },
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
                "dependabot_prs": [native_pr],
            }
        ],
    }


def on_main(env: Any, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(env.sim.remote_path("api")), "show", f"main:{path}"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip


def test_a_grouped_native_pr_with_exactly_agentds_change_is_adopted(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario({"requirements.txt": FIXED}), [{"repo": "api"}]) as env:
        before = env.sim.admin.branches("api")[GROUP_BRANCH]
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["pr_source"]) == ("merged", "native_dependabot"), unit
        assert len(unit["alert_numbers"]) == 6 and all(a["fixed"] for a in unit["alerts"])
        [grouped] = env.sim.admin.pulls("api")
        assert grouped["merged"] and grouped["head_sha"] == before  # never pushed to
        assert "agentd:remediation" in grouped["body"]
        assert not any(
            r.method == "POST" and r.path.endswith("/pulls") for r in env.sim.admin.requests()
        )
        assert on_main(env, "requirements.txt") == FIXED


def test_a_grouped_native_pr_that_differs_is_left_alone(tmp_path: Path) -> None:
    shapes = {
        "a package fewer": {"requirements.txt": "requests==2.32.4\nurllib3==1.26.5\n"},
        "a file more": {"requirements.txt": FIXED, "tools/requirements-ci.txt": "black==24.1.0\n"},
    }
    for index, (shape, files) in enumerate(shapes.items()):
        with e2e(tmp_path / str(index), scenario(files), [{"repo": "api"}]) as env:
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-2000:]
            [unit] = env.units(summary, repository="api")
            assert (unit["outcome"], unit["pr_source"]) == ("merged", "agent_managed"), (
                shape,
                unit,
            )
            assert any(
                "left alone: its change differs from agentd's in" in note for note in unit["notes"]
            ), (shape, unit["notes"])
            grouped = next(p for p in env.sim.admin.pulls("api") if p["head"] == GROUP_BRANCH)
            assert grouped["state"] == "open" and not grouped["merged"], shape
            assert "agentd:remediation" not in grouped["body"]
            assert on_main(env, "requirements.txt") == FIXED
            assert on_main(env, "tools/requirements-ci.txt") == ""
