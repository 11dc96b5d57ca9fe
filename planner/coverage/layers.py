"""Coverage results as map lines and GIS layers, and their export (GeoPackage, GeoJSON, CSV)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner import settings
from planner.coverage.corridors import corridor_coverage

__all__ = ["coverage_layers", "export_coverage", "gap_lines"]


def gap_lines(cov: dict) -> list[dict]:
    """Gap stretches as polylines from the coverage samples: ``[{corridor, from_km, to_km, length_km, coords}]``."""
    if "samples" not in cov:
        return []
    s = pd.DataFrame(cov["samples"])
    out = []
    for g in cov["gaps"]:
        same = s["corridor_idx"] == g["corridor_idx"] if "corridor_idx" in g else s["corridor"] == g["corridor"]
        part = s[same].sort_values("km")
        km = part["km"].to_numpy(float)
        lo = np.searchsorted(km, g["from_km"], side="right") - 1
        hi = np.searchsorted(km, g["to_km"], side="left")
        sel = part.iloc[max(lo, 0): min(hi, len(part) - 1) + 1]
        coords = [[float(a), float(b)] for a, b in zip(sel["lon"], sel["lat"])]
        if len(coords) == 1:
            coords = coords * 2
        keys = ("corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km")
        out.append({**{k: g[k] for k in keys if k in g}, "coords": coords})
    return out


def coverage_layers(network, index, result: dict, *, study_area=None) -> dict:
    """A coverage result as GIS layers: ``gaps`` (lines), ``samples`` (points with
    ``road_km``, ``drive_min``, ``covered``), ``spacing`` and ``corridors`` (tables)."""
    import geopandas as gpd
    from shapely.geometry import LineString

    cov = result
    if "samples" not in cov:
        f = cov.get("filters") or {}
        cov = corridor_coverage(network, index, radius_km=cov["radius_km"], step_km=cov.get("step_km", 1.0),
                                max_gap_km=cov.get("max_gap_km", settings.MAX_GAP_KM),
                                amenities=f.get("amenities", ()), min_power_kw=f.get("min_power_kw"), samples=True,
                                study_area=study_area)
    lines = gap_lines(cov)
    cols = [c for c in ("corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km") if any(c in g for g in lines)]
    gaps = gpd.GeoDataFrame(pd.DataFrame([{c: g.get(c) for c in cols} for g in lines], columns=cols or ["corridor"]),
                            geometry=[LineString(g["coords"]) for g in lines], crs=settings.WGS84)
    s = pd.DataFrame(cov["samples"])
    s["covered"] = s["road_km"].astype(float) <= cov["radius_km"]
    samples = gpd.GeoDataFrame(s, geometry=gpd.points_from_xy(s["lon"], s["lat"]), crs=settings.WGS84)
    return {"gaps": gaps, "samples": samples, "spacing": pd.DataFrame(cov["spacing"]),
            "corridors": pd.DataFrame(cov["corridors"])}


def export_coverage(network, index, result: dict, path, *, study_area=None):
    """Write a coverage result: GeoPackage (every layer of :func:`coverage_layers`),
    GeoJSON (the gap lines) or CSV (the gaps, geometry as WKT), by suffix."""
    from pathlib import Path

    from planner.io import write_layers

    path = Path(path)
    layers = coverage_layers(network, index, result, study_area=study_area)
    provenance = {k: result[k] for k in ("data_status", "notice") if k in result} or None
    if path.suffix.lower() == ".gpkg":
        return write_layers(layers, path, provenance=provenance)
    return write_layers({"gaps": layers["gaps"]}, path, provenance=provenance)
