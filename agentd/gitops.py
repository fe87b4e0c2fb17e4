"""Git, hardened for untrusted repositories (SPEC §4.1, §4.2).

Every git call runs with an environment built from scratch (no system or global config, a
private HOME, no terminal prompts) and with every repository-configurable command switched
off on the command line: hooks, fsmonitor, ssh command, credential helpers, pagers and
editors, and the filter / diff / merge drivers the repository's config defines. The GitHub
token reaches git only through an askpass helper that reads it from git's environment; it
is never in argv or a URL, and git gets it only for the commands that talk to the remote
(fetch, ls-remote, push), which go to a URL agentd builds from the profile — never to a remote
the repository's configuration names.

All edits happen in a worktree per unit under the state directory, created from the freshly
fetched remote base; the operator's checkout (branch, index, working tree) is never touched.
A worktree's git commands name its git dir explicitly (recorded when agentd created it), so
repository code that rewrites the worktree's `.git` file cannot redirect them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentd import children, faults
from agentd.errors import InfrastructureError
from agentd.github.auth import Token
from agentd.log import get_logger
from agentd.mutation import MutationKind, MutationPolicy
from agentd.redaction import redact
from agentd.shutdown import STOP
from agentd.vocabulary import Outcome, ReasonCode, UnitResult

log = get_logger("git")
GIT_TIMEOUT_SECONDS = 600
AGENT_IDENTITY = {"name": "agentd", "email": "agentd@users.noreply.github.com"}

# Config keys whose values are commands git would run, per repository configuration.
_COMMAND_KEYS = re.compile(
    r"^(filter\.[^\n]+\.(clean|smudge|process)|diff\.[^\n]+\.(textconv|command)|"
    r"merge\.[^\n]+\.driver|credential\.([^\n]+\.)?helper|core\.(fsmonitor|sshcommand|"
    r"hookspath|askpass|editor|pager|gitproxy|alternaterefscommand)|"
    r"remote\.[^\n]+\.(uploadpack|receivepack|proxy)|uploadpack\.packobjectshook|"
    r"http\.([^\n]+\.)?proxy|gpg\.([^\n]+\.)?program|sequence\.editor)$",
    re.IGNORECASE,
)
_ASKPASS = """#!/bin/sh
# agentd git askpass: the token lives only in git's environment, never in this file.
case "$1" in
  Username*) printf '%s\\n' x-access-token ;;
  *) printf '%s\\n' "$AGENTD_GIT_TOKEN" ;;
esac
"""


class GitError(InfrastructureError):
    source = "git"

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = redact(stderr.strip())
        shown = " ".join(a for a in argv if not a.startswith("-c"))
        super().__init__(f"git {shown} failed ({returncode}): {self.stderr[-500:]}")


class PushRejectedError(GitError):
    """The push lost a race: the lease is stale or the branch moved (worth looking again)."""


class PushRefusedError(GitError):
    """GitHub refused the push for a reason no retry fixes; carries the unit's outcome and
    reason, GitHub's own words (`said`), and whether the refusal belongs to the change, so
    that the same change is not pushed again (`remembered`)."""

    outcome = Outcome.BLOCKED
    reason = ReasonCode.POLICY_BLOCKED
    remembered = True
    what = "GitHub refused the push"
    fix = ""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, said: str) -> None:
        super().__init__(argv, returncode, stderr)
        self.said = redact(said)

    @property
    def detail(self) -> str:
        return f"{self.what}: {self.said.rstrip('.')}; fix: {self.fix}"

    def unit_result(self) -> UnitResult:
        return UnitResult(outcome=self.outcome, reason=self.reason, detail=self.detail)


class GitAuthError(PushRefusedError):
    """GitHub did not take the token for git (401) or gave it no write access (403)."""

    reason = ReasonCode.AUTH_INSUFFICIENT
    remembered = False  # about the token, not the change
    what = "GitHub refused the token for git"
    fix = "give agentd a token with write access to the repository (Contents: read and write)"


class WorkflowScopeError(PushRefusedError):
    """The change touches .github/workflows/ and the token lacks the `workflow` scope."""

    reason = ReasonCode.AUTH_INSUFFICIENT
    fix = (
        "grant the token the workflow scope (fine-grained: Workflows read and write); "
        "agentd does not change workflow files without it"
    )


class BranchRuleError(PushRefusedError):
    """Branch protection (GH006) or a repository rule (GH013) refused the push."""

    reason = ReasonCode.BRANCH_PROTECTION_BLOCK
    fix = "exempt agentd's branches from the rule, or have a person make this change"


class PushProtectionError(PushRefusedError):
    """Secret scanning's push protection (GH009) refused it: agentd never bypasses it."""

    reason = ReasonCode.POLICY_BLOCKED
    what = "push protection refused the push"
    fix = "remove the secret from the change; agentd never bypasses push protection"


