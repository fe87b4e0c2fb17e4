"""Turning run summaries (the JSON that `latest.json` and the store hold) into text."""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any

from agentd.advice import advice_for
from agentd.redaction import redact
from agentd.vocabulary import ReasonCode

TERMINAL_TAIL_LINES = 12
MARKDOWN_TAIL_LINES = 30
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


def _failed_outputs(unit: dict[str, Any]) -> list[dict[str, Any]]:
    """The verification commands that ran and failed: their output is what a person reads."""
    return [
        c
        for c in unit.get("verification", [])
        if c.get("provenance") == "observed"
        and (c.get("exit_code") != 0 or c.get("timed_out"))
        and str(c.get("output_tail") or "").strip()
    ]


def _how(command: dict[str, Any]) -> str:
    return "timed out" if command.get("timed_out") else f"exit {command.get('exit_code')}"


def _tail(command: dict[str, Any], lines: int) -> list[str]:
    return str(command.get("output_tail") or "").rstrip().splitlines()[-lines:]


def _detail(unit: dict[str, Any]) -> str:
    """The detail's first line, unless it only names a failed command whose output follows."""
    lines = str(unit.get("detail") or "").strip().splitlines()
    if not lines or (lines[0].startswith("verification failed:") and _failed_outputs(unit)):
        return ""
    return lines[0]


def _advice(unit: dict[str, Any]) -> str:
    reason = _reason(unit)
    if unit["outcome"] in ("blocked", "failed") or (
        unit["outcome"] == "opened_pr" and unit.get("remaining_blocker")
    ):
        return advice_for(ReasonCode(reason)) if reason else ""
    return ""


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
    detail = _detail(unit)
    if detail:
        lines.append(f"      {detail[:300]}")
    lines += [
        f"      note: {note}"
        for note in unit.get("notes", [])
        if "left alone" in note or "earlier in this run" in note
    ]
    for command in _failed_outputs(unit):
        lines.append(f"      output of {command['command']} ({_how(command)}), last lines:")
        lines += [f"        | {line}" for line in _tail(command, TERMINAL_TAIL_LINES)]
    advice = _advice(unit)
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
    if data.get("shard"):  # agentd.shard: one shard's run, or the shards' runs combined
        runs = data.get("combined_runs")
        lines.append(f"  shard {data['shard']}" + (f" (runs {', '.join(runs)})" if runs else ""))
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


# --- markdown: a report to paste into an issue -------------------------------------------

