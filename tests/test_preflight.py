"""Token preflight: `discover` and `run` read what the token may do before doing anything.

Classic tokens: the `X-OAuth-Scopes` header of the first answer (`GET /user`). Fine-grained
tokens: reads (GitHub's 403 "Resource not accessible by personal access token"). A required
capability the token lacks, or a token kind the profile does not allow, is exit 78 naming
what to grant, and nothing is changed.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from e2e import E2E, TOKEN, e2e

from agentd.preflight import (
    ALERT_PERMISSIONS,
    GRANTS,
    fine_grained_permissions,
    granted_scopes,
)
from agentd.profile import Capability, parse_profile
from agentd.vocabulary import AlertClass

FINE = "github_pat_" + "F1neGrained" + "x" * 30
ALL_FINE = {
    "metadata": "read",
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "read",
    "statuses": "read",
    "vulnerability_alerts": "read",
    "security_events": "read",
    "secret_scanning_alerts": "read",
    "workflows": "write",
}
REPO = {
    "name": "api",
    "files": {"requirements.txt": "requests==2.25.0\n", "app.py": "print('hi')\n"},
    "checks": [{"name": "ci", "outcome": "success"}],
}


def scenario(**auth: Any) -> dict[str, Any]:
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": [REPO], "auth": auth}


@contextmanager
def harness(tmp_path: Path, token: str = TOKEN, **auth: Any) -> Iterator[E2E]:
    with e2e(tmp_path, scenario(**auth), [{"repo": "api"}]) as env:
        env.token = token
        yield env


def set_auth(env: E2E, **auth: Any) -> None:
    data = yaml.safe_load(env.profile_path.read_text())
    data["profile"]["auth"] = {"github_host": "github.com", **auth}
    env.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))


def discover(env: E2E) -> tuple[int, dict[str, Any], str]:
    result = env.agentd("discover", "--profile", str(env.profile_path), "--json")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = {}
    return result.returncode, data, result.stdout + result.stderr


def assert_untouched(env: E2E) -> None:
    assert env.mutating() == []
    assert env.sim.admin.pulls("api") == []
    assert list(env.sim.admin.branches("api")) == ["main"]
    assert not (env.state_dir / "runs").exists()  # no run report: the run never started


# --- the capability table -----------------------------------------------------------------


def test_every_profile_capability_has_a_grant() -> None:
    assert set(GRANTS) == set(get_args(Capability))
    assert set(ALERT_PERMISSIONS) == set(AlertClass)


def test_repo_includes_security_events_as_githubs_scope_tree_does() -> None:
    repo = granted_scopes({"X-OAuth-Scopes": "repo, workflow"})
    assert repo is not None and {"security_events", "repo"} <= repo
    public = granted_scopes({"x-oauth-scopes": "public_repo, workflow"})
    assert public == frozenset({"public_repo", "workflow"})
    assert granted_scopes({"x-oauth-scopes": ""}) == frozenset()
    assert granted_scopes({}) is None


def test_the_fine_grained_set_follows_the_profile(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "profile": {
            "profile_id": "p",
            "owner": "acme-org",
            "owner_type": "org",
            "supported_alert_classes": ["dependabot"],
            "runtime": {"local_clone_root": str(tmp_path)},
            "defaults": {"mutation_mode": "report_only"},
        },
        "repositories": [],
    }
    profile = parse_profile(yaml.safe_dump(data), tmp_path / "p.yaml").profile
    assert list(fine_grained_permissions(profile)) == [
        "Metadata: read",
        "Dependabot alerts: read",
        "Contents: write",
        "Pull requests: write",
        "Checks: read",
        "Commit statuses: read",
    ]
    data["profile"]["supported_alert_classes"] = ["dependabot", "code_scanning"]
    data["profile"]["auth"] = {"required_capabilities": ["read_security_alerts", "push_branches"]}
    profile = parse_profile(yaml.safe_dump(data), tmp_path / "p.yaml").profile
    assert list(fine_grained_permissions(profile)) == [
        "Dependabot alerts: read",
        "Code scanning alerts: read",
        "Contents: write",
        "Workflows: write",  # code-scanning fixes edit workflow files
    ]


# --- classic tokens -----------------------------------------------------------------------


def test_classic_token_without_security_events_stops_discover_and_run(tmp_path: Path) -> None:
    with harness(tmp_path, scopes=["public_repo", "workflow"]) as env:
        code, _, output = discover(env)
        assert code == 78, output
        assert "lacks the scopes repo, security_events" in output
        assert "read_security_alerts" in output and "its scopes: public_repo, workflow" in output
        assert "fix: edit the token at https://github.com/settings/tokens" in output
        assert "Traceback" not in output

        env.sim.admin.reset()
        result, _ = env.run()
        assert result.returncode == 78, result.stderr[-2000:]
        assert "security_events" in result.stderr
        assert [r.path for r in env.sim.admin.requests()] == ["/user"]  # one request, then 78
        assert_untouched(env)


def test_classic_token_with_security_events_but_not_repo_names_repo(tmp_path: Path) -> None:
    with harness(tmp_path, scopes=["security_events", "workflow", "read:org"]) as env:
        result, _ = env.run()
        assert result.returncode == 78
        assert "lacks the scope repo," in result.stderr
        assert_untouched(env)


def test_required_capabilities_decide_which_scopes_are_needed(tmp_path: Path) -> None:
    with harness(tmp_path, scopes=["repo"]) as env:  # repo alone: security_events included
        set_auth(env, required_capabilities=["read_repository_metadata", "read_security_alerts"])
        code, data, output = discover(env)
        assert code == 0, output
        token = data["capabilities"]["token_permissions"]
        assert token["ok"] is True, token
        assert "X-OAuth-Scopes: repo;" in token["evidence"]


def test_missing_workflow_scope_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    """Decision: the workflow scope matters only for a push that touches
    .github/workflows/; GitHub refuses that push and the unit ends `blocked
    auth_insufficient` (tests/delivery/test_e2e_push.py). Everything else still runs."""
    with harness(tmp_path, scopes=["repo", "read:org"]) as env:
        code, data, output = discover(env)
        assert code == 0, output
        token = data["capabilities"]["token_permissions"]
        assert token["ok"] is False
        assert "lacks the workflow scope" in token["evidence"]
        assert "blocked auth_insufficient" in token["evidence"]
        assert any("lacks the workflow scope" in f for f in data["findings"])

        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert "lacks the workflow scope" in result.stderr  # logged up front
        assert any("lacks the workflow scope" in w for w in summary["warnings"])  # reported
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit["detail"]


def test_a_run_reads_the_account_once_and_reuses_it(tmp_path: Path) -> None:
    with harness(tmp_path) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        assert env.units(summary, outcome="merged")
        users = [r for r in env.sim.admin.requests() if r.path == "/user"]
        assert len(users) == 1  # the preflight's answer is the commit identity too
        assert env.sim.admin.requests()[0].path == "/user"  # before anything else


def test_the_scope_header_of_a_conditional_answer_is_read(tmp_path: Path) -> None:
    with harness(tmp_path, scopes=["public_repo"]) as env:
        set_auth(env, required_capabilities=[])
        assert discover(env)[0] == 0  # caches GET /user
        set_auth(env)
        code, _, output = discover(env)  # GET /user is now a 304: its headers still count
        assert code == 78, output
        assert "lacks the scopes repo, security_events" in output
        assert any(r.path == "/user" and r.status == 304 for r in env.sim.admin.requests())


def test_a_rejected_token_is_a_contract_error(tmp_path: Path) -> None:
    with harness(tmp_path, tokens=["ghp_" + "o" * 36]) as env:
        code, _, output = discover(env)
        assert code == 78, output
        assert "GitHub rejected the token" in output and "401 Bad credentials" in output
        assert TOKEN not in output


# --- auth modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["discover", "run"])
def test_a_classic_token_when_only_fine_grained_is_allowed(tmp_path: Path, command: str) -> None:
    with harness(tmp_path) as env:
        set_auth(env, supported_auth_modes=["fine_grained_pat"])
        result = env.agentd(command, "--profile", str(env.profile_path))
        assert result.returncode == 78, result.stdout + result.stderr
        assert "the token is a classic personal access token (ghp_...)" in result.stderr
        assert "auth.supported_auth_modes allows only fine_grained_pat" in result.stderr
        assert "fix: give gh a fine-grained personal access token" in result.stderr
        assert env.sim.admin.requests() == []  # refused before the token was sent anywhere
        assert_untouched(env)


# --- fine-grained tokens ------------------------------------------------------------------


def test_fine_grained_token_is_proven_by_reads(tmp_path: Path) -> None:
    with harness(tmp_path, FINE, permissions=ALL_FINE) as env:
        code, data, output = discover(env)
        assert code == 0, output
        assert data["auth"]["mode"] == "fine_grained_pat"
        token = data["capabilities"]["token_permissions"]
        assert token["ok"] is True, token
        assert "no scope header: read permissions proven by reads" in token["evidence"]
        assert "/check-runs answered" in token["evidence"]
        assert "/status answered" in token["evidence"]
        assert "Contents: write" in token["evidence"]  # named, as it cannot be read

        env.sim.admin.reset()
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit["detail"]


def test_fine_grained_token_without_dependabot_alerts_read(tmp_path: Path) -> None:
    lacking = {k: v for k, v in ALL_FINE.items() if k != "vulnerability_alerts"}
    with harness(tmp_path, FINE, permissions=lacking) as env:
        code, _, output = discover(env)
        assert code == 78, output
        assert "lacks the repository permission Dependabot alerts: read" in output
        assert "Resource not accessible by personal access token" in output
        assert "https://github.com/settings/personal-access-tokens" in output

        env.sim.admin.reset()
        result, _ = env.run()
        assert result.returncode == 78, result.stderr[-2000:]
        assert "Dependabot alerts: read" in result.stderr
        paths = [r.path for r in env.sim.admin.requests()]
        # three requests: the token's account, the owner, one probe
        assert paths == ["/user", "/users/acme-org", "/repos/acme-org/api/dependabot/alerts"]
        assert_untouched(env)


def test_fine_grained_token_without_checks_read_stops_discover(tmp_path: Path) -> None:
    lacking = {k: v for k, v in ALL_FINE.items() if k != "checks"}
    with harness(tmp_path, FINE, permissions=lacking) as env:
        code, _, output = discover(env)
        assert code == 78, output
        assert "Checks: read" in output and "read_workflow_and_check_status" in output


def test_a_permission_no_required_capability_needs_is_only_reported(tmp_path: Path) -> None:
    lacking = {k: v for k, v in ALL_FINE.items() if k != "secret_scanning_alerts"}
    with harness(tmp_path, FINE, permissions=lacking) as env:
        set_auth(env, required_capabilities=["read_repository_metadata"])
        code, data, output = discover(env)
        assert code == 0, output
        token = data["capabilities"]["token_permissions"]
        assert token["ok"] is False
        assert "lacks Secret scanning alerts: read" in token["evidence"]


# --- GitHub unreachable, a wrong owner ------------------------------------------------------


def closed_port_url() -> str:
    """A loopback URL nothing listens on: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def metrics_success(directory: Path) -> str:
    text = (directory / "agentd_e2e.prom").read_text()
    return re.search(r'agentd_last_run_success\{profile="e2e"\} (\d)', text).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("command", ["discover", "run"])
