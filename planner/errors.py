"""Exceptions raised by Yizhan.

Every exception a user can cause derives from :class:`YizhanError`, and each one
also subclasses the matching built-in (``ValueError``, ``LookupError``) so callers
can catch narrowly or broadly. Messages say what was wrong and how to fix it.
"""

from __future__ import annotations


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    """The one JSON error shape, ``{"error": {"code", "message", "fields"?, **extra}}``.

    ``fields`` (what was wrong, per input name) is left out when empty; ``extra`` adds keys
    such as ``current`` (the stored record, on a 409). Both :meth:`YizhanError.to_dict` and
    the web app's error responses build their bodies here.
    """
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


class YizhanError(Exception):
    """Base class of every error Yizhan raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None,
                 fields_zh: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        #: field -> the English rule (what ``to_dict`` sends)
        self.fields = dict(fields or {})
        #: field -> the same rule in Chinese, where the raiser has one (read it through
        #: :func:`planner.stations.localized_fields`, which falls back to English)
        self.fields_zh = dict(fields_zh or {})

    def to_dict(self) -> dict:
        """The one JSON error shape: ``{"error": {"code", "message", "fields"?}}``."""
        return error_body(self.code, self.message, self.fields)


class InputError(YizhanError, ValueError):
    """Bad input: a value out of range, an unknown name, a malformed file."""

    code = "invalid_input"


class InfeasibleError(InputError):
    """A request no solution can satisfy (e.g. k larger than the candidates)."""

    code = "infeasible"


class NotFoundError(YizhanError, LookupError):
    """A station, user or region that does not exist."""

    code = "not_found"


class ConflictError(YizhanError):
    """A write based on a stale version; ``current`` holds the record as stored."""

    code = "conflict"

    def __init__(self, message: str, *, current: dict | None = None):
        super().__init__(message)
        self.current = current


class RegistryError(YizhanError):
    """The registry file is missing, unreadable or not a Yizhan registry."""

    code = "registry_error"


class ForbiddenError(YizhanError):
    """The user's role does not allow this change (e.g. staff retiring a station)."""

    code = "forbidden"


class ThrottledError(YizhanError):
    """Too many failed logins: wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
