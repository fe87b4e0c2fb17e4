"""The churn check end to end (issue 15, cause 8): the real CLI, the simulator, real npm
against a loopback registry. A lockfile the manifest has outgrown makes npm refresh a
package no fix needs along with the fix; that change is blocked, naming what else moved,
while a fix that brings a new transitive dependency of its own merges."""

from __future__ import annotations

import json
from pathlib import Path

from e2e import e2e
from ecosystems.registries.e2etools import (
    LOCKFILE_RULE,
    configure,
    explain,
    file_on_main,
    repo,
    scenario,
    target,
    the_unit,
)
from ecosystems.registries.npm import (
    lodash_registry,
    publish_lodash_fixes,
    registry_env,
    write_package_json,
)
from ecosystems.registries.toolenv import offline_env, private_home, run
from support import require_tool

LOCK = "package-lock.json"


def test_an_update_that_also_refreshes_an_unrelated_package_is_blocked(tmp_path: Path) -> None:
    require_tool("npm")
    registry = lodash_registry()
    registry.publish("other", "1.0.0").publish("other", "2.0.0")
    home = private_home(tmp_path)
    with registry.serve() as url:
        fixtures = {}
        for name in ("clean", "stale"):
            directory = tmp_path / "fixtures" / name
            manifest = {"name": name, "version": "1.0.0",
                        "dependencies": {"uses-lodash": "^1.0.0", "other": "^1.0.0"}}  # fmt: skip
            write_package_json(directory, manifest)
            run(["npm", "install", "--package-lock-only", "--ignore-scripts"], directory,
                offline_env(home, registry_env(url)))  # fmt: skip
            if name == "stale":  # the manifest moved on; its lockfile did not
                manifest["dependencies"] = {"uses-lodash": "^1.0.0", "other": "^2.0.0"}
                write_package_json(directory, manifest)
            fixtures[name] = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        publish_lodash_fixes(registry)  # lodash 4.17.21 brings a new dependency, helper
        world = scenario(repo("clean", fixtures["clean"]), repo("stale", fixtures["stale"]))
        profile_repos = [{"repo": n, "targets": [target("npm")]} for n in ("clean", "stale")]
        with e2e(tmp_path, world, profile_repos) as env:
            configure(env, {"npm": LOCKFILE_RULE}, registry_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]

            clean = the_unit(env, summary, "clean")
            assert clean["outcome"] == "merged", explain(clean)
            packages = json.loads(file_on_main(env, "clean", LOCK))["packages"]
            assert packages["node_modules/lodash"]["version"] == "4.17.21"
            assert packages["node_modules/helper"]["version"] == "1.0.0"

            stale = the_unit(env, summary, "stale")
            assert (stale["outcome"], stale["reason_code"]) == (
                "blocked",
                "verification_failed",
            ), explain(stale)
            assert "the update also changed other 1.0.0 → 2.0.0" in stale["detail"], stale
            assert "lodash" not in stale["detail"].split("changed", 1)[1]
            assert env.sim.admin.pulls("stale") == []
            assert file_on_main(env, "stale", LOCK) == fixtures["stale"][LOCK]
            alerts = env.sim.admin.alerts("stale", "dependabot")
            assert alerts and all(a["state"] == "open" for a in alerts)


def test_a_parent_the_updater_moved_in_range_passes_the_churn_check(tmp_path: Path) -> None:
    """`server` 1.0.0 pins cookie 0.4.0 exactly; npm moves it in range to 1.1.0 (cookie
    0.7.1). npm removes copies by updating their dependents, so a dependent's move is on
    purpose, no churn: the unit merges."""
    require_tool("npm")
    registry = lodash_registry()
    registry.publish("cookie", "0.4.0").publish("server", "1.0.0", {"cookie": "0.4.0"})
    home = private_home(tmp_path)
    with registry.serve() as url:
        directory = tmp_path / "fixtures" / "parent"
        manifest = {"name": "app", "version": "1.0.0", "dependencies": {"server": "^1.0.0"}}
        write_package_json(directory, manifest)
        run(["npm", "install", "--package-lock-only", "--ignore-scripts"], directory,
            offline_env(home, registry_env(url)))  # fmt: skip
        files = {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}
        registry.publish("cookie", "0.7.0").publish("cookie", "0.7.1")
        registry.publish("server", "1.1.0", {"cookie": "0.7.1"})
        world = scenario(repo("parent", files))
        with e2e(tmp_path, world, [{"repo": "parent", "targets": [target("npm")]}]) as env:
            configure(env, {"npm": LOCKFILE_RULE}, registry_env(url))
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            unit = the_unit(env, summary, "parent")
            assert unit["outcome"] == "merged", explain(unit)
            packages = json.loads(file_on_main(env, "parent", LOCK))["packages"]
            assert packages["node_modules/server"]["version"] == "1.1.0"
            assert packages["node_modules/cookie"]["version"] == "0.7.1"
