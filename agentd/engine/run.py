"""One locked run of a profile (SPEC §5).

validate → lock → Dependabot loop (rediscover after every merge, stop when an iteration
opens nothing and merges nothing) → code scanning → secret scanning → reconcile → report →
release the lock. Repositories run in parallel up to `max_parallel_repos`; one
repository's failure never stops the others. A rate-limit stop ends promotion for the
whole run: what is left is reported `rate_limited`, nothing acts on partial state.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agentd.alerts.interface import AlertPlugin, new_unit
from agentd.alerts.registry import plugins_for
from agentd.audit import AuditLog
from agentd.coverage_memory import CoverageMemory
from agentd.engine import leftovers
from agentd.engine.context import Budget, RunContext
from agentd.engine.leftovers import worktrees_root
from agentd.engine.lifecycle import UnitOutcome, run_unit
from agentd.engine.planning import complete, plan_repository
from agentd.engine.reconcile import PlannedKeys, reconcile
from agentd.engine.verification import sandbox_warnings
from agentd.environment import load_allowed_environment
from agentd.errors import (
    AgentdError,
    LockContendedError,
    RateLimitedError,
    result_for,
)
from agentd.github.auth import Token, acquire_token
from agentd.gitops import GitEnvironment
from agentd.inventory import Inventory, RepoInventory, collect_inventory, parallel_map
from agentd.lock import RunLock, open_run_lock
from agentd.log import get_logger
from agentd.metrics import write_contention_metrics, write_metrics
from agentd.mutation import MutationPolicy
from agentd.preflight import preflight_run
from agentd.profile import LoadedProfile, Profile, Repository
from agentd.progress import RunObserver
from agentd.redaction import REDACTOR
from agentd.report import RunSummary, UnitRecord, utc_now, write_run_report
from agentd.runid import new_run_id
from agentd.runtime_contract import check_runtime_contract
from agentd.session import api_base_url, open_client, state_dir
from agentd.settings import Settings
from agentd.shard import Shard
from agentd.shutdown import STOP, RunAborted, StopFlag
from agentd.store import STORE_ERRORS, open_store, store_url
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
    shard: Shard | None = None  # `--shard K/N`: this run's share of the repositories


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
    progress: RunObserver | None = None,
) -> RunSummary:
    """One locked run. Its redaction patterns and the secrets it learns are its own: a
    daemon running profiles again and again does not accumulate them. `progress` hears
    what the run is doing while it runs (`agentd.progress`)."""
    patterns = loaded.profile.profile.verification.secret_redaction_patterns
    started = utc_now()
    with REDACTOR.run_scope(patterns):
        try:
            return _execute_run(
                loaded, settings, options, environ, token, stop, progress or RunObserver()
            )
        except LockContendedError:
            raise  # not this run's failure: another run holds the lock (recorded as such)
        except AgentdError:
            _record_refusal(loaded.profile, settings, options, started)
            raise


def _execute_run(
    loaded: LoadedProfile,
    settings: Settings,
    options: RunOptions,
    environ: Mapping[str, str] | None,
    token: Token | None,
    stop: StopFlag,
    progress: RunObserver,
) -> RunSummary:
    shard = options.shard
    profile = shard.select(loaded.profile) if shard else loaded.profile
    environ = dict(os.environ if environ is None else environ)
    check_runtime_contract(profile, loaded.source)
    token = token or acquire_token(profile.profile.auth.github_host, environ)
    allowed = load_allowed_environment(profile, environ)
    mode = options.mutation_mode or profile.mutation_mode()
    policy = MutationPolicy(mode, options.dry_run)
    state = state_dir(profile, settings)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = datetime.now(UTC)
    run_id = new_run_id(started) + (shard.run_id_suffix if shard else "")
    log.debug(
        "run decided",
        extra={
            "run_id": run_id,
            "profile": profile.id,
            "mutation_mode": policy.mode.value,
            "profile_mode": profile.mutation_mode().value,
            "mode_from": "--mutation-mode" if options.mutation_mode else "profile",
            "dry_run": options.dry_run,
            "state_dir": str(state),
            "api_url": api_base_url(profile, settings),
            "allowed_env": sorted(allowed.values),  # names only
        },
    )
    summary = RunSummary(
        profile_id=profile.id,
        owner=profile.profile.owner,
        mutation_mode=policy.mode.value,
        dry_run=options.dry_run,
        generated_at=started.isoformat(timespec="seconds"),
        repositories_by_mode=_modes(profile),
        repository_modes={r.repo: profile.automation_mode(r).value for r in profile.repositories},
        warnings=sandbox_warnings(profile),
        run_id=run_id,
        shard=shard.text if shard else None,
    )
    with _locked(profile, state, settings, summary, shard) as lock:
        log.debug("lock taken", extra={"lock": lock.name})
        if lock.recovery is not None:
            summary.lock_recovery = lock.recovery.to_json()
            log.warning("recovered a stale lock", extra={"lock_recovery": summary.lock_recovery})
        audit = AuditLog(state / "audit" / f"{profile.id}.jsonl", profile.id, run_id)
        api = open_client(profile, settings, policy, token=token, observer=audit.api_mutation)
        try:
            token_check = preflight_run(api, profile, token)  # 78 before anything is changed
        except BaseException:
            api.client.close()
            raise
        summary.warnings += token_check.warnings
        run_dir = worktrees_root(state) / run_id
        leftovers.claim(run_dir, profile.id)
        git_env = GitEnvironment.create(state, token, home_parent=run_dir)
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
            progress=progress,
            coverage_memory=CoverageMemory.for_profile(
                state, profile.id, settings.coverage_memory_hours
            ),
        )
        log.debug(
            "preflight passed",
            extra={"account": token_check.account.login if token_check.account else None},
        )
        mode_text = policy.mode.value + (" (dry run: changes nothing)" if options.dry_run else "")
        progress.run_started(run_id, profile.id, mode_text, len(profile.repositories))
        clones = [ctx.git_for(repo) for repo in profile.repositories]
        try:
            leftovers.prune_leftovers(state, clones, profile.id, run_id)
            with stop.abortable():
                _run_passes(ctx, summary)
        except RunAborted:
            pass  # an abort that landed between passes; recorded below like any other
        finally:
            _record_interruption(stop, summary)
            summary.rate_limit = api.client.rate.snapshot()
            summary.finished_at = utc_now()
            write_run_report(state, summary)
            _record_history(state, settings, summary, store_url(profile, settings))
            leftovers.remove_run(run_dir, clones)
            git_env.cleanup()
            api.client.close()
            progress.run_finished(summary)
    return summary


class ContendedRunError(LockContendedError):
    """The lock is held by a live run: this attempt is recorded (store, metrics) and its
    summary (`lock_contended`, `lock_holder`) is what `agentd run --json` prints."""

    def __init__(self, cause: LockContendedError, summary: RunSummary) -> None:
        super().__init__(cause.message, cause.hint)
        self.holder = cause.holder
        self.summary = summary


@contextmanager
def _locked(
    profile: Profile, state: Path, settings: Settings, summary: RunSummary, shard: Shard | None
) -> Iterator[RunLock]:
    ttl = profile.profile.concurrency.stale_lock_ttl_seconds
    label = shard.label if shard else None
    url = store_url(profile, settings)
    lock = open_run_lock(profile.lock_path(), profile.id, ttl, label, url)
    try:
        lock.acquire()
    except LockContendedError as exc:
        _record_contention(state, settings, summary, exc, url)
        raise ContendedRunError(exc, summary) from None
    try:
        yield lock
    finally:
        lock.release()


def _record_contention(
    state: Path, settings: Settings, summary: RunSummary, exc: LockContendedError, url: str | None
) -> None:
    """A run row saying so (with the holder) and the contention metrics; no report files:
    `latest.json` stays the last run that ran."""
    summary.lock_contended = True
    summary.lock_holder = exc.holder
    summary.stopped = ReasonCode.LOCK_CONTENDED.value
    summary.finished_at = utc_now()
    owner = summary.owner
    summary.units = [
        UnitRecord(
            repository="*",
            base="*",
            target_id="*",
            remediation_key=f"{owner}:run:{ReasonCode.LOCK_CONTENDED.value}",
            alert_class=AlertClass.DEPENDABOT,
            result=UnitResult.blocked(ReasonCode.LOCK_CONTENDED, exc.message),
        )
    ]
    log.warning(
        "the lock is held by a live run; this run did not start", extra={"holder": exc.holder}
    )
    try:
        store = open_store(state, url)
        store.record(summary)
        write_contention_metrics(
            settings.metrics_dir or state / "metrics",
            summary.profile_id,
            store.lock_contentions(summary.profile_id),
            summary.finished_at,
        )
    except STORE_ERRORS as exc_:
        log.error("could not record the contended lock", extra={"why": str(exc_)})


def _record_interruption(stop: StopFlag, summary: RunSummary) -> None:
    if not stop.requested:
        return
    signum = stop.signal_number
    by = f" ({signal.Signals(signum).name})" if signum else ""
    if stop.aborted:
        summary.stopped = f"interrupted{by}: aborted; the units in hand were abandoned"
    elif summary.stopped != ReasonCode.RATE_LIMITED.value:
        summary.stopped = f"interrupted{by}: stopped after the units in hand"
    log.warning("run interrupted", extra={"stopped": summary.stopped})


def _record_refusal(
    profile: Profile, settings: Settings, options: RunOptions, started: str
) -> None:
    """A run stopped by an error (GitHub unreachable, a contract error) sets
    `agentd_last_run_success` to 0 where metrics go, but never creates a state directory
    for it (a mistyped clone root must not grow one)."""
    summary = RunSummary(
        profile_id=profile.id,
        owner=profile.profile.owner,
        mutation_mode=(options.mutation_mode or profile.mutation_mode()).value,
        dry_run=options.dry_run,
        generated_at=started,
        finished_at=utc_now(),
        stopped="refused",
    )
    try:
        state: Path | None = state_dir(profile, settings)
    except (AgentdError, OSError):  # an unsafe state dir, a clone root that is a file
        state = None
    known = state if state is not None and state.is_dir() else None
    directory = settings.metrics_dir or (known / "metrics" if known else None)
    if directory is None:
        return
    try:
        url = store_url(profile, settings)
        recoveries = open_store(known, url).lock_recoveries(profile.id) if known else 0
        write_metrics(directory, summary, recoveries)
    except STORE_ERRORS as exc:
        log.error("could not record the stopped run in the metrics", extra={"why": str(exc)})


def _record_history(state: Path, settings: Settings, summary: RunSummary, url: str | None) -> None:
    """The run store and the metrics file; a failure here never hides the run's report."""
    try:
        store = open_store(state, url)
        store.record(summary)
        write_metrics(
            settings.metrics_dir or state / "metrics",
            summary,
            store.lock_recoveries(summary.profile_id),
        )
    except STORE_ERRORS as exc:
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
            if ctx.stop.requested:
                break
            last[plugin.alert_class] = _exhaust(ctx, summary, plugin, records, planned)
        if not ctx.stop.requested:
            ctx.progress.reconcile_started()
            for record in reconcile(ctx, planned):
                records[record.remediation_key] = record
    except RunAborted:
        log.warning("run aborted: the units in hand were abandoned")
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
        ctx.progress.pass_started(alert_class, iteration, len(repos))
        inventory = collect_inventory(
            ctx.api, [r.repo for r in repos], [alert_class], 8, ctx.coverage_memory
        )
        open_now = inventory.open_counts()[alert_class.value]
        if iteration == 1:
            summary.open_alerts_at_start[alert_class.value] = open_now
        ctx.progress.alerts_read(alert_class, iteration, open_now)
        planned.forget(alert_class)
        outcomes = _process_repositories(ctx, repos, inventory, plugin, planned)
        for outcome in outcomes:
            keep_final(records, outcome.record)
        summary.iterations[alert_class.value] = iteration
        # A class whose PRs never merge has nothing to wait for: one pass is all there is.
        changed = [o.record.remediation_key for o in outcomes if o.opened or o.merged]
        why_stop = _why_stop(plugin, ctx, changed)
        log.debug(
            "pass finished",
            extra={
                "alert_class": alert_class.value,
                "pass_number": iteration,
                "units": len(outcomes),
                "opened_or_merged": changed,
                "next": why_stop or "another pass: what was opened or merged can change the alerts",
            },
        )
        if why_stop:
            break
    return inventory


