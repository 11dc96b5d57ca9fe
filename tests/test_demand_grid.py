"""Grid cells (planner.grid) and truck stop demand (planner.demand)."""

from __future__ import annotations

import gc
import tracemalloc

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from planner.coords import wgs84_to_gcj02
from planner.demand import DEMAND_COLUMNS, generate_demand, import_gps_stops
from planner.errors import InputError
from planner.grid import default_grid, read_grid
from planner.region import DEMAND_EVENTS, DEMAND_SEED, load_region
UTM48N = "EPSG:32648"  # Mianyang measures in UTM 48N (declared in geodata/mianyang/region.json)

COUNTY_CODES = {"510703", "510704", "510705", "510722", "510723", "510725", "510726", "510727", "510781"}


@pytest.fixture(scope="module")
def region():
    return load_region("mianyang")


def _area_km2(gdf) -> float:
    return float(gdf.to_crs(UTM48N).area.sum() / 1e6)


# ----------------------------------------------------------------------------- grid
def test_embedded_grid_covers_the_boundary(region):
    grid = region.grid
    b_area = _area_km2(region.boundary)
    assert abs(_area_km2(grid) - b_area) / b_area < 0.01
    assert np.isclose(grid["area_km2"].sum(), b_area, rtol=0.01)
    # no overlaps: the union has the same area as the sum
    union = shapely.union_all(grid.to_crs(UTM48N).geometry.to_numpy())
    assert abs(union.area / 1e6 - _area_km2(grid)) < 1.0
    assert grid["cell_id"].is_unique and all(h3.is_valid_cell(c) for c in grid["cell_id"])
    assert {h3.get_resolution(c) for c in grid["cell_id"]} == {6}
    assert set(grid["county"]) == COUNTY_CODES  # every cell has a county, every county has cells
    assert (grid["data_status"] == "illustrative").all()
    assert 500 < len(grid) < 900


def test_grid_cells_belong_to_the_county_they_overlap_most(region):
    cells = region.grid.to_crs(UTM48N)
    counties = region.counties.to_crs(UTM48N).set_index("code")
    for _, cell in cells.sample(40, random_state=1).iterrows():
        overlaps = counties.geometry.intersection(cell.geometry).area
        assert overlaps.idxmax() == cell["county"]


def test_default_grid_rebuilds_the_embedded_layer(region):
    grid = default_grid(region.boundary, region.counties)
    assert list(grid["cell_id"]) == list(region.grid["cell_id"])
    assert list(grid["county"]) == list(region.grid["county"])


@settings(max_examples=8, deadline=None)
@given(
    x0=st.floats(104.0, 105.2), y0=st.floats(30.9, 32.5),
    w=st.floats(0.05, 0.4), h=st.floats(0.05, 0.4), res=st.sampled_from([5, 6, 7]),
)
def test_default_grid_tiles_any_polygon(x0, y0, w, h, res):
    poly = gpd.GeoDataFrame(geometry=[box(x0, y0, x0 + w, y0 + h)], crs="EPSG:4326")
    grid = default_grid(poly, resolution=res)
    assert np.isclose(_area_km2(grid), _area_km2(poly), rtol=0.005)
    assert grid["county"].isna().all()  # no counties given
    assert grid.geometry.within(poly.geometry.iloc[0].buffer(1e-9)).all()


@pytest.mark.parametrize("bad", [-1, 16, 6.5, True, "6"])
def test_default_grid_rejects_bad_resolution(region, bad):
    with pytest.raises(InputError, match="resolution"):
        default_grid(region.boundary, resolution=bad)


@pytest.mark.parametrize("bad", [-1, 16, 8.0, True, "8"])
def test_demand_rejects_bad_resolution_before_any_work(region, tmp_path, bad):
    with pytest.raises(InputError, match="resolution must be a whole number from 0 to 15") as info:
        generate_demand(region.boundary, n_events=10, resolution=bad)
    assert set(info.value.fields) == {"resolution"}
    with pytest.raises(InputError, match="resolution"):
        import_gps_stops(tmp_path / "never-read.csv", resolution=bad, region=region)


def test_demand_takes_a_numpy_resolution(region):
    cells = generate_demand(region, n_events=50, resolution=np.int64(7))["cell_id"]
    assert {h3.get_resolution(c) for c in cells} == {7}


