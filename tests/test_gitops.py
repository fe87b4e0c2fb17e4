"""Hardened git: worktrees from the remote base, compare-and-set pushes, nothing executed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gitrepos import git, make_remote_and_clone

from agentd.gitops import (
    ArchivedRepositoryError,
    BranchRuleError,
    Git,
    GitAuthError,
    GitEnvironment,
    GitError,
    PushProtectionError,
    PushRefusedError,
    PushRejectedError,
    WorkflowScopeError,
    refusal,
)
from agentd.mutation import MutationForbiddenError, MutationPolicy
from agentd.vocabulary import MutationMode

PR_POLICY = MutationPolicy(MutationMode.PULL_REQUEST)


def _snapshot(path: Path) -> dict[str, str]:
    """Hash of every file in the operator's checkout plus its HEAD and index."""
    out = {}
    for file in sorted(path.rglob("*")):
        if (
            file.is_file()
            and "/.git/objects/" not in str(file)
            and "/.git/worktrees" not in str(file)
            and "/.git/logs" not in str(file)
        ):
            rel = str(file.relative_to(path))
            if rel.startswith(".git/refs/remotes") or rel in {
                ".git/FETCH_HEAD",
                ".git/packed-refs",
            }:
                continue
            out[rel] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path, Git]:
    remote, clone = make_remote_and_clone(tmp_path, {"requirements.txt": "requests==2.25.0\n"})
    env = GitEnvironment.create(tmp_path / "state")
    return remote, clone, Git(clone, env)


def test_worktree_edit_commit_push_leaves_operator_checkout_alone(
    repos: tuple[Path, Path, Git], tmp_path: Path
) -> None:
    remote, clone, operator = repos
    (clone / "uncommitted.txt").write_text("operator's own work")
    (clone / "requirements.txt").write_text("requests==2.0.0  # local edit\n")
    git(clone, "checkout", "-q", "-b", "feature")
    before = _snapshot(clone)

    operator.fetch()
    base = operator.rev_parse("refs/remotes/origin/main")
    assert base is not None
    wt_path = tmp_path / "state" / "worktrees" / "u1"
    worktree = operator.add_worktree(wt_path, base)
    (wt_path / "requirements.txt").write_text("requests==2.32.4\n")
    assert worktree.changed_files() == ["requirements.txt"]
    sha = worktree.commit_all("bump requests", ["requirements.txt"])
    worktree.push_branch("security/dependabot/root/abc", None, PR_POLICY, protected=["main"])
    assert git(remote, "rev-parse", "refs/heads/security/dependabot/root/abc") == sha
    operator.remove_worktree(wt_path)

    assert not wt_path.exists()
    assert _snapshot(clone) == before
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "feature"


def test_push_is_compare_and_set(repos: tuple[Path, Path, Git], tmp_path: Path) -> None:
    _remote, _clone, operator = repos
    operator.fetch()
    base = operator.rev_parse("refs/remotes/origin/main")
    assert base is not None
    wt = operator.add_worktree(tmp_path / "wt", base)
    (tmp_path / "wt" / "a.txt").write_text("a")
    first = wt.commit_all("a", ["a.txt"])
    wt.push_branch("security/x", None, PR_POLICY, protected=["main"])
    (tmp_path / "wt" / "b.txt").write_text("b")
    wt.commit_all("b", ["b.txt"])
    # Pushing "as new" loses the race: the branch exists now.
    with pytest.raises(PushRejectedError):
        wt.push_branch("security/x", None, PR_POLICY, protected=["main"])
    wt.push_branch("security/x", first, PR_POLICY, protected=["main"])  # lease holds
    (tmp_path / "wt" / "c.txt").write_text("c")
    wt.commit_all("c", ["c.txt"])
    with pytest.raises(PushRejectedError):
        wt.push_branch("security/x", first, PR_POLICY, protected=["main"])  # stale lease


def test_never_pushes_to_a_protected_branch_or_in_report_only(
    repos: tuple[Path, Path, Git], tmp_path: Path
) -> None:
    _remote, _clone, operator = repos
    operator.fetch()
    wt = operator.add_worktree(tmp_path / "wt", "refs/remotes/origin/main")
    with pytest.raises(GitError, match="protected branch"):
        wt.push_branch("main", None, PR_POLICY, protected=["main"])
    with pytest.raises(MutationForbiddenError):
        wt.push_branch(
            "security/y", None, MutationPolicy(MutationMode.REPORT_ONLY), protected=["main"]
        )


