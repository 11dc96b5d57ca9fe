"""Coordinate systems: WGS-84 inside, GCJ-02 / BD-09 only at the edges.

Everything Yizhan stores or passes between modules is WGS-84 (EPSG:4326, ``lon, lat``).
Chinese web maps use shifted systems (docs/domain.md §9):

* **GCJ-02** (Amap/Gaode, Tencent): what staff copy from Amap and what Amap deep links need;
* **BD-09** (Baidu): a second shift on top of GCJ-02.

Conversions go through `prcoords <https://pypi.org/project/prcoords/>`_ (public domain),
never hand-rolled formulas. ``prcoords`` takes ``Coords(lat, lon)``; every function here
takes and returns ``(lon, lat)`` and swaps in one place only (:func:`_pc`).

Points outside China's GCJ-02 envelope are returned unchanged by the GCJ-02 functions, as
the official transform does.

Navigation links (:func:`amap_nav_url`, :func:`baidu_nav_url`) take WGS-84 and convert.
"""

from __future__ import annotations

import math
from urllib.parse import quote

import prcoords

from planner._validate import to_float
from planner.errors import InputError

#: Names accepted by ``--coords`` / ``coords=``: what a typed or pasted coordinate is in.
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

#: Mianyang's extent (docs/domain.md §1: ≈103°45′–105°43′E, 30°42′–33°02′N), rounded outwards:
#: (min_lon, min_lat, max_lon, max_lat), WGS-84 degrees.
MIANYANG_BBOX: tuple[float, float, float, float] = (103.75, 30.70, 105.72, 33.05)

#: Decimal places written into navigation links (~0.1 m).
NAV_DECIMALS = 6


def _pc(lon: float, lat: float) -> prcoords.Coords:
    """(lon, lat) -> prcoords' (lat, lon) named tuple: the only place the order swaps."""
    return prcoords.Coords(lat=lat, lon=lon)


def _lonlat(c: prcoords.Coords) -> tuple[float, float]:
    return (float(c.lon), float(c.lat))


def check_lonlat(lon: object, lat: object) -> tuple[float, float]:
    """Check that ``lon, lat`` are finite numbers on the globe.

    Parameters
    ----------
    lon, lat
        Longitude in [-180, 180] and latitude in [-90, 90], degrees. ``int``, ``float`` and
        numpy scalars are accepted; ``bool``, text and NaN/inf are not.

    Returns
    -------
    tuple of float
        ``(lon, lat)`` as Python floats.

    Raises
    ------
    InputError
        With ``fields={"lon"|"lat": rule}`` naming each bad value. The error also carries
        ``fields_zh`` with the same rules in Chinese (see :func:`planner.stations.localized_fields`).
    """
    fields: dict[str, str] = {}
    fields_zh: dict[str, str] = {}
    out = []
    for name, value, low, high in (("lon", lon, -180.0, 180.0), ("lat", lat, -90.0, 90.0)):
        number = to_float(value)  # numbers only: text, bool, None and huge ints are refused
        if number is None or not math.isfinite(number) or not low <= number <= high:
            fields[name] = f"{name} must be a number between {low:g} and {high:g}; got {value!r}"
            label = "经度" if name == "lon" else "纬度"
            fields_zh[name] = f"{label}必须是 {low:g} 到 {high:g} 之间的数字；收到 {value!r}"
        else:
            out.append(number)
    if fields:
        raise InputError("invalid coordinates: " + "; ".join(fields.values()), fields=fields, fields_zh=fields_zh)
    return out[0], out[1]


def in_china(lon: float, lat: float) -> bool:
    """Whether GCJ-02 shifts this point (prcoords' envelope: lon 72.004–137.8347, lat 0.8293–55.8271)."""
    return bool(prcoords.sanity_in_china_p(_pc(lon, lat)))


