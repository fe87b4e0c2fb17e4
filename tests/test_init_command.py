"""`agentd init`: a review-ready profile for a directory of clones, grown without rewriting."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import e2e
from support import REPO_ROOT, run_agentd

from agentd.init import PROPOSED_COMMANDS, init_profile
from agentd.profile import load_profile

FIXTURES = REPO_ROOT / "tests" / "ecosystems"


def fixture(path: str) -> str:
    return (FIXTURES / path).read_text(encoding="utf-8")


# name → files of one repository; each ecosystem alone, and monorepos mixing them.
LAYOUTS: dict[str, dict[str, str]] = {
    "pip": {"requirements.txt": fixture("pip/fixtures/requirements.txt")},
    "npm": {"package-lock.json": fixture("npm/fixtures/v3/package-lock.json")},
    "go": {"go.mod": fixture("gomod/fixtures/go.mod"), "go.sum": fixture("gomod/fixtures/go.sum")},
    "cargo": {"Cargo.lock": fixture("cargo/fixtures/Cargo.lock"), "Cargo.toml": "[package]\n"},
    "uv": {"uv.lock": fixture("uv/fixtures/uv.lock"), "pyproject.toml": "[project]\n"},
    "poetry": {"poetry.lock": fixture("poetry/fixtures/2/poetry.lock")},
    "pnpm": {"pnpm-lock.yaml": fixture("pnpm/fixtures/v9/pnpm-lock.yaml")},
    "yarn": {"yarn.lock": fixture("yarn/fixtures/classic/yarn.lock")},
    "mono": {
        "go.mod": fixture("gomod/fixtures/go.mod"),
        "services/api/requirements.txt": fixture("pip/fixtures/requirements.txt"),
        "services/api/requirements-dev.txt": fixture("pip/fixtures/requirements-dev.txt"),
        "web/package-lock.json": fixture("npm/fixtures/v2/package-lock.json"),
        "web/node_modules/left-pad/package-lock.json": "{}",  # installed, not the project's
        "tools/cli/Cargo.lock": fixture("cargo/fixtures/Cargo.lock"),
    },
    "docs": {"README.md": "# docs\n"},
}
EXPECTED_TARGETS: dict[str, dict[str, list[str]]] = {
    "mono": {
        ".": ["go"],
        "services/api": ["pip"],
        "tools/cli": ["cargo"],
        "web": ["npm"],
    },
    "docs": {".": []},
}


def layout_of(index: int) -> str:
    return list(LAYOUTS)[index % len(LAYOUTS)]


def fleet(count: int) -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {"name": f"svc-{i:02d}-{layout_of(i)}", "files": LAYOUTS[layout_of(i)]}
            for i in range(count)
        ],
    }


def test_init_on_fifty_clones_validates_and_discovers(tmp_path: Path) -> None:
    with e2e(tmp_path, fleet(50), []) as env:
        clone_root = env.sim.workdir / "clones"
        output = tmp_path / "profiles" / "acme-org" / "profile.yaml"
        made = env.agentd(
            "init", "--owner", "acme-org", "--clone-root", str(clone_root), "--output", str(output)
        )
        assert made.returncode == 0, made.stderr
        assert "50 repositories added" in made.stdout

        validated = env.agentd("validate", str(output), "--json")
        assert validated.returncode == 0, validated.stderr
        summary = json.loads(validated.stdout)
        assert summary["repositories"] == 50
        assert summary["mutation_mode"] == "report_only"
        assert summary["repositories_by_mode"]["manual_only"] == 50

        profile = load_profile(output).profile
        for repo in profile.repositories:
            layout = repo.repo.split("-", 2)[2]
            targets = {t.path: t for t in repo.targets}
            expected = EXPECTED_TARGETS.get(layout, {".": [layout]})
            assert {p: t.ecosystems for p, t in targets.items()} == expected, repo.repo
            for target in repo.targets:
                assert target.verification_workdir == target.path
                proposed = [PROPOSED_COMMANDS[e].split(" ")[0] for e in target.ecosystems]
                assert [c.split(" ")[0] for c in target.verification_commands] == proposed
        text = output.read_text()
        assert text.count("# REVIEW") >= 50 + sum(len(r.targets) for r in profile.repositories)
        assert "-r requirements-dev.txt -r requirements.txt" in text

        discovered = env.agentd("discover", "--profile", str(output), "--json", timeout=300)
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        report = json.loads(discovered.stdout)
        assert len(report["repos"]) == 50
        assert {r["clone"] for r in report["repos"]} == {"ok"}
        checks = [t for r in report["repos"] for t in r["targets"]]
        assert checks and all(t["path_ok"] and t["workdir_ok"] for t in checks)
        assert all(r["coverage"]["dependabot"]["coverage"] == "enabled" for r in report["repos"])
        assert env.mutating() == []


def git_repo(path: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def test_rerun_appends_new_clones_and_leaves_reviewed_entries_alone(tmp_path: Path) -> None:
    root = tmp_path / "clones"
    git_repo(root / "api", {"requirements.txt": "requests==2.25.0\n"})
    git_repo(root / "web", {"package-lock.json": "{}"})
    output = tmp_path / "acme.yaml"
    init_profile("acme-org", root, output)

    # The operator reviews `api`: active, a real test command, comments of their own.
    reviewed = output.read_text().replace(
        "    automation_mode: manual_only  # REVIEW: set active once its targets are reviewed\n"
        '    manual_only_reason: "agentd init: targets and verification commands not reviewed yet"\n',
        "    automation_mode: active  # reviewed by jane, 2024-06-03\n",
        1,
    )
    reviewed = reviewed.replace(
        "-r requirements.txt  # REVIEW\n",
        "-r requirements.txt\n          - python3 -m pytest -q\n",
        1,
    )
    reviewed += "# a comment of the operator's, at the end\n"
    output.write_text(reviewed)
    assert run_agentd("validate", str(output)).returncode == 0

    git_repo(root / "billing", {"Cargo.lock": "# cargo\n", "ui/yarn.lock": "# yarn\n"})
    git_repo(root / "api" / "docs", {})  # a nested repository is not a clone of the root
    (root / "api" / "worker").mkdir()
    (root / "api" / "worker" / "poetry.lock").write_text("# poetry\n")
    (root / "notes").mkdir()  # not a git repository: not a clone
    result = init_profile("acme-org", root, output)

    text = output.read_text()
    assert text.startswith(reviewed)  # everything already there, byte for byte
    assert result.added == ["billing"] and result.kept == ["api", "web"]
    assert any("api: worker/ holds poetry.lock" in note for note in result.notes)
    data = yaml.safe_load(text)
    assert [r["repo"] for r in data["repositories"]] == ["api", "web", "billing"]
    billing = data["repositories"][2]
    assert [(t["path"], t["ecosystems"]) for t in billing["targets"]] == [
        (".", ["cargo"]),
        ("ui", ["yarn"]),
    ]
    assert run_agentd("validate", str(output)).returncode == 0

    again = init_profile("acme-org", root, output)
    assert again.added == [] and output.read_text() == text


@pytest.mark.parametrize(
    "repositories",
    [
        "repositories: []\n",
        "",
        "repositories:\n- repo: old\n  local_path: {root}/old\n  automation_mode: ignored\n"
        "  ignored_reason: archived\n",
    ],
    ids=["empty", "missing", "unindented"],
)
def test_rerun_on_hand_written_profiles(repositories: str, tmp_path: Path) -> None:
    root = tmp_path / "clones"
    git_repo(root / "api", {"go.mod": "module api\n"})
    output = tmp_path / "profile.yaml"
    head = (
        "profile:\n  profile_id: acme\n  owner: acme-org\n  owner_type: org\n"
        f"  runtime:\n    local_clone_root: {root}\n  defaults:\n    mutation_mode: report_only\n"
    )
    output.write_text(repositories.format(root=root) + head)
    result = init_profile("acme-org", root, output)
    assert result.added == ["api"]
    loaded = load_profile(output).profile
    assert [r.repo for r in loaded.repositories][-1] == "api"
    assert loaded.profile.profile_id == "acme"


def test_init_refuses_another_owners_profile_and_a_missing_root(tmp_path: Path) -> None:
    root = tmp_path / "clones"
    git_repo(root / "api", {})
    output = tmp_path / "p.yaml"
    init_profile("acme-org", root, output)
    other = run_agentd(
        "init", "--owner", "other", "--clone-root", str(root), "--output", str(output)
    )
    assert other.returncode == 2 and "owner 'acme-org', not 'other'" in other.stderr
    missing = run_agentd(
        "init", "--owner", "acme-org", "--clone-root", str(tmp_path / "nope"), "--output", "x"
    )
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    assert "Traceback" not in other.stderr + missing.stderr
