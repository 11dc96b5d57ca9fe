"""Who is asking: staff sessions for the admin pages, bearer tokens or sessions for the API.

Accounts and their hashed passwords live in the registry (``python -m planner users add``);
this module never sees a hash. Roles: ``staff`` edits and adds stations; ``admin`` may
also retire them.

API writes accept either ``Authorization: Bearer <token>`` (``python -m planner users
token NAME``) or a logged-in session plus the ``X-CSRFToken`` header (what the pages'
scripts send). A session without that header is refused: a cookie alone proves nothing
about which site sent the request.

Sessions are server-side: the signed cookie holds only a random session id; the
registry's ``sessions`` table says whether it is still alive and the ``users`` table gives
the role on every request. Logout, a password change (``users passwd``), a role change and
deleting the user end the session at once; a session also ends after 12 h idle or 7 days
(:mod:`planner.registry.policy`). Bearer tokens expire (90 days by default) and can be revoked.
"""

from __future__ import annotations

import functools

from flask import abort, flash, g, redirect, request, session, url_for
from flask_wtf.csrf import ValidationError, validate_csrf

from planner.errors import RegistryError
from webmap.errors import ApiError
from webmap.i18n import t
from webmap.state import get_workspace

ROLES = ("staff", "admin")
#: What each role may do beyond reading.
PERMISSIONS = {
    "staff": {"edit", "add"},
    "admin": {"edit", "add", "retire"},
}


def can(user: dict | None, action: str) -> bool:
    return bool(user) and action in PERMISSIONS.get(user.get("role", ""), set())


def current_user() -> dict | None:
    """The logged-in staff member (``{"name", "role"}``, role as stored now) or None.

    Asks the registry once per request whether the session is still alive.
    """
    if "user" not in g:
        sid = session.get("sid")
        try:
            user = get_workspace().registry.session_user(sid) if sid else None
        except RegistryError:  # registry unreadable: nobody is logged in (the error page still renders)
            user = None
        if sid and user is None:
            session.pop("sid", None)  # ended elsewhere: forget the dead id
        g.user = user if user and user.get("role") in ROLES else None
    return g.user


def login(user: dict) -> None:
    """Start a server-side session for ``user`` (a fresh cookie: no fixation)."""
    sid = get_workspace().registry.open_session(user["name"])
    session.clear()
    session["sid"] = sid
    g.pop("user", None)


def logout() -> None:
    """End this session on the server (a copied cookie stops working too)."""
    sid = session.get("sid")
    if sid:
        get_workspace().registry.close_session(sid)
    session.clear()
    g.pop("user", None)


def reader() -> dict | None:
    """Who is reading (for views that show more to staff): a bearer token's user or the
    logged-in staff member; None for anonymous readers and for bad tokens."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return get_workspace().registry.user_for_token(token.strip())
    return current_user()


def login_required(action: str | None = None):
    """Decorator for admin views: redirect to the login page, 403 without the right."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                flash(t("login_required"), "warning")
                return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
            if action is not None and not can(user, action):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def api_user(action: str = "edit") -> dict:
    """The user behind an API write, or raise 401/403 as :class:`~webmap.errors.ApiError`.

    401: no credentials, or a bad token. 403: a session without a valid ``X-CSRFToken``,
    or a role without ``action``.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>' (python -m planner users token NAME)")
        user = get_workspace().registry.user_for_token(token.strip())
        if user is None:
            raise _unauthorized("unknown, expired or revoked bearer token; issue a new one with "
                                "`python -m planner users token NAME`")
    else:
        user = current_user()
        if user is None:
            raise _unauthorized("log in (session) or send 'Authorization: Bearer <token>'")
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as exc:
            raise ApiError(403, "csrf_failed", f"session requests need a valid X-CSRFToken header: {exc}") from None
    if user.get("role") not in ROLES or not can(user, action):
        raise ApiError(403, "forbidden", f"user {user.get('name')!r} (role {user.get('role')!r}) may not {action} stations")
    return user


def _unauthorized(message: str) -> ApiError:
    err = ApiError(401, "unauthorized", message)
    err.headers["WWW-Authenticate"] = 'Bearer realm="yizhan"'
    return err
