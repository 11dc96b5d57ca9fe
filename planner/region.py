"""A planning region: boundary, counties, corridors, anchors, stations, grid and demand.

:func:`load_region` reads the embedded dataset (:mod:`geodata`), adds the seeded demand
layer and returns a :class:`Region`. Every layer is WGS-84 (EPSG:4326, ``lon, lat``) and
carries ``data_status`` and ``source`` columns; :attr:`Region.provenance` says where each
layer came from and under which licence.

Examples
--------
>>> from planner.region import load_region
>>> region = load_region("mianyang")
>>> region.contains(104.757, 31.455)        # Mianyang city
True
>>> len(region.counties), len(region.stations)
(9, 23)
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from planner.errors import InputError
from planner.settings import DEFAULT_REGION, WGS84

#: Seed of the embedded demand layer (same seed, same layer).
DEMAND_SEED = 2025
#: Stop events drawn for the embedded demand layer.
DEMAND_EVENTS = 30_000


@dataclass
class Region:
    """One planning region. Build with :func:`load_region`.

    Attributes
    ----------
    name : str
        Region name (``"mianyang"``).
    boundary : GeoDataFrame
        One row: the outline (union of the counties).
    counties : GeoDataFrame
        ``code``, ``name_zh``, ``name_en``, ``seat_lon``, ``seat_lat``, ``data_status``,
        ``source``, geometry (Polygon/MultiPolygon).
    corridors : GeoDataFrame
        ``id``, ``ref``, ``name_zh``, ``name_en``, ``road_class`` (``expressway`` |
        ``national_road``), ``speed_kmh`` (truck speed), ``opened``, ``length_km``,
        ``data_status``, ``source``, geometry LineString. Corridors meet at exactly shared
        vertices (hubs), so they form one network.
    anchors : GeoDataFrame
        ``id``, ``name_zh``, ``name_en``, ``kind`` (``service_area``, ``parking_area``,
        ``logistics_hub``, ``freight_generator``, ``interchange``, ``town``), ``corridor``,
        ``in_region``, ``county``, ``data_status``, ``source``, geometry Point.
    stations : list of dict
        The seed station records (see the contract's station record).
    grid : GeoDataFrame
        ``cell_id``, ``county``, ``area_km2``, ``data_status``, ``source``, geometry.
    demand : GeoDataFrame
        Weighted points: ``cell_id``, ``lon``, ``lat``, ``weight``, ``kind``,
        ``data_status``, ``source``, geometry.
    provenance : dict
        layer -> ``{data_status, source, licence, notes}``.
    """

    name: str
    boundary: gpd.GeoDataFrame = field(repr=False)
    counties: gpd.GeoDataFrame = field(repr=False)
    corridors: gpd.GeoDataFrame = field(repr=False)
    anchors: gpd.GeoDataFrame = field(repr=False)
    stations: list[dict] = field(repr=False)
    grid: gpd.GeoDataFrame = field(repr=False)
    provenance: dict = field(repr=False, default_factory=dict)
    #: The demand layer once made (see :attr:`demand`); pass one to use your own.
    demand_layer: gpd.GeoDataFrame | None = field(repr=False, default=None)

    @property
    def demand(self) -> gpd.GeoDataFrame:
        """Weighted demand points; the embedded layer is generated on first use, not at load.

        Loading a region (e.g. to validate a station's location) never pays for the
        30,000-event demand simulation; analyses that need demand do, once per process.
        """
        if self.demand_layer is None:
            self.demand_layer = _embedded_demand(self.name).copy()
        return self.demand_layer

    @demand.setter
    def demand(self, value: gpd.GeoDataFrame) -> None:
        self.demand_layer = value

    @functools.cached_property
    def outline(self) -> BaseGeometry:
        """The boundary as one prepared shapely geometry (WGS-84)."""
        geom = shapely.union_all(self.boundary.to_crs(WGS84).geometry.to_numpy())
        shapely.prepare(geom)
        return geom

    @functools.cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of the boundary, WGS-84 degrees."""
        return tuple(float(v) for v in self.outline.bounds)  # type: ignore[return-value]

    def contains(self, lon: float, lat: float) -> bool:
        """Whether a WGS-84 point lies inside the boundary (points on the edge count)."""
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            return False
        if not (math.isfinite(x) and math.isfinite(y)):
            return False
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return False
        return bool(shapely.intersects_xy(self.outline, x, y))

    def contains_many(self, lons, lats) -> np.ndarray:
        """Vectorised :meth:`contains` for arrays of WGS-84 coordinates (bool array)."""
        x = np.asarray(lons, dtype=float)
        y = np.asarray(lats, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        out = np.zeros(x.shape, dtype=bool)
        if ok.any():
            out[ok] = shapely.intersects_xy(self.outline, x[ok], y[ok])
        return out

    def county_of(self, lon: float, lat: float) -> str | None:
        """Code of the county holding a WGS-84 point, or None outside the region."""
        pt = shapely.Point(float(lon), float(lat))
        hit = self.counties[self.counties.geometry.covers(pt)]
        return str(hit["code"].iloc[0]) if len(hit) else None

    @property
    def uses_illustrative_data(self) -> bool:
        """True when any station or layer is not verified (UIs show the demo-data banner)."""
        return any(s.get("data_status") != "verified" for s in self.stations) or any(
            p.get("data_status") != "verified" for p in self.provenance.values()
        )


def load_region(name: str = DEFAULT_REGION) -> Region:
    """Load an embedded region.

    Parameters
    ----------
    name : str
        One of :data:`geodata.REGIONS` (default ``"mianyang"``).

    Returns
    -------
    Region
        Fresh copies of every layer (the files are read once per process and cached), so
        callers may modify what they get.

    Raises
    ------
    InputError
        For an unknown region name (lists the available ones).
    """
    cached = _load_cached(_region_name(name))
    return Region(
        name=cached.name,
        boundary=cached.boundary.copy(),
        counties=cached.counties.copy(),
        corridors=cached.corridors.copy(),
        anchors=cached.anchors.copy(),
        stations=copy.deepcopy(cached.stations),
        grid=cached.grid.copy(),
        provenance=copy.deepcopy(cached.provenance),
    )


@functools.lru_cache(maxsize=4)
def region_outline(name: str = DEFAULT_REGION) -> Region:
    """A light region for location checks: boundary and counties only, nothing generated.

    The other layers are empty; use :func:`load_region` for analyses. Cached per process
    (treat it as read-only).
    """
    layers = load_layers_subset(_region_name(name), ("boundary", "counties", "provenance"))
    empty = layers["boundary"].iloc[:0]
    return Region(name=_region_name(name), boundary=layers["boundary"], counties=layers["counties"],
                  corridors=empty, anchors=empty, stations=[], grid=empty, provenance=layers["provenance"],
                  demand_layer=empty)


def load_layers_subset(name: str, layers: tuple[str, ...]) -> dict:
    from geodata import load_layers

    return load_layers(name, layers)


def _region_name(name) -> str:
    from geodata import UnknownRegionError, check_region

    try:
        return check_region(name)
    except UnknownRegionError as exc:
        raise InputError(exc.message, fields=exc.fields) from None


@functools.lru_cache(maxsize=4)
def _load_cached(name: str) -> Region:
    from geodata import load_layers

    layers = load_layers(name)
    return Region(
        name=name,
        boundary=layers["boundary"],
        counties=layers["counties"],
        corridors=layers["corridors"],
        anchors=layers["anchors"],
        stations=layers["stations"],
        grid=layers["grid"],
        provenance=layers["provenance"],
    )


@functools.lru_cache(maxsize=4)
def _embedded_demand(name: str) -> gpd.GeoDataFrame:
    """The seeded demand layer of an embedded region (made once per process)."""
    from planner.demand import generate_demand

    cached = _load_cached(_region_name(name))
    return generate_demand(cached.boundary, cached.corridors, cached.anchors, n_events=DEMAND_EVENTS, seed=DEMAND_SEED)


__all__ = ["DEMAND_EVENTS", "DEMAND_SEED", "Region", "load_region", "region_outline"]