# Markdown sections, most actionable first; skipped units are listed compactly at the end.
MARKDOWN_SECTIONS = (
    (("blocked", "failed"), "Needs a person"),
    (("opened_pr",), "Waiting for review or checks"),
    (("merged",), "Merged"),
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")
# What GitHub links in an issue body: `@scope/pkg` notifies a user or team, `#12` and a
# commit sha point into the repository the report is pasted into. Shown as code instead.
_AUTOLINKED = re.compile(r"@[\w./-]+|#\d+|\b[0-9a-f]{7,40}\b")


def _code(text: Any) -> str:
    """An inline code span that holds any text (GitHub links and mentions nothing in it)."""
    value = str(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _text(text: Any) -> str:
    """Free text from repositories or GitHub, shown as text: no markup, links or mentions."""
    value = str(text).replace("\r", " ").replace("\n", " ")
    parts: list[str] = []
    last = 0
    for match in _AUTOLINKED.finditer(value):
        parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", value[last : match.start()]))
        parts.append(_code(match.group()))
        last = match.end()
    parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", value[last:]))
    return "".join(parts)


def _link(number: Any, url: Any) -> str:
    target = str(url or "")
    if not target.startswith(("https://", "http://")):
        return _code(f"#{number}")
    target = target.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[#{int(number)}]({target})" if number else f"<{target}>"


def _fenced(lines: list[str]) -> list[str]:
    body = "\n".join(lines)
    longest = max((len(run) for run in re.findall(r"`{3,}|~{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]


def _markdown_what(unit: dict[str, Any]) -> str:
    what = f"**{str(unit['alert_class']).replace('_', ' ')}**"
    if unit.get("rule_id"):
        what += f" {_code(unit['rule_id'])}"
    if unit.get("alert_number"):
        what += " alert " + _code(f"#{unit['alert_number']}")
    return what


def _markdown_unit(unit: dict[str, Any]) -> list[str]:
    head = _markdown_what(unit)
    if unit["target_id"] != "*":
        head += f" · target {_code(unit['target_id'])}"
    reason = _reason(unit)
    head += f" · {unit['outcome']}" + (f" {_code(reason)}" if reason else "")
    items = [f"- What changed: {_code(change)}" for change in unit.get("changes", [])]
    if unit.get("pr_url"):
        items.append(f"- PR: {_link(unit.get('pr_number'), unit['pr_url'])}")
    detail = _detail(unit)
    if detail:
        items.append(f"- Detail: {_text(detail[:500])}")
    advice = _advice(unit)
    if advice:
        items.append(f"- What to do: {_text(advice)}")
    items += [f"- [ ] Follow-up: {_text(action)}" for action in unit.get("manual_follow_up", [])]
    lines = [head, "", *items, ""] if items else [head, ""]
    for command in _failed_outputs(unit):
        summary = f"Output of <code>{html.escape(str(command['command']))}</code> ({_how(command)})"
        lines += [f"<details><summary>{summary}</summary>", ""]
        lines += [*_fenced(_tail(command, MARKDOWN_TAIL_LINES)), "", "</details>", ""]
    return lines


def _markdown_skipped(units: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"## Skipped ({len(units)})",
        "",
        "| repository | target | what | reason | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for u in units:
        detail = str(u.get("detail") or "").strip().splitlines()
        lines.append(
            f"| {_code(u['repository'])} | {_code(u['target_id'])} | {_markdown_what(u)} "
            f"| {_code(_reason(u) or '')} | {_text(detail[0][:200] if detail else '')} |"
        )
    return [*lines, ""]


def _open_alerts(data: dict[str, Any]) -> str:
    start, end = data.get("open_alerts_at_start", {}), data.get("open_alerts_by_class", {})
    parts = [
        f"{c.replace('_', ' ')} {start.get(c, '?')} → {end.get(c, '?')}"
        for c in sorted(set(start) | set(end))
    ]
    return " · ".join(parts) or "none read"


def _sort_key(unit: dict[str, Any]) -> tuple[str, str, str]:
    return (unit["repository"], unit["target_id"], unit["remediation_key"])


def render_markdown(data: dict[str, Any]) -> str:
    """The run as an issue body: per unit what changed, the PR, what to do and the
    follow-ups (as tasks), grouped by what it needs and then by repository."""
    mode = f"`{data['mutation_mode']}`" + (" (dry run)" if data.get("dry_run") else "")
    lines = [
        f"# agentd run: {_text(data['profile_id'])} (owner {_code(data['owner'])})",
        "",
        f"- Mode: {mode}",
        f"- Run: {data['generated_at']} → {data.get('finished_at', '')}",
        f"- Units: {_counts(data)}",
        f"- Open alerts (start → end): {_open_alerts(data)}",
    ]
    lines += [f"- Warning: {_text(w)}" for w in data.get("warnings", [])]
    if data.get("stopped"):
        lines.append(f"- Stopped early: {_text(data['stopped'])}")
    lines.append("")
    units = sorted(data.get("units", []), key=_sort_key)
    for outcomes, title in MARKDOWN_SECTIONS:
        chosen = [u for u in units if u["outcome"] in outcomes]
        if not chosen:
            continue
        lines += [f"## {title} ({len(chosen)})", ""]
        for repository in dict.fromkeys(u["repository"] for u in chosen):
            lines += [f"### {_code(repository)}", ""]
            for unit in (u for u in chosen if u["repository"] == repository):
                lines += _markdown_unit(unit)
    skipped = [u for u in units if u["outcome"] == "skipped"]
    if skipped:
        lines += _markdown_skipped(skipped)
    return redact("\n".join(lines).rstrip() + "\n")


# --- weekly: counts only ---------------------------------------------------------------


def render_weekly(
    window: str, runs: list[dict[str, Any]], units: list[dict[str, Any]], dry_runs: int
) -> str:
    """Counts only: no repository names, alert numbers, secret types or payloads (SPEC §12).
    `units` holds each unit once, in its latest state within the window."""
    outcomes: Counter[str] = Counter(u["outcome"] for u in units)
    reasons: Counter[str] = Counter(u["reason_code"] for u in units if u.get("reason_code"))
    by_class: dict[str, Counter[str]] = {}
    for unit in units:
        by_class.setdefault(unit["alert_class"], Counter())[unit["outcome"]] += 1
    names = [o for o, _ in SECTIONS]
    lines = [
        f"# agentd weekly summary: {window}",
        "",
        f"Runs in the window: {len(runs)}"
        + (f" (dry runs left out: {dry_runs})" if dry_runs else ""),
        f"Units: {len(units)}, each counted once, in its latest state in the window",
        "",
        "## Units by outcome",
        "",
        "| outcome | units |",
        "| --- | --- |",
    ]
    lines += [f"| {o} | {outcomes.get(o, 0)} |" for o in names]
    lines += [
        "",
        "## Units by alert class",
        "",
        "| class | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    lines += [
        f"| {c} | " + " | ".join(str(n.get(o, 0)) for o in names) + " |"
        for c, n in sorted(by_class.items())
    ]
    lines += ["", "## Reasons", "", "| reason | units |", "| --- | --- |"]
    lines += [f"| {r} | {n} |" for r, n in sorted(reasons.items())] or ["| (none) | 0 |"]
    lines += [
        "",
        "## Open alerts at the end of each day's last run",
        "",
        "| day (UTC) | dependabot | code_scanning | secret_scanning |",
        "| --- | --- | --- | --- |",
    ]
    last_of_day = {str(run.get("finished_at", ""))[:10]: run for run in runs}
    for day, run in last_of_day.items():
        counts = run.get("open_alerts_by_class", {})
        lines.append(
            f"| {day} | {counts.get('dependabot', '-')} | {counts.get('code_scanning', '-')} | {counts.get('secret_scanning', '-')} |"
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
