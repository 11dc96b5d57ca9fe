"""Service grids (道路货运网格化服务): polygons, each with a responsible unit, contact and duty phone.

The bureau's grid geometry is not published. The embedded default groups the region's
illustrative H3 cells by county — one grid per county, run by that county's transport bureau —
and is labelled ``illustrative``. Real grids are imported from a GeoPackage/GeoJSON
(:func:`read_service_grids`) and replace the default in the registry.

A point is assigned to the grid that contains it; a point outside every grid gets the nearest
grid, with ``assigned_by: "nearest"`` and the distance, so staff can see it was a guess.
Distances are measured in the region's UTM zone (:mod:`planner.projection`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from shapely import wkb

from planner.errors import InputError
from planner.projection import project, project_geometry, utm_crs_for
from planner.provenance import needs_banner, status_of

DEFAULT_SOURCE = ("illustrative: the region's H3 cells (planner.grid.default_grid) grouped per county; the "
                  "bureau's real grid boundaries, units and duty phones are not published")
#: Properties of a grid besides its geometry.
FIELDS = ("grid_id", "name", "name_en", "county", "unit", "contact", "duty_phone", "data_status", "source")


def default_service_grids(region) -> gpd.GeoDataFrame:
    """One illustrative grid per county: the region's H3 cells dissolved by county."""
    cells = region.grid[region.grid["county"].notna()]
    merged = cells.dissolve(by="county", as_index=False)[["county", "geometry"]]
    counties = region.counties.set_index("code")
    rows = []
    for i, row in enumerate(merged.sort_values("county").itertuples(index=False), start=1):
        county = counties.loc[row.county] if row.county in counties.index else None
        name_zh = str(county["name_zh"]) if county is not None else str(row.county)
        name_en = str(county["name_en"]) if county is not None else str(row.county)
        rows.append({
            "grid_id": f"GRID-{row.county}",
            "name": f"{name_zh}道路货运网格（示例）",
            "name_en": f"{name_en} road-freight grid (illustrative)",
            "county": str(row.county),
            "unit": f"{name_zh}交通运输局 货运网格服务组（示例）",
            "contact": "网格员（示例）",
            "duty_phone": "12328",
            "data_status": "illustrative",
            "source": DEFAULT_SOURCE,
            "geometry": row.geometry,
        })
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def read_service_grids(path: str | Path, *, layer: str | None = None, data_status: str = "verified") -> gpd.GeoDataFrame:
    """Real grid polygons from a GeoPackage or GeoJSON (checked by :func:`planner.grid.read_grid`).

    Columns used when present: ``unit`` (or ``responsible_unit``), ``contact``, ``duty_phone``
    (or ``phone``), ``name``; the id comes from ``grid_id``/``cell_id``/``id``/``name``.
    """
    from planner.grid import read_grid

    gdf = read_grid(path, layer=layer, data_status=data_status)
    out = gpd.GeoDataFrame({"grid_id": gdf["grid_id"] if "grid_id" in gdf.columns else gdf["cell_id"]},
                           geometry=gdf.geometry.to_numpy(), crs="EPSG:4326")

    def col(*names, default=None):
        for n in names:
            if n in gdf.columns:
                return gdf[n].where(gdf[n].notna(), default).astype(object).to_numpy()
        return [default] * len(gdf)

    out["grid_id"] = out["grid_id"].astype(str)
    out["name"] = col("name", "name_zh", default=None)
    out["name"] = [n if n else g for n, g in zip(out["name"], out["grid_id"])]
    out["name_en"] = col("name_en", default=None)
    out["county"] = gdf["county"].to_numpy()
    out["unit"] = col("unit", "responsible_unit", default="（未填写责任单位）")
    out["contact"] = col("contact", default=None)
    out["duty_phone"] = col("duty_phone", "phone", default=None)
    out["data_status"] = gdf["data_status"].to_numpy()
    out["source"] = gdf["source"].to_numpy()
    if out["grid_id"].duplicated().any():
        raise InputError(f"{path}: duplicate grid id {out['grid_id'][out['grid_id'].duplicated()].iloc[0]!r}",
                         fields={"grid_id": "ids must be unique"})
    return out[list(FIELDS) + ["geometry"]]


