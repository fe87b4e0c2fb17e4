"""Cron expressions for profile schedules: standard five fields, or six with seconds first.

The fields mean what they mean in crontab(5), whatever APScheduler 3 makes of them: its
day-of-week numbers start at Monday (crontab's at Sunday, 0 or 7), so agentd hands it day
names; and it runs a job when day of month AND day of week match, where cron takes either,
so an expression restricting both is refused rather than run on other days than written.
"""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
UNRESTRICTED = frozenset({"*", "?"})


def _day(text: str) -> int:
    value = text.strip().lower()
    if value.isdigit() and int(value) <= 7:
        return int(value)
    if value in DAY_NAMES:
        return DAY_NAMES.index(value)
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


def _days(field: str) -> str:
    """crontab's day-of-week field as the day names APScheduler reads the same way."""
    if field in UNRESTRICTED:
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        base, slash, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if slash and step < 1:
            raise ValueError(f"{item!r} has no valid step")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = _day(start), _day(end)
        else:
            first = _day(base)
            last = 6 if slash else first
        if first > last:
            raise ValueError(f"day-of-week range {base!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step or 1))
    if len(days) == len(DAY_NAMES):
        return "*"
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def cron_trigger(expression: str, timezone: str = "UTC", jitter_seconds: int = 0) -> CronTrigger:
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"wrong number of fields: {len(fields)}, expected 5 (or 6 with seconds)")
    second, minute, hour, day, month, weekday = fields
    if day not in UNRESTRICTED and weekday not in UNRESTRICTED:
        raise ValueError(
            "restrict day of month or day of week, not both (cron would run on either, "
            "agentd's scheduler only when both match)"
        )
    return CronTrigger(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_days(weekday),
        timezone=timezone,
        jitter=jitter_seconds or None,
    )
