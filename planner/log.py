"""Logging set-up shared by the CLI and the web app (standard :mod:`logging`, stderr).

Modules log through ``logging.getLogger(__name__)`` and never configure handlers themselves;
the entry points call :func:`configure`. The level comes from the caller (``-v``/``-q`` on the
CLI), else ``$YIZHAN_LOG_LEVEL`` (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``), else the
entry point's default. An operator who wants more (JSON lines, files, syslog) configures the
``yizhan``/``planner``/``webmap`` loggers with :func:`logging.config.dictConfig` instead.
"""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level_from_env(default: str = "WARNING") -> str:
    """``$YIZHAN_LOG_LEVEL`` if it names a level, else ``default``."""
    value = os.environ.get("YIZHAN_LOG_LEVEL", "").strip().upper()
    return value if value in _LEVELS else default


def configure(level: str | int | None = None, *, default: str = "WARNING") -> None:
    """Send our loggers' records to stderr at ``level`` (see the module docstring).

    Leaves an already configured root logger alone (a host application, pytest's capture),
    apart from setting our loggers' level.
    """
    if level is None:
        level = level_from_env(default)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    for name in ("planner", "webmap", "geodata", "yizhan"):
        logging.getLogger(name).setLevel(level)
