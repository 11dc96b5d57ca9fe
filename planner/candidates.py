"""Candidate sites for new Driver's Homes.

Three families, each recorded in a ``source`` column:

* ``kmeans`` / ``dbscan``: clusters of demand (scikit-learn). Weighted k-means
  (``sample_weight``) gives the centres a planner would sketch by hand; DBSCAN with
  sample weights finds stop hotspots (dense, heavy groups of demand points). Centres
  are snapped to the nearest road-network node, since a station has to sit on a road.
* ``corridor``: a point every ``every_km`` along each corridor (linear referencing).
* ``anchor``: the known service areas, parking areas and logistics hubs of the region
  (``region.anchors``), where the national spec prefers to reuse existing facilities.

Clustering runs in metres of a projected CRS (``crs=``: the network's, else the UTM zone of
the demand's centre); every output coordinate is WGS-84.

Study area: with ``within`` (the region: ``contains_many``) every candidate lies inside the
study area. Anchors outside it are left out, corridor points outside it dropped, and cluster
centres snapped to the nearest network node *inside* it, so no new site is placed in a
neighbour's territory (where neighbours' stations count as external supply instead).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from planner import settings
from planner._validate import positive, whole_number
from planner.errors import InfeasibleError, InputError
from planner.projection import check_crs, crs_for_extent, project, unproject

SOURCES = ("anchor", "corridor", "kmeans", "dbscan")
#: Anchor kinds that make sense as a station site (docs/domain.md §6: SA, logistics park, work zone …).
ANCHOR_KINDS = ("service_area", "parking_area", "logistics_hub", "freight_generator")
_PREFIX = {"anchor": "AN", "corridor": "CO", "kmeans": "KM", "dbscan": "DB"}

COLUMNS = ["id", "source", "name", "lon", "lat", "node", "snap_m", "corridor", "corridor_km", "weight"]


def _crs(crs, lon, lat) -> str:
    """The projected CRS to cluster in: ``crs`` checked, else the UTM zone of the points' centre."""
    return check_crs(crs) if crs is not None else crs_for_extent(lon, lat)


