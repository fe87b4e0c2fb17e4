"""What GitHub checks before a push lands, and how it says no (its pre-receive checks).

In GitHub's order of authority: a classic token without the `workflow` scope may not create
or update `.github/workflows/` files; classic protection of the branch (GH006); the active
rulesets targeting the branch (GH013: pull requests required, verified signatures, branch
name patterns); secret scanning's push protection (GH009: a secret the repository has no
alert for yet). Each refusal is GitHub's text: the `remote:` lines and the reason git prints
after `[remote rejected]`. The pushed objects are read from a quarantine (`Incoming`) before
any ref moves, as GitHub does.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from agentd.simulator import analysis, gitstore, protection
from agentd.simulator.scenario import BranchNamePattern, Ruleset
from agentd.simulator.world import RepoState, World

ZERO = "0" * 40
WORKFLOWS = ".github/workflows/"
RULESET_REASON = "push declined due to repository rule violations"
PROTECTED_REASON = "protected branch hook declined"
SECRET_REASON = "push declined due to a detected secret"
PUSH_PROTECTION_DOC = (
    "https://docs.github.com/code-security/secret-scanning/"
    "pushing-a-branch-blocked-by-push-protection"
)
MAX_SECRETS_SHOWN = 5  # "Up to five detected secrets will be displayed at a time"
_NAME_RULES = {
    "starts_with": "start with a matching pattern",
    "ends_with": "end with a matching pattern",
    "contains": "contain a matching pattern",
    "regex": "match a given regex pattern",
}


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def deletes(self) -> bool:
        return self.new == ZERO


@dataclass(frozen=True)
class Pusher:
    """Who pushes: a classic token's scopes (None for a fine-grained one) and admin rights."""

    scopes: list[str] | None
    admin: bool


@dataclass
class Rejection:
    """GitHub's refusal: the `remote:` lines, and the reason after `[remote rejected]`."""

    reason: str
    messages: list[str] = field(default_factory=list)
    rule: str = ""  # what refused it, for the simulator's push log


@dataclass(frozen=True)
class Change:
    commit: str
    path: str
    blob: str  # the new blob ("" when the file is deleted)


class Incoming:
    """The pushed objects in a quarantine beside the repository's own (nothing moves yet).

    The pack is indexed only when a check needs to read it, then thrown away: what is
    accepted is received again by `git receive-pack` itself.
    """

    def __init__(self, repo: Path, pack: bytes) -> None:
        self.repo = repo
        self.pack = pack
        self._dir: Path | None = None

    def __enter__(self) -> Incoming:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="incoming-", dir=self.repo / "objects"))
            (self._dir / "pack").mkdir()
            if self.pack:
                gitstore.run_git(
                    self.repo, "index-pack", "--stdin", "--fix-thin",
                    input_bytes=self.pack, env=self._objects(),
                )  # fmt: skip
        return self._objects()

    def _objects(self) -> dict[str, str]:
        assert self._dir is not None  # noqa: S101 - created by env()
        return {
            "GIT_OBJECT_DIRECTORY": str(self._dir),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.repo / "objects"),
        }

    def commits(self, updates: Sequence[RefUpdate]) -> list[str]:
        """The commits this push adds to the repository, oldest first."""
        news = [u.new for u in updates if not u.deletes]
        if not news:
            return []
        out = gitstore.run_git(
            self.repo, "rev-list", "--reverse", *news, "--not", "--all", env=self.env()
        )
        return out.decode().split()

    def changes(self, commits: Sequence[str]) -> list[Change]:
        """Every file each commit adds, modifies or deletes."""
        if not commits:
            return []
        out = gitstore.run_git(
            self.repo, "diff-tree", "--stdin", "-r", "-z", "--root", "--no-renames", "-m",
            input_bytes=("\n".join(commits) + "\n").encode(), env=self.env(),
        ).decode(errors="replace")  # fmt: skip
        changes: list[Change] = []
        tokens, commit = iter(out.split("\0")), ""
        for token in tokens:
            if token.startswith(":"):
                meta, path = token.split(), next(tokens, "")
                changes.append(Change(commit, path, "" if meta[4] == "D" else meta[3]))
            elif token:
                commit = token
        return changes

    def blobs(self, shas: Sequence[str]) -> dict[str, bytes]:
        return gitstore.read_blobs(self.repo, sorted(set(shas)), env=self.env())


@dataclass(frozen=True)
class Push:
    world: World
    state: RepoState
    pusher: Pusher
    updates: Sequence[RefUpdate]
    incoming: Incoming
    base_url: str  # where the simulator serves, for the URLs GitHub prints

    @cached_property
    def added(self) -> list[Change]:
        """Every file change of the commits this push adds."""
        return self.incoming.changes(self.incoming.commits(self.updates))


def check(push: Push) -> Rejection | None:
    """GitHub's refusal of this push, or None when it may land."""
    for step in (_workflow_scope, _classic_protection, _rulesets, _push_protection):
        rejection = step(push)
        if rejection is not None:
            return rejection
    return None


# --- the workflow scope ---------------------------------------------------------------------


def _workflow_scope(push: Push) -> Rejection | None:
    scopes = push.pusher.scopes
    if scopes is None or "workflow" in scopes:
        return None
    touched = sorted({c.path for c in push.added if c.path.startswith(WORKFLOWS)})
    if not touched:
        return None
    reason = (
        "refusing to allow a Personal Access Token to create or update workflow "
        f"`{touched[0]}` without `workflow` scope"
    )
    return Rejection(reason, rule="workflow scope")


