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

import logging
import time

from flask import Flask, Request, g, request
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
    app.json.ensure_ascii = False  # Chinese names as UTF-8: half the bytes of \uXXXX escapes
    app.json.sort_keys = False  # keep the documented field order (origin, then results)
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
