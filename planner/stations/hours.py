"""Opening hours of a station (``"24h"`` or ``"HH:MM-HH:MM"``) and the region's "today".

:func:`parse_hours` is the one reading of the text; :func:`is_open` and :func:`opening` answer
"open now?" for a time in the region's zone (:func:`region_today` and
:meth:`planner.region.Region.now` give it).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from planner.errors import InputError
from planner.stations.location import loaded_region
from planner.stations.messages import short
from planner.stations.schema import HOURS_RE


def region_today() -> dt.date:
    """Today's date in the region's time zone (UTC only while the region cannot load)."""
    region = loaded_region()
    if region is not None and region.timezone:
        return region.now().date()
    from planner.clock import utcnow

    return utcnow().date()


def parse_hours(hours: Any) -> tuple[dt.time, dt.time] | None:
    """Parse opening hours: ``"24h"`` -> None; ``"HH:MM-HH:MM"`` -> (start, end).

    ``end`` may be ``24:00`` (returned as ``time(0, 0)``) and may be earlier than
    ``start`` (open across midnight).

    Raises
    ------
    InputError
        ``fields={"hours": ...}`` for anything else, including equal start and end.
    """
    if isinstance(hours, str):
        return _parse_hours_text(hours)  # a handful of distinct texts: parsed once each
    return _parse_hours_text.__wrapped__(hours)


@functools.lru_cache(maxsize=512)
def _parse_hours_text(hours: Any) -> tuple[dt.time, dt.time] | None:
    problem = hours_problem(hours)
    if problem is not None:
        en, zh = problem
        raise InputError(en, fields={"hours": en}, fields_zh={"hours": zh})
    text = hours.strip().lower()
    if text == "24h":
        return None
    h1, m1, h2, m2 = (int(g) for g in HOURS_RE.match(text).groups())  # type: ignore[union-attr]
    return dt.time(h1, m1), dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)


def hours_problem(hours: Any) -> tuple[str, str] | None:
    en = f'hours must be "24h" or "HH:MM-HH:MM" (e.g. "06:00-22:00", "20:00-08:00"); got {short(hours)}'
    zh = f'营业时间须为 "24h" 或 "HH:MM-HH:MM"（如 "06:00-22:00"、"20:00-08:00"）；收到 {short(hours)}'
    if not isinstance(hours, str):
        return en, zh
    text = hours.strip().lower()
    if text == "24h":
        return None
    match = HOURS_RE.match(text)
    if not match:
        return en, zh
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        return (
            f"hours {hours!r} has an impossible time: hours run 00-23 (24:00 allowed as the end), minutes 00-59",
            f"营业时间 {hours!r} 含无效时刻：小时为 00-23（结束可写 24:00），分钟为 00-59",
        )
    if (h1, m1) == (h2 % 24, m2):
        return (
            f'hours {hours!r} start and end at the same time; write "24h" for round-the-clock',
            f'营业时间 {hours!r} 开始与结束相同；全天营业请写 "24h"',
        )
    return None


def is_open(hours: str, at: dt.time) -> bool:
    """Whether a station with these ``hours`` is open at time of day ``at``.

    Parameters
    ----------
    hours
        ``"24h"`` or ``"HH:MM-HH:MM"``; a range whose end is before its start crosses
        midnight (``"20:00-08:00"`` is open at 23:00 and 07:59, closed at 08:00).
        The start is inclusive, the end exclusive.
    at
        Local time of day (a :class:`datetime.datetime` is reduced to its time).

    Raises
    ------
    InputError
        For malformed ``hours``.
    """
    span = parse_hours(hours)
    if isinstance(at, dt.datetime):
        at = at.time()
    if not isinstance(at, dt.time):
        raise InputError(f"at must be a datetime.time, got {short(at)}", fields={"at": "must be a time of day"})
    if span is None:
        return True
    start, end = span
    at = at.replace(tzinfo=None)
    if end == dt.time(0, 0):  # ends at midnight
        return at >= start
    if start < end:
        return start <= at < end
    return at >= start or at < end


def opening(hours: str | None, now: dt.datetime) -> tuple[bool, str | None]:
    """(open at ``now``, next opening as ISO 8601 in ``now``'s zone or None when open).

    ``hours`` is ``"24h"`` or ``"HH:MM-HH:MM"`` (see :func:`parse_hours`);
    ``now`` must be timezone-aware, in the region's zone.
    """
    hours = hours or "24h"
    if is_open(hours, now.time()):
        return True, None
    start, _end = parse_hours(hours)
    at = now.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if at <= now:
        at = (now + dt.timedelta(days=1)).replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return False, at.isoformat(timespec="minutes")
