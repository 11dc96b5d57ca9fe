"""A region's own geometry, clock and edge: CRS, time zone, study area and context band.

Bars of the real-data issue checked here: every "now" is the region's (a frozen instant,
2026-12-01T19:57Z = 03:57 in Beijing); a driver 20 km outside the boundary gets answers;
coverage metrics and new sites stay inside the study area; a neighbour's station registered
as external supply counts in access and coverage but not in the city's own totals.
"""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner import clock
from planner.access import NearestIndex
from planner.cli import main
from planner.coverage import corridor_coverage
from planner.errors import InputError
from planner.region import Region, load_region
from planner.stations import validate_station

#: 2026-12-01T19:57Z: 03:57 on 2 December in Beijing (UTC+8).
NIGHT = dt.datetime(2026, 12, 1, 19, 57, tzinfo=dt.timezone.utc)
#: 2026-12-02T02:00Z: 10:00 in Beijing.
MORNING = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)
#: ~22 km outside Mianyang's boundary, towards Deyang (a driver just across it).
OUTSIDE = (104.5, 31.1)
#: A neighbouring city's station, registered in the tests only (illustrative).
EXTERNAL = {
    "id": "NC-EXT-01",
    "name": "南充方向某司机之家（外部供给，示例）",
    "lon": 105.775,
    "lat": 31.023,
    "county": "511300",
    "kind": "external",
    "hours": "24h",
    "amenities": {"parking": True, "rest": True, "shower": True},
    "data_status": "illustrative",
    "source": "test: an illustrative station of a neighbouring city",
}


def _outside_km(region: Region, lon: float, lat: float) -> float:
    b = gpd.GeoSeries([region.outline], crs="EPSG:4326").to_crs(region.crs).iloc[0]
    x, y = region_project(region, lon, lat)
    return b.distance(shapely.Point(x, y)) / 1000.0


def region_project(region: Region, lon, lat):
    from planner.projection import project

    return project(lon, lat, region.crs)


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the one clock (planner.clock.utcnow) at a given instant."""

    def _freeze(at: dt.datetime) -> None:
        monkeypatch.setattr(clock, "utcnow", lambda: at)

    return _freeze


# --------------------------------------------------------------------------- CRS
def test_region_and_network_measure_in_the_region_crs(region, workspace):
    assert region.crs == "EPSG:32648"  # declared in geodata/mianyang/region.json
    assert workspace.network.crs == region.crs
    # without a declaration the CRS is the UTM zone of the boundary's centre (the same here)
    bare = Region(name="x", boundary=region.boundary, counties=region.counties, corridors=region.corridors,
                  anchors=region.anchors, stations=[], grid=region.grid, demand_layer=region.demand)
    assert bare.crs == "EPSG:32648" and bare.timezone is None
    with pytest.raises(InputError, match="projected"):
        Region(name="x", boundary=region.boundary, counties=region.counties, corridors=region.corridors,
               anchors=region.anchors, stations=[], grid=region.grid, demand_layer=region.demand, crs="EPSG:4326")


def test_a_region_elsewhere_picks_its_own_zone(region):
    """Shift the boundary to Bavaria: the region measures in UTM 32N, not Mianyang's zone."""
    moved = region.boundary.copy()
    moved["geometry"] = moved.geometry.translate(xoff=11.5 - 104.7, yoff=48.1 - 31.8)
    r = Region(name="elsewhere", boundary=moved, counties=region.counties, corridors=region.corridors,
               anchors=region.anchors, stations=[], grid=region.grid, demand_layer=region.demand,
               timezone="Europe/Berlin")
    assert r.crs == "EPSG:32632"
    assert r.now(at=NIGHT).utcoffset() == dt.timedelta(hours=1)


def test_geometries_project_through_the_one_transform(region):
    """project_geometry/unproject_geometry move every vertex as project/unproject do, and the
    corridors measured that way match the geodesic length (the CRS is the region's, not a guess)."""
    from planner.projection import polyline_lengths_m, project, project_geometry, unproject_geometry

    line = region.corridors.geometry.iloc[0]
    coords = np.asarray(line.coords)
    line_m = project_geometry(line, region.crs)
    x, y = project(coords[:, 0], coords[:, 1], region.crs)
    assert np.array_equal(np.asarray(line_m.coords), np.column_stack([x, y]))
    assert np.allclose(np.asarray(unproject_geometry(line_m, region.crs).coords), coords, atol=1e-9)
    geodesic = polyline_lengths_m([coords])[0]
    assert line_m.length == pytest.approx(geodesic, rel=2e-3)  # UTM scale within its zone
    box = shapely.box(104.6, 31.3, 104.8, 31.5)
    assert shapely.equals_exact(unproject_geometry(project_geometry(box, region.crs), region.crs), box, tolerance=1e-9)