def _xy(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = project(np.asarray(lon, float), np.asarray(lat, float), crs)
    return np.asarray(x, float), np.asarray(y, float)


def _lonlat(x, y, crs: str) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = unproject(np.asarray(x, float), np.asarray(y, float), crs)
    return np.asarray(lon, float), np.asarray(lat, float)


def inside_study_area(within, lon, lat) -> np.ndarray:
    """Which points lie in the study area (all without ``within``)."""
    lon = np.atleast_1d(np.asarray(lon, float))
    if within is None:
        return np.ones(lon.shape, dtype=bool)
    contains_many = getattr(within, "contains_many", None)
    if contains_many is None:
        raise InputError("within must be a Region (or have contains_many(lons, lats))", fields={"within": "a Region"})
    return np.asarray(contains_many(lon, np.atleast_1d(np.asarray(lat, float))), dtype=bool)


def _demand_arrays(demand: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for col in ("lon", "lat", "weight"):
        if col not in demand.columns:
            raise InputError(f"demand needs a {col!r} column; it has {list(demand.columns)}",
                             fields={"demand": f"missing column {col}"})
    lon = demand["lon"].to_numpy(float)
    lat = demand["lat"].to_numpy(float)
    w = demand["weight"].to_numpy(float)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(w) & (w > 0)
    if not ok.any():
        raise InputError(
            f"demand is empty: {len(demand)} rows, none with a positive weight and finite lon/lat",
            fields={"demand": "needs at least one point with weight > 0"},
        )
    return lon[ok], lat[ok], w[ok]


def kmeans_centres(demand: pd.DataFrame, k: int, *, random_state: int = 0, crs: str | None = None) -> pd.DataFrame:
    """Weighted k-means centres of the demand points.

    Parameters
    ----------
    demand : DataFrame
        ``lon``, ``lat``, ``weight`` (WGS-84).
    k : int
        Number of clusters, 1 ≤ k ≤ number of distinct demand points.
    random_state : int
        Seed of the k-means++ initialisation.
    crs : str, optional
        Projected CRS to cluster in (the network's); default the UTM zone of the demand.

    Returns
    -------
    DataFrame
        ``lon, lat, weight, points`` per centre (weight = demand in the cluster),
        heaviest first.
    """
    from sklearn.cluster import KMeans

    lon, lat, w = _demand_arrays(demand)
    k = whole_number(k, "k")
    crs = _crs(crs, lon, lat)
    x, y = _xy(lon, lat, crs)
    xy = np.column_stack([x, y])
    distinct = len(np.unique(np.round(xy, 1), axis=0))
    if k > distinct:
        raise InfeasibleError(
            f"k={k} clusters asked but the demand has only {distinct} distinct points; choose k ≤ {distinct}",
            fields={"k": f"must be at most {distinct}"},
        )
    model = KMeans(n_clusters=k, n_init=10, random_state=random_state)
    # one thread: on small inputs OpenMP start-up costs ~40x the work itself (2-core machine)
    with threadpool_limits(1):
        labels = model.fit_predict(xy, sample_weight=w)
    clon, clat = _lonlat(model.cluster_centers_[:, 0], model.cluster_centers_[:, 1], crs)
    weights = np.bincount(labels, weights=w, minlength=k)
    points = np.bincount(labels, minlength=k)
    out = pd.DataFrame({"lon": clon, "lat": clat, "weight": weights, "points": points})
    return out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)


def dbscan_hotspots(demand: pd.DataFrame, *, eps_km: float = 3.0, min_weight: float | None = None,
                    min_share: float = 0.02, crs: str | None = None) -> pd.DataFrame:
    """Stop hotspots: DBSCAN clusters of demand with point weights.

    A core point has at least ``min_weight`` demand within ``eps_km`` (weights go in
    as DBSCAN's ``sample_weight``). Each cluster gives its weighted centre.

    Parameters
    ----------
    eps_km : float
        Neighbourhood radius, km.
    min_weight : float, optional
        Weight a neighbourhood needs to be dense; default ``min_share`` of the total.
    min_share : float
        Used when ``min_weight`` is None.
    crs : str, optional
        Projected CRS to cluster in (the network's); default the UTM zone of the demand.

    Returns
    -------
    DataFrame
        ``lon, lat, weight, points`` per hotspot, heaviest first (may be empty).
    """
    from sklearn.cluster import DBSCAN

    lon, lat, w = _demand_arrays(demand)
    eps_km = positive(eps_km, "eps_km")
    if min_weight is None:
        min_weight = positive(min_share, "min_share") * float(w.sum())
    min_weight = positive(min_weight, "min_weight")
    crs = _crs(crs, lon, lat)
    x, y = _xy(lon, lat, crs)
    labels = DBSCAN(eps=eps_km * 1000.0, min_samples=1).fit(
        np.column_stack([x, y]), sample_weight=w / min_weight
    ).labels_
    # min_samples=1 on weights scaled by min_weight: a point is core when the scaled weight
    # of its neighbourhood reaches 1, i.e. the raw weight reaches min_weight.
    rows = []
    for lab in np.unique(labels):
        if lab < 0:
            continue
        sel = labels == lab
        ww = w[sel]
        cx, cy = np.average(x[sel], weights=ww), np.average(y[sel], weights=ww)
        rows.append((cx, cy, float(ww.sum()), int(sel.sum())))
    if not rows:
        return pd.DataFrame(columns=["lon", "lat", "weight", "points"])
    arr = np.array(rows, dtype=float)
    clon, clat = _lonlat(arr[:, 0], arr[:, 1], crs)
    out = pd.DataFrame({"lon": clon, "lat": clat, "weight": arr[:, 2], "points": arr[:, 3].astype(int)})
    return out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)


