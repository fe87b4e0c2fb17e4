"""Progress while a run runs (defect 4): a line per repository as it starts and ends, a
phase line per pass, an estimate once one is knowable; the same as JSON events; `-v` a
real trace of what the run decides."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from e2e import e2e

from agentd.log import configure_logging
from agentd.report import UnitRecord
from agentd.vocabulary import AlertClass, ReasonCode, UnitResult


def _scenario() -> dict[str, Any]:
    checks = {"checks": [{"name": "ci", "outcome": "success"}]}
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}, **checks},
            {"name": "web", "files": {"requirements.txt": "requests==2.25.0\n"}, **checks},
        ],
    }


def _events(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if "event" in line]


def test_a_run_reports_its_progress_as_json_events(tmp_path: Path) -> None:
    with e2e(tmp_path, _scenario(), [{"repo": "api"}, {"repo": "web"}]) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
    events = _events(result.stderr)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert events[0]["run_id"] == summary["run_id"] == events[-1]["run_id"]
    assert {"pass_started", "alerts_read", "repository_started", "repository_finished"} <= set(
        kinds
    )
    first_pass = [
        e for e in events if e.get("alert_class") == "dependabot" and e.get("pass_number") == 1
    ]
    finished = [e for e in first_pass if e["event"] == "repository_finished"]
    assert sorted(e["repository"] for e in finished) == ["api", "web"]
    assert sorted(e["index"] for e in finished) == [1, 2] and {e["total"] for e in finished} == {2}
    api = next(e for e in finished if e["repository"] == "api")
    assert api["units"][0]["outcome"] == "merged" and api["units"][0]["pr_number"]
    assert api["msg"].startswith(f"[{api['index']}/2] api: dependabot merged #")
    # A merge can change the alerts: the next pass says so in plain words.
    second = next(e for e in events if e["event"] == "pass_started" and e["pass_number"] == 2)
    assert "opened or merged in pass 1" in second["msg"]
    assert not any("rediscovering" in line for line in result.stderr.splitlines())


def test_a_terminal_gets_plain_lines_and_v_after_the_subcommand_gives_a_trace(
    tmp_path: Path,
) -> None:
    with e2e(tmp_path, _scenario(), [{"repo": "api"}, {"repo": "web"}]) as env:
        result, summary = env.run("-v", AGENTD_LOG_FORMAT="human")
        assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert any(
        line.endswith(f"run {summary['run_id']}: profile e2e, mode auto_merge, 2 repositories")
        for line in lines
    )
    assert any(
        "dependabot, pass 1: reading the dependabot alerts of 2 repositories" in line
        for line in lines
    )
    assert any("] api: dependabot merged #" in line and "(3 alerts)" in line for line in lines)
    assert any("] api: dependabot started (3 open alerts)" in line for line in lines)
    progress_lines = [line for line in lines if "] api: dependabot" in line]
    assert all("event=" not in line for line in progress_lines)  # fields are for JSON readers
    # -v: what was decided at each step, and why.
    for decision in ("run decided", "planned", "proposed", "verified", "merge gate decided"):
        assert any(f"DEBUG   {decision}" in line for line in lines), decision
    assert "internal error" not in result.stderr


def test_the_log_level_setting_takes_any_case_and_names_the_allowed_values(
    tmp_path: Path,
) -> None:
    from support import REPO_ROOT, run_agentd

    template = str(REPO_ROOT / "profiles/template/profile.yaml")
    debug = run_agentd("validate", template, env={"AGENTD_LOG_LEVEL": "debug"})
    assert debug.returncode == 0, debug.stderr
    wrong = run_agentd("validate", template, env={"AGENTD_LOG_LEVEL": "verbose"})
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        "agentd: error: AGENTD_LOG_LEVEL='verbose' is invalid: "
        "use one of debug, info, warning, error (any case)"
    ]
    fmt = run_agentd("validate", template, env={"AGENTD_LOG_FORMAT": "xml"})
    assert fmt.returncode == 2 and "auto, human, json" in fmt.stderr
    assert "Traceback" not in wrong.stderr + fmt.stderr and "pydantic" not in wrong.stderr


def _record(result: UnitResult, **fields: Any) -> UnitRecord:
    return UnitRecord("api", "main", "root", "k", AlertClass.DEPENDABOT, result, **fields)


def test_each_unit_in_a_few_words() -> None:
    from agentd.progress import describe_unit

    assert (
        describe_unit(_record(UnitResult.merged("m"), pr_number=41, alert_numbers=[1, 2]))
        == "merged #41 (2 alerts)"
    )
    waiting = UnitResult.opened_pr(ReasonCode.CHECKS_PENDING, "ci running")
    assert describe_unit(_record(waiting, pr_number=7, alert_number=3)) == (
        "PR #7 open, waiting: checks_pending (1 alert)"
    )
    blocked = UnitResult.blocked(ReasonCode.VERIFICATION_FAILED, "tests failed")
    assert describe_unit(_record(blocked, alert_numbers=[5])) == (
        "blocked verification_failed (1 alert)"
    )


def test_an_estimate_once_a_repository_of_the_pass_has_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentd import progress
    from agentd.progress import ProgressLog

    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    configure_logging("human", "INFO", stream)
    observer = ProgressLog()
    observer.pass_started(AlertClass.DEPENDABOT, 1, 4)
    observer.alerts_read(AlertClass.DEPENDABOT, 1, 9)
    for repo in ("a", "b", "c", "d"):
        observer.repository_started(AlertClass.DEPENDABOT, repo, 2)
    now[0] += 60  # a minute per repository
    observer.repository_finished(AlertClass.DEPENDABOT, "a", [])
    now[0] += 60
    observer.repository_finished(AlertClass.DEPENDABOT, "b", [])
    lines = stream.getvalue().splitlines()
    assert lines[-2].endswith("[1/4] a: no open dependabot alerts; about 3m00s left in this pass")
    assert lines[-1].endswith("[2/4] b: no open dependabot alerts; about 2m00s left in this pass")
    assert any(line.endswith("[4/4] d: dependabot started (2 open alerts)") for line in lines)
