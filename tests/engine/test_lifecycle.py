"""The unit lifecycle driven through a fake plug-in: every branch, no simulator.

The workspace is a real git worktree of a real (local) clone and verification really runs
the target's command, which checks the fake change; publishing and merging are replaced at
the engine's seam to `agentd.delivery`, so each test sees exactly what the engine asked
delivery to do.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gitrepos import git, make_remote_and_clone
from support import base_profile, write_profile

from agentd.alerts.interface import (
    AlertPlugin,
    Change,
    Description,
    Hold,
    Orphan,
    Proposal,
    Unit,
    new_unit,
)
from agentd.delivery.merge import MergeOutcome, MergeRequest
from agentd.delivery.publish import Published
from agentd.engine import lifecycle
from agentd.engine.context import Budget, RunContext, Workspace
from agentd.environment import AllowedEnvironment
from agentd.errors import RateLimitedError, UnitError
from agentd.github.models import Account, PullRequest, RepositoryRef
from agentd.gitops import GitEnvironment, PushRejectedError
from agentd.inventory import ClassInventory
from agentd.mutation import MutationPolicy
from agentd.profile import Repository, load_profile
from agentd.stamp import Stamp, stamped_body
from agentd.verify import VerificationResult
from agentd.vocabulary import (
    AlertClass,
    MutationMode,
    Outcome,
    Provenance,
    PRSource,
    ReasonCode,
    UnitPass,
    UnitResult,
)

CHECK = "import pathlib, sys; sys.exit(pathlib.Path('fix.txt').read_text() != 'fixed\\n')"
HOOKS = ("propose", "apply", "recheck", "hold", "describe")


def pull_json(number: int, ref: str, user: str = "agentd-bot", sha: str = "1" * 40) -> PullRequest:
    return PullRequest.model_validate(
        {
            "number": number,
            "state": "open",
            "title": "t",
            "body": "",
            "user": {"login": user},
            "head": {"ref": ref, "sha": sha},
            "base": {"ref": "main", "sha": "2" * 40},
            "html_url": f"https://github.invalid/acme-org/api/pull/{number}",
        }
    )


@dataclass
class FakePlugin(AlertPlugin):
    """Writes `fix.txt`; every hook can be told to refuse or to crash."""

    content: str = "fixed\n"
    refuse: dict[str, UnitError] = field(default_factory=dict)
    crash: str | None = None
    hold_value: Hold | None = None
    adoptable: list[PullRequest] = field(default_factory=list)
    open_now: tuple[int, ...] = (3,)  # the alerts GitHub reports open when re-read
    merges: bool = True
    calls: list[str] = field(default_factory=list)

    alert_class = AlertClass.DEPENDABOT
    disabled_reason = ReasonCode.UNSUPPORTED_ALERT_CLASS

    @property  # type: ignore[override]
    def may_merge(self) -> bool:
        return self.merges

    def _enter(self, hook: str) -> None:
        self.calls.append(hook)
        if self.crash == hook:
            raise KeyError(f"bug in {hook}")
        if hook in self.refuse:
            raise self.refuse[hook]

    def plan(
        self, ctx: RunContext, repo: Repository, alerts: ClassInventory, base: str, default: str
    ) -> list[Unit]:
        return []

    def propose(self, ctx: RunContext, unit: Unit, ws: Workspace) -> Proposal:
        self._enter("propose")
        return Proposal("change fix.txt", ["fix.txt: vulnerable → fixed"])

    def candidates(self, ctx: RunContext, unit: Unit, proposal: Proposal) -> list[PullRequest]:
        return self.adoptable

    def apply(self, ctx: RunContext, unit: Unit, proposal: Proposal, ws: Workspace) -> Change:
        self._enter("apply")
        (ws.path / "fix.txt").write_text(self.content)
        return Change(files=["fix.txt"], summary=["fix.txt changed"])

    def recheck(self, ctx: RunContext, unit: Unit, change: Change, ws: Workspace) -> None:
        self._enter("recheck")

    def hold(self, ctx: RunContext, unit: Unit, change: Change) -> Hold | None:
        self._enter("hold")
        return self.hold_value

    def describe(
        self,
        ctx: RunContext,
        unit: Unit,
        change: Change,
        verification: VerificationResult,
        hold: Hold | None,
    ) -> Description:
        self._enter("describe")
        stamp = Stamp(
            remediation_key=unit.key,
            alert_class=AlertClass.DEPENDABOT,
            target_id=unit.target_id,
            base_branch=unit.base,
            advisory_ids=["GHSA-2222-3333-4444"],
            agent_version="0",
            last_pass_at="2026-12-01T00:00:00+00:00",
        )
        return Description("fix it", "body", "fix: it\n", stamp)

    def open_alerts(self, ctx: RunContext, repo: Repository) -> set[int]:
        self.calls.append("open_alerts")
        return set(self.open_now)

    def orphaned(self, ctx: RunContext, repo: Repository, stamp: Stamp) -> Orphan:
        return Orphan(ReasonCode.SUPERSEDED, "gone")


@dataclass
class Delivery:
    """What the engine asked of `agentd.delivery`, and what delivery answers."""

    published: list[dict[str, Any]] = field(default_factory=list)
    merges: list[MergeRequest] = field(default_factory=list)
    restamped: list[int] = field(default_factory=list)
    publish_error: Exception | None = None
    existing: PullRequest | None = None  # the unit's open agentd PR, as delivery finds it
    crash: str | None = None
    merge_result: UnitResult = field(default_factory=lambda: UnitResult.merged("merged"))


@pytest.fixture
def delivery(monkeypatch: pytest.MonkeyPatch) -> Delivery:
    seen = Delivery()

    def publish(ctx: RunContext, ws: Workspace, **kwargs: Any) -> Published:
        if seen.crash == "publish":
            raise KeyError("bug in publish")
        if seen.publish_error is not None:
            raise seen.publish_error
        commit = kwargs["commit"]
        seen.published.append(
            {
                **kwargs,
                "committed_fix": ws.tree.run("show", f"{commit}:fix.txt"),
                "message": ws.tree.run("log", "-1", "--format=%B", commit),
                "author": ws.tree.run("log", "-1", "--format=%an <%ae>", commit).strip(),
            }
        )
        return Published(
            pull_json(7, kwargs["branch"]), kwargs["branch"], "3" * 40, True, True, False
        )

    def merge(
        ctx: RunContext, request: MergeRequest, created: PullRequest | None = None
    ) -> MergeOutcome:
        if seen.crash == "merge":
            raise KeyError("bug in merge")
        seen.merges.append(request)
        if request.hold is not None:
            return MergeOutcome(UnitResult.opened_pr(request.hold.reason, request.hold.detail))
        return MergeOutcome(seen.merge_result)

    def restamp(ctx: RunContext, repo: str, pull: PullRequest, stamp: Stamp) -> bool:
        seen.restamped.append(pull.number)
        return True

    monkeypatch.setattr(lifecycle, "find_unit_pr", lambda *_a, **_k: seen.existing, raising=False)
    monkeypatch.setattr(lifecycle, "publish", publish)
    monkeypatch.setattr(lifecycle, "merge_if_allowed", merge)
    monkeypatch.setattr(lifecycle, "restamp", restamp)
    return seen


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    remote, clone = make_remote_and_clone(tmp_path, {"fix.txt": "vulnerable\n", "sub/keep": "x\n"})
    data = base_profile(tmp_path, "auto_merge")
    data["profile"]["verification"]["sandbox"] = "none"
    repo = data["repositories"][0]
    repo["local_path"] = str(clone)
    repo["targets"] = [
        {
            "target_id": "root",
            "path": ".",
            "ecosystems": ["pip"],
            "verification_commands": [f'{sys.executable} -c "{CHECK}"'],
        }
    ]
    yield {"tmp": tmp_path, "data": data, "clone": clone, "remote": remote}


def context(world: dict[str, Any], mode: str = "auto_merge") -> RunContext:
    loaded = load_profile(write_profile(world["tmp"] / "profiles" / "acme.yaml", world["data"]))
    state = world["tmp"] / "state"
    state.mkdir(exist_ok=True)
    return RunContext(
        profile=loaded.profile,
        api=None,  # type: ignore[arg-type]  # the engine reaches GitHub only through delivery
        policy=MutationPolicy(MutationMode(mode)),
        git_env=GitEnvironment.create(state, None),
        state_dir=state,
        allowed_env=AllowedEnvironment({}),
        budget=Budget(5, 5),
        run_id="run-1",
        git_url_template=str(world["remote"]),
        account=Account(login="agentd-bot", id=1001),
    )


def a_unit(ctx: RunContext, **fields: Any) -> Unit:
    repo = ctx.profile.repositories[0]
    return new_unit(
        ctx,
        AlertClass.DEPENDABOT,
        repo,
        "main",
        repo.targets[0],
        default_branch="main",
        alert_numbers=[3],
        **fields,
    )


def run(ctx: RunContext, plugin: FakePlugin, unit: Unit | None = None) -> lifecycle.UnitOutcome:
    outcome = lifecycle.run_unit(ctx, plugin, unit or a_unit(ctx))
    worktrees = ctx.state_dir / "worktrees" / ctx.run_id
    assert not worktrees.exists() or not any(worktrees.iterdir()), "the workspace outlived the unit"
    return outcome


def test_a_verified_change_is_committed_published_and_merged(
    world: dict[str, Any], delivery: Delivery
) -> None:
    ctx = context(world)
    outcome = run(ctx, plugin := FakePlugin())
    record = outcome.record
    assert record.outcome is Outcome.MERGED and outcome.merged and outcome.opened
    # The alerts read just before publish stand for the merge moments later.
    assert plugin.calls == ["propose", "apply", "recheck", "hold", "open_alerts", "describe"]
    [published] = delivery.published
    assert published["committed_fix"].strip() == "fixed" and published["message"].startswith(
        "fix: it"
    )
    assert "agentd:remediation" in published["body"]  # the engine stamps the body
    assert published["author"] == "agentd-bot <1001+agentd-bot@users.noreply.github.com>"
    assert [m.branch for m in delivery.merges] == [published["branch"]]
    assert delivery.merges[0].expected_files == ["fix.txt"]
    assert record.unit_pass is UnitPass.MERGE and record.pr_source is PRSource.AGENT_MANAGED
    assert record.pr_number == 7 and record.verification_provenance is Provenance.OBSERVED
    assert record.changes == ["fix.txt changed"] and record.alert_numbers == [3]


def test_alerts_read_longer_ago_are_read_again_before_the_merge(
    world: dict[str, Any], delivery: Delivery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "ALERTS_FRESH_SECONDS", -1.0)  # every read is stale
    outcome = run(context(world), plugin := FakePlugin())
    assert outcome.record.outcome is Outcome.MERGED
    assert plugin.calls == [
        "propose", "apply", "recheck", "hold", "open_alerts", "describe", "open_alerts"
    ]  # fmt: skip


def test_a_settled_unit_is_recorded_without_a_workspace(
    world: dict[str, Any], delivery: Delivery
) -> None:
    ctx = context(world)
    settled = UnitResult.skipped(ReasonCode.UNSUPPORTED_ECOSYSTEM, "no target covers x")
    outcome = run(ctx, plugin := FakePlugin(), a_unit(ctx, settled=settled))
    assert outcome.record.result == settled and plugin.calls == []
    assert not (ctx.state_dir / "worktrees").exists()


def test_a_repository_that_is_not_active_is_never_touched(
    world: dict[str, Any], delivery: Delivery
) -> None:
    world["data"]["repositories"][0].update(
        automation_mode="manual_only", manual_only_reason="board"
    )
    ctx = context(world)
    result = run(ctx, plugin := FakePlugin()).record.result
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, ReasonCode.POLICY_BLOCKED)
    assert "manual_only: board" in result.detail and plugin.calls == []


def test_a_missing_clone_is_skipped(world: dict[str, Any], delivery: Delivery) -> None:
    world["data"]["repositories"][0]["local_path"] = str(world["tmp"] / "nowhere")
    result = run(context(world), FakePlugin()).record.result
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, ReasonCode.CLONE_MISSING)


@pytest.mark.parametrize("mode", ["report_only", "dry_run"])
def test_report_only_and_dry_run_stop_after_the_proposal(
    world: dict[str, Any], delivery: Delivery, mode: str
) -> None:
    ctx = context(world, "report_only" if mode == "report_only" else "auto_merge")
    if mode == "dry_run":
        ctx.policy = MutationPolicy(MutationMode.AUTO_MERGE, dry_run=True)
    outcome = run(ctx, plugin := FakePlugin())
    result = outcome.record.result
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, ReasonCode.POLICY_BLOCKED)
    assert "would change fix.txt" in result.detail and plugin.calls == ["propose"]
    assert outcome.record.changes == ["fix.txt: vulnerable → fixed"] and not delivery.published


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"required_env_vars": ["NPM_TOKEN"]}, ReasonCode.REGISTRY_AUTH_MISSING),
        ({"required_env_vars": ["SERVICE_URL"]}, ReasonCode.ENV_MISMATCH),
        ({"supported_platforms": ["darwin"]}, ReasonCode.ENV_MISMATCH),
        ({"verification_workdir": "nope"}, ReasonCode.VERIFICATION_UNAVAILABLE),
    ],
)
def test_environment_gates_hold_before_any_change(
    world: dict[str, Any], delivery: Delivery, target: dict[str, Any], reason: ReasonCode
) -> None:
    world["data"]["repositories"][0]["targets"][0].update(target)
    outcome = run(context(world), plugin := FakePlugin())
    result = outcome.record.result
    assert (result.outcome, result.reason) == (Outcome.BLOCKED, reason)
    assert plugin.calls == ["propose"] and not delivery.published
    if "verification_workdir" in target:
        assert "'nope'" in result.detail and "does not exist" in result.detail


def test_a_verification_workdir_that_exists_is_where_verification_runs(
    world: dict[str, Any], delivery: Delivery
) -> None:
    target = world["data"]["repositories"][0]["targets"][0]
    target["verification_workdir"] = "sub"
    target["verification_commands"] = [
        f"{sys.executable} -c \"import pathlib, sys; sys.exit(not pathlib.Path('keep').exists())\""
    ]
    assert run(context(world), FakePlugin()).record.outcome is Outcome.MERGED


@pytest.mark.parametrize("hook", ["propose", "apply", "recheck", "hold"])
def test_a_plugin_refusal_is_the_units_result(
    world: dict[str, Any], delivery: Delivery, hook: str
) -> None:
    refusal = UnitError(ReasonCode.NO_PATCH_AVAILABLE, f"refused in {hook}")
    outcome = run(context(world), plugin := FakePlugin(refuse={hook: refusal}))
    assert outcome.record.result == refusal.unit_result()
    assert plugin.calls[-1] == hook and not delivery.published and not delivery.merges


def test_failed_verification_never_publishes(world: dict[str, Any], delivery: Delivery) -> None:
    outcome = run(context(world), FakePlugin(content="still vulnerable\n"))
    record = outcome.record
    assert (record.outcome, record.result.reason) == (
        Outcome.BLOCKED,
        ReasonCode.VERIFICATION_FAILED,
    )
    assert (
        "exit 1" in record.result.detail and record.verification_provenance is Provenance.OBSERVED
    )
    assert not delivery.published and not outcome.opened


def test_a_change_that_changes_nothing_is_not_published(
    world: dict[str, Any], delivery: Delivery
) -> None:
    world["data"]["repositories"][0]["targets"][0]["verification_commands"] = [
        f"{sys.executable} -c pass"
    ]
    result = run(context(world), FakePlugin(content="vulnerable\n")).record.result
    assert (result.outcome, result.reason) == (Outcome.BLOCKED, ReasonCode.VERIFICATION_FAILED)
    assert not delivery.published


def test_a_lost_publish_race_fails_the_unit_and_cleans_up(
    world: dict[str, Any], delivery: Delivery
) -> None:
    delivery.publish_error = PushRejectedError(["push"], 1, "stale info")
    result = run(context(world), FakePlugin()).record.result
    assert (result.outcome, result.reason) == (Outcome.FAILED, ReasonCode.VERIFICATION_UNAVAILABLE)
    assert result.detail.startswith("git: ") and not delivery.merges


def test_a_hold_reaches_the_review_gate(world: dict[str, Any], delivery: Delivery) -> None:
    hold = Hold(ReasonCode.MANIFEST_CHANGE_REQUIRED, "a person reviews the manifest")
    outcome = run(context(world), FakePlugin(hold_value=hold))
    assert delivery.merges[0].hold == hold
    result = outcome.record.result
    assert (result.outcome, result.remaining_blocker) == (
        Outcome.OPENED_PR,
        ReasonCode.MANIFEST_CHANGE_REQUIRED,
    )
    assert outcome.opened and not outcome.merged


def test_a_class_that_never_merges_stops_at_opened_pr(
    world: dict[str, Any], delivery: Delivery
) -> None:
    hold = Hold(ReasonCode.POLICY_BLOCKED, "never merged")
    outcome = run(context(world), FakePlugin(hold_value=hold, merges=False))
    assert not delivery.merges and outcome.record.unit_pass is UnitPass.REMEDIATION
    result = outcome.record.result
    assert (result.outcome, result.remaining_blocker) == (
        Outcome.OPENED_PR,
        ReasonCode.POLICY_BLOCKED,
    )


def test_checks_pending_at_the_gate_is_opened_pr(world: dict[str, Any], delivery: Delivery) -> None:
    delivery.merge_result = UnitResult.opened_pr(ReasonCode.CHECKS_PENDING, "ci running")
    record = run(context(world), FakePlugin()).record
    assert (record.outcome, record.result.remaining_blocker) == (
        Outcome.OPENED_PR,
        ReasonCode.CHECKS_PENDING,
    )


def push_native(world: dict[str, Any], content: str, author: str = "dependabot[bot]") -> str:
    """A branch `dependabot/pip/fix` whose one commit sets fix.txt; returns its sha."""
    import os
    import subprocess

    from gitrepos import ENV, git

    clone = world["clone"]
    git(clone, "checkout", "-q", "-b", "dependabot/pip/fix")
    (clone / "fix.txt").write_text(content)
    env = {**ENV, "GIT_AUTHOR_NAME": author, "GIT_COMMITTER_NAME": author}
    subprocess.run(
        ["git", "commit", "-qam", "bump"], cwd=clone, env={**os.environ, **env}, check=True
    )
    git(clone, "push", "-q", "origin", "dependabot/pip/fix")
    head = git(clone, "rev-parse", "HEAD")
    git(clone, "checkout", "-q", "main")
    return head


def native_pull(head: str) -> PullRequest:
    pull = pull_json(5, "dependabot/pip/fix", "dependabot[bot]", head)
    repo = {"name": "api", "full_name": "acme-org/api"}
    return pull.model_copy(
        update={
            "head": pull.head.model_copy(update={"repo": RepositoryRef.model_validate(repo)}),
            "base": pull.base.model_copy(update={"repo": RepositoryRef.model_validate(repo)}),
        }
    )


def test_a_pr_carrying_exactly_agentds_change_is_adopted_verified_and_merged_on_its_head(
    world: dict[str, Any], delivery: Delivery
) -> None:
    head = push_native(world, "fixed\n")
    outcome = run(context(world), plugin := FakePlugin(adoptable=[native_pull(head)]))
    assert plugin.calls == ["propose", "apply", "recheck", "hold", "describe", "open_alerts"]
    assert delivery.restamped == [5] and not delivery.published
    [merge] = delivery.merges
    assert (merge.branch, merge.head_sha, merge.author) == (
        "dependabot/pip/fix",
        head,
        "dependabot[bot]",
    )
    record = outcome.record
    assert record.outcome is Outcome.MERGED and record.pr_source is PRSource.NATIVE_DEPENDABOT
    assert record.pr_number == 5 and any(
        "adopted native Dependabot PR #5" in n for n in record.notes
    )


@pytest.mark.parametrize(
    ("content", "author", "why"),
    [
        ("fixed\nevil==6.6.6\n", "dependabot[bot]", "its change differs from agentd's in fix.txt"),
        ("fixed\n", "Someone Else", "it carries commits by Someone Else"),
    ],
)
def test_a_pr_that_is_not_exactly_agentds_change_is_left_alone(
    world: dict[str, Any], delivery: Delivery, content: str, author: str, why: str
) -> None:
    head = push_native(world, content, author)
    outcome = run(context(world), FakePlugin(adoptable=[native_pull(head)]))
    assert not delivery.restamped and [p["branch"] for p in delivery.published] != []
    assert any(f"PR #5 left alone: {why}" in n for n in outcome.record.notes), outcome.record.notes
    assert delivery.merges[0].head_sha == "3" * 40  # agentd's own PR, pinned to its push


def test_what_verification_writes_is_never_committed(
    world: dict[str, Any], delivery: Delivery
) -> None:
    rewrite = "import pathlib; pathlib.Path('fix.txt').write_text('fixed\\nevil==6.6.6\\n')"
    world["data"]["repositories"][0]["targets"][0]["verification_commands"] = [
        f'{sys.executable} -c "{rewrite}"'
    ]
    result = run(context(world), FakePlugin()).record.result
    assert (result.outcome, result.reason) == (Outcome.BLOCKED, ReasonCode.VERIFICATION_FAILED)
    assert "verification changed fix.txt" in result.detail and not delivery.published


def test_alerts_fixed_meanwhile_stop_publishing(world: dict[str, Any], delivery: Delivery) -> None:
    result = run(context(world), FakePlugin(open_now=())).record.result
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, ReasonCode.SUPERSEDED)
    assert not delivery.published and not delivery.merges


def test_alerts_changed_before_the_merge_stop_the_merge(
    world: dict[str, Any], delivery: Delivery
) -> None:
    ctx = context(world)
    unit = a_unit(ctx)
    unit.alert_numbers = [3, 4]
    outcome = run(ctx, FakePlugin(open_now=(3,)), unit)
    assert delivery.published and not delivery.merges and outcome.opened
    assert outcome.record.outcome is Outcome.OPENED_PR and "#4" in outcome.record.result.detail


@pytest.mark.parametrize("where", [*HOOKS, "publish", "merge"])
def test_agentds_own_bug_is_reported_as_one_at_every_point(
    world: dict[str, Any], delivery: Delivery, where: str
) -> None:
    delivery.crash = where
    plugin = FakePlugin(crash=where if where in HOOKS else None)
    result = run(context(world), plugin).record.result
    assert (result.outcome, result.reason) == (Outcome.FAILED, ReasonCode.INTERNAL_ERROR)
    assert "KeyError" in result.detail and f"bug in {where}" in result.detail


def test_a_rate_limit_stop_is_the_runs_not_the_units(
    world: dict[str, Any], delivery: Delivery
) -> None:
    delivery.publish_error = RateLimitedError("primary rate limit exhausted")
    with pytest.raises(RateLimitedError):
        lifecycle.run_unit(context(world), FakePlugin(), a_unit(context(world)))


def _agentd_pr_on(world: dict[str, Any], unit: Unit, number: int) -> PullRequest:
    """An open agentd PR for `unit`: one commit of the fix on the remote's main."""
    seed = world["tmp"] / "seed"
    git(seed, "checkout", "-q", "-B", unit.branch, "main")
    (seed / "fix.txt").write_text("fixed\n")
    git(seed, "commit", "-q", "-am", "fix")
    git(seed, "push", "-q", "-f", str(world["remote"]), f"HEAD:refs/heads/{unit.branch}")
    stamp = Stamp(
        remediation_key=unit.key,
        alert_class=AlertClass.DEPENDABOT,
        target_id=unit.target_id,
        base_branch=unit.base,
        advisory_ids=sorted(unit.advisory_ids),
        agent_version="0",
        last_pass_at="2026-12-01T00:00:00+00:00",
    )
    pull = pull_json(number, unit.branch, sha=git(seed, "rev-parse", "HEAD"))
    return pull.model_copy(update={"body": stamped_body("fixes it", stamp)})


