"""Coverage of the freight corridors and access from demand, measured by road.

Two questions, each answered by a function over arrays and (Geo)DataFrames so the
steps can later be partitioned (dask-geopandas) without changing their meaning:

* :func:`corridor_coverage` walks every corridor with linear referencing (km from its
  start, a sample at most every ``step_km``), reads the road distance and truck drive
  time from each sample to the nearest eligible station, and reports the stretches
  farther than ``radius_km`` from every station (the gaps), plus the largest spacing
  between consecutive stations along each corridor against the 200 km reading of the
  national rule and the 4-hour driving rule.
* :func:`grid_access` / :func:`county_access` give, per service grid cell or county,
  the demand-weighted mean and 90th-percentile drive time to the nearest station and
  the share of demand within 30 and 60 minutes.

Distances are road distances: network shortest paths (``RoadNetwork.length_csr``)
plus the straight access legs at either end, as :class:`planner.access.NearestIndex`
defines them. Off-network legs are driven at :data:`planner.settings.ACCESS_SPEED_KMH`.

Study area and supply: every station in the index is supply, including neighbours'
stations in the context band (``kind`` ``external``), so a corridor stretch near the
boundary is covered by a station across it. Metrics are counted inside the study area
only (``study_area=``: the region, or any object with ``contains_many``): corridor km,
gaps and spacing stretches outside it are left out, and the city's station counts
(``eligible_stations``) leave external stations out (``external_stations`` counts them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from planner import settings
from planner._validate import positive
from planner.access import StationColumns, check_filters
from planner.errors import InputError

#: Why ``max_gap_km`` exists and how sure we are of it (docs/domain.md §0, §6).
MAX_GAP_NOTE = (
    "max_gap_km is our reading of the national 2025 action (交办运函〔2025〕1059号, "
    "'≈200 km spacing between Driver's Homes') as a MAXIMUM gap of ~200 km between "
    "consecutive stations along a corridor. Only an English summary was read and it says "
    "'at least 200 km apart'; the direction is inferred (docs/domain.md §0, ⚠). Configurable."
)

#: Thresholds of the access shares, minutes.
ACCESS_THRESHOLDS_MIN = (30.0, 60.0)

#: A station counts as lying on a corridor (for spacing) within this straight distance of it.
ON_CORRIDOR_KM = 5.0


# ---------------------------------------------------------------------------- filters
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


def _is_external(station: dict) -> bool:
    from planner.stations import is_external

    return is_external(station)


def _filters_doc(stations, mask, names, power) -> dict:
    external = np.array([_is_external(s) for s in stations], dtype=bool)
    return {
        "amenities": list(names),
        "min_power_kw": power,
        "eligible_stations": int((mask & ~external).sum()),  # the city's own: external never counted
        "external_stations": int((mask & external).sum()),  # neighbours' stations counted as supply
        "station_ids": [str(s.get("id")) for s, m in zip(stations, mask) if m],
    }


# ------------------------------------------------------------------ per-node tables
def _index_stations(index) -> list[dict]:
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


# ------------------------------------------------------------------ pure profile maths
def profile_gaps(km: np.ndarray, road_km: np.ndarray, radius_km: float) -> list[tuple[float, float]]:
    """Stretches of one corridor whose road distance to a station exceeds ``radius_km``.

    Parameters
    ----------
    km : array
        Linear reference of each sample, km from the corridor start (any order).
    road_km : array
        Road distance from each sample to the nearest station, km (``inf`` when none
        is reachable).
    radius_km : float
        Coverage radius, km.

    Returns
    -------
    list of (from_km, to_km)
        Where a stretch starts or ends between two samples, the boundary is
        interpolated linearly (road distance changes at most 1 km per km along a
        road); a corridor end inside a gap closes it. A gap never reaches past a
        covered sample, so adding stations that cover every sample removes every gap.
    """
    km = np.asarray(km, float)
    d = np.asarray(road_km, float)
    if km.size == 0:
        return []
    order = np.argsort(km, kind="stable")
    km, d = km[order], d[order]
    out_flags = ~(d <= radius_km)  # NaN and inf count as uncovered
    n = km.size
    gaps: list[tuple[float, float]] = []
    for i, j in _true_runs(out_flags):
        start = km[0] if i == 0 else _crossing(km[i - 1], d[i - 1], km[i], d[i], radius_km)
        end = km[-1] if j == n - 1 else _crossing(km[j + 1], d[j + 1], km[j], d[j], radius_km)
        gaps.append((float(start), float(end)))
    return gaps


def _true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` index of every maximal run of True in a boolean array."""
    f = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]]).astype(np.int8)
    edges = np.diff(f)
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def _crossing(k_in: float, d_in: float, k_out: float, d_out: float, radius: float) -> float:
    """Where the distance profile crosses ``radius`` between a covered and an uncovered sample."""
    if not np.isfinite(d_out) or d_out <= d_in:
        return 0.5 * (k_in + k_out)
    t = (radius - d_in) / (d_out - d_in)
    return k_in + min(max(t, 0.0), 1.0) * (k_out - k_in)


