"""The drivers' map (``/``): mobile-first, Chinese by default, English with ``?lang=en``.

The page is one HTML document: the folium base map (counties, corridors) and the stations
as compact JSON in the page; ``static/driver.js`` draws the stations and asks
``/api/nearest`` and ``/api/along-route`` for answers. No tiles are needed.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from planner.stations import FREE_BASICS, SEVEN_CATEGORIES
from webmap.assets import add_nonce, render_parts
from webmap.i18n import get_lang, js_strings
from webmap.maps import driver_map, region_bounds
from webmap.security import csp_nonce
from webmap.serialize import compact
from webmap.state import get_state, get_workspace

bp = Blueprint("driver", __name__)

#: Charging-power filter chips, kW per bay.
POWER_CHIPS_KW = (600, 1000)


def _towns(region, lang: str) -> list[dict]:
    """Destinations for the along-route search besides stations: county seats and towns."""
    out = []
    for _, row in region.counties.iterrows():
        out.append({"n": row["name_zh"], "ne": row.get("name_en"), "x": round(float(row["seat_lon"]), 5),
                    "y": round(float(row["seat_lat"]), 5)})
    anchors = getattr(region, "anchors", None)
    if anchors is not None and len(anchors):
        for _, row in anchors[anchors["kind"] == "town"].iterrows():
            out.append({"n": row["name_zh"], "ne": row.get("name_en"), "x": round(float(row.geometry.x), 5),
                        "y": round(float(row.geometry.y), 5)})
    seen, unique = set(), []
    for town in out:
        if town["n"] not in seen:
            seen.add(town["n"])
            unique.append(town)
    return unique


def page_data(ws, lang: str) -> dict:
    """Everything driver.js needs besides the map itself (stations, towns, strings)."""
    stations = ws.stations()
    return {
        "lang": lang,
        "t": js_strings(lang),
        "stations": [compact(s) for s in stations],
        "towns": _towns(ws.region, lang),
        "k": current_app.config["NEAREST_K"],
        "detour_km": current_app.config["ALONG_DETOUR_KM"],
        "bounds": region_bounds(ws.region),
        "api": {"nearest": url_for("api.nearest"), "along": url_for("api.along_route")},
        "illustrative": ws.uses_illustrative_data(stations),
    }


@bp.get("/")
def index():
    lang = get_lang()
    ws = get_workspace()
    state = get_state()
    cfg = current_app.config
    parts = state.cached(
        ("driver-map", lang),
        lambda: render_parts(driver_map(ws.region, lang=lang, tiles=cfg["TILES"], tiles_attr=cfg["TILES_ATTR"])),
    )
    data = state.cached(("driver-data", lang), lambda: page_data(ws, lang), generation=ws.registry.generation())
    nonce = csp_nonce()
    response = current_app.make_response(render_template(
        "driver.html",
        map_header=add_nonce(parts["header"], nonce),
        map_html=parts["html"],
        map_script=parts["script"],
        data=dict(data, map=parts["name"]),
        seven=SEVEN_CATEGORIES,
        free_basics=FREE_BASICS,
        power_chips=POWER_CHIPS_KW,
        illustrative=data["illustrative"],
    ))
    response.headers["Cache-Control"] = "no-cache"
    return response
