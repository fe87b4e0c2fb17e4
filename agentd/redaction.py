"""One process-wide redactor: every secret value agentd learns is registered here.

The token, verification secrets and secret-scanning values are registered the moment
they are read; logs, reports, PR bodies, audit records and the database all pass their
text through `redact` before it leaves memory. Well-known credential shapes are masked
even when nobody registered them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LENGTH = 4

_GENERIC_PATTERNS = (
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,255}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,255}"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),
)


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._patterns: list[re.Pattern[str]] = []
        self._compiled: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        """Remember a secret value (and its URL-encoded form) so it is masked everywhere."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._values.update({value, quote(value, safe="")})
            self._compiled = None

    def register_patterns(self, patterns: Iterable[str]) -> None:
        with self._lock:
            self._patterns.extend(re.compile(p) for p in patterns)

    def _matcher(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._compiled is None and self._values:
                ordered = sorted(self._values, key=len, reverse=True)
                self._compiled = re.compile("|".join(re.escape(v) for v in ordered))
            return self._compiled

    def redact(self, text: str) -> str:
        matcher = self._matcher()
        if matcher is not None:
            text = matcher.sub(MASK, text)
        for pattern in (*_GENERIC_PATTERNS, *self._patterns):
            text = pattern.sub(MASK, text)
        return text

    def contains_secret(self, text: str) -> bool:
        return self.redact(text) != text

    def reset(self) -> None:
        """Forget everything (used between independent runs in one process, and in tests)."""
        with self._lock:
            self._values.clear()
            self._patterns.clear()
            self._compiled = None


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR.redact(text)
