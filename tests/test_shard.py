"""`agentd run --shard K/N`: a stable share of a profile's repositories under its own lock;
the shards together cover every repository once, and their runs make one report."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from e2e import E2E, PYTHON, e2e
from pg import fresh_database  # noqa: F401 - the pg_url fixture
from support import base_profile, run_agentd, write_profile

from agentd.errors import UsageError
from agentd.lock import ProfileLock, shard_lock_path
from agentd.profile import parse_profile
from agentd.shard import Shard, combine, latest_per_shard, shard_of

NAMES = ["svc-0", "svc-1", "svc-2", "svc-3", "svc-6", "svc-7"]  # three in each of 2 shards
VULNERABLE = {"requirements.txt": "requests==2.25.0\n"}


# --- the share ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1/2", "2/2", " 3 / 7 ", "1/1"])
def test_a_shard_is_k_of_n(text: str) -> None:
    shard = Shard.parse(text)
    assert 1 <= shard.index <= shard.count
    assert shard.label == f"shard-{shard.index}-of-{shard.count}"


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "-1/2", "1/2/3", ""])
def test_anything_else_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as error:
        Shard.parse(text)
    assert error.value.exit_code == 2 and "K/N" in error.value.message


def test_a_bad_shard_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.yaml", base_profile(tmp_path))
    result = run_agentd("run", "--profile", str(profile), "--shard", "3/2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "agentd: error: --shard '3/2' is not a shard: write K/N with 1 ≤ K ≤ N ≤ 4096, "
        "e.g. --shard 1/2 on one host and --shard 2/2 on the other"
    ]


def test_n_shards_cover_every_repository_exactly_once() -> None:
    names = [f"repo-{i}" for i in range(300)]
    for count in (1, 2, 3, 7):
        owners = [[k for k in range(1, count + 1) if Shard(k, count).owns(n)] for n in names]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o == [k]) for k in range(1, count + 1)]
        assert min(sizes) > len(names) / count / 2  # a share each, not all on one


def test_the_share_is_stable_across_processes_and_case() -> None:
    """A hash of the name that every host computes alike (Python's hash() is salted)."""
    code = "from agentd.shard import shard_of; print([shard_of(f'repo-{i}', 5) for i in range(40)])"
    runs = {
        subprocess.run(
            [PYTHON, "-c", code], check=True, capture_output=True, text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert runs == {str([shard_of(f"repo-{i}", 5) for i in range(40)]) + "\n"}
    assert shard_of("API", 5) == shard_of("api", 5)
    assert [shard_of(n, 2) for n in NAMES] == [1, 1, 2, 1, 2, 2]  # sha256, pinned


def test_select_keeps_the_profile_but_the_share(tmp_path: Path) -> None:
    data = base_profile(tmp_path)
    data["repositories"] = [
        {"repo": n, "local_path": str(tmp_path / n), "automation_mode": "manual_only"}
        for n in NAMES
    ]
    import yaml

    profile = parse_profile(yaml.safe_dump(data), tmp_path / "p.yaml").profile
    mine = Shard(2, 2).select(profile)
    assert [r.repo for r in mine.repositories] == ["svc-2", "svc-6", "svc-7"]
    assert mine.profile == profile.profile


def test_each_shard_has_its_own_lock_file(tmp_path: Path) -> None:
    path = tmp_path / ".github-security-agent.acme.lock"
    assert (
        shard_lock_path(path, "shard-1-of-2").name
        == ".github-security-agent.acme.shard-1-of-2.lock"
    )
    assert shard_lock_path(path, None) == path


def test_one_report_from_the_latest_run_of_each_shard() -> None:
    def run(run_id: str, shard: str | None, repo: str, **extra: Any) -> dict[str, Any]:
        return {
            "run_id": run_id, "shard": shard, "generated_at": run_id, "finished_at": run_id,
            "units": [{"repository": repo, "outcome": "opened_pr"}], "outcomes": {"opened_pr": 1},
            "open_alerts_by_class": {"dependabot": 1}, "repositories_by_mode": {"active": 1},
            **extra,
        }  # fmt: skip

    newest_first = [
        run("5", "1/2", "b", lock_contended=True),  # did not run: never stands for its shard
        run("4", "2/2", "c"),
        run("3", "1/2", "a"),
        run("2", "1/2", "old"),
        run("1", None, "x"),
    ]
    picked = latest_per_shard(newest_first)
    assert [p["run_id"] for p in picked] == ["3", "4"]
    report = combine(picked, 2)
    assert sorted(u["repository"] for u in report["units"]) == ["a", "c"]
    assert report["combined_runs"] == ["3", "4"] and report["outcomes"] == {"opened_pr": 2}
    assert report["open_alerts_by_class"] == {"dependabot": 2}
    one = combine([run("3", "1/3", "a")], 3)
    assert any("shard 2/3 has no run" in w for w in one["warnings"])
    assert latest_per_shard([run("9", None, "z"), run("8", "1/2", "a")])[0]["run_id"] == "9"


# --- end to end ---------------------------------------------------------------------------


def scenario() -> dict[str, Any]:
    return {
        "owner": {"login": "acme-org", "type": "org"},
        "repositories": [{"name": n, "files": VULNERABLE} for n in NAMES],
    }


def start_shard(env: E2E, shard: str, state: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "agentd", "run", "--profile", str(env.profile_path), "--shard", shard, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env.env(AGENTD_STATE_DIR=str(state), **extra),
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, json.loads(out) if out.strip() else {}, out + err


def repositories(summary: dict[str, Any]) -> set[str]:
    return {u["repository"] for u in summary["units"]}


def assert_one_pr_per_repository(env: E2E) -> None:
    for name in NAMES:
        pulls = env.sim.admin.pulls(name)
        assert len(pulls) == 1, (name, [p["head"] for p in pulls])


def test_two_shards_at_once_on_one_postgresql_store(tmp_path: Path, pg_url: str) -> None:
    """Issue 17's acceptance: two hosts (two state directories), one PostgreSQL store, one
    simulator, both shards at the same time: each repository handled once, no duplicate PR,
    one combined report; the store's password appears nowhere."""
    password = urlsplit(pg_url).password
    assert password
    with e2e(tmp_path, scenario(), [{"repo": n} for n in NAMES], mode="pull_request") as env:
        env.sim.admin.set_latency(30)  # long enough runs that the two overlap
        hosts = {k: tmp_path / f"host-{k}" for k in (1, 2)}
        procs = {k: start_shard(env, f"{k}/2", hosts[k], AGENTD_STORE_URL=pg_url) for k in (1, 2)}
        results = {k: finish(p) for k, p in procs.items()}
        env.sim.admin.set_latency(0)
        for k, (code, summary, output) in results.items():
            assert code == 0, output[-3000:]
            env.check_honesty(summary)
            assert summary["shard"] == f"{k}/2" and summary["run_id"].endswith(f"-s{k}of2")
            assert f"shard-{k}-of-2" in summary["report_path"]
            assert repositories(summary) == {n for n in NAMES if shard_of(n, 2) == k}
            assert password not in output
        one, two = results[1][1], results[2][1]
        assert (
            one["generated_at"] <= two["finished_at"] and two["generated_at"] <= one["finished_at"]
        )
        assert repositories(one) | repositories(two) == set(NAMES)
        assert_one_pr_per_repository(env)

        # A third host reads the whole fleet's history from the store: one report.
        reader = {"AGENTD_STORE_URL": pg_url, "AGENTD_STATE_DIR": str(tmp_path / "host-3")}
        report = env.agentd(
            "report", "--profile", str(env.profile_path), "--format", "json", **reader
        )
        assert report.returncode == 0, report.stderr[-2000:]
        combined = json.loads(report.stdout)
        assert sorted(combined["combined_runs"]) == sorted([one["run_id"], two["run_id"]])
        assert sorted(u["repository"] for u in combined["units"]) == sorted(NAMES)
        assert combined["outcomes"]["opened_pr"] == len(NAMES)
        table = env.agentd("report", "--profile", str(env.profile_path), **reader)
        assert "shard combined: 2 of 2 shards (runs " in table.stdout
        assert all(n in table.stdout for n in NAMES)
        runs = json.loads(
            env.agentd("runs", "--profile", str(env.profile_path), "--json", **reader).stdout
        )
        assert {r["run_id"] for r in runs["runs"]} == {one["run_id"], two["run_id"]}
        leaks = [
            p for host in hosts.values() for p in host.rglob("*")
            if p.is_file() and password.encode() in p.read_bytes()
        ]  # fmt: skip
        assert leaks == []
        assert password not in report.stdout + report.stderr + table.stdout + table.stderr
        import psycopg

        with psycopg.connect(pg_url) as db:
            dump = db.execute("SELECT string_agg(r::text, '') FROM runs r").fetchone()
            units = db.execute("SELECT string_agg(u::text, '') FROM units u").fetchone()
        assert password not in f"{dump}{units}"


def test_the_same_shard_on_another_host_is_refused_by_the_advisory_lock(
    tmp_path: Path, pg_url: str
) -> None:
    """Another state directory (another host) has another lock file: only the store's
    advisory lock stops the second run of shard 1/2; shard 2/2 runs meanwhile."""
    from agentd.pgstore import AdvisoryLock

    with e2e(tmp_path, scenario(), [{"repo": n} for n in NAMES], mode="pull_request") as env:
        holder = AdvisoryLock(pg_url, "e2e", "shard-1-of-2").acquire()  # host A's run of 1/2
        try:
            code, summary, output = finish(
                start_shard(env, "1/2", tmp_path / "host-b", AGENTD_STORE_URL=pg_url)
            )
            assert code == 75, output[-3000:]
            assert summary["lock_contended"] is True and summary["stopped"] == "lock_contended"
            assert "lock_contended" in output and "shard-1-of-2" in output
            assert env.mutating() == []
            code, other, output = finish(
                start_shard(env, "2/2", tmp_path / "host-c", AGENTD_STORE_URL=pg_url)
            )
            assert code == 0, output[-3000:]
            assert repositories(other) == {n for n in NAMES if shard_of(n, 2) == 2}
        finally:
            holder.release()
        from agentd.pgstore import PostgresStore

        assert PostgresStore(pg_url).lock_contentions("e2e") == 1


def test_shards_on_the_embedded_store_lock_and_report_apart(tmp_path: Path) -> None:
    """Without a store URL: one lock file per shard, reports in per-shard directories, and
    `agentd report` combines the shards' latest runs from the SQLite store."""
    with e2e(tmp_path, scenario(), [{"repo": n} for n in NAMES], mode="pull_request") as env:
        clones = env.sim.workdir / "clones"
        held = ProfileLock(clones / ".github-security-agent.e2e.shard-1-of-2.lock", "e2e", 7200)
        with held:
            code, summary, output = finish(start_shard(env, "1/2", env.state_dir))
            assert code == 75 and summary["lock_contended"] is True, output[-3000:]
            status = env.agentd(
                "lock", "status", "--profile", str(env.profile_path), "--shard", "1/2", "--json"
            )
            assert json.loads(status.stdout)["state"] == "active"
            assert json.loads(status.stdout)["path"].endswith(".e2e.shard-1-of-2.lock")
            unsharded = env.agentd("lock", "status", "--profile", str(env.profile_path))
            assert unsharded.stdout.rstrip().endswith("absent")
            code, two, output = finish(start_shard(env, "2/2", env.state_dir))
            assert code == 0, output[-3000:]
        code, one, output = finish(start_shard(env, "1/2", env.state_dir))
        assert code == 0, output[-3000:]
        assert repositories(one) | repositories(two) == set(NAMES)
        assert not repositories(one) & repositories(two)
        assert_one_pr_per_repository(env)
        for k in (1, 2):
            assert (env.state_dir / "runs" / "e2e" / f"shard-{k}-of-2" / "latest.json").is_file()
        report = env.agentd("report", "--profile", str(env.profile_path), "--format", "json")
        combined = json.loads(report.stdout)
        assert sorted(u["repository"] for u in combined["units"]) == sorted(NAMES)
        assert combined["shard"] == "combined: 2 of 2 shards"
        found = env.agentd(
            "discover", "--profile", str(env.profile_path), "--shard", "2/2", "--json"
        )
        listed = {r["repo"] for r in json.loads(found.stdout)["repos"]}
        assert listed == {n for n in NAMES if shard_of(n, 2) == 2}, found.stderr[-2000:]
