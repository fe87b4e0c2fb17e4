"""Typed views of the GitHub resources agentd reads (only the fields it uses).

Unknown fields are ignored; missing optional fields get safe defaults. A secret-scanning
alert's `secret` is registered with the redactor, for the run, the moment the model is built.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentd.redaction import REDACTOR


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_FIELDS_SETS: dict[frozenset[str], frozenset[str]] = {}


class Alert(Model):
    """An alert of a listing: at 100,000 alerts per inventory, each alert's own record of
    which fields its JSON carried (a 700-byte set) was half of its memory. Alerts of one
    shape share one frozen record instead; nothing copies an alert with `model_copy`."""

    def model_post_init(self, context: Any, /) -> None:
        fields = frozenset(self.__pydantic_fields_set__)
        object.__setattr__(self, "__pydantic_fields_set__", _FIELDS_SETS.setdefault(fields, fields))


class Account(Model):
    login: str
    id: int = 0
    type: str = "User"


class Permissions(Model):
    admin: bool = False
    maintain: bool = False
    push: bool = False
    triage: bool = False
    pull: bool = False


class FeatureStatus(Model):
    status: str = "disabled"


class SecurityAndAnalysis(Model):
    advanced_security: FeatureStatus | None = None
    code_security: FeatureStatus | None = None
    secret_scanning: FeatureStatus | None = None
    secret_scanning_push_protection: FeatureStatus | None = None
    dependabot_security_updates: FeatureStatus | None = None


class Repository(Model):
    id: int
    name: str
    full_name: str
    owner: Account
    default_branch: str = "main"
    archived: bool = False
    private: bool = False
    html_url: str = ""
    permissions: Permissions | None = None
    security_and_analysis: SecurityAndAnalysis | None = None
    # Open issues and pull requests together (GitHub counts both); 0 means no open PR.
    open_issues_count: int | None = None
    # The repository's merge settings (None when GitHub does not show them to this token).
    allow_merge_commit: bool | None = None
    allow_squash_merge: bool | None = None
    allow_rebase_merge: bool | None = None
    allow_auto_merge: bool | None = None

    def merge_methods(self) -> set[str] | None:
        """The merge methods the repository allows, or None when they are not shown."""
        flags = {
            "merge": self.allow_merge_commit,
            "squash": self.allow_squash_merge,
            "rebase": self.allow_rebase_merge,
        }
        if any(flag is None for flag in flags.values()):
            return None
        return {method for method, allowed in flags.items() if allowed}


class RepositoryRef(Model):
    name: str
    full_name: str = ""


class CodeSecurityConfiguration(Model):
    """An organisation's code security configuration (only what coverage needs)."""

    id: int
    name: str
    target_type: str = "organization"
    code_scanning_default_setup: str | None = None  # enabled | disabled | not_set


class ConfigurationRepository(Model):
    """A repository a configuration is associated with, and its attachment status."""

    status: str
    repository: RepositoryRef


class Package(Model):
    ecosystem: str
    name: str


class PatchedVersion(Model):
    identifier: str


class Vulnerability(Model):
    package: Package
    severity: str = "unknown"
    vulnerable_version_range: str
    first_patched_version: PatchedVersion | None = None


class SecurityAdvisory(Model):
    ghsa_id: str
    cve_id: str | None = None
    summary: str = ""
    severity: str = "unknown"
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    withdrawn_at: str | None = None

    @property
    def html_url(self) -> str:
        return f"https://github.com/advisories/{self.ghsa_id}"


class Dependency(Model):
    package: Package
    manifest_path: str
    scope: str | None = None
    relationship: str | None = None


class DependabotAlert(Alert):
    number: int
    state: str
    dependency: Dependency
    security_advisory: SecurityAdvisory
    security_vulnerability: Vulnerability
    html_url: str = ""
    dismissed_reason: str | None = None
    fixed_at: str | None = None
    repository: RepositoryRef | None = None


class CodeScanningRule(Model):
    id: str | None = None
    name: str | None = None
    severity: str | None = None
    security_severity_level: str | None = None
    description: str = ""


class Message(Model):
    text: str = ""


class Location(Model):
    path: str = ""
    start_line: int | None = None
    end_line: int | None = None
    start_column: int | None = None
    end_column: int | None = None


class Instance(Model):
    ref: str = ""
    commit_sha: str = ""
    message: Message | None = None
    location: Location | None = None


class Tool(Model):
    name: str | None = None


class CodeScanningAlert(Alert):
    number: int
    state: str | None = None
    rule: CodeScanningRule
    tool: Tool | None = None
    most_recent_instance: Instance | None = None
    html_url: str = ""
    repository: RepositoryRef | None = None


