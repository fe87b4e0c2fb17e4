"""What counts as reaching a JS bump: the vulnerable copy gone, nothing below the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentd.ecosystems import PackageBump
from agentd.ecosystems._shared.nodejs import require_reached, short_of_target
from agentd.ecosystems._shared.tooling import UpdateRefused

COOKIE = PackageBump("cookie", "pnpm-lock.yaml", "0.4.0", "0.7.0", ("GHSA-pxg6-pf52-xh8x",))


def test_landing_above_the_target_is_reached_and_between_is_not() -> None:
    before = {"0.4.0", "0.3.1"}
    assert short_of_target(COOKIE, {"0.7.1", "0.3.1"}, before) == []  # above the minimum fix
    assert short_of_target(COOKIE, {"0.7.0"}, before) == []
    assert short_of_target(COOKIE, {"0.5.0", "0.7.1"}, before) == ["0.5.0"]  # still vulnerable
    assert short_of_target(COOKIE, {"0.2.0"}, before) == []  # an older line: not this bump's
    assert short_of_target(COOKIE, {"0.4.1-x.y"}, before) == ["0.4.1-x.y"]


def _lockfile(tmp_path: Path, versions: list[str]) -> Path:
    path = tmp_path / "pnpm-lock.yaml"
    entries = "".join(f"  cookie@{v}:\n    resolution: {{integrity: x}}\n" for v in versions)
    snapshots = "".join(f"  cookie@{v}: {{}}\n" for v in versions)
    path.write_text(f"lockfileVersion: '9.0'\npackages:\n{entries}snapshots:\n{snapshots}")
    return path


def test_require_reached_takes_any_fixed_version_and_refuses_a_survivor(tmp_path: Path) -> None:
    before = {"cookie": {"0.4.0"}}
    require_reached(_lockfile(tmp_path, ["0.7.1"]), "pnpm-lock.yaml", [COOKIE], before, "")
    with pytest.raises(UpdateRefused, match=r"still locks cookie 0\.5\.0 below the fix"):
        require_reached(_lockfile(tmp_path, ["0.5.0"]), "pnpm-lock.yaml", [COOKIE], before, "")
    with pytest.raises(UpdateRefused, match=r"still locks cookie 0\.4\.0"):
        require_reached(
            _lockfile(tmp_path, ["0.4.0", "0.7.0"]), "pnpm-lock.yaml", [COOKIE], before, ""
        )
