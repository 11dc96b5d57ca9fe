"""Yizhan web app: ``create_app`` builds the Flask app (``make run`` serves it with gunicorn).

Run by hand::

    YIZHAN_SECRET_KEY=... gunicorn -c gunicorn.conf.py 'app:create_app()'     # as `make run` (webmap/gworker.py)

Configuration is documented in :mod:`webmap.config`; the pages and the API live in
:mod:`webmap` (blueprints ``driver``, ``planner``, ``admin``, ``api``).
"""

from __future__ import annotations

import os

# A web server runs many request threads already; BLAS thread pools on top of them spin
# and fight for the two cores (measured: /api/nearest needs ~1/3 more CPU per request
# with OpenBLAS threads). Set before numpy is imported; an explicit setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections.abc import Mapping
from pathlib import Path

from flask import Flask

import webmap
from webmap import config as webconfig

WEBMAP_DIR = Path(webmap.__file__).resolve().parent


def create_app(config: Mapping | None = None) -> Flask:
    """Build the app.

    Parameters
    ----------
    config : mapping, optional
        Settings that override the defaults (tests pass ``{"TESTING": True, "YIZHAN_DB": ...}``).
        When given, ``instance/config.py`` is not read, so tests never see a developer's file.

    Returns
    -------
    Flask
        With one :class:`planner.workspace.Workspace` in ``app.extensions["yizhan"]``; a
        missing registry is created and seeded from the embedded data.

    Raises
    ------
    RuntimeError
        Outside tests, when no secret key is configured (see :mod:`webmap.config`).
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(WEBMAP_DIR / "static"),
        template_folder=str(WEBMAP_DIR / "templates"),
    )
    app.config.from_mapping(webconfig.defaults())
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(config)
    app.config["SECRET_KEY"] = webconfig.resolve_secret_key(app.config, app.instance_path)
    if config is None:  # a served app logs request lines at INFO unless $YIZHAN_LOG_LEVEL says otherwise
        from planner import log as yizhan_log

        yizhan_log.configure(default="INFO")
    # tiles are off unless configured; a configured layer always carries its attribution
    app.config["TILES_ATTR"] = webconfig.tiles_attribution(app.config.get("TILES"), app.config.get("TILES_ATTR"))
    webmap.init_app(app)
    return app
