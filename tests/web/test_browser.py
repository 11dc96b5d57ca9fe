"""Browser tests: Playwright driving Debian chromium against a live server.

Every test routes all requests through a recorder: same-origin requests go through, any
other host is recorded and aborted. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from planner.coords import amap_nav_url, baidu_nav_url

pytestmark = [pytest.mark.browser]

XSS = "<img src=x onerror=alert(1)>"
PAGE_BUDGET_BYTES = 1_500_000
#: A point between corridors north of Mianyang city, away from every station marker.
TAP = (104.70, 31.65)


def map_click(page, lon: float, lat: float, *, zoom: int = 11, data_id: str = "yz-data") -> None:
    """Centre the Leaflet map on (lon, lat) at ``zoom`` and click there with the mouse."""
    x, y = page.evaluate(
        """([lon, lat, zoom, dataId]) => {
            const d = JSON.parse(document.getElementById(dataId).textContent);
            const m = window[d.map];
            m.setView([lat, lon], zoom, {animate: false});
            const p = m.latLngToContainerPoint([lat, lon]);
            const r = m.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [lon, lat, zoom, data_id],
    )
    page.mouse.click(x, y)


def open_driver(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("path.station-marker")


def first_result_id(page) -> str:
    return page.locator("#results li").first.get_attribute("data-id")


def login(page, base: str, name: str, password: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})  # staff work on desktops and tablets
    page.goto(base + "/admin/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#station-list")