def test_default_grid_rejects_non_polygon_boundary():
    with pytest.raises(InputError, match="Polygon"):
        default_grid(shapely.Point(104.7, 31.5))
    with pytest.raises(InputError, match="Polygon"):
        default_grid(shapely.Polygon())


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_read_grid_round_trip_assigns_counties(region, tmp_path, suffix):
    cells = region.grid.drop(columns=["county", "data_status", "source", "area_km2"]).head(120)
    cells = cells.rename(columns={"cell_id": "grid_id"}).to_crs(UTM48N)  # a projected file
    path = tmp_path / f"cells{suffix}"
    cells.to_file(path)
    got = read_grid(path, counties=region.counties)
    assert got.crs.to_epsg() == 4326
    assert list(got["cell_id"]) == list(region.grid["cell_id"].head(120))
    assert list(got["county"]) == list(region.grid["county"].head(120))
    assert (got["data_status"] == "verified").all() and got["source"].str.contains(path.name).all()
    assert np.allclose(got["area_km2"], region.grid["area_km2"].head(120), rtol=1e-3, atol=0.01)


def test_read_grid_keeps_given_counties_and_numbers_cells(region, tmp_path):
    cells = gpd.GeoDataFrame({"county": ["510703", "510781"]},
                             geometry=[box(104.7, 31.4, 104.75, 31.45), box(104.7, 31.8, 104.75, 31.85)],
                             crs="EPSG:4326")
    path = tmp_path / "two.geojson"
    cells.to_file(path)
    got = read_grid(path, counties=region.counties)
    assert list(got["cell_id"]) == ["CELL-0001", "CELL-0002"]
    assert list(got["county"]) == ["510703", "510781"]


