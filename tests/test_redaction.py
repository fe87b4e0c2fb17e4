"""The redactor across runs: the daemon runs profile after profile in one process."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from e2e import TOKEN, profile_for

from agentd.github.auth import Token, TokenKind
from agentd.github.models import SecretScanningAlert
from agentd.profile import load_profile
from agentd.redaction import MASK, REDACTOR, redact
from agentd.settings import Settings
from agentd.simulator import Simulator

PATTERN = r"internal-[0-9a-f]{8}"
OTHER = r"tenant-[0-9]{6}"
LEAKED = "internal-deadbeef"
TENANT = "tenant-123456"
VALUE = "scanned/secret value 0001"
GITHUB_TOKEN = "ghp-shaped-but-not-generic-token-77"


def masked(text: str) -> bool:
    return MASK in redact(text) and text not in redact(text)


def test_registering_the_same_patterns_each_run_keeps_one_of_each() -> None:
    # old: `register_patterns` extended a list, so the call `execute_run` makes on every
    # run added the profile's patterns again: N runs, N copies of each.
    for _ in range(5):
        REDACTOR.register_patterns([PATTERN, OTHER, PATTERN])

    assert REDACTOR.patterns() == (PATTERN, OTHER)
    assert redact(f"{LEAKED} {TENANT}") == f"{MASK} {MASK}"


def test_after_many_scoped_runs_the_patterns_are_those_of_one_run() -> None:
    with REDACTOR.run_scope([PATTERN, PATTERN]):
        during_one = REDACTOR.patterns()
    for _ in range(10):
        with REDACTOR.run_scope([PATTERN]):
            assert REDACTOR.patterns() == during_one == (PATTERN,)
            assert masked(LEAKED)

    assert REDACTOR.patterns() == ()
    assert not masked(LEAKED)


def test_a_value_registered_for_the_run_is_masked_during_it_and_forgotten_after() -> None:
    with REDACTOR.run_scope():
        REDACTOR.register_for_run(VALUE)
        assert redact(f"key={VALUE}") == f"key={MASK}"
        assert masked(quote(VALUE, safe=""))

    assert redact(f"key={VALUE}") == f"key={VALUE}"


def test_a_secret_scanning_alert_registers_its_value_for_the_run_only() -> None:
    with REDACTOR.run_scope():
        SecretScanningAlert.model_validate({"number": 1, "secret": VALUE})
        assert masked(VALUE)

    assert not masked(VALUE)


def test_the_token_and_dotenv_values_registered_with_register_outlive_every_run() -> None:
    REDACTOR.register(GITHUB_TOKEN)  # before the run
    with REDACTOR.run_scope([PATTERN]):
        REDACTOR.register("dotenv-value-42")  # at the start of the run
        assert masked(GITHUB_TOKEN) and masked("dotenv-value-42")

    assert masked(GITHUB_TOKEN) and masked("dotenv-value-42")


def test_a_value_registered_for_a_run_outside_any_run_is_kept() -> None:
    REDACTOR.register_for_run(VALUE)  # no run to tie it to: never mask too little
    with REDACTOR.run_scope():
        pass

    assert masked(VALUE)


def test_a_process_pattern_outlives_the_runs_that_also_use_it() -> None:
    REDACTOR.register_patterns([PATTERN])
    with REDACTOR.run_scope([OTHER, PATTERN]):
        assert REDACTOR.patterns() == (PATTERN, OTHER)

    assert REDACTOR.patterns() == (PATTERN,)
    assert masked(LEAKED) and not masked(TENANT)


def test_overlapping_runs_keep_everything_until_the_last_one_ends() -> None:
    first = REDACTOR.run_scope([PATTERN, OTHER])
    second = REDACTOR.run_scope([OTHER])
    first.__enter__()
    second.__enter__()
    REDACTOR.register_for_run(VALUE)
    first.__exit__(None, None, None)

    assert masked(VALUE) and masked(TENANT)  # the second run still needs them
    assert not masked(LEAKED)  # only the first run masked this pattern
    second.__exit__(None, None, None)
    assert not masked(VALUE) and not masked(TENANT)
    assert REDACTOR.patterns() == ()


def test_nested_scopes_of_one_thread_count_like_two_runs() -> None:
    with REDACTOR.run_scope([PATTERN]):
        with REDACTOR.run_scope([PATTERN]):
            REDACTOR.register_for_run(VALUE)
        assert masked(VALUE) and masked(LEAKED)

    assert not masked(VALUE) and not masked(LEAKED)


def test_concurrent_runs_in_threads_each_keep_their_patterns_and_values() -> None:
    runs = 6
    inside = threading.Barrier(runs)
    failures: list[str] = []

    def run(n: int) -> None:
        with REDACTOR.run_scope([rf"run{n}-[a-z]{{6}}"]):
            REDACTOR.register_for_run(f"value-of-run-{n}")
            inside.wait(timeout=10)
            for m in range(runs):
                if not (masked(f"run{m}-abcdef") and masked(f"value-of-run-{m}")):
                    failures.append(f"run {n} saw run {m} unmasked")
            inside.wait(timeout=10)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert REDACTOR.patterns() == ()
    assert not any(masked(f"value-of-run-{n}") for n in range(runs))


def test_an_invalid_pattern_starts_no_run() -> None:
    with pytest.raises(re.error), REDACTOR.run_scope([PATTERN, "(unclosed"]):
        pass  # pragma: no cover - never entered

    REDACTOR.register_for_run(VALUE)  # no run in progress: kept for the process
    assert REDACTOR.patterns() == ()
    assert masked(VALUE)


def test_reset_forgets_runs_in_progress() -> None:
    scope = REDACTOR.run_scope([PATTERN])
    scope.__enter__()
    REDACTOR.register_for_run(VALUE)
    REDACTOR.reset()

    assert REDACTOR.patterns() == () and not masked(VALUE)
    scope.__exit__(None, None, None)  # a scope ending after a reset is harmless
    assert REDACTOR.patterns() == ()


# --- execute_run itself, twice in one process, against the simulator ---------------------

SECRET = "AKIAIOSFODNN7RUNSCOP"
SCENARIO: dict[str, Any] = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [{"name": "api", "files": {".env": f"AWS_ACCESS_KEY_ID={SECRET}\n"}}],
}


def _run_twice(tmp_path: Path) -> list[tuple[tuple[str, ...], bool]]:
    """After each of two runs: the patterns in force, and whether the scanned secret is masked."""
    from agentd.engine.run import RunOptions, execute_run

    after = []
    with Simulator(SCENARIO, tmp_path / "sim") as sim:
        data = profile_for(sim, [{"repo": "api"}], mode="report_only")
        data["profile"]["verification"] = {"secret_redaction_patterns": [PATTERN]}
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        loaded = load_profile(path)
        settings = Settings(api_url=sim.api_url, git_url=sim.git_url, state_dir=tmp_path / "state")
        token = Token(TokenKind.CLASSIC_PAT, TOKEN)
        for _ in range(2):
            summary = execute_run(loaded, settings, RunOptions(), environ={}, token=token)
            assert any(u.alert_class.value == "secret_scanning" for u in summary.units)
            # Glued to capitals, the generic AKIA shape no longer matches: only the value does.
            after.append((REDACTOR.patterns(), masked(f"X{SECRET}X")))
    return after


def test_execute_run_twice_does_not_grow_the_patterns(tmp_path: Path) -> None:
    # old: two runs left (PATTERN, PATTERN) — one more copy per run for the daemon's life.
    first, second = _run_twice(tmp_path)

    assert first[0] == second[0]
    assert len(second[0]) <= 1


def test_execute_run_keeps_neither_the_patterns_nor_the_scanned_secrets_after_it(
    tmp_path: Path,
) -> None:
    runs = _run_twice(tmp_path)

    assert runs == [((), False), ((), False)]
