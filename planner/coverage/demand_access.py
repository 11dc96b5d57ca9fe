"""Access from demand, measured by road: per demand point, and demand-weighted per zone
(service grid cell or county): mean and 90th-percentile drive time to the nearest station
and the share of demand within 30 and 60 minutes.

Each step is a function over arrays and (Geo)DataFrames (a map over demand points, then a
reduce per zone), so it can later be partitioned (dask-geopandas) without changing its meaning.
Off-network legs are driven at :data:`planner.settings.ACCESS_SPEED_KMH`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from planner import settings
from planner.access import check_filters
from planner.coverage.nearest import edge_access, fastest_per_node, index_stations, nearest_tables, station_mask
from planner.errors import InputError

__all__ = [
    "ACCESS_THRESHOLDS_MIN",
    "access_summary",
    "county_access",
    "demand_access",
    "grid_access",
    "weighted_quantile",
    "zone_access",
]

#: Thresholds of the access shares, minutes.
ACCESS_THRESHOLDS_MIN = (30.0, 60.0)


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
    stations = index_stations(index)
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
    from planner.stations import is_external

    stations = [s for s in index_stations(index) if s.get("status", "open") == "open" and not is_external(s)]
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
