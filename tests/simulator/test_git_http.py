"""git over smart HTTP with token auth, and GitHub's refusals of pushes (its exact texts)."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from agentd.simulator import Simulator, materialize

TOKEN = "ghp_" + "g" * 36
NARROW = "ghp_" + "n" * 36  # a classic token without the workflow scope
FINE = "github_pat_" + "f" * 40
AWS_KEY = "AKIAIOSFODNN7GITHTTP"
KNOWN_KEY = "AKIAIOSFODNN7KNOWNAA"
WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n"


def scenario(**repo: Any) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "auth": {"token_scopes": {NARROW: ["repo"]}},
        "repositories": [
            {
                "name": "api",
                "files": {"app.py": "print('hi')\n", ".github/workflows/ci.yml": WORKFLOW},
                "history": [{"message": "known key", "files": {"old.env": f"K={KNOWN_KEY}\n"}}],
                **repo,
            },
            {"name": "frozen", "files": {"README.md": "x"}, "archived": True},
            {"name": "readonly", "files": {"README.md": "x"}, "permissions": {"push": False}},
            {"name": "hidden", "files": {"README.md": "x"}, "permissions": {"pull": False}},
        ],
    }


class GitUser:
    """git as agentd runs it against GitHub: an askpass helper hands out the token."""

    def __init__(self, sim: Simulator, root: Path) -> None:
        self.sim, self.root = sim, root
        self.askpass = root / "askpass.sh"
        self.askpass.write_text(
            '#!/bin/sh\ncase "$1" in Username*) echo x-access-token ;; *) echo "$TOKEN" ;; esac\n'
        )
        self.askpass.chmod(0o700)

    def url(self, repo: str = "api") -> str:
        return self.sim.git_url.format(owner="acme-org", repo=repo)

    def git(
        self, *args: str, token: str = TOKEN, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": str(self.askpass),
            "TOKEN": token,
            "GIT_AUTHOR_NAME": "A Person",
            "GIT_AUTHOR_EMAIL": "person@example.invalid",
            "GIT_COMMITTER_NAME": "A Person",
            "GIT_COMMITTER_EMAIL": "person@example.invalid",
        }
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )

    def clone(self, repo: str = "api", token: str = TOKEN) -> Path:
        target = self.root / f"clone-{repo}-{len(list(self.root.glob('clone-*')))}"
        result = self.git("clone", "--quiet", self.url(repo), str(target), token=token)
        assert result.returncode == 0, result.stderr
        return target

    def commit(self, clone: Path, files: dict[str, str], message: str = "change") -> str:
        for name, content in files.items():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            (clone / name).write_text(content)
        assert self.git("add", "--all", cwd=clone).returncode == 0
        assert self.git("commit", "--quiet", "-m", message, cwd=clone).returncode == 0
        return self.git("rev-parse", "HEAD", cwd=clone).stdout.strip()

    def push(
        self, clone: Path, branch: str, token: str = TOKEN, repo: str = "api"
    ) -> subprocess.CompletedProcess[str]:
        return self.git(
            "push", "--quiet", self.url(repo), f"HEAD:refs/heads/{branch}", token=token, cwd=clone
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Simulator, GitUser]]:
    with Simulator(scenario(), tmp_path / "sim") as sim:
        yield sim, GitUser(sim, tmp_path)


def serve(tmp_path: Path, **repo: Any) -> tuple[Simulator, GitUser]:
    """A simulator to serve (`with sim:`) with the `api` repository configured as given."""
    sim = Simulator(scenario(**repo), tmp_path / "sim")
    return sim, GitUser(sim, tmp_path)


def remote_lines(stderr: str) -> list[str]:
    return [line.removeprefix("remote: ").rstrip() for line in stderr.splitlines() if line.startswith("remote: ")]  # fmt: skip


# --- transport and authentication -------------------------------------------------------------


def test_clone_fetch_and_push_with_a_token(served: tuple[Simulator, GitUser]) -> None:
    sim, user = served
    assert sim.git_url == f"{sim.api_url}/{{owner}}/{{repo}}.git"
    clone = user.clone()
    assert (clone / "app.py").read_text() == "print('hi')\n"
    sha = user.commit(clone, {"fix.txt": "fixed\n"})
    pushed = user.push(clone, "security/fix")
    assert pushed.returncode == 0, pushed.stderr
    assert sim.admin.branches("api")["security/fix"] == sha
    fetched = user.git("fetch", "--quiet", user.url(), "security/fix", cwd=clone)
    assert fetched.returncode == 0, fetched.stderr
    (push,) = sim.admin.pushes("api")
    assert (push.result, push.updates) == ("ok", [f"{'0' * 40} {sha} refs/heads/security/fix"])
    assert sim.admin.requests() == []  # git traffic is not API traffic (nor rate-limited)


def test_a_big_push_streams_chunked(served: tuple[Simulator, GitUser]) -> None:
    sim, user = served
    clone = user.clone()
    noise = os.urandom(1_500_000).hex()  # past git's 1 MiB post buffer: chunked encoding
    sha = user.commit(clone, {"blob.txt": noise})
    assert user.push(clone, "big").returncode == 0
    assert sim.admin.branches("api")["big"] == sha


def test_no_credentials_is_a_basic_challenge_and_a_bad_token_is_refused(
    served: tuple[Simulator, GitUser],
) -> None:
    _, user = served
    for service in ("git-upload-pack", "git-receive-pack"):
        response = httpx.get(f"{user.url()}/info/refs", params={"service": service})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'
    refused = user.git("ls-remote", user.url(), token="not-a-token")
    assert refused.returncode == 128
    assert remote_lines(refused.stderr) == [
        "Invalid username or token. Password authentication is not supported for Git operations."
    ]
    assert f"fatal: Authentication failed for '{user.url()}/'" in refused.stderr


def test_repositories_the_token_cannot_see_or_write(served: tuple[Simulator, GitUser]) -> None:
    _, user = served
    hidden = user.git("ls-remote", user.url("hidden"))
    assert remote_lines(hidden.stderr) == ["Repository not found."]
    assert f"fatal: repository '{user.url('hidden')}/' not found" in hidden.stderr
    clone = user.clone("readonly")
    user.commit(clone, {"x.txt": "x"})
    denied = user.push(clone, "feature", repo="readonly")
    assert remote_lines(denied.stderr) == ["Permission to acme-org/readonly.git denied to agentd-bot."]  # fmt: skip
    assert "The requested URL returned error: 403" in denied.stderr
    fine = user.push(clone, "feature", token=FINE, repo="readonly")
    assert remote_lines(fine.stderr) == ["Write access to repository not granted."]


def test_an_archived_repository_is_read_only(served: tuple[Simulator, GitUser]) -> None:
    sim, user = served
    clone = user.clone("frozen")  # reading is fine
    user.commit(clone, {"x.txt": "x"})
    refused = user.push(clone, "feature", repo="frozen")
    assert refused.returncode == 128
    assert remote_lines(refused.stderr) == ["This repository was archived so it is read-only."]
    assert (
        f"fatal: unable to access '{user.url('frozen')}/': The requested URL returned error: 403"
        in refused.stderr
    )
    assert "feature" not in sim.admin.branches("frozen")
    denied = [g for g in sim.admin.git_requests() if g.result == "denied"]
    assert [(g.repo, g.status, g.reason) for g in denied] == [
        ("frozen", 403, "This repository was archived so it is read-only.")
    ]


def test_protocol_v2_fetch_requests_may_be_gzipped(served: tuple[Simulator, GitUser]) -> None:
    sim, user = served
    body = b"0014command=ls-refs\n" + b"0001" + b"0000"
    response = httpx.post(
        f"{user.url()}/git-upload-pack",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Git-Protocol": "version=2",
                 "Content-Type": "application/x-git-upload-pack-request"},
        auth=("x-access-token", TOKEN),
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert sim.admin.branches("api")["main"].encode() + b" refs/heads/main" in response.content
    garbage = httpx.post(
        f"{user.url()}/git-receive-pack", content=b"zzzz", auth=("x-access-token", TOKEN)
    )
    assert garbage.status_code == 400


def test_the_local_path_mode_stays(tmp_path: Path) -> None:
    manifest = materialize(scenario(), tmp_path / "laid-out")
    assert manifest["git_url"] == manifest["local_git_url"]
    assert manifest["git_url"].endswith("/remotes/{repo}.git")
    with Simulator(scenario(), tmp_path / "sim") as sim:
        local = sim.local_git_url.format(owner="acme-org", repo="api")
        assert Path(local) == sim.remote_path("api").resolve()
        user = GitUser(sim, tmp_path)
        listed = user.git("ls-remote", local, "refs/heads/main")
        assert listed.stdout.split()[0] == sim.admin.branches("api")["main"]


# --- GitHub's refusals ------------------------------------------------------------------------


def test_a_workflow_change_without_the_workflow_scope(served: tuple[Simulator, GitUser]) -> None:
    sim, user = served
    clone = user.clone()
    user.commit(clone, {".github/workflows/ci.yml": WORKFLOW + "# pinned\n"})
    refused = user.push(clone, "security/wf", token=NARROW)
    assert refused.returncode == 1
    assert (
        " ! [remote rejected] HEAD -> security/wf (refusing to allow a Personal Access Token to "
        "create or update workflow `.github/workflows/ci.yml` without `workflow` scope)"
    ) in refused.stderr
    assert remote_lines(refused.stderr) == []  # GitHub says it in the ref's status only
    assert "security/wf" not in sim.admin.branches("api")
    (push,) = sim.admin.pushes("api")
    assert (push.result, push.rule) == ("rejected", "workflow scope")
    # Other files are fine without the scope, and the workflow with it.
    other = user.clone("api", token=NARROW)
    user.commit(other, {"app.py": "print('bye')\n"})
    assert user.push(other, "security/app", token=NARROW).returncode == 0
    assert user.push(clone, "security/wf").returncode == 0
    assert user.push(clone, "security/wf2", token=FINE).returncode == 0  # no scopes to lack


def test_the_scenario_declares_each_tokens_scopes(served: tuple[Simulator, GitUser]) -> None:
    sim, _ = served

    def scopes(token: str) -> str | None:
        headers = {"Authorization": f"token {token}"}
        return httpx.get(f"{sim.api_url}/user", headers=headers).headers.get("X-OAuth-Scopes")

    assert scopes(TOKEN) == "repo, security_events, workflow"
    assert scopes(NARROW) == "repo"
    assert scopes(FINE) is None


def test_a_ruleset_requiring_signatures_on_agent_branches(tmp_path: Path) -> None:
    signed = {"name": "signed", "include": ["refs/heads/security/**"], "required_signatures": True}
    sim, user = serve(tmp_path, rulesets=[signed])
    with sim:
        clone = user.clone()
        sha = user.commit(clone, {"fix.txt": "fixed\n"})
        refused = user.push(clone, "security/code_scanning/root/abc")
        assert remote_lines(refused.stderr) == [
            "error: GH013: Repository rule violations found for refs/heads/security/code_scanning/root/abc.",
            f"Review all repository rules at {sim.api_url}/acme-org/api/rules?ref=refs%2Fheads%2Fsecurity%2Fcode_scanning%2Froot%2Fabc",
            "",
            "- Commits must have verified signatures.",
            "  Found 1 violation:",
            "",
            f"  {sha}",
            "",
        ]  # fmt: skip
        assert (
            " ! [remote rejected] HEAD -> security/code_scanning/root/abc "
            "(push declined due to repository rule violations)"
        ) in refused.stderr
        assert user.push(clone, "feature").returncode == 0  # the ruleset targets security/**
        rules = httpx.get(
            f"{sim.api_url}/repos/acme-org/api/rules/branches/security/x",
            headers={"Authorization": f"token {TOKEN}"},
        ).json()
        assert [r["type"] for r in rules] == ["deletion", "required_signatures"]


def test_a_branch_name_pattern_rule(tmp_path: Path) -> None:
    pattern = {"operator": "starts_with", "pattern": "feature/"}
    names = {"name": "names", "include": ["~ALL"], "exclude": ["~DEFAULT_BRANCH"],
             "branch_name_pattern": pattern}  # fmt: skip
    sim, user = serve(tmp_path, rulesets=[names])
    with sim:
        clone = user.clone()
        user.commit(clone, {"fix.txt": "fixed\n"})
        refused = user.push(clone, "security/x")
        assert remote_lines(refused.stderr)[3:] == [
            "- Branch name must start with a matching pattern: feature/",
            "",
        ]
        assert "(push declined due to repository rule violations)" in refused.stderr
        assert user.push(clone, "feature/x").returncode == 0
        rules = httpx.get(
            f"{sim.api_url}/repos/acme-org/api/rules/branches/security/x",
            headers={"Authorization": f"token {TOKEN}"},
        ).json()
        assert rules[-1]["type"] == "branch_name_pattern"
        assert rules[-1]["parameters"] == {**pattern, "negate": False, "name": ""}
        models = pytest.importorskip("githubkit_schemas.v2022_11_28.models")
        rule = {k: v for k, v in rules[-1].items() if not k.startswith("ruleset_")}
        TypeAdapter(models.RepositoryRuleBranchNamePattern).validate_python(rule)


def test_classic_protection_refuses_direct_pushes(tmp_path: Path) -> None:
    sim, user = serve(tmp_path, protection={"required_reviews": {"count": 1}})
    with sim:
        clone = user.clone()
        user.commit(clone, {"fix.txt": "fixed\n"})
        refused = user.push(clone, "main")
        assert remote_lines(refused.stderr) == [
            "error: GH006: Protected branch update failed for refs/heads/main.",
            "error: Changes must be made through a pull request.",
        ]
        assert (
            " ! [remote rejected] HEAD -> main (protected branch hook declined)" in refused.stderr
        )


def test_push_protection_refuses_a_new_secret(tmp_path: Path) -> None:
    sim, user = serve(tmp_path, features={"push_protection": "enabled"})
    with sim:
        clone = user.clone()
        sha = user.commit(clone, {"deploy/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"})
        refused = user.push(clone, "security/leak")
        lines = remote_lines(refused.stderr)
        assert lines[:8] == [
            "error GH009: Secrets detected! This push failed.",
            "",
            "   GITHUB PUSH PROTECTION",
            "  " + "—" * 41,
            "    Resolve the following secrets before pushing again.",
            "",
            "    (?) Learn how to resolve a blocked push",
            "    https://docs.github.com/code-security/secret-scanning/pushing-a-branch-blocked-by-push-protection",
        ]
        assert lines[10].startswith("  —— AWS Access Key ID ——")
        assert lines[11:14] == ["    locations:", f"      - commit: {sha}", "        path: deploy/.env:1"]  # fmt: skip
        assert lines[15] == "    (?) To push, remove secret from commit(s) or follow this URL to allow the secret."  # fmt: skip
        assert lines[16].startswith(f"    {sim.api_url}/acme-org/api/security/secret-scanning/unblock-secret/")  # fmt: skip
        assert " ! [remote rejected] HEAD -> security/leak (push declined due to a detected secret)" in refused.stderr  # fmt: skip
        assert AWS_KEY not in refused.stderr
        # A secret the repository already has an alert for is not blocked again.
        again = user.clone("api")
        user.commit(again, {"copy.env": f"K={KNOWN_KEY}\n"})
        assert user.push(again, "security/known").returncode == 0
