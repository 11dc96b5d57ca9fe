"""Map builders.

**Planners' map** (``/planner`` and the downloaded scenario report — one builder,
:func:`scenario_map`): a :class:`MapSpec` is plain data — bounds, layers of GeoJSON
features, legends — sent as JSON (:func:`script_json`, ``<`` ``>`` ``&`` U+2028/9 escaped)
in ``<script type="application/json" id="yz-map-data">`` and drawn by our one script,
``static/planner.js``, which puts every text on the page with ``textContent``. No text
from data is ever part of HTML or JavaScript source (folium's tooltips and popups wrote
names into JS template literals: stored XSS, and a backtick broke the map).

Adding a layer is one call on the spec, e.g. in :func:`scenario_map` or on its result::

    spec.add_layer("ev", t("pl_ev", lang),
                   [point(lon, lat, tip=name, popup=[name, f"{kw:g} kW"]) for ...],
                   points=True, style={"radius": 6, "color": "#1a9850", "fillColor": "#66bd63"})

(``feature(geometry, tip=…, popup=[…], style={…})`` for lines and polygons; ``show=False``
to start hidden; ``url=…`` to load a FeatureCollection only when switched on.) The layer
appears in the layer control, in the page and in the report, with tooltips and popups.

**Drivers' and staff pages** (:func:`driver_map`, :func:`picker_map`): folium base maps
(counties, corridors from the embedded region, labels HTML-escaped) built with
``tiles=None`` plus an optional tile layer from the app config, then
:func:`webmap.assets.localize`-d so every asset comes from the app; station data reach
those pages as JSON for their own scripts.

Coordinates: shapely/GeoJSON use (lon, lat); Leaflet bounds are [lat, lon] (:func:`_latlon`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

import folium
import numpy as np
import shapely

from webmap.assets import localize
from webmap.i18n import kind_label, t

#: Display simplification of county polygons, degrees (~200 m; the driver map is a sketch).
COUNTY_TOLERANCE_DEG = 0.002
#: Decimals kept in display geometry (4 ≈ 10 m).
DISPLAY_DECIMALS = 4
#: Grid cells (kilometres across, hundreds of them) keep 3 (≈ 100 m): a third of the page less.
GRID_DECIMALS = 3

CORRIDOR_STYLE = {
    "expressway": {"color": "#1f5fa8", "weight": 4, "opacity": 0.85},
    "national_road": {"color": "#8a5a14", "weight": 3, "opacity": 0.8, "dashArray": "6 4"},
}
COUNTY_STYLE = {"color": "#6b7b8c", "weight": 1, "fillColor": "#dfe7ee", "fillOpacity": 0.25}

#: Road km to the nearest station → colour (planner map), green … red; last bin is "beyond R".
DISTANCE_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")


def _latlon(lon: float, lat: float) -> list[float]:
    return [float(lat), float(lon)]


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _name(row, lang: str) -> str:
    """Chinese name, or the English one in English when the layer has it."""
    if lang == "en":
        en = row.get("name_en")
        if isinstance(en, str) and en:
            return en
    zh = row.get("name_zh")
    return zh if isinstance(zh, str) and zh else str(row.get("ref") or row.get("code") or "")


def display_features(gdf, *, props: Sequence[dict], tolerance_deg: float = 0.0) -> dict:
    """A FeatureCollection for display: simplified, rounded geometry, the given properties.

    Parameters
    ----------
    gdf : GeoDataFrame
        EPSG:4326 layer.
    props : sequence of dict
        One properties dict per row (strings must already be escaped when shown as HTML).
    tolerance_deg : float
        Douglas–Peucker tolerance in degrees (0 = no simplification).
    """
    features = []
    for geom, p in zip(_display_geoms(gdf, tolerance_deg), props):
        if geom is not None:
            features.append({"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def region_bounds(region) -> list[list[float]]:
    """The region's bounding box as Leaflet bounds ``[[south, west], [north, east]]``."""
    x0, y0, x1, y1 = region.bbox
    return [_latlon(x0, y0), _latlon(x1, y1)]


