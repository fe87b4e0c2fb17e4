"""The upstream reporting model's fields, carried beside agentd's own in every report.

Tools written for the public `github-security-agent` (its weekly renderer, dashboards) read
`latest.json` and the JSONL records by that model's names: `schema_version`, `repo_counts`,
`open_alert_counts` with a `total`, and per unit `repo`, `owner`, `repository_mode`,
`manual_follow_up_actions`, `secret_type`. agentd keeps its own names (`repository`,
`repositories_by_mode`, `open_alerts_by_class`, ...) and adds these, so both kinds of reader
work on the same file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentd.vocabulary import AlertClass, AutomationMode

SCHEMA_VERSION = 1
# The secret-scanning plug-in names the alert's secret type in a note of this form.
SECRET_TYPE_NOTE = "secret type: "


def secret_type(alert_class: AlertClass, notes: Sequence[str]) -> str | None:
    if alert_class is not AlertClass.SECRET_SCANNING:
        return None
    found = next((n for n in notes if n.startswith(SECRET_TYPE_NOTE)), None)
    return found.removeprefix(SECRET_TYPE_NOTE).strip() or None if found else None


def unit_fields(
    *,
    owner: str,
    repository: str,
    repository_mode: str | None,
    manual_follow_up: Sequence[str],
    secret_type: str | None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "owner": owner,
        "repo": repository,
        "repository_mode": repository_mode,
        "manual_follow_up_actions": list(manual_follow_up),
        "secret_type": secret_type,
    }


def summary_fields(
    repositories_by_mode: Mapping[str, int],
    open_alerts_by_class: Mapping[str, int],
    warnings: Sequence[str],
) -> dict[str, Any]:
    """Counts for every mode and class the model names; a class this run did not read
    counts 0 there (agentd's own `open_alerts_by_class` lists only the classes it read)."""
    repo_counts = {m.value: int(repositories_by_mode.get(m.value, 0)) for m in AutomationMode}
    open_counts = {c.value: int(open_alerts_by_class.get(c.value, 0)) for c in AlertClass}
    return {
        "schema_version": SCHEMA_VERSION,
        "repo_counts": repo_counts,
        "open_alert_counts": {**open_counts, "total": sum(open_counts.values())},
        "notes": [{"status": "warning", "message": w} for w in warnings],
    }
