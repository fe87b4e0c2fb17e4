"""The rule registry: one entry per code-scanning rule agentd can fix."""

from __future__ import annotations

from agentd.rules import RULES, missing_permissions, rule_for, unpinned_tag


def test_rule_for_returns_each_registered_rule() -> None:
    assert rule_for("actions/missing-workflow-permissions") is missing_permissions.RULE
    assert rule_for("actions/unpinned-tag") is unpinned_tag.RULE
    assert set(RULES) == {"actions/missing-workflow-permissions", "actions/unpinned-tag"}
    assert all(rule.rule_id == rule_id for rule_id, rule in RULES.items())


def test_unknown_rule_ids_have_no_rule() -> None:
    assert rule_for("actions/untrusted-checkout") is None
    assert rule_for("") is None
