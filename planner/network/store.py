"""Road networks on disk: a GeoPackage for GIS and a ``.npz`` of arrays that loads fast.

:func:`save_network` writes a network (through a temporary name, so a failed save leaves no
half-written file); :func:`read_network` reads either file back to the keyword arguments of
:class:`planner.network.RoadNetwork` and builds the network from them. The public entry
points are :meth:`RoadNetwork.save` and :meth:`RoadNetwork.load`.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError
from planner.network.vehicle import ACCESS_VALUES, RULE_COLUMNS

__all__ = ["gpkg_arrays", "npz_arrays", "read_network", "save_network"]

T = TypeVar("T")

#: Version of the ``.npz`` layout written by :func:`save_network`.
_NPZ_FORMAT = 1


def _rules_from_columns(edges: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Truck rules from the edge columns of a GeoPackage (None when it has none)."""
    present = [k for k in RULE_COLUMNS if k in edges.columns]
    if not present:
        return None
    code = {v: i for i, v in enumerate(ACCESS_VALUES)}
    rules = {}
    for k in present:
        col = edges[k]
        if k in ("hgv", "access"):
            rules[k] = np.array([code.get(str(v), code["other"]) if isinstance(v, str) else 0 for v in col], dtype=np.int8)
        else:
            rules[k] = col.to_numpy(dtype=RULE_COLUMNS[k], na_value=np.nan) if k != "oneway" else col.fillna(False).to_numpy(dtype=bool)
    return rules


def save_network(network: Any, path: str | Path) -> Path:
    """Write the network: a GeoPackage for GIS plus a ``.npz`` beside it that loads fast.

    ``path`` ending in ``.gpkg`` writes layers ``nodes`` and ``edges`` (and
    ``corridor_nodes``) that open in QGIS, and the same network as arrays in
    ``<stem>.npz`` next to it; ending in ``.npz`` writes the arrays only. Files are
    written to a temporary name and moved into place, so a failed save never leaves a
    half-written network. :func:`read_network` reads either back to an identical network.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".gpkg", ".npz"):
        raise InputError(f"save writes a GeoPackage (.gpkg) or arrays (.npz), got {str(p)!r}", fields={"path": "*.gpkg | *.npz"})
    if not p.parent.is_dir():
        raise InputError(f"cannot write {str(p)!r}: the directory {str(p.parent)!r} does not exist", fields={"path": "in an existing directory"})
    if suffix == ".gpkg":
        import pyogrio

        gdf_nodes, gdf_edges = network.to_gdfs()
        tmp = p.with_name(f".{p.name}.tmp.gpkg")
        tmp.unlink(missing_ok=True)
        try:
            meta = {"yizhan_network_source": network.source, "yizhan_network_crs": network.crs}
            pyogrio.write_dataframe(gdf_nodes, tmp, layer="nodes", driver="GPKG", layer_metadata=meta)
            pyogrio.write_dataframe(gdf_edges, tmp, layer="edges", driver="GPKG", append=False)
            if network._corridor_nodes is not None:
                pyogrio.write_dataframe(network._corridor_nodes, tmp, layer="corridor_nodes", driver="GPKG")
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
    _save_npz(network, p.with_suffix(".npz"))
    return p


def _save_npz(network: Any, p: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "format": np.array(_NPZ_FORMAT),
        "source": np.array(network.source),
        "crs": np.array(network.crs),
        "node_lon": network.node_lon,
        "node_lat": network.node_lat,
        "edge_u": network.edge_u,
        "edge_v": network.edge_v,
        "edge_length_m": network.edge_length_m,
        "edge_time_s": network.edge_time_s,
        "edge_speed_kmh": network.edge_speed_kmh,
    }
    ref_names, ref_code = np.unique(network.edge_ref.astype(str), return_inverse=True)
    arrays["ref_names"] = ref_names.astype(str)
    arrays["ref_code"] = ref_code.astype(np.int32)
    if network.node_osmid is not None:
        arrays["node_osmid"] = np.asarray(network.node_osmid) if network.node_osmid.dtype != object else network.node_osmid.astype(str)
    for k, a in (network.edge_rules or {}).items():
        arrays[f"rule_{k}"] = a
    if network.edge_geometry is not None:
        geoms = np.array([shapely.linestrings([[network.node_lon[u], network.node_lat[u]], [network.node_lon[v], network.node_lat[v]]])
                          if g is None else g for g, u, v in zip(network.edge_geometry, network.edge_u, network.edge_v)], dtype=object)
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        arrays["geom_coords"] = coords
        arrays["geom_offsets"] = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(geoms)))])
    if network._corridor_nodes is not None:
        for c in network._corridor_nodes.columns:
            col = network._corridor_nodes[c]
            numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            arrays[f"cn_{c}"] = col.to_numpy() if numeric else col.fillna("").astype(str).to_numpy(dtype=str)
    tmp = p.with_name(f".{p.name}.tmp.npz")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def read_network(path: str | Path, build: Callable[..., T]) -> T:
    """Read a network written by :func:`save_network`: a ``.npz``, or a GeoPackage; ``build``
    (the :class:`~planner.network.RoadNetwork` class) makes the network from its arrays.

    For a ``.gpkg`` with an up-to-date ``.npz`` of the same name beside it (as
    :func:`save_network` writes), the arrays are read instead (seconds faster at province
    scale); any GeoPackage with the same layers is read too.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"network file not found: {str(p)!r}", fields={"path": "existing .gpkg or .npz"})
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return build(**npz_arrays(p))
    if suffix != ".gpkg":
        raise InputError(
            f"{p.name}: a network is a .gpkg or .npz written by import-osm (for an OSM extract, run "
            "`python -m planner import-osm` first)",
            fields={"path": "*.gpkg | *.npz"},
        )
    twin = p.with_suffix(".npz")
    if twin.is_file() and twin.stat().st_mtime >= p.stat().st_mtime:
        try:
            return build(**npz_arrays(twin))
        except InputError:
            pass  # fall back to the GeoPackage itself
    return build(**gpkg_arrays(p))


