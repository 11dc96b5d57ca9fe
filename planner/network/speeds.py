"""Truck speeds of road edges: OSM ``maxspeed`` values, speeds by ``highway`` type, the cap.

Every builder of a :class:`~planner.network.RoadNetwork` that reads tags (:mod:`planner.network.build`
for networkx graphs, :mod:`planner.network.osm` through ``RoadNetwork.from_osm``) takes an edge's
speed from :func:`edge_speed_kmh`, so one rule decides the truck speed of every road.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from planner._validate import positive

__all__ = [
    "DRIVEABLE_HIGHWAYS",
    "FALLBACK_SPEED_KMH",
    "HIGHWAY_SPEED_KMH",
    "TRUCK_SPEED_KMH",
    "check_speed_cap",
    "edge_speed_kmh",
    "parse_maxspeed",
    "tag_values",
]

#: Default cap on truck speed, km/h. Goods vehicles may not exceed 100 km/h on Chinese
#: expressways (道路交通安全法实施条例 Art. 78); loaded heavy trucks cruise slower, so the
#: planner assumes 90 km/h (≈, a planning assumption) unless told otherwise.
TRUCK_SPEED_KMH = 90.0

#: OSM ``highway`` values a truck may drive on, with the speed assumed (km/h, ≈) when a way
#: has no usable ``maxspeed``. Tracks, paths, footways, cycleways, construction and
#: proposed roads are left out.
HIGHWAY_SPEED_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 40.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "road": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 20.0,
}
DRIVEABLE_HIGHWAYS = frozenset(HIGHWAY_SPEED_KMH)
#: Speed for an edge whose highway type is unknown (from_graph on a non-OSM graph), km/h.
FALLBACK_SPEED_KMH = 40.0
_MPH_TO_KMH = 1.609344


def parse_maxspeed(value: Any) -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h.

    Parameters
    ----------
    value
        A tag value such as ``"80"``, ``"60 mph"``, ``"50;70"`` or a list of them (osmnx
        simplification makes lists). Zone codes (``"CN:urban"``), ``"none"``,
        ``"signals"`` and other non-numeric values give ``None``.

    Returns
    -------
    float or None
        The lowest numeric speed found, in km/h (a truck takes the strictest limit).
    """
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return v if math.isfinite(v) and v > 0 else None
    if isinstance(value, (list, tuple, set)):
        parsed = [parse_maxspeed(v) for v in value]
        good = [p for p in parsed if p is not None]
        return min(good) if good else None
    speeds = []
    for part in str(value).replace(",", ";").split(";"):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*", part, flags=re.IGNORECASE)
        if m:
            v = float(m.group(1))
            if m.group(2) and m.group(2).lower() == "mph":
                v *= _MPH_TO_KMH
            if v > 0:
                speeds.append(v)
    return min(speeds) if speeds else None


def tag_values(value: Any) -> list:
    """The values of an OSM-style tag as a list (osmnx simplification makes lists; NaN is none)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, float) and math.isnan(value):
        return []
    return [value]


def edge_speed_kmh(data: dict, cap_kmh: float) -> float:
    """Truck speed of one edge: explicit speed, else maxspeed(:hgv), else highway default."""
    speed = None
    for key in ("speed_kmh", "speed_kph"):
        if key in data:
            speed = parse_maxspeed(data[key])
            if speed is not None:
                break
    if speed is None:
        speed = parse_maxspeed(data.get("maxspeed:hgv"))
    if speed is None:
        speed = parse_maxspeed(data.get("maxspeed"))
    if speed is None:
        defaults = [HIGHWAY_SPEED_KMH[h] for h in tag_values(data.get("highway")) if h in HIGHWAY_SPEED_KMH]
        speed = max(defaults) if defaults else FALLBACK_SPEED_KMH
    return float(min(speed, cap_kmh))


def check_speed_cap(truck_speed_kmh: float | None) -> float:
    """The truck speed cap, km/h: :data:`TRUCK_SPEED_KMH` when None, else a checked positive number."""
    if truck_speed_kmh is None:
        return TRUCK_SPEED_KMH
    return positive(truck_speed_kmh, "truck_speed_kmh", unit="km/h")
