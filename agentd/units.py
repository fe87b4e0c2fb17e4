"""Remediation keys and branch names (SPEC §6).

A unit's key is its stable identity across runs: it names the branch, goes into the PR
stamp, and is the compare-and-set token that keeps one PR per unit.
"""

from __future__ import annotations

import hashlib
import re

from agentd.vocabulary import AlertClass

_RULE_CHARS = re.compile(r"[^a-z0-9/._-]+")
_REF_UNSAFE = re.compile(r"[^A-Za-z0-9/._-]+|\.\.|//+|@\{")


def normalize_rule_id(rule_id: str) -> str:
    return _RULE_CHARS.sub("-", rule_id.strip().lower()).strip("-/") or "unknown-rule"


def remediation_key(
    owner: str,
    repo: str,
    alert_class: AlertClass,
    base: str,
    target_id: str,
    *,
    qualifier: str | int | None = None,
) -> str:
    """`{owner}/{repo}:{class}:{base}:{target}` plus the rule id or alert number."""
    key = f"{owner}/{repo}:{alert_class.value}:{base}:{target_id}"
    if alert_class is AlertClass.CODE_SCANNING:
        key += f":{normalize_rule_id(str(qualifier))}"
    elif alert_class is AlertClass.SECRET_SCANNING:
        key += f":{int(qualifier or 0)}"
    return key


def key_short(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def branch_name(template: str, alert_class: AlertClass, target_id: str, key: str, repo: str) -> str:
    name = template.format(
        alert_class=alert_class.value,
        target_id=target_id,
        remediation_key_short=key_short(key),
        repo=repo,
    )
    name = _REF_UNSAFE.sub("-", name).strip("/.-")
    if name.endswith(".lock"):
        name = name[: -len(".lock")]
    return name
