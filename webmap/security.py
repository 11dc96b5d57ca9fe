"""Response headers: a Content-Security-Policy with a per-request nonce, and friends.

The policy allows scripts, styles, fonts and data only from the app itself, plus images
from the configured tile host (tiles are optional decoration). Folium's inline map
scripts carry the request's nonce (:func:`webmap.assets.add_nonce`); page data travels in
``<script type="application/json">`` blocks, which never execute.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix


def csp_nonce() -> str:
    """This request's CSP nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def tile_origin(template: str | None) -> str | None:
    """``https://{s}.tile.example.org/{z}/{x}/{y}.png`` → ``https://*.tile.example.org``."""
    if not template:
        return None
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc
    if "{" in host:  # subdomain placeholders such as {s}
        host = "*." + host.split("}.", 1)[-1]
    return f"{parts.scheme}://{host}"


def content_security_policy(nonce: str, tiles: str | None) -> str:
    img = "'self' data:"
    origin = tile_origin(tiles)
    if origin:
        img += " " + origin
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            # Leaflet and folium set style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {img}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


#: Data responses (JSON, files) never need to run or show anything.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
STATIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "geolocation=(self), camera=(), microphone=()"),
)


def private_response() -> bool:
    """Whether this response is for staff eyes only: staff pages, and anything answered to
    a logged-in session or a bearer token. Such responses are never stored by browsers or
    proxies (``Cache-Control: no-store``): no staff page comes back from the back button
    after logout or from a shared computer's cache."""
    if request.blueprint == "admin" or request.headers.get("Authorization"):
        return True
    return g.get("user") is not None


def init_app(app: Flask) -> None:
    """Security headers on every response; ``ProxyFix`` when ``PROXY_FIX`` (behind a proxy).

    ``PROXY_FIX = n`` (``YIZHAN_PROXY_FIX``) trusts ``X-Forwarded-For/-Proto/-Host`` from
    ``n`` proxies in front, so the client address used for login throttling and the
    https scheme are the real ones. Without a proxy leave it 0: the headers could be forged.
    """
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def _headers(response):
        h = response.headers
        for name, value in STATIC_HEADERS:
            h.setdefault(name, value)
        if private_response():
            h["Cache-Control"] = "no-store"
            h.add("Vary", "Cookie")
        if "Content-Security-Policy" not in h:
            if response.mimetype == "text/html":
                h["Content-Security-Policy"] = content_security_policy(csp_nonce(), app.config.get("TILES"))
            else:
                h["Content-Security-Policy"] = DATA_CSP
        return response
