"""`agentd discover`: everything a run would need, checked without mutating anything.

The runtime contract comes first (the clone root exists, the required tools are on PATH:
else exit 78 at once, as `run` would). Local checks (clones, targets, environment, the
verification commands' programs on the PATH verification uses, the sandbox, lock) need no
network; then the token is read through gh, capabilities are proven by real reads, and
the inventory gives per-repository coverage and open alert counts.

What a run would trip over is a *problem*: discover then exits 78, so it can gate a run
(a pre-flight check). What is only worth knowing (a repository without code scanning, a
weak verification command, a capability the profile does not require) is a *note*.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentd.coverage_memory import CoverageMemory
from agentd.environment import (
    AllowedEnvironment,
    current_platform,
    load_allowed_environment,
    target_environment_problem,
)
from agentd.errors import ExitCode
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, acquire_token
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.inventory import Coverage, Inventory, collect_inventory
from agentd.lock import inspect_lock
from agentd.mutation import MutationPolicy
from agentd.preflight import check_token, probe_for_discover
from agentd.profile import LoadedProfile, Profile, Repository, is_weak_command
from agentd.runtime_contract import check_runtime_contract, required_tools
from agentd.session import api_base_url, open_client, state_dir
from agentd.settings import Settings
from agentd.verify import BWRAP, program_missing, unavailable_reason, verification_path
from agentd.vocabulary import AlertClass, AutomationMode, MutationMode


@dataclass
class TargetCheck:
    target_id: str
    path_ok: bool
    workdir_ok: bool
    blocker: str | None
    blocker_reason: str | None
    weak_commands: list[str]
    platform_constraints: list[str]
    missing_programs: list[str] = field(default_factory=list)
    platform_ok: bool = True


@dataclass
class RepoReport:
    repo: str
    automation_mode: str
    clone: str  # ok | missing | not_git
    local_path: str
    default_branch: str | None = None
    error: str = ""
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: list[TargetCheck] = field(default_factory=list)
    note: str = ""


@dataclass
class DiscoverReport:
    profile_id: str
    owner: str
    owner_type: str
    contract: dict[str, Any]
    auth: dict[str, Any]
    capabilities: dict[str, dict[str, Any]]
    lock: dict[str, Any]
    repositories_by_mode: dict[str, int]
    tools: dict[str, str | None]
    platform: str
    repos: list[RepoReport]
    rate_limit: dict[str, Any]
    used_org_endpoints: bool
    problems: list[str]  # what a run would trip over: discover exits 78
    notes: list[str]  # worth knowing, not in a run's way
    findings: list[str]  # problems, then notes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.CONFIG if self.problems else ExitCode.OK

    def verdict(self) -> str:
        """The one line a failed pre-flight check prints on stderr."""
        count = len(self.problems)
        return (
            f"discover found {count} problem{'s' if count != 1 else ''} a run would hit "
            f"(first: {self.problems[0]}); fix them and run discover again"
        )


def _clone_state(path: Path) -> str:
    if not path.is_dir():
        return "missing"
    return "ok" if (path / ".git").exists() else "not_git"


def _missing_programs(argvs: list[list[str]], allowed: AllowedEnvironment) -> list[str]:
    """Programs of verification commands that cannot start on the PATH verification uses.
    A path relative to the workdir (`.venv/bin/pytest`) may come from an earlier command
    (`uv sync`): it is checked when the run gets there, not here."""
    path = verification_path(allowed.values)
    programs = dict.fromkeys(argv[0] for argv in argvs)
    return [
        program
        for program in programs
        if (Path(program).is_absolute() or "/" not in program)
        and program_missing(program, path, Path("/"))
    ]


def _target_checks(
    profile: Profile, repo: Repository, allowed: AllowedEnvironment
) -> list[TargetCheck]:
    """What a run would find about each target here. A `verification: ci` target runs no
    command on this host, so its commands' programs and workdir are not checked."""
    root = Path(repo.local_path)
    checks = []
    for target in repo.targets:
        problem = target_environment_problem(target, allowed)
        local = profile.verification_mode(target) == "local"
        checks.append(
            TargetCheck(
                target_id=target.target_id,
                path_ok=(root / target.path).is_dir(),
                workdir_ok=not local or (root / target.verification_workdir).is_dir(),
                blocker=problem.message if problem else None,
                blocker_reason=problem.reason.value if problem else None,
                weak_commands=[
                    c
                    for c, a in zip(target.verification_commands, target.argv(), strict=True)
                    if local and is_weak_command(a)
                ],
                platform_constraints=list(target.platform_constraints),
                missing_programs=_missing_programs(target.argv(), allowed) if local else [],
                platform_ok=current_platform() in target.supported_platforms,
            )
        )
    return checks


