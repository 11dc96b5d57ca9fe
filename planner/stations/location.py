"""Where a station may stand: the region's study area, its context band and its counties.

The region's own bounds decide (``region_outline()``: boundary and counties only, loaded once
per process and cached; no demand is generated): a station must lie inside the study area (the
boundary polygon), and a neighbouring region's station registered as external supply (``kind``
``external``, with its ``source``) inside the study area or its context band
(:attr:`planner.region.Region.band`, 50 km by default). Only while the region cannot be loaded
does the bounding box :data:`planner.coords.MIANYANG_BBOX` stand in. A missing ``county`` is
derived from the location when county polygons are available.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from typing import Any

from planner._validate import is_number
from planner.coords import MIANYANG_BBOX, check_coord_system, in_mianyang_bbox, to_wgs84
from planner.errors import InputError, YizhanError
from planner.stations.schema import LEGACY_COUNTY_CODES

_LOADING = threading.local()


def loaded_region(name: str = "mianyang"):
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


def region_available() -> bool:
    """Whether the region's polygons are used for location checks (else bbox only)."""
    return loaded_region() is not None


def location_bounds(*, external: bool = False) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` accepted for station coordinates.

    The extent of the region's study area (``external=False``) or of the study area with its
    context band (``external=True``), rounded outwards to 0.01°; only while the region cannot
    be loaded, :data:`planner.coords.MIANYANG_BBOX`.
    """
    region = loaded_region()
    if region is None:
        return MIANYANG_BBOX
    x0, y0, x1, y1 = region.band_bbox if external else region.bbox
    return (math.floor(x0 * 100) / 100, math.floor(y0 * 100) / 100,
            math.ceil(x1 * 100) / 100, math.ceil(y1 * 100) / 100)


def inside_region(lon: float, lat: float, *, external: bool = False) -> bool:
    """Whether a WGS-84 point is inside the study area (or, ``external=True``, inside the
    study area or its context band); the bounding box only while the region cannot load."""
    region = loaded_region()
    if region is None:
        return in_mianyang_bbox(lon, lat)
    return bool(region.in_band(lon, lat) if external else region.contains(lon, lat))


def region_labels() -> tuple[str, str, float]:
    """English and Chinese name of the region and its context band width (km)."""
    region = loaded_region()
    if region is None:
        return "Mianyang", "绵阳", 0.0
    return (getattr(region, "name_en", None) or region.name.title(), getattr(region, "name_zh", None) or region.name,
            float(region.context_km))


def county_for_location(lon: float, lat: float) -> str | None:
    """County code whose polygon holds the point (nearest within 2 km at borders), or None.

    Returns None when county polygons are unavailable.
    """
    region = loaded_region()
    counties = getattr(region, "counties", None)
    if counties is None or len(counties) == 0 or "code" not in counties:
        return None
    from shapely.geometry import Point

    point = Point(lon, lat)
    hits = counties[counties.geometry.covers(point)]
    if len(hits):
        return normalise_county(str(hits.iloc[0]["code"]))
    # A point on a simplified border: take the nearest county if it is close (~2 km).
    distances = counties.geometry.distance(point)
    best = distances.idxmin()
    if float(distances.loc[best]) <= 0.02:
        return normalise_county(str(counties.loc[best, "code"]))
    return None


def normalise_county(code: str) -> str:
    return LEGACY_COUNTY_CODES.get(code, code)


def record_to_wgs84(record: Mapping[str, Any], coords: str) -> dict:
    """A copy of a station record (or change) with ``lon``/``lat`` converted from ``coords``
    (``"wgs84"``, ``"gcj02"`` for points copied from Amap, ``"bd09"``) to WGS-84 and
    ``coord_sys`` noting the original system.

    Returned unconverted when the record is WGS-84 already or its lon/lat are missing or not
    numbers: validation then reports them with the usual messages.

    Raises
    ------
    InputError
        ``fields={"coords": ...}`` for an unknown coordinate system.
    """
    system = check_coord_system(coords)
    out = dict(record)
    if system == "wgs84" or not (is_number(out.get("lon")) and is_number(out.get("lat"))):
        return out
    try:
        out["lon"], out["lat"] = to_wgs84(out["lon"], out["lat"], system)
    except InputError:
        return out  # e.g. NaN: validate_station reports the numbers
    out["coord_sys"] = system
    return out
