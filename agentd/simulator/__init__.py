"""A local GitHub: the REST endpoints agentd uses, over real bare git repositories.

    with Simulator(scenario, workdir) as sim:
        sim.api_url, sim.clone_path("api"), sim.admin.requests()

The project's main test fixture and the engine of `agentd demo` (SPEC §14).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from agentd.simulator.admin import Admin
from agentd.simulator.http import Traffic
from agentd.simulator.scenario import Scenario, ScenarioError, load_scenario
from agentd.simulator.server import SimulatorServer
from agentd.simulator.world import World

SCENARIOS = Path(__file__).parent / "scenarios"


class Simulator:
    def __init__(
        self,
        scenario: Path | dict[str, Any] | Scenario,
        workdir: Path,
        *,
        latency_ms: int = 0,
        advisory_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_prefix: str = "",
    ) -> None:
        if isinstance(scenario, Scenario):
            parsed, base = scenario, None
        else:
            parsed, base = load_scenario(scenario)
        if advisory_dir is not None:  # overrides the scenario's (default: the packaged data)
            parsed = parsed.model_copy(update={"advisory_dir": str(advisory_dir.resolve())})
        self.scenario = parsed
        self.workdir = workdir
        self.world = World(parsed, workdir, base)
        self.traffic = Traffic(parsed.rate_limit.limit, parsed.rate_limit.used)
        self.traffic.latency_ms = latency_ms
        self.admin = Admin(self.world, self.traffic)
        self._address = (host, port)
        # GitHub Enterprise Server's REST API lives under /api/v3: with a prefix the API is
        # served only there (GraphQL at /api/graphql), git and /_sim stay at the root.
        self.api_prefix = api_prefix.rstrip("/")
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        """Where the simulator serves (scheme, host, port): git's base too."""
        return self.world.api_url.removesuffix(self.api_prefix)

    @property
    def rest_url(self) -> str:
        """The REST API base, `AGENTD_API_URL` for runs: `api_url` plus the API prefix."""
        return self.world.api_url

    @property
    def owner(self) -> str:
        return self.scenario.owner.login

    def clone_path(self, repo: str) -> Path:
        return self.workdir / "clones" / repo

    def remote_path(self, repo: str) -> Path:
        return self.workdir / "remotes" / f"{repo}.git"

    @property
    def git_url(self) -> str:
        """`AGENTD_GIT_URL` for runs against this simulator ({owner}/{repo} template): git over
        smart HTTP with token auth while it serves, else the bare repositories' local paths."""
        if self._server is None:
            return self.local_git_url
        return f"{self.api_url}/{{owner}}/{{repo}}.git"

    @property
    def local_git_url(self) -> str:
        """The bare repositories as local paths: no server, no token, no GitHub push rules."""
        return str(self.workdir.resolve() / "remotes" / "{repo}.git")

    def start(self) -> Simulator:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._server = SimulatorServer(
            self._address, self.world, self.traffic, self.admin, self.api_prefix
        )
        host, port = self._server.server_address[:2]
        self.world.api_url = f"http://{host!s}:{port}{self.api_prefix}"  # URLs in answers
        self.world.materialize()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="github-simulator", daemon=True
        )
        self._thread.start()
        self._write_manifest()
        return self

    def materialize(self) -> dict[str, Any]:
        """Create the remotes, clones and action repositories and write sim.json; no server."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.world.materialize()
        return self._write_manifest()

    def _write_manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "api_url": self.api_url,
            "git_url": self.git_url,
            "local_git_url": self.local_git_url,
            "owner": self.owner,
            "owner_type": self.scenario.owner.type,
            "remotes": {name: str(self.remote_path(name)) for name in self.world.repos},
            "clones": {name: str(self.clone_path(name)) for name in self.world.repos},
        }
        (self.workdir / "sim.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return manifest

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def materialize(
    scenario: Path | dict[str, Any] | Scenario, workdir: Path, api_url: str = ""
) -> dict[str, Any]:
    """Lay a scenario out on disk without serving it: WORKDIR/remotes/<repo>.git (bare),
    WORKDIR/clones/<repo> (origin = the bare repository), WORKDIR/actions/<owner>/<repo>.git
    and WORKDIR/sim.json, whose `api_url` is the one given. Returns the sim.json content.
    """
    simulator = Simulator(scenario, workdir)
    simulator.world.api_url = api_url
    return simulator.materialize()


__all__ = ["SCENARIOS", "Scenario", "ScenarioError", "Simulator", "load_scenario", "materialize"]
