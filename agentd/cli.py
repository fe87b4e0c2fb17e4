"""The `agentd` command line: argument parsing and mapping of errors to exit codes."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentd import __version__
from agentd.envfile import load_env_file, log_env_file
from agentd.errors import AgentdError, ExitCode, UsageError
from agentd.lock import LockState, break_lock, inspect_lock, shard_lock_path
from agentd.log import configure_logging, get_logger
from agentd.profile import LoadedProfile, ProfileContractError, load_profile
from agentd.redaction import REDACTOR, redact
from agentd.report_json import write_summary
from agentd.settings import Settings, load_settings, resolve_profile_path
from agentd.shard import Shard
from agentd.shutdown import STOP, install_flag_handlers
from agentd.vocabulary import AutomationMode, MutationMode

if TYPE_CHECKING:
    from agentd.report import RunSummary

Handler = Callable[[argparse.Namespace, Settings], int]
log = get_logger("cli")
PR_SET_DUMPABLE = 4


def _print(text: str = "") -> None:
    print(redact(text))


# --- validate ---------------------------------------------------------------------------


def _summary(loaded: LoadedProfile) -> dict[str, object]:
    profile = loaded.profile
    modes = {m.value: 0 for m in AutomationMode}
    for repo in profile.repositories:
        modes[profile.automation_mode(repo).value] += 1
    return {
        "profile_id": profile.id,
        "source": str(loaded.source),
        "owner": profile.profile.owner,
        "owner_type": profile.profile.owner_type,
        "mutation_mode": profile.mutation_mode().value,
        "repositories": len(profile.repositories),
        "repositories_by_mode": modes,
        "warnings": [w.render() for w in loaded.warnings],
    }


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        loaded = load_profile(resolve_profile_path(args.path, settings))
    except AgentdError as exc:
        if not args.json:
            raise
        _print(json.dumps({"valid": False, "errors": _errors_json(exc)}, indent=2))
        return int(exc.exit_code)
    summary = _summary(loaded)
    if args.json:
        _print(json.dumps({"valid": True, **summary}, indent=2))
        return ExitCode.OK
    modes = {m.value: 0 for m in AutomationMode}
    for repo in loaded.profile.repositories:
        modes[loaded.profile.automation_mode(repo).value] += 1
    _print(
        f"profile {summary['profile_id']!r} is valid: owner {summary['owner']} "
        f"({summary['owner_type']}), mutation_mode {summary['mutation_mode']}, "
        f"{summary['repositories']} repositories "
        f"({', '.join(f'{n} {m}' for m, n in modes.items() if n)})"
    )
    for warning in loaded.warnings:
        _print(f"  warning: {warning.render()}")
    return ExitCode.OK


def _errors_json(exc: AgentdError) -> list[dict[str, Any]]:
    if isinstance(exc, ProfileContractError):
        return [issue.to_json() for issue in exc.issues]
    return [{"path": None, "line": None, "message": exc.message, "fix": exc.hint}]


# --- lock -------------------------------------------------------------------------------


def _load_for(args: argparse.Namespace, settings: Settings) -> LoadedProfile:
    return load_profile(resolve_profile_path(args.profile, settings))


def _lock_file(args: argparse.Namespace, settings: Settings) -> Path:
    shard = _shard(args)
    path = _load_for(args, settings).profile.lock_path()
    return shard_lock_path(path, shard.label) if shard else path


def cmd_lock_status(args: argparse.Namespace, settings: Settings) -> int:
    inspection = inspect_lock(_lock_file(args, settings))
    if args.json:
        _print(json.dumps(inspection.to_json(), indent=2))
        return ExitCode.OK
    _print(f"lock {inspection.path}: {inspection.state.value}")
    if inspection.record:
        _print(f"  holder: {inspection.record.describe()}")
    if inspection.why_stale:
        _print(f"  stale because: {inspection.why_stale}")
    return ExitCode.OK


def cmd_lock_break(args: argparse.Namespace, settings: Settings) -> int:
    removed = break_lock(_lock_file(args, settings), force=args.force)
    if removed.state is LockState.ABSENT:
        _print(f"no lock at {removed.path}; nothing to break")
    else:
        holder = removed.record.describe() if removed.record else "unreadable record"
        _print(f"removed {removed.state.value} lock {removed.path} ({holder})")
    return ExitCode.OK


# --- stubs for later issues ---------------------------------------------------------------


def _not_built(name: str) -> Handler:
    def handler(_args: argparse.Namespace, _settings: Settings) -> int:
        print(f"agentd {name}: not built yet in this version of agentd", file=sys.stderr)
        return ExitCode.USAGE

    return handler


def cmd_discover(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.discover import render_table, run_discover  # noqa: PLC0415 - heavy imports

    shard = _shard(args)
    loaded = _load_for(args, settings)
    if shard:  # what `agentd run --shard` would cover
        loaded = LoadedProfile(shard.select(loaded.profile), loaded.source, loaded.warnings)
    report = run_discover(loaded, settings)
    if args.json:
        _print(json.dumps(report.to_json(), indent=2))
    else:
        _print(render_table(report))
    if report.problems:  # a pre-flight check: what a run would hit fails it
        print(f"agentd: error: {redact(report.verdict())}", file=sys.stderr)
    return report.exit_code


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.history import open_history  # noqa: PLC0415
    from agentd.render import render_markdown, render_table  # noqa: PLC0415
    from agentd.weekly import weekly_report, window_from  # noqa: PLC0415

    history = open_history(args.profile, settings)
    if args.format == "weekly":
        window = window_from(args.since, args.until, args.week)
        for store in history.stores:
            print(weekly_report(store, history.profile_id, window), end="")
        return ExitCode.OK
    summary = history.find(args.run).summary if args.run else history.latest_report()
    renderers = {
        "json": lambda d: json.dumps(d, indent=2),
        "markdown": render_markdown,
        "table": render_table,
    }
    _print(renderers[args.format](summary))
    return ExitCode.OK


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.history import open_history  # noqa: PLC0415
    from agentd.render import render_runs  # noqa: PLC0415

    history = open_history(args.profile, settings)
    runs = history.runs(args.last)
    trends = history.trends(args.last)
    if args.json:
        _print(
            json.dumps(
                {
                    "runs": [
                        {
                            "run_id": r.id,
                            "profile_id": r.profile_id,
                            "finished_at": r.finished_at,
                            "outcomes": r.summary.get("outcomes"),
                        }
                        for r in runs
                    ],
                    "trends": trends,
                },
                indent=2,
            )
        )
    else:
        _print(render_runs([(r.id, r.summary) for r in runs], trends))
    return ExitCode.OK


def cmd_daemon(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.scheduler import run_daemon  # noqa: PLC0415 - heavy imports

    if args.profiles_dir:
        settings = settings.model_copy(update={"profiles_dir": args.profiles_dir})
    return run_daemon(settings)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.init import init_profile  # noqa: PLC0415

    profile_id = args.profile_id or args.owner.lower()
    output = args.output or settings.profiles_dir / profile_id / "profile.yaml"
    result = init_profile(args.owner, args.clone_root, output, args.owner_type, profile_id)
    _print(result.render())
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.demo import run_demo  # noqa: PLC0415 - heavy imports

    if not args.verbose:  # the report is the demo's output; routine log lines would bury it
        configure_logging(args.log_format or settings.log_format, "WARNING")
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    return run_demo(args.workdir)


_MODE_RANK = {MutationMode.REPORT_ONLY: 0, MutationMode.PULL_REQUEST: 1, MutationMode.AUTO_MERGE: 2}


def _check_escalation(
    reviewed: MutationMode, requested: MutationMode | None, allowed: bool
) -> None:
    """`--mutation-mode` may lower the mode the profile was reviewed for; raising it is an
    explicit, logged decision (`--allow-escalation`)."""
    if requested is None or _MODE_RANK[requested] <= _MODE_RANK[reviewed]:
        return
    if not allowed:
        raise UsageError(
            f"--mutation-mode {requested.value} would raise the profile's "
            f"mutation_mode {reviewed.value}",
            "lower it, change the profile, or add --allow-escalation to raise it on purpose",
        )
    log.warning(
        "mutation mode raised above the profile's on the command line",
        extra={"profile_mode": reviewed.value, "run_mode": requested.value},
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from agentd.engine.run import ContendedRunError, RunOptions, execute_run  # noqa: PLC0415
    from agentd.progress import ProgressLog, run_headline  # noqa: PLC0415
    from agentd.report import render_summary  # noqa: PLC0415 - heavy imports

    shard = _shard(args)
    loaded = _load_for(args, settings)
    install_flag_handlers()
    requested = MutationMode(args.mutation_mode) if args.mutation_mode else None
    _check_escalation(loaded.profile.mutation_mode(), requested, args.allow_escalation)
    options = RunOptions(mutation_mode=requested, dry_run=args.dry_run, shard=shard)
    # The run's redaction scope also covers printing its summary.
    with REDACTOR.run_scope(loaded.profile.profile.verification.secret_redaction_patterns):
        try:
            summary = execute_run(loaded, settings, options, progress=ProgressLog())
        except ContendedRunError as exc:
            if args.json:  # the summary says so too (lock_contended, lock_holder); exit 75
                _print_summary(exc.summary)
            raise
        if args.json:
            _print_summary(summary)
        else:
            _print(render_summary(summary))
            _print(f"\nrun {summary.run_id}: {run_headline(summary)}")
    if STOP.requested:  # Ctrl-C or SIGTERM: 128 + the signal, whatever the units did
        return STOP.exit_code
    if summary.rate_limited:
        return ExitCode.TEMPFAIL
    return ExitCode.UNITS_FAILED if summary.has_failures else ExitCode.OK


def _print_summary(summary: RunSummary) -> None:
    """The summary's JSON (redacted), written a unit at a time: never whole in memory."""
    write_summary(summary, sys.stdout)
    sys.stdout.write("\n")


