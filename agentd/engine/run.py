"""One locked run of a profile (SPEC §5).

validate → lock → Dependabot loop (rediscover after every merge, stop when an iteration
opens nothing and merges nothing) → code scanning → secret scanning → reconcile → report →
release the lock. Repositories run in parallel up to `max_parallel_repos`; one
repository's failure never stops the others. A rate-limit stop ends promotion for the
whole run: what is left is reported `rate_limited`, nothing acts on partial state.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agentd.alerts.interface import AlertPlugin, new_unit
from agentd.alerts.registry import plugins_for
from agentd.audit import AuditLog
from agentd.engine.context import Budget, RunContext
from agentd.engine.lifecycle import UnitOutcome, run_unit
from agentd.engine.planning import complete, plan_repository
from agentd.engine.reconcile import PlannedKeys, reconcile
from agentd.engine.verification import sandbox_warnings
from agentd.environment import load_allowed_environment
from agentd.errors import AgentdError, ContractError, RateLimitedError, result_for
from agentd.github.auth import Token, acquire_token
from agentd.gitops import GitEnvironment
from agentd.inventory import Inventory, collect_inventory, parallel_map
from agentd.lock import ProfileLock
from agentd.log import get_logger
from agentd.metrics import write_metrics
from agentd.mutation import MutationPolicy
from agentd.preflight import preflight_run
from agentd.profile import LoadedProfile, Profile, Repository
from agentd.redaction import REDACTOR
from agentd.report import RunSummary, UnitRecord, utc_now, write_run_report
from agentd.session import api_base_url, open_client, state_dir
from agentd.settings import Settings
from agentd.shutdown import STOP, StopFlag
from agentd.store import RunStore
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    MutationMode,
    Outcome,
    ReasonCode,
    UnitResult,
)

log = get_logger("run")
MAX_ITERATIONS = 8


@dataclass(frozen=True)
class RunOptions:
    mutation_mode: MutationMode | None = None
    dry_run: bool = False


def check_runtime_contract(profile: Profile) -> None:
    missing = [
        tool
        for tool in ("git", *profile.profile.runtime.required_tools)
        if shutil.which(tool) is None
    ]
    # Tools a target needs are checked per target at verification time; git and gh are the run's own.
    own = [tool for tool in missing if tool in ("git", "gh")]
    if own:
        raise ContractError(
            f"required tools not installed: {', '.join(sorted(set(own)))}",
            "install them (e.g. apt-get install git gh) on the host that runs agentd",
        )


def git_url_template(profile: Profile, settings: Settings) -> str:
    """Where git fetches and pushes: AGENTD_GIT_URL, else the web host of the API agentd
    talks to (api.github.com → github.com, HOST/api/v3 → HOST); never from a clone's
    configured remote, which repository code may have rewritten."""
    if settings.git_url:
        return settings.git_url
    return f"{web_base_url(api_base_url(profile, settings))}/{{owner}}/{{repo}}.git"


def web_base_url(api_url: str) -> str:
    """The web (and git) base of a REST API base URL."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    path = parts.path.removesuffix("/api/v3")
    if host.lower().startswith("api.") and not path:
        host = host[len("api.") :]
    return urlunsplit((parts.scheme, host, path, "", "")).rstrip("/")


def execute_run(
    loaded: LoadedProfile,
    settings: Settings,
    options: RunOptions,
    environ: Mapping[str, str] | None = None,
    token: Token | None = None,
    stop: StopFlag = STOP,
) -> RunSummary:
    """One locked run. Its redaction patterns and the secrets it learns are its own: a
    daemon running profiles again and again does not accumulate them."""
    patterns = loaded.profile.profile.verification.secret_redaction_patterns
    with REDACTOR.run_scope(patterns):
        return _execute_run(loaded, settings, options, environ, token, stop)


