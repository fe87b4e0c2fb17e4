"""Verification runs in the target's own workdir, or the unit says why it cannot."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from e2e import e2e, verify_ok
from support import require_tool

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "success"}],
            "protection": {"required_checks": ["ci"]},
        }
    ],
}


def test_a_missing_verification_workdir_is_reported_not_replaced(tmp_path: Path) -> None:
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok()],
        "verification_workdir": "tests/unit",
    }
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_unavailable")
        assert "'tests/unit'" in unit["detail"] and "does not exist" in unit["detail"]
        assert unit["verification_provenance"] == "not_run"
        assert env.sim.admin.pulls("api") == []


TWO_REPOS = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {"name": name, "files": {"requirements.txt": "requests==2.25.0\n"}}
        for name in ("api", "web")
    ],
}
UNAVAILABLE = (
    "bubblewrap cannot start here (No permissions to create new namespace); install "
    "bubblewrap or set verification.sandbox: none to opt out"
)


def _broken_bwrap(tmp_path: Path) -> tuple[str, Path]:
    """A PATH whose bwrap cannot start, as on a kernel without user namespaces."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    calls = tmp_path / "bwrap-calls"
    fake = bin_dir / "bwrap"
    fake.write_text(
        f"#!/bin/sh\necho x >> {calls}\n"
        "echo 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}", calls


@pytest.mark.parametrize("sandbox", [None, "auto", "bwrap"])
def test_without_a_sandbox_that_starts_no_repository_code_runs(
    tmp_path: Path, sandbox: str | None
) -> None:
    path, calls = _broken_bwrap(tmp_path)
    marker = tmp_path / "verification-ran"
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [f"{sys.executable} -c \"open('{marker}', 'w')\""],
    }
    repos = [{"repo": name, "targets": [target]} for name in ("api", "web")]
    with e2e(tmp_path, TWO_REPOS, repos) as env:
        if sandbox is not None:
            profile = yaml.safe_load(env.profile_path.read_text())
            profile["profile"]["verification"] = {"sandbox": sandbox}
            env.profile_path.write_text(yaml.safe_dump(profile))
        result, summary = env.run(PATH=path)
        units = env.units(summary, alert_class="dependabot")
        assert len(units) == 2, result.stderr[-2000:]
        for unit in units:
            assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_unavailable")
            assert unit["detail"] == UNAVAILABLE
            assert unit["verification_provenance"] == "not_run"
        assert not marker.exists()
        assert env.sim.admin.pulls("api") == [] and env.sim.admin.pulls("web") == []
        assert calls.read_text() == "x\n", "bubblewrap is probed once per run"
        assert summary.get("warnings") == []


def test_discover_proves_the_sandbox_starts(tmp_path: Path) -> None:
    require_tool("bwrap")
    with e2e(tmp_path, SCENARIO, [{"repo": "api"}]) as env:
        args = ("discover", "--profile", str(env.profile_path), "--json")
        ok = json.loads(env.agentd(*args).stdout)
        assert ok["capabilities"]["verification_sandbox"] == {
            "ok": True,
            "evidence": "bubblewrap starts here (verification.sandbox: auto)",
        }
        path, _ = _broken_bwrap(tmp_path)
        broken = json.loads(env.agentd(*args, PATH=path).stdout)
        assert broken["capabilities"]["verification_sandbox"] == {
            "ok": False,
            "evidence": UNAVAILABLE,
        }
        assert any(UNAVAILABLE in problem for problem in broken["problems"])
        assert env.agentd(*args, PATH=path).returncode == 78  # a pre-flight check fails
        table = env.agentd("discover", "--profile", str(env.profile_path), PATH=path).stdout
        assert f"MISSING  verification_sandbox: {UNAVAILABLE}" in table


@pytest.mark.parametrize("variable", ["npm_config_cache", "PNPM_CONFIG_STORE_DIR"])
def test_allowlisted_tool_caches_are_writable_under_the_sandbox(
    tmp_path: Path, variable: str
) -> None:
    """An operator who shares package-manager caches between units (allowlisting
    `npm_config_cache`, `UV_CACHE_DIR`, pnpm's store, ...) gets them writable inside the
    sandbox; before, every tool failed with EROFS on its own cache. Other allowlisted paths
    stay read-only."""
    require_tool("bwrap")
    cache, other = tmp_path / "caches" / variable, tmp_path / "elsewhere"
    other.mkdir()
    probe = (
        "import os, pathlib\n"
        f"pathlib.Path(os.environ['{variable}'], 'entry').write_text('cached')\n"
        "try:\n"
        "    pathlib.Path(os.environ['OTHER_DIR'], 'x').write_text('no')\n"
        "    print('OTHER-WRITABLE')\n"
        "except OSError:\n"
        "    print('other read-only')\n"
    )
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [f"{sys.executable} {tmp_path / 'probe.py'}"],
    }
    (tmp_path / "probe.py").write_text(probe)
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["verification"] = {"environment_allowlist": [variable, "OTHER_DIR"]}
        env.profile_path.write_text(yaml.safe_dump(profile))
        _, summary = env.run(**{variable: str(cache)}, OTHER_DIR=str(other))
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", (unit["detail"], unit["verification"])
        assert (cache / "entry").read_text() == "cached"
        assert not (other / "x").exists()


@pytest.mark.parametrize("sandbox", ["auto", "none"])
def test_a_misspelt_verification_command_is_a_configuration_problem(
    tmp_path: Path, sandbox: str
) -> None:
    """`pytset` is not on the PATH verification uses: nothing about the change was
    learnt, so the unit is `blocked verification_unavailable` with the profile to fix,
    never "the fix breaks the target's tests"."""
    if sandbox == "auto":
        require_tool("bwrap")
    target = {"target_id": "root", "ecosystems": ["pip"], "verification_commands": ["pytset -q"]}
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["verification"] = {"sandbox": sandbox}
        env.profile_path.write_text(yaml.safe_dump(profile))
        _, summary = env.run()
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "verification_unavailable")
        assert unit["detail"].startswith(
            "verification command `pytset` not found on PATH: fix the profile's "
            "verification_commands, or install it where agentd runs"
        ), unit["detail"]
        assert unit["verification_provenance"] == "not_run"
        assert env.sim.admin.pulls("api") == []
        report = env.agentd("report", "--profile", str(env.profile_path)).stdout
        assert "fix the profile's verification_commands" in report
        [advice] = [line for line in report.splitlines() if "what to do:" in line]
        assert "the profile's verification_commands" in advice, advice
        assert "breaks the target's own tests" not in report
