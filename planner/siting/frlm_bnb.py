"""Exact FRLM by depth-first branch and bound over the sites (numba, compiled once and cached).

The problem left after :meth:`planner.siting.frlm.FrlmInstance.reduce`: ``S`` distinct
sets of sites, groups of flows each with a volume and the sets it needs hit (a group is
covered when every one of its sets holds an open site), and ``k`` sites to open. A node of
the tree is (open sites, pool of sites still free to open, ``r`` sites left). At a node:

1. a set holding an open site is *satisfied*; a group whose sets are all satisfied is
   covered (its volume is the node's value; the open sites are a feasible solution and the
   incumbent improves from it);
2. a group is *dead* when an unsatisfied set holds no pool site, or when more than ``r`` of
   its unsatisfied sets are pairwise disjoint on the pool (each needs its own site; counted
   greedily, smallest set first). Dead groups are dropped for the whole subtree;
3. with one site left (``r = 1``) the node is solved exactly: a site covers a live group iff
   it lies in every unsatisfied set;
4. a pool site is *dominated* when every unsatisfied set of a live group that holds it also
   holds another pool site (ties: the lower index stays); dominated sites are closed (the
   relation is a strict partial order, so an undominated site can replace each of them in
   any solution at no loss);
5. the bound: every live group *charges* its volume to ONE of its unsatisfied sets, adding
   it to the *load* of each pool site in that set. A completion T (at most ``r`` pool
   sites) that covers a group hits that set, so the volume T adds is at most the summed
   loads of T's sites, hence at most the ``r`` largest loads: ``bound = value + top-r
   loads``. Any choice of sets gives a valid bound (it is a feasible solution of the dual of
   the arc-cover LP relaxation at the node, which moreover knows the dead groups); the
   choice is made tight greedily, largest groups first, each on the set whose largest load
   is smallest (ties: smallest summed load), then once more for every group given where all
   the others are charged;
6. the node is pruned when the bound does not beat the incumbent by more than ``tol``;
   otherwise a pool site j whose ``value + (r - 1 largest loads) + load[j]`` cannot beat it
   is closed for the subtree (a reduced-cost test);
7. branching: the site with the largest load is opened (first child, depth first) or
   closed; after closing, the next branching sites come from the same set (the smallest
   relevant set holding the first one) until that set is hit or emptied — emptied, every
   group relying on it dies at once.

The search is exact: when the stack empties the incumbent is optimal. Stopped early (the
caller checks the clock every ``node_chunk`` nodes), every unexplored subtree is bounded by
the bound stored with it, so the largest of those and the incumbent is a proven upper bound.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _charge(g, load, sat, pp, pq, g_ptr, g_sets, gv):
    """The unsatisfied set of group ``g`` whose largest pool load is smallest (ties: the
    smallest summed load); adds the group's volume to the loads of its pool sites
    (``pq[pp[s]:pp[s + 1]]``: the pool sites of set s)."""
    best_s = -1
    best_mx = np.inf
    best_sum = np.inf
    for t in range(g_ptr[g], g_ptr[g + 1]):
        s = g_sets[t]
        if sat[s]:
            continue
        mx = 0.0
        sm = 0.0
        for u in range(pp[s], pp[s + 1]):
            lj = load[pq[u]]
            if lj > mx:
                mx = lj
            sm += lj
        if mx < best_mx or (mx == best_mx and sm < best_sum):
            best_mx = mx
            best_sum = sm
            best_s = s
    for u in range(pp[best_s], pp[best_s + 1]):
        load[pq[u]] += gv[g]
    return best_s


@nb.njit(cache=True, nogil=True)
def _pool_lists(set_ptr, set_sites, pool, pp, pq):
    """``pq[pp[s]:pp[s + 1]]`` = the pool sites of set s."""
    n = 0
    for s in range(set_ptr.size - 1):
        pp[s] = n
        for u in range(set_ptr[s], set_ptr[s + 1]):
            j = set_sites[u]
            if pool[j]:
                pq[n] = j
                n += 1
    pp[set_ptr.size - 1] = n


@nb.njit(cache=True, nogil=True)
def _close_dominated(pool, rel, bits, set_ptr, set_sites):
    """Close every pool site j dominated by another pool site i: each relevant set holding j
    holds i (ties: the lower index stays). The relation is a strict partial order, so
    every closed site has an undominated site that replaces it in any solution with no loss."""
    m, n_words = bits.shape
    for j in range(m):
        if pool[j]:
            for w in range(n_words):
                bits[j, w] = np.uint64(0)
    for s in range(rel.size):
        if rel[s]:
            w = s >> 6
            bit = np.uint64(1) << np.uint64(s & 63)
            for u in range(set_ptr[s], set_ptr[s + 1]):
                j = set_sites[u]
                if pool[j]:
                    bits[j, w] |= bit
    closed = np.zeros(m, np.bool_)
    for j in range(m):
        if not pool[j]:
            continue
        for i in range(m):
            if i == j or not pool[i]:
                continue
            sub = True
            same = True
            for w in range(n_words):
                bj = bits[j, w]
                bi = bits[i, w]
                if bj & ~bi:
                    sub = False
                    break
                if bj != bi:
                    same = False
            if sub and (not same or i < j):
                closed[j] = True
                break
    for j in range(m):
        if closed[j]:
            pool[j] = False


@nb.njit(cache=True, nogil=True)
def _search(set_ptr, set_sites, g_ptr, g_sets, gv, tol,
            st_open, st_pool, st_r, st_pb, st_v, st_live, st_nlive, st_focus, sp, best_v, best_open, max_nodes):
    """Expand up to ``max_nodes`` nodes of the stack ``st_*[:sp]``.

    A stack entry: open sites, pool, sites left ``r``, the parent's bound, the volume of
    the groups already covered (``st_v``) and the groups still live at the parent
    (``st_live[:st_nlive]``, largest volume first). Returns ``(sp, best_v, nodes)``;
    ``best_open`` is updated in place.
    """
    m = st_open.shape[1]
    n_sets = set_ptr.size - 1
    n_groups = gv.size
    sat = np.zeros(n_sets, np.bool_)
    pp = np.zeros(n_sets + 1, np.int64)
    pq = np.zeros(set_sites.size, np.int64)
    load = np.zeros(m)
    gain = np.zeros(m)
    mark = np.zeros(m, np.int64)
    cnt = np.zeros(m, np.int64)
    chosen = np.zeros(n_groups, np.int64)
    live = np.zeros(n_groups, np.int64)
    rel = np.zeros(n_sets, np.bool_)
    bits = np.zeros((m, (n_sets + 63) // 64), np.uint64)
    stamp = 0
    nodes = 0
    while sp > 0 and nodes < max_nodes:
        sp -= 1
        focus_in = st_focus[sp]
        r = st_r[sp]
        if st_pb[sp] <= best_v + tol:
            continue
        open_ = st_open[sp].copy()
        pool = st_pool[sp].copy()
        v = st_v[sp]
        parent_live = st_live[sp, :st_nlive[sp]].copy()
        nodes += 1
        for s in range(n_sets):
            sa = False
            for t in range(set_ptr[s], set_ptr[s + 1]):
                if open_[set_sites[t]]:
                    sa = True
                    break
            sat[s] = sa
        _pool_lists(set_ptr, set_sites, pool, pp, pq)
        load[:] = 0.0
        gain[:] = 0.0
        rel[:] = False
        nlive = 0
        for gi in range(parent_live.size):
            g = parent_live[gi]
            a = g_ptr[g]
            b = g_ptr[g + 1]
            allsat = True
            dead = False
            nun = 0
            for t in range(a, b):
                s = g_sets[t]
                if not sat[s]:
                    allsat = False
                    nun += 1
                    if pp[s + 1] == pp[s]:
                        dead = True
                        break
            if allsat:
                v += gv[g]
                continue
            if dead or r == 0:
                continue
            # sites needed, from below: unsatisfied sets disjoint on the pool (smallest first)
            stamp += 1
            need = 0
            for t in range(a, b):
                s = g_sets[t]
                if sat[s]:
                    continue
                disjoint = True
                for u in range(pp[s], pp[s + 1]):
                    if mark[pq[u]] == stamp:
                        disjoint = False
                        break
                if disjoint:
                    need += 1
                    for u in range(pp[s], pp[s + 1]):
                        mark[pq[u]] = stamp
            if need > r:
                continue
            if r == 1:
                # exact: the sites in every unsatisfied set
                stamp += 1
                first = -1
                for t in range(a, b):
                    s = g_sets[t]
                    if sat[s]:
                        continue
                    if first < 0:
                        first = s
                    for u in range(pp[s], pp[s + 1]):
                        j = pq[u]
                        if mark[j] != stamp:
                            mark[j] = stamp
                            cnt[j] = 0
                        cnt[j] += 1
                for u in range(pp[first], pp[first + 1]):
                    j = pq[u]
                    if cnt[j] == nun:
                        gain[j] += gv[g]
                continue
            for t in range(a, b):
                if not sat[g_sets[t]]:
                    rel[g_sets[t]] = True
            live[nlive] = g
            nlive += 1
        if v > best_v:
            best_v = v
            best_open[:] = open_
        if r == 0:
            continue
        if r == 1:
            jb = -1
            gb = 0.0
            for j in range(m):
                if pool[j] and gain[j] > gb:
                    gb = gain[j]
                    jb = j
            if jb >= 0 and v + gb > best_v:
                best_v = v + gb
                best_open[:] = open_
                best_open[jb] = True
            continue
        # close dominated sites: those whose relevant sets all hold another pool site
        _close_dominated(pool, rel, bits, set_ptr, set_sites)
        _pool_lists(set_ptr, set_sites, pool, pp, pq)
        for li in range(nlive):
            g = live[li]
            chosen[g] = _charge(g, load, sat, pp, pq, g_ptr, g_sets, gv)
        # once more, each group given where all the others are charged
        for li in range(nlive):
            g = live[li]
            s0 = chosen[g]
            for u in range(pp[s0], pp[s0 + 1]):
                load[pq[u]] -= gv[g]
            chosen[g] = _charge(g, load, sat, pp, pq, g_ptr, g_sets, gv)
        # bound: the r largest loads on the pool
        idx = np.flatnonzero(pool)
        idx = idx[np.argsort(-load[idx], kind="mergesort")]
        top = 0.0
        for i in range(min(r - 1, idx.size)):
            top += load[idx[i]]
        nxt = load[idx[r - 1]] if idx.size >= r else 0.0
        bound = v + top + nxt
        if bound <= best_v + tol:
            continue
        # reduced-cost test: a completion holding site j is worth at most v + (the r - 1
        # largest loads) + load[j]; the sites for which that cannot beat the incumbent are
        # closed for the whole subtree
        for i in range(r - 1, idx.size):
            if v + top + load[idx[i]] <= best_v + tol:
                pool[idx[i]] = False
        jb = -1
        lb = 0.0
        focus = focus_in
        if focus >= 0 and not sat[focus]:
            for u in range(set_ptr[focus], set_ptr[focus + 1]):
                j = set_sites[u]
                if pool[j] and (jb < 0 or load[j] > lb):
                    lb = load[j]
                    jb = j
        if jb < 0:
            focus = -1
            for j in range(m):
                if pool[j] and load[j] > lb:
                    lb = load[j]
                    jb = j
            if jb < 0:
                continue
            # keep branching inside the smallest relevant set holding it, until that set is
            # hit or emptied (emptied: every group relying on it dies at once)
            fc = 1 << 60
            for s in range(n_sets):
                if rel[s]:
                    hit = False
                    c = 0
                    for u in range(set_ptr[s], set_ptr[s + 1]):
                        j = set_sites[u]
                        if pool[j]:
                            c += 1
                            if j == jb:
                                hit = True
                    if hit and c < fc:
                        fc = c
                        focus = s
        pool[jb] = False
        # the children's bounds from this node's charging (still valid below): without jb,
        # the r largest loads left; with it, its load and the r - 1 largest others
        sum_r = 0.0
        sum_r1 = 0.0
        cnt_r = 0
        for i in range(idx.size):
            j = idx[i]
            if not pool[j]:
                continue
            if cnt_r < r - 1:
                sum_r1 += load[j]
            sum_r += load[j]
            cnt_r += 1
            if cnt_r >= r:
                break
        child_pb = (min(bound, v + sum_r), min(bound, v + load[jb] + sum_r1))
        if sp + 2 > st_r.size:
            raise RuntimeError("FRLM branch and bound: stack overflow")
        for child in range(2):  # the closed child below the open one (depth first: open first)
            if child_pb[child] <= best_v + tol:
                continue
            st_open[sp] = open_
            if child == 1:
                st_open[sp, jb] = True
            st_pool[sp] = pool
            st_r[sp] = r - child
            st_pb[sp] = child_pb[child]
            st_v[sp] = v
            st_live[sp, :nlive] = live[:nlive]
            st_nlive[sp] = nlive
            st_focus[sp] = focus if child == 0 else -1
            sp += 1
    return sp, best_v, nodes




def search(sets: np.ndarray, pairs: np.ndarray, volume: np.ndarray, k: int, start: np.ndarray, *,
           tol: float, deadline: float | None, node_chunk: int = 256,
           max_nodes: int | None = None) -> tuple[np.ndarray, float, bool, float, int]:
    """Best ``k`` sites of the reduced problem.

    ``sets`` (sets × sites, bool), ``pairs`` (rows ``(group, set)``), ``volume`` per group,
    ``start`` (bool over sites, at most ``k`` open) the starting incumbent, ``tol`` how
    much a solution must beat the incumbent by to count (below the smallest possible
    improvement: ``1 - 1e-6`` for whole volumes). ``deadline`` (a ``time.perf_counter()``
    value) is checked every ``node_chunk`` nodes; ``max_nodes`` stops the search after that
    many nodes (for tests of an interrupted search). Returns ``(open sites, their covered
    volume, optimal, proven upper bound, nodes)``; ``optimal`` is True only when the tree
    was searched to the end.
    """
    import time

    n_sets, m = sets.shape
    rows, cols = np.nonzero(sets)
    set_ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_sets))]).astype(np.int64)
    set_sites = cols.astype(np.int64)
    size = np.bincount(rows, minlength=n_sets)
    order = np.lexsort((size[pairs[:, 1]], pairs[:, 0]))  # per group, smallest set first
    g_sets = pairs[order, 1].astype(np.int64)
    n_groups = volume.size
    g_ptr = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=n_groups))]).astype(np.int64)
    gv = np.ascontiguousarray(volume, dtype=np.float64)
    cap = m + k + 2
    st_open = np.zeros((cap, m), dtype=np.bool_)
    st_pool = np.ones((cap, m), dtype=np.bool_)
    st_r = np.zeros(cap, dtype=np.int64)
    st_pb = np.zeros(cap, dtype=np.float64)
    st_v = np.zeros(cap, dtype=np.float64)
    st_focus = np.full(cap, -1, dtype=np.int64)
    st_live = np.zeros((cap, n_groups), dtype=np.int64)
    st_nlive = np.zeros(cap, dtype=np.int64)
    st_r[0] = k
    st_pb[0] = np.inf
    st_live[0] = np.argsort(-gv, kind="stable")  # largest volume first: the charging order
    st_nlive[0] = n_groups
    sp = 1
    best_open = np.ascontiguousarray(start, dtype=np.bool_).copy()
    best_v = _value(set_ptr, set_sites, g_ptr, g_sets, gv, best_open)
    nodes = 0
    while sp > 0:
        if deadline is not None and time.perf_counter() > deadline and max_nodes is None:
            break
        chunk = node_chunk if max_nodes is None else min(node_chunk, max_nodes - nodes)
        if chunk <= 0:
            break
        sp, best_v, done = _search(set_ptr, set_sites, g_ptr, g_sets, gv, float(tol), st_open, st_pool, st_r,
                                   st_pb, st_v, st_live, st_nlive, st_focus, sp, best_v, best_open, chunk)
        nodes += done
    optimal = sp == 0
    upper = best_v if optimal else max(best_v, float(st_pb[:sp].max()))
    return best_open, float(best_v), bool(optimal), float(upper), int(nodes)


@nb.njit(cache=True, nogil=True)
def _value(set_ptr, set_sites, g_ptr, g_sets, gv, open_):
    """Volume of the groups whose every set holds an open site."""
    total = 0.0
    for g in range(gv.size):
        ok = True
        for t in range(g_ptr[g], g_ptr[g + 1]):
            s = g_sets[t]
            hit = False
            for u in range(set_ptr[s], set_ptr[s + 1]):
                if open_[set_sites[u]]:
                    hit = True
                    break
            if not hit:
                ok = False
                break
        if ok:
            total += gv[g]
    return total
