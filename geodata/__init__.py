"""Embedded regional datasets for Yizhan, and the one function that loads them.

Each region lives in its own folder (``geodata/<name>/``) next to the script that built
it (``geodata/build_<name>.py``) and the provenance of every layer
(``geodata/PROVENANCE.md``, machine-readable in ``<name>/provenance.json``).

Layers (WGS-84, EPSG:4326):

========== ================================================================
boundary   one polygon: the region outline
counties   county-level units (``code``, ``name_zh``, ``name_en``, seat)
corridors  freight corridors as LineStrings meeting at shared hub vertices
anchors    service areas, parking areas, logistics hubs, freight
           generators, interchanges, towns (Points)
grid       illustrative H3 service-grid cells clipped to the boundary
stations   list of station records (``stations.json``)
provenance dict: layer -> {data_status, source, licence, notes}
========== ================================================================

Each region also declares, in ``<name>/region.json`` (:func:`load_region_file`), how it is
measured and where its edge lies: ``crs`` (a projected CRS, or null to use the UTM zone of
its centre), ``timezone`` (IANA name, e.g. ``Asia/Shanghai``), ``study_area`` (the layer
whose outline is the study area: ``boundary``) and ``context_km`` (the band around it).

This package reads files only and imports nothing from :mod:`planner`.

Examples
--------
>>> from geodata import load_layers
>>> layers = load_layers("mianyang")
>>> sorted(layers)                                   # doctest: +NORMALIZE_WHITESPACE
['anchors', 'boundary', 'corridors', 'counties', 'grid', 'provenance', 'stations']
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd

#: Regions shipped with Yizhan.
REGIONS: tuple[str, ...] = ("mianyang",)
#: Vector layers of every region, by name -> file in the region folder.
VECTOR_LAYERS: dict[str, str] = {
    "boundary": "boundary.geojson",
    "counties": "counties.geojson",
    "corridors": "corridors.geojson",
    "anchors": "anchors.geojson",
    "grid": "grid.geojson",
}
#: Keys of ``region.json``.
REGION_FILE_KEYS: tuple[str, ...] = ("name", "crs", "timezone", "study_area", "context_km")
_HERE = Path(__file__).resolve().parent


class UnknownRegionError(ValueError):
    """An unknown region name (``fields`` says which names exist; the planner turns it into
    its ``InputError``)."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.message = message
        self.fields = fields


def check_region(name: object) -> str:
    """Normalise a region name (case and surrounding space ignored).

    Raises
    ------
    UnknownRegionError
        For an unknown name; the message lists the available regions.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in REGIONS:
        raise UnknownRegionError(
            f"unknown region {name!r}; available regions: {', '.join(REGIONS)}",
            fields={"region": f"must be one of {', '.join(REGIONS)}"},
        )
    return key


def region_dir(name: str = "mianyang") -> Path:
    """Folder holding a region's files."""
    return _HERE / check_region(name)


def load_layers(name: str = "mianyang", layers: tuple[str, ...] | None = None) -> dict[str, gpd.GeoDataFrame | list | dict]:
    """Load the embedded layers of a region.

    Parameters
    ----------
    name : str
        Region name, one of :data:`REGIONS` (default ``"mianyang"``).
    layers : tuple of str, optional
        Only these layers (names as in the result); default all.

    Returns
    -------
    dict
        ``boundary``, ``counties``, ``corridors``, ``anchors``, ``grid``: GeoDataFrames in
        EPSG:4326; ``stations``: list of station records (dicts); ``provenance``: dict
        layer -> ``{data_status, source, licence, notes}``. Fresh objects on every call.

    Raises
    ------
    UnknownRegionError
        For an unknown region name (lists the available ones).
    """
    folder = region_dir(name)
    wanted = (*VECTOR_LAYERS, "stations", "provenance") if layers is None else tuple(layers)
    unknown = sorted(set(wanted) - {*VECTOR_LAYERS, "stations", "provenance"})
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown}; layers are {', '.join(VECTOR_LAYERS)}, stations, provenance")
    out: dict[str, gpd.GeoDataFrame | list | dict] = {}
    for layer in wanted:
        if layer in VECTOR_LAYERS:
            out[layer] = _read_geojson(folder / VECTOR_LAYERS[layer])
        else:
            out[layer] = json.loads((folder / f"{layer}.json").read_text(encoding="utf-8"))
    return out


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    """A GeoJSON file (RFC 7946: WGS-84 lon/lat) as a GeoDataFrame, read with json + shapely.

    The embedded files are small; this skips GDAL's start-up (~0.1 s), which matters for
    validating one station record in a fresh process.
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    features = doc.get("features", [])
    columns = list(dict.fromkeys(k for f in features for k in (f.get("properties") or {})))
    gdf = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326", columns=[*columns, "geometry"])
    return gdf[[*columns, "geometry"]]


def load_region_file(name: str = "mianyang") -> dict:
    """The region's declaration (``<name>/region.json``): ``crs``, ``timezone``,
    ``study_area``, ``context_km`` and notes, as stored (checked by :mod:`planner.region`)."""
    return json.loads((region_dir(name) / "region.json").read_text(encoding="utf-8"))


__all__ = [
    "REGIONS",
    "REGION_FILE_KEYS",
    "VECTOR_LAYERS",
    "UnknownRegionError",
    "check_region",
    "load_layers",
    "load_region_file",
    "region_dir",
]
