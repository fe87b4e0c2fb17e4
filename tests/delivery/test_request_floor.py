"""Remediation near the request floor (issue 17): what a merged unit asks of GitHub.

A repository's open PRs are listed at most once per run (lookup, adoption and reconcile
share the listing; none when the listing's `open_issues_count` is 0), its base's rules once
per run (protection for an admin, the branch's summary for anyone else), the PR agentd just
created is not read back (only GitHub's `mergeable_state` may need it) and has no reviews to
read, no file list (agentd knows what it pushed), statuses are not read when every required
check is a check run, the alerts read before publish stand for the merge moments later, and
the merge is pinned to the sha agentd pushed. Counted on the simulator's request log, through
the real CLI.
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


ADMIN = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
# What each unit needs whatever the token: its PR created and labelled, the checks of its
# head, the merge pinned to it.
PER_UNIT = ("POST /pulls", "POST /issues/{n}/labels", "GET /commits/{sha}/check-runs",
            "PUT /pulls/{n}/merge")  # fmt: skip


def two_merged_units(tmp_path: Path, **repo: Any) -> tuple[Counter[str], int]:
    """Two units of one repository through the real CLI, both merged: the requests the units
    made by route, and their alert re-reads."""
    with e2e(
        tmp_path,
        scenario(protection={"required_checks": ["ci"]}, **repo),
        [{"repo": "api", "targets": [target("a"), target("b")]}],
    ) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-3000:]
        units = env.units(summary, alert_class="dependabot")
        assert sorted(u["outcome"] for u in units) == ["merged", "merged"], units
        return unit_requests(env), _alert_rereads(env)


def test_a_merged_unit_costs_at_most_eight_requests_and_shared_reads_happen_once(
    tmp_path: Path,
) -> None:
    """An admin token: classic protection is read directly (no branch read); the PR agentd
    just created is neither read back nor asked for reviews (none can exist yet); the
    repository has no open issue or PR (`open_issues_count` 0), so there is nothing to list."""
    counts, alert_rereads = two_merged_units(tmp_path, permissions=ADMIN)
    # Once per repository and run, whatever the units, iterations and reconcile do.
    assert counts["GET /branches/main/protection"] == 1, counts
    assert counts["GET /rules/branches/main"] == 1, counts
    for route in ("GET /pulls", "GET /branches/main", "GET /pulls/{n}",
                  "GET /pulls/{n}/reviews", "GET /pulls/{n}/files",
                  "GET /commits/{sha}/status"):  # fmt: skip
        assert counts[route] == 0, (route, counts)
    for route in PER_UNIT:
        assert counts[route] == 2, (route, counts)
    assert alert_rereads == 2, alert_rereads  # one per unit: before publish, and merge
    shared = 2  # the protection, the rules
    per_unit = (sum(counts.values()) - shared + alert_rereads) / 2
    assert per_unit <= 6, (per_unit, counts, alert_rereads)


def test_a_non_admin_token_reads_the_summary_and_githubs_verdict_once_per_unit(
    tmp_path: Path,
) -> None:
    """Not an admin (the listing says so): the branch's protection summary instead of the
    protection GitHub would refuse, and — the review requirement being unreadable — the PR
    once for GitHub's `mergeable_state`; still no reviews read for a PR created moments ago."""
    counts, alert_rereads = two_merged_units(tmp_path)
    assert counts["GET /branches/main"] == 1, counts
    assert counts["GET /rules/branches/main"] == 1, counts
    assert counts["GET /pulls/{n}"] == 2, counts
    for route in ("GET /pulls", "GET /branches/main/protection", "GET /pulls/{n}/reviews"):
        assert counts[route] == 0, (route, counts)
    for route in PER_UNIT:
        assert counts[route] == 2, (route, counts)
    per_unit = (sum(counts.values()) - 2 + alert_rereads) / 2
    assert per_unit <= 7, (per_unit, counts)


def test_a_repository_with_open_issues_or_prs_is_listed_once(tmp_path: Path) -> None:
    counts, _ = two_merged_units(tmp_path, permissions=ADMIN, open_issues=3)
    assert counts["GET /pulls"] == 1, counts


def _alert_rereads(env: E2E) -> int:
    """The repository's own alert reads: the re-reads before publish and merge (SPEC §10);
    discovery reads the organisation's stream, so any read here is a unit's."""
    return sum(1 for r in env.sim.admin.requests() if r.path == f"{REPO}/dependabot/alerts")


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
        assert unit_requests(env)["GET /pulls/{n}"] == 0  # the create call's answer stands
