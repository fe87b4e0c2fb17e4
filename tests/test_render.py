"""Reports people read: the terminal table and the Markdown issue body (defect 12)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from e2e import e2e
from test_e2e_scanning import CODE_SCANNING, scenario, target

from agentd.render import render_markdown, render_table

# Fails like `npm ci` does: the last line names a log file in the command's private HOME.
NPM_LIKE_FAILURE = (
    f"{sys.executable} -c \"import os, sys; print('3 tests failed: test_login');"
    " print('npm ERR! A complete log of this run can be found in:',"
    " os.environ['HOME'] + '/.npm/_logs/2024-06-03T10_00_00_000Z-debug-0.log'); sys.exit(1)\""
)


def unit(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "repository": "api",
        "target_id": "root",
        "remediation_key": "k",
        "alert_class": "dependabot",
        "rule_id": None,
        "alert_number": 7,
        "outcome": "merged",
        "reason_code": None,
        "remaining_blocker": None,
        "detail": "",
        "pr_url": None,
        "pr_number": None,
        "changes": [],
        "manual_follow_up": [],
        "verification": [],
        "notes": [],
    }
    return {**base, **fields}


def summary(*units: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile_id": "acme",
        "owner": "acme-org",
        "mutation_mode": "auto_merge",
        "generated_at": "2024-06-03T10:00:00+00:00",
        "finished_at": "2024-06-03T10:05:00+00:00",
        "outcomes": {"merged": 1},
        "open_alerts_at_start": {"dependabot": 3},
        "open_alerts_by_class": {"dependabot": 1},
        "units": list(units),
    }


def test_markdown_has_per_unit_changes_follow_ups_and_advice_grouped_by_need() -> None:
    text = render_markdown(
        summary(
            unit(
                repository="web",
                remediation_key="a",
                changes=["@babel/traverse 7.22.0 → 7.23.2 in package-lock.json"],
                pr_url="https://github.com/acme-org/web/pull/41",
                pr_number=41,
            ),
            unit(
                remediation_key="b",
                alert_class="secret_scanning",
                alert_number=3,
                outcome="opened_pr",
                changes=["replaced the secret in app/settings.py with an environment variable"],
                manual_follow_up=["rotate or revoke the credential at its provider now"],
                pr_url="https://github.com/acme-org/api/pull/9",
                pr_number=9,
            ),
            unit(
                remediation_key="c",
                outcome="blocked",
                reason_code="verification_failed",
                detail="verification failed: pytest (exit 1)\n3 failed",
                changes=["requests 2.25.0 → 2.31.0 in requirements.txt"],
                verification=[
                    {
                        "command": "pytest -q",
                        "provenance": "observed",
                        "exit_code": 1,
                        "timed_out": False,
                        "output_tail": "collected 9 items\nFAILED test_login\n3 failed",
                    }
                ],
            ),
        )
    )
    needs, waiting, merged = (
        text.index("## Needs a person (1)"),
        text.index("## Waiting for review or checks (1)"),
        text.index("## Merged (1)"),
    )
    assert needs < waiting < merged  # the actionable first
    assert "### `web`" in text and "### `api`" in text
    # What changed, as code: a scoped npm package must not mention (notify) a GitHub user.
    assert "- What changed: `@babel/traverse 7.22.0 → 7.23.2 in package-lock.json`" in text
    assert "- What changed: `requests 2.25.0 → 2.31.0 in requirements.txt`" in text
    assert "- PR: [#41](https://github.com/acme-org/web/pull/41)" in text
    assert "- [ ] Follow-up: rotate or revoke the credential at its provider now" in text
    assert "- What to do: Read the output tail" in text
    # The failing command's output, folded, and the alert number never an issue reference.
    assert "<details><summary>Output of <code>pytest -q</code> (exit 1)</summary>" in text
    assert "```text\ncollected 9 items\nFAILED test\\_login" not in text
    assert "FAILED test_login\n3 failed\n```" in text
    assert " alert `#7`" in text and " #7" not in text


def test_markdown_text_from_repositories_cannot_inject_markup() -> None:
    text = render_markdown(
        summary(
            unit(
                outcome="failed",
                reason_code="internal_error",
                detail="<img src=x onerror=alert(1)> [click](http://evil) @acme-org/admins",
            )
        )
    )
    assert "\\<img src=x onerror=alert(1)\\>" in text and "\\[click\\](" in text
    assert "<img" not in text.replace("\\<img", "")
    assert "`@acme-org/admins`" in text


def test_terminal_report_shows_failed_output_and_says_the_private_home_is_gone(
    tmp_path: Path,
) -> None:
    repos = [{"repo": "api", "targets": [target(verification_commands=[NPM_LIKE_FAILURE])]}]
    with e2e(tmp_path, scenario(), repos, code_scanning=CODE_SCANNING) as env:
        result, run = env.run()
        assert result.returncode in (0, 1), result.stderr[-2000:]
        failed = [u for u in run["units"] if u["reason_code"] == "verification_failed"]
        assert failed, [(u["outcome"], u["reason_code"]) for u in run["units"]]
        table = env.agentd("report", "--profile", str(env.profile_path))
        markdown = env.agentd("report", "--profile", str(env.profile_path), "--format", "markdown")
        as_json = env.agentd("report", "--profile", str(env.profile_path), "--format", "json")
    assert table.returncode == markdown.returncode == as_json.returncode == 0
    assert "), last lines:" in table.stdout
    assert "| 3 tests failed: test_login" in table.stdout
    assert "can be found in: <deleted verification home>/.npm/_logs/" in table.stdout
    assert "can be found in: <deleted verification home>/.npm/_logs/" in markdown.stdout
    for text in (table.stdout, markdown.stdout, as_json.stdout, json.dumps(run)):
        assert "agentd-home-" not in text


def test_table_still_lists_every_unit() -> None:
    text = render_table(summary(unit(), unit(remediation_key="z", outcome="skipped")))
    assert "Merged (1):" in text and "Skipped (1):" in text