def test_hostile_repository_config_executes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    evil = f"sh -c 'echo $0 >> {marker}'"
    remote, clone = make_remote_and_clone(
        tmp_path, {"data.txt": "x\n", ".gitattributes": "*.txt filter=evil diff=evil merge=evil\n"}
    )
    for key, value in [
        ("core.fsmonitor", evil),
        ("core.sshCommand", evil),
        ("core.hooksPath", str(tmp_path / "hooks")),
        ("filter.evil.smudge", evil),
        ("filter.evil.clean", evil),
        ("filter.evil.process", evil),
        ("filter.evil.required", "true"),
        ("diff.evil.textconv", evil),
        ("diff.evil.command", evil),
        ("merge.evil.driver", evil),
        ("credential.helper", f"!{evil}"),
        ("core.pager", evil),
    ]:
        git(clone, "config", key, value)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in (
        "post-checkout",
        "pre-commit",
        "commit-msg",
        "post-commit",
        "pre-push",
        "reference-transaction",
    ):
        (hooks / hook).write_text(f"#!/bin/sh\necho {hook} >> {marker}\n")
        (hooks / hook).chmod(0o755)
    (clone / ".git" / "hooks" / "post-checkout").write_text(f"#!/bin/sh\necho local >> {marker}\n")
    (clone / ".git" / "hooks" / "post-checkout").chmod(0o755)
    marker.unlink(missing_ok=True)

    operator = Git(clone, GitEnvironment.create(tmp_path / "state"))
    operator.fetch()
    wt = operator.add_worktree(tmp_path / "wt", "refs/remotes/origin/main")
    (tmp_path / "wt" / "data.txt").write_text("y\n")
    wt.changed_files()
    wt.commit_all("edit", ["data.txt"])
    wt.push_branch("security/z", None, PR_POLICY, protected=["main"])
    operator.remove_worktree(tmp_path / "wt")
    assert not marker.exists(), marker.read_text()
    assert git(remote, "show", "refs/heads/security/z:data.txt") == "y"


# --- GitHub's refusals, in the words git prints them (each from a real push) ---------------

_TO = "To https://github.com/o/r.git\n"
_FAILED = "error: failed to push some refs to 'https://github.com/o/r.git'\n"
# DataChefHQ/aws-data-landing-zone#29
WORKFLOW_PAT = (
    _TO + " ! [remote rejected] upgrade -> upgrade (refusing to allow a Personal Access Token to "
    "create or update workflow `.github/workflows/release.yml` without `workflow` scope)\n"
    + _FAILED
)
# peter-evans/create-pull-request#3558
WORKFLOW_APP = (
    " ! [remote rejected] auto-detect -> auto-detect (refusing to allow a GitHub App to create or "
    "update workflow `.github/workflows/bakefile-test.yml` without `workflows` permission)\n"
)
GH006 = (  # the GH006 text as GitHub prints it for a protected branch
    "remote: error: GH006: Protected branch update failed for refs/heads/preprod.\n"
    "remote: error: Changes must be made through a pull request.\n"
    + _TO
    + " ! [remote rejected] preprod -> preprod (protected branch hook declined)\n"
    + _FAILED
)
GH013 = (  # vercel/sandbox#169
    "remote: error: GH013: Repository rule violations found for refs/heads/changeset-release/main.        \n"
    "remote: Review all repository rules at https://github.com/vercel/sandbox/rules?ref=refs%2Fheads%2Fchangeset-release%2Fmain        \n"
    "remote: \nremote: - Commits must have verified signatures.        \n"
    "remote:   Found 1 violation:        \nremote: \n"
    "remote:   027faa7121ee9df79db623e1a2848d2cc88a8dba        \nremote: \n"
    + _TO + " ! [remote rejected] HEAD -> changeset-release/main (push declined due to repository rule violations)\n"
)  # fmt: skip
GH013_SECRETS = (  # palxiao/poster-design#140
    "remote: error: GH013: Repository rule violations found for refs/heads/main.\nremote:\n"
    "remote: - GITHUB PUSH PROTECTION\n"
    "remote:   —————————————————————————————————————————\n"
    "remote:     Resolve the following violations before pushing again\nremote:\n"
    "remote:     - Push cannot contain secrets\nremote:\n"
    "remote:       —— GitHub Personal Access Token ——————————————————————\n"
    "remote:        locations:\n"
    "remote:          - commit: 5477a7dd26384ed3c8b3814ee677f755ad27a597\n"
    "remote:            path: src/api/github.ts:34\n"
)  # fmt: skip
GH009 = (  # korosuke613/zenn-articles, 2023
    "remote: error GH009: Secrets detected! This push failed.\nremote:\n"
    "remote:             GITHUB PUSH PROTECTION (beta)\n"
    "remote: —— GitHub Personal Access Token ——————————————————————\n"
    "remote:  locations:\n"
    "remote:    - commit: 1cb6f4aa448dd3938335a681a3929697d93e6f70\n"
    "remote:      path: articles/productivity-weekly-20230510.md:72\n"
    + _TO + " ! [remote rejected] pw -> pw (push declined due to a detected secret)\n"
)  # fmt: skip
ARCHIVED = (
    "remote: This repository was archived so it is read-only.\n"
    "fatal: unable to access 'https://github.com/o/r.git/': The requested URL returned error: 403\n"
)
BAD_TOKEN = (
    "remote: Invalid username or token. Password authentication is not supported for Git operations.\n"
    "fatal: Authentication failed for 'https://github.com/o/r.git/'\n"
)
NO_WRITE = (
    "remote: Write access to repository not granted.\n"
    "fatal: unable to access 'https://github.com/o/r.git/': The requested URL returned error: 403\n"
)


