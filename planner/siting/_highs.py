"""Thin wrapper over ``highspy`` for the siting MIPs.

Models are passed whole as compressed sparse column arrays (one ``passModel`` call), never
built row by row from Python.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import numpy as np

import highspy

_BANNER_LOCK = threading.Lock()
_BANNER_DONE = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance.

    The HiGHS C++ library prints a copyright banner on stdout the first time an instance
    is made in a process, before any option can be set. That would corrupt
    ``--json`` output, so the first construction runs with file descriptor 1 pointed at
    stderr.
    """
    global _BANNER_DONE
    with _BANNER_LOCK:
        if not _BANNER_DONE:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                os.dup2(2, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _BANNER_DONE = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    return h


@dataclass
class MipOutcome:
    """What came back from HiGHS."""

    status: str  # "optimal", "infeasible", "time_limit", or HiGHS's own status string
    x: np.ndarray | None  # primal values when a feasible solution exists
    objective: float | None  # objective of x (model sense)
    dual_bound: float | None  # proven bound (lower for min, upper for max)
    runtime_s: float
    nodes: int


def solve_mip(
    *,
    col_cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    integrality: np.ndarray,
    a_start: np.ndarray,
    a_index: np.ndarray,
    a_value: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    maximize: bool = False,
    offset: float = 0.0,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 0.0,
    mip_abs_gap: float = 1e-9,
    start: np.ndarray | None = None,
    objective_bound: float | None = None,
    extra_options: dict | None = None,
) -> MipOutcome:
    """Solve one MIP given column-wise (CSC) arrays.

    ``objective_bound`` (minimisation only) tells HiGHS to ignore solutions with an
    objective above it, which prunes the tree when an incumbent is already known.
    """
    num_col = int(col_cost.shape[0])
    num_row = int(row_lower.shape[0])
    h = new_highs()
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    for key, value in (extra_options or {}).items():
        h.setOptionValue(key, value)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    if objective_bound is not None and not maximize:
        h.setOptionValue("objective_bound", float(objective_bound))
    status = h.passModel(
        num_col,
        num_row,
        int(a_value.shape[0]),
        1,  # MatrixFormat::kColwise
        -1 if maximize else 1,
        float(offset),
        np.ascontiguousarray(col_cost, dtype=np.float64),
        np.ascontiguousarray(col_lower, dtype=np.float64),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(row_lower, dtype=np.float64),
        np.ascontiguousarray(row_upper, dtype=np.float64),
        np.ascontiguousarray(a_start, dtype=np.int32),
        np.ascontiguousarray(a_index, dtype=np.int32),
        np.ascontiguousarray(a_value, dtype=np.float64),
        np.ascontiguousarray(integrality, dtype=np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the siting model (passModel returned an error)")
    if start is not None:
        idx = np.arange(num_col, dtype=np.int32)
        h.setSolution(num_col, idx, np.ascontiguousarray(start, dtype=np.float64))
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        name = "optimal"
    elif model_status == ms.kInfeasible:
        name = "infeasible"
    elif model_status == ms.kTimeLimit:
        name = "time_limit"
    elif model_status == ms.kObjectiveBound:
        name = "objective_bound"
    else:
        name = h.modelStatusToString(model_status)
    x = None
    objective = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        objective = float(info.objective_function_value)
    dual = float(info.mip_dual_bound)
    if not np.isfinite(dual):
        dual = None
    return MipOutcome(
        status=name,
        x=x,
        objective=objective,
        dual_bound=dual,
        runtime_s=float(h.getRunTime()),
        nodes=int(info.mip_node_count),
    )


def csc_from_coo(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, num_col: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise (start, index, value) arrays from coordinate triplets."""
    order = np.lexsort((rows, cols))
    cols_sorted = cols[order]
    start = np.zeros(num_col + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols_sorted, minlength=num_col), out=start[1:])
    return start.astype(np.int32), rows[order].astype(np.int32), vals[order].astype(np.float64)
