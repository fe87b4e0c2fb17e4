"""What one ecosystem plug-in provides: its `Ecosystem` record and its updater (SPEC §7).

Like dependabot-core's split of file parsing, update checking and file updating, an updater
only *applies* a plan the engine made (which packages, to which versions) to the files of
one target inside a unit's worktree, driving the ecosystem's own tool where there is one,
and reports what changed. Version selection, alert grouping and the post-update safety
check live in the engine, shared by every ecosystem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from agentd.ecosystems._shared.model import Dependency
from agentd.paths import confine
from agentd.verify import Sandbox
from agentd.vocabulary import ReasonCode

VersionScheme = Literal["pep440", "semver"]  # implemented in agentd.versions
Parser = Callable[[str, bytes], list[Dependency]]  # (repo-relative path, content)
# Package name → the names of the packages it depends on (every copy of a package merged),
# as a lockfile records them; None when this file records no graph (a plain requirements
# file). Names are as written; the reader's caller normalizes them.
Graph = Mapping[str, frozenset[str]]
GraphReader = Callable[[str, bytes], Graph | None]  # (repo-relative path, content)


@dataclass(frozen=True)
class PackageBump:
    """One vulnerable package in one dependency file, and the version it must reach."""

    name: str
    manifest_path: str  # repo-relative path GitHub reported (e.g. "ui/package-lock.json")
    current_version: str
    target_version: str
    advisory_ids: tuple[str, ...]
    relationship: str = "unknown"  # direct | transitive | unknown
    # False: the advisories offer no patch in this copy's own major line (`target_version`
    # is in another line). Such a copy is never forced across the line: only an in-range
    # update of a dependent that removes it fixes it, else it is `no_patch_available`.
    in_line: bool = True


@dataclass(frozen=True)
class UnfixedBump:
    """A bump the updater could not reach; the rest of its change stands."""

    bump: PackageBump
    reason: ReasonCode
    detail: str


@dataclass(frozen=True)
class UpdateContext:
    worktree: Path  # repository root inside the unit's worktree
    target_path: str  # the target's repo-relative sub-path
    env: dict[str, str]  # scrubbed environment: PATH, private HOME, allowlisted values
    home: Path
    timeout_seconds: float
    # Where the tool runs: the verification sandbox (network shared for registries). None
    # means nobody decided, and no tool runs; `Sandbox("none")` is the explicit opt-out.
    sandbox: Sandbox | None = None
    # False: the ecosystem rules forbid manifest changes, so the updater never keeps one; a
    # bump that needs one is reported in `UpdateResult.unfixed` (manifest_change_required).
    manifest_changes: bool = True

    def file(self, repo_relative: str) -> Path:
        """Absolute path of a repo-relative file, refusing anything outside the worktree."""
        return confine(self.worktree, repo_relative)

    @property
    def sandboxed(self) -> bool:
        """Whether tools run inside the sandbox (bwrap, or auto: bwrap or nothing)."""
        return self.sandbox is not None and self.sandbox.kind != "none"


@dataclass
class UpdateResult:
    changed_files: list[str] = field(default_factory=list)  # repo-relative
    manifest_files: list[str] = field(default_factory=list)  # the changed files that are manifests
    notes: list[str] = field(default_factory=list)  # one line per change, for the PR body
    blocked: ReasonCode | None = None
    blocked_detail: str = ""
    tool_output: str = ""  # redacted tail of the tool's output
    # Bumps left out of the change, each with its reason; the others are in the change.
    unfixed: list[UnfixedBump] = field(default_factory=list)
    # Names of the packages the updater moved on purpose besides the bumped ones: the
    # dependents it updated in range so that a vulnerable copy goes (`npm update express`
    # for cookie). The churn check allows these, and what they depend on, to change; any
    # other package whose versions change blocks the unit, so an updater that moves a
    # parent must name it here.
    moved: list[str] = field(default_factory=list)

    @property
    def manifest_changed(self) -> bool:
        return bool(self.manifest_files)

    @classmethod
    def refuse(cls, reason: ReasonCode, detail: str, output: str = "") -> UpdateResult:
        return cls(blocked=reason, blocked_detail=detail, tool_output=output)


class Updater(Protocol):
    """One ecosystem's updater; its `Ecosystem` record says which files and alerts it takes."""

    name: str  # the profile ecosystem name (`pip`, `uv`, `npm`, ...), as in its record

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        """Edit the worktree so every bump it can reach is reached (a bump's target is the
        smallest fixed version: an in-range update may land above it). A bump it cannot
        reach goes to `unfixed` with its reason and the rest of the change stands; refuse
        (`blocked`) only when the files cannot be updated at all."""
        ...


@dataclass(frozen=True)
class Ecosystem:
    """Everything agentd knows about one profile ecosystem; each sub-package exports one."""

    name: str  # the profile's ecosystem name ("go"), also its updater's name
    alert_ecosystem: str  # GitHub's advisory ecosystem: "pip" | "npm" | "rust" | "go"
    version_scheme: VersionScheme
    dependabot_branch_slug: str  # package-manager segment of Dependabot's head branches
    dependency_files: tuple[str, ...]  # file-name patterns `parse` reads ("requirements*.txt")
    manifests: tuple[str, ...]  # manifest file names; a parsed one (go.mod) is no lockfile
    parse: Parser  # raw: the registry's `parse_dependency_file` adds the safety net
    updater: Updater
    # Whether the updater removes a vulnerable copy by an in-range update of its dependents
    # (so a copy with no patch in its own line may still go); otherwise such copies are
    # `no_patch_available` before the updater runs.
    parent_updates: bool = False
    # The dependency graph a dependency file records, for the churn check: an update may
    # change only the bumped and moved packages and what they (transitively) depend on.
    # None: no graph; other packages' versions may not change, new names may appear.
    graph: GraphReader | None = None
    # Go's minimum version selection: an upgrade raises the requirements the new version
    # needs and `go mod tidy` drops indirect ones nothing needs, with no graph in go.mod to
    # say which. The churn check then allows raised versions, new modules and dropped
    # indirect requirements; a lowered version or a dropped direct requirement is churn.
    minimum_version_selection: bool = False

    def reads(self, path: str) -> bool:
        name = PurePosixPath(path).name
        return any(fnmatchcase(name, pattern) for pattern in self.dependency_files)

    def is_lockfile(self, path: str) -> bool:
        return self.reads(path) and PurePosixPath(path).name not in self.manifests
