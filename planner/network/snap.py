"""Snapping points to road *edges* ("phantom nodes"), not to the nearest node.

A point (a driver, a station, a demand point) meets the network where a straight access leg
from it reaches the nearest point of a road edge. From that projected point a truck drives
the rest of the edge to its head node (and, on a two-way road, the other part back to the
tail node); a station is reached from an edge's tail node by the partial edge up to its
projection. Snapping to the nearest *node* instead picks the wrong road wherever a far node
of a near edge, or another road nearby, is the better way in (issue: a point 5.7 km from a
station was sent 44.9 km round because its nearest node lay on the wrong side).

One snap of a driver's point keeps **every** edge within ``max(radius_m, nearest + margin_m)`` of the point
(default 2 km and 1 km), not just the nearest one: a point next to a one-way road or a
dead end may be better served by a road a little farther away, and the cheapest total
(access leg + partial edge + network) decides. Each kept edge gives *seeds*:

- out-seeds (point → network): the edge's head node, at ``access + (1 - f)·length``;
  for the reverse direction of a two-way road, its tail node at ``access + f·length``;
- in-seeds (network → point): the tail node at ``f·length + access`` (and the head node
  of the reverse direction).

``f`` is the position of the projection along the edge (0 at the tail, 1 at the head),
measured along the edge's geometry; partial length and time are that share of the edge's
length and truck time. Two points on the same edge and direction, the second ahead of the
first, are also joined directly along the edge (:func:`direct_pairs`).

All geometry is in the network's own projected CRS (``network.project``), the metric in
which edge lengths are at least their straight lines, so ``road >= straight`` holds for
every access + partial + network + partial + access total.

The search uses a bucket grid over the midpoints of edge pieces no longer than
:data:`MAX_PIECE_M`, so the cells within ``R + MAX_PIECE_M / 2`` of the point hold
every segment within ``R``; a distance transform over blocks of cells bounds how far the
nearest segment can be, so one scan finds every candidate. Edges are taken from the network's CSR (the shortest of
parallel edges, the one routing uses); a two-way straight road is one piece serving both
directions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
from scipy import ndimage


__all__ = ["MARGIN_M", "MAX_PIECE_M", "RADIUS_M", "EdgeSnapper", "Snap", "direct_pairs"]

#: Every edge within this many metres of the point is tried.
RADIUS_M = 2000.0
#: ... and, for a point farther than that from any road, every edge within nearest + this.
MARGIN_M = 1000.0
#: Edges this close (metres) to a station's nearest edge also hold the station (ties at a node).
TIE_M = 0.01
#: Longest segment indexed in the grid (longer straight segments are split for the index).
MAX_PIECE_M = 250.0


@dataclass
class Snap:
    """The candidate edges of one point.

    Attributes
    ----------
    x, y : float
        The point, projected metres.
    piece : numpy.ndarray
        Candidate pieces (see :class:`EdgeSnapper`), nearest first.
    f : numpy.ndarray
        Position of the projection along each piece, 0 (tail) .. 1 (head).
    access_m : numpy.ndarray
        Straight distance from the point to its projection on each piece, metres.
    px, py : numpy.ndarray
        The projected points, metres.
    """

    x: float
    y: float
    piece: np.ndarray
    f: np.ndarray
    access_m: np.ndarray
    px: np.ndarray
    py: np.ndarray

    def nearest_only(self, tol_m: float = TIE_M) -> Snap:
        """Only the nearest edge(s) (several when they tie, e.g. at a node): how a *station*
        attaches. A station is a site on its own road; attaching it to every road within
        the radius would let a detour "enter" on one road and "leave" on another through
        the station's straight access legs."""
        keep = self.access_m <= (self.access_m[0] + tol_m if self.access_m.size else 0.0)
        return Snap(self.x, self.y, self.piece[keep], self.f[keep], self.access_m[keep], self.px[keep], self.py[keep])

    @property
    def nearest_m(self) -> float:
        """Access leg to the nearest edge, metres."""
        return float(self.access_m[0]) if self.access_m.size else math.inf


