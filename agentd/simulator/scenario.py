"""The simulator's scenario format: an owner, its repositories, and how GitHub behaves.

See docs/simulator.md for a commented example. Validation is strict (unknown keys are
errors) so a typo in a test scenario fails loudly instead of silently changing behaviour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Owner(Strict):
    login: str
    type: Literal["org", "user"] = "org"


class Viewer(Strict):
    login: str = "agentd-bot"
    id: int = 1001
    # The organisation's security manager role: secret-scanning alerts are readable by a
    # repository admin or a security manager only (false + permissions.admin false → 404).
    security_manager: bool = True


CLASSIC_SCOPES = ["repo", "security_events", "workflow"]


class Auth(Strict):
    tokens: list[str] | None = None  # None: any ghp_/github_pat_ token is accepted
    fine_grained: bool = False
    # The fine-grained tokens' repository permissions ({contents: write, ...}; write includes
    # read); None: all of them. See agentd.simulator.permissions.
    permissions: dict[str, Literal["read", "write"]] | None = None
    # A classic token's OAuth scopes (`X-OAuth-Scopes`; pushes that touch
    # .github/workflows/ need `workflow`): every classic token's, and per token.
    scopes: list[str] = Field(default_factory=lambda: list(CLASSIC_SCOPES))
    token_scopes: dict[str, list[str]] = Field(default_factory=dict)

    def accepts(self, token: str) -> bool:
        """Whether GitHub takes `token`: one listed, or (no list) any PAT-shaped one."""
        if self.tokens is not None:
            return token in self.tokens
        return token.startswith(("ghp_", "github_pat_"))

    def scopes_of(self, token: str) -> list[str] | None:
        """The classic token's scopes; None for a fine-grained token (it has none)."""
        if self.fine_grained or token.startswith("github_pat_"):
            return None
        return list(self.token_scopes.get(token, self.scopes))


class RateLimit(Strict):
    limit: int = 5000
    used: int = 0


class Features(Strict):
    dependabot_alerts: Literal["enabled", "disabled"] = "enabled"
    code_scanning: Literal["enabled", "disabled", "no_analysis"] = "enabled"
    secret_scanning: Literal["enabled", "disabled"] = "enabled"
    # Secret scanning's push protection: a push introducing a new secret is refused (GH009).
    push_protection: Literal["enabled", "disabled"] = "disabled"


class Permissions(Strict):
    admin: bool = False
    maintain: bool = False
    push: bool = True
    triage: bool = True
    pull: bool = True


class Check(Strict):
    name: str
    outcome: Literal["success", "failure", "pending", "pending_then_success"] = "success"
    polls: int = 1  # for pending_then_success: reads of a sha's checks before it succeeds
    kind: Literal["check_run", "status"] = "check_run"


class CI(Strict):
    """The repository's own CI (a workflow on pull_request; see agentd.simulator.ci): check
    runs named `checks` for every PR head, finished `after_ms` after the push."""

    checks: list[str] = Field(min_length=1)
    conclusion: Literal["success", "failure"] = "success"
    after_ms: int = Field(default=0, ge=0)


class RequiredReviews(Strict):
    """Classic protection's required_pull_request_reviews."""

    count: int = Field(default=1, ge=0, le=6)  # required_approving_review_count
    code_owners: bool = False  # require_code_owner_reviews (owners from CODEOWNERS)
    last_push_approval: bool = False  # require_last_push_approval
    dismiss_stale: bool = False  # dismiss_stale_reviews


class Protection(Strict):
    """Classic branch protection of the default branch. Reading it needs admin
    (`permissions.admin`): others get GitHub's 404 "Not Found" and only the branch's
    protection summary (its required status checks)."""

    required_checks: list[str] = Field(default_factory=list)
    # false: nothing of it is readable by this token, not even the summary's checks
    # (the endpoint answers 403 "Resource not accessible by personal access token").
    readable: bool = True
    required_reviews: RequiredReviews | None = None
    enforce_admins: bool = False  # false: an admin token bypasses all of it, as on GitHub
    required_linear_history: bool = False
    required_signatures: bool = False


