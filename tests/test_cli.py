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
