"""A self-contained HTML report of a scenario, to e-mail or archive.

One file, no network needed to open it: the Folium map sits in an ``iframe``
(``srcdoc``) with Leaflet and jQuery inlined from the ``xstatic-leaflet`` and
``xstatic-jquery`` packages (the same versions folium asks for), the charts are
matplotlib PNGs embedded as base64, and every piece of text from data is escaped.
Only the basemap tiles come from the network; without it the map shows the layers on
grey (or pass ``tiles=None``).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import re
from pathlib import Path

from planner.errors import InputError

#: Folium asset names we replace with inline copies; anything else is dropped.
_INLINE_JS = ("leaflet", "jquery")
_INLINE_CSS = ("leaflet_css",)

_METRIC_LABELS = {
    "mean_drive_min": "Mean drive time to nearest station, min (demand-weighted)",
    "p90_drive_min": "90th-percentile drive time, min",
    "share_within_30_min": "Share of demand within 30 min",
    "share_within_60_min": "Share of demand within 60 min",
    "share_within_radius": "Share of demand within R by road",
    "mean_road_km": "Mean road distance to nearest station, km",
    "demand_weight": "Demand weight",
    "corridor_km": "Corridor length, km",
    "covered_km": "Corridor covered within R, km",
    "uncovered_km": "Corridor not covered (gaps), km",
    "covered_share": "Share of corridor covered",
    "largest_gap_km": "Largest gap, km",
    "gaps": "Number of gaps",
    "largest_spacing_km": "Largest spacing between stations along a corridor, km",
    "stations": "Stations counted",
}


# ------------------------------------------------------------------ assets
def _asset_text(kind: str) -> str:
    if kind == "leaflet":
        import xstatic.pkg.leaflet as pkg

        return (Path(pkg.BASE_DIR) / "leaflet.js").read_text(encoding="utf-8")
    if kind == "jquery":
        import xstatic.pkg.jquery as pkg

        return (Path(pkg.BASE_DIR) / "jquery.min.js").read_text(encoding="utf-8")
    if kind == "leaflet_css":
        import xstatic.pkg.leaflet as pkg

        base = Path(pkg.BASE_DIR)
        css = (base / "leaflet.css").read_text(encoding="utf-8")

        def data_uri(match: re.Match) -> str:
            rel = match.group(1).strip("'\"")
            f = base / rel
            if not f.is_file():
                return match.group(0)
            mime = "image/svg+xml" if f.suffix == ".svg" else "image/png"
            return f"url(data:{mime};base64,{base64.b64encode(f.read_bytes()).decode('ascii')})"

        return re.sub(r"url\(([^)]+)\)", data_uri, css)
    raise KeyError(kind)


def _script(text: str) -> str:
    # "</" would end the element early inside an inline <script>
    return "<script>" + text.replace("</", "<\\/") + "</script>"


def inline_assets(m) -> None:
    """Replace folium's CDN links with inline Leaflet/jQuery on every element of ``m``.

    Assigns fresh lists (never mutates folium's class attributes). Raises KeyError for
    an asset it does not know how to inline, so a new plugin fails loudly instead of
    calling a CDN.
    """
    import folium
    from folium.elements import JSCSSMixin

    known_drop = {"bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers", "awesome_markers_css",
                  "awesome_markers_font_css", "awesome_rotate_css"}
    root = m.get_root()
    stack = [root]
    while stack:
        el = stack.pop()
        if isinstance(el, JSCSSMixin):
            for name, _ in list(el.default_js) + list(el.default_css):
                if name not in _INLINE_JS + _INLINE_CSS and name not in known_drop:
                    raise KeyError(f"report: no inline copy of asset {name!r}; add it to planner.report")
            el.default_js = []
            el.default_css = []
        stack.extend(getattr(el, "_children", {}).values())
    head = "".join([
        "<style>" + _asset_text("leaflet_css") + "</style>",
        _script(_asset_text("jquery")),
        _script(_asset_text("leaflet")),
    ])
    root.header.add_child(folium.Element(head), name="yizhan_inline_assets", index=0)


# ------------------------------------------------------------------ map
def scenario_map(result: dict, *, region=None, tiles: str | None = "OpenStreetMap"):
    """Folium map of a scenario: corridors, gaps before/after, existing and new sites.

    Text from data is escaped before it reaches a tooltip or popup.
    """
    import folium

    pts = [(s["lat"], s["lon"]) for s in result.get("sites", [])] + [(s["lat"], s["lon"]) for s in result.get("existing", [])]
    if region is not None:
        x0, y0, x1, y1 = region.bbox
        bounds = [[y0, x0], [y1, x1]]
    elif pts:
        lats, lons = zip(*pts)
        bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    else:
        bounds = [[30.7, 103.75], [33.05, 105.72]]
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(location=centre, zoom_start=8, tiles=tiles, control_scale=True)
    m.fit_bounds(bounds)
    if region is not None:
        corridors = region.corridors
        fg = folium.FeatureGroup(name="Corridors / 通道", show=True).add_to(m)
        for _, row in corridors.iterrows():
            coords = [(y, x) for x, y in row.geometry.coords]
            folium.PolyLine(coords, color="#777777", weight=3, opacity=0.8,
                            tooltip=html.escape(f"{row.get('ref', '')} {row.get('name_zh', '')}")).add_to(fg)
    styles = {"before": ("#d7301f", 7, 0.35, "Gaps before / 现状空白"), "after": ("#7f0000", 4, 0.95, "Gaps after / 方案后空白")}
    for when, (color, weight, opacity, label) in styles.items():
        fg = folium.FeatureGroup(name=label, show=True).add_to(m)
        for g in result.get("gap_lines", {}).get(when, []):
            coords = [(lat, lon) for lon, lat in g["coords"]]
            tip = f"{when}: {g['corridor']} km {g['from_km']:.1f}–{g['to_km']:.1f} ({g['length_km']:.1f} km)"
            folium.PolyLine(coords, color=color, weight=weight, opacity=opacity, tooltip=html.escape(tip)).add_to(fg)
    fg = folium.FeatureGroup(name="Existing stations / 现有站点", show=True).add_to(m)
    for s in result.get("existing", []):
        folium.CircleMarker((s["lat"], s["lon"]), radius=5, color="#2166ac", fill=True, fill_opacity=0.9,
                            tooltip=html.escape(f"{s['id']} {s.get('name') or ''} [{s.get('data_status') or ''}]")
                            ).add_to(fg)
    fg = folium.FeatureGroup(name="Proposed sites / 拟建站点", show=True).add_to(m)
    for s in result.get("sites", []):
        text = (f"{s.get('id', '')} ({s.get('source')}) {s.get('name') or ''} — {s.get('corridor') or ''} "
                f"km {s.get('corridor_km') if s.get('corridor_km') is not None else '?'}; "
                f"{s['lat']:.5f}, {s['lon']:.5f}")
        folium.CircleMarker((s["lat"], s["lon"]), radius=9, color="#1a9850", weight=3, fill=True,
                            fill_color="#66bd63", fill_opacity=0.9, tooltip=html.escape(text),
                            popup=folium.Popup(html.escape(text), max_width=300)).add_to(fg)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _map_html(result: dict, *, region=None, tiles="OpenStreetMap") -> str:
    m = scenario_map(result, region=region, tiles=tiles)
    inline_assets(m)
    return m.get_root().render()


# ------------------------------------------------------------------ charts
def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def charts(result: dict) -> list[tuple[str, str]]:
    """Before/after charts as ``(caption, base64 PNG)`` pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    b, a = result["before"], result["after"]
    groups = [
        ("Drive time to the nearest station (demand-weighted), minutes",
         ["mean_drive_min", "p90_drive_min"], ["mean", "90th pct"], "minutes"),
        ("Share of demand within 30 / 60 minutes and within R",
         ["share_within_30_min", "share_within_60_min", "share_within_radius"], ["≤30 min", "≤60 min", "≤R km"], "share"),
        ("Corridor coverage at R, km", ["covered_km", "uncovered_km", "largest_gap_km"],
         ["covered", "uncovered", "largest gap"], "km"),
    ]
    out = []
    for caption, keys, labels, unit in groups:
        keys_ok = [(k, lab) for k, lab in zip(keys, labels) if k in b and k in a]
        if not keys_ok:
            continue
        fig, ax = plt.subplots(figsize=(6.0, 3.0))
        x = np.arange(len(keys_ok))
        bv = [_num(b[k]) for k, _ in keys_ok]
        av = [_num(a[k]) for k, _ in keys_ok]
        ax.bar(x - 0.2, bv, 0.4, label="before", color="#bdbdbd")
        ax.bar(x + 0.2, av, 0.4, label="after", color="#1a9850")
        ax.set_xticks(x, [lab for _, lab in keys_ok])
        ax.set_ylabel(unit)
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.spines[["top", "right"]].set_visible(False)
        out.append((caption, _png(fig)))
    return out


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f if math.isfinite(f) else float("nan")


# ------------------------------------------------------------------ html
def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "∞" if v > 0 else "—"
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:,.2f}"
    return str(v)