class PullRequestRule(Strict):
    required_approving_review_count: int = Field(default=1, ge=0, le=10)
    require_code_owner_review: bool = False
    require_last_push_approval: bool = False
    dismiss_stale_reviews_on_push: bool = False
    required_review_thread_resolution: bool = False
    allowed_merge_methods: list[Literal["merge", "squash", "rebase"]] | None = None


class MergeQueueRule(Strict):
    merge_method: Literal["MERGE", "SQUASH", "REBASE"] = "MERGE"
    grouping_strategy: Literal["ALLGREEN", "HEADGREEN"] = "ALLGREEN"


class BranchNamePattern(Strict):
    """A ruleset's `branch_name_pattern` rule (pushes creating or updating a branch)."""

    operator: Literal["starts_with", "ends_with", "contains", "regex"] = "starts_with"
    pattern: str
    negate: bool = False
    name: str = ""


class Ruleset(Strict):
    name: str = "default"
    # The branches it targets (conditions.ref_name): ~DEFAULT_BRANCH, ~ALL or refs/heads/<fnmatch>.
    include: list[str] = Field(default_factory=lambda: ["~DEFAULT_BRANCH"])
    exclude: list[str] = Field(default_factory=list)
    required_checks: list[str] = Field(default_factory=list)
    enforcement: Literal["active", "evaluate", "disabled"] = "active"
    pull_request: PullRequestRule | None = None
    merge_queue: MergeQueueRule | None = None
    required_signatures: bool = False
    required_linear_history: bool = False
    workflows: list[str] = Field(default_factory=list)  # required workflow files (listed only)
    code_scanning_tools: list[str] = Field(default_factory=list)  # listed only
    branch_name_pattern: BranchNamePattern | None = None
    bypass: bool = False  # the token's account is on the ruleset's bypass list


class Commit(Strict):
    message: str = "update"
    files: dict[str, str] = Field(default_factory=dict)
    delete: list[str] = Field(default_factory=list)


class Branch(Strict):
    files: dict[str, str] = Field(default_factory=dict)
    from_dir: str | None = None


# Dependabot's language label per package-manager segment of its branch names.
LANGUAGE_LABELS = {
    "pip": "python",
    "npm_and_yarn": "javascript",
    "bundler": "ruby",
    "go_modules": "go",
    "cargo": "rust",
    "composer": "php",
    "github_actions": "github_actions",
}


class DependabotPR(Strict):
    branch: str  # e.g. dependabot/pip/requests-2.32.4
    title: str
    body: str = ""
    files: dict[str, str]
    labels: list[str] | None = None  # None: what Dependabot puts on a security update

    def effective_labels(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        segments = self.branch.split("/")
        language = LANGUAGE_LABELS.get(segments[1]) if len(segments) > 2 else None
        return ["dependencies", *([language] if language else []), "security"]


class SecretSettings(Strict):
    validity: Literal["active", "inactive", "unknown"] = "unknown"
    resolution: Literal["false_positive", "wont_fix", "revoked", "used_in_tests"] | None = None


MergeMethod = Literal["merge", "squash", "rebase"]


def _all_merge_methods() -> list[MergeMethod]:
    return ["merge", "squash", "rebase"]


class Repository(Strict):
    name: str
    default_branch: str = "main"
    # Detailed PR reads that answer `mergeable: null` while GitHub computes it (per PR).
    mergeable_unknown_reads: int = 0
    private: bool = True
    archived: bool = False
    permissions: Permissions = Field(default_factory=Permissions)
    features: Features = Field(default_factory=Features)
    code_scanning_disabled_message: str = "Code scanning is not enabled for this repository."
    files: dict[str, str] = Field(default_factory=dict)
    from_dir: str | None = None
    history: list[Commit] = Field(default_factory=list)
    branches: dict[str, Branch] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)
    ci: CI | None = None
    protection: Protection | None = None
    rulesets: list[Ruleset] = Field(default_factory=list)
    delete_branch_on_merge: bool = False
    allowed_merge_methods: list[MergeMethod] = Field(default_factory=_all_merge_methods)
    allow_auto_merge: bool = False  # the repository setting "Allow auto-merge" (off by default)
    # Open issues (not modelled beyond their count): part of `open_issues_count`, with open PRs.
    open_issues: int = Field(default=0, ge=0)
    verified_commits: bool = False  # every commit counts as signed by a registered key
    secrets: dict[str, SecretSettings] = Field(default_factory=dict)
    dependabot_prs: list[DependabotPR] = Field(default_factory=list)


