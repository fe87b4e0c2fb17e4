"""agentd's own defects are reported as what they are: never as a repository's problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from e2e import TOKEN, profile_for

from agentd.alerts.dependabot.plugin import DependabotPlugin
from agentd.engine.run import RunOptions, execute_run
from agentd.errors import ExitCode
from agentd.github.auth import Token, TokenKind
from agentd.metrics import render_metrics
from agentd.profile import load_profile
from agentd.settings import Settings
from agentd.simulator import Simulator
from agentd.vocabulary import Outcome, ReasonCode

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
}


def test_a_bug_in_a_plugin_is_an_internal_error_counted_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(DependabotPlugin, "propose", broken)
    with Simulator(SCENARIO, tmp_path / "sim") as sim:
        data = profile_for(sim, [{"repo": "api"}], mode="pull_request")
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        settings = Settings(api_url=sim.api_url, git_url=sim.git_url, state_dir=tmp_path / "state")
        summary = execute_run(
            load_profile(path), settings, RunOptions(), environ={},
            token=Token(TokenKind.CLASSIC_PAT, TOKEN),
        )  # fmt: skip
    [unit] = [u for u in summary.units if u.alert_class.value == "dependabot"]
    assert (unit.outcome, unit.result.reason) == (Outcome.FAILED, ReasonCode.INTERNAL_ERROR)
    assert "ZeroDivisionError" in unit.result.detail and "bug in agentd" in unit.result.detail
    assert summary.has_failures  # the CLI exits 1
    assert ExitCode.UNITS_FAILED == 1
    metrics = render_metrics(summary, 0)
    assert 'agentd_internal_errors{profile="e2e"} 1' in metrics
    assert 'agentd_last_run_success{profile="e2e"} 0' in metrics
