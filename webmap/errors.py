"""One error shape: ``{"error": {"code", "message", "fields"?}}`` under ``/api``, a page elsewhere.

planner's :class:`~planner.errors.YizhanError` subclasses know their JSON (``to_dict``);
this module only maps them to HTTP statuses, and turns Werkzeug's HTTP errors (404, 405,
413, 500, …) into the same shape for API clients.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from planner.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    RegistryError,
    YizhanError,
    error_body,
)
from planner.registry import ForbiddenError, ThrottledError
from webmap.i18n import error_message, field_errors, t

log = logging.getLogger(__name__)

#: planner error class -> HTTP status (first match wins, so subclasses come first).
STATUS: tuple[tuple[type[YizhanError], int], ...] = (
    (InputError, 400),
    (ForbiddenError, 403),
    (ThrottledError, 429),  # InfeasibleError is an InputError: also 400, code "infeasible"
    (NotFoundError, 404),
    (ConflictError, 409),
    (RegistryError, 503),
)


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (auth, preconditions, bad bodies)."""

    def __init__(self, status: int, code: str, message: str, *, fields: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.extra = extra
        self.headers: dict[str, str] = {}


def conflict(exc: ConflictError, view, reload) -> ApiError:
    """The one 409 for a stale write: the error shape plus ``current``.

    ``current`` is the stored record as that resource's GET returns it (``view``: a
    station's GeoJSON Feature, a request's staff view), never the raw stored row;
    ``reload()`` reads it when the error did not carry it.
    """
    current = exc.current if exc.current is not None else reload()
    return ApiError(409, "conflict", exc.message, current=view(current))


def wants_json() -> bool:
    """API clients get JSON: everything under /api and /healthz."""
    path = request.path
    return path.startswith("/api/") or path == "/api" or path == "/healthz"


def json_error(status: int, code: str, message: str, fields: dict | None = None, **extra):
    response = jsonify(error_body(code, message, fields, **extra))
    response.status_code = status
    return response


def status_for(exc: YizhanError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _code_for_http(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = json_error(exc.status, exc.code, exc.message, exc.fields, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(YizhanError)
    def _planner_error(exc: YizhanError):
        status = status_for(exc)
        if status >= 500:
            log.error("registry error on %s: %s", request.path, exc.message)
        if wants_json():
            # a view that can raise ConflictError answers with :func:`conflict` (the record
            # as its GET shows it); the stored row itself is never sent
            response = jsonify(exc.to_dict())
            response.status_code = status
            if isinstance(exc, ThrottledError):
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            return response
        return _page(status, error_message(exc), field_errors(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if wants_json():
            return json_error(403, "csrf_failed", f"CSRF check failed: {exc.description}")
        return _page(400, t("csrf_failed"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if wants_json():
            response = json_error(exc.code or 500, _code_for_http(exc), exc.description or exc.name)
            if exc.code == 405 and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        key = {404: "not_found", 403: "forbidden", 400: "bad_request"}.get(exc.code or 500, "server_error")
        return _page(exc.code or 500, t(key))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal_error", "internal server error; the problem was logged")
        return _page(500, t("server_error"))

    # Flask routes InternalServerError through HTTPException handlers; keep the generic
    # message (never a traceback) for both.
    app.register_error_handler(InternalServerError, _unexpected)


def _page(status: int, message: str, fields: dict | None = None):
    return render_template("error.html", status=status, message=message, fields=fields or {}), status
