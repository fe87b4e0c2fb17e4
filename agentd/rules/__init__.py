"""Deterministic fixes for code-scanning rules, one module per rule (SPEC §8).

Each rule module exports `RULE`, an object implementing `base.Rule`; `RULES` maps rule ids
to them. Adding a rule = one module here plus one entry in `_ALL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from agentd.rules import missing_permissions, unpinned_tag
from agentd.rules.base import Environment, FileFix, Finding, Rule, RuleEnvironment

_ALL: tuple[Rule, ...] = (missing_permissions.RULE, unpinned_tag.RULE)

RULES: Mapping[str, Rule] = MappingProxyType({rule.rule_id: rule for rule in _ALL})


def rule_for(rule_id: str) -> Rule | None:
    return RULES.get(rule_id)


__all__ = ["RULES", "Environment", "FileFix", "Finding", "Rule", "RuleEnvironment", "rule_for"]
