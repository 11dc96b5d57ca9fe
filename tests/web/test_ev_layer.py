"""The planners' map carries the electric-truck scenario (FRLM) as two layers loaded on demand."""

from __future__ import annotations

import json

from planner import settings
from planner.charging import charging_scenario


def test_planner_page_declares_the_ev_layers(client):
    page = client.get("/planner?lang=en").get_data(as_text=True)
    assert "charging-flows.geojson" in page and "charging-sites.geojson" in page
    assert "E-truck flows (range 200 km, illustrative)" in page


def test_ev_layers_match_the_model(client, app):
    ws = app.extensions["yizhan"].workspace
    doc = charging_scenario(ws.region, ws.network, ws.stations(), range_km=settings.EV_RANGE_KM,
                            k=settings.EV_NEW_SITES)
    flows = json.loads(client.get("/planner/charging-flows.geojson?lang=en").get_data(as_text=True))["features"]
    sites = json.loads(client.get("/planner/charging-sites.geojson?lang=en").get_data(as_text=True))["features"]
    assert len(sites) == len(doc["sites"]) and any("new" in f["properties"]["tip"] for f in sites)
    green = [f for f in flows if f["properties"]["style"]["color"] == "#1a9641"]
    red = [f for f in flows if f["properties"]["style"]["color"] == "#d7191c"]
    assert green and red and len(green) + len(red) == len(flows)
    # the share of flows drawn feasible is the model's "after" share (by count of routes here)
    assert all("round trip feasible" in f["properties"]["tip"] for f in green)
    assert all("not feasible" in f["properties"]["tip"] for f in red)
    assert 0 < doc["after"]["flow_share"] < 1


def test_unknown_ev_layer_is_a_404_in_the_error_shape(client):
    r = client.get("/planner/charging-nope.geojson")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
