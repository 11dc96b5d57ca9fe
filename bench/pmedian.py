"""Benchmark of planner.siting.solve_p_median (run on demand, not part of the tests).

Instances (all seeded, demand points = candidates):

* ``orlib``: the OR-Library pmed recipe (Beasley 1985): ``n`` nodes, ``n**2/50`` undirected
  edges (a random spanning tree first, so the graph is connected, then random extra
  edges), integer lengths uniform in 1..100, all-pairs shortest paths (Dijkstra). The
  published pmed1-40 files are not downloaded; these are fresh draws of the same kind.
* ``road``: road-like graphs: random points in a 100 x 100 km square, each joined to its
  4 nearest neighbours with a detour factor in [1, 1.5] (plus a spanning tree so the graph
  is connected), shortest-path distances in km (3 decimals).

For each instance we report our objective, proven lower bound, optimality, wall time, and
spopt's ``PMedian`` (``from_cost_matrix`` + PuLP/CBC with a time limit) on small ``n``.
Where CBC proves optimality the two objectives must match (asserted).

Usage::

    .venv/bin/python bench/pmedian.py                      # default grid, spopt on n <= 200
    .venv/bin/python bench/pmedian.py --no-spopt           # ours only
    .venv/bin/python bench/pmedian.py --sizes 100 200 --kinds orlib --spopt-time-limit 60
    .venv/bin/python bench/pmedian.py --json results.json  # also write rows as JSON

Requirements: bench/requirements.txt (spopt, pulp) on top of the app's requirements.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import minimum_spanning_tree, shortest_path
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.siting import objective_value, solve_p_median  # noqa: E402


# -- instance generators ----------------------------------------------------------------
def orlib_instance(n: int, seed: int) -> np.ndarray:
    """All-pairs shortest paths of an OR-Library-style random graph (integer costs)."""
    rng = np.random.default_rng(seed)
    n_edges = max(n - 1, n * n // 50)
    order = rng.permutation(n)
    edges = set()
    for k in range(1, n):  # random spanning tree: node order[k] joins an earlier node
        a, b = int(order[k]), int(order[rng.integers(0, k)])
        edges.add((min(a, b), max(a, b)))
    while len(edges) < n_edges:
        a, b = (int(v) for v in rng.integers(0, n, 2))
        if a != b:
            edges.add((min(a, b), max(a, b)))
    e = np.array(sorted(edges))
    lengths = rng.integers(1, 101, len(e)).astype(float)
    graph = coo_array((lengths, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(graph, method="D", directed=False)


def road_instance(n: int, seed: int) -> np.ndarray:
    """Shortest-path km over a sparse random road-like graph (float costs)."""
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 100.0
    dist, idx = cKDTree(pts).query(pts, k=5)
    rows = np.repeat(np.arange(n), 4)
    cols = idx[:, 1:].ravel()
    lengths = dist[:, 1:].ravel() * rng.uniform(1.0, 1.5, len(rows))
    graph = coo_array((lengths, (rows, cols)), shape=(n, n)).tocsr()
    # A spanning tree over straight-line distances (x1.2) keeps the graph connected.
    diff = pts[:, None, :] - pts[None, :, :]
    tree = minimum_spanning_tree(np.sqrt((diff**2).sum(axis=2))).tocoo()
    graph = graph.maximum(coo_array((tree.data * 1.2, (tree.row, tree.col)), shape=(n, n)).tocsr())
    graph = graph.maximum(graph.T)
    return np.round(shortest_path(graph, method="D", directed=False), 3)


GENERATORS = {"orlib": orlib_instance, "road": road_instance}


def p_values(n: int) -> list[int]:
    """p from 5 to n/3."""
    vals = {5, 10, max(5, n // 10), max(5, n // 3)}
    return sorted(v for v in vals if v <= n // 3 or v == 5)


# -- spopt reference -----------------------------------------------------------------------
def run_spopt(cost: np.ndarray, p: int, time_limit_s: float) -> dict:
    import pulp
    from spopt.locate import PMedian

    t0 = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, np.ones(cost.shape[0]), p_facilities=p)
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
    try:
        model.solve(solver, results=False)
    except Exception as exc:  # spopt raises when CBC does not report an optimum
        return {"objective": None, "time_s": time.perf_counter() - t0, "optimal": False, "status": repr(exc)[:60]}
    elapsed = time.perf_counter() - t0
    problem = model.problem
    optimal = problem.status == 1 and getattr(problem, "sol_status", 1) == 1 and elapsed < time_limit_s
    return {"objective": float(pulp.value(problem.objective)), "time_s": elapsed, "optimal": optimal, "status": pulp.LpStatus[problem.status]}


# -- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 300, 400, 500, 600, 700, 800, 900])
    ap.add_argument("--kinds", nargs="+", choices=sorted(GENERATORS), default=["orlib", "road"])
    ap.add_argument("--p", type=int, nargs="+", default=None, help="p values (default: 5, 10, n/10, n/3)")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--time-limit", type=float, default=30.0, help="our time limit per instance, s (default 30)")
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt/CBC comparison")
    ap.add_argument("--spopt-max-n", type=int, default=200, help="run spopt only up to this n (default 200)")
    ap.add_argument("--spopt-time-limit", type=float, default=60.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)

    header = f"{'kind':<6}{'n':>5}{'p':>5}{'objective':>14}{'lower bound':>14}{'opt':>5}{'time s':>8}{'spopt obj':>14}{'spopt s':>9}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    rows = []
    mismatches = []
    for kind in args.kinds:
        for n in args.sizes:
            cost = GENERATORS[kind](n, args.seed + n)
            for p in args.p or p_values(n):
                if p > n:
                    continue
                t0 = time.perf_counter()
                res = solve_p_median(cost, p, time_limit_s=args.time_limit)
                ours_s = time.perf_counter() - t0
                # Measure something real: recompute the objective from the selection.
                assert abs(objective_value(cost, None, res.selected) - res.objective) <= 1e-9 * max(1.0, res.objective)
                assert len(res.selected) == p
                row = {
                    "kind": kind,
                    "n": n,
                    "p": p,
                    "objective": res.objective,
                    "lower_bound": res.lower_bound,
                    "optimal": res.optimal,
                    "time_s": ours_s,
                    "method": res.method,
                    "spopt_objective": None,
                    "spopt_time_s": None,
                    "spopt_optimal": None,
                    "ratio": None,
                }
                if not args.no_spopt and n <= args.spopt_max_n:
                    ref = run_spopt(cost, p, args.spopt_time_limit)
                    row.update(spopt_objective=ref["objective"], spopt_time_s=ref["time_s"], spopt_optimal=ref["optimal"])
                    row["ratio"] = ref["time_s"] / max(ours_s, 1e-9)
                    if ref["optimal"] and ref["objective"] is not None:
                        tol = 1e-6 * max(1.0, abs(ref["objective"]))
                        if abs(ref["objective"] - res.objective) > tol or not res.optimal:
                            mismatches.append(row)
                rows.append(row)
                sp_obj = "" if row["spopt_objective"] is None else f"{row['spopt_objective']:.3f}" + ("" if row["spopt_optimal"] else "*")
                sp_t = "" if row["spopt_time_s"] is None else f"{row['spopt_time_s']:.2f}"
                ratio = "" if row["ratio"] is None else f"{row['ratio']:.0f}x"
                lb = "" if res.lower_bound is None else f"{res.lower_bound:.3f}"
                print(
                    f"{kind:<6}{n:>5}{p:>5}{res.objective:>14.3f}{lb:>14}{('yes' if res.optimal else 'NO'):>5}"
                    f"{ours_s:>8.2f}{sp_obj:>14}{sp_t:>9}{ratio:>8}",
                    flush=True,
                )
    proven = sum(r["optimal"] for r in rows)
    under2 = sum(r["optimal"] and r["time_s"] < 2.0 for r in rows)
    print(f"\nproven optimal: {proven}/{len(rows)}; proven in < 2 s: {under2}/{len(rows)}")
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None and r["spopt_optimal"]]
    if ratios:
        print(f"speed-up over spopt/CBC where CBC proved optimality: min {min(ratios):.0f}x, median {float(np.median(ratios)):.0f}x")
    print("(* = spopt/CBC did not prove optimality within its time limit)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if mismatches:
        print(f"MISMATCH with spopt on {len(mismatches)} instance(s): {mismatches}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
