"""Kill the run with SIGKILL at every mutation point; the next run converges (issue 8/8)."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
from e2e import e2e

from agentd.faults import POINTS

NATIVE = {
    "branch": "dependabot/pip/jinja2-3.1.4",
    "title": "Bump jinja2 from 3.1.2 to 3.1.4",
    "body": "Bumps [jinja2](https://github.com/pallets/jinja) from 3.1.2 to 3.1.4.",
    "files": {"requirements.txt": "jinja2==3.1.4\n"},
}


def scenario() -> dict[str, Any]:
    green = {
        "checks": [{"name": "ci", "outcome": "success"}],
        "protection": {"required_checks": ["ci"]},
    }
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}, **green},
            {
                "name": "web",
                "files": {"requirements.txt": "jinja2==3.1.2\n"},
                "dependabot_prs": [NATIVE],
                **green,
            },
        ],
    }


def final_state(env: Any) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for repo in ("api", "web"):
        pulls = env.sim.admin.pulls(repo)
        heads = collections.Counter(p["head"] for p in pulls)
        assert all(n == 1 for n in heads.values()), heads  # one PR per branch, never duplicated
        state[repo] = {
            "merged": sorted(p["head"].split("/")[1] for p in pulls if p["merged"]),
            "open": sorted(p["head"] for p in pulls if p["state"] == "open"),
            "alerts": sorted(a["state"] for a in env.sim.admin.alerts(repo, "dependabot")),
            "branches": sorted(b.split("/")[0] for b in env.sim.admin.branches(repo)),
        }
    return state


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with e2e(
        tmp_path_factory.mktemp("reference"), scenario(), [{"repo": "api"}, {"repo": "web"}]
    ) as env:
        result, _ = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        return final_state(env)


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_every_point_then_converge(
    tmp_path: Path, point: str, reference: dict[str, Any]
) -> None:
    with e2e(tmp_path, scenario(), [{"repo": "api"}, {"repo": "web"}]) as env:
        killed, _ = env.run(AGENTD_FAULT_POINT=point)
        assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-1000:])
        lock = env.sim.workdir / "clones" / ".github-security-agent.e2e.lock"
        held = lock.exists()
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        assert final_state(env) == reference
        assert (env.state_dir / "runs" / "e2e" / "latest.json").exists()
        assert summary["finished_at"]
        if held:
            assert summary["lock_recovery"] is not None
            assert "no longer running" in summary["lock_recovery"]["reason"]
        assert not lock.exists()
