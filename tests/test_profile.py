"""The profile contract (SPEC §3): valid profiles load, invalid ones fail closed with exit 78."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO_ROOT, SHARED, base_profile, run_agentd, write_profile

from agentd.errors import ContractError
from agentd.profile import is_weak_command, load_profile, parse_profile
from agentd.vocabulary import MutationMode

Mutation = Callable[[dict[str, Any], Path], None]


def _compat_source(name: str) -> Path:
    """The shared upstream file when it sits beside the repository, else the vendored copy."""
    shared = SHARED / "compat" / name
    return shared if shared.exists() else REPO_ROOT / "tests" / "fixtures" / "compat" / name


def _compat_profile(name: str, tmp_path: Path) -> Path:
    text = _compat_source(name).read_text(encoding="utf-8")
    rewritten = text.replace("/absolute/path/to", str(tmp_path / "clones"))
    target = tmp_path / name
    target.write_text(rewritten, encoding="utf-8")
    return target


@pytest.mark.parametrize(
    "name", ["upstream-template-profile.yaml", "upstream-acme-org-profile.yaml"]
)
def test_upstream_compat_profiles_load_unchanged(name: str, tmp_path: Path) -> None:
    path = _compat_profile(name, tmp_path)
    original = _compat_source(name).read_text(encoding="utf-8")
    # Only the placeholder absolute paths were rewritten; every other byte is the same.
    assert (
        path.read_text(encoding="utf-8").replace(str(tmp_path / "clones"), "/absolute/path/to")
        == original
    )
    result = run_agentd("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_upstream_profile_without_mutation_mode_is_report_only(tmp_path: Path) -> None:
    loaded = load_profile(_compat_profile("upstream-acme-org-profile.yaml", tmp_path))
    assert loaded.profile.mutation_mode() is MutationMode.REPORT_ONLY
    assert any("mutation_mode" in w.message for w in loaded.warnings)


@pytest.mark.parametrize(
    "path",
    [
        REPO_ROOT / "profiles/template/profile.yaml",
        *sorted((REPO_ROOT / "profiles/examples").glob("*/profile.yaml")),
    ],
    ids=lambda p: str(p.relative_to(REPO_ROOT)),
)
def test_shipped_profiles_are_valid(path: Path) -> None:
    result = run_agentd("validate", str(path))
    assert result.returncode == 0, result.stderr


def test_examples_cover_org_and_user() -> None:
    kinds = {
        load_profile(p).profile.profile.owner_type
        for p in (REPO_ROOT / "profiles/examples").glob("*/profile.yaml")
    }
    assert kinds == {"org", "user"}


# --- invalid profiles: (id, mutation, YAML path the message must name) --------------------


def _set(path: tuple[str | int, ...], value: Any) -> Mutation:
    def apply(data: dict[str, Any], _root: Path) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return apply


def _delete(path: tuple[str | int, ...]) -> Mutation:
    def apply(data: dict[str, Any], _root: Path) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return apply


def _duplicate_target(data: dict[str, Any], _root: Path) -> None:
    data["repositories"][0]["targets"][1]["target_id"] = "root"


def _duplicate_repo(data: dict[str, Any], _root: Path) -> None:
    data["repositories"].append(copy.deepcopy(data["repositories"][0]))


def _symlink_workdir(data: dict[str, Any], root: Path) -> None:
    repo = root / "api"
    (repo / "ui").mkdir(parents=True)
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (repo / "escape").symlink_to(outside)
    data["repositories"][0]["targets"][0]["verification_workdir"] = "escape"


def _symlink_target_path(data: dict[str, Any], root: Path) -> None:
    repo = root / "api"
    repo.mkdir(parents=True)
    (repo / "ui").symlink_to("/etc")


def _ignored_without_reason(data: dict[str, Any], _root: Path) -> None:
    data["repositories"][1]["automation_mode"] = "ignored"


def _token_literal(data: dict[str, Any], _root: Path) -> None:
    data["profile"]["verification"]["environment_allowlist"] = ["NPM_TOKEN"]
    data["repositories"][0]["targets"][0]["platform_constraints"] = [
        "token ghp_0123456789abcdefghijABCDEFGHIJ012345"
    ]


def _unsupported_class(data: dict[str, Any], _root: Path) -> None:
    data["profile"]["supported_alert_classes"] = ["dependabot"]
    data["repositories"][0]["targets"][0]["alert_classes"] = ["dependabot", "secret_scanning"]


def _local_without_commands(data: dict[str, Any], _root: Path) -> None:
    data["profile"]["verification"]["mode"] = "ci"
    data["repositories"][0]["targets"][0].update(verification="local", verification_commands=[])


T0 = ("repositories", 0, "targets", 0)
PINNED = "require_fully_pinned_requirements_txt_as_lockfile"
INVALID: list[tuple[str, Mutation, str]] = [
    ("relative-clone-root", _set(("profile", "runtime", "local_clone_root"), "clones/acme"), "profile.runtime.local_clone_root"),
    ("dotdot-target-path", _set((*T0, "path"), "../other"), "repositories[0].targets[0].path"),
    ("absolute-target-path", _set((*T0, "path"), "/etc"), "repositories[0].targets[0].path"),
    ("workdir-symlink-escape", _symlink_workdir, "repositories[0].targets[0].verification_workdir"),
    ("target-path-symlink-escape", _symlink_target_path, "repositories[0].targets[1].path"),
    ("duplicate-target-id", _duplicate_target, "repositories[0].targets[1].target_id"),
    ("duplicate-repo", _duplicate_repo, "repositories[2].repo"),
    ("only-npm-ci", _set(("repositories", 0, "targets", 1, "verification_commands"), ["npm ci"]), "repositories[0].targets[1].verification_commands"),
    ("only-pip-install", _set((*T0, "verification_commands"), ["pip install -r requirements.txt"]), "repositories[0].targets[0].verification_commands"),
    ("only-uv-sync", _set((*T0, "verification_commands"), ["uv sync"]), "repositories[0].targets[0].verification_commands"),
    ("no-verification", _set((*T0, "verification_commands"), []), "repositories[0].targets[0].verification_commands"),
    ("only-true", _set((*T0, "verification_commands"), ["true"]), "repositories[0].targets[0].verification_commands"),
    ("unknown-mutation-mode", _set(("profile", "defaults", "mutation_mode"), "yolo"), "profile.defaults.mutation_mode"),
    ("missing-mutation-mode", _delete(("profile", "defaults", "mutation_mode")), "profile.defaults.mutation_mode"),
    ("secret-auto-merge", _set(("profile", "defaults", "secret_scanning"), {"auto_merge": True}), "profile.defaults.secret_scanning.auto_merge"),
    ("ignored-without-reason", _ignored_without_reason, "repositories[1].ignored_reason"),
    ("unknown-key", _set(("profile", "runtime", "max_paralel_repos"), 3), "profile.runtime.max_paralel_repos"),
    ("unknown-top-level-key", _set(("extras",), {}), "extras"),
    ("wrong-type-int", _set(("profile", "runtime", "max_parallel_repos"), "four"), "profile.runtime.max_parallel_repos"),
    ("wrong-type-list", _set(("repositories", 0, "targets"), "root"), "repositories[0].targets"),
    ("wrong-type-bool", _set(("profile", "defaults", "secret_scanning"), {"prepare_cleanup_prs": "sometimes"}), "profile.defaults.secret_scanning.prepare_cleanup_prs"),
    ("relative-local-path", _set(("repositories", 0, "local_path"), "api"), "repositories[0].local_path"),
    ("bad-profile-id", _set(("profile", "profile_id"), "Acme Corp"), "profile.profile_id"),
    ("bad-owner-type", _set(("profile", "owner_type"), "team"), "profile.owner_type"),
    ("token-env-allowlisted", _set(("profile", "verification", "environment_allowlist"), ["GH_TOKEN"]), "profile.verification.environment_allowlist"),
    ("bad-redaction-regex", _set(("profile", "verification", "secret_redaction_patterns"), ["(unclosed"]), "profile.verification.secret_redaction_patterns[0]"),
    ("clone-if-missing", _set(("profile", "runtime", "clone_handling_mode"), "clone_if_missing"), "profile.runtime.clone_handling_mode"),
    ("active-without-targets", _set(("repositories", 0, "targets"), []), "repositories[0].targets"),
    ("relative-dotenv", _set(("profile", "verification", "dotenv_path"), "secrets/.env"), "profile.verification.dotenv_path"),
    ("unknown-ecosystem", _set((*T0, "ecosystems"), ["cobol"]), "repositories[0].targets[0].ecosystems[0]"),
    ("bad-cron", _set(("profile", "schedule"), "every tuesday"), "profile.schedule"),
    ("branch-template-without-key", _set(("profile", "defaults", "branch_template"), "security/{target_id}"), "profile.defaults.branch_template"),
    ("literal-token", _token_literal, "repositories[0].targets[0].platform_constraints[0]"),
    ("lock-filename-path", _set(("profile", "concurrency", "lock_filename"), "../x.lock"), "profile.concurrency.lock_filename"),
    ("unsupported-alert-class", _unsupported_class, "repositories[0].targets[0].alert_classes"),
    ("bad-merge-method", _set(("profile", "defaults", "merge_method"), "fast-forward"), "profile.defaults.merge_method"),
    ("bad-target-id", _set((*T0, "target_id"), "Root!"), "repositories[0].targets[0].target_id"),
    ("missing-profile-section", _delete(("profile",)), "profile"),
    ("negative-timeout", _set((*T0, "verification_timeout_seconds"), -5), "repositories[0].targets[0].verification_timeout_seconds"),
    ("unbalanced-quote", _set((*T0, "verification_commands"), ["pytest -k 'broken"]), "repositories[0].targets[0].verification_commands"),
    ("bad-api-url", _set(("profile", "auth", "api_url"), "ghe.example.com"), "profile.auth.api_url"),
    ("api-url-on-another-host", _set(("profile", "auth", "api_url"), "https://ghe.example.com/api/v3"), "profile.auth.api_url"),
    ("host-with-scheme", _set(("profile", "auth", "github_host"), "https://github.com"), "profile.auth.github_host"),
    ("review-gate-off", _set(("profile", "defaults", "auto_merge"), {"require_review_gate": False}), "profile.defaults.auto_merge.require_review_gate"),
    ("outcome-vocabulary-disagrees", _set(("profile", "defaults", "outcome_statuses"), ["merged", "done"]), "profile.defaults.outcome_statuses"),
    ("reason-vocabulary-disagrees", _set(("profile", "defaults", "reason_code_vocabulary"), ["clone_missing", "made_up"]), "profile.defaults.reason_code_vocabulary"),
    ("bad-platform", _set((*T0, "supported_platforms"), ["plan9"]), "repositories[0].targets[0].supported_platforms[0]"),
    ("ignore-pattern-cleanup", _set(("profile", "defaults", "secret_scanning"), {"allow_ignore_patterns": True}), "profile.defaults.secret_scanning.allow_ignore_patterns"),
    ("unpinned-requirements-as-lockfile", _set(("profile", "defaults", "auto_merge"), {"ecosystem_rules": {"pip": {PINNED: False}}}), f"profile.defaults.auto_merge.ecosystem_rules.pip.{PINNED}"),
    ("unknown-verification-mode", _set((*T0, "verification"), "github"), "repositories[0].targets[0].verification"),
    ("unknown-profile-verification-mode", _set(("profile", "verification", "mode"), "remote"), "profile.verification.mode"),
    ("local-override-of-ci-without-commands", _local_without_commands, "repositories[0].targets[0].verification_commands"),
    ("pinned-requirements-outside-pip", _set(("profile", "defaults", "auto_merge"), {"ecosystem_rules": {"npm": {PINNED: True}}}), "profile.defaults.auto_merge.ecosystem_rules"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "yaml_path"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_profile_exits_78_naming_the_path(
    case: str, mutate: Mutation, yaml_path: str, tmp_path: Path
) -> None:
    root = tmp_path / "clones"
    data = base_profile(root)
    mutate(data, root)
    path = write_profile(tmp_path / "profile.yaml", data)
    result = run_agentd("validate", str(path))
    assert result.returncode == 78, (case, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert re.search(rf"(^|\s){re.escape(yaml_path)}( \(line \d+\))?:", result.stderr), (
        result.stderr
    )
    assert "fix:" in result.stderr


def test_there_are_at_least_25_distinct_invalid_cases() -> None:
    assert len({case for case, _, _ in INVALID}) >= 25


def test_literal_secret_is_never_echoed(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones")
    _token_literal(data, tmp_path)
    result = run_agentd("validate", str(write_profile(tmp_path / "p.yaml", data)))
    assert result.returncode == 78
    assert "ghp_0123456789" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("profile:\n  profile_id: a\n  profile_id: b\n", 3, "duplicate key profile.profile_id"),
        ("profile: [unclosed\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "must be a YAML mapping"),
    ],
)
def test_yaml_level_errors_name_the_line(text: str, line: int, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_agentd("validate", str(path))
    assert result.returncode == 78
    assert needle in result.stderr
    assert f"line {line}" in result.stderr
    assert "Traceback" not in result.stderr


def test_error_names_the_line_of_the_offending_key(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones")
    data["repositories"][0]["targets"][0]["path"] = "../x"
    path = write_profile(tmp_path / "p.yaml", data)
    expected = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "path: ../x" in text
    )
    with pytest.raises(ContractError) as caught:
        load_profile(path)
    assert f"repositories[0].targets[0].path (line {expected})" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones")
    data["profile"]["runtime"]["local_clone_root"] = "relative"
    data["repositories"][0]["local_path"] = "relative"
    with pytest.raises(ContractError) as caught:
        parse_profile(yaml.safe_dump(data), tmp_path / "p.yaml")
    assert "2 problems" in str(caught.value)


def test_missing_profile_file_is_a_contract_error(tmp_path: Path) -> None:
    result = run_agentd("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 78
    assert "profile file not found" in result.stderr


def test_local_path_outside_clone_root_warns(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones")
    data["repositories"][0]["local_path"] = str(tmp_path / "elsewhere" / "api")
    loaded = parse_profile(yaml.safe_dump(data), tmp_path / "p.yaml")
    assert any(w.path == ("repositories", 0, "local_path") for w in loaded.warnings)


@pytest.mark.parametrize(
    ("command", "weak"),
    [
        ("npm ci", True),
        ("npm test", False),
        ("yarn", True),
        ("yarn test", False),
        ("python -m pip install -r requirements.txt", True),
        ("python -m pytest -q", False),
        ("uv sync --locked", True),
        ("uv run pytest", False),
        ("cargo test --locked", False),
        ("echo ok", True),
    ],
)
def test_weak_command_detection(command: str, weak: bool) -> None:
    assert is_weak_command(command.split()) is weak


def test_profile_id_lookup_in_profiles_dir(tmp_path: Path) -> None:
    profiles_dir = tmp_path / "profiles"
    write_profile(profiles_dir / "acme" / "profile.yaml", base_profile(tmp_path / "clones"))
    (tmp_path / "clones").mkdir()
    result = run_agentd(
        "lock", "status", "--profile", "acme", env={"AGENTD_PROFILES_DIR": str(profiles_dir)}
    )
    assert result.returncode == 0, result.stderr
    assert "absent" in result.stdout
    missing = run_agentd(
        "lock", "status", "--profile", "nope", env={"AGENTD_PROFILES_DIR": str(profiles_dir)}
    )
    assert missing.returncode == 2
    assert "no profile 'nope'" in missing.stderr


@pytest.mark.parametrize(
    "name", ["upstream-template-profile.yaml", "upstream-acme-org-profile.yaml"]
)
def test_vendored_compat_copies_match_shared(name: str) -> None:
    shared = SHARED / "compat" / name
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert (REPO_ROOT / "tests/fixtures/compat" / name).read_bytes() == shared.read_bytes()


# --- keys accepted only where they have an effect ------------------------------------------


@pytest.mark.parametrize(
    ("section", "value", "why"),
    [
        (
            {"secret_scanning": {"allow_ignore_patterns": True}},
            "allow_ignore_patterns",
            "never writes ignore patterns",
        ),
        (
            {"auto_merge": {"ecosystem_rules": {"pip": {PINNED: False}}}},
            PINNED,
            "only when every requirement in it is pinned with ==",
        ),
        (
            {
                "auto_merge": {
                    "ecosystem_rules": {"uv": {"allow_lockfile_only": True, PINNED: True}}
                }
            },
            "ecosystem_rules",
            "only the pip rule updates requirements.txt files",
        ),
    ],
)
def test_a_value_without_effect_is_refused_with_why(
    tmp_path: Path, section: dict[str, Any], value: str, why: str
) -> None:
    data = base_profile(tmp_path / "clones")
    data["profile"]["defaults"].update(section)
    result = run_agentd("validate", str(write_profile(tmp_path / "profile.yaml", data)))
    assert result.returncode == 78, result.stdout
    [line] = [line for line in result.stderr.splitlines() if f"{value}" in line and ":" in line]
    assert why in line and "no effect" in line, line


def test_the_honoured_values_load(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones")
    data["profile"]["defaults"]["secret_scanning"] = {"allow_ignore_patterns": False}
    data["profile"]["defaults"]["auto_merge"] = {"ecosystem_rules": {"pip": {PINNED: True}}}
    loaded = load_profile(write_profile(tmp_path / "profile.yaml", data))
    rule = loaded.profile.profile.defaults.auto_merge.ecosystem_rules["pip"]
    assert rule.require_fully_pinned_requirements_txt_as_lockfile is True


def test_a_clone_root_that_does_not_exist_warns_that_runs_will_refuse(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones-typo")
    result = run_agentd("validate", str(write_profile(tmp_path / "profile.yaml", data)))
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"warning: profile\.runtime\.local_clone_root \(line \d+\): "
        + re.escape(f"{tmp_path / 'clones-typo'} does not exist on this machine: run and ")
        + re.escape("discover will refuse this profile (exit 78) here"),
        result.stdout,
    ), result.stdout
    assert not (tmp_path / "clones-typo").exists()


@pytest.mark.parametrize(
    "path",
    sorted((REPO_ROOT / "profiles").rglob("profile.yaml")),
    ids=lambda p: str(p.relative_to(REPO_ROOT)),
)
def test_shipped_targets_verify_in_their_own_directory(path: Path) -> None:
    """A target in a sub-directory runs its commands there (verification_workdir is taken
    from the repository root): `npm ci` at the root of a monorepo verifies nothing."""
    for repo in load_profile(path).profile.repositories:
        for target in repo.targets:
            if target.path != "." and target.verification_commands:
                assert target.verification_workdir == target.path, (repo.repo, target.target_id)


def test_the_template_is_never_scheduled() -> None:
    assert (
        load_profile(REPO_ROOT / "profiles/template/profile.yaml").profile.profile.schedule is None
    )


# --- verification: local | ci ---------------------------------------------------------------


def _ci_profile(tmp_path: Path, where: str) -> dict[str, Any]:
    data = base_profile(tmp_path / "clones", "auto_merge")
    for repo in data["repositories"]:
        for target in repo["targets"]:
            target.pop("verification_commands", None)
            if where == "target":
                target["verification"] = "ci"
    if where == "profile":
        data["profile"]["verification"]["mode"] = "ci"
    return data


@pytest.mark.parametrize("where", ["target", "profile"])
def test_a_ci_target_needs_no_verification_command(where: str, tmp_path: Path) -> None:
    path = write_profile(tmp_path / "p.yaml", _ci_profile(tmp_path, where))
    result = run_agentd("validate", str(path))
    assert result.returncode == 0, result.stderr
    profile = load_profile(path).profile
    targets = [t for r in profile.repositories for t in r.targets]
    assert targets and {profile.verification_mode(t) for t in targets} == {"ci"}


def test_verification_is_local_unless_said_otherwise(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones", "auto_merge")
    data["repositories"][0]["targets"][1]["verification"] = "ci"
    profile = load_profile(write_profile(tmp_path / "p.yaml", data)).profile
    first, second = profile.repositories[0].targets[:2]
    assert profile.profile.verification.mode == "local"
    assert (profile.verification_mode(first), profile.verification_mode(second)) == ("local", "ci")


def test_commands_a_ci_target_never_runs_are_named_in_a_warning(tmp_path: Path) -> None:
    data = base_profile(tmp_path / "clones", "auto_merge")
    data["repositories"][0]["targets"][0]["verification"] = "ci"
    loaded = load_profile(write_profile(tmp_path / "p.yaml", data))
    [warning] = [w for w in loaded.warnings if w.path[-1] == "verification_commands"]
    assert warning.path == ("repositories", 0, "targets", 0, "verification_commands")
    assert "does not run these commands" in warning.message
    assert "verification: local" in warning.hint
