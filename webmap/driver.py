"""The drivers' map (``/``): phone first, Chinese by default, English with ``?lang=en``.

The page is one HTML document: the folium base map (counties, corridors) and, as compact
JSON in the page, the stations, the place labels (county seats, towns, service areas, hubs,
interchanges from the region's gazetteer) and the corridor shields that orient a driver
without any tile server. ``static/driver.js`` draws them and asks ``/api/nearest``,
``/api/route``, ``/api/along-route`` and ``/api/places`` for answers.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
from flask import Blueprint, current_app, render_template, url_for

from planner import gazetteer
from planner.projection import project, project_geometry, unproject
from planner.stations import EXTRAS, FREE_BASICS, SEVEN_CATEGORIES
from planner.stations import opening
from webmap.assets import add_nonce, render_parts
from webmap.i18n import get_lang, js_strings
from webmap.maps import driver_map, region_bounds
from webmap.security import csp_nonce
from webmap.serialize import compact
from webmap.state import get_state, get_workspace

bp = Blueprint("driver", __name__)

#: Charging-power filter chips, kW per bay.
POWER_CHIPS_KW = (600, 1000)
#: Amenity chips in the order drivers reach for them (secure parking and truck parking first).
FIRST_CHIPS = ("secure_parking", "parking", "shower", "dining")
#: Smallest zoom at which a place label may show, by gazetteer kind (collisions hide more).
LABEL_MIN_ZOOM = {"city": 0, "county": 0, "town": 10, "service_area": 10, "logistics_hub": 11,
                  "parking_area": 11, "interchange": 12}
#: County seats drawn only from this zoom (the city label covers them when zoomed out).
CITY_DISTRICTS = {"510703": 10, "510704": 10}
#: Distance between two shields of one corridor, km (the first sits half of it from the start).
SHIELD_SPACING_KM = 45.0
DENSE_SHIELD_ZOOM = 10
#: A station's locality: the nearest named place within this many km.
LOCALITY_MAX_KM = 15.0
INTERCHANGE_PENALTY_KM = 5.0

_BRACKETS = re.compile(r"[（(][^）)]*[）)]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _plain(name: str | None) -> str:
    """A label without its bracketed qualifier: 绵阳南（磨家）互通 -> 绵阳南互通."""
    return _BRACKETS.sub("", name or "").strip()


def place_labels(lang: str) -> list[dict]:
    """Labels for the base map: ``{"t" text, "k" kind, "x", "y", "z" min zoom, "r" rank}``.

    Rank orders the collision test (smaller wins): the city, county seats, towns, service
    areas, hubs, parking areas, interchanges.
    """
    out = []
    for p in gazetteer.load()["places"]:
        kind = p["kind"]
        if kind not in LABEL_MIN_ZOOM:
            continue
        if kind == "city":
            text = "绵阳" if lang != "en" else "Mianyang"
        elif kind == "county":
            text = p["name_zh"] if lang != "en" else _plain(p["name_en"]).replace(" Qiang Autonomous County", "")
        else:
            text = _plain(p["name_zh"]) if lang != "en" else _plain(p["name_en"])
        zoom = CITY_DISTRICTS.get(p["county"], 0) if kind == "county" else LABEL_MIN_ZOOM[kind]
        out.append({"t": text, "k": kind, "x": p["lon"], "y": p["lat"], "z": zoom,
                    "r": gazetteer.KIND_RANK.get(kind, 9)})
    out.sort(key=lambda d: (d["r"], d["z"]))
    return out


def corridor_label(row, lang: str) -> str:
    """What a driver reads on the sign: G5, G108; the short name for roads without a number."""
    ref = str(row.get("ref") or "")
    if re.fullmatch(r"[GS]\d+", ref):
        return ref
    if lang == "en":
        return (row.get("name_en") or ref).replace(" Expwy", "")
    return _plain(row.get("name_zh")) or ref


def corridor_shields(region, lang: str) -> list[dict]:
    """Shield positions along each corridor: ``{"t", "c" road class, "x", "y", "z" min zoom}``.

    Spaced :data:`SHIELD_SPACING_KM` apart at every zoom, and a third of that from
    :data:`DENSE_SHIELD_ZOOM` on (measured in the region's projected CRS).
    """
    crs = region.crs
    out = []
    for _, row in region.corridors.iterrows():
        line = project_geometry(row.geometry, crs)
        length_km = line.length / 1000.0
        n = max(1, int(length_km // SHIELD_SPACING_KM))
        step = length_km / n
        for i in range(3 * n):  # every third one is a shield at every zoom
            pt = line.interpolate((step * (i + 0.5) / 3) * 1000.0)
            lon, lat = unproject(pt.x, pt.y, crs)
            out.append({"t": corridor_label(row, lang), "c": str(row.get("road_class") or "expressway"),
                        "x": round(float(lon), 5), "y": round(float(lat), 5), "z": 0 if i % 3 == 1 else DENSE_SHIELD_ZOOM})
    return out


def _locality(lon: float, lat: float, places: list[dict], crs: str) -> dict | None:
    """The nearest named place within :data:`LOCALITY_MAX_KM` (a town or service area
    before an interchange that is up to :data:`INTERCHANGE_PENALTY_KM` nearer)."""
    best, best_d = None, LOCALITY_MAX_KM * 1000.0
    sx, sy = project(lon, lat, crs)
    for p in places:
        d = float(np.hypot(p["_x"] - sx, p["_y"] - sy))
        if d > LOCALITY_MAX_KM * 1000.0:
            continue
        if p["kind"] == "interchange":
            d += INTERCHANGE_PENALTY_KM * 1000.0
        if best is None or d < best_d:
            best, best_d = p, d
    return best


def station_rows(ws, lang: str) -> list[dict]:
    """Stations in compact form (see :func:`webmap.serialize.compact`) for this language.

    Adds ``loc`` (the nearest named place, in the page's language), puts the county name and
    the corridor's sign text in the page's language, and keeps the stored address only when
    it is written in the page's language (an English address never shows on the Chinese page).
    """
    region = ws.region
    crs = region.crs
    places = [p for p in gazetteer.load()["places"] if p["kind"] != "freight_generator"]
    for p in places:
        p["_x"], p["_y"] = project(p["lon"], p["lat"], crs)
    counties = {r["code"]: r for _, r in region.counties.iterrows()}
    corridors = {str(r.get("ref")): corridor_label(r, lang) for _, r in region.corridors.iterrows()}
    rows = []
    for record in ws.stations():
        row = compact(record)
        county = counties.get(record.get("county"))
        if county is not None:
            row["cn"] = county["name_en"] if lang == "en" else county["name_zh"]
        if row.get("co"):
            row["co"] = corridors.get(row["co"], row["co"])
        address = row.get("ad") or ""
        fits = not _CJK.search(address) if lang == "en" else not _LATIN_WORD.search(address)
        if address and not fits:
            row.pop("ad")
        near = _locality(record["lon"], record["lat"], places, crs)
        if near is not None:
            row["loc"] = _plain(near["name_en"]) if lang == "en" else _plain(near["name_zh"])
        rows.append(row)
    for p in places:
        p.pop("_x", None), p.pop("_y", None)
    return rows


def chip_order() -> list[str]:
    """Every amenity key once, the ones drivers reach for first in front."""
    rest = [k for k in SEVEN_CATEGORIES + FREE_BASICS + EXTRAS if k not in FIRST_CHIPS]
    return list(FIRST_CHIPS) + rest


def open_states(ws, now: dt.datetime) -> dict[str, list]:
    """``{station id: [open now, next opening ISO or None]}`` in the region's time zone."""
    index = ws.index()  # the open stations as stored now, cached per registry version
    return {sid: list(opening(s.get("hours"), now)) for sid, s in zip(index.station_ids, index.stations)}


def page_data(ws, lang: str) -> dict:
    """Everything driver.js needs besides the map itself (stations, labels, strings)."""
    stations = ws.stations()
    strings = js_strings(lang)
    strings["kind_place"] = {k: v["en" if lang == "en" else "zh"] for k, v in gazetteer.kinds().items()}
    return {
        "lang": lang,
        "t": strings,
        "stations": station_rows(ws, lang),
        "labels": place_labels(lang),
        "shields": corridor_shields(ws.region, lang),
        "k": current_app.config["NEAREST_K"],
        "detour_km": current_app.config["ALONG_DETOUR_KM"],
        "bounds": region_bounds(ws.region),
        "api": {"nearest": url_for("api.nearest"), "along": url_for("api.along_route"),
                "route": url_for("api.route"), "places": url_for("api.places")},
        "tz": str(ws.region.timezone),
        "tiles": bool(current_app.config.get("TILES")),
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
        # open/closed is judged now, on every request (the rest is cached per registry version)
        data=dict(data, map=parts["name"], open=open_states(ws, ws.now())),
        chips=chip_order(),
        free_basics=FREE_BASICS,
        power_chips=POWER_CHIPS_KW,
        illustrative=data["illustrative"],
    ))
    response.headers["Cache-Control"] = "no-cache"
    return response
