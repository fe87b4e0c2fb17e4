"""git's smart HTTP protocol, as GitHub serves it: `/{owner}/{repo}.git/...` with token auth.

    GET  /{owner}/{repo}.git/info/refs?service=git-upload-pack|git-receive-pack
    POST /{owner}/{repo}.git/git-upload-pack
    POST /{owner}/{repo}.git/git-receive-pack

Authentication is HTTP Basic whose password is a token the scenario accepts (any user name,
e.g. `x-access-token`, as GitHub takes it): none → 401 with `WWW-Authenticate: Basic
realm="GitHub"`, a bad one → 401 with GitHub's text. A repository the token cannot see is
GitHub's 404 "Repository not found."; pushing to an archived one or without write access is
its 403. The protocol work is git's own (`upload-pack` / `receive-pack --stateless-rpc`, one
process per request); before `receive-pack` runs, `pushrules.check` decides what GitHub would
refuse, and a refusal is answered here in receive-pack's own report format, with GitHub's
`remote:` lines and reason.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from dataclasses import dataclass, field

from agentd.simulator import gitstore, pushrules
from agentd.simulator.http import GitRequest, Traffic
from agentd.simulator.world import RepoState, World

SERVICES = ("git-upload-pack", "git-receive-pack")
_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git/(?P<endpoint>info/refs|git-upload-pack|git-receive-pack)$"
)
_SIDEBAND_CHUNK = 65515  # side-band-64k: 65520 bytes a packet, less the length and band
BAD_CREDENTIALS = (
    "Invalid username or token. Password authentication is not supported for Git operations."
)
NOT_FOUND = "Repository not found."
ARCHIVED = "This repository was archived so it is read-only."


def match(path: str) -> bool:
    return _PATH.match(path) is not None


@dataclass
class GitReply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GitCall:
    """One smart-HTTP request, its body already de-chunked and decompressed."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str
    protocol: str  # the Git-Protocol header (version=2), handed to upload-pack
    body: bytes
    base_url: str


class _Refused(Exception):
    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        body = (text + "\n").encode() if text else b""
        self.reply = GitReply(status, body, headers=headers or {})


def serve(world: World, traffic: Traffic, call: GitCall) -> GitReply:
    found = _PATH.match(call.path)
    assert found is not None  # noqa: S101 - routed here by match()
    endpoint = found["endpoint"]
    service = call.query.get("service", "") if endpoint == "info/refs" else endpoint
    entry = GitRequest(0, time.time(), found["repo"], service, endpoint, 0)
    try:
        try:
            reply = _serve(world, call, found["owner"], found["repo"], service, entry)
        except ValueError as malformed:  # not git's protocol
            raise _Refused(400, f"malformed request: {malformed}") from None
    except _Refused as refused:
        reply = refused.reply
        probe = reply.status == 401 and not call.authorization  # git always asks first
        entry.result = "" if probe else "denied"
        entry.reason = reply.body.decode().strip()
    entry.status = reply.status
    traffic.record_git(entry)
    return reply


def _serve(
    world: World, call: GitCall, owner: str, name: str, service: str, entry: GitRequest
) -> GitReply:
    expected = "GET" if entry.endpoint == "info/refs" else "POST"
    if service not in SERVICES or call.method != expected:
        raise _Refused(403, "Please upgrade your git client.")
    token = _token(world, call.authorization)
    state = world.repo(owner, name)
    if state is None or not state.config.permissions.pull:
        raise _Refused(404, NOT_FOUND)
    if service == "git-receive-pack":
        _may_push(world, state, token)
    if entry.endpoint == "info/refs":
        return _advertise(state, service, call.protocol)
    if service == "git-upload-pack":
        return _rpc(state, service, call.body, call.protocol)
    return _receive(world, state, token, call, entry)


def _token(world: World, authorization: str) -> str:
    challenge = {"WWW-Authenticate": 'Basic realm="GitHub"'}
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise _Refused(401, "", challenge)
    try:
        _user, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        raise _Refused(401, BAD_CREDENTIALS, challenge) from None
    if not world.scenario.auth.accepts(token):
        raise _Refused(401, BAD_CREDENTIALS, challenge)
    return token


def _may_push(world: World, state: RepoState, token: str) -> None:
    if state.config.archived:
        raise _Refused(403, ARCHIVED)
    if not state.config.permissions.push:
        if world.scenario.auth.scopes_of(token) is None:
            raise _Refused(403, "Write access to repository not granted.")
        login = world.scenario.viewer.login
        raise _Refused(403, f"Permission to {world.full_name(state)}.git denied to {login}.")


# --- the protocol: git does the work ----------------------------------------------------------


