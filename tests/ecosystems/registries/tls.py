"""A private certificate authority and an HTTPS server on loopback, as behind a corporate CA.

Tools trust only their default roots, so they refuse the server until its CA reaches them
(`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, ...).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

from support import require_tool

from ecosystems.localindex import _QuietHandler
from ecosystems.registries.toolenv import run

_EXTENSIONS = "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"


@dataclass(frozen=True)
class PrivateCA:
    bundle: Path  # the CA certificate, PEM: what an operator points SSL_CERT_FILE at
    certificate: Path  # the server's, for 127.0.0.1, signed by the CA
    key: Path


def private_ca(root: Path) -> PrivateCA:
    openssl = require_tool("openssl")
    root.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root)}
    run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=agentd test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign"], root, env)  # fmt: skip
    run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=127.0.0.1"], root, env)  # fmt: skip
    (root / "server.ext").write_text(_EXTENSIONS)
    run([openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
        root, env)  # fmt: skip
    return PrivateCA(root / "ca.pem", root / "server.pem", root / "server.key")


@contextmanager
def serve_https(directory: Path, ca: PrivateCA) -> Iterator[str]:
    """Yields `https://127.0.0.1:PORT` serving `directory`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(directory)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.certificate, ca.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
