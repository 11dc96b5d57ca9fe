"""FRLM benchmark: planner.siting.solve_frlm (arc-cover model, exact branch and bound of
planner.siting.frlm_bnb) against the path-segment (combination-enumeration) formulation of
Kuby & Lim (2005), in the same run.

Instances: road-like random geometric networks of 50–300 nodes in a 300 km square (edge
length = straight distance × a random detour factor 1.1–1.4, components joined), all O-D
pairs among 20–60 nodes with random volumes, R = 200 and 300 km, p = 3…10 sites.

The baseline enumerates, per flow, every minimal combination of candidate sites on its
path that lets the round trip through (same feasibility rule: half a charge at the start,
full at a site), then solves ``max Σ v y`` with ``y_q ≤ Σ_h z_h``, ``z_h ≤ x_k (k ∈ h)``,
``Σ x ≤ p`` in the same HiGHS. It gets ``--baseline-cap-s`` seconds (enumeration + MIP);
when the cap hits it is reported as capped, not as a time. ``--mip-cap-s S`` also runs
the same arc-cover model as a MIP in HiGHS (``method="mip"``), capped at S seconds.

Times: ``ours_s`` is wall-clock from the graph to the proven answer (building the round
trips and windows included), ``cpu_s`` the process CPU time of the same span (the machine
may be shared: the load average is printed before and after). The numba kernels are
compiled (or loaded from the on-disk cache) once before timing.

Run: ``python bench/frlm.py`` (all), ``--quick`` (a few small instances).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.siting import FrlmInstance  # noqa: E402
from planner.siting._highs import csc_from_coo, solve_mip  # noqa: E402

SIDE_KM = 300.0


def road_graph(n: int, seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, SIDE_KM, size=(n, 2))
    radius = SIDE_KM * np.sqrt(2.6 / (np.pi * n))
    G = nx.random_geometric_graph(n, radius, pos={i: tuple(p) for i, p in enumerate(pos)}, seed=seed)
    comps = sorted(nx.connected_components(G), key=len, reverse=True)
    while len(comps) > 1:  # join the largest component to its nearest other one
        a = np.array(sorted(comps[0]))
        b = np.array(sorted(set().union(*comps[1:])))
        d = np.linalg.norm(pos[a][:, None] - pos[b][None], axis=2)
        i, j = np.unravel_index(d.argmin(), d.shape)
        G.add_edge(int(a[i]), int(b[j]))
        comps = sorted(nx.connected_components(G), key=len, reverse=True)
    for u, v in G.edges:
        G[u][v]["length_km"] = float(np.linalg.norm(pos[u] - pos[v]) * rng.uniform(1.1, 1.4))
    return G


def flows_among(G: nx.Graph, n_od: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    od = sorted(rng.choice(G.number_of_nodes(), n_od, replace=False).tolist())
    return pd.DataFrame([(a, b, float(rng.integers(1, 100))) for a, b in itertools.combinations(od, 2)],
                        columns=["origin", "destination", "volume"])


def path_segment(inst: FrlmInstance, p: int, cap_s: float) -> dict:
    """Kuby & Lim's formulation: enumerate the minimal refuelling combinations per flow."""
    started = time.perf_counter()
    rows = inst.rows.tocsr()
    combos: dict[frozenset, int] = {}
    flow_combos: list[list[int]] = []
    vol: list[float] = []
    for g in range(len(inst.group_volume)):
        r = rows[inst.row_group == g]
        sets = [frozenset(r.indices[r.indptr[i]:r.indptr[i + 1]].tolist()) for i in range(r.shape[0])]
        sites = sorted(set().union(*sets))
        mine: list[int] = []
        found: list[frozenset] = []
        for size in range(1, min(p, len(sites)) + 1):
            for c in itertools.combinations(sites, size):
                if time.perf_counter() - started > cap_s:
                    return {"status": "capped (enumeration)", "time_s": cap_s, "combinations": len(combos)}
                fc = frozenset(c)
                if any(f <= fc for f in found):
                    continue
                if all(s & fc for s in sets):
                    found.append(fc)
                    mine.append(combos.setdefault(fc, len(combos)))
        flow_combos.append(mine)
        vol.append(float(inst.group_volume[g]))
    m = len(inst.free)
    H = len(combos)
    G = len(vol)
    # columns: x (m), z (H), y (G); rows: y_g - sum z <= 0 (G), z_h - x_k <= 0 (per member), sum x <= p
    r_, c_, v_ = [], [], []
    for g, hs in enumerate(flow_combos):
        r_.append(g); c_.append(m + H + g); v_.append(1.0)
        for h in hs:
            r_.append(g); c_.append(m + h); v_.append(-1.0)
    row = G
    for fc, h in combos.items():
        for k in fc:
            r_ += [row, row]; c_ += [m + h, k]; v_ += [1.0, -1.0]
            row += 1
    r_ += [row] * m; c_ += list(range(m)); v_ += [1.0] * m
    n_row = row + 1
    a_start, a_index, a_value = csc_from_coo(np.array(r_), np.array(c_), np.array(v_), m + H + G)
    left = cap_s - (time.perf_counter() - started)
    if left <= 0.05:
        return {"status": "capped (enumeration)", "time_s": cap_s, "combinations": H}
    k = p - len(inst.existing)
    out = solve_mip(
        col_cost=np.concatenate([np.zeros(m + H), np.array(vol)]),
        col_lower=np.zeros(m + H + G), col_upper=np.ones(m + H + G),
        integrality=np.concatenate([np.ones(m), np.zeros(H + G)]).astype(np.int32),
        a_start=a_start, a_index=a_index, a_value=a_value,
        row_lower=np.full(n_row, -np.inf), row_upper=np.concatenate([np.zeros(n_row - 1), [float(k)]]),
        maximize=True, time_limit_s=left, mip_rel_gap=0.0, mip_abs_gap=1.0 - 1e-6,
    )
    t = time.perf_counter() - started
    if out.status != "optimal":
        return {"status": f"capped (MIP {out.status})", "time_s": cap_s, "combinations": H}
    return {"status": "optimal", "time_s": t, "combinations": H, "objective": inst.const_volume + out.objective}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few small instances")
    ap.add_argument("--time-limit-s", type=float, default=60.0, help="time limit of the arc-cover solve")
    ap.add_argument("--baseline-cap-s", type=float, default=20.0, help="cap on the path-segment baseline")
    ap.add_argument("--mip-cap-s", type=float, default=0.0, help="also run the arc-cover MIP in HiGHS, capped (0: skip)")
    args = ap.parse_args()
    sizes = [(50, 20)] if args.quick else [(50, 20), (100, 30), (200, 40), (300, 60)]
    ps = (3, 5) if args.quick else (3, 5, 8, 10)
    warm = road_graph(30, seed=1)  # compile / load the numba kernels before timing
    FrlmInstance(warm, flows_among(warm, 8, seed=1), range_km=150.0).solve(3)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    mip_head = f" {'mip_s':>7}" if args.mip_cap_s > 0 else ""
    print(f"{'nodes':>5} {'od':>3} {'flows':>5} {'R':>4} {'p':>3} {'share':>6} {'opt':>4} {'ours_s':>7} {'cpu_s':>6} "
          f"{'bnb_nodes':>9}{mip_head} {'baseline':>22} {'base_s':>7} {'ratio':>7}")
    rows = []
    for n, n_od in sizes:
        G = road_graph(n, seed=n)
        flows = flows_among(G, n_od, seed=n)
        for R in (200.0, 300.0):
            for p in ps:
                t0, c0 = time.perf_counter(), time.process_time()
                inst = FrlmInstance(G, flows, range_km=R)
                res = inst.solve(p, time_limit_s=args.time_limit_s)
                ours, cpu = time.perf_counter() - t0, time.process_time() - c0
                mip_col = ""
                if args.mip_cap_s > 0:
                    t1 = time.perf_counter()
                    mip = inst.solve(p, time_limit_s=args.mip_cap_s, method="mip")
                    if mip.optimal and res.optimal:
                        assert abs(mip.covered_volume - res.covered_volume) <= 1e-6 * max(1.0, res.covered_volume)
                    t_mip = time.perf_counter() - t1
                    mip_col = f" {t_mip:>7.2f}" if mip.optimal else f" {'>' + format(args.mip_cap_s, '.0f'):>7}"
                base = path_segment(inst, p, args.baseline_cap_s)
                if base["status"] == "optimal" and res.optimal:
                    assert abs(base["objective"] - res.covered_volume) <= 1e-6 * max(1.0, res.covered_volume), \
                        (base["objective"], res.covered_volume)
                ratio = base["time_s"] / ours
                ratio_s = f"{ratio:.1f}x" if base["status"] == "optimal" else f">{ratio:.1f}x"
                print(f"{n:>5} {n_od:>3} {len(flows):>5} {R:>4.0f} {p:>3} {res.covered_share:>6.3f} "
                      f"{'yes' if res.optimal else 'NO':>4} {ours:>7.2f} {cpu:>6.2f} {res.extra.get('bnb_nodes', 0):>9}"
                      f"{mip_col} {base['status']:>22} {base['time_s']:>7.2f} {ratio_s:>7}", flush=True)
                rows.append((res.optimal, ours, base["status"] == "optimal", cpu))
    opt = sum(r[0] for r in rows)
    fast = sum(r[0] and r[1] < 5.0 for r in rows)
    fast_cpu = sum(r[0] and r[3] < 5.0 for r in rows)
    print(f"proven optimal: {opt}/{len(rows)}; proven optimal in under 5 s: {fast}/{len(rows)} wall, "
          f"{fast_cpu}/{len(rows)} CPU; slowest: {max(r[1] for r in rows):.2f} s wall, {max(r[3] for r in rows):.2f} s CPU; "
          f"baseline finished {sum(r[2] for r in rows)}/{len(rows)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
