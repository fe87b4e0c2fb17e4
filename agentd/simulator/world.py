"""The simulator's state: repositories over real bare git, PRs, alerts, checks, limits.

Branch state always comes from the bare repositories (agentd pushes to them directly);
everything else (PRs, comments, labels, alert numbers, check polls) lives here, guarded
by one lock.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentd.osv import DEFAULT_ADVISORY_DIR, Advisory, load_advisories
from agentd.simulator import analysis, ci, gitstore, shapes
from agentd.simulator.scenario import Check, Repository, Scenario

DEPENDABOT_BOT = ("dependabot[bot]", 49699333)


@dataclass
class Review:
    """One submitted review; `commit_id` is the head it reviewed."""

    id: int
    user: tuple[str, int]  # login, id
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit_id: str
    submitted_at: float
    body: str = ""


@dataclass
class AutoMergeRequest:
    """GitHub's native auto-merge, enabled on one head (a push elsewhere disables it)."""

    method: str  # merge | squash | rebase
    head: str
    enabled_by: tuple[str, int, str]
    enabled_at: float


@dataclass
class QueueEntry:
    head: str
    position: int
    enqueued_at: float
    state: str = "QUEUED"


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    author: tuple[str, int, str]  # login, id, type
    created_at: float
    state: str = "open"
    updated_at: float = 0.0
    closed_at: float | None = None
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    frozen_head_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    draft: bool = False
    maintainer_can_modify: bool = False
    reviews: list[Review] = field(default_factory=list)
    auto_merge: AutoMergeRequest | None = None
    queue: QueueEntry | None = None
    detail_reads: int = 0  # detailed reads so far (GitHub computes mergeability lazily)


@dataclass
class Comment:
    id: int
    issue: int
    body: str
    author: tuple[str, int, str]
    created_at: float
    updated_at: float


@dataclass
class Alert:
    number: int
    identity: tuple[Any, ...]
    finding: Any
    state: str = "open"
    created_at: float = 0.0
    updated_at: float = 0.0
    fixed_at: float | None = None
    dismissed_at: float | None = None
    dismissed_reason: str | None = None
    dismissed_comment: str | None = None
    resolution: str | None = None
    validity: str = "unknown"
    withdrawn: bool = False  # Dependabot removes an alert whose advisory was withdrawn


@dataclass
class RepoState:
    config: Repository
    rid: int
    path: Path
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    next_number: int = 1
    alerts: dict[str, dict[tuple[Any, ...], Alert]] = field(
        default_factory=lambda: {"dependabot": {}, "code_scanning": {}, "secret_scanning": {}}
    )
    next_alert: dict[str, int] = field(
        default_factory=lambda: {"dependabot": 1, "code_scanning": 1, "secret_scanning": 1}
    )
    analyzed: dict[str, str] = field(default_factory=dict)
    check_polls: dict[str, int] = field(default_factory=dict)
    check_overrides: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # sha or "*" → name → outcome
    check_created: dict[str, float] = field(default_factory=dict)
    ci_started: dict[str, float] = field(default_factory=dict)  # sha → its CI was triggered
    signed: set[str] = field(default_factory=set)  # commits GitHub created (and signed) via the API

    @property
    def name(self) -> str:
        return self.config.name


class SimulatorError(Exception):
    pass


