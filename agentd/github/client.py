"""The one HTTP client agentd uses to talk to GitHub's REST API.

Responsibilities, in the order a request meets them:
1. the mutation policy (a refused mutation is never sent),
2. the rate-limit budget (below `min_rate_limit_remaining` nothing more is sent),
3. conditional requests from the persistent cache (a 304 costs no rate limit),
4. bounded retries (tenacity) for 5xx, dropped connections and secondary rate limits,
   honouring `retry-after`; non-idempotent requests are retried only where that is safe,
5. rate-limit accounting from the `x-ratelimit-*` headers of every response.

Every answer is treated as written by an attacker: no request (redirects included) leaves
the configured API base (scheme, host, port and path prefix), so the token goes nowhere
else; pagination follows `next` only within that base, never to a page it already read and
for at most `max_pages` pages; a cached answer whose `Link` leaves the base is neither
stored nor replayed.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
)
from tenacity.stop import stop_base

from agentd import __version__, faults
from agentd.errors import InfrastructureError, RateLimitedError
from agentd.github.auth import Token
from agentd.github.cache import CachedResponse, ConditionalCache
from agentd.log import get_logger
from agentd.mutation import MutationKind, MutationPolicy, classify_request
from agentd.redaction import redact
from agentd.shutdown import STOP
from agentd.vocabulary import ReasonCode

API_VERSION = "2022-11-28"
PER_PAGE = 100
# 100,000 items per listing: far beyond any real alert or PR list, and a bound on a server
# whose pagination never ends (each page may be a free 304, so the rate limit is no bound).
MAX_PAGES = 1000
log = get_logger("github")

_FAULT_POINTS = {
    MutationKind.PR_CREATE: "pr_create",
    MutationKind.PR_UPDATE: "pr_update",
    MutationKind.LABEL: "label",
    MutationKind.MERGE: "merge",
}
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
_LINK_URL = re.compile(r"<([^>]*)>")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
# POSTs that are idempotent by the API's own semantics (adding labels is a set union).
_SAFE_POST = re.compile(r"/issues/\d+/labels$")


class GitHubError(InfrastructureError):
    """GitHub could not be used for what a unit needed."""

    source = "GitHub"


class GitHubHTTPError(GitHubError):
    """A non-success answer from GitHub, with its status and message."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        errors = body.get("errors") if isinstance(body, dict) else None
        self.errors: list[Any] = errors if isinstance(errors, list) else []
        super().__init__(redact(f"{method} {_path_of(url)} → {status} {message}".strip()))
        self.message = message  # GitHub's own message (the base class keeps the full line)
        if status in (401, 403):
            self.reason = ReasonCode.AUTH_INSUFFICIENT

    def error_messages(self) -> list[str]:
        return [str(e.get("message", "")) for e in self.errors if isinstance(e, dict)]


class TransientError(GitHubError):
    """A fault that retries did not cure (or that could not be retried safely)."""


class ConnectionFailedError(TransientError):
    """No connection to the API at all (refused, the name does not resolve, TLS failed,
    timed out), after the few retries a connection failure gets."""

    def __init__(self, base_url: str, cause: str) -> None:
        super().__init__(f"cannot reach GitHub at {base_url}: {cause}")
        self.base_url = base_url
        self.cause = cause


class MalformedResponseError(GitHubError):
    """An answer that is not what the endpoint promises (a broken or hostile server)."""


class PaginationError(GitHubError):
    """A listing whose `next` link leaves the API base, returns to a page already read,
    or goes past the page cap: the listing stops instead of following it."""


class OutsideApiError(GitHubError):
    """A request (or a redirect) to somewhere other than the configured API base."""


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None, cause: str = "") -> None:
        super().__init__(reason)
        self.wait = wait
        self.cause = cause


class _ConnectAttemptsSpent(stop_base):
    """A server that cannot be connected to at all gets a few quick tries, not minutes."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome else None
        return (
            isinstance(exc, _Retryable)
            and exc.args[0] == "connect"
            and retry_state.attempt_number >= self.attempts
        )


def connection_failure(exc: BaseException) -> str:
    """What stopped a connection, in words: the OS error under httpx's exception chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS failure: the server's certificate was refused ({seen.verify_message})"
        if isinstance(seen, ssl.SSLError):
            plain = seen.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE")
            hint = ": the server does not speak TLS (an http:// URL?)" if plain else ""
            return f"TLS failure ({seen.reason or seen}{hint})"
        if isinstance(seen, socket.gaierror):
            return f"DNS failure: the host name does not resolve ({seen.strerror or seen})"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError | httpx.ConnectTimeout):
            return "connection timed out"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[0].lower() + seen.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class RateLimitState:
    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset: int | None = None
    resource: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, headers: Mapping[str, str]) -> None:
        def number(name: str) -> int | None:
            value = headers.get(f"x-ratelimit-{name}")
            return int(value) if value is not None and value.isdigit() else None

        with self._lock:
            if (remaining := number("remaining")) is not None:
                self.remaining = remaining
            self.limit = number("limit") or self.limit
            self.used = number("used") if number("used") is not None else self.used
            self.reset = number("reset") or self.reset
            self.resource = headers.get("x-ratelimit-resource", self.resource)

    def snapshot(self) -> dict[str, int | str | None]:
        with self._lock:
            return {
                "limit": self.limit,
                "remaining": self.remaining,
                "used": self.used,
                "reset": self.reset,
            }


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    from_cache: bool = False

    def next_url(self) -> str | None:
        match = _NEXT_LINK.search(self.headers.get("link", ""))
        return match.group(1) if match else None


