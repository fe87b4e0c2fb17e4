"""One process-wide redactor: every secret value agentd learns is registered here.

The token, verification secrets and secret-scanning values are registered the moment
they are read; logs, reports, PR bodies, audit records and the database all pass their
text through `redact` before it leaves memory. Well-known credential shapes are masked
even when nobody registered them.

Two lifetimes, because the daemon runs profile after profile in one process:
- `register` / `register_patterns`: for the life of the process. The token and the
  allowed environment's values are the same every run, so these do not grow with runs.
- `run_scope(patterns)` / `register_for_run`: for the life of the runs in progress. A
  run's redaction patterns and the secret-scanning values fetched during it are dropped
  when the last run in progress ends. Runs of different profiles overlap in the daemon's
  threads and the redactor cannot tell which run a value belongs to (the passes' worker
  threads carry no context), so each keeps everything registered while any run is in
  progress: it masks too much while runs overlap, never too little.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
        self._run_values: set[str] = set()
        self._runs = 0
        self._compiled_patterns: dict[str, re.Pattern[str]] = {}
        self._process_patterns: dict[str, None] = {}  # an ordered set
        self._run_patterns: Counter[str] = Counter()
        self._active_patterns: tuple[re.Pattern[str], ...] = ()
        self._compiled: re.Pattern[str] | None = None

    # --- registering ------------------------------------------------------------------------

    def register(self, value: str | None) -> None:
        """Mask a secret value (and its URL-encoded form) for the life of the process."""
        forms = _forms(value)
        if forms:
            with self._lock:
                self._values.update(forms)
                self._compiled = None

    def register_for_run(self, value: str | None) -> None:
        """Mask a value until the last run in progress ends (for the process if none is)."""
        forms = _forms(value)
        if forms:
            with self._lock:
                (self._run_values if self._runs else self._values).update(forms)
                self._compiled = None

    def register_patterns(self, patterns: Iterable[str]) -> None:
        """Mask these regular expressions for the life of the process (each kept once)."""
        new = list(patterns)
        with self._lock:
            self._compile_new(new)
            self._process_patterns.update(dict.fromkeys(new))
            self._refresh_patterns()

    @contextmanager
    def run_scope(self, patterns: Iterable[str] = ()) -> Iterator[None]:
        """One run: its patterns are masked until it ends, and its values until the last run ends."""
        own = list(dict.fromkeys(patterns))
        with self._lock:
            self._compile_new(own)  # may raise re.error: nothing is counted yet
            self._runs += 1
            self._run_patterns.update(own)
            self._refresh_patterns()
        try:
            yield
        finally:
            self._end_run(own)

    def _end_run(self, patterns: list[str]) -> None:
        with self._lock:
            self._run_patterns.subtract(patterns)
            self._run_patterns = +self._run_patterns  # drops the ones no run uses any more
            self._runs = max(0, self._runs - 1)
            if self._runs == 0 and self._run_values:
                self._run_values.clear()
                self._compiled = None
            self._refresh_patterns()

    def _compile_new(self, patterns: Iterable[str]) -> None:
        """Compile the patterns not compiled yet; called with the lock held."""
        new = {
            p: re.compile(p) for p in dict.fromkeys(patterns) if p not in self._compiled_patterns
        }
        self._compiled_patterns.update(new)

    def _refresh_patterns(self) -> None:
        """Rebuild the tuple `redact` reads without the lock; called with the lock held."""
        live = self._process_patterns.keys() | self._run_patterns.keys()
        # Kept in the order first registered: a pattern's mask can stop a later one matching.
        self._compiled_patterns = {p: c for p, c in self._compiled_patterns.items() if p in live}
        self._active_patterns = tuple(self._compiled_patterns.values())

    # --- masking ----------------------------------------------------------------------------

    def _matcher(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._compiled is None and (self._values or self._run_values):
                ordered = sorted(self._values | self._run_values, key=len, reverse=True)
                self._compiled = re.compile("|".join(re.escape(v) for v in ordered))
            return self._compiled

    def redact(self, text: str) -> str:
        matcher = self._matcher()
        if matcher is not None:
            text = matcher.sub(MASK, text)
        for pattern in (*_GENERIC_PATTERNS, *self._active_patterns):
            text = pattern.sub(MASK, text)
        return text

    def contains_secret(self, text: str) -> bool:
        return self.redact(text) != text

    def patterns(self) -> tuple[str, ...]:
        """The registered patterns in force now (each once)."""
        return tuple(p.pattern for p in self._active_patterns)

    def reset(self) -> None:
        """Forget everything, runs in progress included (for tests)."""
        with self._lock:
            self._values.clear()
            self._run_values.clear()
            self._runs = 0
            self._compiled_patterns.clear()
            self._process_patterns.clear()
            self._run_patterns.clear()
            self._active_patterns = ()
            self._compiled = None


def _forms(value: str | None) -> set[str]:
    """The value and its URL-encoded form; nothing for a value too short to mask safely."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return set()
    return {value, quote(value, safe="")}


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR.redact(text)
