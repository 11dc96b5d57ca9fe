"""Planners' map (``/planner``): coverage, gaps, grid access, suggestions, downloads.

* ``GET  /planner?radius_km=R`` — corridors coloured by road km to the nearest station,
  gaps, grid cells shaded by demand-weighted drive time, stations and candidates;
* ``POST /planner`` (CSRF) — run ``Workspace.suggest(method, k, radius_km)`` and show the
  new sites and the before/after metrics;
* ``GET  /planner/export/stations.<gpkg|geojson|csv>`` — the registry's open stations;
* ``GET  /planner/scenario.<gpkg|geojson|csv>?method=&k=&radius_km=`` — a suggestion's layers;
* ``GET  /planner/report.html?method=&k=&radius_km=`` — the self-contained HTML report.

Results are cached per registry generation (a suggestion is deterministic for its
parameters: ``random_state=0``), so the downloads reuse the run the page showed.
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, render_template, request, send_file

from planner import settings
from planner.errors import InputError
from webmap.assets import add_nonce, render_parts
from webmap.i18n import METHOD_LABELS, METRIC_LABELS, get_lang, label, t
from webmap.maps import planner_map
from webmap.security import csp_nonce
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
        cov = ws.coverage(radius_km=radius, samples=True)
        from planner.scenario import gap_lines

        cov["gap_lines"] = gap_lines(cov)
        return cov

    return get_state().cached(("coverage", radius), build, generation=gen)


def _grid(ws, gen: int):
    return get_state().cached(("grid-access",), lambda: ws.grid_access(by="grid"), generation=gen)


def _candidates(ws) -> list[dict]:
    def build():
        from planner.candidates import candidate_sites

        frame = candidate_sites(ws.region, ws.network)
        return [{"lon": float(r.lon), "lat": float(r.lat), "source": str(r.source),
                 "label": f"{r.source}: {r.name}" if isinstance(r.name, str) and r.name else str(r.source)}
                for r in frame.itertuples(index=False)]

    return get_state().cached(("candidates",), build)


def _suggestion(ws, method: str, k: int | None, radius: float, gen: int) -> dict:
    return get_state().cached(("suggest", method, k, radius),
                              lambda: ws.suggest(method=method, k=k, radius_km=radius), generation=gen)


def _render(*, radius: float, suggestion: dict | None = None, params: dict | None = None, errors: dict | None = None,
            status: int = 200):
    ws = get_workspace()
    lang = get_lang()
    cfg = current_app.config
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

    coverage = layer("coverage", lambda: _coverage(ws, radius, gen))
    grid = layer("grid access", lambda: _grid(ws, gen))
    candidates = layer("candidates", lambda: _candidates(ws)) or []
    stations = ws.stations()
    m = planner_map(ws.region, lang=lang, tiles=cfg["TILES"], tiles_attr=cfg["TILES_ATTR"], coverage=coverage,
                    grid=grid, stations=stations, candidates=candidates, suggestion=suggestion)
    parts = render_parts(m)
    metrics = []
    if suggestion:
        for key, pair in METRIC_LABELS.items():
            before, after = suggestion["before"].get(key), suggestion["after"].get(key)
            if before is None and after is None:
                continue
            lower_is_better = key in ("mean_drive_min", "p90_drive_min", "uncovered_km", "largest_gap_km")
            better = (isinstance(before, (int, float)) and isinstance(after, (int, float))
                      and ((after < before) if lower_is_better else (after > before)))
            metrics.append({"label": pair[1 if lang == "en" else 0], "before": _fmt(key, before),
                            "after": _fmt(key, after), "better": better})
    return render_template(
        "planner.html",
        map_header=add_nonce(parts["header"], csp_nonce()),
        map_html=parts["html"],
        map_script=parts["script"],
        radius=radius,
        coverage=coverage,
        suggestion=suggestion,
        metrics=metrics,
        params=params or {"method": "p-median", "k": DEFAULT_K, "radius_km": radius},
        methods=[(m_, label(METHOD_LABELS, m_, lang)) for m_ in METHODS],
        errors=errors or {},
        problems=problems,
        formats=tuple(FORMATS),
        illustrative=ws.uses_illustrative_data(stations),
    ), status


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
    return _render(radius=radius, suggestion=result, params=params)


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
    result = _suggestion(ws, method, k, radius, ws.registry.generation())
    body = report_html(result, region=ws.region, tiles=None)
    response = current_app.response_class(body, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="yizhan-report-{method}-k{result["k"]}.html"'
    return response
