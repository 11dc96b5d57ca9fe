"""A seeded year of illustrative desk data, consistent with the bureau's published 2025 figures.

Published (Mianyang Transport Bureau, 2025-10-16; see docs/desk.md): 219 key truck-driver
requests in 2025 so far, response, on-time closing and satisfaction all 100 %; requests down
23.26 % month on month in August 2025; 25 drivers' wages recovered, over 135,000 CNY; over
200 grid pushes reaching over 22,000 drivers.

The generator makes one year, 2024-10-16 to 2025-10-15 (the article's date), with exactly:
219 requests received 2025-01-01..2025-10-15; July 43 and August 33 (33/43 - 1 = -23.26 %);
every stage done on time on the "2142" clock; every request followed up "satisfied"; 25 wage
cases in 2025 recovering 136,800 CNY; 206 notices with 22,350 reported reach. Everything else
(categories, places, times, texts) is drawn at random from a fixed seed and is *not* data:
every record says ``data_status: "illustrative"``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from planner.desk.calendar import REGION_TZ, deadlines
from planner.desk.requests import CATEGORIES

SEED = 2025
SOURCE = ("illustrative: seeded generator planner.desk.illustrative, matching only the published 2025 totals "
          "of the Mianyang Transport Bureau (2025-10-16)")
#: Requests received per month; 2025 months sum to 219 (October: 1st-15th).
MONTHLY = {(2024, 10): 8, (2024, 11): 16, (2024, 12): 14,
           (2025, 1): 15, (2025, 2): 12, (2025, 3): 18, (2025, 4): 20, (2025, 5): 22, (2025, 6): 24,
           (2025, 7): 43, (2025, 8): 33, (2025, 9): 21, (2025, 10): 11}
FIRST_DAY = {(2024, 10): 16}
LAST_DAY = {(2025, 10): 15}
WAGE_CASES_2025 = 25
WAGE_MONEY_2025_CNY = 136_800
NOTICES = 206
NOTICE_REACH = 22_350
_OTHER_CATEGORIES = ("freight_platform", "drivers_home", "parking_rest", "charging", "road_enforcement", "other")
_OTHER_P = (0.15, 0.15, 0.27, 0.13, 0.18, 0.12)
_TEXT = {
    "wages_owed": "示例：运费被拖欠，请求协调追讨",
    "freight_platform": "示例：平台扣费规则不清，申诉无回应",
    "drivers_home": "示例：司机之家淋浴热水不足",
    "parking_rest": "示例：夜间找不到可停车休息的地方",
    "charging": "示例：重卡充电桩排队时间过长",
    "road_enforcement": "示例：路段限行标志不清楚",
    "other": "示例：咨询货运从业资格证办理",
}
_NOTICE_TEXT = {
    "weather": ("示例：暴雨预警", "示例：未来24小时有强降雨，请减速慢行、就近到司机之家休息。"),
    "policy": ("示例：政策宣传", "示例：货车司机权益保障政策解读，遇欠薪可拨打12328。"),
    "case_warning": ("示例：案例警示", "示例：谨防以高价运费为诱饵的套路合同。"),
    "road_closure": ("示例：道路管制", "示例：该路段夜间施工，半幅通行。"),
}


def _month_days(year: int, month: int) -> list[dt.date]:
    start = dt.date(year, month, FIRST_DAY.get((year, month), 1))
    end = (dt.date(year, month, 1) + dt.timedelta(days=32)).replace(day=1)
    last = LAST_DAY.get((year, month))
    if last:
        end = dt.date(year, month, last) + dt.timedelta(days=1)
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def _between(rng, a: dt.datetime, b: dt.datetime, lo=0.1, hi=0.8) -> dt.datetime:
    return a + (b - a) * float(rng.uniform(lo, hi))


def generate_requests(desk, *, seed: int = SEED) -> list[dict]:
    """The illustrative requests as complete records (with their audit history), not yet stored."""
    rng = np.random.default_rng(seed)
    cal = desk.calendar()
    grids = desk.grids()
    demand = desk.ws.region.demand
    w = demand["weight"].to_numpy(float)
    p = w / w.sum()
    months = sorted(MONTHLY)
    # which 2025 requests are wage cases: 25 of the 219, spread at random
    n2025 = sum(v for k, v in MONTHLY.items() if k[0] == 2025)
    wage_idx = set(rng.choice(n2025, size=WAGE_CASES_2025, replace=False).tolist())
    money = rng.uniform(1500, 12000, size=WAGE_CASES_2025)
    money = np.round(money / money.sum() * WAGE_MONEY_2025_CNY / 100) * 100
    money[-1] += WAGE_MONEY_2025_CNY - money.sum()
    money_iter = iter(money.tolist())
    records = []
    i2025 = 0
    for ym in months:
        days = _month_days(*ym)
        for _ in range(MONTHLY[ym]):
            day = days[int(rng.integers(len(days)))]
            t = dt.time(int(rng.integers(8, 21)), int(rng.integers(60)))
            received = dt.datetime.combine(day, t, tzinfo=REGION_TZ)
            if ym[0] == 2025:
                wage = i2025 in wage_idx
                i2025 += 1
            else:
                wage = bool(rng.random() < 0.08)
            category = "wages_owed" if wage else str(rng.choice(_OTHER_CATEGORIES, p=_OTHER_P))
            channel = "platform" if category == "freight_platform" and rng.random() < 0.5 else str(
                rng.choice(["hotline_12328", "wechat", "driver_map"], p=[0.75, 0.15, 0.10]))
            j = int(rng.choice(len(demand), p=p))
            lon = float(demand["lon"].iloc[j] + rng.normal(0, 0.01))
            lat = float(demand["lat"].iloc[j] + rng.normal(0, 0.01))
            a = grids.assign(lon, lat)
            d = deadlines(received, calendar=cal)
            transferred = received + dt.timedelta(minutes=int(rng.integers(10, 110)))
            progress = _between(rng, transferred, d["progress_by"])
            closed = _between(rng, progress, d["close_by"])
            follow_by = deadlines(received, closed_at=closed, calendar=cal)["follow_up_by"]
            followed = _between(rng, closed, follow_by)
            iso = lambda x: x.isoformat(timespec="seconds")  # noqa: E731
            staff = f"示例坐席{int(rng.integers(1, 6))}"
            history = [(iso(received), staff, "import", None, "received", None),
                       (iso(transferred), staff, "transition", "received", "transferred", f"转{a['unit']}"),
                       (iso(progress), a["unit"], "transition", "transferred", "in_progress", "已联系司机"),
                       (iso(closed), a["unit"], "transition", "in_progress", "closed", "已办结"),
                       (iso(followed), staff, "transition", "closed", "followed_up", "回访满意")]
            records.append({
                "kind": "request", "channel": channel, "category": category, "description": _TEXT[category],
                "lon": round(lon, 6), "lat": round(lat, 6), "station_id": None, "corridor": None, "corridor_km": None,
                "grid_id": a["grid_id"], "unit": a["unit"], "assigned_by": a["assigned_by"],
                "grid_distance_km": a["distance_km"], "contact_name": "示例司机",
                "contact_phone": f"1000000{len(records):04d}", "state": "followed_up",
                "received_at": iso(received), "transferred_at": iso(transferred), "progress_at": iso(progress),
                "closed_at": iso(closed), "followed_up_at": iso(followed), "satisfaction": "satisfied",
                "money_recovered_cny": (next(money_iter) if ym[0] == 2025 else round(float(rng.uniform(2000, 8000)), -2))
                if category == "wages_owed" else None,
                "platform": "示例平台" if category == "freight_platform" else None,
                "resolution": "示例：已协调解决", "data_status": "illustrative", "source": SOURCE,
                "_history": history,
            })
    records.sort(key=lambda r: r["received_at"])
    assert set(CATEGORIES) >= {r["category"] for r in records}
    return records


def generate_notices(desk, *, seed: int = SEED) -> list[dict]:
    """The illustrative notices (targets: one or two grids), valid 1-3 days each, in 2025."""
    from planner.desk.notices import validate_notice

    rng = np.random.default_rng(seed + 1)
    grids = desk.grids()
    ids = [r["grid_id"] for r in grids.records]
    reach = rng.uniform(0.5, 1.5, size=NOTICES)
    reach = np.floor(reach / reach.sum() * NOTICE_REACH).astype(int)
    reach[-1] += NOTICE_REACH - reach.sum()
    start = dt.datetime(2025, 1, 1, tzinfo=REGION_TZ)
    span_s = (dt.datetime(2025, 10, 15, tzinfo=REGION_TZ) - start).total_seconds()
    out = []
    for k in range(NOTICES):
        kind = str(rng.choice(list(_NOTICE_TEXT), p=[0.4, 0.25, 0.2, 0.15]))
        vf = start + dt.timedelta(seconds=float(rng.uniform(0, span_s)))
        vt = vf + dt.timedelta(days=int(rng.integers(1, 4)))
        title, body = _NOTICE_TEXT[kind]
        target = {"grids": sorted(set(rng.choice(ids, size=int(rng.integers(1, 3))).tolist()))}
        n = validate_notice({"kind": kind, "title": title, "body": body, "valid_from": vf.isoformat(),
                             "valid_to": vt.isoformat(), "target": target, "data_status": "illustrative",
                             "source": SOURCE}, grids=grids, corridors=desk.ws.region.corridors,
                            actor="illustrative", now=vf)
        n["reach_reported"] = int(reach[k])
        out.append(n)
    return out


def seed(desk, *, seed: int = SEED) -> dict:
    """Replace the registry's illustrative desk data by a fresh seeded year (real records stay)."""
    desk.store.delete_illustrative()
    requests = desk.import_records(generate_requests(desk, seed=seed), actor="illustrative")
    notices = desk.store.insert_notices(generate_notices(desk, seed=seed))
    return {"requests": len(requests), "notices": len(notices), "data_status": "illustrative"}