class ArchivedRepositoryError(PushRefusedError):
    """The repository is archived: read-only on GitHub."""

    outcome = Outcome.SKIPPED
    reason = ReasonCode.POLICY_BLOCKED
    what = "the repository is archived (read-only on GitHub)"
    fix = "unarchive it to have its alerts fixed"


_WORKFLOW_SCOPE = re.compile(
    r"refusing to allow an? [\w ]+? to create or update workflow `[^`]+` "
    r"without `workflows?` (?:scope|permission)"
)
ARCHIVED = "This repository was archived so it is read-only."
_RACES = ("stale info", "fetch first", "non-fast-forward", "cannot lock ref", "[rejected]")
_AUTH = ("Authentication failed", "Invalid username or token", "returned error: 401",
         "returned error: 403", "Write access to repository not granted")  # fmt: skip


def _remote_lines(stderr: str) -> list[str]:
    """What the remote said, one line each, without git's `remote: ` prefix and padding."""
    prefix = "remote: "
    return [
        line.removeprefix(prefix).rstrip()
        for line in stderr.splitlines()
        if line.startswith(prefix)
    ]


def _rules(lines: Sequence[str], code: str) -> str:
    """The rules a GH006 (`error: …` lines) or GH013 (`- …` lines) refusal names."""
    if code == "GH006":
        named = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        named = [line for line in named if "GH006" not in line]
    else:
        named = [line[2:] for line in lines if line.startswith("- ")]
    return " ".join(named) or "the branch's rules"


def _secrets_found(lines: Sequence[str]) -> str:
    """GitHub's GH009/GH013 headline, and which kinds of secret it found where (never a value)."""
    said = next((line for line in lines if "GH0" in line), "secrets detected")
    headline = said.removeprefix("error").strip(": ").rstrip(".")
    kinds = [m.group(1) for line in lines if (m := re.match(r"\s*—— (.+?) —", line))]
    paths = [
        line.split("path:", 1)[1].strip() for line in lines if line.strip().startswith("path:")
    ]
    found = ", ".join(f"{kind} at {path}" for kind, path in zip(kinds, paths, strict=False))
    return f"{headline}: {found}" if found else headline


def refusal(argv: Sequence[str], returncode: int, stderr: str) -> GitError:
    """The push failure as agentd acts on it: GitHub's lasting refusal (a `PushRefusedError`,
    never retried), a race (looked at again), or any other git failure."""
    refused = _refused(stderr)
    if refused is not None:
        kind, said = refused
        return kind(argv, returncode, stderr, said)
    if any(marker in stderr for marker in _RACES):
        return PushRejectedError(argv, returncode, stderr)
    return GitError(argv, returncode, stderr)


def _refused(stderr: str) -> tuple[type[PushRefusedError], str] | None:
    """Which lasting refusal GitHub's words are, and the words that say so."""
    lines = _remote_lines(stderr)
    scope = _WORKFLOW_SCOPE.search(stderr)
    if scope:
        return WorkflowScopeError, scope.group(0)
    if any(mark in stderr for mark in ("GH009", "PUSH PROTECTION", "Push cannot contain secrets")):
        return PushProtectionError, _secrets_found(lines)
    for code in ("GH006", "GH013"):
        if code in stderr:
            return BranchRuleError, f"{code}: {_rules(lines, code)}"
    if ARCHIVED in stderr:
        return ArchivedRepositoryError, ARCHIVED
    if any(marker in stderr for marker in _AUTH):
        return GitAuthError, " ".join(lines) or stderr.strip().splitlines()[-1]
    return None


