"""Station schema and validation: the one definition of a Driver's Home record.

A station record is a plain ``dict`` (the items of ``python -m planner stations --json``);
:func:`validate_station` checks one and returns a cleaned copy with the derived fields
(``county_name``, ``charging.total_kw``, ``charging.max_power_kw``) filled in.

Per-field messages in two languages
-----------------------------------
Validation collects every problem, then raises one :class:`~planner.errors.InputError`:

* ``err.fields`` maps each field to a short, actionable rule **in English**
  (e.g. ``{"lon": "lon must be a number between 103.74 and 105.73 (inside Mianyang, WGS-84); got 120.1"}``);
* ``err.fields_zh`` (an extra attribute) maps the same keys to the **Chinese** rule.

Use :func:`localized_fields` (``localized_fields(err, "zh")``) to pick the language: it
falls back to English for errors raised elsewhere without ``fields_zh``. Field keys are
the record's top-level names (``amenities``, ``charging``, ...), plus ``location`` when a
point has valid numbers but lies outside the Mianyang boundary.

Location checks
---------------
The region's own bounds decide (``load_region()``; loaded once per process and cached): a
station must lie inside the study area (the boundary polygon), and a neighbouring region's
station registered as external supply (``kind`` ``external``, with its ``source``) inside the
study area or its context band (:attr:`planner.region.Region.band`, 50 km by default). Only
while the region cannot be loaded does the bounding box :data:`planner.coords.MIANYANG_BBOX`
stand in. A missing ``county`` is derived from the location when county polygons are
available; an external station gives the administrative code of where it stands.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import threading
import unicodedata
from collections.abc import Mapping
from typing import Any

from planner.coords import COORD_SYSTEMS, MIANYANG_BBOX, in_mianyang_bbox
from planner.errors import InputError, YizhanError

# --------------------------------------------------------------------------- vocabularies
#: The seven service categories of 《"司机之家"建设运营服务规范》 (docs/domain.md).
SEVEN_CATEGORIES: tuple[str, ...] = ("parking", "rest", "dining", "shower", "laundry", "toilet", "other")
#: The five free basic services of the 2025 expressway standardisation (docs/domain.md).
FREE_BASICS: tuple[str, ...] = (
    "free_parking_rest",
    "free_hot_water",
    "free_food_reheat",
    "free_shower",
    "free_laundry",
)
#: Further services drivers filter on (2018 pilot, Sichuan 暖心之家 classes A/B).
EXTRAS: tuple[str, ...] = ("secure_parking", "fuel", "repair", "wifi", "shop", "overnight_beds")
#: Every amenity key, in display order.
AMENITIES: tuple[str, ...] = SEVEN_CATEGORIES + FREE_BASICS + EXTRAS
#: Amenity groups for filters and forms.
AMENITY_GROUPS: dict[str, tuple[str, ...]] = {
    "seven_categories": SEVEN_CATEGORIES,
    "free_basics": FREE_BASICS,
    "extras": EXTRAS,
}
#: Display names of amenities: key -> (English, Chinese).
AMENITY_LABELS: dict[str, tuple[str, str]] = {
    "parking": ("Parking", "停车"),
    "rest": ("Rest", "休息"),
    "dining": ("Dining", "餐饮"),
    "shower": ("Shower", "淋浴"),
    "laundry": ("Laundry", "洗衣"),
    "toilet": ("Toilet", "如厕"),
    "other": ("Other services", "其他"),
    "free_parking_rest": ("Free parking & rest", "免费停车休息"),
    "free_hot_water": ("Free hot water", "免费热水"),
    "free_food_reheat": ("Free food reheating", "免费热饭"),
    "free_shower": ("Free shower", "免费淋浴"),
    "free_laundry": ("Free laundry", "免费洗衣"),
    "secure_parking": ("Secure parking", "安全停车"),
    "fuel": ("Fuel", "加油"),
    "repair": ("Vehicle repair", "车辆维修"),
    "wifi": ("Free Wi-Fi", "免费无线网络"),
    "shop": ("Shop", "便利店"),
    "overnight_beds": ("Overnight beds", "过夜床位"),
}

#: Where a station sits.
KINDS: tuple[str, ...] = (
    "service_area",
    "logistics_hub",
    "fuel_station",
    "work_zone",
    "charging_hub",
    "town",
    "external",
)
#: The kind of a neighbouring region's station registered as supply: it counts in every
#: access and coverage figure, never in the region's own totals (station counts, capacity).
EXTERNAL_KIND = "external"
KIND_LABELS: dict[str, tuple[str, str]] = {
    "service_area": ("Expressway service area", "高速服务区"),
    "logistics_hub": ("Logistics hub", "物流园区"),
    "fuel_station": ("Fuel/charging station", "加油（充电）站"),
    "work_zone": ("Work zone", "作业区"),
    "charging_hub": ("Charging hub", "充电枢纽"),
    "town": ("Town", "城镇"),
    "external": ("Neighbouring region's station (external supply)", "邻近地区站点（外部供给）"),
}
#: How far a record (or one of its fields) can be trusted (docs/domain.md).
DATA_STATUSES: tuple[str, ...] = ("verified", "approximate", "illustrative")
#: Station life cycle; retired stations are kept (history) but never offered to drivers.
STATUSES: tuple[str, ...] = ("open", "retired")

#: Mianyang's county-level units (docs/domain.md): code -> (Chinese name, English name).
COUNTIES: dict[str, tuple[str, str]] = {
    "510703": ("涪城区", "Fucheng District"),
    "510704": ("游仙区", "Youxian District"),
    "510705": ("安州区", "Anzhou District"),
    "510722": ("三台县", "Santai County"),
    "510723": ("盐亭县", "Yanting County"),
    "510725": ("梓潼县", "Zitong County"),
    "510726": ("北川羌族自治县", "Beichuan Qiang Autonomous County"),
    "510727": ("平武县", "Pingwu County"),
    "510781": ("江油市", "Jiangyou City"),
}
COUNTY_NAMES_ZH: dict[str, str] = {code: zh for code, (zh, _en) in COUNTIES.items()}
COUNTY_NAMES_EN: dict[str, str] = {code: en for code, (_zh, en) in COUNTIES.items()}
#: Retired codes still found in old data, mapped to today's (安县 510724 became 安州区 in 2016).
LEGACY_COUNTY_CODES: dict[str, str] = {"510724": "510705"}

#: Every field of a stored record, in output order (``version`` is added by the registry).
FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "name_en",
    "lon",
    "lat",
    "county",
    "county_name",
    "kind",
    "corridor",
    "address",
    "amenities",
    "charging",
    "hours",
    "phone",
    "parking_bays",
    "daily_trucks",
    "status",
    "data_status",
    "field_status",
    "source",
    "coord_sys",
    "coord_precision_m",
    "as_of",
    "notes",
)
#: Fields a new record must give; the others have :data:`DEFAULTS` or are derived.
REQUIRED: tuple[str, ...] = ("id", "name", "lon", "lat", "kind", "hours", "data_status", "source")
#: Values used for optional fields left out of a new record (``as_of`` defaults to today in the
#: region's time zone;
#: ``amenities`` to all false; ``charging`` to no bays). A field given as null must be nullable
#: (``name_en``, ``corridor``, ``address``, ``phone``, ``daily_trucks``, ``notes``; null
#: ``amenities``/``charging``/``field_status`` mean empty): leave a field out to get its default.
DEFAULTS: dict[str, Any] = {
    "name_en": None,
    "corridor": None,
    "address": None,
    "phone": None,
    "parking_bays": 0,
    "daily_trucks": None,
    "status": "open",
    "field_status": {},
    "coord_sys": "wgs84",
    "coord_precision_m": 100,
    "notes": None,
}
#: Fields computed from others; given values must agree or they are reported.
DERIVED: tuple[str, ...] = ("county_name",)
#: Keys allowed in ``field_status`` besides the record's own fields.
FIELD_STATUS_EXTRA_KEYS: tuple[str, ...] = ("location",)

#: Chinese labels of fields, for forms and messages.
FIELD_LABELS_ZH: dict[str, str] = {
    "id": "编号",
    "name": "名称",
    "name_en": "英文名称",
    "lon": "经度",
    "lat": "纬度",
    "location": "位置",
    "county": "区县",
    "county_name": "区县名称",
    "kind": "类型",
    "corridor": "所在通道",
    "address": "地址",
    "amenities": "服务设施",
    "charging": "充电设施",
    "hours": "营业时间",
    "phone": "电话",
    "parking_bays": "货车车位",
    "daily_trucks": "日均车辆",
    "status": "状态",
    "data_status": "数据状态",
    "field_status": "字段数据状态",
    "source": "来源",
    "coord_sys": "坐标系",
    "coord_precision_m": "坐标精度（米）",
    "as_of": "数据日期",
    "notes": "备注",
    "version": "版本",
}

ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
PHONE_RE = re.compile(r"^[0-9 +\-()]{3,20}$")
HOURS_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")

NAME_MAX = 80
CORRIDOR_MAX = 32
ADDRESS_MAX = 200
SOURCE_MAX = 500
NOTES_MAX = 2000
#: Largest credible power of one charging bay, kW (the Beichuan MW bays are 1,440 kW);
#: catches W-for-kW slips.
MAX_BAY_POWER_KW = 10_000.0
MAX_BAY_COUNT = 10_000
MAX_PARKING_BAYS = 100_000
MAX_DAILY_TRUCKS = 1_000_000
MAX_COORD_PRECISION_M = 100_000


def region_today() -> dt.date:
    """Today's date in the region's time zone (UTC only while the region cannot load)."""
    region = _region()
    if region is not None and region.timezone:
        return region.now().date()
    from planner.clock import utcnow

    return utcnow().date()


# --------------------------------------------------------------------------- normalisation
#: Fields whose values are codes or fixed vocabularies: compatibility-normalised (NFKC, so
#: full-width ``ｒｅｔｉｒｅｄ`` or ``２４ｈ`` read as ASCII) and lower-cased.
CODE_FIELDS: tuple[str, ...] = ("kind", "status", "data_status", "coord_sys")
#: Fields of digits and punctuation: NFKC (full-width digits, ``：``) but case kept.
NFKC_FIELDS: tuple[str, ...] = ("county", "hours", "phone", "as_of")
#: Invisible characters stripped at the ends of a value besides Unicode white space.
_EDGE_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def normalise_text(value: Any, *, code: bool = False, compat: bool = False) -> Any:
    """One normalisation for a text value; anything that is not ``str`` comes back as is.

    NFC, then white space stripped at both ends (every Unicode space, e.g. U+3000, tabs,
    line breaks) together with zero-width characters. ``compat`` uses NFKC instead of NFC;
    ``code`` also implies NFKC and case-folds (vocabulary values such as ``status``).
    """
    if not isinstance(value, str):
        return value
    try:
        text = unicodedata.normalize("NFKC" if (code or compat) else "NFC", value)
    except UnicodeError:  # lone surrogates: left for the validator to refuse
        text = value
    text = text.strip().strip(_EDGE_INVISIBLE).strip()
    return text.casefold() if code else text


def normalise_record(record: Any) -> Any:
    """A station record or PATCH body with every value normalised as validation sees it.

    The single normalisation applied before validation *and* before any rights check
    (``{"status": "retired\u3000"}`` is a retirement wherever it is looked at). Keys are
    stripped; ``amenities``/``field_status``/``charging`` keys are vocabulary and are
    case-folded; ``id`` is NFKC (full-width letters and digits) but keeps its case.
    Non-mappings are returned unchanged (the
    validator reports them).
    """
    if not isinstance(record, Mapping):
        return record
    out: dict[Any, Any] = {}
    for key, value in record.items():
        key = normalise_text(key, code=True) if isinstance(key, str) else key
        if key in CODE_FIELDS:
            value = normalise_text(value, code=True)
        elif key in NFKC_FIELDS:
            value = normalise_text(value, compat=True)
        elif key == "id":
            value = normalise_text(value, compat=True)
        elif key in ("amenities", "field_status", "charging") and isinstance(value, Mapping):
            value = {normalise_text(k, code=True) if isinstance(k, str) else k:
                     normalise_text(v, code=True) if key == "field_status" else v for k, v in value.items()}
        else:
            value = normalise_text(value)
        out[key] = value
    return out


def retires(changes: Any) -> bool:
    """Whether a (normalised) change sets the station's status to ``retired``."""
    return isinstance(changes, Mapping) and normalise_record(changes).get("status") == "retired"


