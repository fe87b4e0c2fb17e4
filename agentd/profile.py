"""The profile contract of SPEC §3: pydantic models, fail-closed loading, clear errors.

`load_profile(path)` returns a `LoadedProfile` or raises `ContractError` whose message
lists every problem with its YAML path, line and what to do about it. Unknown keys are
errors everywhere. The schema accepts profiles written for the public
`github-security-agent` template unchanged.
"""

from __future__ import annotations

import difflib
import re
import shlex
import string
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from agentd.cron import cron_trigger
from agentd.ecosystems import PROFILE_ECOSYSTEMS
from agentd.errors import ContractError, PathEscapeError
from agentd.paths import confine
from agentd.vocabulary import (
    AlertClass,
    AutomationMode,
    MutationMode,
    Outcome,
    ReasonCode,
)
from agentd.yamlpaths import LocatedDocument, PathKey, YamlSyntaxError, format_path, load_located

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
REPO_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOST_PATTERN = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")
BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/-]+$")

# Environment names that carry the GitHub token: never handed to verification commands.
TOKEN_ENV_NAMES = frozenset(
    {"GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}
)

# Literal values that look like credentials. A profile holds names, never secrets.
SECRET_VALUE_PATTERNS = (
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)

REQUIRED_CAPABILITIES = (
    "read_repository_metadata",
    "read_security_alerts",
    "push_branches",
    "open_and_update_pull_requests",
    "read_workflow_and_check_status",
    "merge_pull_requests_when_policy_allows",
)
PR_METADATA_FIELDS = (
    "schema_version",
    "remediation_key",
    "alert_class",
    "target_id",
    "base_branch",
    "advisory_ids",
    "alert_number",
    "secret_type",
    "agent_version",
    "last_pass_at",
)
BRANCH_PLACEHOLDERS = frozenset({"alert_class", "target_id", "remediation_key_short", "repo"})
TITLE_PLACEHOLDERS = frozenset(
    {"alert_class", "target_id", "repo", "rule_id", "secret_type", "alert_number"}
)


# --- field validators -------------------------------------------------------------------


def _absolute_path(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if not PurePosixPath(value).is_absolute():
        raise ValueError(
            f"must be an absolute path, got {value!r}; write the full path starting with /"
        )
    return value


def _repo_relative_path(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value):
        raise ValueError(
            f"must be relative to the repository, got absolute {value!r}; use e.g. '.' or 'ui'"
        )
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if ".." in parts:
        raise ValueError(
            f"'..' segments are not allowed in {value!r}; use a path inside the repository"
        )
    return value


def _identifier(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a valid id; use lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def _env_name(value: str) -> str:
    if not ENV_NAME_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits, '_')")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return value


def _branch_name(value: str) -> str:
    if value != "auto" and (
        not BRANCH_PATTERN.match(value) or ".." in value or value.startswith("-")
    ):
        raise ValueError(f"{value!r} is not a valid branch name; use 'auto' or e.g. 'main'")
    return value


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"malformed template ({exc})") from None


def _title_template(value: str) -> str:
    unknown = _placeholders(value) - TITLE_PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; available: {sorted(TITLE_PLACEHOLDERS)}"
        )
    return value


def _cron(value: str) -> str:
    try:
        cron_trigger(value)
    except ValueError as exc:
        raise ValueError(f"not a valid cron expression ({exc}); e.g. '17 */4 * * *'") from None
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError(
            f"{value!r} is not an IANA time zone name; e.g. 'UTC' or 'Europe/Berlin'"
        ) from None
    return value


AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
RepoRelativePath = Annotated[str, AfterValidator(_repo_relative_path)]
Identifier = Annotated[str, AfterValidator(_identifier)]
EnvName = Annotated[str, AfterValidator(_env_name)]
Regex = Annotated[str, AfterValidator(_regex)]
BranchName = Annotated[str, AfterValidator(_branch_name)]
TitleTemplate = Annotated[str, AfterValidator(_title_template)]
CronExpression = Annotated[str, AfterValidator(_cron)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
# Must list exactly `agentd.ecosystems.PROFILE_ECOSYSTEMS` (a Literal cannot be derived;
# tests/ecosystems/test_registry.py proves they agree).
ProfileEcosystem = Literal[
    "pip", "uv", "poetry", "npm", "pnpm", "yarn", "cargo", "go",
    "maven", "gradle", "bundler", "composer", "nuget", "pub", "swift", "hex", "actions",
]  # fmt: skip


AuthMode = Literal["classic_pat", "fine_grained_pat"]
Capability = Literal[
    "read_repository_metadata",
    "read_security_alerts",
    "push_branches",
    "open_and_update_pull_requests",
    "read_workflow_and_check_status",
    "merge_pull_requests_when_policy_allows",
]
Platform = Literal["linux", "darwin", "windows"]


def _all_auth_modes() -> list[AuthMode]:
    return ["classic_pat", "fine_grained_pat"]


def _all_capabilities() -> list[Capability]:
    return list(get_args(Capability))


def _unix_platforms() -> list[Platform]:
    return ["linux", "darwin"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- profile sections -------------------------------------------------------------------


class AuthSettings(Strict):
    github_host: str = "github.com"
    api_url: str | None = None
    provider: Literal["gh"] = "gh"
    supported_auth_modes: list[AuthMode] = Field(default_factory=_all_auth_modes, min_length=1)
    required_capabilities: list[Capability] = Field(default_factory=_all_capabilities)

    @field_validator("github_host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not HOST_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a host name; write the bare host (github.com or "
                "ghe.example.com), not a URL — put a full API URL in auth.api_url"
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError(
                f"{value!r} is not an http(s) URL, e.g. https://ghe.example.com/api/v3"
            )
        return value.rstrip("/") if value else value


class RuntimeSettings(Strict):
    local_clone_root: AbsolutePath
    clone_handling_mode: Literal["precloned_only"] = "precloned_only"
    clone_refresh_policy: Literal["fetch_existing_only", "no_fetch"] = "fetch_existing_only"
    execution_mode: Literal["local_first"] = "local_first"
    required_tools: list[str] = Field(default_factory=lambda: ["git", "gh"])
    max_parallel_repos: int = Field(default=4, ge=1, le=64)


class ConcurrencySettings(Strict):
    lock_filename: str = ".github-security-agent.{profile_id}.lock"
    stale_lock_ttl_seconds: int = Field(default=7200, ge=60)

    @field_validator("lock_filename")
    @classmethod
    def _lock_filename(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in {"", ".", ".."} or "\x00" in value:
            raise ValueError("must be a plain file name (it is created in local_clone_root)")
        unknown = _placeholders(value) - {"profile_id"}
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; only {{profile_id}} is available"
            )
        return value


# (+) Where a change is verified (SPEC §15): `local` runs the target's verification_commands
# here, in the sandbox, before anything is pushed; `ci` runs none of them here: the base
# branch's required status checks on GitHub are the verification (a base without any never
# merges unattended).
VerificationMode = Literal["local", "ci"]


class VerificationSettings(Strict):
    # (+) the default of every target's `verification` (see VerificationMode)
    mode: VerificationMode = "local"
    default_timeout_seconds: int = Field(default=900, ge=1, le=86400)
    environment_allowlist: list[EnvName] = Field(default_factory=list)
    dotenv_path: AbsolutePath | None = None
    secret_redaction_patterns: list[Regex] = Field(default_factory=list)
    # (+) auto: bubblewrap when it can start here, else no repository code runs (units are
    # blocked verification_unavailable); bwrap: the same; none: the explicit opt-out.
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    # (+) host: verification commands share the host network, as updater tools do (`npm ci`,
    # `pip install`, `uv sync` reach their registries); none: no network inside the sandbox
    # (commands that need a registry then fail), for targets that verify offline.
    network: Literal["host", "none"] = "host"

    @field_validator("environment_allowlist")
    @classmethod
    def _no_token_names(cls, value: list[str]) -> list[str]:
        leaked = sorted(set(value) & TOKEN_ENV_NAMES)
        if leaked:
            raise ValueError(
                f"{leaked} carry the GitHub token, which never reaches verification commands; "
                "remove them from the allowlist"
            )
        return value


class BudgetSettings(Strict):
    max_new_prs: int = Field(default=50, ge=0)
    max_merges: int = Field(default=50, ge=0)
    min_rate_limit_remaining: int = Field(default=200, ge=0)


PINNED_REQUIREMENTS_KEY = "require_fully_pinned_requirements_txt_as_lockfile"


class EcosystemRule(Strict):
    allow_lockfile_only: bool = True
    forbid_manifest_changes: bool = True
    # pip only: a requirements.txt counts as a lockfile only when every requirement is
    # pinned with `==`; a change to any other is a manifest change. Always so in agentd.
    require_fully_pinned_requirements_txt_as_lockfile: Literal[True] = True


class AutoMergeSettings(Strict):
    require_review_gate: Literal[True] = True
    # Never merge a change nobody verified. A target in `verification: ci` meets it with the
    # base's required checks on GitHub, run on the pushed head (none required: no merge).
    require_local_verification: Literal[True] = True
    require_required_checks_per_branch_protection: Literal[True] = True
    merge_strategy: Literal["two_pass"] = "two_pass"
    ecosystem_rules: dict[ProfileEcosystem, EcosystemRule] = Field(default_factory=dict)
    unlisted_ecosystem_outcome: Literal["opened_pr", "blocked"] = "opened_pr"

    @field_validator("ecosystem_rules")
    @classmethod
    def _pinned_requirements_is_pip_only(
        cls, value: dict[str, EcosystemRule]
    ) -> dict[str, EcosystemRule]:
        elsewhere = sorted(
            name
            for name, rule in value.items()
            if name != "pip" and PINNED_REQUIREMENTS_KEY in rule.model_fields_set
        )
        if elsewhere:
            raise ValueError(
                f"{PINNED_REQUIREMENTS_KEY} is set for {elsewhere}, where it has no effect: "
                "only the pip rule updates requirements.txt files; remove it there"
            )
        return value


class CodeScanningSettings(Strict):
    allowlisted_rules: list[str] = Field(
        default_factory=lambda: ["actions/missing-workflow-permissions"]
    )
    auto_merge_rules: list[str] = Field(
        default_factory=lambda: ["actions/missing-workflow-permissions"]
    )
    unlisted_rule_outcome: Literal["skipped"] = "skipped"
    pr_title_template: TitleTemplate = "fix(code-scanning): remediate {rule_id} in {target_id}"
    pin_first_party_actions: bool = False


class SecretScanningSettings(Strict):
    prepare_cleanup_prs: bool = True
    auto_merge: Literal[False] = False
    allow_placeholder_replacements: bool = True
    # agentd's cleanup never writes ignore patterns: only false is honoured (see _FIXED).
    allow_ignore_patterns: Literal[False] = False
    pr_title_template: TitleTemplate = "fix(secret-scanning): remove {secret_type} from {target_id}"


class Defaults(Strict):
    automation_mode: AutomationMode = AutomationMode.ACTIVE
    mutation_mode: MutationMode | None = None
    default_base_branch: BranchName = "auto"
    branch_template: str = "security/{alert_class}/{target_id}/{remediation_key_short}"
    pr_title_template: TitleTemplate = "chore(deps): remediate {target_id} security alerts"
    pr_labels: list[str] = Field(default_factory=lambda: ["sec-agent"])
    merge_method: Literal["merge", "squash", "rebase"] = "squash"
    # (+) api: agentd merges through the REST merge API once every check is green;
    # github_auto_merge: while required checks are pending, agentd enables GitHub's native
    # auto-merge pinned to the head it verified, and GitHub merges when they turn green.
    merge_via: Literal["api", "github_auto_merge"] = "api"
    # (+) git: push agentd's commit; api: recreate it through the Git Data API, which GitHub
    # signs (for bases whose rules require verified signatures).
    commit_via: Literal["git", "api"] = "git"
    # (+) with commit_via git: an SSH private key (absolute path) agentd signs its commits
    # with (gpg.format=ssh); register its public key on the token's account.
    signing_key: AbsolutePath | None = None
    pr_metadata_fields: dict[str, str] | None = None
    outcome_statuses: list[str] | None = None
    reason_code_vocabulary: str | list[str] | None = None
    auto_merge: AutoMergeSettings = Field(default_factory=AutoMergeSettings)
    code_scanning: CodeScanningSettings = Field(default_factory=CodeScanningSettings)
    secret_scanning: SecretScanningSettings = Field(default_factory=SecretScanningSettings)
    native_dependabot_pr_strategy: Literal["adopt_first", "ignore"] = "adopt_first"
    native_dependabot_head_branch_prefix: str = "dependabot/"

    @field_validator("branch_template")
    @classmethod
    def _branch_template(cls, value: str) -> str:
        names = _placeholders(value)
        unknown = names - BRANCH_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; "
                f"available: {sorted(BRANCH_PLACEHOLDERS)}"
            )
        if "remediation_key_short" not in names:
            raise ValueError(
                "must contain {remediation_key_short}: it keeps one branch per remediation key"
            )
        return value

    @field_validator("pr_metadata_fields")
    @classmethod
    def _metadata_fields(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and value != {name: name for name in PR_METADATA_FIELDS}:
            raise ValueError(
                f"must map exactly the stamp fields {list(PR_METADATA_FIELDS)} to themselves "
                "(agentd's PR stamp format is fixed); remove the key or list them unchanged"
            )
        return value

    @field_validator("outcome_statuses")
    @classmethod
    def _outcomes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and sorted(value) != sorted(o.value for o in Outcome):
            raise ValueError(
                f"must list exactly the outcomes {[o.value for o in Outcome]}; remove the key "
                "or list them unchanged"
            )
        return value

    @field_validator("reason_code_vocabulary")
    @classmethod
    def _reasons(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            unknown = sorted(set(value) - {r.value for r in ReasonCode})
            if unknown:
                raise ValueError(f"reason codes {unknown} are not in agentd's closed vocabulary")
        return value


class Target(Strict):
    target_id: Identifier
    path: RepoRelativePath = "."
    alert_classes: list[AlertClass] = Field(default_factory=lambda: list(AlertClass))
    ecosystems: list[ProfileEcosystem] = Field(default_factory=list)
    verification_commands: list[str] = Field(default_factory=list)
    verification_workdir: RepoRelativePath = "."
    required_env_vars: list[EnvName] = Field(default_factory=list)
    supported_platforms: list[Platform] = Field(default_factory=_unix_platforms, min_length=1)
    verification_timeout_seconds: int | None = Field(default=None, ge=1, le=86400)
    platform_constraints: list[str] = Field(default_factory=list)
    # (+) local | ci; unset: profile.verification.mode
    verification: VerificationMode | None = None

    @field_validator("verification_commands")
    @classmethod
    def _commands_split(cls, value: list[str]) -> list[str]:
        for command in value:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise ValueError(f"cannot split {command!r} into arguments ({exc})") from None
            if not argv:
                raise ValueError("an empty verification command is not allowed")
        return value

    def argv(self) -> list[list[str]]:
        return [shlex.split(command) for command in self.verification_commands]


class Repository(Strict):
    repo: str
    local_path: AbsolutePath
    automation_mode: AutomationMode | None = None
    default_base_branch: BranchName | None = None
    targets: list[Target] = Field(default_factory=list)
    ignored_reason: str | None = None
    manual_only_reason: str | None = None

    @field_validator("repo")
    @classmethod
    def _repo_name(cls, value: str) -> str:
        if not REPO_NAME_PATTERN.match(value) or value in {".", ".."}:
            raise ValueError(
                f"{value!r} is not a repository name; give the name without the owner, e.g. 'api'"
            )
        return value


class Schedule(Strict):
    """(+) When `agentd daemon` runs the profile; `schedule: "CRON"` is short for `cron`."""

    cron: CronExpression
    timezone: TimeZoneName = "UTC"  # the zone the cron fields are read in
    jitter_seconds: int = Field(default=0, ge=0, le=86400)  # a random delay up to this


class ProfileSettings(Strict):
    profile_id: Identifier
    owner: str
    owner_type: Literal["org", "user"]
    supported_alert_classes: list[AlertClass] = Field(default_factory=lambda: list(AlertClass))
    schedule: Schedule | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)
    runtime: RuntimeSettings
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    store_url: str | None = None  # (+) agentd.store: postgresql://… for a fleet's shared store

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        # Never echo the value: a URL may carry a password.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"postgresql", "postgres"} or not parts.netloc:
            raise ValueError(
                "is not a postgresql:// URL (postgresql://USER@HOST:PORT/DATABASE); leave it "
                "out for the embedded SQLite store"
            )
        if parts.password is not None or "password=" in parts.query:
            raise ValueError(
                "holds a password; a profile holds no secrets: put it in PGPASSWORD or "
                "~/.pgpass (libpq reads them), or give the whole URL in AGENTD_STORE_URL"
            )
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_shorthand(cls, value: object) -> object:
        return {"cron": _cron(value)} if isinstance(value, str) else value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$", value):
            raise ValueError(f"{value!r} is not a GitHub user or organisation login")
        return value


class Profile(Strict):
    profile: ProfileSettings
    repositories: list[Repository] = Field(default_factory=list)

    # Convenience accessors used across the code base.
    @property
    def id(self) -> str:
        return self.profile.profile_id

    @property
    def settings(self) -> ProfileSettings:
        return self.profile

    def mutation_mode(self) -> MutationMode:
        # The loader guarantees a mode (explicit, or report_only for upstream profiles).
        return self.profile.defaults.mutation_mode or MutationMode.REPORT_ONLY

    def automation_mode(self, repo: Repository) -> AutomationMode:
        return repo.automation_mode or self.profile.defaults.automation_mode

    def verification_mode(self, target: Target) -> VerificationMode:
        """Where `target`'s changes are verified: its own setting, else the profile's."""
        return target.verification or self.profile.verification.mode

    def lock_path(self) -> Path:
        name = self.profile.concurrency.lock_filename.format(profile_id=self.id)
        return Path(self.profile.runtime.local_clone_root) / name

    def repository(self, name: str) -> Repository | None:
        return next((r for r in self.repositories if r.repo == name), None)


# --- loading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileIssue:
    path: PathKey
    message: str
    hint: str = ""
    line: int | None = None

    def render(self) -> str:
        where = format_path(self.path)
        if self.line is not None:
            where += f" (line {self.line})"
        text = f"{where}: {self.message}"
        return f"{text}\n      fix: {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, Any]:
        return {
            "path": format_path(self.path),
            "line": self.line,
            "message": self.message,
            "fix": self.hint,
        }


class ProfileContractError(ContractError):
    """An invalid profile, with each problem (`issues`) for machine-readable output."""

    def __init__(self, message: str, hint: str, issues: list[ProfileIssue]) -> None:
        super().__init__(message, hint)
        self.issues = issues


@dataclass
class LoadedProfile:
    profile: Profile
    source: Path
    warnings: list[ProfileIssue] = field(default_factory=list)


def load_profile(path: Path) -> LoadedProfile:
    """Read, parse and validate one profile file; raise ContractError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(
            f"profile file not found: {path}",
            "pass an existing profile file, or a profile id found in the profiles directory "
            "(AGENTD_PROFILES_DIR)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read profile {path}: {exc}", "check the file") from None
    return parse_profile(text, path)


def parse_profile(text: str, source: Path) -> LoadedProfile:
    try:
        document = load_located(text)
    except YamlSyntaxError as exc:
        issue = ProfileIssue((), str(exc), "fix the YAML syntax", exc.line)
        raise _contract_error(source, [issue]) from None
    if not isinstance(document.data, dict):
        issue = ProfileIssue(
            (), "the profile must be a YAML mapping with 'profile' and 'repositories'",
            "start from profiles/template/profile.yaml", 1,
        )  # fmt: skip
        raise _contract_error(source, [issue])
    secret_issues = list(_find_literal_secrets(document.data, ()))
    if secret_issues:
        raise _contract_error(source, _with_lines(secret_issues, document))
    try:
        profile = Profile.model_validate(document.data)
    except ValidationError as exc:
        raise _contract_error(source, _with_lines(_pydantic_issues(exc), document)) from None
    upstream_default = _resolve_mutation_mode(document)
    if upstream_default is not None:
        profile = _with_mutation_mode(profile, MutationMode.REPORT_ONLY)
    errors, warnings = _semantic_issues(profile)
    if upstream_default is not None:
        warnings.append(upstream_default)
    if errors:
        raise _contract_error(source, _with_lines(errors, document))
    return LoadedProfile(profile, source, _with_lines(warnings, document))


def _contract_error(source: Path, issues: list[ProfileIssue]) -> ContractError:
    count = len(issues)
    lines = [f"invalid profile {source} ({count} problem{'s' if count != 1 else ''}):"]
    lines += [f"  - {issue.render()}" for issue in issues]
    return ProfileContractError(
        "\n".join(lines),
        "correct the listed keys; profiles/template/profile.yaml documents every key",
        issues,
    )


def _with_lines(issues: Iterable[ProfileIssue], document: LocatedDocument) -> list[ProfileIssue]:
    return [
        ProfileIssue(i.path, i.message, i.hint, i.line or document.line_of(i.path)) for i in issues
    ]


def _find_literal_secrets(value: Any, path: PathKey) -> Iterable[ProfileIssue]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _find_literal_secrets(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _find_literal_secrets(item, (*path, index))
    elif isinstance(value, str) and any(p.search(value) for p in SECRET_VALUE_PATTERNS):
        # Never echo the value: it may be a live credential.
        yield ProfileIssue(
            path,
            "this value looks like a credential; profiles hold environment variable names, "
            "never secret values",
            "remove the secret (and rotate it), then list its variable name in "
            "verification.environment_allowlist or put it in the dotenv_path file",
        )


_PYDANTIC_HINTS = {
    "extra_forbidden": "remove it or fix its spelling "
    "(profiles/template/profile.yaml lists every key)",
    "missing": "add this key",
    "literal_error": "use one of the allowed values",
    "enum": "use one of the allowed values",
    "string_type": "write a string",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "list_type": "write a YAML list",
    "dict_type": "write a YAML mapping",
    "model_type": "write a YAML mapping",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "too_short": "add at least one item",
}


# Keys agentd accepts with one value only, and why another would have no effect.
_FIXED: dict[str, tuple[str, str]] = {
    "allow_ignore_patterns": (
        "agentd's secret cleanup replaces the secret with a placeholder or an "
        "environment-variable reference and never writes ignore patterns (they would hide "
        "the secret from scanning, not remove it), so true would have no effect",
        "set it to false or remove the key",
    ),
    PINNED_REQUIREMENTS_KEY: (
        "agentd always treats a requirements.txt as a lockfile only when every requirement "
        "in it is pinned with ==; a change to any other is a manifest change, so false "
        "would have no effect",
        "set it to true or remove the key",
    ),
}


def _pydantic_issues(exc: ValidationError) -> list[ProfileIssue]:
    issues = []
    for error in exc.errors(include_url=False, include_input=False):
        path = tuple(part for part in error["loc"] if isinstance(part, str | int))
        # pydantic reports the discriminated member of unions/literals in the loc; drop
        # its internal tags ("literal['a','b']", "function-after[...]") from the path.
        path = tuple(p for p in path if not (isinstance(p, str) and ("[" in p or "(" in p)))
        message = error["msg"].removeprefix("Value error, ")
        hint = _PYDANTIC_HINTS.get(error["type"], "")
        if error["type"] == "value_error":
            hint = ""
        if error["type"] == "literal_error" and path and str(path[-1]) in _FIXED:
            message, hint = _FIXED[str(path[-1])]
        elif error["type"] == "literal_error" and path and path[-1] == "auto_merge":
            message = "secret-scanning cleanup PRs are never merged"
            hint = "set secret_scanning.auto_merge: false (or remove the key)"
        elif error["type"] == "literal_error" and path and str(path[-1]).startswith("require_"):
            message = "agentd always applies this safeguard; it cannot be switched off"
            hint = "set it to true or remove the key"
        elif error["type"] == "extra_forbidden" and path:
            message, hint = _unknown_key(path)
        issues.append(ProfileIssue(path, message, hint))
    return _dedupe(issues)


def _unknown_key(path: PathKey) -> tuple[str, str]:
    """The message and fix for a key the schema does not know, with the likely key meant."""
    allowed = _keys_at(path[:-1])
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return (
            f"unknown key; did you mean {close[0]!r}?",
            f"rename it to {close[0]} (profiles/template/profile.yaml lists every key)",
        )
    listed = f"; keys allowed here: {', '.join(allowed)}" if allowed else ""
    return "unknown key", f"remove it or fix its spelling{listed}"


def _keys_at(path: PathKey) -> list[str]:
    """The field names of the profile model found at `path` (none if it is no model)."""
    annotation: Any = Profile
    for part in path:
        annotation = _inner(annotation, part)
        if annotation is None:
            return []
    model = _unwrap(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner(annotation: Any, part: str | int) -> Any:
    """The type one step down `annotation`: a model's field, a list's item, a mapping's value."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field_info = annotation.model_fields.get(str(part))
        return field_info.annotation if field_info is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` are X (a union of several types stays as it is)."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _dedupe(issues: list[ProfileIssue]) -> list[ProfileIssue]:
    seen: set[tuple[PathKey, str]] = set()
    unique = []
    for issue in issues:
        key = (issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique


def _resolve_mutation_mode(document: LocatedDocument) -> ProfileIssue | None:
    """Decide what a missing `defaults.mutation_mode` means.

    Native agentd profiles must state the mode: a missing one is a contract error (see
    `_semantic_issues`). Profiles written for the upstream template declare its vocabulary
    (`reason_code_vocabulary`); that template's fail-closed meaning of a missing mode is
    report-only, and agentd keeps it so those profiles load unchanged.
    """
    defaults = document.data.get("profile", {}).get("defaults", {})
    if not isinstance(defaults, dict) or "mutation_mode" in defaults:
        return None
    if "reason_code_vocabulary" not in defaults:
        return None
    return ProfileIssue(
        ("profile", "defaults"),
        "mutation_mode is not set; as in the upstream template this profile follows, agentd "
        "treats it as report_only and will only read and report",
        "add 'mutation_mode: report_only' (or pull_request / auto_merge) to make it explicit",
    )


def _with_mutation_mode(profile: Profile, mode: MutationMode) -> Profile:
    defaults = profile.profile.defaults.model_copy(update={"mutation_mode": mode})
    settings = profile.profile.model_copy(update={"defaults": defaults})
    return profile.model_copy(update={"profile": settings})


# Install-only or no-op commands: on their own they prove nothing about a change.
_NON_VERIFYING = (
    ("npm", "ci"), ("npm", "install"), ("npm", "i"), ("pnpm", "install"), ("pnpm", "i"),
    ("yarn",), ("yarn", "install"), ("pip", "install"), ("pip3", "install"),
    ("python", "-m", "pip", "install"), ("python3", "-m", "pip", "install"),
    ("uv", "sync"), ("uv", "pip", "install"), ("poetry", "install"), ("cargo", "fetch"),
    ("go", "mod", "download"), ("bundle", "install"), ("composer", "install"),
    ("true",), (":",), ("echo",), ("exit",),
)  # fmt: skip


def is_weak_command(argv: list[str]) -> bool:
    """True when a command only installs dependencies or does nothing at all."""
    for prefix in _NON_VERIFYING:
        if tuple(argv[: len(prefix)]) == prefix and (
            len(prefix) > 1 or prefix[0] in {"yarn", "true", ":", "echo", "exit"}
        ):
            if prefix == ("yarn",) and len(argv) > 1 and argv[1] != "install":
                continue
            return True
    return False


def _semantic_issues(profile: Profile) -> tuple[list[ProfileIssue], list[ProfileIssue]]:
    errors: list[ProfileIssue] = []
    warnings: list[ProfileIssue] = []
    settings = profile.profile
    if settings.defaults.mutation_mode is None:
        errors.append(
            ProfileIssue(
                ("profile", "defaults", "mutation_mode"),
                "mutation_mode is missing; agentd will not guess how much it may change",
                "add 'mutation_mode: report_only' (read and report only), 'pull_request' "
                "or 'auto_merge'",
            )
        )
    errors += _api_url_issues(settings.auth)
    clone_root = Path(settings.runtime.local_clone_root)
    if not clone_root.is_dir():
        warnings.append(
            ProfileIssue(
                ("profile", "runtime", "local_clone_root"),
                f"{clone_root} {'is not a directory' if clone_root.exists() else 'does not exist'}"
                " on this machine: run and discover will refuse this profile (exit 78) here",
                "correct the path, or create it and clone the repositories under it",
            )
        )
    seen_repos: dict[str, int] = {}
    for index, repo in enumerate(profile.repositories):
        where: PathKey = ("repositories", index)
        if repo.repo in seen_repos:
            errors.append(
                ProfileIssue(
                    (*where, "repo"),
                    f"repository {repo.repo!r} is listed twice "
                    f"(also repositories[{seen_repos[repo.repo]}])",
                    "keep one entry per repository; use several targets for several sub-paths",
                )
            )
        seen_repos.setdefault(repo.repo, index)
        errors += _repository_issues(profile, repo, where)
        warnings += _unused_commands(profile, repo, where)
        local = Path(repo.local_path)
        if local == clone_root or not local.is_relative_to(clone_root):
            warnings.append(
                ProfileIssue(
                    (*where, "local_path"),
                    f"{repo.local_path} is not under local_clone_root {clone_root}",
                    "move the clone under the clone root, or ignore this warning",
                )
            )
    return errors, warnings


def default_api_url(github_host: str) -> str:
    """The REST API base of `github_host` (facts §9): github.com → https://api.github.com,
    GHE.com data residency SUB.ghe.com → https://api.SUB.ghe.com, GHES HOST → https://HOST/api/v3."""
    host = github_host.lower()
    if host == "github.com":
        return "https://api.github.com"
    if host.endswith(".ghe.com"):
        return f"https://api.{host}"
    return f"https://{host}/api/v3"


def _api_url_issues(auth: AuthSettings) -> list[ProfileIssue]:
    """`auth.api_url` must be the API of `auth.github_host`: the token gh holds for that host
    is never sent to another one (`AGENTD_API_URL`, for tests and the simulator, is not a
    profile key and stays allowed)."""
    if not auth.api_url:
        return []
    expected = default_api_url(auth.github_host)
    want, got = urlsplit(expected).hostname, urlsplit(auth.api_url).hostname
    if got == want:
        return []
    return [
        ProfileIssue(
            ("profile", "auth", "api_url"),
            f"{auth.api_url} is on host {got}, but the API of auth.github_host "
            f"{auth.github_host} is on {want}: agentd never sends a {auth.github_host} "
            "token to another host",
            f"remove auth.api_url (the default is {expected}), or set auth.github_host to "
            "the host this API belongs to",
        )
    ]


def _repository_issues(profile: Profile, repo: Repository, where: PathKey) -> list[ProfileIssue]:
    errors: list[ProfileIssue] = []
    mode = profile.automation_mode(repo)
    if mode is AutomationMode.IGNORED and not (repo.ignored_reason or "").strip():
        errors.append(
            ProfileIssue(
                (*where, "ignored_reason"),
                "an ignored repository needs ignored_reason",
                "say why it is excluded, e.g. 'archived, no longer deployed'",
            )
        )
    if mode is AutomationMode.ACTIVE and not repo.targets:
        errors.append(
            ProfileIssue(
                (*where, "targets"),
                "an active repository needs at least one target",
                "add a target (target_id, path, ecosystems, verification_commands) or set "
                "automation_mode: manual_only",
            )
        )
    seen_targets: dict[str, int] = {}
    supported = set(profile.profile.supported_alert_classes)
    for t_index, target in enumerate(repo.targets):
        t_where: PathKey = (*where, "targets", t_index)
        if target.target_id in seen_targets:
            errors.append(
                ProfileIssue(
                    (*t_where, "target_id"),
                    f"target_id {target.target_id!r} is used twice in repository {repo.repo!r}",
                    "give every target in a repository its own id",
                )
            )
        seen_targets.setdefault(target.target_id, t_index)
        unsupported = [c.value for c in target.alert_classes if c not in supported]
        if unsupported:
            errors.append(
                ProfileIssue(
                    (*t_where, "alert_classes"),
                    f"{unsupported} are not in profile.supported_alert_classes",
                    "add them there or remove them from the target",
                )
            )
        ci = profile.verification_mode(target) == "ci"
        if mode is AutomationMode.ACTIVE and target.alert_classes and not ci:
            errors += _verification_issues(target, t_where)
        errors += _path_escape_issues(repo, target, t_where)
    return errors


def _verification_issues(target: Target, where: PathKey) -> list[ProfileIssue]:
    argvs = target.argv()
    if argvs and not all(is_weak_command(argv) for argv in argvs):
        return []
    shown = ", ".join(repr(c) for c in target.verification_commands) or "none"
    return [
        ProfileIssue(
            (*where, "verification_commands"),
            f"no real verification command (have: {shown}); installing dependencies alone "
            "does not verify a change",
            "add the target's test or build command, e.g. 'npm test' or 'python -m pytest -q'",
        )
    ]


def _unused_commands(profile: Profile, repo: Repository, where: PathKey) -> list[ProfileIssue]:
    """A target verified on GitHub (`verification: ci`) whose commands agentd never runs."""
    return [
        ProfileIssue(
            (*where, "targets", index, "verification_commands"),
            f"target {target.target_id} is verified by the base branch's required checks on "
            "GitHub (verification: ci), so agentd does not run these commands on this host",
            "remove them, or set 'verification: local' on the target to run them here first",
        )
        for index, target in enumerate(repo.targets)
        if target.verification_commands and profile.verification_mode(target) == "ci"
    ]


def _path_escape_issues(repo: Repository, target: Target, where: PathKey) -> list[ProfileIssue]:
    """Paths must stay inside the repository after symlinks resolve (checked when cloned)."""
    root = Path(repo.local_path)
    if not root.is_dir():
        return []
    issues = []
    for key in ("path", "verification_workdir"):
        value: str = getattr(target, key)
        try:
            confine(root, value)
        except PathEscapeError as exc:
            issues.append(
                ProfileIssue(
                    (*where, key),
                    f"{exc.message} (a symlink escapes the repository {root.resolve()})",
                    "point it at a directory inside the repository",
                )
            )
    return issues


def ecosystem_family(ecosystem: str) -> str:
    """GitHub alert ecosystem for a profile ecosystem name (`uv` → `pip`)."""
    return PROFILE_ECOSYSTEMS.get(ecosystem, ecosystem)