def largest_spacing(station_km: Iterable[float], length_km: float,
                    within: Sequence[tuple[float, float]] | None = None) -> tuple[float, float, float]:
    """Largest distance along a corridor between consecutive stations, ends included.

    ``within`` (km intervals, e.g. the study area's stretches of the corridor) keeps only
    the spacings that overlap one of them. Returns ``(spacing_km, from_km, to_km)``; with no
    station it is the whole corridor.
    """
    points = sorted({0.0, float(length_km), *(min(max(float(k), 0.0), float(length_km)) for k in station_km)})
    best = (0.0, 0.0, 0.0)
    for a, b in zip(points[:-1], points[1:]):
        if within is not None and not any(lo < b and a < hi for lo, hi in within):
            continue
        if b - a > best[0]:
            best = (b - a, a, b)
    return best


def inside_intervals(km: np.ndarray, inside: np.ndarray) -> list[tuple[float, float]]:
    """Stretches ``(from_km, to_km)`` of a corridor inside the study area, from per-node flags.

    ``km`` are consecutive node positions along the corridor (sorted), ``inside`` whether
    each node lies in the study area; a crossing is placed midway between an inside and an
    outside node (nodes are at most a segment, 250 m by default, apart).
    """
    km = np.asarray(km, float)
    inside = np.asarray(inside, dtype=bool)
    out: list[tuple[float, float]] = []
    n = km.size
    for i, j in _true_runs(inside):
        a = km[0] if i == 0 else 0.5 * (km[i - 1] + km[i])
        b = km[-1] if j == n - 1 else 0.5 * (km[j] + km[j + 1])
        if b > a:
            out.append((float(a), float(b)))
    return out