@dataclass(frozen=True)
class GitEnvironment:
    """Everything a git process gets: a scrubbed environment and a private home."""

    home: Path
    askpass: Path
    token: Token | None = None

    @classmethod
    def create(
        cls, state_dir: Path, token: Token | None = None, home_parent: Path | None = None
    ) -> GitEnvironment:
        """`{state_dir}/git`: refused unless agentd's own (owner, no group/other write); the
        askpass helper is written there afresh, never through a symlink. git's private home
        is made in `home_parent` (a run's own directory) or else in `{state_dir}/git`."""
        from agentd.session import refuse_unsafe_directory, write_private_file  # noqa: PLC0415

        base = state_dir / "git"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        refuse_unsafe_directory(base, "agentd's git directory", follow_symlinks=False)
        home = Path(tempfile.mkdtemp(prefix="home-", dir=home_parent or base))
        askpass = write_private_file(base / "askpass.sh", _ASKPASS)
        return cls(home, askpass, token)

    def env(self, network: bool = False) -> dict[str, str]:
        """git's environment; the token (and the helper that hands it out) only for `network`."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": AGENT_IDENTITY["name"],
            "GIT_AUTHOR_EMAIL": AGENT_IDENTITY["email"],
            "GIT_COMMITTER_NAME": AGENT_IDENTITY["name"],
            "GIT_COMMITTER_EMAIL": AGENT_IDENTITY["email"],
            "GIT_PROTOCOL_FROM_USER": "0",
        }
        if not network:
            return env
        env["GIT_ASKPASS"] = env["SSH_ASKPASS"] = str(self.askpass)
        if "SSH_AUTH_SOCK" in os.environ:
            env["SSH_AUTH_SOCK"] = os.environ["SSH_AUTH_SOCK"]
        if self.token is not None:
            env["AGENTD_GIT_TOKEN"] = self.token.reveal()
        return env

    def cleanup(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


_SAFE_FLAGS = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.sshCommand=ssh",
    "-c", "core.pager=cat",
    "-c", "core.editor=true",
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "commit.gpgSign=false",
    "-c", "tag.gpgSign=false",
    "-c", "advice.detachedHead=false",
    "-c", "init.defaultBranch=main",
    "-c", "safe.directory=*",
)  # fmt: skip


def guard_push(branch: str, protected: Sequence[str], policy: MutationPolicy) -> None:
    """Whatever the transport (git or the Git Data API): never a base or default branch,
    and only in a mode that may push."""
    if branch in protected or not branch:
        raise GitError(["push", branch], 1, f"refusing to push to protected branch {branch!r}")
    policy.check(MutationKind.PUSH, f"push {branch}")


class Git:
    """Runs git for one repository (the operator's clone, or a worktree of it)."""

    def __init__(
        self,
        repo: Path,
        environment: GitEnvironment,
        *,
        remote_url: str | None = None,
        git_dir: Path | None = None,
    ) -> None:
        self.repo = repo
        self.environment = environment
        # Where network commands go; None only where no token is involved (tests, local use).
        self.remote_url = remote_url
        self.git_dir = git_dir  # a worktree's own git dir, named explicitly on every command
        self._overrides: tuple[str, ...] | None = None

    @property
    def remote(self) -> str:
        return self.remote_url or "origin"

    def _command_overrides(self) -> tuple[str, ...]:
        """Neutralise every command-valued key the repository's own config defines."""
        if self._overrides is None:
            listed = self._run(["config", "--null", "--list"], overrides=(), check=False)
            flags: list[str] = []
            for entry in listed.stdout.split("\0"):
                key = entry.split("\n", 1)[0]
                if key and _COMMAND_KEYS.match(key):
                    flags += ["-c", f"{key}="]
                    if key.lower().startswith("filter.") and not key.lower().endswith(".required"):
                        flags += ["-c", f"{key.rsplit('.', 1)[0]}.required=false"]
            self._overrides = tuple(flags)
        return self._overrides

    def _run(
        self,
        args: Sequence[str],
        overrides: Sequence[str] | None = None,
        check: bool = True,
        input_text: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        network: bool = False,
        config: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        if network:
            STOP.check_abort()  # an aborted run talks to the remote no more
        flags = self._command_overrides() if overrides is None else overrides
        argv = ["git", *_SAFE_FLAGS, *flags, *config, *self._location(), *args]
        result = children.run_text(
            argv,
            timeout=GIT_TIMEOUT_SECONDS,
            env={**self.environment.env(network), **(extra_env or {})},
            input_text=input_text,
        )
        if check and result.returncode != 0:
            if network and any(marker in result.stderr for marker in _AUTH):
                raise refusal(args, result.returncode, result.stderr)
            raise GitError(args, result.returncode, result.stderr)
        return result

    def _location(self) -> list[str]:
        if self.git_dir is None:
            return ["-C", str(self.repo)]
        return ["--git-dir", str(self.git_dir), "--work-tree", str(self.repo), "-C", str(self.repo)]

    def run(self, *args: str, check: bool = True) -> str:
        return self._run(args, check=check).stdout

    # --- queries ------------------------------------------------------------------------

    def is_repository(self) -> bool:
        if not self.repo.is_dir():
            return False
        result = self._run(["rev-parse", "--git-dir"], overrides=(), check=False)
        return result.returncode == 0

    def rev_parse(self, ref: str) -> str | None:
        result = self._run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        return result.stdout.strip() or None

    def tree_of(self, ref: str) -> str | None:
        result = self._run(["rev-parse", "--verify", "--quiet", f"{ref}^{{tree}}"], check=False)
        return result.stdout.strip() or None

    def parent_of(self, ref: str) -> str | None:
        return self.rev_parse(f"{ref}~1")

    def remote_branch_sha(self, branch: str) -> str | None:
        out = self._run(
            ["ls-remote", "--heads", self.remote, f"refs/heads/{branch}"], network=True
        ).stdout
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def changed_files(self) -> list[str]:
        out = self._run(["status", "--porcelain=v1", "-z", "--untracked-files=all"]).stdout
        files = []
        entries = iter(out.split("\0"))
        for entry in entries:
            if not entry:
                continue
            status, path = entry[:2], entry[3:]
            files.append(path)
            if "R" in status or "C" in status:
                next(entries, None)
        return sorted(files)

    def show_file(self, ref: str, path: str) -> bytes | None:
        result = children.run_bytes(
            ["git", *_SAFE_FLAGS, *self._command_overrides(), *self._location(), "cat-file",
             "blob", f"{ref}:{path}"],
            timeout=GIT_TIMEOUT_SECONDS,
            env=self.environment.env(),
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else None

    # --- network ----------------------------------------------------------------------------

    def fetch(self, *refspecs: str) -> None:
        self._run(["fetch", "--quiet", "--no-tags", self.remote, *refspecs], network=True)

    def fetch_branch(self, branch: str) -> str | None:
        """Fetch one remote branch into refs/remotes/origin; its sha, or None if it does not exist."""
        sha = self.remote_branch_sha(branch)
        if sha is not None:
            self.fetch(f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        return sha

    def push_branch(
        self,
        branch: str,
        expected_sha: str | None,
        policy: MutationPolicy,
        protected: Sequence[str],
        source: str = "HEAD",
    ) -> None:
        """Push `source` to `branch`, compare-and-set against `expected_sha` (None: must not exist).

        Refuses to push to any branch in `protected` (the base and default branches).
        """
        guard_push(branch, protected, policy)
        lease = f"--force-with-lease=refs/heads/{branch}:{expected_sha or ''}"
        faults.point("before_push")
        result = self._run(
            ["push", "--quiet", "--no-verify", lease, self.remote, f"{source}:refs/heads/{branch}"],
            check=False,
            network=True,
        )
        if result.returncode != 0:
            raise refusal(["push", branch], result.returncode, result.stderr)
        faults.point("after_push")

    # --- worktrees ---------------------------------------------------------------------------

    def add_worktree(self, path: Path, commit: str) -> Git:
        """A detached worktree at `commit`, whose git dir is pinned before anything runs in it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run("worktree", "add", "--quiet", "--detach", str(path), commit)
        pointer = (path / ".git").read_text(encoding="utf-8").strip()
        git_dir = Path(pointer.removeprefix("gitdir:").strip())
        common = Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip())
        inside = git_dir.resolve().is_relative_to(common.resolve())
        if not pointer.startswith("gitdir:") or not inside or git_dir.resolve() == common.resolve():
            raise GitError(["worktree", "add"], 1, f"unexpected worktree git dir {pointer!r}")
        return Git(path, self.environment, remote_url=self.remote_url, git_dir=git_dir)

    def worktrees(self) -> list[Path]:
        """The linked worktrees registered in this clone (not its own working tree)."""
        listing = self._run(["worktree", "list", "--porcelain"], check=False).stdout
        paths = [
            Path(line.removeprefix("worktree "))
            for line in listing.splitlines()
            if line.startswith("worktree ")
        ]
        return paths[1:]

    def remove_worktree(self, path: Path) -> None:
        """Remove agentd's worktree at `path` and its registration, and only that: never
        `git worktree prune`, which would also drop the operator's own worktrees whose
        directory is missing. The directory goes first, so git reads nothing a unit left."""
        shutil.rmtree(path, ignore_errors=True)
        self._run(["worktree", "remove", "--force", "--force", str(path)], check=False)
        if self.has_worktree(path):  # an older git will not remove a missing worktree
            self._drop_registration(path)

    def has_worktree(self, path: Path) -> bool:
        return path.resolve() in {p.resolve() for p in self.worktrees()}

    def _drop_registration(self, worktree: Path) -> None:
        """`<common dir>/worktrees/<id>`, whose `gitdir` names `worktree`: what git removes."""
        common = Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip())
        for entry in (common / "worktrees").glob("*/gitdir"):
            pointer = Path(entry.read_text(encoding="utf-8").strip())
            if pointer.parent.resolve() == worktree.resolve():
                shutil.rmtree(entry.parent, ignore_errors=True)

    def commit_all(self, message: str, paths: Sequence[str]) -> str:
        self.run("add", "--", *paths)
        self._run(["commit", "--quiet", "--no-verify", "-F", "-"], input_text=message)
        sha = self.rev_parse("HEAD")
        if sha is None:
            raise GitError(["commit"], 1, "no commit was created")
        return sha

    # --- capturing a change ---------------------------------------------------------------

    def capture(self, paths: Sequence[str]) -> str:
        """The tree of HEAD plus the working-tree content of `paths`, as it is now."""
        self.run("add", "--", *paths)
        return self.run("write-tree").strip()

    def differs_from(self, tree: str) -> list[str]:
        """Tracked files whose working-tree content is no longer what `tree` holds."""
        out = self._run(["diff", "--no-ext-diff", "--no-textconv", "--name-only", "-z", tree, "--"])
        return sorted(p for p in out.stdout.split("\0") if p)

    def changes(self, old: str, new: str) -> dict[str, str]:
        """Path → new blob id (or "" when deleted) for every file that differs."""
        out = self.run("diff-tree", "-r", "-z", "--no-renames", old, new)
        fields = out.split("\0")
        changed = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.split()
            if len(parts) >= 5 and path:
                changed[path] = "" if parts[4] == "D" else parts[3]
        return changed

    def commit_tree(
        self,
        tree: str,
        parent: str,
        message: str,
        identity: tuple[str, str] | None = None,
        signing_key: str | None = None,
    ) -> str:
        """A commit of `tree` on `parent`; what agentd pushes is exactly what it checked.

        With `signing_key` (an SSH private key) the commit is signed; the key and the signing
        program come from agentd, never from the repository's configuration."""
        who = {}
        if identity is not None:
            name, email = identity
            who = {
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email,
            }
        sign: tuple[str, ...] = ()
        config: tuple[str, ...] = ()
        if signing_key is not None:
            sign = ("-S",)
            config = (
                "-c", "gpg.format=ssh", "-c", f"user.signingKey={signing_key}",
                "-c", "gpg.ssh.program=ssh-keygen",
            )  # fmt: skip
        out = self._run(
            ["commit-tree", *sign, tree, "-p", parent, "-F", "-"],
            input_text=message,
            extra_env=who,
            config=config,
        )
        return out.stdout.strip()

    def authors(self, since: str, until: str) -> list[tuple[str, str]]:
        """(name, email) of every commit in `since..until`."""
        out = self.run("log", "--format=%an%x00%ae", f"{since}..{until}")
        pairs = [line.partition("\0") for line in out.splitlines()]
        return [(name, email) for name, _, email in pairs]

    def merge_base(self, a: str, b: str) -> str | None:
        result = self._run(["merge-base", a, b], check=False)
        return result.stdout.strip() or None