# ---------------------------------------------------------------------- drivers' map
def test_driver_first_load_is_small_and_local(page, live_server_tiles, recorder, page_errors, artifacts_dir):
    """First load: < 1.5 MB same-origin, no host but the app (tiles recorded and aborted)."""
    responses = []
    page.on("response", lambda r: responses.append(r))
    page.goto(live_server_tiles.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_load_state("networkidle")

    origin = live_server_tiles.url
    same_origin = [r for r in responses if r.url.startswith(origin)]
    total = sum(len(r.body()) for r in same_origin if r.status == 200)
    detail = sorted(((len(r.body()), r.url[len(origin):]) for r in same_origin if r.status == 200), reverse=True)
    print(f"\nfirst load, same-origin bytes: {total:,} in {len(same_origin)} responses: {detail}")
    assert total < PAGE_BUDGET_BYTES
    assert all(r.status == 200 for r in same_origin), [(r.status, r.url) for r in same_origin]

    assert page.locator("path.station-marker").count() == 23
    banner = page.locator("#data-banner")
    assert banner.is_visible()
    assert "示意数据，非官方" in banner.inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#tab-btn-nearest").inner_text() == "附近"
    assert recorder.external, "the default tile layer should have asked the tile host (and been blocked)"
    assert recorder.external_hosts <= {"tile.openstreetmap.org"}, recorder.external_hosts
    assert not page_errors, page_errors
    page.screenshot(path=str(artifacts_dir / "driver-map-zh.png"))


def test_driver_tap_nearest_route_filter_and_card(page, live_server, recorder, page_errors, artifacts_dir):
    open_driver(page, live_server.url + "/")
    map_click(page, *TAP)
    page.wait_for_selector("#results li")
    assert page.locator("#results li").count() == 5
    first = first_result_id(page)
    meta = page.locator("#results li .result-meta").first.inner_text()
    assert re.search(r"公路 [\d.]+ 公里 · 约 \d+ 分钟", meta), meta
    page.wait_for_selector("path.route-line")  # road route to the first station drawn

    # megawatt-class charging: only the Beichuan station qualifies, so the answer changes
    page.click("#filters .chip[data-power='600']")
    expect(page.locator("#results li")).to_have_count(1)
    assert first_result_id(page) == "MY-DH-09"
    assert first != "MY-DH-09"
    assert page.locator("#filters .chip[data-power='600']").get_attribute("aria-pressed") == "true"

    # an amenity chip narrows it further; shower + ≥600 kW still gives Beichuan
    page.click("#filters .chip[data-amenity='shower']")
    expect(page.locator("#filters .chip[data-amenity='shower']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#results li")).to_have_count(1)

    page.locator("#results li button").first.click()
    card = page.locator("#card")
    card.wait_for(state="visible")
    assert card.get_attribute("data-id") == "MY-DH-09"
    text = card.inner_text()
    assert "18 个 × 1440 kW" in text and "108 个 × 600 kW" in text
    assert "总功率 90720 kW" in text
    station = live_server.app.extensions["yizhan"].workspace.registry.get("MY-DH-09")
    amap = card.locator("a.nav-amap").get_attribute("href")
    baidu = card.locator("a.nav-baidu").get_attribute("href")
    assert amap == amap_nav_url(station["lon"], station["lat"], station["name"])
    assert baidu == baidu_nav_url(station["lon"], station["lat"], station["name"])
    assert f"{station['lon']:.6f}" not in amap  # GCJ-02, not the stored WGS-84
    assert card.locator("a.call-12328").get_attribute("href") == "tel:12328"
    assert card.locator(".badge.on", has_text="淋浴").count() == 1
    assert not recorder.external
    assert not page_errors, page_errors
    page.screenshot(path=str(artifacts_dir / "driver-station-card.png"))
    # the whole card, for the record: let the panel grow instead of scrolling
    page.add_style_tag(content="body.driver{height:auto;overflow:visible}.panel{overflow:visible}.tabs{position:static}")
    card.screenshot(path=str(artifacts_dir / "driver-station-card-detail.png"))


def test_driver_along_route(page, live_server, recorder, page_errors, artifacts_dir):
    open_driver(page, live_server.url + "/")
    map_click(page, 104.75, 31.47)
    page.wait_for_selector("#results li")
    page.click("#tab-btn-along")
    page.fill("#along-to", "平武县")
    page.select_option("#along-detour", "5")
    page.click("#along-go")
    page.wait_for_selector("#along-results li.result")
    at_km = [float(v) for v in page.locator("#along-results li.result").evaluate_all(
        "els => els.map(e => e.getAttribute('data-at-km'))")]
    assert len(at_km) >= 3
    assert at_km == sorted(at_km), "stations must be listed in route order"
    summary = page.locator("#along-summary").inner_text()
    assert re.search(r"全程 \d+ 公里", summary), summary
    assert "4 小时" in summary  # this trip is shorter than the 4 h limit, and says so
    page.wait_for_selector("path.along-line")
    # each station says when the truck gets there and whether it is open then
    arrivals = page.locator("#along-results li.result .result-open").all_inner_texts()
    assert len(arrivals) == len(at_km) and all(re.search(r"约 \d\d:\d\d 到达 · ", a) for a in arrivals), arrivals
    # the filter chips apply along the route too: the list is asked again with the chip
    with page.expect_request(lambda r: "/api/along-route" in r.url and "amenity=secure_parking" in r.url):
        page.click("#filters .chip[data-amenity='secure_parking']")
    page.wait_for_function("n => { const li = document.querySelectorAll('#along-results li.result');"
                           " return li.length > 0 && li.length < n; }", arg=len(at_km))
    page.wait_for_selector("path.along-line")  # the trip stays drawn
    page.locator("#along-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "driver-along-route.png"))
    # back on the nearby tab, its list is asked again with the chip
    with page.expect_request(lambda r: "/api/nearest" in r.url and "amenity=secure_parking" in r.url):
        page.click("#tab-btn-nearest")
    page.click("#tab-btn-along")
    assert not recorder.external
    assert not page_errors, page_errors


def test_driver_english_and_toggle(page, live_server, recorder, page_errors, artifacts_dir):
    open_driver(page, live_server.url + "/")
    page.click("#lang-switch")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#tab-btn-nearest").inner_text() == "Nearby"
    assert page.locator("#filters .chip[data-amenity='shower']").inner_text() == "Shower"
    assert "Illustrative data, not official" in page.locator("#data-banner").inner_text()
    map_click(page, *TAP)
    page.wait_for_selector("#results li")
    meta = page.locator("#results li .result-meta").first.inner_text()
    assert re.search(r"[\d.]+ km by road · about \d+ min", meta), meta
    assert not recorder.external
    assert not page_errors, page_errors
    page.screenshot(path=str(artifacts_dir / "driver-map-en.png"))
    # the choice sticks (cookie) until switched back
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"


# ---------------------------------------------------------------------- staff
def test_staff_edit_shows_on_driver_map(page, live_server, users, recorder, page_errors, artifacts_dir):
    base = live_server.url
    registry = live_server.app.extensions["yizhan"].workspace.registry
    assert registry.get("MY-DH-02")["amenities"]["laundry"] is False
    login(page, base, *users["staff"])
    page.fill(".searchbar input[name=q]", "DH-02")
    page.click(".searchbar button[type=submit]")
    assert page.locator("#station-list tbody tr").count() == 1
    page.click("#station-list tbody tr a:has-text('编辑')")
    page.wait_for_selector("#station-form")
    page.check("#amenity-laundry")
    page.screenshot(path=str(artifacts_dir / "admin-edit.png"), full_page=True)
    page.click("#save")
    page.wait_for_selector(".flash-success")
    assert "已保存（版本 2）" in page.locator(".flash-success").inner_text()
    stored = registry.get("MY-DH-02")
    assert stored["amenities"]["laundry"] is True and stored["version"] == 2
    assert registry.history("MY-DH-02")[0]["actor"] == users["staff"][0]

    # the drivers' map shows it at once: filter laundry, DH-02 is offered; its card has the badge
    page.set_viewport_size({"width": 412, "height": 860})
    open_driver(page, base + "/")
    page.locator("path[data-station='MY-DH-02']").dispatch_event("click")
    page.locator("#card").wait_for(state="visible")
    assert page.locator("#card .badge.on", has_text="洗衣").count() == 1
    map_click(page, 104.69, 31.47, zoom=12)
    page.wait_for_selector("#results li")
    page.click("#filters .chip[data-amenity='laundry']")
    expect(page.locator("#results li").first).to_have_attribute("data-id", "MY-DH-02")
    assert not recorder.external
    assert not page_errors, page_errors


def test_stale_edit_gets_conflict_screen(page, live_server, users, recorder, page_errors, artifacts_dir):
    base = live_server.url
    registry = live_server.app.extensions["yizhan"].workspace.registry
    login(page, base, *users["staff"])
    page.goto(base + "/admin/stations/MY-DH-03")
    page.wait_for_selector("#station-form")
    # meanwhile an admin changes the hours through the registry
    registry.update("MY-DH-03", {"hours": "06:00-22:00"}, expected_version=1, actor=users["admin"][0])
    page.fill("#f-phone", "0816-1234567")
    page.click("#save")
    conflict = page.locator("#conflict")
    conflict.wait_for(state="visible")
    text = conflict.inner_text()
    assert "0816-1234567" in text  # theirs and mine side by side
    assert "06:00-22:00" in text
    assert users["admin"][0] in text
    stored = registry.get("MY-DH-03")
    assert stored["version"] == 2 and stored["phone"] != "0816-1234567"  # nothing overwritten
    page.screenshot(path=str(artifacts_dir / "admin-conflict.png"), full_page=True)

    # saving from the conflict screen re-applies only my edit on top of the stored version
    page.click("#save")
    page.wait_for_selector(".flash-success")
    stored = registry.get("MY-DH-03")
    assert (stored["version"], stored["phone"], stored["hours"]) == (3, "0816-1234567", "06:00-22:00")
    assert not recorder.external
    # the conflict page itself is an HTTP 409, which chromium logs; nothing else may fail
    assert [e for e in page_errors if "status of 409" not in e] == [], page_errors


def test_xss_payload_is_text_everywhere(page, live_server, users, recorder, page_errors):
    base = live_server.app.extensions["yizhan"].workspace.registry
    base.update("MY-DH-01", {"name": XSS, "address": XSS}, expected_version=1, actor="li")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    url = live_server.url

    open_driver(page, url + "/")
    page.locator("path[data-station='MY-DH-01']").dispatch_event("click")
    page.locator("#card").wait_for(state="visible")
    assert page.locator("#card .card-name").inner_text() == XSS
    assert XSS in page.locator("#card").inner_text()
    map_click(page, 104.61, 31.41, zoom=12)
    page.wait_for_selector("#results li[data-id='MY-DH-01']")
    assert page.locator("#results li[data-id='MY-DH-01'] .result-name").inner_text() == XSS
    page.click("#tab-btn-along")
    page.fill("#along-to", XSS)  # the destination list holds it as an option value
    values = page.locator("#dest-list option").evaluate_all("os => os.map(o => o.value)")
    assert XSS in values
    assert page.locator("img[src='x']").count() == 0

    login(page, url, *users["staff"])
    assert page.locator("#station-list td.name", has_text=XSS).count() == 1
    page.goto(url + "/admin/stations/MY-DH-01")
    assert page.locator("#station-name").inner_text() == XSS
    assert page.locator("#f-name").input_value() == XSS
    page.goto(url + "/admin/stations/MY-DH-01/history")
    assert XSS in page.locator("#history").inner_text()
    assert page.locator("img[src='x']").count() == 0

    page.goto(url + "/planner")  # folium popups and tooltips
    page.wait_for_selector(".leaflet-container")
    page.wait_for_timeout(300)
    assert page.locator("img[src='x']").count() == 0

    assert not dialogs, dialogs
    assert not any(u.endswith("/x") for u in recorder.local), "the payload's image was requested"
    assert not recorder.external
    assert not page_errors, page_errors


# ---------------------------------------------------------------------- planners' map
def test_planner_map_and_suggestion(page, live_server, recorder, page_errors, artifacts_dir):
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(live_server.url + "/planner?lang=en")
    page.wait_for_selector("#yz-map[data-ready='1']")
    assert page.locator(".leaflet-control-layers-overlays label").count() >= 4
    assert "km covered" in page.locator("#coverage-summary").inner_text()
    page.locator("path[data-layer='grid']").first.hover(force=True)
    tip = page.locator(".leaflet-tooltip").first.inner_text()
    assert re.match(r"^.+ cell \d+: ", tip) and not re.search(r"[0-9a-f]{15}", tip), tip  # a human cell name
    assert page.locator("path[data-layer='candidates']").count() == 0  # loaded only when switched on
    page.locator(".leaflet-control-layers-overlays label", has_text="Candidates").locator("input").check()
    page.wait_for_selector("path[data-layer='candidates']")
    page.select_option("#method", "kmeans")
    page.fill("#k", "2")
    page.click("#run")
    page.wait_for_selector("#metrics")
    page.wait_for_selector("#yz-map[data-ready='1']")
    assert page.locator("#sites li").count() == 2
    assert page.locator("#metrics tbody tr").count() >= 5
    # results beside the form, within the first screen; the map drawn for the scenario
    box = page.locator("#metrics").bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], box
    assert page.locator("path[data-layer='sites']").count() == 2
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("(after)" in o for o in overlays), overlays
    hrefs = page.locator("#scenario-downloads a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert any(h.startswith("/planner/scenario.gpkg?") for h in hrefs)
    assert any(h.startswith("/planner/report.html?") for h in hrefs)
    page.wait_for_timeout(300)
    assert not recorder.external
    assert not page_errors, page_errors
    page.screenshot(path=str(artifacts_dir / "planner-map.png"))
    page.locator("#suggestion").screenshot(path=str(artifacts_dir / "planner-suggestion.png"))
