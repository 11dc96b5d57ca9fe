"""Staff pages (``/admin``): login, station list and search, edit, add, retire, history.

Roles (accounts come from ``python -m planner users add NAME --role staff|admin``):

* ``staff`` — edit and add stations;
* ``admin`` — also retire stations (retiring hides a station from drivers, so it is
  kept to the smaller group; a retired station keeps its history).

Every form carries a CSRF token (``CSRFProtect``); a POST without it gets 400. Saving
sends only the fields the user changed, with the version the form was loaded at; if
someone saved in between, the conflict screen shows both sides and nothing is written.
"""

from __future__ import annotations

import math
import unicodedata
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from planner.errors import ConflictError, InputError
from planner.registry import ThrottledError
from planner.stations import AMENITY_GROUPS, COUNTIES, DATA_STATUSES, KINDS, region_today
from webmap import auth, forms
from webmap.assets import add_nonce, render_parts
from webmap.i18n import error_message, field_errors, get_lang, t
from webmap.maps import picker_map, region_bounds
from webmap.security import csp_nonce
from webmap.state import get_state, get_workspace

bp = Blueprint("admin", __name__, url_prefix="/admin")

COORD_CHOICES = ("wgs84", "gcj02", "bd09")


def _safe_next(target: str | None) -> str:
    """Where to go after login: a same-origin path such as ``/admin/stations/X?q=1``, else
    the station list (no open redirect).

    Refused: anything not starting with exactly one ``/`` (``//host``, ``/\\host``,
    ``https://…``), any backslash, white space or control character (browsers drop tabs
    and line breaks, so ``/\t/evil.example`` would become ``//evil.example``; CR/LF would
    split the header), and anything with a scheme or host after parsing.
    """
    fallback = url_for("admin.stations")
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2048:
        return fallback
    if target.startswith("//") or "\\" in target:
        return fallback
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


# ------------------------------------------------------------------ login
@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            user = get_workspace().registry.authenticate(name, password, client=request.remote_addr)
        except ThrottledError as exc:
            seconds = max(1, math.ceil(exc.retry_after))
            error, status, headers = t("login_throttled", seconds=seconds), 429, {"Retry-After": str(seconds)}
        else:
            if user is None:
                error, status = t("login_failed"), 401
            else:
                auth.login(user)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/login.html", error=error), status, headers


@bp.post("/logout")
def logout():
    auth.logout()
    return redirect(url_for("admin.login"))


# ------------------------------------------------------------------ list
@bp.get("/")
@auth.login_required()
def stations():
    q = request.args.get("q", "").strip()
    include_retired = request.args.get("retired") == "1"
    records = get_workspace().stations(include_retired=include_retired)
    if q:
        needle = q.casefold()
        records = [
            r for r in records
            if any(needle in str(r.get(f) or "").casefold() for f in ("id", "name", "name_en", "county_name", "corridor", "address"))
        ]
    return render_template("admin/list.html", records=records, q=q, include_retired=include_retired,
                           can_add=auth.can(auth.current_user(), "add"))


# ------------------------------------------------------------------ edit
def _picker():
    cfg = current_app.config
    lang = get_lang()
    ws = get_workspace()
    parts = get_state().cached(
        ("picker-map", lang),
        lambda: render_parts(picker_map(ws.region, lang=lang, tiles=cfg["TILES"], tiles_attr=cfg["TILES_ATTR"])),
    )
    return dict(parts, header=add_nonce(parts["header"], csp_nonce()))


def _render_edit(*, record: dict | None, values: dict, orig: dict, version: int | None, errors: dict,
                 conflict: dict | None = None, status: int = 200, mode: str = "edit"):
    bay_rows = [[forms.plain_number(c), forms.plain_number(kw)] for c, kw in values["charging"]["bays"]]
    bay_rows += [["", ""]] * forms.SPARE_BAY_ROWS
    return render_template(
        "admin/edit.html",
        mode=mode,
        record=record,
        values=values,
        orig_json=forms.dump_orig(orig),
        version=version,
        errors=errors,
        conflict=conflict,
        bay_rows=bay_rows,
        amenity_groups=AMENITY_GROUPS,
        kinds=KINDS,
        data_statuses=DATA_STATUSES,
        counties=COUNTIES,
        coord_choices=COORD_CHOICES,
        picker=_picker(),
        picker_data={"lon": values.get("lon"), "lat": values.get("lat"), "bounds": region_bounds(get_workspace().region)},
        can_retire=auth.can(auth.current_user(), "retire"),
    ), status


@bp.get("/stations/<station_id>")
@auth.login_required("edit")
def edit(station_id: str):
    record = get_workspace().registry.get(station_id)
    values = forms.values_of(record)
    return _render_edit(record=record, values=values, orig=values, version=record["version"], errors={})


