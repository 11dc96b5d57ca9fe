"""The grid service desk on the web: requests, notices, the queue and reports.

=============================================  ======================================================
``POST  /api/requests``                        staff (bearer token, or session + ``X-CSRFToken``):
                                               201 the request; anonymous (drivers' map): 201
                                               ``{"receipt"}`` only, rate-limited per client
                                               (429), counted in the registry across workers
``GET   /api/requests/<id>``                   staff: the request, its clock and audit trail; ETag
``PATCH /api/requests/<id>``                   staff: ``If-Match: <version>``; 200/400/401/403/404/409/428
``GET   /api/notices?lon=&lat=[&device=]``     public: notices in force at the point (``device``: the
                                               browser's random id; counted once per notice, hashed)
``POST  /api/notices``                         staff: 201 the notice
``GET   /desk``                                staff: the queue, most urgent first
``GET   /desk/requests/<id>``                  staff: one request, its clock, actions and audit
``GET   /desk/notices``                        staff: notices with reach, and the compose form
``GET   /desk/reports/<period>?date=``         staff: daily|weekly|monthly, HTML; ``&format=csv``
=============================================  ======================================================

No public response carries a driver's name or phone.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from planner.desk import Desk
from planner.desk.notices import KINDS as NOTICE_KINDS
from planner.desk.notices import check_device, public_notice, staff_notice
from planner.desk.requests import CATEGORIES, CHANNELS, SATISFACTION, STAGE_LABELS, STATE_LABELS, STATES, staff_view
from planner.errors import ConflictError
from planner.provenance import needs_banner, status_of
from webmap.api import if_match_version, json_body
from webmap.auth import api_user, current_user, login_required
from webmap.errors import ApiError, conflict
from webmap.i18n import get_lang
from webmap.state import EXTENSION, get_workspace

bp = Blueprint("desk", __name__)
DESK = "yizhan-desk"
#: Anonymous reports allowed per client address and window (config DESK_ANON_LIMIT, DESK_ANON_WINDOW_S).
ANON_LIMIT = 5
ANON_WINDOW_S = 600

STRINGS = {
    "report_problem": ("反映问题", "Report a problem"),
    "report_title": ("向网格服务反映问题", "Report a problem to the grid service"),
    "report_kind": ("类型", "Type"),
    "kind_request": ("我的诉求", "My request"),
    "kind_station_report": ("站点信息有误", "This station's information is wrong"),
    "station": ("站点", "Station"),
    "category": ("问题类别", "Category"),
    "description": ("情况说明", "What happened"),
    "phone": ("联系电话（选填，仅工作人员可见）", "Phone (optional, seen by staff only)"),
    "position": ("位置", "Position"),
    "position_hint": ("请先在地图上点选您的位置", "Tap your position on the map first"),
    "send": ("提交", "Send"),
    "cancel": ("取消", "Cancel"),
    "sent": ("已受理，受理号：{receipt}。工作人员将按“2142”时限办理。", "Received, number {receipt}. Staff handle it on the 2142 clock."),
    "failed": ("提交失败：{message}", "Could not send: {message}"),
    "notices": ("网格推送", "Grid notices"),
    "valid_to": ("有效至", "valid until"),
    "illustrative": ("示例", "illustrative"),
    "desk_title": ("网格服务台", "Grid service desk"),
    "close": ("关闭", "Close"),
}


def ds(key: str, **kw) -> str:
    pair = STRINGS[key]
    text = pair[1 if get_lang() == "en" else 0]
    return text.format(**kw) if kw else text


def _labels(table: dict) -> dict:
    i = 1 if get_lang() == "en" else 0
    return {k: v[i] for k, v in table.items()}


def init_app(app) -> None:
    """Attach the desk (its tables in the workspace's registry) and the blueprint to ``app``."""
    from webmap import csrf

    app.register_blueprint(bp)
    csrf.exempt(bp)  # API writes check a bearer token or the X-CSRFToken header (webmap.auth)
    app.extensions[DESK] = Desk(app.extensions[EXTENSION].workspace)

    @app.context_processor
    def _desk_globals():
        return {"desk_t": ds, "desk_categories": lambda: _labels(CATEGORIES)}


def get_desk() -> Desk:
    return current_app.extensions[DESK]


def _now() -> dt.datetime:
    return get_desk().ws.now()


# ---------------------------------------------------------------------- helpers
def _is_staff_request() -> bool:
    return bool(request.headers.get("Authorization")) or current_user() is not None


def _body() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_input", "the body must be a JSON object (Content-Type: application/json)",
                       fields={"body": "must be a JSON object"})
    return body


def _if_match() -> int:
    return if_match_version("request")


