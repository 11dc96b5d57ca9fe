"""Lagrangian lower bound for the (reduced) p-median problem and reduced-cost tests.

Problem (see :mod:`planner.siting.heuristics` for the reduction): rows i with a floor
``floor[i]`` (cost at the nearest forced-open column, or a big number), free columns j
with costs ``wc[i, j] <= floor[i]``; open exactly ``p`` free columns; row i pays
``min(floor[i], min_{j open} wc[i, j])``. Functions here take the TRANSPOSE
``ct = wc.T`` (columns x rows, C-contiguous): every inner loop then runs along contiguous
memory, about twice as fast as the row-major layout.

Relaxing the assignment rows ``sum_j x_ij = 1`` with multipliers ``lam`` gives

    L(lam) = sum_i lam_i + sum of the p smallest rho_j,
    rho_j  = sum_i min(0, wc[i, j] - lam_i),      lam_i <= floor[i],

a valid lower bound for every ``lam`` (Cornuejols, Fisher & Nemhauser 1977); its maximum
equals the LP relaxation bound. For any solution S of cost z,

    z >= L(lam) + sum_i max(0, c_i(S) - lam_i) + sum_{j in S} max(0, rho_j - rho_(p)),

which gives the reduced-cost tests used to drop columns and (row, column) pairs that
cannot be part of a solution cheaper than a target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Subgradient:
    """Result of :func:`subgradient`."""

    bound: float  # best L(lam) found
    lam: np.ndarray  # its multipliers
    rho: np.ndarray  # rho at those multipliers
    ybar: np.ndarray  # exponentially averaged Lagrangian open indicator (≈ LP y)
    iterations: int
    chosen: np.ndarray  # Lagrangian open set at the best multipliers


def evaluate(ct: np.ndarray, floor: np.ndarray, p: int, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``L(lam)`` (lam is clipped to the floor), ``rho`` and the chosen columns."""
    lam = np.minimum(lam, floor)
    # Mixed float32/float64 promotes to float64: exact sums of the stored costs.
    rho = np.minimum(ct, lam).sum(axis=1) - lam.sum()
    m = ct.shape[0]
    chosen = np.argpartition(rho, p - 1)[:p] if p < m else np.arange(m)
    return float(lam.sum() + rho[chosen].sum()), rho, chosen


def subgradient(
    ct: np.ndarray,
    floor: np.ndarray,
    p: int,
    lam0: np.ndarray,
    *,
    upper: float,
    target: float,
    max_iter: int,
    f0: float = 2.0,
    patience: int = 20,
    f_min: float = 5e-4,
    deadline: float | None = None,
    on_primal=None,
    primal_every: int = 25,
) -> Subgradient:
    """Maximise ``L(lam)`` by subgradient steps (Polyak step towards ``upper``).

    ``ct`` may be float32 (iterations then run at single precision, twice as fast);
    the returned bound is always re-evaluated exactly (float64 sums) at the best
    multipliers, so it is valid for the costs stored in ``ct``.

    ``f`` halves after ``patience`` non-improving iterations (and the multipliers restart
    from the best); stops when the bound reaches ``target`` (nothing below the target
    can exist), when ``f < f_min``, after ``max_iter`` iterations or at the deadline.
    ``on_primal(chosen)`` may be called with the Lagrangian's open set; it returns the
    (possibly improved) upper bound and target as a tuple.
    """
    m, n = ct.shape
    dtype = ct.dtype
    floor64 = np.asarray(floor, dtype=np.float64)
    lam = np.minimum(np.asarray(lam0, dtype=np.float64), floor64)
    buf = np.empty_like(ct)
    best = -np.inf
    best_lam = lam
    ysum = np.zeros(m)
    weight = 0.0
    f = f0
    since = 0
    it = 0
    # Leave room for the rounding of single-precision sums before declaring success.
    slop = 0.0 if dtype == np.float64 else 1e-5 * (abs(upper) + 1.0)
    for it in range(1, max_iter + 1):
        lam_c = lam.astype(dtype, copy=False)
        # sum_i min(0, c_ij - lam_i) = sum_i min(c_ij, lam_i) - sum_i lam_i
        np.minimum(ct, lam_c, out=buf)
        lam_sum = float(lam.sum())
        rho = buf.sum(axis=1, dtype=np.float64) - lam_sum
        chosen = np.argpartition(rho, p - 1)[:p] if p < m else np.arange(m)
        value = lam_sum + float(rho[chosen].sum())
        ysum *= 0.9
        ysum[chosen] += 1.0
        weight = 0.9 * weight + 1.0
        if value > best:
            if value - best > 1e-9 * max(1.0, abs(value)):
                since = 0
            else:
                since += 1
            best, best_lam = value, lam
        else:
            since += 1
        if since >= patience:
            f *= 0.5
            since = 0
            lam = best_lam
        if best >= target + slop or f < f_min:
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        if on_primal is not None and it % primal_every == 0:
            upper, target = on_primal(np.sort(chosen))
            if best >= target + slop:
                break
        g = 1.0 - (ct[chosen] < lam_c).sum(axis=0)
        # Multipliers at the floor cannot usefully rise.
        g[(lam >= floor64) & (g > 0)] = 0.0
        norm2 = float(g @ g)
        if norm2 == 0.0:
            break  # lam is optimal for the relaxation
        step = f * (max(upper, target) - value) / norm2
        if step <= 0:
            step = f * max(1e-6 * abs(value), 1e-9) / norm2
        lam = np.minimum(lam + step * g, floor64)
    ybar = ysum / weight if weight > 0 else ysum
    bound, rho, chosen = evaluate(ct, floor64, p, best_lam)
    return Subgradient(bound, best_lam, rho, ybar, it, chosen)


@dataclass
class Reduction:
    """Outcome of the reduced-cost tests at multipliers ``lam``."""

    slack: float  # target - L: how much room is left
    col_alive: np.ndarray  # bool (m,): may be open in a solution below target
    force_open: np.ndarray  # bool (m,): must be open in every solution below target
    pair_dead: np.ndarray  # bool (m, n): column j cannot serve row i below target
    slack_ok: np.ndarray  # bool (n,): row i may be served at its floor below target
    infeasible: bool  # some row has no usable option: nothing below target exists


def reduce(ct: np.ndarray, floor: np.ndarray, p: int, lam: np.ndarray, rho: np.ndarray, bound: float, target: float) -> Reduction:
    """Reduced-cost fixing of columns and (row, column) pairs against ``target``.

    ``pair_dead`` is returned in the layout of ``ct`` (columns x rows).
    """
    lam = np.minimum(lam, floor)
    m = ct.shape[0]
    slack = target - bound
    order = np.argsort(rho, kind="stable")
    rho_p = rho[order[p - 1]]
    delta = np.maximum(rho - rho_p, 0.0)
    col_alive = delta <= slack
    force_open = np.zeros(m, dtype=bool)
    if p < m:
        rho_p1 = rho[order[p]]
        top = order[:p]
        force_open[top[(rho_p1 - rho[top]) > slack]] = True
    pair_dead = (np.maximum(ct - lam, 0.0) + delta[:, None]) > slack
    pair_dead |= ~col_alive[:, None]
    slack_ok = np.maximum(floor - lam, 0.0) <= slack
    usable = ~pair_dead & (ct < floor)
    infeasible = bool(np.any(~usable.any(axis=0) & ~slack_ok)) or int(col_alive.sum()) < p
    return Reduction(slack, col_alive, force_open, pair_dead, slack_ok, infeasible)
