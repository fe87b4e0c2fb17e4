"""Subset delivery (issue "Wave 2 — 4/6", causes 2 and 3), through a scripted updater.

Before: any package's refusal threw away every other fix of the unit, a copy whose only fix
is in another major line was forced across it, and the record said nothing per alert.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from agentd.alerts.dependabot.plan import UnitPlan, alert_states, plan_unit, survivors
from agentd.alerts.dependabot.plugin import apply_largest_subset
from agentd.alerts.interface import Unit
from agentd.ecosystems import (
    Ecosystem,
    PackageBump,
    UnfixedBump,
    UpdateContext,
    UpdateResult,
    by_name,
)
from agentd.engine.context import RunContext, Workspace
from agentd.engine.memory import RunMemory
from agentd.errors import UnitError
from agentd.github.models import DependabotAlert
from agentd.profile import Target
from agentd.vocabulary import ReasonCode

TARGET = Target(target_id="root", path=".", ecosystems=["pip"], verification_commands=["true"])


def _alert(number: int, name: str, vulnerable: str, patched: str | None) -> DependabotAlert:
    vulnerability = {
        "package": {"ecosystem": "pip", "name": name},
        "severity": "high",
        "vulnerable_version_range": vulnerable,
        "first_patched_version": {"identifier": patched} if patched else None,
    }
    return DependabotAlert.model_validate({
        "number": number, "state": "open",
        "dependency": {"package": {"ecosystem": "pip", "name": name}, "manifest_path": "requirements.txt"},
        "security_advisory": {"ghsa_id": f"GHSA-{number:04d}-xxxx-xxxx", "summary": name,
                              "vulnerabilities": [vulnerability]},
        "security_vulnerability": vulnerability,
    })  # fmt: skip


@dataclass
class ScriptedUpdater:
    """Writes `name==target` pins; refuses any batch holding a name in `refuse`."""

    worktree: Path
    refuse: set[str] = field(default_factory=set)
    calls: list[list[str]] = field(default_factory=list)
    name: str = "pip"

    def apply(self, context: UpdateContext, bumps: list[PackageBump]) -> UpdateResult:
        self.calls.append(sorted(b.name for b in bumps))
        if any(b.name in self.refuse for b in bumps):
            return UpdateResult.refuse(ReasonCode.VERIFICATION_FAILED, "resolver conflict")
        path = self.worktree / "requirements.txt"
        text = path.read_text()
        for bump in bumps:
            text = text.replace(
                f"{bump.name}=={bump.current_version}", f"{bump.name}=={bump.target_version}"
            )
        path.write_text(text)
        return UpdateResult(changed_files=["requirements.txt"], notes=[b.name for b in bumps])


@pytest.fixture
def world(tmp_path: Path) -> SimpleNamespace:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("requests==2.25.0\njinja2==3.1.2\nurllib3==1.26.5\n")
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"], check=True
    )
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return SimpleNamespace(repo=repo, sha=sha)


def _plan(
    world: SimpleNamespace, alerts: list[DependabotAlert], updater: ScriptedUpdater
) -> UnitPlan:
    plan = plan_unit(TARGET, alerts, lambda p: (world.repo / p).read_bytes())
    pip = by_name("pip")
    assert pip is not None
    plan.ecosystem = Ecosystem(**{**pip.__dict__, "updater": updater})
    return plan


def _apply(world: SimpleNamespace, plan: UnitPlan, memory: RunMemory) -> tuple[UpdateResult, Unit]:
    ctx = cast(RunContext, SimpleNamespace(memory=memory))
    unit = cast(Unit, SimpleNamespace(key="acme/api:dependabot:main:root", alert_states=[]))
    ws = cast(
        Workspace, SimpleNamespace(path=world.repo, start_sha=world.sha, tree=_Tree(world.repo))
    )
    context = UpdateContext(
        worktree=world.repo, target_path=".", env={}, home=world.repo, timeout_seconds=5
    )
    return apply_largest_subset(ctx, unit, plan, context, ws), unit


@dataclass
class _Tree:
    repo: Path

    def show_file(self, rev: str, path: str) -> bytes | None:
        out = subprocess.run(
            ["git", "-C", str(self.repo), "show", f"{rev}:{path}"], capture_output=True, check=False
        )
        return out.stdout if out.returncode == 0 else None


ALERTS = [
    _alert(1, "requests", "< 2.32.4", "2.32.4"),
    _alert(2, "jinja2", "< 3.1.4", "3.1.4"),
    _alert(3, "urllib3", "< 1.26.19", "1.26.19"),
]


def test_a_refused_package_leaves_the_others_delivered(world: SimpleNamespace) -> None:
    updater = ScriptedUpdater(world.repo, refuse={"jinja2"})
    plan = _plan(world, ALERTS, updater)

    update, _ = _apply(world, plan, RunMemory())

    assert update.blocked is None
    assert (world.repo / "requirements.txt").read_text() == (
        "requests==2.32.4\njinja2==3.1.2\nurllib3==1.26.19\n"
    )
    assert [(u.bump.name, u.reason) for u in update.unfixed] == [
        ("jinja2", ReasonCode.VERIFICATION_FAILED)
    ]
    assert {b.name for b in plan.delivered()} == {"requests", "urllib3"}
    assert [row[0] for row in plan.not_fixed()] == ["jinja2 3.1.2"]
    # per alert: the two it fixes, and the one it leaves with its reason
    states = alert_states(plan, survivors(plan, lambda p: (world.repo / p).read_bytes()))
    assert [(s.package, s.fixed, s.reason) for s in states] == [
        ("requests", True, None),
        ("jinja2", False, ReasonCode.VERIFICATION_FAILED),
        ("urllib3", True, None),
    ]


def test_nothing_deliverable_is_the_units_reason_with_every_alert_open(
    world: SimpleNamespace,
) -> None:
    updater = ScriptedUpdater(world.repo, refuse={"jinja2", "requests", "urllib3"})
    plan = _plan(world, ALERTS, updater)

    with pytest.raises(UnitError) as raised:
        _apply(world, plan, RunMemory())

    assert raised.value.reason is ReasonCode.VERIFICATION_FAILED
    assert (world.repo / "requirements.txt").read_text().startswith("requests==2.25.0")


def test_the_same_copies_are_not_retried_later_in_the_run(world: SimpleNamespace) -> None:
    """A later iteration of the same run (after the subset merged) does not run the updater
    again for exactly the copies it could not move."""
    updater = ScriptedUpdater(world.repo, refuse={"jinja2"})
    memory = RunMemory()
    _apply(world, _plan(world, ALERTS, updater), memory)
    calls = len(updater.calls)
    subprocess.run(["git", "-C", str(world.repo), "checkout", "-q", "."], check=True)

    with pytest.raises(UnitError) as raised:
        _apply(world, _plan(world, [ALERTS[1]], updater), memory)

    assert raised.value.reason is ReasonCode.VERIFICATION_FAILED
    assert len(updater.calls) == calls


def test_a_copy_with_no_patch_in_its_line_is_left_not_forced(world: SimpleNamespace) -> None:
    """urllib3 1.26.5 with a fix only in 2.x: pip removes no copy by parent updates, so the
    copy is no_patch_available at planning, and the rest is delivered."""
    updater = ScriptedUpdater(world.repo)
    alerts = [ALERTS[0], _alert(4, "urllib3", "< 2.2.2", "2.2.2")]
    plan = _plan(world, alerts, updater)

    _apply(world, plan, RunMemory())

    assert updater.calls == [["requests"]]
    assert "urllib3==1.26.5" in (world.repo / "requirements.txt").read_text()
    [(name, _, reason, detail)] = plan.not_fixed()
    assert (name, reason) == ("urllib3", ReasonCode.NO_PATCH_AVAILABLE)
    assert "another" in detail


def test_an_unfixed_bump_is_recorded_for_its_copy() -> None:
    bump = PackageBump("a", "requirements.txt", "1.0", "1.1", ("GHSA-x",))
    assert UnfixedBump(bump, ReasonCode.NO_PATCH_AVAILABLE, "why").bump is bump
