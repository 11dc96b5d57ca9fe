"""Nearest station by road, filters, routes, stations along a route, multi-source Dijkstra."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, Point

from planner.access import NearestIndex
from planner.errors import InfeasibleError, InputError, NotFoundError
from planner.network import RoadNetwork
from planner.stations import AMENITIES, is_open
from tests.edge_reference import cuts_for, edge_lines, reference

DATA = Path(__file__).resolve().parent / "data"
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
BBOX = (104.45, 31.05, 105.15, 32.5)  # around the synthetic corridors
FILTER_NAMES = ("shower", "laundry", "dining", "free_hot_water", "secure_parking")
HUB = (104.78, 31.56)


def make_corridors() -> gpd.GeoDataFrame:
    """Three synthetic corridors meeting at exactly the same hub coordinate."""
    return gpd.GeoDataFrame(
        {"ref": ["G5", "G93", "G8513"], "speed_kmh": [90.0, 80.0, 60.0]},
        geometry=[
            LineString([(104.64, 31.39), (104.72, 31.50), HUB, (104.80, 31.69)]),
            LineString([HUB, (104.92, 31.45), (105.05, 31.12)]),
            LineString([(104.55, 32.41), (104.63, 31.90), (104.76, 31.78), HUB]),
        ],
        crs="EPSG:4326",
    )


def station(sid, lon, lat, *, amenities=(), power_kw=None, hours="24h", status="open", kind="service_area"):
    bays = [{"count": 2, "power_kw": float(power_kw)}] if power_kw else []
    return {
        "id": sid,
        "name": f"DEMO-{sid}",
        "lon": lon,
        "lat": lat,
        "kind": kind,
        "amenities": {a: a in amenities for a in AMENITIES},
        "charging": {
            "bays": bays,
            "total_kw": sum(b["count"] * b["power_kw"] for b in bays),
            "max_power_kw": float(power_kw or 0.0),
            "swap": False,
        },
        "hours": hours,
        "status": status,
        "data_status": "illustrative",
    }


def synthetic_stations() -> list[dict]:
    rng = np.random.default_rng(2025)
    out = []
    for i in range(14):
        lon, lat = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
        names = tuple(a for a in FILTER_NAMES if rng.random() < 0.5)
        power = [None, 120.0, 600.0, 1440.0][i % 4]
        hours = ["24h", "08:00-20:00", "20:00-06:00", "06:30-22:00"][i % 4]
        out.append(station(f"S{i:02d}", float(lon), float(lat), amenities=names, power_kw=power, hours=hours))
    out.append(station("RETIRED", 104.78, 31.56, amenities=FILTER_NAMES, power_kw=2000, status="retired"))
    return out


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return RoadNetwork.from_corridors(make_corridors())


@pytest.fixture(scope="module")
def stations() -> list[dict]:
    return synthetic_stations()


@pytest.fixture(scope="module")
def index(net, stations) -> NearestIndex:
    return NearestIndex(net, stations)


@pytest.fixture(scope="module")
def lines(net):
    return edge_lines(net)


def eligible(s, amenities, min_power_kw, open_at) -> bool:
    if s["status"] == "retired":
        return False
    if not all(s["amenities"][a] for a in amenities):
        return False
    if min_power_kw is not None and s["charging"]["max_power_kw"] < min_power_kw:
        return False
    return open_at is None or is_open(s["hours"], open_at)


# --------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(BBOX[0], BBOX[2]),
    lat=st.floats(BBOX[1], BBOX[3]),
    k=st.integers(1, 20),
    amenities=st.lists(st.sampled_from(FILTER_NAMES), max_size=2, unique=True),
    min_power_kw=st.sampled_from([None, 0.0, 500.0, 1000.0]),
    open_at=st.one_of(st.none(), st.times()),
)
def test_nearest_properties(index, stations, lines, lon, lat, k, amenities, min_power_kw, open_at):
    """Against the brute force (every edge near either end split at the projection)."""
    out = index.nearest(lon, lat, k=k, amenities=amenities, min_power_kw=min_power_kw, open_at=open_at)
    res = out["results"]
    road = [r["road_km"] for r in res]
    assert road == sorted(road)
    open_st = [s for s in stations if s["status"] != "retired"]
    n_eligible = sum(eligible(s, amenities, min_power_kw, open_at) for s in open_st)
    assert len(res) == min(k, n_eligible)
    net = index.network
    x, y = net.project(lon, lat)
    xy = [net.project(s["lon"], s["lat"]) for s in open_st]
    ref = reference(net, lines, (x, y), xy)
    by_id = {s["id"]: (s, r) for s, r in zip(open_st, ref)}
    assert out["origin"]["snapped_km"] == pytest.approx(min(cuts_for(net, lines, x, y), key=lambda c: c[2])[2] / 1000, abs=1e-3)
    for r in res:
        s, (ref_m, ref_s) = by_id[r["id"]]
        assert eligible(s, amenities, min_power_kw, open_at)
        assert r["road_km"] >= r["straight_km"] - 1e-6
        assert r["road_km"] * 1000 == pytest.approx(ref_m, abs=1.0)
        assert r["drive_min"] == pytest.approx(ref_s / 60, abs=0.02)
        sx, sy = net.project(s["lon"], s["lat"])
        assert r["straight_km"] == pytest.approx(np.hypot(sx - x, sy - y) / 1000, abs=1e-3)
    # nothing better was left out
    if res:
        worst = res[-1]["road_km"] * 1000
        for s, (ref_m, _) in by_id.values():
            if eligible(s, amenities, min_power_kw, open_at) and s["id"] not in {r["id"] for r in res}:
                assert ref_m >= worst - 1.0


@settings(max_examples=60, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-80, 80))
def test_far_points_still_obey_triangle_inequality(index, lon, lat):
    """Outside the region the access layer still answers (callers check bounds), unless
    the point cannot be projected to UTM 48N at all: then a clear InputError."""
    try:
        out = index.nearest(lon, lat, k=3)
    except InputError as exc:
        assert "too far" in str(exc)
        assert not np.isfinite(TO_UTM.transform(lon, lat)).all()
        return
    assert len(out["results"]) == 3
    for r in out["results"]:
        assert r["road_km"] >= r["straight_km"] - 1e-6


def test_retired_never_returned(index):
    out = index.nearest(104.78, 31.56, k=50)
    assert "RETIRED" not in {r["id"] for r in out["results"]}
    assert len(out["results"]) == 14
    assert "RETIRED" not in index.station_ids
    with pytest.raises(NotFoundError):
        index.route(104.78, 31.56, "RETIRED")


def test_route_follows_the_road_km_route(index, net, lines):
    lon, lat = 104.70, 31.47
    res = index.nearest(lon, lat, k=3)["results"]
    for r in res:
        coords = index.route(lon, lat, r["id"])
        assert coords[0] == (lon, lat) and coords[-1] == (r["lon"], r["lat"])
        x, y = net.project(np.array([c[0] for c in coords]), np.array([c[1] for c in coords]))
        # the route's geometry is as long as road_km (straight edges: geometry = length)
        assert np.hypot(np.diff(x), np.diff(y)).sum() / 1000 == pytest.approx(r["road_km"], abs=2e-3)


def test_unknown_amenity_lists_valid_names(index):
    with pytest.raises(InputError, match="unknown amenity 'sauna'") as err:
        index.nearest(104.7, 31.5, amenities=["shower", "sauna"])
    assert "free_hot_water" in str(err.value) and "laundry" in str(err.value)
    assert "amenities" in err.value.fields


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"k": 2.5}, {"k": True}, {"min_power_kw": -1}, {"min_power_kw": "lots"}, {"open_at": "25:00"}, {"open_at": 7}],
)
def test_bad_options_raise(index, kwargs):
    with pytest.raises(InputError):
        index.nearest(104.7, 31.5, **kwargs)


@pytest.mark.parametrize("point", [(float("nan"), 31.5), (104.7, float("inf")), (None, 31.5)])
def test_non_finite_point_raises(index, point):
    with pytest.raises(InputError):
        index.nearest(*point)
    with pytest.raises(InputError):
        index.along_route(point, (104.7, 31.5))


def test_megawatt_and_open_filters(index, stations):
    mw = index.nearest(104.7, 31.5, k=20, min_power_kw=1000)["results"]
    assert mw and all(next(s for s in stations if s["id"] == r["id"])["charging"]["max_power_kw"] >= 1000 for r in mw)
    night = index.nearest(104.7, 31.5, k=20, open_at="23:30")["results"]
    day = index.nearest(104.7, 31.5, k=20, open_at=dt.time(12, 0))["results"]
    hours = {s["id"]: s["hours"] for s in stations}
    assert {hours[r["id"]] for r in night} <= {"24h", "20:00-06:00"}
    assert {hours[r["id"]] for r in day} <= {"24h", "08:00-20:00", "06:30-22:00"}
    assert index.nearest(104.7, 31.5, k=20, open_at=dt.datetime(2025, 1, 1, 23, 30))["results"] == night


@pytest.mark.parametrize("amenities, power", [((), None), (["shower"], None), ((), 100), (["shower", "parking"], 0), ((), 1e9)])
def test_index_and_coverage_filter_stations_by_one_rule(index, amenities, power):
    """The index (nearest, along-route) and coverage/scenarios pick the same stations and
    reject the same bad filters with the same message (one StationColumns, one check)."""
    from planner.coverage import station_mask

    got = index.eligible_mask(amenities=amenities, min_power_kw=power)
    assert np.array_equal(got, station_mask(index.stations, amenities=amenities, min_power_kw=power))
    if amenities == ["shower"] or power == 100:
        assert 0 < got.sum() < len(index.stations)  # a real choice, not all or none


@pytest.mark.parametrize("amenities, power", [(["sauna"], None), ((), -5), ((), "lots"), ((), float("nan"))])
def test_index_and_coverage_reject_bad_filters_alike(index, amenities, power):
    from planner.coverage import station_mask

    with pytest.raises(InputError) as by_index:
        index.eligible_mask(amenities=amenities, min_power_kw=power)
    with pytest.raises(InputError) as by_coverage:
        station_mask(index.stations, amenities=amenities, min_power_kw=power)
    assert str(by_index.value) == str(by_coverage.value) and by_index.value.fields == by_coverage.value.fields


@pytest.mark.parametrize("call, name", [
    (lambda net, index: NearestIndex(net, [], access_speed_kmh=0), "access_speed_kmh"),
    (lambda net, index: NearestIndex(net, [], k_labels=65), "k_labels"),
    (lambda net, index: index.nearest(104.7, 31.5, k=0), "k"),
    (lambda net, index: index.nearest(104.7, 31.5, k=2.0), "k"),
    (lambda net, index: index.along_route((104.7, 31.5), (104.8, 31.6), detour_km=-1), "detour_km"),
    (lambda net, index: index.along_route((104.7, 31.5), (104.8, 31.6), max_drive_h="soon"), "max_drive_h"),
    (lambda net, index: index.eligible_mask(min_power_kw=-5), "min_power_kw"),
    (lambda net, index: net.corridor_samples(step_km=0), "step_km"),
    (lambda net, index: RoadNetwork.from_corridors(make_corridors(), merge_tol_m=-1), "merge_tol_m"),
    (lambda net, index: __import__("planner.gazetteer").gazetteer.search("江油", limit=0), "limit"),
])
def test_numbers_are_checked_by_one_checker(net, index, call, name):
    """Every number a caller gives goes through planner._validate: one message style
    ("<name> must be greater than 0 / 0 or more / a whole number ...") and the name as the field."""
    with pytest.raises(InputError) as err:
        call(net, index)
    assert re.match(rf"{name} must be (greater than 0|0 or more|a whole number|a number)", str(err.value)), str(err.value)
    assert list(err.value.fields) == [name]


def test_open_filter_is_judged_to_the_minute(index, stations):
    """Masks are kept per minute of ``open_at``: a second before a station opens it is left
    out, from its opening minute on it counts, whatever was asked before."""
    hours = {s["id"]: s["hours"] for s in stations if s["status"] != "retired"}
    day = {sid for sid, h in hours.items() if h == "08:00-20:00"}
    assert day
    for at in (dt.time(8, 0, 30), dt.time(7, 59, 59, 999999), dt.time(8, 0), dt.time(7, 59), dt.time(19, 59, 59), dt.time(20, 0),
               dt.time(6, 29, 59), dt.time(6, 45)):
        mask = index.eligible_mask(open_at=at)
        got = {sid for sid, m in zip(index.station_ids, mask.tolist()) if m}
        assert got == {sid for sid, h in hours.items() if is_open(h, at)}, at
        assert (day <= got) == (dt.time(8, 0) <= at < dt.time(20, 0)), at
        found = {r["id"] for r in index.nearest(104.7, 31.5, k=20, open_at=at)["results"]}
        assert found <= got and (found & day or not dt.time(8, 0) <= at < dt.time(20, 0))


def test_opening_is_kept_per_minute_and_matches_stations_opening(index, stations):
    """``NearestIndex.opening`` keeps answers for the minute of ``now``: every 10 s across
    openings, closings and midnight, in two zones, it says what ``stations.opening`` says."""
    from zoneinfo import ZoneInfo

    from planner.stations import opening

    hours = {s["id"]: s["hours"] for s in stations if s["status"] != "retired"}
    assert {"24h", "08:00-20:00", "20:00-06:00", "06:30-22:00"} <= set(hours.values())
    changed = 0
    for h, m in ((6, 29), (7, 59), (19, 59), (21, 59), (23, 59), (5, 59)):
        for step in range(12):
            for zone in (ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")):  # the same wall minute in each
                now = dt.datetime(2026, 3, 28, h, m, 30, tzinfo=zone) + dt.timedelta(seconds=10 * step)
                for sid, text in hours.items():
                    got = index.opening(sid, now)
                    assert got == opening(text, now), (sid, text, now)
        start = dt.datetime(2026, 3, 28, h, m, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
        before = {sid: index.opening(sid, start) for sid in hours}
        after = {sid: index.opening(sid, start + dt.timedelta(seconds=30)) for sid in hours}
        changed += before != after
    assert changed >= 5  # the minute boundaries did change answers (not midnight: tomorrow 08:00 stays)


def test_per_node_matches_brute_force(index, net, lines):
    mask = index.eligible_mask(amenities=["shower"])
    dist_m, time_s, pos = index.per_node(mask=mask)
    cols = np.flatnonzero(mask)
    xy = [net.project(index.station_lon[j], index.station_lat[j]) for j in cols]
    for v in np.random.default_rng(3).choice(net.n_nodes, 12, replace=False).tolist():
        ref = reference(net, lines, v, xy)
        best = min(range(cols.size), key=lambda j: ref[j][0])
        assert dist_m[v] == pytest.approx(ref[best][0], abs=1e-3)
        assert time_s[v] == pytest.approx(ref[best][1], abs=1e-3)
        assert pos[v] == cols[best]
    assert set(np.unique(pos)) <= set(cols.tolist())
    assert (time_s > 0).all()
    with pytest.raises(InputError, match="mask"):
        index.per_node(mask=np.ones(3, dtype=bool))
    d0, t0, p0 = index.per_node(mask=np.zeros(len(index.stations), dtype=bool))
    assert np.isinf(d0).all() and (p0 == -1).all()


# --------------------------------------------------------------------------- directed (OSM)
@pytest.fixture(scope="module")
def town() -> RoadNetwork:
    return RoadNetwork.from_osm_xml(DATA / "small_town.osm")


def test_directed_nearest_agrees_with_networkx(town):
    # one station at the motorway's north end (23), one at Main Street's west end (1)
    ids = {int(o): i for i, o in enumerate(town.node_osmid)}
    sts = [
        station("N", float(town.node_lon[ids[23]]) + 0.001, float(town.node_lat[ids[23]])),
        station("W", float(town.node_lon[ids[1]]) - 0.001, float(town.node_lat[ids[1]])),
    ]
    index = NearestIndex(town, sts)
    lines = edge_lines(town)
    xy = [town.project(s["lon"], s["lat"]) for s in sts]
    dist_m, _, pos = index.per_node()
    for v in range(town.n_nodes):
        ref = reference(town, lines, v, xy)
        assert dist_m[v] == pytest.approx(min(r[0] for r in ref), abs=1e-3)
    # from points near one-way streets, against the brute force with every edge within 2 km
    for o in (20, 23, 1):
        lon, lat = float(town.node_lon[ids[o]]) + 0.0003, float(town.node_lat[ids[o]]) - 0.0002
        got = {r["id"]: r["road_km"] for r in index.nearest(lon, lat, k=2)["results"]}
        ref = reference(town, lines, town.project(lon, lat), xy)
        assert got == pytest.approx({"N": round(ref[0][0] / 1000, 3), "W": round(ref[1][0] / 1000, 3)}, abs=1e-3)
    d = dijkstra(town.length_csr)
    assert d[ids[20], ids[23]] < d[ids[23], ids[20]]  # the one-way streets matter here
    _check_fastest_per_node(index, town, np.ones(len(sts), dtype=bool))


def _check_fastest_per_node(index, network, mask):
    """``per_node(by="time")`` against scipy's Dijkstra on the transposed time graph from a
    virtual source joined to every eligible in-seed node by its seconds (independent code)."""
    from scipy import sparse

    d_len, t_len, _ = index.per_node(mask=mask)
    dist_m, time_s, pos = index.per_node(mask=mask, by="time")
    n = network.n_nodes
    seed_node, _seed_m, seed_s, seed_src = index.station_in_seeds
    keep = mask[seed_src]
    best = np.full(n, np.inf)
    np.minimum.at(best, seed_node[keep], seed_s[keep])
    at = np.flatnonzero(np.isfinite(best))
    t = sparse.coo_array(network.time_csr.T)
    graph = sparse.csr_array((np.concatenate([t.data, best[at] + 1e-9]),
                              (np.concatenate([t.row, np.full(at.size, n)]), np.concatenate([t.col, at]))), shape=(n + 1, n + 1))
    ref = np.asarray(dijkstra(graph, directed=True, indices=n))[:n]
    np.testing.assert_allclose(time_s, ref, rtol=0, atol=1e-6)
    assert (time_s <= t_len + 1e-6).all()  # the fastest is never slower than the nearest's time
    assert (dist_m >= d_len - 1e-6).all()  # nor shorter than the nearest
    assert set(np.unique(pos[pos >= 0]).tolist()) <= set(np.flatnonzero(mask).tolist())
    assert ((pos >= 0) == np.isfinite(time_s)).all()


def test_fastest_per_node_matches_a_virtual_source_dijkstra(index, net):
    _check_fastest_per_node(index, net, index.eligible_mask(amenities=["shower"]))
    _check_fastest_per_node(index, net, np.ones(len(index.stations), dtype=bool))
    with pytest.raises(InputError, match="by must be"):
        index.per_node(by="speed")


def test_unreachable_station_route_raises():
    two = gpd.GeoDataFrame(
        {"ref": ["A", "B"], "speed_kmh": [60.0, 60.0]},
        geometry=[LineString([(104.5, 31.5), (104.6, 31.5)]), LineString([(104.5, 31.6), (104.6, 31.6)])],
        crs="EPSG:4326",
    )  # two roads 11 km apart, not joined
    net = RoadNetwork.from_corridors(two)
    index = NearestIndex(net, [station("FRAG", 104.55, 31.6)])
    assert index.nearest(104.55, 31.5)["results"] == []
    with pytest.raises(InfeasibleError):
        index.route(104.55, 31.5, "FRAG")
    # a point 3 km off road B (nearest + 1 km reaches no other road) still gets B's station
    assert [r["id"] for r in index.nearest(104.55, 31.627)["results"]] == ["FRAG"]


# --------------------------------------------------------------------------- along a route
@pytest.fixture(scope="module")
def line_index() -> NearestIndex:
    line = gpd.GeoDataFrame(
        {"ref": ["L1"], "speed_kmh": [60.0]},
        geometry=[LineString([(104.5, 31.5), (105.5, 31.5)])],
        crs="EPSG:4326",
    )
    net = RoadNetwork.from_corridors(line)
    sts = [
        station("NEAR", 104.70, 31.5045),  # ~0.5 km off the road
        station("FAR", 105.00, 31.527),  # ~3 km off: detour ~6 km
        station("GONE", 104.60, 31.5, status="retired"),
        station("BEHIND", 104.45, 31.5),  # behind the origin
        station("AHEAD", 105.30, 31.5001, amenities=("shower",)),
    ]
    return NearestIndex(net, sts)


def test_along_route_on_a_line(line_index):
    out = line_index.along_route((104.5, 31.5), (105.5, 31.5), detour_km=5, max_drive_h=0.5)
    x, y = TO_UTM.transform([104.5, 105.5], [31.5, 31.5])
    length_km = np.hypot(np.diff(x), np.diff(y))[0] / 1000
    assert out["route_km"] == pytest.approx(length_km, abs=1e-3)
    assert out["drive_min"] == pytest.approx(length_km, abs=0.01)  # 60 km/h
    assert out["route"][0] == (104.5, 31.5) and out["route"][-1] == (105.5, 31.5)
    ids = [s["id"] for s in out["stations"]]
    assert ids == ["NEAR", "AHEAD"]
    near = out["stations"][0]
    # the road is the straight UTM chord (it bows ~0.1 km south of the 31.5° parallel)
    chord = LineString(zip(x, y))
    off_km = chord.distance(Point(TO_UTM.transform(104.70, 31.5045))) / 1000
    assert 0.3 < off_km < 0.5
    # in and out along its access leg (the road's nodes sit within a metre of the chord)
    assert near["detour_km"] == pytest.approx(2 * off_km, abs=4e-3)
    xn, _ = TO_UTM.transform(104.70, 31.5)
    assert near["at_km"] == pytest.approx((xn - x[0]) / 1000, abs=0.15)
    assert near["within_limit"] and not out["stations"][1]["within_limit"]
    assert [s["at_km"] for s in out["stations"]] == sorted(s["at_km"] for s in out["stations"])
    lim = out["limit_point"]
    assert lim["at_km"] == pytest.approx(30.0, abs=1e-6)  # 30 min at 60 km/h
    assert lim["lat"] == pytest.approx(31.5, abs=1e-3)
    assert lim["lon"] == pytest.approx(104.5 + (105.5 - 104.5) * 30.0 / length_km, abs=2e-3)


def test_along_route_options(line_index):
    wide = line_index.along_route((104.5, 31.5), (105.5, 31.5), detour_km=7, max_drive_h=4)
    assert [s["id"] for s in wide["stations"]] == ["NEAR", "FAR", "AHEAD"]
    far = wide["stations"][1]
    assert 5.5 < far["detour_km"] < 6.5
    assert wide["limit_point"] is None  # ~95 km at 60 km/h < 4 h
    shower = line_index.along_route((104.5, 31.5), (105.5, 31.5), amenities="shower")
    assert [s["id"] for s in shower["stations"]] == ["AHEAD"]
    back = line_index.along_route((105.5, 31.5), (104.5, 31.5), detour_km=7)
    assert [s["id"] for s in back["stations"]] == ["AHEAD", "FAR", "NEAR"]
    with pytest.raises(InputError, match="max_drive_h"):
        line_index.along_route((104.5, 31.5), (105.5, 31.5), max_drive_h=0)
    with pytest.raises(InputError, match="detour_km"):
        line_index.along_route((104.5, 31.5), (105.5, 31.5), detour_km=-1)
    with pytest.raises(InputError, match="pair"):
        line_index.along_route(104.5, (105.5, 31.5))


def test_index_rejects_bad_stations(net):
    with pytest.raises(InputError, match="duplicate"):
        NearestIndex(net, [station("A", 104.7, 31.5), station("A", 104.8, 31.5)])
    with pytest.raises(InputError, match="non-finite"):
        NearestIndex(net, [station("A", float("nan"), 31.5)])
    with pytest.raises(InputError, match="hours"):
        NearestIndex(net, [station("A", 104.7, 31.5, hours="always")])
    empty = NearestIndex(net, [])
    assert empty.nearest(104.7, 31.5)["results"] == []


# --------------------------------------------------------------------------- real region
@pytest.fixture(scope="module")
def real():
    from planner.region import load_region

    region = load_region("mianyang")  # a broken loader must fail the suite, never skip it
    network = RoadNetwork.from_corridors(region.corridors)
    return region, network, NearestIndex(network, region.stations)


def _inside_points(region, n, seed=1):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = region.boundary.total_bounds
    pts = []
    while len(pts) < n:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if region.contains(lon, lat):
            pts.append((float(lon), float(lat)))
    return pts


@settings(max_examples=80, deadline=None)
@given(
    u=st.floats(0, 1),
    v=st.floats(0, 1),
    k=st.integers(1, 30),
    amenities=st.lists(st.sampled_from(("shower", "laundry", "dining", "free_hot_water")), max_size=2, unique=True),
)
def test_real_region_properties(real, u, v, k, amenities):
    region, network, index = real
    minx, miny, maxx, maxy = region.boundary.total_bounds
    lon, lat = minx + u * (maxx - minx), miny + v * (maxy - miny)
    res = index.nearest(lon, lat, k=k, amenities=amenities)["results"]
    road = [r["road_km"] for r in res]
    assert road == sorted(road)
    n_eligible = sum(
        s.get("status") != "retired" and all((s.get("amenities") or {}).get(a) for a in amenities) for s in region.stations
    )
    assert len(res) == min(k, n_eligible)
    for r in res:
        assert r["road_km"] >= r["straight_km"] - 1e-6


def test_reported_point_reaches_a_station_within_10_km(real):
    """Issue: at (105.14547, 31.66741) node snapping ranked a station 37.5 km away first,
    while MY-DH-21 is a few km by road from a slightly farther node."""
    region, network, index = real
    lon, lat = 105.14547, 31.66741
    res = index.nearest(lon, lat, k=5)["results"]
    assert res[0]["road_km"] < 10
    assert "MY-DH-21" in [r["id"] for r in res[:2]]
    lines = edge_lines(network)
    open_st = [s for s in region.stations if s.get("status") != "retired"]
    ref = reference(network, lines, network.project(lon, lat), [network.project(s["lon"], s["lat"]) for s in open_st])
    best = sorted((r[0], s["id"]) for r, s in zip(ref, open_st))[:5]
    assert [r["id"] for r in res] == [sid for _, sid in best]
    assert [r["road_km"] * 1000 for r in res] == pytest.approx([d for d, _ in best], abs=1.0)


@settings(max_examples=25, deadline=None)
@given(u=st.floats(0, 1), v=st.floats(0, 1))
def test_real_region_road_km_equals_brute_force(real, u, v):
    """For random points in the region: road_km equals the brute force (every edge within
    2 km, or nearest + 1 km, split at the projection) to 10 m; road_km >= straight_km."""
    region, network, index = real
    minx, miny, maxx, maxy = region.boundary.total_bounds
    lon, lat = minx + u * (maxx - minx), miny + v * (maxy - miny)
    res = index.nearest(lon, lat, k=3)["results"]
    lines = _real_lines(network)
    open_st = {s["id"]: s for s in region.stations if s.get("status") != "retired"}
    picked = [open_st[r["id"]] for r in res]
    ref = reference(network, lines, network.project(lon, lat), [network.project(s["lon"], s["lat"]) for s in open_st.values()])
    ref_by_id = dict(zip(open_st, ref))
    for r, s in zip(res, picked):
        assert r["road_km"] * 1000 == pytest.approx(ref_by_id[s["id"]][0], abs=10.0)
        assert r["road_km"] >= r["straight_km"]
    others = [ref_by_id[i][0] for i in open_st if i not in {r["id"] for r in res}]
    if res and others:
        assert min(others) >= res[-1]["road_km"] * 1000 - 10.0


_LINES: dict = {}


def _real_lines(network):
    if id(network) not in _LINES:
        _LINES[id(network)] = edge_lines(network)
    return _LINES[id(network)]


def _lr_km(network, route, lon, lat):
    """Linear reference (km from the start) of a point on the road part of a route: the
    polyline between the two projections (the straight access legs at the ends are not road;
    a long one may pass close to a station by chance)."""
    x, y = network.project(np.array([c[0] for c in route]), np.array([c[1] for c in route]))
    line = LineString(zip(x[1:-1], y[1:-1]))
    return (np.hypot(x[1] - x[0], y[1] - y[0]) + line.project(Point(network.project(lon, lat)))) / 1000


def test_reported_along_route_case(real):
    """Issue: MY-DH-07 (1 km from the destination) was placed at 26.8 km of a 41.5 km route."""
    region, network, index = real
    out = index.along_route((104.68, 31.47), (104.75, 31.78), detour_km=5)
    st07 = next(s for s in out["stations"] if s["id"] == "MY-DH-07")
    assert st07["at_km"] > out["route_km"] - 5
    assert abs(st07["at_km"] - _lr_km(network, out["route"], st07["lon"], st07["lat"])) <= st07["detour_km"] + 1


@settings(max_examples=30, deadline=None)
@given(a=st.tuples(st.floats(0, 1), st.floats(0, 1)), b=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       detour=st.sampled_from([2.0, 5.0, 10.0]), hours=st.sampled_from([0.25, 0.5, 4.0]))
def test_along_route_positions_are_linear_references(real, a, b, detour, hours):
    """For random O-D pairs: each station's at_km lies within its detour + 1 km of its linear
    reference on the returned route; stations sorted by at_km; within_limit exactly when
    at_drive_min <= the limit; the route's km and minutes are its cumulative ends."""
    region, network, index = real
    minx, miny, maxx, maxy = region.boundary.total_bounds
    o = (minx + a[0] * (maxx - minx), miny + a[1] * (maxy - miny))
    d = (minx + b[0] * (maxx - minx), miny + b[1] * (maxy - miny))
    out = index.along_route(o, d, detour_km=detour, max_drive_h=hours)
    assert out["route"][0] == o and out["route"][-1] == d
    ats = [s["at_km"] for s in out["stations"]]
    assert ats == sorted(ats)
    for s in out["stations"]:
        lr = _lr_km(network, out["route"], s["lon"], s["lat"])
        assert abs(s["at_km"] - lr) <= s["detour_km"] + 1.0, (s, lr)
        assert s["within_limit"] == (s["at_drive_min"] <= hours * 60)
        assert 0 <= s["at_km"] <= out["route_km"] and 0 <= s["at_drive_min"] <= out["drive_min"]
        assert s["detour_km"] <= detour
    lim = out["limit_point"]
    if out["drive_min"] > hours * 60:
        assert lim is not None and lim["drive_min"] == pytest.approx(hours * 60)
        assert 0 < lim["at_km"] < out["route_km"]
        # stations before the limit point along the route are within the limit, after it not
        for s in out["stations"]:
            if s["at_km"] < lim["at_km"] - 1e-3:
                assert s["within_limit"]
            elif s["at_km"] > lim["at_km"] + 1e-3:
                assert not s["within_limit"]
    else:
        assert lim is None


