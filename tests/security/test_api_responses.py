"""Every GitHub answer is written by an attacker (wave 2, issue 2/6, finding 6).

The real client talks to hostile HTTP servers started here on 127.0.0.1: `api` is the
configured API base (with a GHES-style `/api/v3` prefix), `elsewhere` is another host (another
port). Each server records what it received, so the tests assert on what left agentd.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from agentd.errors import result_for
from agentd.github import client as client_module
from agentd.github.api import GitHubAPI
from agentd.github.auth import Token, TokenKind
from agentd.github.cache import CachedResponse, ConditionalCache
from agentd.github.client import GitHubClient, GitHubError
from agentd.inventory import Coverage, collect_inventory
from agentd.mutation import MutationPolicy
from agentd.vocabulary import AlertClass, MutationMode, ReasonCode

TOKEN = "ghp_" + "HostileCanary" + "x" * 23
PREFIX = "/api/v3"
# A hostile server that the old code would follow for ever stops on its own after this
# many requests, so a test on the old code fails instead of hanging.
GUARD = 60


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the raw request target: path and query, as sent
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query))


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Seen], Answer]


class Server:
    """A tiny HTTP server whose answers a test scripts through `route`."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.route: Route = lambda _: Answer(404, {"message": "Not Found"})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                seen = Seen(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
                )
                server.seen.append(seen)
                answer = server.route(seen)
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def api() -> Iterator[Server]:
    with Server() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    with Server() as server:
        server.route = lambda _: Answer(200, [])
        yield server


def client_for(server: Server, cache_dir: Path | None = None) -> GitHubClient:
    return GitHubClient(
        server.url + PREFIX,
        Token(TokenKind.CLASSIC_PAT, TOKEN),
        MutationPolicy(MutationMode.REPORT_ONLY),
        cache=ConditionalCache(cache_dir) if cache_dir is not None else None,
        max_attempts=1,
        max_retry_wait_seconds=1,
    )


def api_for(server: Server, cache_dir: Path | None = None) -> GitHubAPI:
    return GitHubAPI(client_for(server, cache_dir), "acme", "user")


def pull(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "state": "open",
        "title": f"PR {number}",
        "head": {"ref": f"fix-{number}", "sha": "1" * 40},
        "base": {"ref": "main", "sha": "2" * 40},
        "labels": [],
        **extra,
    }


def repository(name: str) -> dict[str, Any]:
    return {
        "id": 7,
        "name": name,
        "full_name": f"acme/{name}",
        "owner": {"login": "acme", "id": 1, "type": "User"},
        "default_branch": "main",
    }


def error_of(call: Callable[[], object]) -> GitHubError | None:
    try:
        call()
    except GitHubError as exc:
        return exc
    return None


def next_link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'}


PULLS = f"{PREFIX}/repos/acme/app/pulls"


# --- pagination never leaves the API base --------------------------------------------------


def _foreign_targets(api: Server, elsewhere: Server) -> dict[str, str]:
    return {
        "another host": f"{elsewhere.url}{PULLS}?page=2",
        "outside the path prefix": f"{api.url}/elsewhere/repos/acme/app/pulls?page=2",
        "encoded dot segments": f"{api.url}{PREFIX}/%2e%2e/%2e%2e/elsewhere?page=2",
        "relative, out of the prefix": "/elsewhere/repos/acme/app/pulls?page=2",
    }


@pytest.mark.parametrize(
    "where",
    [
        "another host",
        "outside the path prefix",
        "encoded dot segments",
        "relative, out of the prefix",
    ],
)
def test_next_link_outside_the_api_base_is_never_followed(
    api: Server, elsewhere: Server, where: str
) -> None:
    target = _foreign_targets(api, elsewhere)[where]

    def route(seen: Seen) -> Answer:
        if seen.path == PULLS and "page" not in seen.query:
            return Answer(200, [pull(1)], next_link(target))
        return Answer(200, [])  # whatever the old code reached, it would read happily

    api.route = route
    error = error_of(lambda: api_for(api).pulls("app"))
    assert not [s for s in elsewhere.seen if TOKEN in s.headers.get("authorization", "")]
    assert elsewhere.seen == []
    assert [s.target for s in api.seen] == [f"{PULLS}?per_page=100&state=open"]
    assert error is not None and "leaves the API base" in str(error)


def test_redirect_to_another_host_is_refused(api: Server, elsewhere: Server) -> None:
    api.route = lambda _: Answer(302, None, {"Location": f"{elsewhere.url}{PREFIX}/repos/acme/app"})
    with pytest.raises(GitHubError, match="outside the API base"):
        api_for(api).repository("app")
    assert elsewhere.seen == []


