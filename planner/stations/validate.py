"""Validation of a station record: every field rule, derived fields, PATCH merging, many at once.

:func:`validate_station` checks one record (or a PATCH body) and returns a cleaned copy with
the derived fields (``county_name``, ``charging.total_kw``, ``charging.max_power_kw``) filled
in, or raises one :class:`~planner.errors.InputError` listing every problem in English and
Chinese (:mod:`planner.stations.messages`). Nothing here loads demand: a location is checked
against the region's outline only (:mod:`planner.stations.location`). :func:`validate_many`
checks a file's or a bulk write's records together and reports them all at once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from planner._validate import as_int, to_float
from planner.errors import InputError
from planner.coords import COORD_SYSTEMS
from planner.stations.hours import hours_problem, region_today
from planner.stations.location import (
    county_for_location,
    inside_region,
    location_bounds,
    normalise_county,
    region_labels,
)
from planner.stations.messages import Problems, short
from planner.stations.schema import (
    ADDRESS_MAX,
    AMENITIES,
    AMENITY_LABELS,
    CONTROL_RE,
    CORRIDOR_MAX,
    COUNTIES,
    DATA_STATUSES,
    DATE_RE,
    DEFAULTS,
    EXTERNAL_KIND,
    FIELD_LABELS_ZH,
    FIELD_STATUS_EXTRA_KEYS,
    FIELDS,
    ID_RE,
    KIND_LABELS,
    KINDS,
    MAX_BAY_COUNT,
    MAX_BAY_POWER_KW,
    MAX_COORD_PRECISION_M,
    MAX_DAILY_TRUCKS,
    MAX_PARKING_BAYS,
    NAME_MAX,
    NOTES_MAX,
    PHONE_RE,
    REQUIRED,
    SOURCE_MAX,
    STATUSES,
)
from planner.stations.text import normalise_record, normalise_text


def validate_station(record: Mapping[str, Any], *, partial: bool = False) -> dict:
    """Validate a station record and return a cleaned copy with derived fields.

    Parameters
    ----------
    record
        A station ``dict`` shaped as in the contract (WGS-84 ``lon``/``lat``). A ``version``
        key is ignored (the registry owns it). Derived values given in the input
        (``county_name``, ``charging.total_kw``, ``charging.max_power_kw``) must agree
        with what they derive from.
    partial
        Validate a PATCH body: only the given fields are checked and returned (plus their
        derived fields); nothing is required. ``lon`` and ``lat`` must come together.

    Returns
    -------
    dict
        The cleaned record: fields in :data:`FIELDS` order, defaults filled (full mode),
        strings stripped, ``amenities`` holding every key of :data:`AMENITIES`,
        ``charging`` with ``total_kw`` (Σ count × power_kw), ``max_power_kw`` and ``swap``.

    Raises
    ------
    InputError
        Listing every problem: ``fields`` maps field -> English rule, ``fields_zh`` the
        Chinese rule (see :func:`planner.stations.localized_fields`).
    """
    head = "invalid station" if not partial else "invalid change"
    p = Problems()
    if not isinstance(record, Mapping):
        p.add("record", f"a station must be a JSON object, got {type(record).__name__}",
              f"站点数据须为 JSON 对象，收到 {type(record).__name__}")
        raise p.error(head)

    given = {k: v for k, v in normalise_record(record).items() if k != "version"}
    # "Required" means given at all: a value that normalises to "" (e.g. "  ") is reported by
    # its own field rule ("1-80 characters"), not as missing.
    raw = {normalise_text(k, code=True) if isinstance(k, str) else k: v for k, v in record.items()}
    unknown = [k for k in given if k not in FIELDS]
    for key in unknown:
        p.add(str(key), f"unknown field {str(key)!r}; valid fields: {', '.join(FIELDS)}",
              f"未知字段 {str(key)!r}；有效字段：{', '.join(FIELDS)}")

    out: dict[str, Any] = {}
    if not partial:
        missing = [f for f in REQUIRED if raw.get(f) in (None, "")]
        for f in missing:
            p.add(f, f"{f} is required", f"{FIELD_LABELS_ZH.get(f, f)}为必填项")

    def has(field: str) -> bool:
        return field in given and not (not partial and field in REQUIRED and raw.get(field) in (None, ""))

    # identity and names
    if has("id"):
        value = given["id"]
        if isinstance(value, str) and ID_RE.match(value.strip()):
            out["id"] = value.strip()
        else:
            p.add("id", "id must be 2-32 characters of A-Z, 0-9 and '-', starting with a letter or digit "
                  f"(e.g. MY-DH-01); got {short(value)}",
                  f"编号须为 2-32 位大写字母、数字或“-”，以字母或数字开头（如 MY-DH-01）；收到 {short(value)}")
    _text(p, given, out, "name", required=True, max_len=NAME_MAX, present=has("name"))
    for field, limit in (("name_en", NAME_MAX), ("corridor", CORRIDOR_MAX), ("address", ADDRESS_MAX),
                         ("notes", NOTES_MAX)):
        _text(p, given, out, field, required=False, max_len=limit, present=has(field))
    _text(p, given, out, "source", required=True, max_len=SOURCE_MAX, present=has("source"))

    # location
    external = given.get("kind") == EXTERNAL_KIND
    # a partial change without kind: the band here, the merged record decides (merge_changes)
    _location(p, given, out, partial=partial, external=external or (partial and "kind" not in given))

    # county (code, legacy codes mapped; derived from location when missing)
    valid_counties = ", ".join(f"{c} {zh}" for c, (zh, _en) in COUNTIES.items())
    if external and given.get("county") not in (None, ""):
        # a neighbour's county: any 6-digit administrative division code (GB/T 2260)
        value = str(given["county"]).strip() if isinstance(given["county"], (str, int)) \
            and not isinstance(given["county"], bool) else ""
        if re.fullmatch(r"\d{6}", value):
            out["county"] = normalise_county(value)
        else:
            p.add("county", f"county of an external station must be a 6-digit administrative code "
                  f"(e.g. 510604 for Luojiang, Deyang); got {short(given['county'])}",
                  f"外部站点的区县须为 6 位行政区划代码（如德阳罗江区 510604）；收到 {short(given['county'])}")
    elif given.get("county") not in (None, ""):
        value = given["county"]
        code = normalise_county(str(value).strip()) if isinstance(value, (str, int)) \
            and not isinstance(value, bool) else None
        if code in COUNTIES:
            out["county"] = code
        else:
            p.add("county", f"county must be a Mianyang county code ({valid_counties}); got {short(value)}",
                  f"区县须为绵阳区县代码（{valid_counties}）；收到 {short(value)}")
    elif not partial or "county" in given:
        if "lon" in out and "lat" in out:
            code = county_for_location(out["lon"], out["lat"])
            if code is not None:
                out["county"] = code
            else:
                p.add("county", "county is required (county polygons are not available to derive it from "
                      f"the location): one of {valid_counties}",
                      f"区县为必填项（无法根据位置推断）：{valid_counties}")
        elif partial:
            p.add("county", f"county cannot be empty; give one of {valid_counties}",
                  f"区县不能为空；请填写 {valid_counties} 之一")
        # full mode with a bad or missing location: the location error says what to fix
    if "county" in out and out["county"] not in COUNTIES:
        out["county_name"] = None  # a neighbour's county: its name is not in our list
    elif "county" in out:
        zh_name, en_name = COUNTIES[out["county"]]
        out["county_name"] = zh_name
        if given.get("county_name") not in (None, "", zh_name, en_name):
            p.add("county_name", f"county_name {short(given['county_name'])} does not match county "
                  f"{out['county']} ({zh_name}); it is derived from county, so leave it out",
                  f"区县名称 {short(given['county_name'])} 与区县代码 {out['county']}（{zh_name}）不符；"
                  "该字段由代码自动生成，可省略")
    elif "county_name" in given and partial and "county" not in given:
        p.add("county_name", "county_name is derived from county; change county instead",
              "区县名称由区县代码生成；请修改区县代码")

    _choice(p, given, out, "kind", KINDS, KIND_LABELS, present=has("kind"))
    _choice(p, given, out, "status", STATUSES, None, present=has("status"))
    _choice(p, given, out, "data_status", DATA_STATUSES, None, present=has("data_status"))
    if has("coord_sys"):
        value = given["coord_sys"]
        if isinstance(value, str) and value.strip().lower() in COORD_SYSTEMS:
            out["coord_sys"] = value.strip().lower()
        else:
            p.add("coord_sys", f"coord_sys must be one of {', '.join(COORD_SYSTEMS)}; got {short(value)}",
                  f"坐标系须为 {'、'.join(COORD_SYSTEMS)} 之一；收到 {short(value)}")

    if has("amenities"):
        _amenities(p, given["amenities"], out, partial=partial)
    if has("charging"):
        _charging(p, given["charging"], out, partial=partial)

    if has("hours"):
        problem = hours_problem(given["hours"])
        if problem:
            p.add("hours", *problem)
        else:
            out["hours"] = given["hours"].strip().lower() if given["hours"].strip().lower() == "24h" \
                else given["hours"].strip()

    if has("phone") and given["phone"] not in (None, ""):
        value = given["phone"]
        digits = sum(ch.isdigit() for ch in value) if isinstance(value, str) else 0
        if isinstance(value, str) and PHONE_RE.match(value.strip()) and digits >= 3:
            out["phone"] = value.strip()
        else:
            p.add("phone", "phone must be 3-20 characters of digits, spaces, '-', '+', '(' and ')' "
                  f"(e.g. 0816-1234567 or 12328); got {short(value)}",
                  f"电话须为 3-20 位数字、空格或 - + ( )（如 0816-1234567 或 12328）；收到 {short(value)}")
    elif has("phone"):
        out["phone"] = None

    _integer(p, given, out, "parking_bays", 0, MAX_PARKING_BAYS, nullable=False, present=has("parking_bays"))
    _integer(p, given, out, "daily_trucks", 0, MAX_DAILY_TRUCKS, nullable=True, present=has("daily_trucks"))
    _integer(p, given, out, "coord_precision_m", 0, MAX_COORD_PRECISION_M, nullable=False,
             present=has("coord_precision_m"))

    if has("field_status"):
        _field_status(p, given["field_status"], out)

    if has("as_of"):
        value = given["as_of"]
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            value = value.isoformat()
        ok = isinstance(value, str) and DATE_RE.match(value.strip()) is not None
        if ok:
            try:
                dt.date.fromisoformat(value.strip())
            except ValueError:
                ok = False
        if ok and dt.date.fromisoformat(value.strip()) > region_today():
            today = region_today().isoformat()
            p.add("as_of", f"as_of {value.strip()} is in the future (today in Mianyang is {today}); give the "
                  "date the data was last checked",
                  f"核实日期 {value.strip()} 晚于今天（绵阳时间 {today}）；请填写实际核实数据的日期")
        elif ok:
            out["as_of"] = value.strip()
        else:
            p.add("as_of", f"as_of must be a date YYYY-MM-DD (e.g. 2025-10-16); got {short(given['as_of'])}",
                  f"数据日期须为 YYYY-MM-DD 格式的日期（如 2025-10-16）；收到 {short(given['as_of'])}")

    if p:
        raise p.error(head)

    if partial:
        return {f: out[f] for f in FIELDS if f in out}

    # full record: defaults, then fixed field order
    for field, default in DEFAULTS.items():
        if field not in out:
            out[field] = dict(default) if isinstance(default, dict) else default
    if "amenities" not in out:
        out["amenities"] = {key: False for key in AMENITIES}
    if "charging" not in out:
        out["charging"] = _charging_record([], False)
    out.setdefault("as_of", region_today().isoformat())
    return {f: out[f] for f in FIELDS}


def _text(p: Problems, given, out, field, *, required, max_len, present) -> None:
    if not present:
        return
    value = given[field]
    label = FIELD_LABELS_ZH.get(field, field)
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        out[field] = None
        return
    if not isinstance(value, str) or not value.strip():
        p.add(field, f"{field} must be text of 1-{max_len} characters; got {short(value)}",
              f"{label}须为 1-{max_len} 个字符的文本；收到 {short(value)}")
        return
    text = value.strip()
    if len(text) > max_len:
        p.add(field, f"{field} must be at most {max_len} characters; got {len(text)}",
              f"{label}最多 {max_len} 个字符；当前 {len(text)} 个")
    elif CONTROL_RE.search(text):
        p.add(field, f"{field} must not contain control characters", f"{label}不能包含控制字符")
    else:
        out[field] = text


def _location(p: Problems, given, out, *, partial: bool, external: bool = False) -> None:
    have_lon, have_lat = "lon" in given, "lat" in given
    if partial and have_lon != have_lat:
        missing = "lat" if have_lon else "lon"
        p.add(missing, "lon and lat must be changed together", "经度和纬度须同时修改")
        return
    if not have_lon and not have_lat:
        return
    min_lon, min_lat, max_lon, max_lat = location_bounds(external=external)
    name_en, name_zh, band_km = region_labels()
    where_en = f"in or within {band_km:g} km of {name_en}" if external else f"inside {name_en}"
    where_zh = f"{name_zh}境内或周边 {band_km:g} 公里内" if external else f"{name_zh}境内"
    values = {}
    for name, low, high in (("lon", min_lon, max_lon), ("lat", min_lat, max_lat)):
        value = given.get(name)
        if value is None and not partial:
            continue  # reported as required
        number = to_float(value)
        if number is None or not math.isfinite(number) or not low <= number <= high:
            label = "经度" if name == "lon" else "纬度"
            p.add(name, f"{name} must be a number between {low:g} and {high:g} ({where_en}, WGS-84); "
                  f"got {short(value)}",
                  f"{label}须为 {low:g} 到 {high:g} 之间的数字（{where_zh}，WGS-84）；收到 {short(value)}")
        else:
            values[name] = number
    if len(values) == 2:
        lon, lat = values["lon"], values["lat"]
        if external and not inside_region(lon, lat, external=True):
            p.add("location", f"location ({lon:.5f}, {lat:.5f}) is more than {band_km:g} km outside the "
                  f"{name_en} boundary (its context band); check lon/lat order and the coordinate system",
                  f"位置 ({lon:.5f}, {lat:.5f}) 距{name_zh}市界超过 {band_km:g} 公里（周边范围之外）；请检查经纬度顺序和坐标系")
        elif not external and not inside_region(lon, lat):
            p.add("location", f"location ({lon:.5f}, {lat:.5f}) is outside the {name_en} boundary; "
                  "check lon/lat order and the coordinate system (convert Amap GCJ-02 points first); "
                  "a neighbouring region's station is registered with kind 'external'",
                  f"位置 ({lon:.5f}, {lat:.5f}) 不在{name_zh}市界内；请检查经纬度顺序和坐标系（高德 GCJ-02 坐标需先转换）；"
                  "邻近地区的站点请以类型 external（外部供给）登记")
        else:
            out["lon"], out["lat"] = lon, lat


def _choice(p: Problems, given, out, field, choices, labels, *, present) -> None:
    if not present:
        return
    value = given[field]
    text = value.strip() if isinstance(value, str) else value
    if text in choices:
        out[field] = text
    else:
        label = FIELD_LABELS_ZH.get(field, field)
        valid_zh = "、".join(f"{c}（{labels[c][1]}）" if labels else c for c in choices)
        p.add(field, f"unknown {field} {short(value)}; valid: {', '.join(choices)}",
              f"未知{label} {short(value)}；有效值：{valid_zh}")


def _integer(p: Problems, given, out, field, low, high, *, nullable, present) -> None:
    if not present:
        return
    value = given[field]
    label = FIELD_LABELS_ZH.get(field, field)
    if value is None and nullable:
        out[field] = None
        return
    number = as_int(value)
    if number is None or not low <= number <= high:
        null_en = " or empty" if nullable else ""
        null_zh = "或留空" if nullable else ""
        p.add(field, f"{field} must be a whole number from {low} to {high}{null_en}; got {short(value)}",
              f"{label}须为 {low} 到 {high} 之间的整数{null_zh}；收到 {short(value)}")
    else:
        out[field] = number


def _amenities(p: Problems, value, out, *, partial: bool) -> None:
    if value is None:
        value = {}  # null = no amenities known
    if not isinstance(value, Mapping):
        p.add("amenities", "amenities must be an object of {amenity: true/false}, e.g. {\"shower\": true}; "
              f"got {short(value)}",
              f"服务设施须为 {{设施: true/false}} 对象，如 {{\"shower\": true}}；收到 {short(value)}")
        return
    clean: dict[str, bool] = {}
    for key, flag in value.items():
        if key not in AMENITIES:
            p.add("amenities", f"unknown amenity {str(key)!r}; valid: {', '.join(AMENITIES)}",
                  f"未知服务设施 {str(key)!r}；有效值：{', '.join(AMENITIES)}")
        elif not isinstance(flag, bool):
            p.add("amenities", f"amenity {key!r} must be true or false; got {short(flag)}",
                  f"服务设施 {key!r}（{AMENITY_LABELS[key][1]}）须为 true 或 false；收到 {short(flag)}")
        else:
            clean[key] = flag
    if partial:
        out["amenities"] = {k: clean[k] for k in AMENITIES if k in clean}
    else:
        out["amenities"] = {k: clean.get(k, False) for k in AMENITIES}


def _charging_record(bays: list[dict], swap: bool) -> dict:
    total = sum(b["count"] * b["power_kw"] for b in bays)
    top = max((b["power_kw"] for b in bays), default=0.0)
    return {"bays": bays, "total_kw": float(total), "max_power_kw": float(top), "swap": bool(swap)}


def _charging(p: Problems, value, out, *, partial: bool) -> None:
    en_shape = ('charging must be an object like {"bays": [{"count": 18, "power_kw": 1440}], "swap": false}; '
                f"got {short(value)}")
    zh_shape = ('充电设施须为如 {"bays": [{"count": 18, "power_kw": 1440}], "swap": false} 的对象；'
                f"收到 {short(value)}")
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        p.add("charging", en_shape, zh_shape)
        return
    allowed = ("bays", "total_kw", "max_power_kw", "swap")
    for key in value:
        if key not in allowed:
            p.add("charging", f"unknown charging key {str(key)!r}; valid: {', '.join(allowed)}",
                  f"未知充电字段 {str(key)!r}；有效值：{', '.join(allowed)}")
    raw_bays = value.get("bays", [])
    if raw_bays is None:
        raw_bays = []
    bays: list[dict] = []
    if not isinstance(raw_bays, (list, tuple)):
        p.add("charging", f"charging.bays must be a list of {{count, power_kw}}; got {short(raw_bays)}",
              f"充电桩列表须为 {{count, power_kw}} 的数组；收到 {short(raw_bays)}")
    else:
        for i, bay in enumerate(raw_bays, start=1):
            if not isinstance(bay, Mapping) or set(bay) - {"count", "power_kw"}:
                p.add("charging", f'bay {i} must be {{"count": int, "power_kw": number}}; got {short(bay)}',
                      f'第 {i} 组充电桩须为 {{"count": 整数, "power_kw": 数字}}；收到 {short(bay)}')
                continue
            count = as_int(bay.get("count"))
            power = bay.get("power_kw")
            power_f = to_float(power)
            ok = True
            if count is None or not 0 < count <= MAX_BAY_COUNT:
                p.add("charging", f"bay {i}: count must be a whole number from 1 to {MAX_BAY_COUNT}; "
                      f"got {short(bay.get('count'))}",
                      f"第 {i} 组充电桩：数量须为 1 到 {MAX_BAY_COUNT} 的整数；收到 {short(bay.get('count'))}")
                ok = False
            if power_f is None or not math.isfinite(power_f) or not 0 < power_f <= MAX_BAY_POWER_KW:
                p.add("charging", f"bay {i}: power_kw must be a number > 0 and <= {MAX_BAY_POWER_KW:g} "
                      f"(kW per bay; 1.44 MW = 1440); got {short(power)}",
                      f"第 {i} 组充电桩：单桩功率 power_kw 须大于 0 且不超过 {MAX_BAY_POWER_KW:g}（千瓦；"
                      f"1.44 兆瓦 = 1440）；收到 {short(power)}")
                ok = False
            if ok:
                bays.append({"count": count, "power_kw": power_f})
    swap = value.get("swap", False)
    if not isinstance(swap, bool):
        p.add("charging", f"charging.swap must be true or false; got {short(swap)}",
              f"换电 swap 须为 true 或 false；收到 {short(swap)}")
        swap = False
    record = _charging_record(bays, swap)
    derived_given = [k for k in ("total_kw", "max_power_kw") if value.get(k) is not None]
    if partial and "bays" not in value and derived_given:
        p.add("charging", "total_kw and max_power_kw are derived; change charging.bays instead",
              "总功率和最大功率由充电桩计算；请修改 charging.bays")
        return
    for key in derived_given:
        given = value[key]
        if to_float(given) is None or abs(to_float(given) - record[key]) > 1e-6 * max(1.0, record[key]):
            p.add("charging", f"charging.{key} is derived from the bays ({record[key]:g}); "
                  f"got {short(given)}: leave it out or fix the bays",
                  f"charging.{key} 由充电桩自动计算（{record[key]:g}）；收到 {short(given)}：请省略或修正充电桩")
    if partial:
        # a PATCH body: only what was given, plus the totals when the bays were given
        keys = [k for k in ("bays", "total_kw", "max_power_kw", "swap")
                if k in value or (k in ("total_kw", "max_power_kw") and "bays" in value)]
        out["charging"] = {k: record[k] for k in keys}
    else:
        out["charging"] = record


def _field_status(p: Problems, value, out) -> None:
    keys = FIELDS + FIELD_STATUS_EXTRA_KEYS
    if value is None:
        out["field_status"] = {}
        return
    if not isinstance(value, Mapping):
        p.add("field_status", 'field_status must be an object like {"location": "approximate"}; '
              f"got {short(value)}",
              f'字段数据状态须为如 {{"location": "approximate"}} 的对象；收到 {short(value)}')
        return
    clean = {}
    for key, status in value.items():
        if key not in keys:
            p.add("field_status", f"field_status key {str(key)!r} is not a field; valid: location, "
                  "amenities, charging, hours, ... (any station field)",
                  f"字段数据状态的键 {str(key)!r} 不是站点字段；有效值：location、amenities、charging、hours 等")
        elif status not in DATA_STATUSES:
            p.add("field_status", f"field_status[{key!r}] must be one of {', '.join(DATA_STATUSES)}; "
                  f"got {short(status)}",
                  f"字段数据状态 {key!r} 须为 {'、'.join(DATA_STATUSES)} 之一；收到 {short(status)}")
        else:
            clean[key] = status
    out["field_status"] = clean


def validate_many(items: Iterable[tuple[str, Any]], *, partial: bool = False, head: str = "invalid stations",
                  done: str = "written") -> list[tuple[str, dict]]:
    """Validate labelled records, all or nothing: the one check of a file or a bulk write.

    Parameters
    ----------
    items
        ``(label, record)`` pairs, e.g. ``("row 3", {...})``; a record's id is added to its
        label (``"row 3 (MY-DH-03)"``).
    partial
        Validate each record as a change (:func:`validate_station` ``partial=True``); an
        ``id`` is still required.
    head, done
        Words of the error: ``"{head}: N problem(s); nothing was {done}: ..."``.

    Returns
    -------
    list of (label, record)
        The cleaned records in input order.

    Raises
    ------
    InputError
        Naming every bad record and repeated id; ``fields`` keyed ``"row 3 (MY-DH-03).lon"``,
        ``fields_zh`` in Chinese.
    """
    clean: list[tuple[str, dict]] = []
    problems = Problems()
    seen: dict[str, str] = {}
    for label, record in items:
        record = normalise_record(record)
        if isinstance(record, Mapping) and isinstance(record.get("id"), str) and record["id"]:
            label += f" ({record['id']})"
        try:
            item = validate_station(record, partial=partial)
        except InputError as err:
            problems.extend(label, err)
            continue
        if "id" not in item:
            problems.add(f"{label}.id", "id is required", "编号为必填项")
            continue
        if item["id"] in seen:
            problems.add(f"{label}.id", f"id {item['id']!r} repeats {seen[item['id']]}; ids must be unique",
                         f"编号 {item['id']!r} 与{seen[item['id']]}重复；编号须唯一")
            continue
        seen[item["id"]] = label.split(" (")[0]
        clean.append((label, item))
    if problems:
        raise problems.summary(head, done=done)
    return clean


def merge_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
    """Apply a PATCH body to a stored record (before full validation).

    ``amenities`` and ``field_status`` merge key by key; ``charging`` merges its top-level
    keys (``bays`` replaces the whole list; the totals are derived again). When the
    location changes and ``county`` is not given, the county is derived again from the
    new location (the old one is kept if county polygons are unavailable).
    """
    merged = {k: v for k, v in current.items() if k in FIELDS and k != "county_name"}
    for key, value in changes.items():
        old = merged.get(key)
        if key in ("amenities", "field_status") and isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = {**old, **value}
        elif key == "charging" and isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = {"bays": old.get("bays", []), "swap": old.get("swap", False), **value}
        else:
            merged[key] = value
    lon, lat = changes.get("lon"), changes.get("lat")
    moved = (lon, lat) != (current.get("lon"), current.get("lat"))
    if moved and "county" not in changes and to_float(lon) is not None and to_float(lat) is not None \
            and math.isfinite(float(lon)) and math.isfinite(float(lat)):
        code = county_for_location(float(lon), float(lat))
        if code is not None:
            merged["county"] = code
    return merged
