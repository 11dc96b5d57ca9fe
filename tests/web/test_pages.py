"""Server-rendered pages: factory and config, offline assets, i18n, CSRF, staff forms,
escaping, planner downloads. (Browser behaviour is in test_browser.py.)"""

from __future__ import annotations

import io
import json
import re

import folium
import pytest
from folium.plugins import MarkerCluster

from app import create_app
from planner.coords import wgs84_to_gcj02
from webmap import assets
from webmap.config import resolve_secret_key

XSS = "<img src=x onerror=alert(1)>"


def csrf_token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def login(client, name: str, password: str):
    token = csrf_token(client, "/admin/login")
    return client.post("/admin/login", data={"username": name, "password": password, "csrf_token": token})


def edit_form(client, station_id: str) -> dict:
    """The edit form's fields as a browser would submit them (checkboxes: checked ones)."""
    html = client.get(f"/admin/stations/{station_id}").get_data(as_text=True)
    form = html[html.index('id="station-form"'):html.index("</form>", html.index('id="station-form"'))]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        value = _unescape(value.group(1)) if value else ""
        if 'type="checkbox"' in tag:
            if "checked" not in tag:
                continue
            value = value if 'value="' in tag else "on"
        data.setdefault(name.group(1), []).append(value)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(r'<option value="([^"]*)"', body)
        data[name] = [chosen.group(1)]
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.DOTALL):
        data[name] = [_unescape(body)]
    return data


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def post_form(client, path: str, data: dict):
    from werkzeug.datastructures import MultiDict

    items = [(k, v) for k, values in data.items() for v in (values if isinstance(values, list) else [values])]
    return client.post(path, data=MultiDict(items))


# ---------------------------------------------------------------------- factory, config
def test_testing_flag_and_workspace(app):
    assert app.testing
    assert app.extensions["yizhan"].workspace.registry.count() == 23
    import inspect

    assert list(inspect.signature(create_app).parameters) == ["config"]
    assert inspect.signature(create_app).parameters["config"].default is None


def test_create_app_seeds_a_missing_registry_at_yizhan_db(tmp_path, workspace):
    db = tmp_path / "sub" / "registry.sqlite"
    app = create_app({"TESTING": True, "YIZHAN_DB": str(db), "TILES": None})
    assert db.is_file()
    assert app.extensions["yizhan"].workspace.registry.count() == 23
    assert app.test_client().get("/healthz").status_code == 200


