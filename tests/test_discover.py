"""`agentd discover` against the simulator with the real gh binary."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import TOKEN, e2e

SCENARIO: dict[str, Any] = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {
                "requirements.txt": "requests==2.25.0\n",
                ".env": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7DISCOVR\n",
            },
        },
        {
            "name": "web",
            "files": {"README.md": "x"},
            "features": {"code_scanning": "disabled", "secret_scanning": "disabled"},
        },
        {"name": "docs", "files": {"README.md": "x"}, "features": {"code_scanning": "no_analysis"}},
    ],
}
REPOS = [{"repo": "api"}, {"repo": "web"}, {"repo": "docs"}]


def discover(env: Any, **extra_env: str) -> tuple[int, dict[str, Any], str]:
    result = env.agentd("discover", "--profile", str(env.profile_path), "--json", **extra_env)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = {}
    return result.returncode, data, result.stdout + result.stderr


def test_coverage_is_reported_never_as_zero_alerts(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        code, data, output = discover(env)
        assert code == 0, output[-2000:]
        repos = {r["repo"]: r for r in data["repos"]}
        assert repos["api"]["coverage"]["dependabot"] == {
            "coverage": "enabled",
            "open_alerts": 3,
            "detail": "",
        }
        assert repos["api"]["coverage"]["secret_scanning"]["open_alerts"] == 1
        assert repos["web"]["coverage"]["code_scanning"]["coverage"] == "disabled"
        assert repos["web"]["coverage"]["code_scanning"]["open_alerts"] is None
        assert repos["web"]["coverage"]["secret_scanning"]["coverage"] == "disabled"
        assert repos["docs"]["coverage"]["code_scanning"]["coverage"] == "no_analysis"
        assert data["auth"]["mode"] == "classic_pat"
        assert data["auth"]["login"] == "agentd-bot"
        assert data["used_org_endpoints"] is True
        assert all(c["ok"] for c in data["capabilities"].values()), data["capabilities"]
        assert data["lock"]["state"] == "absent"
        assert env.mutating() == []
        table = env.agentd("discover", "--profile", str(env.profile_path))
        assert "no analysis" in table.stdout and "disabled" in table.stdout


def test_canary_token_never_leaves_gh(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        code, _, output = discover(env, AGENTD_LOG_LEVEL="DEBUG")
        assert code == 0
        assert TOKEN not in output
        for file in env.state_dir.rglob("*"):
            if file.is_file():
                assert TOKEN.encode() not in file.read_bytes(), file
        assert any((env.state_dir / "http-cache").rglob("*.json"))
        secret = "AKIAIOSFODNN7DISCOVR"
        for file in env.state_dir.rglob("*"):
            if file.is_file():
                assert secret.encode() not in file.read_bytes(), file


@pytest.mark.parametrize(
    ("env_vars", "needle"),
    [
        ({"GH_TOKEN": "ghs_" + "a" * 36}, "App installation token"),
        ({"GH_TOKEN": "gho_" + "a" * 36}, "OAuth app token"),
        ({"GH_TOKEN": "ghu_" + "a" * 36}, "user-to-server"),
        (
            {"GH_TOKEN": "", "GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_" + "b" * 36},
            "inside GitHub Actions",
        ),
    ],
)
def test_non_pat_tokens_are_refused(tmp_path: Path, env_vars: dict[str, str], needle: str) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        code, _, output = discover(env, **env_vars)
        assert code == 78, output
        assert needle in output
        assert "personal access token" in output
        assert "Traceback" not in output
        assert env.sim.admin.requests() == []


def test_second_discover_is_conditional_and_free(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        discover(env)
        used_before = env.sim.admin.rate_limit(TOKEN)["used"]
        env.sim.admin.reset()
        code, data, _ = discover(env)
        assert code == 0
        requests = env.sim.admin.requests()
        # Coverage answers (403/404) carry no validators; every list that had one is a 304.
        cached_lists = [r for r in requests if "alerts" in r.route and r.status < 400]
        assert cached_lists and all(r.status == 304 for r in cached_lists), [
            (r.path, r.status) for r in cached_lists
        ]
        counted = [r for r in requests if r.status != 304 and r.path != "/rate_limit"]
        assert env.sim.admin.rate_limit(TOKEN)["used"] - used_before == len(counted)
        # The three organisation streams and the repository listing, all conditional.
        assert {r.route for r in cached_lists} >= {
            f"/orgs/{{org}}/{kind}/alerts"
            for kind in ("dependabot", "code-scanning", "secret-scanning")
        }
        assert [r.status for r in requests if r.route == "/orgs/{org}/repos"] == [304]
        assert {r["repo"]: r["coverage"]["dependabot"]["open_alerts"] for r in data["repos"]}[
            "api"
        ] == 3


def test_faults_are_retried_and_the_result_is_complete(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        env.sim.admin.inject("status", count=3, status=502, route="/dependabot/alerts")
        env.sim.admin.inject("drop", count=1, route="/repos/acme-org/web$")
        env.sim.admin.inject("secondary", count=1, retry_after=2, route="/code-scanning/alerts")
        started = time.monotonic()
        code, data, output = discover(env)
        assert code == 0, output[-2000:]
        assert time.monotonic() - started >= 2.0  # retry-after honoured
        repos = {r["repo"]: r for r in data["repos"]}
        assert repos["api"]["coverage"]["dependabot"]["open_alerts"] == 3
        assert repos["web"]["error"] == ""
        statuses = [r.status for r in env.sim.admin.requests()]
        assert statuses.count(502) == 3


def test_primary_exhaustion_stops_with_75_and_no_partial_inventory(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        env.sim.admin.set_rate_limit(TOKEN, used=4995, limit=5000)
        code, data, output = discover(env)
        assert code == 75, output[-2000:]
        assert "rate_limited" in output
        assert data == {}


# --- discover as a pre-flight check ---------------------------------------------------------


def test_discover_exits_78_when_a_clone_is_missing(tmp_path: Path) -> None:
    with e2e(tmp_path, SCENARIO, REPOS) as env:
        clone = env.sim.workdir / "clones" / "docs"
        shutil.rmtree(clone)
        code, data, output = discover(env)
        assert code == 78, output[-2000:]
        [problem] = data["problems"]
        assert problem.startswith(f"docs: clone missing at {clone}")
        assert "clone it there, or fix its local_path" in problem
        assert any("code_scanning disabled" in note for note in data["notes"])  # facts, not faults
        assert "agentd: error: discover found 1 problem a run would hit (first: docs:" in output
        table = env.agentd("discover", "--profile", str(env.profile_path))
        assert table.returncode == 78
        assert "problems (a run would hit these):\n  - docs: clone missing" in table.stdout


def test_a_required_capability_the_token_lacks_fails_discover(tmp_path: Path) -> None:
    scenario = {**SCENARIO, "repositories": [
        {**SCENARIO["repositories"][0], "permissions": {"push": False}},
        *SCENARIO["repositories"][1:],
    ]}  # fmt: skip
    with e2e(tmp_path, scenario, REPOS) as env:
        code, data, output = discover(env)
        assert code == 78, output[-2000:]
        assert data["capabilities"]["push_branches"]["ok"] is False
        assert any(
            p.startswith("capability push_branches is missing: push permission on 2/3")
            and p.endswith("remove it from auth.required_capabilities")
            for p in data["problems"]
        ), data["problems"]

        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["auth"] = {
            "required_capabilities": ["read_repository_metadata", "read_security_alerts"]
        }
        env.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))
        code, data, output = discover(env)
        assert code == 0, output[-2000:]  # not required: worth a note, not a failure
        assert any("push_branches is missing" in n for n in data["notes"]), data["notes"]


def test_a_misspelt_verification_command_is_a_configuration_problem(tmp_path: Path) -> None:
    target = {
        "target_id": "root",
        "ecosystems": ["pip"],
        "verification_commands": ["pytset -q", "./scripts/check"],  # the second: at run time
    }
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        code, data, output = discover(env)
        assert code == 78, output[-2000:]
        [repo] = data["repos"]
        assert repo["targets"][0]["missing_programs"] == ["pytset"]
        assert data["problems"] == [
            "api/root: verification command `pytset` not found on the PATH verification uses: "
            "fix the profile's verification_commands, or install it"
        ]
        assert data["capabilities"]["verification_sandbox"]["ok"] is True  # it starts here


def test_a_ci_target_s_commands_are_not_checked_on_this_host(tmp_path: Path) -> None:
    """`verification: ci` runs no command here: discover reported a program it will never
    start as a problem (exit 78) and its workdir as missing."""
    target = {
        "target_id": "root",
        "ecosystems": ["pip"],
        "verification": "ci",
        "verification_commands": ["pytset -q"],
        "verification_workdir": "not-here",
    }
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        code, data, output = discover(env)
        [repo] = data["repos"]
        assert repo["targets"][0]["missing_programs"] == []
        assert repo["targets"][0]["workdir_ok"] is True
        assert not any("pytset" in p or "not-here" in p for p in data["problems"]), data
        assert code == 0, output[-2000:]
