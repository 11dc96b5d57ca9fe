"""Argument checks shared by the siting models.

Every check raises :class:`planner.errors.InputError` (or ``InfeasibleError``) with the
offending numbers in the message and the argument name in ``fields``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from planner.errors import InfeasibleError, InputError


def cost_matrix(cost: Any, *, allow_inf: bool, name: str = "cost") -> np.ndarray:
    """Return ``cost`` as a C-contiguous float64 (n_demand x n_candidates) array.

    NaN, negative values and -inf are always rejected; +inf only when ``allow_inf``.
    """
    try:
        arr = np.asarray(cost, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be a numeric 2-D array (n_demand x n_candidates); could not convert it: {exc}",
            fields={name: "numeric 2-D array"},
        ) from exc
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_demand x n_candidates); got {arr.ndim}-D with shape {arr.shape}",
            fields={name: "2-D array"},
        )
    n_rows, n_cols = arr.shape
    if n_rows == 0:
        raise InputError(
            f"{name} has no demand rows (shape {arr.shape}); pass at least one demand point",
            fields={name: "at least one demand row"},
        )
    if n_cols == 0:
        raise InputError(
            f"{name} has no candidate columns (shape {arr.shape}); pass at least one candidate site",
            fields={name: "at least one candidate column"},
        )
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise InputError(
            f"{name} contains {n_nan} NaN value(s) (first at row/column "
            f"{tuple(int(v) for v in np.argwhere(np.isnan(arr))[0])}); use np.inf for unreachable pairs",
            fields={name: "no NaN"},
        )
    n_neg_inf = int(np.isneginf(arr).sum())
    if n_neg_inf:
        raise InputError(f"{name} contains {n_neg_inf} -inf value(s); costs must be >= 0", fields={name: ">= 0"})
    n_neg = int((arr < 0).sum())
    if n_neg:
        raise InputError(
            f"{name} contains {n_neg} negative value(s) (smallest {float(arr.min())!r}); costs are distances or "
            "times and must be >= 0",
            fields={name: ">= 0"},
        )
    if not allow_inf:
        n_inf = int(np.isinf(arr).sum())
        if n_inf:
            raise InputError(
                f"{name} contains {n_inf} infinite value(s); this model needs finite costs",
                fields={name: "finite"},
            )
    return np.ascontiguousarray(arr)


def weights_vector(weights: Any, n_rows: int) -> np.ndarray:
    """Return demand weights as float64 of shape (n_rows,); None means all ones."""
    if weights is None:
        return np.ones(n_rows)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"weights must be numeric; could not convert them: {exc}", fields={"weights": "numeric"}) from exc
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise InputError(
            f"weights must have shape ({n_rows},), one per demand row of cost; got shape {w.shape}",
            fields={"weights": f"shape ({n_rows},)"},
        )
    n_bad = int((~np.isfinite(w)).sum())
    if n_bad:
        raise InputError(f"weights contain {n_bad} non-finite value(s); weights must be finite", fields={"weights": "finite"})
    n_neg = int((w < 0).sum())
    if n_neg:
        raise InputError(
            f"weights contain {n_neg} negative value(s) (smallest {float(w.min())!r}); weights must be >= 0",
            fields={"weights": ">= 0"},
        )
    return np.ascontiguousarray(w)


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer; got {value!r} ({type(value).__name__})", fields={name: "integer"})
    return int(value)


def fixed_columns(fixed: Any, n_cols: int) -> np.ndarray:
    """Return the forced-open columns as a sorted int64 array (empty for None)."""
    if fixed is None:
        return np.zeros(0, dtype=np.int64)
    values = list(np.asarray(fixed).ravel()) if not isinstance(fixed, (list, tuple)) else list(fixed)
    ints = [_as_int(v.item() if isinstance(v, np.generic) else v, "fixed") for v in values]
    bad = [v for v in ints if v < 0 or v >= n_cols]
    if bad:
        raise InputError(
            f"fixed holds column index(es) {bad[:10]} outside 0..{n_cols - 1} (cost has {n_cols} columns)",
            fields={"fixed": f"indices in 0..{n_cols - 1}"},
        )
    arr = np.array(sorted(ints), dtype=np.int64)
    dup = sorted({int(v) for v in arr[1:][arr[1:] == arr[:-1]]})
    if dup:
        raise InputError(f"fixed repeats column index(es) {dup[:10]}; list each column once", fields={"fixed": "unique"})
    return arr


def count_p(p: Any, n_cols: int, n_fixed: int) -> int:
    """Check the total number of open columns ``p`` (fixed ones included)."""
    p = _as_int(p, "p")
    if p <= 0:
        raise InputError(f"p must be >= 1 (total number of open sites, fixed included); got p={p}", fields={"p": ">= 1"})
    if p > n_cols:
        raise InfeasibleError(
            f"p={p} exceeds the {n_cols} candidate columns; pass p <= {n_cols}",
            fields={"p": f"<= {n_cols}"},
        )
    if p < n_fixed:
        raise InfeasibleError(
            f"p={p} is smaller than the {n_fixed} fixed (existing) columns; p counts fixed columns too, "
            f"so pass p = {n_fixed} + number of new sites",
            fields={"p": f">= {n_fixed}"},
        )
    return p


def p_model(cost: Any, weights: Any, fixed: Any, p: Any, time_limit_s: Any, method: Any, allowed: tuple[str, ...]):
    """The arguments the p-models (p-median, MCLP) share, checked in one order.

    Returns ``(C, w, fixed_idx, p, limit, method)``: the cost matrix (``inf`` allowed), the
    row weights, the sorted fixed columns, ``p`` (fixed columns included), the time limit
    in seconds (None = none) and the method name.
    """
    C = cost_matrix(cost, allow_inf=True)
    n_rows, n_cols = C.shape
    w = weights_vector(weights, n_rows)
    fixed_idx = fixed_columns(fixed, n_cols)
    p = count_p(p, n_cols, len(fixed_idx))
    return C, w, fixed_idx, p, time_limit(time_limit_s), method_name(method, allowed)


def radius_value(radius: Any) -> float:
    """Check a coverage radius (same unit as the cost matrix)."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise InputError(f"radius must be a number; got {radius!r}", fields={"radius": "number > 0"})
    r = float(radius)
    if not math.isfinite(r) or r <= 0:
        raise InputError(f"radius must be finite and > 0; got {r!r}", fields={"radius": "finite > 0"})
    return r


def time_limit(value: Any) -> float | None:
    """Check ``time_limit_s`` (None = no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"time_limit_s must be a number of seconds or None; got {value!r}", fields={"time_limit_s": "> 0"})
    t = float(value)
    if not (t > 0) or math.isnan(t):
        raise InputError(f"time_limit_s must be > 0 seconds; got {t!r}", fields={"time_limit_s": "> 0"})
    return t if math.isfinite(t) else None


def method_name(method: Any, allowed: tuple[str, ...]) -> str:
    """Check a ``method`` option against the allowed names."""
    if method not in allowed:
        raise InputError(f"method must be one of {list(allowed)}; got {method!r}", fields={"method": "|".join(allowed)})
    return str(method)
