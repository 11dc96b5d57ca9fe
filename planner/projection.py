"""Coordinate reference systems: storage in WGS-84, measurement in a local projected CRS.

Every region (and every road network) measures in its *own* projected CRS: the UTM zone that
contains its centre unless it declares another. Nothing else in the package names a zone.

>>> utm_crs_for(104.7, 31.5)
'EPSG:32648'
>>> utm_crs_for(-122.4, 37.8), utm_crs_for(151.2, -33.9)
('EPSG:32610', 'EPSG:32756')
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from pyproj import Transformer

WGS84 = "EPSG:4326"


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the WGS-84 / UTM zone containing ``(lon, lat)`` (north 326xx, south 327xx)."""
    lon, lat = float(lon), float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"not a WGS-84 position: lon={lon}, lat={lat}")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


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