def base_map(region, *, tiles: str | None, tiles_attr: str | None, zoom_start: int = 8, fit: bool = True,
             **kwargs) -> folium.Map:
    """An empty map over the region, with the configured tile layer (or none).

    ``fit=False`` leaves fitting to the page script: folium's ``fitBounds`` animates,
    and a script's own ``setView`` during that animation is silently dropped.
    """
    x0, y0, x1, y1 = region.bbox
    m = folium.Map(
        location=_latlon((x0 + x1) / 2, (y0 + y1) / 2),
        zoom_start=zoom_start,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        **kwargs,
    )
    if tiles:
        folium.TileLayer(tiles=tiles, attr=tiles_attr or "", name="tiles", max_zoom=18, overlay=False, control=False).add_to(m)
    if fit:
        m.fit_bounds(region_bounds(region))
    return m


def add_counties(m, region, lang: str, *, name: str | None = None, show: bool = True):
    counties = region.counties
    props = [{"label": _esc(_name(row, lang))} for _, row in counties.iterrows()]
    data = display_features(counties, props=props, tolerance_deg=COUNTY_TOLERANCE_DEG)
    folium.GeoJson(
        data,
        name=name or t("pl_counties", lang),
        style_function=lambda _f: COUNTY_STYLE,
        interactive=False,
        show=show,
        control=name is not None,
    ).add_to(m)
    return m


def add_corridors(m, region, lang: str, *, name: str | None = None):
    corridors = region.corridors
    props = []
    for _, row in corridors.iterrows():
        ref = row.get("ref") or ""
        label = f"{ref} {_name(row, lang)}".strip()
        props.append({"label": _esc(label), "road_class": str(row.get("road_class") or "expressway")})
    data = display_features(corridors, props=props)
    folium.GeoJson(
        data,
        name=name or t("pl_corridors", lang),
        style_function=lambda f: CORRIDOR_STYLE.get(f["properties"]["road_class"], CORRIDOR_STYLE["expressway"]),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        control=name is not None,
    ).add_to(m)
    return m


def driver_map(region, *, lang: str, tiles: str | None, tiles_attr: str | None) -> folium.Map:
    """The drivers' base map: counties and corridors. Stations are drawn by driver.js."""
    m = base_map(region, tiles=tiles, tiles_attr=tiles_attr, fit=False)
    add_counties(m, region, lang)
    add_corridors(m, region, lang)
    return localize(m)


def picker_map(region, *, lang: str, tiles: str | None, tiles_attr: str | None) -> folium.Map:
    """The admin location picker's base map (admin.js adds the draggable marker)."""
    m = base_map(region, tiles=tiles, tiles_attr=tiles_attr, zoom_start=10, fit=False)
    add_counties(m, region, lang)
    add_corridors(m, region, lang)
    return localize(m)


# ------------------------------------------------------------------ planners' map (JSON, no folium)
#
# The planners' page and the downloaded scenario report draw the same map, built here
# as a :class:`MapSpec` (plain data) and drawn in the browser by ``static/planner.js``.
# Text from data (station names, …) travels only as JSON string values and is put on the
# page with ``textContent``: nothing from data is ever HTML or JavaScript source.


