"""Interface strings in Chinese (default) and English.

The language is ``?lang=zh|en`` on any page, remembered in a ``lang`` cookie; without
either the pages are in Chinese. Templates call ``t("key")``; the drivers' map receives
the strings it needs as JSON (:func:`js_strings`).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

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
    "along_arrive": ("约 {time} 到达", "there about {time}"),
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
    "pl_ev_flows": ("电动重卡货流（续航{range_km:.0f}公里，示意）", "E-truck flows (range {range_km:.0f} km, illustrative)"),
    "pl_ev_sites": ("兆瓦充电站点（现有+新增{k}处）", "Megawatt charging sites (existing + {k} new)"),
    "pl_ev_flow_tip": ("{volume:.0f} 辆/日 · {state} · 最大间距 {gap:.0f} 公里",
                       "{volume:.0f} trucks/day · {state} · largest gap {gap:.0f} km"),
    "pl_ev_ok": ("往返可行", "round trip feasible"),
    "pl_ev_no": ("往返不可行", "round trip not feasible"),
    "pl_ev_existing": ("现有", "existing"),
    "pl_ev_new": ("新增", "new"),
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
    # planners' map (static/planner.js draws these as text)
    "pl_corridors_plain": ("通道", "Corridors"),
    "pl_after_suffix": ("（建议后）", " (after)"),
    "pl_gaps_before": ("现状空白（建议前）", "Gaps before"),
    "pl_gap_tip": ("{corridor} 第 {a}–{b} 公里空白（{length} 公里）", "{corridor} km {a}–{b}: gap of {length} km"),
    "pl_run_tip": ("{corridor} 第 {a}–{b} 公里：到最近站点 {band}", "{corridor} km {a}–{b}: {band} to the nearest station"),
    "pl_cell": ("{county} {n} 号网格", "{county} cell {n}"),
    "pl_cell_tip": ("{cell}：平均驾驶 {minutes} 分钟，格内 {stations} 站", "{cell}: mean drive {minutes} min, {stations} station(s)"),
    "pl_cell_empty": ("{cell}：无需求", "{cell}: no demand"),
    "pl_source": ("来源", "Source"),
    "pl_results": ("建议结果", "Suggestion results"),
    "pl_map_after": ("地图显示建议后的覆盖与新站点。", "The map shows coverage after the suggestion, with the new sites."),
    "pl_no_gain": ("{what}没有改善：", "No improvement in {what}: "),
    "pl_what_coverage": ("通道覆盖", "corridor coverage"),
    "pl_what_access": ("平均驾驶时间", "mean drive time"),
    "pl_why_no_gap_site": ("没有一个新站点位于覆盖空白中（半径 R = {radius} 公里），新站点所在路段本已被现有站点覆盖。",
                           "none of the new sites lies in a coverage gap (R = {radius} km); they sit on corridor stretches existing stations already cover."),
    "pl_why_gap_short": ("新站点位于空白中，但空白的其余部分仍距任何站点超过 R。",
                         "a new site lies in a gap, but the rest of the gap is still beyond R of every station."),
    "pl_why_access_close": ("新站点离现有站点太近（最近 {km} 公里），对需求点而言最近站点没有变。",
                            "the new sites are close to existing stations (nearest {km} km by road), so no demand point gets a nearer station."),
    "pl_why_method_kmeans": ("K 均值只把站点放在需求重心，不考虑现有站点和空白；要填补空白请用 LSCP 或 MCLP。",
                             "k-means puts sites at the centres of demand without looking at existing stations or gaps; to close gaps use LSCP or MCLP."),
    "pl_why_method_pmedian": ("p-中位只减少平均驾驶时间，不以填补通道空白为目标；要填补空白请用 LSCP。",
                              "p-median lowers mean drive time and does not aim at corridor gaps; to close gaps use LSCP."),
    "pl_why_method_mclp": ("MCLP 最大化 R 内的需求，空白路段上几乎没有需求时不会去填补；要填补空白请用 LSCP。",
                           "MCLP maximises demand within R and leaves gaps with little demand open; to close gaps use LSCP."),
    "pl_why_method_lscp": ("LSCP 以最少站点填补空白，不以缩短平均驾驶时间为目标；要缩短驾驶时间请用 p-中位。",
                           "LSCP closes gaps with the fewest sites and does not aim at mean drive time; for that use p-median."),
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
    "along_need_from", "along_need_to", "along_unknown_to", "along_summary", "along_at_km", "along_arrive",
    "along_detour_km", "along_limit", "along_none", "along_no_limit", "along_pick_now", "along_from", "along_from_hint",
    "status_verified", "status_approximate", "status_illustrative",
)


# ---------------------------------------------------------------------- drivers' map on a phone
# (issue 11: orientation, bottom sheet, open/closed, place search, errors in the page's language)
PHONE_STRINGS: dict[str, tuple[str, str]] = {
    "locate_failed": ("无法定位（{reason}）。请在下方输入地名，或点击地图选择位置。",
                      "Could not locate you ({reason}). Type a place below or tap the map."),
    "geo_denied": ("未获得定位权限", "location permission was denied"),
    "geo_unavailable": ("暂时收不到定位信号", "no position signal right now"),
    "geo_timeout": ("定位超时", "locating took too long"),
    "geo_unsupported": ("此浏览器不支持定位", "this browser cannot locate"),
    "place_open": ("输入地名", "Type a place"),
    "place_label": ("我在哪里（地名）", "Where am I (place name)"),
    "place_hint": ("如：江油、平武、三台、新安服务区", "e.g. Jiangyou, Pingwu, Santai, Xin'an"),
    "place_none": ("没有找到「{q}」，试试县名、镇名或服务区名。", "Nothing found for \"{q}\"; try a county, town or service area."),
    "place_chosen": ("位置：{name}", "Position: {name}"),
    "your_position": ("我的位置", "My position"),
    "filters_all": ("全部筛选", "All filters"),
    "filters_less": ("收起", "Fewer"),
    "open_badge": ("营业中", "Open"),
    "closed_until": ("已关闭 · {time} 开门", "Closed · opens {time}"),
    "closed_tomorrow": ("已关闭 · 明天 {time} 开门", "Closed · opens tomorrow {time}"),
    "near": ("{place}附近", "near {place}"),
    "card_location": ("位置", "Location"),
    "route_failed": ("路线暂时无法显示。", "The route cannot be shown right now."),
    "err_outside": ("该位置不在绵阳市服务范围内，暂时无法查询。请点选绵阳市内的位置，或输入地名。",
                    "This point is outside the Mianyang service area. Tap a point inside Mianyang or type a place name."),
    "err_point": ("位置无效，请重新点选地图或输入地名。", "That position is not valid; tap the map again or type a place name."),
    "err_filter": ("筛选条件无效，请清除筛选后重试。", "A filter is not valid; clear the filters and try again."),
    "err_detour": ("绕行距离须在 0 到 100 公里之间。", "The detour must be between 0 and 100 km."),
    "err_k": ("结果数量须在 1 到 50 之间。", "The number of results must be between 1 and 50."),
    "err_not_found": ("该站点已不存在，请刷新页面。", "This station no longer exists; reload the page."),
    "err_busy": ("查询太频繁，请稍后再试。", "Too many requests; try again in a moment."),
    "err_network": ("网络连接失败，请检查网络后重试。", "No connection; check the network and try again."),
    "err_generic": ("暂时无法查询（错误 {status}），请稍后重试。", "Cannot answer right now (error {status}); try again later."),
    "err_place_query": ("请输入地名（至多 40 个字）。", "Type a place name (at most 40 characters)."),
}
STRINGS.update(PHONE_STRINGS)

# ---------------------------------------------------------------------- staff pages on a phone
STAFF_STRINGS: dict[str, tuple[str, str]] = {
    "f_location": ("位置", "Location"),
    "empty_value": ("（空）", "(empty)"),
    "china_time": ("北京时间", "China time"),
    "action_seed": ("初始数据", "seeded"),
    "action_add": ("新增", "added"),
    "action_update": ("修改", "changed"),
    "action_retire": ("停用", "retired"),
    "action_restore": ("恢复", "restored"),
}
STRINGS.update(STAFF_STRINGS)
_NONE = re.compile(r"(?<![A-Za-z_])None(?![A-Za-z_])")


def china_time(value, lang: str | None = None) -> str:
    """A stored UTC ISO timestamp as ``YYYY-MM-DD HH:MM`` in China time (text kept if unparsable)."""
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "—")
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(_region_zone()).strftime("%Y-%m-%d %H:%M")


def _region_zone() -> ZoneInfo:
    """The time zone of the app's region (times are stored in UTC and shown in local time)."""
    from planner.clock import zone
    from webmap.state import get_workspace

    return zone(get_workspace().region.timezone)


