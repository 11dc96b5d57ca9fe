"""Planners' map (``/planner``): coverage, gaps, grid access, suggestions, downloads.

* ``GET  /planner?radius_km=R`` — corridors coloured by road km to the nearest station,
  gaps, grid cells (named county + number) shaded by demand-weighted drive time, stations;
* ``GET  /planner/candidates.geojson`` — candidate sites, loaded when their layer is switched on;
* ``POST /planner`` (CSRF) — run ``Workspace.suggest(method, k, radius_km)``: the results
  beside the form, the map redrawn for the scenario (:func:`planner.report.after_state`),
  and :func:`explanations` when coverage or drive time did not improve;
* ``GET  /planner/export/stations.<gpkg|geojson|csv>`` — the registry's open stations;
* ``GET  /planner/scenario.<gpkg|geojson|csv>?method=&k=&radius_km=`` — a suggestion's layers;
* ``GET  /planner/report.html?method=&k=&radius_km=`` — the self-contained HTML report.

The map is :func:`webmap.maps.scenario_map` as JSON (drawn by ``static/planner.js``; the
report uses the same builder). Results — coverage, grid access, suggestions, the map JSON
per language/radius/suggestion — are cached per registry generation (a suggestion is
deterministic for its parameters: ``random_state=0``), so the downloads reuse the run the
page showed and a warm page is a template render. The default page's map is built while
the app starts (:func:`_precompute`).
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, render_template, request, send_file, url_for

from planner import settings
from planner.errors import InputError
from webmap.i18n import METHOD_LABELS, METRIC_LABELS, get_lang, label, t
from webmap.maps import feature, point, scenario_map, script_json
from webmap.state import get_state, get_workspace

bp = Blueprint("planning", __name__, url_prefix="/planner")
log = logging.getLogger(__name__)

METHODS = ("kmeans", "p-median", "mclp", "lscp")
FORMATS = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json", "csv": "text/csv"}
DEFAULT_K = 3
MAX_K = 30


def _radius(value) -> float:
    try:
        radius = float(value)
    except (TypeError, ValueError):
        raise InputError(f"radius_km must be a number of km, got {value!r}", fields={"radius_km": "must be a number"}) from None
    if not (math.isfinite(radius) and 0 < radius <= 500):
        raise InputError(f"radius_km must be in (0, 500] km, got {value!r}", fields={"radius_km": "must be in (0, 500]"})
    return radius


def _suggest_params(source) -> tuple[str, int | None, float]:
    method = (source.get("method") or "p-median").strip()
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}",
                         fields={"method": f"one of {', '.join(METHODS)}"})
    k_text = (source.get("k") or "").strip()
    k = None
    if k_text or method != "lscp":
        try:
            k = int(k_text or DEFAULT_K)
        except ValueError:
            raise InputError(f"k must be a whole number, got {k_text!r}", fields={"k": "must be a whole number"}) from None
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be between 1 and {MAX_K}, got {k}", fields={"k": f"must be in 1..{MAX_K}"})
    return method, k, _radius(source.get("radius_km") or settings.DEFAULT_RADIUS_KM)


def _coverage(ws, radius: float, gen: int) -> dict:
    def build():
        from planner.coverage import gap_lines

        cov = ws.coverage(radius_km=radius, samples=True)
        cov["gap_lines"] = gap_lines(cov)
        return cov

    return get_state().cached(("coverage", radius), build, generation=gen)


def _grid(ws, gen: int):
    return get_state().cached(("grid-access",), lambda: ws.grid_access(by="grid"), generation=gen)


def _suggestion(ws, method: str, k: int | None, radius: float, gen: int) -> dict:
    return get_state().cached(("suggest", method, k, radius),
                              lambda: ws.suggest(method=method, k=k, radius_km=radius), generation=gen)


def _after(ws, key: tuple, result: dict, gen: int) -> dict:
    """The scenario's own coverage and grid access (existing + new sites)."""
    from planner.report import after_state

    return get_state().cached(("after",) + key, lambda: after_state(ws.network, ws.stations(), result, region=ws.region),
                              generation=gen)