def script_json(obj) -> str:
    """``obj`` as JSON safe inside ``<script type="application/json">`` (and any HTML).

    ``<``, ``>``, ``&`` become ``\\u003c`` … so no ``</script>`` or ``<!--`` can end or
    change the element; U+2028/U+2029 are escaped too (they end lines in old JS parsers).
    JSON.parse reads the escapes back to the same characters.
    """
    import json

    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def feature(geometry, *, tip: str | None = None, popup: Sequence[str] | None = None,
            style: dict | None = None, **props) -> dict:
    """A GeoJSON Feature for a :class:`MapSpec` layer.

    ``geometry`` is a shapely geometry or a GeoJSON geometry dict (lon, lat). ``tip`` is the
    hover text, ``popup`` lines of the click popup (the first is the title), ``style``
    Leaflet path options for this feature only. All text is plain text, never HTML.
    """
    if not isinstance(geometry, dict):
        geometry = shapely.geometry.mapping(geometry)
    p = dict(props)
    if tip is not None:
        p["tip"] = str(tip)
    if popup:
        p["popup"] = ["" if line is None else str(line) for line in popup]
    if style:
        p["style"] = style
    return {"type": "Feature", "properties": p, "geometry": geometry}


def point(lon, lat, **kwargs) -> dict:
    """A point :func:`feature` at (lon, lat), WGS-84, rounded to ~1 m."""
    return feature({"type": "Point", "coordinates": [round(float(lon), 5), round(float(lat), 5)]}, **kwargs)


class MapSpec:
    """A map as data: bounds, optional tiles, layers of GeoJSON features, legends.

    :meth:`to_json` is what ``static/planner.js`` draws. Adding a layer is one call::

        spec.add_layer("ev", "EV charging", [point(lon, lat, tip="…")],
                       style={"color": "#1a9850", "radius": 6}, points=True)
    """

    def __init__(self, bounds, *, tiles: str | None = None, tiles_attr: str | None = None):
        self.bounds = bounds
        self.tiles = {"url": tiles, "attr": tiles_attr or ""} if tiles else None
        self.layers: list[dict] = []
        self.legends: list[dict] = []

    def add_layer(self, key: str, name: str, features: Iterable[dict] | None = None, *, style: dict | None = None,
                  points: bool = False, show: bool = True, control: bool = True, interactive: bool = True,
                  url: str | None = None) -> dict:
        """Add a layer drawn in the order added (later on top).

        Parameters
        ----------
        key : str
            Stable id (``data-layer`` in the page, for tests and scripts).
        name : str
            Name in the layer control (text).
        features : iterable of dict
            :func:`feature` / :func:`point` dicts.
        style : dict
            Leaflet path options shared by the features (``radius`` for points).
        points : bool
            Draw point features as circle markers.
        show, control, interactive : bool
            Shown at first; listed in the layer control; hover/click enabled.
        url : str, optional
            Load the features (a FeatureCollection) from this same-origin URL the first
            time the layer is switched on, instead of embedding them.
        """
        layer = {"key": key, "name": name, "style": style or {}, "points": points, "show": show,
                 "control": control, "interactive": interactive}
        if url is not None:
            layer["url"] = url
        else:
            layer["data"] = {"type": "FeatureCollection", "features": list(features or [])}
        self.layers.append(layer)
        return layer

    def add_legend(self, title: str, entries: Sequence[tuple[str, str]]) -> None:
        """A legend box: ``entries`` are ``(colour, label)``."""
        self.legends.append({"title": title, "entries": [list(e) for e in entries]})

    def layer(self, key: str) -> dict | None:
        return next((ly for ly in self.layers if ly["key"] == key), None)

    def to_dict(self) -> dict:
        return {"bounds": self.bounds, "tiles": self.tiles, "layers": self.layers, "legends": self.legends}

    def to_json(self) -> str:
        return script_json(self.to_dict())


