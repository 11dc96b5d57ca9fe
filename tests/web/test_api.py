"""The JSON API (README "HTTP"): shapes, every status code, auth, concurrency."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest

from planner.coords import wgs84_to_gcj02

CONTRACT_ERROR_KEYS = {"code", "message"}


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert CONTRACT_ERROR_KEYS <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------- reads
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_stations_is_a_feature_collection(client):
    r = client.get("/api/stations")
    assert r.status_code == 200
    body = r.get_json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 23
    f = body["features"][0]
    assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
    props = f["properties"]
    for key in ("id", "name", "lon", "lat", "county", "kind", "amenities", "charging", "data_status", "version"):
        assert key in props
    assert f["geometry"]["coordinates"] == [props["lon"], props["lat"]]
    assert r.headers["Cache-Control"] == "no-cache"


def test_station_feature_has_version_and_etag(client):
    r = client.get("/api/stations/MY-DH-09")
    assert r.status_code == 200
    assert r.headers["ETag"] == '"1"'
    feature = r.get_json()
    assert feature["id"] == "MY-DH-09" and feature["properties"]["version"] == 1
    assert feature["properties"]["charging"]["total_kw"] == 90720
    again = client.get("/api/stations/MY-DH-09", headers={"If-None-Match": '"1"'})
    assert again.status_code == 304


def test_unknown_station_is_404_json(client):
    r = client.get("/api/stations/NOPE-99")
    assert r.status_code == 404
    assert error_of(r)["code"] == "not_found"
    assert client.get("/api/stations/NOPE-99/history").status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_public_api_is_read_only(client, method):
    r = getattr(client, method)("/api/stations/MY-DH-01", json={"name": "x"})
    assert r.status_code == 405
    assert error_of(r)["code"] == "method_not_allowed"
    assert "PATCH" in r.headers["Allow"]
    assert getattr(client, method)("/api/stations", json={}).status_code == 405


def test_unknown_api_path_and_server_error_use_the_error_shape(fresh_workspace):
    from tests.web.conftest import make_app

    app = make_app(fresh_workspace, TILES=None)

    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/boom", "boom", boom)
    client = app.test_client()
    assert error_of(client.get("/api/no-such-thing"))["code"] == "not_found"
    r = client.get("/api/boom")
    assert r.status_code == 500
    err = error_of(r)
    assert err["code"] == "internal_error" and "secret internals" not in err["message"]


def test_nearest_shape_and_order(client):
    r = client.get("/api/nearest?lon=104.70&lat=31.65&k=4")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body["origin"]) >= {"lon", "lat", "snapped_km"}
    results = body["results"]
    assert len(results) == 4
    assert [x["road_km"] for x in results] == sorted(x["road_km"] for x in results)
    for x in results:
        assert {"id", "name", "road_km", "drive_min", "straight_km"} <= set(x)
        assert x["road_km"] >= x["straight_km"] - 1e-6
    assert "route" not in body


def test_nearest_body_is_what_the_workspace_answers(client, app):
    """The HTTP body (orjson) is the Workspace's answer as the json module writes it: same
    keys in the same order, same numbers, UTF-8 names, one trailing newline."""
    from flask.json.provider import DefaultJSONProvider

    from webmap.state import get_workspace

    with app.app_context():
        ws = get_workspace()
        for lon, lat, query in ((104.75, 31.55, ""), (105.2, 32.3, "&amenity=shower&k=5"), (104.45, 31.2, "&min_power_kw=600")):
            r = client.get(f"/api/nearest?lon={lon}&lat={lat}{query}")
            assert r.status_code == 200 and r.mimetype == "application/json"
            expect = ws.nearest(lon, lat, k=5 if "k=5" in query else 3, amenities=["shower"] if "shower" in query else [],
                                min_power_kw=600 if "600" in query else None)
            standard = DefaultJSONProvider(app)
            standard.ensure_ascii, standard.sort_keys = False, False
            assert r.data.decode("utf-8") == standard.dumps(expect, separators=(",", ":")) + "\n"
            assert "\\u" not in r.data.decode("utf-8") and any(ord(c) > 127 for c in r.data.decode("utf-8"))


def test_json_provider_keeps_flasks_rules(app):
    """Dates as HTTP dates, dataclasses as objects, integers beyond 64 bits (json's fallback),
    key order kept, pretty-printing in debug, and the same text as the json module."""
    import dataclasses
    import datetime as dt
    import decimal
    import uuid

    @dataclasses.dataclass
    class Point:
        lon: float
        lat: float

    value = {"z": 1, "a": [1.5, None, True, "驿站"], "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
             "day": dt.date(2026, 1, 2), "p": Point(104.75, 31.5), "d": decimal.Decimal("1.10"),
             "u": uuid.UUID(int=1), 3: "three", "small": 1e-7}
    with app.app_context():
        for big in (None, 2**70):  # 2**70: orjson refuses, the json module writes it all
            text = app.json.dumps(value if big is None else {**value, "big": big})
            got = json.loads(text)
            assert list(got)[:9] == ["z", "a", "when", "day", "p", "d", "u", "3", "small"]
            assert got["when"] == "Fri, 02 Jan 2026 03:04:05 GMT" and got["day"] == "Fri, 02 Jan 2026 00:00:00 GMT"
            assert got["p"] == {"lon": 104.75, "lat": 31.5} and got["d"] == "1.10" and got.get("big") == big
            assert got["u"] == str(uuid.UUID(int=1)) and got["3"] == "three" and got["small"] == 1e-7
            assert "驿站" in text
        plain = {"a": [1, 2.5, "x"], "b": {"c": None}}
        assert app.json.dumps(plain, separators=(",", ":")) == json.dumps(plain, separators=(",", ":"))
        with app.test_request_context():
            body = app.json.response(plain).get_data(as_text=True)
            assert body == '{"a":[1,2.5,"x"],"b":{"c":null}}\n'
            app.debug = True
            try:
                assert app.json.response(plain).get_data(as_text=True) == json.dumps(plain, indent=2) + "\n"
            finally:
                app.debug = False
        with pytest.raises(TypeError):
            app.json.dumps({"x": object()})


def test_nearest_filters_change_the_answer(client):
    base = client.get("/api/nearest?lon=104.70&lat=31.65&k=5").get_json()["results"]
    mw = client.get("/api/nearest?lon=104.70&lat=31.65&k=5&min_power_kw=600").get_json()["results"]
    assert [x["id"] for x in mw] == ["MY-DH-09"]
    laundry = client.get("/api/nearest?lon=104.70&lat=31.65&k=5&amenity=laundry").get_json()["results"]
    both = client.get("/api/nearest?lon=104.70&lat=31.65&k=5&amenity=laundry,shower").get_json()["results"]
    repeated = client.get("/api/nearest?lon=104.70&lat=31.65&k=5&amenity=laundry&amenity=shower").get_json()["results"]
    assert [x["id"] for x in laundry] != [x["id"] for x in base]
    assert both == repeated


def test_nearest_accepts_gcj02(client):
    lon, lat = 104.70, 31.65
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    wgs = client.get(f"/api/nearest?lon={lon}&lat={lat}").get_json()
    gcj = client.get(f"/api/nearest?lon={g_lon}&lat={g_lat}&coords=gcj02").get_json()
    assert [x["id"] for x in gcj["results"]] == [x["id"] for x in wgs["results"]]
    assert gcj["origin"]["lon"] == pytest.approx(lon, abs=1e-5)
    assert gcj["results"][0]["road_km"] == pytest.approx(wgs["results"][0]["road_km"], abs=0.01)


def test_nearest_route_on_request(client):
    body = client.get("/api/nearest?lon=104.70&lat=31.65&k=3&route=1").get_json()
    route = body["route"]
    assert route["station"] == body["results"][0]["id"]
    coords = route["coordinates"]
    assert len(coords) >= 2 and all(len(c) == 2 for c in coords)
    alone = client.get(f"/api/route?lon=104.70&lat=31.65&station={route['station']}").get_json()
    assert alone["route"] == coords


def test_nearest_open_now_offers_only_open_stations(client, app):
    import datetime as dt

    from planner.stations import is_open

    now = app.extensions["yizhan"].workspace.now().time()  # the region's clock (Asia/Shanghai)
    stations = app.extensions["yizhan"].workspace.stations()
    if any(abs((dt.datetime.combine(dt.date.today(), now) - dt.datetime.combine(dt.date.today(), t)).total_seconds()) < 90
           for s in stations if s["hours"] != "24h" for t in _hour_edges(s["hours"])):
        pytest.skip("a station opens or closes within a minute and a half of now")
    expected = {s["id"] for s in stations if is_open(s["hours"], now)}
    got = {x["id"] for x in client.get("/api/nearest?lon=104.7&lat=31.6&k=23&open_now=1").get_json()["results"]}
    assert got == expected
    assert len(expected) >= 17  # the 24 h stations at least


def _hour_edges(hours: str):
    import datetime as dt

    for part in hours.split("-"):
        h, m = part.split(":")
        yield dt.time(int(h), int(m))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=31.6", "lon"),
        ("lon=abc&lat=31.6", "lon"),
        ("lon=120.1&lat=31.6", "lon"),  # outside Mianyang
        ("lon=104.7&lat=31.6&k=0", "k"),
        ("lon=104.7&lat=31.6&amenity=sauna", "amenities"),
        ("lon=104.7&lat=31.6&coords=mars", "coords"),
        ("lon=104.7&lat=31.6&min_power_kw=-5", "min_power_kw"),
    ],
)
def test_nearest_bad_input_is_400_with_fields(client, query, field):
    r = client.get("/api/nearest?" + query)
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert field in err["fields"], err


def test_along_route_in_route_order(client):
    r = client.get("/api/along-route?from=104.75,31.47&to=104.556,32.41&detour_km=5")
    assert r.status_code == 200
    body = r.get_json()
    at = [s["at_km"] for s in body["stations"]]
    assert at == sorted(at) and len(at) >= 3
    assert all(s["detour_km"] <= 5 for s in body["stations"])
    assert body["route_km"] > 0 and len(body["route"]) >= 2
    assert "limit_point" in body
    wider = client.get("/api/along-route?from=104.75,31.47&to=104.556,32.41&detour_km=20").get_json()
    assert len(wider["stations"]) >= len(body["stations"])
    bad = client.get("/api/along-route?from=104.75&to=104.556,32.41")
    assert bad.status_code == 400 and "from" in error_of(bad)["fields"]


def test_along_route_filters_and_open_on_arrival(fresh_workspace, monkeypatch):
    """Amenity and power filters pick the same stations as on the nearest index; each station
    says when a truck leaving now gets there (region time) and whether it is open then, and
    open_now keeps exactly those (judged at arrival, not at departure)."""
    import datetime as dt

    from planner import clock
    from planner.stations import is_open

    ws = fresh_workspace
    trip = ((104.75, 31.47), (104.556, 32.41))
    # 21:45 in Mianyang: a station open until 22:30, 100 minutes down the road, is closed on arrival
    monkeypatch.setattr(clock, "utcnow", lambda: dt.datetime(2026, 12, 1, 13, 45, tzinfo=dt.timezone.utc))
    every = ws.along_route(*trip, detour_km=20)
    assert len(every["stations"]) >= 3
    hours = {s["id"]: s["hours"] for s in ws.stations()}
    for s in every["stations"]:
        arrive = dt.datetime.fromisoformat(s["arrives_at"])
        assert arrive.utcoffset() == dt.timedelta(hours=8)
        leave = dt.datetime(2026, 12, 1, 21, 45, tzinfo=arrive.tzinfo)
        assert abs((arrive - leave).total_seconds() / 60 - s["at_drive_min"]) < 1
        assert s["open_on_arrival"] == is_open(hours[s["id"]], arrive.time()), s
    # judged at arrival: some station open at departure is closed when the truck gets there
    assert any(is_open(hours[s["id"]], dt.time(21, 45)) and not s["open_on_arrival"] for s in every["stations"])
    open_only = ws.along_route(*trip, detour_km=20, open_on_arrival=True)
    assert [s["id"] for s in open_only["stations"]] == [s["id"] for s in every["stations"] if s["open_on_arrival"]]
    index = ws.index()
    for amenities, power in ((("laundry",), None), ((), 500)):
        got = ws.along_route(*trip, detour_km=20, amenities=amenities, min_power_kw=power)
        allowed = {sid for sid, m in zip(index.station_ids, index.eligible_mask(amenities=amenities, min_power_kw=power)) if m}
        assert [s["id"] for s in got["stations"]] == [s["id"] for s in every["stations"] if s["id"] in allowed]
    assert ws.along_route(*trip, detour_km=20, min_power_kw=1e9)["stations"] == []


def test_along_route_filters_over_http(client):
    base = "/api/along-route?from=104.75,31.47&to=104.556,32.41&detour_km=20"
    every = client.get(base).get_json()["stations"]
    laundry = client.get(base + "&amenity=laundry").get_json()["stations"]
    assert 0 < len(laundry) < len(every) and {s["id"] for s in laundry} <= {s["id"] for s in every}
    assert all({"arrives_at", "open_on_arrival", "opens_at"} <= set(s) for s in every)
    opened = client.get(base + "&open_now=1").get_json()["stations"]
    assert all(s["open_on_arrival"] for s in opened)
    bad = client.get(base + "&amenity=sauna")
    assert bad.status_code == 400 and "amenities" in error_of(bad)["fields"]


def test_coverage_shape(client):
    r = client.get("/api/coverage?radius_km=30")
    assert r.status_code == 200
    body = r.get_json()
    assert {"radius_km", "corridor_km", "covered_km", "covered_share", "gaps"} <= set(body)
    assert body["radius_km"] == 30
    for gap in body["gaps"]:
        assert {"corridor", "from_km", "to_km", "length_km"} <= set(gap)
    assert client.get("/api/coverage?radius_km=-1").status_code == 400


# ---------------------------------------------------------------------- PATCH
def test_patch_without_credentials_is_401(client):
    r = client.patch("/api/stations/MY-DH-01", json={"hours": "24h"}, headers={"If-Match": '"1"'})
    assert r.status_code == 401
    assert error_of(r)["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.patch("/api/stations/MY-DH-01", json={"hours": "24h"},
                       headers={"If-Match": '"1"', **bearer("not-a-token")})
    assert bad.status_code == 401


def test_patch_without_if_match_is_428(client, tokens):
    r = client.patch("/api/stations/MY-DH-01", json={"hours": "24h"}, headers=bearer(tokens["staff"]))
    assert r.status_code == 428
    assert error_of(r)["code"] == "precondition_required"
    star = client.patch("/api/stations/MY-DH-01", json={"hours": "24h"},
                        headers={"If-Match": "*", **bearer(tokens["staff"])})
    assert star.status_code == 428


def test_patch_invalid_fields_is_400(client, tokens, app):
    headers = {"If-Match": '"1"', **bearer(tokens["staff"])}
    r = client.patch("/api/stations/MY-DH-01", json={"hours": "25:00-99:00", "parking_bays": -3}, headers=headers)
    assert r.status_code == 400
    err = error_of(r)
    assert {"hours", "parking_bays"} <= set(err["fields"])
    assert client.patch("/api/stations/MY-DH-01", data="[1, 2]", content_type="application/json",
                        headers=headers).status_code == 400
    assert client.patch("/api/stations/MY-DH-01", json={}, headers=headers).status_code == 400
    bad_version = client.patch("/api/stations/MY-DH-01", json={"hours": "24h"},
                               headers={"If-Match": "abc", **bearer(tokens["staff"])})
    assert bad_version.status_code == 400 and "If-Match" in error_of(bad_version)["fields"]
    assert app.extensions["yizhan"].workspace.registry.get("MY-DH-01")["version"] == 1  # nothing written


def test_patch_applies_and_is_audited(client, tokens, users):
    r = client.patch("/api/stations/MY-DH-02", json={"amenities": {"laundry": True}, "hours": "06:00-23:00"},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 200, r.get_json()
    assert r.headers["ETag"] == '"2"'
    props = r.get_json()["properties"]
    assert props["version"] == 2 and props["amenities"]["laundry"] is True and props["hours"] == "06:00-23:00"
    assert props["amenities"]["shower"] is True  # other amenities untouched (merge key by key)
    history = client.get("/api/stations/MY-DH-02/history", headers=bearer(tokens["staff"])).get_json()
    assert history[0]["version"] == 2 and history[0]["actor"] == users["staff"][0]
    assert history[0]["changes"]["hours"] == {"before": "24h", "after": "06:00-23:00"}
    assert history[-1]["action"] == "seed"
    # the drivers' answers change at once (no stale index)
    ids = [x["id"] for x in client.get("/api/nearest?lon=104.69&lat=31.47&k=1&amenity=laundry").get_json()["results"]]
    assert ids == ["MY-DH-02"]


def test_patch_stale_version_is_409_with_current(client, tokens):
    headers = {"If-Match": '"1"', **bearer(tokens["staff"])}
    assert client.patch("/api/stations/MY-DH-03", json={"phone": "0816-111"}, headers=headers).status_code == 200
    r = client.patch("/api/stations/MY-DH-03", json={"phone": "0816-222"}, headers=headers)
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "conflict"
    assert err["current"]["properties"]["version"] == 2
    assert err["current"]["properties"]["phone"] == "0816-111"
    # one shape for `current`: the station exactly as its GET returns it (a Feature)
    assert err["current"] == client.get("/api/stations/MY-DH-03").get_json()


def test_patch_unknown_station_is_404(client, tokens):
    r = client.patch("/api/stations/NOPE-1", json={"hours": "24h"}, headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"


def test_retire_needs_admin(client, tokens):
    body = {"status": "retired"}
    staff = client.patch("/api/stations/MY-DH-05", json=body, headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert staff.status_code == 403 and error_of(staff)["code"] == "forbidden"
    admin = client.patch("/api/stations/MY-DH-05", json=body, headers={"If-Match": '"1"', **bearer(tokens["admin"])})
    assert admin.status_code == 200 and admin.get_json()["properties"]["status"] == "retired"
    open_ids = {f["id"] for f in client.get("/api/stations").get_json()["features"]}
    assert "MY-DH-05" not in open_ids and len(open_ids) == 22
    all_ids = {f["id"] for f in client.get("/api/stations?include_retired=1").get_json()["features"]}
    assert "MY-DH-05" in all_ids
    near = client.get("/api/nearest?lon=104.814&lat=31.7075&k=10").get_json()["results"]
    assert "MY-DH-05" not in [x["id"] for x in near]


def test_patch_with_gcj02_location(client, tokens):
    lon, lat = 104.70, 31.50  # WGS-84; staff type what Amap shows
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    r = client.patch("/api/stations/MY-DH-02?coords=gcj02", json={"lon": g_lon, "lat": g_lat},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 200, r.get_json()
    props = r.get_json()["properties"]
    assert props["lon"] == pytest.approx(lon, abs=1e-6) and props["lat"] == pytest.approx(lat, abs=1e-6)
    assert props["coord_sys"] == "gcj02"


def _csrf_token(client, path: str = "/admin/login") -> str:
    import re

    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_session_patch_needs_csrf_header(client, users):
    token = _csrf_token(client)
    name, password = users["staff"]
    r = client.post("/admin/login", data={"username": name, "password": password, "csrf_token": token})
    assert r.status_code == 302
    no_header = client.patch("/api/stations/MY-DH-04", json={"hours": "24h"}, headers={"If-Match": '"1"'})
    assert no_header.status_code == 403 and error_of(no_header)["code"] == "csrf_failed"
    stale = client.patch("/api/stations/MY-DH-04", json={"hours": "24h"},
                         headers={"If-Match": '"1"', "X-CSRFToken": token})
    assert stale.status_code == 403  # logging in starts a new session: tokens from before are void
    token = _csrf_token(client, "/admin/")
    ok = client.patch("/api/stations/MY-DH-04", json={"phone": "0816-333"},
                      headers={"If-Match": '"1"', "X-CSRFToken": token})
    assert ok.status_code == 200


def test_security_headers(client):
    for path in ("/", "/admin/login", "/planner"):
        h = client.get(path).headers
        assert h["X-Content-Type-Options"] == "nosniff"
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-eval" not in csp
        assert "script-src 'self' 'nonce-" in csp
    for path in ("/api/stations", "/healthz", "/api/nope"):
        h = client.get(path).headers
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_csp_allows_the_tile_host_only_when_tiles_are_on(fresh_workspace):
    from tests.web.conftest import make_app

    on = make_app(fresh_workspace, TILES="https://tile.openstreetmap.org/{z}/{x}/{y}.png").test_client().get("/").headers[
        "Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in on
    off = make_app(fresh_workspace, TILES=None).test_client().get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in off


# ---------------------------------------------------------------------- concurrency
def _patch(url: str, station: str, body: dict, *, version: int, token: str, barrier: threading.Barrier, out: list):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    payload = json.dumps(body)
    headers = {"Content-Type": "application/json", "If-Match": f'"{version}"', "Authorization": f"Bearer {token}"}
    barrier.wait()
    conn.request("PATCH", f"/api/stations/{station}", body=payload, headers=headers)
    response = conn.getresponse()
    out.append((response.status, json.loads(response.read()), body))
    conn.close()


def test_concurrent_patches_one_wins_one_conflicts(live_server, tokens):
    registry = live_server.app.extensions["yizhan"].workspace.registry
    barrier = threading.Barrier(2)
    out: list = []
    bodies = [{"phone": "0816-000-111"}, {"hours": "05:00-23:00"}]
    threads = [
        threading.Thread(target=_patch, args=(live_server.url, "MY-DH-06", b),
                         kwargs={"version": 1, "token": tokens["staff"], "barrier": barrier, "out": out})
        for b in bodies
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(status for status, _body, _sent in out)
    assert statuses == [200, 409], out
    (won,) = [sent for status, _b, sent in out if status == 200]
    lost_body, lost = next((b, sent) for status, b, sent in out if status == 409)
    stored = registry.get("MY-DH-06")
    assert stored["version"] == 2
    field, value = next(iter(won.items()))
    assert stored[field] == value  # the winner's change is stored
    lost_field, lost_value = next(iter(lost.items()))
    assert stored[lost_field] != lost_value  # the loser's change did not slip in
    assert lost_body["error"]["current"]["properties"]["version"] == 2
    assert [h["action"] for h in registry.history("MY-DH-06")] == ["update", "seed"]

    # nothing is lost: the loser retries on the version it was told about
    retry: list = []
    _patch(live_server.url, "MY-DH-06", lost, version=2, token=tokens["staff"], barrier=threading.Barrier(1), out=retry)
    assert retry[0][0] == 200
    stored = registry.get("MY-DH-06")
    assert stored[field] == value and stored[lost_field] == lost_value and stored["version"] == 3
