"""The command line as scripts use it: JSON shapes, invariants and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from planner.cli import main
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture
def run(tmp_path, capsys, workspace):
    """Run the CLI in-process on its own registry; returns (exit code, stdout, stderr)."""
    db = tmp_path / "cli.sqlite"

    def _run(*argv, db_path=db):
        code = main(["--db", str(db_path), *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def _json(run, *argv):
    code, out, err = run(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_stations_json(run, region):
    stations = _json(run, "stations")
    assert len(stations) == 23
    for s in stations:
        assert {"id", "name", "lon", "lat", "county", "kind", "amenities", "charging", "data_status"} <= set(s)
        assert s["data_status"] in {"verified", "approximate", "illustrative"}
        assert region.contains(s["lon"], s["lat"]), s["id"]
    beichuan = max(stations, key=lambda s: s["charging"]["total_kw"])
    assert beichuan["county"] == "510726"
    assert beichuan["charging"]["total_kw"] >= 90_000


def test_nearest_json_shape_and_invariants(run):
    doc = _json(run, "nearest", "--lon", 104.75, "--lat", 31.55, "--k", 4, "--amenity", "shower")
    assert set(doc["origin"]) >= {"lon", "lat", "snapped_km"}
    results = doc["results"]
    assert len(results) == 4
    km = [r["road_km"] for r in results]
    assert km == sorted(km)
    for r in results:
        assert r["road_km"] >= r["straight_km"] - 1e-9
        assert r["drive_min"] > 0
    stations = {s["id"]: s for s in _json(run, "stations")}
    assert all(stations[r["id"]]["amenities"]["shower"] for r in results)


def test_nearest_gcj02_input_is_converted(run):
    from planner.coords import wgs84_to_gcj02

    lon, lat = 104.70, 31.45
    glon, glat = wgs84_to_gcj02(lon, lat)
    a = _json(run, "nearest", "--lon", lon, "--lat", lat)
    b = _json(run, "nearest", "--lon", glon, "--lat", glat, "--coords", "gcj02")
    assert b["origin"]["lon"] == pytest.approx(lon, abs=1e-5)
    assert b["origin"]["lat"] == pytest.approx(lat, abs=1e-5)
    assert [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]]
    # Without the conversion the same typed numbers are a different place, ~500 m away.
    assert a["origin"]["lon"] != pytest.approx(glon, abs=1e-4)


def test_min_power_filter_keeps_megawatt_stations_only(run):
    doc = _json(run, "nearest", "--lon", 104.75, "--lat", 31.55, "--k", 5, "--min-power-kw", 600)
    stations = {s["id"]: s for s in _json(run, "stations")}
    assert doc["results"], "at least the Beichuan station has >= 600 kW bays"
    assert all(stations[r["id"]]["charging"]["max_power_kw"] >= 600 for r in doc["results"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["nearest", "--lon", 104.7, "--lat", 95], "lat"),
        (["nearest", "--lon", 116.4, "--lat", 39.9], "outside"),
        (["nearest", "--lon", 31.5, "--lat", 104.7], "lat"),
        (["nearest", "--lon", 104.7, "--lat", 31.5, "--amenity", "sauna"], "sauna"),
        (["nearest", "--lon", 104.7, "--lat", 31.5, "--k", 0], "k"),
        (["nearest", "--lon", 104.7, "--lat", 31.5, "--min-power-kw", -5], "min_power_kw"),
        (["coverage", "--radius-km", 0], "radius_km"),
        (["coverage", "--radius-km", -3], "radius_km"),
        (["suggest", "--method", "p-median", "--k", 0], "k"),
        (["suggest", "--method", "mclp", "--k", 2, "--radius-km", -1], "radius"),
        (["suggest", "--method", "p-median", "--k", 100000], "100000"),
    ],
)
def test_bad_input_exits_2_with_a_message(run, argv, needle):
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert needle in err


def test_unknown_method_is_rejected_by_the_parser(run):
    with pytest.raises(SystemExit) as exc:
        run("suggest", "--method", "annealing", "--k", 2)
    assert exc.value.code == 2


def test_corrupt_registry_is_reported_and_left_alone(run, tmp_path):
    bad = tmp_path / "corrupt.sqlite"
    payload = b"this is not a database" * 100
    bad.write_bytes(payload)
    code, out, err = run("stations", "--json", db_path=bad)
    assert code == 2
    assert "registry" in err.lower()
    assert bad.read_bytes() == payload


def test_malformed_osm_file(run, tmp_path):
    bad = tmp_path / "broken.osm"
    bad.write_text("<osm><node id='1' lat='31.5' lon='104.7'><way></osm", encoding="utf-8")
    code, out, err = run("import-osm", bad)
    assert code == 2
    assert "broken.osm" in err or "osm" in err.lower()


def test_import_osm_writes_a_network(run, tmp_path):
    out = tmp_path / "net.gpkg"
    code, stdout, err = run("import-osm", DATA / "small_town.osm", "--out", out, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["nodes"] > 5 and out.exists()
    assert summary["crs"] == "EPSG:32648"  # the UTM zone of the extract's centre (a town in Mianyang)
    code, stdout, err = run("nearest", "--network", out, "--lon", 104.712, "--lat", 31.456, "--k", 2, "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["origin"]["snapped_km"] < 0.5  # the town's streets are close by
    assert all(r["road_km"] >= r["straight_km"] for r in doc["results"])


def test_export_stations_geopackage_reads_back(run, tmp_path):
    import pyogrio

    out = tmp_path / "stations.gpkg"
    code, _, err = run("export", "stations", "--out", out)
    assert code == 0, err
    info = pyogrio.read_info(out)
    assert info["features"] == 23
    assert "4326" in info["crs"]


def test_users_add_and_token(tmp_path, workspace):
    db = tmp_path / "users.sqlite"
    cmd = [sys.executable, "-m", "planner", "--db", str(db), "users", "add", "alice", "--role", "staff",
           "--password-stdin"]
    done = subprocess.run(cmd, input="s3cret-pass\n", text=True, capture_output=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    tok = subprocess.run([sys.executable, "-m", "planner", "--db", str(db), "users", "token", "alice"],
                         text=True, capture_output=True, cwd=ROOT, timeout=120)
    assert tok.returncode == 0, tok.stderr
    token = tok.stdout.strip()
    assert len(token) >= 32
    from planner.registry import Registry

    user = Registry(db).user_for_token(token)
    assert user and user["name"] == "alice" and user["role"] == "staff"
    assert Registry(db).user_for_token(token + "x") is None


def test_nearest_random_points_against_independent_dijkstra(workspace):
    """Road distances agree with a plain networkx Dijkstra over the same graph, with every
    edge near the point (and each station's nearest edge) split at the projection."""
    from tests.edge_reference import edge_lines, reference

    net = workspace.network
    lines = edge_lines(net)
    stations = workspace.stations()
    st_xy = [net.project(s["lon"], s["lat"]) for s in stations]
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = workspace.region.bbox
    checked = 0
    while checked < 5:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if not workspace.region.contains(lon, lat):
            continue
        doc = workspace.nearest(lon, lat, k=1)
        best = min(d for d, _ in reference(net, lines, net.project(lon, lat), st_xy))
        assert doc["results"][0]["road_km"] == pytest.approx(best / 1000, abs=1e-3)  # rounded to metres
        checked += 1


def test_api_nearest_gives_the_cli_answer(run, tmp_path):
    """`/api/nearest` and `nearest --json` answer the same question the same way."""
    from app import create_app

    db = tmp_path / "shared.sqlite"
    client = create_app({"TESTING": True, "YIZHAN_DB": str(db)}).test_client()
    rng = np.random.default_rng(11)
    points = list(zip(rng.uniform(104.55, 105.05, 12), rng.uniform(31.3, 31.7, 12)))
    from planner.region import load_region

    points = [p for p in points if load_region().contains(*p)][:4]
    assert len(points) == 4
    for lon, lat in points:
        code, out, err = run("nearest", "--lon", lon, "--lat", lat, "--k", 3, "--amenity", "laundry", "--json",
                             db_path=db)
        assert code == 0, err
        api = client.get(f"/api/nearest?lon={lon}&lat={lat}&k=3&amenity=laundry")
        assert api.status_code == 200
        assert api.get_json() == json.loads(out)


def test_suggest_json_stdout_is_one_document(tmp_path, workspace):
    """HiGHS prints a banner from C; it must not land in `--json` output on a pipe."""
    db = tmp_path / "lscp.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "planner", "--db", str(db), "suggest", "--method", "lscp", "--json"],
        text=True, capture_output=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["method"] == "lscp" and doc["after"]["uncovered_km"] == 0
    assert len(doc["sites"]) == doc["k"] >= 1
