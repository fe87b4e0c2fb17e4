"""A GitHub that cannot be reached at all: a few quick tries, then one error naming the URL
and the cause (refused, DNS, TLS, timeout) — never minutes of retries."""

from __future__ import annotations

import socket
import ssl
import time

import httpx
import pytest

from agentd.github.auth import Token, TokenKind
from agentd.github.client import ConnectionFailedError, GitHubClient, connection_failure
from agentd.mutation import MutationPolicy
from agentd.vocabulary import MutationMode


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("inner", "said"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (
            socket.gaierror(-2, "Name or service not known"),
            "DNS failure: the host name does not resolve (Name or service not known)",
        ),
        (TimeoutError("timed out"), "connection timed out"),
        (OSError(113, "No route to host"), "no route to host"),
    ],
)
def test_the_cause_is_said_in_words(inner: BaseException, said: str) -> None:
    assert connection_failure(_chained(httpx.ConnectError("x"), inner)) == said


def test_a_refused_certificate_is_a_tls_failure() -> None:
    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_message = "self-signed certificate"
    said = connection_failure(_chained(httpx.ConnectError("x"), refused))
    assert said == "TLS failure: the server's certificate was refused (self-signed certificate)"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_gets_three_quick_tries() -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    client = GitHubClient(
        base,
        Token(TokenKind.CLASSIC_PAT, "ghp_" + "x" * 36),
        MutationPolicy(MutationMode.REPORT_ONLY),
    )
    started = time.monotonic()
    with client, pytest.raises(ConnectionFailedError) as raised:
        client.get("/user")
    assert time.monotonic() - started < 5
    assert client.request_count == 3
    assert str(raised.value) == f"cannot reach GitHub at {base}: connection refused"
    assert raised.value.base_url == base and raised.value.cause == "connection refused"
