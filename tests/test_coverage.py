"""Coverage along corridors and access from demand (planner.coverage).

Pure profile maths on hand-made arrays first, then a small synthetic corridor network
(real RoadNetwork / NearestIndex, no mocks), then the embedded Mianyang region checked
against an independent networkx computation from the exported network.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from shapely.geometry import LineString, box

from planner import coverage
from planner.errors import InputError


# --------------------------------------------------------------------------- pure maths
def test_profile_gaps_interpolates_boundaries():
    km = np.arange(0, 11, 1.0)
    # distance rises from 0 to 10 along the corridor (one station at km 0)
    gaps = coverage.profile_gaps(km, km.copy(), radius_km=4.5)
    assert gaps == [(4.5, 10.0)]


def test_profile_gaps_middle_and_both_ends():
    km = np.arange(0, 21, 1.0)
    d = np.abs(km - 10.0)  # a station at km 10
    assert coverage.profile_gaps(km, d, radius_km=5.0) == [(0.0, 5.0), (15.0, 20.0)]
    # two stations at 0 and 20: the middle is the gap
    d2 = np.minimum(km, 20 - km)
    assert coverage.profile_gaps(km, d2, radius_km=7.0) == [(7.0, 13.0)]
    assert coverage.profile_gaps(km, d2, radius_km=10.0) == []


def test_profile_gaps_unreachable_is_a_gap_and_order_does_not_matter():
    km = np.array([3.0, 0.0, 1.0, 2.0])
    d = np.array([np.inf, 0.0, 0.5, np.inf])
    assert coverage.profile_gaps(km, d, radius_km=1.0) == [(1.5, 3.0)]
    assert coverage.profile_gaps(np.array([]), np.array([]), radius_km=1.0) == []


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=2, max_size=40), st.floats(1, 60))
def test_profile_gaps_partition_the_corridor(dists, radius):
    km = np.arange(len(dists), dtype=float)
    d = np.array(dists)
    gaps = coverage.profile_gaps(km, d, radius)
    total = sum(b - a for a, b in gaps)
    assert 0 <= total <= km[-1] + 1e-9
    for (a, b), nxt in zip(gaps, gaps[1:] + [(math.inf, math.inf)]):
        assert a <= b <= nxt[0]
    # every uncovered sample lies inside a gap; no covered sample lies strictly inside one
    for k, dist in zip(km, d):
        inside = any(a - 1e-9 <= k <= b + 1e-9 for a, b in gaps)
        strictly = any(a + 1e-9 < k < b - 1e-9 for a, b in gaps)
        if dist > radius:
            assert inside
        else:
            assert not strictly


def test_largest_spacing_counts_the_ends():
    assert coverage.largest_spacing([], 120.0) == (120.0, 0.0, 120.0)
    assert coverage.largest_spacing([30.0, 50.0], 200.0) == (150.0, 50.0, 200.0)
    assert coverage.largest_spacing([100.0], 150.0) == (100.0, 0.0, 100.0)


def test_weighted_quantile_and_summary():
    v = np.array([10.0, 20.0, 30.0, 100.0])
    w = np.array([1.0, 1.0, 7.0, 1.0])
    assert coverage.weighted_quantile(v, w, 0.5) == 30.0
    assert coverage.weighted_quantile(v, w, 0.9) == 30.0
    assert coverage.weighted_quantile(v, w, 0.95) == 100.0
    s = coverage.access_summary(v, w)
    assert s["mean_drive_min"] == pytest.approx((10 + 20 + 210 + 100) / 10)
    assert s["share_within_30_min"] == pytest.approx(0.9)
    assert s["share_within_60_min"] == pytest.approx(0.9)
    assert s["demand_weight"] == 10.0
    empty = coverage.access_summary(np.array([]), np.array([]))
    assert empty["demand_weight"] == 0 and math.isnan(empty["mean_drive_min"])
    unreachable = coverage.access_summary(np.array([5.0, np.inf]), np.array([1.0, 1.0]))
    assert unreachable["mean_drive_min"] == math.inf and unreachable["share_within_30_min"] == 0.5


def _station(sid, lon, lat, *, shower=False, power=0.0, status="open"):
    bays = [{"count": 2, "power_kw": power}] if power else []
    return {"id": sid, "name": sid, "lon": lon, "lat": lat, "status": status,
            "amenities": {"shower": shower, "parking": True},
            "charging": {"bays": bays, "total_kw": 2 * power, "max_power_kw": power, "swap": False}}


def test_station_mask_filters():
    st_ = [_station("A", 104.0, 31.0, shower=True), _station("B", 104.1, 31.0, power=600),
           _station("C", 104.2, 31.0, shower=True, power=1440, status="retired")]
    assert coverage.station_mask(st_).tolist() == [True, True, False]
    assert coverage.station_mask(st_, amenities=["shower"]).tolist() == [True, False, False]
    assert coverage.station_mask(st_, min_power_kw=600).tolist() == [False, True, False]
    assert coverage.station_mask(st_, min_power_kw=601).tolist() == [False, False, False]


@pytest.mark.parametrize("amenities, power, match", [
    (["jacuzzi"], None, "unknown amenity 'jacuzzi'"),
    ((), -5, "min_power_kw must be 0 or more kW, got -5"),
    ((), "lots", "min_power_kw must be a number"),
    ((), float("nan"), "min_power_kw must be 0 or more"),
])
def test_bad_filters_raise(amenities, power, match):
    with pytest.raises(InputError, match=match):
        coverage.station_mask([], amenities=amenities, min_power_kw=power)


# --------------------------------------------------------------------------- synthetic network
# Corridor A runs 0.5° east along lat 31 (two straight pieces, ≈95.5 km, 80 km/h); corridor B
# leaves A's middle vertex northwards (≈88.7 km, a slow 20 km/h road so 4 h = 80 km).
def _corridors():
    return gpd.GeoDataFrame(
        {"ref": ["A", "B"], "name_zh": ["甲", "乙"], "speed_kmh": [80.0, 20.0]},
        geometry=[LineString([(104.0, 31.0), (104.5, 31.0), (105.0, 31.0)]),
                  LineString([(104.5, 31.0), (104.5, 31.8)])],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def syn():
    from planner.access import NearestIndex
    from planner.network import RoadNetwork

    net = RoadNetwork.from_corridors(_corridors())
    stations = [_station("S1", 104.0, 31.0), _station("S2", 104.5, 31.8, shower=True, power=1440)]
    return net, stations, NearestIndex(net, stations)


def _lengths(net):
    s = net.corridor_samples(1.0)
    return s.groupby("corridor")["km"].max().to_dict()


def test_gaps_on_a_known_layout(syn):
    net, _, index = syn
    L = _lengths(net)
    res = coverage.corridor_coverage(net, index, radius_km=30.0)
    assert set(res) >= {"radius_km", "corridor_km", "covered_km", "covered_share", "gaps", "filters",
                        "max_gap_km", "max_gap_note", "spacing"}
    assert res["corridor_km"] == pytest.approx(L["A"] + L["B"], abs=1e-3)
    gaps = {g["corridor"]: g for g in res["gaps"]}
    assert len(res["gaps"]) == 2
    # S1 at A km 0 covers A up to km 30; S2 at B's end covers B from its end back 30 km
    assert gaps["A"]["from_km"] == pytest.approx(30.0, abs=0.3)
    assert gaps["A"]["to_km"] == pytest.approx(L["A"], abs=1e-3)
    assert gaps["B"]["from_km"] == pytest.approx(0.0, abs=1e-9)
    assert gaps["B"]["to_km"] == pytest.approx(L["B"] - 30.0, abs=0.3)
    uncovered = sum(g["length_km"] for g in res["gaps"])
    assert res["covered_km"] == pytest.approx(res["corridor_km"] - uncovered, abs=1e-2)
    assert res["covered_share"] == pytest.approx(res["covered_km"] / res["corridor_km"], abs=1e-4)
    assert "inferred" in res["max_gap_note"]


def test_filters_change_the_gaps(syn):
    net, _, index = syn
    L = _lengths(net)
    showers = coverage.corridor_coverage(net, index, radius_km=30.0, amenities=["shower"])
    assert showers["filters"]["station_ids"] == ["S2"]
    # only S2 (B's far end) has showers: all of A is a gap
    a = [g for g in showers["gaps"] if g["corridor"] == "A"]
    assert a == [{"corridor": "A", "corridor_idx": 0, "name_zh": "甲", "from_km": 0.0,
                  "to_km": round(L["A"], 3), "length_km": round(L["A"], 3)}]
    mw = coverage.corridor_coverage(net, index, radius_km=30.0, min_power_kw=1000)
    assert mw["gaps"] == showers["gaps"]
    none = coverage.corridor_coverage(net, index, radius_km=30.0, min_power_kw=5000)
    assert none["covered_km"] == 0 and none["filters"]["eligible_stations"] == 0
    assert len(none["gaps"]) == 2


def test_spacing_and_driving_rule_flags(syn):
    net, _, index = syn
    L = _lengths(net)
    res = coverage.corridor_coverage(net, index, radius_km=30.0, max_gap_km=90.0)
    sp = {s["corridor"]: s for s in res["spacing"]}
    assert sp["A"]["stations_on_corridor"] == 1 and sp["A"]["largest_spacing_km"] == pytest.approx(L["A"], abs=1e-3)
    assert sp["A"]["exceeds_max_gap"] is True          # 95.5 > 90
    assert sp["A"]["speed_kmh"] == pytest.approx(80.0, rel=1e-6)
    assert sp["A"]["exceeds_drive_limit"] is False     # 95.5 < 4 h × 80
    assert sp["B"]["largest_spacing_km"] == pytest.approx(L["B"], abs=1e-3)
    assert sp["B"]["exceeds_max_gap"] is False         # 88.7 < 90
    assert sp["B"]["drive_limit_km"] == pytest.approx(80.0)
    assert sp["B"]["exceeds_drive_limit"] is True      # 88.7 km at 20 km/h > 4 h
    assert sp["B"]["drive_h"] == pytest.approx(L["B"] / 20.0, abs=1e-2)


def test_samples_every_km_with_distances(syn):
    net, stations, index = syn
    res = coverage.corridor_coverage(net, index, radius_km=30.0, samples=True)
    s = pd.DataFrame(res["samples"])
    assert set(s.columns) >= {"corridor", "km", "lon", "lat", "road_km", "drive_min"}
    for ref, grp in s.groupby("corridor"):
        km = np.sort(grp["km"].to_numpy())
        assert km[0] == 0 and np.diff(km).max() <= 1.0 + 1e-6
    # the first sample of A is S1 itself; a sample's distance equals nearest() from it
    first = s[(s.corridor == "A") & (s.km == 0)].iloc[0]
    assert first["road_km"] == pytest.approx(0.0, abs=1e-3)
    row = s.iloc[len(s) // 2]
    near = index.nearest(row["lon"], row["lat"], k=1)["results"][0]
    assert row["road_km"] == pytest.approx(near["road_km"], abs=2e-3)
    # with one possible station (S2 by shower filter): the fastest time is never slower than
    # the time along the shortest route that nearest() reports, and close to it
    only = pd.DataFrame(coverage.corridor_coverage(net, index, radius_km=30.0, samples=True,
                                                   amenities=["shower"])["samples"]).iloc[len(s) // 3]
    near2 = index.nearest(only["lon"], only["lat"], k=1, amenities=["shower"])["results"][0]
    assert near2["drive_min"] * 0.98 <= only["drive_min"] <= near2["drive_min"] + 0.02
    assert "samples" not in coverage.corridor_coverage(net, index, radius_km=30.0)


def test_more_stations_never_reduce_coverage(syn):
    from planner.access import NearestIndex

    net, stations, index = syn
    base = coverage.corridor_coverage(net, index, radius_km=20.0)
    more = NearestIndex(net, stations + [_station("S3", 104.5, 31.0)])
    after = coverage.corridor_coverage(net, more, radius_km=20.0)
    assert after["covered_km"] > base["covered_km"]
    assert after["covered_share"] <= 1.0


@pytest.mark.parametrize("kwargs, match", [
    ({"radius_km": 0}, "radius_km must be greater than 0, got 0"),
    ({"radius_km": -5}, "radius_km must be greater than 0, got -5"),
    ({"radius_km": float("nan")}, "radius_km must be greater than 0"),
    ({"radius_km": "far"}, "radius_km must be a number, got 'far'"),
    ({"step_km": 2.0}, "step_km must be at most 1 km"),
    ({"max_gap_km": 0}, "max_gap_km must be greater than 0"),
    ({"amenities": ["sauna"]}, "unknown amenity 'sauna'"),
])
def test_coverage_bad_input(syn, kwargs, match):
    net, _, index = syn
    with pytest.raises(InputError, match=match):
        coverage.corridor_coverage(net, index, **kwargs)


def test_grid_access_weighted_by_demand(syn):
    net, stations, index = syn
    cells = gpd.GeoDataFrame({"cell_id": ["W", "E", "EMPTY"]},
                             geometry=[box(103.9, 30.9, 104.45, 31.9), box(104.45, 30.9, 105.1, 31.9),
                                       box(110, 40, 111, 41)], crs="EPSG:4326")
    lon = np.array([104.05, 104.2, 104.3, 104.7, 104.9, 104.55])
    lat = np.array([31.01, 30.98, 31.05, 31.0, 31.02, 31.7])
    w = np.array([5.0, 1.0, 2.0, 3.0, 1.0, 4.0])
    demand = gpd.GeoDataFrame({"lon": lon, "lat": lat, "weight": w}, geometry=gpd.points_from_xy(lon, lat),
                              crs="EPSG:4326")
    out = coverage.grid_access(cells, demand, net, index, amenities=["shower"]).set_index("cell_id")
    # only S2 is eligible, so the fastest station is also the nearest: compare with nearest()
    t = np.array([index.nearest(x, y, k=1, amenities=["shower"])["results"][0]["drive_min"] for x, y in zip(lon, lat)])
    west, east = lon < 104.5, lon >= 104.5
    assert out.loc["W", "demand_weight"] == pytest.approx(8.0)
    # drive_min is the fastest time (never slower than the time on the shortest route nearest() reports)
    for cell, sel in (("W", west), ("E", east)):
        ref = np.average(t[sel], weights=w[sel])
        assert 0.98 * ref <= out.loc[cell, "mean_drive_min"] <= ref + 0.02, cell
    p90 = coverage.weighted_quantile(t[east], w[east], 0.9)
    assert 0.98 * p90 <= out.loc["E", "p90_drive_min"] <= p90 + 0.02
    exp30 = w[east][t[east] <= 30].sum() / w[east].sum()
    assert out.loc["E", "share_within_30_min"] == pytest.approx(exp30)
    assert out.loc["W", "station_ids"] == "S1" and out.loc["E", "station_ids"] == "S2"
    assert out.loc["EMPTY", "demand_weight"] == 0 and np.isnan(out.loc["EMPTY", "mean_drive_min"])
    assert out.crs.to_epsg() == 4326


# --------------------------------------------------------------------------- embedded region
@pytest.fixture(scope="module")
def real():
    from planner.access import NearestIndex
    from planner.network import RoadNetwork
    from planner.region import load_region

    region = load_region("mianyang")
    net = RoadNetwork.from_corridors(region.corridors)
    return region, net, NearestIndex(net, region.stations)


def test_real_region_coverage_at_50_km(real):
    region, net, index = real
    res = coverage.corridor_coverage(net, index, radius_km=50.0)
    lengths_km = region.corridors.to_crs("EPSG:32648").length.sum() / 1000
    assert res["corridor_km"] == pytest.approx(lengths_km, rel=0.005)
    assert 0.5 < res["covered_share"] <= 1.0
    for g in res["gaps"]:
        assert 0 <= g["from_km"] < g["to_km"] and g["length_km"] == pytest.approx(g["to_km"] - g["from_km"], abs=2e-3)
    assert len(res["spacing"]) == len(region.corridors)
    # a tighter radius can only open more gaps; megawatt charging (≥ 600 kW) is much sparser
    tight = coverage.corridor_coverage(net, index, radius_km=10.0)
    assert tight["covered_km"] < res["covered_km"]
    mw = coverage.corridor_coverage(net, index, radius_km=50.0, min_power_kw=600)
    assert mw["filters"]["eligible_stations"] >= 1 and mw["covered_km"] < res["covered_km"]


def test_real_region_matches_networkx_on_the_exported_network(real, tmp_path):
    """Independent check: rebuild a graph from the exported edges only and run networkx."""
    import pyogrio
    from pyproj import Transformer
    from scipy.spatial import cKDTree

    region, net, index = real
    path = net.save(tmp_path / "net.gpkg")
    edges = pyogrio.read_dataframe(path, layer="edges")
    # node coordinates from the edge geometries' end points (nothing else is read)
    coords = {}
    for u, v, geom in zip(edges["u"], edges["v"], edges.geometry):
        xy = list(geom.coords)
        coords[int(u)], coords[int(v)] = xy[0], xy[-1]
    rev = nx.DiGraph()
    for u, v, length in zip(edges["u"], edges["v"], edges["length_m"]):
        u, v = int(u), int(v)
        if not rev.has_edge(v, u) or rev[v][u]["w"] > length:
            rev.add_edge(v, u, w=float(length))  # reversed: distances node -> station
    ids = np.array(sorted(coords))
    tr = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    nx_, ny_ = tr.transform([coords[i][0] for i in ids], [coords[i][1] for i in ids])
    tree = cKDTree(np.column_stack([nx_, ny_]))
    sx, sy = tr.transform([s["lon"] for s in region.stations], [s["lat"] for s in region.stations])
    # each station sits on its nearest edge: a virtual source joined to that edge's tail by the
    # access leg + the part of the edge before the station (and to its head for the reverse edge)
    import shapely

    lines = shapely.transform(np.array(edges.geometry), lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    lengths = dict(zip(zip(edges["u"].astype(int), edges["v"].astype(int)), edges["length_m"]))
    for x, y in zip(sx, sy):
        pt = shapely.Point(x, y)
        d = shapely.distance(lines, pt)
        near = np.flatnonzero(d <= d.min() + 0.01)
        for e in near:
            u, v = int(edges["u"].iloc[e]), int(edges["v"].iloc[e])
            f = shapely.line_locate_point(lines[e], pt, normalized=True)
            for node, leg in ((u, d[e] + f * lengths[(u, v)]), (v, d[e] + (1 - f) * lengths.get((v, u), np.inf))):
                if np.isfinite(leg) and (not rev.has_edge("src", node) or rev["src"][node]["w"] > leg):
                    rev.add_edge("src", node, w=float(leg))
    dist = nx.single_source_dijkstra_path_length(rev, "src", weight="w")

    res = coverage.corridor_coverage(net, index, radius_km=50.0, samples=True)
    s = pd.DataFrame(res["samples"])
    qx, qy = tr.transform(s["lon"].to_numpy(), s["lat"].to_numpy())
    d_snap, j = tree.query(np.column_stack([qx, qy]))
    assert d_snap.max() < 0.5  # samples are network nodes
    expected_km = np.array([dist[int(ids[k])] for k in j]) / 1000
    assert np.allclose(s["road_km"].to_numpy(), expected_km, rtol=0.01, atol=0.005)
    # gaps agree too: samples inside a gap are beyond R, samples outside are within it
    for ref_idx, grp in s.groupby("corridor_idx"):
        gaps = [(g["from_km"], g["to_km"]) for g in res["gaps"] if g["corridor_idx"] == ref_idx]
        e = expected_km[grp.index.to_numpy()]
        inside = np.array([any(a - 1e-6 <= k <= b + 1e-6 for a, b in gaps) for k in grp["km"]])
        assert (e[inside] > 50 * 0.99).all()
        assert (e[~inside & (e > 50 * 1.01)]).size == 0


def test_county_access_on_the_region(real):
    region, net, index = real
    out = coverage.county_access(region.counties, region.demand, net, index)
    assert len(out) == len(region.counties)
    assert out["demand_weight"].sum() == pytest.approx(region.demand["weight"].sum(), rel=0.02)
    assert (out["share_within_60_min"].dropna().between(0, 1)).all()
    assert (out["p90_drive_min"] >= out["mean_drive_min"] * 0.5).all()
    assert out["stations"].sum() == len(region.stations)
    mw = coverage.county_access(region.counties, region.demand, net, index, min_power_kw=600)
    # fewer eligible stations can only lengthen drives
    merged = out.set_index("code")["mean_drive_min"].to_frame("all").join(mw.set_index("code")["mean_drive_min"].rename("mw"))
    assert (merged["mw"] >= merged["all"] - 1e-9).all()


def test_export_coverage_layers(real, tmp_path):
    import pyogrio

    region, net, index = real
    res = coverage.corridor_coverage(net, index, radius_km=20.0)
    gpkg = coverage.export_coverage(net, index, res, tmp_path / "cov.gpkg")
    assert {"gaps", "samples", "spacing", "corridors"} <= {n for n, _ in pyogrio.list_layers(gpkg)}
    gaps = gpd.read_file(gpkg, layer="gaps")
    assert len(gaps) == len(res["gaps"]) and gaps.geom_type.eq("LineString").all()
    # each gap line runs along its stretch: its length is the gap's, within a sample step at each end
    utm_km = gaps.to_crs("EPSG:32648").length.to_numpy() / 1000
    assert np.all(utm_km >= gaps["length_km"].to_numpy() - 1e-6)
    assert np.all(utm_km <= gaps["length_km"].to_numpy() + 2.0 + 1e-6)
    samples = gpd.read_file(gpkg, layer="samples")
    assert (samples["covered"] == (samples["road_km"] <= 20.0)).all()
    gj = gpd.read_file(coverage.export_coverage(net, index, res, tmp_path / "gaps.geojson"))
    assert len(gj) == len(res["gaps"])


# --------------------------------------------------------------------------- study area
def test_inside_intervals_and_clipping():
    km = np.arange(0.0, 10.5, 0.5)  # nodes every 500 m
    inside = (km >= 2.0) & (km <= 6.0) | (km >= 9.0)
    spans = coverage.inside_intervals(km, inside)
    # crossings midway between an outside and an inside node; the corridor end closes the last
    assert spans == [(1.75, 6.25), (8.75, 10.0)]
    assert coverage.inside_intervals(km, np.zeros(km.size, bool)) == []
    assert coverage.inside_intervals(km, np.ones(km.size, bool)) == [(0.0, 10.0)]
    assert coverage.clip_intervals([(0.0, 3.0), (5.0, 9.5)], spans) == [(1.75, 3.0), (5.0, 6.25), (8.75, 9.5)]
    # spacing: only stretches touching the study area count
    assert coverage.largest_spacing([1.0, 7.0], 10.0) == (6.0, 1.0, 7.0)
    assert coverage.largest_spacing([1.0, 7.0], 10.0, within=[(8.0, 10.0)]) == (3.0, 7.0, 10.0)


def test_coverage_counts_corridor_km_inside_the_study_area_only():
    """A corridor running 100 km east, half of it outside a square study area: its length,
    gaps and covered km are counted on the inside half; a station outside is still supply."""
    from planner.access import NearestIndex
    from planner.network import RoadNetwork
    from planner.region import Region

    line = LineString([(104.0, 31.0), (105.05, 31.0)])
    corridors = gpd.GeoDataFrame({"ref": ["X"], "speed_kmh": [80.0]}, geometry=[line], crs="EPSG:4326")
    area = gpd.GeoDataFrame(geometry=[box(103.9, 30.9, 104.525, 31.1)], crs="EPSG:4326")
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    region = Region(name="square", boundary=area, counties=empty, corridors=corridors, anchors=empty,
                    stations=[], grid=empty, demand_layer=empty)
    net = RoadNetwork.from_corridors(corridors, crs=region.crs)
    length = float(net.corridor_samples(step_km=1e-6)["km"].max())
    inside_len = float(gpd.GeoSeries([line.intersection(area.geometry.iloc[0])], crs="EPSG:4326").to_crs(region.crs).length.iloc[0] / 1000)
    st = {"id": "OUT", "name": "outside", "lon": 104.6, "lat": 31.0, "status": "open", "kind": "external",
          "amenities": {}, "charging": {"bays": []}, "hours": "24h"}
    index = NearestIndex(net, [st])
    everything = coverage.corridor_coverage(net, index, radius_km=20.0)
    counted = coverage.corridor_coverage(net, index, radius_km=20.0, study_area=region, samples=True)
    assert everything["corridor_km"] == pytest.approx(length, abs=0.01)
    assert counted["corridor_km"] == pytest.approx(inside_len, abs=0.15)  # crossing within half a segment
    assert counted["outside_study_area_km"] == pytest.approx(length - counted["corridor_km"], abs=0.01)
    # the external station ~7 km outside covers the last ~13 km inside: from its km - 20 on
    x, y = net.project([104.0, 104.6], [31.0, 31.0])
    st_km = float(np.hypot(x[1] - x[0], y[1] - y[0])) / 1000
    assert st_km > inside_len + 5
    assert counted["uncovered_km"] == pytest.approx(st_km - 20.0, abs=0.3)
    assert everything["uncovered_km"] == pytest.approx(st_km - 20.0 + max(0.0, length - st_km - 20.0), abs=0.3)
    assert all(g["to_km"] <= counted["corridor_km"] + 0.15 for g in counted["gaps"])
    assert counted["filters"]["eligible_stations"] == 0 and counted["filters"]["external_stations"] == 1
    assert {s["in_study_area"] for s in counted["samples"]} == {True, False}
