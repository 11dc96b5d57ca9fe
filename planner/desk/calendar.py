"""China's working-day calendar and the "2142" clock of the grid service desk.

Working days follow the State Council's official schedule of public holidays and make-up
working days (调休). Years the ``chinese-calendar`` package knows (2004-2026 in 1.11) come
from it; a year it does not know (it raises ``NotImplementedError``) is *never* silently
treated as "all weekdays are working days": staff load that year's official schedule
(:meth:`planner.desk.store.DeskStore.load_schedule`), and until they do the calendar falls back
to Monday-Friday and every deadline that touches the year is marked ``provisional``.

The clock (Mianyang Transport Bureau, 2025-10-16; see docs/desk.md):

* ``transfer_by``  = received + 2 hours (clock hours, any day);
* ``progress_by``  = end (23:59:59) of the 1st working day after the day the clock starts;
* ``close_by``     = end of the 4th working day after that day;
* ``follow_up_by`` = end of the 2nd working day after the day the request was closed.

"The day the clock starts" is the calendar day (region time) on which the request was
received, whether or not it is a working day; the 1st working day after it is the next working
day. A request received on Saturday therefore has until the end of Monday (if Monday is a
working day) for its progress report, the same as one received on Friday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from planner.errors import InputError

#: Mianyang's time zone (China Standard Time, no daylight saving).
REGION_TZ = ZoneInfo("Asia/Shanghai")

#: The "2142" rule: hours to transfer; working days to report progress, to close, and
#: (after closing) to call the driver back.
TRANSFER_HOURS = 2
PROGRESS_WORKING_DAYS = 1
CLOSE_WORKING_DAYS = 4
FOLLOW_UP_WORKING_DAYS = 2
#: The national 12328 rule for ordinary tickets, for comparison (hours, days, days, days).
NATIONAL_RULE = (2, 2, 5, 2)

END_OF_DAY = dt.time(23, 59, 59)


class Schedule:
    """One year's official schedule: public-holiday dates and make-up working days.

    Parameters
    ----------
    year : int
    holidays : iterable of date or ISO str
        Days off that would otherwise be working days (weekdays of the holiday periods).
    workdays : iterable of date or ISO str
        Make-up working days that fall on a Saturday or Sunday.
    source : str
        Where the schedule comes from (e.g. the State Council notice).
    """

    def __init__(self, year: int, holidays: Iterable = (), workdays: Iterable = (), *, source: str = ""):
        self.year = int(year)
        self.holidays = frozenset(_as_date(d, "holidays") for d in holidays)
        self.workdays = frozenset(_as_date(d, "workdays") for d in workdays)
        self.source = source
        wrong = sorted(d for d in self.holidays | self.workdays if d.year != self.year)
        if wrong:
            raise InputError(f"schedule for {self.year} lists dates of another year: {wrong[0].isoformat()}",
                             fields={"date": f"every date must be in {self.year}"})
        both = sorted(self.holidays & self.workdays)
        if both:
            raise InputError(f"schedule for {self.year} lists {both[0].isoformat()} as both a holiday and a working day",
                             fields={"date": "a day is either a holiday or a make-up working day"})

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def to_dict(self) -> dict:
        return {"year": self.year, "holidays": sorted(d.isoformat() for d in self.holidays),
                "workdays": sorted(d.isoformat() for d in self.workdays), "source": self.source}


def _as_date(value, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date (YYYY-MM-DD)", fields={field: "dates as YYYY-MM-DD"}) from None


class WorkCalendar:
    """Working days: loaded schedules first, then ``chinese-calendar``, else weekdays (provisional).

    Parameters
    ----------
    schedules : mapping of year -> :class:`Schedule`, optional
        Official schedules loaded by staff; a loaded year overrides the package.
    """

    def __init__(self, schedules: Mapping[int, Schedule] | None = None):
        self.schedules = dict(schedules or {})
        self._cache: dict[dt.date, tuple[bool, bool]] = {}

    def day(self, day: dt.date) -> tuple[bool, bool]:
        """``(is_working_day, provisional)`` for one calendar day."""
        hit = self._cache.get(day)
        if hit is None:
            hit = self._cache[day] = self._day(day)
        return hit

    def _day(self, day: dt.date) -> tuple[bool, bool]:
        schedule = self.schedules.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day), False
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def is_workday(self, day: dt.date) -> bool:
        return self.day(day)[0]

    def known(self, year: int) -> bool:
        """True when working days of ``year`` come from an official schedule."""
        return not self.day(dt.date(year, 6, 1))[1]

    def nth_workday_after(self, day: dt.date, n: int) -> tuple[dt.date, bool]:
        """The ``n``-th working day strictly after ``day`` and whether any day on the way was provisional."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        provisional = False
        d = day
        count = 0
        while count < n:
            d += dt.timedelta(days=1)
            working, prov = self.day(d)
            provisional = provisional or prov
            count += working
        return d, provisional