def _shard(args: argparse.Namespace) -> Shard | None:
    return Shard.parse(args.shard) if args.shard else None


# --- parser ---------------------------------------------------------------------------------


RUN_DESCRIPTION = (
    "One locked pass: Dependabot (repeated while PRs merge), code scanning, secret scanning, "
    "then closing agentd's PRs whose alerts are gone. --dry-run reports what this run would "
    "change given the current alerts and PRs, in the mode it would run in: a PR it would open "
    "(`skipped policy_blocked`, 'would open a PR'), or an agentd PR already open for the unit "
    "(`opened_pr`, 'PR #12 already open and up to date; would re-check its gate', or 'would "
    "update it' when it is behind its base), or a PR it would close. It reads GitHub and "
    "fetches, and never pushes, opens, edits, labels, comments on, merges or closes anything. "
    "A report_only run (the profile's mode, or --mutation-mode report_only) reports the same "
    "way: existing PRs as existing, the rest as what it would do."
)


def _add_profile_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        required=True,
        help="profile id (looked up in AGENTD_PROFILES_DIR) or path to a profile.yaml",
    )


def _add_shard_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--shard", metavar="K/N", help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentd",
        description="Drain GitHub security alerts across pre-cloned repositories.",
    )
    parser.add_argument("--version", action="version", version=f"agentd {__version__}")
    _add_global_flags(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = sub.add_parser("validate", help="check a profile's schema offline")
    validate.add_argument(
        "path", metavar="PROFILE", help="profile id, profile.yaml, or the directory holding it"
    )
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(handler=cmd_validate)

    lock = sub.add_parser("lock", help="inspect or break a profile's run lock")
    lock_sub = lock.add_subparsers(dest="lock_command", metavar="ACTION", required=True)
    status = lock_sub.add_parser("status", help="show whether the lock is absent, active or stale")
    _add_profile_arg(status)
    _add_shard_arg(status, "the lock of `agentd run --shard K/N`")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_lock_status)
    brk = lock_sub.add_parser("break", help="remove a stale lock (a live one needs --force)")
    _add_profile_arg(brk)
    brk.add_argument("--force", action="store_true", help="also remove a live holder's lock")
    _add_shard_arg(brk, "the lock of `agentd run --shard K/N`")
    brk.set_defaults(handler=cmd_lock_break)

    run = sub.add_parser(
        "run",
        help="one locked remediation pass for a profile",
        description=RUN_DESCRIPTION,
    )
    _add_profile_arg(run)
    run.add_argument(
        "--mutation-mode",
        choices=["report_only", "pull_request", "auto_merge"],
        help="lower the profile's mutation mode for this run (raising it needs "
        "--allow-escalation); report_only reads and reports only, like --dry-run",
    )
    run.add_argument(
        "--allow-escalation",
        action="store_true",
        help="allow --mutation-mode to raise the profile's mode (logged)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="report what this run would change given the current alerts and PRs; change nothing",
    )
    _add_shard_arg(
        run,
        "run shard K of N: a stable share of the repositories (by a hash of the name), "
        "under its own lock; N runs with the same N cover every repository once",
    )
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.set_defaults(handler=cmd_run)

    discover = sub.add_parser("discover", help="validate everything without mutating")
    _add_profile_arg(discover)
    _add_shard_arg(discover, "check only the repositories of shard K of N")
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(handler=cmd_discover)

    report = sub.add_parser("report", help="show run reports from the history store")
    report.add_argument(
        "--profile", help="default: every profile (AGENTD_STATE_DIR, else AGENTD_PROFILES_DIR)"
    )
    report.add_argument(
        "--run", metavar="RUN_ID", help="a run id as `agentd run` prints it (default: latest)"
    )
    report.add_argument(
        "--format", choices=["table", "json", "markdown", "weekly"], default="table"
    )
    report.add_argument("--since", help="weekly window start: a date or ISO time (UTC)")
    report.add_argument("--until", help="weekly window end (a date counts whole); default now")
    report.add_argument("--week", help="weekly window: an ISO week, e.g. 2024-W23")
    report.set_defaults(handler=cmd_report)

    runs = sub.add_parser("runs", help="run history and open-alert trends")
    runs.add_argument(
        "--profile", help="default: every profile (AGENTD_STATE_DIR, else AGENTD_PROFILES_DIR)"
    )
    runs.add_argument("--last", type=int, default=10)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=cmd_runs)

    daemon = sub.add_parser("daemon", help="run every profile on its schedule")
    daemon.add_argument("--profiles-dir", type=Path, help="default: AGENTD_PROFILES_DIR")
    daemon.set_defaults(handler=cmd_daemon)

    init = sub.add_parser("init", help="write a profile, ready for review, for a clone root")
    init.add_argument("--owner", required=True, help="GitHub organisation or user login")
    init.add_argument("--clone-root", type=Path, required=True, help="directory of the clones")
    init.add_argument("--output", type=Path, help="default: AGENTD_PROFILES_DIR/ID/profile.yaml")
    init.add_argument("--owner-type", choices=["org", "user"], default="org")
    init.add_argument("--profile-id", help="default: the owner in lowercase")
    init.set_defaults(handler=cmd_init)

    demo = sub.add_parser("demo", help="a complete offline pass against the bundled simulator")
    demo.add_argument("--workdir", type=Path, help="keep the simulator, clones and reports here")
    demo.set_defaults(handler=cmd_demo)

    _add_sim_parser(sub)
    _global_flags_after_subcommands(parser)
    return parser


