"""When a schedule runs next: a fixed interval, or a cron expression in its time zone.

Cron expressions are read by ``croniter`` (never parsed here), in the
schedule's own time zone (``Asia/Seoul`` unless set), and the result is kept
in UTC. The next run is always computed from a given moment (now, after a
run), so a run missed while no worker was up is run once, not once per slot
that passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

DEFAULT_TIME_ZONE = "Asia/Seoul"


class Timing(Protocol):
    interval_seconds: int | None
    cron: str
    time_zone: str


def is_valid_cron(expression: str) -> bool:
    return bool(expression.strip()) and croniter.is_valid(expression.strip())


def is_valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def next_run(schedule: Timing, *, after: datetime) -> datetime:
    """The first run strictly after ``after`` (aware, in UTC)."""
    if schedule.cron:
        local = after.astimezone(ZoneInfo(schedule.time_zone or DEFAULT_TIME_ZONE))
        following: datetime = croniter(schedule.cron.strip(), local).get_next(datetime)
        return following.astimezone(UTC)
    if not schedule.interval_seconds:
        raise ValueError("a schedule needs an interval or a cron expression")
    return after.astimezone(UTC) + timedelta(seconds=schedule.interval_seconds)


def period(schedule: Timing, *, at: datetime) -> timedelta:
    """How long one turn of the schedule lasts around ``at`` (a cron's gap between two runs)."""
    if not schedule.cron:
        return timedelta(seconds=schedule.interval_seconds or 0)
    first = next_run(schedule, after=at)
    return next_run(schedule, after=first) - first
