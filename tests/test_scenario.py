"""Candidates, siting scenarios, exports and the HTML report.

A small synthetic region (two corridors, clustered demand) exercises each piece with
numbers you can check by hand; the embedded Mianyang region carries the bars: LSCP
sites leave no gap at R, p-median never worsens access and beats the k-means baseline
on its own objective.
"""

from __future__ import annotations

import html
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from planner import candidates as cand
from planner import coverage
from planner.errors import InfeasibleError, InputError
from planner.scenario import METRIC_KEYS, export_scenario, suggest


# --------------------------------------------------------------------------- synthetic region
def _station(sid, lon, lat, *, power=0.0):
    from planner.stations import AMENITIES

    bays = [{"count": 2, "power_kw": power}] if power else []
    return {"id": sid, "name": f"DEMO-{sid}（示例）", "lon": lon, "lat": lat, "status": "open", "kind": "service_area",
            "amenities": {a: True for a in AMENITIES}, "hours": "24h", "data_status": "illustrative",
            "charging": {"bays": bays, "total_kw": 2 * power, "max_power_kw": power, "swap": False}}


def _region(*, demand_weight: float = 1.0):
    from planner.region import Region

    corridors = gpd.GeoDataFrame(
        {"id": ["A", "B"], "ref": ["A", "B"], "name_zh": ["甲", "乙"], "speed_kmh": [80.0, 60.0]},
        geometry=[LineString([(104.0, 31.0), (104.5, 31.0), (105.0, 31.0)]),
                  LineString([(104.5, 31.0), (104.5, 31.8)])],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(7)
    lon = np.r_[rng.normal(104.8, 0.02, 120), rng.normal(104.52, 0.02, 80), rng.uniform(104.0, 105.0, 40)]
    lat = np.r_[rng.normal(31.03, 0.01, 120), rng.normal(31.6, 0.02, 80), rng.uniform(31.0, 31.8, 40)]
    w = np.r_[np.full(120, 3.0), np.full(80, 2.0), np.ones(40)] * demand_weight
    demand = gpd.GeoDataFrame({"lon": lon, "lat": lat, "weight": w, "kind": "synthetic", "data_status": "illustrative"},
                              geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    counties = gpd.GeoDataFrame({"code": ["1", "2", "3"]},
                                geometry=[box(103.9, 30.9, 104.5, 31.9), box(104.5, 30.9, 105.1, 31.4),
                                          box(104.5, 31.4, 105.1, 31.9)], crs="EPSG:4326")
    anchors = gpd.GeoDataFrame(
        {"id": ["SA-1", "HUB-1", "TOWN-1"], "name_zh": ["甲服务区", "乙物流园", "某镇"],
         "kind": ["service_area", "logistics_hub", "town"], "corridor": ["A", "B", "A"]},
        geometry=[Point(104.3, 31.0), Point(104.52, 31.4), Point(104.9, 31.05)], crs="EPSG:4326")
    return Region(name="synthetic", boundary=gpd.GeoDataFrame(geometry=[box(103.9, 30.9, 105.1, 31.9)], crs="EPSG:4326"),
                  counties=counties, corridors=corridors, anchors=anchors,
                  stations=[_station("S1", 104.0, 31.0)], grid=counties.rename(columns={"code": "cell_id"}),
                  demand_layer=demand, provenance={"demand": {"data_status": "illustrative", "source": "test"}})


@pytest.fixture(scope="module")
def syn():
    from planner.network import RoadNetwork

    region = _region()
    return region, RoadNetwork.from_corridors(region.corridors)


# --------------------------------------------------------------------------- candidates
def test_candidate_sites_sources_and_columns(syn):
    region, net = syn
    c = cand.candidate_sites(region, net, every_km=10)
    assert list(c.columns[:10]) == cand.COLUMNS and c.crs.to_epsg() == 4326
    assert set(c["source"]) == {"anchor", "corridor", "kmeans", "dbscan"}
    assert c["id"].is_unique and c["node"].is_unique
    assert np.allclose(c["lon"], net.node_lon[c["node"]]) and np.allclose(c["lat"], net.node_lat[c["node"]])
    # towns are not candidate kinds by default; the service area and hub are, with names
    an = c[c.source == "anchor"]
    assert sorted(an["name"]) == ["乙物流园", "甲服务区"]
    assert set(c["corridor"]) <= {"A", "B"}
    # corridor points at most every_km apart along each corridor, ends included
    for ref, grp in c[c.source == "corridor"].groupby("corridor"):
        km = np.sort(grp["corridor_km"].to_numpy())
        assert km[0] == 0 and np.diff(km).max() <= 10.0 + 1e-6
    only = cand.candidate_sites(region, net, sources=["corridor"], every_km=25)
    assert set(only["source"]) == {"corridor"} and len(only) < len(c)


def test_kmeans_centres_follow_the_weights():
    demand = pd.DataFrame({"lon": [104.0, 104.2], "lat": [31.0, 31.0], "weight": [9.0, 1.0]})
    one = cand.kmeans_centres(demand, 1)
    assert one.loc[0, "lon"] == pytest.approx(104.02, abs=2e-3)  # the weighted mean, not the midpoint
    assert one.loc[0, "weight"] == 10.0
    two = cand.kmeans_centres(demand, 2)
    assert sorted(two["lon"].round(4)) == [104.0, 104.2]
    assert list(two["weight"]) == [9.0, 1.0]  # heaviest first


def test_dbscan_finds_dense_heavy_hotspots():
    rng = np.random.default_rng(3)
    lon = np.r_[rng.normal(104.2, 0.003, 50), rng.normal(104.8, 0.003, 30), rng.uniform(104, 105, 20)]
    lat = np.r_[rng.normal(31.2, 0.003, 50), rng.normal(31.5, 0.003, 30), rng.uniform(31, 32, 20)]
    demand = pd.DataFrame({"lon": lon, "lat": lat, "weight": np.ones(100)})
    spots = cand.dbscan_hotspots(demand, eps_km=2.0, min_weight=10)
    assert len(spots) == 2
    assert spots.loc[0, "lon"] == pytest.approx(104.2, abs=0.01) and spots.loc[0, "points"] >= 50
    assert spots.loc[1, "lat"] == pytest.approx(31.5, abs=0.01)
    assert cand.dbscan_hotspots(demand, eps_km=2.0, min_weight=1000).empty


@pytest.mark.parametrize("call, exc, match", [
    (lambda d, r, n: cand.kmeans_centres(d, 0), InputError, "k must be a whole number ≥ 1, got 0"),
    (lambda d, r, n: cand.kmeans_centres(d, 2.5), InputError, "k must be a whole number ≥ 1, got 2.5"),
    (lambda d, r, n: cand.kmeans_centres(d.iloc[:3], 5), InfeasibleError, "k=5 clusters asked but the demand has only 3"),
    (lambda d, r, n: cand.kmeans_centres(d.assign(weight=0.0), 2), InputError, "demand is empty: 240 rows"),
    (lambda d, r, n: cand.dbscan_hotspots(d, eps_km=-1), InputError, "eps_km must be greater than 0, got -1"),
    (lambda d, r, n: cand.candidate_sites(r, n, sources=["oracle"]), InputError, "unknown candidate source"),
    (lambda d, r, n: cand.candidate_sites(r, n, every_km=0), InputError, "every_km must be greater than 0, got 0"),
])
def test_candidates_bad_input(syn, call, exc, match):
    region, net = syn
    with pytest.raises(exc, match=match):
        call(pd.DataFrame(region.demand.drop(columns="geometry")), region, net)


# --------------------------------------------------------------------------- suggest, synthetic
@pytest.mark.parametrize("method", ["kmeans", "p-median", "mclp", "lscp"])
def test_suggest_shape_on_synthetic_region(syn, method):
    region, net = syn
    res = suggest(region, net, region.stations, method=method, k=2 if method != "lscp" else None, radius_km=30)
    assert {"method", "k", "sites", "before", "after", "solver"} <= set(res)
    assert res["method"] == method
    for when in ("before", "after"):
        assert set(METRIC_KEYS) <= set(res[when])
    for key in ("objective", "lower_bound", "optimal", "gap", "runtime_s"):
        assert key in res["solver"]
    for s in res["sites"]:
        assert {"lon", "lat", "corridor", "source", "node", "id"} <= set(s)
        assert s["corridor"] in {"A", "B"}
    if method != "lscp":
        assert len(res["sites"]) == 2 == res["k"]
    else:
        assert res["after"]["uncovered_km"] == 0 and res["k"] == len(res["sites"]) >= 1
    # adding sites never makes access or coverage worse
    assert res["after"]["mean_drive_min"] <= res["before"]["mean_drive_min"] + 1e-9
    assert res["after"]["covered_km"] >= res["before"]["covered_km"] - 1e-9
    json.dumps(res)  # the CLI prints it as one JSON document


def test_p_median_beats_kmeans_on_synthetic(syn):
    region, net = syn
    for k in (1, 2, 3):
        km = suggest(region, net, region.stations, method="kmeans", k=k)
        pm = suggest(region, net, region.stations, method="p-median", k=k)
        assert pm["after"]["mean_road_km"] <= km["after"]["mean_road_km"] + 1e-6
        pt = suggest(region, net, region.stations, method="p-median", k=k, cost="drive_min")
        assert pt["after"]["mean_drive_min"] <= km["after"]["mean_drive_min"] + 1e-6
        assert pt["solver"]["optimal"] is True


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"method": "kmeans", "k": 0}, InputError, "k must be a whole number ≥ 1, got 0"),
    ({"method": "p-median", "k": -2}, InputError, "k must be a whole number ≥ 1, got -2"),
    ({"method": "mclp", "k": 1.5}, InputError, "got 1.5"),
    ({"method": "mclp", "k": "three"}, InputError, "got 'three'"),
    ({"method": "p-median"}, InputError, "method 'p-median' needs k"),
    ({"method": "p-median", "k": 10_000}, InfeasibleError, r"k=10000 new sites asked but there are only \d+ candidate"),
    ({"method": "mclp", "k": 2, "radius_km": 0}, InputError, "radius_km must be greater than 0, got 0"),
    ({"method": "lscp", "radius_km": -10}, InputError, "radius_km must be greater than 0, got -10"),
    ({"method": "lscp", "radius_km": float("nan")}, InputError, "radius_km must be greater than 0"),
    ({"method": "genetic", "k": 2}, InputError, "unknown method 'genetic'; use one of kmeans, p-median, mclp, lscp"),
    ({"method": "p-median", "k": 2, "cost": "vibes"}, InputError, "unknown cost 'vibes'"),
    ({"method": "lscp", "radius_km": 10, "k": 1}, InfeasibleError, r"needs \d+ new sites, more than k=1"),
    ({"method": "lscp", "radius_km": 1, "every_km": 30}, InfeasibleError, "corridor points are farther than 1 km"),
    ({"method": "kmeans", "k": 2, "amenities": ["hot_tub"]}, InputError, "unknown amenity 'hot_tub'"),
])
def test_suggest_bad_input(syn, kwargs, exc, match):
    region, net = syn
    with pytest.raises(exc, match=match):
        suggest(region, net, region.stations, **kwargs)