# --------------------------------------------------------------------------- messages
def localized_fields(error: BaseException, lang: str = "en") -> dict[str, str]:
    """Per-field messages of an error in ``lang`` (``"zh"`` or ``"en"``).

    Errors from this module and :mod:`planner.coords` carry ``fields_zh``; others fall
    back to their English ``fields``. Any ``lang`` starting with ``zh`` picks Chinese.
    """
    fields = dict(getattr(error, "fields", {}) or {})
    if str(lang).lower().startswith("zh"):
        zh = getattr(error, "fields_zh", None) or {}
        return {key: zh.get(key, rule) for key, rule in fields.items()}
    return fields


class _Problems:
    """Collects (field, English rule, Chinese rule) triples, then raises once."""

    def __init__(self, prefix: str = ""):
        self.en: dict[str, str] = {}
        self.zh: dict[str, str] = {}
        self.prefix = prefix

    def add(self, field: str, en: str, zh: str) -> None:
        if field in self.en:
            self.en[field] += "; " + en
            self.zh[field] += "；" + zh
        else:
            self.en[field] = en
            self.zh[field] = zh

    def __bool__(self) -> bool:
        return bool(self.en)

    def error(self) -> InputError:
        head = self.prefix or "invalid station"
        err = InputError(f"{head}: " + "; ".join(self.en.values()), fields=self.en)
        err.fields_zh = self.zh  # type: ignore[attr-defined]
        return err


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4,300-digit limit, deep nesting
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # numpy scalars (from GeoPackage/CSV readers) without importing numpy here
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"


