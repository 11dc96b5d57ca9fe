"""Offline assets: the JS/CSS that Folium maps need, served by the app itself.

Folium links Leaflet, jQuery, Bootstrap and Font Awesome from public CDNs by default
(``default_js`` / ``default_css`` on each ``JSCSSMixin`` element). With no internet the
page would be blank, and a phone on a slow link would wait on foreign hosts. So:

* :data:`VENDOR` whitelists the pip-installed ``xstatic`` packages served under
  ``/vendor/<pkg>/<path>`` (upstream layout kept: Leaflet finds ``images/`` beside its CSS);
* :func:`localize` walks a built map and replaces every asset list with local URLs, dropping
  what we do not use (jQuery, Bootstrap, glyphicons, awesome-markers: we draw circle markers, never
  ``folium.Icon``, and no folium popups). An unknown asset name raises, so a new plugin fails in the tests instead
  of quietly calling a CDN;
* :func:`render_parts` renders a map into the three pieces our templates embed.

See docs/development.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import xstatic.pkg.leaflet as xs_leaflet
from flask import Blueprint, abort, send_from_directory, url_for
from folium.elements import JSCSSMixin

#: Package name in the URL -> directory served. Nothing else under /vendor/ is reachable.
VENDOR: dict[str, Path] = {
    "leaflet": Path(xs_leaflet.BASE_DIR),
}
#: File types served from the vendor directories (no source maps, no ESM builds needed).
VENDOR_SUFFIXES = (".js", ".css", ".png", ".svg")

#: Folium asset name -> (vendor package, file) or None to drop it.
FOLIUM_ASSETS: dict[str, tuple[str, str] | None] = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    # only folium's Popup needs jQuery; our maps have no folium popups (the planners' map
    # draws its own, webmap/static/planner.js), so it is dropped.
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "awesome_rotate_css": None,
}

bp = Blueprint("vendor", __name__)


@bp.get("/vendor/<pkg>/<path:filename>")
def vendor(pkg: str, filename: str):
    """A file of a whitelisted vendor package (cached for a day; versions are pinned)."""
    base = VENDOR.get(pkg)
    if base is None or not filename.endswith(VENDOR_SUFFIXES):
        abort(404)
    return send_from_directory(base, filename, max_age=86400)


def vendor_url(name: str) -> str | None:
    """Local URL of a folium asset name, None when dropped; KeyError for unknown names."""
    if name not in FOLIUM_ASSETS:
        raise KeyError(
            f"folium asset {name!r} has no local copy; add it to webmap.assets.FOLIUM_ASSETS "
            "(and vendor the file) instead of loading it from a CDN"
        )
    target = FOLIUM_ASSETS[name]
    if target is None:
        return None
    pkg, filename = target
    return url_for("vendor.vendor", pkg=pkg, filename=filename)


def localize(m):
    """Point every asset of the map ``m`` at the app's own copies (in place; returns ``m``).

    Assigns NEW lists on each element (never mutates folium's class-level lists, which
    are shared by every map in the process: RECIPES (d)).
    """
    stack = [m.get_root()]
    while stack:
        element = stack.pop()
        stack.extend(element._children.values())
        if isinstance(element, JSCSSMixin):
            js, css = [], []
            for name, _url in element.default_js:
                local = vendor_url(name)
                if local:
                    js.append((name, local))
            for name, _url in element.default_css:
                local = vendor_url(name)
                if local:
                    css.append((name, local))
            element.default_js = js
            element.default_css = css
    return m


_SCRIPT_OPEN = re.compile(r"<script(?=[\s>])")


def add_nonce(html: str, nonce: str) -> str:
    """Give every ``<script`` tag in ``html`` the CSP nonce of this response."""
    return _SCRIPT_OPEN.sub(f'<script nonce="{nonce}"', html)


def render_parts(m) -> dict[str, str]:
    """Render a folium map into ``{"header", "html", "script", "name"}`` for our templates.

    ``header`` holds the asset links and folium's CSS; ``html`` the map ``<div>``; ``script``
    the JavaScript that builds the map (without ``<script>`` tags). ``name`` is the JS
    variable of the Leaflet map, for our page scripts (``window[name]``).
    """
    root = m.get_root()
    root.render()
    header = root.header.render()
    # folium's viewport meta disables zoom (user-scalable=no); our base template sets its own.
    header = re.sub(r"<meta name=\"viewport\"[^>]*>", "", header, flags=re.DOTALL)
    header = header.replace('<meta http-equiv="content-type" content="text/html; charset=UTF-8" />', "")
    return {
        "header": header,
        "html": root.html.render(),
        "script": root.script.render(),
        "name": m.get_name(),
    }
