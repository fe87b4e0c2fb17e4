"""`agentd discover`: everything a run would need, checked without mutating anything.

Local checks (clones, targets, environment, tools, platform, lock) run first and need no
network; then the token is read through gh, capabilities are proven by real reads, and
the inventory gives per-repository coverage and open alert counts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentd.environment import (
    AllowedEnvironment,
    current_platform,
    load_allowed_environment,
    target_environment_problem,
)
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, acquire_token
from agentd.github.client import GitHubHTTPError, TransientError
from agentd.inventory import Coverage, Inventory, collect_inventory
from agentd.lock import inspect_lock
from agentd.mutation import MutationPolicy
from agentd.preflight import check_token, probe_for_discover
from agentd.profile import LoadedProfile, Profile, Repository, is_weak_command
from agentd.session import api_base_url, open_client
from agentd.settings import Settings
from agentd.verify import BWRAP, unavailable_reason
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
    findings: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _clone_state(path: Path) -> str:
    if not path.is_dir():
        return "missing"
    return "ok" if (path / ".git").exists() else "not_git"


def _target_checks(repo: Repository, allowed: AllowedEnvironment) -> list[TargetCheck]:
    root = Path(repo.local_path)
    checks = []
    for target in repo.targets:
        problem = target_environment_problem(target, allowed)
        checks.append(
            TargetCheck(
                target_id=target.target_id,
                path_ok=(root / target.path).is_dir(),
                workdir_ok=(root / target.verification_workdir).is_dir(),
                blocker=problem.message if problem else None,
                blocker_reason=problem.reason.value if problem else None,
                weak_commands=[
                    c
                    for c, a in zip(target.verification_commands, target.argv(), strict=True)
                    if is_weak_command(a)
                ],
                platform_constraints=list(target.platform_constraints),
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
            report.targets = _target_checks(repo, allowed)
        reports.append(report)
    return reports


def _findings(
    reports: list[RepoReport], allowed: AllowedEnvironment, tools: dict[str, str | None]
) -> list[str]:
    findings = [f"required tool {t!r} is not on PATH" for t, p in tools.items() if p is None]
    if allowed.dotenv_error:
        findings.append(allowed.dotenv_error)
    for report in reports:
        if report.clone != "ok" and report.automation_mode != "ignored":
            findings.append(
                f"{report.repo}: clone {report.clone} at {report.local_path} "
                "(its units will be skipped clone_missing)"
            )
        for target in report.targets:
            where = f"{report.repo}/{target.target_id}"
            if not target.path_ok:
                findings.append(f"{where}: target path does not exist in the clone")
            if not target.workdir_ok:
                findings.append(f"{where}: verification_workdir does not exist in the clone")
            if target.blocker:
                findings.append(f"{where}: blocked {target.blocker_reason}: {target.blocker}")
            if target.weak_commands:
                findings.append(f"{where}: weak verification commands {target.weak_commands}")
        if report.error:
            findings.append(f"{report.repo}: cannot read repository: {report.error}")
        for alert_class, entry in report.coverage.items():
            if entry["coverage"] != Coverage.ENABLED.value:
                findings.append(
                    f"{report.repo}: {alert_class} {entry['coverage']}"
                    + (f" ({entry['detail']})" if entry.get("detail") else "")
                )
    return findings


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


def _sandbox_findings(capabilities: dict[str, dict[str, Any]]) -> list[str]:
    sandbox = capabilities["verification_sandbox"]
    if sandbox["ok"] is False:
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
    environ = dict(os.environ if environ is None else environ)
    allowed = load_allowed_environment(profile, environ)
    tools = {tool: shutil.which(tool) for tool in profile.profile.runtime.required_tools}
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
        inventory = collect_inventory(api, wanted, classes, max_workers=8)
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
        findings=_findings(reports, allowed, tools)
        + _sandbox_findings(capabilities)
        + token_check.warnings,
    )


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
    lines += ["", "findings:" if report.findings else "findings: none"]
    lines += [f"  - {finding}" for finding in report.findings]
    for warning in report.contract["warnings"]:
        lines.append(f"  - profile warning: {warning}")
    return "\n".join(lines)
