"""A self-contained HTML report of a scenario, to e-mail or archive.

One file, no network needed to open it: the map is the planners' map of ``/planner``
(the one builder :func:`webmap.maps.scenario_map`), drawn by ``webmap/static/planner.js``
with Leaflet from the ``xstatic-leaflet`` package, all inlined; its data travel as JSON
in a ``<script type="application/json">`` element and reach the page as text only.
The charts are matplotlib PNGs embedded as base64; every piece of text from data is
HTML-escaped. No tiles: nothing is fetched when the file is opened.
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

_STATIC = Path(__file__).resolve().parent.parent / "webmap" / "static"


# ------------------------------------------------------------------ assets
def _leaflet_css() -> str:
    """Leaflet's CSS with its images inlined as data: URIs."""
    import xstatic.pkg.leaflet as pkg

    base = Path(pkg.BASE_DIR)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        f = base / match.group(1).strip("'\"")
        if not f.is_file():
            return match.group(0)
        mime = "image/svg+xml" if f.suffix == ".svg" else "image/png"
        return f"url(data:{mime};base64,{base64.b64encode(f.read_bytes()).decode('ascii')})"

    return re.sub(r"url\(([^)]+)\)", data_uri, css)


def _leaflet_js() -> str:
    import xstatic.pkg.leaflet as pkg

    return (Path(pkg.BASE_DIR) / "leaflet.js").read_text(encoding="utf-8")


def _script(text: str) -> str:
    # "</" would end the element early inside an inline <script>
    return "<script>" + text.replace("</", "<\\/") + "</script>"


def _style(text: str) -> str:
    return "<style>" + text.replace("</", "<\\/") + "</style>"


# ------------------------------------------------------------------ map
def after_state(network, stations: list[dict], result: dict, *, region=None) -> dict:
    """Coverage (with samples and gap lines) and grid access of a scenario: the open
    ``stations`` plus the result's new sites, with the result's filters and radius.

    Returns ``{"coverage": …, "grid": …}`` for :func:`webmap.maps.scenario_map` (``grid``
    only when ``region`` is given).
    """
    from planner import settings
    from planner.access import NearestIndex
    from planner.coverage import corridor_coverage, gap_lines, grid_access
    from planner.scenario import proposed_station

    filters = result.get("filters") or {}
    amenities = tuple(filters.get("amenities") or ())
    power = filters.get("min_power_kw")
    proposed = [proposed_station(s, i + 1, amenities=amenities, min_power_kw=power)
                for i, s in enumerate(result.get("sites") or [])]
    open_ = [s for s in stations if s.get("status", "open") == "open"]
    index = NearestIndex(network, open_ + proposed, access_speed_kmh=settings.ACCESS_SPEED_KMH)
    cov = corridor_coverage(network, index, radius_km=float(result["radius_km"]),
                            max_gap_km=float(result.get("max_gap_km") or settings.MAX_GAP_KM),
                            amenities=amenities, min_power_kw=power, samples=True)
    cov["gap_lines"] = gap_lines(cov)
    out = {"coverage": cov}
    if region is not None:
        out["grid"] = grid_access(region.grid, region.demand, network, index, amenities=amenities, min_power_kw=power)
    return out


def map_section(spec) -> str:
    """A :class:`webmap.maps.MapSpec` as a self-contained HTML fragment: Leaflet, the
    page script ``webmap/static/planner.js`` and the spec as JSON, all inline."""
    return "".join([
        _style(_leaflet_css()),
        _style((_STATIC / "planner.css").read_text(encoding="utf-8")),
        "<div id='yz-map' class='yz-map' role='region' aria-label='scenario map'></div>",
        "<script type='application/json' id='yz-map-data'>", spec.to_json(), "</script>",
        _script(_leaflet_js()),
        _script((_STATIC / "planner.js").read_text(encoding="utf-8")),
    ])


def scenario_spec(result: dict, *, region, stations: list[dict] | None = None, after: dict | None = None,
                  lang: str = "en"):
    """The report's map: the same builder as ``/planner`` (:func:`webmap.maps.scenario_map`)."""
    from webmap.maps import scenario_map

    return scenario_map(region, lang=lang, stations=stations if stations is not None else result.get("existing") or [],
                        suggestion=result, after=after)


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


