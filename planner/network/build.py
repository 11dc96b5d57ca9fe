"""The arrays of a road network, built from corridor lines or from a networkx graph.

Each builder here checks its input and returns the keyword arguments of
:class:`planner.network.RoadNetwork` (``node_lon``, ``node_lat``, ``edge_u``, ``edge_v``,
``edge_length_m``, ``edge_speed_kmh``, ``edge_ref``, ...): every way of making a network meets
at that one constructor, which checks the arrays, measures the edges and builds the CSR
matrices. The public entry points are :meth:`RoadNetwork.from_corridors` and
:meth:`RoadNetwork.from_graph`, which document the parameters.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planner._validate import non_negative, positive
from planner.errors import InputError
from planner.network.speeds import check_speed_cap, edge_speed_kmh, parse_maxspeed, tag_values
from planner.projection import WGS84, check_crs, crs_for_extent, polyline_lengths_m, transformer

__all__ = ["MIN_EDGE_M", "corridor_arrays", "graph_arrays"]

#: Shortest stored edge, metres (keeps csgraph from seeing zero-weight edges).
MIN_EDGE_M = 1e-3


def ref_text(value: Any) -> str:
    """Road reference(s) of an edge as one text (``"G5;G93"``), duplicates and blanks dropped."""
    parts = [str(v) for v in tag_values(value) if v is not None and str(v) != ""]
    return ";".join(dict.fromkeys(parts))


def corridor_arrays(
    corridors: gpd.GeoDataFrame,
    *,
    max_segment_m: float = 250.0,
    merge_tol_m: float = 1.0,
    crs: str | None = None,
) -> dict[str, Any]:
    """Arguments of :class:`~planner.network.RoadNetwork` for :meth:`~planner.network.RoadNetwork.from_corridors`
    (documented there): corridor LineStrings densified to segments, two-way, with the
    linear referencing table ``corridor_nodes``."""
    if not isinstance(corridors, gpd.GeoDataFrame):
        raise InputError(
            f"corridors must be a GeoDataFrame, got {type(corridors).__name__}", fields={"corridors": "GeoDataFrame"}
        )
    if corridors.crs is None:
        raise InputError("corridors have no CRS; set it (EPSG:4326 expected)", fields={"crs": "required"})
    missing = [c for c in ("ref", "speed_kmh") if c not in corridors.columns]
    if missing:
        raise InputError(f"corridors lack column(s) {missing}", fields={c: "required" for c in missing})
    max_segment_m = positive(max_segment_m, "max_segment_m", unit="m", strict=True)
    merge_tol_m = non_negative(merge_tol_m, "merge_tol_m", unit="m", strict=True)
    if len(corridors) == 0:
        raise InputError("no corridors given", fields={"corridors": "non-empty"})
    gdf = corridors if CRS.from_user_input(corridors.crs).equals(CRS.from_user_input(WGS84)) else corridors.to_crs(WGS84)
    if crs is None:
        x0, y0, x1, y1 = gdf.total_bounds
        crs = crs_for_extent([x0, x1], [y0, y1])
    crs = check_crs(crs)
    to_xy, to_lonlat = transformer(WGS84, crs), transformer(crs, WGS84)

    lons, lats, xs, ys, is_vertex = [], [], [], [], []
    seq_corr, seq_part, seq_km = [], [], []
    speeds = []
    problems: dict[str, str] = {}
    for ci, (geom, speed) in enumerate(zip(gdf.geometry, gdf["speed_kmh"])):
        try:
            speed = float(speed)
        except (TypeError, ValueError):
            speed = float("nan")
        if not (math.isfinite(speed) and speed > 0):
            problems[f"speed_kmh[{ci}]"] = f"positive km/h (got {gdf['speed_kmh'].iloc[ci]!r})"
        speeds.append(speed)
        if geom is None or geom.is_empty:
            problems[f"geometry[{ci}]"] = "a non-empty LineString"
            continue
        if geom.geom_type == "LineString":
            parts = [geom]
        elif geom.geom_type == "MultiLineString":
            parts = list(geom.geoms)
        else:
            problems[f"geometry[{ci}]"] = f"LineString (got {geom.geom_type})"
            continue
        km0 = 0.0
        for pi, part in enumerate(parts):
            xy = shapely.get_coordinates(part)
            if len(xy) < 2:
                continue
            if not np.isfinite(xy).all():
                problems[f"geometry[{ci}]"] = "finite coordinates"
                continue
            px, py = to_xy.transform(xy[:, 0], xy[:, 1])
            px, py = np.asarray(px), np.asarray(py)
            seg = np.hypot(np.diff(px), np.diff(py))
            nseg = np.maximum(1, np.ceil(seg / max_segment_m).astype(np.int64))
            # vertex k of the part followed by nseg[k]-1 interpolated points
            starts = np.concatenate([[0], np.cumsum(nseg)])
            total = int(starts[-1]) + 1
            owner = np.repeat(np.arange(len(seg)), nseg)
            frac = (np.arange(starts[-1]) - starts[:-1][owner]) / nseg[owner]
            qx = np.append(px[:-1][owner] + frac * np.diff(px)[owner], px[-1])
            qy = np.append(py[:-1][owner] + frac * np.diff(py)[owner], py[-1])
            vert = np.zeros(total, dtype=bool)
            vert[starts] = True
            qlon = np.empty(total)
            qlat = np.empty(total)
            qlon[starts], qlat[starts] = xy[:, 0], xy[:, 1]  # keep original vertices exact
            if (~vert).any():
                ilon, ilat = to_lonlat.transform(qx[~vert], qy[~vert])
                qlon[~vert], qlat[~vert] = ilon, ilat
            km = km0 + np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(qx), np.diff(qy)))]) / 1000.0
            km0 = float(km[-1])
            lons.append(qlon)
            lats.append(qlat)
            xs.append(qx)
            ys.append(qy)
            is_vertex.append(vert)
            seq_corr.append(np.full(total, ci))
            seq_part.append(np.full(total, pi))
            seq_km.append(km)
    if problems:
        raise InputError(f"invalid corridors: {problems}", fields=problems)
    if not lons:
        raise InputError("corridors contain no line with two or more points", fields={"geometry": "LineString"})

    lon = np.concatenate(lons)
    lat = np.concatenate(lats)
    px = np.concatenate(xs)
    py = np.concatenate(ys)
    vert = np.concatenate(is_vertex)
    corr = np.concatenate(seq_corr)
    part = np.concatenate(seq_part)
    km = np.concatenate(seq_km)

    # 1) identical coordinates -> one node
    uniq, first_idx, inverse = np.unique(np.column_stack([lon, lat]), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_u = len(uniq)
    u_vert = np.zeros(n_u, dtype=bool)
    np.logical_or.at(u_vert, inverse, vert)
    u_x, u_y = px[first_idx], py[first_idx]
    # 2) within merge_tol_m -> one node (prefer an original vertex as representative)
    label = np.arange(n_u)
    if merge_tol_m > 0 and n_u > 1:
        pairs = cKDTree(np.column_stack([u_x, u_y])).query_pairs(merge_tol_m, output_type="ndarray")
        if len(pairs):
            adj = sparse.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_u, n_u))
            _, label = csgraph.connected_components(adj, directed=False)
    order = np.lexsort((np.arange(n_u), ~u_vert, label))
    lab_sorted = label[order]
    head = np.ones(n_u, dtype=bool)
    head[1:] = lab_sorted[1:] != lab_sorted[:-1]
    rep_of_label = np.empty(label.max() + 1, dtype=np.int64)
    rep_of_label[lab_sorted[head]] = order[head]
    reps = np.unique(rep_of_label[np.unique(label)])
    new_id = np.full(n_u, -1, dtype=np.int64)
    new_id[reps] = np.arange(reps.size)
    node_of_unique = new_id[rep_of_label[label]]
    node = node_of_unique[inverse]
    node_lon, node_lat = uniq[reps, 0], uniq[reps, 1]

    # edges between consecutive points of the same part, both directions
    same = (corr[1:] == corr[:-1]) & (part[1:] == part[:-1])
    a, b = node[:-1][same], node[1:][same]
    ci = corr[:-1][same]
    ok = a != b
    a, b, ci = a[ok], b[ok], ci[ok]
    sp = np.asarray(speeds)[ci]
    refs = np.array([ref_text(r) for r in gdf["ref"]], dtype=object)[ci]
    eu = np.concatenate([a, b])
    ev = np.concatenate([b, a])
    # edge length = straight projected distance between the (merged) end nodes: set in __init__
    corridor_nodes = pd.DataFrame(
        {
            "corridor_idx": corr,
            "part": part,
            "km": km,
            "node": node,
        }
    )
    meta_cols = [c for c in ("ref", "name_zh", "name_en", "road_class") if c in gdf.columns]
    meta = pd.DataFrame({c: gdf[c].to_numpy() for c in meta_cols})
    meta["corridor_idx"] = np.arange(len(gdf))
    corridor_nodes = corridor_nodes.merge(meta, on="corridor_idx", how="left")
    return {
        "node_lon": node_lon,
        "node_lat": node_lat,
        "edge_u": eu,
        "edge_v": ev,
        "edge_length_m": np.zeros(eu.size),
        "edge_speed_kmh": np.concatenate([sp, sp]),
        "edge_ref": np.concatenate([refs, refs]),
        "corridor_nodes": corridor_nodes,
        "source": "corridors",
        "crs": crs,
    }



def graph_arrays(
    G: nx.Graph, *, truck_speed_kmh: float | None = None, source: str = "graph", crs: str | None = None
) -> dict[str, Any]:
    """Arguments of :class:`~planner.network.RoadNetwork` for :meth:`~planner.network.RoadNetwork.from_graph`
    (documented there): nodes from ``x``/``y``, geodesic edge lengths, speeds by
    :func:`planner.network.speeds.edge_speed_kmh`."""
    cap = check_speed_cap(truck_speed_kmh)
    if not isinstance(G, nx.Graph):
        raise InputError(f"G must be a networkx graph, got {type(G).__name__}", fields={"G": "networkx graph"})
    if G.number_of_nodes() == 0:
        raise InputError("the graph has no nodes", fields={"G": "non-empty"})
    ids = list(G.nodes)
    pos = {nid: i for i, nid in enumerate(ids)}
    missing = [nid for nid in ids if "x" not in G.nodes[nid] or "y" not in G.nodes[nid]]
    if missing:
        raise InputError(
            f"{len(missing)} node(s) lack x/y coordinates, e.g. node {missing[0]!r} "
            "(a way may reference a node that is not in the file)",
            fields={"nodes": "x and y attributes"},
        )
    try:
        x = np.array([float(G.nodes[nid]["x"]) for nid in ids])
        y = np.array([float(G.nodes[nid]["y"]) for nid in ids])
    except (TypeError, ValueError) as exc:
        raise InputError(f"node coordinates must be numbers: {exc}", fields={"nodes": "numeric x, y"}) from None
    graph_crs = G.graph.get("crs")
    transform = None
    if graph_crs is not None and not CRS.from_user_input(graph_crs).equals(CRS.from_user_input(WGS84)):
        transform = transformer(CRS.from_user_input(graph_crs).to_wkt(), WGS84)
        x, y = transform.transform(x, y)
        x, y = np.asarray(x), np.asarray(y)

    edge_rows = []  # (ia, ib, geom, data)
    line_coords = []
    for a, b, data in G.edges(data=True):
        ia, ib = pos[a], pos[b]
        geom = data.get("geometry")
        if geom is not None and transform is not None:
            geom = shapely.transform(geom, lambda c: np.column_stack(transform.transform(c[:, 0], c[:, 1])))
        edge_rows.append((ia, ib, geom, data))
        line_coords.append(shapely.get_coordinates(geom) if geom is not None else np.array([[x[ia], y[ia]], [x[ib], y[ib]]]))
    geodesic = polyline_lengths_m(line_coords)  # one vectorised pass over every edge

    us, vs, lens, speeds, refs, geoms = [], [], [], [], [], []
    any_geom = False
    directed = G.is_directed()
    for (ia, ib, geom, data), length in zip(edge_rows, geodesic.tolist()):
        any_geom = any_geom or geom is not None
        speed = edge_speed_kmh(data, cap)
        time_s = parse_maxspeed(data.get("travel_time_s"))  # a positive number or None
        if time_s is not None:
            # a given time (e.g. summed by simplification) defines the mean speed
            speed = min(max(length, MIN_EDGE_M) / time_s * 3.6, cap)
        ref = ref_text(data.get("ref"))
        pairs = [(ia, ib, geom)] if directed else [(ia, ib, geom), (ib, ia, None if geom is None else geom.reverse())]
        for pu, pv, pg in pairs:
            us.append(pu)
            vs.append(pv)
            lens.append(length)
            speeds.append(speed)
            refs.append(ref)
            geoms.append(pg)
    osmid = np.asarray(ids) if all(isinstance(i, (int, np.integer)) for i in ids) else np.asarray([str(i) for i in ids])
    return {
        "node_lon": x,
        "node_lat": y,
        "edge_u": np.asarray(us, dtype=np.int64),
        "edge_v": np.asarray(vs, dtype=np.int64),
        "edge_length_m": np.asarray(lens, dtype=np.float64),
        "edge_speed_kmh": np.asarray(speeds, dtype=np.float64),
        "edge_ref": refs,
        "edge_geometry": geoms if any_geom else None,
        "node_osmid": osmid,
        "source": source,
        "crs": crs,
    }
