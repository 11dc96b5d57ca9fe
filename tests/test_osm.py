"""OpenStreetMap import (pbf and XML through one streaming reader), truck rules and vehicles."""

from __future__ import annotations

import bz2
import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import osmium
import pytest
from pyproj import Geod

from planner.access import NearestIndex
from planner.cli import main
from planner.errors import InputError
from planner.network import HIGHWAY_SPEED_KMH, RoadNetwork
from planner.network.osm import parse_length_m, parse_weight_t, read_osm
from planner.network.store import gpkg_arrays
from planner.network.vehicle import BELOW_DEFAULT, DEFAULT_VEHICLE, Vehicle, allowed_edges, parse_vehicle

DATA = Path(__file__).resolve().parent / "data"
LIMITS = DATA / "truck_limits.osm"
TOWN = DATA / "small_town.osm"
TRUCK = "49t,4.2m,18m"
VAN = "3.5t,2.5m,6m"
LORRY = "8t,4.2m,18m"  # under the 10-t bridge, too tall for the 3.5-m underpass


def to_pbf(xml: Path, out: Path) -> Path:
    """The same OSM objects written as .osm.pbf by pyosmium."""
    with osmium.SimpleWriter(str(out), overwrite=True) as w:
        for obj in osmium.FileProcessor(str(xml)):
            w.add(obj)
    return out


def node_of(net: RoadNetwork, osmid: int) -> int:
    hit = np.flatnonzero(net.node_osmid == osmid)
    assert hit.size == 1, osmid
    return int(hit[0])


@pytest.fixture(scope="module")
def limits() -> RoadNetwork:
    return RoadNetwork.from_osm(LIMITS)


# --------------------------------------------------------------------------- tag parsing
@pytest.mark.parametrize(
    ("raw", "metres"),
    [
        ("3.5", 3.5), ("3.5 m", 3.5), ("3.5m", 3.5), ("3,5", 3.5), ("350 cm", 3.5),
        ("12'6\"", 3.81), ("12 ft 6 in", 3.81), ("14'", 4.2672), ("13 ft", 3.9624), ("4.2;3.8", 3.8),
    ],
)
def test_parse_length(raw, metres):
    assert parse_length_m(raw) == pytest.approx(metres, abs=1e-4)


@pytest.mark.parametrize(
    ("raw", "tonnes"),
    [("10", 10.0), ("10 t", 10.0), ("7.5t", 7.5), ("7,5", 7.5), ("10000 kg", 10.0), ("6000 lbs", 2.7215542), ("12 st", 10.886217)],
)
def test_parse_weight(raw, tonnes):
    assert parse_weight_t(raw) == pytest.approx(tonnes, rel=1e-6)


def test_parse_words_and_garbage():
    for word in ("none", "default", "unsigned", "no"):
        assert math.isnan(parse_length_m(word)) and math.isnan(parse_weight_t(word))
    assert parse_length_m("below_default") == BELOW_DEFAULT
    assert parse_weight_t("below_default") == BELOW_DEFAULT
    assert parse_length_m("3.5;below_default") == 3.5
    assert parse_length_m("low bridge") is None
    assert parse_weight_t("heavy") is None
    assert parse_length_m("-3") is None


def test_parse_vehicle():
    assert parse_vehicle(TRUCK) == Vehicle(49.0, 4.2, 18.0, 11.5)
    assert parse_vehicle(VAN) == Vehicle(3.5, 2.5, 6.0, 3.5)  # axle load never above the weight
    assert parse_vehicle("40000kg, 4 , 16.5m, 10t") == Vehicle(40.0, 4.0, 16.5, 10.0)
    assert parse_vehicle(None) == parse_vehicle("") == DEFAULT_VEHICLE == Vehicle(49.0, 4.0, 18.1, 11.5)
    assert parse_vehicle("van").weight_t == 3.5
    assert parse_vehicle(parse_vehicle(TRUCK).key()) == parse_vehicle(TRUCK)
    for bad in ("49t,4.2m,18m,11t,3", "heavy", "49t,,18m", "49m", "0t", "49t,40m", "5t,3m,6m,9t"):
        with pytest.raises(InputError) as err:
            parse_vehicle(bad)
        assert any(k.startswith("vehicle") for k in err.value.fields), bad


