"""The weekly summary's calendar window (`agentd report --format weekly`).

By default the last 7 days ending now; `--since`/`--until` take dates (a bare `--until`
date includes that whole day) or ISO timestamps; `--week 2024-W23` is that ISO week,
Monday to Monday. Times are UTC. Each unit counts once, in its latest state in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from agentd.errors import UsageError
from agentd.render import render_weekly
from agentd.store import Store

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    week: str = ""

    def bounds(self) -> tuple[str, str]:
        """The bounds as the store writes run times (ISO, UTC, seconds)."""
        return (
            self.since.isoformat(timespec="seconds"),
            self.until.isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        days = (self.until - self.since) / timedelta(days=1)
        length = f"{days:g} day{'s' if days != 1 else ''}"
        span = f"{_show(self.since)} → {_show(self.until)} UTC"
        return f"{self.week}, {span}" if self.week else f"{span} ({length})"


def _show(moment: datetime) -> str:
    midnight = moment.hour == moment.minute == moment.second == 0
    return moment.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M")


def _moment(value: str, flag: str, end_of_day: bool) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {value!r} is not a date",
            "write a date like 2024-06-03 or a time like 2024-06-03T12:00:00Z",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso_week(value: str) -> Window:
    try:
        monday = datetime.strptime(f"{value}-1", "%G-W%V-%u").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"--week {value!r} is not an ISO week", "write it like 2024-W23") from None
    return Window(monday, monday + timedelta(days=7), value)


def window_from(
    since: str | None, until: str | None, week: str | None, now: datetime | None = None
) -> Window:
    if week and (since or until):
        raise UsageError("--week cannot be combined with --since/--until", "pass one or the other")
    if week:
        return _iso_week(week)
    end = _moment(until, "--until", True) if until else (now or datetime.now(UTC))
    start = _moment(since, "--since", False) if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise UsageError(
            f"the window is empty: --since {_show(start)} is not before {_show(end)}",
            "pass a --since earlier than --until",
        )
    return Window(start.replace(microsecond=0), end.replace(microsecond=0))


def weekly_report(store: Store, profile_id: str | None, window: Window) -> str:
    since, until = window.bounds()
    runs = [r.summary for r in store.runs_between(profile_id, since, until)]
    real = [run for run in runs if not run.get("dry_run")]
    units = store.latest_units(profile_id, since, until)
    return render_weekly(window.describe(), real, units, len(runs) - len(real))
