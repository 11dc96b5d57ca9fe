"""The one result type every siting model returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SitingResult:
    """Outcome of a siting model.

    Attributes
    ----------
    selected : list of int
        Sorted column (candidate) indices that are open, *including* the ``fixed`` ones.
    objective : float
        Value of the model's objective for ``selected``, recomputed from the input
        matrix (never a solver's internal number): total weighted cost for p-median,
        covered weight for MCLP, number of columns beyond ``fixed`` for LSCP.
    lower_bound : float or None
        For the *minimisation* models (p-median, LSCP): a proven lower bound on the
        optimal objective; ``None`` when no bound was computed. For MCLP (a
        maximisation) it is always ``None``; the proven upper bound is in
        ``extra["upper_bound"]``.
    optimal : bool
        True only when ``selected`` is proven optimal (within ``extra["tolerance"]``).
    gap : float or None
        Relative optimality gap ``|bound - objective| / max(|objective|, 1e-12)`` where
        bound is ``lower_bound`` (minimisation) or ``extra["upper_bound"]``
        (maximisation); 0 when optimal, ``None`` when there is no bound.
    method : str
        Which path produced the answer, e.g. ``"lagrangian+mip"`` or ``"heuristic"``.
    runtime_s : float
        Wall-clock seconds spent in the solver call.
    extra : dict
        Model-specific details (bounds, sizes, timings, tolerances); see each solver.
    """

    selected: list[int]
    objective: float
    lower_bound: float | None
    optimal: bool
    gap: float | None
    method: str
    runtime_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats become ``None``)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value

        return clean(
            {
                "selected": list(self.selected),
                "objective": self.objective,
                "lower_bound": self.lower_bound,
                "optimal": self.optimal,
                "gap": self.gap,
                "method": self.method,
                "runtime_s": self.runtime_s,
                "extra": dict(self.extra),
            }
        )


def relative_gap(objective: float, bound: float | None) -> float | None:
    """``|bound - objective| / max(|objective|, 1e-12)``, or None without a bound."""
    if bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-12)
