"""Cost matrices of a scenario, from network shortest paths (km or minutes).

Demand points are snapped to nodes and aggregated there (so the matrix stays small); one
Dijkstra per column runs on the transposed graph (node -> site costs, the direction a truck
drives); access legs at both ends are added at :data:`planner.settings.ACCESS_SPEED_KMH`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner import settings

__all__ = ["aggregate_demand", "cost_matrix", "node_to_columns", "station_columns"]

#: Cost of an unreachable pair in a matrix handed to the solvers (they need finite numbers).
_UNREACHABLE = 1e9


def node_to_columns(network, column_nodes: Sequence[int], *, weight: str = "length") -> np.ndarray:
    """Shortest-path cost from every node to each column node, (n_nodes × n_columns).

    One Dijkstra per column on the transposed graph (so the costs are node → column,
    the direction a truck drives). ``weight`` is ``"length"`` (metres) or ``"time"``
    (seconds). Unreachable pairs are ``inf``.
    """
    from scipy.sparse.csgraph import dijkstra

    csr = network.length_csr if weight == "length" else network.time_csr
    cols = np.asarray(column_nodes, dtype=np.int64)
    if cols.size == 0:
        return np.zeros((int(network.n_nodes), 0))
    uniq, inverse = np.unique(cols, return_inverse=True)
    d = dijkstra(csr.T.tocsr(), directed=True, indices=uniq)
    return np.asarray(d).T[:, inverse]


def station_columns(network, stations: list[dict]) -> pd.DataFrame:
    """Stations as columns of a cost matrix: their nearest node and straight access leg (m)."""
    if not stations:
        return pd.DataFrame(columns=["node", "access_m"])
    nodes, access_m = network.snap_many(np.array([s["lon"] for s in stations], float),
                                        np.array([s["lat"] for s in stations], float))
    return pd.DataFrame({"node": np.asarray(nodes, dtype=np.int64), "access_m": np.asarray(access_m, float)})


def aggregate_demand(network, demand: pd.DataFrame, *, access_bucket_m: float | None = None) -> pd.DataFrame:
    """Demand summed per network node (and per access-leg bucket when given)."""
    nodes, access_m = network.snap_many(demand["lon"].to_numpy(float), demand["lat"].to_numpy(float))
    df = pd.DataFrame({"node": np.asarray(nodes, dtype=np.int64), "access_m": np.asarray(access_m, float),
                       "weight": demand["weight"].to_numpy(float)})
    keys = ["node"]
    if access_bucket_m:
        df["bucket"] = np.floor(df["access_m"] / access_bucket_m).astype(np.int64)
        keys.append("bucket")
    df["wa"] = df["weight"] * df["access_m"]
    g = df.groupby(keys, sort=True).agg(weight=("weight", "sum"), wa=("wa", "sum"), access_max=("access_m", "max"))
    g = g.reset_index()
    g["access_m"] = g["wa"] / g["weight"]
    if access_bucket_m:  # for coverage thresholds be conservative: the farthest point of the bucket
        g["access_m"] = g["access_max"]
    return g[["node", "access_m", "weight"]]


def cost_matrix(network, rows: pd.DataFrame, columns: pd.DataFrame, *, cost: str) -> np.ndarray:
    """Cost rows → columns: row access leg + network path + column access leg (km or min)."""
    weight = "length" if cost == "road_km" else "time"
    D = node_to_columns(network, columns["node"].to_numpy(np.int64), weight=weight)
    net = D[rows["node"].to_numpy(np.int64), :]
    speed_ms = settings.ACCESS_SPEED_KMH / 3.6
    row_leg = rows["access_m"].to_numpy(float)[:, None]
    col_leg = columns["access_m"].to_numpy(float)[None, :]
    if cost == "road_km":
        m = (row_leg + net + col_leg) / 1000.0
    else:
        m = (row_leg / speed_ms + net + col_leg / speed_ms) / 60.0
    return np.where(np.isfinite(m), m, _UNREACHABLE)
