"""Benchmark: importing an OpenStreetMap extract, ours (pyosmium, streaming) against osmnx.

Run on demand (not part of the test suite)::

    .venv/bin/python bench/osm_import.py [--nodes 1000000] [--workdir DIR] [--keep]

1. Writes a synthetic extract with pyosmium's writer, twice: ``.osm.pbf`` and its ``.osm`` XML
   twin (the same objects). It is a jittered road grid (~100 m cells) cut into ways of 20
   nodes, with mixed highway types (motorway every 50th line, primary every 10th, then
   secondary, tertiary, residential, service), 5 % one-way ways (``oneway=yes`` and ``-1``),
   truck limits in several spellings (``maxheight`` 3.5 / "4 m" / 12'6", ``maxweight`` 10 /
   "7.5 t" / "20000 kg"), ``hgv=no`` and ``access=private`` ways, 3 % footways, cycleways and
   tracks (not for trucks), and small buildings (closed ways with their own nodes: 10 % of
   all nodes), so a reader that keeps only roads has something to skip.
2. Runs each importer in a fresh child process (so peak memory is its own):

   * **ours**: ``RoadNetwork.from_osm`` on the ``.osm.pbf`` (read: two pyosmium passes into
     numpy; then the routable network: projection and CSR matrices); also the ``.npz``
     save and load. Peak RSS (``VmHWM``) is read right after the import;
   * **osmnx**: ``osmnx.graph_from_xml(xml, simplify=False, retain_all=True,
     bidirectional=False)`` on the XML twin, with the truck tags added to
     ``useful_tags_way`` (osmnx cannot read ``.pbf``). Only that call is timed; the filter
     to truck roads that follows (needed to compare edges) is not, which favours osmnx;
   * **ours on XML** (time only): the same reader on the XML twin.

   Both keep every component (``retain_all``) so edge sets compare one to one.
3. Compares the edges: the multiset of directed (OSM node, OSM node) pairs must be the same,
   and every length must agree to 0.01 % (osmnx's great-circle ``length`` against our
   reader's). Prints time and memory ratios; the targets are ≥ 5× faster and ≤ 1/3 of the
   memory. The speed ratio uses CPU time (``time.process_time`` of each child, all its
   threads: pyosmium decodes pbf blocks in worker threads, osmnx is single-threaded), which
   load from other processes on a shared machine disturbs much less than wall time; wall
   time is printed too. Memory is reported both as peak RSS and as peak above the RSS after imports
   (the libraries alone: numpy, geopandas, osmnx), and the ratio uses the latter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WAY_NODES = 20
STEP_DEG = 0.0009  # ~100 m of latitude
LON0, LAT0 = 104.2, 31.0  # Mianyang's latitude; a synthetic place
TRUCK_TAGS = ("hgv", "goods", "motor_vehicle", "vehicle", "maxweight", "maxweight:hgv", "maxheight",
              "maxheight:physical", "maxlength", "maxlength:hgv", "maxaxleload", "maxspeed:hgv")


# ------------------------------------------------------------------ the synthetic extract
def write_extract(pbf: Path, xml: Path, n_nodes: int, seed: int = 7) -> dict:
    """Write the grid extract as .osm.pbf and .osm; returns counts."""
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    road_share = 0.9
    side = int(np.sqrt(n_nodes * road_share))
    n_build = (n_nodes - side * side) // 4
    writers = [osmium.SimpleWriter(str(pbf), overwrite=True), osmium.SimpleWriter(str(xml), overwrite=True)]
    jitter = rng.uniform(-0.2, 0.2, size=(side * side, 2)) * STEP_DEG
    lon_step = STEP_DEG / np.cos(np.radians(LAT0))
    nid = 0
    for i in range(side):
        for j in range(side):
            nid += 1
            k = i * side + j
            loc = (round(LON0 + j * lon_step + jitter[k, 0], 7), round(LAT0 + i * STEP_DEG + jitter[k, 1], 7))
            for w in writers:
                w.add_node(Node(id=nid, location=loc))
    # buildings: 4 own nodes each, between grid lines
    b_first = nid + 1
    bx = rng.integers(0, side - 1, n_build)
    by = rng.integers(0, side - 1, n_build)
    for b in range(n_build):
        lon = LON0 + (bx[b] + 0.3) * lon_step
        lat = LAT0 + (by[b] + 0.3) * STEP_DEG
        for dx, dy in ((0, 0), (0.2, 0), (0.2, 0.2), (0, 0.2)):
            nid += 1
            for w in writers:
                w.add_node(Node(id=nid, location=(round(lon + dx * lon_step, 7), round(lat + dy * STEP_DEG, 7))))
    wid = 0
    counts = {"ways": 0, "oneway": 0, "limits": 0, "closed": 0, "not_for_trucks": 0}

    def line_tags(idx: int) -> dict:
        if idx % 50 == 0:
            return {"highway": "motorway", "ref": f"G{idx}", "maxspeed": "120", "maxspeed:hgv": "100"}
        if idx % 10 == 0:
            return {"highway": "primary", "ref": f"S{idx}", "maxspeed": "80"}
        return {"highway": ("secondary", "tertiary", "residential", "residential", "unclassified", "service")[idx % 6]}

    for horizontal in (True, False):
        for i in range(side):
            base = line_tags(i)
            for start in range(0, side - 1, WAY_NODES - 1):
                stop = min(start + WAY_NODES, side)
                if horizontal:
                    nodes = [1 + i * side + j for j in range(start, stop)]
                else:
                    nodes = [1 + j * side + i for j in range(start, stop)]
                tags = dict(base)
                r = rng.random()
                if r < 0.03:
                    tags = {"highway": ("footway", "cycleway", "track", "path")[int(rng.integers(4))]}
                    counts["not_for_trucks"] += 1
                elif r < 0.08:
                    tags["oneway"] = "yes" if r < 0.065 else "-1"
                    counts["oneway"] += 1
                elif r < 0.09:
                    tags["maxheight"] = ("3.5", "4 m", "12'6\"", "below_default")[int(rng.integers(4))]
                    counts["limits"] += 1
                elif r < 0.10:
                    tags["maxweight"] = ("10", "7.5 t", "20000 kg", "none")[int(rng.integers(4))]
                    counts["limits"] += 1
                elif r < 0.105:
                    tags["hgv"] = "no"
                    counts["limits"] += 1
                elif r < 0.107:
                    tags["access"] = "private"
                    counts["closed"] += 1
                wid += 1
                for w in writers:
                    w.add_way(Way(id=wid, nodes=nodes, tags=tags))
                counts["ways"] += 1
    for b in range(n_build):
        first = b_first + 4 * b
        wid += 1
        for w in writers:
            w.add_way(Way(id=wid, nodes=[first, first + 1, first + 2, first + 3, first], tags={"building": "yes"}))
    for w in writers:
        w.close()
    counts.update(nodes=nid, road_nodes=side * side, buildings=n_build)
    return counts


# ------------------------------------------------------------------ children
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child_ours(path: str, out: str, save_dir: str | None) -> dict:
    import planner.network.osm  # noqa: F401  (imports before the baseline RSS)
    from planner.network import HIGHWAY_SPEED_KMH, TRUCK_SPEED_KMH, RoadNetwork
    from planner.network.osm import read_osm
    from planner.network.speeds import edge_speed_kmh

    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    c0 = time.process_time()
    roads = read_osm(path, highway_speed_kmh=HIGHWAY_SPEED_KMH,
                     speed_of=lambda tags: edge_speed_kmh(tags, TRUCK_SPEED_KMH), retain_all=True)
    t1 = time.perf_counter()
    c1 = time.process_time()
    net = RoadNetwork._from_roads(roads, source="bench")
    t2 = time.perf_counter()
    c2 = time.process_time()
    peak = _status_kb("VmHWM")
    res = {"read_s": t1 - t0, "network_s": t2 - t1, "total_s": t2 - t0, "cpu_s": c2 - c0,
           "read_cpu_s": c1 - c0, "network_cpu_s": c2 - c1,
           "base_kb": base, "peak_kb": peak, "nodes": net.n_nodes, "edges": net.n_edges}
    if out:
        np.savez(out, u=roads.node_id[roads.edge_u], v=roads.node_id[roads.edge_v], length=roads.edge_length_m)
    if save_dir:
        npz = Path(save_dir) / "ours.npz"
        t = time.perf_counter()
        net.save(npz)
        res["save_npz_s"] = time.perf_counter() - t
        t = time.perf_counter()
        RoadNetwork.load(npz)
        res["load_npz_s"] = time.perf_counter() - t
        res["npz_mb"] = npz.stat().st_size / 1e6
    return res


def child_osmnx(path: str, out: str) -> dict:
    import osmnx as ox

    from planner.network import DRIVEABLE_HIGHWAYS
    from planner.network.osm import _HGV_CHAIN, _LIGHT_CHAIN, access_value
    from planner.network.vehicle import DENIED_ACCESS

    ox.settings.useful_tags_way = list(ox.settings.useful_tags_way) + [t for t in TRUCK_TAGS if t not in ox.settings.useful_tags_way]
    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    c0 = time.process_time()
    G = ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
    t1 = time.perf_counter()
    c1 = time.process_time()
    peak = _status_kb("VmHWM")
    us, vs, ls = [], [], []
    for u, v, d in G.edges(data=True):  # the same road filter as ours (not timed)
        if d.get("highway") not in DRIVEABLE_HIGHWAYS or d.get("area") == "yes":
            continue
        if access_value(d, _HGV_CHAIN) in DENIED_ACCESS and access_value(d, _LIGHT_CHAIN) in DENIED_ACCESS:
            continue
        us.append(u)
        vs.append(v)
        ls.append(d["length"])
    np.savez(out, u=np.array(us, dtype=np.int64), v=np.array(vs, dtype=np.int64), length=np.array(ls))
    return {"total_s": t1 - t0, "cpu_s": c1 - c0, "base_kb": base, "peak_kb": peak,
            "graph_nodes": G.number_of_nodes(), "graph_edges": G.number_of_edges(), "edges": len(us)}


def run_child(*args: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    if r.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(a_file: Path, b_file: Path) -> dict:
    a, b = np.load(a_file), np.load(b_file)
    if a["u"].size != b["u"].size:
        return {"same_edges": False, "edges_ours": int(a["u"].size), "edges_osmnx": int(b["u"].size)}
    oa = np.lexsort((a["length"], a["v"], a["u"]))
    ob = np.lexsort((b["length"], b["v"], b["u"]))
    same = bool(np.array_equal(a["u"][oa], b["u"][ob]) and np.array_equal(a["v"][oa], b["v"][ob]))
    rel = np.abs(a["length"][oa] / b["length"][ob] - 1) if same else np.array([np.inf])
    return {"same_edges": same, "edges": int(a["u"].size), "max_rel_length_diff": float(rel.max()),
            "total_km_ours": float(a["length"].sum() / 1000), "total_km_osmnx": float(b["length"].sum() / 1000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=1_000_000, help="nodes in the extract (default: %(default)s)")
    ap.add_argument("--workdir", default=None, help="where to write the extract (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--reuse", action="store_true", help="reuse grid.osm.pbf and grid.osm already in --workdir")
    ap.add_argument("--no-xml-ours", action="store_true", help="skip our reader on the XML twin")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = child_ours(rest[0], rest[1], rest[2] if len(rest) > 2 else None) if kind == "ours" else child_osmnx(*rest)
        print(json.dumps(res))
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="yizhan-osm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    pbf, xml = work / "grid.osm.pbf", work / "grid.osm"
    t = time.perf_counter()
    if args.reuse and pbf.is_file() and xml.is_file():
        print(f"extract: reusing {pbf} ({pbf.stat().st_size / 1e6:.1f} MB) and {xml} ({xml.stat().st_size / 1e6:.1f} MB)")
    else:
        counts = write_extract(pbf, xml, args.nodes)
        print(f"extract: {counts['nodes']:,} nodes ({counts['road_nodes']:,} on roads, {counts['buildings']:,} buildings), "
              f"{counts['ways']:,} road ways ({counts['oneway']:,} one-way, {counts['limits']:,} with truck rules, "
              f"{counts['not_for_trucks']:,} not for trucks); pbf {pbf.stat().st_size / 1e6:.1f} MB, "
              f"xml {xml.stat().st_size / 1e6:.1f} MB; written in {time.perf_counter() - t:.1f} s")

    ours = run_child("ours", str(pbf), str(work / "edges_ours.npz"), str(work))
    print(f"ours  (pbf): {ours['total_s']:.2f} s (read {ours['read_s']:.2f} s + network {ours['network_s']:.2f} s, "
          f"cpu {ours['cpu_s']:.2f} s = {ours['read_cpu_s']:.2f} + {ours['network_cpu_s']:.2f}), peak RSS {ours['peak_kb'] / 1024:.0f} MB "
          f"({(ours['peak_kb'] - ours['base_kb']) / 1024:.0f} MB above imports); "
          f"{ours['nodes']:,} nodes, {ours['edges']:,} edges; .npz save {ours['save_npz_s']:.2f} s, "
          f"load {ours['load_npz_s']:.2f} s ({ours['npz_mb']:.0f} MB)")
    if not args.no_xml_ours:
        ours_xml = run_child("ours", str(xml), str(work / "edges_ours_xml.npz"))
        same_xml = compare(work / "edges_ours.npz", work / "edges_ours_xml.npz")
        print(f"ours  (xml): {ours_xml['total_s']:.2f} s, peak RSS {ours_xml['peak_kb'] / 1024:.0f} MB; "
              f"same edges as from pbf: {same_xml['same_edges']}")
    ox_res = run_child("osmnx", str(xml), str(work / "edges_osmnx.npz"))
    print(f"osmnx (xml): {ox_res['total_s']:.2f} s (cpu {ox_res['cpu_s']:.2f} s), peak RSS {ox_res['peak_kb'] / 1024:.0f} MB "
          f"({(ox_res['peak_kb'] - ox_res['base_kb']) / 1024:.0f} MB above imports); graph {ox_res['graph_nodes']:,} nodes, "
          f"{ox_res['graph_edges']:,} edges, {ox_res['edges']:,} truck-road edges")
    cmp = compare(work / "edges_ours.npz", work / "edges_osmnx.npz")
    speed = ox_res["cpu_s"] / ours["cpu_s"]
    speed_wall = ox_res["total_s"] / ours["total_s"]
    mem = (ours["peak_kb"] - ours["base_kb"]) / max(ox_res["peak_kb"] - ox_res["base_kb"], 1)
    mem_total = ours["peak_kb"] / ox_res["peak_kb"]
    print(f"edges identical: {cmp['same_edges']} ({cmp.get('edges', 0):,}); "
          f"max relative length difference {cmp.get('max_rel_length_diff', float('nan')):.2e} (target ≤ 1e-4)")
    print(f"speed: ours {speed:.1f}× faster than osmnx graph_from_xml in CPU time (target ≥ 5×): "
          f"{'met' if speed >= 5 else 'NOT met'}; {speed_wall:.1f}× in wall time")
    print(f"memory: ours {mem:.3f} of osmnx above imports (target ≤ 0.333): {'met' if mem <= 1 / 3 else 'NOT met'}; "
          f"{mem_total:.3f} of its total peak RSS")
    if not args.keep and args.workdir is None:
        for f in work.iterdir():
            f.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
