"""Run history, reports, audit log and metrics after real runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from e2e import e2e
from test_e2e_scanning import CODE_SCANNING, scenario, target

from agentd.audit import read_audit
from agentd.store import MIGRATIONS, RunStore


def test_reports_history_audit_and_metrics(tmp_path: Path) -> None:
    repos = [{"repo": "api", "targets": [target()]}, {"repo": "releaser", "targets": [target()]}]
    with e2e(tmp_path, scenario(), repos, code_scanning=CODE_SCANNING) as env:
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]

        # One audit record per mutating request the simulator saw (pushes are recorded on top).
        audit = read_audit(env.state_dir / "audit" / "e2e.jsonl")
        api_records = [r for r in audit if r["action"] != "push"]
        mutating = env.sim.admin.mutating_requests()
        assert len(api_records) == len(mutating) > 0
        assert sorted((r["method"], r["path"]) for r in api_records) == sorted(
            (r.method, r.path) for r in mutating
        )
        assert sorted(r["request_id"] for r in api_records) == sorted(
            r.request_id for r in mutating
        )
        assert all(r["remediation_key"] for r in api_records)
        assert any(r["action"] == "merge" and r["result"] == "ok" for r in api_records)
        assert [r for r in audit if r["action"] == "push"]

        env.run()
        store = RunStore(env.state_dir)
        assert store.schema_version == len(MIGRATIONS)
        assert len(store.runs("e2e")) == 2

        table = env.agentd("report", "--profile", str(env.profile_path))
        assert table.returncode == 0 and "agentd run for profile e2e" in table.stdout
        as_json = json.loads(
            env.agentd("report", "--profile", str(env.profile_path), "--format", "json").stdout
        )
        assert as_json["profile_id"] == "e2e" and as_json["units"]
        markdown = env.agentd(
            "report", "--profile", str(env.profile_path), "--format", "markdown"
        ).stdout
        assert markdown.startswith("# agentd run: e2e")
        first_run = store.runs("e2e")[-1].id
        older = env.agentd(
            "report",
            "--profile",
            str(env.profile_path),
            "--run",
            str(first_run),
            "--format",
            "json",
        )
        assert json.loads(older.stdout)["outcomes"]["merged"] >= 2

        weekly = env.agentd(
            "report", "--profile", str(env.profile_path), "--format", "weekly"
        ).stdout
        assert "Runs in the window: 2" in weekly and "| merged |" in weekly
        numbers = {str(u["alert_number"]) for u in summary["units"] if u["alert_number"]} | {
            str(n) for u in summary["units"] for n in u["alert_numbers"]
        }
        for forbidden in [
            "api",
            "releaser",
            "acme-org",
            "aws_access_key_id",
            "github_personal_access_token",
            "AWS Access Key",
            "GHSA-",
        ]:
            assert forbidden not in weekly, forbidden
        table_rows = [
            line
            for line in weekly.splitlines()
            if line.startswith("| ") and not line.startswith("| run")
        ]
        assert all(not any(f"#{n}" in row for n in numbers) for row in table_rows)

        runs = env.agentd("runs", "--profile", str(env.profile_path))
        assert runs.returncode == 0 and "open alerts per class" in runs.stdout

        metrics = (env.state_dir / "metrics" / "agentd_e2e.prom").read_text()
        assert 'agentd_last_run_success{profile="e2e"} 1' in metrics
        assert 'agentd_units{profile="e2e",outcome="merged",reason=""}' in metrics
        assert 'agentd_open_alerts{profile="e2e",class="dependabot"}' in metrics
        assert (
            "agentd_rate_limit_remaining" in metrics and "agentd_lock_recoveries_total" in metrics
        )


def test_store_migrates_an_old_database(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "agentd.db")
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO runs (profile_id, generated_at, finished_at, mutation_mode, dry_run, summary_json) VALUES ('p', 'a', 'b', 'report_only', 0, '{}')"
    )
    db.commit()
    db.close()
    store = RunStore(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.runs("p")[0].profile_id == "p"
    mode = sqlite3.connect(tmp_path / "agentd.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_one_run_id_everywhere(tmp_path: Path) -> None:
    """Defect 6: the id `run` prints is the one in --json, the store, the report file, the
    audit log, `runs` and `report --run`; an unknown id is one line and exit 2."""
    import re

    run_id_pattern = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")  # 20261201T214716Z-3f9a

    with e2e(tmp_path, scenario(), [{"repo": "api", "targets": [target()]}]) as env:
        human = env.agentd("run", "--profile", str(env.profile_path))
        assert human.returncode == 0, human.stderr[-2000:]
        printed = re.findall(r"^run (\S+): ", human.stdout, re.MULTILINE)
        assert len(printed) == 1 and run_id_pattern.match(printed[0]), human.stdout[-500:]
        run_id = printed[0]
        assert f"agentd report --run {run_id}" in human.stdout
        result, summary = env.run()
        assert result.returncode == 0, result.stderr[-2000:]
        json_id = summary["run_id"]
        assert run_id_pattern.match(json_id) and json_id != run_id

        store = RunStore(env.state_dir)
        assert [r.id for r in store.runs("e2e")] == [json_id, run_id]
        reports = env.state_dir / "runs" / "e2e"
        assert (reports / f"{run_id}.jsonl").is_file() and (reports / f"{json_id}.jsonl").is_file()
        assert json.loads((reports / "latest.json").read_text())["run_id"] == json_id
        audit = read_audit(env.state_dir / "audit" / "e2e.jsonl")
        assert audit and {r["run_id"] for r in audit} <= {run_id, json_id}
        assert run_id in {r["run_id"] for r in audit}  # the first run merged: it mutated

        listed = env.agentd("runs", "--profile", str(env.profile_path))
        assert run_id in listed.stdout and json_id in listed.stdout
        as_json = json.loads(
            env.agentd("runs", "--profile", str(env.profile_path), "--json").stdout
        )
        assert [r["run_id"] for r in as_json["runs"]] == [json_id, run_id]
        for ref in (run_id, run_id[:-2]):  # the id, or enough of its start to be unique
            shown = env.agentd("report", "--run", ref, "--format", "json")
            assert shown.returncode == 0, shown.stderr
            assert json.loads(shown.stdout)["run_id"] == run_id

        for unknown in ("20200101T000000Z", "nope"):
            missing = env.agentd("report", "--profile", str(env.profile_path), "--run", unknown)
            assert missing.returncode == 2 and "Traceback" not in missing.stderr
            assert missing.stderr.strip().splitlines() == [
                f"agentd: error: no run {unknown!r} in the run history of profile 'e2e'; "
                "`agentd runs` lists the run ids"
            ]


def test_runs_recorded_before_run_ids_stay_readable(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "agentd.db")
    for migration in MIGRATIONS[:2]:
        migration(db)
    db.execute("PRAGMA user_version = 2")
    for generated in ("2026-11-30T21:47:16+00:00", "2026-12-01T03:00:00+00:00"):
        db.execute(
            "INSERT INTO runs (profile_id, generated_at, finished_at, mutation_mode, dry_run,"
            " summary_json) VALUES ('p', ?, ?, 'report_only', 0, ?)",
            (generated, generated, json.dumps({"profile_id": "p", "generated_at": generated})),
        )
    db.commit()
    db.close()
    store = RunStore(tmp_path)
    newest, oldest = store.runs("p")
    assert (oldest.id, newest.id) == ("20261130T214716Z-0001", "20261201T030000Z-0002")
    assert newest.summary["run_id"] == newest.id  # what `report --format json` shows
    assert store.run("1") == oldest  # the integer `report --run` took before
    assert store.run(oldest.id) == oldest and store.run("20261201") == newest
    assert store.run("2026") is None  # matches both: ambiguous, never a guess


def test_the_v5_migration_keeps_every_run_and_unit_and_puts_the_summary_last(
    tmp_path: Path,
) -> None:
    """v5 rebuilds `runs` so that `summary_json` is the row's last column (where SQLite can
    reserve a blob without building it): rows, ids and the units that refer to them stay,
    and deleting a run still deletes its units."""
    db = sqlite3.connect(tmp_path / "agentd.db")
    db.execute("PRAGMA foreign_keys=ON")
    for migration in MIGRATIONS[:4]:
        migration(db)
    db.execute("PRAGMA user_version = 4")
    for n in (1, 2):
        db.execute(
            "INSERT INTO runs (run_id, profile_id, generated_at, finished_at, mutation_mode,"
            " dry_run, summary_json, shard) VALUES (?, 'p', ?, ?, 'report_only', 0, ?, '1/2')",
            (f"run-{n}", f"2026-12-0{n}", f"2026-12-0{n}", json.dumps({"n": n})),
        )
        db.execute(
            "INSERT INTO units (run_id, repository, target_id, remediation_key, alert_class,"
            " outcome, record_json) VALUES (?, 'api', 'root', ?, 'dependabot', 'merged', '{}')",
            (n, f"k{n}"),
        )
    db.commit()
    db.close()
    store = RunStore(tmp_path)
    assert store.schema_version == len(MIGRATIONS) == 5
    assert [r.summary["n"] for r in store.runs("p")] == [2, 1]
    with sqlite3.connect(tmp_path / "agentd.db") as db:
        db.execute("PRAGMA foreign_keys=ON")
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
        assert columns[-1] == "summary_json" and "shard" in columns
        assert db.execute("SELECT run_id, shard FROM runs ORDER BY id").fetchall() == [
            ("run-1", "1/2"),
            ("run-2", "1/2"),
        ]
        assert db.execute("SELECT run_id FROM units ORDER BY id").fetchall() == [(1,), (2,)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        db.execute("DELETE FROM runs WHERE id = 1")
        assert db.execute("SELECT run_id FROM units").fetchall() == [(2,)]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(runs)")}
        assert {"runs_profile", "runs_run_id"} <= indexes