def _execute_run(
    loaded: LoadedProfile,
    settings: Settings,
    options: RunOptions,
    environ: Mapping[str, str] | None,
    token: Token | None,
    stop: StopFlag,
) -> RunSummary:
    profile = loaded.profile
    environ = dict(os.environ if environ is None else environ)
    check_runtime_contract(profile)
    token = token or acquire_token(profile.profile.auth.github_host, environ)
    allowed = load_allowed_environment(profile, environ)
    mode = options.mutation_mode or profile.mutation_mode()
    policy = MutationPolicy(mode, options.dry_run)
    state = state_dir(profile, settings)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    summary = RunSummary(
        profile_id=profile.id,
        owner=profile.profile.owner,
        mutation_mode=policy.mode.value,
        dry_run=options.dry_run,
        generated_at=utc_now(),
        repositories_by_mode=_modes(profile),
        repository_modes={r.repo: profile.automation_mode(r).value for r in profile.repositories},
        warnings=sandbox_warnings(profile),
    )
    with ProfileLock(
        profile.lock_path(), profile.id, profile.profile.concurrency.stale_lock_ttl_seconds
    ) as lock:
        if lock.recovery is not None:
            summary.lock_recovery = lock.recovery.to_json()
            log.warning("recovered a stale lock", extra={"lock_recovery": summary.lock_recovery})
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
        audit = AuditLog(state / "audit" / f"{profile.id}.jsonl", profile.id, run_id)
        api = open_client(profile, settings, policy, token=token, observer=audit.api_mutation)
        try:
            token_check = preflight_run(api, profile, token)  # 78 before anything is changed
        except BaseException:
            api.client.close()
            raise
        summary.warnings += token_check.warnings
        git_env = GitEnvironment.create(state, token)
        ctx = RunContext(
            profile=profile,
            api=api,
            policy=policy,
            git_env=git_env,
            state_dir=state,
            allowed_env=allowed,
            budget=Budget(profile.profile.budget.max_new_prs, profile.profile.budget.max_merges),
            run_id=run_id,
            stop=stop,
            audit=audit,
            git_url_template=git_url_template(profile, settings),
            account=token_check.account,
        )
        try:
            _run_passes(ctx, summary)
        finally:
            summary.rate_limit = api.client.rate.snapshot()
            summary.finished_at = utc_now()
            write_run_report(state, summary)
            _record_history(state, settings, summary)
            git_env.cleanup()
            shutil.rmtree(state / "worktrees" / run_id, ignore_errors=True)
            api.client.close()
    return summary


def _record_history(state: Path, settings: Settings, summary: RunSummary) -> None:
    """The run store and the metrics file; a failure here never hides the run's report."""
    try:
        store = RunStore(state)
        store.record(summary)
        write_metrics(
            settings.metrics_dir or state / "metrics",
            summary,
            store.lock_recoveries(summary.profile_id),
        )
    except (OSError, sqlite3.Error) as exc:
        log.error("could not record the run in the store or metrics", extra={"why": str(exc)})


def _modes(profile: Profile) -> dict[str, int]:
    counts = {m.value: 0 for m in AutomationMode}
    for repo in profile.repositories:
        counts[profile.automation_mode(repo).value] += 1
    return counts


def _run_passes(ctx: RunContext, summary: RunSummary) -> None:
    plugins = plugins_for(ctx.profile.profile.supported_alert_classes)
    last: dict[AlertClass, Inventory] = {}
    records: dict[str, UnitRecord] = {}
    planned = PlannedKeys()
    try:
        for plugin in plugins:
            last[plugin.alert_class] = _exhaust(ctx, summary, plugin, records, planned)
            if ctx.stop.requested:
                summary.stopped = f"stopped by signal {ctx.stop.signal_number}"
                break
        if not ctx.stop.requested:
            for record in reconcile(ctx, planned):
                records[record.remediation_key] = record
    except RateLimitedError as exc:
        summary.stopped = ReasonCode.RATE_LIMITED.value
        log.warning("rate limited: promotion stopped", extra={"why": str(exc)})
        records[f"{ctx.profile.profile.owner}:run:rate_limited"] = UnitRecord(
            repository="*",
            base="*",
            target_id="*",
            remediation_key=f"{ctx.profile.profile.owner}:run:rate_limited",
            alert_class=AlertClass.DEPENDABOT,
            result=UnitResult.blocked(ReasonCode.RATE_LIMITED, str(exc)),
        )
    summary.units = list(records.values())
    for alert_class, inventory in last.items():
        summary.open_alerts_by_class[alert_class.value] = inventory.open_counts()[alert_class.value]
        summary.remaining_open_alerts += _remaining(inventory, alert_class, records)