def _local_repo_reports(profile: Profile, allowed: AllowedEnvironment) -> list[RepoReport]:
    reports = []
    for repo in profile.repositories:
        mode = profile.automation_mode(repo)
        path = Path(repo.local_path)
        report = RepoReport(repo.repo, mode.value, _clone_state(path), str(path))
        if mode is AutomationMode.IGNORED:
            report.note = repo.ignored_reason or ""
        elif mode is AutomationMode.MANUAL_ONLY:
            report.note = repo.manual_only_reason or ""
        if report.clone == "ok":
            report.targets = _target_checks(profile, repo, allowed)
        reports.append(report)
    return reports


def _repo_findings(report: RepoReport, reads_alerts: bool) -> tuple[list[str], list[str]]:
    """(problems, notes) of one repository; alerts that cannot be read are a problem when
    the profile requires reading them (`read_security_alerts`)."""
    problems: list[str] = []
    notes: list[str] = []
    if report.automation_mode == AutomationMode.IGNORED.value:
        return problems, notes
    if report.clone != "ok":
        problems.append(
            f"{report.repo}: clone {report.clone} at {report.local_path} (its units would be "
            "skipped clone_missing): clone it there, or fix its local_path"
        )
    targets, notes = _target_findings(report)
    if report.automation_mode == AutomationMode.ACTIVE.value:
        problems += targets
    else:  # manual_only: agentd verifies nothing there
        notes += [f"{line} ({report.automation_mode})" for line in targets]
    if report.error:
        problems.append(f"{report.repo}: cannot read repository: {report.error}")
    for alert_class, entry in report.coverage.items():
        line = f"{report.repo}: {alert_class} {entry['coverage']}" + (
            f" ({entry['detail']})" if entry.get("detail") else ""
        )
        if entry["coverage"] == Coverage.UNAVAILABLE.value and reads_alerts:
            problems.append(line)
        elif entry["coverage"] != Coverage.ENABLED.value:
            notes.append(line)
    return problems, notes


def _target_findings(report: RepoReport) -> tuple[list[str], list[str]]:
    """(problems, notes) of one repository's targets, as if it were active."""
    problems: list[str] = []
    notes: list[str] = []
    for target in report.targets:
        where = f"{report.repo}/{target.target_id}"
        if not target.path_ok:
            problems.append(f"{where}: target path does not exist in the clone: fix its path")
        if not target.workdir_ok:
            problems.append(f"{where}: verification_workdir does not exist in the clone: fix it")
        for program in target.missing_programs:
            problems.append(
                f"{where}: verification command `{program}` not found on the PATH "
                "verification uses: fix the profile's verification_commands, or install it"
            )
        if not target.platform_ok:  # a target for another platform: by design, not a fault
            notes.append(f"{where}: blocked {target.blocker_reason} here: {target.blocker}")
        elif target.blocker:
            problems.append(f"{where}: blocked {target.blocker_reason}: {target.blocker}")
        if target.weak_commands:
            notes.append(f"{where}: weak verification commands {target.weak_commands}")
    return problems, notes