def _add_global_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--log-format",
        choices=["auto", "human", "json"],
        default=default,
        help="default: AGENTD_LOG_FORMAT or auto (human on a terminal, JSON lines otherwise)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="debug logging: what the run decides at each step and why",
    )


def _global_flags_after_subcommands(parser: argparse.ArgumentParser) -> None:
    """`agentd run --profile x -v` as well as `agentd -v run ...`: every subcommand takes the
    global flags too; given there, they override (SUPPRESS keeps the global value otherwise)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _add_global_flags(subparser, argparse.SUPPRESS)
                _global_flags_after_subcommands(subparser)


def _add_sim_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim", help="the bundled GitHub simulator")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    serve = sim_sub.add_parser("serve", help="materialize a scenario and serve its API")
    try:
        from agentd.simulator import cli as sim_cli  # noqa: PLC0415 - optional part
    except ImportError:
        serve.set_defaults(handler=_not_built("sim serve"))
        return
    sim_cli.add_arguments(serve)

    def handler(args: argparse.Namespace, _settings: Settings) -> int:
        return int(sim_cli.serve(args))

    serve.set_defaults(handler=handler)


def harden_process() -> bool:
    """Mark agentd non-dumpable: no core dumps, and other processes of the same (non-root)
    user cannot read its `/proc/<pid>/environ` or memory, nor ptrace it. agentd's environment
    and memory hold the token; the programs it starts are dumpable again after exec."""
    if not sys.platform.startswith("linux"):
        return True  # prctl is Linux's; there is no /proc/<pid>/environ elsewhere
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    hardened = harden_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        env_file = load_env_file()  # before the settings: it may hold AGENTD_* and GH_TOKEN
        settings = load_settings()
        configure_logging(
            args.log_format or settings.log_format,
            "DEBUG" if args.verbose else settings.log_level,
        )
        log_env_file(env_file)
        if not hardened:
            log.warning("could not mark the process non-dumpable (prctl PR_SET_DUMPABLE)")
        handler: Handler = args.handler
        return int(handler(args, settings))
    except AgentdError as exc:
        print(f"agentd: error: {redact(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("agentd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `agentd runs --json | head`: the reader left; nothing to report
        _silence_stdout()
        return int(ExitCode.OK)