def snap_sites(network, lon, lat, *, within=None) -> pd.DataFrame:
    """Snap points to the nearest network node; ``lon, lat`` become the node's.

    With ``within`` (the region), only nodes inside its study area are used, so a site
    never lands outside it. Returns a DataFrame ``lon, lat, node, snap_m, corridor,
    corridor_km`` where ``corridor`` is the ref of the nearest corridor sample (None when
    the network has no corridor samples, e.g. an OSM network).
    """
    lon = np.atleast_1d(np.asarray(lon, float))
    lat = np.atleast_1d(np.asarray(lat, float))
    if lon.size == 0:
        return pd.DataFrame(columns=["lon", "lat", "node", "snap_m", "corridor", "corridor_km"])
    if within is None:
        nodes, snap_m = network.snap_many(lon, lat)
    else:
        from scipy.spatial import cKDTree

        allowed = np.flatnonzero(inside_study_area(within, network.node_lon, network.node_lat))
        if allowed.size == 0:
            raise InfeasibleError("no road network node lies inside the study area; no site can be placed",
                                  fields={"within": "study area with network nodes"})
        x, y = _xy(lon, lat, network.crs)
        snap_m, j = cKDTree(np.column_stack([network.node_x[allowed], network.node_y[allowed]])).query(np.column_stack([x, y]))
        nodes = allowed[j]
    nodes = np.asarray(nodes, dtype=np.int64)
    out = pd.DataFrame({
        "lon": np.asarray(network.node_lon, float)[nodes],
        "lat": np.asarray(network.node_lat, float)[nodes],
        "node": nodes,
        "snap_m": np.asarray(snap_m, float),
    })
    ref, km = nearest_corridor(network, out["lon"].to_numpy(), out["lat"].to_numpy())
    out["corridor"] = ref
    out["corridor_km"] = km
    return out


def nearest_corridor(network, lon, lat, *, step_km: float = settings.CORRIDOR_STEP_KM):
    """Ref of the nearest corridor and the km along it (by nearest corridor sample)."""
    from scipy.spatial import cKDTree

    try:
        samples = network.corridor_samples(step_km=step_km)
    except (AttributeError, NotImplementedError, InputError):
        n = len(np.atleast_1d(lon))
        return np.full(n, None, dtype=object), np.full(n, np.nan)
    sx, sy = _xy(samples["lon"], samples["lat"], network.crs)
    x, y = _xy(lon, lat, network.crs)
    _, j = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([x, y]))
    return samples["corridor"].to_numpy(dtype=object)[j], samples["km"].to_numpy(float)[j]


def corridor_points(network, *, every_km: float = 10.0) -> pd.DataFrame:
    """A point every ``every_km`` along each corridor, from its start, plus its end."""
    every_km = positive(every_km, "every_km")
    samples = network.corridor_samples(step_km=min(1.0, every_km))
    rows = []
    for ref, grp in samples.groupby("corridor", sort=False):
        grp = grp.sort_values("km")
        km = grp["km"].to_numpy(float)
        targets = np.arange(0.0, km[-1] + 1e-9, every_km)
        if km[-1] - targets[-1] > 0.5 * every_km:
            targets = np.append(targets, km[-1])
        picked = np.unique(np.abs(km[None, :] - targets[:, None]).argmin(axis=1))
        for j in picked:
            r = grp.iloc[j]
            rows.append({"corridor": str(ref), "corridor_km": float(r["km"]), "node": int(r["node"]),
                         "lon": float(network.node_lon[int(r["node"])]), "lat": float(network.node_lat[int(r["node"])])})
    return pd.DataFrame(rows, columns=["corridor", "corridor_km", "node", "lon", "lat"])