# --------------------------------------------------------------------------- clock
def test_region_now_is_beijing_time(region, frozen):
    frozen(NIGHT)
    now = region.now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(hours=8)
    assert (now.hour, now.minute, now.day) == (3, 57, 2)
    assert region.now(at=MORNING).hour == 10
    with pytest.raises(InputError, match="aware"):
        region.now(at=dt.datetime(2026, 12, 1, 19, 57))
    with pytest.raises(InputError, match="time zone"):
        Region(name="x", boundary=region.boundary, counties=region.counties, corridors=region.corridors,
               anchors=region.anchors, stations=[], grid=region.grid, demand_layer=region.demand).now()
    with pytest.raises(InputError, match="unknown time zone"):
        clock.zone("Mars/Olympus")


def _nearest_ids(tmp_path, capsys, *extra) -> set[str]:
    code = main(["--db", str(tmp_path / "clock.sqlite"), "nearest", "--lon", "104.75", "--lat", "31.55",
                 "--k", "50", "--json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return {r["id"] for r in json.loads(out)["results"]}


def test_cli_open_now_uses_the_region_clock(tmp_path, capsys, frozen):
    """03:57 in Beijing: MY-DH-12 (06:30–22:30) is closed although it is 19:57 on a UTC
    server clock, and MY-DH-19 (20:00–08:00) is open although 19:57 UTC is before 20:00."""
    everything = _nearest_ids(tmp_path, capsys)
    assert {"MY-DH-12", "MY-DH-19"} <= everything
    frozen(NIGHT)
    night = _nearest_ids(tmp_path, capsys, "--open-now")
    assert "MY-DH-12" not in night and "MY-DH-19" in night
    assert len(night) == 23 - 5  # 17 round-the-clock stations and the night one
    frozen(MORNING)
    morning = _nearest_ids(tmp_path, capsys, "--open-now")
    assert "MY-DH-12" in morning and "MY-DH-19" not in morning


def test_web_open_now_uses_the_same_clock(fresh_workspace, frozen):
    from app import create_app

    app = create_app({"TESTING": True, "WORKSPACE": fresh_workspace})
    client = app.test_client()
    for at, open_id, closed_id in ((NIGHT, "MY-DH-19", "MY-DH-12"), (MORNING, "MY-DH-12", "MY-DH-19")):
        frozen(at)
        got = {r["id"] for r in client.get("/api/nearest?lon=104.75&lat=31.55&k=50&open_now=1").get_json()["results"]}
        assert open_id in got and closed_id not in got


# --------------------------------------------------------------------------- band
def test_context_band_is_fifty_km(region):
    assert region.context_km == 50.0
    assert 19.0 < _outside_km(region, *OUTSIDE) < 25.0
    assert not region.contains(*OUTSIDE) and region.in_band(*OUTSIDE)
    assert region.zone_of(*OUTSIDE) == "context" and region.zone_of(104.757, 31.455) == "study_area"
    chengdu = (104.066, 30.657)  # ~75 km from the boundary
    assert _outside_km(region, *chengdu) > 50 and not region.in_band(*chengdu) and region.zone_of(*chengdu) is None
    narrow = load_region(context_km=10)
    assert narrow.context_km == 10 and not narrow.in_band(*OUTSIDE)
    from planner.workspace import Workspace

    ws = Workspace(db_path="/nonexistent/never-created.sqlite", context_km=10)
    with pytest.raises(InputError, match="more than 10 km outside"):
        ws.point(*OUTSIDE)
    mask = region.in_band_many([OUTSIDE[0], chengdu[0], np.nan], [OUTSIDE[1], chengdu[1], 31.0])
    assert mask.tolist() == [True, False, False]


def test_band_holds_every_point_within_its_width(region):
    """Random points around the region: within 50 km of the boundary (exact, in the region's
    CRS) always in the band; beyond 51.5 km (3 %) never."""
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = region.band_bbox
    lon, lat = rng.uniform(x0 - 0.2, x1 + 0.2, 3000), rng.uniform(y0 - 0.2, y1 + 0.2, 3000)
    outline = gpd.GeoSeries([region.outline], crs="EPSG:4326").to_crs(region.crs).iloc[0]
    x, y = region_project(region, lon, lat)
    d_km = shapely.distance(outline, shapely.points(x, y)) / 1000.0
    inside = region.in_band_many(lon, lat)
    assert inside[d_km <= 50.0].all()
    assert not inside[d_km > 51.5].any()
    assert (d_km <= 50.0).sum() > 500 and (d_km > 51.5).sum() > 200  # both kinds were drawn


def test_driver_just_outside_the_boundary_gets_answers(workspace, tmp_path, capsys):
    doc = workspace.nearest(*OUTSIDE, k=3)
    assert len(doc["results"]) == 3 and doc["origin"]["in_study_area"] is False
    assert workspace.nearest(104.757, 31.455, k=1)["origin"]["in_study_area"] is True
    assert all(r["road_km"] >= r["straight_km"] for r in doc["results"])
    code = main(["--db", str(tmp_path / "b.sqlite"), "nearest", "--lon", str(OUTSIDE[0]), "--lat", str(OUTSIDE[1]), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err and json.loads(out)["results"]
    # beyond the band: a clear error (exit 2), not a traceback
    code = main(["--db", str(tmp_path / "b.sqlite"), "nearest", "--lon", "104.066", "--lat", "30.657"])
    out, err = capsys.readouterr()
    assert code == 2 and "50 km outside Mianyang" in err and "Traceback" not in err


# --------------------------------------------------------------------------- study area
def test_coverage_counts_only_the_study_area(workspace, region):
    net, index = workspace.network, workspace.index()
    everywhere = corridor_coverage(net, index, samples=True)
    inside = workspace.coverage(samples=True)
    assert inside["counted"] == "study_area"
    assert inside["corridor_km"] + inside["outside_study_area_km"] == pytest.approx(everywhere["corridor_km"], abs=0.01)
    assert inside["outside_study_area_km"] > 50  # the corridors run on into the neighbours
    # every counted gap lies inside the study area (its samples, away from a crossing)
    by_corridor: dict[int, list] = {}
    for s in inside["samples"]:
        by_corridor.setdefault(s["corridor_idx"], []).append(s)
    for g in inside["gaps"]:
        rows = [s for s in by_corridor[g["corridor_idx"]] if g["from_km"] + 0.3 <= s["km"] <= g["to_km"] - 0.3]
        assert rows and all(s["in_study_area"] for s in rows), g
    # uncovered samples outside the study area (the reported bug: 52 of 107) are not counted
    outside_uncovered = [s for s in everywhere["samples"]
                         if (s["road_km"] is None or s["road_km"] > 30) and not region.contains(s["lon"], s["lat"])]
    assert len(outside_uncovered) > 20, "the embedded corridors leave the city uncovered: the test needs some"
    assert inside["uncovered_km"] < everywhere["uncovered_km"] - 20
    assert len(inside["samples"]) == len(everywhere["samples"])


@pytest.mark.parametrize("method, k", [("lscp", None), ("p-median", 3), ("mclp", 3), ("kmeans", 4)])
def test_new_sites_stay_inside_the_study_area(workspace, region, method, k):
    res = workspace.suggest(method=method, k=k, radius_km=30.0, time_limit_s=30)
    assert res["sites"]
    lon = [s["lon"] for s in res["sites"]]
    lat = [s["lat"] for s in res["sites"]]
    assert region.contains_many(lon, lat).all(), [s for s in res["sites"] if not region.contains(s["lon"], s["lat"])]
    if method == "lscp":
        assert res["after"]["uncovered_km"] == 0  # every gap of the study area closed


def test_candidates_stay_inside_the_study_area(workspace, region):
    from planner.candidates import candidate_sites

    c = candidate_sites(region, workspace.network)
    assert len(c) and region.contains_many(c["lon"], c["lat"]).all()
    free = candidate_sites(region, workspace.network, within=False)
    assert not region.contains_many(free["lon"], free["lat"]).all()  # the anchors in Deyang, corridor ends


# --------------------------------------------------------------------------- external supply
def test_external_station_is_supply_but_not_the_citys(workspace, region, fresh_workspace):
    ext = validate_station(EXTERNAL)
    own = workspace.stations()
    with_ext = own + [ext]
    net = workspace.network
    before = corridor_coverage(net, NearestIndex(net, own), study_area=region)
    after = corridor_coverage(net, NearestIndex(net, with_ext), study_area=region)
    # supply: it closes the gap of the Xichong–Mianyang expressway at the eastern boundary
    assert after["uncovered_km"] < before["uncovered_km"] - 4.0
    assert any(g["corridor"] == "XiMian" for g in before["gaps"])
    assert not any(g["corridor"] == "XiMian" for g in after["gaps"])
    # not the city's: its station count stays 23; the external one is counted apart
    assert before["filters"]["eligible_stations"] == after["filters"]["eligible_stations"] == 23
    assert after["filters"]["external_stations"] == 1 and "NC-EXT-01" in after["filters"]["station_ids"]
    # a driver near the boundary is offered it
    near = NearestIndex(net, with_ext).nearest(105.70, 31.06, k=1)
    assert near["results"][0]["id"] == "NC-EXT-01"
    # registered in the registry: access per county counts it as supply but not as a station of any county
    fresh_workspace.registry.add(ext, actor="test")
    assert "NC-EXT-01" in {s["id"] for s in fresh_workspace.stations()}
    counties = fresh_workspace.grid_access(by="county")
    assert counties["stations"].sum() == 23
    res = fresh_workspace.suggest(method="p-median", k=2, radius_km=30.0, time_limit_s=30)
    assert res["filters"]["existing_stations"] == 23 and res["filters"]["external_stations"] == 1
    assert res["before"]["stations"] == 23


def test_default_as_of_is_the_regions_date(frozen):
    """At 19:57Z on 1 December it is already 2 December in Mianyang."""
    record = {k: v for k, v in EXTERNAL.items()}
    frozen(NIGHT)
    assert validate_station(record)["as_of"] == "2026-12-02"
    frozen(MORNING - dt.timedelta(hours=12))  # 2026-12-01T14:00Z = 22:00 in Beijing
    assert validate_station(record)["as_of"] == "2026-12-01"


def test_http_answers_in_the_band_and_says_why_beyond_it(fresh_workspace):
    from app import create_app

    client = create_app({"TESTING": True, "WORKSPACE": fresh_workspace}).test_client()
    ok = client.get(f"/api/nearest?lon={OUTSIDE[0]}&lat={OUTSIDE[1]}&k=2")
    assert ok.status_code == 200 and len(ok.get_json()["results"]) == 2
    route = client.get(f"/api/along-route?from={OUTSIDE[0]},{OUTSIDE[1]}&to=104.75,31.78")
    assert route.status_code == 200 and route.get_json()["stations"]
    far = client.get("/api/nearest?lon=104.066&lat=30.657")
    assert far.status_code == 400
    err = far.get_json()["error"]
    assert err["code"] and "50 km outside Mianyang" in err["message"] and set(err["fields"]) == {"lon", "lat"}


def test_no_module_names_a_fixed_zone():
    """Nothing in the code outside the region's declaration names Mianyang's zone: every
    measurement goes through the region's or the network's CRS (docstrings may show it)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted([*root.joinpath("planner").rglob("*.py"), *root.joinpath("geodata").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if "32648" in node.value or "UTM 48N" in node.value or "UTM48N" in node.value:
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
            elif isinstance(node, ast.Name) and node.id == "UTM48N":
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders


def test_point_tests_through_cells_match_shapely():
    """After CELLS_AFTER questions an area answers from its grid of cells: the same answers as
    shapely for random points, the area's own vertices, cell corners and points a hair off them."""
    from planner.region import CELLS_AFTER, _AreaCells

    region = load_region()
    for _ in range(CELLS_AFTER):
        region.contains(104.75, 31.55)
        region.in_band(104.75, 31.55)
    store = region.__dict__["_area_cells"]
    assert isinstance(store["outline"], _AreaCells) and isinstance(store["band"], _AreaCells)
    rng = np.random.default_rng(11)
    for area, bbox, ask in ((region.outline, region.bbox, region.contains), (region.band, region.band_bbox, region.in_band)):
        cells = _AreaCells(area, bbox)
        x0, y0, x1, y1 = bbox
        n = cells.CELLS
        corners = np.stack(np.meshgrid(x0 + np.arange(n + 1) * cells.w, y0 + np.arange(n + 1) * cells.h), -1).reshape(-1, 2)
        pts = np.vstack([
            np.column_stack([rng.uniform(x0 - 0.05, x1 + 0.05, 20000), rng.uniform(y0 - 0.05, y1 + 0.05, 20000)]),
            shapely.get_coordinates(area),
            corners, corners + 1e-12, corners - 1e-12,
        ])  # fmt: skip
        expect = shapely.intersects_xy(area, pts[:, 0], pts[:, 1])
        got = np.array([ask(x, y) for x, y in pts.tolist()])
        assert (got == expect).all(), pts[got != expect][:5]
        assert 0 < expect.mean() < 1
        assert cells.state.count(2) < 0.1 * n * n  # few border cells: most points skip the exact test