def clip_intervals(pieces: Iterable[tuple[float, float]], within: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of ``pieces`` inside ``within`` (both lists of km intervals)."""
    out = []
    for a, b in pieces:
        for lo, hi in within:
            x, y = max(a, lo), min(b, hi)
            if y > x:
                out.append((x, y))
    return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile by the inverted CDF: the smallest value with cumulative weight >= q·total."""
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    pos = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(v[min(pos, v.size - 1)])


def access_summary(drive_min: np.ndarray, weights: np.ndarray, road_km: np.ndarray | None = None) -> dict:
    """Demand-weighted access metrics of a set of demand points.

    Returns ``demand_weight``, ``mean_drive_min``, ``p90_drive_min``,
    ``share_within_30_min``, ``share_within_60_min`` (and ``mean_road_km`` when
    ``road_km`` is given). Unreachable points (``inf``) count as beyond every threshold
    and make the mean infinite; an empty set gives NaN metrics and weight 0.
    """
    t = np.asarray(drive_min, float)
    w = np.asarray(weights, float)
    total = float(w.sum())
    out: dict = {"demand_weight": total}
    if total <= 0:
        out.update(mean_drive_min=float("nan"), p90_drive_min=float("nan"))
        for m in ACCESS_THRESHOLDS_MIN:
            out[f"share_within_{m:g}_min"] = float("nan")
        if road_km is not None:
            out["mean_road_km"] = float("nan")
        return out
    with np.errstate(invalid="ignore"):
        out["mean_drive_min"] = float(np.sum(w * t) / total) if np.all(np.isfinite(t[w > 0])) else float("inf")
    out["p90_drive_min"] = weighted_quantile(t, w, 0.9)
    for m in ACCESS_THRESHOLDS_MIN:
        out[f"share_within_{m:g}_min"] = float(w[t <= m].sum() / total)
    if road_km is not None:
        r = np.asarray(road_km, float)
        out["mean_road_km"] = float(np.sum(w * r) / total) if np.all(np.isfinite(r[w > 0])) else float("inf")
    return out


# ------------------------------------------------------------------ corridor coverage
def _corridor_speeds(network, samples: pd.DataFrame) -> dict:
    """Truck speed per corridor (key: ``corridor_idx`` when present, else ref), km/h.

    Length over time along the corridor's own node sequence (every node), i.e. the
    speed you average driving it end to end.
    """
    key = "corridor_idx" if "corridor_idx" in samples.columns else "corridor"
    try:
        full = network.corridor_samples(step_km=1e-6)  # every node, in order
    except InputError:
        return {}
    out = {}
    for k, grp in full.groupby(key, sort=False):
        nodes = grp["node"].to_numpy(np.int64)
        if nodes.size < 2:
            continue
        a, b = nodes[:-1], nodes[1:]
        ok = a != b
        length = np.asarray(network.length_csr[a[ok], b[ok]], float)
        secs = np.asarray(network.time_csr[a[ok], b[ok]], float)
        if secs.sum() > 0:
            out[k] = float(length.sum() / secs.sum() * 3.6)
    return out


def _study_flags(network, study_area, lon, lat) -> np.ndarray:
    """Which points lie in the study area (all of them without one)."""
    lon = np.asarray(lon, float)
    if study_area is None:
        return np.ones(lon.shape, dtype=bool)
    contains_many = getattr(study_area, "contains_many", None)
    if contains_many is None:
        raise InputError("study_area must be a Region (or have contains_many(lons, lats))",
                         fields={"study_area": "a Region"})
    return np.asarray(contains_many(lon, np.asarray(lat, float)), dtype=bool)


def _study_intervals(network, study_area, key: str) -> dict:
    """Per corridor key: its km stretches inside the study area (None: no study area)."""
    if study_area is None:
        return {}
    full = network.corridor_samples(step_km=1e-6)  # every node, in order
    flags = _study_flags(network, study_area, full["lon"].to_numpy(), full["lat"].to_numpy())
    out = {}
    for k, idx in full.groupby(key, sort=False).indices.items():
        out[k] = inside_intervals(full["km"].to_numpy()[idx], flags[idx])
    return out


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


def corridor_samples_with_access(network, index, *, step_km: float = settings.CORRIDOR_STEP_KM,
                                 mask: np.ndarray | None = None) -> pd.DataFrame:
    """Corridor samples ``[corridor, km, node, lon, lat]`` with ``road_km``, ``drive_min``
    and ``station_id`` of the nearest eligible station."""
    stations = _index_stations(index)
    if mask is None:
        mask = station_mask(stations)
    samples = network.corridor_samples(step_km=step_km).reset_index(drop=True)
    dist_m, _, pos = nearest_tables(network, index, mask)
    time_s = fastest_per_node(network, index, mask)
    out = samples.copy()
    # a sample is a node of the corridor: a truck there is on the network (no access leg)
    nodes = samples["node"].to_numpy(dtype=np.int64)
    out["road_km"] = dist_m[nodes] / 1000.0
    out["drive_min"] = time_s[nodes] / 60.0
    p = pos[nodes]
    ids = np.array([str(s.get("id")) for s in stations] + [None], dtype=object)
    out["station_id"] = ids[np.where(p >= 0, p, len(stations))]
    return out


def corridor_coverage(
    network,
    index,
    *,
    radius_km: float = settings.DEFAULT_RADIUS_KM,
    step_km: float = settings.CORRIDOR_STEP_KM,
    max_gap_km: float = settings.MAX_GAP_KM,
    amenities: Iterable[str] = (),
    min_power_kw: float | None = None,
    samples: bool = False,
    on_corridor_km: float = ON_CORRIDOR_KM,
    study_area=None,
) -> dict:
    """Coverage of every corridor at road distance ``radius_km`` (the ``coverage --json`` shape).

    Parameters
    ----------
    network : planner.network.RoadNetwork
        Built from corridors (needs ``corridor_samples``).
    index : planner.access.NearestIndex
        Nearest-station index over the stations to measure.
    radius_km : float
        A corridor point is covered when the road distance to the nearest eligible
        station is at most this, km.
    step_km : float
        Sampling step along the corridors, km (at most 1 km).
    max_gap_km : float
        Largest acceptable spacing between consecutive stations along a corridor, km
        (our reading of docs/domain.md §0, inferred; see :data:`MAX_GAP_NOTE`).
    amenities, min_power_kw
        Only stations offering all these amenities / at least this charging power per
        bay count (a gap for showers is not a gap for megawatt charging).
    samples : bool
        Add the per-sample table (corridor, km, lon, lat, road_km, drive_min) for maps.
    on_corridor_km : float
        For spacing, a station lies on a corridor when within this straight distance
        of one of its samples, km.
    study_area : planner.region.Region, optional
        Count only the corridor stretches inside its study area (``contains_many``): corridor
        km, gaps, per-corridor figures and spacing stretches outside it are left out (they
        are reported as ``outside_study_area_km``). Stations anywhere in the index count as
        supply. Default: count everything.

    Notes
    -----
    Gaps and ``road_km`` use the shortest road distance to an eligible station;
    ``drive_min`` of a sample is the fastest truck time to one (see
    :func:`fastest_per_node`). Corridors are told apart by ``corridor_idx`` (their row
    in ``region.corridors``), since several share a ref (four G5 sections).

    Returns
    -------
    dict
        ``radius_km, corridor_km, covered_km, covered_share, gaps`` (docs/interfaces.md), plus
        ``uncovered_km, largest_gap_km, corridors, spacing, filters, max_gap_km,
        max_gap_note, max_drive_h`` and optionally ``samples``.
    """
    radius_km = positive(radius_km, "radius_km")
    step_km = positive(step_km, "step_km")
    if step_km > 1.0:
        raise InputError(f"step_km must be at most 1 km (a sample at least every km), got {step_km}",
                         fields={"step_km": "must be in (0, 1]"})
    max_gap_km = positive(max_gap_km, "max_gap_km")
    on_corridor_km = positive(on_corridor_km, "on_corridor_km")
    names, power = check_filters(amenities, min_power_kw)
    stations = _index_stations(index)
    mask = station_mask(stations, amenities=names, min_power_kw=power)
    table = corridor_samples_with_access(network, index, step_km=step_km, mask=mask)

    speeds = _corridor_speeds(network, table)
    key = "corridor_idx" if "corridor_idx" in table.columns else "corridor"
    inside_by_key = _study_intervals(network, study_area, key)
    sx, sy = (np.asarray(v, float) for v in network.project(table["lon"].to_numpy(float), table["lat"].to_numpy(float)))
    eligible = [s for s, m in zip(stations, mask) if m]
    if eligible:
        stx, sty = (np.asarray(v, float) for v in network.project(np.array([float(s["lon"]) for s in eligible]),
                                                                  np.array([float(s["lat"]) for s in eligible])))
    else:
        stx = sty = np.zeros(0)

    gaps: list[dict] = []
    per_corridor: list[dict] = []
    spacing: list[dict] = []
    corridor_km = 0.0
    outside_km = 0.0
    for ckey, grp in table.groupby(key, sort=False):
        ref = grp["corridor"].iloc[0]
        ident = {"corridor": str(ref)}
        if key == "corridor_idx":
            ident["corridor_idx"] = int(ckey)
        if "name_zh" in grp.columns and isinstance(grp["name_zh"].iloc[0], str):
            ident["name_zh"] = grp["name_zh"].iloc[0]
        km = grp["km"].to_numpy(float)
        full_length = float(km.max()) if km.size else 0.0
        within = inside_by_key.get(ckey) if study_area is not None else None
        found = profile_gaps(km, grp["road_km"].to_numpy(float), radius_km)
        if within is not None:
            length = float(sum(b - a for a, b in within))
            found = clip_intervals(found, within)
        else:
            length = full_length
        corridor_km += length
        outside_km += full_length - length
        gap_len = 0.0
        for a, b in found:
            gaps.append({**ident, "from_km": round(a, 3), "to_km": round(b, 3), "length_km": round(b - a, 3)})
            gap_len += b - a
        per_corridor.append({
            **ident,
            "length_km": round(length, 3),
            "covered_km": round(length - gap_len, 3),
            "covered_share": round((length - gap_len) / length, 4) if length > 0 else 1.0,
        })
        # spacing: project stations on the corridor by their nearest sample
        on_km: list[float] = []
        if len(eligible):
            gx, gy = sx[grp.index.to_numpy()], sy[grp.index.to_numpy()]
            d2 = (stx[:, None] - gx[None, :]) ** 2 + (sty[:, None] - gy[None, :]) ** 2
            nearest = d2.argmin(axis=1)
            near_m = np.sqrt(d2[np.arange(len(eligible)), nearest])
            on_km = [float(km[j]) for j, dm in zip(nearest, near_m) if dm <= on_corridor_km * 1000.0]
        largest, a, b = largest_spacing(on_km, full_length, within)
        speed = speeds.get(ckey)
        drive_limit_km = settings.MAX_CONTINUOUS_DRIVE_H * speed if speed else None
        spacing.append({
            **ident,
            "length_km": round(full_length, 3),
            "stations_on_corridor": len(on_km),
            "largest_spacing_km": round(largest, 3),
            "from_km": round(a, 3),
            "to_km": round(b, 3),
            "speed_kmh": None if speed is None else round(speed, 1),
            "drive_h": None if not speed else round(largest / speed, 3),
            "drive_limit_km": None if drive_limit_km is None else round(drive_limit_km, 1),
            "exceeds_max_gap": bool(largest > max_gap_km),
            "exceeds_drive_limit": None if drive_limit_km is None else bool(largest > drive_limit_km),
        })

    uncovered = sum(g["length_km"] for g in gaps)
    covered = corridor_km - uncovered
    result = {
        "radius_km": radius_km,
        "corridor_km": round(corridor_km, 3),
        "covered_km": round(covered, 3),
        "covered_share": round(covered / corridor_km, 4) if corridor_km > 0 else 1.0,
        "gaps": gaps,
        "uncovered_km": round(uncovered, 3),
        "largest_gap_km": round(max((g["length_km"] for g in gaps), default=0.0), 3),
        "step_km": step_km,
        "corridors": per_corridor,
        "spacing": spacing,
        "max_gap_km": max_gap_km,
        "max_gap_note": MAX_GAP_NOTE,
        "max_drive_h": settings.MAX_CONTINUOUS_DRIVE_H,
        "filters": _filters_doc(stations, mask, names, power),
    }
    if study_area is not None:
        result["outside_study_area_km"] = round(outside_km, 3)
        result["counted"] = "study_area"
        table["in_study_area"] = _study_flags(network, study_area, table["lon"].to_numpy(), table["lat"].to_numpy())
    if samples:
        result["samples"] = [
            {"corridor": str(r.corridor), **({"corridor_idx": int(r.corridor_idx)} if key == "corridor_idx" else {}),
             "km": round(float(r.km), 3), "lon": round(float(r.lon), 6),
             "lat": round(float(r.lat), 6), "road_km": _finite_or_none(r.road_km, 3),
             "drive_min": _finite_or_none(r.drive_min, 2), "station_id": r.station_id,
             **({"in_study_area": bool(r.in_study_area)} if study_area is not None else {})}
            for r in table.itertuples(index=False)
        ]
    return result


def _finite_or_none(v, digits):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


# ------------------------------------------------------------------ access from demand
def demand_access(demand: pd.DataFrame, network, index, *, amenities: Iterable[str] = (),
                  min_power_kw: float | None = None, mask: np.ndarray | None = None) -> pd.DataFrame:
    """Per demand point: nearest node, access leg and road distance / drive time to the
    nearest eligible station, from the point's edge snap (:func:`edge_access`).

    A map step over rows (partitionable). ``demand`` needs ``lon``, ``lat`` and
    ``weight`` columns. Adds ``node``, ``access_m``, ``road_km``, ``drive_min``,
    ``station_id``. ``road_km`` = straight access leg to an edge + partial edge + network
    shortest path + the station's partial edge and access leg (as
    :class:`planner.access.NearestIndex` defines it); ``station_id`` is that nearest station. ``drive_min`` is the fastest truck time
    to any eligible station (:func:`fastest_per_node`), access legs driven at
    :data:`planner.settings.ACCESS_SPEED_KMH`, so it never grows when stations are added.
    """
    for col in ("lon", "lat", "weight"):
        if col not in demand.columns:
            raise InputError(f"demand needs a {col!r} column; it has {list(demand.columns)}",
                             fields={"demand": f"missing column {col}"})
    stations = _index_stations(index)
    if mask is None:
        mask = station_mask(stations, amenities=amenities, min_power_kw=min_power_kw)
    dist_m, _, pos = nearest_tables(network, index, mask)
    time_s = fastest_per_node(network, index, mask)
    out = pd.DataFrame(demand.drop(columns="geometry", errors="ignore")).copy()
    if len(out) == 0:
        for col in ("node", "access_m", "road_km", "drive_min"):
            out[col] = pd.Series(dtype=float)
        out["station_id"] = pd.Series(dtype=object)
        return out
    lons, lats = out["lon"].to_numpy(float), out["lat"].to_numpy(float)
    nodes, _ = network.snap_many(lons, lats)  # the nearest node, kept as a label for partitioning
    access_m, road_m, secs, p = edge_access(network, index, lons, lats, dist_m, time_s, pos)
    out["node"] = np.asarray(nodes, dtype=np.int64)
    out["access_m"] = access_m
    out["road_km"] = road_m / 1000.0
    out["drive_min"] = secs / 60.0
    ids = np.array([str(s.get("id")) for s in stations] + [None], dtype=object)
    out["station_id"] = ids[np.where(p >= 0, p, len(stations))]
    return out


def zone_access(zones, demand, network, index, *, key: str, amenities: Iterable[str] = (),
                min_power_kw: float | None = None):
    """Demand-weighted access per zone polygon (the reduce step behind grid/county access).

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons with a unique ``key`` column.
    demand : GeoDataFrame
        Points with ``lon``, ``lat``, ``weight``.
    key : str
        Zone id column.

    Returns
    -------
    GeoDataFrame
        The zones (EPSG:4326) with ``demand_weight``, ``demand_points``,
        ``mean_drive_min``, ``p90_drive_min``, ``share_within_30_min``,
        ``share_within_60_min``, ``mean_road_km``, ``stations`` (count) and
        ``station_ids`` (comma-separated ids of the open stations inside, all
        stations regardless of filters). Zones without demand get NaN metrics.
    """
    import geopandas as gpd

    if key not in zones.columns:
        raise InputError(f"zones need a {key!r} column; they have {list(zones.columns)}", fields={"zones": f"missing {key}"})
    if zones.crs is None:
        raise InputError("zones have no CRS; set it (EPSG:4326) before measuring access", fields={"zones": "no CRS"})
    zones = zones.to_crs(settings.WGS84)
    names, power = check_filters(amenities, min_power_kw)
    per_point = demand_access(demand, network, index, amenities=names, min_power_kw=power)
    per_point = per_point[["lon", "lat", "weight", "road_km", "drive_min"]]
    pts = gpd.GeoDataFrame(per_point, geometry=gpd.points_from_xy(per_point["lon"], per_point["lat"]), crs=settings.WGS84)
    joined = gpd.sjoin(pts, zones[[key, "geometry"]], how="inner", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")]  # a point on a shared edge counts once

    rows = []
    for zone_id, grp in joined.groupby(key, sort=False):
        summary = access_summary(grp["drive_min"].to_numpy(), grp["weight"].to_numpy(), grp["road_km"].to_numpy())
        summary[key] = zone_id
        summary["demand_points"] = int(len(grp))
        rows.append(summary)
    cols = [key, "demand_weight", "demand_points", "mean_drive_min", "p90_drive_min",
            "share_within_30_min", "share_within_60_min", "mean_road_km"]
    stats = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)

    # the city's own stations only: a neighbour's (external) station is supply, not ours to count
    stations = [s for s in _index_stations(index) if s.get("status", "open") == "open" and not _is_external(s)]
    st = gpd.GeoDataFrame({"id": [str(s["id"]) for s in stations]},
                          geometry=gpd.points_from_xy([s["lon"] for s in stations], [s["lat"] for s in stations]),
                          crs=settings.WGS84)
    inside = gpd.sjoin(st, zones[[key, "geometry"]], how="inner", predicate="intersects")
    inside = inside[~inside.index.duplicated(keep="first")]
    ids = inside.groupby(key)["id"].apply(lambda s: ",".join(sorted(s)))

    out = zones.merge(stats, on=key, how="left")
    out["demand_weight"] = out["demand_weight"].fillna(0.0).astype(float)
    out["demand_points"] = out["demand_points"].fillna(0).astype(int)
    out["station_ids"] = out[key].map(ids).fillna("")
    out["stations"] = out["station_ids"].map(lambda s: len(s.split(",")) if s else 0).astype(int)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=settings.WGS84)


