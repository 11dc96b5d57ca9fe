"""Interface strings in Chinese (default) and English.

The language is ``?lang=zh|en`` on any page, remembered in a ``lang`` cookie; without
either the pages are in Chinese. Templates call ``t("key")``; the drivers' map receives
the strings it needs as JSON (:func:`js_strings`).
"""

from __future__ import annotations

from flask import g, request

from planner.stations import AMENITY_LABELS as _AMENITY_EN_ZH
from planner.stations import KIND_LABELS as _KIND_EN_ZH
from planner.stations import localized_fields

#: planner keeps (English, Chinese); this module keeps (Chinese, English).
AMENITY_LABELS: dict[str, tuple[str, str]] = {k: (zh, en) for k, (en, zh) in _AMENITY_EN_ZH.items()}
KIND_LABELS: dict[str, tuple[str, str]] = {k: (zh, en) for k, (en, zh) in _KIND_EN_ZH.items()}

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
COOKIE = "lang"

#: key -> (zh, en). Placeholders use str.format names.
STRINGS: dict[str, tuple[str, str]] = {
    # shell
    "app_name": ("驿站 · 司机之家", "Yizhan · Driver's Homes"),
    "driver_title": ("司机之家地图", "Driver's Home map"),
    "planner_title": ("规划地图", "Planning map"),
    "admin_title": ("站点管理", "Station admin"),
    "banner_illustrative": ("示意数据，非官方", "Illustrative data, not official"),
    "banner_more": (
        "站点位置与设施为示意或近似，请以现场为准。",
        "Station locations and services are illustrative or approximate; check on site.",
    ),
    "switch_lang": ("English", "中文"),
    "skip_map": ("跳到列表", "Skip to list"),
    # driver map
    "locate": ("定位我", "Locate me"),
    "locating": ("正在定位…", "Locating…"),
    "locate_failed": ("无法定位：{reason}。请点击地图选择位置。", "Could not locate you: {reason}. Tap the map instead."),
    "tap_hint": ("点击地图或「定位我」，查找最近的司机之家（按公路距离）。",
                 "Tap the map or \"Locate me\" to find the nearest Driver's Homes by road."),
    "tab_nearest": ("附近", "Nearby"),
    "tab_along": ("沿途", "Along my route"),
    "filters": ("筛选", "Filters"),
    "open_now": ("营业中", "Open now"),
    "power_600": ("充电 ≥600 kW", "Charging ≥ 600 kW"),
    "power_1000": ("兆瓦超充 ≥1000 kW", "Megawatt ≥ 1000 kW"),
    "free_basics": ("免费基础服务", "Free basics"),
    "loading": ("加载中…", "Loading…"),
    "no_results": ("附近没有符合条件的司机之家，试试减少筛选条件。",
                   "No Driver's Home matches; try fewer filters."),
    "error": ("出错了：{message}", "Something went wrong: {message}"),
    "road_km": ("公路 {km} 公里", "{km} km by road"),
    "drive_min": ("约 {min} 分钟", "about {min} min"),
    "from_here": ("距所选位置", "from the chosen point"),
    "your_point": ("所选位置", "Chosen point"),
    "route_to": ("到 {name} 的路线", "Route to {name}"),
    "show_card": ("详情", "Details"),
    "close": ("关闭", "Close"),
    # station card
    "card_services": ("服务", "Services"),
    "card_free": ("免费基础服务", "Free basics"),
    "card_extras": ("其他设施", "Extras"),
    "card_charging": ("充电", "Charging"),
    "card_no_charging": ("无充电桩", "No charging"),
    "card_bays": ("{count} 个 × {kw} kW", "{count} × {kw} kW"),
    "card_total_kw": ("总功率 {kw} kW", "Total {kw} kW"),
    "card_swap": ("可换电", "Battery swap"),
    "card_parking": ("货车车位", "Truck bays"),
    "card_hours": ("营业时间", "Hours"),
    "card_24h": ("24 小时", "24 h"),
    "card_phone": ("电话", "Phone"),
    "card_address": ("地址", "Address"),
    "card_corridor": ("线路", "Corridor"),
    "card_county": ("所在区县", "County"),
    "card_status": ("数据状态", "Data status"),
    "card_as_of": ("更新于", "As of"),
    "call_12328": ("拨打 12328 交通服务热线", "Call 12328 transport hotline"),
    "nav_amap": ("高德导航", "Navigate (Amap)"),
    "nav_baidu": ("百度导航", "Navigate (Baidu)"),
    "call_station": ("致电站点", "Call the station"),
    # along route
    "along_from": ("起点", "From"),
    "along_from_hint": ("起点：先点击地图或定位", "From: tap the map or locate first"),
    "along_to": ("目的地（站点或城镇）", "Destination (station or town)"),
    "along_pick_on_map": ("在地图上点选目的地", "Pick the destination on the map"),
    "along_pick_now": ("请点击地图选择目的地", "Tap the map to choose the destination"),
    "along_detour": ("最大绕行", "Max detour"),
    "along_go": ("查找沿途站点", "Find stations on the way"),
    "along_need_from": ("请先选择起点（点击地图或定位）。", "Choose a start first (tap the map or locate)."),
    "along_need_to": ("请选择目的地。", "Choose a destination."),
    "along_unknown_to": ("找不到目的地「{name}」，请从列表中选择。", "Unknown destination \"{name}\"; pick one from the list."),
    "along_summary": ("全程 {km} 公里，约 {min} 分钟；沿途 {n} 个站点（绕行 ≤ {d} 公里）",
                      "{km} km, about {min} min; {n} stations within {d} km detour"),
    "along_at_km": ("第 {km} 公里", "at km {km}"),
    "along_detour_km": ("绕行 {km} 公里", "detour {km} km"),
    "along_limit": ("连续驾驶 4 小时处（第 {km} 公里），须在此前休息", "4 h of driving ends here (km {km}): rest before"),
    "along_no_limit": ("全程驾驶不超过 {h} 小时。", "The whole trip is under {h} h of driving."),
    "along_none": ("沿途没有站点，请增大绕行距离。", "No station on the way; allow a longer detour."),
    # data status
    "status_verified": ("已核实", "verified"),
    "status_approximate": ("近似", "approximate"),
    "status_illustrative": ("示意", "illustrative"),
    # planner page
    "pl_layers": ("图层", "Layers"),
    "pl_counties": ("区县", "Counties"),
    "pl_corridors": ("通道（按最近站点公路距离着色）", "Corridors (road km to nearest station)"),
    "pl_gaps": ("覆盖空白", "Coverage gaps"),
    "pl_grid": ("网格（需求加权驾驶时间）", "Grid cells (demand-weighted drive time)"),
    "pl_stations": ("现有站点", "Stations"),
    "pl_candidates": ("候选站点", "Candidates"),
    "pl_new_sites": ("建议新站点", "Suggested sites"),
    "pl_radius": ("覆盖半径 R（公里）", "Radius R (km)"),
    "pl_method": ("方法", "Method"),
    "pl_k": ("新站点数 k", "New sites k"),
    "pl_run": ("运行建议", "Run suggestion"),
    "pl_before": ("现状", "Before"),
    "pl_after": ("建议后", "After"),
    "pl_metric": ("指标", "Metric"),
    "pl_coverage": ("通道覆盖", "Corridor coverage"),
    "pl_downloads": ("下载", "Downloads"),
    "pl_report": ("HTML 报告", "HTML report"),
    "pl_unavailable": ("此功能暂不可用：{what}", "Not available yet: {what}"),
    "pl_covered": ("覆盖 {covered} / {total} 公里（{share}%）", "{covered} of {total} km covered ({share}%)"),
    "pl_legend_km": ("到最近站点的公路距离", "Road km to nearest station"),
    "pl_legend_min": ("需求加权平均驾驶时间（分钟）", "Demand-weighted mean drive time (min)"),
    # admin
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login_required": ("请先登录。", "Please log in."),
    "logged_in_as": ("{name}（{role}）", "{name} ({role})"),
    "role_staff": ("工作人员", "staff"),
    "role_admin": ("管理员", "admin"),
    "search": ("搜索", "Search"),
    "search_hint": ("编号、名称、区县或线路", "ID, name, county or corridor"),
    "include_retired": ("包括已停用", "Include retired"),
    "add_station": ("新增站点", "Add station"),
    "edit": ("编辑", "Edit"),
    "history": ("修改记录", "History"),
    "save": ("保存", "Save"),
    "cancel": ("取消", "Cancel"),
    "retire": ("停用站点", "Retire station"),
    "retire_confirm": ("停用后司机地图不再显示此站点。仅管理员可操作。",
                       "A retired station no longer shows on the drivers' map. Admins only."),
    "retired": ("已停用", "retired"),
    "open": ("开放", "open"),
    "saved": ("已保存（版本 {version}）。司机地图已更新。", "Saved (version {version}). The drivers' map shows it now."),
    "added": ("已新增站点 {id}。", "Station {id} added."),
    "retired_ok": ("站点 {id} 已停用。", "Station {id} retired."),
    "no_changes": ("没有修改。", "Nothing changed."),
    "fix_errors": ("请修改标红的字段。", "Please fix the fields marked in red."),
    "forbidden": ("没有权限执行此操作。", "You are not allowed to do this."),
    "csrf_failed": ("表单已过期或来源不明，请刷新页面后重试。", "The form expired or did not come from this site; reload the page and try again."),
    "conflict_title": ("保存冲突：别人已先保存了此站点", "Conflict: someone else saved this station first"),
    "conflict_text": (
        ("未覆盖任何数据。下表左侧是您的修改，右侧是当前存储的版本 {version}（{actor}，{at}）。"
         "可在下方表单中核对后再次保存，或放弃您的修改。"),
        ("Nothing was overwritten. Left: your changes; right: the stored version {version} ({actor}, {at}). "
         "Review them in the form below and save again, or discard your changes."),
    ),
    "conflict_yours": ("您的值", "Your value"),
    "conflict_theirs": ("当前存储的值", "Stored value"),
    "conflict_unchanged": ("您未修改", "not changed by you"),
    "discard": ("放弃我的修改", "Discard my changes"),
    "field": ("字段", "Field"),
    "version": ("版本", "Version"),
    "when": ("时间", "When"),
    "who": ("操作人", "Who"),
    "action": ("操作", "Action"),
    "changes": ("修改内容", "Changes"),
    "before": ("修改前", "Before"),
    "after": ("修改后", "After"),
    "picker_hint": ("点击地图或拖动标记设置位置（WGS-84）。从高德复制的坐标请选 GCJ-02。",
                    "Click the map or drag the marker to set the location (WGS-84). Coordinates copied from Amap are GCJ-02."),
    "coord_sys": ("坐标系", "Coordinate system"),
    "bays_hint": ("每行：数量 × 单桩功率（kW）", "Each row: count × power per bay (kW)"),
    "count": ("数量", "Count"),
    "power_kw": ("功率 kW", "Power kW"),
    "required": ("必填。", "Required."),
    "not_a_number": ("必须是数字。", "Must be a number."),
    "not_an_integer": ("必须是整数。", "Must be a whole number."),
    "not_found": ("找不到该页面或站点。", "No such page or station."),
    "server_error": ("服务器出错，请稍后重试。", "Server error; please try again later."),
    "bad_request": ("请求有误。", "Bad request."),
    # field labels
    "f_id": ("编号", "ID"),
    "f_name": ("名称", "Name"),
    "f_name_en": ("英文名称", "English name"),
    "f_kind": ("类型", "Kind"),
    "f_county": ("区县", "County"),
    "f_corridor": ("线路", "Corridor"),
    "f_address": ("地址", "Address"),
    "f_lon": ("经度", "Longitude"),
    "f_lat": ("纬度", "Latitude"),
    "f_amenities": ("设施", "Amenities"),
    "f_charging": ("充电", "Charging"),
    "f_hours": ("营业时间（24h 或 HH:MM-HH:MM）", "Hours (24h or HH:MM-HH:MM)"),
    "f_phone": ("电话", "Phone"),
    "f_parking_bays": ("货车车位数", "Truck parking bays"),
    "f_daily_trucks": ("日均货车（估计）", "Trucks per day (estimate)"),
    "f_status": ("状态", "Status"),
    "f_data_status": ("数据状态", "Data status"),
    "f_source": ("来源", "Source"),
    "f_notes": ("备注", "Notes"),
    "f_as_of": ("核实日期", "As of"),
    "f_swap": ("换电", "Battery swap"),
    "f_coord_sys": ("坐标系", "Coordinate system"),
    "f_coord_precision_m": ("位置精度（米）", "Location precision (m)"),
    "f_version": ("版本", "Version"),
}

