"""Scenarios: where should the next Driver's Homes go, and what do they change?

:func:`suggest` keeps the existing open stations open and adds ``k`` new sites chosen by

* ``kmeans``: weighted k-means centres of demand, snapped to the road (the baseline
  a planner sketches by hand and the models are compared against);
* ``p-median``: minimise the demand-weighted road distance (or drive time) to the
  nearest station (:func:`planner.siting.solve_p_median`);
* ``mclp``: maximise the demand within road distance ``radius_km`` of a station
  (:func:`planner.siting.solve_mclp`);
* ``lscp``: the fewest new sites so that no corridor point is farther than
  ``radius_km`` by road from a station (:func:`planner.siting.solve_lscp`); ``k`` is
  optional and, when given, is an upper limit.

Costs are network shortest paths: demand points are snapped to nodes and aggregated
there (so the matrix stays small), and one Dijkstra per column runs on the transposed
graph (node → site distances). Metrics before and after are measured the same way the
``coverage`` and ``nearest`` commands measure them (:mod:`planner.coverage`).

Study area: new sites are only placed inside the region's study area (candidates outside
it are dropped; k-means centres snap to nodes inside it), LSCP covers only the corridor
points inside it, and the metrics count corridor km inside it. Neighbours' stations in the
context band (``kind`` ``external``) stay open as supply but are not the city's stations:
``filters.existing_stations`` and ``metrics.stations`` leave them out
(``filters.external_stations`` counts them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from planner import settings
from planner.candidates import candidate_sites, finish_candidates, inside_study_area, kmeans_centres, snap_sites
from planner.access import check_filters
from planner.coverage import (
    MAX_GAP_NOTE,
    access_summary,
    corridor_coverage,
    demand_access,
    gap_lines,
    station_mask,
)
from planner._validate import positive, whole_number
from planner.errors import InfeasibleError, InputError
from planner.provenance import label, worst
from planner.stations import is_external

METHODS = ("kmeans", "p-median", "mclp", "lscp")
COSTS = ("road_km", "drive_min")
#: Metric keys every scenario reports (docs/interfaces.md, ``suggest --json``).
METRIC_KEYS = (
    "mean_drive_min", "p90_drive_min", "share_within_30_min", "share_within_60_min",
    "covered_km", "uncovered_km", "largest_gap_km",
)
_UNREACHABLE = 1e9


# ------------------------------------------------------------------ validation
def _check_method(method) -> str:
    m = str(method).strip().lower().replace("_", "-") if method is not None else ""
    if m == "pmedian":
        m = "p-median"
    if m not in METHODS:
        raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}",
                         fields={"method": f"must be one of {', '.join(METHODS)}"})
    return m


def _check_k(k, method: str) -> int | None:
    if k is None:
        if method == "lscp":
            return None
        raise InputError(f"method {method!r} needs k, the number of new sites (a whole number ≥ 1)",
                         fields={"k": "required, a whole number ≥ 1"})
    return whole_number(k, "k")


def _check_demand(demand) -> pd.DataFrame:
    if demand is None:
        raise InputError("demand is empty: the region has no demand layer", fields={"demand": "required"})
    for col in ("lon", "lat", "weight"):
        if col not in demand.columns:
            raise InputError(f"demand needs a {col!r} column; it has {list(demand.columns)}",
                             fields={"demand": f"missing column {col}"})
    w = pd.to_numeric(demand["weight"], errors="coerce")
    ok = np.isfinite(w) & (w > 0) & np.isfinite(demand["lon"].astype(float)) & np.isfinite(demand["lat"].astype(float))
    if not ok.any():
        raise InputError(
            f"demand is empty: {len(demand)} rows, none with a positive weight (total weight "
            f"{float(w[np.isfinite(w)].sum()):g}); load demand (planner.demand) before suggesting sites",
            fields={"demand": "needs at least one point with weight > 0"},
        )
    return pd.DataFrame(demand.loc[ok, ["lon", "lat", "weight"]]).reset_index(drop=True)


# ------------------------------------------------------------------ network costs
def node_to_columns(network, column_nodes: Sequence[int], *, weight: str = "length") -> np.ndarray:
    """Shortest-path cost from every node to each column node, (n_nodes × n_columns).

    One Dijkstra per column on the transposed graph (so the costs are node → column,
    the direction a truck drives). ``weight`` is ``"length"`` (metres) or ``"time"``
    (seconds). Unreachable pairs are ``inf``.
    """
    from scipy.sparse.csgraph import dijkstra

    csr = network.length_csr if weight == "length" else network.time_csr
    cols = np.asarray(column_nodes, dtype=np.int64)
    if cols.size == 0:
        return np.zeros((int(network.n_nodes), 0))
    uniq, inverse = np.unique(cols, return_inverse=True)
    d = dijkstra(csr.T.tocsr(), directed=True, indices=uniq)
    return np.asarray(d).T[:, inverse]


def _station_columns(network, stations: list[dict]) -> pd.DataFrame:
    if not stations:
        return pd.DataFrame(columns=["node", "access_m"])
    nodes, access_m = network.snap_many(np.array([s["lon"] for s in stations], float),
                                        np.array([s["lat"] for s in stations], float))
    return pd.DataFrame({"node": np.asarray(nodes, dtype=np.int64), "access_m": np.asarray(access_m, float)})


def _aggregate_demand(network, demand: pd.DataFrame, *, access_bucket_m: float | None = None) -> pd.DataFrame:
    """Demand summed per network node (and per access-leg bucket when given)."""
    nodes, access_m = network.snap_many(demand["lon"].to_numpy(float), demand["lat"].to_numpy(float))
    df = pd.DataFrame({"node": np.asarray(nodes, dtype=np.int64), "access_m": np.asarray(access_m, float),
                       "weight": demand["weight"].to_numpy(float)})
    keys = ["node"]
    if access_bucket_m:
        df["bucket"] = np.floor(df["access_m"] / access_bucket_m).astype(np.int64)
        keys.append("bucket")
    df["wa"] = df["weight"] * df["access_m"]
    g = df.groupby(keys, sort=True).agg(weight=("weight", "sum"), wa=("wa", "sum"), access_max=("access_m", "max"))
    g = g.reset_index()
    g["access_m"] = g["wa"] / g["weight"]
    if access_bucket_m:  # for coverage thresholds be conservative: the farthest point of the bucket
        g["access_m"] = g["access_max"]
    return g[["node", "access_m", "weight"]]


def _cost_matrix(network, rows: pd.DataFrame, columns: pd.DataFrame, *, cost: str) -> np.ndarray:
    """Cost rows → columns: row access leg + network path + column access leg (km or min)."""
    weight = "length" if cost == "road_km" else "time"
    D = node_to_columns(network, columns["node"].to_numpy(np.int64), weight=weight)
    net = D[rows["node"].to_numpy(np.int64), :]
    speed_ms = settings.ACCESS_SPEED_KMH / 3.6
    row_leg = rows["access_m"].to_numpy(float)[:, None]
    col_leg = columns["access_m"].to_numpy(float)[None, :]
    if cost == "road_km":
        m = (row_leg + net + col_leg) / 1000.0
    else:
        m = (row_leg / speed_ms + net + col_leg / speed_ms) / 60.0
    return np.where(np.isfinite(m), m, _UNREACHABLE)


# ------------------------------------------------------------------ metrics
def proposed_station(site: dict, number: int, *, amenities: Iterable[str] = (), min_power_kw: float | None = None) -> dict:
    """A station record for a proposed site: open 24 h, with every amenity and the
    charging power the scenario asks for (so the site passes the scenario's filters)."""
    try:
        from planner.stations import AMENITIES
    except ImportError:
        AMENITIES = tuple(amenities)
    power = float(min_power_kw) if min_power_kw else 0.0
    bays = [{"count": 1, "power_kw": power}] if power > 0 else []
    sid = f"NEW-{number:02d}"
    return {
        "id": sid,
        "name": f"{sid} proposed site / 拟建站点",
        "lon": float(site["lon"]),
        "lat": float(site["lat"]),
        "county": None,
        "kind": "service_area",
        "corridor": site.get("corridor"),
        "amenities": {a: True for a in AMENITIES},
        "charging": {"bays": bays, "total_kw": power, "max_power_kw": power, "swap": False},
        "hours": "24h",
        "status": "open",
        "data_status": "illustrative",
        "source": f"proposed by planner.scenario ({site.get('source')})",
    }


def scenario_metrics(network, stations: list[dict], demand: pd.DataFrame, *, radius_km: float,
                     max_gap_km: float = settings.MAX_GAP_KM, amenities: Iterable[str] = (),
                     min_power_kw: float | None = None, step_km: float = settings.CORRIDOR_STEP_KM,
                     study_area=None) -> tuple[dict, dict]:
    """Demand-weighted access and corridor coverage of a set of stations.

    Returns ``(metrics, coverage)``: ``metrics`` holds ``mean_drive_min``,
    ``p90_drive_min``, ``share_within_30_min``, ``share_within_60_min``,
    ``mean_road_km``, ``demand_weight``, ``share_within_radius`` (demand within
    ``radius_km`` by road), ``corridor_km``, ``covered_km``, ``uncovered_km``,
    ``covered_share``, ``largest_gap_km``, ``gaps``, ``largest_spacing_km``,
    ``stations`` (the city's own, external supply left out); ``coverage`` is
    :func:`planner.coverage.corridor_coverage` with samples, counted inside ``study_area``.
    """
    from planner.access import NearestIndex

    index = NearestIndex(network, stations, access_speed_kmh=settings.ACCESS_SPEED_KMH)
    acc = demand_access(demand, network, index, amenities=amenities, min_power_kw=min_power_kw)
    summary = access_summary(acc["drive_min"].to_numpy(), acc["weight"].to_numpy(), acc["road_km"].to_numpy())
    w = acc["weight"].to_numpy(float)
    within_r = float(w[acc["road_km"].to_numpy(float) <= radius_km].sum() / w.sum()) if w.sum() > 0 else float("nan")
    cov = corridor_coverage(network, index, radius_km=radius_km, step_km=step_km, max_gap_km=max_gap_km,
                            amenities=amenities, min_power_kw=min_power_kw, samples=True, study_area=study_area)
    metrics = {
        "mean_drive_min": _r(summary["mean_drive_min"], 3),
        "p90_drive_min": _r(summary["p90_drive_min"], 3),
        "share_within_30_min": _r(summary["share_within_30_min"], 4),
        "share_within_60_min": _r(summary["share_within_60_min"], 4),
        "mean_road_km": _r(summary["mean_road_km"], 3),
        "share_within_radius": _r(within_r, 4),
        "demand_weight": _r(summary["demand_weight"], 3),
        "corridor_km": cov["corridor_km"],
        "covered_km": cov["covered_km"],
        "uncovered_km": cov["uncovered_km"],
        "covered_share": cov["covered_share"],
        "largest_gap_km": cov["largest_gap_km"],
        "gaps": len(cov["gaps"]),
        "largest_spacing_km": max((s["largest_spacing_km"] for s in cov["spacing"]), default=0.0),
        "stations": cov["filters"]["eligible_stations"],
    }
    return metrics, cov


def _r(v, digits):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else v


# ------------------------------------------------------------------ suggest
def suggest(
    region,
    network,
    stations: list[dict],
    *,
    method: str,
    k: int | None = None,
    radius_km: float = settings.DEFAULT_RADIUS_KM,
    max_gap_km: float | None = None,
    amenities: Iterable[str] = (),
    min_power_kw: float | None = None,
    cost: str = "road_km",
    every_km: float = 10.0,
    candidates=None,
    n_clusters: int | None = None,
    random_state: int = 0,
    time_limit_s: float | None = 60.0,
    step_km: float = settings.CORRIDOR_STEP_KM,
) -> dict:
    """New Driver's Home sites by ``method``, with metrics before and after.

    Parameters
    ----------
    region : planner.region.Region
        Needs ``demand`` (lon, lat, weight) and, for the default candidates, ``anchors``.
    network : planner.network.RoadNetwork
        Built from the corridors.
    stations : list of dict
        Station records; the open ones passing the filters stay open (fixed).
    method : {"kmeans", "p-median", "mclp", "lscp"}
    k : int, optional
        Number of new sites (≥ 1). Required except for ``lscp``, where it is an upper
        limit (InfeasibleError when more are needed).
    radius_km : float
        Coverage radius by road, km (MCLP demand coverage, LSCP corridor coverage and
        the covered/uncovered metrics).
    max_gap_km : float, optional
        LSCP only: also keep every corridor point within ``max_gap_km / 2`` of a
        station, so no spacing exceeds ``max_gap_km`` (reading of docs/domain.md §0; the
        metrics always report spacing against :data:`planner.settings.MAX_GAP_KM`).
    amenities, min_power_kw
        Only stations with these amenities / this charging power count as existing; new
        sites are assumed to offer them (e.g. where the next megawatt charger goes).
    cost : {"road_km", "drive_min"}
        p-median objective: demand-weighted road distance (default) or drive time.
    every_km, n_clusters, random_state
        Candidate generation (:func:`planner.candidates.candidate_sites`).
    candidates : GeoDataFrame, optional
        Own candidate sites (columns of ``candidate_sites``); default generated.
    time_limit_s : float, optional
        Solver time limit.

    Returns
    -------
    dict
        ``method, k, radius_km, sites[{id, lon, lat, corridor, corridor_km, source,
        node, name, snap_m, candidate_id}], before, after, solver{objective,
        lower_bound, optimal, gap, runtime_s, …}, candidates, filters, gap_lines,
        data_status, notice``.

    Raises
    ------
    InputError
        Unknown method, k ≤ 0 or not whole, radius ≤ 0, empty demand, unknown amenity.
    InfeasibleError
        k larger than the candidates, or (LSCP) corridor points no candidate can cover,
        or more sites needed than ``k``.
    """
    t0 = time.perf_counter()
    method = _check_method(method)
    k = _check_k(k, method)
    radius_km = positive(radius_km, "radius_km")
    if max_gap_km is not None:
        max_gap_km = positive(max_gap_km, "max_gap_km")
    if cost not in COSTS:
        raise InputError(f"unknown cost {cost!r}; use one of {', '.join(COSTS)}", fields={"cost": f"one of {', '.join(COSTS)}"})
    names, power = check_filters(amenities, min_power_kw)
    demand = _check_demand(getattr(region, "demand", None))
    stations = [dict(s) for s in stations if s.get("status", "open") == "open"]
    mask = station_mask(stations, amenities=names, min_power_kw=power)
    existing = [s for s, m in zip(stations, mask) if m]  # supply kept open, external included
    n_external = sum(1 for s in existing if is_external(s))
    within = region if hasattr(region, "contains_many") else None  # the study area

    metric_opts = dict(radius_km=radius_km, max_gap_km=max_gap_km or settings.MAX_GAP_KM,
                       amenities=names, min_power_kw=power, step_km=step_km, study_area=within)
    before, cov_before = scenario_metrics(network, stations, demand, **metric_opts)

    if method == "kmeans":
        sites, solver = _by_kmeans(network, demand, k, random_state=random_state, within=within)
    else:
        if candidates is None:
            candidates = candidate_sites(region, network, every_km=every_km, n_clusters=n_clusters,
                                         random_state=random_state)
        # new sites go inside the study area only (own candidates too)
        given = len(candidates)
        candidates = candidates[inside_study_area(within, candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float))]
        if len(candidates) == 0:
            raise InfeasibleError(
                "no candidate sites inside the study area" if given else
                "no candidate sites: every candidate source came back empty",
                fields={"candidates": "empty"})
        if k is not None and k > len(candidates):
            raise InfeasibleError(
                f"k={k} new sites asked but there are only {len(candidates)} candidate sites; "
                f"choose k ≤ {len(candidates)} or lower every_km (now {every_km:g}) for more corridor candidates",
                fields={"k": f"must be at most {len(candidates)}"},
            )
        if k is not None and method in ("p-median", "mclp"):
            # the k-means sites of the same k are always candidates, so an exact model
            # can never do worse than the baseline on its own objective
            km_sites = snap_sites(network, *kmeans_centres(demand, k, random_state=random_state, crs=network.crs)[["lon", "lat"]].to_numpy().T,
                                  within=within)
            km_sites["source"] = "kmeans"
            km_sites["name"] = None
            candidates = finish_candidates([pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")), km_sites])
        if method == "lscp":
            sites, solver = _by_lscp(network, existing, candidates, radius_km=radius_km, k=k,
                                     max_gap_km=max_gap_km, step_km=step_km, time_limit_s=time_limit_s,
                                     within=within)
        else:
            sites, solver = _by_model(network, existing, candidates, demand, method=method, k=k,
                                      radius_km=radius_km, cost=cost, time_limit_s=time_limit_s)

    proposed = [proposed_station(s, i + 1, amenities=names, min_power_kw=power) for i, s in enumerate(sites)]
    for s, p in zip(sites, proposed):
        s["id"] = p["id"]
    after, cov_after = scenario_metrics(network, stations + proposed, demand, **metric_opts)

    result = {
        "method": method,
        "k": len(sites) if k is None else k,
        "radius_km": radius_km,
        "sites": sites,
        "before": before,
        "after": after,
        "solver": solver,
        "objective": solver.get("objective"),
        "optimal": solver.get("optimal"),
        "candidates": ({} if candidates is None else
                       {str(src): int(n) for src, n in pd.Series(candidates["source"]).value_counts().items()}),
        "filters": {"amenities": list(names), "min_power_kw": power, "existing_stations": len(existing) - n_external,
                    "external_stations": n_external},
        "max_gap_km": max_gap_km or settings.MAX_GAP_KM,
        "max_gap_note": MAX_GAP_NOTE,
        "gap_lines": {"before": gap_lines(cov_before), "after": gap_lines(cov_after)},
        "existing": [{"id": s["id"], "name": s.get("name"), "lon": s["lon"], "lat": s["lat"],
                      "data_status": s.get("data_status")} for s in existing],
        **label(_data_status(region, stations)),
        "runtime_s": round(time.perf_counter() - t0, 3),
    }
    return result


def _data_status(region, stations) -> str:
    """Worst status of the stations, the demand points and the region layers a scenario uses."""
    statuses = [s.get("data_status") for s in stations]
    dem = getattr(region, "demand", None)
    if dem is not None and "data_status" in getattr(dem, "columns", ()):
        statuses += list(dem["data_status"].dropna().unique())
    statuses += [(region.provenance.get(name) or {}).get("data_status", "verified") for name in ("corridors", "grid")]
    return worst(statuses)


def _site_record(row, *, source: str | None = None) -> dict:
    get = row.get if isinstance(row, dict) else row.__getitem__
    rec = {
        "lon": round(float(get("lon")), 6),
        "lat": round(float(get("lat")), 6),
        "corridor": None if pd.isna(get("corridor")) else str(get("corridor")),
        "corridor_km": None if pd.isna(get("corridor_km")) else round(float(get("corridor_km")), 2),
        "source": source or str(get("source")),
        "node": int(get("node")),
        "snap_m": round(float(get("snap_m")), 1),
    }
    name = get("name") if "name" in (row.keys() if isinstance(row, dict) else row.index) else None
    rec["name"] = None if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
    cid = get("id") if "id" in (row.keys() if isinstance(row, dict) else row.index) else None
    rec["candidate_id"] = None if cid is None else str(cid)
    return rec


def _by_kmeans(network, demand, k, *, random_state, within=None):
    t = time.perf_counter()
    centres = kmeans_centres(demand, k, random_state=random_state, crs=network.crs)
    snapped = snap_sites(network, centres["lon"].to_numpy(), centres["lat"].to_numpy(), within=within)
    snapped["source"] = "kmeans"
    snapped["name"] = None
    snapped["weight"] = centres["weight"].to_numpy()
    sites = []
    for (_, row), w in zip(snapped.iterrows(), centres["weight"]):
        rec = _site_record(row)
        rec["cluster_weight"] = round(float(w), 3)
        sites.append(rec)
    solver = {"method": "kmeans", "objective": None, "lower_bound": None, "optimal": False, "gap": None,
              "runtime_s": round(time.perf_counter() - t, 3),
              "note": "weighted k-means centres snapped to the nearest road node; not an optimisation of access"}
    return sites, solver


def _solver_doc(res, **extra) -> dict:
    doc = {
        "method": res.method,
        "objective": _json_float(res.objective),
        "lower_bound": _json_float(res.lower_bound),
        "optimal": bool(res.optimal),
        "gap": _json_float(res.gap),
        "runtime_s": round(float(res.runtime_s), 3),
    }
    doc.update(extra)
    return doc


def _json_float(v):
    if v is None:
        return None
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


def _by_model(network, existing, candidates, demand, *, method, k, radius_km, cost, time_limit_s):
    from planner.siting import solve_mclp, solve_p_median

    st_cols = _station_columns(network, existing)
    cand = pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    cand_cols = pd.DataFrame({"node": cand["node"].to_numpy(np.int64), "access_m": np.zeros(len(cand))})
    columns = pd.concat([st_cols, cand_cols], ignore_index=True)
    fixed = list(range(len(st_cols)))
    p = len(fixed) + k
    if method == "p-median":
        rows = _aggregate_demand(network, demand)
        matrix = _cost_matrix(network, rows, columns, cost=cost)
        res = solve_p_median(matrix, p, weights=rows["weight"].to_numpy(float), fixed=fixed or None,
                             time_limit_s=time_limit_s)
        unit = cost
    else:
        rows = _aggregate_demand(network, demand, access_bucket_m=100.0)
        matrix = _cost_matrix(network, rows, columns, cost="road_km")
        res = solve_mclp(matrix, p, radius_km, weights=rows["weight"].to_numpy(float), fixed=fixed or None,
                         time_limit_s=time_limit_s)
        unit = "covered demand weight"
        w = rows["weight"].to_numpy(float)
        by_fixed = float(w[(matrix[:, fixed] <= radius_km).any(axis=1)].sum()) if fixed else 0.0
        mclp_extra = {"covered_by_existing": round(by_fixed, 6), "total_weight": round(float(w.sum()), 6),
                      "added_weight": round(float(res.objective) - by_fixed, 6)}
        if float(res.objective) - by_fixed <= 1e-9:
            mclp_extra["note"] = (f"the existing stations already cover all the demand a new site can reach within "
                                  f"{radius_km:g} km; the new sites are ties, lower radius_km to discriminate")
    chosen = [j for j in res.selected if j >= len(fixed)]
    if method == "mclp":
        chosen, swaps = _break_mclp_ties(matrix, rows["weight"].to_numpy(float), radius_km, fixed, chosen)
        if swaps:
            mclp_extra["tie_break"] = (f"{swaps} site(s) that added no coverage were moved to the candidate that "
                                       "lowers the demand-weighted road distance most, keeping the covered demand")
    sites = [_site_record(cand.iloc[j - len(fixed)]) for j in chosen]
    solver = _solver_doc(res, rows=int(matrix.shape[0]), columns=int(matrix.shape[1]), fixed=len(fixed),
                         p=p, objective_unit=unit, **(mclp_extra if method == "mclp" else {}))
    return sites, solver


def _break_mclp_ties(matrix: np.ndarray, weights: np.ndarray, radius: float, fixed: list[int],
                     chosen: list[int]) -> tuple[list[int], int]:
    """Re-place MCLP sites that add no covered demand (ties of the MCLP optimum).

    When the existing stations already cover most demand, many site sets reach the same
    maximum; a site whose removal loses no coverage is moved, one at a time, to the
    column that keeps the covered weight and lowers the demand-weighted distance most.
    The MCLP objective never falls, so an optimal answer stays optimal.
    """
    within = matrix <= radius

    def covered(cols):
        return float(weights[within[:, cols].any(axis=1)].sum()) if cols else 0.0

    def total_cost(cols):
        return float(weights @ matrix[:, cols].min(axis=1))

    chosen = list(chosen)
    swaps = 0
    target = covered(fixed + chosen)
    for pos in range(len(chosen)):
        others = fixed + chosen[:pos] + chosen[pos + 1:]
        if covered(others) < target - 1e-9:
            continue  # this site earns its place
        base = matrix[:, others].min(axis=1) if others else np.full(matrix.shape[0], np.inf)
        gain = weights @ np.maximum(base[:, None] - matrix, 0.0)  # distance saved by each column
        order = np.argsort(-gain, kind="stable")
        for j in order:
            j = int(j)
            if j in others or j < len(fixed):
                continue
            if covered(others + [j]) >= target - 1e-9:
                if j != chosen[pos] and total_cost(others + [j]) < total_cost(others + [chosen[pos]]) - 1e-9:
                    chosen[pos] = j
                    swaps += 1
                break
    return sorted(chosen), swaps


def _by_lscp(network, existing, candidates, *, radius_km, k, max_gap_km, step_km, time_limit_s, within=None):
    from planner.siting import solve_lscp

    t = time.perf_counter()
    radius = radius_km if max_gap_km is None else min(radius_km, max_gap_km / 2.0)
    # the coverage check reads float32 tables rounded up (planner.access): keep a 1e-6 margin
    radius_in = radius * (1.0 - 1e-6)
    samples = network.corridor_samples(step_km=step_km)
    # only the corridor points inside the study area must be covered
    samples = samples[inside_study_area(within, samples["lon"].to_numpy(float), samples["lat"].to_numpy(float))].reset_index(drop=True)
    rows = pd.DataFrame({"node": samples["node"].to_numpy(np.int64), "access_m": np.zeros(len(samples))})
    cand = pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    cand_cols = pd.DataFrame({"node": cand["node"].to_numpy(np.int64), "access_m": np.zeros(len(cand))})
    st_cols = _station_columns(network, existing)
    # rows the existing stations already cover drop out; what is left needs new sites
    if len(st_cols):
        covered = _cost_matrix(network, rows, st_cols, cost="road_km").min(axis=1) <= radius_in
    else:
        covered = np.zeros(len(rows), dtype=bool)
    open_rows = rows[~covered].reset_index(drop=True)
    base = {"method": "lscp", "rows": int(len(rows)), "rows_open": int(len(open_rows)), "fixed": int(len(st_cols)),
            "radius_km": radius}
    if len(open_rows) == 0:
        solver = {**base, "objective": 0.0, "lower_bound": 0.0, "optimal": True, "gap": 0.0,
                  "runtime_s": round(time.perf_counter() - t, 3),
                  "note": "the existing stations already cover every corridor point"}
        return [], solver
    matrix = _cost_matrix(network, open_rows, cand_cols, cost="road_km")
    reach = matrix.min(axis=1)
    if np.any(reach > radius_in):
        bad = int(np.argmax(reach))
        s = samples[~covered].reset_index(drop=True).iloc[bad]
        raise InfeasibleError(
            f"{int((reach > radius_in).sum())} corridor points are farther than {radius:g} km by road from every "
            f"candidate site (worst: {s['corridor']} km {float(s['km']):.1f}, {float(reach[bad]):.1f} km away); "
            f"lower every_km or raise radius_km",
            fields={"radius_km": f"too small for the candidates (needs ≥ {float(reach.max()):.1f})"},
        )
    useful = np.flatnonzero((matrix <= radius_in).any(axis=0))
    res = solve_lscp(matrix[:, useful], radius_in, time_limit_s=time_limit_s)
    chosen = sorted(int(useful[j]) for j in res.selected)
    if k is not None and len(chosen) > k:
        raise InfeasibleError(
            f"covering every corridor point within {radius:g} km needs {len(chosen)} new sites, more than k={k}; "
            f"raise k to {len(chosen)}, raise radius_km, or omit k",
            fields={"k": f"must be at least {len(chosen)} at radius {radius:g} km"},
        )
    sites = [_site_record(cand.iloc[j]) for j in chosen]
    solver = _solver_doc(res, **base, columns=int(len(useful)), objective_unit="new sites")
    return sites, solver


# ------------------------------------------------------------------ export
def scenario_layers(result: dict) -> dict:
    """The scenario as GIS layers: ``sites`` (points), ``existing`` (points), ``gaps_before``
    and ``gaps_after`` (lines) and ``metrics`` (one row per metric, before/after)."""
    import geopandas as gpd
    from shapely.geometry import LineString

    site_df = pd.DataFrame(result["sites"]) if result["sites"] else pd.DataFrame(
        columns=["id", "lon", "lat", "corridor", "corridor_km", "source", "node", "snap_m", "name", "candidate_id"])
    site_df.insert(0, "method", result["method"])
    site_df["data_status"] = "proposed"
    sites = gpd.GeoDataFrame(site_df, geometry=gpd.points_from_xy(site_df["lon"].astype(float), site_df["lat"].astype(float)),
                             crs=settings.WGS84)
    ex = pd.DataFrame(result.get("existing") or [], columns=["id", "name", "lon", "lat", "data_status"])
    existing = gpd.GeoDataFrame(ex, geometry=gpd.points_from_xy(ex["lon"].astype(float), ex["lat"].astype(float)),
                                crs=settings.WGS84)
    layers = {"sites": sites, "existing": existing}
    for when in ("before", "after"):
        lines = result.get("gap_lines", {}).get(when, [])
        cols = ["corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km"]
        df = pd.DataFrame([{k: g.get(k) for k in cols} for g in lines], columns=cols)
        geoms = [LineString(g["coords"]) for g in lines]
        layers[f"gaps_{when}"] = gpd.GeoDataFrame(df, geometry=geoms, crs=settings.WGS84)
    keys = [k for k in dict.fromkeys([*result["before"].keys(), *result["after"].keys()])
            if not isinstance(result["before"].get(k), (list, dict))]
    layers["metrics"] = pd.DataFrame({"metric": keys, "before": [result["before"].get(k) for k in keys],
                                      "after": [result["after"].get(k) for k in keys]})
    return layers


def export_scenario(result: dict, path) -> Path:
    """Write a scenario to GeoJSON (``.geojson``/``.json``), GeoPackage (``.gpkg``) or CSV (``.csv``).

    GeoPackage holds every layer of :func:`scenario_layers`; GeoJSON and CSV hold the
    proposed sites (the file a GIS user opens first), with ``lon``/``lat`` columns in CSV.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".geojson", ".json", ".gpkg", ".csv"):
        raise InputError(f"unknown export format {path.suffix!r} for {path}; use .geojson, .gpkg or .csv",
                         fields={"path": "must end in .geojson, .gpkg or .csv"})
    from planner.io import write_layers

    layers = scenario_layers(result)
    provenance = {k: result[k] for k in ("data_status", "notice") if k in result} or None
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gpkg":
        return write_layers(layers, path, provenance=provenance)
    return write_layers({"sites": layers["sites"]}, path, provenance=provenance)
