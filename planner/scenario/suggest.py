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

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd

from planner import settings
from planner._validate import positive, whole_number
from planner.access import check_filters
from planner.candidates import candidate_sites, finish_candidates, inside_study_area, kmeans_centres, snap_sites
from planner.coverage import MAX_GAP_NOTE, gap_lines, station_mask
from planner.errors import InfeasibleError, InputError
from planner.provenance import label, worst
from planner.scenario.metrics import proposed_station, scenario_metrics
from planner.scenario.models import by_kmeans, by_lscp, by_model
from planner.stations import is_external

__all__ = ["COSTS", "METHODS", "suggest"]

METHODS = ("kmeans", "p-median", "mclp", "lscp")
COSTS = ("road_km", "drive_min")


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
        sites, solver = by_kmeans(network, demand, k, random_state=random_state, within=within)
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
            sites, solver = by_lscp(network, existing, candidates, radius_km=radius_km, k=k,
                                     max_gap_km=max_gap_km, step_km=step_km, time_limit_s=time_limit_s,
                                     within=within)
        else:
            sites, solver = by_model(network, existing, candidates, demand, method=method, k=k,
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
