"""Unit tests of agentd/github/client.py: where requests may go."""

from __future__ import annotations

import pytest

from agentd.github.client import ApiScope

GHES = ApiScope.of("https://ghes.example.com/api/v3")
DOTCOM = ApiScope.of("https://api.github.com")


@pytest.mark.parametrize(
    "url",
    [
        "https://ghes.example.com/api/v3/repos/acme/app/pulls?page=2",
        "https://GHES.example.com:443/api/v3/repos/acme/app",
        "https://ghes.example.com/api/v3/",
    ],
)
def test_inside_the_base(url: str) -> None:
    assert GHES.contains(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://ghes.example.com/api/v3/repos",  # another scheme
        "https://ghes.example.com:8443/api/v3/repos",  # another port
        "https://ghes.example.com.evil.test/api/v3/repos",  # another host
        "https://evil.test/api/v3/repos",
        "https://ghes.example.com/api/v30/repos",  # a sibling of the prefix
        "https://ghes.example.com/api/v3",  # the prefix without its slash is not under it
        "https://ghes.example.com/elsewhere",
        "https://ghes.example.com/api/v3/../../elsewhere",
        "https://ghes.example.com/api/v3/%2e%2e/elsewhere",
        "https://ghes.example.com/api/v3/%2E%2E/elsewhere",
        "https://ghes.example.com/api/v3/a%5c..%5c..%5celsewhere",
        "https://user:pw@ghes.example.com/api/v3/repos",  # credentials in the URL
        "https://ghes.example.com@evil.test/api/v3/repos",
        "/api/v3/repos",  # relative: never sent as is
        "https://ghes.example.com:99999/api/v3/repos",
        "not a url at all",
        "",
    ],
)
def test_outside_the_base(url: str) -> None:
    assert not GHES.contains(url)


def test_dotcom_base_allows_any_path_on_its_host() -> None:
    assert DOTCOM.contains("https://api.github.com/orgs/acme/dependabot/alerts?after=x")
    assert not DOTCOM.contains("https://uploads.github.com/repos/acme/app")
    assert str(DOTCOM) == "https://api.github.com:443/"


def test_graphql_endpoint_is_allowed_for_requests_but_not_for_pagination() -> None:
    assert GHES.graphql == "/api/graphql"
    assert GHES.allows("https://ghes.example.com/api/graphql")
    assert not GHES.contains("https://ghes.example.com/api/graphql")
    assert DOTCOM.allows("https://api.github.com/graphql")
    for url in (
        "https://ghes.example.com/api/graphqlx",
        "https://ghes.example.com/graphql",
        "https://evil.test/api/graphql",
        "https://user@ghes.example.com/api/graphql",
    ):
        assert not GHES.allows(url), url
