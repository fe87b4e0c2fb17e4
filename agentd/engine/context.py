"""What every pass of one run shares: the API, policy, git environment, budget, worktrees."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentd.audit import AuditLog
from agentd.coverage_memory import CoverageMemory
from agentd.delivery.gate import BaseRulesCache
from agentd.delivery.pulls import OpenPulls
from agentd.engine.memory import RunMemory
from agentd.environment import AllowedEnvironment
from agentd.errors import InfrastructureError, PathEscapeError
from agentd.github.api import GitHubAPI
from agentd.github.models import Account
from agentd.gitops import Git, GitEnvironment
from agentd.mutation import MutationPolicy
from agentd.paths import confine
from agentd.profile import Profile, Repository
from agentd.progress import RunObserver
from agentd.shutdown import STOP, StopFlag
from agentd.units import key_short


@dataclass
class Budget:
    """Blast-radius limits for one run (SPEC §3 `budget`)."""

    max_new_prs: int
    max_merges: int
    new_prs: int = 0
    merges: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_new_pr(self) -> bool:
        with self._lock:
            if self.new_prs >= self.max_new_prs:
                return False
            self.new_prs += 1
            return True

    def give_back_new_pr(self) -> None:
        with self._lock:
            self.new_prs = max(0, self.new_prs - 1)

    def take_merge(self) -> bool:
        with self._lock:
            if self.merges >= self.max_merges:
                return False
            self.merges += 1
            return True


@dataclass
class Workspace:
    operator: Git  # the operator's clone (only fetched, never edited)
    tree: Git  # the unit's worktree (its git dir named explicitly)
    path: Path
    start_sha: str
    home: Path  # private HOME for the unit's tools, removed with the worktree
    captured: str | None = None  # the change's tree, once captured: what is checked and committed

    def capture(self, files: list[str]) -> str:
        """Freeze the change: from now on the re-check reads, and the commit holds, this tree."""
        self.captured = self.tree.capture(sorted(set(files)))
        return self.captured

    def read(self, path: str) -> bytes | None:
        """A repo-relative file of the change: from the captured tree once there is one."""
        if self.captured is not None:
            return self.tree.show_file(self.captured, path)
        try:
            file = confine(self.path, path)
            return file.read_bytes() if file.is_file() else None
        except (PathEscapeError, OSError):
            return None

    def base_tree(self) -> str | None:
        return self.tree.tree_of(self.start_sha)


@dataclass
class RunContext:
    profile: Profile
    api: GitHubAPI
    policy: MutationPolicy
    git_env: GitEnvironment
    state_dir: Path
    allowed_env: AllowedEnvironment
    budget: Budget
    run_id: str
    stop: StopFlag = STOP
    audit: AuditLog | None = None
    git_url_template: str = "https://github.com/{owner}/{repo}.git"
    account: Account | None = field(default=None, repr=False)  # the token's own; read once
    # What the run learned about each unit, so a later iteration does not redo work whose
    # inputs did not change (agentd.engine.memory).
    memory: RunMemory = field(default_factory=RunMemory, repr=False)
    progress: RunObserver = field(default_factory=RunObserver, repr=False)
    # Read once per run: each repository's open PRs, each base's requirements.
    pulls: OpenPulls = field(init=False, repr=False)
    base_rules: BaseRulesCache = field(default_factory=BaseRulesCache, repr=False)
    coverage_memory: CoverageMemory | None = field(default=None, repr=False)
    _account_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.pulls = OpenPulls(self.api)

    @property
    def run_dir(self) -> Path:
        """Everything this run makes on disk (worktrees, private homes), removed at its end;
        what a killed run leaves here the next run prunes (agentd.engine.leftovers)."""
        return self.state_dir / "worktrees" / self.run_id

    def _account(self) -> Account:
        with self._account_lock:
            if self.account is None:
                self.account = self.api.user()
            return self.account

    def login(self) -> str:
        """The token's own account: agentd acts only on PRs it authored (SPEC §10)."""
        return self._account().login

    def commit_identity(self) -> tuple[str, str]:
        """Commits are credited to the token's own account, as GitHub attributes them."""
        account = self._account()
        return account.login, f"{account.id}+{account.login}@users.noreply.github.com"

    def git_for(self, repo: Repository) -> Git:
        """The operator's clone; its network commands go to the profile's URL for `repo`."""
        url = self.git_url_template.format(owner=self.profile.profile.owner, repo=repo.repo)
        return Git(Path(repo.local_path), self.git_env, remote_url=url)

    def refreshed(self, repo: Repository, base: str) -> Git:
        """The operator's clone with `refs/remotes/origin/{base}` fetched, unless the profile
        says `clone_refresh_policy: no_fetch`."""
        operator = self.git_for(repo)
        if self.profile.profile.runtime.clone_refresh_policy == "fetch_existing_only":
            operator.fetch(f"+refs/heads/{base}:refs/remotes/origin/{base}")
        return operator

    def base_sha(self, repo: Repository, base: str) -> str | None:
        """The base's commit, just fetched (see `refreshed`)."""
        return self.refreshed(repo, base).rev_parse(f"refs/remotes/origin/{base}")

    @contextmanager
    def worktree(
        self, repo: Repository, base: str, key: str, ref: str | None = None
    ) -> Iterator[Workspace]:
        """A fresh worktree at `ref` (default: the just-fetched remote base), always removed.
        A `ref` is a commit already fetched into the operator's clone: nothing is fetched."""
        operator = self.git_for(repo) if ref else self.refreshed(repo, base)
        start = operator.rev_parse(ref or f"refs/remotes/origin/{base}")
        if start is None:
            raise WorkspaceError(f"cannot resolve {ref or 'origin/' + base} in {repo.local_path}")
        path = self.run_dir / f"{repo.repo}-{key_short(key)}"
        tree = operator.add_worktree(path, start)
        home = path.with_name(path.name + ".home")
        try:
            (home / "tmp").mkdir(parents=True, exist_ok=True)
            yield Workspace(operator, tree, path, start, home)
        finally:
            operator.remove_worktree(path)
            shutil.rmtree(home, ignore_errors=True)


class WorkspaceError(InfrastructureError):
    """The unit's isolated worktree could not be made (never falls back to the operator's clone)."""

    source = "git"
