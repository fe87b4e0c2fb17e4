"""Which pnpm release updates a lockfile: the pin, else the major of the lockfile format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentd.ecosystems._shared.corepack import Release
from agentd.ecosystems._shared.tooling import UpdateRefused
from agentd.ecosystems.pnpm.release import choose_release, lockfile_format, require_format
from agentd.vocabulary import ReasonCode

FIXTURES = Path(__file__).parent / "fixtures"


def _project(tmp_path: Path, lockfile_version: str, package_manager: str | None = None) -> Path:
    manifest = {"name": "web"} | ({"packageManager": package_manager} if package_manager else {})
    (tmp_path / "package.json").write_text(json.dumps(manifest))
    (tmp_path / "pnpm-lock.yaml").write_text(f"lockfileVersion: {lockfile_version}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("version", "major"), [("'5.3'", 6), ("5.4", 7), ("'6.0'", 8), ('"6.1"', 8), ("'9.0'", 9)]
)
def test_without_a_pin_the_lockfile_format_names_the_major(
    tmp_path: Path, version: str, major: int
) -> None:
    root = _project(tmp_path, version)
    release = choose_release(root / "package.json", root / "pnpm-lock.yaml", "pnpm-lock.yaml")
    assert (release.spec, release.major) == (str(major), major)
    assert release.why == f"lockfileVersion {version.strip(chr(39) + chr(34))} in pnpm-lock.yaml"


def test_the_pin_wins_over_the_format(tmp_path: Path) -> None:
    root = _project(tmp_path, "'6.0'", "pnpm@8.14.0")
    release = choose_release(root / "package.json", root / "pnpm-lock.yaml", "pnpm-lock.yaml")
    assert release == Release("pnpm", "8.14.0", 8, "packageManager in package.json")


def test_an_unknown_format_without_a_pin_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path, "'7.0'")
    with pytest.raises(UpdateRefused) as refused:
        choose_release(root / "package.json", root / "pnpm-lock.yaml", "pnpm-lock.yaml")
    assert refused.value.reason is ReasonCode.UNSUPPORTED_ECOSYSTEM
    assert "lockfileVersion 7.0" in refused.value.detail


def test_the_fixtures_formats_are_read() -> None:
    assert [lockfile_format(FIXTURES / v / "pnpm-lock.yaml") for v in ("v5", "v6", "v9")] == [
        "5.4", "6.0", "9.0",
    ]  # fmt: skip


def test_a_rewritten_format_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path, "'9.0'")
    release = Release("pnpm", "9.1.0", 9, "packageManager in package.json")
    require_format(root / "pnpm-lock.yaml", "pnpm-lock.yaml", "9.0", release)
    with pytest.raises(
        UpdateRefused, match=r"from lockfileVersion 6\.0 to 9\.0; a person migrates"
    ):
        require_format(root / "pnpm-lock.yaml", "pnpm-lock.yaml", "6.0", release)