def test_allowed_edges_rules():
    rules = {
        "maxweight_t": np.array([np.nan, 10, 49, np.nan, np.nan, np.nan], dtype=np.float32),
        "maxheight_m": np.array([np.nan, np.nan, np.nan, 3.5, BELOW_DEFAULT, np.nan], dtype=np.float32),
        "hgv": np.array([0, 0, 0, 0, 0, 9], dtype=np.int8),  # 9 = "no"
        "access": np.zeros(6, dtype=np.int8),
    }
    truck = allowed_edges(rules, 6, parse_vehicle("49t,4.2m,18m"))
    assert truck.tolist() == [True, False, True, False, False, False]
    van = allowed_edges(rules, 6, parse_vehicle("3.5t,3.5m,6m"))  # exactly at the 3.5-m limit
    assert van.tolist() == [True, True, True, True, True, True]
    assert allowed_edges(None, 3, parse_vehicle(TRUCK)).all()


# --------------------------------------------------------------------------- routing with limits
def test_truck_goes_around_the_limits_and_the_van_through(limits):
    w, e = node_of(limits, 1), node_of(limits, 4)
    lon_w, lat_w = float(limits.node_lon[w]), float(limits.node_lat[w])
    station = {"id": "E", "name": "E", "lon": float(limits.node_lon[e]), "lat": float(limits.node_lat[e])}
    answers = {}
    for name, vehicle in (("truck", TRUCK), ("van", VAN), ("lorry", LORRY)):
        net = limits.for_vehicle(vehicle)
        index = NearestIndex(net, [station])
        answers[name] = (index.nearest(lon_w, lat_w, k=1)["results"][0]["road_km"], index.route(lon_w, lat_w, "E"))
    def nodes_on(route):  # the network nodes the route passes (edge-snapped ends are not nodes)
        hits = [np.flatnonzero(np.isclose(limits.node_lon, lon, atol=1e-7) & np.isclose(limits.node_lat, lat, atol=1e-7))
                for lon, lat in route]
        return {int(limits.node_osmid[h[0]]) for h in hits if h.size}

    via = {name: nodes_on(route) for name, (_, route) in answers.items()}
    # (a straight run's middle vertex may be merged away in the drawn route: check the roads' own nodes)
    assert 3 in via["van"] and not via["van"] & {5, 6, 7, 8, 9}  # road A, under the 3.5-m underpass
    assert {5, 6} <= via["lorry"] and not via["lorry"] & {2, 3, 7, 8, 9}  # road B, over the 10-t bridge
    assert {7, 8, 9} <= via["truck"] and not via["truck"] & {2, 3, 5, 6}  # the detour C
    km = {name: a[0] for name, a in answers.items()}
    assert km["van"] < km["lorry"] < km["truck"]
    # the detour's length is the sum of its great-circle segments
    c = [node_of(limits, i) for i in (1, 7, 8, 9, 4)]
    geod = Geod(ellps="WGS84")
    _, _, seg = geod.inv(limits.node_lon[c[:-1]], limits.node_lat[c[:-1]], limits.node_lon[c[1:]], limits.node_lat[c[1:]])
    assert km["truck"] == pytest.approx(seg.sum() / 1000, rel=5e-3)


def test_rules_on_edges(limits):
    r = limits.edge_rules
    n = {i: node_of(limits, i) for i in (2, 3, 5, 6, 10, 11, 12)}

    def edge(a, b):
        hit = np.flatnonzero((limits.edge_u == n[a]) & (limits.edge_v == n[b]))
        assert hit.size == 1
        return int(hit[0])

    assert r["maxheight_m"][edge(2, 3)] == pytest.approx(3.5) and r["maxheight_m"][edge(3, 2)] == pytest.approx(3.5)
    assert r["maxweight_t"][edge(5, 6)] == 10
    assert r["maxheight_m"][edge(2, 10)] == pytest.approx(4.1148, abs=1e-4)  # 13'6"
    assert r["maxweight_t"][edge(11, 12)] == 7.5  # 7500 kg
    assert r["oneway"][edge(2, 10)] and not r["oneway"][edge(2, 3)]
    assert not ((limits.edge_u == n[10]) & (limits.edge_v == n[2])).any()  # one-way kept directed
    truck = limits.for_vehicle(TRUCK)
    small_hgv = limits.for_vehicle("5t,3m,8m")  # over 3.5 t: hgv=no applies; under the 7.5-t limit
    assert small_hgv.length_csr[n[11], n[12]] == 0 and limits.for_vehicle(VAN).length_csr[n[11], n[12]] > 0
    assert not ((limits.edge_u == limits.edge_v).any())  # a repeated node makes no self-loop
    assert 13 not in set(limits.node_osmid.tolist())  # the track is dropped
    assert truck is limits.for_vehicle(parse_vehicle(TRUCK))  # cached per vehicle
    assert truck.n_nodes == limits.n_nodes and truck.n_edges < limits.n_edges