def test_origin_and_station_on_the_same_edge():
    """Along the shared edge when the direction allows; round the end node when it does not."""
    line = gpd.GeoDataFrame({"ref": ["L"], "speed_kmh": [60.0]}, geometry=[LineString([(104.5, 31.5), (104.6, 31.5)])], crs="EPSG:4326")
    two_way = RoadNetwork.from_corridors(line, max_segment_m=50_000)  # one ~9.5 km edge each way
    assert two_way.n_nodes == 2
    index = NearestIndex(two_way, [station("S", 104.57, 31.5005)])
    lines = edge_lines(two_way)
    for lon in (104.52, 104.59):  # behind and ahead of the station
        got = index.nearest(lon, 31.5003)["results"][0]
        ref = reference(two_way, lines, two_way.project(lon, 31.5003), [two_way.project(104.57, 31.5005)])[0]
        assert got["road_km"] * 1000 == pytest.approx(ref[0], abs=1.0)
        assert got["road_km"] < abs(lon - 104.57) * 95 + 0.2  # along the edge, not via an end node
    # one way (west to east): from ahead of the station the truck must go round... there is no way
    n = two_way
    one_way = RoadNetwork(n.node_lon, n.node_lat, [0], [1], [0.0], [60.0])
    idx1 = NearestIndex(one_way, [station("S", 104.57, 31.5005)])
    assert idx1.nearest(104.52, 31.5003)["results"][0]["road_km"] == pytest.approx(
        reference(one_way, edge_lines(one_way), one_way.project(104.52, 31.5003), [one_way.project(104.57, 31.5005)])[0][0] / 1000, abs=1e-3)
    assert idx1.nearest(104.59, 31.5003)["results"] == []