def _table(header: list[str], rows: list[list]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(result: dict, *, title: str | None = None, region=None, tiles: str | None = "OpenStreetMap") -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    for key in ("method", "sites", "before", "after"):
        if key not in result:
            raise InputError(f"not a scenario result: missing {key!r}; pass what planner.scenario.suggest returns",
                             fields={"result": f"missing {key}"})
    e = html.escape
    title = title or f"Yizhan scenario — {result['method']}, k={result.get('k')}, R={_fmt(result.get('radius_km'))} km"
    b, a = result["before"], result["after"]
    keys = [k for k in _METRIC_LABELS if k in b or k in a] + [k for k in b if k not in _METRIC_LABELS and not isinstance(b[k], (list, dict))]
    metric_rows = []
    for k in keys:
        bv, av = b.get(k), a.get(k)
        change = _num(av) - _num(bv) if isinstance(bv, (int, float)) and isinstance(av, (int, float)) else None
        metric_rows.append([_METRIC_LABELS.get(k, k), bv, av, change])
    site_rows = [[s.get("id"), s.get("source"), s.get("corridor"), s.get("corridor_km"), s.get("lon"), s.get("lat"),
                  s.get("name")] for s in result["sites"]]
    solver = result.get("solver") or {}
    solver_rows = [[k, v] for k, v in solver.items() if not isinstance(v, (list, dict))]
    notice = result.get("notice") or "Illustrative data, not official / 示意数据，非官方"
    status = result.get("data_status", "illustrative")
    prov_rows = []
    provenance = getattr(region, "provenance", None) if region is not None else None
    if isinstance(provenance, dict):
        for layer, info in provenance.items():
            info = info if isinstance(info, dict) else {"notes": info}
            prov_rows.append([layer, info.get("data_status"), info.get("source"), info.get("licence"), info.get("notes")])
    chart_html = "".join(
        f'<figure><img alt="{e(cap)}" src="data:image/png;base64,{png}"><figcaption>{e(cap)}</figcaption></figure>'
        for cap, png in charts(result)
    )
    map_doc = _map_html(result, region=region, tiles=tiles)
    filters = result.get("filters") or {}
    filt = ", ".join(filters.get("amenities") or []) or "none"
    if filters.get("min_power_kw"):
        filt += f"; charging ≥ {filters['min_power_kw']:g} kW"
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:1.5rem auto;max-width:1100px;"
        "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;"
        "padding:.25rem .5rem;text-align:left;font-size:.9rem}th{background:#f3f3f3}.notice{background:#fff3cd;"
        "border:1px solid #e0c36c;padding:.6rem .8rem;margin:1rem 0}iframe{width:100%;height:560px;border:1px solid #ccc}"
        "figure{display:inline-block;margin:.5rem}figcaption{font-size:.85rem;color:#555}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<div class='notice' role='note'><strong>{e(notice)}</strong><br>data_status: {e(str(status))}. "
        f"{e(result.get('max_gap_note') or '')}</div>",
        f"<p>Method <b>{e(str(result['method']))}</b>; new sites: <b>{len(result['sites'])}</b>; "
        f"coverage radius R = {e(_fmt(result.get('radius_km')))} km by road; station filters: {e(filt)}; "
        f"existing stations kept open: {e(_fmt((filters or {}).get('existing_stations')))}. Generated {e(generated)}.</p>",
        "<h2>Map</h2>",
        f"<iframe title='scenario map' srcdoc=\"{html.escape(map_doc, quote=True)}\"></iframe>",
        "<h2>Before and after</h2>", chart_html,
        _table(["metric", "before", "after", "change"], metric_rows),
        "<h2>Proposed sites</h2>",
        _table(["id", "source", "corridor", "km", "lon", "lat", "name"], site_rows) if site_rows
        else "<p>No new sites are needed.</p>",
        "<h2>Solver</h2>", _table(["item", "value"], solver_rows),
    ]
    if prov_rows:
        parts += ["<h2>Data provenance</h2>", _table(["layer", "data_status", "source", "licence", "notes"], prov_rows)]
    parts += [
        "<h2>Scenario (JSON)</h2><details><summary>show</summary><pre>",
        e(json.dumps({k: v for k, v in result.items() if k != "gap_lines"}, ensure_ascii=False, indent=1, default=str)),
        "</pre></details></body></html>",
    ]
    return "".join(parts)


def write_report(result: dict, path, *, title: str | None = None, region=None, workspace=None,
                 tiles: str | None = "OpenStreetMap") -> Path:
    """Write a self-contained HTML report of a scenario.

    Parameters
    ----------
    result : dict
        What :func:`planner.scenario.suggest` returns.
    path : str or Path
        Output file (``.html``).
    title : str, optional
        Report title (escaped).
    region : planner.region.Region, optional
        Adds the corridors to the map and the provenance table.
    workspace : planner.workspace.Workspace, optional
        Where to take ``region`` from when it is not given.
    tiles : str or None
        Folium basemap; None for none (no network request at all).

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"the report is HTML: give a path ending in .html, got {str(path)!r}",
                         fields={"path": "must end in .html"})
    if region is None and workspace is not None:
        region = workspace.region
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(result, title=title, region=region, tiles=tiles), encoding="utf-8")
    return path