@pytest.mark.parametrize(
    ("mode", "next_step"),
    [
        ("report_only", "nothing to change; a person reviews and merges it"),
        ("dry_run", "would re-check its gate (reviews, checks) and merge it when the gate passes"),
    ],
)
def test_report_only_and_dry_run_report_the_agentd_pr_already_open_as_open(
    world: dict[str, Any], delivery: Delivery, mode: str, next_step: str
) -> None:
    """Defect 8: a PR that exists is reported as existing, never as a PR still to open."""
    ctx = context(world, "report_only" if mode == "report_only" else "auto_merge")
    if mode == "dry_run":
        ctx.policy = MutationPolicy(MutationMode.AUTO_MERGE, dry_run=True)
    unit = a_unit(ctx, advisory_ids=["GHSA-2222-3333-4444"])
    delivery.existing = _agentd_pr_on(world, unit, 12)

    outcome = run(ctx, plugin := FakePlugin(), unit)
    record, result = outcome.record, outcome.record.result
    assert (result.outcome, result.remaining_blocker) == (
        Outcome.OPENED_PR,
        ReasonCode.POLICY_BLOCKED,
    )
    assert "PR #12 already open and up to date with main" in result.detail
    assert next_step in result.detail and "would open" not in result.detail
    assert record.pr_number == 12 and record.pr_source is PRSource.AGENT_MANAGED
    assert plugin.calls == ["propose"] and not delivery.published and not outcome.opened

    seed = world["tmp"] / "seed"  # the base moves on: the PR is no longer current
    git(seed, "checkout", "-q", "main")
    (seed / "sub" / "keep").write_text("y\n")
    git(seed, "commit", "-q", "-am", "base moves")
    git(seed, "push", "-q", str(world["remote"]), "HEAD:refs/heads/main")
    result = run(ctx, FakePlugin(), a_unit(ctx, advisory_ids=["GHSA-2222-3333-4444"])).record.result
    assert result.outcome is Outcome.OPENED_PR
    assert "PR #12 already open but it is not on the current main; would update it" in result.detail
