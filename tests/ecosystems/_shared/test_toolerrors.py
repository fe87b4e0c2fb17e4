"""The one classifier of registry problems, over what the tools really print (issue 15, cause 7).

Each sample is a tool's own output when its registry could not be reached (collected from
the tools installed here, or their documented messages for npm, pnpm, yarn and pip); the
negatives are failures that are the fix's own and must keep their reason.
"""

from __future__ import annotations

import pytest

from agentd.ecosystems._shared.toolerrors import TLS_HINT, unreachable_registry

TLS = f"the TLS certificate is not trusted ({TLS_HINT})"

UNREACHABLE = {
    "cargo, no DNS": (
        """\
    Updating crates.io index
error: failed to get `smallvec` as a dependency of package `app v0.1.0 (/tmp/p)`

Caused by:
  download of config.json failed

Caused by:
  failed to download from `https://index.crates.io/config.json`

Caused by:
  [6] Could not resolve hostname (Could not resolve host: index.crates.io)""",
        "cannot reach index.crates.io: could not resolve host",
    ),
    "cargo, refused": (
        """\
error: failed to get `smallvec` as a dependency of package `app v0.1.0 (/tmp/p)`

Caused by:
  failed to download from `http://127.0.0.1:9/index/config.json`

Caused by:
  [7] Could not connect to server (Failed to connect to 127.0.0.1 port 9 after 0 ms: Could not connect to server)""",
        "cannot reach 127.0.0.1:9: connection refused",
    ),
    "cargo, git index": (
        """\
error: unable to update registry `crates-io`

Caused by:
  failed to fetch `https://registry.invalid/git-index`

Caused by:
  failed to resolve address for registry.invalid: Name or service not known; class=Net (12)""",
        "cannot reach registry.invalid: could not resolve host",
    ),
    "cargo, private CA": (
        "error: failed to download from `https://index.crates.io/config.json`\n\nCaused by:\n"
        "  [60] SSL peer certificate or SSH remote key was not OK (SSL certificate problem: "
        "unable to get local issuer certificate)",
        f"cannot reach index.crates.io: {TLS}",
    ),
    "go, no DNS": (
        'go: golang.org/x/text@v0.3.8: Get "https://proxy.golang.org/golang.org/x/text/@v/'
        'v0.3.8.info": dial tcp: lookup proxy.golang.org on 10.255.255.53:53: no such host',
        "cannot reach proxy.golang.org: could not resolve host",
    ),
    "go, refused": (
        'go: golang.org/x/text@v0.3.8: Get "http://127.0.0.1:9/golang.org/x/text/@v/v0.3.8.info"'
        ": dial tcp 127.0.0.1:9: connect: connection refused",
        "cannot reach 127.0.0.1:9: connection refused",
    ),
    "go, private CA": (
        'go: example.com/m@v1.0.0: Get "https://goproxy.corp.example/example.com/m/@v/v1.0.0.info'
        '": tls: failed to verify certificate: x509: certificate signed by unknown authority',
        f"cannot reach goproxy.corp.example: {TLS}",
    ),
    "go, sum database": (
        "verifying golang.org/x/text@v0.3.8: golang.org/x/text@v0.3.8: Get "
        '"https://sum.golang.org/lookup/golang.org/x/text@v0.3.8": dial tcp 142.250.0.1:443: '
        "i/o timeout",
        "cannot reach sum.golang.org: connection timed out",
    ),
    "uv, no DNS": (
        """\
error: Failed to fetch: `https://registry.invalid/simple/httpclient/`
  Caused by: error sending request for url (https://registry.invalid/simple/httpclient/)
  Caused by: client error (Connect)
  Caused by: dns error
  Caused by: failed to lookup address information: Name or service not known""",
        "cannot reach registry.invalid: could not resolve host",
    ),
    "uv, through a dead proxy": (
        """\
error: Failed to fetch: https://pypi.org/simple/httpclient/
  cause: client error (Connect)
  cause: tunnel error: failed to create underlying connection
  cause: tcp connect error
  cause: Connection refused (os error 111)""",
        "cannot reach pypi.org: the proxy failed",
    ),
    "poetry, quiet": (
        """\
Resolving dependencies...

All attempts to connect to registry.invalid failed.

Probable Causes:
    - the server is not responding to requests at the moment
    - the hostname cannot be resolved by your DNS
    - your network is not connected to the internet""",
        "cannot reach registry.invalid: connection failed",
    ),
    "poetry -v, private CA": (
        """\
All attempts to connect to 127.0.0.1:46541 failed.

Exception:
    | HTTPSConnectionPool(host='127.0.0.1', port=46541): Max retries exceeded with url: /simple/urllib3/ (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)')))""",
        f"cannot reach 127.0.0.1:46541: {TLS}",
    ),
    "pip": (
        "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError'\n"
        "ERROR: Could not find a version that satisfies the requirement requests (from "
        "versions: none)\nERROR: HTTPSConnectionPool(host='pypi.org', port=443): Max retries "
        'exceeded with url: /simple/requests/ (Caused by NameResolutionError("<urllib3.'
        "connection.HTTPSConnection object>: Failed to resolve 'pypi.org' ([Errno -3] "
        'Temporary failure in name resolution)"))',
        "cannot reach pypi.org: could not resolve host",
    ),
    "npm": (
        "npm error code ENOTFOUND\nnpm error syscall getaddrinfo\nnpm error errno ENOTFOUND\n"
        "npm error network request to https://registry.npmjs.org/lodash failed, reason: "
        "getaddrinfo ENOTFOUND registry.npmjs.org",
        "cannot reach registry.npmjs.org: could not resolve host",
    ),
    "npm, private CA": (
        "npm error code UNABLE_TO_GET_ISSUER_CERT_LOCALLY\nnpm error errno "
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY\nnpm error request to https://registry.npmjs.org/"
        "lodash failed, reason: unable to get local issuer certificate",
        f"cannot reach registry.npmjs.org: {TLS}",
    ),
    "pnpm": (
        " ERR_PNPM_META_FETCH_FAIL  GET http://127.0.0.1:9/lodash: request to "
        "http://127.0.0.1:9/lodash failed, reason: connect ECONNREFUSED 127.0.0.1:9",
        "cannot reach 127.0.0.1:9: connection refused",
    ),
    "yarn": (
        "info There appears to be trouble with your network connection. Retrying...\nerror An "
        'unexpected error occurred: "https://registry.yarnpkg.com/lodash: connect ETIMEDOUT '
        '104.16.0.35:443".',
        "cannot reach registry.yarnpkg.com: connection timed out",
    ),
    "git": (
        "fatal: unable to access 'https://github.com/org/dep.git/': Could not resolve host: "
        "github.com",
        "cannot reach github.com: could not resolve host",
    ),
}

