"""Daily, weekly and monthly desk reports: counts, on-time rates, overdue list, satisfaction, money.

A period is the calendar day, the ISO week (Monday-Sunday) or the calendar month containing
the given date, in region time. Requests belong to the period in which they were *received*.
On-time rate of a stage = stages done by their due time / stages whose due time has passed
or that are done (a stage still open and not yet due counts in neither).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter

from planner.desk.calendar import REGION_TZ, as_region_time
from planner.desk.requests import CATEGORIES, CHANNELS, SATISFACTION, STAGES, clock
from planner.errors import InputError
from planner.provenance import needs_banner, status_of

PERIODS = ("daily", "weekly", "monthly")


def period_bounds(period: str, date) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the period containing ``date`` (region time)."""
    if period not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)}; got {period!r}", fields={"period": "daily|weekly|monthly"})
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise InputError(f"date must be YYYY-MM-DD, got {date!r}", fields={"date": "YYYY-MM-DD"}) from None
    if isinstance(date, dt.datetime):
        date = as_region_time(date).date()
    if period == "daily":
        start = date
        end = date + dt.timedelta(days=1)
    elif period == "weekly":
        start = date - dt.timedelta(days=date.weekday())
        end = start + dt.timedelta(days=7)
    else:
        start = date.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return (dt.datetime.combine(start, dt.time(), tzinfo=REGION_TZ), dt.datetime.combine(end, dt.time(), tzinfo=REGION_TZ))