@pytest.mark.parametrize("failure", ["connection refused", "TLS failure"])
def test_an_unreachable_github_is_one_line_and_exit_75(
    tmp_path: Path, command: str, failure: str
) -> None:
    """Refused (nothing listens) and TLS (https to a plain-http server): a few quick tries,
    then one line naming the URL, the cause and where the URL came from; exit 75; no unit
    reported with a token's advice; the metrics say the run did not succeed."""
    with harness(tmp_path) as env:
        metrics = tmp_path / "metrics"
        if command == "run":  # a good run first: its success must not survive the bad one
            result, _ = env.run(AGENTD_METRICS_DIR=str(metrics))
            assert result.returncode == 0 and metrics_success(metrics) == "1"
        url = closed_port_url() if failure == "connection refused" else env.sim.rest_url
        url = url.replace("http://", "https://") if failure == "TLS failure" else url
        started = time.monotonic()
        result = env.agentd(
            command, "--profile", str(env.profile_path), "--json",
            AGENTD_API_URL=url, AGENTD_METRICS_DIR=str(metrics),
        )  # fmt: skip
        assert time.monotonic() - started < 20
        assert result.returncode == 75, result.stderr[-2000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("agentd: error")]
        [error] = errors
        assert error.startswith(f"agentd: error: cannot reach GitHub at {url}: {failure}"), error
        assert "fix: check AGENTD_API_URL" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert "auth_insufficient" not in result.stderr and "grant" not in result.stderr
        retries = [line for line in result.stderr.splitlines() if "retrying GitHub request" in line]
        assert len(retries) <= 2
        if command == "run":
            assert metrics_success(metrics) == "0"