@bp.post("/stations/<station_id>")
@auth.login_required("edit")
def save(station_id: str):
    registry = get_workspace().registry
    user = auth.current_user()
    stored = registry.get(station_id)
    submitted, errors = forms.parse(request.form)
    orig = forms.load_orig(request.form.get("orig")) or forms.values_of(stored)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = stored["version"]
        errors["version"] = t("not_an_integer")
    if errors:
        flash(t("fix_errors"), "error")
        return _render_edit(record=stored, values=submitted, orig=orig, version=version, errors=errors, status=400)
    changes = forms.changes_between(orig, submitted)
    if not changes:
        flash(t("no_changes"), "info")
        return redirect(url_for("admin.edit", station_id=station_id))
    try:
        record = registry.update(station_id, changes, expected_version=version, actor=user["name"],
                                 coords=submitted["coord_sys"], may_retire=auth.can(user, "retire"))
    except ConflictError as exc:
        current = exc.current or registry.get(station_id)
        return _conflict(current, orig=orig, mine=changes, edited=submitted)
    except InputError as exc:
        flash(t("fix_errors"), "error")
        return _render_edit(record=stored, values=submitted, orig=orig, version=version,
                            errors=field_errors(exc), status=400)
    flash(t("saved", version=record["version"]), "success")
    return redirect(url_for("admin.edit", station_id=station_id))


def _conflict(current: dict, *, orig: dict, mine: dict, edited: dict):
    """409 page: the user's edits beside the stored values; the form re-applies the edits
    on top of the stored version (nothing is written until the user saves again)."""
    history = get_workspace().registry.history(current["id"])
    last = history[0] if history else {"actor": "?", "at": "?"}
    stored_values = forms.values_of(current)
    rows = forms.conflict_rows(orig, mine, edited, stored_values)
    merged = forms.overlay(stored_values, mine, edited)
    conflict = {"rows": rows, "version": current["version"], "actor": last.get("actor"), "at": last.get("at")}
    return _render_edit(record=current, values=merged, orig=stored_values, version=current["version"],
                        errors={}, conflict=conflict, status=409)


# ------------------------------------------------------------------ add
def _blank() -> dict:
    values = forms.values_of({"lon": None, "lat": None})
    values.update(hours="24h", data_status="approximate", kind="service_area", parking_bays=0,
                  as_of=region_today().isoformat(), coord_precision_m=100)
    values["id"] = ""
    values["county"] = ""
    return values


@bp.get("/stations/new")
@auth.login_required("add")
def new():
    values = _blank()
    return _render_edit(record=None, values=values, orig=values, version=None, errors={}, mode="add")


@bp.post("/stations/new")
@auth.login_required("add")
def create():
    user = auth.current_user()
    values, errors = forms.parse(request.form)
    values["id"] = request.form.get("id", "").strip().upper()
    values["county"] = request.form.get("county", "").strip()
    if not values["id"]:
        errors["id"] = t("required")
    if errors:
        flash(t("fix_errors"), "error")
        return _render_edit(record=None, values=values, orig=values, version=None, errors=errors, status=400, mode="add")
    record = {f: values[f] for f in forms.TEXT_FIELDS + forms.CHOICE_FIELDS + forms.INT_FIELDS}
    record = {k: v for k, v in record.items() if v != ""}  # left out: planner's defaults apply
    record.update(
        id=values["id"],
        lon=values["lon"],
        lat=values["lat"],
        amenities=values["amenities"],
        charging={"bays": [{"count": c, "power_kw": kw} for c, kw in values["charging"]["bays"]],
                  "swap": values["charging"]["swap"]},
        status="open",
    )
    if values["county"]:
        record["county"] = values["county"]
    try:
        added = get_workspace().registry.add(record, actor=user["name"], coords=values["coord_sys"])
    except InputError as exc:
        flash(t("fix_errors"), "error")
        return _render_edit(record=None, values=values, orig=values, version=None, errors=field_errors(exc),
                            status=400, mode="add")
    flash(t("added", id=added["id"]), "success")
    return redirect(url_for("admin.edit", station_id=added["id"]))


# ------------------------------------------------------------------ retire, history
@bp.post("/stations/<station_id>/retire")
@auth.login_required("retire")
def retire(station_id: str):
    registry = get_workspace().registry
    user = auth.current_user()
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = 0
    try:
        registry.retire(station_id, expected_version=version, actor=user["name"])
    except ConflictError:
        # someone saved the station meanwhile: say so in the page's language (no raw message/UTC time)
        flash(t("retire_conflict", id=station_id), "error")
        return redirect(url_for("admin.edit", station_id=station_id))
    except InputError as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("admin.edit", station_id=station_id))
    flash(t("retired_ok", id=station_id), "success")
    return redirect(url_for("admin.stations"))


@bp.get("/stations/<station_id>/history")
@auth.login_required()
def history(station_id: str):
    registry = get_workspace().registry
    record = registry.get(station_id)
    entries = registry.history(station_id)
    return render_template("admin/history.html", record=record, entries=entries, display=forms.display)
