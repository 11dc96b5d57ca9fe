"""The one clock: every "now" of the planner is read here, in a region's time zone.

:func:`now` is what ``nearest --open-now`` (CLI) and ``open_now=1`` (web) both use, through
:meth:`planner.region.Region.now`. Opening hours are local times, so a server running on UTC
must still ask "is it open *there*, now?".

>>> import datetime as dt
>>> t = now("Asia/Shanghai", at=dt.datetime(2026, 12, 1, 19, 57, tzinfo=dt.timezone.utc))
>>> t.isoformat()
'2026-12-02T03:57:00+08:00'
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planner.errors import InputError


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC (the only call to the system clock)."""
    return dt.datetime.now(dt.timezone.utc)


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (``"Asia/Shanghai"``).

    Raises
    ------
    InputError
        For a name the time-zone database does not know.
    """
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(
            f"unknown time zone {name!r}; give an IANA name such as 'Asia/Shanghai'",
            fields={"timezone": "IANA time zone name"},
        ) from None


def now(timezone: str, *, at: dt.datetime | None = None) -> dt.datetime:
    """The current local time in ``timezone`` (aware), or the instant ``at`` seen there.

    ``at`` must be timezone-aware: a naive datetime has no instant and is refused.
    """
    tz = zone(timezone)
    if at is None:
        at = utcnow()
    elif at.tzinfo is None or at.utcoffset() is None:
        raise InputError("at must be a timezone-aware datetime", fields={"at": "aware datetime"})
    return at.astimezone(tz)


__all__ = ["now", "utcnow", "zone"]
