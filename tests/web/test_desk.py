"""The grid service desk over HTTP and in the browser.

API: anonymous reports get a receipt only (rate-limited), staff reads and writes with
If-Match (428/409/400/401/403), notices in force at a point and their reach; no driver phone
in any public response. Browser: a driver reports a problem from the map, staff move it
through every state, the monthly report lists it; a grid notice shows inside the grid and
not outside; reach grows by one per device.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from planner.desk import REGION_TZ
from planner.desk.requests import STATES
from tests.web.conftest import make_app

PHONE = "13912345678"
INSIDE = (104.741, 31.464)  # Fucheng
OUTSIDE = (105.090, 31.106)  # Santai, another grid


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def desk_of(app):
    return app.extensions["yizhan-desk"]


def report_body(**kw) -> dict:
    return {"category": "parking_rest", "description": "服务区没有车位", "lon": INSIDE[0], "lat": INSIDE[1],
            "contact_phone": PHONE, **kw}


def _csrf(client, path="/admin/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------------- API
def test_anonymous_report_returns_only_a_receipt(client, tokens):
    r = client.post("/api/requests", json=report_body(channel="hotline_12328", received_at="2020-01-01T00:00"))
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"receipt"} and body["receipt"].startswith("YZ")
    stored = client.get("/api/requests/1", headers=bearer(tokens["staff"])).get_json()
    assert stored["channel"] == "driver_map"  # anonymous reports cannot pose as another channel or time
    assert stored["received_at"][:4] != "2020"
    assert stored["contact_phone"] == PHONE and stored["grid_id"] and stored["unit"]


def test_no_driver_phone_in_any_public_response(client, tokens):
    client.post("/api/requests", json=report_body())
    desk_of(client.application).create_notice(
        {"kind": "weather", "title": "t", "body": "b", "valid_to": "2099-01-01T00:00",
         "target": {"lon": INSIDE[0], "lat": INSIDE[1], "radius_km": 5}}, actor="wang")
    for path in ("/", "/?lang=en", "/api/stations", f"/api/notices?lon={INSIDE[0]}&lat={INSIDE[1]}",
                 "/api/requests/1", "/desk", "/desk/reports/monthly", "/api/nearest?lon=104.74&lat=31.46"):
        text = client.get(path).get_data(as_text=True)
        assert PHONE not in text, path
    assert PHONE in client.get("/api/requests/1", headers=bearer(tokens["staff"])).get_data(as_text=True)


def test_request_reads_and_writes_need_staff(client, tokens):
    client.post("/api/requests", json=report_body())
    assert client.get("/api/requests/1").status_code == 401
    assert client.patch("/api/requests/1", json={"state": "transferred"}, headers={"If-Match": '"1"'}).status_code == 401
    assert client.get("/api/requests/1", headers=bearer("nonsense")).status_code == 401
    r = client.get("/api/requests/1", headers=bearer(tokens["staff"]))
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    assert set(r.get_json()["clock"]["stages"]) == {"transfer", "progress", "close", "follow_up"}
    assert client.get("/api/requests/1", headers={**bearer(tokens["staff"]), "If-None-Match": '"1"'}).status_code == 304
    assert client.get("/api/requests/99", headers=bearer(tokens["staff"])).status_code == 404


def test_patch_statuses(client, tokens):
    client.post("/api/requests", json=report_body())
    h = bearer(tokens["staff"])
    r = client.patch("/api/requests/1", json={"state": "transferred"}, headers=h)
    assert r.status_code == 428 and r.get_json()["error"]["code"] == "precondition_required"
    r = client.patch("/api/requests/1", json={"state": "transferred"}, headers={**h, "If-Match": "abc"})
    assert r.status_code == 400
    r = client.patch("/api/requests/1", json={"state": "closed"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 400 and "state" in r.get_json()["error"]["fields"]
    r = client.patch("/api/requests/1", json={"state": "transferred", "note": "转涪城区"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200 and r.get_json()["state"] == "transferred" and r.headers["ETag"] == '"2"'
    r = client.patch("/api/requests/1", json={"state": "in_progress"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 409 and r.get_json()["error"]["current"]["version"] == 2
    # one shape for `current`: the request as its GET shows it (staff view), not the stored row
    current = r.get_json()["error"]["current"]
    shown = client.get("/api/requests/1", headers=h).get_json()
    assert set(current) == set(shown) - {"transitions"}
    assert {k: v for k, v in current.items() if k != "clock"} == {k: v for k, v in shown.items() if k not in ("clock", "transitions")}
    r = client.patch("/api/requests/1", data="x", headers={**h, "If-Match": '"2"'})
    assert r.status_code == 400


def test_session_writes_need_csrf(client, users):
    client.post("/api/requests", json=report_body())
    name, password = users["staff"]
    token = _csrf(client)
    client.post("/admin/login", data={"username": name, "password": password, "csrf_token": token})
    r = client.patch("/api/requests/1", json={"state": "transferred"}, headers={"If-Match": '"1"'})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    token = _csrf(client, "/desk")
    r = client.patch("/api/requests/1", json={"state": "transferred"}, headers={"If-Match": '"1"', "X-CSRFToken": token})
    assert r.status_code == 200


def test_anonymous_reports_are_rate_limited_across_apps(fresh_workspace):
    a = make_app(fresh_workspace, TILES=None, DESK_ANON_LIMIT=2).test_client()
    b = make_app(fresh_workspace, TILES=None, DESK_ANON_LIMIT=2).test_client()  # another worker, same registry
    assert a.post("/api/requests", json=report_body()).status_code == 201
    assert b.post("/api/requests", json=report_body()).status_code == 201
    r = a.post("/api/requests", json=report_body())
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.get_json()["error"]["code"] == "rate_limited"


def test_bad_reports_say_what_is_wrong(client):
    r = client.post("/api/requests", json={"category": "parking_rest", "description": "x"})
    assert r.status_code == 400 and "location" in r.get_json()["error"]["fields"]
    r = client.post("/api/requests", json=report_body(category="food"))
    assert r.status_code == 400 and "category" in r.get_json()["error"]["fields"]
    assert client.post("/api/requests", data="hello").status_code == 400


def test_notices_api(client, tokens):
    grid = desk_of(client.application).grids().assign(*INSIDE)["grid_id"]
    until = (dt.datetime.now(REGION_TZ) + dt.timedelta(hours=6)).replace(tzinfo=None).isoformat(timespec="minutes")
    body = {"kind": "road_closure", "title": "G5 施工", "body": "夜间半幅通行", "valid_to": until, "target": {"grids": [grid]}}
    assert client.post("/api/notices", json=body).status_code == 401
    r = client.post("/api/notices", json=body, headers=bearer(tokens["staff"]))
    assert r.status_code == 201 and r.get_json()["reach_devices"] == 0
    inside = client.get(f"/api/notices?lon={INSIDE[0]}&lat={INSIDE[1]}&device={'d' * 24}").get_json()
    assert [n["title"] for n in inside["notices"]] == ["G5 施工"]
    assert set(inside["notices"][0]) == {"id", "kind", "kind_label", "title", "body", "valid_from", "valid_to", "data_status"}
    assert client.get(f"/api/notices?lon={OUTSIDE[0]}&lat={OUTSIDE[1]}").get_json()["notices"] == []
    assert client.get("/api/notices?lon=104").status_code == 400
    assert client.get(f"/api/notices?lon={INSIDE[0]}&lat={INSIDE[1]}&device=x'").status_code == 400
    r = client.post("/api/notices", json={**body, "target": {"grids": ["NOPE"]}}, headers=bearer(tokens["staff"]))
    assert r.status_code == 400


def test_report_pages_and_csv(client, users, tokens):
    client.post("/api/requests", json=report_body())
    assert client.get("/desk/reports/monthly").status_code == 302  # login first
    name, password = users["staff"]
    client.post("/admin/login", data={"username": name, "password": password, "csrf_token": _csrf(client)})
    today = dt.datetime.now(REGION_TZ).date().isoformat()
    for period in ("daily", "weekly", "monthly"):
        r = client.get(f"/desk/reports/{period}?date={today}")
        assert r.status_code == 200 and "<svg" in r.get_data(as_text=True)
        # one banner (the shared partial), the page's language first, as on the maps
        html = r.get_data(as_text=True)
        assert html.count('id="data-banner"') == 1 and html.count('class="banner"') == 1
        assert "示意数据，非官方 · Illustrative data, not official" in html
        # one language per page: the period links and the title in Chinese, no English words
        start = html.index('class="noprint report-nav"')
        nav = html[start:html.index("</nav>", start)]
        assert all(zh in nav for zh in ("日报", "周报", "月报", "查看")), nav
        assert not re.search(r">(daily|weekly|monthly|OK)<", nav, re.I), nav
        assert re.search(r"<title>[日周月]报 ", html)
    en = client.get(f"/desk/reports/monthly?date={today}&lang=en").get_data(as_text=True)
    assert "Illustrative data, not official · 示意数据，非官方" in en
    assert ">Monthly report · " in en and ">Daily</a>" in en and "月报" not in en
    r = client.get(f"/desk/reports/monthly?date={today}&format=csv")
    assert r.mimetype == "text/csv"
    text = r.get_data(as_text=True).lstrip("\ufeff")
    assert text.splitlines()[0] == "section,key,label,value"
    assert "category,parking_rest,停车休息,1" in text.splitlines()
    assert client.get("/desk/reports/yearly").status_code == 404
    assert client.get("/desk/reports/daily?date=2025-13-01").status_code == 400


# ---------------------------------------------------------------------- browser
def _map_ready(page):
    page.wait_for_function("() => { const d = JSON.parse(document.getElementById('yz-data').textContent);"
                           " return !!window[d.map]; }")


def tap_map(page, lon: float, lat: float) -> None:
    """Click the drivers' map where (lon, lat) is, as a driver's tap."""
    x, y = page.evaluate(
        """([lon, lat]) => { const d = JSON.parse(document.getElementById('yz-data').textContent);
             const m = window[d.map]; m.setView([lat, lon], 11, {animate: false});
             const p = m.latLngToContainerPoint([lat, lon]); const r = m.getContainer().getBoundingClientRect();
             return [r.left + p.x, r.top + p.y]; }""", [lon, lat])
    page.mouse.click(x, y)


def staff_login(page, base, name, password):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/admin/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#station-list")


@pytest.mark.browser
def test_driver_report_through_every_state_to_the_monthly_report(page, live_server, users, recorder, page_errors,
                                                                 artifacts_dir):
    base = live_server.url
    public_bodies: list[str] = []

    def keep(response):
        if response.url.startswith(base) and "/desk" not in response.url and "/admin" not in response.url:
            try:
                public_bodies.append(response.text())
            except Exception:  # noqa: BLE001 (redirects and aborted requests have no body)
                pass

    page.on("response", keep)
    page.goto(base + "/")
    _map_ready(page)
    tap_map(page, *INSIDE)
    page.wait_for_function("document.getElementById('desk-position').textContent.includes('104.7')")
    page.click("#desk-report-open")
    page.select_option("#desk-category", "parking_rest")
    page.fill("#desk-description", "服务区晚上没有车位")
    page.fill("#desk-phone", PHONE)
    page.click("#desk-send")
    status = page.wait_for_selector("#desk-status[data-receipt]")
    receipt = status.get_attribute("data-receipt")
    assert receipt in status.text_content()
    page.screenshot(path=str(artifacts_dir / "desk-driver-report.png"))
    assert not any(PHONE in b for b in public_bodies)

    page.context.clear_cookies()
    staff_login(page, base, *users["staff"])
    page.goto(base + "/desk")
    row = page.locator(f"#queue tr[data-receipt='{receipt}']")
    assert row.count() == 1
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row.locator(".due").text_content())
    assert row.locator(".left").text_content().strip() not in ("", "—")
    row.locator("a").first.click()
    page.wait_for_selector("#receipt")
    assert PHONE in page.content()  # staff see the contact
    assert page.locator("#clock tr[data-stage='close'] .due").text_content().strip() != "—"
    for state in STATES[1:]:
        if state == "followed_up":
            page.select_option("#satisfaction-input", "satisfied")
        page.click("#advance-btn")
        page.wait_for_selector(f"#state[data-state='{state}']")
    assert [r.get_attribute("data-to") for r in page.locator("#audit tr[data-to]").all()] == list(STATES)
    page.screenshot(path=str(artifacts_dir / "desk-request-followed-up.png"), full_page=True)

    page.goto(base + "/desk")
    assert page.locator(f"#queue tr[data-receipt='{receipt}']").count() == 0  # done: off the queue
    # a 12328 call registered by staff, located by corridor km
    page.select_option("#new-request select[name=category]", "wages_owed")
    page.fill("#new-request textarea[name=description]", "运费被拖欠两个月")
    page.select_option("#new-request select[name=corridor]", index=1)
    page.fill("#new-request input[name=km]", "5")
    page.fill("#new-request input[name=contact_phone]", "13800001111")
    with page.expect_navigation():
        page.click("#new-request button[type=submit]")
    assert page.locator("#queue tr[data-receipt]").count() == 1
    assert "欠薪欠费" in page.locator("#queue tr[data-receipt]").first.text_content()
    page.goto(base + "/desk/reports/monthly")
    assert page.locator(f"#report-list tr[data-receipt='{receipt}']").count() == 1
    assert page.locator("#chart svg").count() == 1 and page.locator("#grid-map svg").count() == 1
    page.screenshot(path=str(artifacts_dir / "desk-monthly-report.png"), full_page=True)
    assert not recorder.external
    assert not page_errors


@pytest.mark.browser
def test_grid_notice_inside_not_outside_and_reach_per_device(browser, live_server, users, recorder, page_errors,
                                                             artifacts_dir):
    base = live_server.url
    desk = desk_of(live_server.app)
    grid = desk.grids().assign(*INSIDE)["grid_id"]
    assert desk.grids().assign(*OUTSIDE)["grid_id"] != grid

    staff = browser.new_context(locale="zh-CN")
    page = staff.new_page()
    staff_login(page, base, *users["staff"])
    page.goto(base + "/desk/notices")
    page.select_option("select[name=kind]", "weather")
    page.fill("input[name=title]", "暴雨黄色预警")
    page.fill("textarea[name=body]", "请减速慢行，就近休息")
    page.select_option("select[name=grids]", [grid])
    until = (dt.datetime.now(REGION_TZ) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=valid_to]", until)
    page.click("#new-notice button[type=submit]")
    page.wait_for_selector("#notice-list tr[data-id]")
    notice_id = int(page.locator("#notice-list tr[data-id]").first.get_attribute("data-id"))
    staff.close()

    def reach() -> int:
        return next(n["reach_devices"] for n in desk.notices() if n["id"] == notice_id)

    for device in (1, 2):
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 412, "height": 860})
        driver = ctx.new_page()
        driver.on("pageerror", lambda exc: page_errors.append(str(exc)))
        driver.goto(base + "/")
        _map_ready(driver)
        tap_map(driver, *OUTSIDE)
        driver.wait_for_function("document.getElementById('desk-position').textContent.includes('105.0')", polling=100)
        driver.wait_for_timeout(300)
        assert driver.locator("#desk-notices").is_hidden()
        tap_map(driver, *INSIDE)
        driver.wait_for_selector("#desk-notices .desk-notice")
        assert "暴雨黄色预警" in driver.locator("#desk-notices").text_content()
        if device == 1:
            driver.screenshot(path=str(artifacts_dir / "desk-driver-notice.png"))
        with driver.expect_response(lambda r: "/api/notices" in r.url) as resp:
            tap_map(driver, *OUTSIDE)
        assert resp.value.json()["notices"] == []
        driver.wait_for_function("document.getElementById('desk-notices').hidden", polling=100)
        tap_map(driver, *INSIDE)  # the same device again: not counted twice
        driver.wait_for_selector("#desk-notices .desk-notice")
        assert reach() == device
        ctx.close()
    assert not page_errors


def test_station_report_from_a_driver_becomes_a_change_request_for_staff(client, users, fresh_workspace):
    station = fresh_workspace.stations()[0]
    r = client.post("/api/requests", json={"kind": "station_report", "station_id": station["id"],
                                           "description": "淋浴已停用", "proposed_changes": {"amenities": {"shower": False}}})
    assert r.status_code == 201 and set(r.get_json()) == {"receipt"}
    assert client.post("/api/requests", json={"kind": "station_report", "station_id": "NOPE",
                                              "description": "x"}).status_code == 404
    name, password = users["staff"]
    client.post("/admin/login", data={"username": name, "password": password, "csrf_token": _csrf(client)})
    queue = client.get("/desk").get_data(as_text=True)
    assert station["id"] in queue and ("站点信息有误" in queue)
    page = client.get("/desk/requests/1").get_data(as_text=True)
    assert f"/admin/stations/{station['id']}" in page and "shower" in page


def test_driver_text_is_escaped_in_staff_pages(client, users):
    payload = "<script>alert(1)</script>`${x}`"
    client.post("/api/requests", json=report_body(description=payload))
    name, password = users["staff"]
    client.post("/admin/login", data={"username": name, "password": password, "csrf_token": _csrf(client)})
    page = client.get("/desk/requests/1").get_data(as_text=True)
    assert payload not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
