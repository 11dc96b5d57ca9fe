"""Exact p-median by Lagrangian branch-and-bound (numpy).

Each node of the tree is a reduced p-median problem (same form as in
:mod:`planner.siting.lagrangian`): some columns forced open (folded into the row floors),
some closed (removed), some (row, column) pairs proven useless (their cost raised). At a
node we

1. drop rows that no remaining column can improve (their cost is a constant);
2. maximise the Lagrangian bound by subgradient steps, warm-started from the parent;
3. prune when the bound reaches the target (the incumbent minus the tolerance);
4. apply the reduced-cost tests: close columns, force columns open, kill pairs; when that
   shrinks the problem a lot, go back to 2 (the bound of the smaller problem is higher);
5. branch on the column whose averaged Lagrangian open indicator (an estimate of its LP
   value) is closest to 1/2: first the child where it is open, then the one where it is
   closed (depth first).

Every Lagrangian open set met on the way is evaluated on the original costs and, when it
improves the incumbent, polished with the fast interchange. The search is exact: when the
stack empties, the incumbent is optimal (within the tolerance). Stopped early, the bound
reported is the smallest bound among the nodes not yet explored.

Node matrices are stored in single precision, rounded *down* from the double-precision
costs, so every node problem is a relaxation of the true one and its bounds stay valid;
bounds are always summed in double precision, and candidate solutions are evaluated on the
original costs.

This is the Lagrangian tree search of Beasley (1985, 1993) with the reduction tests of
the p-median literature. It replaces a general MIP solver for the final proof because the
LP relaxation of pmed-like instances with small p has gaps of ~1 %, which a MIP solver's
root cut loop handles slowly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from planner.siting import heuristics as H
from planner.siting import lagrangian as LG


def round_down_f32(a: np.ndarray) -> np.ndarray:
    """Single-precision copy with every value <= the original (a relaxation)."""
    b = a.astype(np.float32)
    up = b.astype(np.float64) > a
    if up.any():
        b[up] = np.nextafter(b[up], np.float32(-np.inf))
    return b


@dataclass
class _Node:
    ct: np.ndarray  # parent's costs (columns x rows), float32; see drop/open_col
    floor: np.ndarray  # float32 floors of the parent
    p: int
    lam: np.ndarray
    off: float  # cost of rows already dropped as constant
    cols: np.ndarray  # root column ids of ct's rows
    opened: list[int]  # root column ids forced open on the way here
    bound: float  # bound of the parent (absolute), for pruning when the target moves
    depth: int = 0
    rows: np.ndarray | None = None  # root row ids of ct's columns
    drop: int = -1  # column (row of ct) to remove when the node is expanded
    open_col: bool = False  # ... and to force open instead of closing it

    def materialize(self):
        ct, floor, lam, cols, opened, p = self.ct, self.floor, self.lam, self.cols, self.opened, self.p
        if self.drop >= 0:
            j = self.drop
            keep = np.ones(ct.shape[0], dtype=bool)
            keep[j] = False
            if self.open_col:
                floor = np.minimum(floor, ct[j])
                child = ct[keep]
                np.minimum(child, floor, out=child)
                lam = np.minimum(lam, floor)
                opened = opened + [int(cols[j])]
                p -= 1
                ct = child
            else:
                ct = ct[keep]
            cols = cols[keep]
        return ct, floor, p, lam, self.off, cols, list(opened), self.rows


@dataclass
class RootState:
    """The root problem after its reductions, handed to ``root_hook``."""

    ct: np.ndarray  # float32 costs (columns x rows), dead pairs raised to the floor
    floor: np.ndarray  # float32 floors (big where a row must be served by a column)
    p: int  # columns still to open
    off: float  # constant cost of the rows already dropped
    cols: np.ndarray  # root column ids of ct's rows
    opened: list  # root column ids forced open
    rows: np.ndarray  # root row ids of ct's columns
    bound: float  # Lagrangian bound of the root (absolute)
    target: float  # only solutions below this matter


@dataclass
class TreeStats:
    nodes: int = 0
    pruned: int = 0
    leaves: int = 0
    iterations: int = 0
    max_depth: int = 0
    polishes: int = 0
    improvements: list = field(default_factory=list)


class LagrangianBranchAndBound:
    """Search for a solution below ``best_cost - tolerance`` or prove there is none.

    Parameters
    ----------
    wc, floor : reduced problem (see :mod:`planner.siting.lagrangian`), float64.
    p : number of free columns to open.
    best_open, best_cost : incumbent (column ids of ``wc``, cost on ``wc``/``floor``).
    big : the value standing for "unreachable".
    tolerance : callable cost -> amount a solution must beat the incumbent by.
    deadline : ``time.perf_counter()`` value to stop at, or None.
    """

    def __init__(
        self,
        wc,
        floor,
        p,
        *,
        best_open,
        best_cost,
        big,
        tolerance,
        deadline=None,
        node_iters=10,
        root_iters=400,
        max_polishes=40,
        polish_within=0.03,
        node_patience=10,
        node_f0=1.0,
    ):
        self.wc = wc
        self.floor = floor
        self.p = p
        self.big = big
        self.tolerance = tolerance
        self.deadline = deadline
        self.best_open = np.sort(np.asarray(best_open, dtype=np.int64))
        self.best_cost = float(best_cost)
        self.node_iters = node_iters
        self.node_patience = node_patience
        self.node_f0 = node_f0
        self.root_iters = root_iters
        self.max_polishes = max_polishes
        self.polish_within = polish_within
        self.stats = TreeStats()
        self.lower_bound = -np.inf
        self.finished = False
        self._polished: set[bytes] = set()
        self.root_hook = None
        self._halt = False
        self._stopped_bound = -np.inf

    # -- incumbent ---------------------------------------------------------------------
    @property
    def target(self) -> float:
        return self.best_cost - self.tolerance(self.best_cost)

    def offer(self, open_cols, *, polish: bool = False) -> None:
        """Evaluate a set of columns on the true costs; keep it if it is better.

        With ``polish`` the fast interchange runs from the set even when it is worse
        than the incumbent (Lagrangian open sets are poor solutions but good starts);
        at most ``max_polishes`` times per search.
        """
        cols = np.unique(np.asarray(open_cols, dtype=np.int64))
        if len(cols) > self.p:
            raise RuntimeError(f"internal error: {len(cols)} columns offered for p={self.p}")
        m = self.wc.shape[1]
        if len(cols) < self.p:  # pad: more open columns never cost more
            rest = np.setdiff1d(np.arange(m), cols)[: self.p - len(cols)]
            cols = np.sort(np.concatenate([cols, rest]))
        cost = H.solution_cost(self.wc, self.floor, cols)
        near = cost < self.best_cost * (1.0 + self.polish_within)
        if (polish or near) and cost >= self.target and self.stats.polishes < self.max_polishes:
            key = cols.tobytes()
            if key not in self._polished:
                self._polished.add(key)
                self.stats.polishes += 1
                cols, cost, _ = H.fast_interchange(self.wc, self.floor, cols, deadline=self.deadline)
        if cost < self.target:
            polished, cost2, _ = H.fast_interchange(self.wc, self.floor, cols, deadline=self.deadline)
            if cost2 < cost:
                cols, cost = polished, cost2
            self.best_open, self.best_cost = np.sort(cols), cost
            self.stats.improvements.append(cost)

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    # -- search ------------------------------------------------------------------------
    def run(self, lam0: np.ndarray, *, max_nodes: int | None = None) -> None:
        """Search; ``max_nodes=1`` only bounds the root (no branching)."""
        m = self.wc.shape[1]
        ct = round_down_f32(np.ascontiguousarray(self.wc.T))
        floor = round_down_f32(self.floor)
        self._big32 = np.float32(self.big)
        root = _Node(ct, floor, self.p, np.minimum(lam0, floor), 0.0, np.arange(m), [], -np.inf, rows=np.arange(ct.shape[1]))
        stack = [root]
        while stack:
            node = stack.pop()
            if node.bound >= self.target:
                self.stats.pruned += 1
                continue
            if self._halt or self._out_of_time() or (max_nodes is not None and self.stats.nodes >= max_nodes):
                stack.append(node)
                break
            self._process(node, stack)
            if self._halt:
                break
        if stack:
            pending = min(nd.bound for nd in stack)
            self.lower_bound = min(self.best_cost, pending)
            self.finished = False
        else:
            self.lower_bound = self.best_cost
            self.finished = True

    def _leaf(self, opened, cols) -> None:
        """All remaining columns fit (or none is left to open): evaluate the completion."""
        self.stats.leaves += 1
        room = self.p - len(opened)
        self.offer(np.concatenate([np.asarray(opened, dtype=np.int64), np.asarray(cols[: max(room, 0)], dtype=np.int64)]))

    def _process(self, node: _Node, stack: list) -> None:
        st = self.stats
        st.nodes += 1
        st.max_depth = max(st.max_depth, node.depth)
        ct, floor, p, lam, off, cols, opened, rows = node.materialize()
        first = node.depth == 0
        rounds = 0
        row_min = None
        while True:
            m = ct.shape[0]
            if p <= 0 or m <= p:
                return self._leaf(opened, cols if p > 0 else cols[:0])
            if row_min is None:
                row_min = ct.min(axis=0)
            improvable = row_min < floor
            if not improvable.all():
                off += float(floor[~improvable].astype(np.float64).sum())
                ct, floor, lam, rows = ct[:, improvable], floor[improvable], lam[improvable], rows[improvable]
            row_min = None
            if ct.shape[1] == 0:
                return self._leaf(opened, cols[:p])
            if off >= self.target:
                st.pruned += 1
                return

            def on_primal(chosen, _off=off, _opened=opened, _cols=cols):
                self.offer(np.concatenate([np.asarray(_opened, dtype=np.int64), _cols[chosen]]), polish=True)
                return self.best_cost - _off, self.target - _off

            sg = LG.subgradient(
                ct,
                floor,
                p,
                lam,
                upper=self.best_cost - off,
                target=self.target - off,
                max_iter=self.root_iters if first else self.node_iters,
                f0=2.0 if first else self.node_f0,
                patience=20 if first else self.node_patience,
                deadline=self.deadline,
                on_primal=on_primal if first else None,
                primal_every=50,
            )
            st.iterations += sg.iterations
            lam = sg.lam
            # The node's own Lagrangian open set is a full solution: try it.
            self.offer(np.concatenate([np.asarray(opened, dtype=np.int64), cols[sg.chosen]]))
            target = self.target - off
            if sg.bound >= target:
                st.pruned += 1
                return
            if self._out_of_time():
                stack.append(_Node(ct, floor, p, lam, off, cols, opened, sg.bound + off, node.depth, rows=rows))
                return
            # -- reduced-cost tests (see lagrangian.reduce), fused for speed ---------------
            lam = np.minimum(lam, floor)
            slack = target - sg.bound
            rho = sg.rho
            order = np.argsort(rho, kind="stable")
            delta = np.maximum(rho - rho[order[p - 1]], 0.0)
            alive = delta <= slack
            if int(alive.sum()) < p:
                st.pruned += 1
                return
            forced_mask = np.zeros(m, dtype=bool)
            if p < m:
                top = order[:p]
                forced_mask[top[(rho[order[p]] - rho[top]) > slack]] = True
            if not alive.all():
                ct, cols, rho, delta, forced_mask = ct[alive], cols[alive], rho[alive], delta[alive], forced_mask[alive]
                ybar = sg.ybar[alive]
            else:
                ybar = sg.ybar
            # Exact test in double precision (ct - lam promotes to float64).
            dead = (ct - lam) > (slack - delta)[:, None]
            slack_ok = (floor.astype(np.float64) - lam) <= slack
            floor = np.where(slack_ok, floor, self._big32).astype(np.float32)
            ct = np.where(dead, floor, ct)
            row_min = ct.min(axis=0)
            if np.any((row_min >= floor) & ~slack_ok):
                st.pruned += 1  # a row can be served by nothing below the target
                return
            lam = np.minimum(lam, floor)
            shrunk = not alive.all() and len(cols) < 0.8 * m
            forced = np.nonzero(forced_mask)[0]
            if len(forced):
                floor = np.minimum(floor, ct[forced].min(axis=0))
                opened = opened + [int(c) for c in cols[forced]]
                p -= len(forced)
                keep = ~forced_mask
                ct, cols, rho, ybar = ct[keep], cols[keep], rho[keep], ybar[keep]
                np.minimum(ct, floor, out=ct)
                lam = np.minimum(lam, floor)
                row_min = None
            rounds += 1
            if (len(forced) or shrunk) and rounds < 6:
                first = False
                continue
            break
        m = ct.shape[0]
        if p <= 0 or m <= p:
            return self._leaf(opened, cols if p > 0 else cols[:0])
        if node.depth == 0 and self.root_hook is not None:
            # Let the caller finish the reduced root problem another way (e.g. a MIP).
            outcome = self.root_hook(
                RootState(ct=ct, floor=floor, p=p, off=off, cols=cols, opened=list(opened), rows=rows, bound=sg.bound + off, target=self.target)
            )
            if outcome is not None:
                status, found, bound = outcome
                if found is not None:
                    self.offer(found)
                if status == "done":
                    return  # subtree settled: nothing below the target is left
                self._stopped_bound = bound
                stack.append(_Node(ct, floor, p, lam, off, cols, opened, max(bound, sg.bound + off), node.depth, rows=rows))
                self._halt = True
                return
        # Branch on the most "fractional" column; ties towards the most attractive.
        rank = np.argsort(np.argsort(rho))
        j = int(np.argmin(np.abs(ybar - 0.5) + 1e-6 * rank))
        bound = sg.bound + off
        depth = node.depth + 1
        stack.append(_Node(ct, floor, p, lam, off, cols, opened, bound, depth, rows=rows, drop=j, open_col=False))
        stack.append(_Node(ct, floor, p, lam, off, cols, opened, bound, depth, rows=rows, drop=j, open_col=True))