def grid_access(grid, demand, network, index, *, amenities: Iterable[str] = (), min_power_kw: float | None = None):
    """Demand-weighted access per service grid cell (key ``cell_id``); see :func:`zone_access`."""
    return zone_access(grid, demand, network, index, key="cell_id", amenities=amenities, min_power_kw=min_power_kw)


def county_access(counties, demand, network, index, *, amenities: Iterable[str] = (), min_power_kw: float | None = None):
    """Demand-weighted access per county (key ``code``); see :func:`zone_access`."""
    return zone_access(counties, demand, network, index, key="code", amenities=amenities, min_power_kw=min_power_kw)


# ------------------------------------------------------------------ maps and export
def gap_lines(cov: dict) -> list[dict]:
    """Gap stretches as polylines from the coverage samples: ``[{corridor, from_km, to_km, length_km, coords}]``."""
    if "samples" not in cov:
        return []
    s = pd.DataFrame(cov["samples"])
    out = []
    for g in cov["gaps"]:
        same = s["corridor_idx"] == g["corridor_idx"] if "corridor_idx" in g else s["corridor"] == g["corridor"]
        part = s[same].sort_values("km")
        km = part["km"].to_numpy(float)
        lo = np.searchsorted(km, g["from_km"], side="right") - 1
        hi = np.searchsorted(km, g["to_km"], side="left")
        sel = part.iloc[max(lo, 0): min(hi, len(part) - 1) + 1]
        coords = [[float(a), float(b)] for a, b in zip(sel["lon"], sel["lat"])]
        if len(coords) == 1:
            coords = coords * 2
        keys = ("corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km")
        out.append({**{k: g[k] for k in keys if k in g}, "coords": coords})
    return out