def _exhaust(
    ctx: RunContext,
    summary: RunSummary,
    plugin: AlertPlugin,
    records: dict[str, UnitRecord],
    planned: PlannedKeys,
) -> Inventory:
    """Repeat discover → remediate → merge until an iteration opens nothing and merges nothing."""
    alert_class = plugin.alert_class
    repos = list(ctx.profile.repositories)
    inventory = Inventory({}, False)
    for iteration in range(1, MAX_ITERATIONS + 1):
        inventory = collect_inventory(
            ctx.api, [r.repo for r in repos], [alert_class], max_workers=8
        )
        if iteration == 1:
            summary.open_alerts_at_start[alert_class.value] = inventory.open_counts()[
                alert_class.value
            ]
        planned.forget(alert_class)
        outcomes = _process_repositories(ctx, repos, inventory, plugin, planned)
        for outcome in outcomes:
            keep_final(records, outcome.record)
        summary.iterations[alert_class.value] = iteration
        # A class whose PRs never merge has nothing to wait for: one pass is all there is.
        done = not plugin.may_merge
        if done or ctx.stop.requested or not any(o.opened or o.merged for o in outcomes):
            break
        log.info(
            "iteration changed something; rediscovering",
            extra={"alert_class": alert_class.value, "iteration": iteration},
        )
    return inventory


def keep_final(records: dict[str, UnitRecord], record: UnitRecord) -> None:
    """One record per unit: its most advanced state in this run. A merge is never replaced:
    what a later iteration found (e.g. an alert the merge could not fix) becomes a note."""
    previous = records.get(record.remediation_key)
    if previous is None or previous is record or previous.outcome is not Outcome.MERGED:
        records[record.remediation_key] = record
        return
    if record.outcome is Outcome.MERGED:
        record.notes.insert(0, f"earlier in this run: merged {previous.pr_url or 'a PR'}")
        records[record.remediation_key] = record
        return
    reason = record.result.reason or record.result.remaining_blocker
    previous.notes.append(
        f"afterwards in this run: {record.outcome.value}"
        + (f" {reason.value}" if reason else "")
        + (f": {record.result.detail.splitlines()[0]}" if record.result.detail else "")
    )
    previous.later = record


def _process_repositories(
    ctx: RunContext,
    repos: Sequence[Repository],
    inventory: Inventory,
    plugin: AlertPlugin,
    planned: PlannedKeys,
) -> list[UnitOutcome]:
    def one(repo: Repository) -> list[UnitOutcome]:
        if ctx.stop.requested:
            return []
        repo_inventory = inventory.repos[repo.repo]
        try:
            units = plan_repository(ctx, plugin, repo, repo_inventory)
        except RateLimitedError:
            raise
        except Exception as exc:  # one repository's fault never stops the others
            if not isinstance(exc, AgentdError):
                log.exception("planning failed", extra={"repo": repo.repo})
            return [_planning_failure(ctx, plugin, repo, exc)]
        if complete(plugin, repo_inventory):
            planned.add(plugin.alert_class, repo.repo, (u.key for u in units))
        outcomes = []
        for unit in units:
            if ctx.stop.requested:
                break
            outcomes.append(run_unit(ctx, plugin, unit))
        return outcomes

    workers = ctx.profile.profile.runtime.max_parallel_repos
    return [o for outcomes in parallel_map(one, repos, workers) for o in outcomes]


def _planning_failure(
    ctx: RunContext, plugin: AlertPlugin, repo: Repository, exc: Exception
) -> UnitOutcome:
    unit = new_unit(ctx, plugin.alert_class, repo, "?", None, settled=result_for(exc))
    return run_unit(ctx, plugin, unit)


def _remaining(
    inventory: Inventory, alert_class: AlertClass, records: dict[str, UnitRecord]
) -> list[dict[str, object]]:
    by_repo: dict[str, list[UnitRecord]] = {}
    for record in records.values():
        if record.alert_class is alert_class:
            by_repo.setdefault(record.repository, []).append(record)
    remaining = []
    for name, repo in inventory.repos.items():
        for alert in repo.alerts(alert_class):
            why = next(
                (_why_open(r) for r in by_repo.get(name, []) if alert.number in r.alert_numbers),
                "no unit",
            )
            remaining.append(
                {
                    "repository": name,
                    "alert_class": alert_class.value,
                    "number": alert.number,
                    "why": why,
                }
            )
    return remaining


def _why_open(record: UnitRecord) -> str:
    """Why an alert is still open: what the unit's latest attempt ran into."""
    latest = record.later or record
    result = latest.result
    if result.reason:
        return result.reason.value
    if result.remaining_blocker:
        return result.remaining_blocker.value
    return result.outcome.value
