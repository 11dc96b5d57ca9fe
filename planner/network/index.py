"""Shortest-path kernels for the nearest-station index (numba, compiled once and cached).

Why not scipy alone: ``scipy.sparse.csgraph.dijkstra`` starts every source at 0, so it cannot
start from a point *on* an edge (a phantom node reached with an access leg and a partial
edge), and ``min_only=True`` keeps one source per node while a filtered query needs the
nearest *eligible* station. The old index stored one dense row per station (~12 bytes per
node per station: 3.6 GB at 1 M nodes and 300 stations). Here:

- :func:`k_nearest_labels`: a K-label multi-source Dijkstra on the reversed graph, seeded
  with every station's in-seeds (offsets included). Each node keeps its K nearest distinct
  stations with distance and truck time along that shortest path: ``n × K`` labels
  (16 bytes each).
- :func:`seeded_dijkstra`: one-label multi-source Dijkstra from seeds with offsets; optional
  early stop at targets (routing point to point) and a distance limit.
- :func:`k_eligible_from`: a forward Dijkstra from a point's out-seeds that stops once it has
  settled ``k`` eligible stations (the query fallback when the K labels are not enough).

All take a graph as CSR arrays (``indptr``, ``indices``, key weight, second weight), so an
index can be built on any subgraph (for instance the edges a vehicle may use).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from planner.network.snap import snap_auto, edge_seeds, grow3

__all__ = ["Csr", "k_eligible_from", "k_nearest_labels", "merge_labels", "nearest_from_point", "seeded_dijkstra"]


class Csr:
    """A directed graph as CSR arrays: ``indptr``, ``indices``, ``w`` (key weight) and ``aux``
    (second weight summed along the same path), plus the reversed graph on demand."""

    def __init__(self, n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, aux: np.ndarray):
        self.n = int(n)
        order = np.lexsort((v, u))
        self.indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=self.n), out=self.indptr[1:])
        self.indices = np.ascontiguousarray(v[order], dtype=np.int64)
        self.w = np.ascontiguousarray(w[order], dtype=np.float64)
        self.aux = np.ascontiguousarray(aux[order], dtype=np.float64)
        self._u, self._v = u, v
        self._w, self._aux = w, aux
        self._rev: Csr | None = None

    def reversed(self) -> Csr:
        if self._rev is None:
            self._rev = Csr(self.n, self._v, self._u, self._w, self._aux)
            self._rev._rev = self
        return self._rev


# ---------------------------------------------------------------------- binary heap
@nb.njit(cache=True, nogil=True)
def _push(hk, hv, hs, ha, size, k, v, s, a):
    if size == hk.size:
        nk = np.empty(hk.size * 2, hk.dtype)
        nv = np.empty(hk.size * 2, hv.dtype)
        ns = np.empty(hk.size * 2, hs.dtype)
        na = np.empty(hk.size * 2, ha.dtype)
        nk[:size] = hk
        nv[:size] = hv
        ns[:size] = hs
        na[:size] = ha
        hk, hv, hs, ha = nk, nv, ns, na
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= k:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        hs[i] = hs[p]
        ha[i] = ha[p]
        i = p
    hk[i] = k
    hv[i] = v
    hs[i] = s
    ha[i] = a
    return hk, hv, hs, ha, size + 1


@nb.njit(cache=True, nogil=True)
def _pop(hk, hv, hs, ha, size):
    k, v, s, a = hk[0], hv[0], hs[0], ha[0]
    size -= 1
    lk, lv, ls, la = hk[size], hv[size], hs[size], ha[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= lk:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        hs[i] = hs[c]
        ha[i] = ha[c]
        i = c
    hk[i] = lk
    hv[i] = lv
    hs[i] = ls
    ha[i] = la
    return k, v, s, a, size


# ---------------------------------------------------------------------- kernels
@nb.njit(cache=True, nogil=True)
def k_nearest_labels(indptr, indices, w, aux, n, K, seed_node, seed_src, seed_w, seed_aux):
    """K nearest distinct sources of every node (run on the reversed graph for node → source).

    Returns ``(lab_w (n, K) float64, lab_aux (n, K) float32, lab_src (n, K) int32, count (n,))``
    with each node's labels sorted by ``w``; unused slots hold ``inf`` / -1.
    """
    lab_w = np.full((n, K), np.inf)
    lab_aux = np.full((n, K), np.inf, dtype=np.float32)
    lab_src = np.full((n, K), -1, dtype=np.int32)
    cnt = np.zeros(n, dtype=np.int32)
    # the last (source, distance) pushed to each node: a wave of one source reaches a node
    # from several neighbours, and only the first (shortest) of those pushes can matter
    last_s = np.full(n, -1, dtype=np.int32)
    last_w = np.full(n, np.inf)
    cap = max(1024, 4 * seed_node.size)
    hk = np.empty(cap)
    hv = np.empty(cap, dtype=np.int64)
    hs = np.empty(cap, dtype=np.int32)
    ha = np.empty(cap)
    size = 0
    for i in range(seed_node.size):
        hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, seed_w[i], seed_node[i], seed_src[i], seed_aux[i])
    while size > 0:
        d, v, s, a, size = _pop(hk, hv, hs, ha, size)
        c = cnt[v]
        if c >= K:
            continue
        dup = False
        for j in range(c):
            if lab_src[v, j] == s:
                dup = True
                break
        if dup:
            continue
        lab_w[v, c] = d
        lab_aux[v, c] = a
        lab_src[v, c] = s
        cnt[v] = c + 1
        for e in range(indptr[v], indptr[v + 1]):
            x = indices[e]
            cx = cnt[x]
            if cx >= K:
                continue
            seen = False
            for j in range(cx):
                if lab_src[x, j] == s:
                    seen = True
                    break
            if seen:
                continue
            nd = d + w[e]
            if last_s[x] == s and last_w[x] <= nd:
                continue
            last_s[x] = s
            last_w[x] = nd
            hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, nd, x, s, a + aux[e])
    return lab_w, lab_aux, lab_src, cnt


@nb.njit(cache=True, nogil=True)
def seeded_dijkstra(indptr, indices, w, aux, n, seed_node, seed_src, seed_w, seed_aux, limit, target_node, target_w):
    """Multi-source Dijkstra from seeds with offsets.

    Returns ``(dist, aux, src, pred, best_target)``: ``dist[v]`` the least key weight from
    any seed (``inf`` beyond ``limit`` or unreachable), ``aux[v]`` the second weight along
    that path, ``src[v]`` the seed's ``seed_src`` (-1 if none), ``pred[v]`` the previous node
    (-1 at seeds). With targets (``target_node`` with extra ``target_w``), the search stops
    once no target can improve and ``best_target`` is the index of the best (-1 if none).
    """
    dist = np.full(n, np.inf)
    auxv = np.full(n, np.inf)
    src = np.full(n, -1, dtype=np.int64)
    pred = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    tmark = np.full(n if target_node.size else 0, -1, dtype=np.int64)
    for i in range(target_node.size):
        t = target_node[i]
        if tmark[t] < 0 or target_w[i] < target_w[tmark[t]]:
            tmark[t] = i
    best_total = np.inf
    best_target = -1
    cap = max(1024, 4 * seed_node.size)
    hk = np.empty(cap)
    hv = np.empty(cap, dtype=np.int64)
    hs = np.empty(cap, dtype=np.int64)
    ha = np.empty(cap)
    size = 0
    for i in range(seed_node.size):
        v = seed_node[i]
        if seed_w[i] < dist[v]:
            dist[v] = seed_w[i]
            auxv[v] = seed_aux[i]
            src[v] = seed_src[i]
            hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, seed_w[i], v, -1, seed_aux[i])
    while size > 0:
        d, v, p, a, size = _pop(hk, hv, hs, ha, size)
        if done[v] or d > dist[v]:
            continue
        if d > limit or d >= best_total:
            break
        done[v] = True
        if target_node.size and tmark[v] >= 0:
            tot = d + target_w[tmark[v]]
            if tot < best_total:
                best_total = tot
                best_target = tmark[v]
        for e in range(indptr[v], indptr[v + 1]):
            x = indices[e]
            nd = d + w[e]
            if nd < dist[x]:
                dist[x] = nd
                auxv[x] = a + aux[e]
                src[x] = src[v]
                pred[x] = v
                hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, nd, x, v, a + aux[e])
    # unsettled nodes beyond the stop are not exact: report them as unreached
    for v in range(n):
        if not done[v]:
            dist[v] = np.inf
            auxv[v] = np.inf
            src[v] = -1
    return dist, auxv, src, pred, best_target


@nb.njit(cache=True)
def merge_labels(seed_node, seed_w, seed_aux, lab_w, lab_aux, lab_src, cnt, K, n_src, eligible, k, direct_src, direct_w, direct_aux):
    """The ``k`` nearest eligible sources of a point from its seeds' K labels.

    Returns ``(src, w, aux, exact)``: up to ``k`` sources sorted by ``w``; ``exact`` is False
    when the labels cannot prove the answer (then run :func:`k_eligible_from`).
    """
    best_w = np.full(n_src, np.inf)
    best_a = np.full(n_src, np.inf)
    bound = np.inf
    for i in range(direct_src.size):
        s = direct_src[i]
        if direct_w[i] < best_w[s]:
            best_w[s] = direct_w[i]
            best_a[s] = direct_aux[i]
    # cheapest seeds first; once a seed costs more than the k-th eligible value found so far,
    # no later seed can change the answer (labels are >= 0)
    seq = np.argsort(seed_w, kind="mergesort")
    cut = np.inf
    first = min(seq.size, 8)
    for q in range(seq.size):
        i = seq[q]
        if seed_w[i] >= cut:
            break
        v = seed_node[i]
        c = cnt[v]
        for j in range(c):
            s = lab_src[v, j]
            val = seed_w[i] + lab_w[v, j]
            if val < best_w[s]:
                best_w[s] = val
                best_a[s] = seed_aux[i] + lab_aux[v, j]
        if c == K:
            b = seed_w[i] + lab_w[v, K - 1]
            if b < bound:
                bound = b
        if q == first - 1:
            vals = np.empty(n_src)
            m0 = 0
            for s in range(n_src):
                if eligible[s] and best_w[s] < np.inf:
                    vals[m0] = best_w[s]
                    m0 += 1
            if m0 >= k:
                cut = np.sort(vals[:m0])[k - 1]
    m = 0
    cand = np.empty(n_src, dtype=np.int64)
    for s in range(n_src):
        if eligible[s] and best_w[s] < np.inf:
            cand[m] = s
            m += 1
    cand = cand[:m]
    order = np.argsort(best_w[cand], kind="mergesort")
    take = min(k, m)
    out = cand[order[:take]]
    exact = True
    if take < k:
        exact = bound == np.inf
    elif take > 0 and best_w[out[take - 1]] > bound:
        exact = False
    return out, best_w[out], best_a[out], exact


@nb.njit(cache=True)
def k_eligible_from(indptr, indices, w, aux, n, seed_node, seed_w, seed_aux, st_indptr, st_src, st_w, st_aux, eligible, k, direct_src, direct_w, direct_aux):
    """Forward Dijkstra from a point's out-seeds until ``k`` eligible sources are settled.

    ``st_indptr``/``st_src``/``st_w``/``st_aux``: per node, the sources reached from it
    (their in-seeds: node → source with an offset). Returns ``(src, w, aux)`` sorted by ``w``.
    """
    n_src = eligible.size
    dist = np.full(n, np.inf)
    reported = np.zeros(n_src, dtype=np.bool_)
    out_s = np.empty(k, dtype=np.int64)
    out_w = np.empty(k)
    out_a = np.empty(k)
    m = 0
    cap = 1024
    hk = np.empty(cap)
    hv = np.empty(cap, dtype=np.int64)
    hs = np.empty(cap, dtype=np.int64)
    ha = np.empty(cap)
    size = 0
    for i in range(seed_node.size):
        v = seed_node[i]
        if seed_w[i] < dist[v]:
            dist[v] = seed_w[i]
            hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, seed_w[i], v, 0, seed_aux[i])
    for i in range(direct_src.size):
        if eligible[direct_src[i]]:
            hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, direct_w[i], n + direct_src[i], 0, direct_aux[i])
    while size > 0 and m < k:
        d, v, _, a, size = _pop(hk, hv, hs, ha, size)
        if v >= n:
            s = v - n
            if not reported[s]:
                reported[s] = True
                out_s[m] = s
                out_w[m] = d
                out_a[m] = a
                m += 1
            continue
        if d > dist[v]:
            continue
        for j in range(st_indptr[v], st_indptr[v + 1]):
            s = st_src[j]
            if eligible[s] and not reported[s]:
                hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, d + st_w[j], n + s, 0, a + st_aux[j])
        for e in range(indptr[v], indptr[v + 1]):
            x = indices[e]
            nd = d + w[e]
            if nd < dist[x]:
                dist[x] = nd
                hk, hv, hs, ha, size = _push(hk, hv, hs, ha, size, nd, x, 0, a + aux[e])
    return out_s[:m], out_w[:m], out_a[:m]


def network_csr(network, weight: str = "length_m") -> Csr:
    """The network's graph as :class:`Csr` keyed by ``weight`` (cached on the network).

    ``"length_m"``: key metres (the shortest of parallel edges), second weight the truck
    seconds on that edge. ``"time_s"``: key seconds (the fastest), second weight its metres.
    """
    cache = network.__dict__.setdefault("_csr_arrays", {})
    hit = cache.get(weight)
    if hit is None:
        n = network.n_nodes
        keys = np.asarray(network._csr_keys, dtype=np.int64)
        u, v = keys // n, keys % n
        if weight == "length_m":
            hit = Csr(n, u, v, np.asarray(network.length_csr.data, dtype=np.float64), np.asarray(network._time_on_len, dtype=np.float64))
        elif weight == "time_s":
            hit = Csr(n, u, v, np.asarray(network.time_csr.data, dtype=np.float64), np.asarray(network._len_on_time, dtype=np.float64))
        else:
            raise ValueError(f"unknown weight {weight!r}; use 'length_m' or 'time_s'")
        cache[weight] = hit
    return hit


@nb.njit(cache=True)
def query_nearest(piece, f, acc, rec, mps, ps_indptr, ps_src, ps_f, ps_acc,
                  lab_w, lab_aux, lab_src, cnt, K, n_src, eligible, k):  # fmt: skip
    """One query from a point's candidate edges: its out-seeds, same-edge shortcuts to the
    stations on those edges (``ps_*``: station attachments grouped by piece), and
    :func:`merge_labels`. Returns ``(src, w, aux, exact, seed_node, seed_w, seed_aux,
    direct_src, direct_w, direct_aux)`` (the seeds and shortcuts for the fallback); ``rec`` is
    :attr:`planner.network.snap.EdgeSnapper.piece_rec`."""
    seed_node, seed_w, seed_a, _, _ = edge_seeds(piece, f, acc, rec, mps, True)
    d_src = np.empty(8, dtype=np.int64)
    d_w = np.empty(8)
    d_a = np.empty(8)
    nd = 0
    for i in range(piece.size):
        p = piece[i]
        a = acc[i]
        fi = f[i]
        lf, tf, lr, tr = rec[p, 2], rec[p, 3], rec[p, 4], rec[p, 5]
        for j in range(ps_indptr[p], ps_indptr[p + 1]):
            fs = ps_f[j]
            w = np.inf
            t = np.inf
            if fs >= fi and lf == lf:
                w = a + (fs - fi) * lf + ps_acc[j]
                t = (a + ps_acc[j]) / mps + (fs - fi) * tf
            elif fs <= fi and lr == lr:
                w = a + (fi - fs) * lr + ps_acc[j]
                t = (a + ps_acc[j]) / mps + (fi - fs) * tr
            if w < np.inf:
                if nd == d_src.size:
                    d_src, d_w, d_a = grow3(d_src, d_w, d_a, nd)
                d_src[nd] = ps_src[j]
                d_w[nd] = w
                d_a[nd] = t
                nd += 1
    d_src, d_w, d_a = d_src[:nd], d_w[:nd], d_a[:nd]
    src, w, aux, exact = merge_labels(seed_node, seed_w, seed_a, lab_w, lab_aux, lab_src, cnt, K, n_src, eligible, k, d_src, d_w, d_a)
    return src, w, aux, exact, seed_node, seed_w, seed_a, d_src, d_w, d_a


@nb.njit(cache=True)
def nearest_from_point(x, y, radius, margin, cell_start, scan, glen, gx0, gy0, cell, gx, gy, block_d, bs, bx, by,
                       rec, mps, ps_indptr, ps_src, ps_f, ps_acc,
                       lab_w, lab_aux, lab_src, cnt, K, n_src,
                       tab_w, tab_aux, tab_src, tab_cnt, tab_k,
                       indptr, indices, w, aux, n, st_indptr, st_src, st_w, st_aux,
                       eligible, k):  # fmt: skip
    """A whole nearest-station query from a projected point, in one call.

    Snaps the point (:func:`planner.network.snap.snap_auto`, the snapper's arrays), merges
    its seeds' general labels (:func:`query_nearest`); when they cannot prove the answer,
    the labels of the filter combination's own table (``tab_*``, ``tab_k`` stations per
    node; ``tab_k = 0``: none yet), and then the forward search (:func:`k_eligible_from`).

    Returns one float array ``[m, nearest_m, labels_failed, src_1..src_m, w_1..w_m,
    aux_1..aux_m]``: the ``m <= k`` nearest eligible sources by ``w``, the straight leg to
    the nearest edge (inf without one), and 1.0 when the general labels were not enough.
    """
    piece, f, d, px, py = snap_auto(x, y, radius, margin, cell_start, scan, glen, gx0, gy0, cell, gx, gy, block_d, bs, bx, by)
    nearest_m = d[0] if d.size else np.inf
    if piece.size == 0:
        out = np.empty(3)
        out[0], out[1], out[2] = 0.0, nearest_m, 0.0
        return out
    src, dist, secs, exact, node, sw, sa, d_src, d_w, d_a = query_nearest(
        piece, f, d, rec, mps, ps_indptr, ps_src, ps_f, ps_acc,
        lab_w, lab_aux, lab_src, cnt, K, n_src, eligible, k)  # fmt: skip
    failed = 0.0 if exact else 1.0
    if not exact and tab_k >= k:
        src, dist, secs, exact = merge_labels(node, sw, sa, tab_w, tab_aux, tab_src, tab_cnt, tab_k, n_src, eligible, k,
                                              d_src, d_w, d_a)  # fmt: skip
    if not exact:
        src, dist, secs = k_eligible_from(indptr, indices, w, aux, n, node, sw, sa, st_indptr, st_src, st_w, st_aux, eligible,
                                          k, d_src, d_w, d_a)  # fmt: skip
    m = src.size
    out = np.empty(3 + 3 * m)
    out[0], out[1], out[2] = m, nearest_m, failed
    for i in range(m):
        out[3 + i] = src[i]
        out[3 + m + i] = dist[i]
        out[3 + 2 * m + i] = secs[i]
    return out