@pytest.mark.parametrize("method", ["kmeans", "p-median", "lscp"])
def test_suggest_empty_demand(syn, method):
    region, net = syn
    empty = _region(demand_weight=0.0)
    with pytest.raises(InputError, match="demand is empty: 240 rows, none with a positive weight"):
        suggest(empty, net, region.stations, method=method, k=1)
    empty.demand = empty.demand.iloc[:0]
    with pytest.raises(InputError, match="demand is empty: 0 rows"):
        suggest(empty, net, region.stations, method=method, k=1)


# --------------------------------------------------------------------------- embedded region: the bars
@pytest.fixture(scope="module")
def real():
    from planner.network import RoadNetwork
    from planner.region import load_region

    region = load_region("mianyang")
    return region, RoadNetwork.from_corridors(region.corridors)


@pytest.fixture(scope="module")
def real_k3(real):
    region, net = real
    return {m: suggest(region, net, region.stations, method=m, k=3, radius_km=50) for m in ("kmeans", "p-median", "mclp")}


def _coverage_with(net, stations, sites, **kw):
    from planner.access import NearestIndex
    from planner.scenario import proposed_station

    added = [proposed_station(s, i + 1, amenities=kw.get("amenities", ()), min_power_kw=kw.get("min_power_kw"))
             for i, s in enumerate(sites)]
    return coverage.corridor_coverage(net, NearestIndex(net, list(stations) + added), **kw)


