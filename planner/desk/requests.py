"""Requests (工单): validation, location → grid, the "2142" clock per request, state changes.

A request moves ``received → transferred → in_progress → closed → followed_up``, one step at a
time; each step is stamped, attributed and audited (:meth:`planner.desk.store.DeskStore.update_request`).
The driver's contact (``contact_name``, ``contact_phone``) is private: :func:`public_view` is what
anyone without a staff login may ever see (the receipt number only).
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

from planner.desk.calendar import REGION_TZ, as_region_time, deadlines
from planner.errors import InputError

#: Categories with (zh, en) labels.
CATEGORIES = {
    "wages_owed": ("欠薪欠费", "Wages and fees owed"),
    "freight_platform": ("货运平台", "Freight platform"),
    "drivers_home": ("司机之家服务", "Driver's Home services"),
    "parking_rest": ("停车休息", "Parking and rest"),
    "charging": ("充电", "Charging"),
    "road_enforcement": ("道路与执法", "Road and enforcement"),
    "other": ("其他", "Other"),
}
CHANNELS = {
    "hotline_12328": ("12328热线", "12328 hotline"),
    "driver_map": ("司机地图", "Drivers' map"),
    "wechat": ("微信小程序", "WeChat mini-program"),
    "platform": ("平台直通渠道", "Platform channel"),
    "walk_in": ("现场", "In person"),
    "other": ("其他", "Other"),
}
STATES = ("received", "transferred", "in_progress", "closed", "followed_up")
STATE_LABELS = {
    "received": ("已受理", "Received"),
    "transferred": ("已转办", "Transferred"),
    "in_progress": ("办理中（已反馈进展）", "In progress (progress reported)"),
    "closed": ("已办结", "Closed"),
    "followed_up": ("已回访", "Followed up"),
}
#: The column stamped when a request enters a state.
STATE_TIME = {"transferred": "transferred_at", "in_progress": "progress_at", "closed": "closed_at",
              "followed_up": "followed_up_at"}
STAGE_LABELS = {"transfer": ("转办（2小时）", "Transfer (2 h)"), "progress": ("反馈进展（1个工作日）", "Progress (1 working day)"),
                "close": ("办结（4个工作日）", "Close (4 working days)"),
                "follow_up": ("回访（办结后2个工作日）", "Follow-up (2 working days after closing)")}
SATISFACTION = {"satisfied": ("满意", "Satisfied"), "neutral": ("基本满意", "Neutral"),
                "dissatisfied": ("不满意", "Dissatisfied")}
KINDS = ("request", "station_report")
#: The clock's stages: (name, due key in deadlines(), done column, warn this long before due).
STAGES = (
    ("transfer", "transfer_by", "transferred_at", dt.timedelta(minutes=30)),
    ("progress", "progress_by", "progress_at", dt.timedelta(hours=8)),
    ("close", "close_by", "closed_at", dt.timedelta(hours=24)),
    ("follow_up", "follow_up_by", "followed_up_at", dt.timedelta(hours=24)),
)
#: Categories that are demand for Driver's Homes (parking, rest, charging, station services).
DEMAND_CATEGORIES = ("parking_rest", "charging", "drivers_home")

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
MAX_DESCRIPTION = 2000


def _err(field: str, en: str, zh: str) -> InputError:
    err = InputError(f"{field}: {en}", fields={field: f"{zh} / {en}"})
    return err


def _text(payload: dict, field: str, *, required: bool = False, max_len: int = 200) -> str | None:
    value = payload.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _err(field, "required", "必填")
        return None
    if not isinstance(value, str):
        raise _err(field, f"must be text, got {type(value).__name__}", "须为文字")
    value = value.strip()
    if len(value) > max_len:
        raise _err(field, f"at most {max_len} characters (got {len(value)})", f"最多 {max_len} 个字")
    return value


def _number(payload: dict, field: str, *, lo: float | None = None, hi: float | None = None) -> float | None:
    value = payload.get(field)
    if value is None or value == "":
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _err(field, f"must be a number, got {value!r}", "须为数字") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise _err(field, f"must be a number between {lo} and {hi}, got {value!r}", f"须在 {lo} 到 {hi} 之间")
    return x


def _choice(payload: dict, field: str, options: dict | tuple, *, default: str | None = None) -> str:
    value = payload.get(field, default)
    if value not in options:
        names = ", ".join(options)
        raise _err(field, f"must be one of {names}; got {value!r}", f"请选择：{names}")
    return value


def validate_new(payload: dict, *, anonymous: bool) -> dict:
    """Check a new request's fields (not its location); anonymous ones come from the drivers' map."""
    if not isinstance(payload, dict):
        raise InputError("the body must be a JSON object", fields={"body": "must be a JSON object"})
    kind = _choice(payload, "kind", KINDS, default="request")
    rec: dict = {"kind": kind}
    rec["channel"] = "driver_map" if anonymous else _choice(payload, "channel", CHANNELS, default="hotline_12328")
    default_category = "drivers_home" if kind == "station_report" else None
    rec["category"] = _choice(payload, "category", CATEGORIES, default=default_category)
    rec["description"] = _text(payload, "description", required=True, max_len=MAX_DESCRIPTION)
    rec["contact_name"] = _text(payload, "contact_name", max_len=60)
    phone = _text(payload, "contact_phone", max_len=20)
    if phone is not None and not _PHONE_RE.match(phone):
        raise _err("contact_phone", f"not a phone number: {phone!r}", "电话号码格式不正确")
    rec["contact_phone"] = phone
    if kind == "station_report":
        if not payload.get("station_id"):
            raise _err("station_id", "a station report needs the station's id", "请指明站点")
        changes = payload.get("proposed_changes")
        if changes is not None and not isinstance(changes, dict):
            raise _err("proposed_changes", "must be an object {field: corrected value}", "须为 {字段: 更正值}")
        rec["proposed_changes"] = changes
    if anonymous:
        rec["received_at"] = dt.datetime.now(REGION_TZ).isoformat(timespec="seconds")
    else:
        at = payload.get("received_at")
        received = as_region_time(at, "received_at") if at else dt.datetime.now(REGION_TZ)
        if received > dt.datetime.now(REGION_TZ) + dt.timedelta(minutes=5):
            raise _err("received_at", "is in the future", "不能晚于现在")
        rec["received_at"] = received.isoformat(timespec="seconds")
        rec["platform"] = _text(payload, "platform", max_len=100)
        rec["money_recovered_cny"] = _number(payload, "money_recovered_cny", lo=0, hi=1e9)
    rec["state"] = "received"
    return rec


def location_spec(payload: dict) -> dict:
    """Which kind of location was given: ``point`` (lon, lat[, coords]), ``station`` or ``corridor`` (+ km)."""
    if payload.get("lon") not in (None, "") or payload.get("lat") not in (None, ""):
        lon = _number(payload, "lon", lo=-180, hi=180)
        lat = _number(payload, "lat", lo=-90, hi=90)
        if lon is None or lat is None:
            raise _err("location", "give both lon and lat", "请同时给出经度和纬度")
        return {"type": "point", "lon": lon, "lat": lat, "coords": payload.get("coords") or "wgs84"}
    if payload.get("station_id"):
        return {"type": "station", "station_id": str(payload["station_id"])}
    if payload.get("corridor"):
        km = _number(payload, "km", lo=0, hi=5000)
        if km is None:
            raise _err("km", "a corridor location needs km (distance from the corridor's start)", "请给出里程（公里）")
        return {"type": "corridor", "corridor": str(payload["corridor"]), "km": km}
    raise _err("location", "give lon and lat, a station_id, or a corridor and km", "请在地图上点选位置，或指明站点或路段里程")


def clock(record: dict, *, now: dt.datetime | None = None, calendar=None) -> dict:
    """Due times, time left, overdue flags and warnings of one request (region time).

    Returns ``{"provisional", "stages": {stage: {due, done_at, on_time, overdue, seconds_left,
    warning}}, "next": stage or None, "urgency_s": seconds to the next due time (negative when
    overdue; None when done)}``.
    """
    now = now or dt.datetime.now(REGION_TZ)
    d = deadlines(record["received_at"], closed_at=record.get("closed_at"), calendar=calendar)
    stages: dict = {}
    nxt = None
    for name, due_key, done_col, warn in STAGES:
        due = d[due_key]
        done = record.get(done_col)
        done_at = as_region_time(done, done_col) if done else None
        info = {"due": due.isoformat() if due else None, "done_at": done_at.isoformat() if done_at else None,
                "on_time": (done_at <= due) if (done_at and due) else None, "overdue": False, "seconds_left": None,
                "warning": False}
        if due is not None and done_at is None:
            left = (due - now).total_seconds()
            info.update(seconds_left=int(left), overdue=left < 0, warning=0 <= left <= warn.total_seconds())
            if nxt is None:
                nxt = name
        stages[name] = info
    if record.get("state") == "closed" and nxt is None:
        nxt = "follow_up"
    urgency = stages[nxt]["seconds_left"] if nxt else None
    return {"provisional": d["provisional"], "stages": stages, "next": nxt, "urgency_s": urgency,
            "overdue": any(s["overdue"] for s in stages.values()),
            "late": any(s["on_time"] is False for s in stages.values())}


def check_transition(record: dict, changes: dict, *, now: dt.datetime) -> tuple[dict, str | None]:
    """The column values a PATCH sets, and the new state (or None); raises InputError when not allowed."""
    allowed = {"state", "note", "at", "satisfaction", "money_recovered_cny", "platform", "category", "description",
               "unit", "resolution"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InputError(f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(allowed))}",
                         fields={k: "not changeable" for k in unknown})
    out: dict = {}
    new_state = None
    if "state" in changes:
        new_state = changes["state"]
        if new_state not in STATES:
            raise _err("state", f"must be one of {', '.join(STATES)}; got {new_state!r}", "状态不正确")
        cur = STATES.index(record["state"])
        if STATES.index(new_state) != cur + 1:
            nxt = STATES[cur + 1] if cur + 1 < len(STATES) else None
            hint = f"the next state is {nxt!r}" if nxt else "the request is already followed up"
            raise _err("state", f"cannot go from {record['state']!r} to {new_state!r}: {hint}", "只能按顺序推进到下一状态")
        at = as_region_time(changes["at"], "at") if changes.get("at") else now
        if at > now + dt.timedelta(minutes=5):
            raise _err("at", "is in the future", "不能晚于现在")
        prev = max(as_region_time(record[c], c) for c in ["received_at", *STATE_TIME.values()] if record.get(c))
        if at < prev:
            raise _err("at", f"is before the request's last step ({prev.isoformat()})", "不能早于上一步")
        out[STATE_TIME[new_state]] = at.isoformat(timespec="seconds")
        out["state"] = new_state
        if new_state == "followed_up":
            out["satisfaction"] = _choice(changes, "satisfaction", SATISFACTION)
    elif changes.get("at"):
        raise _err("at", "only with a state change", "仅在推进状态时填写")
    if "satisfaction" in changes and new_state != "followed_up":
        if record["state"] != "followed_up":
            raise _err("satisfaction", "is recorded at the follow-up call (state followed_up)", "回访时填写满意度")
        out["satisfaction"] = _choice(changes, "satisfaction", SATISFACTION)
    category = changes.get("category", record["category"])
    if "category" in changes:
        out["category"] = _choice(changes, "category", CATEGORIES)
    if "money_recovered_cny" in changes:
        if category != "wages_owed":
            raise _err("money_recovered_cny", "only for wage cases (category wages_owed)", "仅欠薪类工单填写追回金额")
        out["money_recovered_cny"] = _number(changes, "money_recovered_cny", lo=0, hi=1e9)
    if "platform" in changes:
        if category != "freight_platform":
            raise _err("platform", "only for platform cases (category freight_platform)", "仅货运平台类工单填写平台")
        out["platform"] = _text(changes, "platform", max_len=100)
    for field, n in (("description", MAX_DESCRIPTION), ("unit", 200), ("resolution", MAX_DESCRIPTION)):
        if field in changes:
            out[field] = _text(changes, field, required=field == "description", max_len=n)
    note = _text(changes, "note", max_len=500)
    if not out and note is None:
        raise InputError("nothing to change", fields={"body": "give state or a field to change"})
    return out, new_state


def public_view(record: dict) -> dict:
    """What an anonymous driver gets back: the receipt number, nothing else."""
    return {"receipt": record["receipt"]}


def staff_view(record: dict, *, now=None, calendar=None, lang: str = "zh") -> dict:
    """Everything staff see about a request, with its clock and labels."""
    i = 0 if lang != "en" else 1
    out = dict(record)
    out["category_label"] = CATEGORIES[record["category"]][i]
    out["channel_label"] = CHANNELS.get(record["channel"], (record["channel"],) * 2)[i]
    out["state_label"] = STATE_LABELS[record["state"]][i]
    out["clock"] = clock(record, now=now, calendar=calendar)
    return out


def as_demand(requests, *, categories=DEMAND_CATEGORIES, weight_per_request: float = 1.0) -> pd.DataFrame:
    """Requests about parking, rest, charging and station services as demand points.

    Parameters
    ----------
    requests : iterable of dict or DataFrame
        Request records (``lon``, ``lat``, ``category``, ``grid_id``, ``data_status``).
    categories : iterable of str
        Which categories count as demand for Driver's Homes.
    weight_per_request : float
        Weight of one request (in the units of the demand it is combined with).

    Returns
    -------
    DataFrame
        Columns ``cell_id`` (the grid), ``lon``, ``lat``, ``weight``, ``kind``
        (``request:<category>``), ``data_status``, ``source`` — the columns of the region's
        demand layer, so it can be concatenated with it or used alone by
        :func:`planner.scenario.suggest` (through ``region.demand``).
    """
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise InputError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}",
                         fields={"categories": "unknown category"})
    if not (isinstance(weight_per_request, (int, float)) and weight_per_request > 0):
        raise InputError(f"weight_per_request must be > 0, got {weight_per_request!r}",
                         fields={"weight_per_request": "positive number"})
    df = pd.DataFrame(list(requests) if not isinstance(requests, pd.DataFrame) else requests)
    cols = ["cell_id", "lon", "lat", "weight", "kind", "data_status", "source"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df[df["category"].isin(list(categories)) & df["lon"].notna() & df["lat"].notna()]
    out = pd.DataFrame({
        "cell_id": df.get("grid_id"),
        "lon": df["lon"].astype(float),
        "lat": df["lat"].astype(float),
        "weight": float(weight_per_request),
        "kind": "request:" + df["category"].astype(str),
        "data_status": df.get("data_status", "illustrative"),
        "source": "desk requests (" + df.get("source", "").astype(str) + ")",
    })
    return out[cols].reset_index(drop=True)


#: Column names of hotline exports (Chinese) → request fields.
HEADER_ALIASES = {
    "受理时间": "received_at", "来电时间": "received_at", "渠道": "channel", "类别": "category", "诉求类别": "category",
    "诉求内容": "description", "内容": "description", "经度": "lon", "纬度": "lat", "站点编号": "station_id",
    "路线": "corridor", "里程": "km", "联系人": "contact_name", "联系电话": "contact_phone", "平台": "platform",
    "追回金额": "money_recovered_cny", "坐标系": "coords",
}
_LABEL_TO_KEY = {**{zh: k for k, (zh, _en) in CATEGORIES.items()}, **{zh: k for k, (zh, _en) in CHANNELS.items()}}


def read_requests_file(path) -> list[tuple[int, dict]]:
    """Rows of a CSV or Excel (.xlsx) hotline export as ``(line number, payload)``.

    Headers may be the field names (``received_at, channel, category, description, lon, lat,
    station_id, corridor, km, contact_name, contact_phone, platform, money_recovered_cny,
    coords``) or the Chinese names in :data:`HEADER_ALIASES`; categories and channels may be
    keys or Chinese labels.
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a CSV or .xlsx file", fields={"path": "file not found"})
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=str, engine="openpyxl")
        elif suffix in (".csv", ".txt"):
            df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        else:
            raise InputError(f"{path}: unsupported file type {suffix!r}; use .csv or .xlsx", fields={"path": "csv or xlsx"})
    except InputError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for unreadable files
        raise InputError(f"cannot read {path}: {exc}", fields={"path": "unreadable"}) from None
    df = df.rename(columns=lambda c: HEADER_ALIASES.get(str(c).strip(), str(c).strip()))
    if "description" not in df.columns or "category" not in df.columns:
        raise InputError(f"{path}: needs at least the columns category and description (or 类别, 诉求内容); "
                         f"found {list(df.columns)}", fields={"path": "missing columns"})
    out = []
    for i, row in enumerate(df.to_dict("records"), start=2):
        payload = {k: (v.strip() if isinstance(v, str) else None) for k, v in row.items() if isinstance(v, str) and v.strip()}
        for key in ("category", "channel"):
            if key in payload:
                payload[key] = _LABEL_TO_KEY.get(payload[key], payload[key])
        out.append((i, payload))
    if not out:
        raise InputError(f"{path} has no rows", fields={"path": "empty"})
    return out