def _request_json(record: dict, status: int = 200, *, with_history: bool = False):
    desk = get_desk()
    doc = staff_view(record, now=_now(), calendar=desk.calendar(), lang=get_lang())
    if with_history:
        doc["transitions"] = desk.store.transitions(record["id"])
    response = jsonify(doc)
    response.status_code = status
    response.headers["ETag"] = f'"{record["version"]}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_key() -> str:
    addr = request.remote_addr or "unknown"
    return "anon-request:" + hashlib.sha256(addr.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------- API
@bp.post("/api/requests")
def create_request():
    desk = get_desk()
    if _is_staff_request():
        user = api_user("edit")
        record = desk.create_request(_body(), actor=user["name"])
        return _request_json(record, 201)
    body = _body()
    cfg = current_app.config
    allowed, wait_s = desk.store.hit(_client_key(), limit=int(cfg.get("DESK_ANON_LIMIT", ANON_LIMIT)),
                                     window_s=int(cfg.get("DESK_ANON_WINDOW_S", ANON_WINDOW_S)))
    if not allowed:
        err = ApiError(429, "rate_limited", f"too many reports from this connection; try again in {wait_s} s "
                       f"(请 {wait_s} 秒后再试，或拨打 12328)")
        err.headers["Retry-After"] = str(wait_s)
        raise err
    record = desk.create_request(body, actor="driver (anonymous)", anonymous=True)
    response = jsonify({"receipt": record["receipt"]})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/requests/<request_id>")
def get_request(request_id: str):
    api_user_read()
    record = get_desk().get(request_id)
    return _request_json(record, with_history=True).make_conditional(request)


def api_user_read() -> dict:
    """Staff only, also for reads: requests hold drivers' contacts."""
    if request.headers.get("Authorization"):
        return api_user("edit")
    user = current_user()
    if user is None:
        raise ApiError(401, "unauthorized", "log in (session) or send 'Authorization: Bearer <token>'")
    return user


@bp.patch("/api/requests/<request_id>")
def patch_request(request_id: str):
    user = api_user("edit")
    expected = _if_match()
    body = _body()
    desk = get_desk()
    try:
        record = desk.update(request_id, body, expected_version=expected, actor=user["name"])
    except ConflictError as exc:
        view = functools.partial(staff_view, now=_now(), calendar=desk.calendar(), lang=get_lang())
        raise conflict(exc, view, lambda: desk.get(request_id)) from None
    return _request_json(record, with_history=True)


@bp.get("/api/notices")
def notices():
    desk = get_desk()
    args = request.args
    for name in ("lon", "lat"):
        if not args.get(name, "").strip():
            raise ApiError(400, "invalid_input", f"query parameter {name!r} is required", fields={name: "required"})
    device = check_device(args.get("device"))
    found = desk.notices_at(args.get("lon"), args.get("lat"), device=device)
    lang = get_lang()
    response = jsonify({"notices": [public_notice(n, lang) for n in found],
                        "data_status": status_of(found)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/notices")
def create_notice():
    user = api_user("edit")
    notice = get_desk().create_notice(_body(), actor=user["name"])
    response = jsonify(staff_notice(notice, get_lang()))
    response.status_code = 201
    return response


# ---------------------------------------------------------------------- pages
def _page_context(**extra) -> dict:
    desk = get_desk()
    grids = desk.grids()
    return {
        "categories": _labels(CATEGORIES), "channels": _labels(CHANNELS), "states": _labels(STATE_LABELS),
        "satisfaction": _labels(SATISFACTION), "stages": _labels(STAGE_LABELS), "notice_kinds": _labels(NOTICE_KINDS),
        "grids": grids.records, "illustrative": grids.illustrative, **extra,
    }


def _corridors(desk) -> list[dict]:
    en = get_lang() == "en"
    return [{"id": str(r["id"]), "name": r["name_en"] if en else r["name_zh"]} for _, r in desk.ws.region.corridors.iterrows()]


def _fmt_left(seconds) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    return f"{sign}{d}d {h}h {rem // 60}m" if d else f"{sign}{h}h {rem // 60}m"


@bp.app_template_filter("time_left")
def _time_left_filter(seconds):
    return _fmt_left(seconds)


@bp.app_template_filter("local")
def _local_filter(iso):
    return (iso or "")[:16].replace("T", " ")


@bp.get("/desk")
@login_required()
def queue():
    desk = get_desk()
    items = desk.queue(now=_now(), lang=get_lang())
    ctx = _page_context(items=items, now=_now())
    ctx["illustrative"] = needs_banner(status_of([*get_desk().grids().records, *items]))
    return render_template("desk/queue.html", **ctx, stations=[{"id": s["id"], "name": s["name"]} for s in get_workspace().stations()],
                           corridors=_corridors(desk), api={"requests": url_for("desk.create_request")})


@bp.get("/desk/requests/<request_id>")
@login_required()
def request_page(request_id: str):
    desk = get_desk()
    record = desk.get(request_id)
    view = staff_view(record, now=_now(), calendar=desk.calendar(), lang=get_lang())
    idx = STATES.index(record["state"])
    next_state = STATES[idx + 1] if idx + 1 < len(STATES) else None
    return render_template("desk/request.html", **_page_context(), r=view, transitions=desk.store.transitions(record["id"]),
                           next_state=next_state,
                           page={"id": record["id"], "version": record["version"], "next": next_state,
                                 "api": url_for("desk.patch_request", request_id=record["id"])})


@bp.get("/desk/notices")
@login_required()
def notices_page():
    desk = get_desk()
    lang = get_lang()
    items = [staff_notice(n, lang) for n in desk.notices()[:300]]
    return render_template("desk/notices.html", **_page_context(), notices=items, corridors=_corridors(desk),
                           api={"notices": url_for("desk.create_notice")})


@bp.get("/desk/reports/<period>")
@login_required()
def report(period: str):
    from planner.desk.reports import PERIODS, chart_svg, grid_map_svg, to_csv

    if period not in PERIODS:
        from flask import abort

        abort(404)
    desk = get_desk()
    date = request.args.get("date") or _now().date().isoformat()
    rep = desk.report(period, date, now=_now())
    if request.args.get("format") == "csv":
        body = "\ufeff" + to_csv(rep)  # BOM: Excel opens UTF-8 Chinese correctly
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=desk-{period}-{rep['date']}.csv"})
    chart = Markup(chart_svg(rep)) if period != "daily" else None  # noqa: S704 (matplotlib's own SVG, no user text)
    grid_map = Markup(grid_map_svg(desk, rep))  # noqa: S704
    ctx = _page_context(rep=rep, chart=chart, grid_map=grid_map)
    ctx["illustrative"] = needs_banner(rep["data_status"])  # grids and the period's records
    return render_template("desk/report.html", **ctx)
