"""What a workflow needs from its GITHUB_TOKEN, judged fail-closed.

Each job and step lands in one of three buckets:

- known to need more than `contents: read` (OIDC, publishing, releases, Pages, bots);
- not known read-only: nothing proves it writes, but nothing rules it out either;
- known read-only: an allowlisted action, or a `run:` script that neither touches the token
  nor calls anything that writes to GitHub.

Only the last bucket may ever be merged unattended. A CodeQL proposal of `{contents: read}`
proves nothing: the query only knows the permissions of actions in its own data model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentd.rules.workflow import triggers

# Actions that never use the token to write, whatever their inputs. actions/checkout only
# reads; the credentials it persists are caught when a later `run:` pushes. The toolchain
# setups read releases, and cache and artifacts use the runner's own runtime token, which
# `permissions:` does not govern.
READ_ONLY_ACTIONS = frozenset(
    {
        "actions/checkout",
        "actions/setup-node",
        "actions/setup-python",
        "actions/setup-go",
        "actions/setup-java",
        "actions/setup-dotnet",
        "actions/cache",  # also actions/cache/restore and actions/cache/save
        "actions/upload-artifact",
        "actions/download-artifact",  # unless it reads another run's artifacts, see below
    }
)

# Actions whose whole purpose needs a scope beyond `contents: read`.
WRITE_ACTIONS = {
    "actions/attest-build-provenance": "id-token: write, attestations: write",
    "actions/create-release": "contents: write",
    "actions/deploy-pages": "pages: write, id-token: write",
    "actions/github-script": "write scopes for its API calls",
    "actions/labeler": "pull-requests: write",
    "actions/stale": "issues: write, pull-requests: write",
    "actions/upload-release-asset": "contents: write",
    "changesets/action": "contents: write, pull-requests: write",
    "google-github-actions/release-please-action": "contents: write, pull-requests: write",
    "googleapis/release-please-action": "contents: write, pull-requests: write",
    "goreleaser/goreleaser-action": "contents: write",
    "jamesives/github-pages-deploy-action": "contents: write",
    "marocchino/sticky-pull-request-comment": "pull-requests: write",
    "ncipollo/release-action": "contents: write",
    "peaceiris/actions-gh-pages": "contents: write",
    "peter-evans/create-or-update-comment": "issues: write or pull-requests: write",
    "peter-evans/create-pull-request": "contents: write, pull-requests: write",
    "pypa/gh-action-pypi-publish": "id-token: write",
    "release-drafter/release-drafter": "contents: write",
    "softprops/action-gh-release": "contents: write",
    "stefanzweifel/git-auto-commit-action": "contents: write",
    "thollander/actions-comment-pull-request": "pull-requests: write",
}

_UNKNOWN_TRIGGERS = {
    "pull_request_target": "runs on pull_request_target, which usually exists to write to PRs",
    "workflow_run": "runs on workflow_run, which usually acts on another run's results",
}

_TOKEN = re.compile(r"GITHUB_TOKEN|GH_TOKEN|github\.token", re.IGNORECASE)
_OIDC_INPUTS = ("role-to-assume", "workload_identity_provider")
_GHCR = re.compile(r"\b(ghcr\.io|docker\.pkg\.github\.com)\b", re.IGNORECASE)
_WRITE_COMMANDS = re.compile(
    r"\bgh\s+(release\s+(create|upload|edit|delete)|pr\s+(create|comment|merge|edit|review|close|ready)|"
    r"issue\s+(create|comment|edit|close|reopen)|label\s+(create|edit|delete|clone)|workflow\s+run|"
    r"repo\s+edit|run\s+(rerun|cancel))\b|"
    r"\bgh\s+api\b(?![^\n]*(-X|--method)[\s=]*GET)[^\n]*(\s(-f|-F|--field|--raw-field|--input)\b|(-X|--method)[\s=]*(POST|PUT|PATCH|DELETE))|"
    r"\bgit\s+push\b|\b(npm|pnpm|yarn(\s+npm)?|poetry|uv|cargo|gem)\s+(publish|push)\b|"
    r"\btwine\s+upload\b|\bdocker\s+push\b|\bsemantic-release\b|ACTIONS_ID_TOKEN_REQUEST",
    re.IGNORECASE,
)
_UNKNOWN_COMMANDS = re.compile(
    r"\bgh(\.exe)?(?=[\s;|&)]|$)|\bhub\s|api\.github\.com|uploads\.github\.com|GITHUB_API_URL|"
    r"GITHUB_GRAPHQL_URL|github\.(api|graphql)_url|\bAuthorization\b|"
    # release/publish/deploy as a command, target or script, not `--release` or `=Release`
    r"(?<![-=\w])(release|publish|deploy)\b(?!/)",
    re.IGNORECASE,
)


@dataclass
class Assessment:
    needs_write: list[str] = field(default_factory=list)  # known to need more than read
    unknown: list[str] = field(default_factory=list)  # could not be ruled out
    jobs_checked: int = 0  # jobs the top-level block would govern


def assess(data: dict[Any, Any]) -> Assessment:
    """Judge every job the top-level `permissions:` block would govern."""
    out = Assessment()
    for trigger in sorted(triggers(data)):
        if trigger in _UNKNOWN_TRIGGERS:
            out.unknown.append(_UNKNOWN_TRIGGERS[trigger])
    if _TOKEN.search(str(data.get("env", ""))):
        out.unknown.append("the workflow's env exposes the token to every step")
    jobs = data.get("jobs")
    if not isinstance(jobs, dict):
        out.unknown.append("jobs is not a mapping")
        return out
    for job_id, job in jobs.items():
        if isinstance(job, dict) and "permissions" in job:
            continue  # its own block wins over the top-level one
        out.jobs_checked += 1
        _assess_job(f"job {job_id}", job, out)
    return out


def _assess_job(where: str, job: object, out: Assessment) -> None:
    if not isinstance(job, dict):
        out.unknown.append(f"{where} is not a mapping")
        return
    if "uses" in job:
        out.unknown.append(
            f"{where} calls the reusable workflow {job['uses']}, whose needs are unknown"
        )
        return
    if job.get("environment"):
        out.unknown.append(f"{where} deploys to an environment")
    if _TOKEN.search(str({k: v for k, v in job.items() if k != "steps"})):
        out.unknown.append(f"{where} passes the token outside its steps (env, container, ...)")
    steps = job.get("steps")
    if not isinstance(steps, list):
        out.unknown.append(f"{where} has no list of steps")
        return
    for number, step in enumerate(steps, 1):
        label = f"{where}, step {_step_label(step, number)}"
        if not isinstance(step, dict):
            out.unknown.append(f"{label} is not a mapping")
        elif "uses" in step:
            _assess_action(label, step, bool(job.get("environment")), out)
        elif "run" in step:
            _assess_run(label, step, out)
        else:
            out.unknown.append(f"{label} neither uses an action nor runs a command")


def _step_label(step: object, number: int) -> str:
    name = step.get("name") or step.get("id") if isinstance(step, dict) else None
    return f"{number} ({name})" if name else str(number)


def action_name(uses: str) -> str:
    """`Owner/Repo/sub/path@ref` → `owner/repo` (the registry key for allow/deny lists)."""
    return "/".join(uses.split("@", maxsplit=1)[0].split("/")[:2]).lower()


def _assess_action(where: str, step: dict[Any, Any], in_environment: bool, out: Assessment) -> None:
    uses = str(step["uses"]).strip()
    given = step.get("with")
    inputs: dict[Any, Any] = given if isinstance(given, dict) else {}
    name = action_name(uses)
    need = _action_needs(name, inputs, in_environment)
    if need:
        out.needs_write.append(f"{where} uses {name}, which needs {need}")
    elif "id-token" in str(step) or any(k in inputs for k in _OIDC_INPUTS):
        out.needs_write.append(f"{where} uses {name} with OIDC, which needs id-token: write")
    elif uses.startswith(("./", "docker://")):
        out.unknown.append(f"{where} uses {uses}, which agentd cannot inspect")
    elif name not in READ_ONLY_ACTIONS:
        out.unknown.append(f"{where} uses {name}, which is not on the read-only allowlist")
    elif name == "actions/download-artifact" and ({"run-id", "github-token"} & set(inputs)):
        out.unknown.append(f"{where} downloads another run's artifacts (needs actions: read)")


def _action_needs(name: str, inputs: dict[Any, Any], in_environment: bool) -> str | None:
    if name in WRITE_ACTIONS:
        return WRITE_ACTIONS[name]
    if name == "aws-actions/configure-aws-credentials" and "role-to-assume" in inputs:
        return None if "aws-access-key-id" in inputs else "id-token: write"
    if name == "azure/login" and "client-id" in inputs and "creds" not in inputs:
        return "id-token: write"
    if name == "docker/login-action" and _GHCR.search(str(inputs.get("registry", ""))):
        return "packages: write (or read) for ghcr.io"
    if name == "docker/build-push-action" and _pushes_to_ghcr(inputs):
        return "packages: write to push to ghcr.io"
    if in_environment and "deploy" in name:
        return "deployments: write"
    return None


def _pushes_to_ghcr(inputs: dict[Any, Any]) -> bool:
    push = inputs.get("push")
    pushes = push is True or str(push).strip().lower() == "true"
    return pushes and bool(_GHCR.search(str(inputs.get("tags", ""))))


def _assess_run(where: str, step: dict[Any, Any], out: Assessment) -> None:
    script = re.sub(r"\\\r?\n", " ", str(step["run"]))  # join continued lines
    write = _WRITE_COMMANDS.search(script)
    if write:
        out.needs_write.append(f"{where} runs `{_shorten(write.group(0))}`")
        return
    if _TOKEN.search(script) or _TOKEN.search(str(step.get("env", ""))):
        out.unknown.append(f"{where} uses the token")
    unknown = _UNKNOWN_COMMANDS.search(script)
    if unknown:
        out.unknown.append(f"{where} runs `{_shorten(_line_at(script, unknown.start()))}`")


def _line_at(script: str, offset: int) -> str:
    end = script.find("\n", offset)
    return script[script.rfind("\n", 0, offset) + 1 : end if end >= 0 else None]


def _shorten(command: str) -> str:
    command = " ".join(command.split())
    return command if len(command) <= 60 else command[:57] + "..."
