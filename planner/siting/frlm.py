"""Flow-refuelling location model (FRLM): charging sites for round trips of limited range.

A flow is a daily volume of trucks driving the round trip origin → destination → origin on
the shortest path (the return on the shortest path back; on an undirected graph that is the
same road in reverse). A set of open charging sites *covers* a flow when a truck of range
``range_km`` can drive the whole round trip (Kuby & Lim 2005):

* it charges to full at every open site it passes;
* it starts at the origin with a full battery when the origin is an open site, otherwise
  with half a charge (``range_km / 2``) — Kuby & Lim's assumption that a truck left home
  after topping up on the way back of its previous trip;
* the battery must never run below zero.

Exact model: the arc-cover formulation of Capar, Kuby, Leon & Tsai (2013). For each
directed arc of the round trip, the sites from which a truck can still reach the arc's end
on one charge form a set K; the flow is covered iff every arc's set holds an open site (or
the arc's end lies within the half charge of the start). Only the minimal sets are kept
(along a path they are windows whose ends move forward together, so a window containing
another is dropped in one pass). The MIP is

    max  Σ_q v_q y_q
    s.t. y_q ≤ Σ_{k ∈ K} x_k     for every flow q and minimal set K of q
         Σ_k x_k ≤ p − |existing|,  x binary,  0 ≤ y_q ≤ 1,

with existing sites fixed open (their sets are satisfied and vanish) and flows with the
same family of sets merged. ``y`` may stay continuous: for binary ``x`` each
``min_K Σ x`` is an integer. Flows needing more than ``p`` new sites are dropped and
dominated sites closed first. The default solver (``method="auto"``) is a depth-first
branch and bound over the sites (:mod:`planner.siting.frlm_bnb`, numba) whose bound is a
feasible solution of the dual of this model's LP relaxation at each node, with the flows
that can no longer be covered dropped; it starts from the greedy-plus-swaps solution.
``method="mip"`` hands the same model to HiGHS instead.

Nothing is claimed optimal unless the search was completed (or HiGHS proved it); with a
time limit the incumbent comes back with a proven upper bound and ``optimal=False``. The
greedy variant returns the greedy sites with the LP-relaxation bound. Covered volumes are
always recomputed from the chosen sites, never taken from a solver.

References: M. Kuby and S. Lim (2005), "The flow-refueling location problem for
alternative-fuel vehicles", Socio-Economic Planning Sciences 39(2):125–145; I. Capar,
M. Kuby, V. J. Leon and Y.-J. Tsai (2013), "An arc cover–path-cover formulation and
strategic analysis of alternative-fuel station locations", European Journal of Operational
Research 227(1):142–151.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from planner.errors import InfeasibleError, InputError
from planner.siting import _validate as V
from planner.siting import frlm_bnb
from planner.siting._highs import csc_from_coo, solve_mip
from planner.siting._result import SitingResult, relative_gap

__all__ = [
    "FrlmInstance", "FrlmResult", "charging_stops", "max_gap_check", "shortest_paths", "solve_frlm", "solve_frlm_cover",
]

_METHODS = ("auto", "mip", "greedy")
#: Distances within this many km count as equal (float noise on summed edge lengths).
_EPS_KM = 1e-9


@dataclass(frozen=True)
class FrlmResult(SitingResult):
    """Outcome of :func:`solve_frlm` / :func:`solve_frlm_cover`.

    ``selected`` holds graph node ids (sorted; existing sites included). For the
    flow-capturing model ``objective`` is the covered volume (a maximisation, so
    ``lower_bound`` is None and the proven bound is ``upper_bound``); for the set-cover
    variant ``objective`` is the number of new sites and ``lower_bound`` its proven minimum.

    Attributes (beyond :class:`SitingResult`)
    -----------------------------------------
    covered_volume : float
        Volume of the flows whose round trip is feasible with ``selected``.
    total_volume : float
        Volume of all flows.
    upper_bound : float or None
        Proven upper bound on the covered volume any ``p`` sites can reach (= covered
        volume when optimal). None for the set-cover variant.
    covered : tuple of bool
        Per flow (input row order): is its round trip feasible?
    infeasible_flows : list of dict
        Flows no choice of candidates can make feasible, with the reason: ``arc_longer_than_range``
        (a road segment longer than R; ``longest_arc_km`` says how long), ``no_candidate_in_reach``
        or ``no_route``.
    """

    covered_volume: float = 0.0
    total_volume: float = 0.0
    upper_bound: float | None = None
    covered: tuple[bool, ...] = ()
    infeasible_flows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def covered_share(self) -> float:
        """Covered volume / total volume (1.0 when there is no volume)."""
        return self.covered_volume / self.total_volume if self.total_volume > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            covered_volume=self.covered_volume,
            total_volume=self.total_volume,
            covered_share=self.covered_share,
            upper_bound=self.upper_bound,
            covered=list(self.covered),
            infeasible_flows=list(self.infeasible_flows),
        )
        return out


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------
def _range(range_km: Any) -> float:
    if isinstance(range_km, bool) or not isinstance(range_km, numbers.Real):
        raise InputError(f"range_km must be a number of km > 0; got {range_km!r}", fields={"range_km": "number > 0"})
    r = float(range_km)
    if not (math.isfinite(r) and r > 0):
        raise InputError(
            f"range_km must be finite and > 0 (the distance a truck drives on a full charge); got {r!r}",
            fields={"range_km": "finite > 0"},
        )
    return r


def _graph_arrays(graph: Any) -> tuple[list, dict, sparse.csr_array, bool]:
    """Node list, node → index, CSR of ``length_km`` (min over parallel edges), directed?"""
    if not hasattr(graph, "nodes") or not hasattr(graph, "edges"):
        raise InputError(
            f"graph must be a networkx graph with edge attribute 'length_km'; got {type(graph).__name__}",
            fields={"graph": "networkx graph"},
        )
    nodes = list(graph.nodes)
    if not nodes:
        raise InputError("graph has no nodes", fields={"graph": "at least one node"})
    index = {n: i for i, n in enumerate(nodes)}
    directed = bool(graph.is_directed())
    us, vs, ls = [], [], []
    for u, v, data in graph.edges(data=True):
        if "length_km" not in data:
            raise InputError(
                f"edge ({u!r}, {v!r}) has no 'length_km' attribute; every edge needs its length in km",
                fields={"graph": "edge attribute length_km"},
            )
        try:
            length = float(data["length_km"])
        except (TypeError, ValueError):
            raise InputError(f"edge ({u!r}, {v!r}) has length_km={data['length_km']!r}; it must be a number",
                             fields={"graph": "numeric length_km"}) from None
        if not (math.isfinite(length) and length > 0):
            raise InputError(f"edge ({u!r}, {v!r}) has length_km={length!r}; edge lengths must be finite and > 0",
                             fields={"graph": "length_km > 0"})
        if u == v:
            continue
        us.append(index[u])
        vs.append(index[v])
        ls.append(length)
    n = len(nodes)
    u = np.asarray(us, dtype=np.int64)
    v = np.asarray(vs, dtype=np.int64)
    length = np.asarray(ls, dtype=np.float64)
    if not directed:
        u, v, length = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([length, length])
    # minimum over parallel edges (a plain COO → CSR would add them up)
    key = u * n + v
    order = np.lexsort((length, key))
    key_s = key[order]
    first = np.ones(key_s.size, dtype=bool)
    first[1:] = key_s[1:] != key_s[:-1]
    keep = order[first]
    csr = sparse.csr_array((length[keep], (u[keep], v[keep])), shape=(n, n))
    return nodes, index, csr, directed


def _node_indices(values: Any, index: dict, name: str) -> np.ndarray:
    vals = list(values)
    missing = [v for v in vals if v not in index]
    if missing:
        raise InputError(
            f"{name} names {len(missing)} node(s) that are not in the graph, e.g. {missing[:5]!r}; "
            "use the graph's own node ids",
            fields={name: "graph node ids"},
        )
    return np.array([index[v] for v in vals], dtype=np.int64)


def _flows_frame(flows: Any, index: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(flows, pd.DataFrame):
        raise InputError(
            f"flows must be a pandas DataFrame with columns origin, destination, volume; got {type(flows).__name__}",
            fields={"flows": "DataFrame(origin, destination, volume)"},
        )
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise InputError(
            f"flows lacks column(s) {missing}; it has {list(flows.columns)}",
            fields={"flows": "columns origin, destination, volume"},
        )
    if len(flows) == 0:
        raise InputError("flows is empty; pass at least one origin-destination flow", fields={"flows": "non-empty"})
    o = _node_indices(flows["origin"], index, "flows.origin")
    d = _node_indices(flows["destination"], index, "flows.destination")
    vol = pd.to_numeric(flows["volume"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(vol) | (vol < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"flows.volume must be finite and >= 0; row {i} has {flows['volume'].iloc[i]!r}",
            fields={"flows.volume": "finite >= 0"},
        )
    same = o == d
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise InputError(
            f"flow row {i} starts and ends at node {flows['origin'].iloc[i]!r}; a flow needs two different nodes",
            fields={"flows": "origin != destination"},
        )
    return o, d, vol


# ---------------------------------------------------------------------------------------
# the instance: round trips and their minimal arc-cover sets
# ---------------------------------------------------------------------------------------
def _paths(csr: sparse.csr_array, sources: np.ndarray, targets: np.ndarray) -> tuple[dict, dict]:
    """Predecessor rows and distances from each unique source (scipy Dijkstra)."""
    uniq = np.unique(sources)
    dist, pred = csgraph.dijkstra(csr, directed=True, indices=uniq, return_predecessors=True)
    return {int(s): pred[i] for i, s in enumerate(uniq)}, {int(s): dist[i] for i, s in enumerate(uniq)}


def _walk(pred_row: np.ndarray, source: int, target: int) -> list[int] | None:
    if source == target:
        return [source]
    if pred_row[target] < 0:
        return None
    path = [target]
    while path[-1] != source:
        path.append(int(pred_row[path[-1]]))
    return path[::-1]


class FrlmInstance:
    """Round trips of the flows and their minimal arc-cover sets, built once.

    Use it to solve several ``p`` on the same data (:meth:`solve`, :meth:`cover`); the
    module functions :func:`solve_frlm` and :func:`solve_frlm_cover` build one per call.

    Parameters are those of :func:`solve_frlm`.
    """

    def __init__(self, graph: Any, flows: Any, *, range_km: float, candidates: Any = None, existing: Any = ()):
        started = time.perf_counter()
        self.range_km = R = _range(range_km)
        self.nodes, index, csr, directed = _graph_arrays(graph)
        n = len(self.nodes)
        o, d, vol = _flows_frame(flows, index)
        self.volume = vol
        self.n_flows = len(vol)
        existing_list = [] if existing is None else list(existing)
        ex = _node_indices(existing_list, index, "existing")
        if len(set(ex.tolist())) != len(ex):
            raise InputError("existing lists a node more than once; list each site once", fields={"existing": "unique"})
        if candidates is None:
            cand = np.arange(n, dtype=np.int64)
        else:
            cand = np.unique(_node_indices(list(candidates), index, "candidates"))
        self.existing = np.sort(ex)
        is_exist = np.zeros(n, dtype=bool)
        is_exist[ex] = True
        free = cand[~is_exist[cand]]
        self.free = free  # graph indices of candidates that are not existing
        self.n_sites = int(len(free) + len(ex))  # every site that could be open
        free_pos = np.full(n, -1, dtype=np.int64)
        free_pos[free] = np.arange(len(free))
        is_site = is_exist.copy()
        is_site[free] = True

        half = R / 2.0
        eps = _EPS_KM * max(R, 1.0)
        # Per flow: 0 = has rows, 1 = always covered, 2 = never coverable.
        self.status = np.zeros(self.n_flows, dtype=np.int8)
        self.flow_rows: list[tuple[tuple[int, ...], ...]] = [()] * self.n_flows
        self.round_trip_km = np.zeros(self.n_flows)
        self.infeasible: list[dict[str, Any]] = []
        for q, (seq, c, _n) in enumerate(_trips(csr, directed, o, d)):
            if seq is None:
                self.status[q] = 2
                self.round_trip_km[q] = math.inf
                self.infeasible.append(self._infeasible(q, o, d, "no_route", None))
                continue
            arc = np.diff(c)
            self.round_trip_km[q] = c[-1]
            t = np.arange(1, len(seq))
            need = c[t] > half + eps  # arcs the start's half charge cannot reach
            if not need.any():
                self.status[q] = 1
                continue
            t = t[need]
            cpos = np.flatnonzero(is_site[seq])
            hi = np.searchsorted(cpos, t - 1, side="right")  # sites at positions <= t-1
            lo = np.searchsorted(c[cpos], c[t] - R - eps, side="left")  # within R of the arc's end
            if (lo >= hi).any():
                self.status[q] = 2
                longest = float(arc.max())
                reason = "arc_longer_than_range" if longest > R + eps else "no_candidate_in_reach"
                self.infeasible.append(self._infeasible(q, o, d, reason, longest))
                continue
            rows = _minimal_rows(lo, hi, seq[cpos], is_exist, free_pos)
            if not rows:
                self.status[q] = 1
            else:
                self.flow_rows[q] = rows
        self._group()
        self.build_s = time.perf_counter() - started

    def _infeasible(self, q, o, d, reason, longest):
        return {
            "flow": int(q),
            "origin": self.nodes[int(o[q])],
            "destination": self.nodes[int(d[q])],
            "volume": float(self.volume[q]),
            "reason": reason,
            "longest_arc_km": longest,
        }

    def _group(self) -> None:
        """Merge flows with the same family of rows; build the row × site CSR matrix."""
        groups: dict[tuple, int] = {}
        self.flow_group = np.full(self.n_flows, -1, dtype=np.int64)
        gvol: list[float] = []
        row_sets: list[tuple[int, ...]] = []
        row_group: list[int] = []
        for q in np.flatnonzero(self.status == 0):
            key = tuple(sorted(self.flow_rows[q]))
            g = groups.get(key)
            if g is None:
                g = groups[key] = len(gvol)
                gvol.append(0.0)
                row_sets.extend(key)
                row_group.extend([g] * len(key))
            gvol[g] += float(self.volume[q])
            self.flow_group[q] = g
        self.group_volume = np.asarray(gvol, dtype=np.float64)
        self.row_group = np.asarray(row_group, dtype=np.int64)
        lengths = np.fromiter((len(r) for r in row_sets), dtype=np.int64, count=len(row_sets))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.fromiter((j for r in row_sets for j in r), dtype=np.int64, count=int(indptr[-1]))
        self.rows = sparse.csr_array(
            (np.ones(indices.size), indices, indptr), shape=(len(row_sets), len(self.free))
        )
        self.const_volume = float(self.volume[self.status == 1].sum())
        self.total_volume = float(self.volume.sum())
        # Fewest new sites each group needs, from below: rows with no site in common each
        # need their own (greedy packing in order of the smallest row first).
        need = np.zeros(len(gvol), dtype=np.int64)
        starts = np.searchsorted(self.row_group, np.arange(len(gvol)))
        ends = np.searchsorted(self.row_group, np.arange(len(gvol)), side="right")
        for g in range(len(gvol)):
            used: set[int] = set()
            count = 0
            for r in sorted(row_sets[starts[g]:ends[g]], key=len):
                if used.isdisjoint(r):
                    used.update(r)
                    count += 1
            need[g] = count
        self.group_need = need

    # ----------------------------------------------------------------- evaluation
    def covered_groups(self, open_free: np.ndarray) -> np.ndarray:
        """Boolean per group: every row has an open site (``open_free``: mask over free sites)."""
        if self.rows.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        sat = (self.rows @ open_free.astype(np.float64)) > 0.5
        unsat = np.bincount(self.row_group[~sat], minlength=len(self.group_volume))
        return unsat == 0

    def covered_flows(self, open_free: np.ndarray) -> np.ndarray:
        cg = self.covered_groups(open_free)
        cov = self.status == 1
        var = self.status == 0
        cov[var] = cg[self.flow_group[var]]
        return cov

    # ----------------------------------------------------------------- heuristics and bounds
    def _gains(self, open_free: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per site: the volume it would newly cover if opened next, and the volume-weighted
        share of the unsatisfied rows it satisfies (-1 for open or disallowed sites)."""
        m = len(self.free)
        sat = (self.rows @ open_free.astype(np.float64)) > 0.5
        live = (~sat).astype(np.float64)
        unsat = self._member @ live
        todo = (unsat > 0) & (self.group_volume > 0)
        hits = sparse.csr_array(self._member @ sparse.diags_array(live) @ self.rows).tocoo()
        g, j, h = hits.row, hits.col, hits.data
        ok = todo[g]
        g, j, h = g[ok], j[ok], h[ok]
        full = h >= unsat[g] - 0.5
        gain = np.bincount(j[full], weights=self.group_volume[g[full]], minlength=m)
        part = np.bincount(j, weights=self.group_volume[g] * h / unsat[g], minlength=m)
        closed = open_free if allowed is None else (open_free | ~allowed)
        gain[closed] = -1.0
        part[closed] = -1.0
        return gain, part

    def value(self, open_free: np.ndarray) -> float:
        """Covered volume of the flows with rows (constants excluded) for an open set."""
        return float(self.group_volume[self.covered_groups(open_free)].sum())

    def greedy(self, k: int, start: np.ndarray | None = None, allowed: np.ndarray | None = None,
               *, swaps: int = 3) -> np.ndarray:
        """Greedy: add the site that newly covers the most volume (stalls: the one that
        satisfies the largest volume-weighted share of the remaining rows); then up to
        ``swaps`` passes of best-improvement swaps (close one site, open the best other)."""
        m = len(self.free)
        open_free = np.zeros(m, dtype=bool) if start is None else start.copy()
        if len(self.group_volume) == 0 or m == 0:
            return open_free
        self._member = sparse.csr_array(
            (np.ones(len(self.row_group)), (self.row_group, np.arange(len(self.row_group)))),
            shape=(len(self.group_volume), len(self.row_group)),
        )
        for _ in range(k - int(open_free.sum())):
            gain, part = self._gains(open_free, allowed)
            score = gain if gain.max() > 0 else part
            j_best = int(np.argmax(score))
            if score[j_best] <= 0:
                break
            open_free[j_best] = True
        current = self.value(open_free)
        for _ in range(swaps):
            improved = False
            for s in np.flatnonzero(open_free).tolist():
                trial = open_free.copy()
                trial[s] = False
                gain, _ = self._gains(trial, allowed)
                gain[s] = -1.0
                j = int(np.argmax(gain))
                if gain[j] <= 0:
                    continue
                trial[j] = True
                v = self.value(trial)
                if v > current + _abs_tol(self.group_volume):
                    open_free, current, improved = trial, v, True
            if not improved:
                break
        return open_free

    def reduce(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Which sites and flow groups the model for ``k`` new sites needs.

        A group that needs more than ``k`` sites (``group_need``) can never be covered; a
        site on no remaining row adds nothing; a site whose rows all hold another site is
        dominated (swap it for the other) and stays closed. Returns boolean masks over the
        free sites and the groups.
        """
        m = len(self.free)
        groups = (self.group_need <= k) & (self.group_volume > 0)
        live_rows = groups[self.row_group]
        A = sparse.csc_array(self.rows[live_rows])
        counts = np.asarray(A.sum(axis=0)).ravel()
        cols = counts > 0
        idx = np.flatnonzero(cols)
        if idx.size > 1:
            sub = sparse.csc_array(A[:, idx])
            overlap = (sub.T @ sub).toarray()
            size = counts[idx]
            # j is dominated by i when all of j's rows hold i and i is larger (or equal, earlier)
            contains = overlap >= size[None, :] - 0.5  # [i, j]: rows(j) within rows(i)
            larger = (size[:, None] > size[None, :]) | (
                (size[:, None] == size[None, :]) & (idx[:, None] < idx[None, :]))
            dominated = (contains & larger).any(axis=0)
            cols[idx[dominated]] = False
        return cols, groups

    def _sets(self, cols: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kept groups' rows over the kept sites as distinct sets: ``sets`` (sets ×
        kept sites, bool) and ``pairs`` (rows ``(kept group, set)``, unique)."""
        grp_idx = np.flatnonzero(groups)
        live_rows = groups[self.row_group]
        dense = sparse.csr_array(self.rows[live_rows][:, np.flatnonzero(cols)]).toarray() > 0.5
        packed = np.packbits(dense, axis=1)
        _, first, set_of_row = np.unique(packed, axis=0, return_index=True, return_inverse=True)
        g_new = np.full(len(self.group_volume), -1, dtype=np.int64)
        g_new[grp_idx] = np.arange(grp_idx.size)
        pairs = np.unique(np.column_stack([g_new[self.row_group[live_rows]], set_of_row.ravel()]), axis=0)
        return dense[first], pairs

    def _model(self, k: int, cols: np.ndarray, groups: np.ndarray):
        """CSC arrays of the arc-cover MIP over the kept sites and groups.

        Columns: x (sites, binary), z (one per distinct set of sites, continuous: "an open
        site in this set"), y (groups, continuous). Rows: ``z_S − Σ_{j∈S} x_j ≤ 0``,
        ``y_g − z_S ≤ 0`` for every set S of group g, and ``Σ x ≤ k``. Many flows share
        the same sets (the same stretch of road), so this has far fewer nonzeros than one
        ``y ≤ Σ x`` row per flow and set, with the same LP bound.
        """
        m, G = int(cols.sum()), int(groups.sum())
        sets, pairs = self._sets(cols, groups)
        S = sets.shape[0]
        set_rows, set_cols = np.nonzero(sets)
        n_pairs = pairs.shape[0]
        # row blocks: [0, S) set rows, [S, S + n_pairs) pair rows, S + n_pairs the budget
        rows = np.concatenate([set_rows, np.arange(S), S + np.arange(n_pairs), S + np.arange(n_pairs),
                               np.full(m, S + n_pairs)])
        cols_ = np.concatenate([set_cols, m + np.arange(S), m + S + pairs[:, 0], m + pairs[:, 1], np.arange(m)])
        vals = np.concatenate([-np.ones(set_rows.size), np.ones(S), np.ones(n_pairs), -np.ones(n_pairs), np.ones(m)])
        n_col = m + S + G
        a_start, a_index, a_value = csc_from_coo(rows.astype(np.int64), cols_.astype(np.int64), vals, n_col)
        n_row = S + n_pairs + 1
        return dict(
            col_cost=np.concatenate([np.zeros(m + S), self.group_volume[groups]]),
            col_lower=np.zeros(n_col),
            col_upper=np.ones(n_col),
            a_start=a_start,
            a_index=a_index,
            a_value=a_value,
            row_lower=np.full(n_row, -np.inf),
            row_upper=np.concatenate([np.zeros(n_row - 1), [float(k)]]),
            maximize=True,
        ), sets, pairs

    def lp_bound(self, k: int, time_limit_s: float | None = None) -> float | None:
        """Covered volume of the LP relaxation (a proven upper bound), constants included."""
        cols, groups = self.reduce(k)
        if not groups.any():
            return self.const_volume
        model, _sets, _pairs = self._model(k, cols, groups)
        out = solve_mip(integrality=np.zeros(model["col_cost"].size, dtype=np.int32),
                        time_limit_s=time_limit_s, **model)
        if out.status != "optimal" or out.objective is None:
            return None
        return self.const_volume + float(out.objective)

    # ----------------------------------------------------------------- solvers
    def solve(self, p: int, *, time_limit_s: float | None = None, method: str = "auto") -> FrlmResult:
        """Open ``p`` sites in total (existing included) to cover the most volume."""
        started = time.perf_counter()
        method = V.method_name(method, _METHODS)
        limit = V.time_limit(time_limit_s)
        p = V.count_p(p, self.n_sites, len(self.existing))
        k = p - len(self.existing)
        m = len(self.free)
        G = len(self.group_volume)
        extra: dict[str, Any] = {
            "range_km": self.range_km,
            "n_new": k,
            "n_fixed": int(len(self.existing)),
            "n_flows": self.n_flows,
            "flow_groups": G,
            "rows": int(self.rows.shape[0]),
            "always_covered_volume": self.const_volume,
            "build_s": self.build_s,
        }
        cols, groups = self.reduce(k)
        extra["reduced"] = {"sites": int(cols.sum()), "groups": int(groups.sum())}
        greedy = self.greedy(k, allowed=cols)
        coverable = self.const_volume + float(self.group_volume[groups].sum())
        if k == 0 or not groups.any():
            return self._finish(greedy, k, self.const_volume, True, "trivial", started, extra)
        got = self.const_volume + float(self.group_volume[self.covered_groups(greedy)].sum())
        if got >= coverable - _abs_tol(self.group_volume):
            return self._finish(greedy, k, coverable, True, "greedy", started, extra)
        if method == "greedy":
            left = None if limit is None else max(limit - (time.perf_counter() - started), 0.05)
            ub = self.lp_bound(k, left)
            ub = coverable if ub is None else min(ub, coverable)
            optimal = got >= ub - _abs_tol(self.group_volume)
            return self._finish(greedy, k, ub, optimal, "greedy", started, extra)
        col_idx = np.flatnonzero(cols)
        gv = self.group_volume[groups]
        integral = bool(np.all(gv == np.round(gv)))
        tol = (1.0 - 1e-6) if integral else _abs_tol(gv)  # a better answer beats the incumbent by more
        if method == "auto":
            sets, pairs = self._sets(cols, groups)
            best, _value, proven, upper, nodes = frlm_bnb.search(
                sets, pairs, gv, k, greedy[col_idx], tol=tol,
                deadline=None if limit is None else started + limit)
            extra["bnb_nodes"] = nodes
            chosen = np.zeros(m, dtype=bool)
            chosen[col_idx[best]] = True
            upper = min(coverable, self.const_volume + upper)
            return self._finish(chosen, k, upper, proven, "bnb" if proven else "bnb(time_limit)", started, extra)
        model, sets, pairs = self._model(k, cols, groups)
        n_sets = sets.shape[0]
        grp_idx = np.flatnonzero(groups)
        mc, G = col_idx.size, grp_idx.size
        cg = self.covered_groups(greedy)
        z_start = (sets[:, greedy[col_idx]].any(axis=1)).astype(np.float64)
        start = np.concatenate([greedy[col_idx].astype(np.float64), z_start, cg[grp_idx].astype(np.float64)])
        left = None if limit is None else max(limit - (time.perf_counter() - started), 0.05)
        out = solve_mip(
            integrality=np.concatenate([np.ones(mc), np.zeros(n_sets + G)]).astype(np.int32),
            time_limit_s=left,
            mip_rel_gap=0.0,
            mip_abs_gap=tol,
            start=start,
            **model,
        )
        extra["mip_status"] = out.status
        extra["mip_nodes"] = out.nodes
        extra["mip_size"] = {"columns": int(model["col_cost"].size), "rows": int(model["row_upper"].size),
                             "nonzeros": int(len(model["a_value"])), "distinct_sets": int(n_sets)}
        chosen = greedy
        if out.x is not None:
            cand = np.zeros(m, dtype=bool)
            cand[col_idx[out.x[:mc] > 0.5]] = True
            if cand.sum() <= k and self.group_volume[self.covered_groups(cand)].sum() > self.group_volume[cg].sum():
                chosen = cand
        upper = coverable
        if out.dual_bound is not None:
            upper = min(upper, self.const_volume + out.dual_bound)
        optimal = out.status == "optimal"
        return self._finish(chosen, k, upper, optimal, "mip" if optimal else f"mip({out.status})", started, extra)

    def _finish(self, open_free, k, upper, optimal, method_name, started, extra) -> FrlmResult:
        open_free = open_free.copy()
        if open_free.sum() < k:  # pad with unused candidates (they cover nothing more)
            spare = np.flatnonzero(~open_free)[: k - int(open_free.sum())]
            open_free[spare] = True
        covered = self.covered_flows(open_free)
        vol = float(self.volume[covered].sum())
        up = None if upper is None else max(float(upper), vol)
        if optimal:
            up = vol
        extra["upper_bound"] = up
        extra["total_volume"] = self.total_volume
        sel = sorted([self.nodes[i] for i in self.existing] + [self.nodes[i] for i in self.free[open_free]],
                     key=_sort_key)
        gap = None if up is None else (up - vol) / max(abs(vol), 1e-12)
        return FrlmResult(
            selected=sel,
            objective=vol,
            lower_bound=None,
            optimal=bool(optimal),
            gap=0.0 if optimal else gap,
            method=method_name,
            runtime_s=time.perf_counter() - started,
            extra=extra,
            covered_volume=vol,
            total_volume=self.total_volume,
            upper_bound=up,
            covered=tuple(bool(c) for c in covered),
            infeasible_flows=list(self.infeasible),
        )

    def cover(self, *, time_limit_s: float | None = None) -> FrlmResult:
        """Fewest new sites so that every flow that can be made feasible is feasible.

        Flows no candidate set can serve are reported in ``infeasible_flows`` (never
        dropped silently); ``extra["coverable_share"]`` says how much volume is left.
        """
        from planner.siting.covering import _greedy_cover, _solve_cover_mip

        started = time.perf_counter()
        limit = V.time_limit(time_limit_s)
        m = len(self.free)
        extra: dict[str, Any] = {
            "range_km": self.range_km,
            "n_fixed": int(len(self.existing)),
            "n_flows": self.n_flows,
            "infeasible_volume": float(self.volume[self.status == 2].sum()),
        }
        nr = self.rows.shape[0]
        B = self.rows.toarray() > 0.5 if nr else np.zeros((0, m), dtype=bool)
        if nr:
            B = np.unique(B, axis=0)
        if B.shape[0] == 0:
            chosen, lower, optimal, name = [], 0.0, True, "trivial"
        else:
            greedy = _greedy_cover(B)
            start_vec = np.zeros(m)
            start_vec[greedy] = 1.0
            out = _solve_cover_mip(B, time_limit_s=limit, start=start_vec)
            extra["mip_status"] = out.status
            chosen = greedy
            if out.x is not None and out.objective is not None and out.objective < len(greedy) - 0.5:
                chosen = sorted(int(j) for j in np.flatnonzero(out.x > 0.5))
            lower = 1.0
            if out.dual_bound is not None:
                lower = max(lower, float(math.ceil(out.dual_bound - 1e-6)))
            optimal = out.status == "optimal"
            if optimal:
                lower = float(len(chosen))
            name = "mip" if optimal else f"mip({out.status})"
        open_free = np.zeros(m, dtype=bool)
        open_free[np.asarray(chosen, dtype=np.int64)] = True
        covered = self.covered_flows(open_free)
        n_new = float(open_free.sum())
        vol = float(self.volume[covered].sum())
        extra["n_new"] = int(n_new)
        extra["coverable_share"] = (self.total_volume - extra["infeasible_volume"]) / self.total_volume if self.total_volume > 0 else 1.0
        sel = sorted([self.nodes[i] for i in self.existing] + [self.nodes[i] for i in self.free[open_free]], key=_sort_key)
        lb = float(min(lower, n_new))
        return FrlmResult(
            selected=sel,
            objective=n_new,
            lower_bound=lb,
            optimal=bool(optimal),
            gap=relative_gap(n_new, lb) if n_new > 0 else 0.0,
            method=name,
            runtime_s=time.perf_counter() - started,
            extra=extra,
            covered_volume=vol,
            total_volume=self.total_volume,
            upper_bound=None,
            covered=tuple(bool(c) for c in covered),
            infeasible_flows=list(self.infeasible),
        )


def _minimal_rows(lo: np.ndarray, hi: np.ndarray, site_nodes: np.ndarray, is_exist: np.ndarray,
                  free_pos: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Minimal windows [lo, hi) of the sites along a round trip, as sets of free-site indices.

    ``lo`` and ``hi`` never decrease along the trip, so a window contains a later one only
    with the same ``hi``, and an earlier one only with the same ``lo``. Windows holding an
    existing (always open) site are satisfied and dropped.
    """
    keep_hi = np.ones(lo.size, dtype=bool)
    keep_hi[:-1] = hi[:-1] != hi[1:]  # same hi: the last (largest lo) is the smallest window
    lo, hi = lo[keep_hi], hi[keep_hi]
    keep_lo = np.ones(lo.size, dtype=bool)
    keep_lo[1:] = lo[1:] != lo[:-1]  # same lo: the first (smallest hi) is the smallest window
    lo, hi = lo[keep_lo], hi[keep_lo]
    ex = np.concatenate([[0], np.cumsum(is_exist[site_nodes])])
    free = (ex[hi] - ex[lo]) == 0
    fp = free_pos[site_nodes].tolist()
    sets = {tuple(sorted(set(fp[a:b]))) for a, b in zip(lo[free].tolist(), hi[free].tolist())}
    if len(sets) <= 1:
        return tuple(sets)
    # the same site can sit on both legs: drop node sets that contain another one
    # (as bit masks: s contains t iff s & t == t)
    ordered = sorted(sets, key=len)
    masks = [sum(1 << j for j in t) for t in ordered]
    minimal: list[int] = []
    out: list[tuple[int, ...]] = []
    for t, mask in zip(ordered, masks):
        if not any(mask & small == small for small in minimal):
            minimal.append(mask)
            out.append(t)
    return tuple(out)


def _abs_tol(volume: np.ndarray) -> float:
    return max(1e-9 * float(np.abs(volume).sum()), 1e-12)


def _sort_key(node: Any) -> tuple:
    return (0, node, "") if isinstance(node, numbers.Number) else (1, 0, str(node))


# ---------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------
def solve_frlm(
    graph: Any,
    flows: Any,
    p: int,
    *,
    range_km: float,
    candidates: Any = None,
    existing: Any = (),
    time_limit_s: float | None = None,
    method: str = "auto",
) -> FrlmResult:
    """Open ``p`` charging sites so that the most truck volume can drive its round trip.

    Parameters
    ----------
    graph : networkx graph
        Road network; every edge needs ``length_km`` (> 0). Undirected graphs are two-way
        roads; on a directed graph the return leg is the shortest path back.
    flows : pandas.DataFrame
        Columns ``origin``, ``destination`` (graph node ids, different) and ``volume``
        (>= 0, e.g. trucks per day). Each flow drives origin → destination → origin on
        shortest paths.
    p : int
        TOTAL number of open sites, *including* ``existing`` (``len(existing) + k`` to add
        ``k``), as for the other siting models.
    range_km : float
        Distance a truck drives on a full charge (> 0).
    candidates : iterable of node ids, optional
        Where new sites may go (default: every node).
    existing : iterable of node ids
        Sites already open (existing megawatt chargers): fixed open, in ``selected``.
    time_limit_s : float, optional
        Wall-clock budget for the search; on expiry the incumbent comes back with
        ``optimal=False`` and a proven ``upper_bound``.
    method : {"auto", "mip", "greedy"}
        ``"auto"``: the branch and bound of :mod:`planner.siting.frlm_bnb`; ``"mip"``: the
        arc-cover MIP in HiGHS; ``"greedy"``: the greedy sites with the LP-relaxation
        bound, no branch and bound.

    Returns
    -------
    FrlmResult
        ``selected`` (node ids), ``covered_volume`` (= ``objective``), ``covered_share``,
        ``upper_bound``, ``optimal``, ``gap``, ``covered`` (per flow), ``infeasible_flows``.

    Raises
    ------
    InputError
        ``range_km`` <= 0, flows naming nodes not in the graph, bad volumes, edges without
        a positive ``length_km``; ``InfeasibleError`` (a subclass) when ``p`` exceeds the
        candidate sites or is smaller than the existing ones.
    """
    inst = FrlmInstance(graph, flows, range_km=range_km, candidates=candidates, existing=existing)
    return inst.solve(p, time_limit_s=time_limit_s, method=method)


def solve_frlm_cover(
    graph: Any,
    flows: Any,
    *,
    range_km: float,
    candidates: Any = None,
    existing: Any = (),
    time_limit_s: float | None = None,
) -> FrlmResult:
    """Fewest new sites that make every flow's round trip feasible (set-cover FRLM).

    Flows that no choice of candidates can serve (a road segment longer than
    ``range_km``, no candidate in reach, no route) are listed in ``infeasible_flows``
    with the reason; the others are all covered. ``objective`` = number of new sites,
    ``lower_bound`` its proven minimum. Arguments as :func:`solve_frlm`.
    """
    inst = FrlmInstance(graph, flows, range_km=range_km, candidates=candidates, existing=existing)
    return inst.cover(time_limit_s=time_limit_s)


def _trips(csr: sparse.csr_array, directed: bool, o: np.ndarray, d: np.ndarray) -> list[tuple]:
    """Per flow: the round trip as graph indices (origin → destination → origin), the
    cumulative km at each position and the length of the outbound part; (None, None, 0)
    without a route. The way back is the outbound path reversed on an undirected graph,
    the shortest path back on a directed one."""
    pred_out, _ = _paths(csr, o, d)
    pred_back = _paths(csr, d, o)[0] if directed else None
    seqs: list[tuple[np.ndarray, int] | None] = []
    for q in range(len(o)):
        out = _walk(pred_out[int(o[q])], int(o[q]), int(d[q]))
        back = None
        if out is not None:
            back = out[::-1] if pred_back is None else _walk(pred_back[int(d[q])], int(d[q]), int(o[q]))
        if out is None or back is None:
            seqs.append(None)
            continue
        seqs.append((np.asarray(out + back[1:], dtype=np.int64), len(out)))
    # every arc length in one look-up
    found = [t[0] for t in seqs if t is not None]
    arcs = np.zeros(0)
    if found:
        arcs = np.asarray(csr[np.concatenate([t[:-1] for t in found]), np.concatenate([t[1:] for t in found])]).ravel()
    trips, at = [], 0
    for t in seqs:
        if t is None:
            trips.append((None, None, 0))
            continue
        seq, n_out = t
        arc = arcs[at:at + seq.size - 1]
        at += seq.size - 1
        trips.append((seq, np.concatenate([[0.0], np.cumsum(arc)]), n_out))
    return trips


def _round_trips(graph: Any, flows: Any):
    """:func:`_trips` from a networkx graph and a flows frame (checked)."""
    nodes, index, csr, directed = _graph_arrays(graph)
    o, d, vol = _flows_frame(flows, index)
    return nodes, index, o, d, vol, _trips(csr, directed, o, d)


def shortest_paths(graph: Any, flows: Any) -> list[list | None]:
    """The outbound route of each flow (graph node ids, origin first) the FRLM uses; None
    when there is no route."""
    nodes, _, _, _, _, trips = _round_trips(graph, flows)
    out: list[list | None] = []
    for seq, _c, n_out in trips:
        out.append(None if seq is None else [nodes[int(i)] for i in seq[:n_out]])
    return out


def max_gap_check(graph: Any, flows: Any, sites: Any, *, range_km: float) -> pd.DataFrame:
    """The longest stretch each round trip drives between charges, against the range.

    A stretch runs from one charging point to the next along origin → destination →
    origin. A stretch that starts at the origin without a site only has half a charge, so
    it counts double. A round trip is feasible iff ``max_gap_km <= range_km``.

    Returns
    -------
    pandas.DataFrame
        One row per flow: ``origin``, ``destination``, ``round_trip_km``, ``max_gap_km``,
        ``feasible``, ``site_visits`` (open sites passed on the round trip).
    """
    R = _range(range_km)
    nodes, index, o, d, _, trips = _round_trips(graph, flows)
    site = np.zeros(len(nodes), dtype=bool)
    site[_node_indices(list(sites), index, "sites")] = True
    rows = []
    for q, (seq, c, _n) in enumerate(trips):
        if seq is None:
            rows.append((nodes[int(o[q])], nodes[int(d[q])], math.inf, math.inf, False, 0))
            continue
        stops = np.flatnonzero(site[seq[:-1]])
        bounds = np.unique(np.concatenate([[0], stops, [len(seq) - 1]]))
        gaps = np.diff(c[bounds])
        if gaps.size and not site[seq[0]]:
            gaps[0] *= 2.0
        worst = float(gaps.max()) if gaps.size else 0.0
        rows.append((nodes[int(o[q])], nodes[int(d[q])], float(c[-1]), worst,
                     worst <= R + _EPS_KM * max(R, 1.0), int(len(stops))))
    return pd.DataFrame(rows, columns=["origin", "destination", "round_trip_km", "max_gap_km", "feasible", "site_visits"])


def charging_stops(graph: Any, flows: Any, sites: Any, *, range_km: float) -> list[dict | None]:
    """Where each truck charges on its round trip when it charges only when it must.

    The truck arrives at the origin with half a charge; at an open site (the origin
    included) it charges to full only if it could not reach the next open site, or the
    end of the round trip, on what is left. Returns one dict per flow, ``{site node:
    number of charging sessions}`` (a site passed on both legs may count twice), or None
    for a flow whose round trip is infeasible with ``sites``.
    """
    R = _range(range_km)
    nodes, index, o, d, _, trips = _round_trips(graph, flows)
    site = np.zeros(len(nodes), dtype=bool)
    site[_node_indices(list(sites), index, "sites")] = True
    eps = _EPS_KM * max(R, 1.0)
    out: list[dict | None] = []
    for seq, c, _n in trips:
        if seq is None:
            out.append(None)
            continue
        pos = np.flatnonzero(site[seq[:-1]])
        nxt = np.append(c[pos[1:]], c[-1]) if pos.size else np.zeros(0)
        battery, last, stops, ok = R / 2.0, 0.0, {}, True
        for i, p_ in enumerate(pos):
            battery -= c[p_] - last
            last = c[p_]
            if battery < -eps:
                ok = False
                break
            if battery < nxt[i] - c[p_] - eps:
                battery = R
                node = nodes[int(seq[p_])]
                stops[node] = stops.get(node, 0) + 1
        if ok:
            battery -= c[-1] - last
            ok = battery >= -eps
        out.append(stops if ok else None)
    return out