def previous_bounds(period: str, start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return period_bounds(period, (start - dt.timedelta(days=1)).date())


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def build_report(desk, period: str, date, *, now: dt.datetime | None = None) -> dict:
    """The report of ``period`` containing ``date`` (see the module docstring)."""
    now = now or dt.datetime.now(REGION_TZ)
    start, end = period_bounds(period, date)
    pstart, pend = previous_bounds(period, start)
    iso = lambda t: t.isoformat(timespec="seconds")  # noqa: E731
    rows = desk.store.list_requests(since=iso(start), until=iso(end))
    prev = desk.store.list_requests(since=iso(pstart), until=iso(pend))
    cal = desk.calendar()
    grids = desk.grids()
    clocks = [clock(r, now=now, calendar=cal) for r in rows]

    stages = {}
    for name, *_ in STAGES:
        done = sum(1 for c in clocks if c["stages"][name]["on_time"] is not None)
        on_time = sum(1 for c in clocks if c["stages"][name]["on_time"])
        overdue = sum(1 for c in clocks if c["stages"][name]["overdue"])
        stages[name] = {"done": done, "on_time": on_time, "overdue_open": overdue,
                        "on_time_rate_pct": _pct(on_time, done + overdue)}
    overdue_list = [
        {"id": r["id"], "receipt": r["receipt"], "category": r["category"], "grid_id": r["grid_id"], "state": r["state"],
         "stages": [s for s, v in c["stages"].items() if v["overdue"] or v["on_time"] is False]}
        for r, c in zip(rows, clocks) if c["overdue"] or c["late"]
    ]
    followed = [r for r in rows if r["satisfaction"]]
    sat = Counter(r["satisfaction"] for r in followed)
    wages = [r for r in rows if r["category"] == "wages_owed"]
    money = sum(float(r["money_recovered_cny"] or 0) for r in wages)
    n, n_prev = len(rows), len(prev)
    by_grid = Counter(r["grid_id"] for r in rows)
    notices = [x for x in desk.store.notices() if iso(start) <= x["valid_from"] < iso(end)]
    data_status = status_of([*grids.records, *rows])
    return {
        "period": period,
        "date": start.date().isoformat(),
        "last_day": (end.date() - dt.timedelta(days=1)).isoformat(),
        "start": iso(start),
        "end": iso(end),
        "requests": n,
        "previous": {"start": iso(pstart), "end": iso(pend), "requests": n_prev,
                     "change_pct": round(100.0 * (n - n_prev) / n_prev, 2) if n_prev else None},
        "by_category": {k: sum(1 for r in rows if r["category"] == k) for k in CATEGORIES},
        "by_channel": {k: sum(1 for r in rows if r["channel"] == k) for k in CHANNELS},
        "by_grid": [{"grid_id": g["grid_id"], "name": g.get("name"), "unit": g.get("unit"), "requests": by_grid.get(g["grid_id"], 0)}
                    for g in grids.records],
        "stages": stages,
        "overdue": overdue_list,
        "satisfaction": {"followed_up": len(followed), **{k: sat.get(k, 0) for k in SATISFACTION},
                         "satisfied_pct": _pct(sat.get("satisfied", 0), len(followed))},
        "wages": {"cases": len(wages), "money_recovered_cny": round(money, 2)},
        "platform_cases": sum(1 for r in rows if r["category"] == "freight_platform"),
        "station_reports": sum(1 for r in rows if r["kind"] == "station_report"),
        "notices": {"count": len(notices),
                    "reach": sum(int(x.get("reach_devices") or 0) + int(x.get("reach_reported") or 0) for x in notices)},
        "daily_counts": _daily_counts(rows, start, end) if period != "daily" else None,
        "data_status": data_status,
        "list": [{"id": r["id"], "receipt": r["receipt"], "received_at": r["received_at"], "category": r["category"],
                  "channel": r["channel"], "grid_id": r["grid_id"], "state": r["state"]} for r in rows],
    }


def _daily_counts(rows, start, end) -> list[dict]:
    days = []
    d = start.date()
    while d < end.date():
        days.append(d)
        d += dt.timedelta(days=1)
    counts = {day.isoformat(): Counter() for day in days}
    for r in rows:
        counts.setdefault(r["received_at"][:10], Counter())[r["category"]] += 1
    return [{"date": k, **{c: v.get(c, 0) for c in CATEGORIES}} for k, v in counts.items()]


def to_csv(report: dict) -> str:
    """The report as CSV: ``section,key,label,value`` rows (UTF-8; Excel opens it with the BOM added by the web view)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "key", "label", "value"])
    w.writerow(["period", report["period"], f"{report['start']} – {report['end']}", report["requests"]])
    w.writerow(["data_status", "", "", report["data_status"]])
    w.writerow(["previous", "requests", report["previous"]["start"], report["previous"]["requests"]])
    w.writerow(["previous", "change_pct", "", report["previous"]["change_pct"]])
    for k, v in report["by_category"].items():
        w.writerow(["category", k, CATEGORIES[k][0], v])
    for k, v in report["by_channel"].items():
        w.writerow(["channel", k, CHANNELS[k][0], v])
    for g in report["by_grid"]:
        w.writerow(["grid", g["grid_id"], g["name"], g["requests"]])
    for k, s in report["stages"].items():
        w.writerow(["on_time_rate_pct", k, f"{s['on_time']}/{s['done'] + s['overdue_open']}", s["on_time_rate_pct"]])
    for k in ("followed_up", *SATISFACTION, "satisfied_pct"):
        w.writerow(["satisfaction", k, "", report["satisfaction"][k]])
    w.writerow(["wages", "cases", "", report["wages"]["cases"]])
    w.writerow(["wages", "money_recovered_cny", "", report["wages"]["money_recovered_cny"]])
    w.writerow(["notices", "count", "", report["notices"]["count"]])
    w.writerow(["notices", "reach", "", report["notices"]["reach"]])
    for o in report["overdue"]:
        w.writerow(["overdue", o["receipt"], o["category"], " ".join(o["stages"])])
    return out.getvalue()


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def chart_svg(report: dict) -> str:
    """Requests per day, stacked by category, as an inline SVG (monthly and weekly reports)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = report["daily_counts"] or []
    fig, ax = plt.subplots(figsize=(8, 3))
    bottom = [0] * len(days)
    x = list(range(1, len(days) + 1))
    for cat in CATEGORIES:
        vals = [d[cat] for d in days]
        if any(vals):
            ax.bar(x, vals, bottom=bottom, label=CATEGORIES[cat][1])
            bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel("day of period")
    ax.set_ylabel("requests")
    title = f"Requests received {report['start'][:10]} to {report['end'][:10]} (exclusive)"
    if needs_banner(report["data_status"]):
        title += " - illustrative data"
    ax.set_title(title, fontsize=9)
    if any(bottom):
        ax.legend(fontsize=7, ncol=2)
    return _svg(fig)


def grid_map_svg(desk, report: dict) -> str:
    """The grids shaded by requests in the period, as an inline SVG."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = desk.grids()
    counts = {g["grid_id"]: g["requests"] for g in report["by_grid"]}
    gdf = gpd.GeoDataFrame({"grid_id": [r["grid_id"] for r in grids.records],
                            "requests": [counts.get(r["grid_id"], 0) for r in grids.records]},
                           geometry=grids.geometries, crs="EPSG:4326")
    fig, ax = plt.subplots(figsize=(4, 4))
    gdf.plot(column="requests", cmap="Oranges", edgecolor="#555", linewidth=0.5, legend=True, ax=ax,
             legend_kwds={"shrink": 0.6, "label": "requests"})
    for _, row in gdf.iterrows():
        p = row.geometry.representative_point()
        ax.annotate(str(row["requests"]), (p.x, p.y), ha="center", fontsize=7)
    ax.set_axis_off()
    return _svg(fig)
