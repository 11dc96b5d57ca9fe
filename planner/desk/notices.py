"""Notices (推送) to drivers in chosen grids, along a corridor stretch, or within a radius.

A notice has a kind (weather warning, policy, case warning, road closure), a title, a body,
a target and a validity period. Its target becomes one WGS-84 polygon when it is created
(buffers measured in the region's UTM zone), so "which notices are in force here?" is one
point-in-polygon test per notice. Reach is the number of distinct devices that fetched the
notice: the drivers' map keeps a random id in the browser's localStorage, the server stores only
a salted SHA-256 of it (no personal data, no IP address).
"""

from __future__ import annotations

import datetime as dt
import re

import shapely
from shapely import wkb
from shapely.ops import substring

from planner.desk.calendar import REGION_TZ, as_region_time
from planner.errors import InputError
from planner.projection import project, project_geometry, unproject_geometry, utm_crs_for

KINDS = {
    "weather": ("天气预警", "Weather warning"),
    "policy": ("政策宣传", "Policy"),
    "case_warning": ("案例警示", "Case warning"),
    "road_closure": ("道路管制", "Road closure"),
}
DEFAULT_CORRIDOR_BUFFER_KM = 2.0
MAX_RADIUS_KM = 300.0
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _err(field, en, zh):
    return InputError(f"{field}: {en}", fields={field: f"{zh} / {en}"})


def _km(value, field, hi):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _err(field, f"must be a number of km, got {value!r}", "须为公里数") from None
    if not 0 <= x <= hi:
        raise _err(field, f"must be between 0 and {hi} km, got {x}", f"须在 0 到 {hi} 公里之间")
    return x


def target_area(target: dict, *, grids, corridors) -> shapely.Geometry:
    """The polygon a target covers.

    ``{"grids": [id, ...]}``, ``{"corridor": id, "from_km": a, "to_km": b[, "buffer_km": 2]}``
    or ``{"lon": x, "lat": y, "radius_km": r}``.
    """
    if not isinstance(target, dict) or not target:
        raise _err("target", "give grids, a corridor stretch or a point and radius", "请选择网格、路段或半径范围")
    if "grids" in target:
        ids = target["grids"]
        if isinstance(ids, str):
            ids = [i for i in ids.split(",") if i.strip()]
        if not isinstance(ids, list) or not ids:
            raise _err("target.grids", "give at least one grid id", "请至少选择一个网格")
        return shapely.union_all([grids.geometry(str(i).strip()) for i in ids])
    if "corridor" in target:
        cid = str(target["corridor"])
        match = corridors[corridors["id"].astype(str) == cid]
        if match.empty:
            raise _err("target.corridor", f"unknown corridor {cid!r}; corridors: {', '.join(corridors['id'].astype(str))}",
                       "未知路段")
        line = match.geometry.iloc[0]
        c = line.centroid
        crs = utm_crs_for(c.x, c.y)
        line_m = project_geometry(line, crs)
        length_km = line_m.length / 1000
        a = _km(target.get("from_km", 0), "target.from_km", length_km + 1e-6)
        b = _km(target.get("to_km", length_km), "target.to_km", length_km + 1e-6)
        if b <= a:
            raise _err("target.to_km", f"must be after from_km ({a})", "终点里程须大于起点")
        buf = _km(target.get("buffer_km", DEFAULT_CORRIDOR_BUFFER_KM), "target.buffer_km", 50)
        piece = substring(line_m, a * 1000, b * 1000)
        return unproject_geometry(piece.buffer(max(buf, 0.05) * 1000), crs)
    if "radius_km" in target:
        from planner.coords import check_lonlat

        from planner.desk import _num

        lon, lat = check_lonlat(_num(target.get("lon")), _num(target.get("lat")))
        r = _km(target["radius_km"], "target.radius_km", MAX_RADIUS_KM)
        if r <= 0:
            raise _err("target.radius_km", "must be more than 0", "须大于 0")
        crs = utm_crs_for(lon, lat)
        x, y = project(lon, lat, crs)
        return unproject_geometry(shapely.Point(x, y).buffer(r * 1000, quad_segs=32), crs)
    raise _err("target", "give grids, a corridor stretch or a point and radius", "请选择网格、路段或半径范围")


def validate_notice(payload: dict, *, grids, corridors, actor: str, now: dt.datetime | None = None) -> dict:
    """A notice ready to store (area computed), or InputError naming what is wrong."""
    if not isinstance(payload, dict):
        raise InputError("the body must be a JSON object", fields={"body": "must be a JSON object"})
    now = now or dt.datetime.now(REGION_TZ)
    kind = payload.get("kind")
    if kind not in KINDS:
        raise _err("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}", "请选择推送类型")
    out = {"kind": kind}
    for field, n in (("title", 100), ("body", 2000)):
        v = payload.get(field)
        if not isinstance(v, str) or not v.strip():
            raise _err(field, "required", "必填")
        if len(v.strip()) > n:
            raise _err(field, f"at most {n} characters", f"最多 {n} 个字")
        out[field] = v.strip()
    vf = as_region_time(payload["valid_from"], "valid_from") if payload.get("valid_from") else now
    if not payload.get("valid_to"):
        raise _err("valid_to", "required (end of validity)", "请填写有效期截止时间")
    vt = as_region_time(payload["valid_to"], "valid_to")
    if vt <= vf:
        raise _err("valid_to", "must be after valid_from", "截止时间须晚于开始时间")
    target = payload.get("target")
    area = target_area(target, grids=grids, corridors=corridors)
    out.update(target=target, area_wkb=wkb.dumps(area), valid_from=vf.isoformat(timespec="seconds"),
               valid_to=vt.isoformat(timespec="seconds"), created_by=actor,
               created_at=now.isoformat(timespec="seconds"),
               data_status=payload.get("data_status", "verified") if actor == "illustrative" else "verified",
               source=payload.get("source") or f"desk notice by {actor}")
    return out


def in_force(notices: list[dict], lon: float, lat: float, *, now: dt.datetime) -> list[dict]:
    """The notices whose period includes ``now`` and whose area contains the point."""
    pt = shapely.Point(lon, lat)
    out = []
    for n in notices:
        if not (as_region_time(n["valid_from"]) <= now <= as_region_time(n["valid_to"])):
            continue
        if wkb.loads(bytes(n["area_wkb"])).intersects(pt):
            out.append(n)
    return out


def public_notice(n: dict, lang: str = "zh") -> dict:
    i = 1 if lang == "en" else 0
    return {"id": n["id"], "kind": n["kind"], "kind_label": KINDS[n["kind"]][i], "title": n["title"], "body": n["body"],
            "valid_from": n["valid_from"], "valid_to": n["valid_to"], "data_status": n["data_status"]}


def staff_notice(n: dict, lang: str = "zh") -> dict:
    out = public_notice(n, lang)
    out.update(target=n["target"], created_by=n["created_by"], created_at=n["created_at"], source=n["source"],
               reach_devices=int(n.get("reach_devices") or 0), reach_reported=int(n.get("reach_reported") or 0))
    return out


def check_device(device) -> str | None:
    """A device id from the browser (random, 16-64 letters/digits/-/_), or None when absent."""
    if device in (None, ""):
        return None
    if not isinstance(device, str) or not DEVICE_RE.match(device):
        raise _err("device", "must be 16-64 letters, digits, - or _ (a random id)", "设备标识格式不正确")
    return device