def _map_json(ws, *, lang: str, radius: float, gen: int, key: tuple | None = None, suggestion: dict | None = None,
              layer) -> tuple[str, dict | None]:
    """``(map spec as JSON, coverage)``, built once per (language, radius, suggestion,
    registry generation); ``layer(what, build)`` runs each part (and reports a failure)."""
    def build():
        coverage = layer("coverage", lambda: _coverage(ws, radius, gen))
        grid = layer("grid access", lambda: _grid(ws, gen))
        after = layer("scenario coverage", lambda: _after(ws, key, suggestion, gen)) if suggestion else None
        cfg = current_app.config
        spec = scenario_map(ws.region, lang=lang, stations=ws.stations(), coverage=coverage, grid=grid,
                            suggestion=suggestion, after=after, candidates_url=url_for("planning.candidates"),
                            charging_urls=(url_for("planning.charging", part="flows"), url_for("planning.charging", part="sites")),
                            tiles=cfg["TILES"], tiles_attr=cfg["TILES_ATTR"])
        return spec.to_json(), coverage

    return get_state().cached(("planner-map", lang, radius, key), build, generation=gen)


def _render(*, radius: float, suggestion: dict | None = None, key: tuple | None = None, params: dict | None = None,
            errors: dict | None = None, status: int = 200):
    ws = get_workspace()
    lang = get_lang()
    gen = ws.registry.generation()
    problems: list[str] = []

    def layer(what: str, build):
        # Each layer is optional decoration of the page: one failing layer is reported
        # on the page (and logged) instead of taking the whole planners' map down.
        try:
            return build()
        except Exception as exc:
            log.exception("planner map: %s layer failed", what)
            problems.append(t("pl_unavailable", what=f"{what} ({type(exc).__name__}: {exc})"))
            return None

    map_json, coverage = _map_json(ws, lang=lang, radius=radius, gen=gen, key=key, suggestion=suggestion, layer=layer)
    if problems:  # do not keep a page with a missing layer: the next request tries again
        get_state().forget(("planner-map", lang, radius, key))
    metrics = []
    if suggestion:
        for k_, pair in METRIC_LABELS.items():
            before, after = suggestion["before"].get(k_), suggestion["after"].get(k_)
            if before is None and after is None:
                continue
            better = _better(k_, before, after)
            metrics.append({"label": pair[1 if lang == "en" else 0], "before": _fmt(k_, before),
                            "after": _fmt(k_, after), "better": better})
    response = current_app.make_response((render_template(
        "planner.html",
        map_json=map_json,
        radius=radius,
        coverage=coverage,
        suggestion=suggestion,
        explanations=explanations(ws, suggestion, lang) if suggestion else [],
        metrics=metrics,
        params=params or {"method": "p-median", "k": DEFAULT_K, "radius_km": radius},
        methods=[(m_, label(METHOD_LABELS, m_, lang)) for m_ in METHODS],
        errors=errors or {},
        problems=problems,
        formats=tuple(FORMATS),
        illustrative=ws.uses_illustrative_data(),
    ), status))
    return response


LOWER_IS_BETTER = ("mean_drive_min", "p90_drive_min", "uncovered_km", "largest_gap_km", "gaps", "mean_road_km",
                   "largest_spacing_km")


def _better(key: str, before, after) -> bool:
    if not (isinstance(before, (int, float)) and isinstance(after, (int, float))):
        return False
    tol = 1e-9 + 1e-6 * abs(before)
    return after < before - tol if key in LOWER_IS_BETTER else after > before + tol


