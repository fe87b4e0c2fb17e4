"""`latest.json` speaks the upstream reporting model too: its weekly renderer reads it right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e import e2e
from support import SHARED
from test_e2e_scanning import CODE_SCANNING, scenario, target

UPSTREAM_SCRIPTS = SHARED / "compat" / "upstream-scripts"
RENDERER = UPSTREAM_SCRIPTS / "render_weekly_report.py"


def upstream_render(latest: Path) -> str:
    if not RENDERER.is_file():
        pytest.skip("the upstream scripts (../shared/compat/upstream-scripts) are not here")
    result = subprocess.run(
        [sys.executable, str(RENDERER), str(latest)],
        capture_output=True, text=True, check=True, cwd=UPSTREAM_SCRIPTS, timeout=60,
    )  # fmt: skip
    return result.stdout


def counted(units: list[dict[str, Any]], alert_class: str, outcome: str) -> int:
    return sum(1 for u in units if u["alert_class"] == alert_class and u["outcome"] == outcome)


def needs_a_person(units: list[dict[str, Any]], alert_class: str) -> int:
    """The upstream model's "manual": blocked or failed, with follow-ups, or in a
    manual-only repository."""
    return sum(
        1
        for u in units
        if u["alert_class"] == alert_class
        and (
            u["outcome"] in ("blocked", "failed")
            or u["manual_follow_up"]
            or u["repository"] == "nocode"
        )
    )


def test_the_upstream_weekly_renderer_reads_agentds_latest_json(tmp_path: Path) -> None:
    repos = [
        {"repo": "api", "targets": [target()]},
        {"repo": "releaser", "targets": [target()]},
        {"repo": "nocode", "automation_mode": "manual_only", "manual_only_reason": "board"},
        {"repo": "noanalysis", "automation_mode": "ignored", "ignored_reason": "archived"},
    ]
    with e2e(tmp_path, scenario(), repos, code_scanning=CODE_SCANNING) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
    latest_path = env.state_dir / "runs" / "e2e" / "latest.json"
    latest = json.loads(latest_path.read_text())
    units = latest["units"]

    # agentd's own names stay; the upstream model's are there too, and agree with them.
    assert latest["repositories_by_mode"] == {"active": 2, "manual_only": 1, "ignored": 1}
    assert latest["schema_version"] == 1
    assert latest["repo_counts"] == latest["repositories_by_mode"]
    opened = latest["open_alerts_by_class"]
    assert latest["open_alert_counts"] == {**opened, "total": sum(opened.values())}
    modes = {"api": "active", "releaser": "active", "nocode": "manual_only"}
    modes["noanalysis"] = "ignored"  # scanning coverage is reported for every repository
    for unit in units:
        assert unit["repo"] == unit["repository"] and unit["owner"] == "acme-org"
        assert unit["repository_mode"] == modes[unit["repository"]]
        assert unit["manual_follow_up_actions"] == unit["manual_follow_up"]
    secrets = [u for u in units if u["alert_class"] == "secret_scanning" and u["alert_number"]]
    assert len(secrets) == 3 and all(u["secret_type"] for u in secrets)
    assert all(u["secret_type"] is None for u in units if u not in secrets)
    # The JSONL records carry the same fields.
    jsonl = Path(summary["report_path"]).read_text().splitlines()
    assert {json.loads(line)["repo"] for line in jsonl} == {u["repo"] for u in units}

    rendered = upstream_render(latest_path)
    assert "- 2 active repos scanned" in rendered
    assert "- 1 manual-only repos checked" in rendered
    dependabot = (
        f"Dependabot: {counted(units, 'dependabot', 'merged')} merged, "
        f"{counted(units, 'dependabot', 'opened_pr')} PR, "
        f"{needs_a_person(units, 'dependabot')} blocked"
    )
    assert dependabot in rendered
    code = (
        f"Code scanning: {counted(units, 'code_scanning', 'merged')} fixed, "
        f"{counted(units, 'code_scanning', 'opened_pr')} PR, "
        f"{needs_a_person(units, 'code_scanning')} manual"
    )
    assert code in rendered
    assert counted(units, "dependabot", "merged") > 0 and counted(units, "code_scanning", "merged")
    secret = (
        f"Secret scanning: {counted(units, 'secret_scanning', 'opened_pr')} cleanup PR, "
        f"{needs_a_person(units, 'secret_scanning')} manual"
    )
    assert secret in rendered
    total = sum(opened.values())
    if total:
        assert f"- Total: {total}" in rendered
        assert f"- Secret scanning: {opened['secret_scanning']}" in rendered
