"""Nearest Driver's Home by road, drive times, routes and stations along a route.

:class:`NearestIndex` precomputes, once, the road distance from every network node to every
(non-retired) station: one Dijkstra per station on the *transposed* graph, so the value is
node → station even on one-way streets. Rows are stored as float32 (rounded up, so a
stored distance is never shorter than the true one) with the truck time along the same
path. A query then costs a KD-tree lookup and a few numpy operations on one table row.

Distances a driver sees (``road_km``) are the sum of three legs, all in metres of the network's CRS:
the straight access leg from the point to its snapped node, the network path, and the
straight access leg from the station's node to the station. Every network edge is at
least as long as the straight line between its nodes, so ``road_km >= straight_km``
always holds (triangle inequality in one metric). ``drive_min`` is the truck time along
the network part of that same route plus both access legs at ``access_speed_kmh``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from planner.errors import InfeasibleError, InputError, NotFoundError
from planner.network import RoadNetwork, _check_point
from planner.settings import ACCESS_SPEED_KMH
from planner.stations import AMENITIES, is_open

__all__ = ["NearestIndex", "nearest_source_per_node"]

#: Nodes whose station order :meth:`NearestIndex.nearest` keeps (bounded for large OSM graphs).
_ORDER_CACHE_NODES = 100_000


def nearest_source_per_node(
    csr: Any, sources: Sequence[int], *, directed: bool = True, symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from every node to its nearest source, and which source (multi-source Dijkstra).

    One call of ``scipy.sparse.csgraph.dijkstra(..., indices=sources, min_only=True,
    return_predecessors=True)``. On a directed graph it runs on the transpose, so the
    distance is node → source (the way a truck drives *to* a station).

    Parameters
    ----------
    csr
        ``n×n`` sparse matrix of non-negative edge weights (e.g.
        :attr:`RoadNetwork.length_csr`); parallel edges must already be reduced.
    sources
        Node ids of the sources (stations); duplicates allowed.
    directed
        ``False`` treats every edge as two-way.
    symmetric
        The caller knows ``csr`` equals its transpose (every road two-way at the same cost,
        as built by :meth:`RoadNetwork.from_corridors`): skip building the transpose, which
        costs about a fifth of the run on a million-node graph. Not checked.

    Returns
    -------
    (dist, source_index)
        ``dist[i]``: weight of the shortest path from node ``i`` to any source (``inf`` if
        none is reachable). ``source_index[i]``: position in ``sources`` of that source
        (the first position if a node appears twice), ``-1`` if unreachable.
    """
    n = csr.shape[0]
    src = np.asarray(sources, dtype=np.int64).reshape(-1)
    if src.size == 0:
        raise InputError("sources is empty; give at least one source node", fields={"sources": "non-empty"})
    if src.min() < 0 or src.max() >= n:
        raise InputError(f"sources must be node ids in 0..{n - 1}", fields={"sources": f"0..{n - 1}"})
    graph = csr.T if directed and not symmetric else csr
    dist, _, origin = dijkstra(graph, directed=directed, indices=src, min_only=True, return_predecessors=True)
    # position of each source node in `sources` (first wins); slot n stands for "none"
    lookup = np.full(n + 1, -1, dtype=np.int64)
    lookup[src[::-1]] = np.arange(src.size - 1, -1, -1)
    index = lookup[np.where(origin < 0, n, origin)]
    return dist, index


def _float32_up(a: np.ndarray) -> np.ndarray:
    """float64 → float32, rounding up so stored distances never undercut the exact ones."""
    b = a.astype(np.float32)
    low = b < a
    b[low] = np.nextafter(b[low], np.float32(np.inf))
    return b