def _write_geojson(path, features):
    import json

    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_read_grid_errors(region, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_grid(tmp_path / "missing.geojson")
    pts = _write_geojson(tmp_path / "points.geojson", [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [104.7, 31.5]}}])
    with pytest.raises(InputError, match="feature 1 is a Point"):
        read_grid(pts, counties=region.counties)
    empty = _write_geojson(tmp_path / "empty.geojson", [])
    with pytest.raises(InputError, match="no features"):
        read_grid(empty, counties=region.counties)
    junk = tmp_path / "junk.geojson"
    junk.write_text("not json at all", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read"):
        read_grid(junk)
    nocrs = gpd.GeoDataFrame(geometry=[box(500000, 3480000, 510000, 3490000)], crs=None)
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        nocrs.to_file(path)
    with pytest.raises(InputError, match="coordinate reference system") as err:
        read_grid(path, counties=region.counties)
    assert err.value.fields == {"crs": "missing"}
    dup = gpd.GeoDataFrame({"cell_id": ["A", "A"]}, geometry=[box(104.7, 31.4, 104.8, 31.5)] * 2, crs="EPSG:4326")
    dup.to_file(tmp_path / "dup.geojson")
    with pytest.raises(InputError, match="duplicate cell id 'A'"):
        read_grid(tmp_path / "dup.geojson", counties=region.counties)


# ----------------------------------------------------------------------------- generated demand
def test_region_demand_is_the_seeded_generator(region):
    again = generate_demand(region.boundary, region.corridors, region.anchors, n_events=DEMAND_EVENTS, seed=DEMAND_SEED)
    pd.testing.assert_frame_equal(pd.DataFrame(region.demand.drop(columns="geometry")),
                                  pd.DataFrame(again.drop(columns="geometry")))
    assert tuple(region.demand.columns) == DEMAND_COLUMNS
    assert 1_000 <= len(region.demand) <= 6_000
    assert (region.demand["data_status"] == "illustrative").all()


def test_generate_demand_accepts_a_region(region):
    a = generate_demand(region, n_events=3_000, seed=5)
    b = generate_demand(region.boundary, region.corridors, region.anchors, n_events=3_000, seed=5)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    with pytest.raises(InputError, match="corridors and anchors"):
        generate_demand(region.boundary)


def test_generate_demand_is_deterministic_per_seed(region):
    args = (region.boundary, region.corridors, region.anchors)
    a = generate_demand(*args, n_events=4_000, seed=7)
    b = generate_demand(*args, n_events=4_000, seed=7)
    c = generate_demand(*args, n_events=4_000, seed=8)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert not (len(a) == len(c) and np.allclose(a["lon"], c["lon"]))


def test_generated_demand_is_inside_and_weighted(region):
    d = generate_demand(region.boundary, region.corridors, region.anchors, n_events=10_000, seed=3)
    assert region.contains_many(d["lon"], d["lat"]).all()
    assert (d["weight"] > 0).all()
    assert 9_000 <= d["weight"].sum() <= 10_000  # a few events fall outside and are dropped
    assert set(d["kind"]) == {"logistics_hub", "freight_generator", "interchange", "service_area", "town", "corridor"}
    assert np.allclose(d.geometry.x, d["lon"]) and np.allclose(d.geometry.y, d["lat"])


def test_demand_concentrates_where_trucks_stop(region):
    d = region.demand.to_crs(UTM48N)
    anchors = region.anchors.set_index("id").to_crs(UTM48N)
    density = d["weight"].sum() / _area_km2(region.boundary)  # events per km², region-wide
    for place, factor in (("HUB-TRANSFAR", 30), ("FG-JY-STEEL", 30), ("IC-ZHANGJIAPING", 5), ("TOWN-SEAT-510703", 5)):
        near = d[d.distance(anchors.geometry[place]) < 3_000]["weight"].sum()
        assert near / (np.pi * 9) > factor * density, place
    # corridor events hug the lines
    lines = shapely.union_all(region.corridors.to_crs(UTM48N).geometry.to_numpy())
    corridor = d[d["kind"] == "corridor"]
    assert np.average(corridor.distance(lines), weights=corridor["weight"]) < 400
    # expressways get more stops per km than national roads
    c = region.corridors.to_crs(UTM48N)
    b = region.boundary.to_crs(UTM48N).geometry.iloc[0]

    def per_km(cls):
        sel = shapely.union_all(c[c["road_class"] == cls].geometry.to_numpy())
        w = corridor[corridor.distance(sel) < 300]["weight"].sum()
        return w / (sel.intersection(b).length / 1000)

    assert per_km("expressway") > per_km("national_road")


@pytest.mark.parametrize("kwargs, field", [
    ({"n_events": 0}, "n_events"), ({"n_events": 2.5}, "n_events"),
    ({"resolution": 20}, "resolution"), ({"shares": {"ports": 1.0}}, "shares"),
    ({"shares": {"town": 0.0}}, "shares"),
])
def test_generate_demand_rejects_bad_options(region, kwargs, field):
    with pytest.raises(InputError) as err:
        generate_demand(region.boundary, region.corridors, region.anchors, **kwargs)
    assert field in err.value.fields


# ----------------------------------------------------------------------------- GPS stop import
def _stops_csv(path, rows, header="vehicle,lon,lat,start,end"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_import_gps_stops_keeps_long_stops_inside(region, tmp_path):
    rows = [
        "川B00001,104.757,31.455,2025-09-01T08:00:00+08:00,2025-09-01T08:45:00+08:00",
        "川B00002,104.7571,31.4551,2025-09-01T09:00:00,2025-09-01T09:20:00",
        "川B00003,104.7569,31.4549,2025-09-01T23:50:00+08:00,2025-09-02T01:10:00+08:00",
        "川B00004,104.757,31.455,2025-09-01T10:00:00+08:00,2025-09-01T10:10:00+08:00",  # 10 min: too short
        "川A00005,104.066,30.657,2025-09-01T10:00:00+08:00,2025-09-01T12:00:00+08:00",  # Chengdu: outside
    ]
    got = import_gps_stops(_stops_csv(tmp_path / "s.csv", rows), region=region)
    assert len(got) == 1 and got["weight"].iloc[0] == 3
    assert got["stop_min"].iloc[0] == 45 + 20 + 80
    assert got["cell_id"].iloc[0] == h3.latlng_to_cell(31.455, 104.757, 8)
    assert got.attrs["import_report"] == {"rows": 5, "kept": 3, "short_stops": 1, "outside_region": 1, "chunks": 1}
    assert region.contains(got["lon"].iloc[0], got["lat"].iloc[0])
    assert set(DEMAND_COLUMNS) <= set(got.columns)
    assert got["kind"].iloc[0] == "gps_stop" and got.crs.to_epsg() == 4326
    # a lower threshold keeps the short stop too
    assert import_gps_stops(tmp_path / "s.csv", region=region, min_stop_min=5)["weight"].sum() == 4


def test_import_gps_stops_converts_gcj02(region, tmp_path):
    rng = np.random.default_rng(11)
    lon = rng.uniform(104.5, 105.0, 300)
    lat = rng.uniform(31.3, 31.8, 300)
    t = "2025-09-01T08:00:00+08:00,2025-09-01T09:00:00+08:00"
    wgs = [f"V{i},{x:.7f},{y:.7f},{t}" for i, (x, y) in enumerate(zip(lon, lat))]
    gcj = [f"V{i},{gx:.7f},{gy:.7f},{t}" for i, (gx, gy) in
           enumerate(wgs84_to_gcj02(x, y) for x, y in zip(lon, lat))]
    a = import_gps_stops(_stops_csv(tmp_path / "wgs.csv", wgs), coords="wgs84", resolution=9, region=region)
    b = import_gps_stops(_stops_csv(tmp_path / "gcj.csv", gcj), coords="gcj02", resolution=9, region=region,
                         chunksize=70)
    pd.testing.assert_frame_equal(pd.DataFrame(a[["cell_id", "weight"]]), pd.DataFrame(b[["cell_id", "weight"]]))
    # read as if it were WGS-84, the GCJ-02 file lands ~500 m off, in other cells
    wrong = import_gps_stops(tmp_path / "gcj.csv", coords="wgs84", resolution=9, region=region)
    assert len(set(wrong["cell_id"]) & set(a["cell_id"])) < 0.2 * len(a)
    with pytest.raises(InputError, match="coords"):
        import_gps_stops(tmp_path / "wgs.csv", coords="mercator", region=region)


GOOD = "V1,104.75,31.45,2025-09-01T08:00:00+08:00,2025-09-01T09:00:00+08:00"


@pytest.mark.parametrize("rows, header, match, field", [
    ([GOOD], "vehicle,lon,lat,start", r"lacks column\(s\) end", "end"),
    ([GOOD], "truck,x,y,start,end", r"lacks column\(s\) vehicle, lon, lat", "lon"),
    ([GOOD, GOOD, "V3,abc,31.45,2025-09-01T08:00:00,2025-09-01T09:00:00"], None,
     r"data row 3 \(line 4\), column 'lon'", "lon"),
    ([GOOD, "V2,104.75,,2025-09-01T08:00:00,2025-09-01T09:00:00"], None, r"data row 2 .*'lat'", "lat"),
    ([GOOD, "V2,31.45,104.75,2025-09-01T08:00:00,2025-09-01T09:00:00"], None, r"row 2 .*swapped", "lat"),
    ([GOOD, "V2,104.75,31.45,yesterday,2025-09-01T09:00:00"], None, r"data row 2 .*'start'.*ISO-8601", "start"),
    (["V1,104.75,31.45,2025-09-01T09:00:00,2025-09-01T08:00:00"], None, r"row 1 .*'end' is before start", "end"),
    ([",104.75,31.45,2025-09-01T08:00:00,2025-09-01T09:00:00"], None, r"row 1 .*'vehicle' is empty", "vehicle"),
    ([GOOD, "V2,104.75,31.45,2025-09-01T08:00:00,2025-09-01T09:00:00,extra,fields"], None, r"well-formed", "row"),
    ([], None, "no rows", "path"),
])
def test_import_gps_stops_reports_malformed_rows(region, tmp_path, rows, header, match, field):
    path = _stops_csv(tmp_path / "bad.csv", rows, **({"header": header} if header else {}))
    with pytest.raises(InputError, match=match) as err:
        import_gps_stops(path, region=region, chunksize=2)
    assert field in err.value.fields


def test_import_gps_stops_rejects_missing_or_empty_files(region, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        import_gps_stops(tmp_path / "nope.csv", region=region)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="header"):
        import_gps_stops(empty, region=region)
    with pytest.raises(InputError, match="chunksize"):
        import_gps_stops(empty, region=region, chunksize=0)


@pytest.fixture(scope="module")
def big_stops_csv(tmp_path_factory):
    """200,000 stop events around 300 places in Mianyang (~13 MB)."""
    n = 200_000
    rng = np.random.default_rng(0)
    cx, cy = rng.uniform(104.3, 105.3, 300), rng.uniform(31.0, 32.3, 300)
    k = rng.integers(0, 300, n)
    base = np.datetime64("2025-09-01T00:00:00") + rng.integers(0, 86_400 * 30, n).astype("timedelta64[s]")
    minutes = rng.integers(5, 300, n)
    df = pd.DataFrame({
        "vehicle": np.char.add("V", (np.arange(n) % 5_000).astype(str)),
        "lon": np.round(cx[k] + rng.normal(0, 0.004, n), 6),
        "lat": np.round(cy[k] + rng.normal(0, 0.004, n), 6),
        "start": np.datetime_as_string(base, unit="s"),
        "end": np.datetime_as_string(base + minutes.astype("timedelta64[m]"), unit="s"),
    })
    path = tmp_path_factory.mktemp("gps") / "stops.csv"
    df.to_csv(path, index=False)
    return path, int((minutes >= 20).sum())


def test_import_gps_stops_streams_in_bounded_memory(region, big_stops_csv):
    path, n_long = big_stops_csv
    size = path.stat().st_size
    import_gps_stops(path, region=region, chunksize=5_000)  # warm lazy imports and caches
    gc.collect()
    tracemalloc.start()
    try:
        got = import_gps_stops(path, region=region, chunksize=5_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    report = got.attrs["import_report"]
    assert report["rows"] == 200_000 and report["chunks"] == 40
    assert report["kept"] + report["outside_region"] == n_long
    assert got["weight"].sum() == report["kept"]
    # reading the whole file at once costs ~5x its size; streaming stays well under the size
    assert peak < 0.5 * size, (peak, size)