@pytest.mark.parametrize("radius_km, filters", [(50.0, {}), (25.0, {}), (50.0, {"min_power_kw": 600})])
def test_lscp_sites_close_every_gap(real, radius_km, filters):
    region, net = real
    before = coverage.corridor_coverage(
        net, __import__("planner.access", fromlist=["NearestIndex"]).NearestIndex(net, region.stations),
        radius_km=radius_km, study_area=region, **filters)
    assert before["gaps"], "the layout should start with gaps for this test to mean anything"
    res = suggest(region, net, region.stations, method="lscp", radius_km=radius_km, **filters)
    assert res["sites"] and res["solver"]["optimal"] is True
    assert region.contains_many([s["lon"] for s in res["sites"]], [s["lat"] for s in res["sites"]]).all()
    # every gap inside the study area closes (the study area is what LSCP must cover)
    again = _coverage_with(net, region.stations, res["sites"], radius_km=radius_km, study_area=region, **filters)
    assert again["gaps"] == [] and again["covered_share"] == 1.0
    assert res["after"]["uncovered_km"] == 0 and res["after"]["largest_gap_km"] == 0


def test_p_median_never_worse_and_beats_kmeans(real, real_k3):
    region, net = real
    pm, km = real_k3["p-median"], real_k3["kmeans"]
    assert pm["after"]["mean_drive_min"] <= pm["before"]["mean_drive_min"]
    assert pm["after"]["mean_road_km"] <= pm["before"]["mean_road_km"]
    # its own objective: demand-weighted road distance
    assert pm["after"]["mean_road_km"] <= km["after"]["mean_road_km"] + 1e-6
    # the time version, judged on mean drive time
    pt = suggest(region, net, region.stations, method="p-median", k=3, cost="drive_min")
    assert pt["after"]["mean_drive_min"] <= km["after"]["mean_drive_min"] + 1e-6
    assert pt["after"]["mean_drive_min"] <= pt["before"]["mean_drive_min"]
    # the solver prices demand aggregated to its nearest node (straight access leg to the node);
    # the reported metrics answer each point as a driver is answered (edge snapping), which is
    # never longer: the objective bounds the metric from above, and closely
    total = pm["after"]["mean_road_km"] * pm["after"]["demand_weight"]
    assert total * (1 - 1e-3) <= pm["solver"]["objective"] <= total * 1.12


