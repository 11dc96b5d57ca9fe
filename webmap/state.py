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
            self._cache[key] = (generation, value)
        return value


def get_state() -> AppState:
    return current_app.extensions[EXTENSION]


def get_workspace():
    """The app's :class:`planner.workspace.Workspace`."""
    return get_state().workspace
