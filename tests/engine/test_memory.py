"""A unit is done again in a run only when its inputs changed (issue 17, item 2).

With checks pending, the iteration after the one that opened the PR used to run the whole
unit again (updater, verification, push lookup) for nothing; now it only re-checks the
review gate on the PR it already has. Counted through the real CLI's debug log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e import E2E, e2e


def scenario(outcome: str) -> dict[str, Any]:
    repo = {
        "name": "api",
        "files": {"requirements.txt": "requests==2.25.0\n"},
        "checks": [{"name": "ci", "outcome": outcome}],
        "protection": {"required_checks": ["ci"]},
        "permissions": {"admin": True, "maintain": True, "push": True, "pull": True},
    }
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": [repo]}


def events(stderr: str, message: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in stderr.splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("msg") == message]


def check_reads(env: E2E) -> list[str]:
    return [r.path for r in env.sim.admin.requests() if r.path.endswith("/check-runs")]


def test_a_pending_unit_is_not_redone_only_its_gate_is_checked_again(tmp_path: Path) -> None:
    with e2e(tmp_path, scenario("pending"), [{"repo": "api"}]) as env:
        result, summary = env.run("-v")
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot")
        assert (unit["outcome"], unit["remaining_blocker"]) == ("opened_pr", "checks_pending")
        assert summary["iterations"]["dependabot"] == 2  # the PR it opened asks for a look again
        # The updater and verification ran once, in the first iteration, not again.
        assert len(events(result.stderr, "change made and re-checked")) == 1
        assert len(events(result.stderr, "verified")) == 1
        [unchanged] = events(result.stderr, "unit unchanged since an earlier pass of this run")
        assert unchanged["next"] == "re-check the review gate"
        # The gate itself was checked in both iterations, on the same pinned head.
        reads = check_reads(env)
        assert len(reads) == 2 and len(set(reads)) == 1
        assert unit["verification_provenance"] == "observed"


def test_a_unit_whose_base_moved_is_done_again(tmp_path: Path) -> None:
    """The base commit is an input: a commit on the base makes the unit run again (rebuilt
    on the new base and pushed), and only the iteration after that finds it unchanged."""
    with e2e(tmp_path, scenario("pending"), [{"repo": "api"}]) as env:
        env.sim.admin.inject(
            "push", route=r"/issues/\d+/labels$", method="POST",
            push={"repo": "api", "branch": "main", "files": {"README.md": "moved\n"}},
        )  # fmt: skip
        result, summary = env.run("-v")
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(events(result.stderr, "change made and re-checked")) == 2
        assert len(events(result.stderr, "unit unchanged since an earlier pass of this run")) == 1
        assert summary["iterations"]["dependabot"] == 3