def test_mclp_adds_demand_within_radius(real_k3):
    mc = real_k3["mclp"]
    assert mc["after"]["share_within_radius"] >= mc["before"]["share_within_radius"]
    assert mc["solver"]["objective"] >= mc["solver"]["covered_by_existing"]
    assert len(mc["sites"]) == 3


# --------------------------------------------------------------------------- export and report
def test_export_scenario_formats(real_k3, tmp_path):
    import pyogrio

    res = real_k3["p-median"]
    gpkg = export_scenario(res, tmp_path / "s.gpkg")
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"sites", "existing", "gaps_before", "gaps_after", "metrics"} <= layers
    sites = gpd.read_file(gpkg, layer="sites")
    assert len(sites) == 3 and sites.crs.to_epsg() == 4326
    gj = gpd.read_file(export_scenario(res, tmp_path / "s.geojson"))
    assert np.allclose(sorted(gj.geometry.x), sorted(s["lon"] for s in res["sites"]))
    csv = pd.read_csv(export_scenario(res, tmp_path / "s.csv"))
    assert {"lon", "lat", "corridor", "source", "id"} <= set(csv.columns) and len(csv) == 3
    with pytest.raises(InputError, match=r"unknown export format '\.shp'"):
        export_scenario(res, tmp_path / "s.shp")