def explanations(ws, result: dict, lang: str) -> list[str]:
    """Why a suggestion did not improve corridor coverage or mean drive time, in words.

    Coverage: whether any new site lies in a current gap (geodesic distance to the gap's
    samples ≤ 1.5 km); drive time: the road km from each new site to the nearest existing
    station. Each is followed by what the method optimises. Empty when both improved.
    """
    from pyproj import Geod

    b, a = result["before"], result["after"]
    sites = result.get("sites") or []
    method_reason = t("pl_why_method_" + result["method"].replace("-", ""), lang)
    out = []
    if (b.get("uncovered_km") or 0) > 0 and not _better("uncovered_km", b.get("uncovered_km"), a.get("uncovered_km")):
        geod = Geod(ellps="WGS84")
        in_gap = False
        for g in result.get("gap_lines", {}).get("before") or []:
            for s in sites:
                lons = [c[0] for c in g["coords"]]
                lats = [c[1] for c in g["coords"]]
                _, _, dist = geod.inv([s["lon"]] * len(lons), [s["lat"]] * len(lats), lons, lats)
                in_gap = in_gap or min(dist) <= 1500
        why = t("pl_why_gap_short", lang) if in_gap else t("pl_why_no_gap_site", lang, radius=f"{result['radius_km']:g}")
        out.append(t("pl_no_gain", lang, what=t("pl_what_coverage", lang)) + why
                   + ("" if result["method"] == "lscp" else " " + method_reason))
    if sites and not _better("mean_drive_min", b.get("mean_drive_min"), a.get("mean_drive_min")):
        filters = result.get("filters") or {}
        km = []
        for s in sites:
            near = ws.nearest(s["lon"], s["lat"], k=1, amenities=filters.get("amenities") or (),
                              min_power_kw=filters.get("min_power_kw"))["results"]
            if near:
                km.append(near[0]["road_km"])
        why = t("pl_why_access_close", lang, km=f"{min(km):.1f}") if km else ""
        out.append(t("pl_no_gain", lang, what=t("pl_what_access", lang)) + why
                   + ("" if result["method"] == "p-median" else " " + method_reason))
    return out


def _fmt(key: str, value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—" if value is None else str(value)
    if key.startswith("share"):
        return f"{value * 100:.1f}%"
    return f"{value:,.1f}"


@bp.get("")
def index():
    radius = _radius(request.args.get("radius_km") or settings.DEFAULT_RADIUS_KM)
    return _render(radius=radius)


@bp.post("")
def suggest():
    """Run a suggestion (CSRF-checked form: it can take seconds of CPU)."""
    params = {k: request.form.get(k, "") for k in ("method", "k", "radius_km")}
    try:
        method, k, radius = _suggest_params(request.form)
    except InputError as exc:
        from webmap.i18n import field_errors

        radius = settings.DEFAULT_RADIUS_KM
        return _render(radius=radius, params=params, errors=field_errors(exc), status=400)
    ws = get_workspace()
    try:
        result = _suggestion(ws, method, k, radius, ws.registry.generation())
    except InputError as exc:  # e.g. InfeasibleError: more sites asked than candidates
        from webmap.i18n import error_message, field_errors

        errors = field_errors(exc) or {"method": error_message(exc)}
        return _render(radius=radius, params=params, errors=errors, status=400)
    params = {"method": method, "k": "" if k is None else k, "radius_km": radius}
    return _render(radius=radius, suggestion=result, key=(method, k, radius), params=params)


@bp.get("/candidates.geojson")
def candidates():
    """Candidate sites as map features (the page loads them when the layer is switched on)."""
    lang = get_lang()
    ws = get_workspace()

    def build():
        from planner.candidates import candidate_sites

        frame = candidate_sites(ws.region, ws.network)
        feats = [point(r.lon, r.lat, tip=f"{r.source}: {r.name}" if isinstance(r.name, str) and r.name else str(r.source))
                 for r in frame.itertuples(index=False)]
        return script_json({"type": "FeatureCollection", "features": feats})

    body = get_state().cached(("candidates", lang), build)
    return current_app.response_class(body, mimetype="application/geo+json")


@bp.get("/charging-<part>.geojson")
def charging(part: str):
    """E-truck flows (round trip feasible or not) or the megawatt sites of the FRLM scenario
    (existing + :data:`planner.settings.EV_NEW_SITES` new, range :data:`planner.settings.EV_RANGE_KM`), loaded when switched on."""
    if part not in ("flows", "sites"):
        from webmap.errors import ApiError

        raise ApiError(404, "not_found", f"no charging layer {part!r}; use flows or sites")
    lang = get_lang()
    ws = get_workspace()

    def build():
        from planner.charging import charging_scenario

        layers = charging_scenario(ws.region, ws.network, ws.stations(), range_km=settings.EV_RANGE_KM, k=settings.EV_NEW_SITES,
                                   with_layers=True)["layers"]
        if part == "flows":
            feats = []
            for f in layers["flows"]["features"]:
                p = f["properties"]
                ok = bool(p["covered"])
                feats.append(feature(f["geometry"], style={"color": "#1a9641" if ok else "#d7191c",
                                                           "weight": 1 + min(6.0, float(p["volume"]) / 10.0)},
                                     tip=t("pl_ev_flow_tip", lang, volume=float(p["volume"]),
                                           state=t("pl_ev_ok" if ok else "pl_ev_no", lang),
                                           gap=float(p["max_gap_km"]) if p["max_gap_km"] is not None else float("nan"))))
        else:
            feats = [point(f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][1],
                           tip=f"{f['properties'].get('name') or f['properties'].get('id') or ''} · "
                               f"{t('pl_ev_existing' if f['properties'].get('existing') else 'pl_ev_new', lang)}",
                           style={"fillColor": "#ffd92f" if f["properties"].get("existing") else "#2b83ba"})
                     for f in layers["sites"]["features"]]
        return script_json({"type": "FeatureCollection", "features": feats})

    body = get_state().cached(("charging", part, lang), build, generation=ws.registry.generation())
    return current_app.response_class(body, mimetype="application/geo+json")