def _to_float(value: Any) -> float | None:
    """A float for numbers that fit one (a 400-digit int does not); None otherwise."""
    if not _is_number(value):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return None


def _as_int(value: Any) -> int | None:
    """An int for ints and integral floats (incl. numpy); None otherwise."""
    number = _to_float(value)
    if number is None:
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


# --------------------------------------------------------------------------- region
_LOADING = threading.local()


def _region(name: str = "mianyang"):
    """The embedded region, or None when :mod:`planner.region` or its data are missing.

    Loaded once per process (cached). While the region itself is loading (it may validate
    its own stations), location checks fall back to the bounding box instead of recursing.
    """
    if getattr(_LOADING, "active", False):
        return None
    return _load_region_cached(name)


@functools.lru_cache(maxsize=4)
def _load_region_cached(name: str):
    try:
        from planner.region import region_outline
    except ImportError:
        return None
    _LOADING.active = True
    try:
        return region_outline(name)
    except (YizhanError, OSError, ImportError, KeyError, ValueError, RuntimeError):
        return None
    finally:
        _LOADING.active = False


def is_external(record: Mapping[str, Any]) -> bool:
    """Whether a station is a neighbouring region's, registered as external supply."""
    return record.get("kind") == EXTERNAL_KIND


def region_available() -> bool:
    """Whether the region's polygons are used for location checks (else bbox only)."""
    return _region() is not None


