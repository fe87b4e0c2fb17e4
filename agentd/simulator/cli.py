"""`agentd sim serve`: materialize a scenario and serve its API until stopped."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from agentd.simulator import Simulator
from agentd.simulator.scenario import ScenarioError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    parser.add_argument(
        "--workdir", required=True, type=Path, help="where remotes/ and clones/ are made"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every API request")


def serve(args: argparse.Namespace) -> int:
    try:
        sim = Simulator(
            args.scenario, args.workdir, latency_ms=args.latency_ms, host=args.host, port=args.port
        )
    except ScenarioError as exc:
        print(f"agentd sim: {exc}")
        return 78
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with sim:
        print(
            f"GitHub simulator serving {sim.api_url} (owner {sim.owner}); manifest {args.workdir / 'sim.json'}",
            flush=True,
        )
        stopped.wait()
    return 0
