"""The model runners of a scenario: new sites by weighted k-means, p-median, MCLP or LSCP.

Each runner takes the network, the existing (fixed) stations and the candidate sites, builds
its cost matrix (:mod:`planner.scenario.costs`), calls the solver of :mod:`planner.siting`
and returns ``(sites, solver)``: the chosen sites as records and the solver's report.
``p = len(existing) + k`` (the models' total from the planners' new sites) is computed here,
in :func:`by_model`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from planner.candidates import inside_study_area, kmeans_centres, snap_sites
from planner.errors import InfeasibleError
from planner.scenario.costs import aggregate_demand, cost_matrix, station_columns

__all__ = ["by_kmeans", "by_lscp", "by_model"]


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


def by_kmeans(network, demand, k, *, random_state, within=None):
    """``k`` weighted k-means centres of demand, snapped to road nodes (inside ``within``)."""
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


def by_model(network, existing, candidates, demand, *, method, k, radius_km, cost, time_limit_s):
    """``k`` new sites among ``candidates`` by p-median (``cost``) or MCLP (within ``radius_km``),
    the existing stations kept open (fixed columns)."""
    from planner.siting import solve_mclp, solve_p_median

    st_cols = station_columns(network, existing)
    cand = pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    cand_cols = pd.DataFrame({"node": cand["node"].to_numpy(np.int64), "access_m": np.zeros(len(cand))})
    columns = pd.concat([st_cols, cand_cols], ignore_index=True)
    fixed = list(range(len(st_cols)))
    p = len(fixed) + k
    if method == "p-median":
        rows = aggregate_demand(network, demand)
        matrix = cost_matrix(network, rows, columns, cost=cost)
        res = solve_p_median(matrix, p, weights=rows["weight"].to_numpy(float), fixed=fixed or None,
                             time_limit_s=time_limit_s)
        unit = cost
    else:
        rows = aggregate_demand(network, demand, access_bucket_m=100.0)
        matrix = cost_matrix(network, rows, columns, cost="road_km")
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


def by_lscp(network, existing, candidates, *, radius_km, k, max_gap_km, step_km, time_limit_s, within=None):
    """The fewest new sites so that every corridor point in ``within`` is within ``radius_km``
    (and ``max_gap_km / 2``) of a station by road; at most ``k`` when given."""
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
    st_cols = station_columns(network, existing)
    # rows the existing stations already cover drop out; what is left needs new sites
    if len(st_cols):
        covered = cost_matrix(network, rows, st_cols, cost="road_km").min(axis=1) <= radius_in
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
    matrix = cost_matrix(network, open_rows, cand_cols, cost="road_km")
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
