"""The "2142" clock against an independent reference built on chinese_calendar.is_workday."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from planner.desk import Desk, Schedule, WorkCalendar, deadlines, read_schedule
from planner.errors import InputError

TZ = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------- the reference (written apart from planner.desk)
def ref_workday(day: dt.date) -> tuple[bool, bool]:
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def ref_nth(day: dt.date, n: int) -> tuple[dt.datetime, bool]:
    seen, provisional = 0, False
    while seen < n:
        day = day + dt.timedelta(days=1)
        work, prov = ref_workday(day)
        provisional |= prov
        seen += 1 if work else 0
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=TZ), provisional


def reference(received: dt.datetime, closed: dt.datetime | None = None) -> dict:
    start = received.astimezone(TZ).date()
    progress, p1 = ref_nth(start, 1)
    close, p2 = ref_nth(start, 4)
    out = {"transfer_by": received + dt.timedelta(hours=2), "progress_by": progress, "close_by": close,
           "follow_up_by": None, "provisional": p1 or p2}
    if closed is not None:
        out["follow_up_by"], p3 = ref_nth(closed.astimezone(TZ).date(), 2)
        out["provisional"] = out["provisional"] or p3
    return out


def test_every_hour_of_2026_matches_the_official_calendar():
    cal = WorkCalendar()
    t = dt.datetime(2026, 1, 1, tzinfo=TZ)
    hours = 0
    provisional = 0
    while t.year == 2026:
        closed = t + dt.timedelta(hours=37)
        got = deadlines(t, closed_at=closed, calendar=cal)
        want = reference(t, closed)
        assert got == want, t.isoformat()
        for key in ("transfer_by", "progress_by", "close_by", "follow_up_by"):
            assert got[key].utcoffset() == dt.timedelta(hours=8)
        provisional += got["provisional"]
        hours += 1
        t += dt.timedelta(hours=1)
    assert hours == 8760
    assert 0 < provisional < 24 * 10  # only the last days of December reach into 2027


@pytest.mark.parametrize(("received", "progress", "close"), [
    ("2026-09-30T16:00", "2026-10-08", "2026-10-12"),  # National Day; Sat 10 Oct is a make-up working day
    ("2026-01-03T10:00", "2026-01-04", "2026-01-07"),  # Sunday 4 Jan is a make-up working day
    ("2026-02-13T09:00", "2026-02-14", "2026-02-26"),  # Spring Festival, make-up Sat 14 and 28 Feb
    ("2026-05-01T08:00", "2026-05-06", "2026-05-09"),  # received on a holiday: clock starts that day
    ("2026-03-06T23:59:59", "2026-03-09", "2026-03-12"),  # Friday night: the 1st working day is Monday
])
def test_known_dates(received, progress, close):
    d = deadlines(received, calendar=WorkCalendar())
    assert d["progress_by"] == dt.datetime.fromisoformat(progress + "T23:59:59+08:00")
    assert d["close_by"] == dt.datetime.fromisoformat(close + "T23:59:59+08:00")
    assert d["follow_up_by"] is None and d["provisional"] is False


def test_naive_is_region_time_and_aware_is_converted():
    naive = deadlines("2026-06-01T23:30", calendar=WorkCalendar())
    utc = deadlines(dt.datetime(2026, 6, 1, 15, 30, tzinfo=dt.timezone.utc), calendar=WorkCalendar())
    assert naive == utc
    assert naive["transfer_by"].isoformat() == "2026-06-02T01:30:00+08:00"
    # 16:30 UTC is already 2 June in Mianyang: the clock starts a day later
    late = deadlines("2026-06-01T16:30:00Z", calendar=WorkCalendar())
    assert late["progress_by"].date() == dt.date(2026, 6, 3)


def test_2027_is_provisional_until_its_schedule_is_loaded(fresh_workspace, tmp_path):
    assert deadlines("2027-03-01T10:00", calendar=WorkCalendar())["provisional"] is True
    desk = Desk(fresh_workspace)
    assert desk.deadlines("2026-12-31T10:00")["provisional"] is True
    assert desk.deadlines("2026-12-31T10:00")["progress_by"].date() == dt.date(2027, 1, 1)  # weekday fallback
    path = tmp_path / "2027.csv"
    path.write_text("date,type,source\n2027-01-01,holiday,test schedule\n2027-02-06,workday,\n", encoding="utf-8")
    schedule = read_schedule(path)
    assert schedule.year == 2027 and dt.date(2027, 2, 6) in schedule.workdays
    desk.load_schedule(schedule, actor="wang")
    d = desk.deadlines("2026-12-31T10:00")
    assert d["provisional"] is False
    assert d["progress_by"].date() == dt.date(2027, 1, 4)  # 1 Jan is now a holiday, 2-3 Jan a weekend
    # Saturday 6 Feb 2027 counts as a working day once loaded
    assert desk.deadlines("2027-02-05T10:00")["progress_by"].date() == dt.date(2027, 2, 6)


def test_schedule_files_and_errors(tmp_path):
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"year": 2027, "holidays": ["2027-10-01"], "workdays": []}), encoding="utf-8")
    assert read_schedule(good).holidays == {dt.date(2027, 10, 1)}
    bad = tmp_path / "bad.csv"
    bad.write_text("date,type\n2027-10-01,party\n", encoding="utf-8")
    with pytest.raises(InputError, match="holiday or workday"):
        read_schedule(bad)
    with pytest.raises(InputError, match="another year"):
        Schedule(2027, ["2028-01-01"])
    with pytest.raises(InputError, match="both"):
        Schedule(2027, ["2027-01-01"], ["2027-01-01"])
    with pytest.raises(InputError, match="closed_at"):
        deadlines("2026-05-01T10:00", closed_at="2026-04-30T10:00")
    with pytest.raises(InputError, match="ISO 8601"):
        deadlines("yesterday")


def _cli(*args, env_db):
    import os

    env = dict(os.environ, YIZHAN_DB=str(env_db), PYTHONPATH=".")
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, env=env, check=False)


def test_cli_deadlines_json(tmp_path):
    out = _cli("desk", "deadlines", "--received", "2026-09-30T16:00", "--closed", "2026-10-09T11:00", "--json",
               env_db=tmp_path / "none.sqlite")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    want = deadlines("2026-09-30T16:00", closed_at="2026-10-09T11:00", calendar=WorkCalendar())
    assert doc == {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in want.items()}
    assert doc["close_by"] == "2026-10-12T23:59:59+08:00"
    bad = _cli("desk", "deadlines", "--received", "30/09/2026", "--json", env_db=tmp_path / "none.sqlite")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr and "Traceback" not in bad.stderr


def test_default_calendar_reads_schedules_loaded_into_yizhan_db(tmp_path, monkeypatch, workspace):
    from planner.desk import default_calendar
    from planner.workspace import Workspace

    db = tmp_path / "registry.sqlite"
    monkeypatch.setenv("YIZHAN_DB", str(db))
    assert deadlines("2027-05-06T10:00")["provisional"] is True  # no registry yet: package only
    ws = Workspace(db_path=db)
    ws.__dict__["region"] = workspace.region
    Desk(ws).load_schedule(Schedule(2027, ["2027-05-07"], []), actor="wang")
    d = deadlines("2027-05-06T10:00")
    assert d["provisional"] is False and d["progress_by"].date() == dt.date(2027, 5, 10)
    assert default_calendar().known(2027) and not default_calendar().known(2028)