class ActionTag(Strict):
    annotated: bool = True


class ActionRepository(Strict):
    repo: str  # owner/name
    tags: dict[str, ActionTag] = Field(default_factory=dict)


Enablement = Literal["enabled", "disabled", "not_set"]
AttachmentStatus = Literal[
    "attached", "attaching", "detached", "removed", "enforced", "failed", "updating",
    "removed_by_enterprise",
]  # fmt: skip
# The statuses under which a configuration's settings are in force on a repository.
APPLIED = frozenset({"attached", "enforced"})
FIRST_CONFIGURATION_ID = 17


class CodeSecurityConfiguration(Strict):
    """One of the organisation's code security configurations and the repositories it is
    attached to (name → attachment status). Attached or enforced with
    `code_scanning_default_setup: enabled`, a repository's code scanning is on, with an
    analysis, whatever its own `features.code_scanning` says: default setup ran there."""

    id: int | None = None  # None: numbered in order from FIRST_CONFIGURATION_ID
    name: str
    target_type: Literal["global", "organization", "enterprise"] = "organization"
    description: str | None = None
    code_scanning_default_setup: Enablement = "enabled"
    enforcement: Literal["enforced", "unenforced"] = "unenforced"
    repositories: dict[str, AttachmentStatus] = Field(default_factory=dict)

    def applies_default_setup(self, repo: str) -> bool:
        return (
            self.code_scanning_default_setup == "enabled" and self.repositories.get(repo) in APPLIED
        )


class Scenario(Strict):
    owner: Owner
    viewer: Viewer = Field(default_factory=Viewer)
    auth: Auth = Field(default_factory=Auth)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    advisory_dir: str | None = None
    extra_advisory_dirs: list[str] = Field(default_factory=list)
    repositories: list[Repository] = Field(default_factory=list)
    action_repositories: list[ActionRepository] = Field(default_factory=list)
    code_security_configurations: list[CodeSecurityConfiguration] = Field(default_factory=list)

    @model_validator(mode="after")
    def _apply_configurations(self) -> Scenario:
        """Number the configurations, check what they attach to, and turn code scanning on
        where one applies default setup (a repository has at most one configuration)."""
        names = {repo.name for repo in self.repositories}
        attached_to: dict[str, str] = {}
        for index, configuration in enumerate(self.code_security_configurations):
            if configuration.id is None:
                configuration.id = FIRST_CONFIGURATION_ID + index
            for repo in configuration.repositories:
                if repo not in names:
                    raise ValueError(
                        f"configuration {configuration.name!r}: no repository {repo!r}"
                    )
                if repo in attached_to:
                    raise ValueError(
                        f"repository {repo!r} is attached to both {attached_to[repo]!r} and "
                        f"{configuration.name!r}: GitHub attaches one configuration at most"
                    )
                attached_to[repo] = configuration.name
        for repository in self.repositories:
            configurations = self.code_security_configurations
            if any(c.applies_default_setup(repository.name) for c in configurations):
                repository.features.code_scanning = "enabled"
        return self


class ScenarioError(ValueError):
    pass


def load_scenario(source: Path | dict[str, Any]) -> tuple[Scenario, Path | None]:
    """The scenario and the directory relative paths in it are resolved against."""
    base: Path | None = None
    if isinstance(source, Path):
        base = source.parent
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(f"cannot read scenario {source}: {exc}") from None
    else:
        data = source
    try:
        return Scenario.model_validate(data), base
    except ValidationError as exc:
        raise ScenarioError(f"invalid scenario: {exc}") from None
