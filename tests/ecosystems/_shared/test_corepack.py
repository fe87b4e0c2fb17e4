"""Which package-manager release corepack runs, and what of the repository it ignores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentd.ecosystems._shared.corepack import Release, corepack_env, pinned_release
from agentd.ecosystems._shared.tooling import UpdateRefused
from agentd.vocabulary import ReasonCode
from ecosystems.registries.toolenv import private_home, updater_context


def _manifest(tmp_path: Path, package_manager: object) -> Path:
    path = tmp_path / "package.json"
    data = {"name": "web"} if package_manager is None else {"packageManager": package_manager}
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("pnpm@8.14.0", Release("pnpm", "8.14.0", 8, "packageManager in package.json")),
        (
            "pnpm@9.1.0+sha512.abcdef0123",
            Release("pnpm", "9.1.0+sha512.abcdef0123", 9, "packageManager in package.json"),
        ),
        ("pnpm@10.0.0-rc.1", Release("pnpm", "10.0.0-rc.1", 10, "packageManager in package.json")),
        ("yarn@4.1.0", None),  # another manager's pin says nothing about pnpm's
    ],
)
def test_a_pin_names_one_exact_release(tmp_path: Path, value: object, expected: object) -> None:
    assert pinned_release(_manifest(tmp_path, value), "pnpm") == expected


@pytest.mark.parametrize(
    "value",
    ["pnpm@^8", "pnpm@latest", "pnpm@https://example.invalid/pnpm.tgz", "pnpm", 8, "pnpm@8.1"],
)
def test_a_pin_corepack_cannot_run_is_refused(tmp_path: Path, value: object) -> None:
    with pytest.raises(UpdateRefused) as refused:
        pinned_release(_manifest(tmp_path, value), "pnpm")
    assert refused.value.reason is ReasonCode.UNSUPPORTED_ECOSYSTEM
    assert "not <manager>@<exact version>" in refused.value.detail


def test_corepack_never_reads_the_repository_and_uses_the_shared_home_when_allowlisted(
    tmp_path: Path,
) -> None:
    home = private_home(tmp_path)
    own = corepack_env(updater_context(tmp_path, home))
    assert own["COREPACK_HOME"] == str(home / "corepack")
    assert own["COREPACK_ENV_FILE"] == "0" and own["COREPACK_ENABLE_PROJECT_SPEC"] == "0"
    assert own["COREPACK_ENABLE_DOWNLOAD_PROMPT"] == "0" and own["COREPACK_ENABLE_AUTO_PIN"] == "0"
    shared = corepack_env(updater_context(tmp_path, home, {"COREPACK_HOME": "/srv/corepack"}))
    assert shared["COREPACK_HOME"] == "/srv/corepack"
    assert "COREPACK_NPM_REGISTRY" not in shared  # the allowlisted value reaches it as it is