def as_region_time(value, field: str = "received_at") -> dt.datetime:
    """A datetime (or ISO 8601 text) in the region's zone; naive input is region time."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise InputError(f"{field} must be an ISO 8601 date-time such as 2026-09-30T16:00 or "
                             f"2026-09-30T16:00+08:00, got {text!r}", fields={field: "ISO 8601 date-time"}) from None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        raise InputError(f"{field} must be a datetime or ISO 8601 text, got {type(value).__name__}",
                         fields={field: "ISO 8601 date-time"})
    if value.tzinfo is None:
        return value.replace(tzinfo=REGION_TZ)
    return value.astimezone(REGION_TZ)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=REGION_TZ)


def deadlines(received_at, *, closed_at=None, calendar: WorkCalendar | None = None) -> dict:
    """The four "2142" due times of a request.

    Parameters
    ----------
    received_at : datetime or ISO 8601 str
        When the request was received; naive values are region time (Asia/Shanghai).
    closed_at : datetime or ISO 8601 str, optional
        When it was closed; ``follow_up_by`` is None until then.
    calendar : WorkCalendar, optional
        Working days (default: :func:`planner.desk.default_calendar`, i.e. the package plus the
        schedules loaded into the default registry).

    Returns
    -------
    dict
        ``transfer_by``, ``progress_by``, ``close_by``, ``follow_up_by`` (timezone-aware
        datetimes in Asia/Shanghai, or None) and ``provisional`` (True when a day counted lies
        in a year whose official schedule is unknown).

    Examples
    --------
    >>> d = deadlines("2026-09-30T16:00")
    >>> d["transfer_by"].isoformat(), d["close_by"].isoformat()
    ('2026-09-30T18:00:00+08:00', '2026-10-12T23:59:59+08:00')
    """
    if calendar is None:
        from planner.desk import default_calendar

        calendar = default_calendar()
    received = as_region_time(received_at, "received_at")
    start = received.date()
    progress_day, p1 = calendar.nth_workday_after(start, PROGRESS_WORKING_DAYS)
    close_day, p2 = calendar.nth_workday_after(start, CLOSE_WORKING_DAYS)
    provisional = p1 or p2
    follow_up_by = None
    if closed_at is not None:
        closed = as_region_time(closed_at, "closed_at")
        if closed < received:
            raise InputError(f"closed_at ({closed.isoformat()}) is before received_at ({received.isoformat()})",
                             fields={"closed_at": "must not be before received_at"})
        follow_day, p3 = calendar.nth_workday_after(closed.date(), FOLLOW_UP_WORKING_DAYS)
        follow_up_by = _end_of(follow_day)
        provisional = provisional or p3
    return {
        "transfer_by": received + dt.timedelta(hours=TRANSFER_HOURS),
        "progress_by": _end_of(progress_day),
        "close_by": _end_of(close_day),
        "follow_up_by": follow_up_by,
        "provisional": provisional,
    }
