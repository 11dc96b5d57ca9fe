"""Routable road network: from the embedded corridors or from OpenStreetMap.

A :class:`RoadNetwork` holds nodes (WGS-84 lon/lat and metres in its own projected CRS,
:attr:`RoadNetwork.crs`: the region's, or the UTM zone of the nodes' centre) and directed edges
with ``length_m``, ``travel_time_s`` (truck time) and ``speed_kmh``. Lengths of real road data
(:meth:`RoadNetwork.from_graph`, :meth:`RoadNetwork.from_osm_xml`) are geodesic, on the WGS-84
ellipsoid; corridor segments are measured in the network's CRS.
Routing uses two ``scipy.sparse.csr_array`` matrices (metres and seconds) that keep the
minimum of parallel edges, so scipy's ``csgraph`` algorithms run directly on them.

Every edge is at least as long as the straight projected distance between its end nodes.
Because snapping and straight-line distances are measured in the same projected metric, any road distance
built from an access leg, a network path and another access leg is never shorter than the
straight line between its ends (the triangle inequality the access layer relies on).

Three constructors meet in one place:

- :meth:`RoadNetwork.from_corridors`: the embedded corridor LineStrings, densified to short
  straight segments, two-way, with linear referencing (:meth:`RoadNetwork.corridor_samples`);
- :meth:`RoadNetwork.from_osm`: an OpenStreetMap ``.osm.pbf``/``.osm``/``.osm.bz2``/``.osm.gz``
  extract streamed with pyosmium (:mod:`planner.network.osm`), roads a truck or van may
  drive, one-way streets kept one-way, truck rules per edge (:meth:`RoadNetwork.for_vehicle`);
- :meth:`RoadNetwork.from_graph`: any networkx graph with ``x``/``y`` node attributes.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planner.errors import InfeasibleError, InputError
from planner.projection import (
    WGS84,
    check_crs,
    crs_for_extent,
    geodesic_m,
    polyline_lengths_m,
    project,
    transformer,
    unproject,
)

__all__ = [
    "DRIVEABLE_HIGHWAYS",
    "HIGHWAY_SPEED_KMH",
    "TRUCK_SPEED_KMH",
    "RoadNetwork",
    "parse_maxspeed",
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
#: Sub-networks kept per network by :meth:`RoadNetwork.for_vehicle` (oldest dropped first).
_VEHICLE_NETS_KEPT = 4
#: Shortest stored edge, metres (keeps csgraph from seeing zero-weight edges).
_MIN_EDGE_M = 1e-3
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


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, float) and math.isnan(value):
        return []
    return [value]


def _edge_speed_kmh(data: dict, cap_kmh: float) -> float:
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
        defaults = [HIGHWAY_SPEED_KMH[h] for h in _as_list(data.get("highway")) if h in HIGHWAY_SPEED_KMH]
        speed = max(defaults) if defaults else FALLBACK_SPEED_KMH
    return float(min(speed, cap_kmh))


def _ref_str(value: Any) -> str:
    parts = [str(v) for v in _as_list(value) if v is not None and str(v) != ""]
    return ";".join(dict.fromkeys(parts))


class RoadNetwork:
    """A directed road graph with metres and truck seconds on every edge.

    Build it with :meth:`from_corridors`, :meth:`from_osm`, :meth:`from_graph` or
    :meth:`load`. Node ids are ``0..n_nodes-1``.

    Attributes
    ----------
    n_nodes : int
    node_lon, node_lat : numpy.ndarray
        Node coordinates, WGS-84 degrees.
    node_x, node_y : numpy.ndarray
        Node coordinates, metres in :attr:`crs`.
    crs : str
        The projected CRS every distance of this network is measured in (``"EPSG:32648"``
        for Mianyang): the ``crs`` given, else the UTM zone of the centre of the nodes.
    edge_u, edge_v, edge_length_m, edge_time_s, edge_speed_kmh, edge_ref : numpy.ndarray
        One entry per directed edge (a two-way road has two).
    length_csr, time_csr : scipy.sparse.csr_array
        ``n×n`` weights in metres and seconds; each keeps the minimum over parallel edges.
    source : str
        How the network was built (``"corridors"``, ``"osm_xml:<file>"``, ``"graph"``).
    """

    def __init__(
        self,
        node_lon: Any,
        node_lat: Any,
        edge_u: Any,
        edge_v: Any,
        edge_length_m: Any,
        edge_speed_kmh: Any,
        edge_ref: Any = None,
        *,
        edge_time_s: Any = None,
        edge_geometry: Sequence | None = None,
        node_osmid: Any = None,
        corridor_nodes: pd.DataFrame | None = None,
        source: str = "",
        crs: str | None = None,
        edge_rules: dict[str, Any] | None = None,
    ):
        self.node_lon = np.ascontiguousarray(node_lon, dtype=np.float64)
        self.node_lat = np.ascontiguousarray(node_lat, dtype=np.float64)
        self.n_nodes = int(self.node_lon.size)
        if self.node_lat.size != self.n_nodes:
            raise InputError("node_lon and node_lat differ in length", fields={"node_lat": "same length as node_lon"})
        if self.n_nodes == 0:
            raise InputError("a road network needs at least one node", fields={"nodes": "non-empty"})
        if not (np.isfinite(self.node_lon).all() and np.isfinite(self.node_lat).all()):
            raise InputError("node coordinates must be finite numbers", fields={"nodes": "finite lon/lat"})
        self.crs: str = check_crs(crs) if crs is not None else crs_for_extent(self.node_lon, self.node_lat)
        x, y = self.project(self.node_lon, self.node_lat)
        self.node_x = np.ascontiguousarray(x, dtype=np.float64)
        self.node_y = np.ascontiguousarray(y, dtype=np.float64)

        self.edge_u = np.ascontiguousarray(edge_u, dtype=np.int64)
        self.edge_v = np.ascontiguousarray(edge_v, dtype=np.int64)
        m = self.edge_u.size
        if self.edge_v.size != m:
            raise InputError("edge_u and edge_v differ in length", fields={"edge_v": "same length as edge_u"})
        if m and (self.edge_u.min() < 0 or self.edge_v.min() < 0 or max(self.edge_u.max(), self.edge_v.max()) >= self.n_nodes):
            raise InputError("an edge refers to a node that does not exist", fields={"edges": "u, v in 0..n_nodes-1"})
        # Never shorter than the straight projected line between the end nodes (triangle inequality).
        straight = np.hypot(self.node_x[self.edge_v] - self.node_x[self.edge_u], self.node_y[self.edge_v] - self.node_y[self.edge_u])
        length = np.asarray(edge_length_m, dtype=np.float64).reshape(-1) if m else np.zeros(0)
        if length.size != m or not np.isfinite(length).all():
            raise InputError("edge lengths must be finite, one per edge", fields={"length_m": "finite"})
        self.edge_length_m = np.maximum(np.maximum(length, straight), _MIN_EDGE_M)
        speed = np.asarray(edge_speed_kmh, dtype=np.float64).reshape(-1) if m else np.zeros(0)
        if speed.size != m or not (np.isfinite(speed).all() and (speed > 0).all()):
            bad = speed[~(np.isfinite(speed) & (speed > 0))][:1] if speed.size == m else speed[:1]
            raise InputError(
                f"edge speeds must be positive km/h; got {bad.tolist()}",
                fields={"speed_kmh": "> 0"},
            )
        self.edge_speed_kmh = speed
        if edge_time_s is None:
            self.edge_time_s = self.edge_length_m / (speed / 3.6)
        else:
            self.edge_time_s = np.asarray(edge_time_s, dtype=np.float64).reshape(-1)
            if self.edge_time_s.size != m or not (np.isfinite(self.edge_time_s).all() and (self.edge_time_s > 0).all()):
                raise InputError("edge travel times must be positive seconds", fields={"travel_time_s": "> 0"})
        if isinstance(edge_ref, np.ndarray) and edge_ref.dtype == object and set(map(type, edge_ref.reshape(-1))) <= {str}:
            self.edge_ref = edge_ref.reshape(-1)  # already clean text (OSM import, .npz): no per-edge pass
        else:
            refs = [""] * m if edge_ref is None else ["" if r is None or (isinstance(r, float) and math.isnan(r)) else str(r) for r in edge_ref]
            self.edge_ref = np.array(refs, dtype=object)
        self.edge_geometry = list(edge_geometry) if edge_geometry is not None else None
        self.node_osmid = None if node_osmid is None else np.asarray(node_osmid)
        self._corridor_nodes = corridor_nodes
        self.source = source
        self.edge_rules: dict[str, np.ndarray] | None = None
        if edge_rules is not None:
            from planner.network.vehicle import RULE_COLUMNS

            unknown = set(edge_rules) - set(RULE_COLUMNS)
            if unknown:
                raise InputError(f"unknown edge rule(s) {sorted(unknown)}", fields={"edge_rules": ", ".join(RULE_COLUMNS)})
            self.edge_rules = {}
            for name, values in edge_rules.items():
                arr = np.ascontiguousarray(values, dtype=RULE_COLUMNS[name]).reshape(-1)
                if arr.size != m:
                    raise InputError(f"edge rule {name!r} needs one value per edge", fields={name: f"{m} values"})
                self.edge_rules[name] = arr
        self._vehicle_nets: dict = {}
        self._tree: cKDTree | None = None
        self._build_csr()

    # ------------------------------------------------------------------ internals
    #: Caches derived from the edges (built on first use by snap/index); dropped with a new CSR.
    _EDGE_CACHES = ("_edge_snapper", "_csr_arrays", "_csr_edge_index")

    def _build_csr(self) -> None:
        """CSR matrices keeping the minimum of parallel edges (csr_matrix would sum them)."""
        for name in self._EDGE_CACHES:  # a sub-network copied from another must not reuse its caches
            self.__dict__.pop(name, None)
        n = self.n_nodes
        keep = self.edge_u != self.edge_v  # self-loops never shorten a path
        if keep.all():  # no copies (province-scale networks have millions of edges)
            u, v, length, time = self.edge_u, self.edge_v, self.edge_length_m, self.edge_time_s
        else:
            u, v = self.edge_u[keep], self.edge_v[keep]
            length, time = self.edge_length_m[keep], self.edge_time_s[keep]
        key = u * n + v
        del keep, u, v
        # by (u, v); within a run of parallel edges, by length then time, so the first of each
        # run is the shortest edge. Only runs of parallel edges (rare) need the full sort.
        order = np.argsort(key, kind="stable")
        key_s = key[order]
        first = np.ones(key_s.size, dtype=bool)
        first[1:] = key_s[1:] != key_s[:-1]
        starts = np.flatnonzero(first)
        uniq = key_s[starts]
        rows, cols = uniq // n, uniq % n
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        del key, rows
        len_s, time_s = length[order], time[order]
        del order, length, time
        if not first.all():
            # every position in a run of two or more edges
            in_run = np.zeros(key_s.size, dtype=bool)
            in_run[1:] = ~first[1:]
            in_run[:-1] |= ~first[1:]
            idx = np.flatnonzero(in_run)
            by_len = idx[np.lexsort((time_s[idx], len_s[idx], key_s[idx]))]
            len_s[idx], time_s[idx] = len_s[by_len], time_s[by_len]
            min_len, time_on_len = len_s[starts], time_s[starts]
            min_time = np.minimum.reduceat(time_s, starts)
            # length of the fastest parallel edge (for routes by time)
            by_time = idx[np.lexsort((len_s[idx], time_s[idx], key_s[idx]))]
            len_t = len_s.copy()
            len_t[idx] = len_s[by_time]
            len_on_time = len_t[starts]
        else:
            min_len, time_on_len = len_s[starts], time_s[starts]
            min_time, len_on_time = time_on_len.copy(), min_len.copy()
        idx_dtype = np.int32 if max(n, uniq.size) < 2**31 - 1 else np.int64
        indices = cols.astype(idx_dtype)
        indptr = indptr.astype(idx_dtype)
        self.length_csr = sparse.csr_array((min_len, indices, indptr), shape=(n, n))
        self.time_csr = sparse.csr_array((min_time, indices.copy(), indptr.copy()), shape=(n, n))
        # aligned with the CSR entries: time along the shortest edge, length along the fastest
        self._csr_keys = uniq
        self._time_on_len = time_on_len
        self._len_on_time = len_on_time

    def _edge_lookup(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Position of (u, v) in the CSR entries (pairs must exist)."""
        return np.searchsorted(self._csr_keys, np.asarray(u, dtype=np.int64) * self.n_nodes + np.asarray(v, dtype=np.int64))

    def project(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """WGS-84 → metres in this network's own CRS (:attr:`crs`)."""
        return project(lon, lat, self.crs)

    def unproject(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Metres in this network's CRS → WGS-84 lon/lat."""
        return unproject(x, y, self.crs)

    def project_point(self, lon: float, lat: float) -> tuple[float, float]:
        """:meth:`project` for one checked point; InputError when the CRS has no finite answer."""
        x, y = self.project(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(
                f"point lon={lon}, lat={lat} is too far from {CRS.from_user_input(self.crs).name} "
                f"({self.crs}, the network's measuring CRS) to measure distances; give a point in or near the region",
                fields={"lon": "near the region", "lat": "near the region"},
            )
        return float(x), float(y)

    @property
    def tree(self) -> cKDTree:
        """KD-tree over projected node coordinates (built once, on first use)."""
        if self._tree is None:
            self._tree = cKDTree(np.column_stack([self.node_x, self.node_y]))
        return self._tree

    @property
    def edge_snapper(self):
        """The edge index used to snap points to edges (:class:`planner.network.snap.EdgeSnapper`),
        built once on first use."""
        snapper = self.__dict__.get("_edge_snapper")
        if snapper is None:
            from planner.network.snap import EdgeSnapper

            snapper = self.__dict__["_edge_snapper"] = EdgeSnapper(self)
        return snapper

    def snap_edges(self, lons: Any, lats: Any) -> list:
        """Snap many WGS-84 points to edges: one :class:`planner.network.snap.Snap` per point
        (every edge within the snap radius, nearest first, with projections and access legs).

        Use ``edge_snapper.out_seeds(snap, access_mps)`` / ``in_seeds`` for the nodes and
        offsets a route starts from / ends at.
        """
        lons = np.asarray(lons, dtype=np.float64).reshape(-1)
        lats = np.asarray(lats, dtype=np.float64).reshape(-1)
        if lons.shape != lats.shape:
            raise InputError("lons and lats differ in length", fields={"lats": "same length as lons"})
        ok = np.isfinite(lons) & np.isfinite(lats)
        x, y = self.project(lons, lats)
        x, y = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
        ok &= np.isfinite(x) & np.isfinite(y)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise InputError(
                f"point {i} (lon={lons[i]}, lat={lats[i]}) is not a finite position near the network's region",
                fields={"lon": "finite, near the region", "lat": "finite, near the region"},
            )
        return self.edge_snapper.snap_many_xy(x, y)

    @property
    def n_edges(self) -> int:
        """Number of directed edges (parallel edges included)."""
        return int(self.edge_u.size)

    def __repr__(self) -> str:
        return f"RoadNetwork({self.n_nodes} nodes, {self.n_edges} directed edges, source={self.source!r})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_corridors(
        cls,
        corridors: gpd.GeoDataFrame,
        *,
        max_segment_m: float = 250.0,
        merge_tol_m: float = 1.0,
        crs: str | None = None,
    ) -> RoadNetwork:
        """Build a two-way network from corridor LineStrings.

        Parameters
        ----------
        corridors
            GeoDataFrame with a CRS (reprojected to EPSG:4326 if needed), LineString (or
            MultiLineString) geometries and columns ``ref`` and ``speed_kmh`` (truck speed,
            km/h); ``name_zh``, ``road_class`` are carried into :meth:`corridor_samples`.
        max_segment_m
            Longest edge, metres (in ``crs``). Each straight piece of a corridor is split into
            equal parts no longer than this, so any point on a corridor lies within
            ``max_segment_m / 2`` of a node along the road.
        merge_tol_m
            Vertices closer than this (metres) become one node. Identical coordinates are
            always merged, so corridors that share a hub coordinate meet there; the tolerance
            also joins stretches that two corridors share but digitise in opposite
            directions. ``0`` merges identical coordinates only.
        crs
            Projected CRS to measure in (the region's, :attr:`planner.region.Region.crs`);
            default the UTM zone of the centre of the corridors' extent.

        Returns
        -------
        RoadNetwork
            Nodes in WGS-84 and ``crs``, edges in both directions with ``length_m`` and
            ``travel_time_s = length_m / speed_kmh``.
        """
        if not isinstance(corridors, gpd.GeoDataFrame):
            raise InputError(
                f"corridors must be a GeoDataFrame, got {type(corridors).__name__}", fields={"corridors": "GeoDataFrame"}
            )
        if corridors.crs is None:
            raise InputError("corridors have no CRS; set it (EPSG:4326 expected)", fields={"crs": "required"})
        missing = [c for c in ("ref", "speed_kmh") if c not in corridors.columns]
        if missing:
            raise InputError(f"corridors lack column(s) {missing}", fields={c: "required" for c in missing})
        if not (isinstance(max_segment_m, (int, float)) and math.isfinite(max_segment_m) and max_segment_m > 0):
            raise InputError(f"max_segment_m must be a positive number of metres, got {max_segment_m!r}", fields={"max_segment_m": "> 0"})
        if not (isinstance(merge_tol_m, (int, float)) and math.isfinite(merge_tol_m) and merge_tol_m >= 0):
            raise InputError(f"merge_tol_m must be >= 0 metres, got {merge_tol_m!r}", fields={"merge_tol_m": ">= 0"})
        if len(corridors) == 0:
            raise InputError("no corridors given", fields={"corridors": "non-empty"})
        gdf = corridors if CRS.from_user_input(corridors.crs).equals(CRS.from_user_input(WGS84)) else corridors.to_crs(WGS84)
        if crs is None:
            x0, y0, x1, y1 = gdf.total_bounds
            crs = crs_for_extent([x0, x1], [y0, y1])
        crs = check_crs(crs)
        to_xy, to_lonlat = transformer(WGS84, crs), transformer(crs, WGS84)

        lons, lats, xs, ys, is_vertex = [], [], [], [], []
        seq_corr, seq_part, seq_km = [], [], []
        speeds = []
        problems: dict[str, str] = {}
        for ci, (geom, speed) in enumerate(zip(gdf.geometry, gdf["speed_kmh"])):
            try:
                speed = float(speed)
            except (TypeError, ValueError):
                speed = float("nan")
            if not (math.isfinite(speed) and speed > 0):
                problems[f"speed_kmh[{ci}]"] = f"positive km/h (got {gdf['speed_kmh'].iloc[ci]!r})"
            speeds.append(speed)
            if geom is None or geom.is_empty:
                problems[f"geometry[{ci}]"] = "a non-empty LineString"
                continue
            if geom.geom_type == "LineString":
                parts = [geom]
            elif geom.geom_type == "MultiLineString":
                parts = list(geom.geoms)
            else:
                problems[f"geometry[{ci}]"] = f"LineString (got {geom.geom_type})"
                continue
            km0 = 0.0
            for pi, part in enumerate(parts):
                xy = shapely.get_coordinates(part)
                if len(xy) < 2:
                    continue
                if not np.isfinite(xy).all():
                    problems[f"geometry[{ci}]"] = "finite coordinates"
                    continue
                px, py = to_xy.transform(xy[:, 0], xy[:, 1])
                px, py = np.asarray(px), np.asarray(py)
                seg = np.hypot(np.diff(px), np.diff(py))
                nseg = np.maximum(1, np.ceil(seg / max_segment_m).astype(np.int64))
                # vertex k of the part followed by nseg[k]-1 interpolated points
                starts = np.concatenate([[0], np.cumsum(nseg)])
                total = int(starts[-1]) + 1
                owner = np.repeat(np.arange(len(seg)), nseg)
                frac = (np.arange(starts[-1]) - starts[:-1][owner]) / nseg[owner]
                qx = np.append(px[:-1][owner] + frac * np.diff(px)[owner], px[-1])
                qy = np.append(py[:-1][owner] + frac * np.diff(py)[owner], py[-1])
                vert = np.zeros(total, dtype=bool)
                vert[starts] = True
                qlon = np.empty(total)
                qlat = np.empty(total)
                qlon[starts], qlat[starts] = xy[:, 0], xy[:, 1]  # keep original vertices exact
                if (~vert).any():
                    ilon, ilat = to_lonlat.transform(qx[~vert], qy[~vert])
                    qlon[~vert], qlat[~vert] = ilon, ilat
                km = km0 + np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(qx), np.diff(qy)))]) / 1000.0
                km0 = float(km[-1])
                lons.append(qlon)
                lats.append(qlat)
                xs.append(qx)
                ys.append(qy)
                is_vertex.append(vert)
                seq_corr.append(np.full(total, ci))
                seq_part.append(np.full(total, pi))
                seq_km.append(km)
        if problems:
            raise InputError(f"invalid corridors: {problems}", fields=problems)
        if not lons:
            raise InputError("corridors contain no line with two or more points", fields={"geometry": "LineString"})

        lon = np.concatenate(lons)
        lat = np.concatenate(lats)
        px = np.concatenate(xs)
        py = np.concatenate(ys)
        vert = np.concatenate(is_vertex)
        corr = np.concatenate(seq_corr)
        part = np.concatenate(seq_part)
        km = np.concatenate(seq_km)

        # 1) identical coordinates -> one node
        uniq, first_idx, inverse = np.unique(np.column_stack([lon, lat]), axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        n_u = len(uniq)
        u_vert = np.zeros(n_u, dtype=bool)
        np.logical_or.at(u_vert, inverse, vert)
        u_x, u_y = px[first_idx], py[first_idx]
        # 2) within merge_tol_m -> one node (prefer an original vertex as representative)
        label = np.arange(n_u)
        if merge_tol_m > 0 and n_u > 1:
            pairs = cKDTree(np.column_stack([u_x, u_y])).query_pairs(merge_tol_m, output_type="ndarray")
            if len(pairs):
                adj = sparse.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_u, n_u))
                _, label = csgraph.connected_components(adj, directed=False)
        order = np.lexsort((np.arange(n_u), ~u_vert, label))
        lab_sorted = label[order]
        head = np.ones(n_u, dtype=bool)
        head[1:] = lab_sorted[1:] != lab_sorted[:-1]
        rep_of_label = np.empty(label.max() + 1, dtype=np.int64)
        rep_of_label[lab_sorted[head]] = order[head]
        reps = np.unique(rep_of_label[np.unique(label)])
        new_id = np.full(n_u, -1, dtype=np.int64)
        new_id[reps] = np.arange(reps.size)
        node_of_unique = new_id[rep_of_label[label]]
        node = node_of_unique[inverse]
        node_lon, node_lat = uniq[reps, 0], uniq[reps, 1]

        # edges between consecutive points of the same part, both directions
        same = (corr[1:] == corr[:-1]) & (part[1:] == part[:-1])
        a, b = node[:-1][same], node[1:][same]
        ci = corr[:-1][same]
        ok = a != b
        a, b, ci = a[ok], b[ok], ci[ok]
        sp = np.asarray(speeds)[ci]
        refs = np.array([_ref_str(r) for r in gdf["ref"]], dtype=object)[ci]
        eu = np.concatenate([a, b])
        ev = np.concatenate([b, a])
        # edge length = straight projected distance between the (merged) end nodes: set in __init__
        corridor_nodes = pd.DataFrame(
            {
                "corridor_idx": corr,
                "part": part,
                "km": km,
                "node": node,
            }
        )
        meta_cols = [c for c in ("ref", "name_zh", "name_en", "road_class") if c in gdf.columns]
        meta = pd.DataFrame({c: gdf[c].to_numpy() for c in meta_cols})
        meta["corridor_idx"] = np.arange(len(gdf))
        corridor_nodes = corridor_nodes.merge(meta, on="corridor_idx", how="left")
        return cls(
            node_lon,
            node_lat,
            eu,
            ev,
            np.zeros(eu.size),
            np.concatenate([sp, sp]),
            np.concatenate([refs, refs]),
            corridor_nodes=corridor_nodes,
            source="corridors",
            crs=crs,
        )

    @classmethod
    def from_graph(
        cls, G: nx.Graph, *, truck_speed_kmh: float | None = None, source: str = "graph", crs: str | None = None
    ) -> RoadNetwork:
        """Build from a networkx graph (e.g. an osmnx MultiDiGraph).

        Parameters
        ----------
        G
            Graph whose nodes carry ``x`` (lon) and ``y`` (lat). ``G.graph["crs"]`` is
            honoured if present (other CRSs are converted to EPSG:4326). Directed graphs keep
            their directions; an undirected graph becomes two-way. Edge lengths are geodesic
            (WGS-84 ellipsoid) along the edge ``geometry`` if present, else the straight segment
            (any ``length`` attribute is ignored so every distance uses one metric), and never
            shorter than the straight line in the network's CRS. Edge
            speed: ``speed_kmh`` or ``speed_kph`` if present, else ``maxspeed:hgv``, else
            ``maxspeed``, else by ``highway`` type (:data:`HIGHWAY_SPEED_KMH`), capped at
            ``truck_speed_kmh``.
        truck_speed_kmh
            Speed cap, km/h; default :data:`TRUCK_SPEED_KMH`.
        source
            Label stored in :attr:`source`.
        crs
            Projected CRS to measure in; default the UTM zone of the nodes' centre.

        Returns
        -------
        RoadNetwork
        """
        cap = _check_speed_cap(truck_speed_kmh)
        if not isinstance(G, nx.Graph):
            raise InputError(f"G must be a networkx graph, got {type(G).__name__}", fields={"G": "networkx graph"})
        if G.number_of_nodes() == 0:
            raise InputError("the graph has no nodes", fields={"G": "non-empty"})
        ids = list(G.nodes)
        pos = {nid: i for i, nid in enumerate(ids)}
        missing = [nid for nid in ids if "x" not in G.nodes[nid] or "y" not in G.nodes[nid]]
        if missing:
            raise InputError(
                f"{len(missing)} node(s) lack x/y coordinates, e.g. node {missing[0]!r} "
                "(a way may reference a node that is not in the file)",
                fields={"nodes": "x and y attributes"},
            )
        try:
            x = np.array([float(G.nodes[nid]["x"]) for nid in ids])
            y = np.array([float(G.nodes[nid]["y"]) for nid in ids])
        except (TypeError, ValueError) as exc:
            raise InputError(f"node coordinates must be numbers: {exc}", fields={"nodes": "numeric x, y"}) from None
        graph_crs = G.graph.get("crs")
        transform = None
        if graph_crs is not None and not CRS.from_user_input(graph_crs).equals(CRS.from_user_input(WGS84)):
            transform = transformer(CRS.from_user_input(graph_crs).to_wkt(), WGS84)
            x, y = transform.transform(x, y)
            x, y = np.asarray(x), np.asarray(y)

        edge_rows = []  # (ia, ib, geom, data)
        line_coords = []
        for a, b, data in G.edges(data=True):
            ia, ib = pos[a], pos[b]
            geom = data.get("geometry")
            if geom is not None and transform is not None:
                geom = shapely.transform(geom, lambda c: np.column_stack(transform.transform(c[:, 0], c[:, 1])))
            edge_rows.append((ia, ib, geom, data))
            line_coords.append(shapely.get_coordinates(geom) if geom is not None else np.array([[x[ia], y[ia]], [x[ib], y[ib]]]))
        geodesic = polyline_lengths_m(line_coords)  # one vectorised pass over every edge

        us, vs, lens, speeds, refs, geoms = [], [], [], [], [], []
        any_geom = False
        directed = G.is_directed()
        for (ia, ib, geom, data), length in zip(edge_rows, geodesic.tolist()):
            any_geom = any_geom or geom is not None
            speed = _edge_speed_kmh(data, cap)
            time_s = parse_maxspeed(data.get("travel_time_s"))  # a positive number or None
            if time_s is not None:
                # a given time (e.g. summed by simplification) defines the mean speed
                speed = min(max(length, _MIN_EDGE_M) / time_s * 3.6, cap)
            ref = _ref_str(data.get("ref"))
            pairs = [(ia, ib, geom)] if directed else [(ia, ib, geom), (ib, ia, None if geom is None else geom.reverse())]
            for pu, pv, pg in pairs:
                us.append(pu)
                vs.append(pv)
                lens.append(length)
                speeds.append(speed)
                refs.append(ref)
                geoms.append(pg)
        osmid = np.asarray(ids) if all(isinstance(i, (int, np.integer)) for i in ids) else np.asarray([str(i) for i in ids])
        return cls(
            x,
            y,
            np.asarray(us, dtype=np.int64),
            np.asarray(vs, dtype=np.int64),
            np.asarray(lens, dtype=np.float64),
            np.asarray(speeds, dtype=np.float64),
            refs,
            edge_geometry=geoms if any_geom else None,
            node_osmid=osmid,
            source=source,
            crs=crs,
        )

    @classmethod
    def from_osm(
        cls,
        path: str | Path,
        *,
        truck_speed_kmh: float | None = None,
        retain_all: bool = False,
        cut_ways: bool = False,
    ) -> RoadNetwork:
        """Read an OpenStreetMap extract offline, streaming, in bounded memory.

        Parameters
        ----------
        path
            ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` (read with pyosmium; see
            :mod:`planner.network.osm` and ``docs/osm.md``).
        truck_speed_kmh
            Speed cap, km/h; default :data:`TRUCK_SPEED_KMH`. Each edge's speed comes from
            ``maxspeed:hgv``, else ``maxspeed``, else its ``highway`` type
            (:data:`HIGHWAY_SPEED_KMH`), never above the cap.
        retain_all
            ``False`` (default): keep only the largest weakly connected component of the
            drivable roads, so a stray fragment at the edge of the extract cannot capture
            snapped points that then reach no station. ``True`` keeps every component.
        cut_ways
            Accept an extract cut without completing its ways (a bounding-box extract):
            segments touching a node absent from the file are dropped
            (:func:`planner.network.osm.read_osm`). Default: such a file is refused.

        Returns
        -------
        RoadNetwork
            Every OSM node of a kept way is a node (no simplification); lengths are
            great-circle. One-way streets stay one-way (``oneway=yes|true|1|-1|reverse``,
            roundabouts). Truck rules (``maxweight``, ``maxheight``, ``maxlength``,
            ``maxaxleload``, ``hgv``, ``access``, ``oneway``) are kept per edge in
            :attr:`edge_rules`; :meth:`for_vehicle` applies them. Ways closed to every
            motor vehicle (e.g. ``access=no`` without an exception) are dropped.

        Raises
        ------
        InputError
            Missing or unreadable file, a file that is not what its name says, a way
            referencing a node absent from the file (unless ``cut_ways``), or no drivable
            road in the file.
        """
        from planner.network.osm import read_osm

        cap = _check_speed_cap(truck_speed_kmh)
        p = Path(path)
        roads = read_osm(p, highway_speed_kmh=HIGHWAY_SPEED_KMH, speed_of=lambda tags: _edge_speed_kmh(tags, cap),
                         retain_all=retain_all, cut_ways=cut_ways)
        return cls._from_roads(roads, source=f"osm:{p.name}")

    @classmethod
    def _from_roads(cls, roads: Any, *, source: str) -> RoadNetwork:
        """The network of :class:`planner.network.osm.OsmRoads` arrays."""
        return cls(
            roads.node_lon,
            roads.node_lat,
            roads.edge_u,
            roads.edge_v,
            roads.edge_length_m,
            roads.edge_speed_kmh,
            roads.edge_ref,
            node_osmid=roads.node_id,
            source=source,
            edge_rules=roads.rules,
        )

    #: The same reader (it reads XML too); kept for existing callers.
    from_osm_xml = from_osm

    def for_vehicle(self, vehicle: Any = None) -> RoadNetwork:
        """The network a vehicle may drive: the same nodes, only the edges it may use.

        Parameters
        ----------
        vehicle
            A :class:`~planner.network.vehicle.Vehicle`, text such as ``"49t,4.2m,18m"``,
            or ``None`` for the default 49-t tractor-semitrailer.

        Returns
        -------
        RoadNetwork
            ``self`` when every edge is allowed (always for networks without truck rules,
            such as the corridors); else a network sharing the node arrays, cached per
            vehicle.
        """
        from planner.network.vehicle import allowed_edges, parse_vehicle

        v = parse_vehicle(vehicle)
        if not self.edge_rules:
            return self
        key = v.key()
        hit = self._vehicle_nets.get(key)
        if hit is not None:
            return hit
        mask = allowed_edges(self.edge_rules, self.n_edges, v)
        if mask.all():
            sub = self
        else:
            sub = copy.copy(self)
            sub.edge_u, sub.edge_v = self.edge_u[mask], self.edge_v[mask]
            sub.edge_length_m, sub.edge_time_s = self.edge_length_m[mask], self.edge_time_s[mask]
            sub.edge_speed_kmh, sub.edge_ref = self.edge_speed_kmh[mask], self.edge_ref[mask]
            sub.edge_rules = {k: a[mask] for k, a in self.edge_rules.items()}
            if self.edge_geometry is not None:
                sub.edge_geometry = [g for g, keep in zip(self.edge_geometry, mask) if keep]
            sub.source = f"{self.source} [{key}]"
            sub._vehicle_nets = {key: sub}
            sub._build_csr()
        if len(self._vehicle_nets) >= _VEHICLE_NETS_KEPT:  # each holds its own edge arrays and CSR
            self._vehicle_nets.pop(next(iter(self._vehicle_nets)))
        self._vehicle_nets[key] = sub
        return sub

    # ------------------------------------------------------------------ queries
    def snap(self, lon: float, lat: float) -> tuple[int, float]:
        """Nearest node to a point (node-based callers; drivers' queries snap to edges, see
        :meth:`snap_edges` and :mod:`planner.network.snap`).

        Parameters
        ----------
        lon, lat
            WGS-84 degrees. Points outside the region are snapped too (callers validate
            region bounds); NaN or infinite values raise :class:`InputError`.

        Returns
        -------
        (node, access_m)
            Node id and straight distance from the point to it in :attr:`crs`, metres.
        """
        lon, lat = _check_point(lon, lat)
        x, y = self.project_point(lon, lat)
        d, i = self.tree.query((x, y))
        return int(i), float(d)

    def snap_many(self, lons: Any, lats: Any) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`snap`: arrays of nodes and access distances (metres)."""
        lons = np.asarray(lons, dtype=np.float64).reshape(-1)
        lats = np.asarray(lats, dtype=np.float64).reshape(-1)
        if lons.shape != lats.shape:
            raise InputError("lons and lats differ in length", fields={"lats": "same length as lons"})
        bad = ~(np.isfinite(lons) & np.isfinite(lats))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"point {i} has a non-finite coordinate (lon={lons[i]}, lat={lats[i]})",
                fields={"lon": "finite number", "lat": "finite number"},
            )
        if lons.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        x, y = self.project(lons, lats)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        far = ~(np.isfinite(x) & np.isfinite(y))
        if far.any():
            i = int(np.flatnonzero(far)[0])
            self.project_point(float(lons[i]), float(lats[i]))  # raises with the message
        d, i = self.tree.query(np.column_stack([x, y]))
        return np.asarray(i, dtype=np.int64), np.asarray(d, dtype=np.float64)

    def _check_node(self, node: Any, name: str) -> int:
        try:
            i = int(node)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a node id, got {node!r}", fields={name: "integer node id"}) from None
        if not 0 <= i < self.n_nodes:
            raise InputError(f"{name}={i} is not a node (0..{self.n_nodes - 1})", fields={name: f"0..{self.n_nodes - 1}"})
        return i

    def route(self, orig_node: int, dest_node: int, *, weight: str = "time_s") -> list[int]:
        """Shortest path between two nodes.

        Parameters
        ----------
        orig_node, dest_node
            Node ids.
        weight
            ``"time_s"`` (fastest for a truck, default) or ``"length_m"`` (shortest).

        Returns
        -------
        list of int
            Node ids from ``orig_node`` to ``dest_node``.

        Raises
        ------
        InfeasibleError
            When no path exists (e.g. against one-way streets, or separate components).
        """
        o = self._check_node(orig_node, "orig_node")
        d = self._check_node(dest_node, "dest_node")
        A = self._weight_csr(weight)
        if o == d:
            return [o]
        _, pred = csgraph.dijkstra(A, directed=True, indices=o, return_predecessors=True)
        if pred[d] < 0:
            raise InfeasibleError(f"no road route from node {o} to node {d}", fields={"dest_node": "reachable from orig_node"})
        path = [d]
        while path[-1] != o:
            path.append(int(pred[path[-1]]))
        return path[::-1]

    def _weight_csr(self, weight: str) -> sparse.csr_array:
        if weight == "time_s":
            return self.time_csr
        if weight == "length_m":
            return self.length_csr
        raise InputError(f"unknown weight {weight!r}; use 'time_s' or 'length_m'", fields={"weight": "time_s | length_m"})

    def path_legs(self, nodes: Sequence[int], *, weight: str = "time_s") -> tuple[np.ndarray, np.ndarray]:
        """Length (m) and time (s) of each edge along a node path.

        The parallel edge used is the one ``weight`` picks (the fastest for ``time_s``,
        the shortest for ``length_m``), matching :meth:`route`.
        """
        self._weight_csr(weight)  # validates the name
        nodes = np.asarray(nodes, dtype=np.int64)
        if nodes.size < 2:
            return np.zeros(0), np.zeros(0)
        pos = self._edge_lookup(nodes[:-1], nodes[1:])
        if (pos >= self._csr_keys.size).any() or (self._csr_keys[np.minimum(pos, self._csr_keys.size - 1)] != nodes[:-1] * self.n_nodes + nodes[1:]).any():
            raise InputError("the node sequence is not a path of the network", fields={"nodes": "consecutive nodes joined by an edge"})
        if weight == "time_s":
            return self._len_on_time[pos], self.time_csr.data[pos]
        return self.length_csr.data[pos], self._time_on_len[pos]

    def coords(self, nodes: Iterable[int]) -> list[tuple[float, float]]:
        """``(lon, lat)`` of nodes, WGS-84."""
        idx = np.asarray(list(nodes), dtype=np.int64)
        return list(zip(self.node_lon[idx].tolist(), self.node_lat[idx].tolist()))

    def corridor_samples(self, step_km: float = 1.0) -> pd.DataFrame:
        """Linear referencing: nodes along each corridor, at most ``step_km`` apart.

        Only for networks built with :meth:`from_corridors` (or loaded from one).

        Parameters
        ----------
        step_km
            Largest spacing between consecutive samples of a corridor, km. Samples are
            network nodes (so their road distances are exact), chosen greedily as the
            farthest node within ``step_km`` of the previous sample; the first and last
            points of every corridor are always included. Nodes are at most
            ``max_segment_m`` apart, so a step below that returns every node.

        Returns
        -------
        pandas.DataFrame
            Columns ``corridor`` (ref), ``corridor_idx`` (row in the corridors frame),
            ``name_zh`` (if known), ``km`` (distance along the corridor from its first
            point, metres in :attr:`crs` / 1000), ``node``, ``lon``, ``lat``; ordered by corridor,
            then km.
        """
        if self._corridor_nodes is None:
            raise InputError(
                "corridor_samples needs a network built from corridors (RoadNetwork.from_corridors)",
                fields={"network": "from_corridors"},
            )
        if not (isinstance(step_km, (int, float)) and math.isfinite(step_km) and step_km > 0):
            raise InputError(f"step_km must be a positive number of km, got {step_km!r}", fields={"step_km": "> 0"})
        cn = self._corridor_nodes
        keep_rows = []
        for _, grp in cn.groupby("corridor_idx", sort=True):
            km = grp["km"].to_numpy()
            rows = grp.index.to_numpy()
            sel = [0]
            cur = 0
            last = km.size - 1
            eps = 1e-9
            while cur < last:
                j = int(np.searchsorted(km, km[cur] + step_km + eps, side="right")) - 1
                j = max(j, cur + 1)
                sel.append(j)
                cur = j
            keep_rows.append(rows[sel])
        out = cn.loc[np.concatenate(keep_rows)]
        nodes = out["node"].to_numpy()
        df = pd.DataFrame(
            {
                "corridor": out["ref"].to_numpy() if "ref" in out else out["corridor_idx"].astype(str).to_numpy(),
                "corridor_idx": out["corridor_idx"].to_numpy(),
                "km": out["km"].to_numpy(),
                "node": nodes,
                "lon": self.node_lon[nodes],
                "lat": self.node_lat[nodes],
            }
        )
        if "name_zh" in out:
            df.insert(2, "name_zh", out["name_zh"].to_numpy())
        return df.reset_index(drop=True)

    # ------------------------------------------------------------------ export
    def to_gdfs(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Nodes and directed edges as GeoDataFrames in EPSG:4326.

        Returns
        -------
        (gdf_nodes, gdf_edges)
            ``gdf_nodes``: ``node``, ``lon``, ``lat`` (+ ``osmid`` for OSM graphs), Point.
            ``gdf_edges``: ``u``, ``v``, ``length_m``, ``travel_time_s``, ``speed_kmh``,
            ``ref``, the truck rules of OSM networks (``maxweight_t``, ``maxheight_m``,
            ``maxlength_m``, ``maxaxleload_t``: NaN = no limit, -1 = ``below_default``;
            ``hgv``, ``access``: the OSM access value, "" when untagged; ``oneway``),
            LineString (the edge geometry, or the straight segment).
        """
        nodes = pd.DataFrame({"node": np.arange(self.n_nodes), "lon": self.node_lon, "lat": self.node_lat})
        if self.node_osmid is not None:
            nodes["osmid"] = self.node_osmid
        gdf_nodes = gpd.GeoDataFrame(nodes, geometry=gpd.points_from_xy(self.node_lon, self.node_lat), crs=WGS84)
        straight = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([self.node_lon[self.edge_u], self.node_lat[self.edge_u]]),
                    np.column_stack([self.node_lon[self.edge_v], self.node_lat[self.edge_v]]),
                ],
                axis=1,
            )
        ) if self.n_edges else np.array([], dtype=object)
        if self.edge_geometry is not None:
            geoms = [g if g is not None else s for g, s in zip(self.edge_geometry, straight)]
        else:
            geoms = straight
        gdf_edges = gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_length_m,
                "travel_time_s": self.edge_time_s,
                "speed_kmh": self.edge_speed_kmh,
                "ref": self.edge_ref.astype(str),
                **self._rule_columns(),
            },
            geometry=gpd.GeoSeries(geoms, crs=WGS84),
            crs=WGS84,
        )
        return gdf_nodes, gdf_edges

    def _rule_columns(self) -> dict[str, np.ndarray]:
        """Truck rules as readable columns (access codes as their OSM values)."""
        if not self.edge_rules:
            return {}
        from planner.network.vehicle import ACCESS_VALUES

        names = np.array(ACCESS_VALUES, dtype=object)
        out = {}
        for k, a in self.edge_rules.items():
            out[k] = names[a] if k in ("hgv", "access") else a
        return out

    def to_networkx(self) -> nx.MultiDiGraph:
        """A networkx MultiDiGraph (``x``/``y`` in EPSG:4326, ``length_m``, ``travel_time_s``)."""
        G = nx.MultiDiGraph(crs=WGS84)
        G.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(zip(self.node_lon, self.node_lat)))
        G.add_edges_from(
            (int(u), int(v), {"length_m": float(l), "travel_time_s": float(t), "speed_kmh": float(s), "ref": r})
            for u, v, l, t, s, r in zip(self.edge_u, self.edge_v, self.edge_length_m, self.edge_time_s, self.edge_speed_kmh, self.edge_ref)
        )
        return G

    def save(self, path: str | Path) -> Path:
        """Write the network: a GeoPackage for GIS plus a ``.npz`` beside it that loads fast.

        ``path`` ending in ``.gpkg`` writes layers ``nodes`` and ``edges`` (and
        ``corridor_nodes``) that open in QGIS, and the same network as arrays in
        ``<stem>.npz`` next to it; ending in ``.npz`` writes the arrays only. Files are
        written to a temporary name and moved into place, so a failed save never leaves a
        half-written network. :meth:`load` reads either back to an identical network.
        """
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".gpkg", ".npz"):
            raise InputError(f"save writes a GeoPackage (.gpkg) or arrays (.npz), got {str(p)!r}", fields={"path": "*.gpkg | *.npz"})
        if not p.parent.is_dir():
            raise InputError(f"cannot write {str(p)!r}: the directory {str(p.parent)!r} does not exist", fields={"path": "in an existing directory"})
        if suffix == ".gpkg":
            import pyogrio

            gdf_nodes, gdf_edges = self.to_gdfs()
            tmp = p.with_name(f".{p.name}.tmp.gpkg")
            tmp.unlink(missing_ok=True)
            try:
                meta = {"yizhan_network_source": self.source, "yizhan_network_crs": self.crs}
                pyogrio.write_dataframe(gdf_nodes, tmp, layer="nodes", driver="GPKG", layer_metadata=meta)
                pyogrio.write_dataframe(gdf_edges, tmp, layer="edges", driver="GPKG", append=False)
                if self._corridor_nodes is not None:
                    pyogrio.write_dataframe(self._corridor_nodes, tmp, layer="corridor_nodes", driver="GPKG")
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
        self._save_npz(p.with_suffix(".npz"))
        return p

    def _save_npz(self, p: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "format": np.array(_NPZ_FORMAT),
            "source": np.array(self.source),
            "crs": np.array(self.crs),
            "node_lon": self.node_lon,
            "node_lat": self.node_lat,
            "edge_u": self.edge_u,
            "edge_v": self.edge_v,
            "edge_length_m": self.edge_length_m,
            "edge_time_s": self.edge_time_s,
            "edge_speed_kmh": self.edge_speed_kmh,
        }
        ref_names, ref_code = np.unique(self.edge_ref.astype(str), return_inverse=True)
        arrays["ref_names"] = ref_names.astype(str)
        arrays["ref_code"] = ref_code.astype(np.int32)
        if self.node_osmid is not None:
            arrays["node_osmid"] = np.asarray(self.node_osmid) if self.node_osmid.dtype != object else self.node_osmid.astype(str)
        for k, a in (self.edge_rules or {}).items():
            arrays[f"rule_{k}"] = a
        if self.edge_geometry is not None:
            geoms = np.array([shapely.linestrings([[self.node_lon[u], self.node_lat[u]], [self.node_lon[v], self.node_lat[v]]])
                              if g is None else g for g, u, v in zip(self.edge_geometry, self.edge_u, self.edge_v)], dtype=object)
            coords, owner = shapely.get_coordinates(geoms, return_index=True)
            arrays["geom_coords"] = coords
            arrays["geom_offsets"] = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(geoms)))])
        if self._corridor_nodes is not None:
            for c in self._corridor_nodes.columns:
                col = self._corridor_nodes[c]
                numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
                arrays[f"cn_{c}"] = col.to_numpy() if numeric else col.fillna("").astype(str).to_numpy(dtype=str)
        tmp = p.with_name(f".{p.name}.tmp.npz")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Read a network written by :meth:`save`: a ``.npz``, or a GeoPackage.

        For a ``.gpkg`` with an up-to-date ``.npz`` of the same name beside it (as
        :meth:`save` writes), the arrays are read instead (seconds faster at province
        scale); any GeoPackage with the same layers is read too.
        """
        p = Path(path)
        if not p.is_file():
            raise InputError(f"network file not found: {str(p)!r}", fields={"path": "existing .gpkg or .npz"})
        suffix = p.suffix.lower()
        if suffix == ".npz":
            return cls._load_npz(p)
        if suffix != ".gpkg":
            raise InputError(
                f"{p.name}: a network is a .gpkg or .npz written by import-osm (for an OSM extract, run "
                "`python -m planner import-osm` first)",
                fields={"path": "*.gpkg | *.npz"},
            )
        twin = p.with_suffix(".npz")
        if twin.is_file() and twin.stat().st_mtime >= p.stat().st_mtime:
            try:
                return cls._load_npz(twin)
            except InputError:
                pass  # fall back to the GeoPackage itself
        return cls._load_gpkg(p)

    @classmethod
    def _load_npz(cls, p: Path) -> RoadNetwork:
        import zipfile

        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"{p.name} is not a readable network .npz: {exc}", fields={"path": "network .npz"}) from None
        need = {"format", "node_lon", "node_lat", "edge_u", "edge_v", "edge_length_m", "edge_time_s", "edge_speed_kmh", "ref_names", "ref_code"}
        if not need <= set(data) or int(data["format"]) != _NPZ_FORMAT:
            raise InputError(f"{p.name} is not a network .npz written by this version (save it again)", fields={"path": "network .npz"})
        rules = {k[5:]: v for k, v in data.items() if k.startswith("rule_")} or None
        geoms = None
        if "geom_coords" in data:
            off = data["geom_offsets"]
            coords = data["geom_coords"]
            geoms = list(shapely.linestrings(coords, indices=np.repeat(np.arange(off.size - 1), np.diff(off))))
        corridor_nodes = None
        cn = {k[3:]: v for k, v in data.items() if k.startswith("cn_")}
        if cn:
            corridor_nodes = pd.DataFrame(cn)
        return cls(
            data["node_lon"],
            data["node_lat"],
            data["edge_u"],
            data["edge_v"],
            data["edge_length_m"],
            data["edge_speed_kmh"],
            data["ref_names"].astype(object)[data["ref_code"]],
            edge_time_s=data["edge_time_s"],
            edge_geometry=geoms,
            node_osmid=data.get("node_osmid"),
            corridor_nodes=corridor_nodes,
            source=str(data["source"]),
            edge_rules=rules,
            crs=str(data["crs"]) if "crs" in data else None,
        )

    @classmethod
    def _load_gpkg(cls, p: Path) -> RoadNetwork:
        import pyogrio

        try:
            layers = {name for name, _ in pyogrio.list_layers(p)}
        except Exception as exc:  # pyogrio raises DataSourceError subclasses of RuntimeError/OSError
            raise InputError(f"{p.name} is not a readable GeoPackage: {exc}", fields={"path": "GeoPackage"}) from None
        if not {"nodes", "edges"} <= layers:
            raise InputError(
                f"{p.name} lacks the 'nodes' and 'edges' layers (has {sorted(layers)})", fields={"path": "nodes + edges layers"}
            )
        nodes = pyogrio.read_dataframe(p, layer="nodes")
        edges = pyogrio.read_dataframe(p, layer="edges")
        need_n = {"node", "lon", "lat"}
        need_e = {"u", "v", "length_m", "travel_time_s", "speed_kmh"}
        if not need_n <= set(nodes.columns) or not need_e <= set(edges.columns):
            raise InputError(
                f"{p.name}: nodes need {sorted(need_n)}, edges need {sorted(need_e)}",
                fields={"path": "network GeoPackage"},
            )
        nodes = nodes.sort_values("node")
        if not np.array_equal(nodes["node"].to_numpy(), np.arange(len(nodes))):
            raise InputError(f"{p.name}: node ids must be 0..n-1", fields={"nodes": "0..n-1"})
        meta = pyogrio.read_info(p, layer="nodes").get("layer_metadata") or {}
        corridor_nodes = None
        if "corridor_nodes" in layers:
            corridor_nodes = pd.DataFrame(pyogrio.read_dataframe(p, layer="corridor_nodes", read_geometry=False))
        osmid = nodes["osmid"].to_numpy() if "osmid" in nodes.columns else None
        ref = edges["ref"].fillna("").to_numpy() if "ref" in edges.columns else None
        rules = _rules_from_columns(edges)
        return cls(
            nodes["lon"].to_numpy(),
            nodes["lat"].to_numpy(),
            edges["u"].to_numpy(),
            edges["v"].to_numpy(),
            edges["length_m"].to_numpy(),
            edges["speed_kmh"].to_numpy(),
            ref,
            edge_time_s=edges["travel_time_s"].to_numpy(),
            edge_geometry=list(edges.geometry) if edges.geometry is not None else None,
            node_osmid=osmid,
            corridor_nodes=corridor_nodes,
            source=meta.get("yizhan_network_source", f"gpkg:{p.name}"),
            crs=meta.get("yizhan_network_crs"),  # files from before the CRS was stored: chosen from the nodes
            edge_rules=rules,
        )


#: Version of the ``.npz`` layout written by :meth:`RoadNetwork.save`.
_NPZ_FORMAT = 1


def _rules_from_columns(edges: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Truck rules from the edge columns of a GeoPackage (None when it has none)."""
    from planner.network.vehicle import ACCESS_VALUES, RULE_COLUMNS

    present = [k for k in RULE_COLUMNS if k in edges.columns]
    if not present:
        return None
    code = {v: i for i, v in enumerate(ACCESS_VALUES)}
    rules = {}
    for k in present:
        col = edges[k]
        if k in ("hgv", "access"):
            rules[k] = np.array([code.get(str(v), code["other"]) if isinstance(v, str) else 0 for v in col], dtype=np.int8)
        else:
            rules[k] = col.to_numpy(dtype=RULE_COLUMNS[k], na_value=np.nan) if k != "oneway" else col.fillna(False).to_numpy(dtype=bool)
    return rules


def _check_speed_cap(truck_speed_kmh: float | None) -> float:
    if truck_speed_kmh is None:
        return TRUCK_SPEED_KMH
    try:
        v = float(truck_speed_kmh)
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"truck_speed_kmh must be a positive number, got {truck_speed_kmh!r}", fields={"truck_speed_kmh": "> 0"})
    return v


def _check_point(lon: Any, lat: Any) -> tuple[float, float]:
    """Finite lon/lat floats, else InputError (region bounds are the caller's business)."""
    try:
        lo, la = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError(f"lon/lat must be numbers, got lon={lon!r}, lat={lat!r}", fields={"lon": "number", "lat": "number"}) from None
    bad = {}
    if not math.isfinite(lo):
        bad["lon"] = f"finite number (got {lo})"
    if not math.isfinite(la):
        bad["lat"] = f"finite number (got {la})"
    if bad:
        raise InputError(f"coordinates must be finite: lon={lo}, lat={la}", fields=bad)
    return lo, la
