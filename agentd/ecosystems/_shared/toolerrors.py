"""Whether a package manager failed because it could not reach its registry, and why.

A tool that cannot reach a registry (the name does not resolve, the connection is refused
or times out, the proxy fails, the server's TLS certificate is not trusted) says so in its
own words. Such a failure is the runner's environment, not the fix: the update is
`verification_unavailable` with the cause in one line ("cannot reach index.crates.io:
could not resolve host"), never a requirement that excludes the fix or a failed fix.

`unreachable_registry(output)` reads the output of any tool (cargo/curl, go, uv, poetry
and requests, pip, npm, pnpm, yarn, git); `ToolRunner` applies it to every failed run when
its updater asks (`guarded_update(..., registry_errors=True)`) and refuses the update
`verification_unavailable` with the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

TLS_HINT = "set SSL_CERT_FILE (or the tool's CA setting) in agentd's environment to the CA bundle"

# (cause, pattern), most specific first: a proxy failure mentions the refused connection too
_CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(pattern, re.IGNORECASE))
    for cause, pattern in (
        (
            "the proxy failed",
            r"failed to connect to (the )?proxy|could not connect to proxy|proxyconnect tcp"
            r"|tunnel error|ProxyError|proxy authentication required|\b407\b.*proxy",
        ),
        (
            f"the TLS certificate is not trusted ({TLS_HINT})",
            r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|invalid peer certificate"
            r"|certificate signed by unknown authority|tls: failed to verify certificate"
            r"|SSL certificate problem|unable to get local issuer certificate"
            r"|self[- ]signed certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN"
            r"|UNABLE_TO_GET_ISSUER_CERT|CERT_HAS_EXPIRED|certificate has expired"
            r"|SSL peer certificate|SSLCertVerificationError|x509: certificate",
        ),
        (
            "could not resolve host",
            r"could not resolve host|failed to resolve address|Failed to resolve '"
            r"|name or service not known|temporary failure in name resolution|no such host"
            r"|getaddrinfo|ENOTFOUND|EAI_AGAIN|dns error|nodename nor servname"
            r"|server misbehaving|NameResolutionError",
        ),
        (
            "connection refused",
            r"connection refused|ECONNREFUSED|could not connect to server"
            r"|couldn't connect to server|Errno 111\b",
        ),
        (
            "connection timed out",
            r"connection timed out|operation timed out|connect(ion)? timeout|ETIMEDOUT"
            r"|read timed out|i/o timeout|ConnectTimeout|ESOCKETTIMEDOUT",
        ),
        (
            "network unreachable",
            r"network is unreachable|ENETUNREACH|no route to host|EHOSTUNREACH",
        ),
        ("connection reset", r"connection reset by peer|ECONNRESET"),
        # poetry without -v names the host only: DNS, a refused connection or TLS
        ("connection failed", r"All attempts to connect to \S+ failed"),
    )
)

# Where tools name the host they tried, most precise first; then a URL on the line; then
# the address they dialled (an IP, once a name resolved).
_HOSTS = tuple(
    re.compile(pattern)
    for pattern in (
        r"Could not resolve host: (?P<host>[\w.-]+)",
        r"failed to resolve address for (?P<host>[\w.-]+)",
        r"Failed to resolve '(?P<host>[\w.-]+)'",
        r"All attempts to connect to (?P<host>\S+?) failed",
        r"host='(?P<host>[\w.-]+)', port=(?P<port>\d+)",
        r"Failed to connect to (?P<host>[\w.-]+) port (?P<port>\d+)",
        r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)",
    )
)
_ADDRESSES = tuple(
    re.compile(pattern)
    for pattern in (
        r"connect (?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH) (?P<host>[\w.:\[\]-]+)",
        r"dial tcp (?P<host>[\w.:\[\]-]+): ",
    )
)
_URL = re.compile(r"""(?:https?|sparse\+https?|git\+https?)://[^\s'"`<>)\]]+""")
_WARNING = re.compile(r"^\s*(warning|warn|npm warn)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Unreachable:
    host: str  # "" when the tool did not name one
    cause: str

    def __str__(self) -> str:
        return f"cannot reach {self.host or 'the registry'}: {self.cause}"


def unreachable_registry(output: str) -> Unreachable | None:
    """Why the tool could not reach its registry, or None when its output shows no such
    problem. Warnings (cargo's retried "spurious network error") are not the failure."""
    lines = [line for line in output.splitlines() if not _WARNING.match(line)]
    for cause, pattern in _CAUSES:
        for index, line in enumerate(lines):
            if pattern.search(line):
                return Unreachable(_host(lines, index), cause)
    return None


def _host(lines: list[str], index: int) -> str:
    """The host named on the failing line or the nearest line before it that names one."""
    for line in reversed(lines[: index + 1]):
        found = _named_host(line)
        if found:
            return found
    for line in lines[index + 1 :]:
        found = _named_host(line)
        if found:
            return found
    return ""


def _named_host(line: str) -> str:
    for pattern in _HOSTS:
        match = pattern.search(line)
        if match:
            port = match.groupdict().get("port")
            return match["host"] + (f":{port}" if port and port not in ("80", "443") else "")
    url = _URL.search(line)
    if url is not None:
        parts = urlsplit(url.group(0).split("+", 1)[-1])
        try:
            port = parts.port
        except ValueError:
            port = None
        host = parts.hostname or ""
        return host + (f":{port}" if host and port else "")
    for pattern in _ADDRESSES:
        match = pattern.search(line)
        if match:
            return match["host"]
    return ""
