"""Real inputs reach the analyses: `--demand FILE` and `--grid FILE`, and results say their provenance."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from planner.cli import main
from planner.demand import read_demand
from planner.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def run(*args, db):
    """The CLI in this process (the region and network load once for the whole module)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--db", str(db), *args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imported")
    rng = np.random.default_rng(7)
    # 60 long stops near three towns on the corridors (Jiangyou, Fucheng, Santai)
    towns = [(104.75, 31.78), (104.757, 31.455), (105.094, 31.096)]
    rows = ["vehicle,lon,lat,start,end"]
    for i in range(60):
        lon, lat = towns[i % 3]
        lon, lat = lon + rng.normal(0, 0.01), lat + rng.normal(0, 0.01)
        rows.append(f"川B{i:05d},{lon:.5f},{lat:.5f},2025-09-01T08:00:00+08:00,2025-09-01T09:00:00+08:00")
    csv = tmp / "stops.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = tmp / "r.sqlite"
    done = run("import-gps", str(csv), "--out", str(tmp / "demand.gpkg"), db=db)
    assert done.returncode == 0, done.stderr
    grid = gpd.GeoDataFrame({"cell_id": ["WEST", "EAST"], "county": ["510703", "510722"]},
                            geometry=[box(104.2, 31.0, 104.9, 32.2), box(104.9, 30.8, 105.6, 31.6)], crs="EPSG:4326")
    grid.to_file(tmp / "grid.geojson", driver="GeoJSON")
    return tmp, db


def test_access_uses_the_imported_demand_and_grid(imported):
    tmp, db = imported
    done = run("access", "--demand", str(tmp / "demand.gpkg"), "--grid", str(tmp / "grid.geojson"), "--json", db=db)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert sorted(r["cell_id"] for r in rows) == ["EAST", "WEST"]
    assert sum(r["demand_weight"] for r in rows) == pytest.approx(60)
    by_id = {r["cell_id"]: r for r in rows}
    assert by_id["WEST"]["demand_weight"] == pytest.approx(40) and by_id["EAST"]["demand_weight"] == pytest.approx(20)
    # the stations are still the illustrative ones, so the result says so
    assert {r["inputs_data_status"] for r in rows} == {"illustrative"}


def test_suggest_uses_the_imported_demand(imported):
    tmp, db = imported
    done = run("suggest", "--method", "p-median", "--k", "1", "--demand", str(tmp / "demand.gpkg"), "--json", db=db)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    embedded = json.loads(run("suggest", "--method", "p-median", "--k", "1", "--json", db=db).stdout)
    assert result["sites"] != embedded["sites"] or result["before"] != embedded["before"]
    assert result["data_status"] == "illustrative" and "示意数据" in result["notice"]


def test_coverage_json_text_and_exports_carry_provenance(imported, tmp_path):
    _, db = imported
    cov = json.loads(run("coverage", "--json", db=db).stdout)
    assert cov["data_status"] == "illustrative" and "示意数据" in cov["notice"]
    text = run("coverage", db=db).stdout
    assert "data_status: illustrative" in text.splitlines()[-1]
    out = tmp_path / "cov.csv"
    assert run("coverage", "--out", str(out), db=db).returncode == 0
    assert "inputs_data_status" in out.read_text(encoding="utf-8-sig").splitlines()[0]
    sc = tmp_path / "sc.gpkg"
    assert run("suggest", "--method", "kmeans", "--k", "1", "--out", str(sc), db=db).returncode == 0
    prov = gpd.read_file(sc, layer="provenance")
    assert prov["data_status"].tolist() == ["illustrative"]
    assert set(gpd.read_file(sc, layer="sites")["inputs_data_status"]) == {"illustrative"}


def test_read_demand_rejects_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_demand(tmp_path / "nope.gpkg")
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,weight\n104.7,31.5,-1\n", encoding="utf-8")
    with pytest.raises(InputError, match="weight"):
        read_demand(bad)
    noweight = tmp_path / "nw.csv"
    noweight.write_text("lon,lat\n104.7,31.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="'weight'"):
        read_demand(noweight)
    ok = tmp_path / "ok.csv"
    ok.write_text("lon,lat,weight\n104.7,31.5,2\n", encoding="utf-8")
    assert read_demand(ok)["data_status"].tolist() == ["approximate"]
    done = run("access", "--demand", str(noweight), "--json", db=tmp_path / "r.sqlite")
    assert done.returncode == 2 and "weight" in done.stderr and "Traceback" not in done.stderr