class World:
    def __init__(self, scenario: Scenario, workdir: Path, base_dir: Path | None = None) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.base_dir = base_dir
        self.lock = threading.RLock()
        self.api_url = ""
        self.repos: dict[str, RepoState] = {}
        self.action_repos: dict[str, Path] = {}
        self.next_id = 100
        self.advisories = self._load_advisories()
        # bumped whenever an alert appears or changes: organisation listings (orgviews) are
        # kept between pages and rebuilt only after a change
        self.alert_generation = 0
        self.org_views: dict[Any, Any] = {}

    # --- setup ----------------------------------------------------------------------------

    def _load_advisories(self) -> list[Advisory]:
        primary = (
            Path(self.scenario.advisory_dir) if self.scenario.advisory_dir else DEFAULT_ADVISORY_DIR
        )
        dirs = [primary, *(Path(d) for d in self.scenario.extra_advisory_dirs)]
        advisories: list[Advisory] = []
        for directory in dirs:
            resolved = (
                directory
                if directory.is_absolute() or self.base_dir is None
                else self.base_dir / directory
            )
            advisories += load_advisories(resolved)
        return advisories

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def materialize(self) -> None:
        remotes, clones = self.workdir / "remotes", self.workdir / "clones"
        for index, repo in enumerate(self.scenario.repositories):
            path = remotes / f"{repo.name}.git"
            if path.exists():
                shutil.rmtree(path)
            gitstore.init_bare(path)
            gitstore.fast_import(path, self._commits(repo))
            state = RepoState(repo, 1000 + index, path)
            self.repos[repo.name] = state
            self._seed_dependabot_prs(state)
            self._clone(path, clones / repo.name)
        for action in self.scenario.action_repositories:
            self._materialize_action(action.repo, {t: s.annotated for t, s in action.tags.items()})

    def _files(self, mapping: dict[str, str], from_dir: str | None) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        if from_dir:
            root = (
                Path(from_dir)
                if Path(from_dir).is_absolute() or self.base_dir is None
                else self.base_dir / from_dir
            )
            for file in sorted(root.rglob("*")):
                if file.is_file():
                    files[file.relative_to(root).as_posix()] = file.read_bytes()
        files.update({path: content.encode() for path, content in mapping.items()})
        return files

    def _commits(self, repo: Repository) -> list[gitstore.CommitSpec]:
        default = repo.default_branch
        commits = [
            gitstore.CommitSpec(default, "initial commit", self._files(repo.files, repo.from_dir))
        ]
        for step in repo.history:
            commits.append(
                gitstore.CommitSpec(
                    default,
                    step.message,
                    {p: c.encode() for p, c in step.files.items()},
                    step.delete,
                )
            )
        for name, branch in repo.branches.items():
            if name != default:
                commits.append(
                    gitstore.CommitSpec(
                        name,
                        f"work on {name}",
                        self._files(branch.files, branch.from_dir),
                        parent=f"refs/heads/{default}",
                    )
                )
        for pr in repo.dependabot_prs:
            commits.append(
                gitstore.CommitSpec(
                    pr.branch,
                    f"{pr.title}\n\nSigned-off-by: dependabot[bot] <support@github.com>",
                    {p: c.encode() for p, c in pr.files.items()},
                    parent=f"refs/heads/{default}",
                    author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
                )
            )
        return commits

    def _seed_dependabot_prs(self, state: RepoState) -> None:
        for pr in state.config.dependabot_prs:
            number = state.next_number
            state.next_number += 1
            state.pulls[number] = Pull(
                number,
                pr.title,
                pr.body,
                pr.branch,
                state.config.default_branch,
                (*DEPENDABOT_BOT, "Bot"),
                time.time(),
                updated_at=time.time(),
                labels=pr.effective_labels(),
            )
            for name in pr.effective_labels():
                state.labels.setdefault(name, self.new_id())

    def _clone(self, remote: Path, clone: Path) -> None:
        if clone.exists():
            shutil.rmtree(clone)
        clone.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "--quiet", str(remote.resolve()), str(clone)],
            env=gitstore.git_env(),
            check=True,
            capture_output=True,
        )

    def _materialize_action(self, full: str, tags: dict[str, bool]) -> None:
        path = self.workdir / "actions" / f"{full}.git"
        if path.exists():
            shutil.rmtree(path)
        gitstore.init_bare(path)
        gitstore.fast_import(
            path,
            [
                gitstore.CommitSpec(
                    "main",
                    f"{full} release",
                    {
                        "action.yml": f"name: {full}\nruns:\n  using: node20\n  main: index.js\n".encode()
                    },
                )
            ],
        )
        head = gitstore.branch_sha(path, "main")
        assert head is not None  # noqa: S101 - just written
        for tag, annotated in tags.items():
            (gitstore.create_annotated_tag if annotated else gitstore.create_lightweight_tag)(
                path, tag, head
            )
        self.action_repos[full] = path

    # --- users and owners -----------------------------------------------------------------

    def owner_json(self) -> dict[str, Any]:
        owner = self.scenario.owner
        return shapes.user(
            self.api_url, owner.login, 500, "Organization" if owner.type == "org" else "User"
        )

    def viewer_json(self) -> dict[str, Any]:
        return shapes.user(self.api_url, self.scenario.viewer.login, self.scenario.viewer.id)

    def actor_json(self, actor: tuple[str, int, str]) -> dict[str, Any]:
        return shapes.user(self.api_url, actor[0], actor[1], actor[2])

    @property
    def viewer_actor(self) -> tuple[str, int, str]:
        return (self.scenario.viewer.login, self.scenario.viewer.id, "User")

    def full_name(self, state: RepoState) -> str:
        return f"{self.scenario.owner.login}/{state.name}"

    def repo(self, owner: str, name: str) -> RepoState | None:
        if owner.lower() != self.scenario.owner.login.lower():
            return None
        return self.repos.get(name)

    # --- alerts ---------------------------------------------------------------------------

    def refresh(self, state: RepoState) -> None:
        """Re-analyse what changed since the last look (pushes arrive behind our back)."""
        with self.lock:
            head = gitstore.branch_sha(state.path, state.config.default_branch)
            if head is None:
                return
            if state.analyzed.get("dependabot") != head:
                findings = analysis.dependabot_findings(state.path, head, self.advisories)
                self._reconcile(
                    state, "dependabot", {f.identity: f for f in findings}, stay_open=False
                )
                state.analyzed["dependabot"] = head
            if (
                state.config.features.code_scanning == "enabled"
                and state.analyzed.get("code_scanning") != head
            ):
                code = analysis.code_scanning_findings(state.path, head)
                self._reconcile(
                    state,
                    "code_scanning",
                    {(f.rule_id, f.path, f.key): f for f in code},
                    stay_open=False,
                )
                state.analyzed["code_scanning"] = head
            signature = ",".join(sorted(gitstore.refs(state.path).values()))
            if (
                state.config.features.secret_scanning == "enabled"
                and state.analyzed.get("secret_scanning") != signature
            ):
                secrets = analysis.secret_findings(state.path)
                self._reconcile(
                    state,
                    "secret_scanning",
                    {(f.secret_type, f.value): f for f in secrets},
                    stay_open=True,
                )
                state.analyzed["secret_scanning"] = signature

    def alerts_changed(self) -> None:
        with self.lock:
            self.alert_generation += 1

    def _reconcile(
        self, state: RepoState, kind: str, findings: dict[tuple[Any, ...], Any], stay_open: bool
    ) -> None:
        self.alerts_changed()
        now = time.time()
        registry = state.alerts[kind]
        for identity, finding in findings.items():
            alert = registry.get(identity)
            if alert is None:
                alert = Alert(
                    state.next_alert[kind], identity, finding, created_at=now, updated_at=now
                )
                state.next_alert[kind] += 1
                registry[identity] = alert
                if kind == "secret_scanning":
                    settings = state.config.secrets.get(finding.value)
                    if settings is not None:
                        alert.validity = settings.validity
                        if settings.resolution:
                            alert.state, alert.resolution = "resolved", settings.resolution
                continue
            alert.finding = finding
            if alert.state == "fixed":
                alert.state, alert.fixed_at, alert.updated_at = "open", None, now
        if stay_open:
            return
        for identity, alert in registry.items():
            if identity not in findings and alert.state == "open":
                alert.state, alert.fixed_at, alert.updated_at = "fixed", now, now

    # --- pulls ----------------------------------------------------------------------------

    def head_sha(self, state: RepoState, pull: Pull) -> str | None:
        if pull.frozen_head_sha:
            return pull.frozen_head_sha
        return gitstore.branch_sha(state.path, pull.head)

    def open_pull_for(self, state: RepoState, head: str) -> Pull | None:
        return next((p for p in state.pulls.values() if p.state == "open" and p.head == head), None)

    def create_pull(
        self,
        state: RepoState,
        head: str,
        base: str,
        title: str,
        body: str,
        author: tuple[str, int, str],
        draft: bool = False,
    ) -> Pull:
        with self.lock:
            number = state.next_number
            state.next_number += 1
            now = time.time()
            pull = Pull(number, title, body, head, base, author, now, updated_at=now, draft=draft)
            state.pulls[number] = pull
            self.pushed(state, head)  # pull_request: opened
            return pull

    def pushed(self, state: RepoState, branch: str) -> None:
        """`branch` received a push: the CI of an open PR with that head runs on it
        (pull_request: synchronize)."""
        with self.lock:
            pull = self.open_pull_for(state, branch)
            sha = self.head_sha(state, pull) if pull is not None else None
            if sha is not None:
                ci.start(state, sha)

    # --- checks ---------------------------------------------------------------------------

    def checks_for(self, state: RepoState, sha: str, count_poll: bool) -> list[tuple[Check, str]]:
        """Each configured check with its state for this sha: success | failure | pending."""
        with self.lock:
            if count_poll:
                state.check_polls[sha] = state.check_polls.get(sha, 0) + 1
            state.check_created.setdefault(sha, time.time())
            polls = state.check_polls.get(sha, 0)
            result = []
            for check in state.config.checks:
                outcome = (
                    state.check_overrides.get(sha, {}).get(check.name)
                    or state.check_overrides.get("*", {}).get(check.name)
                    or check.outcome
                )
                if outcome == "pending_then_success":
                    outcome = "success" if polls > check.polls else "pending"
                result.append((check, outcome))
            for run in ci.runs(state, sha):
                override = state.check_overrides.get(sha, {}).get(
                    run.check.name
                ) or state.check_overrides.get("*", {}).get(run.check.name)
                result.append((run.check, override or run.outcome))
            return result

    # --- merges ---------------------------------------------------------------------------

    def merge(
        self,
        state: RepoState,
        pull: Pull,
        method: str,
        title: str | None,
        message: str | None,
        head_sha: str | None = None,
    ) -> str | None:
        """Merge for real in the bare repository; the new base sha, or None on conflict.

        `head_sha` is the head the caller verified (sha check, required checks): that commit is
        merged even if a push moved the branch meanwhile, as GitHub's check-and-merge is atomic.
        """
        with self.lock:
            base_sha = gitstore.branch_sha(state.path, pull.base)
            head_sha = head_sha or gitstore.branch_sha(state.path, pull.head)
            if base_sha is None or head_sha is None:
                return None
            when = int(time.time())
            subject = title or f"{pull.title} (#{pull.number})"
            if method == "rebase":
                commits = gitstore.rev_list(state.path, f"{base_sha}..{head_sha}", reverse=True)
                new = gitstore.rebase_commits(state.path, base_sha, commits, when)
            else:
                tree = gitstore.merge_tree(state.path, base_sha, head_sha)
                if tree is None:
                    return None
                if method == "squash":
                    new = gitstore.commit_tree(
                        state.path,
                        tree,
                        [base_sha],
                        subject + (f"\n\n{message}" if message else ""),
                        when,
                    )
                else:
                    text = f"Merge pull request #{pull.number} from {self.scenario.owner.login}/{pull.head}\n\n{title or pull.title}"
                    new = gitstore.commit_tree(state.path, tree, [base_sha, head_sha], text, when)
            if new is None or not gitstore.update_ref(state.path, pull.base, new, base_sha):
                return None
            now = time.time()
            pull.state, pull.merged_at, pull.closed_at, pull.updated_at = "closed", now, now, now
            pull.merge_commit_sha, pull.frozen_head_sha = new, head_sha
            if state.config.delete_branch_on_merge:
                gitstore.delete_ref(state.path, pull.head)
            return new

    def conflicts(self, state: RepoState, pull: Pull) -> bool:
        base_sha = gitstore.branch_sha(state.path, pull.base)
        head_sha = self.head_sha(state, pull)
        if base_sha is None or head_sha is None:
            return True
        return gitstore.merge_tree(state.path, base_sha, head_sha) is None

    def push_commit(
        self, state: RepoState, branch: str, files: dict[str, str], message: str = "more work"
    ) -> str:
        """Admin helper: add a commit to a branch (moves a PR head in tests); a new branch
        starts from the default branch, as one created on GitHub does."""
        with self.lock:
            head = gitstore.branch_sha(state.path, branch) or gitstore.branch_sha(
                state.path, state.config.default_branch
            )
            gitstore.fast_import(
                state.path,
                [
                    gitstore.CommitSpec(
                        branch, message, {p: c.encode() for p, c in files.items()}, parent=head
                    )
                ],
                start_time=int(time.time()),
            )
            new = gitstore.branch_sha(state.path, branch)
            assert new is not None  # noqa: S101
            self.pushed(state, branch)
            return new


def commit_locations(finding: analysis.SecretFinding) -> Sequence[analysis.SecretLocation]:
    return finding.locations
