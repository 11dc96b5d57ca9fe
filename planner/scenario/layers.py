"""A scenario as GIS layers, and its export (GeoJSON, GeoPackage, CSV)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner import settings
from planner.errors import InputError

__all__ = ["export_scenario", "scenario_layers"]


def scenario_layers(result: dict) -> dict:
    """The scenario as GIS layers: ``sites`` (points), ``existing`` (points), ``gaps_before``
    and ``gaps_after`` (lines) and ``metrics`` (one row per metric, before/after)."""
    import geopandas as gpd
    from shapely.geometry import LineString

    site_df = pd.DataFrame(result["sites"]) if result["sites"] else pd.DataFrame(
        columns=["id", "lon", "lat", "corridor", "corridor_km", "source", "node", "snap_m", "name", "candidate_id"])
    site_df.insert(0, "method", result["method"])
    site_df["data_status"] = "proposed"
    sites = gpd.GeoDataFrame(site_df, geometry=gpd.points_from_xy(site_df["lon"].astype(float), site_df["lat"].astype(float)),
                             crs=settings.WGS84)
    ex = pd.DataFrame(result.get("existing") or [], columns=["id", "name", "lon", "lat", "data_status"])
    existing = gpd.GeoDataFrame(ex, geometry=gpd.points_from_xy(ex["lon"].astype(float), ex["lat"].astype(float)),
                                crs=settings.WGS84)
    layers = {"sites": sites, "existing": existing}
    for when in ("before", "after"):
        lines = result.get("gap_lines", {}).get(when, [])
        cols = ["corridor", "corridor_idx", "name_zh", "from_km", "to_km", "length_km"]
        df = pd.DataFrame([{k: g.get(k) for k in cols} for g in lines], columns=cols)
        geoms = [LineString(g["coords"]) for g in lines]
        layers[f"gaps_{when}"] = gpd.GeoDataFrame(df, geometry=geoms, crs=settings.WGS84)
    keys = [k for k in dict.fromkeys([*result["before"].keys(), *result["after"].keys()])
            if not isinstance(result["before"].get(k), (list, dict))]
    layers["metrics"] = pd.DataFrame({"metric": keys, "before": [result["before"].get(k) for k in keys],
                                      "after": [result["after"].get(k) for k in keys]})
    return layers


def export_scenario(result: dict, path) -> Path:
    """Write a scenario to GeoJSON (``.geojson``/``.json``), GeoPackage (``.gpkg``) or CSV (``.csv``).

    GeoPackage holds every layer of :func:`scenario_layers`; GeoJSON and CSV hold the
    proposed sites (the file a GIS user opens first), with ``lon``/``lat`` columns in CSV.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".geojson", ".json", ".gpkg", ".csv"):
        raise InputError(f"unknown export format {path.suffix!r} for {path}; use .geojson, .gpkg or .csv",
                         fields={"path": "must end in .geojson, .gpkg or .csv"})
    from planner.io import write_layers

    layers = scenario_layers(result)
    provenance = {k: result[k] for k in ("data_status", "notice") if k in result} or None
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gpkg":
        return write_layers(layers, path, provenance=provenance)
    return write_layers({"sites": layers["sites"]}, path, provenance=provenance)