def _attrs(doc: str, name: str) -> list[str]:
    """``name=`` attribute values in the markup, inline script bodies removed (links inside
    JS strings, such as Leaflet's attribution, load nothing)."""
    markup = re.sub(r"<script>.*?</script>", "", doc, flags=re.S)
    return re.findall(rf'\b{name}\s*=\s*["\']([^"\']*)["\']', markup)


def test_report_is_self_contained_and_escaped(real, real_k3, tmp_path):
    from planner.report import write_report

    region, _ = real
    res = json.loads(json.dumps(real_k3["mclp"]))
    res["sites"][0]["name"] = "<script>alert('x')</script>"
    out = write_report(res, tmp_path / "report.html", region=region, title="Test <b>report</b>")
    doc = out.read_text(encoding="utf-8")
    assert "<script>alert('x')" not in doc and "Test <b>report</b>" not in doc
    assert "Test &lt;b&gt;report&lt;/b&gt;" in doc
    assert doc.count("data:image/png;base64,") >= 3
    assert "示意数据，非官方" in doc
    data = re.search(r"<script type='application/json' id='yz-map-data'>(.*?)</script>", doc, flags=re.S)
    assert data, "the map's data are JSON in the page"
    spec = json.loads(data.group(1))
    sites = next(ly for ly in spec["layers"] if ly["key"] == "sites")["data"]["features"]
    assert any(f["properties"]["popup"][2] == "<script>alert('x')</script>" for f in sites)  # text, read back intact
    assert "\\u003cscript\\u003ealert" in data.group(1)
    assert "L.map(" in doc and "yz-map-data" in doc  # Leaflet and the map script are inlined
    for url in _attrs(doc, "src") + _attrs(doc, "href"):
        assert not re.match(r"^(https?:)?//", url), url
    with pytest.raises(InputError, match="give a path ending in .html"):
        write_report(res, tmp_path / "report.pdf")
    with pytest.raises(InputError, match="not a scenario result: missing 'sites'"):
        write_report({"method": "x", "before": {}, "after": {}}, tmp_path / "r.html")


def test_mclp_ties_are_broken_towards_shorter_distances():
    from planner.scenario.models import _break_mclp_ties

    cost = np.array([[0.0, 5.0, 0.5, 3.0],
                     [0.5, 5.0, 5.0, 0.2],
                     [5.0, 0.5, 5.0, 5.0]])
    w = np.ones(3)
    # column 2 adds nothing within R = 1 (column 0 already covers row 0): moved to column 3
    assert _break_mclp_ties(cost, w, 1.0, [0], [1, 2]) == ([1, 3], 1)
    # column 1 is the only cover of row 2: kept
    assert _break_mclp_ties(cost, w, 1.0, [0], [1, 3]) == ([1, 3], 0)


def test_report_from_a_workspace_has_the_electric_truck_section(real_k3, tmp_path):
    from planner.report import write_report
    from planner.workspace import Workspace

    ws = Workspace(db_path=tmp_path / "r.sqlite")
    doc = write_report(real_k3["p-median"], tmp_path / "r.html", workspace=ws).read_text(encoding="utf-8")
    section = doc[doc.index("<h2>Electric heavy trucks</h2>"):]
    assert "range of <b>200 km</b>" in section and "proven optimal" in section
    assert "data_status <b>illustrative</b>" in section  # the flows are a gravity model, and say so
    assert "Beichuan's 126 bays" in section and "P(wait &gt; 15 min)" in section
    # without a workspace (no network to route flows on) the section is left out
    bare = write_report(real_k3["p-median"], tmp_path / "b.html").read_text(encoding="utf-8")
    assert "Electric heavy trucks" not in bare