def _path_sums(pred: np.ndarray, edge_w: np.ndarray) -> np.ndarray:
    """Sum of ``edge_w`` from each node to the root of its predecessor tree (pointer jumping).

    ``pred`` is (rows, n) with -9999 at roots/unreachable; ``edge_w`` is (rows, n), the
    weight of the edge from a node to its predecessor. O(rows·n·log depth), pure numpy.
    """
    rows, n = pred.shape
    base = (np.arange(rows, dtype=np.int64) * n)[:, None]
    ptr = np.where(pred >= 0, pred.astype(np.int64) + base, np.arange(n, dtype=np.int64)[None, :] + base).ravel()
    total = np.where(pred >= 0, edge_w, 0.0).ravel()
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        total = total + total[ptr]
        ptr = nxt
    return total.reshape(rows, n)


def _as_time(open_at: Any) -> dt.time | None:
    if open_at is None:
        return None
    if isinstance(open_at, dt.datetime):
        return open_at.time()
    if isinstance(open_at, dt.time):
        return open_at
    if isinstance(open_at, str):
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", open_at)
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return dt.time(int(m.group(1)), int(m.group(2)))
    raise InputError(
        f"open_at must be a time of day such as '22:30' (or datetime.time), got {open_at!r}",
        fields={"open_at": "HH:MM"},
    )


