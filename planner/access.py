"""Nearest Driver's Home by road, drive times, routes and stations along a route.

Every point (a driver, a station, a route's ends) meets the network on an *edge*: the
straight access leg to its projection, then the partial edge to one of the edge's nodes
(:mod:`planner.network.snap`), trying every edge within the snap radius and keeping the
cheapest total. Distances a driver sees (``road_km``) are access leg + partial edge +
network path + partial edge + the station's access leg, all in the network's projected
metres; every edge is at least as long as the straight line between its ends, so
``road_km >= straight_km`` always holds. ``drive_min`` is the truck time along that same
(shortest-length) route, access legs at ``access_speed_kmh``.

:class:`NearestIndex` precomputes each node's ``K_LABELS`` nearest stations
(:mod:`planner.network.index`) and answers a filtered query from the labels of the point's
seeds, falling back to a bounded forward search when the filters leave too few.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from planner._validate import non_negative, positive, whole_number
from planner.errors import InfeasibleError, InputError, NotFoundError
from planner.network import RoadNetwork
from planner.network.graph import _check_point
from planner.network.index import k_nearest_labels, nearest_from_point, network_csr, seeded_dijkstra
from planner.network.snap import Snap, direct_pairs
from planner.settings import ACCESS_SPEED_KMH
from planner.stations import AMENITIES, is_open, opening

__all__ = ["K_LABELS", "NearestIndex", "StationColumns", "check_filters"]

#: Stations kept per node by the precompute (more: a bigger index, fewer fallback searches).
#: The drivers' map lists 5 (``NEAREST_K``): with 4 labels nearly every one of its queries
#: needed the forward search (measured: 1.8x the CPU of a query the labels answer).
K_LABELS = 5
#: Stations per node in the table built for one filter combination the general labels
#: cannot answer (queries with k above it use the bounded forward search).
K_MASK_LABELS = 5
#: Memory for those per-combination tables, bytes (least recently used dropped first).
MASK_TABLE_BUDGET_BYTES = 320 * 2**20
#: Two "leave the route here" totals closer than this (seconds) are the same detour.
_TIE_S = 0.05
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)


def check_filters(amenities: Iterable[str] | str = (), min_power_kw: Any = None) -> tuple[tuple[str, ...], float | None]:
    """Validate the station filters and return them normalised (amenity names, deduplicated
    in order; the power as a float).

    Raises
    ------
    InputError
        For an unknown amenity (``planner.stations.AMENITIES``) or a power that is not a
        number of kW >= 0.
    """
    if isinstance(amenities, str):
        amenities = (amenities,)
    names = tuple(dict.fromkeys(str(a) for a in amenities or ()))
    bad = [a for a in names if a not in AMENITIES]
    if bad:
        raise InputError(
            f"unknown amenity {', '.join(map(repr, bad))}; use any of {', '.join(AMENITIES)}",
            fields={"amenities": f"must be among {', '.join(AMENITIES)}"},
        )
    if min_power_kw is None:
        return names, None
    return names, non_negative(min_power_kw, "min_power_kw", unit="kW")


class StationColumns:
    """The fields station filters read, as arrays: the one station filter of the package.

    Used by :class:`NearestIndex` (nearest, along-route, per-node tables) and by
    :func:`planner.coverage.station_mask` (coverage, access, scenarios). A station passes
    :meth:`mask` when it has every named amenity, its ``charging.max_power_kw`` (else its
    strongest bay, else 0) reaches ``min_power_kw``, and it is open at ``open_at`` by
    :func:`planner.stations.is_open` (``hours`` missing = ``"24h"``).
    """

    def __init__(self, stations: Sequence[Mapping[str, Any]]):
        S = len(stations)
        self.ids = [str(s.get("id")) for s in stations]
        amen = np.zeros((S, len(AMENITIES)), dtype=bool)
        power = np.zeros(S)
        hours = []
        for i, s in enumerate(stations):
            a = s.get("amenities") or {}
            for j, name in enumerate(AMENITIES):
                amen[i, j] = bool(a.get(name, False))
            ch = s.get("charging") or {}
            mp = ch.get("max_power_kw")
            if mp is None:
                mp = max((float(b.get("power_kw", 0)) for b in ch.get("bays", []) or []), default=0.0)
            power[i] = float(mp)
            hours.append(str(s.get("hours") or "24h"))
        self.amenities = amen
        self.power_kw = power
        self._hours = hours
        self.hours_values, self.hours_inv = (
            np.unique(np.array(hours, dtype=object).astype(str), return_inverse=True) if S
            else (np.array([], dtype=str), np.zeros(0, dtype=np.int64))
        )

    def check_hours(self) -> None:
        """Raise :class:`InputError` naming the first station whose ``hours`` cannot be read."""
        for h in self.hours_values:
            try:
                is_open(str(h), dt.time(0, 0))
            except InputError:
                sid = self.ids[self._hours.index(str(h))]
                raise InputError(f"station {sid} has malformed hours {h!r}; use '24h' or 'HH:MM-HH:MM'", fields={"hours": "24h | HH:MM-HH:MM"}) from None

    def mask(self, names: tuple[str, ...] = (), min_power_kw: float | None = None, open_at: dt.time | None = None) -> np.ndarray:
        """Which stations pass (arguments as returned by :func:`check_filters`)."""
        mask = np.ones(len(self.ids), dtype=bool)
        if names:
            mask &= self.amenities[:, [AMENITIES.index(a) for a in names]].all(axis=1)
        if min_power_kw is not None:
            mask &= self.power_kw >= min_power_kw
        if open_at is not None and mask.any():
            opened = np.array([is_open(str(h), open_at) for h in self.hours_values], dtype=bool)
            mask &= opened[self.hours_inv]
        return mask


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
    k_labels
        Stations kept per node by the precompute (see Notes).

    Notes
    -----
    Points and stations are snapped to edges (:mod:`planner.network.snap`). The precompute
    is one K-label Dijkstra on the reversed graph (:func:`planner.network.index.k_nearest_labels`)
    seeded with every station's in-seeds: each node keeps its ``k_labels`` nearest stations
    with road metres and truck seconds along that shortest path (16 bytes per label). A query
    merges the labels of its out-seeds. When filters leave fewer than ``k`` provably nearest
    stations there, a forward Dijkstra from the point stops at the ``k``-th eligible station;
    a filter combination that misses twice gets its own ``K_MASK_LABELS`` table over its
    eligible stations, built in a background thread (kept LRU within
    ``MASK_TABLE_BUDGET_BYTES``). Every path gives the
    answer of a Dijkstra from the snapped point.
    """

    def __init__(
        self,
        network: RoadNetwork,
        stations: Iterable[Mapping[str, Any]],
        *,
        access_speed_kmh: float = ACCESS_SPEED_KMH,
        k_labels: int = K_LABELS,
    ):
        if not isinstance(network, RoadNetwork):
            raise InputError(f"network must be a RoadNetwork, got {type(network).__name__}", fields={"network": "RoadNetwork"})
        speed = positive(access_speed_kmh, "access_speed_kmh")
        k_labels = whole_number(k_labels, "k_labels", minimum=1, maximum=64, strict=True)
        self.network = network
        self.access_speed_kmh = speed
        self._access_mps = speed / 3.6
        self.k_labels = int(k_labels)

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
        self._st_x, self._st_y = np.asarray(sx, dtype=np.float64).reshape(-1), np.asarray(sy, dtype=np.float64).reshape(-1)
        if not (np.isfinite(self._st_x).all() and np.isfinite(self._st_y).all()):
            sid = self.station_ids[int(np.flatnonzero(~(np.isfinite(self._st_x) & np.isfinite(self._st_y)))[0])]
            raise InputError(f"station {sid} is too far from the network's region to measure", fields={"lon": "near the region", "lat": "near the region"})

        # filters
        self._columns = StationColumns(kept)
        self._columns.check_hours()
        self._mask_cache: dict[tuple, tuple[np.ndarray, bool]] = {}
        self._opening_memo: tuple[tuple | None, list] = (None, [])
        self._per_node_cache: dict[bytes, tuple] = {}
        self._mask_tables: OrderedDict[bytes, tuple] = OrderedDict()
        self._mask_misses: dict[bytes, int] = {}
        self._mask_lock = threading.Lock()
        self._mask_workers: list[threading.Thread] = []
        self._precompute()
        # the fixed part of each station's answer, in the documented field order
        self._names = [s.get("name") for s in kept]
        self._result_rest = [
            {"lon": x, "lat": y, "access_km": round(a / 1000.0, 3), "kind": s.get("kind"), "data_status": s.get("data_status")}
            for x, y, a, s in zip(lon.tolist(), lat.tolist(), self.station_snapped_m.tolist(), kept)
        ]
        self._st_x_list, self._st_y_list = self._st_x.tolist(), self._st_y.tolist()

    # ------------------------------------------------------------------ precompute
    def _precompute(self) -> None:
        net = self.network
        n, S = net.n_nodes, len(self.stations)
        self.snapper = net.edge_snapper
        self.graph = network_csr(net, "length_m")
        self.station_snaps = [sn.nearest_only() for sn in self.snapper.snap_many_xy(self._st_x, self._st_y)]
        ins = [self.snapper.in_seeds(sn, self._access_mps) for sn in self.station_snaps]
        outs = [self.snapper.out_seeds(sn, self._access_mps) for sn in self.station_snaps]
        self._in_seeds = ins
        self._out_seeds = outs
        #: Straight access leg from each station to its nearest edge, metres.
        self.station_snapped_m = np.array([sn.nearest_m for sn in self.station_snaps]) if S else np.zeros(0)
        # one node + leg per station (its cheapest in-seed), for node-based callers
        node = np.zeros(S, dtype=np.int64)
        off = np.full(S, np.inf)
        for i, (nodes_i, d_i, *_rest) in enumerate(ins):
            if d_i.size:
                j = int(np.argmin(d_i))
                node[i], off[i] = int(nodes_i[j]), float(d_i[j])
        #: Node from which each station is cheapest to reach and the metres of that last leg
        #: (partial edge + access leg). Prefer :attr:`station_in_seeds`: every in-seed, with
        #: metres and truck seconds (a node-based caller misses the other direction of a
        #: two-way road, and times the partial edge at access speed).
        self.station_node, self.station_access_m = node, off
        if S:
            seed_node = np.concatenate([x[0] for x in ins]).astype(np.int64)
            seed_w = np.concatenate([x[1] for x in ins])
            seed_t = np.concatenate([x[2] for x in ins])
            seed_src = np.concatenate([np.full(x[0].size, i, dtype=np.int32) for i, x in enumerate(ins)])
        else:
            seed_node = np.zeros(0, dtype=np.int64)
            seed_w = seed_t = np.zeros(0)
            seed_src = np.zeros(0, dtype=np.int32)
        #: Every station's in-seeds: ``(node, metres, seconds, station position)`` arrays.
        self.station_in_seeds = (seed_node, seed_w, seed_t, seed_src.astype(np.int64))
        rev = self.graph.reversed()
        K = self.k_labels
        self._lab_w, self._lab_t, self._lab_s, self._lab_n = k_nearest_labels(
            rev.indptr, rev.indices, rev.w, rev.aux, n, K, seed_node, seed_src, seed_w, seed_t
        )
        # node -> stations reached from it (for the forward fallback)
        order = np.argsort(seed_node, kind="stable")
        self._st_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(seed_node, minlength=n), out=self._st_indptr[1:])
        self._st_src = seed_src[order].astype(np.int64)
        self._st_w = seed_w[order]
        self._st_t = seed_t[order]
        # station attachments grouped by piece (same-edge shortcuts inside the query kernel)
        ps_piece = np.concatenate([sn.piece for sn in self.station_snaps]) if S else _EMPTY_I
        ps_src = np.concatenate([np.full(sn.piece.size, i, dtype=np.int64) for i, sn in enumerate(self.station_snaps)]) if S else _EMPTY_I
        ps_f = np.concatenate([sn.f for sn in self.station_snaps]) if S else _EMPTY_F
        ps_acc = np.concatenate([sn.access_m for sn in self.station_snaps]) if S else _EMPTY_F
        order = np.argsort(ps_piece, kind="stable")
        self._ps_indptr = np.zeros(self.snapper.n_pieces + 1, dtype=np.int64)
        np.cumsum(np.bincount(ps_piece, minlength=self.snapper.n_pieces), out=self._ps_indptr[1:])
        self._ps_src, self._ps_f, self._ps_acc = ps_src[order], ps_f[order], ps_acc[order]
        # the kernel's fixed arguments (nearest_from_point): snapper, seeds and general labels; graph
        sn, g = self.snapper, self.graph
        self._kernel_snap_labels = (
            sn.radius_m, sn.margin_m, *sn._args,
            sn.piece_rec, self._access_mps,
            self._ps_indptr, self._ps_src, self._ps_f, self._ps_acc,
            self._lab_w, self._lab_t, self._lab_s, self._lab_n, self.k_labels, len(self.stations),
        )  # fmt: skip
        self._kernel_graph = (g.indptr, g.indices, g.w, g.aux, g.n, self._st_indptr, self._st_src, self._st_w, self._st_t)
        # "no table for this filter combination yet": empty arrays of the tables' types
        self._no_table = tuple(np.zeros((0,) + a.shape[1:], dtype=a.dtype) for a in (self._lab_w, self._lab_t, self._lab_s, self._lab_n))

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the per-node labels and the station lists (the index proper)."""
        return int(sum(a.nbytes for a in (self._lab_w, self._lab_t, self._lab_s, self._lab_n, self._st_indptr, self._st_src, self._st_w, self._st_t)))

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
        return self._mask(amenities, min_power_kw, open_at).copy()

    def _mask(self, amenities: Any, min_power_kw: Any, open_at: Any) -> np.ndarray:
        return self._filter(amenities, min_power_kw, open_at)[0]

    def _filter(self, amenities: Any, min_power_kw: Any, open_at: Any) -> tuple[np.ndarray, bool]:
        """The mask of a filter combination and whether any station passes (kept per
        combination: a server asks the same few combinations on every request)."""
        names = (amenities,) if isinstance(amenities, str) else tuple(amenities or ())
        if isinstance(open_at, dt.datetime):
            open_at = open_at.time()
        if isinstance(open_at, dt.time):  # hours are whole minutes: a mask holds for the minute
            open_at = open_at.replace(second=0, microsecond=0, tzinfo=None)
        try:
            key = (names, min_power_kw, open_at)
            hit = self._mask_cache.get(key)
        except TypeError:  # unhashable option: validate and compute below
            key, hit = None, None
        if hit is not None:
            return hit
        mask = self._eligible_mask(names, min_power_kw, open_at)
        hit = (mask, bool(mask.any()))
        if key is not None:
            if len(self._mask_cache) >= 4096:
                self._mask_cache.clear()
            self._mask_cache[key] = hit
        return hit

    def _eligible_mask(self, names: tuple, min_power_kw: Any, open_at: Any) -> np.ndarray:
        names, power = check_filters(names, min_power_kw)
        return self._columns.mask(names, power, _as_time(open_at))

    # ------------------------------------------------------------------ snapping
    def snap_point(self, lon: float, lat: float) -> Snap:
        """Candidate edges of a checked WGS-84 point (see :mod:`planner.network.snap`)."""
        return self.snapper.snap_xy(*self._project_checked(lon, lat))

    # ------------------------------------------------------------------ queries
    @functools.cached_property
    def hours_by_id(self) -> dict[str, str | None]:
        """Opening hours of each indexed station, by id (for "open now" and the next opening)."""
        return {sid: s.get("hours") for sid, s in zip(self.station_ids, self.stations)}

    def opening(self, station_id: str, now: dt.datetime) -> tuple[bool, str | None]:
        """:func:`planner.stations.opening` of an indexed station at ``now`` (aware)."""
        return self._opening_at(self._pos[station_id], now)

    def _opening_at(self, i: int, now: dt.datetime, states: list | None = None) -> tuple[bool, str | None]:
        """:meth:`opening` of the station at position ``i`` (``states``: this minute's, if at hand)."""
        if states is None:
            states = self._openings_in_minute(now)
        hit = states[i]
        if hit is None:
            hit = states[i] = opening(self.stations[i].get("hours"), now)
        return hit

    def _openings_in_minute(self, now: dt.datetime) -> list:
        """Per station position, its :func:`~planner.stations.opening` in the wall minute of
        ``now`` once asked (None before). Hours are whole minutes, so an answer holds for the
        whole minute: it is kept for that minute (a server asks for every result of every
        request)."""
        minute = (now.replace(second=0, microsecond=0, tzinfo=None), now.tzinfo)  # the wall minute, in its zone
        memo = self._opening_memo
        if memo[0] != minute:
            memo = self._opening_memo = (minute, [None] * len(self.stations))
        return memo[1]

    def nearest(
        self,
        lon: float,
        lat: float,
        *,
        k: int = 3,
        amenities: Iterable[str] | str = (),
        min_power_kw: float | None = None,
        open_at: dt.time | dt.datetime | str | None = None,
        now: dt.datetime | None = None,
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
        now
            An aware datetime (the region's "now"): each result then also has ``open_now``
            and ``opens_at`` (:func:`planner.stations.opening`).

        Returns
        -------
        dict
            ``{"origin": {"lon", "lat", "snapped_km"}, "results": [{"id", "name",
            "road_km", "drive_min", "straight_km", "lon", "lat", "access_km", "kind",
            "data_status"[, "open_now", "opens_at"]}, ...]}`` sorted by ``road_km`` (km rounded to 1 m, minutes to
            0.01). ``road_km`` = access leg + partial edge + network + partial edge +
            station access leg, the cheapest over every edge within the snap radius of
            either end; ``straight_km`` is the straight line in the network's CRS, never
            larger than ``road_km``. ``snapped_km`` and ``access_km`` are the straight legs
            from the point and from the station to their nearest edges.
        """
        if not (type(lon) is float and type(lat) is float and math.isfinite(lon) and math.isfinite(lat)):
            lon, lat = _check_point(lon, lat)
        if type(k) is not int or k < 1:
            k = int(whole_number(k, "k", strict=True))
        mask, any_eligible = self._filter(amenities, min_power_kw, open_at)
        x, y = self._project_checked(lon, lat)
        picked, road_m, time_s, nearest_m = self._query_point(x, y, mask, k, any_eligible)
        ids, names, sx, sy, rest = self.station_ids, self._names, self._st_x_list, self._st_y_list, self._result_rest
        # rounding is monotonic, so road_km >= straight_km survives it
        results = [
            {"id": ids[i], "name": names[i], "road_km": round(dm / 1000.0, 3), "drive_min": round(ts / 60.0, 2),
             "straight_km": round(math.hypot(sx[i] - x, sy[i] - y) / 1000.0, 3), **rest[i]}
            for i, dm, ts in zip(picked, road_m, time_s)
        ]
        if now is not None:
            states = self._openings_in_minute(now)
            for i, r in zip(picked, results):
                r["open_now"], r["opens_at"] = self._opening_at(i, now, states)
        return {"origin": {"lon": lon, "lat": lat, "snapped_km": round(nearest_m / 1000.0, 3)}, "results": results}

    def _query_point(self, x: float, y: float, mask: np.ndarray, k: int, any_eligible: bool) -> tuple[list[int], list[float], list[float], float]:
        """The ``k`` nearest eligible stations of a projected point (one kernel call,
        :func:`~planner.network.index.nearest_from_point`): positions, road metres, truck
        seconds and the straight leg to the nearest edge (:attr:`Snap.nearest_m`)."""
        if not any_eligible:
            return [], [], [], self.snapper.snap_xy(x, y).nearest_m
        table = self._mask_tables.get(mask.tobytes()) if k <= K_MASK_LABELS else None
        out = nearest_from_point(
            x, y, *self._kernel_snap_labels, *(table if table is not None else self._no_table),
            K_MASK_LABELS if table is not None else 0, *self._kernel_graph, mask, k,
        ).tolist()  # fmt: skip
        m = int(out[0])
        if out[2] and table is None and k <= K_MASK_LABELS:
            self._mask_table(mask)  # counts the miss; the second one builds the table
        return [int(v) for v in out[3:3 + m]], out[3 + m:3 + 2 * m], out[3 + 2 * m:3 + 3 * m], out[1]

    def _project_checked(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.network.project(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(
                f"point lon={lon}, lat={lat} is too far from the network's region to measure distances; give a point in or near the region",
                fields={"lon": "near the region", "lat": "near the region"},
            )
        return float(x), float(y)

        return {"origin": {"lon": lon, "lat": lat, "snapped_km": round(snap.nearest_m / 1000.0, 3)}, "results": results}

    def _mask_table(self, mask: np.ndarray) -> tuple | None:
        """K-label table over the stations of one filter combination, for combinations the
        general labels keep failing on: built in a background thread on the second miss
        (queries meanwhile use the forward search), kept LRU within a memory budget."""
        key = mask.tobytes()
        hit = self._mask_tables.get(key)
        if hit is not None:
            with self._mask_lock:
                if key in self._mask_tables:
                    self._mask_tables.move_to_end(key)
            return hit
        with self._mask_lock:
            misses = self._mask_misses.get(key, 0) + 1
            if len(self._mask_misses) >= 4096:
                self._mask_misses.clear()
            self._mask_misses[key] = misses
            start = misses == 2
        if start:
            worker = threading.Thread(target=self._build_mask_table, args=(key, mask.copy()), daemon=True)
            worker.start()
            self._mask_workers.append(worker)
        return None

    def _build_mask_table(self, key: bytes, mask: np.ndarray) -> None:
        seed_node, seed_w, seed_t, seed_src = self.station_in_seeds
        keep = mask[seed_src]
        rev = self.graph.reversed()
        table = k_nearest_labels(
            rev.indptr, rev.indices, rev.w, rev.aux, self.network.n_nodes, K_MASK_LABELS,
            seed_node[keep], seed_src[keep].astype(np.int32), seed_w[keep], seed_t[keep],
        )  # fmt: skip
        size = sum(a.nbytes for a in table)
        with self._mask_lock:
            while self._mask_tables and (len(self._mask_tables) + 1) * size > MASK_TABLE_BUDGET_BYTES:
                self._mask_tables.popitem(last=False)
            if size <= MASK_TABLE_BUDGET_BYTES:
                self._mask_tables[key] = table

    def wait_for_tables(self) -> None:
        """Wait until background per-combination tables are built (tests, benchmarks)."""
        while self._mask_workers:
            self._mask_workers.pop().join()

    def per_node(self, *, mask: Any = None, by: str = "length") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest (or fastest-reached) eligible station for every network node.

        The one multi-source Dijkstra of the package for "every node to its nearest station"
        (:func:`planner.network.index.seeded_dijkstra` on the reversed graph, seeded with
        every eligible station's in-seeds: both ends of its edge, partial edge and access
        leg included).

        Parameters
        ----------
        mask
            Boolean array over :attr:`stations` (e.g. from :meth:`eligible_mask`); ``None``
            means every (non-retired) station.
        by
            ``"length"``: the station nearest by road metres; ``"time"``: the station reached
            fastest (truck seconds), which differs only where a farther station is quicker.
            Adding a station can only lower either.

        Returns
        -------
        (dist_m, time_s, station_pos)
            Road metres and truck seconds from each node to that station along the chosen
            shortest path, including the partial edge and access leg at the station (``inf``
            where none is reachable), and the position of that station in :attr:`stations`
            (``-1`` if none). Cached per distinct mask and ``by``.
        """
        if by not in ("length", "time"):
            raise InputError(f"by must be 'length' or 'time', got {by!r}", fields={"by": "length | time"})
        S = len(self.stations)
        n = self.network.n_nodes
        if mask is None:
            m = np.ones(S, dtype=bool)
        else:
            m = np.asarray(mask)
            if m.dtype != bool or m.shape != (S,):
                raise InputError(f"mask must be a boolean array of length {S} (one per station)", fields={"mask": f"bool[{S}]"})
        key = np.packbits(m).tobytes() + S.to_bytes(4, "little") + by.encode()
        hit = self._per_node_cache.get(key)
        if hit is None:
            seed_node, seed_w, seed_t, seed_src = self.station_in_seeds
            keep = m[seed_src] if seed_src.size else np.zeros(0, dtype=bool)
            if not keep.any():
                hit = (np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
            elif by == "length":
                rev = self.graph.reversed()
                dist, secs, src, _, _ = seeded_dijkstra(
                    rev.indptr, rev.indices, rev.w, rev.aux, n, seed_node[keep], seed_src[keep], seed_w[keep], seed_t[keep],
                    np.inf, _EMPTY_I, _EMPTY_F,
                )  # fmt: skip
                hit = (dist, secs, src)
            else:
                rev = network_csr(self.network, "time_s").reversed()
                secs, dist, src, _, _ = seeded_dijkstra(
                    rev.indptr, rev.indices, rev.w, rev.aux, n, seed_node[keep], seed_src[keep], seed_t[keep], seed_w[keep],
                    np.inf, _EMPTY_I, _EMPTY_F,
                )  # fmt: skip
                hit = (dist, secs, src)
            if len(self._per_node_cache) >= 32:
                self._per_node_cache.clear()
            self._per_node_cache[key] = hit
        return hit[0].copy(), hit[1].copy(), hit[2].copy()

    def _station_pos(self, station_id: str) -> int:
        try:
            return self._pos[str(station_id)]
        except KeyError:
            raise NotFoundError(f"no open station with id {station_id!r}", fields={"station_id": "an open station id"}) from None

    def route(self, lon: float, lat: float, station_id: str) -> list[tuple[float, float]]:
        """Road route from a point to a station, as ``(lon, lat)`` pairs.

        The route is the one ``road_km`` in :meth:`nearest` measures (shortest by length):
        the point, its projection on the chosen edge, the network path, the station's
        projection on its edge, then the station.

        Raises
        ------
        NotFoundError
            Unknown or retired station.
        InfeasibleError
            The station cannot be reached from the point.
        """
        lon, lat = _check_point(lon, lat)
        i = self._station_pos(station_id)
        snap = self.snap_point(lon, lat)
        path = self._path(snap, self.station_snaps[i], (lon, lat), (float(self.station_lon[i]), float(self.station_lat[i])), "length_m")
        if path is None:
            raise InfeasibleError(f"station {station_id} cannot be reached by road from ({lon}, {lat})", fields={"station_id": "reachable"})
        return path.lonlat()

    def _path(self, a: Snap, b: Snap, a_ll: tuple[float, float], b_ll: tuple[float, float], weight: str) -> _RoutePath | None:
        """Cheapest route from snapped point ``a`` to snapped point ``b`` by ``weight``."""
        net, sn = self.network, self.snapper
        g = network_csr(net, weight)
        by_time = weight == "time_s"
        o_node, o_m, o_s, o_cand, o_fwd = sn.out_seeds(a, self._access_mps)
        i_node, i_m, i_s, i_cand, i_fwd = sn.in_seeds(b, self._access_mps)
        o_key, o_aux = (o_s, o_m) if by_time else (o_m, o_s)
        i_key, i_aux = (i_s, i_m) if by_time else (i_m, i_s)
        dist, aux, src, pred, best = seeded_dijkstra(
            g.indptr, g.indices, g.w, g.aux, g.n, o_node, np.arange(o_node.size, dtype=np.int64), o_key, o_aux, np.inf, i_node, i_key
        )
        total = math.inf if best < 0 else float(dist[i_node[best]] + i_key[best])
        d_m, d_s, d_ia, d_ib = direct_pairs(sn, a, b, self._access_mps)
        if by_time:
            # the same-edge shortcut compared by time
            d_key = d_s
        else:
            d_key = d_m
        if math.isfinite(d_key) and d_key <= total:
            line = sn.piece_line(int(a.piece[d_ia]), float(a.f[d_ia]), float(b.f[d_ib]))
            return _RoutePath.build(self, a, b, a_ll, b_ll, [line], np.zeros(0, dtype=np.int64), d_m, d_s, None)
        if best < 0:
            return None
        end = int(i_node[best])
        nodes = [end]
        while pred[nodes[-1]] >= 0:
            nodes.append(int(pred[nodes[-1]]))
        nodes = np.asarray(nodes[::-1], dtype=np.int64)
        seed = int(src[end])
        oc, of = int(o_cand[seed]), bool(o_fwd[seed])
        ic, ifw = int(i_cand[best]), bool(i_fwd[best])
        head = sn.piece_line(int(a.piece[oc]), float(a.f[oc]), 1.0 if of else 0.0)
        tail = sn.piece_line(int(b.piece[ic]), 0.0 if ifw else 1.0, float(b.f[ic]))
        if by_time:
            node_s, node_m = dist[nodes], aux[nodes]
        else:
            node_m, node_s = dist[nodes], aux[nodes]
        end_m = float(node_m[-1] + i_m[best])
        end_s = float(node_s[-1] + i_s[best])
        return _RoutePath.build(self, a, b, a_ll, b_ll, [head, tail], nodes, end_m, end_s, (node_m, node_s))

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
            Largest extra distance to visit a station, km. A station's detour leaves the
            route at node ``i`` and rejoins it at the same or a later node ``j``, by the
            fastest paths (like the route): ``i ≤ j`` minimise the extra time
            ``t(r_i→s) + t(s→r_j) − (route time from i to j)``, and the detour is the extra
            length along those paths, ``d(r_i→s) + d(s→r_j) − (route km from i to j)``,
            floored at 0 (directed, station partial edges and access legs included).
            Stations farther than ``detour_km`` in a straight line from the route are not
            considered.
        max_drive_h
            Continuous driving limit, hours (law: 4 h, then a >= 20 min break).
        amenities, min_power_kw, open_at
            Station filters, see :meth:`eligible_mask`.

        Returns
        -------
        dict
            ``route`` (list of ``(lon, lat)``: origin, its projection on the road, the road
            geometry, the destination's projection, the destination), ``route_km``,
            ``drive_min``, ``origin``/``destination`` (``lon``, ``lat``, ``snapped_km``),
            ``stations`` (sorted by ``at_km``: ``id``, ``name``, ``lon``, ``lat``,
            ``detour_km``, ``at_km`` and ``at_drive_min``: the station's linear reference
            on the route between the nodes where its cheapest detour leaves and rejoins it
            (cumulative length and drive time at the route point nearest to it),
            ``within_limit``: ``at_drive_min`` <= ``max_drive_h``), ``limit_point``
            (``lon``, ``lat``, ``at_km``, ``drive_min``: where ``max_drive_h`` of driving
            ends on the route; ``None`` if the route is shorter), ``detour_km``,
            ``max_drive_h``.
        """
        o_lon, o_lat = _lonlat_pair(orig_lonlat, "orig_lonlat")
        d_lon, d_lat = _lonlat_pair(dest_lonlat, "dest_lonlat")
        detour_km = non_negative(detour_km, "detour_km")
        max_drive_h = positive(max_drive_h, "max_drive_h")
        mask = self._mask(amenities, min_power_kw, open_at)
        a = self.snap_point(o_lon, o_lat)
        b = self.snap_point(d_lon, d_lat)
        path = self._path(a, b, (o_lon, o_lat), (d_lon, d_lat), "time_s")
        if path is None:
            raise InfeasibleError(
                f"no road route from ({o_lon}, {o_lat}) to ({d_lon}, {d_lat})", fields={"dest_lonlat": "reachable from orig_lonlat"}
            )
        stations_out = self._stations_along(path, mask, detour_km * 1000.0, max_drive_h)
        limit = None
        limit_s = max_drive_h * 3600.0
        cum_m, cum_s = path.cum_m, path.cum_s
        if cum_s[-1] > limit_s:
            k = int(np.searchsorted(cum_s, limit_s, side="left")) - 1
            k = min(max(k, 0), cum_s.size - 2)
            span = cum_s[k + 1] - cum_s[k]
            frac = (limit_s - cum_s[k]) / span if span > 0 else 0.0
            lx = path.x[k] + frac * (path.x[k + 1] - path.x[k])
            ly = path.y[k] + frac * (path.y[k + 1] - path.y[k])
            llon, llat = self.network.unproject(lx, ly)
            limit = {
                "lon": float(llon),
                "lat": float(llat),
                "at_km": round(float(cum_m[k] + frac * (cum_m[k + 1] - cum_m[k])) / 1000.0, 3),
                "drive_min": round(limit_s / 60.0, 2),
            }
        return {
            "route": path.lonlat(),
            "route_km": round(float(cum_m[-1]) / 1000.0, 3),
            "drive_min": round(float(cum_s[-1]) / 60.0, 2),
            "origin": {"lon": o_lon, "lat": o_lat, "snapped_km": round(a.nearest_m / 1000.0, 3)},
            "destination": {"lon": d_lon, "lat": d_lat, "snapped_km": round(b.nearest_m / 1000.0, 3)},
            "stations": stations_out,
            "limit_point": limit,
            "detour_km": detour_km,
            "max_drive_h": max_drive_h,
        }

    def _stations_along(self, path: _RoutePath, mask: np.ndarray, detour_m: float, max_drive_h: float) -> list[dict]:
        """Stations within ``detour_m`` of the route, placed where their detour leaves it."""
        cols = np.flatnonzero(mask)
        nodes = path.nodes
        if cols.size == 0 or nodes.size == 0:
            return []
        # straight distance from each station to the route line: the prefilter
        import shapely

        line = shapely.linestrings(np.column_stack([path.x, path.y]))
        pts = shapely.points(self._st_x[cols], self._st_y[cols])
        near = cols[shapely.distance(line, pts) <= detour_m]
        if near.size == 0:
            return []
        # fastest paths, like the route itself: then leaving and rejoining can never beat
        # the route (the extra time is >= 0), and km are measured along those same paths
        g = network_csr(self.network, "time_s")
        rev = g.reversed()
        c = path.node_m  # route metres at each route node
        cs = path.node_s  # route seconds at each route node
        limit = float(cs[-1]) + detour_m / self._access_mps + 1.0
        out = []
        seed_node, seed_w, seed_t, seed_src = self.station_in_seeds
        for s in near.tolist():
            sel = seed_src == s
            # key = seconds, second weight = metres
            t_to, m_to, *_ = seeded_dijkstra(rev.indptr, rev.indices, rev.w, rev.aux, g.n, seed_node[sel], seed_src[sel], seed_t[sel], seed_w[sel], limit, _EMPTY_I, _EMPTY_F)
            o_node, o_w, o_t, _, _ = self._out_seeds[s]
            t_from, m_from, *_ = seeded_dijkstra(g.indptr, g.indices, g.w, g.aux, g.n, o_node, np.zeros(o_node.size, dtype=np.int64), o_t, o_w, limit, _EMPTY_I, _EMPTY_F)
            t_to, m_to, t_from, m_from = t_to[nodes], m_to[nodes], t_from[nodes], m_from[nodes]
            leave = cs + t_to
            best_leave = np.minimum.accumulate(leave)
            det = best_leave + t_from - cs
            if not np.isfinite(det).any():
                continue
            j = int(np.argmin(det))
            # where the detour leaves: the last route node before j at the cheapest "leave"
            # value (earlier nodes tie when the route itself heads for the station)
            lv = leave[: j + 1]
            i = int(np.flatnonzero(lv <= lv.min() + _TIE_S)[-1])
            dm = float(m_to[i] + m_from[j] - (c[j] - c[i]))
            if not math.isfinite(dm) or dm > detour_m + 1e-9:
                continue
            at_m, at_s = path.locate(float(self._st_x[s]), float(self._st_y[s]), i, j)
            at_min = round(at_s / 60.0, 2)
            st = self.stations[s]
            out.append(
                {
                    "id": self.station_ids[s],
                    "name": st.get("name"),
                    "lon": float(self.station_lon[s]),
                    "lat": float(self.station_lat[s]),
                    "detour_km": round(max(dm, 0.0) / 1000.0, 3),
                    "at_km": round(at_m / 1000.0, 3),
                    "at_drive_min": at_min,
                    "within_limit": at_min <= max_drive_h * 60.0,
                    "kind": st.get("kind"),
                    "data_status": st.get("data_status"),
                }
            )
        out.sort(key=lambda r: (r["at_km"], r["detour_km"], r["id"]))
        return out


class _RoutePath:
    """A route's geometry (projected) with cumulative metres and seconds at each vertex."""

    def __init__(self, index: NearestIndex, x, y, cum_m, cum_s, nodes, node_m, node_s):
        self.index = index
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.cum_m, self.cum_s = np.asarray(cum_m, dtype=np.float64), np.asarray(cum_s, dtype=np.float64)
        self.nodes, self.node_m, self.node_s = nodes, node_m, node_s

    def locate(self, x: float, y: float, i: int, j: int) -> tuple[float, float]:
        """Linear reference of (x, y) on the route between route nodes ``i`` and ``j``
        (where a detour leaves and rejoins it): route metres and seconds at the nearest point."""
        v0, v1 = int(self.node_vertex[i]), int(self.node_vertex[j])
        if v1 <= v0:
            return float(self.cum_m[v0]), float(self.cum_s[v0])
        ax, ay = self.x[v0:v1], self.y[v0:v1]
        dx, dy = self.x[v0 + 1 : v1 + 1] - ax, self.y[v0 + 1 : v1 + 1] - ay
        l2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(l2 > 0, ((x - ax) * dx + (y - ay) * dy) / l2, 0.0), 0.0, 1.0)
        d = np.hypot(ax + t * dx - x, ay + t * dy - y)
        q = int(np.argmin(d))
        m0, m1 = self.cum_m[v0 + q], self.cum_m[v0 + q + 1]
        s0, s1 = self.cum_s[v0 + q], self.cum_s[v0 + q + 1]
        return float(m0 + t[q] * (m1 - m0)), float(s0 + t[q] * (s1 - s0))

    def lonlat(self) -> list[tuple[float, float]]:
        lon, lat = self.index.network.unproject(self.x, self.y)
        pts = list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist()))
        pts[0] = self._ends[0]
        pts[-1] = self._ends[1]
        return pts

    @classmethod
    def build(cls, index, a: Snap, b: Snap, a_ll, b_ll, lines, nodes, end_m, end_s, node_info) -> _RoutePath:
        """Assemble: point, head partial edge, network path, tail partial edge, point.

        Cumulative values are exact at the projections and the nodes and interpolated by
        geometric length in between.
        """
        mps = index._access_mps
        net = index.network
        if node_info is None:  # same-edge shortcut: one partial edge
            line = lines[0]
            xs = np.concatenate([[a.x], line[:, 0], [b.x]])
            ys = np.concatenate([[a.y], line[:, 1], [b.y]])
            acc_a = math.hypot(line[0, 0] - a.x, line[0, 1] - a.y)
            acc_b = math.hypot(line[-1, 0] - b.x, line[-1, 1] - b.y)
            keys_m = [(0, 0.0), (1, acc_a), (xs.size - 2, end_m - acc_b), (xs.size - 1, end_m)]
            keys_s = [(0, 0.0), (1, acc_a / mps), (xs.size - 2, end_s - acc_b / mps), (xs.size - 1, end_s)]
            cum_m = _interp_cum(xs, ys, keys_m)
            cum_s = _interp_cum(xs, ys, keys_s)
            path = cls(index, xs, ys, cum_m, cum_s, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
            path._ends = (a_ll, b_ll)
            return path
        node_m, node_s = node_info
        head, tail = lines
        mid_x, mid_y, mid_pos = _network_coords(net, nodes)
        xs = np.concatenate([[a.x], head[:, 0], mid_x[1:-1], tail[:, 0], [b.x]])
        ys = np.concatenate([[a.y], head[:, 1], mid_y[1:-1], tail[:, 1], [b.y]])
        acc_a = math.hypot(head[0, 0] - a.x, head[0, 1] - a.y)
        acc_b = math.hypot(tail[-1, 0] - b.x, tail[-1, 1] - b.y)
        # vertex 0 is the point, 1..n_head the head partial edge (ending at the first node)
        node_vertex = head.shape[0] + mid_pos
        keys_m = [(0, 0.0), (1, acc_a)] + list(zip(node_vertex.tolist(), node_m.tolist())) + [(xs.size - 2, end_m - acc_b), (xs.size - 1, end_m)]
        keys_s = [(0, 0.0), (1, acc_a / mps)] + list(zip(node_vertex.tolist(), node_s.tolist())) + [(xs.size - 2, end_s - acc_b / mps), (xs.size - 1, end_s)]
        cum_m = _interp_cum(xs, ys, keys_m)
        cum_s = _interp_cum(xs, ys, keys_s)
        path = cls(index, xs, ys, cum_m, cum_s, nodes, cum_m[node_vertex], cum_s[node_vertex])
        path.node_vertex = node_vertex
        path._ends = (a_ll, b_ll)
        return path


def _network_coords(net: RoadNetwork, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projected coordinates along a node path (edge geometries where the network has them)
    and the position of each node in them."""
    xs, ys, pos = [net.node_x[nodes[0]]], [net.node_y[nodes[0]]], [0]
    geo = getattr(net, "edge_geometry", None)
    edge_of = getattr(net, "_csr_edge_index", None)
    keys = net._csr_keys
    for u, v in zip(nodes[:-1].tolist(), nodes[1:].tolist()):
        if geo is not None and edge_of is not None:
            e = int(edge_of[np.searchsorted(keys, u * net.n_nodes + v)])
            gm = geo[e] if e >= 0 else None
            if gm is not None:
                import shapely

                c = shapely.get_coordinates(gm)
                gx, gy = net.project(c[1:-1, 0], c[1:-1, 1])
                xs.extend(np.asarray(gx).reshape(-1).tolist())
                ys.extend(np.asarray(gy).reshape(-1).tolist())
        xs.append(net.node_x[v])
        ys.append(net.node_y[v])
        pos.append(len(xs) - 1)
    return np.asarray(xs), np.asarray(ys), np.asarray(pos, dtype=np.int64)


def _interp_cum(xs: np.ndarray, ys: np.ndarray, keys: list[tuple[int, float]]) -> np.ndarray:
    """Cumulative values at every vertex from known values at some, interpolated by length."""
    geo = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))])
    idx = np.array([k for k, _ in keys], dtype=np.int64)
    val = np.maximum.accumulate(np.array([v for _, v in keys], dtype=np.float64))
    order = np.argsort(idx, kind="stable")
    idx, val = idx[order], val[order]
    out = np.empty(xs.size)
    for j in range(idx.size - 1):
        i0, i1 = idx[j], idx[j + 1]
        if i1 <= i0:
            out[i0] = val[j]
            continue
        g0, g1 = geo[i0], geo[i1]
        w = (geo[i0 : i1 + 1] - g0) / (g1 - g0) if g1 > g0 else np.linspace(0.0, 1.0, i1 - i0 + 1)
        out[i0 : i1 + 1] = val[j] + w * (val[j + 1] - val[j])
    return out

def _lonlat_pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lon, lat = value
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a (lon, lat) pair, got {value!r}", fields={name: "(lon, lat)"}) from None
    return _check_point(lon, lat)