class EdgeSnapper:
    """Edge index of one :class:`~planner.network.RoadNetwork` (build once, query often).

    Pieces: one per two-way straight road (``fwd`` = the CSR entry tail→head, ``rev`` =
    head→tail) or per directed edge that has its own geometry (``rev = -1``). For each piece:
    ``tail``, ``head`` (node ids), ``length_fwd``/``time_fwd`` and ``length_rev``/``time_rev``
    (metres and truck seconds; ``nan`` when that direction does not exist).
    """

    def __init__(self, network: Any, *, radius_m: float = RADIUS_M, margin_m: float = MARGIN_M):
        self.network = network
        self.radius_m = float(radius_m)
        self.margin_m = float(margin_m)
        n = network.n_nodes
        keys = np.asarray(network._csr_keys, dtype=np.int64)
        u, v = keys // n, keys % n
        L = np.asarray(network.length_csr.data, dtype=np.float64)
        T = np.asarray(network._time_on_len, dtype=np.float64)
        geom_entry = self._entries_with_geometry(network, keys)

        straight = ~geom_entry
        su, sv = u[straight], v[straight]
        s_entry = np.flatnonzero(straight)
        lo, hi = np.minimum(su, sv), np.maximum(su, sv)
        ukey = lo * n + hi
        uniq, inv = np.unique(ukey, return_inverse=True)
        m = uniq.size
        fwd = np.full(m, -1, dtype=np.int64)
        rev = np.full(m, -1, dtype=np.int64)
        is_fwd = su < sv
        fwd[inv[is_fwd]] = s_entry[is_fwd]
        rev[inv[~is_fwd]] = s_entry[~is_fwd]
        tail, head = uniq // n, uniq % n
        # geometry pieces: one per directed CSR entry
        g_entry = np.flatnonzero(geom_entry)
        self.tail = np.concatenate([tail, u[g_entry]]).astype(np.int64)
        self.head = np.concatenate([head, v[g_entry]]).astype(np.int64)
        self.fwd = np.concatenate([fwd, g_entry])
        self.rev = np.concatenate([rev, np.full(g_entry.size, -1, dtype=np.int64)])
        nan = np.nan
        self.length_fwd = np.where(self.fwd >= 0, L[np.maximum(self.fwd, 0)], nan)
        self.time_fwd = np.where(self.fwd >= 0, T[np.maximum(self.fwd, 0)], nan)
        self.length_rev = np.where(self.rev >= 0, L[np.maximum(self.rev, 0)], nan)
        self.time_rev = np.where(self.rev >= 0, T[np.maximum(self.rev, 0)], nan)
        self.n_pieces = int(self.tail.size)
        #: What the seed rule reads of a piece, one row each (one cache line):
        #: ``(tail, head, length_fwd, time_fwd, length_rev, time_rev)``.
        self.piece_rec = np.empty((self.n_pieces, 6))
        for j, column in enumerate((self.tail, self.head, self.length_fwd, self.time_fwd, self.length_rev, self.time_rev)):
            self.piece_rec[:, j] = column

        # segments (x0, y0) -> (x1, y1) of each piece's geometry, at most MAX_PIECE_M long
        nx_, ny_ = network.node_x, network.node_y
        xs = [np.column_stack([nx_[tail], ny_[tail], nx_[head], ny_[head]])]
        owners = [np.arange(m, dtype=np.int64)]
        offs = [np.zeros(m)]
        glen = [np.hypot(nx_[head] - nx_[tail], ny_[head] - ny_[tail])]
        if g_entry.size:
            gx, go, gof, gl = self._geometry_segments(network, keys[g_entry], g_entry, m)
            xs.append(gx)
            owners.append(go)
            offs.append(gof)
            glen.append(gl)
        seg = np.concatenate(xs)
        owner = np.concatenate(owners)
        off = np.concatenate(offs)
        self.geom_len = np.concatenate(glen)
        # split long segments for the index
        seg_len = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
        parts = np.maximum(1, np.ceil(seg_len / MAX_PIECE_M).astype(np.int64))
        if (parts > 1).any():
            rep = np.repeat(np.arange(seg.shape[0]), parts)
            start = np.concatenate([[0], np.cumsum(parts)[:-1]])
            k = np.arange(rep.size) - start[rep]
            a0 = k / parts[rep]
            a1 = (k + 1) / parts[rep]
            dx, dy = seg[rep, 2] - seg[rep, 0], seg[rep, 3] - seg[rep, 1]
            seg = np.column_stack([seg[rep, 0] + a0 * dx, seg[rep, 1] + a0 * dy, seg[rep, 0] + a1 * dx, seg[rep, 1] + a1 * dy])
            off = off[rep] + a0 * seg_len[rep]
            owner = owner[rep]
        seg_dx, seg_dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
        seg_len2 = seg_dx**2 + seg_dy**2
        # bucket grid over segment midpoints (cells of at least MAX_PIECE_M, at most ~4 M cells)
        mx, my = seg[:, 0] + 0.5 * seg_dx, seg[:, 1] + 0.5 * seg_dy
        x0, y0 = float(mx.min()), float(my.min())
        w, h = float(mx.max()) - x0, float(my.max()) - y0
        cell = max(MAX_PIECE_M, math.sqrt(max(w, 1.0) * max(h, 1.0) / 4e6))
        gx, gy = int(w // cell) + 1, int(h // cell) + 1
        key = ((my - y0) // cell).astype(np.int64) * gx + ((mx - x0) // cell).astype(np.int64)
        self._grid = (x0, y0, cell, gx, gy)
        cell_seg = np.argsort(key, kind="stable").astype(np.int64)
        self._cell_start = np.searchsorted(key[cell_seg], np.arange(gx * gy + 1)).astype(np.int64)
        self._bbox = (x0, y0, x0 + w, y0 + h)
        # how far the nearest segment can be, per block of B × B cells (at most ~1 M blocks):
        # the distance between block centres to the nearest block holding a midpoint
        b = max(2, math.ceil(math.sqrt(gx * gy / 1e6)))
        bs, bx, by = b * cell, -(-gx // b), -(-gy // b)
        occupied = np.zeros((by, bx), dtype=bool)
        occupied[(key // gx) // b, (key % gx) // b] = True
        self._block_d = ndimage.distance_transform_edt(~occupied).ravel() * bs
        #: The segments of every piece's geometry (at most ``MAX_PIECE_M`` long), one row each
        #: (64 bytes: what the snapping scan reads of a segment is one cache line), rows in
        #: cell order (``_cell_start`` delimits each cell's rows): ``(x0, y0, dx, dy, length²,
        #: length, offset along its piece, piece)``.
        self.scan_rows = np.empty((cell_seg.size, 8))
        columns = (seg[:, 0], seg[:, 1], seg_dx, seg_dy, seg_len2, np.sqrt(seg_len2), off, owner)
        for j, column in enumerate(columns):
            self.scan_rows[:, j] = column[cell_seg]  # column by column: no (n, 8) temporary
        self._piece_rows_index: tuple[np.ndarray, np.ndarray] | None = None
        self._args = (self._cell_start, self.scan_rows, self.geom_len, x0, y0, cell, gx, gy, self._block_d, bs, bx, by)

    # ------------------------------------------------------------------ build helpers
    @staticmethod
    def _entries_with_geometry(network: Any, keys: np.ndarray) -> np.ndarray:
        geoms = getattr(network, "edge_geometry", None)
        if geoms is None:
            return np.zeros(keys.size, dtype=bool)
        n = network.n_nodes
        has = np.fromiter((g is not None for g in geoms), dtype=bool, count=len(geoms))
        ekey = network.edge_u * n + network.edge_v
        # the CSR entry of (u, v) carries the shortest parallel edge; use its geometry
        order = np.lexsort((network.edge_time_s, network.edge_length_m, ekey))
        first = np.ones(order.size, dtype=bool)
        first[1:] = ekey[order][1:] != ekey[order][:-1]
        best = order[first]
        best = best[network.edge_u[best] != network.edge_v[best]]
        pos = np.searchsorted(keys, ekey[best])
        out = np.zeros(keys.size, dtype=bool)
        out[pos] = has[best]
        network.__dict__.setdefault("_csr_edge_index", np.full(keys.size, -1, dtype=np.int64))
        network._csr_edge_index[pos] = best
        return out

    @staticmethod
    def _geometry_segments(network: Any, keys: np.ndarray, entries: np.ndarray, first_piece: int):
        import shapely

        edge_idx = network._csr_edge_index[entries]
        rows, owner, offs, glen = [], [], [], []
        for j, e in enumerate(edge_idx.tolist()):
            xy = shapely.get_coordinates(network.edge_geometry[e])
            gx, gy = network.project(xy[:, 0], xy[:, 1])
            gx, gy = np.asarray(gx, dtype=np.float64), np.asarray(gy, dtype=np.float64)
            # pin the ends to the nodes, so partial lengths start and end where routing does
            gx[0], gy[0] = network.node_x[network.edge_u[e]], network.node_y[network.edge_u[e]]
            gx[-1], gy[-1] = network.node_x[network.edge_v[e]], network.node_y[network.edge_v[e]]
            s = np.hypot(np.diff(gx), np.diff(gy))
            rows.append(np.column_stack([gx[:-1], gy[:-1], gx[1:], gy[1:]]))
            owner.append(np.full(s.size, first_piece + j, dtype=np.int64))
            offs.append(np.concatenate([[0.0], np.cumsum(s)[:-1]]))
            glen.append(s.sum())
        return np.concatenate(rows), np.concatenate(owner), np.concatenate(offs), np.asarray(glen)

    # ------------------------------------------------------------------ queries
    def snap_xy(self, x: float, y: float) -> Snap:
        """Candidate edges of one projected point (every edge within the search radius)."""
        piece, f, d, px, py = snap_auto(x, y, self.radius_m, self.margin_m, *self._args)
        return Snap(x, y, piece, f, d, px, py)

    def snap_many_xy(self, x: np.ndarray, y: np.ndarray) -> list[Snap]:
        """:meth:`snap_xy` for many points."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        return [self.snap_xy(float(a), float(b)) for a, b in zip(x.tolist(), y.tolist())]

    # ------------------------------------------------------------------ seeds
    def out_seeds(self, snap: Snap, access_mps: float) -> tuple[np.ndarray, ...]:
        """Point → network: ``(node, metres, seconds, candidate, forward)`` per usable direction.

        ``candidate`` is the position in ``snap.piece`` and ``forward`` tells the piece's
        direction used (to rebuild the route geometry). Seconds include the access leg at
        ``access_mps``.
        """
        return self._seeds(snap, access_mps, outbound=True)

    def in_seeds(self, snap: Snap, access_mps: float) -> tuple[np.ndarray, ...]:
        """Network → point: ``(node, metres, seconds, candidate, forward)`` per usable direction."""
        return self._seeds(snap, access_mps, outbound=False)

    def _seeds(self, snap: Snap, access_mps: float, *, outbound: bool):
        return edge_seeds(snap.piece, snap.f, snap.access_m, self.piece_rec, float(access_mps), outbound)

    def piece_line(self, piece: int, f0: float, f1: float) -> np.ndarray:
        """Projected coordinates along a piece's geometry from fraction ``f0`` to ``f1``
        (``f0 > f1`` walks it backwards), both ends included."""
        rows = self.scan_rows[self._piece_rows(piece)]
        x0, y0 = rows[:, 0], rows[:, 1]
        xs = np.append(x0, x0[-1] + rows[-1, 2])
        ys = np.append(y0, y0[-1] + rows[-1, 3])
        glen = self.geom_len[piece]
        at = np.append(rows[:, 6], glen) / glen if glen > 0 else np.linspace(0, 1, xs.size)
        lo, hi = min(f0, f1), max(f0, f1)
        inner = (at > lo) & (at < hi)
        qx = np.concatenate([[np.interp(lo, at, xs)], xs[inner], [np.interp(hi, at, xs)]])
        qy = np.concatenate([[np.interp(lo, at, ys)], ys[inner], [np.interp(hi, at, ys)]])
        pts = np.column_stack([qx, qy])
        return pts[::-1] if f0 > f1 else pts

    def _piece_rows(self, piece: int) -> np.ndarray:
        """Rows of :attr:`scan_rows` holding ``piece``'s segments, in order along it."""
        index = self._piece_rows_index
        if index is None:  # built once; a racing thread builds the same and one assignment wins
            order = np.lexsort((self.scan_rows[:, 6], self.scan_rows[:, 7]))  # by piece, then offset
            index = self._piece_rows_index = (order, np.searchsorted(self.scan_rows[order, 7], np.arange(self.n_pieces + 1)))
        order, start = index
        return order[start[piece] : start[piece + 1]]


def direct_pairs(snapper: EdgeSnapper, a: Snap, b: Snap, access_mps: float) -> tuple[float, float, int, int]:
    """Cheapest way from point ``a`` to point ``b`` along one shared edge, without a node.

    Returns ``(metres, seconds, candidate in a, candidate in b)``; ``(inf, inf, -1, -1)``
    when they share no edge in a usable direction.
    """
    common, ia, ib = np.intersect1d(a.piece, b.piece, return_indices=True)
    best = (math.inf, math.inf, -1, -1)
    for p, i, j in zip(common.tolist(), ia.tolist(), ib.tolist()):
        fa, fb = float(a.f[i]), float(b.f[j])
        acc = float(a.access_m[i] + b.access_m[j])
        if fb >= fa and snapper.fwd[p] >= 0:
            d = acc + (fb - fa) * snapper.length_fwd[p]
            t = acc / access_mps + (fb - fa) * snapper.time_fwd[p]
        elif fb <= fa and snapper.rev[p] >= 0:
            d = acc + (fa - fb) * snapper.length_rev[p]
            t = acc / access_mps + (fa - fb) * snapper.time_rev[p]
        else:
            continue
        if d < best[0]:
            best = (float(d), float(t), i, j)
    return best


@nb.njit(cache=True, nogil=True)
def grow3(ints, floats_a, floats_b, used):
    """Three parallel buffers (int64, float64, float64) at twice the size, the first ``used``
    entries kept: the one way the numba kernels here and in :mod:`planner.network.index` grow
    a candidate list."""
    cap = 2 * ints.size
    a1 = np.empty(cap, dtype=np.int64)
    a2 = np.empty(cap)
    a3 = np.empty(cap)
    a1[:used] = ints[:used]
    a2[:used] = floats_a[:used]
    a3[:used] = floats_b[:used]
    return a1, a2, a3


@nb.njit(cache=True)
def _snap_kernel(x, y, radius, margin, d_hint, cell_start, scan, glen, gx0, gy0, cell, gx, gy):
    """Every piece within ``max(radius, nearest + margin)`` of (x, y), nearest first.

    ``d_hint`` is at least the distance to the nearest segment (see :func:`snap_auto`).
    Scans the grid cells within ``reach + MAX_PIECE_M / 2``, where ``reach`` is
    ``max(radius, d_hint + margin)``, reading ``scan``: one row per segment, in cell order
    (:attr:`EdgeSnapper.scan_rows`), so a row of cells is one run of memory. Returns ``(piece, f, d, px, py)``: the nearest segment of
    each piece within the limit (ties: the first scanned), pieces ordered by distance, ties
    by piece id.
    """
    reach = max(radius, d_hint + margin)
    r = reach + 0.5 * MAX_PIECE_M
    cx0 = max(0, int((x - r - gx0) // cell))
    cx1 = min(gx - 1, int((x + r - gx0) // cell))
    cy0 = max(0, int((y - r - gy0) // cell))
    cy1 = min(gy - 1, int((y + r - gy0) // cell))
    m = 0
    c_row = np.empty(256, dtype=np.int64)
    c_d = np.empty(256)
    c_t = np.empty(256)
    dmin = np.inf
    if cx0 <= cx1 and cy0 <= cy1:  # else the disc misses the grid: no candidate
        for cy in range(cy0, cy1 + 1):
            for q in range(cell_start[cy * gx + cx0], cell_start[cy * gx + cx1 + 1]):
                ax, ay, dx, dy, l2 = scan[q, 0], scan[q, 1], scan[q, 2], scan[q, 3], scan[q, 4]
                t = 0.0
                if l2 > 0:
                    t = ((x - ax) * dx + (y - ay) * dy) / l2
                    t = min(1.0, max(0.0, t))
                d = math.hypot(ax + t * dx - x, ay + t * dy - y)
                if d > reach:
                    continue
                if m == c_row.size:
                    c_row, c_d, c_t = grow3(c_row, c_d, c_t, m)
                c_row[m] = q
                c_d[m] = d
                c_t[m] = t
                m += 1
                if d < dmin:
                    dmin = d
    limit = max(radius, dmin + margin)
    # the nearest candidate of each piece: an open-addressing table keyed by piece
    cap = 16
    while cap < 2 * m:
        cap *= 2
    slot_piece = np.full(cap, -1, dtype=np.int64)
    slot_cand = np.empty(cap, dtype=np.int64)
    ns = 0
    for i in range(m):
        if c_d[i] > limit:
            continue
        p = np.int64(scan[c_row[i], 7])
        h = (p * 40503) & (cap - 1)
        while slot_piece[h] != -1 and slot_piece[h] != p:
            h = (h + 1) & (cap - 1)
        if slot_piece[h] == -1:
            slot_piece[h] = p
            slot_cand[h] = i
            ns += 1
        elif c_d[i] < c_d[slot_cand[h]]:  # strictly nearer: on a tie the first scanned stays
            slot_cand[h] = i
    sel = np.empty(ns, dtype=np.int64)
    sp = np.empty(ns, dtype=np.int64)
    sd = np.empty(ns)
    j = 0
    for h in range(cap):
        if slot_piece[h] != -1:
            sel[j] = slot_cand[h]
            sp[j] = slot_piece[h]
            sd[j] = c_d[slot_cand[h]]
            j += 1
    # order by (distance, piece): insertion sort for a few dozen pieces, else two stable sorts
    if ns <= 48:
        order = np.arange(ns)
        for i in range(1, ns):
            o = order[i]
            k = i - 1
            while k >= 0 and (sd[order[k]] > sd[o] or (sd[order[k]] == sd[o] and sp[order[k]] > sp[o])):
                order[k + 1] = order[k]
                k -= 1
            order[k + 1] = o
    else:
        order = np.argsort(sp, kind="mergesort")
        order = order[np.argsort(sd[order], kind="mergesort")]
    piece = np.empty(ns, dtype=np.int64)
    f = np.empty(ns)
    d = np.empty(ns)
    px = np.empty(ns)
    py = np.empty(ns)
    for i in range(ns):
        j = sel[order[i]]
        q = c_row[j]
        p = np.int64(scan[q, 7])
        t = c_t[j]
        piece[i] = p
        g = glen[p]
        f[i] = min(1.0, max(0.0, (scan[q, 6] + t * scan[q, 5]) / g)) if g > 0 else 0.0
        d[i] = c_d[j]
        px[i] = scan[q, 0] + t * scan[q, 2]
        py[i] = scan[q, 1] + t * scan[q, 3]
    return piece, f, d, px, py


@nb.njit(cache=True)
def edge_seeds(piece, f, acc, rec, mps, outbound):
    """Where a point on candidate edges enters (``outbound``) or is reached from the graph:
    per candidate and existing direction, the end node with the metres and seconds of the
    access leg plus the partial edge. ``rec`` is :attr:`EdgeSnapper.piece_rec`. Returns
    ``(nodes, dist, secs, candidate, forward)``; the one seed rule of snapping, routing and
    the nearest-station query kernel."""
    m = piece.size
    nodes = np.empty(2 * m, dtype=np.int64)
    dist = np.empty(2 * m)
    secs = np.empty(2 * m)
    cand = np.empty(2 * m, dtype=np.int64)
    fwd = np.empty(2 * m, dtype=np.bool_)
    k = 0
    for i in range(m):
        p = piece[i]
        a = acc[i]
        at = a / mps
        fi = f[i]
        tail, head = np.int64(rec[p, 0]), np.int64(rec[p, 1])
        lf, tf, lr, tr = rec[p, 2], rec[p, 3], rec[p, 4], rec[p, 5]
        if lf == lf:  # forward direction exists (not nan)
            nodes[k] = head if outbound else tail
            dist[k] = a + (1.0 - fi) * lf if outbound else fi * lf + a
            secs[k] = at + (1.0 - fi) * tf if outbound else fi * tf + at
            cand[k] = i
            fwd[k] = True
            k += 1
        if lr == lr:
            nodes[k] = tail if outbound else head
            dist[k] = a + fi * lr if outbound else (1.0 - fi) * lr + a
            secs[k] = at + fi * tr if outbound else (1.0 - fi) * tr + at
            cand[k] = i
            fwd[k] = False
            k += 1
    return nodes[:k], dist[:k], secs[:k], cand[:k], fwd[:k]


@nb.njit(cache=True)
def snap_auto(x, y, radius, margin, cell_start, scan, glen, gx0, gy0, cell, gx, gy, block_d, bs, bx, by):
    """:func:`_snap_kernel` with the radius rule (every piece within ``radius``, or within
    ``nearest + margin`` when no road is within ``radius - margin``), in one scan.

    The nearest segment is at most ``bound`` away: from the point to the centre of its block
    (the nearest block of the grid when the point lies outside it), on to the centre of the
    nearest block holding a segment midpoint (``block_d``, a distance transform), and at
    most half a block's diagonal on to that midpoint, which lies on its segment. Scanning
    ``max(radius, bound + margin)`` therefore finds the nearest segment and every one within
    ``max(radius, nearest + margin)``; the kernel keeps exactly those.
    """
    i = min(max(int((x - gx0) // bs), 0), bx - 1)
    j = min(max(int((y - gy0) // bs), 0), by - 1)
    cx = gx0 + (i + 0.5) * bs
    cy = gy0 + (j + 0.5) * bs
    bound = math.hypot(x - cx, y - cy) + block_d[j * bx + i] + bs * math.sqrt(0.5) + 1.0  # + 1 m for rounding
    return _snap_kernel(x, y, radius, margin, bound, cell_start, scan, glen, gx0, gy0, cell, gx, gy)
