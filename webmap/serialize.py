"""Station records → GeoJSON features (API) and compact rows (drivers' map).

Records are the registry's dicts (see the contract: ``stations --json``). Nothing here
computes geometry; coordinates pass through as stored (WGS-84).
"""

from __future__ import annotations

from planner.coords import amap_nav_url, baidu_nav_url


def etag(record: dict) -> str:
    """The strong ETag of a stored station: its version, quoted (``"3"``)."""
    return f'"{int(record["version"])}"'


def feature(record: dict) -> dict:
    """A station as a GeoJSON Feature; every record field is a property (``version`` included)."""
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
        "properties": dict(record),
    }


def feature_collection(records: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": [feature(r) for r in records]}


def compact(record: dict) -> dict:
    """A station for the drivers' map: short keys, only what the map and card show.

    Keys: ``i`` id, ``n`` name, ``ne`` English name, ``x``/``y`` lon/lat (WGS-84, 5 decimals,
    ~1 m), ``k`` kind, ``co`` corridor, ``cn`` county name, ``ad`` address, ``a`` offered
    amenity keys, ``b`` charging bays ``[count, power_kw]``, ``tk`` total kW, ``mk`` max kW,
    ``sw`` battery swap, ``h`` hours, ``p`` phone, ``pb`` truck bays, ``ds`` data status,
    ``d`` as-of date, ``na``/``nb`` Amap/Baidu navigation links (GCJ-02 / BD-09).
    """
    charging = record.get("charging") or {}
    name = record.get("name") or record["id"]
    row = {
        "i": record["id"],
        "n": name,
        "ne": record.get("name_en"),
        "x": round(float(record["lon"]), 5),
        "y": round(float(record["lat"]), 5),
        "k": record.get("kind"),
        "co": record.get("corridor"),
        "cn": record.get("county_name"),
        "ad": record.get("address"),
        "a": sorted(k for k, v in (record.get("amenities") or {}).items() if v),
        "b": [[int(b["count"]), float(b["power_kw"])] for b in charging.get("bays") or []],
        "tk": charging.get("total_kw") or 0,
        "mk": charging.get("max_power_kw") or 0,
        "sw": bool(charging.get("swap")),
        "h": record.get("hours"),
        "p": record.get("phone"),
        "pb": record.get("parking_bays"),
        "ds": record.get("data_status"),
        "d": record.get("as_of"),
        "na": amap_nav_url(record["lon"], record["lat"], name),
        "nb": baidu_nav_url(record["lon"], record["lat"], name),
    }
    return {k: v for k, v in row.items() if v not in (None, "", [])}
