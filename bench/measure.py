"""One measured command against a running simulator: wall time, the requests it sent, the
rate limit it used, its peak RSS (the process and the tools it waited for), and which URLs it
read more than once. Every command runs as a child process, the way an operator runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import agentd
from agentd.simulator import Simulator

TOKEN = "ghp_" + "b" * 36
ROOT = Path(__file__).resolve().parents[1]
# the children run the agentd this harness imports (and whose simulator it serves)
AGENTD_ROOT = Path(agentd.__file__).resolve().parents[1]


@dataclass
class Sample:
    label: str
    seconds: float
    requests: int
    rate_limit_used: int
    peak_rss_mb: float
    exit_code: int
    repeated_reads: int = 0  # GETs of a URL already read in the same command
    reads: list[str] = field(default_factory=list, repr=False)  # every GET (method path?query)
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    def figures(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("reads", "stdout", "stderr"):
            data.pop(name)
        return data


def base_env(sim: Simulator, state_dir: Path, home: Path) -> dict[str, str]:
    kept = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in kept}
    return {
        **env,
        "HOME": str(home),
        "PYTHONPATH": str(AGENTD_ROOT),
        "GH_TOKEN": TOKEN,
        "GH_CONFIG_DIR": str(home / "gh-config"),
        "GH_NO_UPDATE_NOTIFIER": "1",
        "AGENTD_API_URL": sim.rest_url,
        "AGENTD_GIT_URL": sim.git_url,
        "AGENTD_STATE_DIR": str(state_dir),
        "AGENTD_LOG_FORMAT": "json",
    }


def gh_env(sim: Simulator, home: Path) -> dict[str, str]:
    """Real `gh` against the simulator. gh treats only github.com and `github.localhost` as
    non-enterprise hosts; for the latter it speaks plain HTTP to api.github.localhost on port
    80 and takes GH_TOKEN (GH_HOST cannot carry a port: cli/cli#6845, #8640). HTTP_PROXY points
    it at the simulator's loopback port; the simulator accepts the proxy's absolute-form
    request targets (as every HTTP/1.1 server must) and answers Link headers for the Host gh
    asked for, so `--paginate` keeps going through the same proxy."""
    kept = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    return {
        **{k: v for k, v in os.environ.items() if k in kept},
        "HOME": str(home),
        "GH_HOST": "github.localhost",
        "GH_TOKEN": TOKEN,
        "GH_CONFIG_DIR": str(home / "gh-config"),
        "GH_NO_UPDATE_NOTIFIER": "1",
        "GH_PROMPT_DISABLED": "1",
        "HTTP_PROXY": sim.api_url,
        "http_proxy": sim.api_url,
        "NO_PROXY": "",
    }


def run(sim: Simulator, label: str, argv: list[str], env: dict[str, str]) -> Sample:
    sim.admin.reset()
    before = sim.admin.rate_limit(TOKEN)["used"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage, not the harness's
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    logged = sim.admin.requests()
    reads = [
        f"{r.path}?{'&'.join(f'{k}={v}' for k, v in sorted(r.query.items()))}"
        for r in logged
        if r.method == "GET"
    ]
    return Sample(
        label=label,
        seconds=round(elapsed, 3),
        requests=len(logged),
        rate_limit_used=sim.admin.rate_limit(TOKEN)["used"] - before,
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        exit_code=proc.returncode,
        repeated_reads=sum(n - 1 for n in Counter(reads).values() if n > 1),
        reads=reads,
        stdout=text,
        stderr=errors,
    )


def agentd(sim: Simulator, label: str, args: list[str], state_dir: Path, home: Path) -> Sample:
    return run(sim, label, [sys.executable, "-m", "agentd", *args], base_env(sim, state_dir, home))