def coverage_layers(network, index, result: dict, *, study_area=None) -> dict:
    """A coverage result as GIS layers: ``gaps`` (lines), ``samples`` (points with
    ``road_km``, ``drive_min``, ``covered``), ``spacing`` and ``corridors`` (tables)."""
    import geopandas as gpd
    from shapely.geometry import LineString

    cov = result
    if "samples" not in cov:
        f = cov.get("filters") or {}
        cov = corridor_coverage(network, index, radius_km=cov["radius_km"], step_km=cov.get("step_km", 1.0),
                                max_gap_km=cov.get("max_gap_km", settings.MAX_GAP_KM),
                                amenities=f.get("amenities", ()), min_power_kw=f.get("min_power_kw"), samples=True,
                                study_area=study_area)
    lines = gap_lines(cov)
    cols = [c for c in ("corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km") if any(c in g for g in lines)]
    gaps = gpd.GeoDataFrame(pd.DataFrame([{c: g.get(c) for c in cols} for g in lines], columns=cols or ["corridor"]),
                            geometry=[LineString(g["coords"]) for g in lines], crs=settings.WGS84)
    s = pd.DataFrame(cov["samples"])
    s["covered"] = s["road_km"].astype(float) <= cov["radius_km"]
    samples = gpd.GeoDataFrame(s, geometry=gpd.points_from_xy(s["lon"], s["lat"]), crs=settings.WGS84)
    return {"gaps": gaps, "samples": samples, "spacing": pd.DataFrame(cov["spacing"]),
            "corridors": pd.DataFrame(cov["corridors"])}


def export_coverage(network, index, result: dict, path, *, study_area=None):
    """Write a coverage result: GeoPackage (every layer of :func:`coverage_layers`),
    GeoJSON (the gap lines) or CSV (the gaps, geometry as WKT), by suffix."""
    from pathlib import Path

    from planner.io import write_layers

    path = Path(path)
    layers = coverage_layers(network, index, result, study_area=study_area)
    provenance = {k: result[k] for k in ("data_status", "notice") if k in result} or None
    if path.suffix.lower() == ".gpkg":
        return write_layers(layers, path, provenance=provenance)
    return write_layers({"gaps": layers["gaps"]}, path, provenance=provenance)
