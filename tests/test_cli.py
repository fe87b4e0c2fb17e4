"""The command-line skeleton: commands exist, stubs say so plainly, usage errors exit 2."""

from __future__ import annotations

import pytest
from support import run_agentd


def test_help_lists_every_command() -> None:
    result = run_agentd("--help")
    assert result.returncode == 0
    for command in ("validate", "lock", "run", "discover", "report", "daemon", "demo", "sim"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run_agentd("frobnicate")
    assert result.returncode == 2


@pytest.mark.parametrize("command", [["daemon"], ["report"]])
def test_unbuilt_commands_say_so(command: list[str]) -> None:
    result = run_agentd(*command)
    if "not built yet" not in result.stderr:
        pytest.skip(f"agentd {command[0]} is built")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
