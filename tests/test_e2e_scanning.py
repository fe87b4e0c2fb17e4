"""Code-scanning and secret-scanning passes end to end (SPEC §8, §9)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e import TOKEN, e2e, verify_ok

BUILD = "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"
PUBLISH = "name: release\non:\n  push:\n    tags: ['v*']\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm publish\n"
PINNABLE = "name: lint\non: push\npermissions:\n  contents: read\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: third-party-org/setup-thing@v1 # setup\n      - run: make lint\n"
AWS = "AKIAIOSFODNN7CANARY7"
GHP = "ghp_" + "C4nary" + "q" * 30


DOTENV_CANARY = "dotenv-canary-9f3a7c21"
ALLOWLISTED_CANARY = "npm-canary-token-55e1b0"
LEAKY = f"{sys.executable} -c \"import os; print('NPM', os.environ.get('NPM_TOKEN'), 'REG', os.environ.get('REGISTRY_PASSWORD'))\""


def target(**extra: Any) -> dict[str, Any]:
    return {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [verify_ok(), LEAKY],
        **extra,
    }


def scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [
            {
                "name": "api",
                "files": {
                    "requirements.txt": "requests==2.25.0\n",
                    ".github/workflows/ci.yml": BUILD,
                    ".github/workflows/lint.yml": PINNABLE,
                    ".env": f"AWS_ACCESS_KEY_ID={AWS}\nDEBUG=1\n",
                    "app/settings.py": f'"""Settings."""\nGITHUB_TOKEN = "{GHP}"\n',
                },
                "history": [
                    {
                        "message": "oops",
                        "files": {
                            "old.sh": "export SLACK=xoxb-1234567890-1234567890-abcdefghijklmnopqrst\n"
                        },
                    },
                    {"message": "remove", "delete": ["old.sh"]},
                ],
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            },
            {
                "name": "releaser",
                "files": {".github/workflows/release.yml": PUBLISH},
                "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
                "features": {"secret_scanning": "disabled"},
            },
            {
                "name": "nocode",
                "files": {"README.md": "x"},
                "features": {"code_scanning": "disabled", "secret_scanning": "disabled"},
            },
            {
                "name": "noanalysis",
                "files": {"README.md": "x"},
                "features": {"code_scanning": "no_analysis"},
            },
        ],
        "action_repositories": [
            {"repo": "third-party-org/setup-thing", "tags": {"v1": {"annotated": True}}}
        ],
    }


CODE_SCANNING = {
    "allowlisted_rules": ["actions/missing-workflow-permissions", "actions/unpinned-tag"],
    "auto_merge_rules": ["actions/missing-workflow-permissions"],
}


def remote_file(env: Any, repo: str, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(env.sim.remote_path(repo)), "show", f"{ref}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_code_and_secret_scanning_full_run(tmp_path: Path) -> None:
    repos = [
        {"repo": "api", "targets": [target()]},
        {"repo": "releaser", "targets": [target()]},
        {"repo": "nocode", "targets": [target()]},
        {"repo": "noanalysis", "targets": [target()]},
    ]
    dotenv = tmp_path / "verification.env"
    dotenv.write_text(f"REGISTRY_PASSWORD={DOTENV_CANARY}\n")
    with e2e(tmp_path, scenario(), repos, code_scanning=CODE_SCANNING) as env:
        import yaml

        profile = yaml.safe_load(env.profile_path.read_text())
        profile["profile"]["verification"] = {
            "environment_allowlist": ["NPM_TOKEN", "REGISTRY_PASSWORD"],
            "dotenv_path": str(dotenv),
        }
        env.profile_path.write_text(yaml.safe_dump(profile))
        result, summary = env.run(NPM_TOKEN=ALLOWLISTED_CANARY)
        assert result.returncode == 0, result.stderr[-3000:]
        units = summary["units"]
        leaky = [c for u in units for c in u["verification"] if "NPM" in c.get("output_tail", "")]
        assert leaky and all(
            "NPM *** REG ***" in c["output_tail"] for c in leaky
        )  # the values reached verification, redacted

        # Dependabot finishes before the first code-scanning request.
        requests = env.sim.admin.requests()
        last_dependabot = max(i for i, r in enumerate(requests) if "dependabot" in r.path)
        first_code = min(i for i, r in enumerate(requests) if "code-scanning" in r.path)
        assert last_dependabot < first_code

        perms = [
            u
            for u in units
            if u["rule_id"] == "actions/missing-workflow-permissions" and u["repository"] == "api"
        ]
        assert len(perms) == 1
        merged = perms[0]
        assert merged["outcome"] == "merged", merged["detail"]
        ci = remote_file(env, "api", "main", ".github/workflows/ci.yml")
        assert ci == BUILD.replace("jobs:\n", "permissions:\n  contents: read\n\njobs:\n")
        code_alerts = env.sim.admin.alerts("api", "code_scanning")
        fixed = [a for a in code_alerts if "ci.yml" in a["identity"][1]]
        assert fixed and all(a["state"] == "fixed" for a in fixed)
        [publishing] = [
            u
            for u in units
            if u["repository"] == "releaser" and u["alert_class"] == "code_scanning"
        ]
        assert (publishing["outcome"], publishing["reason_code"]) == ("blocked", "policy_blocked")
        assert "npm publish" in publishing["detail"]
        assert remote_file(env, "releaser", "main", ".github/workflows/release.yml") == PUBLISH
        assert all(a["state"] == "open" for a in env.sim.admin.alerts("releaser", "code_scanning"))

        [pin] = [u for u in units if u["rule_id"] == "actions/unpinned-tag"]
        assert pin["outcome"] == "opened_pr"
        tag_sha = subprocess.run(
            [
                "git",
                "--git-dir",
                str(env.sim.workdir / "actions" / "third-party-org" / "setup-thing.git"),
                "rev-parse",
                "v1^{commit}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        pull = next(p for p in env.sim.admin.pulls("api") if p["number"] == pin["pr_number"])
        pinned = remote_file(env, "api", pull["head"], ".github/workflows/lint.yml")
        assert f"uses: third-party-org/setup-thing@{tag_sha} # v1 setup" in pinned

        coverage = {(u["repository"], u["alert_class"]): u for u in units if u["target_id"] == "*"}
        assert coverage[("nocode", "code_scanning")]["reason_code"] == "code_scanning_disabled"
        assert coverage[("nocode", "secret_scanning")]["reason_code"] == "secret_scanning_disabled"
        assert coverage[("noanalysis", "code_scanning")]["reason_code"] == "no_analysis_found"

        secrets = [
            u for u in units if u["alert_class"] == "secret_scanning" and u["repository"] == "api"
        ]
        by_state = {u["triage_state"]: u for u in secrets}
        history = [u for u in secrets if u["reason_code"] == "history_rewrite_required"]
        assert len(history) == 1 and history[0]["triage_state"] == "historical"
        cleanups = [u for u in secrets if u["outcome"] == "opened_pr"]
        assert len(cleanups) == 2 and all(u["triage_state"] == "active" for u in cleanups), secrets
        assert "active" in by_state
        for unit in cleanups:
            pull = next(p for p in env.sim.admin.pulls("api") if p["number"] == unit["pr_number"])
            assert pull["state"] == "open" and not pull["merged"]
            assert "rotate or revoke" in pull["body"]
        env_pull = next(
            p
            for p in env.sim.admin.pulls("api")
            if p["number"] == cleanups[0]["pr_number"] or p["number"] == cleanups[1]["pr_number"]
        )
        assert env_pull
        dotenv = [
            remote_file(env, "api", p["head"], ".env")
            for p in env.sim.admin.pulls("api")
            if p["number"] in {u["pr_number"] for u in cleanups}
            and "REPLACE" in remote_file(env, "api", p["head"], ".env")
        ]
        assert dotenv == ["AWS_ACCESS_KEY_ID=REPLACE_WITH_ROTATED_SECRET\nDEBUG=1\n"]
        settings = [
            remote_file(env, "api", p["head"], "app/settings.py")
            for p in env.sim.admin.pulls("api")
            if p["number"] in {u["pr_number"] for u in cleanups}
        ]
        assert any('os.environ["GITHUB_PERSONAL_ACCESS_TOKEN"]' in s for s in settings)
        assert not any(
            r.method == "PATCH" and "secret-scanning" in r.path for r in env.sim.admin.requests()
        )

        assert_no_canary(
            env,
            [AWS, GHP, TOKEN, "xoxb-1234567890-1234567890-abcdefghijklmnopqrst"],
            result.stdout + result.stderr,
        )


def assert_no_canary(env: Any, canaries: list[str], output: str) -> None:
    """Byte search: state dir (reports, audit, cache, db), output, PR bodies, comments, commits."""
    for canary in canaries:
        assert canary not in output, canary
    for file in env.state_dir.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            for canary in canaries:
                assert canary.encode() not in data, (canary, file)
    for repo in ("api",):
        for pull in env.sim.admin.pulls(repo):
            text = pull["title"] + pull["body"] + "".join(pull["comments"])
            for canary in canaries:
                assert canary not in text
        log = subprocess.run(
            ["git", "--git-dir", str(env.sim.remote_path(repo)), "log", "--all", "--format=%B"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        agent_commits = subprocess.run(
            [
                "git",
                "--git-dir",
                str(env.sim.remote_path(repo)),
                "log",
                "--all",
                "--author=agentd",
                "-p",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for canary in canaries:
            assert canary not in log
            added = [
                line
                for line in agent_commits.splitlines()
                if line.startswith("+") and canary in line
            ]
            assert added == [], added
    for request in env.sim.admin.requests():
        if request.mutating:
            for canary in canaries:
                assert canary not in request.body
