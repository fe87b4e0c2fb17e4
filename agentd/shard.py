"""Sharding a profile across hosts: `agentd run --profile P --shard K/N`.

A repository belongs to shard `1 + h mod N`, where `h` is the first 8 bytes of the SHA-256
of its lowercased name (GitHub names are case-insensitive): the same on every host and in
every Python process (never `hash()`, which is salted per process), so N shards with the
same N cover each repository exactly once. Each shard has its own lock and its own run
record; `combine` turns the latest run of each shard into the one report of the profile.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agentd.errors import UsageError
from agentd.profile import Profile

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 4096


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`K/N` with 1 ≤ K ≤ N; anything else is a usage error (exit 2)."""
        match = _SPEC.match(text)
        index, count = (int(match[1]), int(match[2])) if match else (0, 0)
        if not match or not 1 <= index <= count or count > MAX_SHARDS:
            raise UsageError(
                f"--shard {text!r} is not a shard: write K/N with 1 ≤ K ≤ N ≤ {MAX_SHARDS}, "
                "e.g. --shard 1/2 on one host and --shard 2/2 on the other"
            )
        return cls(index, count)

    @property
    def label(self) -> str:
        """`shard-K-of-N`: in lock names, lock keys and report directories."""
        return f"shard-{self.index}-of-{self.count}"

    @property
    def text(self) -> str:
        """`K/N`: what the run summary records (`shard`)."""
        return f"{self.index}/{self.count}"

    @property
    def run_id_suffix(self) -> str:
        return f"-s{self.index}of{self.count}"

    def owns(self, repository: str) -> bool:
        return shard_of(repository, self.count) == self.index

    def select(self, profile: Profile) -> Profile:
        """The profile restricted to this shard's repositories (everything else as is)."""
        mine = [r for r in profile.repositories if self.owns(r.repo)]
        return profile.model_copy(update={"repositories": mine})


def shard_of(repository: str, count: int) -> int:
    """The shard (1..count) a repository belongs to."""
    digest = hashlib.sha256(repository.lower().encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def parse_text(text: str | None) -> Shard | None:
    """A run summary's `shard` ("K/N"), or None for an unsharded run."""
    match = _SPEC.match(text or "")
    return Shard(int(match[1]), int(match[2])) if match else None


# --- one report from the shards ---------------------------------------------------------


def latest_per_shard(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """From run summaries newest first: when the newest that ran is a shard's, the newest run
    of each shard of its N (oldest shard first); else just that run. Attempts that found the
    lock held did not run and never stand for a shard."""
    ran = [s for s in summaries if not s.get("lock_contended")]
    if not ran:
        return summaries[:1]
    newest = parse_text(ran[0].get("shard"))
    if newest is None:
        return ran[:1]
    latest: dict[int, dict[str, Any]] = {}
    for summary in ran:
        shard = parse_text(summary.get("shard"))
        if shard is not None and shard.count == newest.count:
            latest.setdefault(shard.index, summary)
    return [latest[k] for k in sorted(latest)]


def combine(summaries: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """One report from the latest run of each shard: the union of their units, counts
    summed, the shards' run ids and report paths listed; a shard with no run is a warning."""
    newest = max(summaries, key=lambda s: str(s.get("run_id", "")))
    data = dict(newest)
    present = {parse_text(s.get("shard")) for s in summaries}
    missing = [f"{k}/{count}" for k in range(1, count + 1) if Shard(k, count) not in present]
    data["shard"] = f"combined: {len(summaries)} of {count} shards"
    data["combined_runs"] = [s.get("run_id") for s in summaries]
    data["run_id"] = newest.get("run_id")
    data["generated_at"] = min(str(s.get("generated_at", "")) for s in summaries)
    data["finished_at"] = max(str(s.get("finished_at", "")) for s in summaries)
    data["units"] = [u for s in summaries for u in s.get("units", [])]
    data["remaining_open_alerts"] = [
        r for s in summaries for r in s.get("remaining_open_alerts", [])
    ]
    for key in ("open_alerts_by_class", "open_alerts_at_start", "repositories_by_mode"):
        data[key] = dict(_summed(s.get(key, {}) for s in summaries))
    data["outcomes"] = dict(_summed(s.get("outcomes", {}) for s in summaries))
    data["reasons"] = dict(_summed(s.get("reasons", {}) for s in summaries))
    warnings = [w for s in summaries for w in s.get("warnings", [])]
    warnings += [
        f"shard {k} has no run recorded yet: its repositories are not in this report"
        for k in missing
    ]
    data["warnings"] = list(dict.fromkeys(warnings))
    stopped = [f"shard {s.get('shard')}: {s['stopped']}" for s in summaries if s.get("stopped")]
    data["stopped"] = "; ".join(stopped) or None
    data["report_path"] = ", ".join(str(s.get("report_path") or "") for s in summaries)
    return data


def _summed(counts: Any) -> Counter[str]:
    total: Counter[str] = Counter()
    for one in counts:
        total.update({str(k): int(v or 0) for k, v in dict(one).items()})
    return total