METHOD_LABELS: dict[str, tuple[str, str]] = {
    "kmeans": ("K 均值聚类", "k-means clustering"),
    "p-median": ("p-中位（最小平均驾驶时间）", "p-median (least mean drive time)"),
    "mclp": ("最大覆盖（MCLP）", "maximal covering (MCLP)"),
    "lscp": ("最少站点全覆盖（LSCP）", "set cover (LSCP)"),
}

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "mean_drive_min": ("平均驾驶时间（分钟）", "Mean drive time (min)"),
    "p90_drive_min": ("90 分位驾驶时间（分钟）", "P90 drive time (min)"),
    "share_within_30_min": ("30 分钟内需求占比", "Demand within 30 min"),
    "share_within_60_min": ("60 分钟内需求占比", "Demand within 60 min"),
    "covered_km": ("覆盖里程（公里）", "Covered km"),
    "uncovered_km": ("未覆盖里程（公里）", "Uncovered km"),
    "largest_gap_km": ("最大空白（公里）", "Largest gap (km)"),
}

#: Strings the drivers' map script needs (sent as JSON with the page).
JS_KEYS = (
    "locate", "locating", "locate_failed", "tap_hint", "loading", "no_results", "error", "road_km",
    "drive_min", "your_point", "route_to", "show_card", "close", "card_services", "card_free",
    "card_extras", "card_charging", "card_no_charging", "card_bays", "card_total_kw", "card_swap",
    "card_parking", "card_hours", "card_24h", "card_phone", "card_address", "card_corridor",
    "card_county", "card_status", "card_as_of", "call_12328", "nav_amap", "nav_baidu", "call_station",
    "along_need_from", "along_need_to", "along_unknown_to", "along_summary", "along_at_km",
    "along_detour_km", "along_limit", "along_none", "along_no_limit", "along_pick_now", "along_from", "along_from_hint",
    "status_verified", "status_approximate", "status_illustrative",
)


