"""Exact p-median by Lagrangian branch-and-bound (numpy).

Each node of the tree is a reduced p-median problem (same form as in
:mod:`planner.siting.lagrangian`): some columns forced open (folded into the row floors),
some closed (removed), some (row, column) pairs proven useless (their cost raised). At a
node we

1. drop rows that no remaining column can improve (constant cost);
2. maximise the Lagrangian bound by subgradient steps, warm-started from the parent;
3. prune when the bound reaches the target (the incumbent minus the tolerance);
4. apply the reduced-cost tests: close columns, force columns open, kill pairs; when
   that shrinks the problem a lot, go back to 2 (the bound of the smaller problem is
   higher);
5. branch on the column whose averaged Lagrangian open indicator (an estimate of its LP
   value) is closest to 1/2: first the child where it is open, then the one where it is
   closed (depth first).

Every Lagrangian open set met on the way is evaluated on the original costs and, when it
improves the incumbent, polished with the fast interchange. The search is exact: when the
stack empties, the incumbent is optimal (within the tolerance). Stopped early, the bound
reported is the smallest bound among the nodes not yet explored.

This follows the Lagrangian tree search of Beasley (1985, 1993) with the reduction tests
of the p-median literature; it replaces a general MIP solver where the LP relaxation has a
gap (small p), which a MIP solver's root processing handles slowly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from planner.siting import heuristics as H
from planner.siting import lagrangian as LG


@dataclass
class _Node:
    ct: np.ndarray  # costs, columns x rows
    floor: np.ndarray
    p: int
    lam: np.ndarray
    off: float  # cost of rows already dropped as constant
    cols: np.ndarray  # root column ids of wc's columns
    opened: list[int]  # root column ids forced open on the way here
    bound: float  # bound of the parent (absolute), for pruning when the target moves
    depth: int = 0


@dataclass
class TreeStats:
    nodes: int = 0
    pruned: int = 0
    leaves: int = 0
    iterations: int = 0
    max_depth: int = 0
    improvements: list = field(default_factory=list)


class LagrangianBranchAndBound:
    """Search for a solution below ``best_cost - tolerance`` or prove there is none.

    Parameters
    ----------
    wc, floor : reduced problem (see :mod:`planner.siting.lagrangian`).
    p : number of free columns to open.
    best_open, best_cost : incumbent (root column ids, cost on ``wc``/``floor``).
    big : the value standing for "unreachable".
    tolerance : callable cost -> amount a solution must beat the incumbent by.
    deadline : ``time.perf_counter()`` value to stop at, or None.
    """

    def __init__(self, wc, floor, p, *, best_open, best_cost, big, tolerance, deadline=None, node_iters=60, root_iters=400):
        self.wc = wc
        self.floor = floor
        self.p = p
        self.big = big
        self.tolerance = tolerance
        self.deadline = deadline
        self.best_open = np.asarray(best_open, dtype=np.int64)
        self.best_cost = float(best_cost)
        self.node_iters = node_iters
        self.root_iters = root_iters
        self.stats = TreeStats()
        self.lower_bound = -np.inf
        self.finished = False
        self._polished: set[bytes] = set()

    # -- incumbent ---------------------------------------------------------------------
    @property
    def target(self) -> float:
        return self.best_cost - self.tolerance(self.best_cost)

    def offer(self, open_cols, *, polish: bool = False) -> None:
        """Evaluate a set of root columns on the true costs; keep it if it is better.

        With ``polish`` the fast interchange runs from the set even when it is worse
        than the incumbent (Lagrangian open sets are poor solutions but good starts).
        """
        cols = np.unique(np.asarray(open_cols, dtype=np.int64))
        m = self.wc.shape[1]
        if len(cols) < self.p:  # pad: more open columns never cost more
            rest = np.setdiff1d(np.arange(m), cols)[: self.p - len(cols)]
            cols = np.sort(np.concatenate([cols, rest]))
        cost = H.solution_cost(self.wc, self.floor, cols)
        key = cols.tobytes()
        if polish and cost >= self.target and key not in self._polished:
            self._polished.add(key)
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
        root = _Node(np.ascontiguousarray(self.wc.T), self.floor, self.p, np.minimum(lam0, self.floor), 0.0, np.arange(m), [], -np.inf)
        stack = [root]
        while stack:
            node = stack.pop()
            if node.bound >= self.target:
                self.stats.pruned += 1
                continue
            if self._out_of_time() or (max_nodes is not None and self.stats.nodes >= max_nodes):
                stack.append(node)
                break
            self._process(node, stack)
        if stack:
            pending = min(nd.bound for nd in stack)
            self.lower_bound = min(self.best_cost, pending)
            self.finished = False
        else:
            self.lower_bound = self.best_cost
            self.finished = True

    def _process(self, node: _Node, stack: list) -> None:
        st = self.stats
        st.nodes += 1
        st.max_depth = max(st.max_depth, node.depth)
        ct, floor, p, lam, off, cols, opened = node.ct, node.floor, node.p, node.lam, node.off, node.cols, list(node.opened)
        first = node.depth == 0
        rounds = 0
        while True:
            m, n = ct.shape
            if p <= 0 or m <= p:
                st.leaves += 1
                self.offer(np.concatenate([np.asarray(opened, dtype=np.int64), cols]))
                return
            improvable = ct.min(axis=0) < floor
            if not improvable.all():
                off += float(floor[~improvable].sum())
                ct, floor, lam = ct[:, improvable], floor[improvable], lam[improvable]
            if ct.shape[1] == 0:
                st.leaves += 1
                self.offer(np.concatenate([np.asarray(opened, dtype=np.int64), cols[:p]]))
                return
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
                f0=2.0 if first else 1.0,
                patience=20 if first else 12,
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
                stack.append(_Node(ct, floor, p, lam, off, cols, opened, sg.bound + off, node.depth))
                return
            red = LG.reduce(ct, floor, p, lam, sg.rho, sg.bound, target)
            if red.infeasible:
                st.pruned += 1
                return
            # Apply: rows whose floor option is useless now must be served by a column.
            new_floor = np.where(red.slack_ok, floor, self.big)
            ct = np.where(red.pair_dead, new_floor, ct)
            floor = new_floor
            lam = np.minimum(lam, floor)
            keep = red.col_alive & ~red.force_open
            forced = np.nonzero(red.force_open)[0]
            if len(forced):
                floor = np.minimum(floor, ct[forced].min(axis=0))
                opened = opened + [int(c) for c in cols[forced]]
                p -= len(forced)
            shrunk = int(keep.sum()) < 0.8 * m
            ct = ct[keep]
            cols = cols[keep]
            ybar = sg.ybar[keep]
            rho = sg.rho[keep]
            if len(forced):
                np.minimum(ct, floor, out=ct)
                lam = np.minimum(lam, floor)
            rounds += 1
            if (len(forced) or shrunk) and rounds < 6:
                first = False
                continue
            break
        m, n = ct.shape
        if p <= 0 or m <= p:
            st.leaves += 1
            self.offer(np.concatenate([np.asarray(opened, dtype=np.int64), cols]))
            return
        # Branch on the most "fractional" column; ties towards the most attractive.
        frac = np.abs(ybar - 0.5)
        rank = np.argsort(np.argsort(rho))
        j = int(np.argmin(frac + 1e-6 * rank))
        bound = sg.bound + off
        rest = np.ones(m, dtype=bool)
        rest[j] = False
        depth = node.depth + 1
        # Closed child (explored second).
        ct_rest = ct[rest]
        stack.append(_Node(ct_rest, floor, p, lam, off, cols[rest], opened, bound, depth))
        # Open child (explored first).
        floor_open = np.minimum(floor, ct[j])
        stack.append(
            _Node(
                np.minimum(ct_rest, floor_open),
                floor_open,
                p - 1,
                np.minimum(lam, floor_open),
                off,
                cols[rest],
                opened + [int(cols[j])],
                bound,
                depth,
            )
        )