class ServiceGrids:
    """Grids in memory for assignment and drawing (build with :meth:`from_gdf` or :meth:`from_rows`)."""

    def __init__(self, records: list[dict], geometries: list):
        if not records:
            raise InputError("no service grids: import grids or use the default", fields={"grids": "empty"})
        self.records = records
        self.geometries = list(geometries)
        self.by_id = {r["grid_id"]: i for i, r in enumerate(records)}
        c = shapely.union_all(self.geometries).centroid
        self.crs = utm_crs_for(c.x, c.y)
        self._tree = shapely.STRtree(self.geometries)
        projected = [project_geometry(g, self.crs) for g in self.geometries]
        self._projected = projected
        self._ptree = shapely.STRtree(projected)

    @classmethod
    def from_gdf(cls, gdf: gpd.GeoDataFrame) -> "ServiceGrids":
        gdf = gdf.to_crs("EPSG:4326")
        records = [{k: (None if v != v else v) if isinstance(v, float) else v for k, v in r.items() if k != "geometry"}
                   for r in gdf.drop(columns="geometry").to_dict("records")]
        return cls(records, list(gdf.geometry))

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "ServiceGrids":
        import json

        records, geoms = [], []
        for r in rows:
            props = json.loads(r["properties"]) if isinstance(r["properties"], str) else dict(r["properties"])
            records.append({**props, "grid_id": r["grid_id"], "data_status": r["data_status"], "source": r["source"]})
            geoms.append(wkb.loads(bytes(r["area_wkb"])))
        return cls(records, geoms)

    def to_rows(self) -> list[dict]:
        return [{"grid_id": r["grid_id"], "properties": {k: v for k, v in r.items() if k not in ("grid_id", "data_status", "source")},
                 "area_wkb": wkb.dumps(g), "data_status": r["data_status"], "source": r["source"]}
                for r, g in zip(self.records, self.geometries)]

    @property
    def data_status(self) -> str:
        """The worst ``data_status`` of the grids (:func:`planner.provenance.status_of`)."""
        return status_of(self.records)

    @property
    def illustrative(self) -> bool:
        """Whether pages showing the grids carry the illustrative-data banner."""
        return needs_banner(self.data_status)

    def get(self, grid_id: str) -> dict:
        if grid_id not in self.by_id:
            raise InputError(f"unknown grid {grid_id!r}; grids: {', '.join(self.by_id)}", fields={"grid": "unknown grid id"})
        return self.records[self.by_id[grid_id]]

    def geometry(self, grid_id: str):
        self.get(grid_id)
        return self.geometries[self.by_id[grid_id]]

    def assign(self, lon: float, lat: float) -> dict:
        """The grid containing the point, else the nearest one (``assigned_by`` says which)."""
        pt = shapely.Point(lon, lat)
        hits = [i for i in self._tree.query(pt, predicate="intersects")]
        if hits:
            i = min(hits)
            return {**self._public(i), "assigned_by": "contains", "distance_km": 0.0}
        x, y = project(lon, lat, self.crs)
        ppt = shapely.Point(x, y)
        i = int(self._ptree.nearest(ppt))
        return {**self._public(i), "assigned_by": "nearest",
                "distance_km": round(float(self._projected[i].distance(ppt)) / 1000.0, 3)}

    def _public(self, i: int) -> dict:
        r = self.records[i]
        return {"grid_id": r["grid_id"], "grid_name": r.get("name"), "unit": r.get("unit")}

    def geojson(self, counts: dict | None = None) -> dict:
        feats = []
        for r, g in zip(self.records, self.geometries):
            props = dict(r)
            if counts is not None:
                props["requests"] = int(counts.get(r["grid_id"], 0))
            feats.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(g)})
        return {"type": "FeatureCollection", "features": feats}

