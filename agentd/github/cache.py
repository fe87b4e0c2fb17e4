"""A persistent conditional-request cache (ETag / Last-Modified) for GitHub GETs.

GitHub answers a conditional request whose validator still matches with 304, which costs
no rate limit. This cache stores the validators, the `Link` header and the body of each
GET under the state directory, keyed by method and URL only (never the token), and always
revalidates: it never serves a body without asking GitHub first.

Why not an RFC 9111 cache such as hishel: GitHub sends `max-age=60`, under which such a
cache would serve an alert list from before a merge without asking — the exhaustive loop
must see the state right after each merge. Endpoints whose bodies carry secret values
(secret scanning without `hide_secret=true`) are never stored, and nothing the redactor recognises as a secret is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from agentd.redaction import REDACTOR

_NEVER_CACHED = re.compile(r"/secret-scanning/")


@dataclass(frozen=True)
class CachedResponse:
    url: str
    etag: str | None
    last_modified: str | None
    link: str | None
    body: str


class ConditionalCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def cacheable(url: str) -> bool:
        # Secret-scanning bodies carry the secret unless it was asked to be hidden.
        return not _NEVER_CACHED.search(url) or "hide_secret=true" in url

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(f"GET {url}".encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest}.json"

    def load(self, url: str) -> CachedResponse | None:
        if not self.cacheable(url):
            return None
        try:
            data = json.loads(self._path(url).read_text(encoding="utf-8"))
            entry = CachedResponse(**data)
        except (OSError, ValueError, TypeError):
            return None
        return entry if entry.url == url else None

    def store(self, entry: CachedResponse) -> None:
        if not self.cacheable(entry.url) or not (entry.etag or entry.last_modified):
            return
        if REDACTOR.contains_secret(entry.body):
            return
        path = self._path(entry.url)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(entry), handle)
        os.replace(tmp, path)
