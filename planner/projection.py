"""Coordinate reference systems: storage in WGS-84, measurement in a local projected CRS.

Every region (and every road network) measures in its *own* projected CRS: the UTM zone that
contains its centre unless it declares another. Nothing else in the package names a zone.
Lengths read from real road data are geodesic (on the WGS-84 ellipsoid, :func:`geodesic_m`).

>>> utm_crs_for(104.7, 31.5)
'EPSG:32648'
>>> utm_crs_for(-122.4, 37.8), utm_crs_for(151.2, -33.9)
('EPSG:32610', 'EPSG:32756')
>>> crs_for_extent([11.0, 11.9], [48.0, 48.3])
'EPSG:32632'
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Geod, Transformer

from planner.errors import InputError

WGS84 = "EPSG:4326"
#: The WGS-84 ellipsoid, for geodesic lengths.
GEOD = Geod(ellps="WGS84")


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the WGS-84 / UTM zone containing ``(lon, lat)`` (north 326xx, south 327xx)."""
    lon, lat = float(lon), float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"not a WGS-84 position: lon={lon}, lat={lat}")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def crs_for_extent(lons: Any, lats: Any) -> str:
    """UTM zone (EPSG code) of the centre of the extent of WGS-84 points."""
    lons = np.asarray(lons, dtype=float).reshape(-1)
    lats = np.asarray(lats, dtype=float).reshape(-1)
    ok = np.isfinite(lons) & np.isfinite(lats)
    if not ok.any():
        raise InputError("no finite coordinates to choose a measuring CRS from", fields={"crs": "needs data or an explicit CRS"})
    lons, lats = lons[ok], lats[ok]
    return utm_crs_for((lons.min() + lons.max()) / 2.0, (lats.min() + lats.max()) / 2.0)


@lru_cache(maxsize=64)
def check_crs(crs: Any) -> str:
    """A projected CRS in metres, as an authority string (``"EPSG:32648"``) or WKT.

    Raises
    ------
    InputError
        For an unknown CRS, or one that is geographic or not in metres (distances would be
        wrong): the message says to give a projected CRS such as the local UTM zone.
    """
    try:
        c = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError and friends
        raise InputError(f"unknown CRS {crs!r}: {exc}", fields={"crs": "a projected CRS, e.g. the local UTM zone (EPSG:326xx north, 327xx south)"}) from None
    units = {ax.unit_name for ax in c.axis_info}
    if not c.is_projected or units - {"metre"}:
        raise InputError(
            f"CRS {crs!r} is not a projected CRS in metres; distances are measured in one "
            "(use the local UTM zone, e.g. planner.projection.utm_crs_for(lon, lat))",
            fields={"crs": "projected, metres"},
        )
    auth = c.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else c.to_wkt()


@lru_cache(maxsize=None)
def transformer(src: str, dst: str) -> Transformer:
    """A cached, always-(x, y) pyproj transformer from ``src`` to ``dst``."""
    return Transformer.from_crs(src, dst, always_xy=True)


def project(lon: Any, lat: Any, crs: str) -> tuple[Any, Any]:
    """WGS-84 lon/lat → metres in ``crs`` (scalars or arrays)."""
    return transformer(WGS84, crs).transform(lon, lat)


def unproject(x: Any, y: Any, crs: str) -> tuple[Any, Any]:
    """Metres in ``crs`` → WGS-84 lon/lat (scalars or arrays)."""
    return transformer(crs, WGS84).transform(x, y)


def project_geometry(geom: Any, crs: str) -> Any:
    """A WGS-84 shapely geometry in metres of ``crs`` (every vertex through :func:`project`)."""
    import shapely

    return shapely.transform(geom, lambda xy: np.column_stack(project(xy[:, 0], xy[:, 1], crs)))


def unproject_geometry(geom: Any, crs: str) -> Any:
    """A shapely geometry in metres of ``crs`` back in WGS-84 (every vertex through :func:`unproject`)."""
    import shapely

    return shapely.transform(geom, lambda xy: np.column_stack(unproject(xy[:, 0], xy[:, 1], crs)))


def geodesic_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> np.ndarray:
    """Geodesic distance on the WGS-84 ellipsoid between point pairs, metres (arrays)."""
    _, _, d = GEOD.inv(np.asarray(lon1, float), np.asarray(lat1, float), np.asarray(lon2, float), np.asarray(lat2, float))
    return np.asarray(d, dtype=float)


def polyline_lengths_m(coords: list[np.ndarray]) -> np.ndarray:
    """Geodesic length of each polyline (``(k, 2)`` arrays of lon/lat), metres, vectorised."""
    if not coords:
        return np.zeros(0)
    counts = np.array([len(c) for c in coords], dtype=np.int64)
    xy = np.concatenate(coords, axis=0)
    seg = geodesic_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    ends = np.cumsum(counts)
    valid = np.ones(seg.size, dtype=bool)
    valid[ends[:-1] - 1] = False  # the step from one polyline's last point to the next's first
    seg = np.where(valid, seg, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(seg)])
    starts = ends - counts
    return csum[ends - 1] - csum[starts]