def charging_section(doc: dict) -> str:
    """The electric-truck section: what ``python -m planner charging --json`` returns, as tables."""
    e = html.escape
    pct = lambda v: f"{100 * _num(v):.1f} %"  # noqa: E731
    flows = doc.get("flows") or {}
    rows = [["round trips feasible, share of truck volume", pct(doc["before"]["flow_share"]), pct(doc["after"]["flow_share"])],
            ["trucks per day", _fmt(doc["before"]["trucks_per_day"]), _fmt(doc["after"]["trucks_per_day"])]]
    sites = [[s.get("id"), s.get("name"), "existing" if s.get("existing") else "new", s.get("lon"), s.get("lat")]
             for s in doc.get("sites") or []]
    cap = [[c.get("site"), c.get("trucks_per_day"), c.get("peak_per_hour"), c.get("chargers"), c.get("p_wait_over_15_min")]
           for c in doc.get("capacity") or []]
    bc = doc.get("beichuan_check") or {}
    parts = [
        f"<p>Flow-refuelling location model (Kuby &amp; Lim 2005; arc-cover MIP of Capar et al. 2013): "
        f"a loaded electric truck with a range of <b>{_num(doc.get('range_km')):g} km</b>, "
        f"<b>{e(str(doc.get('k')))}</b> new megawatt sites beside the existing ones; "
        f"{'proven optimal' if doc.get('optimal') else 'not proven optimal'} (bound {e(pct(doc.get('bound')))}). "
        f"Truck flows: {e(str(flows.get('count')))} origin–destination pairs, "
        f"data_status <b>{e(str(flows.get('data_status')))}</b> ({e(str(flows.get('source') or ''))}).</p>",
        _table(["measure", "before", "after"], rows),
        _table(["site", "name", "", "lon", "lat"], sites) if sites else "",
        "<p>Chargers per site so that the chance of waiting more than 15 minutes stays under 5 % (Erlang C, "
        "hourly profile illustrative):</p>",
        _table(["site", "trucks/day", "peak/hour", "chargers", "P(wait > 15 min)"], cap) if cap else "",
    ]
    if bc:
        parts.append(f"<p>Beichuan's {e(str(bc.get('bays')))} bays against its ~{e(_fmt(bc.get('trucks_per_day')))} "
                     f"trucks a day: P(wait &gt; 15 min) = {e(_fmt(bc.get('p_wait_over_15_min')))}; within the 5 % rule "
                     f"they carry up to {e(_fmt(bc.get('max_trucks_per_day_within_rule')))} trucks a day.</p>")
    return "".join(parts)


def report_html(result: dict, *, title: str | None = None, region=None, stations: list[dict] | None = None,
                after: dict | None = None, lang: str = "en", charging: dict | None = None) -> str:
    """The report as one HTML string (see :func:`write_report`).

    ``stations`` (default: the result's ``existing``) and ``after`` (:func:`after_state`)
    let the map show every station and the scenario's coverage; without ``region`` the
    report has no map. ``charging`` (``charging --json``) adds the electric-truck section.
    """
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
    map_html = (map_section(scenario_spec(result, region=region, stations=stations, after=after, lang=lang))
                if region is not None else "<p>No map: the report was made without the region.</p>")
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
        "border:1px solid #e0c36c;padding:.6rem .8rem;margin:1rem 0}"
        "figure{display:inline-block;margin:.5rem}figcaption{font-size:.85rem;color:#555}</style></head>"
        "<body class='report'>",
        f"<h1>{e(title)}</h1>",
        f"<div class='notice' role='note'><strong>{e(notice)}</strong><br>data_status: {e(str(status))}. "
        f"{e(result.get('max_gap_note') or '')}</div>",
        f"<p>Method <b>{e(str(result['method']))}</b>; new sites: <b>{len(result['sites'])}</b>; "
        f"coverage radius R = {e(_fmt(result.get('radius_km')))} km by road; station filters: {e(filt)}; "
        f"existing stations kept open: {e(_fmt((filters or {}).get('existing_stations')))}. Generated {e(generated)}.</p>",
        "<h2>Map</h2>", map_html,
        "<h2>Before and after</h2>", chart_html,
        _table(["metric", "before", "after", "change"], metric_rows),
        "<h2>Proposed sites</h2>",
        _table(["id", "source", "corridor", "km", "lon", "lat", "name"], site_rows) if site_rows
        else "<p>No new sites are needed.</p>",
        "<h2>Solver</h2>", _table(["item", "value"], solver_rows),
    ]
    if charging is not None:
        parts += ["<h2>Electric heavy trucks</h2>", charging_section(charging)]
    if prov_rows:
        parts += ["<h2>Data provenance</h2>", _table(["layer", "data_status", "source", "licence", "notes"], prov_rows)]
    parts += [
        "<h2>Scenario (JSON)</h2><details><summary>show</summary><pre>",
        e(json.dumps({k: v for k, v in result.items() if k != "gap_lines"}, ensure_ascii=False, indent=1, default=str)),
        "</pre></details></body></html>",
    ]
    return "".join(parts)


def write_report(result: dict, path, *, title: str | None = None, region=None, workspace=None) -> Path:
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
        Adds the map and the provenance table.
    workspace : planner.workspace.Workspace, optional
        Where to take ``region`` from when it is not given; with it the map shows every
        station and the scenario's ("after") coverage and grid access, and the report adds
        the electric-truck section (:data:`planner.settings.EV_RANGE_KM`, ``EV_NEW_SITES``).

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"the report is HTML: give a path ending in .html, got {str(path)!r}",
                         fields={"path": "must end in .html"})
    stations = after = charging = None
    if workspace is not None:
        region = region if region is not None else workspace.region
        stations = workspace.stations()
        after = after_state(workspace.network, stations, result, region=region)
        from planner.charging import charging_scenario
        from planner.settings import EV_NEW_SITES, EV_RANGE_KM

        charging = charging_scenario(region, workspace.network, stations, range_km=EV_RANGE_KM, k=EV_NEW_SITES)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = report_html(result, title=title, region=region, stations=stations, after=after, charging=charging)
    path.write_text(body, encoding="utf-8")
    return path