def candidate_sites(
    region,
    network,
    *,
    every_km: float = 10.0,
    n_clusters: int | None = None,
    dbscan_eps_km: float = 3.0,
    dbscan_min_share: float = 0.02,
    sources: Iterable[str] = SOURCES,
    anchor_kinds: Iterable[str] = ANCHOR_KINDS,
    random_state: int = 0,
    dedupe: bool = True,
    within=None,
):
    """Candidate sites from anchors, corridor points and clusters of demand.

    Parameters
    ----------
    region : planner.region.Region
        Needs ``demand`` (lon, lat, weight) and ``anchors``.
    network : planner.network.RoadNetwork
        Built from the corridors (for ``corridor_samples``).
    every_km : float
        Spacing of the corridor points, km.
    n_clusters : int, optional
        k of the weighted k-means; default ≈ one per county (``len(region.counties)``).
    dbscan_eps_km, dbscan_min_share
        DBSCAN neighbourhood radius (km) and the share of total demand weight a
        hotspot's neighbourhood needs.
    sources : iterable of str
        Which families to include (``anchor``, ``corridor``, ``kmeans``, ``dbscan``).
    anchor_kinds : iterable of str
        Which anchor kinds qualify.
    random_state : int
        Seed of k-means.
    dedupe : bool
        Keep one candidate per network node, preferring anchor > corridor > kmeans > dbscan.
    within : planner.region.Region or False, optional
        Keep every candidate inside this study area (default: ``region`` itself when it has
        ``contains_many``; ``False`` allows candidates anywhere).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with ``id, source, name, lon, lat, node, snap_m, corridor,
        corridor_km, weight`` (weight: demand in the cluster; NaN for other sources).
    """
    sources = tuple(sources)
    bad = [s for s in sources if s not in SOURCES]
    if bad or not sources:
        raise InputError(f"unknown candidate source(s) {bad or sources!r}; use any of {', '.join(SOURCES)}",
                         fields={"sources": f"must be among {', '.join(SOURCES)}"})
    if within is None:
        within = region if hasattr(region, "contains_many") else None
    elif within is False:
        within = None
    frames = []
    if "anchor" in sources and getattr(region, "anchors", None) is not None and len(region.anchors):
        kinds = set(anchor_kinds)
        a = region.anchors[region.anchors["kind"].isin(kinds)] if "kind" in region.anchors.columns else region.anchors
        if len(a):
            pts = a.geometry.to_crs(settings.WGS84)
            inside = inside_study_area(within, pts.x.to_numpy(), pts.y.to_numpy())  # a neighbour's service area is not ours
            a, pts = a[inside], pts[inside]
        if len(a):
            snapped = snap_sites(network, pts.x.to_numpy(), pts.y.to_numpy(), within=within)
            name_col = "name_zh" if "name_zh" in a.columns else ("name" if "name" in a.columns else None)
            snapped["name"] = a[name_col].to_numpy(dtype=object) if name_col else None
            snapped["anchor_id"] = a["id"].astype(str).to_numpy() if "id" in a.columns else None
            snapped["source"] = "anchor"
            snapped["weight"] = np.nan
            frames.append(snapped)
    if "corridor" in sources:
        cp = corridor_points(network, every_km=every_km)
        cp = cp[inside_study_area(within, cp["lon"].to_numpy(), cp["lat"].to_numpy())].reset_index(drop=True)
        cp["snap_m"] = 0.0
        cp["name"] = [f"{r} K{km:.0f}" for r, km in zip(cp["corridor"], cp["corridor_km"])]
        cp["source"] = "corridor"
        cp["weight"] = np.nan
        frames.append(cp)
    demand = getattr(region, "demand", None)
    if "kmeans" in sources and demand is not None and len(demand):
        k = n_clusters if n_clusters is not None else max(1, len(getattr(region, "counties", [])) or 8)
        centres = kmeans_centres(demand, k, random_state=random_state, crs=network.crs)
        frames.append(_clustered(network, centres, "kmeans", within))
    if "dbscan" in sources and demand is not None and len(demand):
        spots = dbscan_hotspots(demand, eps_km=dbscan_eps_km, min_share=dbscan_min_share, crs=network.crs)
        if len(spots):
            frames.append(_clustered(network, spots, "dbscan", within))
    return finish_candidates(frames, dedupe=dedupe)


def _clustered(network, centres: pd.DataFrame, source: str, within=None) -> pd.DataFrame:
    snapped = snap_sites(network, centres["lon"].to_numpy(), centres["lat"].to_numpy(), within=within)
    snapped["weight"] = centres["weight"].to_numpy(float)
    snapped["source"] = source
    snapped["name"] = None
    return snapped


def finish_candidates(frames: list[pd.DataFrame], *, dedupe: bool = True):
    """Concatenate candidate frames, drop duplicate nodes (earlier frames win) and give ids."""
    import geopandas as gpd

    frames = [f for f in frames if len(f)]
    if not frames:
        empty = pd.DataFrame(columns=COLUMNS)
        return gpd.GeoDataFrame(empty, geometry=gpd.points_from_xy([], []), crs=settings.WGS84)
    df = pd.concat(frames, ignore_index=True)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    if dedupe:
        df = df.drop_duplicates(subset="node", keep="first").reset_index(drop=True)
    counters: dict[str, int] = {}
    ids = []
    for src in df["source"]:
        counters[src] = counters.get(src, 0) + 1
        ids.append(f"{_PREFIX.get(src, 'XX')}-{counters[src]:03d}")
    df["id"] = ids
    df["node"] = df["node"].astype(np.int64)
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=settings.WGS84)