@dataclass(frozen=True)
class ApiScope:
    """Where agentd may send requests: the API base's scheme, host, port and path prefix
    (`contains`), plus that API's GraphQL endpoint (`allows`)."""

    scheme: str
    host: str
    port: int | None
    prefix: str
    graphql: str

    @classmethod
    def of(cls, base_url: str) -> ApiScope:
        url = httpx.URL(base_url)
        prefix = url.path.rstrip("/") + "/"
        # GitHub Enterprise Server serves GraphQL beside its REST prefix: /api/v3 → /api/graphql.
        graphql = prefix.removesuffix("/v3/") if prefix.endswith("/api/v3/") else prefix
        return cls(url.scheme, url.host, _port(url), prefix, graphql.rstrip("/") + "/graphql")

    def contains(self, url: str | httpx.URL) -> bool:
        """Under the REST base: where pagination may go."""
        parsed = self._parsed(url)
        return parsed is not None and parsed.path.startswith(self.prefix)

    def allows(self, url: str | httpx.URL) -> bool:
        """Under the REST base, or the GraphQL endpoint: where any request may go."""
        parsed = self._parsed(url)
        return parsed is not None and (
            parsed.path.startswith(self.prefix) or parsed.path == self.graphql
        )

    def _parsed(self, url: str | httpx.URL) -> httpx.URL | None:
        """The URL on this API's origin, without credentials or dot segments; else None."""
        # httpx's own parser, so the check sees exactly the URL httpx would connect to.
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            return None
        path = parsed.path
        safe = (
            (parsed.scheme, parsed.host, _port(parsed)) == (self.scheme, self.host, self.port)
            and not parsed.userinfo
            # Percent-encoded dot segments survive httpx's normalisation; a server or proxy
            # may still resolve them out of the prefix.
            and not {".", ".."} & set(path.split("/"))
            and "\\" not in path
        )
        return parsed if safe else None

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.prefix}"


def _port(url: httpx.URL) -> int | None:
    return url.port or _DEFAULT_PORTS.get(url.scheme)


def _shown(url: str) -> str:
    """An attacker-chosen URL, fit for an error message."""
    return redact(url if len(url) <= 200 else url[:200] + "…")


_PageKey = tuple[str, tuple[tuple[str, str], ...]]
MutationObserver = Callable[[MutationKind, str, str, int | None, str | None], None]


def _path_of(url: str) -> str:
    return urlsplit(url).path


