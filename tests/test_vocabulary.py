"""The closed vocabularies of SPEC §11 and the unit result that enforces them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentd.errors import ExitCode
from agentd.vocabulary import Outcome, ReasonCode, UnitResult

SPEC_REASONS = [
    "superseded",
    "advisory_withdrawn",
    "dependency_removed",
    "unsupported_alert_class",
    "unsupported_ecosystem",
    "verification_unavailable",
    "verification_failed",
    "checks_pending",
    "checks_red",
    "branch_protection_block",
    "manifest_change_required",
    "no_patch_available",
    "clone_missing",
    "rate_limited",
    "env_mismatch",
    "auth_insufficient",
    "registry_auth_missing",
    "lock_contended",
    "policy_blocked",
    "unsupported_rule",
    "code_scanning_disabled",
    "secret_scanning_disabled",
    "no_analysis_found",
    "history_rewrite_required",
]
AGENTD_ONLY_REASONS = ["internal_error"]  # (+) agentd's own defects, reported as what they are


def test_reason_codes_are_exactly_the_spec_list() -> None:
    assert [r.value for r in ReasonCode] == SPEC_REASONS + AGENTD_ONLY_REASONS


def test_outcomes_are_exactly_the_spec_list() -> None:
    assert [o.value for o in Outcome] == ["merged", "opened_pr", "blocked", "skipped", "failed"]


@pytest.mark.parametrize("outcome", ["blocked", "skipped", "failed"])
def test_blocked_skipped_failed_need_a_reason(outcome: str) -> None:
    with pytest.raises(ValidationError, match="requires a reason code"):
        UnitResult(outcome=Outcome(outcome))


def test_reason_outside_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValidationError):
        UnitResult.model_validate({"outcome": "blocked", "reason": "flaky_network"})


@pytest.mark.parametrize("outcome", ["merged", "opened_pr"])
def test_success_outcomes_carry_no_reason(outcome: str) -> None:
    with pytest.raises(ValidationError, match="carries no reason code"):
        UnitResult(outcome=Outcome(outcome), reason=ReasonCode.CHECKS_PENDING)


def test_opened_pr_may_name_its_remaining_blocker() -> None:
    result = UnitResult.opened_pr(ReasonCode.CHECKS_PENDING)
    assert result.outcome is Outcome.OPENED_PR
    assert result.remaining_blocker is ReasonCode.CHECKS_PENDING


def test_results_are_immutable() -> None:
    result = UnitResult.blocked(ReasonCode.CHECKS_RED)
    with pytest.raises(ValidationError):
        result.reason = ReasonCode.CHECKS_PENDING  # type: ignore[misc]


def test_exit_codes_match_the_spec() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "UNITS_FAILED": 1,
        "USAGE": 2,
        "TEMPFAIL": 75,
        "CONFIG": 78,
    }


def test_operator_guide_explains_every_reason_code() -> None:
    from support import REPO_ROOT

    guide = (REPO_ROOT / "docs" / "operator-guide.md").read_text()
    for reason in ReasonCode:
        assert f"| `{reason.value}` |" in guide, reason


def test_every_reason_code_has_advice() -> None:
    from agentd.advice import ADVICE

    assert set(ADVICE) == set(ReasonCode)
