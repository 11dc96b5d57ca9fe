"""Service grid cells: the demo H3 grid, and real grid polygons imported from a file.

Mianyang runs "grid service" (道路货运网格化服务) for truck drivers, but the cells' geometry
is not published (docs/domain.md §8, §11). :func:`default_grid` therefore makes an
*illustrative* grid of H3 hexagons clipped to the region; :func:`read_grid` brings in the
real polygons when a user has them (GeoJSON or GeoPackage) and ties each to its county.

Every function takes and returns WGS-84 (EPSG:4326) GeoDataFrames; areas and overlaps are
measured in a projected CRS: the ``crs`` given (the region's, :attr:`planner.region.Region.crs`),
else the UTM zone of the data's centre.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from planner._validate import h3_resolution
from planner.errors import InputError
from planner.projection import check_crs, crs_for_extent, project_geometry, unproject_geometry
from planner.settings import WGS84

#: Default H3 resolution: ~36 km² hexagons, ~3.7 km edge (about 600 cells over Mianyang).
DEFAULT_RESOLUTION = 6
GRID_COLUMNS = ("cell_id", "county", "area_km2", "data_status", "source", "geometry")
POLYGON_TYPES = ("Polygon", "MultiPolygon")


def _measuring_crs(crs, geometry) -> str:
    """``crs`` checked, or the UTM zone of the centre of a WGS-84 geometry's extent."""
    if crs is not None:
        return check_crs(crs)
    x0, y0, x1, y1 = geometry.total_bounds if hasattr(geometry, "total_bounds") else geometry.bounds
    return crs_for_extent([x0, x1], [y0, y1])


def default_grid(boundary, counties: gpd.GeoDataFrame | None = None, *, resolution: int = DEFAULT_RESOLUTION,
                 crs: str | None = None) -> gpd.GeoDataFrame:
    """An illustrative H3 grid clipped to a boundary, each cell tied to a county.

    Every H3 cell that overlaps the boundary is kept and clipped to it, so the cells tile
    the boundary exactly (their areas sum to the boundary's area).

    Parameters
    ----------
    boundary : GeoDataFrame, GeoSeries or shapely geometry
        The region outline, WGS-84 (a GeoDataFrame/GeoSeries in another CRS is reprojected).
    counties : GeoDataFrame, optional
        County polygons with a ``code`` column; each cell gets the code of the county it
        overlaps most (``county`` is None without counties).
    resolution : int
        H3 resolution, 0-15 (default 6: ~36 km² cells). 7 gives ~5 km² cells (~4,000 over
        Mianyang).
    crs : str, optional
        Projected CRS areas are measured in; default the UTM zone of the boundary's centre.

    Returns
    -------
    GeoDataFrame
        Columns ``cell_id`` (H3 index), ``county``, ``area_km2`` (clipped area),
        ``data_status`` ("illustrative"), ``source``, ``geometry`` (Polygon or, where the
        boundary cuts a cell in two, MultiPolygon), EPSG:4326, sorted by ``cell_id``.

    Raises
    ------
    InputError
        For a resolution outside 0-15 or a boundary that is empty or not polygonal.
    """
    resolution = h3_resolution(resolution)
    outline = _outline(boundary)
    crs = _measuring_crs(crs, outline)
    # An H3 cell overlaps the outline only if its centre lies within one circumradius (= edge
    # length) of it: fill a buffered outline by centres, then clip.
    edge_m = h3.average_hexagon_edge_length(int(resolution), unit="m")
    buffered = unproject_geometry(shapely.buffer(project_geometry(outline, crs), edge_m * 1.2, quad_segs=16), crs)
    cells = sorted(h3.geo_to_cells(buffered, int(resolution)))
    hexes = np.array([_cell_polygon(c) for c in cells], dtype=object)
    shapely.prepare(outline)
    clipped = shapely.intersection(hexes, outline)
    keep = []
    for cell, geom in zip(cells, clipped):
        poly = _polygonal(geom)
        if poly is not None:
            keep.append((cell, poly))
    grid = gpd.GeoDataFrame(
        {"cell_id": [c for c, _ in keep]}, geometry=[g for _, g in keep], crs=WGS84
    )
    grid["area_km2"] = grid.to_crs(crs).area.to_numpy() / 1e6
    # drop crumbs a rounding error leaves along the outline (< 100 m²)
    grid = grid[grid["area_km2"] > 1e-4].reset_index(drop=True)
    grid["county"] = assign_county(grid, counties, crs=crs) if counties is not None else None
    grid["data_status"] = "illustrative"
    grid["source"] = f"illustrative: H3 resolution {resolution} cells clipped to the region boundary (Yizhan)"
    return grid[list(GRID_COLUMNS)]