def npz_arrays(p: Path) -> dict[str, Any]:
    """The arguments of :class:`~planner.network.RoadNetwork` stored in a network ``.npz``."""
    import zipfile

    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{p.name} is not a readable network .npz: {exc}", fields={"path": "network .npz"}) from None
    need = {"format", "node_lon", "node_lat", "edge_u", "edge_v", "edge_length_m", "edge_time_s", "edge_speed_kmh", "ref_names", "ref_code"}
    if not need <= set(data) or int(data["format"]) != _NPZ_FORMAT:
        raise InputError(f"{p.name} is not a network .npz written by this version (save it again)", fields={"path": "network .npz"})
    rules = {k[5:]: v for k, v in data.items() if k.startswith("rule_")} or None
    geoms = None
    if "geom_coords" in data:
        off = data["geom_offsets"]
        coords = data["geom_coords"]
        geoms = list(shapely.linestrings(coords, indices=np.repeat(np.arange(off.size - 1), np.diff(off))))
    corridor_nodes = None
    cn = {k[3:]: v for k, v in data.items() if k.startswith("cn_")}
    if cn:
        corridor_nodes = pd.DataFrame(cn)
    return {
        "node_lon": data["node_lon"],
        "node_lat": data["node_lat"],
        "edge_u": data["edge_u"],
        "edge_v": data["edge_v"],
        "edge_length_m": data["edge_length_m"],
        "edge_speed_kmh": data["edge_speed_kmh"],
        "edge_ref": data["ref_names"].astype(object)[data["ref_code"]],
        "edge_time_s": data["edge_time_s"],
        "edge_geometry": geoms,
        "node_osmid": data.get("node_osmid"),
        "corridor_nodes": corridor_nodes,
        "source": str(data["source"]),
        "edge_rules": rules,
        "crs": str(data["crs"]) if "crs" in data else None,
    }


def gpkg_arrays(p: Path) -> dict[str, Any]:
    """The arguments of :class:`~planner.network.RoadNetwork` stored in a network GeoPackage
    (layers ``nodes``, ``edges``, optionally ``corridor_nodes``)."""
    import pyogrio

    try:
        layers = {name for name, _ in pyogrio.list_layers(p)}
    except Exception as exc:  # pyogrio raises DataSourceError subclasses of RuntimeError/OSError
        raise InputError(f"{p.name} is not a readable GeoPackage: {exc}", fields={"path": "GeoPackage"}) from None
    if not {"nodes", "edges"} <= layers:
        raise InputError(
            f"{p.name} lacks the 'nodes' and 'edges' layers (has {sorted(layers)})", fields={"path": "nodes + edges layers"}
        )
    nodes = pyogrio.read_dataframe(p, layer="nodes")
    edges = pyogrio.read_dataframe(p, layer="edges")
    need_n = {"node", "lon", "lat"}
    need_e = {"u", "v", "length_m", "travel_time_s", "speed_kmh"}
    if not need_n <= set(nodes.columns) or not need_e <= set(edges.columns):
        raise InputError(
            f"{p.name}: nodes need {sorted(need_n)}, edges need {sorted(need_e)}",
            fields={"path": "network GeoPackage"},
        )
    nodes = nodes.sort_values("node")
    if not np.array_equal(nodes["node"].to_numpy(), np.arange(len(nodes))):
        raise InputError(f"{p.name}: node ids must be 0..n-1", fields={"nodes": "0..n-1"})
    meta = pyogrio.read_info(p, layer="nodes").get("layer_metadata") or {}
    corridor_nodes = None
    if "corridor_nodes" in layers:
        corridor_nodes = pd.DataFrame(pyogrio.read_dataframe(p, layer="corridor_nodes", read_geometry=False))
    osmid = nodes["osmid"].to_numpy() if "osmid" in nodes.columns else None
    ref = edges["ref"].fillna("").to_numpy() if "ref" in edges.columns else None
    rules = _rules_from_columns(edges)
    return {
        "node_lon": nodes["lon"].to_numpy(),
        "node_lat": nodes["lat"].to_numpy(),
        "edge_u": edges["u"].to_numpy(),
        "edge_v": edges["v"].to_numpy(),
        "edge_length_m": edges["length_m"].to_numpy(),
        "edge_speed_kmh": edges["speed_kmh"].to_numpy(),
        "edge_ref": ref,
        "edge_time_s": edges["travel_time_s"].to_numpy(),
        "edge_geometry": list(edges.geometry) if edges.geometry is not None else None,
        "node_osmid": osmid,
        "corridor_nodes": corridor_nodes,
        "source": meta.get("yizhan_network_source", f"gpkg:{p.name}"),
        "crs": meta.get("yizhan_network_crs"),  # files from before the CRS was stored: chosen from the nodes
        "edge_rules": rules,
    }
