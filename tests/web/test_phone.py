"""The drivers' map on a phone: Playwright at 390 × 844, Chinese, nothing but the app.

Every request is routed through the recorder: the app's own (127.0.0.1) go through, any
other host is recorded and aborted, and each test asserts none was asked for (no tiles are
configured). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
#: A driver in Mianyang, north of the city between the G5 and the Chengdu–Mianyang 2nd Expwy.
IN_MIANYANG = {"longitude": 104.72, "latitude": 31.62}
#: About 20 km south-west of Mianyang's boundary, in Deyang (Mianzhu–Luojiang area).
OUTSIDE = {"longitude": 104.30, "latitude": 31.20}
#: Text a driver must never see: English developer messages, flag names, raw values.
DEV_TEXT = re.compile(r"--\w|coords|gcj02|outside the|must be|None|null|undefined|Error|HTTP \d", re.I)


@pytest.fixture
def phone(browser, live_server, recorder_factory):
    """A 390 × 844 Chinese phone page factory: ``phone(geolocation=..., permissions=[...])``."""
    contexts = []

    def make(*, geolocation=None, permissions=()):
        ctx = browser.new_context(viewport=PHONE, locale="zh-CN", geolocation=geolocation,
                                  permissions=list(permissions), device_scale_factor=2)
        contexts.append(ctx)
        rec = recorder_factory(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server.url + "/")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("path.station-marker")
        return page, rec, errors

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def recorder_factory():
    from tests.web.conftest import Recorder

    def make(ctx):
        rec = Recorder()
        ctx.route("**/*", rec)
        return rec

    return make


def in_viewport(page, box) -> bool:
    return box is not None and box["y"] >= 0 and box["x"] >= 0 and \
        box["y"] + box["height"] <= PHONE["height"] and box["x"] + box["width"] <= PHONE["width"]


def marker_on_screen(page, station_id: str) -> bool:
    """The station's marker lies inside the visible map (not under the sheet, not off screen)."""
    return page.evaluate(
        """(id) => {
            const m = document.querySelector(`path.station-marker[data-station="${id}"]`);
            const map = document.getElementById('mapwrap').getBoundingClientRect();
            const r = m.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            return x >= map.left && x <= map.right && y >= map.top && y <= map.bottom;
        }""",
        station_id,
    )


def test_located_driver_sees_navigation_first_and_every_result_routes(phone, artifacts_dir):
    page, rec, errors = phone(geolocation=IN_MIANYANG, permissions=["geolocation"])
    page.click("#locate")
    page.wait_for_selector("#results li[data-id]")
    expect(page.locator("#card")).to_be_visible()
    first = page.locator("#results li").first.get_attribute("data-id")
    assert page.locator("#card").get_attribute("data-id") == first

    # the first result's navigate button is on the first screen, no scrolling
    nav = page.locator("#card a.nav-amap")
    assert in_viewport(page, nav.bounding_box()), nav.bounding_box()
    assert page.evaluate("document.getElementById('panel').scrollTop") == 0
    meta = page.locator("#card .card-meta").inner_text()
    assert re.search(r"公路 [\d.]+ 公里 · 约 \d+ 分钟", meta) and re.search(r"营业中|已关闭", meta), meta
    expect(page.locator("path.route-line")).to_have_attribute("data-station", first)

    # the driver's own position is drawn and labelled
    assert page.locator("path.origin-marker").count() == 1
    assert page.locator(".origin-label:not(.hidden)", has_text="我的位置").count() == 1
    page.screenshot(path=str(artifacts_dir / "phone-located.png"))

    # choosing result 3 pans to it and draws its road route
    third = page.locator("#results li").nth(2)
    third_id = third.get_attribute("data-id")
    assert third_id != first
    third.locator("button").click()
    expect(page.locator("path.route-line")).to_have_attribute("data-station", third_id)
    expect(page.locator("#card")).to_have_attribute("data-id", third_id)
    assert marker_on_screen(page, third_id)
    assert in_viewport(page, page.locator("#card a.nav-amap").bounding_box())
    assert "公里" in page.locator("#card .card-dist").inner_text()
    page.screenshot(path=str(artifacts_dir / "phone-result-3.png"))
    assert not rec.external, rec.external
    assert not errors, errors


def test_location_denied_offers_a_place_search(phone, artifacts_dir):
    page, rec, errors = phone(permissions=[])  # the browser denies geolocation
    page.click("#locate")
    msg = page.locator("#hint")
    expect(msg).to_contain_text("未获得定位权限")
    assert "denied" not in msg.inner_text().lower()
    expect(page.locator("#place-form")).to_be_visible()
    page.fill("#place-q", "江油")
    first = page.locator("#place-results li").first
    expect(first).to_have_attribute("data-id", "COUNTY-510781")
    assert "江油市" in first.inner_text()
    first.locator("button").click()
    page.wait_for_selector("#results li[data-id]")  # the place is the origin: nearest answered
    expect(page.locator("#card")).to_be_visible()
    assert "江油" in page.locator("#along-from").inner_text()
    page.screenshot(path=str(artifacts_dir / "phone-place-search.png"))

    # along my route accepts a partial destination, found in the gazetteer
    page.click("#tab-btn-along")
    page.fill("#along-to", "平武")
    page.click("#along-go")
    page.wait_for_selector("#along-results li.result")
    expect(page.locator("#along-to")).to_have_value("平武县")
    assert re.search(r"全程 \d+ 公里", page.locator("#along-summary").inner_text())
    assert not rec.external, rec.external
    assert not errors, errors


