"""JSON API (the HTTP contract in README "HTTP"): public reads, one authenticated write.

=============================================  ======================================================
``GET  /healthz``                              ``{"status": "ok"}``
``GET  /api/stations``                         GeoJSON FeatureCollection (open stations;
                                               ``?include_retired=1`` for all)
``GET  /api/stations/<id>``                    Feature with ``version``; ``ETag: "<version>"``
``PATCH /api/stations/<id>``                   staff: ``If-Match: <version>`` + JSON changes → 200
                                               Feature / 400 fields / 401 / 403 / 404 / 409 / 428;
                                               ``?coords=gcj02`` for lon/lat copied from Amap;
                                               ``{"status": "retired"}`` needs the admin role
``GET  /api/stations/<id>/history``            audit trail, newest first (JSON list); anonymous
                                               readers see the actor's role, staff see names
``GET  /api/nearest?lon=&lat=``                CLI ``nearest`` JSON; ``amenity=`` (repeat or comma
                                               list), ``k``, ``coords``, ``min_power_kw``,
                                               ``open_now=1``, ``route=1`` (adds ``route``),
                                               ``vehicle=49t,4.2m,18m`` (echoed as ``vehicle``)
``GET  /api/route?lon=&lat=&station=``         ``{"station", "route": [[lon, lat], ...]}``
``GET  /api/along-route?from=X,Y&to=X,Y``      ``Workspace.along_route`` JSON; ``detour_km``, ``coords``,
                                               ``vehicle``, ``amenity``, ``min_power_kw``,
                                               ``open_now=1`` (open when the truck gets there)
``GET  /api/coverage?radius_km=``              CLI ``coverage`` JSON; ``amenity``, ``min_power_kw``
``GET  /api/places?q=``                        gazetteer search (``planner.gazetteer``): Chinese,
                                               pinyin or English, partial; ``limit`` (1..20)
=============================================  ======================================================

Each ``/api/nearest`` result also has ``open_now`` (bool) and ``opens_at`` (ISO 8601 in
China time, ``null`` when open now), judged on the station's hours in Asia/Shanghai.

Errors: ``{"error": {"code", "message", "fields"?}}``; a 409 adds ``current`` (the stored
Feature) so a client can show both versions.
"""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, jsonify, request

from planner import settings
from planner.coords import check_coord_system
from planner import gazetteer
from planner._validate import whole_number
from planner.errors import ConflictError, InputError
from webmap.auth import api_user, can, reader
from webmap.errors import ApiError, conflict
from webmap.serialize import etag, feature, feature_collection
from webmap.state import get_workspace

bp = Blueprint("api", __name__)

TRUE = {"1", "true", "yes", "on"}


# ---------------------------------------------------------------------- helpers
class Query:
    """The request's query parameters, read once (each ``request`` access costs a proxy lookup)."""

    def __init__(self, args):
        self.args = args
        self._first = args.to_dict()  # the first value of each name: one lookup per parameter

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter (as given; the first if repeated) or ``default``."""
        return self._first.get(name, default)

    def flag(self, name: str) -> bool:
        return self.arg(name).strip().lower() in TRUE

    def amenities(self) -> list[str]:
        """``amenity=shower&amenity=laundry`` or ``amenity=shower,laundry`` (validated by planner)."""
        out: list[str] = []
        if "amenity" not in self.args:
            return out
        for value in self.args.getlist("amenity"):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def optional(self, name: str) -> str | None:
        return self.arg(name).strip() or None

    def required(self, name: str) -> str:
        value = self.arg(name).strip()
        if not value:
            raise InputError(f"query parameter {name!r} is required", fields={name: "required"})
        return value

    def lonlat_pair(self, name: str) -> tuple[str, str]:
        """``from=104.75,31.55`` → ("104.75", "31.55"); numbers are checked by the Workspace."""
        value = self.required(name)
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(
                f"{name} must be 'LON,LAT' (longitude first), got {value!r}", fields={name: "must be LON,LAT"}
            )
        return parts[0], parts[1]

    def open_at(self, ws):
        """The region's local time of day for ``open_now=1`` (:meth:`Workspace.now`), else None."""
        return ws.now().time() if self.flag("open_now") else None


def _station_response(record: dict, status: int = 200):
    response = jsonify(feature(record))
    response.status_code = status
    response.headers["ETag"] = etag(record)
    response.headers["Cache-Control"] = "no-cache"
    return response


def if_match_version(what: str = "station") -> int:
    """The version named by ``If-Match`` (``3``, ``"3"`` or ``W/"3"``); 428 when missing.

    ``what`` names the record in messages (``station``, ``request``).
    """
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        raise ApiError(
            428,
            "precondition_required",
            f"send If-Match with the version you read (the ETag of GET /api/{what}s/<id>) "
            "so that no one else's change is overwritten",
        )
    value = raw.removeprefix("W/")
    value = value.strip().strip('"')
    # ASCII digits only ("²".isdigit() is true), and few enough to be a version.
    if not (value.isascii() and value.isdigit() and len(value) <= 15) or int(value) < 1:
        raise ApiError(
            400,
            "invalid_input",
            f"If-Match must be a {what} version such as \"3\", got {raw!r}",
            fields={"If-Match": "must be a version number"},
        )
    return int(value)


#: Deepest JSON nesting a PATCH body may have (a station record is 3 levels deep).
MAX_JSON_DEPTH = 8