THE_FIX_ITSELF = {
    "cargo, a requirement excludes it": """\
error: failed to select a version for the requirement `smallvec = "=1.6.0"`
candidate versions found which didn't match: 1.6.1, 1.7.0
location searched: crates.io index
required by package `pinlib v1.0.0`""",
    "cargo, retried then unsolvable": """\
warning: spurious network error (2 tries remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
error: failed to select a version for the requirement `smallvec = "=1.6.0"`""",
    "uv, unsolvable": """\
  x No solution found when resolving dependencies:
  ╰─▶ Because pinned-client==1.0.0 depends on urllib3==1.26.5 and your project depends on
      urllib3==1.26.19, we can conclude that your project's requirements are unsatisfiable.""",
    "poetry, unsolvable": (
        "Because app depends on pinned-client (1.0.0) which depends on urllib3 (1.26.5), "
        "version solving failed."
    ),
    "npm, no such version": (
        "npm error code ETARGET\nnpm error notarget No matching version found for lodash@4.17.99."
    ),
    "go, unknown revision": "go: golang.org/x/text@v0.3.99: invalid version: unknown revision",
    "pip, 404": "ERROR: HTTP error 404 while getting https://pypi.org/simple/nope/",
}


@pytest.mark.parametrize("sample", sorted(UNREACHABLE))
def test_registry_problems_are_named_with_their_cause(sample: str) -> None:
    output, expected = UNREACHABLE[sample]
    problem = unreachable_registry(output)
    assert problem is not None
    assert str(problem) == expected


@pytest.mark.parametrize("sample", sorted(THE_FIX_ITSELF))
def test_failures_of_the_fix_are_not_registry_problems(sample: str) -> None:
    assert unreachable_registry(THE_FIX_ITSELF[sample]) is None


def test_a_host_the_tool_does_not_name() -> None:
    problem = unreachable_registry("error: Connection refused")
    assert problem is not None and str(problem) == "cannot reach the registry: connection refused"
    dialled = unreachable_registry("dial tcp 10.0.0.7:443: connect: connection refused")
    assert dialled is not None and dialled.host == "10.0.0.7:443"
