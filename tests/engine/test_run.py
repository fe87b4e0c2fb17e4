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
