"""Yizhan's web pages and API, as Flask blueprints over :class:`planner.workspace.Workspace`.

Blueprints:

* ``driver`` — ``/``: the drivers' map (mobile-first, Chinese by default, ``?lang=en``);
* ``planner`` — ``/planner``: coverage, gaps, grid access and site suggestions;
* ``admin`` — ``/admin``: staff login, station search, edit/add/retire, history;
* ``api`` — ``/healthz`` and ``/api/...`` (JSON; docs/interfaces.md);
* ``vendor`` — ``/vendor/<pkg>/<path>``: Leaflet and jQuery from pip (no CDN).

Views call ``planner``; they hold no SQL and no geometry.
"""

from __future__ import annotations

import json
import logging
import time

import orjson
from flask import Flask, Request, g, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import ImmutableMultiDict

csrf = CSRFProtect()


class _QueryArgs(ImmutableMultiDict):
    """Query and form arguments whose ``get`` of a missing key raises nothing.

    werkzeug's ``MultiDict.get`` builds and catches a ``BadRequestKeyError`` for every
    absent optional parameter; ``/api/nearest`` asks for about a dozen of them, which
    measured as a fifth of the request's CPU time.
    """

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        if key not in self:
            return default
        return super().get(key, default, type)


class YizhanRequest(Request):
    parameter_storage_class = _QueryArgs


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, serialising with orjson (C) where it gives the same JSON.

    Keys keep their order (``sort_keys`` off) and text is UTF-8 (``ensure_ascii`` off), as
    the API documents. The standard ``json`` module encoded ``/api/nearest``'s answer in
    about a tenth of the request's CPU time; orjson takes a few microseconds. Dates and
    dataclasses still go through Flask's ``default`` (HTTP dates, ``asdict``); anything
    orjson refuses (integers beyond 64 bits, other options) falls back to ``json``.
    Differences: floats below 1e-4 are written without an exponent (``0.00001``, the same
    number) and a NaN is written ``null`` (standard ``json`` writes ``NaN``, which is not JSON).
    """

    ensure_ascii = False
    sort_keys = False
    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(self, obj, **kwargs) -> str:
        return self._bytes(obj, kwargs).decode("utf-8")

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        body = self._bytes(obj, {"indent": 2} if indent else {"separators": (",", ":")})
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)

    def _bytes(self, obj, kwargs: dict) -> bytes:
        option = self._OPTIONS
        if kwargs.get("indent") == 2:
            option |= orjson.OPT_INDENT_2
        plain = (kwargs.keys() <= {"indent", "separators"} and kwargs.get("indent") in (None, 2)
                 and kwargs.get("separators") in (None, (",", ":")) and not self.ensure_ascii and not self.sort_keys)
        if plain:
            try:
                return orjson.dumps(obj, default=self.default, option=option)
            except orjson.JSONEncodeError:
                pass  # e.g. an integer beyond 64 bits: the standard module writes it
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs).encode("utf-8")


def init_app(app: Flask) -> None:
    """Attach the workspace, security, error handling and every blueprint to ``app``."""
    from planner.workspace import Workspace
    from webmap import admin, api, assets, desk, driver, errors, i18n, planning, security
    from webmap.state import EXTENSION, AppState

    workspace = app.config.get("WORKSPACE") or Workspace(
        region=app.config["REGION"], db_path=app.config.get("YIZHAN_DB"), create_db=True
    )
    # Open (and seed, if new) the registry and build the road network and station index now:
    # a bad YIZHAN_DB fails at start, and the first driver does not wait for the precompute.
    workspace.index()
    app.extensions[EXTENSION] = AppState(workspace)

    app.request_class = YizhanRequest
    # UTF-8 Chinese names (half the bytes of \uXXXX escapes), the documented field order
    app.json = JSONProvider(app)
    csrf.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    app.register_blueprint(assets.bp)
    app.register_blueprint(driver.bp)
    app.register_blueprint(planning.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    desk.init_app(app)  # the grid service desk: its tables, blueprint and template globals
    csrf.exempt(api.bp)  # API writes check a bearer token or the X-CSRFToken header (webmap.auth)

    @app.context_processor
    def _template_globals():
        from webmap.auth import current_user
        from webmap.security import csp_nonce

        lang = i18n.get_lang()
        return {
            "t": i18n.t,
            "lang": lang,
            "amenity_label": i18n.amenity_label,
            "kind_label": i18n.kind_label,
            "field_label": i18n.field_label,
            "china_time": i18n.china_time,
            "action_label": i18n.action_label,
            "csp_nonce": csp_nonce,
            "current_user": current_user(),
        }

    request_log = logging.getLogger("webmap.requests")

    @app.before_request
    def _start_clock():
        g.yizhan_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        # Path only: query strings carry drivers' positions, which the log does not keep.
        if request_log.isEnabledFor(logging.INFO):
            started = g.get("yizhan_started")
            ms = (time.perf_counter() - started) * 1000 if started is not None else float("nan")
            request_log.info("%s %s %d %.1f ms", request.method, request.path, response.status_code, ms)
        return response

    @app.after_request
    def _remember_lang(response):
        lang = request.args.get("lang")
        if lang in i18n.LANGS and request.cookies.get(i18n.COOKIE) != lang:
            response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="Lax")
        return response
