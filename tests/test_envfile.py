"""The settings env file (defect 17): cron's bare environment runs agentd with one variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e import TOKEN, e2e
from support import REPO_ROOT, run_agentd

from agentd.errors import UsageError
from agentd.redaction import REDACTOR

SHAPED = "AKIA" + "ABCDEFGHIJKLMNOP"  # a credential by its shape, whatever its name


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_file_fills_what_the_environment_lacks_and_its_secrets_are_masked(
    tmp_path: Path,
) -> None:
    from agentd.envfile import load_env_file

    path = _write(
        tmp_path / "agentd.env",
        f"GH_TOKEN={TOKEN}\nAGENTD_PROFILES_DIR=/etc/agentd/profiles\n"
        f"AGENTD_LOG_FORMAT=json\nREGISTRY_PASSWORD=hunter2-long\nPLAIN={SHAPED}\n"
        "REGION=eu-west-visible\n",
    )
    environ = {"AGENTD_ENV_FILE": str(path), "AGENTD_LOG_FORMAT": "human"}
    loaded = load_env_file(environ)
    assert loaded.path == path and loaded.warnings == []
    assert environ["GH_TOKEN"] == TOKEN and environ["AGENTD_PROFILES_DIR"] == "/etc/agentd/profiles"
    assert environ["AGENTD_LOG_FORMAT"] == "human"  # the environment wins
    assert loaded.kept == ["AGENTD_LOG_FORMAT"]
    masked = REDACTOR.redact(f"{TOKEN} hunter2-long {SHAPED} /etc/agentd/profiles eu-west-visible")
    # By name (…_TOKEN, …_PASSWORD) or shape; a path or a region is no secret.
    assert masked == "*** *** *** /etc/agentd/profiles eu-west-visible"


def test_the_default_file_is_used_when_present_and_a_named_one_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentd import envfile
    from agentd.envfile import load_env_file

    default = tmp_path / "agentd.env"
    monkeypatch.setattr(envfile, "DEFAULT_ENV_FILE", default)
    assert load_env_file({}).path is None  # absent: nothing, no error
    _write(default, "AGENTD_STATE_DIR=/var/lib/agentd\n", mode=0o644)
    environ: dict[str, str] = {}
    assert load_env_file(environ).path == default
    assert environ == {"AGENTD_STATE_DIR": "/var/lib/agentd"}
    assert load_env_file({"AGENTD_ENV_FILE": ""}).path is None  # explicitly none
    with pytest.raises(
        UsageError, match=r"AGENTD_ENV_FILE=/nonexistent/agentd\.env cannot be read"
    ):
        load_env_file({"AGENTD_ENV_FILE": "/nonexistent/agentd.env"})


def test_a_credential_file_others_may_read_is_warned_about(tmp_path: Path) -> None:
    from agentd.envfile import load_env_file

    path = _write(tmp_path / "agentd.env", f"GH_TOKEN={TOKEN}\n", mode=0o644)
    [warning] = load_env_file({"AGENTD_ENV_FILE": str(path)}).warnings
    assert "chmod o-rwx" in warning and TOKEN not in warning
    path.chmod(0o640)  # root:agentd 0640: the agentd group reads it, nobody else
    assert load_env_file({"AGENTD_ENV_FILE": str(path)}).warnings == []


def test_a_missing_named_file_is_one_line_and_exit_2() -> None:
    template = str(REPO_ROOT / "profiles/template/profile.yaml")
    result = run_agentd("validate", template, env={"AGENTD_ENV_FILE": "/nonexistent/agentd.env"})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "AGENTD_ENV_FILE" in result.stderr


def test_a_cron_like_bare_environment_runs_with_only_the_env_file(tmp_path: Path) -> None:
    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
    }
    with e2e(tmp_path, scenario, [{"repo": "api"}], mode="report_only") as env:
        settings = {k: v for k, v in env.env().items() if k.startswith(("AGENTD_", "GH_"))}
        path = _write(tmp_path / "agentd.env", "".join(f"{k}={v}\n" for k, v in settings.items()))
        # What cron gives a job: HOME, LOGNAME, PATH=/usr/bin:/bin, SHELL — and the env file.
        bare = {
            "HOME": str(tmp_path),
            "LOGNAME": "agentd",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "SHELL": "/bin/sh",
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "AGENTD_ENV_FILE": str(path),
        }
        result = subprocess.run(
            [sys.executable, "-m", "agentd", "run", "--profile", str(env.profile_path), "--json"],
            capture_output=True, text=True, env=bare, timeout=180, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout)
        [unit] = env.units(summary, repository="api")
        assert "would open a PR" in unit["detail"]
        assert TOKEN not in result.stdout + result.stderr
