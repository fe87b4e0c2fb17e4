"""Remediation near the request floor (issue 17): what a merged unit asks of GitHub.

A repository's open PRs are listed once per run (lookup, adoption and reconcile share the
listing), its base's branch, protection and rules are read once per run, agentd's own PR is
read once before the merge (no wait for `mergeable`, no file list: agentd knows what it
pushed), statuses are not read when every required check is a check run, and the merge is
pinned to the sha agentd pushed. Counted on the simulator's request log, through the real
CLI.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from e2e import E2E, e2e, verify_ok

REPO = "/repos/acme-org/api"
# Reads and writes only a unit (or the units of its repository) makes; discovery's reads
# (the token, the owner, the alert streams, the repository itself) are not counted here.
UNIT_ROUTE = re.compile(r"^/repos/acme-org/api/(pulls|issues|branches|rules|commits)(/|$)")


def target(name: str) -> dict[str, Any]:
    return {
        "target_id": name,
        "path": name,
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok()],
    }


def scenario(**extra: Any) -> dict[str, Any]:
    repo = {
        "name": "api",
        "files": {
            "a/requirements.txt": "requests==2.25.0\n",
            "b/requirements.txt": "requests==2.25.0\n",
        },
        "checks": [{"name": "ci", "outcome": "success"}],
        **extra,
    }
    return {"owner": {"login": "acme-org", "type": "org"}, "repositories": [repo]}


def unit_requests(env: E2E) -> Counter[str]:
    counts: Counter[str] = Counter()
    for request in env.sim.admin.requests():
        if UNIT_ROUTE.match(request.path):
            route = re.sub(r"/[0-9a-f]{40}/", "/{sha}/", request.path.removeprefix(REPO))
            route = re.sub(r"/[0-9]+(/|$)", r"/{n}\1", route)
            counts[f"{request.method} {route}"] += 1
    return counts


def test_a_merged_unit_costs_at_most_eight_requests_and_shared_reads_happen_once(
    tmp_path: Path,
) -> None:
    admin = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
    protection = {"required_checks": ["ci"]}
    with e2e(
        tmp_path,
        scenario(protection=protection, permissions=admin),
        [{"repo": "api", "targets": [target("a"), target("b")]}],
    ) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        units = env.units(summary, alert_class="dependabot")
        assert sorted(u["outcome"] for u in units) == ["merged", "merged"], units
        counts = unit_requests(env)
        # Once per repository and run, whatever the units, iterations and reconcile do.
        assert counts["GET /pulls"] == 1, counts
        assert counts["GET /branches/main"] == 1, counts
        assert counts["GET /branches/main/protection"] == 1, counts
        assert counts["GET /rules/branches/main"] == 1, counts
        # agentd knows the files of the commit it pushed; the required check is a check run.
        assert counts["GET /pulls/{n}/files"] == 0, counts
        assert counts["GET /commits/{sha}/status"] == 0, counts
        # What each unit needs: create, label, the PR as it is now, the checks of its head,
        # reviews, the merge.
        for route in (
            "POST /pulls",
            "POST /issues/{n}/labels",
            "GET /pulls/{n}",
            "GET /commits/{sha}/check-runs",
            "GET /pulls/{n}/reviews",
            "PUT /pulls/{n}/merge",
        ):
            assert counts[route] == 2, (route, counts)
        alert_rereads = _alert_rereads(env)
        shared = 4  # the PR listing, the branch, its protection, its rules
        per_unit = (sum(counts.values()) - shared + alert_rereads) / 2
        assert per_unit <= 8, (per_unit, counts, alert_rereads)


def _alert_rereads(env: E2E) -> int:
    """The alerts a unit re-reads before publish and before merge (SPEC §10), told apart
    from discovery's reads by their place: between the PR listing and the last merge."""
    requests = env.sim.admin.requests()
    first = next(i for i, r in enumerate(requests) if r.path == f"{REPO}/pulls")
    last = max(i for i, r in enumerate(requests) if r.path.endswith("/merge"))
    return sum(1 for r in requests[first:last] if r.path == f"{REPO}/dependabot/alerts")


def test_the_merge_is_tried_with_the_pinned_sha_without_waiting_for_mergeable(
    tmp_path: Path,
) -> None:
    """GitHub may answer `mergeable: null` for a while; the merge call decides mergeability
    itself, so agentd reads the PR once and neither sleeps nor polls."""
    with e2e(
        tmp_path,
        scenario(mergeable_unknown_reads=1000),
        [{"repo": "api", "targets": [target("a")]}],
    ) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        [unit] = env.units(summary, alert_class="dependabot", target_id="a")
        assert unit["outcome"] == "merged", unit["detail"]
        [merge] = [r for r in env.sim.admin.requests() if r.path.endswith("/merge")]
        [pull] = env.sim.admin.pulls("api")
        assert merge.method == "PUT" and merge.status == 200
        assert json.loads(merge.body)["sha"] == pull["head_sha"]
        assert unit_requests(env)["GET /pulls/{n}"] == 1
