"""From a repository's inventory to its units: coverage first, then the plug-in's plan."""

from __future__ import annotations

from agentd.alerts.interface import AlertPlugin, Unit, new_unit
from agentd.engine.context import RunContext
from agentd.inventory import Coverage, RepoInventory
from agentd.log import get_logger
from agentd.profile import Repository
from agentd.vocabulary import ReasonCode, UnitResult

log = get_logger("planning")


def resolve_base(ctx: RunContext, repo: Repository, inventory: RepoInventory) -> str | None:
    configured = repo.default_base_branch or ctx.profile.profile.defaults.default_base_branch
    if configured != "auto":
        return configured
    return inventory.metadata.default_branch if inventory.metadata else None


def complete(plugin: AlertPlugin, inventory: RepoInventory) -> bool:
    """Whether this class's open alerts of the repository were read completely."""
    entry = inventory.classes.get(plugin.alert_class)
    return (
        inventory.metadata is not None
        and not inventory.error
        and entry is not None
        and entry.coverage is Coverage.ENABLED
    )


def plan_repository(
    ctx: RunContext, plugin: AlertPlugin, repo: Repository, inventory: RepoInventory
) -> list[Unit]:
    units = _plan(ctx, plugin, repo, inventory)
    log.debug(
        "planned",
        extra={
            "repo": repo.repo,
            "alert_class": plugin.alert_class.value,
            "units": [{"key": u.key, "alerts": u.alert_numbers, **_settled(u)} for u in units],
        },
    )
    return units


def _settled(unit: Unit) -> dict[str, str]:
    """What a unit settled at planning already is (coverage, archive, no target, …)."""
    if unit.settled is None:
        return {}
    reason = unit.settled.reason
    return {"settled": unit.settled.outcome.value + (f" {reason.value}" if reason else "")}


def _plan(
    ctx: RunContext, plugin: AlertPlugin, repo: Repository, inventory: RepoInventory
) -> list[Unit]:
    base = resolve_base(ctx, repo, inventory)
    log.debug("base branch", extra={"repo": repo.repo, "base": base})
    entry = inventory.classes.get(plugin.alert_class)
    if base is None or entry is None or inventory.metadata is None:
        why = inventory.error or "repository could not be read"
        return [
            _coverage_unit(
                ctx, plugin, repo, base, UnitResult.blocked(ReasonCode.AUTH_INSUFFICIENT, why)
            )
        ]
    label = plugin.alert_class.value.replace("_", " ")
    if entry.coverage is Coverage.DISABLED:
        result = UnitResult.skipped(plugin.disabled_reason, entry.detail or f"{label} is disabled")
    elif entry.coverage is Coverage.NO_ANALYSIS:
        result = UnitResult.skipped(
            ReasonCode.NO_ANALYSIS_FOUND, entry.detail or "no analysis found"
        )
    elif entry.coverage is Coverage.UNAVAILABLE:
        result = UnitResult.blocked(
            ReasonCode.AUTH_INSUFFICIENT, f"{label} alerts unreadable: {entry.detail}"
        )
    elif inventory.metadata.archived:
        result = UnitResult.skipped(
            ReasonCode.POLICY_BLOCKED,
            "the repository is archived (read-only on GitHub): its alerts are reported, "
            "never remediated; unarchive it to have them fixed",
        )
        unit = _coverage_unit(ctx, plugin, repo, base, result)
        unit.alert_numbers = sorted(a.number for a in entry.alerts)
        return [unit]
    else:
        return plugin.plan(ctx, repo, entry, base, inventory.metadata.default_branch)
    return [_coverage_unit(ctx, plugin, repo, base, result)]


def _coverage_unit(
    ctx: RunContext, plugin: AlertPlugin, repo: Repository, base: str | None, result: UnitResult
) -> Unit:
    return new_unit(ctx, plugin.alert_class, repo, base or "?", None, settled=result)