def _depth(value, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counted without recursion (stops past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def json_body():
    """The request body as JSON, or None when it is not JSON this API can take.

    Refuses (None) what ``get_json`` would crash or choke on: nesting deeper than the
    interpreter's recursion limit, integers past Python's 4,300-digit limit, invalid
    UTF-8 and lone surrogates (``"\\ud800"``) which SQLite cannot store.
    """
    try:
        body = json.loads(request.get_data(cache=True))
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # JSONDecodeError, int limit, UnicodeError are ValueErrors
        return None
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return None
    return body


def _changes_body() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "invalid_input",
            "the body must be a JSON object (UTF-8, nested at most 8 levels) of the fields to change, "
            "e.g. {\"amenities\": {\"shower\": true}}",
            fields={"body": "must be a JSON object"},
        )
    if not body:
        raise ApiError(400, "invalid_input", "nothing to change: the JSON object is empty", fields={"body": "empty"})
    return body


# ---------------------------------------------------------------------- reads
@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/api/stations")
def stations():
    ws = get_workspace()
    records = ws.stations(include_retired=Query(request.args).flag("include_retired"))
    response = jsonify(feature_collection(records))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/stations/<station_id>")
def station(station_id: str):
    record = get_workspace().registry.get(station_id)
    response = _station_response(record).make_conditional(request)
    if response.status_code == 412:  # If-Match names another version: the one error shape
        raise ApiError(412, "precondition_failed",
                       f"If-Match {request.headers.get('If-Match', '')!r} does not match the stored version "
                       f"{record['version']} (ETag {etag(record)})", current=feature(record))
    return response


@bp.get("/api/stations/<station_id>/history")
def station_history(station_id: str):
    """Staff (session or bearer token) see who changed what; anonymous readers see roles."""
    return jsonify(get_workspace().registry.history(station_id, names=reader() is not None))


@bp.get("/api/nearest")
def nearest():
    ws = get_workspace()
    q = Query(request.args)
    result = ws.nearest(
        q.required("lon"),
        q.required("lat"),
        k=q.arg("k", "3"),
        amenities=q.amenities(),
        min_power_kw=q.optional("min_power_kw"),
        coords=q.arg("coords", "wgs84"),
        open_at=q.open_at(ws),
        vehicle=q.arg("vehicle"),
    )
    if q.flag("route") and result.get("results"):
        origin = result["origin"]
        first = result["results"][0]["id"]
        result["route"] = {
            "station": first,
            "coordinates": ws.route(origin["lon"], origin["lat"], first, vehicle=q.arg("vehicle")),
        }
    return jsonify(result)


@bp.get("/api/places")
def places():
    """Places matching ``q`` (the along-route destination box and "where am I")."""
    q = Query(request.args)
    text = q.arg("q").strip()
    limit = whole_number(q.arg("limit", "8").strip(), "limit", minimum=1, maximum=gazetteer.MAX_LIMIT)
    found = gazetteer.search(text, limit=limit)
    response = jsonify(query=text, results=found)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/api/route")
def route():
    ws = get_workspace()
    q = Query(request.args)
    station_id = q.required("station")
    coords = ws.route(q.required("lon"), q.required("lat"), station_id, coords=q.arg("coords", "wgs84"),
                      vehicle=q.arg("vehicle"))
    return jsonify(station=station_id, route=coords)


@bp.get("/api/along-route")
def along_route():
    ws = get_workspace()
    q = Query(request.args)
    result = ws.along_route(
        q.lonlat_pair("from"),
        q.lonlat_pair("to"),
        detour_km=q.arg("detour_km", "5"),
        amenities=q.amenities(),
        min_power_kw=q.optional("min_power_kw"),
        open_on_arrival=q.flag("open_now"),
        coords=q.arg("coords", "wgs84"),
        vehicle=q.arg("vehicle"),
    )
    return jsonify(result)


@bp.get("/api/coverage")
def coverage():
    ws = get_workspace()
    q = Query(request.args)
    result = ws.coverage(
        radius_km=q.arg("radius_km", str(settings.DEFAULT_RADIUS_KM)),
        amenities=q.amenities(),
        min_power_kw=q.optional("min_power_kw"),
        samples=q.flag("samples"),
    )
    return jsonify(result)


# ---------------------------------------------------------------------- write
@bp.patch("/api/stations/<station_id>")
def patch_station(station_id: str):
    """Change some fields of a station, only if ``If-Match`` names the stored version."""
    user = api_user("edit")
    expected = if_match_version()
    changes = _changes_body()
    registry = get_workspace().registry
    # lon/lat may be given as Amap shows them: ?coords=gcj02, or "coord_sys" in the body.
    coords = Query(request.args).arg("coords") or (
        changes.get("coord_sys") if "lon" in changes and isinstance(changes.get("coord_sys"), str) else "wgs84"
    )
    coords = check_coord_system(coords)
    try:
        # The registry normalises the change once and decides on the merged record whether
        # it retires the station (then only admins may, whatever the spelling of "retired").
        record = registry.update(station_id, changes, expected_version=expected, actor=user["name"],
                                 coords=coords, may_retire=can(user, "retire"))
    except ConflictError as exc:
        raise conflict(exc, feature, lambda: registry.get(station_id)) from None
    return _station_response(record)