def _findings(
    profile: Profile, reports: list[RepoReport], allowed: AllowedEnvironment
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the local checks and the inventory."""
    problems = [allowed.dotenv_error] if allowed.dotenv_error else []
    notes: list[str] = []
    reads_alerts = "read_security_alerts" in profile.profile.auth.required_capabilities
    for report in reports:
        more, noted = _repo_findings(report, reads_alerts)
        problems += more
        notes += noted
    return problems, notes


def _capability_findings(
    profile: Profile, capabilities: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """A capability proven missing is a problem when the profile requires it
    (`auth.required_capabilities`), else a note."""
    required = set(profile.profile.auth.required_capabilities)
    problems: list[str] = []
    notes: list[str] = []
    for name, capability in capabilities.items():
        if capability["ok"] is not False or name in ("token_permissions", "verification_sandbox"):
            continue
        line = f"capability {name} is missing: {capability['evidence']}"
        if name in required:
            problems.append(
                f"{line}; grant it to the token, or remove it from auth.required_capabilities"
            )
        else:
            notes.append(f"{line} (not in auth.required_capabilities)")
    return problems, notes


def _capabilities(
    api: GitHubAPI, inventory: Inventory, profile: Profile
) -> dict[str, dict[str, Any]]:
    readable = [r for r in inventory.repos.values() if r.metadata is not None]
    active = {
        r.repo for r in profile.repositories if profile.automation_mode(r) is AutomationMode.ACTIVE
    }
    active_meta = [r.metadata for r in readable if r.name in active and r.metadata is not None]
    can_push = [m for m in active_meta if m.permissions and m.permissions.push]
    alert_reads = [
        e
        for r in inventory.repos.values()
        for e in r.classes.values()
        if e.coverage is not Coverage.UNAVAILABLE
    ]
    caps: dict[str, dict[str, Any]] = {
        "read_repository_metadata": {
            "ok": len(readable) == len(inventory.repos) and bool(readable),
            "evidence": f"read {len(readable)}/{len(inventory.repos)} repositories",
        },
        "read_security_alerts": {
            "ok": bool(alert_reads) or not inventory.repos,
            "evidence": f"{len(alert_reads)} alert listings answered with data or coverage",
        },
        "push_branches": {
            "ok": len(can_push) == len(active_meta),
            "evidence": (
                f"push permission on {len(can_push)}/{len(active_meta)} active repositories"
            ),
        },
    }
    caps["open_and_update_pull_requests"] = dict(caps["push_branches"])
    caps["merge_pull_requests_when_policy_allows"] = dict(caps["push_branches"])
    caps["read_workflow_and_check_status"] = _probe_checks(
        api,
        readable[0].name if readable else None,
        readable[0].metadata.default_branch if readable and readable[0].metadata else None,
    )
    return caps


def _probe_checks(api: GitHubAPI, repo: str | None, branch: str | None) -> dict[str, Any]:
    if repo is None or branch is None:
        return {"ok": None, "evidence": "no readable repository to probe"}
    try:
        runs = api.check_runs(repo, branch)
    except (GitHubHTTPError, TransientError) as exc:
        return {"ok": False, "evidence": f"check runs of {repo}@{branch}: {exc}"}
    return {"ok": True, "evidence": f"read {len(runs)} check runs of {repo}@{branch}"}


def sandbox_capability(profile: Profile) -> dict[str, Any]:
    """Whether repository code can run here the way the profile wants: bubblewrap is started
    for real (`bwrap … true`); `sandbox: none` is reported as the opt-out it is."""
    setting = profile.profile.verification.sandbox
    problem = BWRAP.problem()
    if setting == "none":
        here = "it would start here" if problem is None else f"it cannot start here ({problem})"
        return {
            "ok": None,
            "evidence": "opted out (verification.sandbox: none): repository code runs "
            f"without bubblewrap; {here}",
        }
    if problem is not None:
        return {"ok": False, "evidence": unavailable_reason(problem)}
    return {"ok": True, "evidence": f"bubblewrap starts here (verification.sandbox: {setting})"}


def _sandbox_findings(profile: Profile, capabilities: dict[str, dict[str, Any]]) -> list[str]:
    """A sandbox that cannot start is a problem when an active repository verifies."""
    sandbox = capabilities["verification_sandbox"]
    verifies = any(
        repo.targets
        for repo in profile.repositories
        if profile.automation_mode(repo) is AutomationMode.ACTIVE
    )
    if sandbox["ok"] is False and verifies:
        return [
            f"{sandbox['evidence']} (every unit that would verify ends blocked "
            "verification_unavailable)"
        ]
    return []


def run_discover(
    loaded: LoadedProfile,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    token: Token | None = None,
) -> DiscoverReport:
    profile = loaded.profile
    check_runtime_contract(profile, loaded.source)  # as `run` would: exit 78 at once
    environ = dict(os.environ if environ is None else environ)
    allowed = load_allowed_environment(profile, environ)
    tools = {tool: shutil.which(tool) for tool in required_tools(profile)}
    reports = _local_repo_reports(profile, allowed)
    modes = {m.value: 0 for m in AutomationMode}
    for report in reports:
        modes[report.automation_mode] += 1

    token = token or acquire_token(profile.profile.auth.github_host, environ)
    api = open_client(profile, settings, MutationPolicy(MutationMode.REPORT_ONLY), token=token)
    try:
        token_check = check_token(api, profile, token)  # mode, GET /user, classic scopes
        login = token_check.account.login
        wanted = [r.repo for r in reports if r.automation_mode != AutomationMode.IGNORED.value]
        classes = list(profile.profile.supported_alert_classes)
        memory = CoverageMemory.for_profile(
            state_dir(profile, settings), profile.id, settings.coverage_memory_hours
        )
        inventory = collect_inventory(api, wanted, classes, 8, memory)
        for report in reports:
            entry = inventory.repos.get(report.repo)
            if entry is None:
                continue
            report.error = entry.error
            report.default_branch = entry.metadata.default_branch if entry.metadata else None
            report.coverage = {
                c.value: {
                    "coverage": e.coverage.value,
                    "open_alerts": e.open_count,
                    "detail": e.detail,
                }
                for c, e in entry.classes.items()
            }
        capabilities = _capabilities(api, inventory, profile)
        probe_for_discover(api, profile, token_check, inventory)  # fine-grained: reads prove
        capabilities["token_permissions"] = token_check.capability(profile)
        capabilities["verification_sandbox"] = sandbox_capability(profile)
        rate = api.client.rate.snapshot()
    finally:
        api.client.close()

    return DiscoverReport(
        profile_id=profile.id,
        owner=profile.profile.owner,
        owner_type=profile.profile.owner_type,
        contract={
            "valid": True,
            "source": str(loaded.source),
            "warnings": [w.render() for w in loaded.warnings],
        },
        auth={"mode": token.kind.value, "login": login, "api_url": api_base_url(profile, settings)},
        capabilities=capabilities,
        lock=inspect_lock(profile.lock_path()).to_json(),
        repositories_by_mode=modes,
        tools=tools,
        platform=current_platform(),
        repos=reports,
        rate_limit=rate,
        used_org_endpoints=inventory.used_org_endpoints,
        **_verdict(profile, reports, allowed, capabilities, token_check.warnings),
    )


def _verdict(
    profile: Profile,
    reports: list[RepoReport],
    allowed: AllowedEnvironment,
    capabilities: dict[str, dict[str, Any]],
    warnings: list[str],
) -> dict[str, list[str]]:
    problems, notes = _findings(profile, reports, allowed)
    more, noted = _capability_findings(profile, capabilities)
    problems += more + _sandbox_findings(profile, capabilities)
    notes += noted + warnings
    return {"problems": problems, "notes": notes, "findings": problems + notes}


def _cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    if entry["coverage"] == Coverage.ENABLED.value:
        return f"{entry['open_alerts']} open"
    return str(entry["coverage"]).replace("_", " ")


def render_table(report: DiscoverReport) -> str:
    lines = [
        f"profile {report.profile_id}: owner {report.owner} ({report.owner_type}), contract valid",
        f"auth: {report.auth['mode']} as {report.auth['login']} via {report.auth['api_url']}",
        f"lock: {report.lock['state']} ({report.lock['path']})",
        "repositories: "
        + ", ".join(f"{n} {m}" for m, n in report.repositories_by_mode.items() if n),
        f"rate limit: {report.rate_limit.get('remaining')}/{report.rate_limit.get('limit')} left",
        "",
        "capabilities:",
    ]
    for name, cap in report.capabilities.items():
        mark = {True: "ok", False: "MISSING", None: "unknown"}[cap["ok"]]
        lines.append(f"  {mark:8} {name}: {cap['evidence']}")
    row = "{:24} {:12} {:8} {:12} {:14} {:15}"
    header = row.format(
        "repository", "mode", "clone", "dependabot", "code scanning", "secret scanning"
    )
    lines += ["", header, "-" * len(header)]
    for repo in report.repos:
        cells = [_cell(repo.coverage.get(c.value)) for c in AlertClass]
        lines.append(row.format(repo.repo[:24], repo.automation_mode, repo.clone, *cells))
        for target in repo.targets:
            if target.platform_constraints:
                lines.append(
                    f"    {target.target_id}: constraints: {'; '.join(target.platform_constraints)}"
                )
    lines += ["", "problems (a run would hit these):" if report.problems else "problems: none"]
    lines += [f"  - {problem}" for problem in report.problems]
    notes = report.notes + [f"profile warning: {w}" for w in report.contract["warnings"]]
    lines += ["notes:" if notes else "notes: none"]
    lines += [f"  - {note}" for note in notes]
    return "\n".join(lines)