def _why_stop(plugin: AlertPlugin, ctx: RunContext, changed: list[str]) -> str:
    """Why the class needs no further pass ("" when it does)."""
    if not plugin.may_merge:
        return "done: this class's PRs are never merged, so one pass is all there is"
    if ctx.stop.requested:
        return "stopping: a stop was requested"
    if not changed:
        return "done: nothing was opened or merged, so the alerts cannot have changed"
    return ""


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
        ctx.progress.repository_started(
            plugin.alert_class, repo.repo, len(repo_inventory.alerts(plugin.alert_class))
        )
        outcomes = _repository(ctx, repo, repo_inventory, plugin, planned)
        ctx.progress.repository_finished(
            plugin.alert_class, repo.repo, [o.record for o in outcomes]
        )
        return outcomes

    workers = ctx.profile.profile.runtime.max_parallel_repos
    return [o for outcomes in parallel_map(one, repos, workers) for o in outcomes]


def _repository(
    ctx: RunContext,
    repo: Repository,
    repo_inventory: RepoInventory,
    plugin: AlertPlugin,
    planned: PlannedKeys,
) -> list[UnitOutcome]:
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
    else:
        log.debug(
            "alerts not read completely: no PR of this repository is closed as orphaned",
            extra={"repo": repo.repo, "alert_class": plugin.alert_class.value},
        )
    outcomes = []
    for unit in units:
        if ctx.stop.requested:
            log.debug("stop requested: leaving the remaining units", extra={"repo": repo.repo})
            break
        outcomes.append(run_unit(ctx, plugin, unit))
    return outcomes


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