class SecretScanningAlert(Alert):
    number: int
    state: str | None = None
    secret_type: str | None = None
    secret_type_display_name: str | None = None
    secret: str | None = Field(default=None, repr=False)
    resolution: str | None = None
    validity: str | None = None
    html_url: str = ""
    repository: RepositoryRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _register_secret(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("secret"), str):
            REDACTOR.register_for_run(data["secret"])  # dropped when the run ends
        return data


class SecretLocation(Model):
    type: str
    details: dict[str, Any] = Field(default_factory=dict)


class Label(Model):
    name: str


class BranchRef(Model):
    ref: str
    sha: str
    label: str = ""
    repo: RepositoryRef | None = None


class AutoMerge(Model):
    merge_method: str = ""
    enabled_by: Account | None = None


class PullRequest(Model):
    number: int
    state: str
    node_id: str = ""
    title: str = ""
    body: str | None = None
    user: Account | None = None
    head: BranchRef
    base: BranchRef
    html_url: str = ""
    draft: bool = False
    merged: bool = False
    mergeable: bool | None = None
    mergeable_state: str | None = None
    merge_commit_sha: str | None = None
    labels: list[Label] = Field(default_factory=list)
    auto_merge: AutoMerge | None = None
    commits: int | None = None  # in a single PR's answer (create, update, read), not in lists


class Review(Model):
    """One review of a pull request (`GET /pulls/{n}/reviews`, in chronological order)."""

    id: int
    user: Account | None = None
    state: str
    commit_id: str | None = None


class Verification(Model):
    verified: bool = False
    reason: str = ""


class CommitDetail(Model):
    verification: Verification | None = None


class PullCommit(Model):
    """One commit of a pull request (`GET /pulls/{n}/commits`)."""

    sha: str
    commit: CommitDetail

    @property
    def verified(self) -> bool:
        return self.commit.verification is not None and self.commit.verification.verified


class PullFile(Model):
    filename: str
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None


class Comment(Model):
    id: int
    body: str = ""
    user: Account | None = None


class CommitRef(Model):
    sha: str


class Branch(Model):
    name: str
    commit: CommitRef
    protected: bool = False
    protection: dict[str, Any] | None = None

    def summary_checks(self) -> set[str] | None:
        """The required checks of the branch's protection summary (readable with
        contents:read), or None when the summary does not show them."""
        summary = self.protection.get("required_status_checks") if self.protection else None
        if not isinstance(summary, dict):
            return None
        try:
            return RequiredStatusChecks.model_validate(summary).names()
        except ValueError:
            return None

    def classic_protection(self) -> bool:
        """Whether classic branch protection may apply (the summary says so, or is silent
        on a protected branch: fail closed)."""
        if not self.protected:
            return False
        enabled = self.protection.get("enabled") if self.protection else None
        return enabled is not False


class StatusCheck(Model):
    context: str


class RequiredStatusChecks(Model):
    contexts: list[str] = Field(default_factory=list)
    checks: list[StatusCheck] = Field(default_factory=list)

    def names(self) -> set[str]:
        return set(self.contexts) | {check.context for check in self.checks}


class Enabled(Model):
    enabled: bool = False


class RequiredReviews(Model):
    required_approving_review_count: int = 0
    require_code_owner_reviews: bool = False
    require_last_push_approval: bool = False
    dismiss_stale_reviews: bool = False


class BranchProtection(Model):
    required_status_checks: RequiredStatusChecks | None = None
    required_pull_request_reviews: RequiredReviews | None = None
    enforce_admins: Enabled | None = None
    required_linear_history: Enabled | None = None
    required_signatures: Enabled | None = None


class BranchRule(Model):
    type: str
    parameters: dict[str, Any] | None = None
    ruleset_id: int | None = None

    def param(self, name: str, default: Any = None) -> Any:
        return (self.parameters or {}).get(name, default)

    def required_checks(self) -> set[str]:
        if self.type != "required_status_checks" or not self.parameters:
            return set()
        checks = self.parameters.get("required_status_checks") or []
        return {str(c["context"]) for c in checks if isinstance(c, dict) and "context" in c}


class CheckRun(Model):
    name: str
    status: str
    conclusion: str | None = None
    head_sha: str = ""


class CommitStatus(Model):
    context: str
    state: str


class CombinedStatus(Model):
    state: str
    sha: str = ""
    total_count: int = 0
    statuses: list[CommitStatus] = Field(default_factory=list)


class GitObject(Model):
    type: str
    sha: str


class GitRef(Model):
    ref: str
    object: GitObject


class GitTag(Model):
    tag: str = ""
    sha: str = ""
    object: GitObject
