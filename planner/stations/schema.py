"""The station record: its fields, vocabularies, labels and limits (no behaviour).

A station record is a plain ``dict`` whose keys are :data:`FIELDS`; the vocabularies
(:data:`AMENITIES`, :data:`KINDS`, :data:`COUNTIES`, ...) and the limits used by
:mod:`planner.stations.validate` are defined here once, for the registry, the GIS readers,
the CLI and the web forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")

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


def is_external(record: Mapping[str, Any]) -> bool:
    """Whether a station is a neighbouring region's, registered as external supply."""
    return record.get("kind") == EXTERNAL_KIND
