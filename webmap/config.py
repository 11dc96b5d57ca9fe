"""Configuration of the web app: documented defaults, read once by ``create_app``.

Layers, flaskr-style: :func:`defaults` (from the environment), then ``instance/config.py``
(only when no test mapping is given), then the mapping passed to ``create_app``. The secret
key is resolved last by :func:`resolve_secret_key` so that it is never a fixed default.

====================  ==================================  =========================================
Setting               Environment variable                Default
====================  ==================================  =========================================
``YIZHAN_DB``         ``YIZHAN_DB``                       ``planner.settings.db_path()`` (user data dir)
``SECRET_KEY``        ``YIZHAN_SECRET_KEY``               ``instance/secret_key`` (``make run`` writes it)
``PORT``              ``PORT``                            5000
``TILES``             ``YIZHAN_TILES``                    none: the app's own vector layers only
``TILES_ATTR``        ``YIZHAN_TILES_ATTR``               OSM's attribution for OSM tiles, else the tile host
``REGION``            ``YIZHAN_REGION``                   ``mianyang``
``SESSION_COOKIE_     ``YIZHAN_SECURE_COOKIES``           off; ``1`` = cookies only over HTTPS (set it
SECURE``                                                  whenever the site is served over TLS)
``PROXY_FIX``         ``YIZHAN_PROXY_FIX``                0; ``n`` = trust X-Forwarded-* from ``n`` proxies
====================  ==================================  =========================================

Tiles are decoration only and off by default: every layer the pages need (counties,
corridors, place labels, stations) is vector data drawn by the app, so nothing leaves the
server unless an operator configures a tile source. Only **WGS-84** web-mercator tile
sources are accepted (OpenStreetMap, or a local tile server). Amap/高德, Tencent and Baidu
tiles are drawn in GCJ-02 / BD-09, which would put every marker ~300–700 m off the road it
stands on; :func:`tiles_from_env` refuses their hosts instead of drawing a shifted map.
The attribution is shown only when a tile layer is drawn (Leaflet shows a layer's own).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from planner import settings
from planner.registry.policy import SESSION_ABSOLUTE_S

#: OpenStreetMap's standard tiles (WGS-84 web-mercator, matches our coordinates); not a default.
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
#: Hosts whose tiles are not WGS-84 (GCJ-02: Amap/AutoNavi, Tencent; BD-09: Baidu).
SHIFTED_TILE_HOSTS = ("autonavi.com", "amap.com", "map.qq.com", "gtimg.com", "map.baidu.com", "bdimg.com", "bdstatic.com")

#: Values of ``YIZHAN_TILES`` that switch tiles off.
NO_TILES = {"", "none", "off", "0", "false"}

#: (name, default, help) for every setting, listed once (datasette-style).
SETTINGS: tuple[tuple[str, object, str], ...] = (
    ("YIZHAN_DB", None, "registry file (YIZHAN_DB); None = planner.settings.db_path()"),
    ("PORT", 5000, "HTTP port used by `make run` (PORT)"),
    ("TILES", None, "WGS-84 tile URL template, or None for the app's vector layers only (YIZHAN_TILES)"),
    ("TILES_ATTR", None, "tile attribution HTML (YIZHAN_TILES_ATTR); None = derived from TILES"),
    ("REGION", settings.DEFAULT_REGION, "embedded region name (YIZHAN_REGION)"),
    ("NEAREST_K", 5, "how many stations the drivers' map lists"),
    ("ALONG_DETOUR_KM", 5.0, "default detour for the along-route search, km"),
    ("SESSION_COOKIE_SECURE", False, "send cookies over HTTPS only (YIZHAN_SECURE_COOKIES=1 behind TLS)"),
    ("PROXY_FIX", 0, "number of reverse proxies whose X-Forwarded-For/-Proto/-Host to trust (YIZHAN_PROXY_FIX)"),
    ("WORKSPACE", None, "an existing planner Workspace to serve (tests, notebooks); None = build one"),
)


def tiles_from_env(value: str | None) -> str | None:
    """``YIZHAN_TILES`` → a tile URL template, or None when unset or switched off.

    Raises
    ------
    ValueError
        For a tile source drawn in GCJ-02 or BD-09 (Amap, Tencent, Baidu): our markers are
        WGS-84 and would sit hundreds of metres off the roads on such tiles.
    """
    if value is None or value.strip().lower() in NO_TILES:
        return None
    url = value.strip()
    host = (urlsplit(url.replace("{s}", "a")).hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in SHIFTED_TILE_HOSTS):
        raise ValueError(
            f"YIZHAN_TILES={url!r}: {host} serves GCJ-02/BD-09 tiles, on which Yizhan's WGS-84 markers "
            "would sit 300-700 m off the roads; use a WGS-84 source (OpenStreetMap or a local tile server) "
            "or leave YIZHAN_TILES unset"
        )
    return url


def tiles_attribution(tiles: str | None, attr: str | None) -> str | None:
    """The attribution to draw with ``tiles``: the given one, OSM's for OSM tiles, else the host."""
    if not tiles:
        return None
    if attr:
        return attr
    host = urlsplit(tiles.replace("{s}", "a")).hostname or "tile server"
    if host.endswith("openstreetmap.org"):
        return OSM_ATTR
    return f"Tiles: {host}"


