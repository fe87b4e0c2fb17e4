"""The runtime contract `run` and `discover` check before anything else: the clone root
exists, and every required tool is on PATH (exit 78, one line naming what and the fix)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import E2E, PYTHON, e2e

SCENARIO: dict[str, Any] = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
}


def edit_profile(env: E2E, **runtime: Any) -> None:
    data = yaml.safe_load(env.profile_path.read_text())
    data["profile"]["runtime"].update(runtime)
    env.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))


def agentd_without_state_dir(env: E2E, *args: str) -> subprocess.CompletedProcess[str]:
    """As an operator runs it: the state directory is the clone root's."""
    environ = env.env()
    del environ["AGENTD_STATE_DIR"]
    return subprocess.run(
        [PYTHON, "-m", "agentd", *args, "--profile", str(env.profile_path)],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", ["run", "discover"])
def test_a_clone_root_that_does_not_exist_is_a_contract_error(tmp_path: Path, command: str) -> None:
    """A typo in the clone root must not start a new state directory, history and lock."""
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        typo = env.sim.workdir / "clonse"
        edit_profile(env, local_clone_root=str(typo))
        result = agentd_without_state_dir(env, command)
        assert result.returncode == 78, result.stdout + result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("agentd:")]
        assert errors == [f"agentd: error: runtime.local_clone_root {typo} does not exist"]
        assert f"fix: correct runtime.local_clone_root in {env.profile_path}" in result.stderr
        assert not typo.exists()
        assert env.sim.admin.requests() == []  # nothing was asked of GitHub either


def test_a_clone_root_that_is_a_file_is_a_contract_error(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        afile = tmp_path / "a-file"
        afile.write_text("x")
        edit_profile(env, local_clone_root=str(afile))
        result = agentd_without_state_dir(env, "run")
        assert result.returncode == 78
        assert f"runtime.local_clone_root {afile} is not a directory" in result.stderr


@pytest.mark.parametrize("command", ["run", "discover"])
def test_every_required_tool_is_checked(tmp_path: Path, command: str) -> None:
    """`runtime.required_tools` is honoured as written, not only git and gh."""
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        edit_profile(env, required_tools=["python3", "git", "gh", "definitely-missing-tool-xyz"])
        result = env.agentd(command, "--profile", str(env.profile_path))
        assert result.returncode == 78, result.stdout + result.stderr
        assert (
            "agentd: error: required tools not found on PATH: definitely-missing-tool-xyz\n"
            "  fix: install them on the host that runs agentd (or put them on its PATH), or "
            "remove them from runtime.required_tools"
        ) in result.stderr
        assert env.sim.admin.requests() == []
        assert env.mutating() == []


def test_git_and_gh_are_required_whatever_the_list_says(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        edit_profile(env, required_tools=["python3"])
        bare = tmp_path / "bin"
        bare.mkdir()
        (bare / "python3").symlink_to(PYTHON)
        result = env.agentd("discover", "--profile", str(env.profile_path), PATH=str(bare))
        assert result.returncode == 78, result.stdout + result.stderr
        assert (
            "required tools not found on PATH: git, gh (git, gh: agentd runs them itself)"
        ) in result.stderr


@pytest.mark.parametrize("command", ["runs", "report"])
def test_reading_history_under_a_clone_root_that_is_a_file_is_a_contract_error(
    tmp_path: Path, command: str
) -> None:
    """`runs`/`report` do not check the runtime contract first: they ended in a
    NotADirectoryError traceback (exit 1) looking for the state directory."""
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        afile = tmp_path / "a-file"
        afile.write_text("x")
        edit_profile(env, local_clone_root=str(afile))
        result = agentd_without_state_dir(env, command)
        assert result.returncode == 78, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        state = afile / ".github-security-agent"
        assert f"state directory {state} cannot exist: {afile} is a file" in result.stderr


@pytest.mark.parametrize("bundle", ["missing", "not-pem"])
@pytest.mark.parametrize("command", ["run", "discover"])
def test_an_unusable_ca_bundle_is_a_contract_error(
    tmp_path: Path, bundle: str, command: str
) -> None:
    """SSL_CERT_FILE naming a missing or non-PEM file ended in a FileNotFoundError / SSLError
    traceback (exit 1) when the GitHub client was built."""
    path = tmp_path / "ca.pem"
    if bundle == "not-pem":
        path.write_text("not a certificate\n")
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        result = env.agentd(command, "--profile", str(env.profile_path), SSL_CERT_FILE=str(path))
        assert result.returncode == 78, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"cannot load the CA certificates to trust GitHub with (SSL_CERT_FILE={path}" in (
            result.stderr
        )
        assert "fix: point SSL_CERT_FILE at a readable PEM bundle" in result.stderr
