"""Git plumbing for the simulator's bare repositories.

The simulator owns these repositories (they are its "GitHub"), so it uses plain git with a
fixed identity and no user configuration. Commits are written with `git fast-import`
(fast, one process per batch); merges use `git merge-tree --write-tree`.
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

IDENTITY = ("GitHub", "noreply@github.com")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
EPOCH = 1_700_000_000


class GitStoreError(Exception):
    pass


def git_env(home: str | None = None) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home or tempfile.gettempdir(),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": IDENTITY[0],
        "GIT_AUTHOR_EMAIL": IDENTITY[1],
        "GIT_COMMITTER_NAME": IDENTITY[0],
        "GIT_COMMITTER_EMAIL": IDENTITY[1],
        "GIT_AUTHOR_DATE": f"{EPOCH} +0000",
        "GIT_COMMITTER_DATE": f"{EPOCH} +0000",
        "LANG": "C",
    }


def run_git(
    repo: Path,
    *args: str,
    input_bytes: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> bytes:
    result = subprocess.run(
        [
            "git",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "core.hooksPath=/dev/null",
            "--git-dir",
            str(repo),
            *args,
        ],
        input=input_bytes,
        capture_output=True,
        env={**git_env(), **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise GitStoreError(
            f"git {' '.join(args[:3])} failed: {result.stderr.decode(errors='replace')[-400:]}"
        )
    return result.stdout


@dataclass(frozen=True)
class CommitSpec:
    branch: str
    message: str
    files: Mapping[str, bytes]
    delete: Sequence[str] = ()
    parent: str | None = None  # a commit sha; None: continue the branch (or start it)
    author: tuple[str, str] | None = None


def _data(payload: bytes) -> bytes:
    return b"data " + str(len(payload)).encode() + b"\n" + payload + b"\n"


def fast_import(repo: Path, commits: Sequence[CommitSpec], start_time: int = EPOCH) -> None:
    """Write commits in order; each goes on its branch (created on first use)."""
    stream = bytearray()
    for index, spec in enumerate(commits):
        name, email = spec.author or IDENTITY
        when = f"{start_time + index} +0000"
        stream += f"commit refs/heads/{spec.branch}\n".encode()
        stream += f"author {name} <{email}> {when}\ncommitter {name} <{email}> {when}\n".encode()
        stream += _data(spec.message.encode())
        if spec.parent:
            stream += f"from {spec.parent}\n".encode()
        for path in spec.delete:
            stream += f"D {path}\n".encode()
        for path, content in sorted(spec.files.items()):
            stream += f"M 100644 inline {path}\n".encode() + _data(content)
        stream += b"\n"
    run_git(repo, "fast-import", "--quiet", "--force", input_bytes=bytes(stream))


def init_bare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "init", "--bare", "--quiet", str(path)],
        env=git_env(),
        check=True,
        capture_output=True,
    )


def refs(repo: Path, prefix: str = "refs/heads/") -> dict[str, str]:
    """name → sha for every ref under `prefix`, read from the ref files (no subprocess).

    The simulator asks this on nearly every request (pushes arrive behind its back), so it
    reads loose refs and packed-refs directly instead of spawning git each time.
    """
    found: dict[str, str] = {}
    packed = repo / "packed-refs"
    if packed.exists():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            if line[:1] in ("#", "^") or " " not in line:
                continue
            sha, _, ref = line.partition(" ")
            if ref.startswith(prefix):
                found[ref.removeprefix(prefix)] = sha
    base = repo / prefix
    if base.is_dir():
        for file in base.rglob("*"):
            if file.is_file() and not file.name.endswith(".lock"):
                sha = file.read_text(encoding="utf-8", errors="replace").strip()
                if _HEX40.match(sha):
                    found[file.relative_to(base).as_posix()] = sha
    return found


def branch_sha(repo: Path, branch: str) -> str | None:
    loose = repo / "refs" / "heads" / branch
    try:
        sha = loose.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        sha = ""
    if _HEX40.match(sha):
        return sha
    return refs(repo).get(branch)


def resolve(repo: Path, ref: str) -> str | None:
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        out = (
            run_git(
                repo, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
            )
            .decode()
            .strip()
        )
        if out:
            return out
    return None


def list_files(repo: Path, sha: str) -> dict[str, str]:
    """path → blob sha of every file in the commit."""
    out = run_git(repo, "ls-tree", "-r", "-z", sha).decode()
    files = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        _mode, kind, blob = meta.split()
        if kind == "blob":
            files[path] = blob
    return files


def read_blobs(
    repo: Path, shas: Sequence[str], env: Mapping[str, str] | None = None
) -> dict[str, bytes]:
    if not shas:
        return {}
    stdin = ("\n".join(shas) + "\n").encode()
    out = run_git(repo, "cat-file", "--batch", input_bytes=stdin, env=env)
    blobs: dict[str, bytes] = {}
    position = 0
    for sha in shas:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].decode()
        parts = header.split()
        if len(parts) < 3 or parts[1] == "missing":
            position = header_end + 1
            continue
        size = int(parts[2])
        start = header_end + 1
        blobs[sha] = out[start : start + size]
        position = start + size + 1
    return blobs


def read_file(repo: Path, sha: str, path: str) -> bytes | None:
    result = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "blob", f"{sha}:{path}"],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def merge_base(repo: Path, a: str, b: str) -> str | None:
    out = run_git(repo, "merge-base", a, b, check=False).decode().strip()
    return out or None


def merge_tree(repo: Path, base_head: str, head: str) -> str | None:
    """The merged tree of two commits, or None when they conflict."""
    result = subprocess.run(
        [
            "git",
            "--git-dir",
            str(repo),
            "merge-tree",
            "--write-tree",
            "--no-messages",
            base_head,
            head,
        ],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if result.returncode != 0:
        return None
    return result.stdout.decode().split()[0]


def commit_tree(repo: Path, tree: str, parents: Sequence[str], message: str, when: int) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    args += ["-m", message]
    env = {"GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    return run_git(repo, *args, env=env).decode().strip()


def update_ref(repo: Path, branch: str, new: str, old: str | None) -> bool:
    args = ["update-ref", f"refs/heads/{branch}", new]
    if old:
        args.append(old)
    result = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, env=git_env(), check=False
    )
    return result.returncode == 0


def delete_ref(repo: Path, branch: str) -> None:
    run_git(repo, "update-ref", "-d", f"refs/heads/{branch}", check=False)


def rev_list(repo: Path, spec: str, reverse: bool = False) -> list[str]:
    args = ["rev-list", *(["--reverse"] if reverse else []), spec]
    return run_git(repo, *args, check=False).decode().split()


def rebase_commits(repo: Path, onto: str, commits: Sequence[str], when: int) -> str | None:
    """Replay commits onto `onto` (like GitHub's rebase merge); None on conflict."""
    with tempfile.TemporaryDirectory(prefix="sim-rebase-") as tmp:
        worktree = Path(tmp) / "wt"
        run_git(repo, "worktree", "add", "--detach", "--quiet", str(worktree), onto)
        try:
            for sha in commits:
                result = subprocess.run(
                    [
                        "git",
                        "-c",
                        "core.hooksPath=/dev/null",
                        "-C",
                        str(worktree),
                        "cherry-pick",
                        "--allow-empty",
                        "--keep-redundant-commits",
                        sha,
                    ],
                    capture_output=True,
                    env={**git_env(), "GIT_COMMITTER_DATE": f"{when} +0000"},
                    check=False,
                )
                if result.returncode != 0:
                    return None
            head = subprocess.run(
                ["git", "-C", str(worktree), "rev-parse", "HEAD"],
                capture_output=True,
                env=git_env(),
                check=True,
            )
            return head.stdout.decode().strip()
        finally:
            run_git(repo, "worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(worktree, ignore_errors=True)


def diff_files(repo: Path, base: str, head: str) -> list[tuple[str, str, int, int, str | None]]:
    """(status, path, additions, deletions, previous path) between two commits."""
    numstat = run_git(repo, "diff", "--numstat", "-z", "-M", base, head).decode()
    names = run_git(repo, "diff", "--name-status", "-z", "-M", base, head).decode().split("\0")
    statuses: dict[str, tuple[str, str | None]] = {}
    index = 0
    while index < len(names) and names[index]:
        code = names[index]
        if code.startswith(("R", "C")):
            statuses[names[index + 2]] = (code[0], names[index + 1])
            index += 3
        else:
            statuses[names[index + 1]] = (code[0], None)
            index += 2
    result = []
    entries = numstat.split("\0")
    index = 0
    while index < len(entries) and entries[index]:
        parts = entries[index].split("\t")
        if len(parts) == 3 and parts[2] == "":
            path = entries[index + 2]
            index += 3
        else:
            path = parts[2]
            index += 1
        added = int(parts[0]) if parts[0].isdigit() else 0
        removed = int(parts[1]) if parts[1].isdigit() else 0
        code, previous = statuses.get(path, ("M", None))
        result.append((code, path, added, removed, previous))
    return result


def create_annotated_tag(repo: Path, tag: str, target: str) -> None:
    run_git(repo, "tag", "-a", tag, "-m", f"release {tag}", target)


def create_lightweight_tag(repo: Path, tag: str, target: str) -> None:
    run_git(repo, "update-ref", f"refs/tags/{tag}", target)


def tag_ref(repo: Path, tag: str) -> tuple[str, str] | None:
    """(object type, sha) the tag ref points at."""
    sha = (
        run_git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False)
        .decode()
        .strip()
    )
    if not sha:
        return None
    kind = run_git(repo, "cat-file", "-t", sha).decode().strip()
    return kind, sha


def tag_object(repo: Path, sha: str) -> dict[str, str] | None:
    if run_git(repo, "cat-file", "-t", sha, check=False).decode().strip() != "tag":
        return None
    raw = run_git(repo, "cat-file", "tag", sha).decode()
    head, _, message = raw.partition("\n\n")
    fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
    return {
        "object": fields.get("object", ""),
        "type": fields.get("type", "commit"),
        "tag": fields.get("tag", ""),
        "message": message,
    }


def commit_info(repo: Path, sha: str) -> dict[str, object] | None:
    out = run_git(
        repo, "show", "-s", "--format=%H%n%T%n%P%n%an%n%ae%n%at%n%B", sha, check=False
    ).decode()
    if not out:
        return None
    lines = out.split("\n")
    return {
        "sha": lines[0],
        "tree": lines[1],
        "parents": lines[2].split(),
        "author": lines[3],
        "email": lines[4],
        "time": int(lines[5] or EPOCH),
        "message": "\n".join(lines[6:]).strip(),
    }


def all_commits(repo: Path) -> list[str]:
    return run_git(repo, "rev-list", "--all", check=False).decode().split()
