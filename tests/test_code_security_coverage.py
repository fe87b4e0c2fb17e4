"""Code-scanning coverage from the organisation's code security configurations: a repository
absent from the code-scanning stream and attached (attached/enforced) to a configuration that
enables default setup is settled without a per-repository probe; anything else is probed as
before, and a configuration never hides an alert the stream shows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from e2e import e2e

from agentd.simulator.http import LoggedRequest

CONFIGURATIONS = "/orgs/{org}/code-security/configurations"
ATTACHED = "/orgs/{org}/code-security/configurations/{configuration_id}/repositories"
WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"  # fmt: skip


def repo(name: str, code_scanning: str = "enabled", files: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "files": files or {"README.md": "x\n"},
        "features": {"code_scanning": code_scanning},
    }


def scenario(**overrides: Any) -> dict[str, Any]:
    """`default-on` and `enforced` (no analysis of its own until default setup ran) are
    under a configuration that enables default setup; `alerting` too, with open alerts;
    `plain` is attached nowhere, `setup-off` to a configuration whose default setup is
    disabled, `attaching` is still being attached."""
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            repo("default-on"),
            repo("enforced", "no_analysis"),
            repo("alerting", files={".github/workflows/ci.yml": WORKFLOW}),
            repo("plain"),
            repo("setup-off"),
            repo("attaching"),
        ],
        "code_security_configurations": [
            {
                "name": "GitHub recommended",
                "target_type": "global",
                "code_scanning_default_setup": "not_set",
            },
            {
                "name": "org default",
                "repositories": {
                    "default-on": "attached",
                    "enforced": "enforced",
                    "alerting": "attached",
                    "attaching": "attaching",
                },
            },
            {
                "name": "no default setup",
                "code_scanning_default_setup": "disabled",
                "repositories": {"setup-off": "attached"},
            },
        ],
        **overrides,
    }


REPOS = [
    {"repo": name}
    for name in ("default-on", "enforced", "alerting", "plain", "setup-off", "attaching")
]


def discover(env: Any) -> dict[str, dict[str, Any]]:
    result = env.agentd("discover", "--profile", str(env.profile_path), "--json")
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    data = json.loads(result.stdout)
    return {r["repo"]: r["coverage"]["code_scanning"] for r in data["repos"]}


def code_probes(requests: list[LoggedRequest]) -> set[str]:
    return {
        r.path.split("/")[3]
        for r in requests
        if r.route == "/repos/{owner}/{repo}/code-scanning/alerts"
    }


def test_a_repository_under_a_default_setup_configuration_is_not_probed(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), REPOS) as env:
        coverage = discover(env)
        requests = env.sim.admin.requests()
        assert code_probes(requests) == {"plain", "setup-off", "attaching"}
        routes = Counter(r.route for r in requests)
        # the configurations once, and the attached repositories of the one enabling
        # default setup only, filtered by GitHub to attached/enforced
        assert routes[CONFIGURATIONS] == 1 and routes[ATTACHED] == 1, routes
        attached = next(r for r in requests if r.route == ATTACHED)
        assert attached.path.endswith("/18/repositories")
        assert attached.query["status"] == "attached,enforced"
        for name in ("default-on", "enforced"):
            assert coverage[name]["coverage"] == "enabled" and coverage[name]["open_alerts"] == 0
            assert "'org default'" in coverage[name]["detail"], coverage[name]
        # the stream's alerts are never hidden by a configuration
        assert coverage["alerting"]["open_alerts"] == 1, coverage["alerting"]
        assert coverage["plain"] == {"coverage": "enabled", "open_alerts": 0, "detail": ""}


def test_configurations_refused_fall_back_to_probes(tmp_path: Path) -> None:
    """A token that is neither an owner nor a security manager gets 403: every repository
    absent from the stream is probed, and discovery succeeds. (Repository admin: its
    secret-scanning alerts stay readable.)"""
    refused = scenario(viewer={"security_manager": False})
    for entry in refused["repositories"]:
        entry["permissions"] = {"admin": True}
    with e2e(tmp_path, refused, REPOS) as env:
        coverage = discover(env)
        requests = env.sim.admin.requests()
        asked = [r for r in requests if r.route == CONFIGURATIONS]
        assert [r.status for r in asked] == [403]
        assert not [r for r in requests if r.route == ATTACHED]
        probed = code_probes(requests)
        assert {"default-on", "enforced", "plain", "setup-off", "attaching"} <= probed
        assert coverage["default-on"]["coverage"] == "enabled"
        assert coverage["alerting"]["open_alerts"] == 1


def test_a_fine_grained_token_without_organisation_administration_is_refused(
    tmp_path: Path,
) -> None:
    repo_permissions = {
        name: "write"
        for name in ("metadata", "vulnerability_alerts", "security_events", "contents",
                     "secret_scanning_alerts", "pull_requests", "issues", "administration",
                     "checks", "statuses")
    }  # fmt: skip
    auth = {"fine_grained": True, "permissions": repo_permissions}
    with e2e(tmp_path, scenario(auth=auth), REPOS) as env:
        discover(env)
        requests = env.sim.admin.requests()
        assert [r.status for r in requests if r.route == CONFIGURATIONS] == [403]
        assert "default-on" in code_probes(requests)


def test_a_run_reads_the_configurations_once(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario(), REPOS) as env:
        result, _summary = env.run("--mutation-mode", "report_only")
        assert result.returncode == 0, result.stderr[-2000:]
        routes = Counter(r.route for r in env.sim.admin.requests())
        assert routes[CONFIGURATIONS] == 1 and routes[ATTACHED] == 1, routes


def test_a_configuration_attached_later_wins_over_a_remembered_no_analysis(
    tmp_path: Path,
) -> None:
    """`enforced` answered "no analysis" before its configuration existed (remembered for
    hours); attached to default setup now, it is enabled without waiting for the memory."""
    before = scenario(code_security_configurations=[])
    with e2e(tmp_path, before, REPOS) as env:
        assert discover(env)["enforced"]["coverage"] == "no_analysis"
        env.sim.admin.reset()
        env.sim.world.scenario.code_security_configurations = (
            type(env.sim.world.scenario).model_validate(scenario()).code_security_configurations
        )
        env.sim.world.repos["enforced"].config.features.code_scanning = "enabled"
        coverage = discover(env)
        assert coverage["enforced"]["coverage"] == "enabled", coverage["enforced"]
        assert "enforced" not in code_probes(env.sim.admin.requests())
