"""A planning region: boundary, counties, corridors, anchors, stations, grid and demand.

:func:`load_region` reads the embedded dataset (:mod:`geodata`), adds the seeded demand
layer and returns a :class:`Region`. Every layer is WGS-84 (EPSG:4326, ``lon, lat``) and
carries ``data_status`` and ``source`` columns; :attr:`Region.provenance` says where each
layer came from and under which licence.

A region also says how it is measured and where its edge lies (``geodata/<name>/region.json``):

* :attr:`Region.crs`: the projected CRS every distance is measured in (declared, or the
  UTM zone of the boundary's centre);
* :attr:`Region.timezone`: the IANA zone of every "now" (:meth:`Region.now`);
* the **study area** (:attr:`Region.study_area`, the boundary): where metrics are counted
  and new sites may go (:meth:`Region.contains`);
* the **context band** (:attr:`Region.context_km`, default 50 km around the study area,
  :attr:`Region.band`): where the network reaches, drivers' questions are answered and
  neighbours' stations count as external supply (:meth:`Region.in_band`).

Examples
--------
>>> from planner.region import load_region
>>> region = load_region("mianyang")
>>> region.contains(104.757, 31.455)        # Mianyang city
True
>>> len(region.counties), len(region.stations)
(9, 23)
>>> region.crs, region.timezone, region.context_km
('EPSG:32648', 'Asia/Shanghai', 50.0)
>>> region.contains(104.5, 31.1), region.in_band(104.5, 31.1)   # 22 km outside, towards Deyang
(False, True)
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import threading
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from planner import clock
from planner._validate import non_negative
from planner.errors import InputError
from planner.projection import check_crs, crs_for_extent, project_geometry, unproject_geometry
from planner.provenance import needs_banner, status_of
from planner.settings import DEFAULT_CONTEXT_KM, DEFAULT_REGION, WGS84

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
    crs : str, optional
        Projected CRS (metres) every distance in the region is measured in; ``None`` (the
        default) chooses the UTM zone of the boundary's centre.
    timezone : str, optional
        IANA time zone of the region (``"Asia/Shanghai"``); :meth:`now` needs it.
    context_km : float
        Width of the context band around the study area, km (default 50).
    name_zh, name_en : str, optional
        Display names (``绵阳市``, ``Mianyang``) for messages.
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
    crs: str | None = None
    timezone: str | None = None
    context_km: float = DEFAULT_CONTEXT_KM
    name_zh: str | None = None
    name_en: str | None = None

    def __post_init__(self) -> None:
        if self.crs is None:
            x0, y0, x1, y1 = self.boundary.to_crs(WGS84).total_bounds
            self.crs = crs_for_extent([x0, x1], [y0, y1])
        else:
            self.crs = check_crs(self.crs)
        if self.timezone is not None:
            clock.zone(self.timezone)  # InputError for an unknown zone, now rather than at "now"
        self.context_km = non_negative(self.context_km, "context_km", unit="km")

    @functools.cached_property
    def outline(self) -> BaseGeometry:
        """The boundary as one prepared shapely geometry (WGS-84): the study area."""
        geom = shapely.union_all(self.boundary.to_crs(WGS84).geometry.to_numpy())
        shapely.prepare(geom)
        _warm(geom)
        return geom

    @property
    def study_area(self) -> BaseGeometry:
        """Where metrics are counted and new sites may go (the boundary, WGS-84)."""
        return self.outline

    @functools.cached_property
    def band(self) -> BaseGeometry:
        """The study area with its context band: the outline buffered by :attr:`context_km`
        in the region's CRS (prepared, WGS-84).

        Buffering the full outline 50 km out takes ~1.5 s, so the outline is first simplified
        by 2 % of the width and the buffer padded by that tolerance plus the arc's chord
        error: the band holds every point within ``context_km`` of the study area and reaches
        at most ~3 % farther (~30 ms).
        """
        if self.context_km == 0:
            return self.outline
        width = self.context_km * 1000.0
        tol = 0.02 * width
        quad = 8
        pad = tol + width * (1.0 - math.cos(math.pi / (4 * quad)))
        local = project_geometry(self.outline, self.crs)
        buffered = shapely.buffer(shapely.simplify(local, tol), width + pad, quad_segs=quad)
        geom = shapely.union(unproject_geometry(buffered, self.crs), self.outline)
        shapely.prepare(geom)
        _warm(geom)
        return geom

    @functools.cached_property
    def band_bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of :attr:`band`, WGS-84 degrees."""
        return tuple(float(v) for v in self.band.bounds)  # type: ignore[return-value]

    @functools.cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of the boundary, WGS-84 degrees."""
        return tuple(float(v) for v in self.outline.bounds)  # type: ignore[return-value]

    def contains(self, lon: float, lat: float) -> bool:
        """Whether a WGS-84 point lies inside the boundary (points on the edge count)."""
        return _point_in(self.outline, self.bbox, lon, lat, self._cells("outline"))

    def contains_many(self, lons, lats) -> np.ndarray:
        """Vectorised :meth:`contains` for arrays of WGS-84 coordinates (bool array)."""
        return _points_in(self.outline, lons, lats)

    def in_study_area_many(self, lons, lats) -> np.ndarray:
        """Alias of :meth:`contains_many`: which points lie in the study area."""
        return self.contains_many(lons, lats)

    def in_band(self, lon: float, lat: float) -> bool:
        """Whether a WGS-84 point lies in the study area or its context band."""
        return _point_in(self.band, self.band_bbox, lon, lat, self._cells("band"))

    def _cells(self, which: str) -> _AreaCells | None:
        """The :class:`_AreaCells` of ``"outline"`` or ``"band"`` once this region has
        answered :data:`CELLS_AFTER` single points about it (a server asks on every request;
        a one-off question does not pay the build)."""
        store = self.__dict__.setdefault("_area_cells", {})
        hit = store.get(which)
        if isinstance(hit, _AreaCells):
            return hit
        calls = (hit or 0) + 1
        if calls < CELLS_AFTER:
            store[which] = calls
            return None
        with _CELLS_LOCK:  # one build; request threads keep the exact test meanwhile
            hit = store.get(which)
            if not isinstance(hit, _AreaCells):
                area, bbox = (self.outline, self.bbox) if which == "outline" else (self.band, self.band_bbox)
                store[which] = hit = _AreaCells(area, bbox)
        return hit

    def in_band_many(self, lons, lats) -> np.ndarray:
        """Vectorised :meth:`in_band` (bool array)."""
        return _points_in(self.band, lons, lats)

    def zone_of(self, lon: float, lat: float) -> str | None:
        """``"study_area"``, ``"context"`` (in the band, outside the study area) or None."""
        if self.contains(lon, lat):
            return "study_area"
        return "context" if self.in_band(lon, lat) else None

    def now(self, *, at: dt.datetime | None = None) -> dt.datetime:
        """The current local time in the region (aware), via :func:`planner.clock.now`.

        Raises
        ------
        InputError
            When the region declares no time zone.
        """
        if self.timezone is None:
            raise InputError(
                f"region {self.name!r} declares no time zone; set 'timezone' in its region.json "
                "(an IANA name such as 'Asia/Shanghai')",
                fields={"timezone": "IANA time zone name"},
            )
        return clock.now(self.timezone, at=at)

    def county_of(self, lon: float, lat: float) -> str | None:
        """Code of the county holding a WGS-84 point, or None outside the region."""
        pt = shapely.Point(float(lon), float(lat))
        hit = self.counties[self.counties.geometry.covers(pt)]
        return str(hit["code"].iloc[0]) if len(hit) else None

    @property
    def uses_illustrative_data(self) -> bool:
        """True when any station or layer is not verified (UIs show the demo-data banner)."""
        return needs_banner(status_of(self.stations, self.provenance))


def load_region(name: str = DEFAULT_REGION, *, context_km: float | None = None) -> Region:
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

    context_km : float, optional
        Width of the context band, km; default the region file's ``context_km``.

    Raises
    ------
    InputError
        For an unknown region name (lists the available ones), or a bad declaration.
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
        crs=cached.crs,
        timezone=cached.timezone,
        context_km=cached.context_km if context_km is None else context_km,
        name_zh=cached.name_zh,
        name_en=cached.name_en,
    )


def _warm(area: BaseGeometry) -> None:
    """Build a prepared area's point locator now, in one thread: GEOS builds it lazily and
    not thread-safely (libgeos/geos#825), and request threads share the area."""
    x0, y0, _x1, _y1 = area.bounds
    shapely.intersects_xy(area, x0, y0)


#: Single-point questions about an area after which it gets its :class:`_AreaCells`.
CELLS_AFTER = 32
_CELLS_LOCK = threading.Lock()


class _AreaCells:
    """Point-in-area answers for one prepared area from a grid over its bounding box.

    Each of the ``CELLS`` × ``CELLS`` cells is known to lie inside the area, outside it, or
    across its border (cells enlarged by a nanodegree, so a point computed into a
    neighbouring cell by rounding is still covered); only points in border cells (a few
    per cent of the box) pay the exact test. The answers are those of
    ``shapely.intersects_xy``: building takes ~0.1 s, a point ~1 µs instead of ~6 µs.

    GEOS prepared geometries are not thread-safe (libgeos/geos#825: their lazily built
    indexes), and a web server asks from many threads: the cells are built on a private
    copy of the area, prepared and warmed here, which then answers the border cells.
    """

    CELLS = 128
    EPS = 1e-9

    def __init__(self, area: BaseGeometry, bbox: tuple[float, float, float, float]):
        n = self.CELLS
        x0, y0, x1, y1 = bbox
        area = shapely.from_wkb(shapely.to_wkb(area))  # private and unprepared
        shapely.prepare(area)
        self.area, self.x0, self.y0 = area, x0, y0
        self.w = (x1 - x0) / n or 1.0
        self.h = (y1 - y0) / n or 1.0
        i = np.tile(np.arange(n), n)
        j = np.repeat(np.arange(n), n)
        e = self.EPS
        boxes = shapely.box(x0 + i * self.w - e, y0 + j * self.h - e, x0 + (i + 1) * self.w + e, y0 + (j + 1) * self.h + e)
        state = np.full(n * n, 2, dtype=np.int8)  # 2: border, exact test
        state[shapely.contains_properly(area, boxes)] = 1
        state[~shapely.intersects(area, boxes)] = 0
        self.state = bytes(state.tolist())
        _warm(area)

    def __call__(self, x: float, y: float) -> bool:
        """Whether (x, y), finite and inside the bounding box, lies in the area."""
        n = self.CELLS
        i = min(int((x - self.x0) / self.w), n - 1)
        j = min(int((y - self.y0) / self.h), n - 1)
        s = self.state[j * n + i]
        if s == 2:
            return bool(shapely.intersects_xy(self.area, x, y))
        return s == 1


def _point_in(area: BaseGeometry, bbox: tuple[float, float, float, float], lon, lat,
              cells: _AreaCells | None = None) -> bool:
    """Whether one WGS-84 point lies in a prepared ``area`` (bbox test first; bad input is
    False), through ``area``'s :class:`_AreaCells` when given."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    x0, y0, x1, y1 = bbox
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    if cells is not None:
        return cells(x, y)
    return bool(shapely.intersects_xy(area, x, y))


def _points_in(area: BaseGeometry, lons, lats) -> np.ndarray:
    """Vectorised :func:`_point_in` (non-finite coordinates are outside)."""
    x = np.asarray(lons, dtype=float)
    y = np.asarray(lats, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    out = np.zeros(x.shape, dtype=bool)
    if ok.any():
        out[ok] = shapely.intersects_xy(area, x[ok], y[ok])
    return out


@functools.lru_cache(maxsize=4)
def region_outline(name: str = DEFAULT_REGION) -> Region:
    """A light region for location checks: boundary and counties only, nothing generated.

    The other layers are empty; use :func:`load_region` for analyses. Cached per process
    (treat it as read-only).
    """
    from geodata import load_layers, load_region_file

    key = _region_name(name)
    layers = load_layers(key, ("boundary", "counties", "provenance"))
    declared = load_region_file(key)
    empty = layers["boundary"].iloc[:0]
    return Region(name=key, boundary=layers["boundary"], counties=layers["counties"],
                  corridors=empty, anchors=empty, stations=[], grid=empty, provenance=layers["provenance"],
                  demand_layer=empty, crs=declared.get("crs"), timezone=declared.get("timezone"),
                  context_km=declared.get("context_km", DEFAULT_CONTEXT_KM),
                  name_zh=declared.get("name_zh"), name_en=declared.get("name_en"))


def _region_name(name) -> str:
    from geodata import UnknownRegionError, check_region

    try:
        return check_region(name)
    except UnknownRegionError as exc:
        raise InputError(exc.message, fields=exc.fields) from None


@functools.lru_cache(maxsize=4)
def _load_cached(name: str) -> Region:
    from geodata import load_layers, load_region_file
    layers = load_layers(name)
    declared = load_region_file(name)
    if declared.get("study_area", "boundary") != "boundary":
        raise InputError(
            f"region {name!r}: study_area {declared.get('study_area')!r} is not supported; use 'boundary'",
            fields={"study_area": "boundary"},
        )
    crs = check_crs(declared["crs"]) if declared.get("crs") else None
    if crs is None:
        x0, y0, x1, y1 = layers["boundary"].total_bounds
        crs = crs_for_extent([x0, x1], [y0, y1])
    return Region(
        name=name,
        boundary=layers["boundary"],
        counties=layers["counties"],
        corridors=layers["corridors"],
        anchors=layers["anchors"],
        stations=layers["stations"],
        grid=layers["grid"],
        provenance=layers["provenance"],
        crs=crs,
        timezone=declared.get("timezone"),
        context_km=declared.get("context_km", DEFAULT_CONTEXT_KM),
        name_zh=declared.get("name_zh"),
        name_en=declared.get("name_en"),
    )


@functools.lru_cache(maxsize=4)
def _embedded_demand(name: str) -> gpd.GeoDataFrame:
    """The seeded demand layer of an embedded region (made once per process)."""
    from planner.demand import generate_demand

    cached = _load_cached(_region_name(name))
    return generate_demand(cached.boundary, cached.corridors, cached.anchors, n_events=DEMAND_EVENTS, seed=DEMAND_SEED,
                           crs=cached.crs)


__all__ = ["DEMAND_EVENTS", "DEMAND_SEED", "Region", "load_region", "region_outline"]
