"""Folium map builders: each takes data (region, coverage, stations) and returns a map.

Maps are built with ``tiles=None`` plus an optional tile layer from the app config, and
then :func:`webmap.assets.localize`-d so every asset comes from the app. Text that folium
puts into popups and tooltips is HTML-escaped here first (folium inserts it as raw HTML).
Coordinates: shapely/GeoJSON use (lon, lat); folium wants [lat, lon] — converted in
:func:`_latlon` only.
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
    geoms = np.asarray(gdf.to_crs(4326).geometry.values)
    if tolerance_deg > 0:
        geoms = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda c: np.round(c, DISPLAY_DECIMALS))
    features = []
    for geom, p in zip(geoms, props):
        if geom is None or geom.is_empty:
            continue
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
    # No folium popups here, so jQuery is not needed: keep the phone's download small.
    return localize(m, keep_jquery=False)


def picker_map(region, *, lang: str, tiles: str | None, tiles_attr: str | None) -> folium.Map:
    """The admin location picker's base map (admin.js adds the draggable marker)."""
    m = base_map(region, tiles=tiles, tiles_attr=tiles_attr, zoom_start=10, fit=False)
    add_counties(m, region, lang)
    add_corridors(m, region, lang)
    return localize(m, keep_jquery=False)


# ------------------------------------------------------------------ planner map
def distance_colour(road_km: float | None, radius_km: float) -> str:
    """Colour of a corridor sample by road km to the nearest station (≥ R: red)."""
    if road_km is None or not math.isfinite(road_km) or road_km > radius_km:
        return DISTANCE_COLOURS[-1]
    step = radius_km / (len(DISTANCE_COLOURS) - 1)
    return DISTANCE_COLOURS[min(int(road_km // step), len(DISTANCE_COLOURS) - 2)]


def _runs(samples: list[dict], radius_km: float) -> Iterable[tuple[str, list[list[float]]]]:
    """Consecutive samples of one corridor with the same colour → (colour, [[lat, lon], ...])."""
    by_corridor: dict[str, list[dict]] = {}
    for s in samples:
        by_corridor.setdefault(s["corridor"], []).append(s)
    for rows in by_corridor.values():
        rows.sort(key=lambda s: s["km"])
        colour, run = None, []
        for s in rows:
            c = distance_colour(s.get("road_km"), radius_km)
            point = _latlon(s["lon"], s["lat"])
            if c != colour and run:
                run.append(point)  # close the previous run at this sample: no holes
                yield colour, run
                run = []
            colour = c
            run.append(point)
        if len(run) > 1:
            yield colour, run


def _legend(m, title: str, entries: list[tuple[str, str]]):
    """A small static legend (text escaped)."""
    items = "".join(
        f'<div><span class="legend-swatch" style="background:{c}"></span>{_esc(label)}</div>' for c, label in entries
    )
    html_ = f'<div class="map-legend"><strong>{_esc(title)}</strong>{items}</div>'
    m.get_root().html.add_child(folium.Element(html_))


def _grid_colour(value, vmax: float) -> str:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "#bbbbbb"
    ramp = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
    i = min(int(value / vmax * len(ramp)), len(ramp) - 1) if vmax > 0 else 0
    return ramp[i]


def planner_map(
    region,
    *,
    lang: str,
    tiles: str | None,
    tiles_attr: str | None,
    coverage: dict | None,
    grid=None,
    stations: list[dict],
    candidates: list[dict] | None = None,
    suggestion: dict | None = None,
) -> folium.Map:
    """Planners' map: corridors coloured by road km to the nearest station, gaps, grid
    cells shaded by demand-weighted drive time, stations, candidates and suggested sites,
    each a layer in the layer control.

    ``coverage`` is ``Workspace.coverage(samples=True)``; ``grid`` is
    ``Workspace.grid_access()`` (GeoDataFrame with ``mean_drive_min``); ``suggestion`` is
    ``Workspace.suggest(...)``. Any of them may be None (the layer is left out).
    """
    m = base_map(region, tiles=tiles, tiles_attr=tiles_attr, zoom_start=8)
    add_counties(m, region, lang, name=t("pl_counties", lang), show=True)

    if grid is not None and len(grid):
        values = [v for v in grid["mean_drive_min"].tolist() if isinstance(v, (int, float)) and math.isfinite(v)]
        vmax = max(values) if values else 1.0
        props = []
        for _, row in grid.iterrows():
            v = row.get("mean_drive_min")
            ok = isinstance(v, (int, float)) and math.isfinite(v)
            props.append({
                "fill": _grid_colour(v if ok else None, vmax),
                "opacity": 0.55 if ok else 0.05,  # no demand in the cell: outline only
                "label": _esc(f"{row.get('cell_id', '')}: " + (f"{v:.0f} min" if ok else "–")
                              + f" · {row.get('stations', 0)} st."),
            })
        data = display_features(grid, props=props)
        folium.GeoJson(
            data,
            name=t("pl_grid", lang),
            style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": f["properties"]["opacity"],
                                      "color": "#999", "weight": 0.4},
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(m)
        step = vmax / 5
        _legend(m, t("pl_legend_min", lang),
                [(_grid_colour(step * (i + 0.5), vmax), f"{step * i:.0f}–{step * (i + 1):.0f}") for i in range(5)])

    if coverage is not None and coverage.get("samples"):
        radius = float(coverage["radius_km"])
        layer = folium.FeatureGroup(name=t("pl_corridors", lang))
        for colour, run in _runs(coverage["samples"], radius):
            folium.PolyLine(run, color=colour, weight=5, opacity=0.9).add_to(layer)
        layer.add_to(m)
        step = radius / (len(DISTANCE_COLOURS) - 1)
        entries = [(c, f"{step * i:.0f}–{step * (i + 1):.0f} km") for i, c in enumerate(DISTANCE_COLOURS[:-1])]
        entries.append((DISTANCE_COLOURS[-1], f"> {radius:.0f} km"))
        _legend(m, t("pl_legend_km", lang), entries)
    else:
        add_corridors(m, region, lang, name=t("pl_corridors", lang))

    gap_lines = (suggestion or {}).get("gap_lines", {}).get("before") if suggestion else None
    if gap_lines is None and coverage is not None:
        gap_lines = coverage.get("gap_lines")
    if gap_lines:
        layer = folium.FeatureGroup(name=t("pl_gaps", lang))
        for g in gap_lines:
            folium.PolyLine(
                [_latlon(x, y) for x, y in g["coords"]], color="#d7191c", weight=10, opacity=0.45,
                tooltip=_esc(f"{g['corridor']} km {g['from_km']:.0f}–{g['to_km']:.0f} ({g['length_km']:.0f} km)"),
            ).add_to(layer)
        layer.add_to(m)

    layer = folium.FeatureGroup(name=t("pl_stations", lang))
    for s in stations:
        text = f"{s.get('id')} · {s.get('name')}"
        popup = (f"<b>{_esc(s.get('name'))}</b><br>{_esc(s.get('id'))} · {_esc(kind_label(s.get('kind', ''), lang))}"
                 f"<br>{_esc(s.get('county_name') or '')} · {_esc(s.get('data_status'))}")
        folium.CircleMarker(
            _latlon(s["lon"], s["lat"]), radius=7, color="#0b3d91", weight=2, fill=True, fill_color="#2b83ba",
            fill_opacity=0.9, tooltip=_esc(text), popup=folium.Popup(popup, max_width=300),
        ).add_to(layer)
    layer.add_to(m)

    if candidates:
        layer = folium.FeatureGroup(name=t("pl_candidates", lang), show=False)
        for c in candidates:
            folium.CircleMarker(
                _latlon(c["lon"], c["lat"]), radius=3, color="#555", weight=1, fill=True, fill_color="#aaa",
                fill_opacity=0.8, tooltip=_esc(c.get("label") or c.get("source") or ""),
            ).add_to(layer)
        layer.add_to(m)

    if suggestion and suggestion.get("sites"):
        layer = folium.FeatureGroup(name=t("pl_new_sites", lang))
        for site in suggestion["sites"]:
            label = f"{site.get('id', '')} {site.get('corridor') or ''} km {site.get('corridor_km', '')}"
            folium.CircleMarker(
                _latlon(site["lon"], site["lat"]), radius=9, color="#7b3294", weight=3, fill=True,
                fill_color="#c2a5cf", fill_opacity=0.95, tooltip=_esc(label),
                popup=folium.Popup(f"<b>{_esc(site.get('id'))}</b><br>{_esc(site.get('source') or '')}", max_width=300),
            ).add_to(layer)
        layer.add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    return localize(m, keep_jquery=True)