@pytest.mark.parametrize("command", ["discover", "run"])
def test_a_wrong_owner_is_a_contract_error(tmp_path: Path, command: str) -> None:
    with harness(tmp_path) as env:
        data = yaml.safe_load(env.profile_path.read_text())
        data["profile"]["owner"] = "acme-orgg"
        env.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
        result = env.agentd(command, "--profile", str(env.profile_path))
        assert result.returncode == 78, result.stdout + result.stderr
        assert "agentd: error: owner 'acme-orgg' not found on http://127.0.0.1:" in result.stderr
        assert "fix: fix profile.owner" in result.stderr
        assert "grant" not in result.stdout + result.stderr
        assert env.mutating() == []


def test_an_owner_of_the_other_kind_is_a_contract_error(tmp_path: Path) -> None:
    with harness(tmp_path) as env:
        data = yaml.safe_load(env.profile_path.read_text())
        data["profile"]["owner_type"] = "user"
        env.profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
        result = env.agentd("discover", "--profile", str(env.profile_path))
        assert result.returncode == 78, result.stdout + result.stderr
        assert "owner 'acme-org' is an organisation on" in result.stderr
        assert "but profile.owner_type is user" in result.stderr
        assert "fix: set profile.owner_type: org" in result.stderr


@pytest.mark.parametrize("command", ["discover", "run"])
def test_a_url_that_is_no_github_api_is_a_contract_error(tmp_path: Path, command: str) -> None:
    with harness(tmp_path) as env:
        url = env.sim.rest_url + "/not-the-api"
        result = env.agentd(command, "--profile", str(env.profile_path), AGENTD_API_URL=url)
        assert result.returncode == 78, result.stderr[-2000:]
        assert f"agentd: error: {url} does not answer as a GitHub REST API: GET /user" in (
            result.stderr
        )
        assert "fix: check AGENTD_API_URL: github.com's API is https://api.github.com" in (
            result.stderr
        )
        assert "Traceback" not in result.stderr


def test_a_github_that_keeps_failing_is_temporary(tmp_path: Path) -> None:
    with harness(tmp_path) as env:
        env.sim.admin.inject("status", count=20, status=502, route="/user$")
        result = env.agentd("discover", "--profile", str(env.profile_path))
        assert result.returncode == 75, result.stderr[-2000:]
        assert (
            f"agentd: error: GitHub at {env.sim.rest_url} keeps failing: GET /user failed "
            "after retries: server error 502"
        ) in result.stderr
        assert "fix: nothing was read or changed; the next run retries" in result.stderr