def defaults() -> dict:
    """Defaults, overridden by the environment variables named in the module docstring."""
    cfg: dict = {name: default for name, default, _help in SETTINGS}
    cfg["YIZHAN_DB"] = os.environ.get("YIZHAN_DB") or None
    cfg["PORT"] = settings.port()
    cfg["TILES"] = tiles_from_env(os.environ.get("YIZHAN_TILES"))
    cfg["TILES_ATTR"] = tiles_attribution(cfg["TILES"], os.environ.get("YIZHAN_TILES_ATTR"))
    cfg["REGION"] = os.environ.get("YIZHAN_REGION") or settings.DEFAULT_REGION
    cfg["SESSION_COOKIE_SECURE"] = _flag(os.environ.get("YIZHAN_SECURE_COOKIES"))
    cfg["PROXY_FIX"] = _count(os.environ.get("YIZHAN_PROXY_FIX"), "YIZHAN_PROXY_FIX")
    cfg["PERMANENT_SESSION_LIFETIME"] = SESSION_ABSOLUTE_S  # the server ends sessions sooner when idle
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["WTF_CSRF_TIME_LIMIT"] = 8 * 3600  # a working day: staff keep a form open for long
    cfg["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024  # station edits are small
    return cfg


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _count(value: str | None, name: str) -> int:
    text = (value or "").strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or int(text) > 10:
        raise RuntimeError(f"{name} must be a whole number of proxies from 0 to 10; got {value!r}")
    return int(text)


def resolve_secret_key(config: dict, instance_path: str | Path) -> str:
    """The session secret: config mapping, ``YIZHAN_SECRET_KEY``, ``instance/secret_key``.

    In testing (``TESTING=True``) a random key is made when none is set. Anywhere else a
    missing key is an error: a fixed default would let anyone forge a staff session.

    Raises
    ------
    RuntimeError
        When no key is configured outside tests, saying how to set one.
    """
    if config.get("SECRET_KEY"):
        return str(config["SECRET_KEY"])
    env = os.environ.get("YIZHAN_SECRET_KEY", "").strip()
    if env:
        return env
    key_file = Path(instance_path) / "secret_key"
    if key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key
    if config.get("TESTING"):
        return secrets.token_hex(32)
    raise RuntimeError(
        "no secret key: set YIZHAN_SECRET_KEY, or write a random one to "
        f"{key_file} (e.g. `python -c \"import secrets; print(secrets.token_hex(32))\" > {key_file}`; "
        "`make run` does this for you)"
    )
