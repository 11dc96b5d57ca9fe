"""Coverage of the freight corridors, measured by road (the ``coverage --json`` shape).

:func:`corridor_coverage` walks every corridor with linear referencing (km from its start, a
sample at most every ``step_km``), reads the road distance and truck drive time from each
sample to the nearest eligible station, and reports the stretches farther than ``radius_km``
from every station (the gaps), plus the largest spacing between consecutive stations along
each corridor against the 200 km reading of the national rule and the 4-hour driving rule.

Study area and supply: every station in the index is supply, including neighbours' stations
in the context band (``kind`` ``external``), so a corridor stretch near the boundary is
covered by a station across it. Metrics are counted inside the study area only
(``study_area=``: the region, or any object with ``contains_many``): corridor km, gaps and
spacing stretches outside it are left out, and the city's station counts
(``eligible_stations``) leave external stations out (``external_stations`` counts them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from planner import settings
from planner._validate import positive
from planner.access import check_filters
from planner.coverage.intervals import clip_intervals, inside_intervals, largest_spacing, profile_gaps
from planner.coverage.nearest import fastest_per_node, index_stations, nearest_tables, station_mask
from planner.errors import InputError

__all__ = ["MAX_GAP_NOTE", "ON_CORRIDOR_KM", "corridor_coverage", "corridor_samples_with_access"]

#: Why ``max_gap_km`` exists and how sure we are of it (docs/domain.md §0, §6).
MAX_GAP_NOTE = (
    "max_gap_km is our reading of the national 2025 action (交办运函〔2025〕1059号, "
    "'≈200 km spacing between Driver's Homes') as a MAXIMUM gap of ~200 km between "
    "consecutive stations along a corridor. Only an English summary was read and it says "
    "'at least 200 km apart'; the direction is inferred (docs/domain.md §0, ⚠). Configurable."
)

#: A station counts as lying on a corridor (for spacing) within this straight distance of it.
ON_CORRIDOR_KM = 5.0


def _filters_doc(stations, mask, names, power) -> dict:
    from planner.stations import is_external

    external = np.array([is_external(s) for s in stations], dtype=bool)
    return {
        "amenities": list(names),
        "min_power_kw": power,
        "eligible_stations": int((mask & ~external).sum()),  # the city's own: external never counted
        "external_stations": int((mask & external).sum()),  # neighbours' stations counted as supply
        "station_ids": [str(s.get("id")) for s, m in zip(stations, mask) if m],
    }


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

def corridor_samples_with_access(network, index, *, step_km: float = settings.CORRIDOR_STEP_KM,
                                 mask: np.ndarray | None = None) -> pd.DataFrame:
    """Corridor samples ``[corridor, km, node, lon, lat]`` with ``road_km``, ``drive_min``
    and ``station_id`` of the nearest eligible station."""
    stations = index_stations(index)
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
    stations = index_stations(index)
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