class NearestIndex:
    """Nearest stations by road, with filters, from any point.

    Parameters
    ----------
    network
        The road network (e.g. ``RoadNetwork.from_corridors(region.corridors)``).
    stations
        Station records (see the contract). Records with ``status == "retired"`` are left
        out and never returned. Each needs ``id``, ``lon``, ``lat``; ``amenities``,
        ``charging.max_power_kw`` and ``hours`` default to none/0/``"24h"``.
    access_speed_kmh
        Speed on the straight access legs between a point and the network, km/h.

    Notes
    -----
    The precompute stores two float32 ``n_nodes × n_stations`` tables (distance, time) and
    one int32 predecessor table per distinct station node: ~12 bytes per node per station
    (for the Mianyang corridors, a few MB). A province-wide OSM network with hundreds of
    stations would need :func:`nearest_source_per_node` per filter instead.
    """

    def __init__(self, network: RoadNetwork, stations: Iterable[Mapping[str, Any]], *, access_speed_kmh: float = ACCESS_SPEED_KMH):
        if not isinstance(network, RoadNetwork):
            raise InputError(f"network must be a RoadNetwork, got {type(network).__name__}", fields={"network": "RoadNetwork"})
        try:
            speed = float(access_speed_kmh)
        except (TypeError, ValueError):
            speed = float("nan")
        if not (math.isfinite(speed) and speed > 0):
            raise InputError(f"access_speed_kmh must be a positive number, got {access_speed_kmh!r}", fields={"access_speed_kmh": "> 0"})
        self.network = network
        self.access_speed_kmh = speed
        self._access_mps = speed / 3.6

        kept = [s for s in stations if str(s.get("status", "open")) != "retired"]
        self.stations: list[Mapping[str, Any]] = kept
        self.station_ids: list[str] = [str(s.get("id")) for s in kept]
        dupes = sorted(i for i, c in Counter(self.station_ids).items() if c > 1)
        if dupes:
            raise InputError(f"duplicate station ids: {dupes}", fields={"id": "unique"})
        self._pos = {sid: i for i, sid in enumerate(self.station_ids)}
        S = len(kept)
        try:
            lon = np.array([float(s["lon"]) for s in kept], dtype=np.float64)
            lat = np.array([float(s["lat"]) for s in kept], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"every station needs numeric lon and lat ({exc})", fields={"lon": "number", "lat": "number"}) from None
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            sid = self.station_ids[int(np.flatnonzero(bad)[0])]
            raise InputError(f"station {sid} has a non-finite lon/lat", fields={"lon": "finite", "lat": "finite"})
        self.station_lon, self.station_lat = lon, lat
        sx, sy = network.project(lon, lat)
        self._st_x, self._st_y = np.asarray(sx, dtype=np.float64), np.asarray(sy, dtype=np.float64)
        self.station_node, self.station_access_m = network.snap_many(lon, lat)

        # filters
        self._amenity_col = {name: j for j, name in enumerate(AMENITIES)}
        amen = np.zeros((S, len(AMENITIES)), dtype=bool)
        power = np.zeros(S)
        hours = []
        for i, s in enumerate(kept):
            a = s.get("amenities") or {}
            for name, j in self._amenity_col.items():
                amen[i, j] = bool(a.get(name, False))
            ch = s.get("charging") or {}
            mp = ch.get("max_power_kw")
            if mp is None:
                mp = max((float(b.get("power_kw", 0)) for b in ch.get("bays", []) or []), default=0.0)
            power[i] = float(mp)
            hours.append(str(s.get("hours") or "24h"))
        self._amenities = amen
        self._power_kw = power
        self._hours_values, self._hours_inv = np.unique(np.array(hours, dtype=object).astype(str), return_inverse=True) if S else (np.array([], dtype=str), np.zeros(0, dtype=np.int64))
        for h in self._hours_values:
            try:
                is_open(str(h), dt.time(0, 0))
            except InputError:
                sid = self.station_ids[hours.index(str(h))]
                raise InputError(f"station {sid} has malformed hours {h!r}; use '24h' or 'HH:MM-HH:MM'", fields={"hours": "24h | HH:MM-HH:MM"}) from None

        self._lon_list = lon.tolist()
        self._lat_list = lat.tolist()
        self._access_km_list = [round(a / 1000.0, 3) for a in self.station_access_m.tolist()]
        self._access_m_list = self.station_access_m.tolist()
        self._st_x_list, self._st_y_list = self._st_x.tolist(), self._st_y.tolist()
        self._order_cache: dict[int, tuple[list[int], list[float], list[float]]] = {}
        self._mask_cache: dict[tuple, np.ndarray] = {}
        self._precompute()
        self._dist_from: np.ndarray | None = None

    # ------------------------------------------------------------------ precompute
    def _precompute(self) -> None:
        net = self.network
        n, S = net.n_nodes, len(self.stations)
        if S == 0:
            self._dist = np.zeros((n, 0), dtype=np.float32)
            self._time = np.zeros((n, 0), dtype=np.float32)
            self._uniq_nodes = np.zeros(0, dtype=np.int64)
            self._st_row = np.zeros(0, dtype=np.int64)
            self._pred = np.zeros((0, n), dtype=np.int32)
            return
        uniq, inv = np.unique(self.station_node, return_inverse=True)
        # transposed graph: dist[r, v] = shortest length from node v TO station node uniq[r]
        dist, pred = dijkstra(net.length_csr.T, directed=True, indices=uniq, return_predecessors=True)
        # truck time along those same (shortest-length) paths: edge v -> pred[v] in the
        # original direction, summed to the station by pointer jumping
        valid = pred >= 0
        w = np.zeros(pred.shape)
        rows, cols = np.nonzero(valid)
        w[rows, cols] = net._time_on_len[net._edge_lookup(cols, pred[rows, cols])]
        time = _path_sums(pred, w)
        time[~np.isfinite(dist)] = np.inf
        self._uniq_nodes = uniq
        self._st_row = inv.reshape(-1)
        self._pred = pred.astype(np.int32)
        # node-major tables: one contiguous row per query
        self._dist = np.ascontiguousarray(_float32_up(dist[self._st_row].T))
        self._time = np.ascontiguousarray(time[self._st_row].T.astype(np.float32))

    def _station_to_nodes(self) -> np.ndarray:
        """(n_nodes × S) road metres from each station node to each node (lazy, for detours)."""
        if self._dist_from is None:
            if len(self.stations) == 0:
                self._dist_from = np.zeros((self.network.n_nodes, 0), dtype=np.float32)
            else:
                d = dijkstra(self.network.length_csr, directed=True, indices=self._uniq_nodes)
                self._dist_from = np.ascontiguousarray(_float32_up(d[self._st_row].T))
        return self._dist_from

    # ------------------------------------------------------------------ filters
    def eligible_mask(
        self,
        *,
        amenities: Iterable[str] | str = (),
        min_power_kw: float | None = None,
        open_at: dt.time | dt.datetime | str | None = None,
    ) -> np.ndarray:
        """Boolean mask over :attr:`stations` of those meeting every filter.

        Parameters
        ----------
        amenities
            Amenity keys from :data:`planner.stations.AMENITIES`; a station must have all.
        min_power_kw
            Minimum ``charging.max_power_kw`` (e.g. 1000 for megawatt charging).
        open_at
            Time of day (``datetime.time``, ``datetime`` or ``"HH:MM"``); uses
            :func:`planner.stations.is_open`.
        """
        names = (amenities,) if isinstance(amenities, str) else tuple(amenities or ())
        try:
            key = (names, min_power_kw, open_at)
            hit = self._mask_cache.get(key)
        except TypeError:  # unhashable option: validate and compute below
            key, hit = None, None
        if hit is not None:
            return hit.copy()
        mask = self._eligible_mask(names, min_power_kw, open_at)
        if key is not None:
            if len(self._mask_cache) >= 4096:
                self._mask_cache.clear()
            self._mask_cache[key] = mask
        return mask.copy()

    def _eligible_mask(self, names: tuple, min_power_kw: Any, open_at: Any) -> np.ndarray:
        unknown = [a for a in names if a not in self._amenity_col]
        if unknown:
            raise InputError(
                f"unknown amenity {unknown[0]!r}; valid amenities: {', '.join(AMENITIES)}",
                fields={"amenities": f"one of {', '.join(AMENITIES)}"},
            )
        mask = np.ones(len(self.stations), dtype=bool)
        if names:
            mask &= self._amenities[:, [self._amenity_col[a] for a in names]].all(axis=1)
        if min_power_kw is not None:
            try:
                p = float(min_power_kw)
            except (TypeError, ValueError):
                p = float("nan")
            if not (math.isfinite(p) and p >= 0):
                raise InputError(f"min_power_kw must be a number >= 0, got {min_power_kw!r}", fields={"min_power_kw": ">= 0"})
            mask &= self._power_kw >= p
        at = _as_time(open_at)
        if at is not None and mask.any():
            opened = np.array([is_open(str(h), at) for h in self._hours_values], dtype=bool)
            mask &= opened[self._hours_inv]
        return mask

    # ------------------------------------------------------------------ queries
    def nearest(
        self,
        lon: float,
        lat: float,
        *,
        k: int = 3,
        amenities: Iterable[str] | str = (),
        min_power_kw: float | None = None,
        open_at: dt.time | dt.datetime | str | None = None,
    ) -> dict:
        """The ``k`` nearest eligible stations by road from a point.

        Parameters
        ----------
        lon, lat
            WGS-84 degrees (region bounds are the caller's check; NaN/inf raise).
        k
            Number of stations wanted (fewer if fewer are eligible and reachable).
        amenities, min_power_kw, open_at
            Filters, see :meth:`eligible_mask`.

        Returns
        -------
        dict
            ``{"origin": {"lon", "lat", "snapped_km"}, "results": [{"id", "name",
            "road_km", "drive_min", "straight_km", "lon", "lat", "access_km", "kind",
            "data_status"}, ...]}`` sorted by ``road_km`` (km rounded to 1 m, minutes to
            0.01). ``road_km`` = origin access + network + station access;
            ``straight_km`` is the straight line in the network's CRS, never larger than ``road_km``.
        """
        lon, lat = _check_point(lon, lat)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be a whole number >= 1, got {k!r}", fields={"k": "integer >= 1"})
        mask = self.eligible_mask(amenities=amenities, min_power_kw=min_power_kw, open_at=open_at)
        x, y = self.network.project_point(lon, lat)
        access_m, node = self.network.tree.query((x, y))
        access_m = float(access_m)
        # A query touches a handful of stations: plain Python over the node's cached order
        # is several times cheaper than a dozen small numpy calls (measured per request).
        order, total_m, time_s = self._node_order(int(node))
        eligible = mask.tolist()
        picked = []
        for i in order:
            if eligible[i]:
                picked.append(i)
                if len(picked) == k:
                    break
        results = []
        for i in picked:
            s = self.stations[i]
            access_i = self._access_m_list[i]
            results.append(
                {
                    "id": self.station_ids[i],
                    "name": s.get("name"),
                    # rounding is monotonic, so road_km >= straight_km survives it
                    "road_km": round((access_m + total_m[i]) / 1000.0, 3),
                    "drive_min": round(((access_m + access_i) / self._access_mps + time_s[i]) / 60.0, 2),
                    "straight_km": round(math.hypot(self._st_x_list[i] - x, self._st_y_list[i] - y) / 1000.0, 3),
                    "lon": self._lon_list[i],
                    "lat": self._lat_list[i],
                    "access_km": self._access_km_list[i],
                    "kind": s.get("kind"),
                    "data_status": s.get("data_status"),
                }
            )
        return {"origin": {"lon": lon, "lat": lat, "snapped_km": round(access_m / 1000.0, 3)}, "results": results}

    def _node_order(self, node: int) -> tuple[list[int], list[float], list[float]]:
        """Reachable stations from ``node`` by road distance (ties by position), with the
        network + station-access metres and network seconds per station; cached per node."""
        hit = self._order_cache.get(node)
        if hit is None:
            total = self._dist[node].astype(np.float64) + self.station_access_m
            reachable = np.flatnonzero(np.isfinite(total))
            order = reachable[np.lexsort((reachable, total[reachable]))]
            hit = (order.tolist(), total.tolist(), self._time[node].astype(np.float64).tolist())
            if len(self._order_cache) >= _ORDER_CACHE_NODES:
                self._order_cache.clear()
            self._order_cache[node] = hit
        return hit

    def per_node(self, *, mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest eligible station for every network node.

        Parameters
        ----------
        mask
            Boolean array over :attr:`stations` (e.g. from :meth:`eligible_mask`); ``None``
            means every (non-retired) station.

        Returns
        -------
        (dist_m, time_s, station_pos)
            Road metres and truck seconds from each node to its nearest station, including
            the station's access leg (``inf`` where none is reachable), and the position of
            that station in :attr:`stations` (``-1`` if none).
        """
        S = len(self.stations)
        n = self.network.n_nodes
        if mask is None:
            cols = np.arange(S)
        else:
            m = np.asarray(mask)
            if m.dtype != bool or m.shape != (S,):
                raise InputError(f"mask must be a boolean array of length {S} (one per station)", fields={"mask": f"bool[{S}]"})
            cols = np.flatnonzero(m)
        if cols.size == 0:
            return np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        d = self._dist[:, cols] + self.station_access_m[cols]
        best = np.argmin(d, axis=1)
        rows = np.arange(n)
        dist_m = d[rows, best]
        time_s = self._time[rows, cols[best]].astype(np.float64) + self.station_access_m[cols[best]] / self._access_mps
        pos = cols[best].astype(np.int64)
        none = ~np.isfinite(dist_m)
        pos[none] = -1
        time_s[none] = np.inf
        return dist_m, time_s, pos

    def _station_pos(self, station_id: str) -> int:
        try:
            return self._pos[str(station_id)]
        except KeyError:
            raise NotFoundError(f"no open station with id {station_id!r}", fields={"station_id": "an open station id"}) from None

    def route(self, lon: float, lat: float, station_id: str) -> list[tuple[float, float]]:
        """Road route from a point to a station, as ``(lon, lat)`` pairs.

        The route is the one ``road_km`` in :meth:`nearest` measures (shortest by length):
        the point, the nodes of the network path, then the station.

        Raises
        ------
        NotFoundError
            Unknown or retired station.
        InfeasibleError
            The station cannot be reached from the point's node.
        """
        lon, lat = _check_point(lon, lat)
        i = self._station_pos(station_id)
        node, _ = self.network.snap(lon, lat)
        target = int(self.station_node[i])
        pred = self._pred[self._st_row[i]]
        path = [node]
        while path[-1] != target:
            nxt = int(pred[path[-1]])
            if nxt < 0:
                raise InfeasibleError(f"station {station_id} cannot be reached by road from ({lon}, {lat})", fields={"station_id": "reachable"})
            path.append(nxt)
        return [(lon, lat), *self.network.coords(path), (float(self.station_lon[i]), float(self.station_lat[i]))]

    def along_route(
        self,
        orig_lonlat: Sequence[float],
        dest_lonlat: Sequence[float],
        *,
        detour_km: float = 5.0,
        max_drive_h: float = 4.0,
        amenities: Iterable[str] | str = (),
        min_power_kw: float | None = None,
        open_at: dt.time | dt.datetime | str | None = None,
    ) -> dict:
        """Fastest truck route between two points, stations near it, and the 4-hour point.

        Parameters
        ----------
        orig_lonlat, dest_lonlat
            ``(lon, lat)`` WGS-84.
        detour_km
            Largest extra distance to visit a station, km. A station's detour is the
            cheapest way to leave the route at node ``i``, drive to the station (with its
            access leg both ways) and rejoin at the same or a later route node ``j``:
            ``d(r_i→s) + d(s→r_j) − (route km from i to j) + 2·access``, minimised over
            ``i ≤ j`` and floored at 0 (road distances, directed).
        max_drive_h
            Continuous driving limit, hours (law: 4 h, then a >= 20 min break).
        amenities, min_power_kw, open_at
            Station filters, see :meth:`eligible_mask`.

        Returns
        -------
        dict
            ``route`` (list of ``(lon, lat)``: origin, network nodes, destination),
            ``route_km``, ``drive_min``, ``origin``/``destination`` (``lon``, ``lat``,
            ``snapped_km``), ``stations`` (in route order: ``id``, ``name``, ``lon``,
            ``lat``, ``detour_km``, ``at_km`` and ``at_drive_min`` where one leaves the
            route, ``within_limit``), ``limit_point`` (``lon``, ``lat``, ``at_km``,
            ``drive_min``: where ``max_drive_h`` of driving at the route's truck speeds
            ends; ``None`` if the route is shorter), ``detour_km``, ``max_drive_h``.
        """
        o_lon, o_lat = _lonlat_pair(orig_lonlat, "orig_lonlat")
        d_lon, d_lat = _lonlat_pair(dest_lonlat, "dest_lonlat")
        try:
            detour_km = float(detour_km)
            max_drive_h = float(max_drive_h)
        except (TypeError, ValueError):
            raise InputError("detour_km and max_drive_h must be numbers", fields={"detour_km": ">= 0", "max_drive_h": "> 0"}) from None
        if not (math.isfinite(detour_km) and detour_km >= 0):
            raise InputError(f"detour_km must be >= 0, got {detour_km}", fields={"detour_km": ">= 0"})
        if not (math.isfinite(max_drive_h) and max_drive_h > 0):
            raise InputError(f"max_drive_h must be > 0 hours, got {max_drive_h}", fields={"max_drive_h": "> 0"})
        mask = self.eligible_mask(amenities=amenities, min_power_kw=min_power_kw, open_at=open_at)
        net = self.network
        nodes_snap, acc = net.snap_many([o_lon, d_lon], [o_lat, d_lat])
        nodes = np.asarray(net.route(int(nodes_snap[0]), int(nodes_snap[1]), weight="time_s"), dtype=np.int64)
        leg_m, leg_s = net.path_legs(nodes, weight="time_s")
        ox_, oy_ = net.project_point(o_lon, o_lat)
        dx_, dy_ = net.project_point(d_lon, d_lat)
        px = np.concatenate([[ox_], net.node_x[nodes], [dx_]])
        py = np.concatenate([[oy_], net.node_y[nodes], [dy_]])
        legs_m = np.concatenate([[acc[0]], leg_m, [acc[1]]])
        legs_s = np.concatenate([[acc[0] / self._access_mps], leg_s, [acc[1] / self._access_mps]])
        cum_m = np.concatenate([[0.0], np.cumsum(legs_m)])
        cum_s = np.concatenate([[0.0], np.cumsum(legs_s)])
        c = cum_m[1:-1]  # km position (m) of each route node
        route = [(o_lon, o_lat), *net.coords(nodes), (d_lon, d_lat)]

        stations_out = []
        cols = np.flatnonzero(mask)
        if cols.size:
            to_s = self._dist[nodes][:, cols].astype(np.float64)  # route node -> station
            from_s = self._station_to_nodes()[nodes][:, cols].astype(np.float64)  # station -> route node
            leave = to_s + c[:, None]
            best_leave = np.minimum.accumulate(leave, axis=0)
            det = best_leave + from_s - c[:, None]
            j_best = np.argmin(det, axis=0)
            detour_m = det[j_best, np.arange(cols.size)] + 2.0 * self.station_access_m[cols]
            for q, s_pos in enumerate(cols.tolist()):
                dm = float(detour_m[q])
                if not math.isfinite(dm) or dm > detour_km * 1000.0 + 1e-9:
                    continue
                i_best = int(np.argmin(leave[: j_best[q] + 1, q]))
                s = self.stations[s_pos]
                at_s = float(cum_s[1 + i_best])
                stations_out.append(
                    {
                        "id": self.station_ids[s_pos],
                        "name": s.get("name"),
                        "lon": float(self.station_lon[s_pos]),
                        "lat": float(self.station_lat[s_pos]),
                        "detour_km": round(max(dm, 0.0) / 1000.0, 3),
                        "at_km": round(float(c[i_best]) / 1000.0, 3),
                        "at_drive_min": round(at_s / 60.0, 2),
                        "within_limit": at_s <= max_drive_h * 3600.0,
                        "kind": s.get("kind"),
                        "data_status": s.get("data_status"),
                    }
                )
        stations_out.sort(key=lambda r: (r["at_km"], r["detour_km"], r["id"]))

        limit = None
        limit_s = max_drive_h * 3600.0
        if cum_s[-1] > limit_s:
            k = int(np.searchsorted(cum_s, limit_s, side="left")) - 1
            frac = (limit_s - cum_s[k]) / (cum_s[k + 1] - cum_s[k])
            lx = px[k] + frac * (px[k + 1] - px[k])
            ly = py[k] + frac * (py[k + 1] - py[k])
            llon, llat = net.unproject(lx, ly)
            limit = {
                "lon": float(llon),
                "lat": float(llat),
                "at_km": round(float(cum_m[k] + frac * legs_m[k]) / 1000.0, 3),
                "drive_min": round(limit_s / 60.0, 2),
            }
        return {
            "route": route,
            "route_km": round(float(cum_m[-1]) / 1000.0, 3),
            "drive_min": round(float(cum_s[-1]) / 60.0, 2),
            "origin": {"lon": o_lon, "lat": o_lat, "snapped_km": round(float(acc[0]) / 1000.0, 3)},
            "destination": {"lon": d_lon, "lat": d_lat, "snapped_km": round(float(acc[1]) / 1000.0, 3)},
            "stations": stations_out,
            "limit_point": limit,
            "detour_km": detour_km,
            "max_drive_h": max_drive_h,
        }


def _lonlat_pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lon, lat = value
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a (lon, lat) pair, got {value!r}", fields={name: "(lon, lat)"}) from None
    return _check_point(lon, lat)
