"""The desk's model: grids, requests and their audit, notices and reach, reports, illustrative year, demand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from planner.desk import REGION_TZ, Desk, illustrative
from planner.desk.requests import DEMAND_CATEGORIES, STATES, as_demand, public_view
from planner.desk.store import DeskStore
from planner.errors import ConflictError, InputError, NotFoundError
from planner.projection import utm_crs_for


@pytest.fixture
def desk(fresh_workspace):
    return Desk(fresh_workspace)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, workspace):
    """A desk with the illustrative year (generated once for the module)."""
    from planner.workspace import Workspace

    ws = Workspace(db_path=tmp_path_factory.mktemp("seeded") / "registry.sqlite")
    ws.__dict__["region"] = workspace.region
    ws.__dict__["network"] = workspace.network
    d = Desk(ws)
    illustrative.seed(d)
    return d


# ---------------------------------------------------------------- grids
def test_point_inside_a_grid_is_assigned_to_it(desk, region):
    grids = desk.grids()
    assert grids.illustrative and len(grids.records) == len(region.counties)
    for _, county in region.counties.iterrows():
        lon, lat = float(county["seat_lon"]), float(county["seat_lat"])
        a = grids.assign(lon, lat)
        assert a["assigned_by"] == "contains" and a["distance_km"] == 0
        assert grids.geometry(a["grid_id"]).intersects(shapely.Point(lon, lat))


def test_point_outside_every_grid_gets_the_nearest_and_says_so(desk):
    grids = desk.grids()
    lon, lat = 106.3, 31.2  # east of Mianyang
    a = grids.assign(lon, lat)
    assert a["assigned_by"] == "nearest" and a["distance_km"] > 0
    crs = utm_crs_for(lon, lat)
    gdf = gpd.GeoDataFrame({"id": [r["grid_id"] for r in grids.records]}, geometry=grids.geometries, crs="EPSG:4326").to_crs(crs)
    pt = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs(crs).iloc[0]
    dist = gdf.distance(pt)
    assert a["grid_id"] == gdf["id"][dist.idxmin()]
    assert a["distance_km"] == pytest.approx(dist.min() / 1000, abs=0.01)


def test_imported_grids_replace_the_default(desk, tmp_path):
    path = tmp_path / "grids.geojson"
    gdf = gpd.GeoDataFrame({"grid_id": ["A", "B"], "unit": ["甲队", "乙队"], "duty_phone": ["0816-1", "0816-2"]},
                           geometry=[shapely.box(104.6, 31.3, 104.8, 31.5), shapely.box(104.8, 31.3, 105.0, 31.5)],
                           crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    assert desk.import_grids(path) == {"grids": 2, "data_status": ["verified"]}
    grids = desk.grids()
    assert [r["grid_id"] for r in grids.records] == ["A", "B"] and not grids.illustrative
    assert grids.assign(104.9, 31.4)["unit"] == "乙队"
    outside = grids.assign(104.5, 31.4)
    assert outside["grid_id"] == "A" and outside["assigned_by"] == "nearest"
    with pytest.raises(InputError):
        desk.import_grids(tmp_path / "missing.geojson")


# ---------------------------------------------------------------- requests
def _new(desk, **kw):
    payload = {"channel": "hotline_12328", "category": "parking_rest", "description": "没有车位",
               "lon": 104.75, "lat": 31.45, "contact_phone": "13900001111", **kw}
    return desk.create_request(payload, actor="wang")


def test_request_locations_point_station_corridor(desk, fresh_workspace):
    r = _new(desk)
    assert r["grid_id"] and r["unit"] and r["assigned_by"] == "contains" and r["state"] == "received"
    st = fresh_workspace.stations()[0]
    r2 = desk.create_request({"category": "drivers_home", "description": "x", "station_id": st["id"]}, actor="wang")
    assert (r2["lon"], r2["lat"]) == (pytest.approx(st["lon"], abs=1e-6), pytest.approx(st["lat"], abs=1e-6))
    cor = fresh_workspace.region.corridors.iloc[0]
    r3 = desk.create_request({"category": "road_enforcement", "description": "x", "corridor": str(cor["id"]), "km": 10},
                             actor="wang")
    assert r3["corridor"] == str(cor["id"]) and r3["corridor_km"] == 10
    crs = utm_crs_for(r3["lon"], r3["lat"])
    line_m = gpd.GeoSeries([cor.geometry], crs="EPSG:4326").to_crs(crs).iloc[0]
    pt_m = gpd.GeoSeries([shapely.Point(r3["lon"], r3["lat"])], crs="EPSG:4326").to_crs(crs).iloc[0]
    assert line_m.distance(pt_m) < 2 and line_m.project(pt_m) == pytest.approx(10_000, abs=2)
    with pytest.raises(InputError, match="location"):
        desk.create_request({"category": "other", "description": "x"}, actor="wang")
    with pytest.raises(InputError, match="category"):
        desk.create_request({"category": "nope", "description": "x", "lon": 104.7, "lat": 31.4}, actor="wang")
    with pytest.raises(NotFoundError):
        desk.create_request({"kind": "station_report", "description": "x", "station_id": "NOPE"}, actor="wang")


def test_every_state_in_order_each_audited(desk):
    r = _new(desk, category="wages_owed")
    with pytest.raises(InputError, match="next state"):
        desk.update(r["id"], {"state": "closed"}, expected_version=1, actor="wang")
    v = r["version"]
    for state in STATES[1:]:
        extra = {"satisfaction": "satisfied"} if state == "followed_up" else {}
        if state == "closed":
            extra["money_recovered_cny"] = 5200
        r = desk.update(r["id"], {"state": state, "note": f"to {state}", **extra}, expected_version=v, actor="li")
        assert r["state"] == state and r["version"] == v + 1
        v = r["version"]
    assert r["money_recovered_cny"] == 5200 and r["satisfaction"] == "satisfied"
    audit = desk.store.transitions(r["id"])
    assert [a["to_state"] for a in audit] == list(STATES)
    assert all(a["actor"] for a in audit) and [a["actor"] for a in audit[1:]] == ["li"] * 4
    with pytest.raises(ConflictError):
        desk.update(r["id"], {"note": "late"}, expected_version=1, actor="li")
    with pytest.raises(InputError, match="wage"):
        desk.update(_new(desk)["id"], {"money_recovered_cny": 1}, expected_version=1, actor="li")


def test_follow_up_needs_satisfaction(desk):
    r = _new(desk)
    for s in STATES[1:4]:
        r = desk.update(r["id"], {"state": s}, expected_version=r["version"], actor="li")
    with pytest.raises(InputError, match="satisfaction"):
        desk.update(r["id"], {"state": "followed_up"}, expected_version=r["version"], actor="li")


def test_queue_is_sorted_by_urgency_with_warnings(desk):
    old = _new(desk, received_at="2026-11-02T09:00")  # long overdue
    recent = _new(desk)
    now = dt.datetime.now(REGION_TZ)
    q = desk.queue(now=now)
    assert [x["id"] for x in q][:2] == [old["id"], recent["id"]]
    assert q[0]["clock"]["overdue"] and q[0]["clock"]["stages"]["transfer"]["overdue"]
    soon = desk.queue(now=now + dt.timedelta(minutes=100))
    rec = next(x for x in soon if x["id"] == recent["id"])
    assert rec["clock"]["stages"]["transfer"]["warning"] and not rec["clock"]["overdue"]


def test_public_view_is_the_receipt_only(desk):
    r = _new(desk)
    assert public_view(r) == {"receipt": r["receipt"]}


def test_desk_tables_are_private_and_idempotent(fresh_workspace):
    d1 = Desk(fresh_workspace)
    DeskStore(fresh_workspace.registry.path)  # second open: CREATE IF NOT EXISTS, nothing lost
    _new(d1)
    assert len(Desk(fresh_workspace).store.list_requests()) == 1
    assert stat.S_IMODE(os.stat(fresh_workspace.registry.path).st_mode) == 0o600


def test_rate_limit_is_shared_between_store_instances(fresh_workspace):
    a = Desk(fresh_workspace).store
    b = DeskStore(fresh_workspace.registry.path)  # as another gunicorn worker would
    assert a.hit("k", limit=2, window_s=600)[0] and b.hit("k", limit=2, window_s=600)[0]
    allowed, wait = a.hit("k", limit=2, window_s=600)
    assert not allowed and 0 < wait <= 600


# ---------------------------------------------------------------- notices and reach
def test_notices_by_grid_corridor_and_radius_with_reach(desk):
    grid = desk.grids().assign(104.75, 31.45)["grid_id"]
    until = (dt.datetime.now(REGION_TZ) + dt.timedelta(days=1)).isoformat()
    n1 = desk.create_notice({"kind": "weather", "title": "暴雨", "body": "慢行", "valid_to": until,
                             "target": {"grids": [grid]}}, actor="wang")
    cor = desk.ws.region.corridors.iloc[0]
    start = cor.geometry.coords[0]
    n2 = desk.create_notice({"kind": "road_closure", "title": "施工", "body": "半幅", "valid_to": until,
                             "target": {"corridor": str(cor["id"]), "from_km": 0, "to_km": 5, "buffer_km": 1}}, actor="wang")
    n3 = desk.create_notice({"kind": "policy", "title": "r", "body": "b", "valid_to": until,
                             "target": {"lon": 104.0, "lat": 31.0, "radius_km": 5}}, actor="wang")
    ids = lambda lon, lat: {n["id"] for n in desk.notices_at(lon, lat)}  # noqa: E731
    assert n1["id"] in ids(104.75, 31.45)
    assert n1["id"] not in ids(106.5, 33.0)
    assert n2["id"] in ids(*start)
    assert n3["id"] in ids(104.0, 31.04) and n3["id"] not in ids(104.0, 31.06)  # 4.4 km in, 6.7 km out
    expired = desk.create_notice({"kind": "weather", "title": "old", "body": "b", "valid_from": "2025-01-01T00:00",
                                  "valid_to": "2025-01-02T00:00", "target": {"grids": [grid]}}, actor="wang")
    assert expired["id"] not in ids(104.75, 31.45)
    for device in ("a" * 20, "b" * 20, "a" * 20):
        desk.notices_at(104.75, 31.45, device=device)
    reach = {n["id"]: n["reach_devices"] for n in desk.notices()}
    assert reach[n1["id"]] == 2 and reach[n3["id"]] == 0
    with pytest.raises(InputError, match="valid_to"):
        desk.create_notice({"kind": "weather", "title": "t", "body": "b", "valid_to": "2020-01-01T00:00",
                            "target": {"grids": [grid]}}, actor="wang")


# ---------------------------------------------------------------- illustrative year and reports
def test_illustrative_year_matches_published_totals(seeded):
    rows = seeded.store.list_requests(since="2025-01-01T00:00:00+08:00", until="2026-01-01T00:00:00+08:00")
    assert len(rows) == 219
    wages = [r for r in rows if r["category"] == "wages_owed"]
    assert len(wages) == 25 and sum(r["money_recovered_cny"] for r in wages) == 136_800 > 135_000
    assert all(r["data_status"] == "illustrative" and r["satisfaction"] == "satisfied" for r in rows)
    aug = seeded.report("monthly", "2025-08-15")
    assert aug["previous"]["change_pct"] == -23.26
    assert aug["data_status"] == "illustrative"
    assert all(s["on_time_rate_pct"] == 100.0 for s in aug["stages"].values())
    assert aug["satisfaction"]["satisfied_pct"] == 100.0
    notices = seeded.notices()
    assert len(notices) == 206 > 200
    assert sum(n["reach_reported"] for n in notices) == 22_350 > 22_000
    first = seeded.store.list_requests()[0]
    assert [a["to_state"] for a in seeded.store.transitions(first["id"])] == list(STATES)


def test_reports_periods_and_csv(seeded):
    from planner.desk.reports import chart_svg, period_bounds, to_csv

    start, end = period_bounds("weekly", "2025-08-14")  # a Thursday
    assert start.date() == dt.date(2025, 8, 11) and end.date() == dt.date(2025, 8, 18)
    month = seeded.report("monthly", "2025-07-01")
    assert month["requests"] == 43 and sum(month["by_category"].values()) == 43
    assert sum(g["requests"] for g in month["by_grid"]) == 43
    assert len(month["daily_counts"]) == 31
    text = to_csv(month)
    assert "on_time_rate_pct,close" in text and text.splitlines()[0] == "section,key,label,value"
    assert chart_svg(month).startswith("<svg")
    with pytest.raises(InputError):
        seeded.report("yearly", "2025-07-01")


def test_report_and_pages_follow_the_one_data_status_rule(desk, tmp_path):
    """Approximate grids make the report "approximate" (the worst status, as for stations and
    layers), not "illustrative", and the banner still shows; verified grids clear it."""
    from planner.provenance import needs_banner

    path = tmp_path / "grids.geojson"
    gdf = gpd.GeoDataFrame({"grid_id": ["A", "B"], "data_status": ["verified", "approximate"]},
                           geometry=[shapely.box(104.6, 31.3, 104.8, 31.5), shapely.box(104.8, 31.3, 105.0, 31.5)],
                           crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    desk.import_grids(path)
    grids = desk.grids()
    assert grids.data_status == "approximate" and grids.illustrative
    report = desk.report("monthly", "2025-07-01")
    assert report["data_status"] == "approximate" and needs_banner(report["data_status"])
    gdf["data_status"] = "verified"
    gdf.to_file(path, driver="GeoJSON")
    desk.import_grids(path)
    assert desk.report("monthly", "2025-07-01")["data_status"] == "verified" and not desk.grids().illustrative


# ---------------------------------------------------------------- bulk import
def test_bulk_import_csv_and_excel_all_or_nothing(desk, tmp_path):
    rows = pd.DataFrame({"受理时间": ["2026-11-20T09:00", "2026-11-21T10:30"], "类别": ["欠薪欠费", "charging"],
                         "诉求内容": ["运费拖欠", "排队"], "经度": ["104.75", "104.70"], "纬度": ["31.45", "31.80"],
                         "联系电话": ["13900002222", ""]})
    csv_path = tmp_path / "calls.csv"
    rows.to_csv(csv_path, index=False)
    out = desk.import_file(csv_path, actor="import")
    assert out["imported"] == 2
    stored = desk.store.list_requests()
    assert [r["category"] for r in stored] == ["wages_owed", "charging"]
    assert all(desk.store.transitions(r["id"])[0]["action"] == "import" for r in stored)
    xlsx = tmp_path / "calls.xlsx"
    bad = rows.copy()
    bad.loc[1, "类别"] = "不存在"
    bad.to_excel(xlsx, index=False)
    with pytest.raises(InputError, match="row 3") as info:
        desk.import_file(xlsx, actor="import")
    assert "1 problem(s); nothing was imported" in info.value.message
    assert set(info.value.fields) == {"row 3.category"} and info.value.fields_zh["row 3.category"]
    assert len(desk.store.list_requests()) == 2  # nothing from the bad file
    rows.to_excel(xlsx, index=False)
    assert desk.import_file(xlsx, actor="import")["imported"] == 2


# ---------------------------------------------------------------- requests as demand
def test_requests_as_demand_feed_suggest(seeded):
    from planner.scenario import suggest

    rows = seeded.store.list_requests()
    demand = as_demand(rows)
    wanted = [r for r in rows if r["category"] in DEMAND_CATEGORIES]
    assert len(demand) == len(wanted) > 0
    assert list(demand.columns) == ["cell_id", "lon", "lat", "weight", "kind", "data_status", "source"]
    assert set(demand["data_status"]) == {"illustrative"}
    region = seeded.ws.region
    base = region.demand
    combined = pd.concat([base[demand.columns], demand.assign(weight=demand["weight"] * 50)], ignore_index=True)
    reg2 = dataclasses.replace(region, demand_layer=combined)
    result = suggest(reg2, seeded.ws.network, seeded.ws.stations(), method="kmeans", k=2)
    assert len(result["sites"]) == 2
    with pytest.raises(InputError):
        as_demand(rows, categories=["nope"])


def test_cli_import_report_and_queue(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "registry.sqlite"
    env = dict(os.environ, YIZHAN_DB=str(db), PYTHONPATH=".")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, env=env,
                              check=False)

    assert run("init-db").returncode == 0
    assert json.loads(run("desk", "queue", "--json").stdout) == []  # plain init-db seeds no desk data
    calls = tmp_path / "calls.csv"
    calls.write_text("received_at,category,description,lon,lat,contact_phone\n"
                     "2026-11-20T09:00,charging,排队太久,104.75,31.45,13900003333\n", encoding="utf-8")
    out = run("desk", "import", str(calls))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["imported"] == 1
    report = run("desk", "report", "monthly", "--date", "2026-11-01", "--json")
    assert json.loads(report.stdout)["by_category"]["charging"] == 1
    queue = run("desk", "queue", "--json")
    assert [r["category"] for r in json.loads(queue.stdout)] == ["charging"]
    assert json.loads(queue.stdout)[0]["overdue"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("category,description\nfood,x\n", encoding="utf-8")
    out = run("desk", "import", str(bad))
    assert out.returncode == 2 and "row 2" in out.stderr and "Traceback" not in out.stderr


def test_init_db_seeds_the_illustrative_desk_only_into_a_new_registry(tmp_path):
    """`make run` serves a demo desk; a second start keeps what staff did to it."""
    from planner.cli import main
    from planner.desk import Desk
    from planner.workspace import Workspace

    db = tmp_path / "registry.sqlite"
    assert main(["--db", str(db), "init-db", "--illustrative-desk"]) == 0
    desk = Desk(Workspace(db_path=db))
    seeded = desk.store.list_requests()
    assert len(seeded) > 100 and all(r["data_status"] == "illustrative" for r in seeded)
    first = seeded[0]
    edited = desk.update(first["id"], {"resolution": "staff were here"}, expected_version=first["version"], actor="staff")
    assert edited["version"] == first["version"] + 1
    assert main(["--db", str(db), "init-db", "--illustrative-desk"]) == 0  # existing registry: not re-seeded
    again = Desk(Workspace(db_path=db))
    assert len(again.store.list_requests()) == len(seeded)
    assert again.get(first["id"])["version"] == edited["version"]
