"""Covering models: maximal covering (MCLP) and location set covering (LSCP).

A row is *covered* by a column when ``cost[i, j] <= radius`` (same unit as the matrix;
``np.inf`` never covers). Both models are solved exactly with a HiGHS MIP built from
sparse column-wise arrays, started from a greedy solution; with a time limit they return
the incumbent with HiGHS's proven bound.

References: Church & ReVelle (1974), "The maximal covering location problem", Papers of
the Regional Science Association 32; Toregas, Swain, ReVelle & Bergman (1971), "The
location of emergency service facilities", Operations Research 19.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np

from planner.errors import InfeasibleError, InputError
from planner.siting import _validate as V
from planner.siting._highs import csc_from_coo, solve_mip
from planner.siting._result import SitingResult, relative_gap

_METHODS = ("auto", "heuristic")


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------
def _unique_rows(B: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Merge identical rows of a boolean matrix; returns (unique rows, summed weights)."""
    if B.shape[0] == 0:
        return B, np.zeros(0) if weights is None else weights
    packed = np.packbits(B, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    w = np.ones(B.shape[0]) if weights is None else weights
    summed = np.bincount(inverse, weights=w, minlength=len(first))
    return B[first], summed


def _csc_of_bool(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column starts and row indices of the True entries of B, column by column."""
    cols, rows = np.nonzero(B.T)
    start = np.zeros(B.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=B.shape[1]), out=start[1:])
    return start, rows


def _greedy_cover(B: np.ndarray) -> list[int]:
    """Greedy set cover (column covering most uncovered rows), then drop redundant columns."""
    uncovered = np.ones(B.shape[0], dtype=bool)
    chosen: list[int] = []
    Bf = B.astype(np.float32)
    while uncovered.any():
        counts = uncovered.astype(np.float32) @ Bf
        j = int(np.argmax(counts))
        if counts[j] <= 0:
            break
        chosen.append(j)
        uncovered &= ~B[:, j]
    # Remove columns whose rows are all covered by others (last chosen first).
    times = B[:, chosen].sum(axis=1) if chosen else np.zeros(B.shape[0])
    for j in sorted(chosen, key=lambda c: int(B[:, c].sum())):
        col = B[:, j]
        if np.all(times[col] >= 2):
            times = times - col
            chosen.remove(j)
    return sorted(chosen)


def _min_cover_size(B: np.ndarray, hint: int, *, time_limit_s: float = 20.0) -> tuple[int, bool]:
    """Smallest number of columns of boolean B covering every row.

    Returns (k, proven). When the greedy cover is already within ``hint`` it is returned
    without proof (enough to show feasibility); otherwise a MIP gives the optimum, or the
    ceiling of its bound if the time limit hits (``proven`` False only for a greedy answer).
    """
    B, _ = _unique_rows(B)
    greedy = _greedy_cover(B)
    if len(greedy) <= hint:
        return len(greedy), False
    start_vec = np.zeros(B.shape[1])
    start_vec[greedy] = 1.0
    out = _solve_cover_mip(B, time_limit_s=time_limit_s, start=start_vec)
    if out.status == "optimal" and out.objective is not None:
        return int(round(out.objective)), True
    if out.dual_bound is not None:
        return max(int(math.ceil(out.dual_bound - 1e-6)), 1), True
    return len(greedy), False


def _solve_cover_mip(B: np.ndarray, *, time_limit_s: float | None, start: np.ndarray | None, rel_gap: float = 0.0):
    n, m = B.shape
    a_start, a_index = _csc_of_bool(B)
    return solve_mip(
        col_cost=np.ones(m),
        col_lower=np.zeros(m),
        col_upper=np.ones(m),
        integrality=np.ones(m, dtype=np.int32),
        a_start=a_start,
        a_index=a_index,
        a_value=np.ones(len(a_index)),
        row_lower=np.ones(n),
        row_upper=np.full(n, np.inf),
        time_limit_s=time_limit_s,
        mip_rel_gap=rel_gap,
        mip_abs_gap=1.0 - 1e-6,  # the objective is an integer
        start=start,
    )


def _check_rel_gap(rel_gap: Any) -> float:
    if rel_gap is None:
        return 0.0
    if isinstance(rel_gap, bool) or not isinstance(rel_gap, numbers.Real):
        raise InputError(f"rel_gap must be a number in [0, 1) or None; got {rel_gap!r}", fields={"rel_gap": "[0, 1)"})
    g = float(rel_gap)
    if not (0.0 <= g < 1.0):
        raise InputError(
            f"rel_gap is the accepted RELATIVE optimality gap and must be in [0, 1) (e.g. 0.05); got {g!r}. "
            "It is not a distance: put the covering distance in radius",
            fields={"rel_gap": "[0, 1)"},
        )
    return g


# ---------------------------------------------------------------------------------------
# LSCP
# ---------------------------------------------------------------------------------------
def solve_lscp(
    cost: Any,
    radius: float,
    *,
    fixed: Any = None,
    rel_gap: float | None = None,
    time_limit_s: float | None = None,
    method: str = "auto",
) -> SitingResult:
    """Fewest new columns so that every row has an open column within ``radius``.

    Parameters
    ----------
    cost : array-like, shape (n_demand, n_candidates)
        Non-negative cost (distance/time) from each row to each column; ``np.inf`` = never
        reachable. For the max-gap-along-a-corridor variant, rows are corridor sample
        points and ``radius`` is the largest allowed distance to the nearest site.
    radius : float
        Covering distance, in the unit of ``cost`` (> 0). ``cost <= radius`` covers.
    fixed : sequence of int, optional
        Columns already open (existing stations); they are in ``selected`` and not counted.
    rel_gap : float, optional
        Accepted relative optimality gap in [0, 1) (e.g. 0.05 stops within 5 % of the
        proven minimum). ``None`` (default) proves optimality. Not a distance.
    time_limit_s : float, optional
        Wall-clock budget; when it runs out the best cover found is returned with its
        proven ``lower_bound`` and ``optimal=False``.
    method : {"auto", "heuristic"}
        ``"heuristic"`` returns the greedy cover (with the trivial bound) without a MIP.

    Returns
    -------
    SitingResult
        ``selected`` (sorted, fixed included); ``objective`` = number of NEW columns
        (``len(selected) - len(fixed)``); ``lower_bound`` = proven minimum number of new
        columns; ``extra``: ``radius``, ``n_new``, ``n_fixed``, ``rows_covered_by_fixed``,
        ``max_cost_to_nearest`` (largest row-to-nearest-selected cost, <= radius).

    Raises
    ------
    InfeasibleError
        Some rows have no column within ``radius``: the message gives how many and the
        smallest radius that would cover every row (or how many rows no column reaches
        at any radius).
    InputError
        Malformed arguments (bad radius, fixed, rel_gap, time limit, matrix).
    """
    started = time.perf_counter()
    C = V.cost_matrix(cost, allow_inf=True)
    n_rows, n_cols = C.shape
    r = V.radius_value(radius)
    fixed_idx = V.fixed_columns(fixed, n_cols)
    rel_gap = _check_rel_gap(rel_gap)
    limit = V.time_limit(time_limit_s)
    method = V.method_name(method, _METHODS)

    A = C <= r
    coverable = A.any(axis=1)
    if not coverable.all():
        bad = np.nonzero(~coverable)[0]
        row_min = C.min(axis=1)
        never = int(np.isinf(row_min).sum())
        if never:
            raise InfeasibleError(
                f"{len(bad)} of {n_rows} rows have no candidate within radius {r:g}, and {never} of them "
                f"cannot reach any candidate at any radius (all costs inf), e.g. rows {bad[:10].tolist()}; "
                "add candidates that reach them",
                fields={"radius": "every row needs a candidate within it"},
            )
        need = float(row_min.max())
        raise InfeasibleError(
            f"{len(bad)} of {n_rows} rows have no candidate within radius {r:g} (e.g. rows {bad[:10].tolist()}); "
            f"the smallest radius that covers every row is {need:g}",
            fields={"radius": f">= {need:g}"},
        )
    by_fixed = A[:, fixed_idx].any(axis=1) if len(fixed_idx) else np.zeros(n_rows, dtype=bool)
    free_mask = np.ones(n_cols, dtype=bool)
    free_mask[fixed_idx] = False
    free_cols = np.nonzero(free_mask)[0]
    B, _ = _unique_rows(A[~by_fixed][:, free_cols])
    extra: dict[str, Any] = {
        "radius": r,
        "n_fixed": len(fixed_idx),
        "rows_covered_by_fixed": int(by_fixed.sum()),
        "rows_to_cover": int((~by_fixed).sum()),
        "distinct_rows": int(B.shape[0]),
        "rel_gap": rel_gap,
    }

    def finish(chosen, lower, optimal, method_name):
        sel = sorted(int(j) for j in np.concatenate([fixed_idx, free_cols[np.asarray(chosen, dtype=np.int64)]]))
        objective = float(len(sel) - len(fixed_idx))
        nearest = C[:, sel].min(axis=1) if sel else np.full(n_rows, np.inf)
        extra["n_new"] = int(objective)
        extra["max_cost_to_nearest"] = float(nearest.max())
        lb = None if lower is None else float(min(lower, objective))
        return SitingResult(
            selected=sel,
            objective=objective,
            lower_bound=lb,
            optimal=optimal,
            gap=relative_gap(objective, lb) if objective > 0 else (0.0 if lb is not None else None),
            method=method_name,
            runtime_s=time.perf_counter() - started,
            extra=extra,
        )

    if B.shape[0] == 0:
        return finish([], 0.0, True, "trivial")
    greedy = _greedy_cover(B)
    # Trivial bound: rows pairwise without a common column need one column each; at least 1.
    trivial_lb = 1.0
    if method == "heuristic":
        return finish(greedy, trivial_lb, len(greedy) <= trivial_lb, "greedy")
    start_vec = np.zeros(B.shape[1])
    start_vec[greedy] = 1.0
    left = None if limit is None else max(limit - (time.perf_counter() - started), 0.05)
    out = _solve_cover_mip(B, time_limit_s=left, start=start_vec, rel_gap=rel_gap)
    extra["mip_status"] = out.status
    extra["mip_size"] = {"columns": int(B.shape[1]), "rows": int(B.shape[0]), "nonzeros": int(B.sum())}
    chosen = greedy
    if out.x is not None and out.objective is not None and out.objective < len(greedy) - 0.5:
        chosen = sorted(int(j) for j in np.nonzero(out.x > 0.5)[0])
    lower = trivial_lb
    if out.dual_bound is not None:
        lower = max(lower, float(math.ceil(out.dual_bound - 1e-6)))
    optimal = out.status == "optimal" and len(chosen) <= lower + 1e-9
    if out.status == "optimal" and rel_gap == 0.0:
        optimal = True
        lower = float(len(chosen))
    return finish(chosen, lower, optimal, "mip" if out.status == "optimal" else f"mip({out.status})")


# ---------------------------------------------------------------------------------------
# MCLP
# ---------------------------------------------------------------------------------------
def _greedy_max_cover(B: np.ndarray, w: np.ndarray, k: int) -> list[int]:
    """Greedy weighted max coverage, then 1-swap improvement."""
    m = B.shape[1]
    Bf = B.astype(np.float64)
    uncovered_w = w.copy()
    chosen: list[int] = []
    for _ in range(min(k, m)):
        gains = uncovered_w @ Bf
        gains[chosen] = -1.0
        j = int(np.argmax(gains))
        chosen.append(j)
        uncovered_w = np.where(B[:, j], 0.0, uncovered_w)
    # First-improvement swaps (bounded).
    for _ in range(50):
        improved = False
        cnt = B[:, chosen].sum(axis=1)
        for s, j_out in enumerate(list(chosen)):
            only = (cnt == 1) & B[:, j_out]
            loss = float(w[only].sum())
            uncovered = cnt == 0
            gains = (w * (uncovered | only)) @ Bf
            gains[chosen] = -np.inf
            j_in = int(np.argmax(gains))
            if gains[j_in] > loss + 1e-12 * max(1.0, loss):
                chosen[s] = j_in
                improved = True
                break
        if not improved:
            break
    return sorted(chosen)


def solve_mclp(
    cost: Any,
    p: int,
    radius: float,
    *,
    weights: Any = None,
    fixed: Any = None,
    time_limit_s: float | None = None,
    method: str = "auto",
) -> SitingResult:
    """Open ``p`` columns (fixed included) maximising the demand within ``radius``.

    Parameters
    ----------
    cost : array-like, shape (n_demand, n_candidates)
        Non-negative cost from each row to each column; ``np.inf`` never covers.
    p : int
        TOTAL number of open columns including ``fixed`` (``len(fixed) + k`` new sites).
    radius : float
        Covering distance in the unit of ``cost`` (> 0); ``cost <= radius`` covers.
    weights : array-like, shape (n_demand,), optional
        Non-negative demand of each row (default 1).
    fixed : sequence of int, optional
        Columns forced open; included in ``selected``.
    time_limit_s : float, optional
        Wall-clock budget; on expiry the incumbent is returned with the proven upper
        bound and ``optimal=False``.
    method : {"auto", "heuristic"}
        ``"heuristic"``: greedy plus swaps, no MIP, with a simple valid upper bound.

    Returns
    -------
    SitingResult
        ``objective`` = total weight of covered rows (recomputed, fixed coverage
        included). This is a MAXIMISATION, so ``lower_bound`` is ``None``; the proven
        upper bound is ``extra["upper_bound"]`` and ``gap`` = (upper_bound - objective) /
        objective. ``extra`` also holds ``total_weight``, ``covered_share``,
        ``covered_by_fixed``.
    """
    started = time.perf_counter()
    C, w, fixed_idx, p, limit, method = V.p_model(cost, weights, fixed, p, time_limit_s, method, _METHODS)
    n_rows, n_cols = C.shape
    r = V.radius_value(radius)

    A = C <= r
    by_fixed = A[:, fixed_idx].any(axis=1) if len(fixed_idx) else np.zeros(n_rows, dtype=bool)
    free_mask = np.ones(n_cols, dtype=bool)
    free_mask[fixed_idx] = False
    free_cols = np.nonzero(free_mask)[0]
    k = p - len(fixed_idx)
    keep = (~by_fixed) & (w > 0) & A[:, free_cols].any(axis=1)
    B, wb = _unique_rows(A[keep][:, free_cols], w[keep])
    total_weight = float(w.sum())
    fixed_weight = float(w[by_fixed].sum())
    integral_w = bool(np.all(wb == np.round(wb)))
    extra: dict[str, Any] = {
        "radius": r,
        "total_weight": total_weight,
        "covered_by_fixed": fixed_weight,
        "coverable_weight": fixed_weight + float(wb.sum()),
        "n_fixed": len(fixed_idx),
        "n_new": k,
        "distinct_rows": int(B.shape[0]),
    }

    def finish(chosen, upper, optimal, method_name):
        chosen = list(chosen)
        if len(chosen) < k:  # pad with unused columns (they add nothing)
            rest = [j for j in range(len(free_cols)) if j not in set(chosen)]
            chosen += rest[: k - len(chosen)]
        sel = sorted(int(j) for j in np.concatenate([fixed_idx, free_cols[np.asarray(chosen, dtype=np.int64)]]))
        covered = A[:, sel].any(axis=1) if sel else np.zeros(n_rows, dtype=bool)
        objective = float(w[covered].sum())
        up = None if upper is None else max(float(upper), objective)
        if optimal:
            up = objective
        extra["upper_bound"] = up
        extra["covered_share"] = objective / total_weight if total_weight > 0 else 1.0
        gap = None if up is None else (up - objective) / max(abs(objective), 1e-12)
        return SitingResult(
            selected=sel,
            objective=objective,
            lower_bound=None,
            optimal=optimal,
            gap=0.0 if optimal else gap,
            method=method_name,
            runtime_s=time.perf_counter() - started,
            extra=extra,
        )

    if k == 0 or B.shape[0] == 0:
        return finish([], None, True, "trivial")
    greedy = _greedy_max_cover(B, wb, k)
    covered_g = B[:, greedy].any(axis=1)
    # Valid upper bound: all coverable weight, or the k best single columns.
    col_w = wb @ B
    simple_ub = fixed_weight + min(float(wb.sum()), float(np.sort(col_w)[::-1][:k].sum()))
    if method == "heuristic":
        got = fixed_weight + float(wb[covered_g].sum())
        return finish(greedy, simple_ub, got >= simple_ub - 1e-9 * max(1.0, simple_ub), "greedy")

    nb, mb = B.shape
    # Columns: y_0..y_{mb-1} (binary), u_0..u_{nb-1} (continuous in [0,1]).
    # Rows: u_i - sum_{j covers i} y_j <= 0 (nb rows); sum y = k.
    cols_t, rows_t = np.nonzero(B.T)
    a_start, a_index, a_value = csc_from_coo(
        np.concatenate([rows_t, np.full(mb, nb), np.arange(nb)]),
        np.concatenate([cols_t, np.arange(mb), mb + np.arange(nb)]),
        np.concatenate([-np.ones(len(rows_t)), np.ones(mb), np.ones(nb)]),
        mb + nb,
    )
    start_vec = np.concatenate([np.isin(np.arange(mb), greedy).astype(float), covered_g.astype(float)])
    left = None if limit is None else max(limit - (time.perf_counter() - started), 0.05)
    out = solve_mip(
        col_cost=np.concatenate([np.zeros(mb), wb]),
        col_lower=np.zeros(mb + nb),
        col_upper=np.ones(mb + nb),
        integrality=np.concatenate([np.ones(mb), np.zeros(nb)]).astype(np.int32),
        a_start=a_start,
        a_index=a_index,
        a_value=a_value,
        row_lower=np.concatenate([np.full(nb, -np.inf), [k]]),
        row_upper=np.concatenate([np.zeros(nb), [k]]),
        maximize=True,
        time_limit_s=left,
        mip_rel_gap=0.0,
        mip_abs_gap=(1.0 - 1e-6) if integral_w else max(1e-9 * float(wb.sum()), 1e-12),
        start=start_vec,
    )
    extra["mip_status"] = out.status
    extra["mip_size"] = {"columns": mb + nb, "rows": nb + 1, "nonzeros": int(len(a_value))}
    chosen = greedy
    if out.x is not None:
        y = out.x[:mb]
        cand = sorted(int(j) for j in np.argsort(-y)[:k])
        if wb[B[:, cand].any(axis=1)].sum() > wb[covered_g].sum():
            chosen = cand
    upper = simple_ub
    if out.dual_bound is not None:
        upper = min(upper, fixed_weight + out.dual_bound)
    optimal = out.status == "optimal"
    return finish(chosen, upper, optimal, "mip" if optimal else f"mip({out.status})")
