"""Per-app state: the one :class:`~planner.workspace.Workspace` and small render caches.

Caches key on the registry's generation (it grows on every write), so a saved edit
shows on the next page load; nothing is cached across generations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app

EXTENSION = "yizhan"


class AppState:
    """What one app holds: its workspace and a small generation-keyed cache."""

    #: Most entries kept (pages, coverage per radius, suggestions per parameters); the
    #: oldest goes first, so query parameters cannot grow memory without bound.
    MAX_ENTRIES = 64

    def __init__(self, workspace):
        self.workspace = workspace
        self._lock = threading.Lock()
        self._cache: dict[Hashable, tuple[int, Any]] = {}

    def cached(self, key: Hashable, build: Callable[[], Any], *, generation: int = 0) -> Any:
        """``build()`` once per (key, generation); older generations are dropped."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        value = build()
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = (generation, value)
            while len(self._cache) > self.MAX_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
        return value

    def forget(self, key: Hashable) -> None:
        """Drop ``key`` (e.g. a page built while one of its parts failed)."""
        with self._lock:
            self._cache.pop(key, None)


def get_state() -> AppState:
    return current_app.extensions[EXTENSION]


def get_workspace():
    """The app's :class:`planner.workspace.Workspace`."""
    return get_state().workspace