def test_foreign_link_is_not_replayed_from_the_cache(
    api: Server, elsewhere: Server, tmp_path: Path
) -> None:
    # Run 1 meets a hostile API whose first page points elsewhere.
    api.route = lambda _: Answer(
        200, [pull(1)], {"ETag": '"v1"', **next_link(f"{elsewhere.url}{PULLS}?page=2")}
    )
    with contextlib.suppress(GitHubError):
        api_for(api, tmp_path).pulls("app")
    elsewhere.seen.clear()

    # Run 2 meets an honest API that still answers 304 to run 1's validator.
    def honest(seen: Seen) -> Answer:
        if seen.headers.get("if-none-match") == '"v1"':
            return Answer(304, None, {"ETag": '"v1"'})
        return Answer(200, [pull(1), pull(2)], {"ETag": '"v2"'})

    api.route = honest
    pulls = api_for(api, tmp_path).pulls("app")
    assert elsewhere.seen == []
    assert [p.number for p in pulls] == [1, 2]


def test_poisoned_cache_entry_is_not_replayed(
    api: Server, elsewhere: Server, tmp_path: Path
) -> None:
    """A cache written before links were checked holds a foreign link: it is not used."""
    url = client_for(api).url("/repos/acme/app/pulls", {"per_page": 100, "state": "open"})
    assert url == f"{api.url}{PULLS}?per_page=100&state=open"  # what pulls() will ask for
    ConditionalCache(tmp_path).store(
        CachedResponse(
            url=url,
            etag='"v1"',
            last_modified=None,
            link=f'<{elsewhere.url}{PULLS}?page=2>; rel="next"',
            body=json.dumps([pull(1)]),
        )
    )

    def honest(seen: Seen) -> Answer:
        if seen.headers.get("if-none-match") == '"v1"':
            return Answer(304, None, {"ETag": '"v1"'})
        return Answer(200, [pull(1), pull(2)], {"ETag": '"v2"'})

    api.route = honest
    pulls = api_for(api, tmp_path).pulls("app")
    assert elsewhere.seen == []
    assert [p.number for p in pulls] == [1, 2]


# --- pagination ends -----------------------------------------------------------------------


def test_self_pointing_next_link_stops_at_once(api: Server, tmp_path: Path) -> None:
    def route(seen: Seen) -> Answer:
        if len(api.seen) >= GUARD:
            return Answer(200, [pull(1)])  # the guard: a fresh last page, nothing to replay
        if seen.headers.get("if-none-match") == '"same"':
            return Answer(304, None, {"ETag": '"same"'})  # free: no rate limit spent
        return Answer(200, [pull(1)], {"ETag": '"same"', **next_link(f"{api.url}{seen.target}")})

    api.route = route
    with pytest.raises(GitHubError, match="pagination loop"):
        api_for(api, tmp_path).pulls("app")
    assert len(api.seen) == 1


def test_cursor_loop_stops(api: Server) -> None:
    cursors = {None: "A", "A": "B", "B": "A"}

    def route(seen: Seen) -> Answer:
        following = cursors[seen.query.get("after")]
        # The loop comes back with its parameters reordered.
        query = f"after={following}&per_page=100&state=open"
        if following == "A" and "after" in seen.query:
            query = f"state=open&per_page=100&after={following}"
        headers = next_link(f"{api.url}{PULLS}?{query}") if len(api.seen) < GUARD else {}
        return Answer(200, [pull(len(api.seen))], headers)

    api.route = route
    with pytest.raises(GitHubError, match="pagination loop"):
        api_for(api).pulls("app")
    assert [s.query.get("after") for s in api.seen] == [None, "A", "B"]


def test_listing_stops_at_the_page_cap(api: Server) -> None:
    def route(seen: Seen) -> Answer:
        page = int(seen.query.get("page", "1"))
        headers = next_link(f"{api.url}{PULLS}?page={page + 1}") if page < GUARD else {}
        return Answer(200, [pull(page)], headers)

    api.route = route
    client = client_for(api)
    client.max_pages = 5  # the default is generous; the same check at a testable size
    with pytest.raises(GitHubError, match="more than 5 pages"):
        GitHubAPI(client, "acme", "user").pulls("app")
    assert len(api.seen) == 5
    assert getattr(client_module, "MAX_PAGES", 0) >= 1000
    assert client_for(api).max_pages == client_module.MAX_PAGES


def test_looping_alert_listing_is_that_class_unavailable(api: Server) -> None:
    """A listing that never ends is one repository's unreadable class, not a held lock."""
    alerts = f"{PREFIX}/repos/acme/app/dependabot/alerts"

    def route(seen: Seen) -> Answer:
        if seen.path == f"{PREFIX}/repos/acme/app":
            return Answer(200, repository("app"))
        headers = next_link(f"{api.url}{seen.target}") if len(api.seen) < GUARD else {}
        return Answer(200, [], headers)

    api.route = route
    inventory = collect_inventory(api_for(api), ["app"], [AlertClass.DEPENDABOT], max_workers=1)
    entry = inventory.repos["app"].classes[AlertClass.DEPENDABOT]
    assert entry.coverage is Coverage.UNAVAILABLE
    assert "pagination loop" in entry.detail
    assert sum(s.path == alerts for s in api.seen) == 1


# --- malformed answers -----------------------------------------------------------------------


