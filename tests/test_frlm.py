"""FRLM: the optimum against brute force, every covered share re-checked by an independent
round-trip simulation, honest bounds under a time limit, set cover, bad input, the CLI."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from planner.errors import InfeasibleError, InputError
from planner.siting import charging_stops, max_gap_check, solve_frlm, solve_frlm_cover

ROOT = Path(__file__).resolve().parents[1]


# -- the independent reference: drive the round trip with a battery ----------------------------
def drive(G, out_path, back_path, sites, R):
    """Walk origin → destination → origin; half a charge at the start unless the origin is a
    site, full charge at every site; feasible iff the battery never goes below zero."""
    seq = list(out_path) + list(back_path[1:])
    battery = R if seq[0] in sites else R / 2
    for a, b in zip(seq[:-1], seq[1:]):
        if a in sites:
            battery = R
        battery -= G[a][b]["length_km"]
        if battery < -1e-9:
            return False
    return True


def trips(G, flows):
    out = []
    for o, d in zip(flows["origin"], flows["destination"]):
        path = nx.dijkstra_path(G, o, d, weight="length_km")
        back = path[::-1] if not G.is_directed() else nx.dijkstra_path(G, d, o, weight="length_km")
        out.append((path, back))
    return out


def covered_volume(G, flows, paths, sites, R):
    sites = set(sites)
    return sum(v for (p, b), v in zip(paths, flows["volume"]) if drive(G, p, b, sites, R))


def brute(G, flows, paths, p, R, candidates, existing=()):
    best = -1.0
    free = [c for c in candidates if c not in set(existing)]
    for S in itertools.combinations(free, p - len(existing)):
        best = max(best, covered_volume(G, flows, paths, set(S) | set(existing), R))
    return best


def random_instance(seed, n=None, directed=False):
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(7, 12))
    G0 = nx.connected_watts_strogatz_graph(n, 3, 0.4, seed=int(rng.integers(1_000_000)))
    G = nx.DiGraph() if directed else nx.Graph()
    for u, v in G0.edges:
        if directed:
            G.add_edge(u, v, length_km=float(rng.uniform(10, 120)))
            G.add_edge(v, u, length_km=float(rng.uniform(10, 120)))
        else:
            G.add_edge(u, v, length_km=float(rng.uniform(10, 120)))
    pairs = [(a, b) for a in G for b in G if a < b]
    flows = pd.DataFrame([(a, b, float(rng.integers(1, 30))) for a, b in pairs],
                         columns=["origin", "destination", "volume"])
    return G, flows


# -- exactness -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["auto", "mip"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("R", [100.0, 160.0, 250.0])
def test_optimum_equals_brute_force_and_simulation(seed, R, method):
    G, flows = random_instance(seed)
    paths = trips(G, flows)
    total = float(flows["volume"].sum())
    for p in (1, 2, 3):
        best = brute(G, flows, paths, p, R, list(G.nodes))
        res = solve_frlm(G, flows, p, range_km=R, method=method)
        assert res.optimal and len(res.selected) == p
        assert res.covered_volume == pytest.approx(best)
        # every reported share re-checked by driving the round trips
        sim = [drive(G, a, b, set(res.selected), R) for a, b in paths]
        assert list(res.covered) == sim
        assert res.covered_share == pytest.approx(covered_volume(G, flows, paths, res.selected, R) / total)
        assert res.upper_bound == pytest.approx(best)
        assert res.objective == res.covered_volume


@pytest.mark.parametrize("seed", range(4))
def test_existing_sites_stay_open_and_candidates_restrict(seed):
    G, flows = random_instance(100 + seed)
    paths = trips(G, flows)
    nodes = list(G.nodes)
    existing = [nodes[0]]
    candidates = nodes[: len(nodes) - 2]
    for p, method in [(2, "auto"), (3, "auto"), (2, "mip"), (3, "mip")]:
        best = brute(G, flows, paths, p, 150.0, candidates, existing)
        res = solve_frlm(G, flows, p, range_km=150.0, candidates=candidates, existing=existing, method=method)
        assert set(existing) <= set(res.selected) and set(res.selected) <= set(candidates)
        assert res.optimal and res.covered_volume == pytest.approx(best)
        assert res.covered_volume == pytest.approx(covered_volume(G, flows, paths, res.selected, 150.0))


@pytest.mark.parametrize("seed", range(3))
def test_directed_graph_uses_the_shortest_way_back(seed):
    G, flows = random_instance(200 + seed, directed=True)
    paths = trips(G, flows)
    for p in (1, 2):
        best = brute(G, flows, paths, p, 200.0, list(G.nodes))
        res = solve_frlm(G, flows, p, range_km=200.0)
        assert res.covered_volume == pytest.approx(best)
        assert list(res.covered) == [drive(G, a, b, set(res.selected), 200.0) for a, b in paths]


def test_half_charge_at_the_start_and_full_charge_at_a_site():
    # a line 0 - 1 - 2 with 40 km arcs; R = 100: the 80 km one-way trip needs 160 km
    G = nx.Graph()
    G.add_edge(0, 1, length_km=40.0)
    G.add_edge(1, 2, length_km=40.0)
    flows = pd.DataFrame({"origin": [0], "destination": [2], "volume": [5.0]})
    # no site: 50 km of charge for a 160 km round trip
    assert not solve_frlm(G, flows, 1, range_km=100.0, candidates=[2]).covered[0]
    # a site at the midpoint: 40 km on half a charge, then 80 km legs between charges
    res = solve_frlm(G, flows, 1, range_km=100.0)
    assert res.selected == [1] and res.covered_share == 1.0
    # a short trip (round trip within half the range) needs no site at all
    short = pd.DataFrame({"origin": [0], "destination": [1], "volume": [2.0]})
    assert solve_frlm(G, short, 1, range_km=200.0, candidates=[2]).covered == (True,)


def test_greedy_reports_an_honest_upper_bound():
    for seed in range(5):
        G, flows = random_instance(300 + seed, n=11)
        paths = trips(G, flows)
        for p in (2, 3):
            best = brute(G, flows, paths, p, 140.0, list(G.nodes))
            g = solve_frlm(G, flows, p, range_km=140.0, method="greedy")
            assert g.covered_volume <= best + 1e-9
            assert g.upper_bound >= best - 1e-6
            assert g.covered_volume == pytest.approx(covered_volume(G, flows, paths, g.selected, 140.0))
            if g.optimal:
                assert g.covered_volume == pytest.approx(best)


def test_optimal_is_truthful_under_a_time_limit():
    rng = np.random.default_rng(7)
    pos = rng.uniform(0, 400, size=(60, 2))
    G = nx.random_geometric_graph(60, 95, pos={i: tuple(p) for i, p in enumerate(pos)}, seed=7)
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    for u, v in G.edges:
        G[u][v]["length_km"] = float(np.linalg.norm(pos[u] - pos[v]) * rng.uniform(1.1, 1.4))
    od = sorted(G.nodes)[:25]
    flows = pd.DataFrame([(a, b, float(rng.integers(1, 50))) for a, b in itertools.combinations(od, 2)],
                         columns=["origin", "destination", "volume"])
    p, R = 3, 250.0
    exact = solve_frlm(G, flows, p, range_km=R)
    assert exact.optimal and exact.method == "bnb"
    assert solve_frlm(G, flows, p, range_km=R, method="mip").covered_volume == pytest.approx(exact.covered_volume)
    # the greedy start is not optimal here, so an answer stopped early can be told apart
    greedy = solve_frlm(G, flows, p, range_km=R, method="greedy")
    assert greedy.covered_volume < exact.covered_volume
    paths = trips(G, flows)
    for method in ("auto", "mip"):
        rushed = solve_frlm(G, flows, p, range_km=R, time_limit_s=1e-4, method=method)
        assert rushed.upper_bound >= exact.covered_volume - 1e-6
        assert rushed.covered_volume <= exact.covered_volume + 1e-9
        if rushed.optimal:
            assert rushed.covered_volume == pytest.approx(exact.covered_volume)
        else:
            assert rushed.gap is not None and rushed.gap > 0
        assert rushed.covered_volume == pytest.approx(covered_volume(G, flows, paths, rushed.selected, R))
    assert not solve_frlm(G, flows, p, range_km=R, time_limit_s=1e-4).optimal  # stopped before the search
    assert exact.covered_volume == pytest.approx(covered_volume(G, flows, paths, exact.selected, R))


# -- set cover and the max-gap check -----------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_set_cover_makes_every_coverable_flow_feasible_with_fewest_sites(seed):
    G, flows = random_instance(400 + seed, n=9)
    paths = trips(G, flows)
    R = 130.0
    res = solve_frlm_cover(G, flows, range_km=R)
    assert res.optimal
    bad = {f["flow"] for f in res.infeasible_flows}
    for q, (a, b) in enumerate(paths):
        ok = drive(G, a, b, set(res.selected), R)
        assert ok == (q not in bad)
        if q in bad:  # no set of sites at all serves it
            assert not drive(G, a, b, set(G.nodes), R)
            f = next(f for f in res.infeasible_flows if f["flow"] == q)
            arcs = [G[u][v]["length_km"] for u, v in zip(a[:-1], a[1:])]
            assert f["reason"] == "arc_longer_than_range" and max(arcs) > R
    # fewest: no smaller set serves every coverable flow
    need = [q for q in range(len(paths)) if q not in bad]
    k = int(res.objective)
    for S in itertools.combinations(G.nodes, k - 1) if k > 0 else ():
        assert not all(drive(G, *paths[q], set(S), R) for q in need)
    gaps = max_gap_check(G, flows, res.selected, range_km=R)
    assert (gaps["feasible"].to_numpy() == np.array(res.covered)).all()
    assert (gaps.loc[gaps["feasible"], "max_gap_km"] <= R + 1e-9).all()
    assert (gaps.loc[~gaps["feasible"], "max_gap_km"] > R).all()


def test_charging_stops_only_where_needed():
    G = nx.path_graph(5)
    for u, v in G.edges:
        G[u][v]["length_km"] = 50.0
    flows = pd.DataFrame({"origin": [0], "destination": [4], "volume": [3.0]})
    # R = 120: start with 60, charge at 1 (10 left), reach 3 with 20 left -> charge, turn at 4,
    # back at 3 with 20 -> charge, 1 with 20 -> charge, home with 70
    stops = charging_stops(G, flows, [1, 3], range_km=120.0)
    assert stops == [{1: 2, 3: 2}]
    assert charging_stops(G, flows, [1], range_km=120.0) == [None]


# -- bad input ---------------------------------------------------------------------------------------
def small():
    G = nx.path_graph(4)
    for u, v in G.edges:
        G[u][v]["length_km"] = 30.0
    return G, pd.DataFrame({"origin": [0, 1], "destination": [3, 2], "volume": [1.0, 2.0]})


@pytest.mark.parametrize("R", [0, -5, float("nan"), float("inf"), "200"])
def test_bad_range(R):
    G, flows = small()
    with pytest.raises(InputError) as e:
        solve_frlm(G, flows, 1, range_km=R)
    assert "range_km" in e.value.fields


def test_unknown_nodes_and_bad_flows():
    G, flows = small()
    with pytest.raises(InputError) as e:
        solve_frlm(G, pd.DataFrame({"origin": [0], "destination": [99], "volume": [1.0]}), 1, range_km=100)
    assert "flows.destination" in e.value.fields and "99" in str(e.value)
    with pytest.raises(InputError, match="lacks column"):
        solve_frlm(G, flows.drop(columns="volume"), 1, range_km=100)
    with pytest.raises(InputError, match="volume"):
        solve_frlm(G, flows.assign(volume=[-1.0, 2.0]), 1, range_km=100)
    with pytest.raises(InputError, match="two different nodes"):
        solve_frlm(G, pd.DataFrame({"origin": [1], "destination": [1], "volume": [1.0]}), 1, range_km=100)
    with pytest.raises(InputError) as e:
        solve_frlm(G, flows, 1, range_km=100, candidates=[0, 42])
    assert "candidates" in e.value.fields
    H = nx.Graph()
    H.add_edge(0, 1)
    with pytest.raises(InputError, match="length_km"):
        solve_frlm(H, pd.DataFrame({"origin": [0], "destination": [1], "volume": [1.0]}), 1, range_km=100)


def test_p_out_of_range():
    G, flows = small()
    with pytest.raises(InfeasibleError) as e:
        solve_frlm(G, flows, 3, range_km=100, candidates=[1, 2])
    assert "p" in e.value.fields and "2 candidate" in str(e.value)
    with pytest.raises(InfeasibleError):
        solve_frlm(G, flows, 1, range_km=100, existing=[1, 2])
    with pytest.raises(InputError):
        solve_frlm(G, flows, 0, range_km=100)


def test_no_route_is_reported_not_dropped():
    G, flows = small()
    G.add_edge(10, 11, length_km=5.0)
    flows = pd.concat([flows, pd.DataFrame({"origin": [0], "destination": [10], "volume": [4.0]})], ignore_index=True)
    res = solve_frlm_cover(G, flows, range_km=100)
    assert [f["reason"] for f in res.infeasible_flows] == ["no_route"]
    assert res.covered[-1] is False and res.total_volume == 7.0


# -- the CLI on the embedded region ---------------------------------------------------------------
def run_cli(*args, tmp_path):
    env = {**os.environ, "YIZHAN_DB": str(tmp_path / "reg.sqlite"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "planner", "charging", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def test_charging_cli_json_shape_and_beichuan(tmp_path):
    out = run_cli("--range-km", "200", "--k", "2", "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in ("range_km", "k", "sites", "before", "after", "optimal", "bound", "capacity"):
        assert key in doc
    assert doc["range_km"] == 200 and doc["k"] == 2
    assert {"flow_share", "trucks_per_day"} <= set(doc["before"]) and {"flow_share", "trucks_per_day"} <= set(doc["after"])
    ids = [s["id"] for s in doc["sites"]]
    assert "MY-DH-09" in ids and len(ids) == 3  # Beichuan's megawatt station stays open
    assert doc["after"]["flow_share"] >= doc["before"]["flow_share"]
    assert doc["optimal"] is True and doc["bound"] == pytest.approx(doc["after"]["flow_share"])
    for c in doc["capacity"]:
        assert {"site", "trucks_per_day", "peak_per_hour", "chargers", "p_wait_over_15_min"} <= set(c)
        assert c["p_wait_over_15_min"] <= 0.05
    assert doc["flows"]["data_status"] == "illustrative"
    only = json.loads(run_cli("--range-km", "200", "--existing-only", "--json", tmp_path=tmp_path).stdout)
    assert only["k"] == 0 and only["before"] == only["after"] == doc["before"]
    assert [s["id"] for s in only["sites"]] == ["MY-DH-09"]


def test_charging_cli_bad_range_exits_2(tmp_path):
    out = run_cli("--range-km", "0", "--json", tmp_path=tmp_path)
    assert out.returncode == 2 and "range_km" in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


# -- flows, O-D import and map layers on the embedded region ------------------------------------
@pytest.fixture(scope="module")
def region_network():
    from planner.network import RoadNetwork
    from planner.region import load_region

    region = load_region("mianyang")
    return region, RoadNetwork.from_corridors(region.corridors)


def test_gravity_flows_are_labelled_and_reach_every_kind_of_point(region_network):
    from planner.charging import TOTAL_TRUCKS_PER_DAY, gravity_flows, od_points

    region, network = region_network
    pts = od_points(region, network)
    assert {"hub", "generator", "county_seat", "gateway"} <= set(pts["kind"])
    assert {"FG-JY-STEEL", "FG-BC-GRAVEL", "HUB-TRANSFAR"} <= set(pts["id"])
    fl = gravity_flows(region, network, points=pts)
    assert (fl["data_status"] == "illustrative").all() and fl["source"].str.contains("illustrative").all()
    assert fl["volume"].sum() == pytest.approx(TOTAL_TRUCKS_PER_DAY)
    assert (fl["origin"] != fl["destination"]).all() and (fl["road_km"] >= 15).all()


def test_read_od_csv_snaps_and_rejects_bad_rows(region_network, tmp_path):
    from planner.charging import read_od_csv

    _, network = region_network
    good = tmp_path / "od.csv"
    good.write_text("origin_lon,origin_lat,destination_lon,destination_lat,volume\n"
                    "104.60,31.40,104.765,31.80,120\n104.57,31.98,104.60,31.40,80\n")
    df = read_od_csv(good, network)
    assert list(df["volume"]) == [120.0, 80.0] and (df["origin"] != df["destination"]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("origin_lon,origin_lat,destination_lon,destination_lat,volume\n104.6,31.4,104.7,x,3\n")
    with pytest.raises(InputError, match="line 2"):
        read_od_csv(bad, network)
    with pytest.raises(InputError, match="lacks column"):
        read_od_csv(_write(tmp_path / "c.csv", "a,b\n1,2\n"), network)


def _write(path, text):
    path.write_text(text)
    return path


def test_layers_mark_the_same_flows_covered_as_the_model(region_network):
    from planner.charging import charging_layers, gravity_flows, network_graph

    region, network = region_network
    fl = gravity_flows(region, network)
    G = network_graph(network)
    # the Beichuan node and one more site
    beichuan = int(network.snap(104.59, 31.98)[0])
    res = solve_frlm(G, fl[["origin", "destination", "volume"]], 2, range_km=200.0, existing=[beichuan],
                     candidates=[beichuan] + list(range(0, network.n_nodes, 40)))
    layers = charging_layers(network, fl, res.selected, range_km=200.0, graph=G)
    feats = layers["flows"]["features"]
    assert len(feats) == len(fl)
    assert [f["properties"]["covered"] for f in feats] == list(res.covered)
    assert sum(f["properties"]["volume"] for f in feats if f["properties"]["covered"]) == pytest.approx(res.covered_volume)
    assert {f["properties"]["node"] for f in layers["sites"]["features"]} == set(res.selected)
    json.dumps(layers)  # GeoJSON-ready
