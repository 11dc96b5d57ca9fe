"""Benchmark: nearest station for every node of a large road-like graph.

Run on demand (not part of the test suite)::

    .venv/bin/python bench/nearest.py [--nodes 1000000] [--stations 300] [--nx-nodes 100000] [--no-nx-full]

The graph is a perturbed square grid (200 m cells, nodes jittered by up to 30 % of a cell)
with 35 % of its street edges deleted at random and faster "highway" lines every 50th
row and column that are never deleted. Weights are truck seconds (40 km/h streets,
100 km/h highways); every edge is two-way. The CSR holds ~2.6 directed edges per node,
like real road graphs; ~98 % of nodes can reach a station.

Compared, in the same run and on the same graph:

* **ours**: :func:`planner.access.nearest_source_per_node`: one
  ``scipy.sparse.csgraph.dijkstra(..., indices=stations, min_only=True,
  return_predecessors=True)`` plus mapping each node's source back to a station position;
  the graph is two-way, so it is told ``symmetric=True`` and skips the transpose it needs
  on directed (OSM one-way) graphs;
* **scipy min_only (raw)**: the bare ``dijkstra(csr, indices=stations, min_only=True)``
  call (no transpose, no predecessors, no mapping): the floor ours cannot beat;
* **networkx**: ``nx.multi_source_dijkstra_path_length`` (distances only, the cheapest
  networkx call; building the nx graph is not timed) at ``--nx-nodes`` and, unless
  ``--no-nx-full``, again at ``--nodes`` (~15-40 s and ~2 GB at 1 M nodes);
* **scipy per-source then min**: ``dijkstra(csr, indices=stations)`` (one full row per
  station) then ``min(axis=0)``, at ``--nx-nodes`` only (memory = stations × nodes × 8 B).

Timing: each pair (ours, other) runs alternately, best of N. Ratios use the CPU time of
this process (``time.process_time``; every method is single-threaded), which load from
other processes on a shared machine disturbs much less than wall time; wall time is
printed too. Ratios are reported only at the size measured (no extrapolation). All
distances are checked against ours (max absolute difference in seconds; inf means the
set of reachable nodes differs).

Finally, if the embedded Mianyang region is available, the mean time of one
``NearestIndex.nearest`` query on the real corridors is printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.access import nearest_source_per_node  # noqa: E402

CELL_M = 200.0
STREET_KMH = 40.0
HIGHWAY_KMH = 100.0
DELETE_SHARE = 0.35
HIGHWAY_EVERY = 50


def road_like_graph(n_nodes: int, *, seed: int = 1):
    """Perturbed grid → ``(csr of truck seconds, n, u, v, w)`` (undirected edge arrays)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_nodes)))
    n = side * side
    r, c = np.divmod(np.arange(n), side)
    x = c * CELL_M + rng.uniform(-0.3, 0.3, n) * CELL_M
    y = r * CELL_M + rng.uniform(-0.3, 0.3, n) * CELL_M
    ids = np.arange(n).reshape(side, side)
    hu, hv = ids[:, :-1].ravel(), ids[:, 1:].ravel()  # horizontal neighbours
    vu, vv = ids[:-1, :].ravel(), ids[1:, :].ravel()  # vertical neighbours
    u = np.concatenate([hu, vu])
    v = np.concatenate([hv, vv])
    fast = np.concatenate([(r[hu] % HIGHWAY_EVERY) == 0, (c[vu] % HIGHWAY_EVERY) == 0])
    keep = fast | (rng.random(u.size) >= DELETE_SHARE)
    u, v, fast = u[keep], v[keep], fast[keep]
    w = np.hypot(x[v] - x[u], y[v] - y[u]) / (np.where(fast, HIGHWAY_KMH, STREET_KMH) / 3.6)
    csr = sparse.csr_array((np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n))
    csr.sum_duplicates()
    csr.sort_indices()
    return csr, n, u, v, w


class Best:
    """Best (lowest) CPU and wall time over repeated runs."""

    def __init__(self) -> None:
        self.cpu = float("inf")
        self.wall = float("inf")
        self.out = None

    def run(self, fn) -> None:
        c0, w0 = time.process_time(), time.perf_counter()
        self.out = fn()
        self.cpu = min(self.cpu, time.process_time() - c0)
        self.wall = min(self.wall, time.perf_counter() - w0)