def distance_colour(road_km: float | None, radius_km: float) -> str:
    """Colour of a corridor sample by road km to the nearest station (> R: red)."""
    if road_km is None or not math.isfinite(road_km) or road_km > radius_km:
        return DISTANCE_COLOURS[-1]
    step = radius_km / (len(DISTANCE_COLOURS) - 1)
    return DISTANCE_COLOURS[min(int(road_km // step), len(DISTANCE_COLOURS) - 2)]


def _distance_bins(radius_km: float) -> list[tuple[str, str]]:
    step = radius_km / (len(DISTANCE_COLOURS) - 1)
    entries = [(c, f"{step * i:.0f}–{step * (i + 1):.0f} km") for i, c in enumerate(DISTANCE_COLOURS[:-1])]
    entries.append((DISTANCE_COLOURS[-1], f"> {radius_km:.0f} km"))
    return entries


def _runs(samples: list[dict], radius_km: float) -> Iterable[tuple[dict, str, list, float, float]]:
    """Consecutive samples of one corridor with the same colour →
    (first sample, colour, [[lon, lat], ...], from km, to km)."""
    by_corridor: dict = {}
    for s in samples:
        by_corridor.setdefault((s.get("corridor_idx"), s["corridor"]), []).append(s)
    for rows in by_corridor.values():
        rows.sort(key=lambda s: s["km"])
        colour, run, first = None, [], None
        for s in rows:
            c = distance_colour(_finite(s.get("road_km")), radius_km)
            pt = [round(float(s["lon"]), DISPLAY_DECIMALS), round(float(s["lat"]), DISPLAY_DECIMALS)]
            if c != colour and run:
                run.append(pt)  # close the previous run at this sample: no holes
                yield first, colour, run, first["km"], s["km"]
                run, first = [], None
            colour = c
            first = first or s
            run.append(pt)
        if len(run) > 1:
            yield first, colour, run, first["km"], rows[-1]["km"]


def _grid_colour(value, vmax: float) -> str:
    if value is None:
        return "#bbbbbb"
    ramp = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
    i = min(int(value / vmax * len(ramp)), len(ramp) - 1) if vmax > 0 else 0
    return ramp[i]


def cell_names(grid, counties, lang: str) -> dict[str, str]:
    """Human names of service-grid cells: county name + a number within the county.

    Cells are numbered 1, 2, … per county from north-west to south-east (rows of
    ~0.05°, west to east inside a row), so a number stays put while the grid does.
    Returns ``{cell_id: name}``, e.g. ``江油市 12 号网格`` / ``Jiangyou City cell 12``.
    """
    county_name = {str(row["code"]): _name(row, lang) for _, row in counties.iterrows()}
    pts = grid.to_crs(4326).geometry.representative_point()
    order: dict[str, list[tuple[float, float, str]]] = {}
    for cell_id, county, p in zip(grid["cell_id"], grid["county"], pts):
        order.setdefault(str(county), []).append((-round(p.y / 0.05), p.x, str(cell_id)))
    names = {}
    for county, cells in order.items():
        for n, (_row, _x, cell_id) in enumerate(sorted(cells), start=1):
            names[cell_id] = t("pl_cell", lang, county=county_name.get(county, county), n=n)
    return names


def scenario_map(
    region,
    *,
    lang: str,
    stations: list[dict],
    coverage: dict | None = None,
    grid=None,
    suggestion: dict | None = None,
    after: dict | None = None,
    candidates_url: str | None = None,
    charging_urls: tuple[str, str] | None = None,
    tiles: str | None = None,
    tiles_attr: str | None = None,
) -> MapSpec:
    """The planners' map, for ``/planner`` and for the scenario report alike.

    Layers (each optional, drawn from what is given): counties; grid cells shaded by
    demand-weighted drive time; corridors coloured by road km to the nearest station;
    coverage gaps; existing stations; candidate sites (loaded from ``candidates_url``);
    suggested sites.

    Parameters
    ----------
    coverage : dict
        ``Workspace.coverage(samples=True)`` plus ``gap_lines`` — the current state.
    grid : GeoDataFrame
        ``Workspace.grid_access()`` — the current state.
    suggestion : dict
        ``Workspace.suggest(...)``: adds the new sites; gaps become the scenario's
        ("after") gaps, the current ones a hidden layer.
    after : dict
        ``{"coverage": …, "grid": …}`` of the scenario (existing + new sites), as
        :func:`planner.report.after_state` returns: corridors and grid are drawn for the
        scenario instead of the current state.
    """
    spec = MapSpec(region_bounds(region), tiles=tiles, tiles_attr=tiles_attr)
    scenario = suggestion is not None
    suffix = t("pl_after_suffix", lang) if scenario and after else ""

    counties = region.counties
    spec.add_layer("counties", t("pl_counties", lang), [
        feature(g, tip=_name(row, lang))
        for g, (_, row) in zip(_display_geoms(counties, COUNTY_TOLERANCE_DEG), counties.iterrows()) if g is not None
    ], style=COUNTY_STYLE, interactive=False)

    grid = (after or {}).get("grid", grid) if scenario else grid
    if grid is not None and len(grid):
        _add_grid(spec, grid, region, lang, suffix)

    cov = (after or {}).get("coverage") if scenario else coverage
    if cov is not None and cov.get("samples"):
        radius = float(cov["radius_km"])
        feats = [feature({"type": "LineString", "coordinates": run},
                         tip=t("pl_run_tip", lang, corridor=s["corridor"], a=f"{a:.0f}", b=f"{b:.0f}",
                               band=_band(colour, radius)), style={"color": colour})
                 for s, colour, run, a, b in _runs(cov["samples"], radius)]
        spec.add_layer("corridors", t("pl_corridors", lang) + suffix, feats, style={"weight": 5, "opacity": 0.9})
        spec.add_legend(t("pl_legend_km", lang) + suffix, _distance_bins(radius))
    else:
        corridors = region.corridors
        feats = []
        for g, (_, row) in zip(_display_geoms(corridors, 0.0), corridors.iterrows()):
            if g is None:
                continue
            style = CORRIDOR_STYLE.get(str(row.get("road_class") or ""), CORRIDOR_STYLE["expressway"])
            feats.append(feature(g, tip=f"{row.get('ref') or ''} {_name(row, lang)}".strip(), style=style))
        spec.add_layer("corridors", t("pl_corridors_plain", lang), feats)

    if scenario:
        gaps = {"before": suggestion.get("gap_lines", {}).get("before") or [],
                "after": suggestion.get("gap_lines", {}).get("after") or []}
        spec.add_layer("gaps_before", t("pl_gaps_before", lang), _gap_features(gaps["before"], lang),
                       style={"color": "#fdae61", "weight": 10, "opacity": 0.5}, show=False)
        spec.add_layer("gaps", t("pl_gaps", lang) + t("pl_after_suffix", lang), _gap_features(gaps["after"], lang),
                       style={"color": "#d7191c", "weight": 10, "opacity": 0.45})
    elif coverage is not None and coverage.get("gap_lines") is not None:
        spec.add_layer("gaps", t("pl_gaps", lang), _gap_features(coverage["gap_lines"], lang),
                       style={"color": "#d7191c", "weight": 10, "opacity": 0.45})

    spec.add_layer("stations", t("pl_stations", lang), [
        point(s["lon"], s["lat"], tip=f"{s.get('id')} · {s.get('name') or ''}",
              popup=[s.get("name") or s.get("id"),
                     f"{s.get('id')} · {kind_label(s.get('kind', ''), lang)}" if s.get("kind") else s.get("id"),
                     " · ".join(str(v) for v in (s.get("county_name"), _status(s.get("data_status"), lang)) if v)])
        for s in stations
    ], style={"radius": 7, "color": "#0b3d91", "weight": 2, "fillColor": "#2b83ba", "fillOpacity": 0.9}, points=True)

    if charging_urls:  # the FRLM scenario's flows and sites (webmap.planning.charging), on demand
        from planner.settings import EV_NEW_SITES, EV_RANGE_KM

        spec.add_layer("ev_flows", t("pl_ev_flows", lang, range_km=EV_RANGE_KM), url=charging_urls[0], show=False,
                       style={"opacity": 0.7})
        spec.add_layer("ev_sites", t("pl_ev_sites", lang, k=EV_NEW_SITES), url=charging_urls[1], points=True,
                       show=False, style={"radius": 6, "color": "#333", "weight": 1, "fillOpacity": 0.95})

    if candidates_url:
        spec.add_layer("candidates", t("pl_candidates", lang), url=candidates_url, points=True, show=False,
                       style={"radius": 3, "color": "#555", "weight": 1, "fillColor": "#aaa", "fillOpacity": 0.8})

    if scenario:
        feats = []
        for site in suggestion.get("sites") or []:
            km = _finite(site.get("corridor_km"))
            where = f"{site.get('corridor') or '—'}" + (f" km {km:.0f}" if km is not None else "")
            feats.append(point(site["lon"], site["lat"], tip=f"{site.get('id', '')} · {where}",
                               popup=[site.get("id") or "", where, site.get("name") or "",
                                      f"{t('pl_source', lang)}: {site.get('source') or '—'}",
                                      f"{float(site['lat']):.5f}, {float(site['lon']):.5f}"]))
        spec.add_layer("sites", t("pl_new_sites", lang), feats, points=True,
                       style={"radius": 9, "color": "#7b3294", "weight": 3, "fillColor": "#c2a5cf", "fillOpacity": 0.95})
    return spec


def _status(data_status, lang: str) -> str | None:
    """``illustrative`` → 示意 / illustrative (unknown values as they are)."""
    if not data_status:
        return None
    key = f"status_{data_status}"
    text = t(key, lang)
    return str(data_status) if text == key else text


def _display_geoms(gdf, tolerance_deg: float, decimals: int = DISPLAY_DECIMALS) -> list:
    geoms = np.asarray(gdf.to_crs(4326).geometry.values)
    if tolerance_deg > 0:
        geoms = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda c: np.round(c, decimals))
    return [None if g is None or g.is_empty else g for g in geoms]


def _band(colour: str, radius_km: float) -> str:
    return dict(_distance_bins(radius_km)).get(colour, "")


def _gap_features(gap_lines: list[dict], lang: str) -> list[dict]:
    return [feature({"type": "LineString", "coordinates": [[round(x, DISPLAY_DECIMALS), round(y, DISPLAY_DECIMALS)]
                                                           for x, y in g["coords"]]},
                    tip=t("pl_gap_tip", lang, corridor=g["corridor"], a=f"{g['from_km']:.0f}", b=f"{g['to_km']:.0f}",
                          length=f"{g['length_km']:.0f}"))
            for g in gap_lines if len(g.get("coords") or ()) > 1]


def _add_grid(spec: MapSpec, grid, region, lang: str, suffix: str) -> None:
    values = [v for v in (_finite(x) for x in grid["mean_drive_min"].tolist()) if v is not None]
    vmax = max(values) if values else 1.0
    names = cell_names(grid, region.counties, lang)
    feats = []
    for g, row in zip(_display_geoms(grid, 0.0, GRID_DECIMALS), grid.itertuples(index=False)):
        if g is None:
            continue
        v = _finite(row.mean_drive_min)
        name = names.get(str(row.cell_id), str(row.cell_id))
        tip = (t("pl_cell_tip", lang, cell=name, minutes=f"{v:.0f}", stations=int(getattr(row, "stations", 0) or 0))
               if v is not None else t("pl_cell_empty", lang, cell=name))
        feats.append(feature(g, tip=tip, style={"fillColor": _grid_colour(v, vmax),
                                                "fillOpacity": 0.55 if v is not None else 0.05}))
    spec.add_layer("grid", t("pl_grid", lang) + suffix, feats, style={"color": "#999", "weight": 0.4})
    step = vmax / 5
    spec.add_legend(t("pl_legend_min", lang) + suffix,
                    [(_grid_colour(step * (i + 0.5), vmax), f"{step * i:.0f}–{step * (i + 1):.0f}") for i in range(5)])