def test_corridor_network_has_no_restrictions(workspace):
    net = workspace.network
    assert net.edge_rules is None
    assert net.for_vehicle(TRUCK) is net and net.for_vehicle(VAN) is net


# --------------------------------------------------------------------------- one reader, all formats
@pytest.mark.parametrize("source", [TOWN, LIMITS])
def test_pbf_and_xml_twins_give_identical_networks(source, tmp_path):
    xml = RoadNetwork.from_osm(source)
    twins = [to_pbf(source, tmp_path / f"{source.stem}.osm.pbf")]
    gz = tmp_path / f"{source.stem}.osm.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    bz = tmp_path / f"{source.stem}.osm.bz2"
    bz.write_bytes(bz2.compress(source.read_bytes()))
    twins += [gz, bz]
    for twin in twins:
        other = RoadNetwork.from_osm(twin)
        assert other.n_nodes == xml.n_nodes and other.n_edges == xml.n_edges
        np.testing.assert_array_equal(other.node_osmid, xml.node_osmid)
        np.testing.assert_array_equal(other.node_lon, xml.node_lon)
        np.testing.assert_array_equal(other.node_lat, xml.node_lat)
        ours = sorted(zip(other.edge_u.tolist(), other.edge_v.tolist(), other.edge_length_m.tolist(), other.edge_speed_kmh.tolist()))
        theirs = sorted(zip(xml.edge_u.tolist(), xml.edge_v.tolist(), xml.edge_length_m.tolist(), xml.edge_speed_kmh.tolist()))
        assert ours == theirs
        for k in xml.edge_rules:
            np.testing.assert_array_equal(np.sort(other.edge_rules[k]), np.sort(xml.edge_rules[k]))


def _grid_pbf(path: Path, lon0: float, lat0: float, n: int = 12, step_deg: float = 0.004) -> Path:
    """A small road grid written with pyosmium's writer, with diagonal ways too."""
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        for i in range(n):
            for j in range(n):
                w.add_node(osmium.osm.mutable.Node(id=1 + i * n + j, location=(lon0 + j * step_deg, lat0 + i * step_deg * 0.9)))
        wid = 1
        for i in range(n):
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + i * n + j for j in range(n)], tags={"highway": "secondary"}))
            w.add_way(osmium.osm.mutable.Way(id=wid + 1, nodes=[1 + j * n + i for j in range(n)], tags={"highway": "residential"}))
            wid += 2
        w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[1 + k * n + k for k in range(n)], tags={"highway": "trunk"}))
    return path


@pytest.mark.parametrize(("lon0", "lat0"), [(104.7, 31.4), (-122.4, 37.7), (11.5, 48.1), (151.1, -33.9), (-70.7, -33.5)])
def test_lengths_match_great_circle(tmp_path, lon0, lat0):
    """The reader's lengths against the WGS-84 geodesic, in five UTM zones, both hemispheres.

    (This checks what the reader measures; the network's floor at the straight projected
    distance follows the network's CRS, which is the region's own.)"""
    roads = read_osm(_grid_pbf(tmp_path / "grid.osm.pbf", lon0, lat0), highway_speed_kmh=HIGHWAY_SPEED_KMH,
                     speed_of=lambda tags: 50.0)
    assert roads.edge_u.size == 2 * (2 * 12 * 11 + 11)
    geod = Geod(ellps="WGS84")
    lon, lat = roads.node_lon, roads.node_lat
    _, _, ref = geod.inv(lon[roads.edge_u], lat[roads.edge_u], lon[roads.edge_v], lat[roads.edge_v])
    err = np.abs(roads.edge_length_m / ref - 1)
    assert np.median(err) < 0.005 and err.max() < 0.02


