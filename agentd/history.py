"""Which run history `agentd runs` and `agentd report` read, and finding a run in it.

With `--profile`: that profile's store (its `store_url`, else its state directory's).
Without: `AGENTD_STORE_URL`'s store, else the store in `AGENTD_STATE_DIR` (every profile
recorded there), else the stores of every profile in `AGENTD_PROFILES_DIR` that has run at
least once. Runs are named by their run id (`agentd.runid`). The shards of a profile
(`agentd run --shard K/N`) record their runs in the same history: `latest_report` makes one
report of the latest run of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentd.errors import AgentdError, UsageError
from agentd.log import get_logger
from agentd.profile import load_profile
from agentd.session import state_dir
from agentd.settings import Settings, discover_profiles, resolve_profile_path
from agentd.shard import combine, latest_per_shard, parse_text
from agentd.store import DB_NAME, RunStore, Store, StoredRun, open_store, store_url

log = get_logger("history")
FIND_IDS = "`agentd runs` lists the run ids"
SHARD_WINDOW = 200  # the runs searched for the latest run of each shard


class History:
    """One or more run stores read as one history, newest run first."""

    def __init__(self, stores: list[Store], profile_id: str | None) -> None:
        self.stores = stores
        self.profile_id = profile_id

    @property
    def scope(self) -> str:
        return f" of profile {self.profile_id!r}" if self.profile_id else ""

    def runs(self, limit: int) -> list[StoredRun]:
        found = [run for store in self.stores for run in store.runs(self.profile_id, limit)]
        return sorted(found, key=lambda r: r.id, reverse=True)[:limit]

    def trends(self, last: int) -> list[dict[str, Any]]:
        points = [p for store in self.stores for p in store.trends(self.profile_id, last)]
        return sorted(points, key=lambda p: str(p["run"]))[-last:] if points else []

    def latest_report(self) -> dict[str, Any]:
        """The latest run's summary; when it was a shard's, one report of the latest run of
        each shard of the profile (the union of their units, counts summed)."""
        newest = self.find(None)
        recent = [r.summary for r in self.runs(SHARD_WINDOW) if r.profile_id == newest.profile_id]
        picked = latest_per_shard(recent or [newest.summary])
        shard = parse_text(picked[0].get("shard"))
        return combine(picked, shard.count) if shard else newest.summary

    def find(self, ref: str | None) -> StoredRun:
        """The run `ref` names (a run id or its unique start), or the latest run."""
        if ref is None:
            latest = self.runs(1)
            if not latest:
                raise UsageError(
                    f"no run recorded yet{self.scope}", "run `agentd run --profile ...` first"
                )
            return latest[0]
        matches = [run for store in self.stores for run in store.matching(ref, self.profile_id)]
        if not matches:
            raise UsageError(f"no run {ref!r} in the run history{self.scope}; {FIND_IDS}")
        if len(matches) > 1:
            ids = ", ".join(sorted((r.id for r in matches), reverse=True)[:5])
            raise UsageError(
                f"run {ref!r} is ambiguous: it starts {len(matches)} run ids ({ids}); "
                f"give more of the id; {FIND_IDS}"
            )
        return matches[0]


def open_history(profile: str | None, settings: Settings) -> History:
    if profile:
        loaded = load_profile(resolve_profile_path(profile, settings)).profile
        url = store_url(loaded, settings)
        return History([open_store(state_dir(loaded, settings), url)], loaded.id)
    if settings.store_url:
        return History([open_store(Path(), settings.store_url)], None)
    if settings.state_dir is not None:
        return History([RunStore(settings.state_dir)], None)
    return History(_every_profiles_store(settings), None)


def _every_profiles_store(settings: Settings) -> list[Store]:
    paths = discover_profiles(settings.profiles_dir)
    if not paths:
        raise UsageError(
            f"say which run history to read: no profiles in {settings.profiles_dir.resolve()}",
            "pass --profile ID, or set AGENTD_PROFILES_DIR (or AGENTD_STATE_DIR)",
        )
    directories: dict[Path, Path] = {}
    urls: list[str] = []
    for path in paths:
        try:
            profile = load_profile(path).profile
            directory = state_dir(profile, settings)
        except AgentdError as exc:
            log.warning("profile skipped", extra={"path": str(path), "why": exc.message})
            continue
        url = profile.profile.store_url
        if url:
            urls += [url] if url not in urls else []
        elif (directory / DB_NAME).is_file():
            directories.setdefault(directory.resolve(), directory)
    stores: list[Store] = [RunStore(directory) for directory in directories.values()]
    return stores + [open_store(Path(), url) for url in urls]
