"""Hardened git: worktrees from the remote base, compare-and-set pushes, nothing executed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gitrepos import git, make_remote_and_clone

from agentd.gitops import Git, GitEnvironment, GitError, PushRejectedError
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