# --------------------------------------------------------------------------- save / load
def test_save_and_load_keep_rules(limits, tmp_path):
    out = limits.save(tmp_path / "limits.gpkg")
    assert (tmp_path / "limits.npz").is_file()
    fast = RoadNetwork.load(out)  # the .npz beside it
    slow = RoadNetwork(**gpkg_arrays(out))  # the GeoPackage itself
    for net in (fast, slow):
        np.testing.assert_array_equal(net.edge_u, limits.edge_u)
        np.testing.assert_allclose(net.edge_length_m, limits.edge_length_m)
        for k, a in limits.edge_rules.items():
            np.testing.assert_array_equal(net.edge_rules[k], a)
        assert net.for_vehicle(TRUCK).n_edges == limits.for_vehicle(TRUCK).n_edges
    # a stale .npz (older than the GeoPackage) is not used
    shutil.copy(tmp_path / "limits.npz", tmp_path / "other.npz")
    (tmp_path / "limits.npz").write_bytes(b"not an npz")
    assert RoadNetwork.load(out).n_edges == limits.n_edges
    with pytest.raises(InputError, match="not a readable network"):
        RoadNetwork.load(tmp_path / "limits.npz")


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def run(tmp_path, capsys):
    def _run(*argv):
        code = main(["--db", str(tmp_path / "cli.sqlite"), *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def test_cli_import_pbf_and_nearest_with_vehicle(run, tmp_path):
    pbf = to_pbf(LIMITS, tmp_path / "limits.osm.pbf")
    code, out, err = run("import-osm", pbf, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["out"] == str(tmp_path / "limits.network.gpkg") and summary["edges"] == 26
    assert summary["edges_with_limits"] == 10
    assert "road nodes read" in err  # progress on stderr
    answers = {}
    for vehicle in (TRUCK, VAN):
        for net_file in (summary["out"], summary["arrays"]):
            code, out, err = run("nearest", "--network", net_file, "--lon", 104.8, "--lat", 31.4, "--vehicle", vehicle, "--json")
            assert code == 0, err
            result = json.loads(out)
            assert result["vehicle"] == parse_vehicle(vehicle).as_dict()
            answers[vehicle, net_file] = {r["id"]: r["road_km"] for r in result["results"]}
    assert answers[TRUCK, summary["out"]] == answers[TRUCK, summary["arrays"]]
    first = next(iter(answers[VAN, summary["out"]]))
    assert answers[VAN, summary["out"]][first] <= answers[TRUCK, summary["out"]].get(first, math.inf)
    code, out, err = run("nearest", "--network", summary["out"], "--lon", 104.8, "--lat", 31.4, "--vehicle", "49t,tall")
    assert code == 2 and "vehicle" in err and "Traceback" not in err


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    pbf = to_pbf(TOWN, tmp_path / "good.osm.pbf").read_bytes()
    files = {
        "not gzip": tmp_path / "plain.osm.gz",
        "not bzip2": tmp_path / "plain.osm.bz2",
        "truncated pbf": tmp_path / "cut.osm.pbf",
        "garbage pbf": tmp_path / "noise.osm.pbf",
        "xml named pbf": tmp_path / "xml.osm.pbf",
        "truncated gzip": tmp_path / "cut.osm.gz",
        "empty": tmp_path / "empty.osm",
        "missing node": DATA / "missing_node.osm",
        "malformed xml": DATA / "malformed.osm",
        "not there": tmp_path / "nowhere.osm.pbf",
        "wrong suffix": tmp_path / "roads.txt",
    }
    files["not gzip"].write_bytes(TOWN.read_bytes())
    files["not bzip2"].write_bytes(TOWN.read_bytes())
    files["truncated pbf"].write_bytes(pbf[: len(pbf) // 2])
    files["garbage pbf"].write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 20)
    files["xml named pbf"].write_bytes(TOWN.read_bytes())
    files["truncated gzip"].write_bytes(gzip.compress(TOWN.read_bytes())[:200])
    files["empty"].write_bytes(b"")
    files["wrong suffix"].write_bytes(TOWN.read_bytes())
    return files


def test_bad_files_exit_2_with_a_message(run, tmp_path):
    for what, path in _bad_files(tmp_path).items():
        code, out, err = run("import-osm", path, "--out", tmp_path / "out.gpkg", "--quiet")
        assert code == 2, what
        assert err.startswith("error: ") and path.name in err and "Traceback" not in err, (what, err)
        assert not (tmp_path / "out.gpkg").exists(), what
    code, out, err = run("import-osm", TOWN, "--out", tmp_path / "no" / "such" / "dir.gpkg", "--quiet")
    assert code == 2 and "does not exist" in err


# --------------------------------------------------------------------------- HTTP
def test_api_nearest_names_the_vehicle(tmp_path):
    from app import create_app
    from planner.workspace import Workspace

    net_file = RoadNetwork.from_osm(LIMITS).save(tmp_path / "limits.gpkg")
    ws = Workspace(db_path=tmp_path / "reg.sqlite", network_path=net_file)
    client = create_app({"TESTING": True, "WORKSPACE": ws, "TILES": None}).test_client()
    r = client.get("/api/nearest", query_string={"lon": 104.8, "lat": 31.4, "vehicle": VAN})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["vehicle"] == {"weight_t": 3.5, "height_m": 2.5, "length_m": 6.0, "axle_load_t": 3.5}
    r = client.get("/api/nearest", query_string={"lon": 104.8, "lat": 31.4})
    assert r.get_json()["vehicle"] == DEFAULT_VEHICLE.as_dict()
    r = client.get("/api/along-route", query_string={"from": "104.8,31.4", "to": "104.95,31.4", "vehicle": TRUCK})
    assert r.status_code == 200 and r.get_json()["vehicle"]["height_m"] == 4.2
    assert r.get_json()["route_km"] > 30.0  # the truck's route is the detour C (~37 km)
    r = client.get("/api/along-route", query_string={"from": "104.8,31.4", "to": "104.95,31.4", "vehicle": VAN})
    assert r.get_json()["route_km"] < 15.0  # the van takes road A (~14 km)
    r = client.get("/api/nearest", query_string={"lon": 104.8, "lat": 31.4, "vehicle": "heavy"})
    assert r.status_code == 400 and "vehicle" in json.dumps(r.get_json()["error"])


def test_corridor_network_round_trips_through_npz(workspace, tmp_path):
    import pandas as pd

    net = workspace.network
    net.save(tmp_path / "corridors.npz")
    back = RoadNetwork.load(tmp_path / "corridors.npz")
    np.testing.assert_array_equal(back.edge_u, net.edge_u)
    np.testing.assert_allclose(back.edge_time_s, net.edge_time_s)
    assert back.edge_ref.tolist() == net.edge_ref.tolist()
    pd.testing.assert_frame_equal(back.corridor_samples(), net.corridor_samples(), check_dtype=False)


def test_cut_ways_keeps_the_parts_inside_the_file(tmp_path):
    """A bounding-box cut (way 100 runs 1-2-3, node 3 is outside the file): refused by
    default, and with cut_ways the segment 1-2 is kept, the one to the missing node dropped;
    a way that leaves and re-enters the file keeps both inside parts, never a jump across."""
    with pytest.raises(InputError, match="--cut-ways"):
        RoadNetwork.from_osm(DATA / "missing_node.osm")
    net = RoadNetwork.from_osm(DATA / "missing_node.osm", cut_ways=True)
    assert sorted(zip(net.node_osmid[net.edge_u].tolist(), net.node_osmid[net.edge_v].tolist())) == [(1, 2), (2, 1)]
    geod = Geod(ellps="WGS84")
    assert net.edge_length_m[0] == pytest.approx(geod.inv(104.7, 31.45, 104.705, 31.45)[2], rel=5e-3)
    xml = tmp_path / "reenter.osm"
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        '<node id="1" lat="31.45" lon="104.70"/><node id="2" lat="31.45" lon="104.705"/>'
        '<node id="4" lat="31.45" lon="104.715"/><node id="5" lat="31.45" lon="104.72"/>'
        '<way id="7"><nd ref="1"/><nd ref="2"/><nd ref="9"/><nd ref="4"/><nd ref="5"/>'
        '<tag k="highway" v="primary"/><tag k="oneway" v="yes"/></way></osm>', encoding="utf-8")
    net = RoadNetwork.from_osm(xml, cut_ways=True, retain_all=True)
    assert sorted(zip(net.node_osmid[net.edge_u].tolist(), net.node_osmid[net.edge_v].tolist())) == [(1, 2), (4, 5)]
