"""Which stations count, and the nearest of them by road from every node and point.

:func:`station_mask` applies the one station filter (:class:`planner.access.StationColumns`);
:func:`nearest_tables` / :func:`fastest_per_node` read the per-node tables of the
nearest-station index (:meth:`planner.access.NearestIndex.per_node`); :func:`edge_access`
carries them to points snapped onto edges. Corridor coverage, access from demand and the
scenarios all measure through these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from planner.access import StationColumns, check_filters
from planner.errors import InputError

__all__ = ["edge_access", "fastest_per_node", "index_stations", "nearest_tables", "station_mask"]


def station_mask(stations: Sequence[dict], *, amenities: Iterable[str] = (), min_power_kw: float | None = None) -> np.ndarray:
    """Boolean array: which stations are open and pass the filters.

    The rule is :class:`planner.access.StationColumns` (the nearest-station index uses the
    same): every amenity in ``amenities`` is ``True`` in its ``amenities`` object and, if
    ``min_power_kw`` is given, its ``charging.max_power_kw`` (else its strongest bay) is
    at least that. Retired stations never pass.
    """
    names, power = check_filters(amenities, min_power_kw)
    in_service = np.array([s.get("status", "open") == "open" for s in stations], dtype=bool)
    return in_service & StationColumns(stations).mask(names, power)


def index_stations(index) -> list[dict]:
    """The stations of a nearest-station index (positions match its per-node tables)."""
    stations = getattr(index, "stations", None)
    if stations is None:
        raise InputError("the nearest-station index exposes no `stations` list; pass a planner.access.NearestIndex")
    return list(stations)


def nearest_tables(network, index, mask: np.ndarray, *, by: str = "length") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Road distance (m), drive time (s) and station position per network node.

    Thin wrapper over ``index.per_node(mask=..., by=...)`` that returns ``inf`` / ``-1``
    everywhere when no station passes the filters (every point is then uncovered).
    """
    n = int(network.n_nodes)
    if not np.any(mask):
        return np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    dist_m, time_s, pos = index.per_node(mask=np.asarray(mask, dtype=bool), by=by)
    return np.asarray(dist_m, float), np.asarray(time_s, float), np.asarray(pos)


def fastest_per_node(network, index, mask: np.ndarray) -> np.ndarray:
    """Fastest truck time (s) from every node to an eligible station, access leg included.

    ``index.per_node(mask=..., by="time")`` (:meth:`planner.access.NearestIndex.per_node`).
    Adding a station can only lower these times, so access metrics built on them never get
    worse when sites are added. (``nearest`` reports the time to the station nearest by
    *distance*; the two differ only where a farther station is faster to reach.)
    """
    _, time_s, _ = nearest_tables(network, index, mask, by="time")
    return time_s


def edge_access(network, index, lons, lats, dist_m: np.ndarray, time_s: np.ndarray, pos: np.ndarray):
    """Per point: road metres, drive seconds and station of the nearest station, from the
    point's edge snap (every edge within the snap radius, as :meth:`NearestIndex.nearest`
    starts a query) and the per-node tables ``dist_m``/``time_s``/``pos``.

    Returns ``(access_m, road_m, time_s, pos)``: ``access_m`` is the straight leg to the
    nearest edge; ``road_m`` the cheapest total over the point's ways into the network;
    ``time_s`` the fastest total (``time_s`` per node may come from another station).
    """
    n_pts = len(lons)
    access_m = np.zeros(n_pts)
    road = np.full(n_pts, np.inf)
    secs = np.full(n_pts, np.inf)
    best_pos = np.full(n_pts, -1, dtype=np.int64)
    if n_pts == 0:
        return access_m, road, secs, best_pos
    snapper = network.edge_snapper
    access_mps = float(index.access_speed_kmh) / 3.6
    for i, snap in enumerate(network.snap_edges(lons, lats)):
        access_m[i] = float(snap.access_m[0]) if len(snap.access_m) else np.inf
        node, metres, seconds, _cand, _fwd = snapper.out_seeds(snap, access_mps)
        if node.size == 0:
            continue
        node = node.astype(np.int64)
        total = metres + dist_m[node]
        k = int(np.argmin(total))
        road[i], best_pos[i] = total[k], pos[node[k]]
        secs[i] = float(np.min(seconds + time_s[node]))
    return access_m, road, secs, best_pos
