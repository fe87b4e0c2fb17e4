"""HTTP realism: requests and responses, pagination, rate limits, faults, the request log."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    base_url: str
    token: str | None = None
    route: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, looked up case-insensitively as HTTP defines header names."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)

    @property
    def api_version(self) -> str:
        return self.header("X-GitHub-Api-Version") or "2022-11-28"


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    encoded: bytes | None = None  # `body` as sent, once something had to encode it


class HttpError(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def page_slice(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """Page-based pagination with a GitHub-style Link header."""
    try:
        per_page = max(1, min(100, int(request.param("per_page", "30") or 30)))
        page = max(1, int(request.param("page", "1") or 1))
    except ValueError:
        per_page, page = 30, 1
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def url(number: int) -> str:
        query = {**request.query, "page": str(number), "per_page": str(per_page)}
        return f"{request.base_url}{request.path}?{urlencode(query)}"

    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
    return chunk, ({"Link": ", ".join(links)} if links else {})


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:v2:{index}".encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise HttpError(
            400,
            {
                "message": "Invalid cursor",
                "documentation_url": "https://docs.github.com/rest",
                "status": "400",
            },
        ) from exc


def cursor_slice(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """Cursor pagination (Dependabot alerts): `after`/`before`, Link with next/prev only."""
    if request.param("page") is not None:
        raise HttpError(
            400,
            {
                "message": "Pagination using the `page` parameter is not supported.",
                "documentation_url": "https://docs.github.com/rest/dependabot/alerts",
                "status": "400",
            },
        )
    try:
        per_page = max(1, min(100, int(request.param("per_page", "30") or 30)))
    except ValueError:
        per_page = 30
    after, before = request.param("after"), request.param("before")
    start = _index(after) + 1 if after else 0
    if before:
        end = _index(before)
        start = max(0, end - per_page)
    chunk = items[start : start + per_page]
    links = []
    base_query = {k: v for k, v in request.query.items() if k not in ("after", "before")}
    if start + per_page < len(items) and chunk:
        query = {**base_query, "per_page": str(per_page), "after": _cursor(start + len(chunk) - 1)}
        links.append(f'<{request.base_url}{request.path}?{urlencode(query)}>; rel="next"')
    if start > 0:
        query = {**base_query, "per_page": str(per_page), "before": _cursor(start)}
        links.append(f'<{request.base_url}{request.path}?{urlencode(query)}>; rel="prev"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


def etag_of(payload: bytes) -> str:
    return f'W/"{hashlib.sha256(payload).hexdigest()}"'


def encode(body: Any) -> bytes:
    return b"" if body is None else json.dumps(body).encode()


@dataclass
class RateBucket:
    limit: int
    used: int
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": "core",
        }


@dataclass
class Fault:
    kind: str  # status | drop | secondary | primary_exhaust | pr_create_race | merge_409 | push
    count: int = 1
    status: int = 502
    retry_after: int = 1
    route: str | None = None  # a route template ("/repos/{owner}/{repo}/pulls") or a path regex
    method: str | None = None
    message: str | None = None  # the error body's message for `status` faults
    # `push`: somebody else pushes this commit ({"repo", "branch", "files"}) just before the
    # matching request is served — a concurrent person, at the worst moment.
    push: dict[str, Any] | None = None

    def matches(self, request: Request) -> bool:
        if self.method and self.method.upper() != request.method:
            return False
        if self.kind == "pr_create_race":
            return request.method == "POST" and bool(re.search(r"/pulls$", request.path))
        if self.kind == "merge_409":
            return request.method == "PUT" and request.path.endswith("/merge")
        if not self.route or self.route == request.route:
            return True
        try:
            return bool(re.search(self.route, request.path))
        except re.error:
            return False


@dataclass
class LoggedRequest:
    seq: int
    time: float
    method: str
    path: str
    route: str
    query: dict[str, str]
    status: int
    mutating: bool
    body: str
    headers: dict[str, str]
    request_id: str
    response_body: str | None = None  # the JSON sent back, kept only with `keep_responses`


@dataclass
class GitRequest:
    """One request of git's smart HTTP protocol (kept apart from the API's request log)."""

    seq: int
    time: float
    repo: str
    service: str  # git-upload-pack | git-receive-pack
    endpoint: str  # info/refs | git-upload-pack | git-receive-pack
    status: int
    # receive-pack: each ref update "old new ref", and GitHub's verdict
    updates: list[str] = field(default_factory=list)
    result: str = ""  # ok | rejected | denied (4xx) | "" (no ref update)
    rule: str = ""  # what refused it: workflow scope, repository rules, push protection, ...
    reason: str = ""

    @property
    def is_push(self) -> bool:
        """A push that asked to move refs (not the auth probe or the ref advertisement)."""
        return self.endpoint == "git-receive-pack" and bool(self.updates)


class Traffic:
    """Request log, counters, rate-limit buckets and injected faults."""

    def __init__(self, limit: int, used: int) -> None:
        self.lock = threading.Lock()
        self.log: list[LoggedRequest] = []
        self.counts: Counter[str] = Counter()
        self.buckets: dict[str, RateBucket] = {}
        self.default_limit, self.default_used = limit, used
        self.faults: list[Fault] = []
        self.latency_ms = 0
        self.seq = 0
        self.keep_responses = False  # opt-in (tests): log each response body too
        self.git_log: list[GitRequest] = []

    def bucket(self, token: str) -> RateBucket:
        with self.lock:
            if token not in self.buckets:
                self.buckets[token] = RateBucket(self.default_limit, self.default_used)
            return self.buckets[token]

    def take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(request):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def record(self, request: Request, status: int, response_body: Any = None) -> str:
        request_id = uuid.uuid4().hex[:16].upper()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        kept = encode(response_body).decode() if self.keep_responses else None
        with self.lock:
            self.seq += 1
            self.log.append(
                LoggedRequest(
                    self.seq, time.time(), request.method, request.path, request.route or "?",
                    dict(request.query), status, request.method in MUTATING,
                    request.raw_body.decode("utf-8", errors="replace"), headers, request_id,
                    kept,
                )
            )  # fmt: skip
            self.counts[f"{request.method} {request.route or '?'}"] += 1
        return request_id

    def record_git(self, entry: GitRequest) -> None:
        with self.lock:
            entry.seq = len(self.git_log) + 1
            self.git_log.append(entry)
