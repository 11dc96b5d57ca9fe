"""Brute-force reference for edge snapping: split every edge near a point at its projection.

Independent of planner.network.snap: shapely projections on every directed edge of the
network (its straight segment, in the network's own CRS), networkx Dijkstra on a copy of
the graph in which each edge within the snap radius of the origin (a station: its nearest
edges) is cut at the projection and joined to the point by its straight access leg.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely

RADIUS_M = 2000.0
MARGIN_M = 1000.0


def edge_lines(net):
    xy = np.stack([np.column_stack([net.node_x[net.edge_u], net.node_y[net.edge_u]]),
                   np.column_stack([net.node_x[net.edge_v], net.node_y[net.edge_v]])], axis=1)
    return shapely.linestrings(xy)


def cuts_for(net, lines, x, y, *, station=False):
    """Every directed edge within max(2 km, nearest + 1 km) of (x, y) (a station: its nearest
    edges only, within 1 cm): (edge, fraction, access)."""
    p = shapely.points(x, y)
    d = shapely.distance(lines, p)
    limit = float(d.min()) + 0.01 if station else max(RADIUS_M, float(d.min()) + MARGIN_M)
    out = []
    for e in np.flatnonzero(d <= limit).tolist():
        if net.edge_u[e] == net.edge_v[e]:
            continue
        f = shapely.line_locate_point(lines[e], p, normalized=True)
        out.append((e, float(f), float(d[e])))
    return out


def reference(net, lines, origin_xy, targets_xy, access_speed_kmh=30.0):
    """Shortest road metres (and seconds along that path) from a point to each target.

    ``origin_xy`` may be a node id (int): the search then starts at that node.
    """
    mps = access_speed_kmh / 3.6
    cuts: dict[int, list[tuple[float, object]]] = {}
    G = nx.DiGraph()
    points = [(("T", i), xy) for i, xy in enumerate(targets_xy)]
    if isinstance(origin_xy, (int, np.integer)):
        G.add_edge("O", int(origin_xy), w=0.0, t=0.0)
    else:
        G.add_node("O")
        points.insert(0, ("O", origin_xy))
    for name, (x, y) in points:
        for e, f, acc in cuts_for(net, lines, x, y, station=name != "O"):
            cuts.setdefault(e, []).append((f, name, acc))
    def add(a, b, w, t):
        if not G.has_edge(a, b) or G[a][b]["w"] > w:
            G.add_edge(a, b, w=w, t=t)
    for e in range(net.n_edges):
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        if u == v:
            continue
        L, T = float(net.edge_length_m[e]), float(net.edge_time_s[e])
        if e not in cuts:
            add(u, v, L, T)
            continue
        seq = sorted(cuts[e], key=lambda c: c[0])
        prev, fprev = u, 0.0
        for j, (f, name, acc) in enumerate(seq):
            mid = ("cut", e, j)
            add(prev, mid, (f - fprev) * L, (f - fprev) * T)
            if name == "O":
                add("O", mid, acc, acc / mps)
            else:
                add(mid, name, acc, acc / mps)
            prev, fprev = mid, f
        add(prev, v, (1.0 - fprev) * L, (1.0 - fprev) * T)
    dist, paths = nx.single_source_dijkstra(G, "O", weight="w")
    out = []
    for i in range(len(targets_xy)):
        key = ("T", i)
        if key not in dist:
            out.append((np.inf, np.inf))
            continue
        path = paths[key]
        t = sum(G[a][b]["t"] for a, b in zip(path[:-1], path[1:]))
        out.append((dist[key], t))
    return out
