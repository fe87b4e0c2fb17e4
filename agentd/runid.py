"""The run id: one identifier per run, the same everywhere.

`20261201T214716Z-3f9a`: the run's start in UTC to the second, then four random hex digits
(two profiles sharing a store may start in the same second). It sorts by time as a plain
string. `agentd run` prints it and puts it in `--json` (`run_id`); the store, the report file
(`runs/{profile}/{run_id}.jsonl`), `latest.json`, the audit log, the worktree directory,
`agentd runs` and `agentd report --run` all use it.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
_STAMP = "%Y%m%dT%H%M%SZ"


def new_run_id(started: datetime | None = None) -> str:
    started = started or datetime.now(UTC)
    return f"{started.astimezone(UTC).strftime(_STAMP)}-{secrets.token_hex(2)}"


def legacy_run_id(generated_at: str, row: int) -> str:
    """The id given to a run recorded before run ids existed: its start and its old number
    (the integer `agentd report --run` used to take), so it stays unique and sortable."""
    try:
        stamp = datetime.fromisoformat(generated_at).astimezone(UTC).strftime(_STAMP)
    except ValueError:
        stamp = "00000000T000000Z"
    return f"{stamp}-{row:04x}"