def location_bounds(*, external: bool = False) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` accepted for station coordinates.

    The extent of the region's study area (``external=False``) or of the study area with its
    context band (``external=True``), rounded outwards to 0.01°; only while the region cannot
    be loaded, :data:`planner.coords.MIANYANG_BBOX`.
    """
    region = _region()
    if region is None:
        return MIANYANG_BBOX
    x0, y0, x1, y1 = region.band_bbox if external else region.bbox
    return (math.floor(x0 * 100) / 100, math.floor(y0 * 100) / 100,
            math.ceil(x1 * 100) / 100, math.ceil(y1 * 100) / 100)


def inside_region(lon: float, lat: float, *, external: bool = False) -> bool:
    """Whether a WGS-84 point is inside the study area (or, ``external=True``, inside the
    study area or its context band); the bounding box only while the region cannot load."""
    region = _region()
    if region is None:
        return in_mianyang_bbox(lon, lat)
    return bool(region.in_band(lon, lat) if external else region.contains(lon, lat))


def _region_labels() -> tuple[str, str, float]:
    """English and Chinese name of the region and its context band width (km)."""
    region = _region()
    if region is None:
        return "Mianyang", "绵阳", 0.0
    return (getattr(region, "name_en", None) or region.name.title(), getattr(region, "name_zh", None) or region.name,
            float(region.context_km))


def county_for_location(lon: float, lat: float) -> str | None:
    """County code whose polygon holds the point (nearest within 2 km at borders), or None.

    Returns None when county polygons are unavailable.
    """
    region = _region()
    counties = getattr(region, "counties", None)
    if counties is None or len(counties) == 0 or "code" not in counties:
        return None
    from shapely.geometry import Point

    point = Point(lon, lat)
    hits = counties[counties.geometry.covers(point)]
    if len(hits):
        return _normalise_county(str(hits.iloc[0]["code"]))
    # A point on a simplified border: take the nearest county if it is close (~2 km).
    distances = counties.geometry.distance(point)
    best = distances.idxmin()
    if float(distances.loc[best]) <= 0.02:
        return _normalise_county(str(counties.loc[best, "code"]))
    return None


def _normalise_county(code: str) -> str:
    return LEGACY_COUNTY_CODES.get(code, code)


# --------------------------------------------------------------------------- hours
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
    problem = _hours_problem(hours)
    if problem is not None:
        en, zh = problem
        err = InputError(en, fields={"hours": en})
        err.fields_zh = {"hours": zh}  # type: ignore[attr-defined]
        raise err
    text = hours.strip().lower()
    if text == "24h":
        return None
    h1, m1, h2, m2 = (int(g) for g in HOURS_RE.match(text).groups())  # type: ignore[union-attr]
    return dt.time(h1, m1), dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)


def _hours_problem(hours: Any) -> tuple[str, str] | None:
    en = f'hours must be "24h" or "HH:MM-HH:MM" (e.g. "06:00-22:00", "20:00-08:00"); got {_short(hours)}'
    zh = f'营业时间须为 "24h" 或 "HH:MM-HH:MM"（如 "06:00-22:00"、"20:00-08:00"）；收到 {_short(hours)}'
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
        raise InputError(f"at must be a datetime.time, got {_short(at)}", fields={"at": "must be a time of day"})
    if span is None:
        return True
    start, end = span
    at = at.replace(tzinfo=None)
    if end == dt.time(0, 0):  # ends at midnight
        return at >= start
    if start < end:
        return start <= at < end
    return at >= start or at < end


# --------------------------------------------------------------------------- validation
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
        Chinese rule (see :func:`localized_fields`).
    """
    p = _Problems("invalid station" if not partial else "invalid change")
    if not isinstance(record, Mapping):
        p.add("record", f"a station must be a JSON object, got {type(record).__name__}",
              f"站点数据须为 JSON 对象，收到 {type(record).__name__}")
        raise p.error()

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
                  f"(e.g. MY-DH-01); got {_short(value)}",
                  f"编号须为 2-32 位大写字母、数字或“-”，以字母或数字开头（如 MY-DH-01）；收到 {_short(value)}")
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
            out["county"] = _normalise_county(value)
        else:
            p.add("county", f"county of an external station must be a 6-digit administrative code "
                  f"(e.g. 510604 for Luojiang, Deyang); got {_short(given['county'])}",
                  f"外部站点的区县须为 6 位行政区划代码（如德阳罗江区 510604）；收到 {_short(given['county'])}")
    elif given.get("county") not in (None, ""):
        value = given["county"]
        code = _normalise_county(str(value).strip()) if isinstance(value, (str, int)) \
            and not isinstance(value, bool) else None
        if code in COUNTIES:
            out["county"] = code
        else:
            p.add("county", f"county must be a Mianyang county code ({valid_counties}); got {_short(value)}",
                  f"区县须为绵阳区县代码（{valid_counties}）；收到 {_short(value)}")
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
            p.add("county_name", f"county_name {_short(given['county_name'])} does not match county "
                  f"{out['county']} ({zh_name}); it is derived from county, so leave it out",
                  f"区县名称 {_short(given['county_name'])} 与区县代码 {out['county']}（{zh_name}）不符；"
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
            p.add("coord_sys", f"coord_sys must be one of {', '.join(COORD_SYSTEMS)}; got {_short(value)}",
                  f"坐标系须为 {'、'.join(COORD_SYSTEMS)} 之一；收到 {_short(value)}")

    if has("amenities"):
        _amenities(p, given["amenities"], out, partial=partial)
    if has("charging"):
        _charging(p, given["charging"], out, partial=partial)

    if has("hours"):
        problem = _hours_problem(given["hours"])
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
                  f"(e.g. 0816-1234567 or 12328); got {_short(value)}",
                  f"电话须为 3-20 位数字、空格或 - + ( )（如 0816-1234567 或 12328）；收到 {_short(value)}")
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
            p.add("as_of", f"as_of must be a date YYYY-MM-DD (e.g. 2025-10-16); got {_short(given['as_of'])}",
                  f"数据日期须为 YYYY-MM-DD 格式的日期（如 2025-10-16）；收到 {_short(given['as_of'])}")

    if p:
        raise p.error()

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


def _text(p: _Problems, given, out, field, *, required, max_len, present) -> None:
    if not present:
        return
    value = given[field]
    label = FIELD_LABELS_ZH.get(field, field)
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        out[field] = None
        return
    if not isinstance(value, str) or not value.strip():
        p.add(field, f"{field} must be text of 1-{max_len} characters; got {_short(value)}",
              f"{label}须为 1-{max_len} 个字符的文本；收到 {_short(value)}")
        return
    text = value.strip()
    if len(text) > max_len:
        p.add(field, f"{field} must be at most {max_len} characters; got {len(text)}",
              f"{label}最多 {max_len} 个字符；当前 {len(text)} 个")
    elif _CONTROL_RE.search(text):
        p.add(field, f"{field} must not contain control characters", f"{label}不能包含控制字符")
    else:
        out[field] = text


def _location(p: _Problems, given, out, *, partial: bool, external: bool = False) -> None:
    have_lon, have_lat = "lon" in given, "lat" in given
    if partial and have_lon != have_lat:
        missing = "lat" if have_lon else "lon"
        p.add(missing, "lon and lat must be changed together", "经度和纬度须同时修改")
        return
    if not have_lon and not have_lat:
        return
    min_lon, min_lat, max_lon, max_lat = location_bounds(external=external)
    name_en, name_zh, band_km = _region_labels()
    where_en = f"in or within {band_km:g} km of {name_en}" if external else f"inside {name_en}"
    where_zh = f"{name_zh}境内或周边 {band_km:g} 公里内" if external else f"{name_zh}境内"
    values = {}
    for name, low, high in (("lon", min_lon, max_lon), ("lat", min_lat, max_lat)):
        value = given.get(name)
        if value is None and not partial:
            continue  # reported as required
        number = _to_float(value)
        if number is None or not math.isfinite(number) or not low <= number <= high:
            label = "经度" if name == "lon" else "纬度"
            p.add(name, f"{name} must be a number between {low:g} and {high:g} ({where_en}, WGS-84); "
                  f"got {_short(value)}",
                  f"{label}须为 {low:g} 到 {high:g} 之间的数字（{where_zh}，WGS-84）；收到 {_short(value)}")
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


def _choice(p: _Problems, given, out, field, choices, labels, *, present) -> None:
    if not present:
        return
    value = given[field]
    text = value.strip() if isinstance(value, str) else value
    if text in choices:
        out[field] = text
    else:
        label = FIELD_LABELS_ZH.get(field, field)
        valid_zh = "、".join(f"{c}（{labels[c][1]}）" if labels else c for c in choices)
        p.add(field, f"unknown {field} {_short(value)}; valid: {', '.join(choices)}",
              f"未知{label} {_short(value)}；有效值：{valid_zh}")


def _integer(p: _Problems, given, out, field, low, high, *, nullable, present) -> None:
    if not present:
        return
    value = given[field]
    label = FIELD_LABELS_ZH.get(field, field)
    if value is None and nullable:
        out[field] = None
        return
    number = _as_int(value)
    if number is None or not low <= number <= high:
        null_en = " or empty" if nullable else ""
        null_zh = "或留空" if nullable else ""
        p.add(field, f"{field} must be a whole number from {low} to {high}{null_en}; got {_short(value)}",
              f"{label}须为 {low} 到 {high} 之间的整数{null_zh}；收到 {_short(value)}")
    else:
        out[field] = number


def _amenities(p: _Problems, value, out, *, partial: bool) -> None:
    if value is None:
        value = {}  # null = no amenities known
    if not isinstance(value, Mapping):
        p.add("amenities", "amenities must be an object of {amenity: true/false}, e.g. {\"shower\": true}; "
              f"got {_short(value)}",
              f"服务设施须为 {{设施: true/false}} 对象，如 {{\"shower\": true}}；收到 {_short(value)}")
        return
    clean: dict[str, bool] = {}
    for key, flag in value.items():
        if key not in AMENITIES:
            p.add("amenities", f"unknown amenity {str(key)!r}; valid: {', '.join(AMENITIES)}",
                  f"未知服务设施 {str(key)!r}；有效值：{', '.join(AMENITIES)}")
        elif not isinstance(flag, bool):
            p.add("amenities", f"amenity {key!r} must be true or false; got {_short(flag)}",
                  f"服务设施 {key!r}（{AMENITY_LABELS[key][1]}）须为 true 或 false；收到 {_short(flag)}")
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


def _charging(p: _Problems, value, out, *, partial: bool) -> None:
    en_shape = ('charging must be an object like {"bays": [{"count": 18, "power_kw": 1440}], "swap": false}; '
                f"got {_short(value)}")
    zh_shape = ('充电设施须为如 {"bays": [{"count": 18, "power_kw": 1440}], "swap": false} 的对象；'
                f"收到 {_short(value)}")
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
        p.add("charging", f"charging.bays must be a list of {{count, power_kw}}; got {_short(raw_bays)}",
              f"充电桩列表须为 {{count, power_kw}} 的数组；收到 {_short(raw_bays)}")
    else:
        for i, bay in enumerate(raw_bays, start=1):
            if not isinstance(bay, Mapping) or set(bay) - {"count", "power_kw"}:
                p.add("charging", f'bay {i} must be {{"count": int, "power_kw": number}}; got {_short(bay)}',
                      f'第 {i} 组充电桩须为 {{"count": 整数, "power_kw": 数字}}；收到 {_short(bay)}')
                continue
            count = _as_int(bay.get("count"))
            power = bay.get("power_kw")
            power_f = _to_float(power)
            ok = True
            if count is None or not 0 < count <= MAX_BAY_COUNT:
                p.add("charging", f"bay {i}: count must be a whole number from 1 to {MAX_BAY_COUNT}; "
                      f"got {_short(bay.get('count'))}",
                      f"第 {i} 组充电桩：数量须为 1 到 {MAX_BAY_COUNT} 的整数；收到 {_short(bay.get('count'))}")
                ok = False
            if power_f is None or not math.isfinite(power_f) or not 0 < power_f <= MAX_BAY_POWER_KW:
                p.add("charging", f"bay {i}: power_kw must be a number > 0 and <= {MAX_BAY_POWER_KW:g} "
                      f"(kW per bay; 1.44 MW = 1440); got {_short(power)}",
                      f"第 {i} 组充电桩：单桩功率 power_kw 须大于 0 且不超过 {MAX_BAY_POWER_KW:g}（千瓦；"
                      f"1.44 兆瓦 = 1440）；收到 {_short(power)}")
                ok = False
            if ok:
                bays.append({"count": count, "power_kw": power_f})
    swap = value.get("swap", False)
    if not isinstance(swap, bool):
        p.add("charging", f"charging.swap must be true or false; got {_short(swap)}",
              f"换电 swap 须为 true 或 false；收到 {_short(swap)}")
        swap = False
    record = _charging_record(bays, swap)
    derived_given = [k for k in ("total_kw", "max_power_kw") if value.get(k) is not None]
    if partial and "bays" not in value and derived_given:
        p.add("charging", "total_kw and max_power_kw are derived; change charging.bays instead",
              "总功率和最大功率由充电桩计算；请修改 charging.bays")
        return
    for key in derived_given:
        given = value[key]
        if _to_float(given) is None or abs(_to_float(given) - record[key]) > 1e-6 * max(1.0, record[key]):
            p.add("charging", f"charging.{key} is derived from the bays ({record[key]:g}); "
                  f"got {_short(given)}: leave it out or fix the bays",
                  f"charging.{key} 由充电桩自动计算（{record[key]:g}）；收到 {_short(given)}：请省略或修正充电桩")
    if partial:
        # a PATCH body: only what was given, plus the totals when the bays were given
        keys = [k for k in ("bays", "total_kw", "max_power_kw", "swap")
                if k in value or (k in ("total_kw", "max_power_kw") and "bays" in value)]
        out["charging"] = {k: record[k] for k in keys}
    else:
        out["charging"] = record


def _field_status(p: _Problems, value, out) -> None:
    keys = FIELDS + FIELD_STATUS_EXTRA_KEYS
    if value is None:
        out["field_status"] = {}
        return
    if not isinstance(value, Mapping):
        p.add("field_status", 'field_status must be an object like {"location": "approximate"}; '
              f"got {_short(value)}",
              f'字段数据状态须为如 {{"location": "approximate"}} 的对象；收到 {_short(value)}')
        return
    clean = {}
    for key, status in value.items():
        if key not in keys:
            p.add("field_status", f"field_status key {str(key)!r} is not a field; valid: location, "
                  "amenities, charging, hours, ... (any station field)",
                  f"字段数据状态的键 {str(key)!r} 不是站点字段；有效值：location、amenities、charging、hours 等")
        elif status not in DATA_STATUSES:
            p.add("field_status", f"field_status[{key!r}] must be one of {', '.join(DATA_STATUSES)}; "
                  f"got {_short(status)}",
                  f"字段数据状态 {key!r} 须为 {'、'.join(DATA_STATUSES)} 之一；收到 {_short(status)}")
        else:
            clean[key] = status
    out["field_status"] = clean


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
    if moved and "county" not in changes and _to_float(lon) is not None and _to_float(lat) is not None \
            and math.isfinite(float(lon)) and math.isfinite(float(lat)):
        code = county_for_location(float(lon), float(lat))
        if code is not None:
            merged["county"] = code
    return merged


def station_summary(record: Mapping[str, Any]) -> str:
    """One line for logs and CLI tables: ``id name (county_name, kind)``."""
    return f"{record.get('id')} {record.get('name')} ({record.get('county_name')}, {record.get('kind')})"