def _index(lang: str) -> int:
    return 1 if lang == "en" else 0


def get_lang() -> str:
    """The request's language: ``?lang=``, then the ``lang`` cookie, then Chinese."""
    if "lang" in g:
        return g.lang
    lang = request.args.get("lang") or request.cookies.get(COOKIE) or DEFAULT_LANG
    g.lang = lang if lang in LANGS else DEFAULT_LANG
    return g.lang


def t(key: str, lang: str | None = None, **kwargs) -> str:
    """The string ``key`` in the request's language, formatted with ``kwargs``."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[_index(lang or get_lang())]
    return text.format(**kwargs) if kwargs else text


def label(table: dict[str, tuple[str, str]], key: str, lang: str | None = None) -> str:
    """A label from one of the ``*_LABELS`` tables; unknown keys come back as they are."""
    pair = table.get(key)
    return pair[_index(lang or get_lang())] if pair else key


def amenity_label(key: str, lang: str | None = None) -> str:
    return label(AMENITY_LABELS, key, lang)


def kind_label(key: str, lang: str | None = None) -> str:
    return label(KIND_LABELS, key, lang)


def field_label(name: str, lang: str | None = None) -> str:
    """Label of a station field (``f_<name>``), or the name itself."""
    return t("f_" + name, lang) if "f_" + name in STRINGS else name


def js_strings(lang: str) -> dict[str, str]:
    """The strings of :data:`JS_KEYS` plus amenity and kind labels, for the page script."""
    out = {key: STRINGS[key][_index(lang)] for key in JS_KEYS}
    out["amenity"] = {k: v[_index(lang)] for k, v in AMENITY_LABELS.items()}
    out["kind"] = {k: v[_index(lang)] for k, v in KIND_LABELS.items()}
    return out


def field_errors(exc, lang: str | None = None) -> dict[str, str]:
    """Per-field messages of an :class:`~planner.errors.InputError` in the user's language.

    planner attaches Chinese rules as ``fields_zh`` where it has them
    (:func:`planner.stations.localized_fields`); otherwise the English rule is shown.
    """
    return localized_fields(exc, lang or get_lang())


def error_message(exc, lang: str | None = None) -> str:
    """The message of a planner error in the user's language when planner provides one."""
    lang = lang or get_lang()
    if lang == "zh" and getattr(exc, "message_zh", None):
        return exc.message_zh
    return getattr(exc, "message", str(exc))


# ---------------------------------------------------------------------- security strings
# Login throttling (kept in one block; used by webmap.admin).
STRINGS.update({
    "login_throttled": (
        "登录失败次数过多，请在 {seconds} 秒后再试。",
        "Too many failed logins; try again in {seconds} s.",
    ),
})