def test_outside_the_city_gets_results_or_a_chinese_message(phone, artifacts_dir):
    page, rec, errors = phone(geolocation=OUTSIDE, permissions=["geolocation"])
    page.click("#locate")
    page.wait_for_function(
        """() => document.querySelectorAll('#results li').length > 0 ||
            (document.getElementById('hint').textContent && !/正在定位|加载中/.test(document.getElementById('hint').textContent))"""
    )
    sheet = page.locator("#panel").inner_text()
    if page.locator("#results li").count() == 0:
        hint = page.locator("#hint").inner_text()
        assert re.search(r"[\u4e00-\u9fff]{6}", hint), hint  # a Chinese sentence
        assert not re.search(r"[A-Za-z]{3,}", hint), hint  # and no English in it
    assert not DEV_TEXT.search(sheet), sheet
    page.screenshot(path=str(artifacts_dir / "phone-outside.png"))
    assert not rec.external, rec.external
    assert not errors, errors


def test_every_filter_chip_is_reachable_and_closed_stations_are_flagged(phone, live_server):
    page, rec, errors = phone()
    chips = page.locator("#filters .chip")
    assert chips.count() >= 20
    for key in ("secure_parking", "parking"):
        assert page.locator(f"#filters .chip[data-amenity='{key}']").count() == 1
    page.click("#filters-toggle")
    for i in range(chips.count()):  # the expanded sheet shows every chip at once
        assert in_viewport(page, chips.nth(i).bounding_box()), chips.nth(i).inner_text()
    page.locator("#filters .chip[data-amenity='secure_parking']").click()
    expect(page.locator("#filters .chip[data-amenity='secure_parking']")).to_have_attribute("aria-pressed", "true")

    # a station closed now (by the server's clock, China time) is greyed on the map and
    # flagged in the list with its next opening time
    registry = live_server.app.extensions["yizhan"].workspace.registry
    import datetime as dt
    from zoneinfo import ZoneInfo

    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    registry.update("MY-DH-02", {"hours": f"{start}-{end}"}, expected_version=1, actor="test")
    page.goto(live_server.url + "/")
    page.wait_for_selector("path.station-marker")
    assert page.locator("path.station-marker.closed[data-station='MY-DH-02']").count() == 1
    assert page.locator("path.station-marker.closed").count() == 1 + sum(
        1 for s in registry.list_stations() if s["id"] != "MY-DH-02" and not _open(s["hours"], now))
    page.evaluate("""() => { const d = JSON.parse(document.getElementById('yz-data').textContent);
        window[d.map].fire('click', {latlng: L.latLng(31.47, 104.70)}); }""")
    closed = page.locator("#results li[data-id='MY-DH-02']")
    expect(closed).to_have_class(re.compile(r"\bclosed\b"))
    assert re.search(r"已关闭 · (明天 )?\d\d:\d\d 开门", closed.inner_text()), closed.inner_text()
    assert start in closed.inner_text()
    assert not rec.external, rec.external
    assert not errors, errors


def _open(hours: str, now) -> bool:
    from planner.stations import is_open

    return is_open(hours, now.time())


def test_base_map_labels_orient_without_tiles(phone, artifacts_dir):
    page, rec, errors = phone()
    visible = page.locator(".place-label.kind-county:not(.hidden), .place-label.kind-city:not(.hidden)")
    texts = visible.all_inner_texts()
    assert {"绵阳", "江油市", "平武县", "三台县"} <= set(texts), texts
    shields = page.locator(".corridor-shield:not(.hidden)").all_inner_texts()
    assert {"G5", "G8513"} <= set(shields), shields
    # no two visible labels overlap
    boxes = page.evaluate("""() => [...document.querySelectorAll('.place-label:not(.hidden), .corridor-shield:not(.hidden)')]
        .map(n => { const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1), (a, b)
    assert page.locator(".leaflet-control-attribution").count() == 0  # no tiles, no credit line
    assert not rec.external, rec.external
    assert not errors, errors


def test_english_page_speaks_english_and_has_room_to_type(browser, live_server):
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    try:
        from tests.web.conftest import Recorder

        rec = Recorder()
        ctx.route("**/*", rec)
        page = ctx.new_page()
        page.goto(live_server.url + "/?lang=en")
        page.wait_for_selector("body[data-ready='1']")
        texts = page.locator(".place-label:not(.hidden)").all_inner_texts()
        assert "Jiangyou City" in texts and not any(re.search(r"[\u4e00-\u9fff]", t) for t in texts), texts
        page.click("#tab-btn-along")
        assert page.locator("#along-to").bounding_box()["width"] >= 250  # was ~70 px
        page.locator("path.station-marker[data-station='MY-DH-12']").dispatch_event("click")
        card = page.locator("#card").inner_text()
        assert "Pingwu County" in card and not re.search(r"[\u4e00-\u9fff]", card.split("Data status")[0]), card
        assert not rec.external
    finally:
        ctx.close()