def _download(write, name: str, fmt: str):
    """Run ``write(path)`` in a temporary directory and send the file (nothing left on disk)."""
    with tempfile.TemporaryDirectory(prefix="yizhan-export-") as tmp:
        path = Path(tmp) / f"export.{fmt}"
        write(path)
        data = path.read_bytes()
    return send_file(io.BytesIO(data), mimetype=FORMATS[fmt], as_attachment=True, download_name=name, max_age=0)


@bp.get("/export/stations.<fmt>")
def export_stations(fmt: str):
    from planner.io import export_stations as write

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", fields={"fmt": "gpkg, geojson or csv"})
    stations = get_workspace().stations()
    return _download(lambda path: write(stations, path), f"yizhan-stations.{fmt}", fmt)


@bp.get("/scenario.<fmt>")
def export_scenario(fmt: str):
    from planner.scenario import export_scenario as write

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", fields={"fmt": "gpkg, geojson or csv"})
    method, k, radius = _suggest_params(request.args)
    ws = get_workspace()
    result = _suggestion(ws, method, k, radius, ws.registry.generation())
    return _download(lambda path: write(result, path), f"yizhan-{method}-k{result['k']}-R{radius:g}.{fmt}", fmt)


@bp.get("/report.html")
def report():
    from planner.report import report_html

    method, k, radius = _suggest_params(request.args)
    ws = get_workspace()
    gen = ws.registry.generation()
    result = _suggestion(ws, method, k, radius, gen)
    body = report_html(result, region=ws.region, stations=ws.stations(), after=_after(ws, (method, k, radius), result, gen),
                       lang=get_lang())
    response = current_app.response_class(body, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="yizhan-report-{method}-k{result["k"]}.html"'
    return response


@bp.record_once
def _precompute(state) -> None:
    """Build the default page's map (Chinese, default R) while the server starts, so the
    first planner does not wait for coverage, grid access and the template (~0.5 s).
    Not in tests. (Defined last: it runs after the routes above are registered.)"""
    app = state.app
    if app.testing:
        return
    with app.test_request_context("/planner"):
        try:
            app.jinja_env.get_template("planner.html")
            ws = get_workspace()
            _map_json(ws, lang="zh", radius=float(settings.DEFAULT_RADIUS_KM), gen=ws.registry.generation(),
                      layer=lambda _what, build: build())
        except Exception:  # the page reports a failing layer itself; never stop the server here
            log.exception("planner map: precompute at start failed")
