"""A run summary's JSON text, written one unit at a time (issue 17: 100,000 alerts in a
report-only run under 300 MB).

`latest.json`, `agentd run --json` and the store's `summary_json` are the text of the whole
summary (`RunSummary.to_json()`), redacted. Building that text whole took several copies of
the run at once (the dict tree, the encoder's chunks, the joined text, the redacted copy, the
store's parse-and-encode round trip). Here the summary's own fields are encoded once with a
marker where `units` goes, and each unit's record is encoded, redacted and written in its
place, so memory holds one unit's text at a time beside the summary's fields. The result is
byte for byte the text the whole tree gives.

Redaction works on each piece, the summary's own fields and each unit's record, as the JSONL
report always did per line: a secret value lies inside one string, so inside one piece, and
every registered value and pattern is applied to every piece.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from agentd.redaction import redact

if TYPE_CHECKING:
    from agentd.report import RunSummary

UNITS = "units"
REMAINING = "remaining_open_alerts"  # one entry per open alert: as many as the units' alerts
# How a list's items are joined, by indentation (the lists are members of the summary).
_ITEM = {None: ", ", 2: ",\n    "}
_OPEN = {None: "[", 2: "[\n    "}
_CLOSE = {None: "]", 2: "\n  ]"}


def write_summary(summary: RunSummary, out: TextIO) -> None:
    """`json.dumps(summary.to_json(), indent=2)`, redacted, written to `out` piece by piece."""
    lists = {
        REMAINING: summary.remaining_open_alerts,
        UNITS: (summary.unit_json(unit) for unit in summary.units),
    }
    for _, piece in _pieces(summary.frame_json(), lists, 2, redact):
        out.write(piece)


def _pieces(
    frame: dict[str, Any],
    lists: Mapping[str, Iterable[dict[str, Any]]],
    indent: int | None,
    scrub: Callable[[str], str],
) -> Iterator[tuple[str | None, str]]:
    """The frame's text with each of `lists` in its place, one item at a time, each piece
    through `scrub`; with each piece the list it is an item of (None: not an item)."""
    token = secrets.token_hex(16)  # no value of the run can contain it
    markers = {key: f"{key}-{token}" for key in lists}
    rest = json.dumps(frame | markers, indent=indent)
    for key in (k for k in frame if k in lists):
        before, found, rest = rest.partition(json.dumps(markers[key]))
        if not found:
            raise AssertionError(f"the marker of {key!r} is missing from the summary's text")
        yield None, scrub(before)
        empty = True
        for item in lists[key]:
            yield None, _OPEN[indent] if empty else _ITEM[indent]
            empty = False
            text = scrub(json.dumps(item, indent=indent))
            # An item sits two levels deep: every line after its first moves right by four.
            yield key, text.replace("\n", "\n    ") if indent else text
        yield None, "[]" if empty else _CLOSE[indent]
    yield None, scrub(rest)


def write_unit_lines(summary: RunSummary, out: TextIO) -> None:
    """The JSONL report: one redacted record per unit and line, keys sorted."""
    for unit in summary.units:
        out.write(redact(json.dumps(summary.unit_json(unit), sort_keys=True)))
        out.write("\n")


@dataclass(frozen=True)
class StoredUnit:
    """One unit as the store keeps it: its columns and its record's text."""

    columns: dict[str, Any]
    start: int  # the record's place in the summary's text
    end: int


@dataclass(frozen=True)
class StoredSummary:
    """The summary's redacted compact text (`summary_json`), spooled to an unnamed private
    file rather than held in memory, and where each unit's record is in it (`record_json`).
    The text is ASCII (JSON escapes the rest), so its characters are its bytes."""

    spool: BinaryIO
    size: int
    units: list[StoredUnit]

    @property
    def text(self) -> str:
        """The whole text, for a store that cannot take it in pieces."""
        self.spool.seek(0)
        return self.spool.read().decode("ascii")

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        self.spool.seek(0)
        while chunk := self.spool.read(size):
            yield chunk

    def records(self) -> Iterator[tuple[dict[str, Any], str]]:
        for unit in self.units:
            self.spool.seek(unit.start)
            yield unit.columns, self.spool.read(unit.end - unit.start).decode("ascii")

    def close(self) -> None:
        self.spool.close()


def stored_summary(summary: RunSummary) -> StoredSummary:
    """The text `json.dumps(json.loads(redact(json.dumps(summary.to_json()))))` gives, the
    store's form of a run since its first version: each piece goes through the same
    parse-and-encode round trip, so a redaction that broke the JSON still fails here."""
    frame = _normalised(summary.frame_json() | {REMAINING: []})
    columns: list[dict[str, Any]] = []

    def records() -> Iterator[dict[str, Any]]:
        for unit in summary.units:
            record = _normalised(summary.unit_json(unit))
            columns.append(_columns(record))
            yield record

    lists = {
        REMAINING: (_normalised(entry) for entry in summary.remaining_open_alerts),
        UNITS: records(),
    }
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the StoredSummary owns and closes it
    places: list[tuple[int, int]] = []
    size = 0
    try:
        for key, piece in _pieces(frame, lists, None, _as_is):
            data = piece.encode("ascii")
            if key == UNITS:
                places.append((size, size + len(data)))
            spool.write(data)
            size += len(data)
    except BaseException:
        spool.close()
        raise
    units = [StoredUnit(c, start, end) for c, (start, end) in zip(columns, places, strict=True)]
    return StoredSummary(spool, size, units)


def _as_is(text: str) -> str:
    return text


COLUMNS = (
    "repository",
    "target_id",
    "remediation_key",
    "alert_class",
    "outcome",
    "reason_code",
    "remaining_blocker",
    "pr_url",
)


def _columns(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in COLUMNS}


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(redact(json.dumps(data)))
    return parsed
