"""Cron schedules of triggers: is one valid, does it ever fire, which period holds a moment.

A schedule divides time into periods, each starting at one of its times; a trigger fires at
most once per period (the state's firing records enforce it), so `mvctl trigger` may run as
often as CI likes. croniter reads the expression; it is imported by these functions only, so
starting the CLI never loads it. Nothing here reads the clock: the moment is passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CRON_FIELDS = 5
NICKNAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_EXAMPLE = '"0 2 * * *" (every day at 02:00)'


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone this machine knows, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"'{name}' is not a known IANA time zone"
    return None


def zone(name: str | None) -> tzinfo:
    """The time zone a schedule is read in: ``name``, or UTC."""
    return UTC if name is None else ZoneInfo(name)


def schedule_problem(expression: str, timezone: str | None = None) -> str | None:
    """Why ``expression`` cannot schedule a trigger, or None: it does not parse, it is not
    the standard five fields, or it names no time that ever comes (``0 0 31 2 *``)."""
    from croniter import CroniterBadDateError, CroniterError, croniter

    text = expression.strip()
    if not text.startswith("@") and len(text.split()) != CRON_FIELDS:
        return (
            f"'{expression}' has {len(text.split())} fields; a cron schedule has 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    if text.startswith("@") and text.lower() not in NICKNAMES:
        return f"'{expression}' is not a cron nickname ({', '.join(NICKNAMES)})"
    start = datetime(2000, 1, 1, tzinfo=zone(timezone) if timezone else UTC)
    try:
        croniter(text, start).get_next(datetime)
    except CroniterBadDateError:
        return f"'{expression}' never fires: no date matches it"
    except (CroniterError, ValueError, KeyError, IndexError) as error:
        return f"'{expression}' is not a valid cron expression ({error})"
    return None


def period_start(expression: str, timezone: str | None, now: datetime) -> datetime:
    """The start of the period holding ``now``: the schedule's latest time at or before it,
    in UTC. The schedule must be valid (``schedule_problem``)."""
    from croniter import croniter

    local = now.astimezone(zone(timezone)).replace(microsecond=0) + timedelta(seconds=1)
    previous: datetime = croniter(expression.strip(), local).get_prev(datetime)
    return previous.astimezone(UTC)


def local_date(moment: datetime, timezone: str | None) -> str:
    """``moment``'s date where the schedule is read, as a label's ``{date}``: YYYYMMDD."""
    return moment.astimezone(zone(timezone)).strftime("%Y%m%d")


def fires_at_most_daily(expression: str) -> bool:
    """Whether the schedule names one minute of one hour: at most one period a day, so a label
    made from the date alone is new at every firing."""
    from croniter import croniter

    minutes, hours = croniter(expression.strip()).expanded[:2]
    return len(minutes) == 1 and len(hours) == 1 and "*" not in (minutes[0], hours[0])
