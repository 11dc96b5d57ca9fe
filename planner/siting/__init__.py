"""Siting models: p-median, maximal covering (MCLP), location set covering (LSCP) and the
flow-refuelling location model (FRLM) for charging sites on round trips.

The matrix models take a dense cost matrix (rows = demand points, columns = candidate
sites, any non-negative unit; ``np.inf`` = unreachable) and return a :class:`SitingResult`.
Existing stations are passed as ``fixed`` column indices; for p-median and MCLP ``p``
is the TOTAL number of open columns *including* the fixed ones (``len(fixed) + k``).
The FRLM (:func:`solve_frlm`) takes a networkx graph and origin-destination flows, and
counts ``p`` the same way (existing sites included).

>>> import numpy as np
>>> from planner.siting import solve_p_median
>>> cost = np.array([[0.0, 4.0, 9.0], [4.0, 0.0, 5.0], [9.0, 5.0, 0.0]])
>>> solve_p_median(cost, 1).selected
[1]
"""

from planner.siting._result import SitingResult
from planner.siting.covering import solve_lscp, solve_mclp
from planner.siting.frlm import (
    FrlmInstance,
    FrlmResult,
    charging_stops,
    max_gap_check,
    shortest_paths,
    solve_frlm,
    solve_frlm_cover,
)
from planner.siting.p_median import objective_value, solve_p_median

__all__ = [
    "FrlmInstance",
    "FrlmResult",
    "SitingResult",
    "charging_stops",
    "max_gap_check",
    "objective_value",
    "shortest_paths",
    "solve_frlm",
    "solve_frlm_cover",
    "solve_lscp",
    "solve_mclp",
    "solve_p_median",
]