class GitHubClient:
    def __init__(
        self,
        base_url: str,
        token: Token,
        policy: MutationPolicy,
        *,
        cache: ConditionalCache | None = None,
        min_rate_limit_remaining: int = 0,
        max_retry_wait_seconds: float = 120.0,
        max_attempts: int = 6,
        max_connect_attempts: int = 3,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 10.0,
        max_connections: int = 16,
        observer: MutationObserver | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.scope = ApiScope.of(self.base_url)
        self.max_pages = max_pages
        self.policy = policy
        self.cache = cache
        self.min_rate_limit_remaining = min_rate_limit_remaining
        self.max_retry_wait_seconds = max_retry_wait_seconds
        self.max_attempts = max_attempts
        self.max_connect_attempts = max_connect_attempts
        self.observer = observer
        self.rate = RateLimitState()
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {token.reveal()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"agentd/{__version__}",
            },
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=True,
            event_hooks={"request": [self._refuse_outside]},
            # Over TLS the server may choose HTTP/2 (ALPN): concurrent reads then share one
            # connection instead of needing many. Plain http:// stays HTTP/1.1.
            http2=True,
        )

    def __repr__(self) -> str:
        return f"GitHubClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public API ---------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = urljoin(self.base_url, path.lstrip("/"))
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None})
            url += ("&" if "?" in url else "?") + query
        return url

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> ApiResponse:
        return self.request("GET", self.url(path, params))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.get(path, params).data

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, items_key: str | None = None
    ) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` (page or cursor)
        within the API base, never back to a page already read, for at most `max_pages`
        pages; otherwise PaginationError (items already yielded are then incomplete)."""
        url = self.url(path, {"per_page": PER_PAGE, **(params or {})})
        listing = _path_of(url)
        visited = {_page_key(url)}
        while True:
            response = self.request("GET", url)
            yield from _page_items(response, url, items_key)
            link = response.next_url()
            if link is None:
                return
            url = self._next_page(listing, url, link, visited)

    def post(self, path: str, body: Mapping[str, Any], what: str = "") -> ApiResponse:
        return self.request("POST", self.url(path), body, what)

    def patch(self, path: str, body: Mapping[str, Any], what: str = "") -> ApiResponse:
        return self.request("PATCH", self.url(path), body, what)

    def put(self, path: str, body: Mapping[str, Any], what: str = "") -> ApiResponse:
        return self.request("PUT", self.url(path), body, what)

    def delete(self, path: str, what: str = "") -> ApiResponse:
        return self.request("DELETE", self.url(path), None, what)

    def request(
        self, method: str, url: str, body: Mapping[str, Any] | None = None, what: str = ""
    ) -> ApiResponse:
        STOP.check_abort()  # an aborted run sends nothing more
        if not self.scope.allows(url):
            raise OutsideApiError(
                f"refused to send {method} {_shown(url)}: it is outside the API base {self.scope}"
            )
        kind = classify_request(method, _path_of(url))
        if kind is not None:
            self.policy.check(kind, what or f"{method} {_path_of(url)}")
        self._check_budget(url)
        point_name = _FAULT_POINTS.get(kind) if kind is not None else None
        if point_name:
            faults.point(f"before_{point_name}")
        try:
            response = self._with_retries(method, url, body)
        except GitHubHTTPError as exc:
            self._observe(kind, method, url, exc.status, None)
            raise
        except TransientError:
            self._observe(kind, method, url, None, None)
            raise
        self._observe(
            kind, method, url, response.status, response.headers.get("x-github-request-id")
        )
        if point_name:
            faults.point(f"after_{point_name}")
        return response

    # --- internals ----------------------------------------------------------------------

    def _next_page(self, listing: str, url: str, link: str, visited: set[_PageKey]) -> str:
        """The next page's URL, checked; records it as visited."""
        stop = f"pagination of {listing} stopped"
        following = urljoin(url, link)
        if not self.scope.contains(following):
            raise PaginationError(
                f"{stop}: its next-page link {_shown(following)} leaves the API base "
                f"{self.scope}; the token is sent only to the API base"
            )
        key = _page_key(following)
        if key in visited:
            raise PaginationError(
                f"{stop}: its next-page link {_shown(following)} returns to a page already "
                "read (a pagination loop)"
            )
        if len(visited) >= self.max_pages:
            raise PaginationError(
                f"{stop}: it has more than {self.max_pages} pages, agentd's cap per listing"
            )
        visited.add(key)
        return following

    def _refuse_outside(self, request: httpx.Request) -> None:
        """httpx request hook: runs for every request, redirects included."""
        if not self.scope.allows(request.url):
            raise OutsideApiError(
                f"refused to send {request.method} {_shown(str(request.url))}: it is outside "
                f"the API base {self.scope}"
            )

    def _trusted_link(self, page_url: str, link: str | None) -> bool:
        return not link or all(
            self.scope.contains(urljoin(page_url, target)) for target in _LINK_URL.findall(link)
        )

    def _load_cached(self, method: str, url: str) -> CachedResponse | None:
        if self.cache is None or method != "GET":
            return None
        cached = self.cache.load(url)
        # An entry stored before links were checked must not be replayed on a 304.
        return cached if cached is not None and self._trusted_link(url, cached.link) else None

    def _store_cached(self, url: str, response: httpx.Response) -> None:
        link = response.headers.get("link")
        # Not stored at all (rather than stored without its link): a 304 would then replay
        # the page as the last one and silently truncate the listing.
        if self.cache is None or not self._trusted_link(url, link):
            return
        self.cache.store(
            CachedResponse(
                url=url,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                link=link,
                body=response.text,
            )
        )

    def _observe(
        self,
        kind: MutationKind | None,
        method: str,
        url: str,
        status: int | None,
        request_id: str | None,
    ) -> None:
        if kind is not None and self.observer is not None:
            self.observer(kind, method, _path_of(url), status, request_id)

    def _check_budget(self, url: str) -> None:
        if _path_of(url).endswith("/rate_limit"):
            return
        remaining = self.rate.remaining
        if remaining is not None and remaining < self.min_rate_limit_remaining:
            raise RateLimitedError(
                f"rate_limited: {remaining} API requests left, below the budget floor "
                f"budget.min_rate_limit_remaining={self.min_rate_limit_remaining}",
                "let the limit reset (the next scheduled run will continue) or lower the floor",
            )

    def _retry_allowed(self, method: str, url: str, exc: BaseException) -> bool:
        if not isinstance(exc, _Retryable):
            return False
        if exc.args[0] == "secondary_rate_limit" or exc.args[0] == "connect":
            return True  # GitHub refused it, or it never left: safe for any method
        return method != "POST" or bool(_SAFE_POST.search(_path_of(url)))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return exc.wait
        return float(min(8.0, 0.25 * 2 ** (state.attempt_number - 1)))

    def _with_retries(self, method: str, url: str, body: Mapping[str, Any] | None) -> ApiResponse:
        retrying = Retrying(
            stop=stop_any(
                stop_after_attempt(self.max_attempts),
                stop_after_delay(self.max_retry_wait_seconds),
                _ConnectAttemptsSpent(self.max_connect_attempts),
            ),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._retry_allowed(method, url, exc)),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "retrying GitHub request",
                extra={
                    "method": method,
                    "path": _path_of(url),
                    "attempt": state.attempt_number,
                    "why": _why(state.outcome.exception() if state.outcome else None),
                },
            ),
        )
        try:
            return retrying(self._send_once, method, url, body)
        except _Retryable as exc:
            if exc.args[0] == "connect":
                raise ConnectionFailedError(self.base_url.rstrip("/"), exc.cause) from None
            raise TransientError(
                f"{method} {_path_of(url)} failed after retries: {exc.args[0]}"
            ) from None

    def _send_once(self, method: str, url: str, body: Mapping[str, Any] | None) -> ApiResponse:
        cached = self._load_cached(method, url)
        headers: dict[str, str] = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        with self._count_lock:
            self.request_count += 1
        try:
            response = self._http.request(method, url, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if _is_tls(exc):  # a certificate or protocol mismatch does not cure itself
                raise ConnectionFailedError(
                    self.base_url.rstrip("/"), connection_failure(exc)
                ) from None
            raise _Retryable("connect", cause=connection_failure(exc)) from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection dropped ({type(exc).__name__})") from exc
        self.rate.update(response.headers)
        if response.status_code == 304 and cached is not None:
            # The 304's own headers (X-OAuth-Scopes, ...) with the stored page's link.
            live = {k: v for k, v in response.headers.items() if k != "link"}
            headers = {**live, **_cached_headers(cached)}
            return ApiResponse(304, _json(cached.body), headers, from_cache=True)
        self._raise_for_limits(method, url, response)
        if response.status_code in _RETRY_STATUSES:
            raise _Retryable(f"server error {response.status_code}")
        data = _json(response.text) if response.content else None
        if response.status_code >= 400:
            raise GitHubHTTPError(method, url, response.status_code, data)
        if method == "GET" and response.status_code == 200:
            self._store_cached(url, response)
        return ApiResponse(response.status_code, data, response.headers)

    def _raise_for_limits(self, method: str, url: str, response: httpx.Response) -> None:
        if response.status_code not in (403, 429):
            return
        data = _json(response.text) if response.content else None
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        retry_after = response.headers.get("retry-after")
        if "secondary rate limit" in message.lower() or retry_after is not None:
            wait = float(retry_after) if retry_after and retry_after.isdigit() else 60.0
            if wait > self.max_retry_wait_seconds:
                raise RateLimitedError(
                    f"rate_limited: secondary rate limit asks to wait {int(wait)}s",
                    "the next run will continue",
                )
            raise _Retryable("secondary_rate_limit", wait)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            when = (
                time.strftime("%H:%M:%SZ", time.gmtime(int(reset))) if reset.isdigit() else "later"
            )
            raise RateLimitedError(
                f"rate_limited: GitHub's primary rate limit is exhausted (resets at {when}); "
                f"{method} {_path_of(url)} was refused",
                "wait for the reset; agentd stopped instead of acting on partial state",
            )


def _why(exc: BaseException | None) -> str:
    if isinstance(exc, _Retryable) and exc.cause:
        return f"{exc.args[0]}: {exc.cause}"
    return str(exc) if exc else ""


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {"message": text[:200]}


def _page_key(url: str) -> _PageKey:
    """A page's identity within one listing (whose origin is fixed): the path and the
    query parameters in any order, so a reordered cursor is still the same page."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _page_items(response: ApiResponse, url: str, items_key: str | None) -> list[Any]:
    data = response.data
    if items_key is not None:
        data = data.get(items_key) if isinstance(data, dict) else None
    if not isinstance(data, list):
        where = f" under {items_key!r}" if items_key else ""
        raise MalformedResponseError(f"GET {_path_of(url)}: the answer has no list{where}")
    return data


def _cached_headers(cached: CachedResponse) -> dict[str, str]:
    return {"link": cached.link} if cached.link else {}
