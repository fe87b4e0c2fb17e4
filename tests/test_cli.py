"""The command-line skeleton: commands exist, stubs say so plainly, usage errors exit 2."""

from __future__ import annotations

from support import run_agentd


def test_help_lists_every_command() -> None:
    result = run_agentd("--help")
    assert result.returncode == 0
    for command in (
        "validate",
        "lock",
        "run",
        "discover",
        "report",
        "runs",
        "daemon",
        "demo",
        "sim",
    ):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run_agentd("frobnicate")
    assert result.returncode == 2


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    import os
    import subprocess
    import sys

    from support import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTD_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "agentd", "validate", str(REPO_ROOT / "profiles/template/profile.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head` that already has what it wanted
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_the_command_line_may_lower_the_mode_but_raising_it_needs_allow_escalation(
    tmp_path: object,
) -> None:
    from pathlib import Path

    from e2e import e2e

    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
    }
    with e2e(Path(str(tmp_path)), scenario, [{"repo": "api"}], mode="report_only") as env:
        result, _ = env.run("--mutation-mode", "auto_merge")
        assert result.returncode == 2, result.stderr
        assert "would raise the profile's mutation_mode report_only" in result.stderr
        assert "--allow-escalation" in result.stderr and env.mutating() == []
        lowered, _ = env.run("--mutation-mode", "report_only")
        assert lowered.returncode == 0, lowered.stderr[-2000:]
        raised, summary = env.run("--mutation-mode", "pull_request", "--allow-escalation")
        assert raised.returncode == 0 and summary["mutation_mode"] == "pull_request"
        assert "mutation mode raised" in raised.stderr


def _without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def _closed_early(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run agentd with its stdout closed at once, like `| head -1` that already has its line."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "agentd", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    return process.wait(timeout=120), stderr


def test_history_and_profiles_by_id_without_naming_a_profile(tmp_path: object) -> None:
    """Defect 13: `runs` and `report` read every profile's history without --profile;
    `validate` takes an id or a directory; a mistyped id gets a suggestion; readers that
    leave early (`| head -1`) get no traceback."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from e2e import e2e

    scenario = {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": "api", "files": {"requirements.txt": "requests==2.25.0\n"}}],
    }
    root = Path(str(tmp_path))
    with e2e(root, scenario, [{"repo": "api"}], mode="report_only") as env:
        profiles = root / "profiles"
        (profiles / "e2e").mkdir(parents=True)
        shutil.copy(env.profile_path, profiles / "e2e" / "profile.yaml")
        # The default state dir (under the clone root), as an operator without
        # AGENTD_STATE_DIR has it.
        base = _without(env.env(AGENTD_PROFILES_DIR=str(profiles)), "AGENTD_STATE_DIR")

        def agentd(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "agentd", *args],
                capture_output=True, text=True, env=base, timeout=180, check=False,
            )  # fmt: skip

        run = agentd("run", "--profile", "e2e", "--json")
        assert run.returncode == 0, run.stderr[-2000:]
        run_id = json.loads(run.stdout)["run_id"]

        runs = agentd("runs")
        assert runs.returncode == 0, runs.stderr
        assert run_id in runs.stdout and "e2e" in runs.stdout
        listed = json.loads(agentd("runs", "--json").stdout)
        assert [r["run_id"] for r in listed["runs"]] == [run_id]
        report = agentd("report", "--run", run_id)
        assert report.returncode == 0 and "agentd run for profile e2e" in report.stdout

        for reference in ("e2e", str(profiles / "e2e")):
            valid = agentd("validate", reference)
            assert valid.returncode == 0 and "profile 'e2e' is valid" in valid.stdout, valid.stderr

        typo = agentd("discover", "--profile", "e2")
        assert typo.returncode == 2 and "did you mean 'e2e'?" in typo.stderr, typo.stderr

        for args in (["runs", "--json"], ["discover", "--profile", "e2e"]):
            code, stderr = _closed_early(args, base)
            assert code == 0 or args[0] == "discover", (args, stderr)  # discover: its own code
            assert "Traceback" not in stderr and "BrokenPipe" not in stderr, (args, stderr)

        empty = root / "no-profiles"
        empty.mkdir()
        nothing = subprocess.run(
            [sys.executable, "-m", "agentd", "runs"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**base, "AGENTD_PROFILES_DIR": str(empty)},
        )  # fmt: skip
        assert nothing.returncode == 2 and "no profiles in" in nothing.stderr


def test_validate_json_reports_an_invalid_profile_with_suggestions(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from support import base_profile, write_profile

    root = Path(str(tmp_path))
    data = base_profile(root / "clones")
    runtime = data["profile"]["runtime"]
    runtime["max_paralel_repos"] = runtime.pop("max_parallel_repos")
    data["repositories"][0]["targets"][0]["verificaton_commands"] = ["pytest"]
    path = write_profile(root / "acme" / "profile.yaml", data)

    result = run_agentd("validate", str(path), "--json")
    assert result.returncode == 78, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is False
    by_path = {e["path"]: e for e in report["errors"]}
    typo = by_path["profile.runtime.max_paralel_repos"]
    assert typo["message"] == "unknown key; did you mean 'max_parallel_repos'?"
    assert typo["line"] and typo["fix"].startswith("rename it to max_parallel_repos")
    assert (
        "did you mean 'verification_commands'?"
        in (by_path["repositories[0].targets[0].verificaton_commands"]["message"])
    )

    human = run_agentd("validate", str(root / "acme"))  # the directory holding profile.yaml
    assert human.returncode == 78
    assert "max_paralel_repos (line" in human.stderr and "did you mean" in human.stderr
