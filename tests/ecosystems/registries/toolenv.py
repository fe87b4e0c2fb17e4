"""Environments and contexts for updater tests that can only reach loopback registries."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from support import require_tool

from agentd.ecosystems import UpdateContext
from agentd.verify import Sandbox, scrubbed_env

# A proxy on a port nothing listens on: a tool that tries to leave loopback fails loudly
# instead of silently reaching a public registry.
PROXY_TRAP = {
    name: "http://127.0.0.1:9"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")
}
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
OFFLINE = {**PROXY_TRAP, **NO_PROXY}

# Registries nothing answers (issue 15, cause 7): a closed loopback port, and a name that
# never resolves (RFC 2606), reached directly, not through the trap. (base URL, the cause
# agentd must report)
UNREACHABLE = {
    "closed port": ("http://127.0.0.1:9", "cannot reach 127.0.0.1:9: connection refused"),
    "unknown host": (
        "https://registry.invalid",
        "cannot reach registry.invalid: could not resolve host",
    ),
}
DIRECT = {
    "NO_PROXY": "127.0.0.1,localhost,registry.invalid",
    "no_proxy": "127.0.0.1,localhost,registry.invalid",
}


def python_tool(name: str) -> str:
    """A Python-packaged tool (uv, poetry): next to this interpreter (a venv's bin, where
    agentd's updaters also look) or on PATH; skipped or failed like `require_tool`."""
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.is_file() else require_tool(name)


def private_home(root: Path) -> Path:
    home = root / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return home


def offline_env(home: Path, allowed: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the engine gives an updater (scrubbed, private HOME), plus the proxy trap."""
    return scrubbed_env(home, {**OFFLINE, **(allowed or {})})


def updater_sandbox(kind: str, worktree: Path, home: Path, hidden: Sequence[Path] = ()) -> Sandbox:
    """What the Dependabot plug-in gives an updater: the verification sandbox (worktree and
    private home writable, `hidden` hidden) with the network shared for registries."""
    if kind != "none":
        require_tool("bwrap")
    return Sandbox(kind, writable=(worktree, home), hidden=tuple(hidden), network=True)


def updater_context(
    worktree: Path,
    home: Path,
    allowed: Mapping[str, str] | None = None,
    timeout: float = 120,
    sandbox: str = "none",
) -> UpdateContext:
    """Registries and credentials reach the updater only through `allowed`, as they do
    through the profile's `environment_allowlist`."""
    return UpdateContext(
        worktree=worktree,
        target_path=".",
        env=offline_env(home, allowed),
        home=home,
        timeout_seconds=timeout,
        sandbox=updater_sandbox(sandbox, worktree, home),
    )


def run(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a tool to build a fixture; fail the test with its output if it fails."""
    result = subprocess.run(
        list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return result
