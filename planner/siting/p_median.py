"""The p-median model: open p columns to minimise the demand-weighted cost to the nearest.

Pipeline (see :mod:`planner.siting.heuristics`, :mod:`planner.siting.lagrangian`,
:mod:`planner.siting.bnb`):

1. fold the fixed (existing) columns into a per-row floor (a row never pays more than
   its nearest fixed column) and drop rows that no new column can improve;
2. upper bound: accelerated greedy, then fast interchange (Whitaker 1983, with the
   Resende-Werneck 2007 gain/loss/extra bookkeeping, vectorised);
3. lower bound at the root: Lagrangian relaxation of the assignment rows by subgradient
   optimisation, whose open sets are polished into solutions on the way;
4. reduction: reduced-cost tests close columns, force columns open and delete (row,
   column) pairs that cannot be part of a solution better than the incumbent;
5. exact: if the reduced root problem is small and its LP gap tiny (typically large p),
   a MIP of it in the radius formulation of Elloumi (2010) / Garcia, Labbe & Marin
   (2011) is solved by HiGHS (built column-wise with numpy, one ``passModel`` call);
   otherwise (typically small p, where the LP gap of pmed-like instances is ~1 %) a
   Lagrangian branch-and-bound finishes the proof.

Nothing is claimed optimal unless proven: integer data (all weight x cost integral) are
solved exactly; otherwise within the relative tolerance ``REL_TOL``. When a time limit
stops the search, the incumbent is returned with the best proven lower bound.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from planner.errors import InfeasibleError
from planner.siting import _validate as V
from planner.siting import heuristics as H
from planner.siting._highs import csc_from_coo, solve_mip
from planner.siting._result import SitingResult, relative_gap
from planner.siting.bnb import LagrangianBranchAndBound

log = logging.getLogger(__name__)

#: Relative tolerance under which two objective values count as equal for non-integer data
#: (integer data are solved exactly: a solution must be better by at least 1).
REL_TOL = 1e-6
#: Hand the reduced root problem to HiGHS when it has at most this many usable pairs and
#: the root gap (relative) is below MIP_MAX_ROOT_GAP: then the LP is nearly tight and a MIP
#: solver's cuts close it fast; otherwise the Lagrangian branch-and-bound goes on.
MIP_MAX_PAIRS = 60_000
MIP_MAX_ROOT_GAP = 1e-3
#: ... or when at least this many columns remain to open (deep trees for the branch-and-bound).
MIP_MIN_P = 30

_METHODS = ("auto", "heuristic")



def solve_p_median(
    cost: Any,
    p: int,
    *,
    weights: Any = None,
    time_limit_s: float | None = None,
    fixed: Any = None,
    method: str = "auto",
) -> SitingResult:
    """Choose ``p`` columns minimising the weighted cost of every row to its nearest one.

    Parameters
    ----------
    cost : array-like, shape (n_demand, n_candidates)
        Cost (road distance or drive time; any non-negative unit) from each demand row to
        each candidate column. ``np.inf`` marks an unreachable pair; such a pair is never
        used. NaN and negative values are rejected.
    p : int
        The TOTAL number of open columns, *including* the ``fixed`` ones. To add ``k`` new
        sites to existing stations pass ``p = len(fixed) + k``.
    weights : array-like, shape (n_demand,), optional
        Non-negative demand of each row (default 1). Rows of weight 0 do not count.
    time_limit_s : float, optional
        Wall-clock budget for the whole call. ``None`` (default) runs to proven
        optimality. When the budget runs out the best solution found is returned with
        its proven ``lower_bound`` and ``optimal=False``.
    fixed : sequence of int, optional
        Column indices forced open (existing stations). They are part of ``selected``.
    method : {"auto", "heuristic"}
        ``"auto"`` proves optimality with the reduced MIP when the bounds do not already;
        ``"heuristic"`` stops after the heuristics and the Lagrangian bound (still an
        honest ``lower_bound``; ``optimal`` is True only if the bounds meet).

    Returns
    -------
    SitingResult
        ``selected`` (sorted, fixed included), ``objective`` = sum over rows of
        weight x cost to the nearest selected column (recomputed from ``cost``),
        ``lower_bound`` (proven), ``optimal``, ``gap``. ``extra`` holds ``greedy_cost``
        and ``upper_bound_heuristic`` (before the exact phase), ``bnb`` (tree search
        counters), ``root`` (size and bound of the reduced root problem), ``mip_status``
        when HiGHS was used, ``timings_s``, ``p`` / ``n_fixed`` / ``n_new`` and
        ``tolerance`` (1 for integer data, where optimality is exact, else the relative
        ``REL_TOL``).

    Raises
    ------
    InputError
        Malformed ``cost`` / ``weights`` / ``fixed`` / ``time_limit_s`` / ``method``, or p < 1.
    InfeasibleError
        ``p`` greater than the number of columns or smaller than ``len(fixed)``; a demand
        row that reaches no column at all; or too few columns to reach every row.
    """
    started = time.perf_counter()
    C, w, fixed_idx, p, limit, method = V.p_model(cost, weights, fixed, p, time_limit_s, method, _METHODS)
    n_rows, n_cols = C.shape
    deadline = None if limit is None else started + limit

    finite = np.isfinite(C)
    dead_rows = np.nonzero(~finite.any(axis=1))[0]
    if len(dead_rows):
        raise InfeasibleError(
            f"{len(dead_rows)} demand row(s) cannot reach any candidate column (every cost is inf), "
            f"e.g. row(s) {dead_rows[:10].tolist()}; remove them or add a reachable candidate",
            fields={"cost": "every row needs a finite cost"},
        )

    solver = _PMedian(C, w, p, fixed_idx, finite, deadline, method)
    res = solver.run()
    selected = sorted(int(j) for j in res["selected"])
    if len(selected) != p or len(set(selected)) != p:
        raise RuntimeError(f"internal error: p-median selected {len(selected)} columns for p={p}")
    objective = objective_value(C, w, selected)
    # Every row pays at least its cheapest column: a valid bound even when the time limit
    # stopped the search before the Lagrangian produced one.
    keep = w > 0
    trivial = float(np.sum(w[keep] * C[keep].min(axis=1))) if keep.any() else 0.0
    lower = res["lower_bound"]
    lower = trivial if lower is None or not np.isfinite(lower) else max(float(lower), trivial)
    lower = min(lower, objective)
    optimal = bool(res["optimal"])
    if optimal:
        lower = objective if lower is None else lower
    gap = relative_gap(objective, lower)
    if optimal and gap is not None and res["integral"]:
        gap = 0.0
        lower = objective
    extra = dict(res["extra"])
    extra["p"] = p
    extra["n_fixed"] = len(fixed_idx)
    extra["n_new"] = p - len(fixed_idx)
    extra["tolerance"] = 1.0 if res["integral"] else REL_TOL
    log.info("p-median %dx%d, p=%d (%d fixed): objective %.6g, lower bound %s, %s in %.2f s (%s)",
             n_rows, n_cols, p, len(fixed_idx), objective, "none" if lower is None else f"{lower:.6g}",
             "optimal" if optimal else "not proven optimal", time.perf_counter() - started, res["method"])
    return SitingResult(
        selected=selected,
        objective=objective,
        lower_bound=lower,
        optimal=optimal,
        gap=gap,
        method=res["method"],
        runtime_s=time.perf_counter() - started,
        extra=extra,
    )


def objective_value(cost: Any, weights: Any, selected: Any) -> float:
    """Sum over rows of weight x cost to the nearest selected column (rows of weight 0 skipped)."""
    C = np.asarray(cost, dtype=np.float64)
    w = np.ones(C.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    sel = np.asarray(list(selected), dtype=np.int64)
    nearest = C[:, sel].min(axis=1)
    keep = w > 0
    return float(np.sum(w[keep] * nearest[keep]))


class _PMedian:
    """One solve; holds the reduced problem and the running bounds."""

    def __init__(self, C, w, p, fixed_idx, finite, deadline, method):
        self.C = C
        self.w = w
        self.p = p
        self.fixed_idx = fixed_idx
        self.finite = finite
        self.deadline = deadline
        self.method = method
        self.extra: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    # -- helpers -----------------------------------------------------------------------
    def _time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.perf_counter()

    def _out_of_time(self) -> bool:
        left = self._time_left()
        return left is not None and left <= 0

    def _result(self, free_open, *, lower, optimal, method):
        sel = np.concatenate([self.fixed_idx, self.free_cols[np.asarray(free_open, dtype=np.int64)]])
        self.extra["timings_s"] = {k: round(v, 4) for k, v in self.timings.items()}
        return {
            "selected": sel,
            "lower_bound": None if lower is None else lower + self.constant,
            "optimal": optimal,
            "method": method,
            "integral": self.integral,
            "extra": self.extra,
        }

    # -- pipeline ----------------------------------------------------------------------
    def run(self):
        t = time.perf_counter()
        C, w, p, fixed_idx = self.C, self.w, self.p, self.fixed_idx
        n_cols = C.shape[1]
        rows = np.nonzero(w > 0)[0]
        free_mask = np.ones(n_cols, dtype=bool)
        free_mask[fixed_idx] = False
        self.free_cols = np.nonzero(free_mask)[0]
        p_free = p - len(fixed_idx)
        self.constant = 0.0
        self.integral = True

        wc_all = C[rows] * w[rows, None]  # inf stays inf
        finite_vals = wc_all[np.isfinite(wc_all)]
        max_finite = float(finite_vals.max()) if finite_vals.size else 0.0
        self.integral = bool(
            np.all(finite_vals == np.round(finite_vals)) and max_finite * max(len(rows), 1) < 2.0**50
        )
        # Unreachable pairs get a cost above any all-reachable solution.
        big = (max_finite + 1.0) * (len(rows) + 1) * 4.0
        self.big = big
        if len(rows) and not np.isfinite(wc_all).all():
            self._check_reach(rows, p_free)
        wc_all = np.where(np.isfinite(wc_all), wc_all, big)

        if len(fixed_idx):
            floor = np.minimum(wc_all[:, fixed_idx].min(axis=1), big)
        else:
            floor = np.full(len(rows), big)
        wc = wc_all[:, self.free_cols]

        # Rows that no free column can improve are constant.
        if wc.shape[1]:
            improvable = wc.min(axis=1) < floor
        else:
            improvable = np.zeros(len(rows), dtype=bool)
        self.constant = float(floor[~improvable].sum())
        wc = np.minimum(wc[improvable], floor[improvable, None])
        floor = floor[improvable]
        self.extra["reduced_rows"] = int(wc.shape[0])
        self.timings["prepare"] = time.perf_counter() - t

        m_free = wc.shape[1]
        if p_free == 0 or wc.shape[0] == 0:
            # Nothing to decide, or every choice costs the same: pick the first free columns.
            return self._result(np.arange(p_free), lower=float(floor.sum()) if p_free == 0 else 0.0, optimal=True, method="trivial")
        if p_free >= m_free:
            return self._result(np.arange(m_free), lower=H.solution_cost(wc, floor, np.arange(m_free)), optimal=True, method="trivial")
        if p_free == 1:
            totals = wc.sum(axis=0)
            j = int(np.argmin(totals))
            return self._result([j], lower=float(totals[j]), optimal=True, method="enumeration")

        return self._solve(wc, floor, p_free)

    def _check_reach(self, rows, p_free):
        """Raise InfeasibleError when p columns cannot reach every weighted row."""
        from planner.siting.covering import _min_cover_size

        reach = self.finite[rows]
        covered = reach[:, self.fixed_idx].any(axis=1) if len(self.fixed_idx) else np.zeros(len(rows), bool)
        need = reach[~covered][:, self.free_cols]
        if need.shape[0] == 0:
            return
        k, proven = _min_cover_size(need, p_free)
        if k > p_free:
            total = k + len(self.fixed_idx)
            raise InfeasibleError(
                f"p={self.p} columns cannot reach every demand row: some rows can reach only some candidates "
                f"(inf costs), and at least {total} columns{' (including the fixed ones)' if len(self.fixed_idx) else ''} "
                f"are needed to reach them all{'' if proven else ' (bound from the LP)'}; pass p >= {total}",
                fields={"p": f">= {total}"},
            )

    def _tolerance(self, upper: float) -> float:
        """Amount a solution must beat ``upper`` by to count as better."""
        if self.integral:
            return 1.0 - 1e-6
        return max(REL_TOL * abs(upper), 1e-12)

    def _solve(self, wc, floor, p):
        t = time.perf_counter()
        wct = np.ascontiguousarray(wc.T)
        start = H.greedy(wc, floor, p, wct=wct)
        greedy_cost = H.solution_cost(wc, floor, start)
        best_open, best_cost, swaps = H.fast_interchange(wc, floor, start, deadline=self.deadline)
        self.timings["heuristic"] = time.perf_counter() - t
        self.extra["greedy_cost"] = greedy_cost + self.constant
        self.extra["upper_bound_heuristic"] = best_cost + self.constant
        log.debug("p-median heuristics: greedy %.6g, interchange %.6g (%d swaps)", greedy_cost + self.constant,
                  best_cost + self.constant, swaps)
        self.extra["swaps"] = swaps

        bb = LagrangianBranchAndBound(
            wc,
            floor,
            p,
            best_open=best_open,
            best_cost=best_cost,
            big=self.big,
            tolerance=self._tolerance,
            deadline=self.deadline,
        )
        self._wc, self._floor = wc, floor
        if self.method != "heuristic":
            bb.root_hook = self._root_hook
        t = time.perf_counter()
        lam0 = np.minimum(wc[:, best_open].min(axis=1), floor)
        bb.run(lam0, max_nodes=1 if self.method == "heuristic" else None)
        self.timings["branch_and_bound"] = time.perf_counter() - t
        st = bb.stats
        self.extra["bnb"] = {
            "nodes": st.nodes,
            "pruned": st.pruned,
            "leaves": st.leaves,
            "subgradient_iterations": st.iterations,
            "max_depth": st.max_depth,
            "improvements": len(st.improvements),
        }
        lower = bb.lower_bound
        engine = "lagrangian+mip" if getattr(self, "_used_mip", False) else "lagrangian-bnb"
        if bb.finished:
            best = bb.best_cost
            proven = best if self.integral else best - self._tolerance(best)
            return self._result(bb.best_open, lower=proven, optimal=True, method=engine)
        tol = self._tolerance(bb.best_cost)
        closed = lower >= bb.best_cost - tol
        name = "heuristic+lagrangian" if self.method == "heuristic" else f"{engine}(time limit)"
        return self._result(bb.best_open, lower=lower, optimal=closed, method=name)

    def _root_hook(self, state):
        """Solve the reduced root problem with HiGHS when it is small and nearly tight."""
        usable = state.ct < state.floor[None, :]
        n_pairs = int(usable.sum())
        gap = (state.target - state.bound) / max(abs(state.target), 1e-12)
        self.extra["root"] = {"bound": state.bound + self.constant, "usable_pairs": n_pairs, "columns": int(len(state.cols)), "rows": int(len(state.rows)), "p": int(state.p)}
        if n_pairs > MIP_MAX_PAIRS or (gap > MIP_MAX_ROOT_GAP and state.p < MIP_MIN_P):
            return None
        self._used_mip = True
        rows, cols = state.rows, state.cols
        wc = self._wc[np.ix_(rows, cols)]
        floor = self._floor[rows]
        if state.opened:
            floor = np.minimum(floor, self._wc[np.ix_(rows, np.asarray(state.opened))].min(axis=1))
        slack_alive = state.floor < np.float32(self.big)
        pair_alive = usable.T & (wc < floor[:, None])
        m = len(cols)
        t = time.perf_counter()
        out = self._mip_radius(
            wc, floor, state.p, np.ones(m, dtype=bool), np.zeros(m, dtype=bool), pair_alive, slack_alive, None, state.target - state.off
        )
        self.timings["mip"] = time.perf_counter() - t
        self.extra["mip_status"] = out["status"]
        self.extra["mip_nodes"] = out["nodes"]
        found = None
        if out["open"] is not None:
            found = np.concatenate([np.asarray(state.opened, dtype=np.int64), cols[out["open"]]])
        if out["status"] in ("optimal", "infeasible", "objective_bound"):
            return "done", found, None
        bound = state.bound
        if out["bound"] is not None:
            bound = max(bound, out["bound"] + state.off)
        return "stopped", found, bound

    def _mip_radius(self, wc, floor, p, col_alive, force_open, pair_alive, slack_alive, incumbent, target):
        """Radius (covering) formulation of Elloumi (2010) / Garcia, Labbe & Marin (2011)
        on the surviving pairs: per row, one variable per distinct cost level beyond the
        first; ``z_ik + sum_{j: c_ij <= D_ik} y_j >= 1``."""
        n, m = wc.shape
        cols = np.nonzero(col_alive)[0]
        pos = np.full(m, -1, dtype=np.int64)
        pos[cols] = np.arange(len(cols))
        n_y = len(cols)
        pi, pj = np.nonzero(pair_alive)
        pv = wc[pi, pj]
        # Sort pairs by (row, cost).
        order = np.lexsort((pv, pi))
        pi, pj, pv = pi[order], pj[order], pv[order]
        # Append the slack level (floor) to rows where it is alive, as a pseudo pair (col -1).
        si = np.nonzero(slack_alive)[0]
        all_i = np.concatenate([pi, si])
        all_j = np.concatenate([pos[pj], np.full(len(si), -1)])
        all_v = np.concatenate([pv, floor[si]])
        order = np.lexsort((all_v, all_i))
        all_i, all_j, all_v = all_i[order], all_j[order], all_v[order]
        # Level id per entry: new level when row changes or value increases.
        new_level = np.ones(len(all_i), dtype=bool)
        new_level[1:] = (all_i[1:] != all_i[:-1]) | (all_v[1:] > all_v[:-1])
        level_id = np.cumsum(new_level) - 1
        lv_row = all_i[new_level]
        lv_val = all_v[new_level]
        n_lv = len(lv_row)
        # Levels: the last of each row has no z (served at worst there).
        last_of_row = np.ones(n_lv, dtype=bool)
        last_of_row[:-1] = lv_row[1:] != lv_row[:-1]
        first_of_row = np.ones(n_lv, dtype=bool)
        first_of_row[1:] = lv_row[1:] != lv_row[:-1]
        constant = float(lv_val[first_of_row].sum())
        # Constraint rows: every level that is not last, plus the last level of rows without slack.
        row_has_slack = np.zeros(n, dtype=bool)
        row_has_slack[si] = True
        need_row = ~last_of_row | ~row_has_slack[lv_row]
        con_of_level = np.full(n_lv, -1, dtype=np.int64)
        con_of_level[need_row] = np.arange(int(need_row.sum()))
        n_con = int(need_row.sum())
        # z variables for non-last levels: cost = next level value - this level value.
        z_levels = np.nonzero(~last_of_row)[0]
        n_z = len(z_levels)
        z_cost = lv_val[z_levels + 1] - lv_val[z_levels]
        # y_j enters constraint of every level >= its own level (same row), i.e. levels
        # level_id[e] .. last level of the row. Expand.
        real = all_j >= 0
        e_level = level_id[real]
        e_col = all_j[real]
        row_last_level = np.zeros(n, dtype=np.int64)
        row_last_level[lv_row] = np.arange(n_lv)  # last assignment wins -> last level index
        e_end = row_last_level[all_i[real]]
        counts = e_end - e_level + 1
        rep_col = np.repeat(e_col, counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        rep_level = np.repeat(e_level, counts) + offs
        keep = con_of_level[rep_level] >= 0
        rep_col, rep_level = rep_col[keep], rep_level[keep]
        card = n_con
        r = np.concatenate([con_of_level[rep_level], con_of_level[z_levels], np.full(n_y, card)])
        c = np.concatenate([rep_col, n_y + np.arange(n_z), np.arange(n_y)])
        v = np.ones(len(r))
        num_col = n_y + n_z
        a_start, a_index, a_value = csc_from_coo(r, c, v, num_col)
        col_cost = np.concatenate([np.zeros(n_y), z_cost])
        col_lower = np.zeros(num_col)
        col_lower[np.nonzero(force_open[cols])[0]] = 1.0
        col_upper = np.concatenate([np.ones(n_y), np.full(n_z, np.inf)])
        integrality = np.zeros(num_col, dtype=np.int32)
        integrality[:n_y] = 1
        row_lower = np.concatenate([np.ones(n_con), [p]])
        row_upper = np.concatenate([np.full(n_con, np.inf), [p]])
        left = self._time_left()
        out = solve_mip(
            col_cost=col_cost,
            col_lower=col_lower,
            col_upper=col_upper,
            integrality=integrality,
            a_start=a_start,
            a_index=a_index,
            a_value=a_value,
            row_lower=row_lower,
            row_upper=row_upper,
            offset=constant,
            time_limit_s=None if left is None else max(left, 0.05),
            mip_rel_gap=0.0,
            mip_abs_gap=(1.0 - 1e-6) if self.integral else max(REL_TOL * abs(target), 1e-12),
            objective_bound=target + (1e-6 if self.integral else 0.0),
        )
        self.extra["mip_size"] = {"columns": num_col, "rows": n_con + 1, "nonzeros": int(len(a_value))}
        opened = None
        if out.x is not None:
            y = out.x[:n_y]
            opened = np.sort(cols[np.argsort(-y)[:p]])
        return {"status": out.status, "open": opened, "bound": out.dual_bound, "nodes": out.nodes}
