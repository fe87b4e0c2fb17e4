"""The body of a Dependabot unit's PR: what moves, which advisories, what was verified."""

from __future__ import annotations

from agentd.alerts.dependabot.plan import UnitPlan
from agentd.alerts.interface import Hold, Unit
from agentd.engine.context import RunContext
from agentd.verify import VerificationResult


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_body(
    ctx: RunContext,
    unit: Unit,
    plan: UnitPlan,
    verification: VerificationResult,
    hold: Hold | None,
    notes: list[str] | None = None,
) -> str:
    assert unit.target is not None  # noqa: S101
    lines = [
        f"agentd bumps the vulnerable dependencies of target `{unit.target.target_id}` "
        f"(`{unit.target.path}`) on `{unit.base}` to the smallest versions that fix every open "
        "advisory, without leaving the current major line where a fix exists there.",
        "",
        "| package | from | to | file |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b.name} | {b.current_version} | {b.target_version} | `{b.manifest_path}` |"
        for b in plan.delivered()
    ]
    if notes:
        lines += ["", "### How", "", *[f"- {_one_line(n, 300)}" for n in notes]]
    lines += ["", "### Advisories", "", *_advisories(plan)]
    left = plan.not_fixed()
    if left:
        lines += ["", "### Not fixed by this PR", ""]
        lines += [
            f"- {name} (`{path}`): `{reason.value}`: {_one_line(detail)}"
            for name, path, reason, detail in left
        ]
    lines += ["", "### Verification", "", *verification_table(verification)]
    lines += ["", "### What happens next", ""]
    if hold is not None:
        lines.append(f"- This PR waits for a person: {hold.detail}.")
    elif ctx.policy.mode.may_merge:
        lines.append(
            "- agentd merges this PR once every required check on the base branch is green."
        )
    else:
        lines.append(f"- Mutation mode is `{ctx.policy.mode.value}`: a person reviews and merges.")
    lines.append(
        "- If these alerts are fixed, dismissed or withdrawn elsewhere, agentd closes this PR "
        "with a comment."
    )
    lines.append("- agentd updates this branch only when the fix itself changes.")
    return "\n".join(lines)


def _advisories(plan: UnitPlan) -> list[str]:
    advisories = {a.security_advisory.ghsa_id: a for p in plan.fixable for a in p.alerts}
    lines = []
    for ghsa, alert in sorted(advisories.items()):
        advisory = alert.security_advisory
        lines.append(
            f"- [{ghsa}]({advisory.html_url}) ({advisory.severity}): {_one_line(advisory.summary)}"
            + (
                f" — alert [#{alert.number}]({alert.html_url})"
                if alert.html_url
                else f" — alert #{alert.number}"
            )
        )
    return lines


def verification_table(verification: VerificationResult) -> list[str]:
    lines = ["| command | result |", "| --- | --- |"]
    for command in verification.commands:
        outcome = (
            "passed (exit 0)" if command.passed
            else f"not run: {command.not_run_reason}" if command.not_run_reason
            else f"failed (exit {command.exit_code})"
        )  # fmt: skip
        lines.append(f"| `{_one_line(command.command, 80)}` | {outcome} |")
    return lines
