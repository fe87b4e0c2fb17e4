"""Cron expressions for profile schedules: standard five fields, or six with seconds first."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger


def cron_trigger(expression: str) -> CronTrigger:
    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=weekday
        )
    return CronTrigger.from_crontab(expression)
