"""The road network: :class:`RoadNetwork`, a directed graph in metres and truck seconds.

A :class:`RoadNetwork` holds nodes (WGS-84 lon/lat and metres in its own projected CRS,
:attr:`RoadNetwork.crs`: the region's, or the UTM zone of the nodes' centre) and directed edges
with ``length_m``, ``travel_time_s`` (truck time) and ``speed_kmh``. Lengths of real road data
(:meth:`RoadNetwork.from_graph`, :meth:`RoadNetwork.from_osm`) are geodesic, on the WGS-84
ellipsoid; corridor segments are measured in the network's CRS.
Routing uses two ``scipy.sparse.csr_array`` matrices (metres and seconds) that keep the
minimum of parallel edges, so scipy's ``csgraph`` algorithms run directly on them.

Every edge is at least as long as the straight projected distance between its end nodes.
Because snapping and straight-line distances are measured in the same projected metric, any road distance
built from an access leg, a network path and another access leg is never shorter than the
straight line between its ends (the triangle inequality the access layer relies on).

Every constructor meets in :meth:`RoadNetwork.__init__`, which checks the arrays: the builders
(:mod:`planner.network.build` for corridors and networkx graphs, :mod:`planner.network.osm`
for OpenStreetMap, :mod:`planner.network.store` for saved files) only produce them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.spatial import cKDTree

from planner._validate import positive
from planner.errors import InfeasibleError, InputError
from planner.network.build import MIN_EDGE_M, corridor_arrays, graph_arrays
from planner.network.speeds import HIGHWAY_SPEED_KMH, check_speed_cap, edge_speed_kmh
from planner.network.store import read_network, save_network
from planner.projection import WGS84, check_crs, crs_for_extent, project, unproject

__all__ = ["RoadNetwork"]

#: Sub-networks kept per network by :meth:`RoadNetwork.for_vehicle` (oldest dropped first).
_VEHICLE_NETS_KEPT = 4


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
        self.edge_length_m = np.maximum(np.maximum(length, straight), MIN_EDGE_M)
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
        return cls(**corridor_arrays(corridors, max_segment_m=max_segment_m, merge_tol_m=merge_tol_m, crs=crs))

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
        return cls(**graph_arrays(G, truck_speed_kmh=truck_speed_kmh, source=source, crs=crs))

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

        cap = check_speed_cap(truck_speed_kmh)
        p = Path(path)
        roads = read_osm(p, highway_speed_kmh=HIGHWAY_SPEED_KMH, speed_of=lambda tags: edge_speed_kmh(tags, cap),
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
        from planner.network.index import network_csr, seeded_dijkstra

        o = self._check_node(orig_node, "orig_node")
        d = self._check_node(dest_node, "dest_node")
        self._weight_csr(weight)  # InputError for an unknown weight
        if o == d:
            return [o]
        # the one point-to-point search (NearestIndex routes use it too), stopping at d
        g = network_csr(self, weight)
        zero = np.zeros(1)
        _, _, _, pred, best = seeded_dijkstra(g.indptr, g.indices, g.w, g.aux, g.n, np.array([o], dtype=np.int64),
                                              np.zeros(1, dtype=np.int64), zero, zero, np.inf, np.array([d], dtype=np.int64), zero)
        if best < 0:
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
        step_km = positive(step_km, "step_km", unit="km", strict=True)
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
        half-written network. :meth:`load` reads either back to an identical network
        (:mod:`planner.network.store`).
        """
        return save_network(self, path)

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Read a network written by :meth:`save`: a ``.npz``, or a GeoPackage.

        For a ``.gpkg`` with an up-to-date ``.npz`` of the same name beside it (as
        :meth:`save` writes), the arrays are read instead (seconds faster at province
        scale); any GeoPackage with the same layers is read too.
        """
        return read_network(path, cls)


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