# --- classic protection (GH006) -------------------------------------------------------------


def _classic_protection(push: Push) -> Rejection | None:
    world, state = push.world, push.state
    for update in push.updates:
        rule = protection.classic(state, update.branch or "")
        if rule is None or (push.pusher.admin and not rule.enforce_admins):
            continue
        problems: list[str] = []
        if rule.required_reviews is not None:
            problems.append("Changes must be made through a pull request.")
        if not update.deletes:
            problems += protection.check_problems(world, state, update.new, rule.required_checks)
        if rule.required_signatures and not state.config.verified_commits:
            problems.append("Commits must have verified signatures.")
        if problems:
            lines = [f"error: GH006: Protected branch update failed for {update.ref}."]
            lines += [f"error: {problem}" for problem in problems]
            return Rejection(PROTECTED_REASON, lines, rule="protected branch")
    return None


# --- rulesets (GH013) -------------------------------------------------------------------------


def _rulesets(push: Push) -> Rejection | None:
    for update in push.updates:
        if update.branch is None:
            continue
        violations: list[list[str]] = []
        for _, ruleset in protection.rulesets(push.state, update.branch):
            if not ruleset.bypass:
                violations += _violations(push.state, ruleset, update, push.incoming)
        if violations:
            return _gh013(push, update.ref, violations)
    return None


def _violations(
    state: RepoState, ruleset: Ruleset, update: RefUpdate, incoming: Incoming
) -> list[list[str]]:
    """Each violated rule as GitHub lists it (its first line, then any detail lines)."""
    if update.deletes:
        return []
    found: list[list[str]] = []
    if ruleset.pull_request is not None or ruleset.merge_queue is not None:
        found.append(["Changes must be made through a pull request."])
    if ruleset.branch_name_pattern is not None and update.branch is not None:
        broken = _name_violation(ruleset.branch_name_pattern, update.branch)
        if broken:
            found.append([broken])
    if ruleset.required_signatures and not state.config.verified_commits:
        unsigned = incoming.commits([update])  # verified only with `verified_commits`
        if unsigned:
            found.append(_unsigned(unsigned))
    return found


def _unsigned(commits: Sequence[str]) -> list[str]:
    plural = "s" if len(commits) > 1 else ""
    return [
        "Commits must have verified signatures.",
        f"  Found {len(commits)} violation{plural}:",
        "",
        *(f"  {commit}" for commit in commits),
    ]


def _name_violation(rule: BranchNamePattern, branch: str) -> str | None:
    matches = {
        "starts_with": lambda: branch.startswith(rule.pattern),
        "ends_with": lambda: branch.endswith(rule.pattern),
        "contains": lambda: rule.pattern in branch,
        "regex": lambda: re.search(rule.pattern, branch) is not None,
    }[rule.operator]()
    if matches != rule.negate:
        return None
    must = "must not" if rule.negate else "must"
    return f"Branch name {must} {_NAME_RULES[rule.operator]}: {rule.pattern}"


def _gh013(push: Push, ref: str, violations: list[list[str]]) -> Rejection:
    rules = f"{push.base_url}/{push.world.full_name(push.state)}/rules?ref={quote(ref, safe='')}"
    lines = [
        f"error: GH013: Repository rule violations found for {ref}.",
        f"Review all repository rules at {rules}",
        "",
    ]
    for first, *rest in violations:
        lines += [f"- {first}", *rest, ""]
    return Rejection(RULESET_REASON, lines, rule="repository rules")


# --- push protection (GH009) ------------------------------------------------------------------


@dataclass(frozen=True)
class _Secret:
    display: str
    value: str
    commit: str
    path: str
    line: int


def _push_protection(push: Push) -> Rejection | None:
    state = push.state
    if state.config.features.push_protection != "enabled":
        return None
    changes = [c for c in push.added if c.blob]
    if not changes:
        return None
    push.world.refresh(state)  # a secret the repository already has an alert for passes
    known = set(state.alerts["secret_scanning"])
    contents = push.incoming.blobs([c.blob for c in changes])
    secrets: dict[tuple[str, str], _Secret] = {}
    for change in changes:
        for kind, display, _, value, line, _, _ in analysis.scan(contents.get(change.blob, b"")):
            found = _Secret(display, value, change.commit, change.path, line)
            if (kind, value) not in known:
                secrets.setdefault((kind, value), found)
    if not secrets:
        return None
    return _gh009(push, list(secrets.values())[:MAX_SECRETS_SHOWN])


def _gh009(push: Push, secrets: list[_Secret]) -> Rejection:
    unblock_base = f"{push.base_url}/{push.world.full_name(push.state)}/security/secret-scanning"
    lines = [
        "error GH009: Secrets detected! This push failed.",
        "",
        "   GITHUB PUSH PROTECTION",
        "  " + "—" * 41,
        "    Resolve the following secrets before pushing again.",
        "",
        "    (?) Learn how to resolve a blocked push",
        f"    {PUSH_PROTECTION_DOC}",
        "",
    ]
    for secret in secrets:
        unblock = hashlib.sha256(secret.value.encode()).hexdigest()[:27]
        lines += [
            "",
            f"  —— {secret.display} ".ljust(56, "—"),
            "    locations:",
            f"      - commit: {secret.commit}",
            f"        path: {secret.path}:{secret.line}",
            "",
            "    (?) To push, remove secret from commit(s) or follow this URL to allow the secret.",
            f"    {unblock_base}/unblock-secret/{unblock}",
            "",
        ]
    return Rejection(SECRET_REASON, lines, rule="push protection")
