"""The HTTP server: authentication, rate limits, faults, ETags, routing, the admin API."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agentd.simulator import api, automerge, githttp, graphql, shapes
from agentd.simulator.admin import Admin
from agentd.simulator.http import (
    MUTATING,
    HttpError,
    RateBucket,
    Request,
    Response,
    Traffic,
    encode,
    etag_of,
)
from agentd.simulator.permissions import NOT_ACCESSIBLE
from agentd.simulator.permissions import denied as permission_denied
from agentd.simulator.world import World

SUPPORTED_VERSIONS = ("2022-11-28", "2026-03-10")
ANONYMOUS_BUCKET = RateBucket(limit=60, used=0)
_TOKEN = re.compile(r"^(?:token|bearer)\s+(\S+)$", re.IGNORECASE)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        world: World,
        traffic: Traffic,
        admin: Admin,
        api_prefix: str = "",
    ) -> None:
        super().__init__(address, Handler)
        self.world = world
        self.traffic = traffic
        self.admin = admin
        self.api_prefix = api_prefix.rstrip("/")  # e.g. /api/v3, as GitHub Enterprise Server


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # --- plumbing -------------------------------------------------------------------------

    def _request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return Request(
            method=self.command,
            path=split.path.rstrip("/") or "/",
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k: v for k, v in self.headers.items()},
            body=body,
            raw_body=raw,
            base_url=self._base_url(),
        )

    def _base_url(self) -> str:
        address = self.server.server_address
        host = self.headers.get("Host") or f"{address[0]!s}:{address[1]}"
        return f"http://{host}"

    def _send(self, response: Response, request: Request, request_id: str = "") -> None:
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = response.encoded if response.encoded is not None else encode(response.body)
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header(
            "X-GitHub-Api-Version-Selected",
            request.api_version,
        )
        if request_id:
            self.send_header("X-GitHub-Request-Id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        if githttp.match(split.path):
            self._git(split.path, split.query)
            return
        request = self._request()
        if request.path.startswith("/_sim"):
            self._send(self.server.admin.handle(request), request)
            return
        if not self._within_api_prefix(request):
            request.route = "outside the API prefix"
            response = Response(404, shapes.error("Not Found", "", 404))
            self._send(response, request, self.server.traffic.record(request, 404, response.body))
            return
        response, request_id = self._api(request)
        self._send(response, request, request_id)

    # --- git over smart HTTP ----------------------------------------------------------------

    def _git(self, path: str, query: str) -> None:
        call = githttp.GitCall(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query)),
            authorization=self.headers.get("Authorization") or "",
            protocol=self.headers.get("Git-Protocol") or "",
            body=self._git_body(),
            base_url=self._base_url(),
        )
        reply = githttp.serve(self.server.world, self.server.traffic, call)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _git_body(self) -> bytes:
        """The request body: de-chunked (git streams big pushes) and decompressed (fetches)."""
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        if (self.headers.get("Content-Encoding") or "").lower() in ("gzip", "x-gzip"):
            return gzip.decompress(raw)
        return raw

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return bytes(body)

    # --- the API pipeline -----------------------------------------------------------------

    def _within_api_prefix(self, request: Request) -> bool:
        """With an API prefix (GHES: /api/v3) the REST API is served only under it and
        GraphQL beside it (/api/graphql); the prefix is taken off the path and put on the
        base URL, so Link headers carry it. Without one, everything is the API."""
        prefix = self.server.api_prefix
        if not prefix:
            return True
        graphql = prefix.removesuffix("/v3") if prefix.endswith("/api/v3") else prefix
        if request.path == f"{graphql}/graphql":
            request.path = "/graphql"
        elif request.path.startswith(f"{prefix}/"):
            request.path = request.path.removeprefix(prefix)
        else:
            return False
        request.base_url += prefix
        return True

    def _api(self, request: Request) -> tuple[Response, str]:
        _world, traffic = self.server.world, self.server.traffic
        if traffic.latency_ms:
            time.sleep(traffic.latency_ms / 1000)
        automerge.advance(_world)  # GitHub merges what auto-merge and merge queues wait for
        found = api.match(request.method, request.path) or graphql.match(
            request.method, request.path
        )
        request.route = found[0].name if found else "?"
        try:
            response = self._authorized(request, found)
        except HttpError as exc:
            response = Response(exc.status, exc.body, exc.headers)
        if response.status == 401:  # GitHub answers these from the unauthenticated bucket
            response.headers.update(ANONYMOUS_BUCKET.headers())
        request_id = traffic.record(
            request, response.status if not response.drop else 0, response.body
        )
        return response, request_id

    def _authorized(
        self, request: Request, found: tuple[api.Route, dict[str, str]] | None
    ) -> Response:
        world, traffic = self.server.world, self.server.traffic
        version = request.header("X-GitHub-Api-Version")
        if version and version not in SUPPORTED_VERSIONS:
            raise HttpError(
                400,
                shapes.error(
                    f"API version '{version}' is not supported.", "/overview/api-versions", 400
                ),
            )
        token = self._token(request)
        bucket = traffic.bucket(token)
        granted = world.scenario.auth.scopes_of(token)
        scopes = (
            {}
            if granted is None
            else {"X-OAuth-Scopes": ", ".join(granted), "X-Accepted-OAuth-Scopes": "repo"}
        )
        fault = traffic.take_fault(request)
        if fault is not None:
            faulted = self._fault(fault, request, found, bucket)
            if faulted is not None:
                faulted.headers.update(bucket.headers())
                return faulted
        if request.path == "/rate_limit":
            body = self._rate_limit_body(bucket, request.api_version)
            return Response(200, body, {**bucket.headers(), **scopes})
        if bucket.remaining <= 0:
            raise HttpError(
                403,
                shapes.error(
                    f"API rate limit exceeded for user ID {world.scenario.viewer.id}. If you reach out to GitHub Support for help, please include the request ID.",
                    "/overview/rate-limits-for-the-rest-api",
                    403,
                ),
                bucket.headers(),
            )
        if found is None:
            raise HttpError(404, shapes.error("Not Found", "", 404), bucket.headers())
        route, params = found
        accepted = permission_denied(world.scenario.auth, token, request.method, route.name)
        if accepted is not None:  # a fine-grained token without the permission
            raise HttpError(
                403,
                shapes.error(NOT_ACCESSIBLE, "", 403),
                {**bucket.headers(), "X-Accepted-GitHub-Permissions": accepted},
            )
        if request.method in MUTATING and self._archived(params):
            raise HttpError(
                403,
                shapes.error("Repository was archived so is read-only.", "", 403),
                bucket.headers(),
            )
        try:
            response = route.handler(world, request, params)
        except HttpError as exc:
            bucket.used += 1
            exc.headers.update(bucket.headers())
            raise
        return self._finish(request, response, bucket, scopes)

    def _finish(
        self, request: Request, response: Response, bucket: Any, scopes: dict[str, str]
    ) -> Response:
        if request.method == "GET" and response.status == 200:
            response.encoded = encode(response.body)  # sent as is: large pages encode once
            etag = etag_of(response.encoded + response.headers.get("Link", "").encode())
            response.headers["ETag"] = etag
            response.headers["Last-Modified"] = time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(0)
            )
            response.headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            if etag in (request.header("If-None-Match") or ""):
                return Response(304, None, {"ETag": etag, **bucket.headers(), **scopes})
        bucket.used += 1
        response.headers.update(bucket.headers())
        response.headers.update(scopes)
        return response

    def _archived(self, params: dict[str, str]) -> bool:
        state = self.server.world.repo(params.get("owner", ""), params.get("repo", ""))
        return bool(state and state.config.archived)

    def _token(self, request: Request) -> str:
        header = request.header("Authorization") or ""
        match = _TOKEN.match(header.strip())
        if not match:
            raise HttpError(
                401,
                shapes.error(
                    "Requires authentication", "/overview/authenticating-to-the-rest-api", 401
                ),
            )
        token = match.group(1)
        if not self.server.world.scenario.auth.accepts(token):
            raise HttpError(
                401,
                shapes.error("Bad credentials", "/overview/authenticating-to-the-rest-api", 401),
            )
        request.token = token
        return token

    def _rate_limit_body(self, bucket: Any, version: str) -> dict[str, Any]:
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": bucket.remaining,
            "reset": bucket.reset,
        }
        other = {"limit": 5000, "used": 0, "remaining": 5000, "reset": bucket.reset}
        resources = {
            "core": core,
            "search": {**other, "limit": 30, "remaining": 30},
            "graphql": other,
        }
        if version == "2026-03-10":  # a breaking change of that version: `rate` is gone
            return {"resources": resources}
        return {"resources": resources, "rate": core}

    def _fault(self, fault: Any, request: Request, found: Any, bucket: Any) -> Response | None:
        world = self.server.world
        if fault.kind == "drop":
            return Response(0, drop=True)
        if fault.kind == "status":
            return Response(
                fault.status,
                shapes.error(
                    fault.message or ("Server Error" if fault.status >= 500 else "Injected fault"),
                    "",
                    fault.status,
                ),
            )
        if fault.kind == "secondary":
            return Response(
                403,
                shapes.error(
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    403,
                ),
                {"retry-after": str(fault.retry_after)},
            )
        if fault.kind == "primary_exhaust":
            bucket.used = bucket.limit
            return None
        if fault.kind == "push" and fault.push is not None:
            state = world.repo(world.scenario.owner.login, fault.push["repo"])
            if state is not None:
                world.push_commit(
                    state, fault.push["branch"], fault.push["files"], "a person's commit"
                )
            return None
        if fault.kind == "merge_409":
            return Response(
                409,
                shapes.error(
                    "Head branch was modified. Review and try the merge again.", api.DOC_MERGE, 409
                ),
            )
        if fault.kind == "pr_create_race" and found is not None:
            state = world.repo(found[1]["owner"], found[1]["repo"])
            if state is not None and isinstance(request.body, dict):
                with contextlib.suppress(HttpError):
                    api.create_pull_checked(world, state, request.body)
                branch = str(request.body.get("head", "")).split(":")[-1]
                return Response(
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": f"A pull request already exists for {world.scenario.owner.login}:{branch}.",
                            }
                        ],
                        "documentation_url": f"{shapes.DOCS}{api.DOC_PULLS}",
                        "status": "422",
                    },
                )
        return None