@pytest.mark.parametrize(
    ("stderr", "kind", "outcome", "reason", "said"),
    [
        (WORKFLOW_PAT, WorkflowScopeError, "blocked", "auth_insufficient", "`.github/workflows/release.yml` without `workflow` scope"),
        (WORKFLOW_APP, WorkflowScopeError, "blocked", "auth_insufficient", "without `workflows` permission"),
        (GH006, BranchRuleError, "blocked", "branch_protection_block", "GH006: Changes must be made through a pull request"),
        (GH013, BranchRuleError, "blocked", "branch_protection_block", "GH013: Commits must have verified signatures"),
        (GH013_SECRETS, PushProtectionError, "blocked", "policy_blocked", "GitHub Personal Access Token at src/api/github.ts:34"),
        (GH009, PushProtectionError, "blocked", "policy_blocked", "GH009: Secrets detected! This push failed: GitHub Personal Access Token at articles/productivity-weekly-20230510.md:72"),
        (ARCHIVED, ArchivedRepositoryError, "skipped", "policy_blocked", "This repository was archived so it is read-only"),
        (BAD_TOKEN, GitAuthError, "blocked", "auth_insufficient", "Invalid username or token."),
        (NO_WRITE, GitAuthError, "blocked", "auth_insufficient", "Write access to repository not granted"),
    ],
)  # fmt: skip
def test_githubs_refusals_are_classified_with_their_reason(
    stderr: str, kind: type[PushRefusedError], outcome: str, reason: str, said: str
) -> None:
    error = refusal(["push", "b"], 1, stderr)
    assert type(error) is kind
    assert isinstance(error, PushRefusedError) and not isinstance(error, PushRejectedError)
    result = error.unit_result()
    assert (result.outcome.value, result.reason and result.reason.value) == (outcome, reason)
    assert said in result.detail and "fix: " in result.detail
    assert error.remembered is (kind is not GitAuthError)  # a token problem is not the change's


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (" ! [rejected]        security/x -> security/x (stale info)\n" + _FAILED, PushRejectedError),
        (" ! [rejected]        security/x -> security/x (fetch first)\n" + _FAILED, PushRejectedError),
        (" ! [remote rejected] x -> x (cannot lock ref 'refs/heads/x': is at 1 but expected 2)\n", PushRejectedError),
        (" ! [remote rejected] x -> x (pre-receive hook declined)\n" + _FAILED, GitError),
        ("fatal: unable to access 'https://github.com/o/r.git/': Could not resolve host\n", GitError),
    ],
)  # fmt: skip
def test_only_races_are_push_rejections(stderr: str, kind: type[GitError]) -> None:
    assert type(refusal(["push", "x"], 1, stderr)) is kind


def test_commits_are_signed_with_the_operators_key_never_the_repositorys_program(
    repos: tuple[Path, Path, Git], tmp_path: Path
) -> None:
    import subprocess

    from support import require_tool

    require_tool("ssh-keygen")
    _, clone, operator = repos
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    marker = tmp_path / "hostile-program-ran"
    hostile = tmp_path / "sign.sh"
    hostile.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hostile.chmod(0o755)
    git(clone, "config", "gpg.ssh.program", str(hostile))
    worktree = operator.add_worktree(tmp_path / "wt", operator.rev_parse("HEAD") or "")
    (tmp_path / "wt" / "requirements.txt").write_text("requests==2.32.4\n")
    tree = worktree.capture(["requirements.txt"])
    sha = worktree.commit_tree(
        tree, operator.rev_parse("HEAD") or "", "fix\n", signing_key=str(key)
    )
    raw = worktree.run("cat-file", "commit", sha)
    assert "-----BEGIN SSH SIGNATURE-----" in raw and not marker.exists()
