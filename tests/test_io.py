"""Import/export of stations (GeoJSON, CSV, GeoPackage) and generic layer exports."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from planner.coords import wgs84_to_gcj02
from planner.errors import InputError
from planner.io import (
    export_stations,
    flatten_station,
    read_stations,
    to_feature_collection,
    unflatten_station,
    write_layers,
)
from planner.registry import Registry
from planner.stations import AMENITIES, localized_fields, validate_station

FORMATS = ("geojson", "csv", "gpkg")


def make_record(i: int = 1, **overrides) -> dict:
    record = {
        "id": f"MY-IO-{i:02d}",
        "name": f"DEMO-司机之家-{i:02d}（示例）",
        "name_en": "DEMO Driver's Home, \"quoted\"" if i == 1 else None,
        "lon": 104.6 + 0.013 * i,
        "lat": 31.4 + 0.017 * i,
        "county": "510703",
        "kind": "logistics_hub",
        "corridor": "G108" if i % 2 else None,
        "address": "绵阳市涪城区新皂镇, 示意位置",
        "amenities": {"parking": True, "shower": i % 2 == 0, "free_hot_water": True},
        "charging": {"bays": [{"count": 18, "power_kw": 1440}, {"count": 108, "power_kw": 600}]} if i == 1
        else {"bays": [{"count": 4, "power_kw": 7.5}], "swap": True},
        "hours": "20:00-08:00" if i == 2 else "24h",
        "phone": "0816-1234567" if i == 1 else None,
        "parking_bays": 10 * i,
        "daily_trucks": 700 if i == 1 else None,
        "data_status": "approximate",
        "field_status": {"location": "approximate", "charging": "verified"} if i == 1 else {},
        "source": "illustrative: test",
        "coord_precision_m": 500,
        "as_of": "2025-08-22",
        "notes": "第一行\n第二行, with a comma" if i == 1 else None,
    }
    record.update(overrides)
    return validate_station(record)


@pytest.fixture
def records():
    return [make_record(i) for i in (1, 2, 3)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path, records, fmt):
    path = export_stations([{**r, "version": 4} for r in records], tmp_path / f"stations.{fmt}")
    assert read_stations(path) == records


def test_round_trip_through_the_registry(tmp_path, records):
    registry = Registry(tmp_path / "r.sqlite", create=True)
    registry.seed(records)
    path = export_stations(registry.list_stations(), tmp_path / "out.gpkg")
    other = Registry(tmp_path / "r2.sqlite", create=True)
    assert other.import_stations(read_stations(path), actor="importer") == {"added": 3, "updated": 0,
                                                                             "unchanged": 0}
    strip = [{k: v for k, v in s.items() if k != "version"} for s in other.list_stations()]
    assert strip == records


def test_geojson_is_a_wgs84_feature_collection_with_nested_properties(tmp_path, records):
    path = export_stations(records, tmp_path / "s.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 3
    feature = data["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [records[0]["lon"], records[0]["lat"]]}
    assert feature["properties"]["amenities"]["parking"] is True
    assert feature["properties"]["charging"]["total_kw"] == 90720
    assert "DEMO-司机之家" in path.read_text(encoding="utf-8")  # not \u-escaped


def test_csv_has_bom_lonlat_and_flat_columns(tmp_path, records):
    path = export_stations(records, tmp_path / "s.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    assert len(rows) == 3
    assert float(rows[0]["lon"]) == records[0]["lon"] and float(rows[0]["lat"]) == records[0]["lat"]
    assert rows[0]["amenity_parking"] == "true" and rows[0]["amenity_laundry"] == "false"
    assert rows[0]["charging_bays"] == "18x1440;108x600"
    assert rows[0]["name"] == "DEMO-司机之家-01（示例）"
    assert {f"amenity_{a}" for a in AMENITIES} <= set(rows[0])


def test_gpkg_reads_back_with_pyogrio_in_epsg_4326(tmp_path, records):
    path = export_stations(records, tmp_path / "s.gpkg")
    assert [str(name) for name, _ in pyogrio.list_layers(path)] == ["stations"]
    gdf = pyogrio.read_dataframe(path, layer="stations")
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == 3 and (gdf.geometry.geom_type == "Point").all()
    assert gdf.geometry.x.iloc[0] == pytest.approx(records[0]["lon"])
    assert gdf["amenity_parking"].dtype == bool
    assert gdf["charging_total_kw"].iloc[0] == 90720


def test_read_gcj02_file_converts_to_wgs84(tmp_path, records):
    shifted = []
    for r in records:
        lon, lat = wgs84_to_gcj02(r["lon"], r["lat"])
        shifted.append({**r, "lon": lon, "lat": lat})
    path = tmp_path / "amap.csv"
    columns = list(flatten_station(shifted[0]))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for r in shifted:
            writer.writerow({k: ("" if v is None else v) for k, v in flatten_station(r).items()})
    back = read_stations(path, coords="gcj02")
    for got, want in zip(back, records):
        assert got["lon"] == pytest.approx(want["lon"], abs=2e-6)
        assert got["lat"] == pytest.approx(want["lat"], abs=2e-6)
        assert got["coord_sys"] == "gcj02"


def test_excel_style_csv_is_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text(
        "id,name,lon,lat,county,kind,hours,data_status,source,amenity_shower,charging_bays,parking_bays\n"
        "MY-X-01,站一,104.7,31.5,510704,town,06:00-22:00,illustrative,test,TRUE,2x600,12.0\n"
        "\n",
        encoding="utf-8",
    )
    (record,) = read_stations(path)
    assert record["amenities"]["shower"] is True and record["amenities"]["laundry"] is False
    assert record["charging"]["total_kw"] == 1200 and record["parking_bays"] == 12


def test_stations_json_list_is_accepted(tmp_path, records):
    path = tmp_path / "stations.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert read_stations(path) == records


# ------------------------------------------------------------------ malformed files
HEADER = "id,name,lon,lat,county,kind,hours,data_status,source"


@pytest.mark.parametrize(
    ("name", "content", "key", "fragment"),
    [
        ("bad.geojson", '{"type": "FeatureCollection", "features": [', "file", "invalid JSON at line 1"),
        ("bad.geojson", '{"type": "Topology"}', "file", "FeatureCollection"),
        ("bad.geojson", json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[104, 31], [105, 32]]},
             "properties": {}}]}), "feature 1.geometry", "Point"),
        ("bad.csv", "id,name,lat,kind\nMY-X-01,a,31.5,town\n", "columns", "missing column(s) lon, hours"),
        ("bad.csv", HEADER + ",colour\n", "columns", "unknown column(s) colour"),
        ("bad.csv", HEADER + "\nMY-X-01,a,104.7,31.5,510704,town,24h,illustrative,t\n"
                             "MY-X-02,b,east,31.5,510704,town,24h,illustrative,t\n",
         "row 3 (MY-X-02).lon", "must be a number"),
        ("bad.csv", HEADER + "\nMY-X-01,a,104.7,31.5,510704,town,24h,illustrative\n", "row 2", "8 cells"),
        ("bad.csv", HEADER + "\nMY-X-01,a,104.7,31.5,510704,town,24h,illustrative,t\n"
                             "MY-X-01,b,104.7,31.5,510704,town,24h,illustrative,t\n",
         "row 3 (MY-X-01).id", "unique"),
        ("bad.csv", HEADER + ",amenity_sauna\nMY-X-01,a,104.7,31.5,510704,town,24h,illustrative,t,true\n",
         "row 2 (MY-X-01).amenities", "unknown amenity 'sauna'"),
        ("bad.csv", "", "columns", "header"),
    ],
)
def test_malformed_files_name_the_row_and_field(tmp_path, name, content, key, fragment):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_stations(path)
    assert key in info.value.fields, info.value.fields
    assert fragment in info.value.fields[key]


def test_bad_records_of_a_file_are_named_in_chinese_too(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\nMY-X-01,a,104.7,31.5,510704,town,24h,illustrative,t\n"
                             "MY-X-02,b,104.7,31.5,510704,town,25:00-08:00,illustrative,t\n"
                             "MY-X-01,c,104.7,31.5,510704,town,24h,illustrative,t\n", encoding="utf-8")
    with pytest.raises(InputError, match="nothing was imported") as info:
        read_stations(path)
    zh = localized_fields(info.value, "zh")
    assert set(zh) == {"row 3 (MY-X-02).hours", "row 4 (MY-X-01).id"}
    assert "营业时间" in zh["row 3 (MY-X-02).hours"] and "重复" in zh["row 4 (MY-X-01).id"]


def test_a_refused_export_says_nothing_was_written(tmp_path, records):
    with pytest.raises(InputError, match="nothing was written") as info:
        export_stations([records[0], {**records[1], "lon": 0.0}], tmp_path / "s.geojson")
    assert "经度" in localized_fields(info.value, "zh")["station 2.lon"]


def test_non_utf8_csv_says_how_to_save(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "\nMY-X-01,司机之家,104.7,31.5,510704,town,24h,illustrative,t\n").encode("gbk"))
    with pytest.raises(InputError, match="CSV UTF-8"):
        read_stations(path)


def test_garbage_gpkg_and_unknown_suffix(tmp_path):
    path = tmp_path / "bad.gpkg"
    path.write_bytes(b"not a geopackage" * 50)
    with pytest.raises(InputError, match="not a readable GeoPackage"):
        read_stations(path)
    with pytest.raises(InputError, match=".geojson, .json, .csv or .gpkg"):
        read_stations(tmp_path / "stations.xlsx")
    with pytest.raises(InputError, match="no such file"):
        read_stations(tmp_path / "missing.csv")


def test_failed_export_leaves_the_old_file(tmp_path, records):
    path = export_stations(records, tmp_path / "s.csv")
    before = path.read_bytes()
    broken = [records[0], {**records[1], "lon": 0.0}]
    with pytest.raises(InputError, match="station 2"):
        export_stations(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # no temp files left


def test_flatten_unflatten_round_trip(records):
    for record in records:
        assert validate_station(unflatten_station(flatten_station(record))) == record
    collection = to_feature_collection(records)
    assert [f["id"] for f in collection["features"]] == [r["id"] for r in records]


# ------------------------------------------------------------------ write_layers
@pytest.fixture
def layers():
    points = gpd.GeoDataFrame(
        {"name": ["甲", "乙"], "meta": [{"a": 1}, {"b": [2]}]},
        geometry=[Point(104.7, 31.5), Point(104.8, 31.6)], crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"ref": ["G5"]}, geometry=[LineString([(104.6, 31.4), (104.8, 31.6)])],
                             crs="EPSG:4326").to_crs("EPSG:32648")
    return {"points": points, "lines": lines}


def test_write_layers_gpkg_holds_every_layer_in_wgs84(tmp_path, layers):
    path = write_layers(layers, tmp_path / "out.gpkg")
    assert sorted(str(n) for n, _ in pyogrio.list_layers(path)) == ["lines", "points"]
    lines = pyogrio.read_dataframe(path, layer="lines")
    assert lines.crs.to_epsg() == 4326
    assert lines.geometry.iloc[0].coords[0] == pytest.approx((104.6, 31.4), abs=1e-6)
    points = pyogrio.read_dataframe(path, layer="points")
    assert json.loads(points["meta"].iloc[1]) == {"b": [2]}


def test_write_layers_single_layer_formats(tmp_path, layers):
    geojson = write_layers({"lines": layers["lines"]}, tmp_path / "lines.geojson")
    data = json.loads(geojson.read_text(encoding="utf-8"))
    assert data["features"][0]["geometry"]["coordinates"][0] == pytest.approx([104.6, 31.4], abs=1e-6)
    points_csv = write_layers({"points": layers["points"]}, tmp_path / "points.csv")
    assert points_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(points_csv.read_text(encoding="utf-8-sig").splitlines()))
    assert (rows[0]["name"], float(rows[0]["lon"]), float(rows[0]["lat"])) == ("甲", 104.7, 31.5)
    lines_csv = write_layers({"lines": layers["lines"]}, tmp_path / "lines.csv")
    assert "LINESTRING" in lines_csv.read_text(encoding="utf-8-sig")


def test_write_layers_refuses_what_a_format_cannot_hold(tmp_path, layers):
    for suffix in ("geojson", "csv"):
        with pytest.raises(InputError, match="holds one layer but 2 were given"):
            write_layers(layers, tmp_path / f"both.{suffix}")
    no_crs = gpd.GeoDataFrame({"x": [1]}, geometry=[Point(104.7, 31.5)])
    with pytest.raises(InputError, match="no CRS"):
        write_layers({"bad": no_crs}, tmp_path / "bad.gpkg")
    with pytest.raises(InputError, match="at least one layer"):
        write_layers({}, tmp_path / "empty.gpkg")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- partial imports (issue 9 item 11)
def _cli(db, *argv):
    from planner.cli import main

    return main(["--db", str(db), *map(str, argv)])


def test_partial_csv_import_changes_only_its_columns(tmp_path, fresh_workspace, capsys):
    """The MY-DH-03 case: a CSV with a few columns must not zero charging, bays or amenities."""
    registry = fresh_workspace.registry
    before = registry.get("MY-DH-03")
    assert before["charging"]["total_kw"] == 960 and before["parking_bays"] == 120
    path = tmp_path / "few.csv"
    path.write_text("id,name,hours,phone\nMY-DH-03,张家坪司机之家,06:00-23:00,0816-1111111\n", encoding="utf-8")
    assert _cli(fresh_workspace.db_path, "import", path) == 0
    assert "1 updated" in capsys.readouterr().out
    after = registry.get("MY-DH-03")
    assert (after["name"], after["hours"], after["phone"]) == ("张家坪司机之家", "06:00-23:00", "0816-1111111")
    assert after["charging"] == before["charging"] and after["charging"]["total_kw"] == 960
    assert after["parking_bays"] == 120 and after["amenities"] == before["amenities"]
    unchanged = {k: v for k, v in before.items() if k not in ("name", "hours", "phone", "version")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert after["version"] == before["version"] + 1
    changes = registry.history("MY-DH-03")[0]["changes"]
    assert set(changes) == {"name", "hours", "phone"}


def test_partial_import_with_the_required_columns_keeps_the_rest(tmp_path, fresh_workspace):
    """The file from the report: every required column, but no amenities/charging/bays."""
    registry = fresh_workspace.registry
    before = registry.get("MY-DH-03")
    path = tmp_path / "required.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "lon", "lat", "kind", "hours", "data_status", "source"])
        w.writerow(["MY-DH-03", before["name"], before["lon"], before["lat"], before["kind"], "24h",
                    before["data_status"], "updated by the county office"])
    assert _cli(fresh_workspace.db_path, "import", path) == 0
    after = registry.get("MY-DH-03")
    assert after["source"] == "updated by the county office"
    assert after["charging"]["total_kw"] == 960 and after["parking_bays"] == 120
    assert after["amenities"] == before["amenities"] and all(after["amenities"][k] for k in ("shower", "laundry"))


def test_partial_geojson_import_changes_only_its_properties(tmp_path, fresh_workspace):
    registry = fresh_workspace.registry
    before = registry.get("MY-DH-03")
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [before["lon"], before["lat"]]},
        "properties": {"id": "MY-DH-03", "amenities": {"repair": True}}}]}
    path = tmp_path / "few.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert _cli(fresh_workspace.db_path, "import", path) == 0
    after = registry.get("MY-DH-03")
    assert after["amenities"] == {**before["amenities"], "repair": True}
    assert after["charging"] == before["charging"] and after["parking_bays"] == 120


def test_new_station_with_missing_columns_is_refused_naming_them(tmp_path, fresh_workspace, capsys):
    registry = fresh_workspace.registry
    path = tmp_path / "new.csv"
    path.write_text("id,name,hours\nMY-DH-03,x,24h\nMY-NEW-01,新站,24h\n", encoding="utf-8")
    count = registry.count()
    assert _cli(fresh_workspace.db_path, "import", path) == 2
    err = capsys.readouterr().err
    assert "MY-NEW-01" in err and "lon" in err and "kind" in err and "source" in err
    assert registry.count() == count and registry.get("MY-DH-03")["name"] != "x"  # all or nothing


def test_import_of_a_full_export_round_trips(tmp_path, fresh_workspace, capsys):
    registry = fresh_workspace.registry
    out = tmp_path / "all.csv"
    assert _cli(fresh_workspace.db_path, "export", "stations", "--out", out) == 0
    assert _cli(fresh_workspace.db_path, "import", out) == 0
    out = capsys.readouterr().out
    assert "0 added, 0 updated" in out and "23 unchanged" in out
    assert all(s["version"] == 1 for s in registry.list_stations(include_retired=True))


def test_cli_bad_files_exit_2_without_traceback(tmp_path, fresh_workspace, capsys):
    not_gzip = tmp_path / "roads.osm.gz"
    not_gzip.write_bytes(b"<osm>not compressed</osm>")
    deep = tmp_path / "deep.geojson"
    deep.write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    deep_props = tmp_path / "deep2.geojson"
    deep_props.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
                          '{"type": "Point", "coordinates": [104.7, 31.5]}, "properties": {"notes": '
                          + "[" * 3000 + "]" * 3000 + "}}]}", encoding="utf-8")
    not_utf8 = tmp_path / "latin.geojson"
    not_utf8.write_bytes(b'{"type": "FeatureCollection", "features": [], "x": "\xff\xfe"}')
    for argv in (["import-osm", not_gzip], ["import", deep], ["import", deep_props], ["import", not_utf8]):
        code = _cli(fresh_workspace.db_path, *argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert err.startswith("error: ") and "Traceback" not in err


def test_csv_cells_are_neutralised_and_restored(tmp_path, records):
    from planner.io import neutralise_cell, restore_cell

    for text in ("=1+1", "+1", "-1", "@a", "\tx", "\rx", "\uff1d1", "\uff0b1", "\uff0d1", "\uff20a"):
        assert neutralise_cell(text) == "'" + text and restore_cell("'" + text) == text
    for value in ("plain", "'quoted", "1-2", 3, -1.5, None, True):
        assert neutralise_cell(value) == value
    records[0]["name"] = "=HYPERLINK(\"http://evil.example\")"
    records[1]["address"] = "@SUM(1)"
    path = export_stations(records, tmp_path / "s.csv")
    text = path.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    back = {r["id"]: r for r in read_stations(path)}
    assert back[records[0]["id"]]["name"] == records[0]["name"]
    assert back[records[1]["id"]]["address"] == "@SUM(1)"
