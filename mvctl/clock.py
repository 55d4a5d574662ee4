"""The one clock: every time mvctl records, compares or sends is read here, in UTC.

The pure core never reads it; ``build_plan`` and the other planners take ``now`` as a value.
The state stores times as ISO-8601 text to the second ending in 'Z' (``STAMP``), so they
sort and compare as strings on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

STAMP = "%Y-%m-%dT%H:%M:%SZ"
"""How a time is stored and sent: 2026-11-29T08:30:00Z."""


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """``moment`` as the state stores it (``STAMP``), in UTC."""
    return moment.astimezone(UTC).strftime(STAMP)


def now_stamp() -> str:
    """The current time as the state stores it."""
    return stamp(now())
