"""Siting models: p-median, maximal covering (MCLP) and location set covering (LSCP).

Every model takes a dense cost matrix (rows = demand points, columns = candidate sites,
any non-negative unit; ``np.inf`` = unreachable) and returns a :class:`SitingResult`.
Existing stations are passed as ``fixed`` column indices; for p-median and MCLP ``p``
is the TOTAL number of open columns *including* the fixed ones (``len(fixed) + k``).

>>> import numpy as np
>>> from planner.siting import solve_p_median
>>> cost = np.array([[0.0, 4.0, 9.0], [4.0, 0.0, 5.0], [9.0, 5.0, 0.0]])
>>> solve_p_median(cost, 1).selected
[1]
"""

from planner.siting._result import SitingResult
from planner.siting.coverage import solve_lscp, solve_mclp
from planner.siting.p_median import objective_value, solve_p_median

__all__ = ["SitingResult", "objective_value", "solve_lscp", "solve_mclp", "solve_p_median"]
