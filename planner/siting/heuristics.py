"""Vectorised p-median heuristics: accelerated greedy and fast interchange.

All functions work on a *reduced* problem in which weights are already folded into the
matrix and the fixed (forced-open) columns have been folded into a per-row floor:

``wc[i, j]``
    weighted cost of serving row i from free column j, already clipped to ``floor[i]``;
``floor[i]``
    weighted cost of row i at its nearest fixed column (a big number when there is none).

The cost of an open set S of free columns is ``sum_i min(floor[i], min_{j in S} wc[i, j])``.

References
----------
Whitaker (1983), "A fast algorithm for the greedy interchange for large-scale clustering
and median location problems", INFOR 21(2). Resende & Werneck (2007), "A fast swap-based
local search procedure for location problems", Annals of OR 150. Minoux (1978) for the
lazy ("accelerated") greedy.
"""

from __future__ import annotations

import heapq
import time

import numpy as np


def solution_cost(wc: np.ndarray, floor: np.ndarray, open_cols: np.ndarray) -> float:
    """Total cost of the open free columns ``open_cols``."""
    if len(open_cols) == 0:
        return float(floor.sum())
    return float(np.minimum(wc[:, open_cols].min(axis=1), floor).sum())


def greedy(wc: np.ndarray, floor: np.ndarray, p: int, *, wct: np.ndarray | None = None) -> np.ndarray:
    """Greedy (add the column with the largest saving, p times), evaluated lazily.

    The saving of a column only shrinks as others open (the p-median cost is
    supermodular), so stale savings are valid upper bounds: pop the best, refresh it,
    accept it if it still beats the next stale value (Minoux's accelerated greedy).
    """
    n, m = wc.shape
    if wct is None:
        wct = np.ascontiguousarray(wc.T)
    d = floor.copy()
    # Exact first round; saving relative to the floor.
    savings = np.maximum(d[:, None] - wc, 0.0).sum(axis=0)
    heap = [(-float(s), int(j)) for j, s in enumerate(savings)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while len(chosen) < p and heap:
        _, j = heapq.heappop(heap)
        s = float(np.maximum(d - wct[j], 0.0).sum())
        if not heap or s >= -heap[0][0] - 1e-12 * max(1.0, abs(s)):
            chosen.append(j)
            np.minimum(d, wct[j], out=d)
        else:
            heapq.heappush(heap, (-s, j))
    return np.array(sorted(chosen), dtype=np.int64)


class _SwapState:
    """Incremental gain/loss/extra bookkeeping of Resende & Werneck's fast swap search."""

    def __init__(self, wc: np.ndarray, floor: np.ndarray, open_cols: np.ndarray):
        self.wc = wc
        self.floor = floor
        n, m = wc.shape
        self.n, self.m = n, m
        self.p = p = len(open_cols)
        self.open_list = np.array(open_cols, dtype=np.int64)  # slot -> column
        self.is_open = np.zeros(m, dtype=bool)
        self.is_open[self.open_list] = True
        self.slot = np.full(m, -1, dtype=np.int64)
        self.slot[self.open_list] = np.arange(p)
        self.phi1 = np.empty(n, dtype=np.int64)
        self.phi2 = np.empty(n, dtype=np.int64)
        self.d1 = np.empty(n)
        self.d2 = np.empty(n)
        self.gain = np.zeros(m)
        self.loss = np.zeros(m)
        self.extra = np.zeros((m, p))
        rows = np.arange(n)
        self._nearest_two(rows)
        self._accumulate(rows, 1.0)
        self.cost = float(self.d1.sum())

    def _nearest_two(self, rows: np.ndarray) -> None:
        sub = self.wc[np.ix_(rows, self.open_list)]
        k = len(rows)
        fl = self.floor[rows]
        if self.p >= 2:
            part = np.argpartition(sub, 1, axis=1)[:, :2]
            ar = np.arange(k)
            a = sub[ar, part[:, 0]]
            b = sub[ar, part[:, 1]]
            flip = b < a
            s1 = np.where(flip, part[:, 1], part[:, 0])
            s2 = np.where(flip, part[:, 0], part[:, 1])
            d1 = np.minimum(a, b)
            d2 = np.maximum(a, b)
            phi2 = self.open_list[s2]
        else:
            s1 = np.zeros(k, dtype=np.int64)
            d1 = sub[:, 0]
            d2 = np.full(k, np.inf)
            phi2 = np.full(k, -1, dtype=np.int64)
        over = d2 >= fl
        d2 = np.where(over, fl, d2)
        phi2 = np.where(over, -1, phi2)
        self.phi1[rows] = self.open_list[s1]
        self.d1[rows] = d1
        self.phi2[rows] = phi2
        self.d2[rows] = d2

    def _accumulate(self, rows: np.ndarray, sign: float) -> None:
        if len(rows) == 0:
            return
        sub = self.wc[rows]
        d1 = self.d1[rows]
        d2 = self.d2[rows]
        ph = self.phi1[rows]
        self.gain += sign * np.maximum(d1[:, None] - sub, 0.0).sum(axis=0)
        self.loss += sign * np.bincount(ph, weights=d2 - d1, minlength=self.m)
        ii, jj = np.nonzero(sub < d2[:, None])
        if len(ii):
            vals = d2[ii] - np.maximum(sub[ii, jj], d1[ii])
            flat = jj * self.p + self.slot[ph[ii]]
            self.extra += (sign * np.bincount(flat, weights=vals, minlength=self.m * self.p)).reshape(self.m, self.p)

    def best_swap(self) -> tuple[float, int, int]:
        profit = self.extra + self.gain[:, None]
        profit -= self.loss[self.open_list][None, :]
        profit[self.is_open, :] = -np.inf
        k = int(np.argmax(profit))
        j_in, s_out = divmod(k, self.p)
        return float(profit[j_in, s_out]), j_in, s_out

    def swap(self, j_in: int, s_out: int) -> None:
        r_out = int(self.open_list[s_out])
        rows = np.nonzero((self.phi1 == r_out) | (self.phi2 == r_out) | (self.wc[:, j_in] < self.d2))[0]
        self._accumulate(rows, -1.0)
        # Every row served by r_out was just removed: clear the rounding residue.
        self.extra[:, s_out] = 0.0
        self.loss[r_out] = 0.0
        self.is_open[r_out] = False
        self.is_open[j_in] = True
        self.open_list[s_out] = j_in
        self.slot[r_out] = -1
        self.slot[j_in] = s_out
        self._nearest_two(rows)
        self._accumulate(rows, 1.0)

    def refresh(self) -> None:
        """Recompute everything from scratch (removes accumulated rounding)."""
        rows = np.arange(self.n)
        self.gain[:] = 0.0
        self.loss[:] = 0.0
        self.extra[:] = 0.0
        self._nearest_two(rows)
        self._accumulate(rows, 1.0)
        self.cost = float(self.d1.sum())


def fast_interchange(
    wc: np.ndarray,
    floor: np.ndarray,
    open_cols: np.ndarray,
    *,
    deadline: float | None = None,
    max_swaps: int | None = None,
) -> tuple[np.ndarray, float, int]:
    """Best-improvement swap local search (Whitaker's fast interchange, Resende-Werneck
    bookkeeping). Returns (open columns sorted, cost, number of swaps)."""
    p = len(open_cols)
    m = wc.shape[1]
    if p == 0 or p >= m:
        return np.sort(np.asarray(open_cols, dtype=np.int64)), solution_cost(wc, floor, np.asarray(open_cols)), 0
    state = _SwapState(wc, floor, open_cols)
    tol = 1e-10 * max(1.0, abs(state.cost))
    swaps = 0
    while max_swaps is None or swaps < max_swaps:
        if deadline is not None and time.perf_counter() > deadline:
            break
        profit, j_in, s_out = state.best_swap()
        if profit <= tol:
            if swaps == 0:
                break
            # Confirm with fresh bookkeeping (no accumulated rounding) before stopping.
            state.refresh()
            profit, j_in, s_out = state.best_swap()
            if profit <= tol:
                break
        state.swap(j_in, s_out)
        swaps += 1
        if swaps % 200 == 0:
            state.refresh()
    open_sorted = np.sort(state.open_list)
    return open_sorted, solution_cost(wc, floor, open_sorted), swaps