def read_grid(path: str | Path, *, layer: str | None = None, counties: gpd.GeoDataFrame | None = None,
              id_column: str | None = None, data_status: str = "verified", source: str | None = None) -> gpd.GeoDataFrame:
    """Import real grid-cell polygons from a GeoJSON or GeoPackage file.

    Parameters
    ----------
    path : str or Path
        ``.geojson``/``.json`` or ``.gpkg`` (any format GDAL reads works). The file must
        declare its CRS; it is reprojected to WGS-84.
    layer : str, optional
        Layer name inside a GeoPackage (default: the first layer).
    counties : GeoDataFrame, optional
        County polygons (``code`` column) used to fill a missing ``county`` column by
        largest overlap; defaults to the Mianyang counties.
    id_column : str, optional
        Column holding the cell id; by default ``cell_id``, else ``id``, ``grid_id``,
        ``name``, else ``CELL-0001``… in file order.
    data_status, source : str
        Labels written where the file has no ``data_status`` / ``source`` column.

    Returns
    -------
    GeoDataFrame
        At least the columns of :func:`default_grid`, EPSG:4326; other columns are kept.

    Raises
    ------
    InputError
        For a missing or unreadable file, an empty layer, a layer without CRS, empty or
        non-polygon geometries (the message names the first bad rows), or duplicate ids.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"grid file {path} does not exist; give a GeoJSON or GeoPackage of polygons",
                         fields={"path": "file not found"})
    try:
        gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # pyogrio/GDAL raise many types for unreadable input
        raise InputError(f"cannot read grid file {path}: {exc}; expected a GeoJSON or GeoPackage of polygons",
                         fields={"path": "unreadable"}) from None
    if len(gdf) == 0:
        raise InputError(f"grid file {path} has no features; expected grid-cell polygons",
                         fields={"path": "empty"})
    if gdf.crs is None:
        raise InputError(f"grid file {path} declares no coordinate reference system; save it with a CRS "
                         "(e.g. EPSG:4326, or the projected CRS it was drawn in) so the cells can be placed",
                         fields={"crs": "missing"})
    geoms = gdf.geometry
    bad_empty = np.flatnonzero(geoms.isna().to_numpy() | geoms.is_empty.to_numpy())
    if len(bad_empty):
        rows = ", ".join(str(i + 1) for i in bad_empty[:5])
        raise InputError(f"grid file {path}: feature(s) {rows} have no geometry; every cell needs a polygon",
                         fields={"geometry": "empty"})
    types = geoms.geom_type.to_numpy()
    bad = np.flatnonzero(~np.isin(types, POLYGON_TYPES))
    if len(bad):
        shown = ", ".join(f"feature {i + 1} is a {types[i]}" for i in bad[:5])
        raise InputError(f"grid file {path}: grid cells must be Polygon or MultiPolygon; {shown}",
                         fields={"geometry": "must be Polygon or MultiPolygon"})
    gdf = gdf.to_crs(WGS84)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        gdf.loc[invalid, "geometry"] = shapely.make_valid(gdf.geometry[invalid].to_numpy())
        gdf["geometry"] = [_polygonal(g) for g in gdf.geometry]
        collapsed = np.flatnonzero(gdf.geometry.isna().to_numpy())
        if len(collapsed):
            rows = ", ".join(str(i + 1) for i in collapsed[:5])
            raise InputError(f"grid file {path}: feature(s) {rows} are invalid polygons with no area left after repair",
                             fields={"geometry": "invalid polygon"})

    id_col = id_column or next((c for c in ("cell_id", "id", "grid_id", "name") if c in gdf.columns), None)
    if id_column is not None and id_column not in gdf.columns:
        raise InputError(f"grid file {path} has no column {id_column!r}; columns: {', '.join(map(str, gdf.columns))}",
                         fields={"id_column": "not a column"})
    if id_col is None:
        gdf["cell_id"] = [f"CELL-{i + 1:04d}" for i in range(len(gdf))]
    else:
        gdf["cell_id"] = gdf[id_col].astype(str)
    dup = gdf["cell_id"][gdf["cell_id"].duplicated()]
    if len(dup):
        raise InputError(f"grid file {path}: duplicate cell id {dup.iloc[0]!r}; ids must be unique",
                         fields={"cell_id": "duplicate"})
    if "county" not in gdf.columns or gdf["county"].isna().all():
        if counties is None:
            from planner.region import load_region

            counties = load_region().counties
        gdf["county"] = assign_county(gdf, counties)
    else:
        gdf["county"] = gdf["county"].map(lambda v: None if pd.isna(v) else str(v))
    gdf["area_km2"] = gdf.to_crs(_measuring_crs(None, gdf)).area.to_numpy() / 1e6
    if "data_status" not in gdf.columns:
        gdf["data_status"] = data_status
    if "source" not in gdf.columns:
        gdf["source"] = source or f"imported from {path.name}"
    rest = [c for c in gdf.columns if c not in GRID_COLUMNS]
    return gdf[list(GRID_COLUMNS[:-1]) + rest + ["geometry"]].set_geometry("geometry")


def assign_county(cells: gpd.GeoDataFrame, counties: gpd.GeoDataFrame, *, crs: str | None = None) -> list[str | None]:
    """The ``code`` of the county each cell overlaps most (None where it overlaps none).

    Parameters
    ----------
    cells, counties : GeoDataFrame
        Polygons with a CRS; ``counties`` needs a ``code`` column.
    crs : str, optional
        Projected CRS overlaps are measured in; default the UTM zone of the counties' centre.
    """
    if "code" not in counties.columns:
        raise InputError("counties need a 'code' column to assign cells to counties", fields={"counties": "no code"})
    crs = _measuring_crs(crs, counties.to_crs(WGS84))
    c_utm = cells.geometry.to_crs(crs).reset_index(drop=True)
    k_utm = counties.to_crs(crs).reset_index(drop=True)
    tree = shapely.STRtree(k_utm.geometry.to_numpy())
    left, right = tree.query(c_utm.to_numpy(), predicate="intersects")
    areas = shapely.area(shapely.intersection(c_utm.to_numpy()[left], k_utm.geometry.to_numpy()[right]))
    best: dict[int, tuple[float, str]] = {}
    codes = k_utm["code"].astype(str).to_numpy()
    for i, j, a in zip(left, right, areas):
        if a > 0 and (i not in best or a > best[i][0]):
            best[i] = (a, codes[j])
    return [best[i][1] if i in best else None for i in range(len(c_utm))]


def _outline(boundary) -> BaseGeometry:
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if isinstance(boundary, gpd.GeoSeries):
        if boundary.crs is not None:
            boundary = boundary.to_crs(WGS84)
        geom = shapely.union_all(boundary.to_numpy())
    else:
        geom = boundary
    if not isinstance(geom, BaseGeometry) or geom.is_empty or geom.geom_type not in POLYGON_TYPES:
        kind = getattr(geom, "geom_type", type(geom).__name__)
        raise InputError(f"boundary must be a non-empty Polygon or MultiPolygon, got {kind}",
                         fields={"boundary": "polygon required"})
    return geom


def _cell_polygon(cell: str) -> Polygon:
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def _polygonal(geom: BaseGeometry | None) -> Polygon | MultiPolygon | None:
    """Keep only the polygon parts of an intersection (drop touching lines/points)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in POLYGON_TYPES:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon" and not g.is_empty]
    for g in getattr(geom, "geoms", []):
        if g.geom_type == "MultiPolygon":
            parts.extend(g.geoms)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)
