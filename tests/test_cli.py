"""The command-line skeleton: commands exist, stubs say so plainly, usage errors exit 2."""

from __future__ import annotations

from support import run_agentd


def test_help_lists_every_command() -> None:
    result = run_agentd("--help")
    assert result.returncode == 0
    for command in (
        "validate",
        "lock",
        "run",
        "discover",
        "report",
        "runs",
        "daemon",
        "demo",
        "sim",
    ):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run_agentd("frobnicate")
    assert result.returncode == 2


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    import os
    import subprocess
    import sys

    from support import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTD_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "agentd", "validate", str(REPO_ROOT / "profiles/template/profile.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head` that already has what it wanted
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_the_command_line_may_lower_the_mode_but_raising_it_needs_allow_escalation(
    tmp_path: object,
) -> None:
    from pathlib import Path

    from e2e import e2e

    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
    }
    with e2e(Path(str(tmp_path)), scenario, [{"repo": "api"}], mode="report_only") as env:
        result, _ = env.run("--mutation-mode", "auto_merge")
        assert result.returncode == 2, result.stderr
        assert "would raise the profile's mutation_mode report_only" in result.stderr
        assert "--allow-escalation" in result.stderr and env.mutating() == []
        lowered, _ = env.run("--mutation-mode", "report_only")
        assert lowered.returncode == 0, lowered.stderr[-2000:]
        raised, summary = env.run("--mutation-mode", "pull_request", "--allow-escalation")
        assert raised.returncode == 0 and summary["mutation_mode"] == "pull_request"
        assert "mutation mode raised" in raised.stderr
