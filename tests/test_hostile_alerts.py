"""Hostile alert payloads are refused or reported; nothing escapes the worktree (issue 8/8)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentd.alerts.dependabot.plan import group_by_target, plan_unit, surviving_vulnerable
from agentd.ecosystems import UpdateContext
from agentd.errors import PathEscapeError
from agentd.github.models import DependabotAlert
from agentd.profile import Target

EXAMPLES = int(os.environ.get("AGENTD_FUZZ_EXAMPLES", "1000"))
TARGETS = [
    Target(target_id="root", path=".", ecosystems=["pip", "npm"], verification_commands=["pytest"])
]

hostile_paths = st.sampled_from(
    ["requirements.txt", "../outside/requirements.txt", "/etc/passwd", "evil/requirements.txt", "a/../../x.txt",
     "req\x00uirements.txt", "requirements.txt\n", "C:\\\\windows\\\\requirements.txt", "x" * 5000 + "/requirements.txt",
     "-rf/requirements.txt", "package-lock.json", "sub/requirements-dev.txt", ""]
) | st.text(max_size=60)  # fmt: skip
hostile_names = st.sampled_from(
    ["requests", "Requests", "--index-url=http://evil", "$(touch pwned)", "`id`", "a;rm -rf /", "-e", "x" * 3000, "réquests", "requests\x00"]
) | st.text(max_size=30)  # fmt: skip
ranges = st.sampled_from(
    [
        "< 2.32.4",
        ">= 2.3.0, < 2.31.0",
        "garbage",
        "",
        "< 9" * 200,
        ">= --flag",
        "= 1.0.0",
        "<= \x00",
    ]
) | st.text(max_size=20)
versions = st.sampled_from(["2.32.4", None, "", "--upgrade", "9" * 300, "1.0.0"]) | st.text(
    max_size=12
)
ecosystems = st.sampled_from(["pip", "npm", "rust", "go", "unknown", "", "pip\x00"])


@st.composite
def alert_payload(draw: st.DrawFn, number: int) -> dict[str, Any]:
    ecosystem, name = draw(ecosystems), draw(hostile_names)
    first = draw(versions)
    vulnerability = {
        "package": {"ecosystem": ecosystem, "name": name},
        "severity": "high",
        "vulnerable_version_range": draw(ranges),
        "first_patched_version": {"identifier": first} if first is not None else None,
    }
    return {
        "number": number,
        "state": "open",
        "dependency": {
            "package": {"ecosystem": ecosystem, "name": name},
            "manifest_path": draw(hostile_paths),
        },
        "security_advisory": {
            "ghsa_id": draw(st.sampled_from(["GHSA-9hjg-9r4m-mvj7", "GHSA-../../x", "x" * 500])),
            "summary": draw(st.text(max_size=50)),
            "vulnerabilities": [vulnerability],
        },
        "security_vulnerability": vulnerability,
    }


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("arena")
    outside = root / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("requests==2.25.0\n")
    worktree = root / "worktree"
    worktree.mkdir()
    (worktree / "evil").symlink_to(outside)
    return worktree, outside


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_payloads_are_refused_or_reported(
    arena: tuple[Path, Path], data: st.DataObject
) -> None:
    worktree, outside = arena
    (worktree / "requirements.txt").write_text("requests==2.25.0\nurllib3==1.26.5\n")
    before_outside = _snapshot(outside)
    payloads = [
        data.draw(alert_payload(number)) for number in range(1, data.draw(st.integers(1, 4)) + 1)
    ]
    alerts = []
    for payload in payloads:
        try:
            alerts.append(DependabotAlert.model_validate(payload))
        except ValidationError:
            continue  # refused at the API boundary (the client logs and skips it)
    by_target, unmapped = group_by_target(alerts, TARGETS)
    for entry in unmapped:
        assert entry.reason.value in ("policy_blocked", "unsupported_ecosystem") and entry.detail
    context = UpdateContext(
        worktree=worktree, target_path=".", env={}, home=worktree, timeout_seconds=10
    )

    def read(path: str) -> bytes | None:
        try:
            file = context.file(path)
        except PathEscapeError:
            return None
        return file.read_bytes() if file.is_file() else None

    for target_alerts in by_target.values():
        plan = plan_unit(TARGETS[0], target_alerts, read)
        for package in plan.packages:
            assert package.problem is not None or package.bumps
            if package.problem is not None:
                assert package.detail
        if plan.fixable and plan.updater is not None:
            with contextlib.suppress(PathEscapeError):
                plan.updater.apply(context, plan.bumps())
            surviving_vulnerable(plan, read)
    assert _snapshot(outside) == before_outside
    assert not (worktree / "pwned").exists() and not Path("pwned").exists()
    assert {p.name for p in worktree.iterdir()} <= {
        "requirements.txt",
        "evil",
        "sub",
        "package-lock.json",
    }