def action_label(action: str, lang: str | None = None) -> str:
    """An audit action (seed, add, update, retire) in the user's language."""
    key = f"action_{action}"
    return t(key, lang) if key in STRINGS else str(action)
#: Used by the template only (not sent to the script).
_TEMPLATE_ONLY = ("place_open", "place_label", "place_hint")
JS_KEYS = tuple(k for k in JS_KEYS if k != "error") + tuple(
    k for k in PHONE_STRINGS if k not in JS_KEYS and k not in _TEMPLATE_ONLY)


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
    (:func:`planner.stations.localized_fields`); otherwise the English rule is shown. A value
    left empty is named as such, not as Python's ``None``.
    """
    lang = lang or get_lang()
    empty = t("empty_value", lang)
    return {k: _NONE.sub(empty, v) for k, v in localized_fields(exc, lang).items()}


def error_message(exc, lang: str | None = None) -> str:
    """The message of a planner error in the user's language when planner provides one."""
    lang = lang or get_lang()
    if lang == "zh" and getattr(exc, "message_zh", None):
        return exc.message_zh
    return getattr(exc, "message", str(exc))


STRINGS.update({
    "retire_conflict": (
        "站点 {id} 已被他人修改，未停用。请查看最新内容后再操作。",
        "Station {id} was changed by someone else meanwhile and was not retired; review the latest version and try again.",
    ),
})


# ---------------------------------------------------------------------- security strings
# Login throttling (kept in one block; used by webmap.admin).
STRINGS.update({
    "login_throttled": (
        "登录失败次数过多，请在 {seconds} 秒后再试。",
        "Too many failed logins; try again in {seconds} s.",
    ),
})
