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
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level_from_env(default: str = "WARNING") -> str:
    """``$YIZHAN_LOG_LEVEL`` if it names a level, else ``default``."""
    value = os.environ.get("YIZHAN_LOG_LEVEL", "").strip().upper()
    return value if value in _LEVELS else default


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (redirections included)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores it
        pass


def configure(level: str | int | None = None, *, default: str = "WARNING") -> None:
    """Send our loggers' records to stderr at ``level`` (see the module docstring).

    One handler on each of our top-level loggers (added once), so a host application's root
    configuration is left alone; records still propagate to the root for it (and pytest).
    """
    if level is None:
        level = level_from_env(default)
    for name in ("planner", "webmap", "geodata", "yizhan"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            logger.addHandler(_StderrHandler())
