"""Turning run summaries (the JSON that `latest.json` and the store hold) into text."""

from __future__ import annotations

from collections import Counter
from typing import Any

from agentd.advice import advice_for
from agentd.redaction import redact
from agentd.vocabulary import ReasonCode

SECTIONS = (
    ("merged", "Merged"),
    ("opened_pr", "Waiting for review or checks"),
    ("blocked", "Blocked — needs a person"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
)


def _reason(unit: dict[str, Any]) -> str | None:
    return unit.get("reason_code") or unit.get("remaining_blocker")


def _what(unit: dict[str, Any]) -> str:
    what = str(unit["alert_class"]).replace("_", " ")
    if unit.get("rule_id"):
        what += f" {unit['rule_id']}"
    if unit.get("alert_number"):
        what += f" #{unit['alert_number']}"
    return what


def _unit_lines(unit: dict[str, Any]) -> list[str]:
    where = (
        unit["repository"]
        if unit["target_id"] == "*"
        else f"{unit['repository']}/{unit['target_id']}"
    )
    reason = _reason(unit)
    lines = [f"  - {where} [{_what(unit)}]" + (f" ({reason})" if reason else "")]
    lines += [f"      {change}" for change in unit.get("changes", [])[:6]]
    if unit.get("pr_url"):
        lines.append(f"      PR: {unit['pr_url']}")
    detail = str(unit.get("detail") or "").strip().splitlines()
    if detail:
        lines.append(f"      {detail[0][:300]}")
    lines += [
        f"      note: {note}"
        for note in unit.get("notes", [])
        if "left alone" in note or "earlier in this run" in note
    ]
    if unit["outcome"] in ("blocked", "failed") or (
        unit["outcome"] == "opened_pr" and unit.get("remaining_blocker")
    ):
        advice = advice_for(ReasonCode(reason)) if reason else ""
        if advice:
            lines.append(f"      what to do: {advice}")
    lines += [f"      follow-up: {action}" for action in unit.get("manual_follow_up", [])]
    return lines


def _counts(data: dict[str, Any]) -> str:
    return ", ".join(f"{n} {o}" for o, n in data.get("outcomes", {}).items() if n) or "none"


def render_table(data: dict[str, Any]) -> str:
    lines = [
        f"agentd run for profile {data['profile_id']} (owner {data['owner']}), mode {data['mutation_mode']}"
        + (" (dry run)" if data.get("dry_run") else ""),
        f"  started {data['generated_at']}, finished {data.get('finished_at', '')}",
        f"  units: {_counts(data)}",
        "  open alerts at start: "
        + (", ".join(f"{c} {n}" for c, n in data.get("open_alerts_at_start", {}).items()) or "none")
        + "; now: "
        + (
            ", ".join(f"{c} {n}" for c, n in data.get("open_alerts_by_class", {}).items()) or "none"
        ),
    ]
    lines += [f"  warning: {warning}" for warning in data.get("warnings", [])]
    if data.get("lock_recovery"):
        lines.append(f"  recovered a stale lock: {data['lock_recovery'].get('reason')}")
    if data.get("stopped"):
        lines.append(f"  promotion stopped early: {data['stopped']}")
    units = data.get("units", [])
    for outcome, title in SECTIONS:
        chosen = sorted(
            (u for u in units if u["outcome"] == outcome),
            key=lambda u: (u["repository"], u["target_id"], u["remediation_key"]),
        )
        if chosen:
            lines += ["", f"{title} ({len(chosen)}):"]
            for unit in chosen:
                lines += _unit_lines(unit)
    if data.get("report_path"):
        lines += ["", f"report: {data['report_path']}"]
    return redact("\n".join(lines))


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# agentd run: {data['profile_id']}",
        "",
        f"Owner `{data['owner']}`, mode `{data['mutation_mode']}`, {data['generated_at']} → {data.get('finished_at', '')}.",
        f"Units: {_counts(data)}.",
        "",
    ]
    for outcome, title in SECTIONS:
        chosen = [u for u in data.get("units", []) if u["outcome"] == outcome]
        if not chosen:
            continue
        lines += [
            f"## {title} ({len(chosen)})",
            "",
            "| repository | target | what | reason | PR | detail |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for u in sorted(chosen, key=lambda u: (u["repository"], u["target_id"])):
            pr = f"[#{u['pr_number']}]({u['pr_url']})" if u.get("pr_url") else ""
            lines.append(
                f"| {_md(u['repository'])} | {_md(u['target_id'])} | {_md(_what(u))} | {_reason(u) or ''} | {pr} | {_md(str(u.get('detail', ''))[:200])} |"
            )
        lines.append("")
    return redact("\n".join(lines))


def render_weekly(runs: list[dict[str, Any]], trends: list[dict[str, Any]]) -> str:
    """Counts only: no repository names, alert numbers, secret types or payloads (SPEC §12)."""
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    for run in runs:
        for unit in run.get("units", []):
            outcomes[unit["outcome"]] += 1
            classes[unit["alert_class"]] += 1
            if unit.get("reason_code"):
                reasons[unit["reason_code"]] += 1
    lines = [
        "# agentd weekly summary",
        "",
        f"Runs: {len(runs)}",
        "",
        "## Units by outcome",
        "",
        "| outcome | units |",
        "| --- | --- |",
    ]
    lines += [f"| {o} | {outcomes.get(o, 0)} |" for o, _ in SECTIONS]
    lines += ["", "## Units by alert class", "", "| class | units |", "| --- | --- |"]
    lines += [f"| {c} | {n} |" for c, n in sorted(classes.items())]
    lines += ["", "## Reasons", "", "| reason | units |", "| --- | --- |"]
    lines += [f"| {r} | {n} |" for r, n in sorted(reasons.items())] or ["| (none) | 0 |"]
    lines += [
        "",
        "## Open alerts at the end of each run",
        "",
        "| run | dependabot | code_scanning | secret_scanning |",
        "| --- | --- | --- | --- |",
    ]
    for index, point in enumerate(trends, 1):
        counts = point["open"]
        lines.append(
            f"| {index} | {counts.get('dependabot', '-')} | {counts.get('code_scanning', '-')} | {counts.get('secret_scanning', '-')} |"
        )
    return "\n".join(lines) + "\n"


def render_runs(runs: list[tuple[str, dict[str, Any]]], trends: list[dict[str, Any]]) -> str:
    lines = [f"{'run id':21}  {'profile':12} {'finished':26} {'mode':13} units"]
    for run_id, data in runs:
        lines.append(
            f"{run_id:21}  {data['profile_id'][:12]:12} {data.get('finished_at', '')[:26]:26} {data['mutation_mode'][:13]:13} {_counts(data)}"
        )
    if trends:
        lines += ["", "open alerts per class, oldest run first:"]
        for point in trends:
            counts = ", ".join(f"{c} {n}" for c, n in sorted(point["open"].items()))
            lines.append(f"  run {point['run']} ({point['finished_at'][:19]}): {counts or 'none'}")
    return "\n".join(lines)