def in_mianyang_bbox(lon: float, lat: float) -> bool:
    """Whether ``lon, lat`` (WGS-84) fall in :data:`MIANYANG_BBOX`."""
    min_lon, min_lat, max_lon, max_lat = MIANYANG_BBOX
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> GCJ-02 (Amap). Points outside China come back unchanged.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.

    Returns
    -------
    tuple of float
        GCJ-02 ``(lon, lat)``.
    """
    lon, lat = check_lonlat(lon, lat)
    if not in_china(lon, lat):
        return lon, lat
    return _lonlat(prcoords.wgs_gcj(_pc(lon, lat), False))


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS-84, precise (iterative inverse, ``prcoords.gcj_wgs_bored``; < 1 mm).

    Points outside China come back unchanged.
    """
    lon, lat = check_lonlat(lon, lat)
    if not in_china(lon, lat):
        return lon, lat
    return _lonlat(prcoords.gcj_wgs_bored(_pc(lon, lat), False))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> BD-09 (Baidu): GCJ-02 shift (inside China) then Baidu's shift."""
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    return _lonlat(prcoords.gcj_bd(_pc(gcj_lon, gcj_lat)))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> WGS-84, precise (iterative inverse of both shifts)."""
    lon, lat = check_lonlat(lon, lat)
    gcj_lon, gcj_lat = _lonlat(prcoords.bd_gcj_bored(_pc(lon, lat), False))
    return gcj02_to_wgs84(gcj_lon, gcj_lat)


def to_wgs84(lon: float, lat: float, coords: str = "wgs84") -> tuple[float, float]:
    """Convert a typed or pasted coordinate to WGS-84.

    Parameters
    ----------
    lon, lat
        Degrees in the system named by ``coords``.
    coords
        One of :data:`COORD_SYSTEMS`: ``"wgs84"`` (GPS, OSM; returned as is), ``"gcj02"``
        (Amap/Tencent) or ``"bd09"`` (Baidu).

    Raises
    ------
    InputError
        For an unknown ``coords`` name or a non-numeric/out-of-range coordinate.
    """
    return _CONVERT[check_coord_system(coords)][0](lon, lat)


def check_coord_system(coords: object) -> str:
    """Normalise a coordinate-system name (case-insensitive, ``gcj-02`` accepted).

    Raises
    ------
    InputError
        ``fields={"coords": ...}`` listing the valid names.
    """
    name = str(coords).strip().lower().replace("-", "").replace("_", "") if isinstance(coords, str) else None
    aliases = {"wgs84": "wgs84", "gcj02": "gcj02", "bd09": "bd09", "bd09ll": "bd09"}
    if name not in aliases:
        rule = f"coords must be one of {', '.join(COORD_SYSTEMS)}; got {coords!r}"
        raise InputError(rule, fields={"coords": rule},
                         fields_zh={"coords": f"坐标系必须是 {'、'.join(COORD_SYSTEMS)} 之一；收到 {coords!r}"})
    return aliases[name]


def from_wgs84(lon: float, lat: float, coords: str = "wgs84") -> tuple[float, float]:
    """Convert WGS-84 to the system named by ``coords`` (inverse of :func:`to_wgs84`)."""
    return _CONVERT[check_coord_system(coords)][1](lon, lat)


#: system -> (to WGS-84, from WGS-84); WGS-84 itself is only checked.
_CONVERT = {
    "wgs84": (check_lonlat, check_lonlat),
    "gcj02": (gcj02_to_wgs84, wgs84_to_gcj02),
    "bd09": (bd09_to_wgs84, wgs84_to_bd09),
}


def _fmt(value: float) -> str:
    return f"{value:.{NAV_DECIMALS}f}"


def _nav_name(name: object) -> str:
    text = "" if name is None else str(name).strip()
    return quote(text or "目的地", safe="")


def amap_nav_url(lon: float, lat: float, name: str) -> str:
    """Amap (Gaode) driving-navigation link to a WGS-84 point.

    The point is converted to GCJ-02, as Amap expects (``coordinate=gaode``); ``callnative=1``
    opens the Amap app when installed, else the web page. The name is URL-encoded.

    Examples
    --------
    >>> amap_nav_url(104.757, 31.455, "司机之家")  # doctest: +ELLIPSIS
    'https://uri.amap.com/navigation?to=104.7...,31.45...,%E5%8F%B8...&mode=car&coordinate=gaode&callnative=1'
    """
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    return (
        "https://uri.amap.com/navigation?to="
        f"{_fmt(g_lon)},{_fmt(g_lat)},{_nav_name(name)}"
        "&mode=car&coordinate=gaode&callnative=1"
    )


def baidu_nav_url(lon: float, lat: float, name: str, *, app: bool = False) -> str:
    """Baidu Maps driving-directions link to a WGS-84 point (converted to BD-09).

    Parameters
    ----------
    lon, lat
        Destination, WGS-84 degrees.
    name
        Destination label (URL-encoded).
    app
        ``False`` (default): the web URI ``https://api.map.baidu.com/direction?...&output=html``
        that works in any browser; ``True``: the app scheme ``baidumap://map/direction?...``.
    """
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    destination = f"latlng:{_fmt(b_lat)},{_fmt(b_lon)}|name:{_nav_name(name)}"
    if app:
        return (
            f"baidumap://map/direction?destination={destination}"
            "&coord_type=bd09ll&mode=driving&src=yizhan"
        )
    return (
        f"https://api.map.baidu.com/direction?destination={destination}"
        "&coord_type=bd09ll&mode=driving&output=html&src=yizhan"
    )
