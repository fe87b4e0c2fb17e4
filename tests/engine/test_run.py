"""The run loop: one final record per unit, and a merge is never reported as anything else."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from e2e import e2e, verify_ok

from agentd.engine.run import keep_final, web_base_url
from agentd.report import UnitRecord
from agentd.vocabulary import AlertClass, Outcome, ReasonCode, UnitResult


def record(result: UnitResult, key: str = "acme/api:dependabot:main:root") -> UnitRecord:
    return UnitRecord("api", "main", "root", key, AlertClass.DEPENDABOT, result)


def test_a_later_attempt_never_replaces_a_merge() -> None:
    records: dict[str, UnitRecord] = {}
    merged = record(UnitResult.merged("merged abc"))
    keep_final(records, record(UnitResult.opened_pr(ReasonCode.CHECKS_PENDING)))
    keep_final(records, merged)
    keep_final(records, record(UnitResult.blocked(ReasonCode.NO_PATCH_AVAILABLE, "ecdsa 0.18.0")))
    [final] = records.values()
    assert final is merged and final.outcome is Outcome.MERGED
    assert final.notes == ["afterwards in this run: blocked no_patch_available: ecdsa 0.18.0"]
    assert final.later is not None and final.later.result.reason is ReasonCode.NO_PATCH_AVAILABLE


def test_otherwise_the_latest_attempt_is_the_record() -> None:
    records: dict[str, UnitRecord] = {}
    keep_final(records, record(UnitResult.opened_pr(ReasonCode.CHECKS_PENDING)))
    latest = record(UnitResult.blocked(ReasonCode.CHECKS_RED, "ci failed"))
    keep_final(records, latest)
    assert list(records.values()) == [latest]


def test_a_merged_unit_stays_merged_when_a_later_iteration_cannot_fix_the_rest(
    tmp_path: Path,
) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {"requirements.txt": "requests==2.25.0\necdsa==0.18.0\n"},
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            }
        ],
    }
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok()],
    }
    with e2e(tmp_path, scenario, [{"repo": "api", "targets": [target]}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit
        assert any("afterwards in this run: blocked no_patch_available" in n for n in unit["notes"])
        assert summary["iterations"]["dependabot"] == 2
        counts = Counter(u["outcome"] for u in summary["units"])
        assert {k: v for k, v in summary["outcomes"].items() if v} == dict(counts)
        remaining = [
            r for r in summary["remaining_open_alerts"] if r["alert_class"] == "dependabot"
        ]
        assert remaining and {r["why"] for r in remaining} == {"no_patch_available"}


def test_git_follows_the_api_url_when_no_git_url_is_set(tmp_path: Path) -> None:
    """AGENTD_API_URL alone (a GHES host, a mirror, the simulator) must not send git to
    github.com: git talks to the web host of the API agentd talks to."""
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            }
        ],
    }
    target = {"target_id": "root", "path": ".", "ecosystems": ["pip"],
              "verification_commands": [verify_ok()]}  # fmt: skip
    with e2e(tmp_path, scenario, [{"repo": "api", "targets": [target]}]) as env:
        environ = env.env()
        del environ["AGENTD_GIT_URL"]
        result = subprocess.run(
            [sys.executable, "-m", "agentd", "run", "--profile", str(env.profile_path), "--json"],
            capture_output=True, text=True, env=environ, timeout=180, check=False,
        )  # fmt: skip
        summary = json.loads(result.stdout)
        assert [u["outcome"] for u in summary["units"]] == ["merged"], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://api.octo.ghe.com", "https://octo.ghe.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_the_web_host_of_an_api_url(api: str, web: str) -> None:
    assert web_base_url(api) == web


def test_dry_run_and_report_only_report_existing_prs_as_existing(tmp_path: Path) -> None:
    """Defect 8: with agentd's PR already open, --dry-run and report_only say so (and what
    they would do with it) instead of listing it as a PR still to open; a PR whose alerts
    are gone is one they would close. Neither changes anything."""
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {"requirements.txt": "requests==2.25.0\n"},
                "checks": [{"name": "ci", "outcome": "pending"}],
            }
        ],
    }
    with e2e(tmp_path, scenario, [{"repo": "api"}]) as env:
        opened, summary = env.run()
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "opened_pr", (unit["detail"], opened.stderr[-2000:])
        number = unit["pr_number"]
        before = len(env.mutating())

        dry, summary = env.run("--dry-run")
        assert dry.returncode == 0, dry.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "policy_blocked")
        assert unit["pr_number"] == number and "would open" not in unit["detail"]
        assert (
            f"mutation mode auto_merge (dry run): PR #{number} already open and up to date "
            "with main; would re-check its gate (reviews, checks) and merge it when the gate "
            "passes"
        ) == unit["detail"]

        report_only, summary = env.run("--mutation-mode", "report_only")
        assert report_only.returncode == 0, report_only.stderr[-2000:]
        [unit] = env.units(summary, repository="api")
        assert unit["outcome"] == "opened_pr" and unit["pr_number"] == number
        assert unit["detail"].endswith("nothing to change; a person reviews and merges it")

        table = env.agentd("run", "--profile", str(env.profile_path), "--dry-run")
        assert f"PR #{number} already open" in table.stdout and "would open" not in table.stdout

        for alert in env.sim.admin.alerts("api", "dependabot"):
            env.sim.admin.dismiss_alert("api", "dependabot", alert["number"], "tolerable_risk")
        _, summary = env.run("--dry-run")
        [orphan] = [u for u in env.units(summary, repository="api") if u["pr_number"] == number]
        assert (orphan["outcome"], orphan["reason_code"]) == ("skipped", "policy_blocked")
        assert orphan["detail"].startswith(
            f"mutation mode auto_merge (dry run): would close PR #{number}: "
        )
        assert len(env.mutating()) == before  # nothing was changed by any of them
        assert env.sim.admin.pulls("api")[0]["state"] == "open"