def _git(state: RepoState, service: str, body: bytes, protocol: str, *args: str) -> bytes:
    env = gitstore.git_env()
    if protocol and service == "git-upload-pack":
        env["GIT_PROTOCOL"] = protocol
    command = service.removeprefix("git-")
    result = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", command, "--stateless-rpc", *args, str(state.path)],
        input=body, capture_output=True, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise _Refused(500, f"{command} failed: {result.stderr.decode(errors='replace')[-300:]}")
    return result.stdout


def _advertise(state: RepoState, service: str, protocol: str) -> GitReply:
    refs = _git(state, service, b"", protocol, "--advertise-refs")
    v2 = service == "git-upload-pack" and "version=2" in protocol
    head = b"" if v2 else pkt_line(f"# service={service}\n".encode()) + b"0000"
    return GitReply(200, head + refs, f"application/x-{service}-advertisement", _NO_CACHE)


def _rpc(state: RepoState, service: str, body: bytes, protocol: str) -> GitReply:
    out = _git(state, service, body, protocol)
    return GitReply(200, out, f"application/x-{service}-result", _NO_CACHE)


_NO_CACHE = {
    "Cache-Control": "no-cache, max-age=0, must-revalidate",
    "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
}


def _receive(
    world: World, state: RepoState, token: str, call: GitCall, entry: GitRequest
) -> GitReply:
    updates, capabilities, pack = parse_commands(call.body)
    entry.updates = [f"{u.old} {u.new} {u.ref}" for u in updates]
    if updates:
        scopes = world.scenario.auth.scopes_of(token)
        pusher = pushrules.Pusher(scopes, state.config.permissions.admin)
        with pushrules.Incoming(state.path, pack) as incoming:
            push = pushrules.Push(world, state, pusher, updates, incoming, call.base_url)
            rejection = pushrules.check(push)
        if rejection is not None:
            entry.result, entry.rule, entry.reason = "rejected", rejection.rule, rejection.reason
            body = refusal(updates, capabilities, rejection)
            return GitReply(200, body, "application/x-git-receive-pack-result", _NO_CACHE)
    reply = _rpc(state, "git-receive-pack", call.body, "")
    if updates:  # receive-pack refuses what lost a race itself (its report says so to git)
        landed = all(_landed(state, u) for u in updates)
        entry.result = "ok" if landed else "failed"
        for update in updates:
            if update.ref.startswith("refs/heads/") and not update.deletes:
                world.pushed(state, update.ref.removeprefix("refs/heads/"))
    return reply


def _landed(state: RepoState, update: pushrules.RefUpdate) -> bool:
    now = gitstore.refs(state.path, "refs/").get(update.ref.removeprefix("refs/"))
    return now == (None if update.deletes else update.new)


# --- pkt-lines --------------------------------------------------------------------------------


def pkt_line(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def parse_commands(body: bytes) -> tuple[list[pushrules.RefUpdate], set[str], bytes]:
    """The ref updates of a receive-pack request, its capabilities, and the pack after them."""
    updates: list[pushrules.RefUpdate] = []
    capabilities: set[str] = set()
    offset = 0
    while offset + 4 <= len(body):
        size = int(body[offset : offset + 4], 16)
        if size == 0:
            offset += 4
            break
        line = body[offset + 4 : offset + size].rstrip(b"\n")
        offset += size
        line, _, listed = line.partition(b"\0")
        capabilities |= set(listed.decode().split())
        if not line.startswith(b"shallow "):
            old, new, ref = line.decode().split(" ", 2)
            updates.append(pushrules.RefUpdate(old, new, ref))
    return updates, capabilities, body[offset:]


def refusal(
    updates: list[pushrules.RefUpdate], capabilities: set[str], rejection: pushrules.Rejection
) -> bytes:
    """receive-pack's answer refusing every ref: GitHub's lines on the progress band (git
    prints them as `remote: …`), then the report (`ng <ref> <reason>`)."""
    report = pkt_line(b"unpack ok\n")
    report += b"".join(pkt_line(f"ng {u.ref} {rejection.reason}\n".encode()) for u in updates)
    report += b"0000"
    if "side-band-64k" not in capabilities:
        return report
    text = "".join(f"{line}\n" for line in rejection.messages).encode()
    return _sideband(2, text) + _sideband(1, report) + b"0000"


def _sideband(band: int, data: bytes) -> bytes:
    chunks = [data[i : i + _SIDEBAND_CHUNK] for i in range(0, len(data), _SIDEBAND_CHUNK)]
    return b"".join(pkt_line(bytes([band]) + chunk) for chunk in chunks)