def _malformed_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(r, "what", ""))
        for r in caplog.records
        if r.getMessage() == "ignoring a malformed API item"
    ]


def test_malformed_pr_item_is_skipped_and_logged(
    api: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentd")
    items = [
        pull(1),
        {"number": 2, "state": "open"},  # no head, no base
        "not an object",
        pull(3, labels=[{"name": "security"}, {"colour": "red"}]),
        pull(4, head={"ref": ["not", "a", "string"], "sha": "1" * 40}),
        pull(5),
    ]
    api.route = lambda _: Answer(200, items)
    pulls = api_for(api).pulls("app")
    assert [p.number for p in pulls] == [1, 3, 5]
    assert [label.name for label in pulls[1].labels] == ["security"]
    warnings = _malformed_warnings(caplog)
    assert warnings.count("pull request of app") == 3
    assert warnings.count("label") == 1


def test_malformed_comment_is_skipped_and_logged(
    api: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentd")
    api.route = lambda _: Answer(200, [{"id": 1, "body": "ok"}, {"body": "no id"}, None])
    comments = api_for(api).comments("app", 9)
    assert [c.id for c in comments] == [1]
    assert len(_malformed_warnings(caplog)) == 2


GATE_LISTS: dict[str, tuple[Callable[[GitHubAPI], object], Any]] = {
    "check runs": (
        lambda a: a.check_runs("app", "abc"),
        {"total_count": 2, "check_runs": [{"name": "ci", "status": "completed"}, {"name": "e2e"}]},
    ),
    "check runs not under their key": (
        lambda a: a.check_runs("app", "abc"),
        [{"name": "ci", "status": "completed"}],
    ),
    "commit statuses": (
        lambda a: a.combined_status("app", "abc"),
        {"state": "success", "statuses": [{"context": "ci", "state": "success"}, {"state": "x"}]},
    ),
    "branch rules": (
        lambda a: a.branch_rules("app", "main"),
        [{"type": "pull_request"}, {"parameters": {"required_status_checks": []}}],
    ),
    "PR files": (
        lambda a: a.pull_files("app", 9),
        [{"filename": "requirements.txt"}, {"filename": {"path": ".env"}}],
    ),
    "secret locations": (
        lambda a: a.secret_locations("app", 3),
        [{"type": "commit", "details": {}}, {"details": {"path": ".env"}}],
    ),
}


@pytest.mark.parametrize("what", list(GATE_LISTS))
def test_list_a_merge_relies_on_is_refused_whole(api: Server, what: str) -> None:
    """Skipping a malformed failing check, required rule or changed file would let a merge
    through: these lists are refused (for the unit that needed them), never truncated."""
    call, body = GATE_LISTS[what]
    api.route = lambda _: Answer(200, body)
    with pytest.raises(GitHubError, match=r"malformed|no list") as caught:
        call(api_for(api))
    result = result_for(caught.value)
    assert result.reason is not ReasonCode.INTERNAL_ERROR
    assert "GitHub" in result.detail


SINGLE_OBJECTS: dict[str, Callable[[GitHubAPI], object]] = {
    "pull": lambda a: a.pull("app", 9),
    "branch": lambda a: a.branch("app", "main"),
    "repository": lambda a: a.repository("app"),
    "dependabot alert": lambda a: a.dependabot_alert("app", 1),
    "tag ref": lambda a: a.tag_ref("third-party/action", "v1"),
    "account": lambda a: a.user(),
}


@pytest.mark.parametrize("what", list(SINGLE_OBJECTS))
@pytest.mark.parametrize("body", [{"number": "nine", "name": 5}, ["a", "list"], None])
def test_malformed_single_object_is_a_github_error(api: Server, what: str, body: Any) -> None:
    api.route = lambda _: Answer(200, body)
    with pytest.raises(GitHubError, match="malformed") as caught:
        SINGLE_OBJECTS[what](api_for(api))
    result = result_for(caught.value)
    assert result.reason is not ReasonCode.INTERNAL_ERROR
    assert result.detail.startswith("GitHub: ")


def test_malformed_repository_is_that_repositorys_inventory_error(api: Server) -> None:
    def route(seen: Seen) -> Answer:
        name = seen.path.removeprefix(f"{PREFIX}/repos/acme/").split("/")[0]
        if seen.path.endswith("/dependabot/alerts"):
            return Answer(200, [])
        if name == "bad":
            return Answer(200, {"id": "seven", "name": ["bad"], "owner": None})
        return Answer(200, repository(name))

    api.route = route
    inventory = collect_inventory(
        api_for(api), ["good", "bad", "also-good"], [AlertClass.DEPENDABOT], max_workers=2
    )
    bad = inventory.repos["bad"]
    assert bad.metadata is None
    assert "repository bad: the answer is malformed" in bad.error
    for name in ("good", "also-good"):
        repo = inventory.repos[name]
        assert repo.error == ""
        assert repo.metadata is not None and repo.metadata.name == name
        assert repo.classes[AlertClass.DEPENDABOT].coverage is Coverage.ENABLED