def test_secret_key_is_never_a_fixed_default(tmp_path, monkeypatch):
    monkeypatch.delenv("YIZHAN_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="YIZHAN_SECRET_KEY"):
        resolve_secret_key({}, tmp_path)
    (tmp_path / "secret_key").write_text("from-the-instance-file\n")
    assert resolve_secret_key({}, tmp_path) == "from-the-instance-file"
    monkeypatch.setenv("YIZHAN_SECRET_KEY", "from-env")
    assert resolve_secret_key({}, tmp_path) == "from-env"
    assert resolve_secret_key({"SECRET_KEY": "mapping"}, tmp_path) == "mapping"
    monkeypatch.delenv("YIZHAN_SECRET_KEY")
    (tmp_path / "secret_key").unlink()
    a, b = resolve_secret_key({"TESTING": True}, tmp_path), resolve_secret_key({"TESTING": True}, tmp_path)
    assert a != b and len(a) >= 32


def test_tiles_are_off_unless_configured_and_never_gcj02(monkeypatch, fresh_workspace):
    from webmap.config import OSM_ATTR, OSM_TILES, defaults

    monkeypatch.delenv("YIZHAN_TILES", raising=False)
    monkeypatch.delenv("YIZHAN_TILES_ATTR", raising=False)
    assert defaults()["TILES"] is None and defaults()["TILES_ATTR"] is None
    monkeypatch.setenv("YIZHAN_TILES", "none")
    assert defaults()["TILES"] is None
    monkeypatch.setenv("YIZHAN_TILES", "https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert defaults()["TILES"].startswith("https://{s}.tiles.example.org")
    assert "a.tiles.example.org" in defaults()["TILES_ATTR"]  # a drawn layer always says whose it is
    monkeypatch.setenv("YIZHAN_TILES", OSM_TILES)
    assert defaults()["TILES_ATTR"] == OSM_ATTR
    for shifted in ("https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8",
                    "https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}"):
        monkeypatch.setenv("YIZHAN_TILES", shifted)
        with pytest.raises(ValueError, match="GCJ-02"):
            defaults()

    # the default page names no tile host and draws no attribution
    from tests.web.conftest import make_app

    monkeypatch.delenv("YIZHAN_TILES", raising=False)
    html = make_app(fresh_workspace).test_client().get("/").get_data(as_text=True)
    assert "openstreetmap" not in html.lower() and "tile_layer" not in html


# ---------------------------------------------------------------------- offline assets
def _absolute_refs(html: str) -> list[str]:
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    return [r for r in refs if r.startswith(("http:", "https:", "//"))]


def test_pages_load_nothing_from_other_hosts(client, users):
    login(client, *users["admin"])
    for path in ("/", "/?lang=en", "/planner", "/admin/", "/admin/stations/MY-DH-01", "/admin/stations/new"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert _absolute_refs(r.get_data(as_text=True)) == [], path


def test_vendor_whitelist(client):
    r = client.get("/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and b"Leaflet" in r.data[:500]
    assert client.get("/vendor/jquery/jquery.min.js").status_code == 404  # no page needs jQuery
    assert client.get("/vendor/leaflet/images/marker-icon.png").status_code == 200
    for bad in ("/vendor/leaflet/../../../../etc/passwd", "/vendor/nope/x.js", "/vendor/leaflet/leaflet.js.map",
                "/vendor/leaflet/leaflet-src.esm.js.map"):
        assert client.get(bad).status_code == 404, bad


def test_localize_refuses_unknown_folium_assets(app):
    m = folium.Map(tiles=None)
    MarkerCluster().add_to(m)
    with app.test_request_context("/"), pytest.raises(KeyError, match="markerclusterjs"):
        assets.localize(m)
    # folium's class-level lists are untouched (new lists are assigned per element)
    assert folium.Map.default_js[0][1].startswith("https://")


# ---------------------------------------------------------------------- drivers' map
def test_driver_page_is_chinese_by_default_and_english_on_request(client):
    zh = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "示意数据，非官方" in zh and "定位我" in zh
    en = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Illustrative data, not official" in en and "Locate me" in en
    data = json.loads(re.search(r'<script type="application/json" id="yz-data">(.*?)</script>', en, re.DOTALL).group(1))
    assert len(data["stations"]) == 23 and data["lang"] == "en"
    assert data["t"]["road_km"] == "{km} km by road"
    assert {"i", "n", "x", "y", "a", "na", "nb"} <= set(data["stations"][0])


def _page_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="yz-data">(.*?)</script>', html, re.DOTALL).group(1))


def test_driver_page_speaks_one_language(client):
    """Chinese page: Chinese county names, no English address; English page: the reverse."""
    zh = _page_data(client.get("/").get_data(as_text=True))
    en = _page_data(client.get("/?lang=en").get_data(as_text=True))
    zh_by, en_by = {s["i"]: s for s in zh["stations"]}, {s["i"]: s for s in en["stations"]}
    assert zh_by["MY-DH-01"]["cn"] == "涪城区" and en_by["MY-DH-01"]["cn"] == "Fucheng District"
    for s in zh["stations"]:
        assert not re.search(r"[A-Za-z]{3,}", s.get("ad", "")), s  # "示意位置：G108 at Xinzao…" is not shown
        assert re.search(r"[\u4e00-\u9fff]", s["loc"]), s  # a Chinese locality instead
        assert s.get("co") is None or not re.search(r"[a-z]", s["co"]), s  # 绵苍高速, not MianCang
    assert zh_by["MY-DH-09"]["ad"].startswith("北川羌族自治县")  # a Chinese address stays
    for s in en["stations"]:
        assert not re.search(r"[\u4e00-\u9fff]", s.get("ad", "") + s["loc"] + s.get("cn", "")), s
    zh_labels = {lb["t"] for lb in zh["labels"]}
    assert {"绵阳", "江油市", "平武县", "新安服务区"} <= zh_labels
    assert {"Mianyang", "Jiangyou City", "Pingwu County"} <= {lb["t"] for lb in en["labels"]}
    assert {"G5", "G93", "G8513", "G108", "绵苍高速"} <= {sh["t"] for sh in zh["shields"]}
    assert zh["t"]["geo_denied"] == "未获得定位权限" and en["t"]["geo_denied"] == "location permission was denied"


def test_driver_page_marks_closed_stations_by_china_time(client, app):
    import datetime as dt
    from zoneinfo import ZoneInfo

    registry = app.extensions["yizhan"].workspace.registry
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    hours = f"{(now + dt.timedelta(hours=2)):%H:%M}-{(now + dt.timedelta(hours=3)):%H:%M}"
    registry.update("MY-DH-02", {"hours": hours}, expected_version=1, actor="test")
    data = _page_data(client.get("/").get_data(as_text=True))
    is_open, opens_at = data["open"]["MY-DH-02"]
    assert is_open is False and opens_at[11:16] == hours[:5] and opens_at.endswith("+08:00")


def test_opening_is_judged_in_the_regions_time_zone():
    import datetime as dt
    from zoneinfo import ZoneInfo

    from planner.stations import opening

    tz = ZoneInfo("Asia/Shanghai")
    assert opening("24h", dt.datetime(2026, 12, 1, 3, 57, tzinfo=tz)) == (True, None)
    # Pingwu at 03:57: closed, opens at 06:30 the same morning
    assert opening("06:30-22:30", dt.datetime(2026, 12, 1, 3, 57, tzinfo=tz)) == (False, "2026-12-01T06:30+08:00")
    # after closing: the next morning
    assert opening("06:30-22:30", dt.datetime(2026, 12, 1, 23, 0, tzinfo=tz)) == (False, "2026-12-02T06:30+08:00")
    assert opening("20:00-08:00", dt.datetime(2026, 12, 1, 7, 59, tzinfo=tz)) == (True, None)
    assert opening("20:00-08:00", dt.datetime(2026, 12, 1, 8, 0, tzinfo=tz)) == (False, "2026-12-01T20:00+08:00")


def test_nearest_results_gain_open_now_and_opens_at_only(client):
    body = client.get("/api/nearest?lon=104.56&lat=32.40&k=3").get_json()
    for r in body["results"]:
        assert {"id", "name", "road_km", "drive_min", "straight_km", "lon", "lat", "access_km", "kind",
                "data_status"} < set(r)
        assert isinstance(r["open_now"], bool)
        assert (r["opens_at"] is None) == r["open_now"]


def test_places_api_is_public_and_tolerant(client):
    for q, expected in (("江油", "COUNTY-510781"), ("绵阳", "CITY-510700"), ("平武", "COUNTY-510727"),
                        ("Pingwu", "COUNTY-510727"), ("pingwu", "COUNTY-510727"), ("jiang", "COUNTY-510781")):
        r = client.get("/api/places", query_string={"q": q})
        assert r.status_code == 200, q
        assert r.get_json()["results"][0]["id"] == expected, q
    assert client.get("/api/places?q=zzzz").get_json()["results"] == []
    bad = client.get("/api/places?q=")
    assert bad.status_code == 400 and bad.get_json()["error"]["fields"] == {"q": "required"}
    assert client.get("/api/places?q=jiang&limit=0").status_code == 400
    assert len(client.get("/api/places?q=jiang&limit=2").get_json()["results"]) == 2


def test_driver_page_shows_a_saved_change_at_once(client, app):
    registry = app.extensions["yizhan"].workspace.registry

    def laundry_of(station_id):
        html = client.get("/").get_data(as_text=True)
        data = json.loads(re.search(r'id="yz-data">(.*?)</script>', html, re.DOTALL).group(1))
        return "laundry" in next(s for s in data["stations"] if s["i"] == station_id)["a"]

    assert not laundry_of("MY-DH-02")
    registry.update("MY-DH-02", {"amenities": {"laundry": True}}, expected_version=1, actor="wang")
    assert laundry_of("MY-DH-02")


def test_banner_follows_the_data_status(client, app):
    ws = app.extensions["yizhan"].workspace
    assert ws.uses_illustrative_data()
    # verified stations alone do not clear it while the embedded layers are illustrative ...
    assert ws.uses_illustrative_data([{"data_status": "verified"}])
    # ... and the embedded station layer does not count once the registry replaces it
    saved = ws.region.provenance
    try:
        ws.region.provenance = {"stations": {"data_status": "illustrative"}, "counties": {"data_status": "verified"}}
        assert not ws.uses_illustrative_data([{"data_status": "verified"}])
        assert ws.uses_illustrative_data([{"data_status": "verified"}, {"data_status": "approximate"}])
    finally:
        ws.region.provenance = saved


# ---------------------------------------------------------------------- escaping
def test_station_text_is_escaped_in_every_server_page(client, app, users):
    app.extensions["yizhan"].workspace.registry.update(
        "MY-DH-01", {"name": XSS, "notes": XSS}, expected_version=1, actor="li")
    login(client, *users["staff"])
    for path in ("/", "/admin/", "/admin/stations/MY-DH-01", "/admin/stations/MY-DH-01/history", "/planner"):
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html, path
    planner = client.get("/planner").get_data(as_text=True)
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in planner  # map data: JSON, '<' escaped
    driver = client.get("/").get_data(as_text=True)
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in driver  # JSON in the page, '<' escaped


# ---------------------------------------------------------------------- staff pages and CSRF
@pytest.mark.parametrize("path", ["/admin/", "/admin/stations/MY-DH-01", "/admin/stations/new",
                                  "/admin/stations/MY-DH-01/history"])
def test_admin_pages_need_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]


def test_login_checks_password_and_redirects_safely(client, users):
    name, password = users["staff"]
    bad = login(client, name, "wrong")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.get_data(as_text=True)
    token = csrf_token(client, "/admin/login")
    r = client.post("/admin/login?next=//evil.example/", data={"username": name, "password": password,
                                                               "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    assert "wang" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/login", {"username": "wang", "password": "staff-pass-1"}),
        ("/admin/logout", {}),
        ("/admin/stations/MY-DH-01", {"name": "x", "version": "1"}),
        ("/admin/stations/new", {"id": "MY-NEW-1"}),
        ("/admin/stations/MY-DH-01/retire", {"version": "1"}),
        ("/planner", {"method": "kmeans", "k": "2"}),
    ],
)
def test_every_form_post_needs_a_csrf_token(client, users, path, data):
    login(client, *users["admin"])
    r = client.post(path, data=data)
    assert r.status_code == 400
    assert "表单已过期" in r.get_data(as_text=True)


def test_admin_list_search(client, users):
    login(client, *users["staff"])
    html = client.get("/admin/?q=DH-09").get_data(as_text=True)
    assert html.count('data-id="MY-') == 1 and "MY-DH-09" in html
    assert client.get("/admin/").get_data(as_text=True).count('data-id="MY-') == 23


def test_edit_saves_only_changed_fields(client, app, users):
    login(client, *users["staff"])
    data = edit_form(client, "MY-DH-04")
    data["amenity"] = data["amenity"] + ["laundry"]
    data["hours"] = ["07:00-22:00"]
    r = post_form(client, "/admin/stations/MY-DH-04", data)
    assert r.status_code == 302
    registry = app.extensions["yizhan"].workspace.registry
    stored = registry.get("MY-DH-04")
    assert stored["version"] == 2 and stored["amenities"]["laundry"] and stored["hours"] == "07:00-22:00"
    changes = registry.history("MY-DH-04")[0]["changes"]
    assert set(changes) == {"amenities.laundry", "hours"}
    assert "已保存（版本 2）" in client.get("/admin/stations/MY-DH-04").get_data(as_text=True)


def test_edit_validation_messages_in_the_users_language(client, app, users):
    login(client, *users["staff"])
    data = edit_form(client, "MY-DH-04")
    data["hours"] = ["25:00-99:00"]
    r = post_form(client, "/admin/stations/MY-DH-04", data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    zh_error = re.search(r'id="error-hours"[^>]*>([^<]+)<', html).group(1)
    assert re.search(r"[\u4e00-\u9fff]", zh_error), zh_error  # Chinese rule from planner
    data["lon"] = ["abc"]
    en = post_form(client, "/admin/stations/MY-DH-04?lang=en", data).get_data(as_text=True)
    assert re.search(r'id="error-lon"[^>]*>Must be a number\.<', en)
    assert app.extensions["yizhan"].workspace.registry.get("MY-DH-04")["version"] == 1


def test_stale_form_shows_conflict_and_writes_nothing(client, app, users):
    login(client, *users["staff"])
    data = edit_form(client, "MY-DH-04")
    registry = app.extensions["yizhan"].workspace.registry
    registry.update("MY-DH-04", {"hours": "06:00-22:00"}, expected_version=1, actor="li")
    data["phone"] = ["0816-7654321"]
    r = post_form(client, "/admin/stations/MY-DH-04", data)
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert 'id="conflict"' in html and "0816-7654321" in html and "06:00-22:00" in html
    stored = registry.get("MY-DH-04")
    assert stored["version"] == 2 and stored["phone"] != "0816-7654321"
    # the conflict form carries the new version and only my edit on top of the stored record
    again = edit_form_from_html(html)
    assert again["version"] == ["2"] and again["hours"] == ["06:00-22:00"] and again["phone"] == ["0816-7654321"]


def edit_form_from_html(html: str) -> dict:
    form = html[html.index('id="station-form"'):html.index("</form>", html.index('id="station-form"'))]
    out = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and value:
            out.setdefault(name.group(1), []).append(_unescape(value.group(1)))
    return out


def test_add_station_with_gcj02_location(client, app, users):
    login(client, *users["staff"])
    lon, lat = 104.74, 31.52
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    token = csrf_token(client, "/admin/stations/new")
    r = post_form(client, "/admin/stations/new", {
        "csrf_token": token, "id": "my-new-01", "name": "新站", "kind": "service_area", "hours": "24h",
        "data_status": "verified", "source": "field survey 2026", "lon": f"{g_lon:.7f}", "lat": f"{g_lat:.7f}",
        "coord_sys": "gcj02", "amenity": ["parking", "shower"], "bay_count": ["4", ""], "bay_kw": ["600", ""],
        "parking_bays": "30",
    })
    assert r.status_code == 302, re.findall(r'class="field-error"[^>]*>([^<]*)<', r.get_data(as_text=True))
    stored = app.extensions["yizhan"].workspace.registry.get("MY-NEW-01")
    assert stored["lon"] == pytest.approx(lon, abs=1e-5) and stored["lat"] == pytest.approx(lat, abs=1e-5)
    assert stored["coord_sys"] == "gcj02" and stored["charging"]["total_kw"] == 2400
    assert stored["amenities"]["shower"] and not stored["amenities"]["laundry"]
    dup = post_form(client, "/admin/stations/new", {"csrf_token": token, "id": "MY-NEW-01", "name": "x",
                                                     "kind": "town", "hours": "24h", "data_status": "verified",
                                                     "source": "s", "lon": "104.7", "lat": "31.5"})
    assert dup.status_code == 400 and 'id="error-id"' in dup.get_data(as_text=True)


def test_retire_is_for_admins(client, app, users):
    login(client, *users["staff"])
    token = csrf_token(client, "/admin/stations/MY-DH-07")
    assert "retire-form" not in client.get("/admin/stations/MY-DH-07").get_data(as_text=True)
    assert client.post("/admin/stations/MY-DH-07/retire", data={"csrf_token": token, "version": "1"}).status_code == 403
    client.post("/admin/logout", data={"csrf_token": token})
    login(client, *users["admin"])
    token = csrf_token(client, "/admin/stations/MY-DH-07")
    r = client.post("/admin/stations/MY-DH-07/retire", data={"csrf_token": token, "version": "1"})
    assert r.status_code == 302
    registry = app.extensions["yizhan"].workspace.registry
    assert registry.get("MY-DH-07")["status"] == "retired"
    assert registry.history("MY-DH-07")[0]["actor"] == users["admin"][0]


def test_history_page_shows_who_when_what(client, app, users):
    app.extensions["yizhan"].workspace.registry.update(
        "MY-DH-08", {"phone": "0816-999"}, expected_version=1, actor="li")
    login(client, *users["staff"])
    registry = app.extensions["yizhan"].workspace.registry
    registry.update("MY-DH-08", {"amenities": {"laundry": True}}, expected_version=2, actor="li")
    html = client.get("/admin/stations/MY-DH-08/history").get_data(as_text=True)
    assert re.search(r'<td data-label="操作人" class="actor">li</td>', html) and "0816-999" in html
    # field labels, not keys; actions in words; times in China time (UTC + 8), said so
    assert '<th scope="row">电话</th>' in html and '<th scope="row">设施: 洗衣</th>' in html
    assert ">phone<" not in html and "amenities.laundry" not in html.split("<tbody>")[1]
    assert '<td data-label="操作" class="action">修改</td>' in html
    import datetime as dt

    at = dt.datetime.fromisoformat(registry.history("MY-DH-08")[0]["at"])
    local = (at + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert f">{local}</time>" in html and "北京时间" in html


def test_staff_errors_name_fields_in_the_users_language(client, app, users):
    """No raw field keys ("location:") and no Python None in the error list."""
    login(client, *users["staff"])
    page = client.get("/admin/stations/MY-DH-01").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    orig = re.search(r'name="orig" value="([^"]+)"', page).group(1)
    import html as htmllib

    form = {"csrf_token": token, "version": "1", "orig": htmllib.unescape(orig), "lon": "103.80", "lat": "30.80",
            "coord_sys": "wgs84", "name": "", "kind": "", "data_status": "", "hours": "", "source": ""}
    html = client.post("/admin/stations/MY-DH-01", data=form).get_data(as_text=True)
    errors = re.search(r'<div class="errors".*?</div>', html, re.DOTALL).group(0)
    assert "<strong>位置</strong>" in errors and "location" not in errors
    assert "None" not in errors and "（空）" in errors


# ---------------------------------------------------------------------- planners' page
def map_spec(html: str) -> dict:
    """The planners' map as the page carries it: JSON in <script type="application/json">."""
    match = re.search(r'<script type="application/json" id="yz-map-data">(.*?)</script>', html, re.S)
    assert match, "no map data in the page"
    return json.loads(match.group(1))


def layer(spec: dict, key: str) -> dict:
    found = [ly for ly in spec["layers"] if ly["key"] == key]
    assert len(found) == 1, (key, [ly["key"] for ly in spec["layers"]])
    return found[0]


def features(spec: dict, key: str) -> list[dict]:
    return layer(spec, key)["data"]["features"]


def test_planner_page_and_suggestion(client):
    page = client.get("/planner")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "coverage-summary" in html and "flash-warning" not in html
    assert "new Function" not in html and "L.circleMarker(" not in html  # no map code generated from data
    before = map_spec(html)
    assert {"counties", "grid", "corridors", "gaps", "stations", "candidates"} <= {ly["key"] for ly in before["layers"]}
    assert len(features(before, "stations")) == 23
    token = csrf_token(client, "/planner")
    r = client.post("/planner", data={"csrf_token": token, "method": "kmeans", "k": "2", "radius_km": "30"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert len(re.findall(r"<li>NEW-\d\d", html)) == 2
    assert 'id="metrics"' in html
    # the results come straight after the form, before the coverage details
    assert html.index('id="suggest-form"') < html.index('id="suggestion"') < html.index('id="coverage-summary"')
    bad = client.post("/planner", data={"csrf_token": token, "method": "magic", "k": "2"})
    assert bad.status_code == 400


def test_planner_map_is_redrawn_for_the_scenario(client):
    before = map_spec(client.get("/planner?lang=en").get_data(as_text=True))
    token = csrf_token(client, "/planner")
    r = client.post("/planner?lang=en", data={"csrf_token": token, "method": "lscp", "k": "", "radius_km": "30"})
    assert r.status_code == 200, r.get_data(as_text=True)[:3000]
    html = r.get_data(as_text=True)
    after = map_spec(html)
    sites = features(after, "sites")
    assert len(sites) == len(re.findall(r"<li>NEW-\d\d", html)) >= 1
    for key in ("grid", "corridors", "gaps"):
        assert layer(after, key)["name"].endswith("(after)"), key
    assert not layer(after, "gaps_before")["show"]
    assert len(features(after, "gaps_before")) == len(features(before, "gaps")) > 0
    assert len(features(after, "gaps")) < len(features(before, "gaps"))  # LSCP closes gaps: the map shows it
    red = "#d73027"
    assert (sum(f["properties"]["style"]["color"] == red for f in features(after, "corridors"))
            < sum(f["properties"]["style"]["color"] == red for f in features(before, "corridors")))
    assert 'id="explain"' not in html or "corridor coverage" not in html  # coverage did improve


def test_planner_grid_cells_have_human_names(client):
    for lang, county, word in (("zh", "江油市", "号网格"), ("en", "Jiangyou City", "cell")):
        spec = map_spec(client.get(f"/planner?lang={lang}").get_data(as_text=True))
        tips = [f["properties"]["tip"] for f in features(spec, "grid")]
        assert len(tips) > 100
        assert not any(re.search(r"\b[0-9a-f]{15}\b", tip) for tip in tips), "raw H3 ids in the grid tooltips"
        names = [re.match(r"(.+?)[：:]", tip).group(1) for tip in tips]
        assert len(set(names)) == len(names), "two cells with one name"
        assert sum(n.startswith(county) and word in n for n in names) >= 10


def test_planner_explains_a_suggestion_that_cannot_improve(client):
    token = csrf_token(client, "/planner")
    r = client.post("/planner?lang=en", data={"csrf_token": token, "method": "kmeans", "k": "3", "radius_km": "30"})
    html = r.get_data(as_text=True)
    uncovered = re.search(r'<tr><td>Uncovered km</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td>', html)
    assert uncovered.group(1) == uncovered.group(2), "this case was chosen because k-means closes no gap here"
    explain = re.search(r'<div class="explain" id="explain" role="note">(.*?)</div>', html, re.S)
    assert explain, "no explanation although corridor coverage did not improve"
    text = explain.group(1)
    assert "No improvement in corridor coverage" in text and "none of the new sites lies in a coverage gap" in text
    assert "k-means" in text and "LSCP" in text
    zh = client.post("/planner?lang=zh", data={"csrf_token": token, "method": "kmeans", "k": "3", "radius_km": "30"})
    assert "通道覆盖没有改善" in zh.get_data(as_text=True)


def test_planner_explains_no_gain_in_drive_time(app):
    """A site on top of an existing station changes nothing: both explanations, with the
    road km to that station and what the method aims at."""
    from webmap.planning import explanations

    ws = app.extensions["yizhan"].workspace
    station = ws.stations()[0]
    cov = ws.coverage(radius_km=30, samples=True)
    from planner.coverage import gap_lines

    same = {"mean_drive_min": 7.5, "uncovered_km": 100.0}
    result = {"method": "mclp", "radius_km": 30.0, "before": same, "after": dict(same), "filters": {},
              "sites": [{"lon": station["lon"], "lat": station["lat"]}], "gap_lines": {"before": gap_lines(cov)}}
    coverage, access = explanations(ws, result, "en")
    assert coverage.startswith("No improvement in corridor coverage: none of the new sites lies in a coverage gap")
    assert access.startswith("No improvement in mean drive time: the new sites are close to existing stations")
    km = float(re.search(r"nearest ([0-9.]+) km", access).group(1))
    assert km < 1.0 and "MCLP maximises demand within R" in access
    improved = dict(result, after={"mean_drive_min": 7.0, "uncovered_km": 90.0})
    assert explanations(ws, improved, "en") == []


def test_planner_page_survives_a_failing_layer_and_does_not_keep_it(client, app, monkeypatch):
    ws = app.extensions["yizhan"].workspace

    def broken(**_kw):
        raise RuntimeError("grid file unreadable")

    monkeypatch.setattr(ws, "grid_access", broken)
    r = client.get("/planner?lang=en")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "flash-warning" in html and "grid file unreadable" in html
    spec = map_spec(html)
    assert "grid" not in {ly["key"] for ly in spec["layers"]} and len(features(spec, "stations")) == 23
    monkeypatch.undo()
    spec = map_spec(client.get("/planner?lang=en").get_data(as_text=True))  # not served from the cache
    assert len(features(spec, "grid")) > 100


def test_planner_downloads(client):
    geo = client.get("/planner/export/stations.geojson")
    assert geo.status_code == 200 and "attachment" in geo.headers["Content-Disposition"]
    assert len(json.loads(geo.data)["features"]) == 23
    assert client.get("/planner/export/stations.gpkg").data[:15] == b"SQLite format 3"
    csv = client.get("/planner/export/stations.csv").get_data(as_text=True)
    assert csv.lstrip("\ufeff").startswith("id,") and len(csv.splitlines()) == 24  # BOM: opens right in Excel
    assert client.get("/planner/export/stations.shp").status_code == 400
    scenario = client.get("/planner/scenario.geojson?method=kmeans&k=2&radius_km=30")
    assert scenario.status_code == 200 and len(json.loads(scenario.data)["features"]) == 2
    report = client.get("/planner/report.html?method=kmeans&k=2&radius_km=30")
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    assert report.data.lstrip()[:15].upper() == b"<!DOCTYPE HTML>"
    assert io.BytesIO(report.data).getbuffer().nbytes > 1000
    spec = json.loads(re.search(r"<script type='application/json' id='yz-map-data'>(.*?)</script>",
                                report.get_data(as_text=True), re.S).group(1))
    assert len(features(spec, "sites")) == 2 and len(features(spec, "stations")) == 23
    assert len(features(spec, "grid")) > 100 and len(features(spec, "corridors")) > 10  # the scenario's own state


def test_render_cache_is_bounded(app):
    state = app.extensions["yizhan"]
    for i in range(state.MAX_ENTRIES + 10):
        state.cached(("radius", i), lambda i=i: i)
    assert len(state._cache) == state.MAX_ENTRIES
    assert state.cached(("radius", state.MAX_ENTRIES + 9), lambda: "rebuilt") == state.MAX_ENTRIES + 9
    assert state.cached(("radius", 0), lambda: "rebuilt") == "rebuilt"  # the oldest went first
    assert state.cached(("radius", 0), lambda: "again", generation=1) == "again"  # a new generation rebuilds


def test_stale_retire_is_refused_in_the_pages_language(client, app, users):
    login(client, *users["admin"])
    token = csrf_token(client, "/admin/stations/MY-DH-08")
    r = client.post("/admin/stations/MY-DH-08/retire?lang=zh", data={"csrf_token": token, "version": "99"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "已被他人修改，未停用" in page and "UTC" not in page
    assert app.extensions["yizhan"].workspace.registry.get("MY-DH-08")["status"] != "retired"