def pair(fn_ours, fn_other, repeat: int) -> tuple[Best, Best]:
    """Run ours and the other method alternately ``repeat`` times; keep the best of each."""
    a, b = Best(), Best()
    for _ in range(repeat):
        a.run(fn_ours)
        b.run(fn_other)
    return a, b


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return float("inf")
    return float(np.abs(a[fa] - b[fb]).max()) if fa.any() else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Nearest station for every node: ours vs scipy vs networkx.")
    ap.add_argument("--nodes", type=int, default=1_000_000, help="graph size for ours vs scipy (default 1,000,000)")
    ap.add_argument("--stations", type=int, default=300, help="number of stations (sources), default 300")
    ap.add_argument("--nx-nodes", type=int, default=100_000, help="smaller size for networkx and per-source scipy (default 100,000)")
    ap.add_argument("--nx-full", action=argparse.BooleanOptionalAction, default=True, help="also run networkx at --nodes (default on)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for ours vs scipy (default 3)")
    ap.add_argument("--nx-repeat", type=int, default=2, help="best of N for ours vs networkx (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=2000, help="random points for the NearestIndex timing (default 2000)")
    args = ap.parse_args(argv)
    if args.nodes < 100 or args.nx_nodes < 100 or args.stations < 1 or min(args.repeat, args.nx_repeat) < 1:
        ap.error("--nodes and --nx-nodes must be >= 100; --stations and repeats >= 1")

    rows: list[tuple] = []  # (method, nodes, edges, sources, Best, note)
    checks: list[tuple[str, float]] = []
    targets: list[tuple[str, bool]] = []
    load0 = os.getloadavg()[0]

    # ---------------------------------------------------------------- ours vs scipy, full size
    t0 = time.perf_counter()
    csr, n, u, v, w = road_like_graph(args.nodes, seed=args.seed)
    stations = np.random.default_rng(args.seed + 1).choice(n, size=min(args.stations, n), replace=False)
    print(f"graph: {n:,} nodes, {csr.nnz:,} directed edges ({csr.nnz / n:.2f} per node), "
          f"{stations.size} stations; built in {time.perf_counter() - t0:.2f} s", flush=True)
    ours, raw = pair(
        lambda: nearest_source_per_node(csr, stations, symmetric=True),
        lambda: dijkstra(csr, directed=True, indices=stations, min_only=True),
        args.repeat,
    )
    d_ours, _ = ours.out
    ratio = ours.cpu / raw.cpu
    rows.append(("ours: nearest_source_per_node", n, csr.nnz, stations.size, ours, ""))
    rows.append(("scipy csgraph dijkstra min_only (raw)", n, csr.nnz, stations.size, raw, f"ours/scipy = {ratio:.2f}x"))
    checks.append((f"ours vs scipy min_only @{n:,}", max_abs_diff(d_ours, raw.out)))
    targets.append((f"ours within 1.5x of scipy min_only @{n:,}: {ratio:.2f}x", ratio <= 1.5))
    print(f"reachable nodes {np.isfinite(d_ours).mean():.1%}; ours {ours.cpu:.3f} s CPU, scipy {raw.cpu:.3f} s CPU", flush=True)

    # ---------------------------------------------------------------- networkx
    import networkx as nx

    def vs_networkx(csr_g, n_g, u_g, v_g, w_g, st_g):
        G = nx.Graph()
        G.add_nodes_from(range(n_g))
        G.add_weighted_edges_from(zip(u_g.tolist(), v_g.tolist(), w_g.tolist()))
        sources = set(st_g.tolist())
        o, x = pair(
            lambda: nearest_source_per_node(csr_g, st_g, symmetric=True),
            lambda: nx.multi_source_dijkstra_path_length(G, sources, weight="weight"),
            args.nx_repeat,
        )
        d_x = np.full(n_g, np.inf)
        d_x[np.fromiter(x.out.keys(), dtype=np.int64)] = np.fromiter(x.out.values(), dtype=np.float64)
        x.out = None
        del G
        r = x.cpu / o.cpu
        rows.append(("ours (alternating with networkx)", n_g, csr_g.nnz, st_g.size, o, ""))
        rows.append(("networkx multi_source_dijkstra_path_length", n_g, csr_g.nnz, st_g.size, x, f"networkx/ours = {r:.1f}x"))
        checks.append((f"ours vs networkx @{n_g:,}", max_abs_diff(o.out[0], d_x)))
        targets.append((f"ours >= 20x faster than networkx @{n_g:,}: {r:.1f}x", r >= 20))
        print(f"networkx @{n_g:,}: {x.cpu:.2f} s CPU; ours {o.cpu:.3f} s CPU", flush=True)
        return o

    csr_s, n_s, u_s, v_s, w_s = road_like_graph(args.nx_nodes, seed=args.seed)
    st_s = np.random.default_rng(args.seed + 1).choice(n_s, size=min(args.stations, n_s), replace=False)
    ours_s = vs_networkx(csr_s, n_s, u_s, v_s, w_s, st_s)
    per = Best()
    per.run(lambda: dijkstra(csr_s, directed=True, indices=st_s).min(axis=0))
    rows.append(("scipy per-source dijkstra then min", n_s, csr_s.nnz, st_s.size, per, f"per-source/ours = {per.cpu / ours_s.cpu:.1f}x"))
    checks.append((f"ours vs scipy per-source @{n_s:,}", max_abs_diff(ours_s.out[0], per.out)))
    per.out = None
    del csr_s, u_s, v_s, w_s
    if args.nx_full and n > n_s:
        vs_networkx(csr, n, u, v, w, stations)

    # ---------------------------------------------------------------- report
    print()
    print(f"Nearest station for every node; weights = truck seconds; best of {args.repeat} (scipy pair) / "
          f"{args.nx_repeat} (networkx pairs), run alternately with ours")
    head = f"{'method':<44} {'nodes':>10} {'edges':>10} {'stations':>8} {'cpu_s':>8} {'wall_s':>8}  note"
    print(head)
    print("-" * len(head))
    for label, nn, ne, ns, b, note in rows:
        print(f"{label:<44} {nn:>10,} {ne:>10,} {ns:>8} {b.cpu:>8.3f} {b.wall:>8.3f}  {note}")
    print()
    print("distance agreement (max |difference|, seconds; inf = reachable sets differ):")
    for label, diff in checks:
        print(f"  {label:<40} {diff:.3g}")
    same = all(diff < 1e-6 for _, diff in checks)
    targets.append(("same distances (all differences < 1e-6 s)", same))
    print()
    for text, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"load average (1 min) {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end on {os.cpu_count()} cores")

    # ---------------------------------------------------------------- real corridors
    print()
    try:
        from planner.region import load_region

        region = load_region("mianyang")
    except Exception as exc:  # noqa: BLE001  (the region is optional here)
        print(f"NearestIndex.nearest on the Mianyang corridors: skipped (region not available: {exc})")
    else:
        from planner.access import NearestIndex
        from planner.network import RoadNetwork

        t0 = time.perf_counter()
        network = RoadNetwork.from_corridors(region.corridors)
        t1 = time.perf_counter()
        index = NearestIndex(network, region.stations)
        t2 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        minx, miny, maxx, maxy = region.boundary.total_bounds
        pts = []
        while len(pts) < args.queries:
            lon, lat = float(rng.uniform(minx, maxx)), float(rng.uniform(miny, maxy))
            if region.contains(lon, lat):
                pts.append((lon, lat))
        index.nearest(*pts[0])
        timings = {}
        for label, kw in (("k=3", {}), ("k=3, shower + open at 23:00", {"amenities": ("shower",), "open_at": "23:00"})):
            c0, w0 = time.process_time(), time.perf_counter()
            for lon, lat in pts:
                index.nearest(lon, lat, k=3, **kw)
            timings[label] = ((time.process_time() - c0) / len(pts) * 1e6, (time.perf_counter() - w0) / len(pts) * 1e6)
        print(f"Mianyang corridors: {network.n_nodes:,} nodes, {network.n_edges:,} directed edges, "
              f"{len(index.stations)} open stations; network {t1 - t0:.3f} s, index precompute {t2 - t1:.3f} s")
        for label, (cpu_us, wall_us) in timings.items():
            print(f"NearestIndex.nearest ({label}), mean over {len(pts):,} random points inside the boundary: "
                  f"{cpu_us:.1f} µs CPU, {wall_us:.1f} µs wall")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
