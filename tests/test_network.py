"""Road network: corridors → graph, OSM XML import, CSR weights, snapping, linear referencing."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from pyproj import Geod, Transformer
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely.geometry import LineString

from planner.errors import InfeasibleError, InputError
from planner.network import TRUCK_SPEED_KMH, RoadNetwork, parse_maxspeed
from planner.network.snap import RADIUS_M

DATA = Path(__file__).resolve().parent / "data"
SMALL_TOWN = DATA / "small_town.osm"
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
GEOD = Geod(ellps="WGS84")
HUB = (104.78, 31.56)  # Zhangjiaping-like hub shared by three corridors


def make_corridors() -> gpd.GeoDataFrame:
    """Three synthetic corridors meeting at exactly the same hub coordinate."""
    return gpd.GeoDataFrame(
        {
            "ref": ["G5", "G93", "G8513"],
            "name_zh": ["京昆", "绵遂", "九绵"],
            "speed_kmh": [90.0, 80.0, 60.0],
        },
        geometry=[
            LineString([(104.64, 31.39), (104.72, 31.50), HUB, (104.80, 31.69)]),
            LineString([HUB, (104.92, 31.45), (105.05, 31.12)]),
            LineString([(104.55, 32.41), (104.63, 31.90), (104.76, 31.78), HUB]),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def corridors() -> gpd.GeoDataFrame:
    return make_corridors()


@pytest.fixture(scope="module")
def net(corridors) -> RoadNetwork:
    return RoadNetwork.from_corridors(corridors, max_segment_m=250.0)


@pytest.fixture(scope="module")
def town() -> RoadNetwork:
    return RoadNetwork.from_osm_xml(SMALL_TOWN)


def osm_node(network: RoadNetwork, osmid: int) -> int:
    hits = np.flatnonzero(network.node_osmid == osmid)
    assert hits.size == 1, f"OSM node {osmid} not in the network"
    return int(hits[0])


def geodesic_m(lon1, lat1, lon2, lat2) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def straight_m(network: RoadNetwork, u, v) -> np.ndarray:
    return np.hypot(network.node_x[v] - network.node_x[u], network.node_y[v] - network.node_y[u])


def great_circle_m(network: RoadNetwork, u, v) -> float:
    """Haversine on the 6,371,009-m sphere (as osmnx measures OSM edges)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (network.node_lon[u], network.node_lat[u], network.node_lon[v], network.node_lat[v]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h))


# --------------------------------------------------------------------------- corridors
def test_corridors_meet_at_shared_hub(net):
    hub = np.flatnonzero((net.node_lon == HUB[0]) & (net.node_lat == HUB[1]))
    assert hub.size == 1  # one node, not three
    neighbours = set(net.length_csr[[int(hub[0])], :].indices.tolist())
    assert len(neighbours) == 4  # G5 both ways, G93 out, G8513 in
    n_comp, _ = connected_components(net.length_csr, directed=True, connection="strong")
    assert n_comp == 1


def test_corridor_edges_short_two_way_and_timed(net):
    assert net.edge_length_m.max() <= 250.0 + 1e-6
    # never shorter than the straight UTM line (triangle inequality downstream)
    assert (net.edge_length_m >= straight_m(net, net.edge_u, net.edge_v) - 1e-9).all()
    assert (abs(net.length_csr - net.length_csr.T)).max() < 1e-9
    assert (abs(net.time_csr - net.time_csr.T)).max() < 1e-9
    speeds = dict(zip(["G5", "G93", "G8513"], [90.0, 80.0, 60.0]))
    for ref, kmh in speeds.items():
        sel = net.edge_ref == ref
        assert sel.any()
        np.testing.assert_allclose(net.edge_time_s[sel], net.edge_length_m[sel] / (kmh / 3.6))
        np.testing.assert_allclose(net.edge_speed_kmh[sel], kmh)


def test_corridor_length_matches_utm_length(net, corridors):
    samples = net.corridor_samples(1.0)
    for i, geom in enumerate(corridors.geometry):
        x, y = TO_UTM.transform(*np.asarray(geom.coords).T)
        utm_len_km = float(np.hypot(np.diff(x), np.diff(y)).sum()) / 1000
        assert samples.loc[samples.corridor_idx == i, "km"].max() == pytest.approx(utm_len_km, rel=1e-9)


@pytest.mark.parametrize("step_km", [0.1, 1.0, 3.7])
def test_corridor_samples_spacing(net, corridors, step_km):
    samples = net.corridor_samples(step_km)
    assert list(samples.columns[:3]) == ["corridor", "corridor_idx", "name_zh"]
    for i, grp in samples.groupby("corridor_idx"):
        km = grp["km"].to_numpy()
        assert km[0] == 0.0
        assert (np.diff(km) > 0).all()
        # at most step_km apart (nodes are <= 250 m apart, so a 0.1 km step takes every node)
        assert np.diff(km).max() <= max(step_km, 0.25) + 1e-9
        # the node really is that far along the corridor's own line
        geom = corridors.geometry.iloc[i]
        pts = gpd.GeoSeries(gpd.points_from_xy(grp.lon, grp.lat), crs="EPSG:4326").to_crs("EPSG:32648")
        line = gpd.GeoSeries([geom], crs="EPSG:4326").to_crs("EPSG:32648").iloc[0]
        np.testing.assert_allclose(line.project(pts).to_numpy() / 1000, km, atol=1e-3)
    ends = samples.groupby("corridor").km.max()
    assert ends["G5"] > 30 and ends["G8513"] > 90


def test_corridor_samples_every_node_in_order(net):
    full = net.corridor_samples(1e-6)
    # consecutive samples of a corridor are joined by an edge
    for _, grp in full.groupby("corridor_idx"):
        a, b = grp.node.to_numpy()[:-1], grp.node.to_numpy()[1:]
        assert (np.asarray(net.length_csr[a, b]) > 0).all()


def test_corridor_samples_rejects_bad_step(net, town):
    with pytest.raises(InputError, match="step_km"):
        net.corridor_samples(0)
    with pytest.raises(InputError, match="from_corridors"):
        town.corridor_samples(1.0)


def test_tolerance_merge_of_reversed_shared_stretch():
    a, b = (104.70, 31.40), (104.80, 31.50)
    a2, b2 = (104.70 + 3e-6, 31.40), (104.80, 31.50 + 3e-6)  # ~0.3 m off: digitised twice
    gdf = gpd.GeoDataFrame(
        {"ref": ["A", "B"], "speed_kmh": [80.0, 60.0]},
        geometry=[LineString([a, b]), LineString([b2, a2])],  # same stretch, opposite directions
        crs="EPSG:4326",
    )
    merged = RoadNetwork.from_corridors(gdf, max_segment_m=500.0)
    exact_only = RoadNetwork.from_corridors(gdf, max_segment_m=500.0, merge_tol_m=0.0)
    assert exact_only.n_nodes == 2 * merged.n_nodes
    assert dijkstra(exact_only.length_csr, indices=0)[exact_only.n_nodes - 1] == np.inf  # two separate roads
    # representatives keep the original vertices exactly
    assert set(zip(merged.node_lon, merged.node_lat)) >= {a, b}
    # parallel edges (80 and 60 km/h) → CSR keeps the minimum, not the sum
    u, v = int(merged.edge_u[0]), int(merged.edge_v[0])
    par = (merged.edge_u == u) & (merged.edge_v == v)
    assert par.sum() == 2
    assert merged.time_csr[u, v] == pytest.approx(merged.edge_time_s[par].min())
    assert merged.length_csr[u, v] == pytest.approx(merged.edge_length_m[par].min())


def test_corridors_in_other_crs_are_reprojected(corridors):
    a = RoadNetwork.from_corridors(corridors)
    b = RoadNetwork.from_corridors(corridors.to_crs("EPSG:32648"))
    assert a.n_nodes == b.n_nodes
    assert a.edge_length_m.sum() == pytest.approx(b.edge_length_m.sum(), rel=1e-6)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda g: g.drop(columns="speed_kmh"), "speed_kmh"),
        (lambda g: g.assign(speed_kmh=[90.0, -5.0, 60.0]), "speed_kmh"),
        (lambda g: g.assign(speed_kmh=[90.0, float("nan"), 60.0]), "speed_kmh"),
        (lambda g: g.set_crs(None, allow_override=True), "CRS"),
        (lambda g: g.set_geometry(gpd.points_from_xy([104.7] * 3, [31.4] * 3), crs="EPSG:4326"), "LineString"),
        (lambda g: g.iloc[:0], "no corridors"),
    ],
)
def test_bad_corridors_raise(corridors, change, match):
    with pytest.raises(InputError, match=match):
        RoadNetwork.from_corridors(change(corridors.copy()))


def test_bad_max_segment_raises(corridors):
    with pytest.raises(InputError, match="max_segment_m"):
        RoadNetwork.from_corridors(corridors, max_segment_m=0)


# --------------------------------------------------------------------------- snapping
def test_snap_and_snap_many_agree(net):
    rng = np.random.default_rng(7)
    lons = rng.uniform(104.5, 105.1, 200)
    lats = rng.uniform(31.1, 32.4, 200)
    nodes, access = net.snap_many(lons, lats)
    for lon, lat, n, d in zip(lons[:20], lats[:20], nodes[:20], access[:20]):
        assert net.snap(lon, lat) == (int(n), pytest.approx(float(d)))
    x, y = TO_UTM.transform(lons, lats)
    all_d = np.hypot(net.node_x[None, :] - x[:, None], net.node_y[None, :] - y[:, None])
    np.testing.assert_allclose(access, all_d.min(axis=1), rtol=1e-9)


def test_snap_on_node_is_zero(net):
    node, d = net.snap(float(net.node_lon[10]), float(net.node_lat[10]))
    assert node == 10 and d == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("bad", [(float("nan"), 31.5), (104.7, float("inf")), ("east", 31.5)])
def test_snap_rejects_non_finite(net, bad):
    with pytest.raises(InputError):
        net.snap(*bad)
    if isinstance(bad[0], float):
        with pytest.raises(InputError, match="non-finite"):
            net.snap_many([104.7, bad[0]], [31.5, bad[1]])


# --------------------------------------------------------------------------- routes & CSR
def test_csr_agrees_with_networkx(net, town):
    for network in (net, town):
        G = network.to_networkx()
        for src in (0, network.n_nodes // 2):
            ours = dijkstra(network.length_csr, indices=src)
            theirs = nx.single_source_dijkstra_path_length(G, src, weight="length_m")
            assert set(np.flatnonzero(np.isfinite(ours))) == set(theirs)
            for node, d in theirs.items():
                assert ours[node] == pytest.approx(d, rel=1e-12, abs=1e-9)


def test_route_time_vs_length(net):
    o, d = net.snap(104.64, 31.39)[0], net.snap(105.05, 31.12)[0]
    path = net.route(o, d)
    assert path[0] == o and path[-1] == d
    legs_m, legs_s = net.path_legs(path, weight="time_s")
    assert legs_s.sum() == pytest.approx(dijkstra(net.time_csr, indices=o)[d])
    by_len = net.route(o, d, weight="length_m")
    assert net.path_legs(by_len, weight="length_m")[0].sum() == pytest.approx(dijkstra(net.length_csr, indices=o)[d])
    assert len(net.coords(path)) == len(path)
    with pytest.raises(InputError, match="weight"):
        net.route(o, d, weight="hops")
    with pytest.raises(InputError, match="not a node"):
        net.route(o, net.n_nodes)


def test_path_legs_rejects_non_path(net):
    with pytest.raises(InputError, match="not a path"):
        net.path_legs([0, net.n_nodes - 1])


# --------------------------------------------------------------------------- OSM XML
def test_osm_filter_and_components(town):
    ids = set(town.node_osmid.tolist())
    assert {1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 31} == ids
    # footway (30), building (40-43) dropped; fragment (50, 51) dropped; the hgv=no road
    # (via 31) is kept for light vehicles and closed to the default truck
    truck = town.for_vehicle(None)
    n31 = osm_node(town, 31)
    assert truck.length_csr[[n31], :].nnz == 0 and truck.length_csr[:, [n31]].nnz == 0
    assert town.length_csr[[n31], :].nnz == 2
    everything = RoadNetwork.from_osm_xml(SMALL_TOWN, retain_all=True)
    assert set(everything.node_osmid.tolist()) == ids | {50, 51}
    with pytest.raises(InfeasibleError, match="no road route"):
        everything.route(osm_node(everything, 1), osm_node(everything, 50))


def test_osm_oneway_kept(town):
    n = {i: osm_node(town, i) for i in (2, 10, 11, 14, 20, 22, 23)}
    L = town.length_csr
    # motorway northbound only
    assert L[n[22], n[23]] > 0 and L[n[23], n[22]] == 0
    # oneway=-1 way drawn 4 -> 14 -> 11: travel only 11 -> 14 -> 4
    assert L[n[11], n[14]] > 0 and L[n[14], n[11]] == 0
    # oneway=yes residential 2 -> 13 -> 10
    d = dijkstra(L)
    assert d[n[20], n[23]] == pytest.approx(great_circle_m(town, n[20], n[23]), rel=1e-9)
    assert d[n[23], n[20]] > 1.5 * d[n[20], n[23]]  # must leave the motorway and loop back
    n13 = osm_node(town, 13)
    assert L[n[2], n13] > 0 and L[n13, n[2]] == 0 and L[n13, n[10]] > 0 and L[n[10], n13] == 0
    assert d[n13, n[2]] > d[n[2], n13]
    # agreement with networkx on the directed graph
    G = town.to_networkx()
    assert nx.shortest_path_length(G, n[23], n[20], weight="length_m") == pytest.approx(d[n[23], n[20]])
    assert not G.has_edge(n[23], n[22])


def test_osm_speeds(town):
    moto = town.edge_ref == "G5"
    assert moto.sum() == 3
    np.testing.assert_allclose(town.edge_speed_kmh[moto], TRUCK_SPEED_KMH)  # hgv 100 capped
    slow = RoadNetwork.from_osm_xml(SMALL_TOWN, truck_speed_kmh=70)
    assert slow.edge_speed_kmh.max() == 70
    n12, n15 = osm_node(town, 12), osm_node(town, 15)
    e = (town.edge_u == n12) & (town.edge_v == n15)
    assert town.edge_speed_kmh[e][0] == 50.0  # tertiary with zone-coded "CN:urban" → default
    n1, n2 = osm_node(town, 1), osm_node(town, 2)
    e = (town.edge_u == n1) & (town.edge_v == n2)
    assert town.edge_speed_kmh[e][0] == 60.0
    np.testing.assert_allclose(town.edge_time_s, town.edge_length_m / (town.edge_speed_kmh / 3.6))


def test_malformed_osm_raises():
    with pytest.raises(InputError, match="cannot read malformed.osm"):
        RoadNetwork.from_osm_xml(DATA / "malformed.osm")


def test_missing_node_osm_raises():
    with pytest.raises(InputError, match="missing") as err:
        RoadNetwork.from_osm_xml(DATA / "missing_node.osm")
    assert err.value.fields == {"path": "complete OSM data (ways reference existing nodes)"}


def test_osm_missing_file_and_no_roads(tmp_path):
    with pytest.raises(InputError, match="not found"):
        RoadNetwork.from_osm_xml(tmp_path / "nope.osm")
    only_building = tmp_path / "b.osm"
    only_building.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="31.45" lon="104.70"/><node id="2" lat="31.45" lon="104.71"/>'
        '<node id="3" lat="31.46" lon="104.71"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/></way></osm>'
    )
    with pytest.raises(InputError, match="no road"):
        RoadNetwork.from_osm_xml(only_building)


def test_from_graph_undirected_and_projected():
    G = nx.Graph(crs="EPSG:32648")
    x0, y0 = TO_UTM.transform(104.7, 31.45)
    G.add_node("a", x=x0, y=y0)
    G.add_node("b", x=x0 + 1000, y=y0)
    G.add_node("c", x=x0 + 1000, y=y0 + 500)
    G.add_edge("a", "b", highway="primary")
    G.add_edge("b", "c", speed_kmh=20)
    net = RoadNetwork.from_graph(G)
    assert net.n_nodes == 3 and net.n_edges == 4
    d = dijkstra(net.length_csr)
    # lengths are geodesic: the 1000 m + 500 m drawn in UTM 48N, measured on the ellipsoid
    lon, lat = net.node_lon, net.node_lat
    expect = geodesic_m(lon[0], lat[0], lon[1], lat[1]) + geodesic_m(lon[1], lat[1], lon[2], lat[2])
    assert d[0, 2] == pytest.approx(expect, rel=1e-9) and d[2, 0] == pytest.approx(expect, rel=1e-9)
    assert d[0, 2] == pytest.approx(1500.0, rel=2e-3)  # UTM scale near the central meridian
    assert net.node_lon[0] == pytest.approx(104.7)
    t = dijkstra(net.time_csr)
    assert t[0, 1] == pytest.approx(geodesic_m(lon[0], lat[0], lon[1], lat[1]) / (70 / 3.6), rel=1e-9)
    with pytest.raises(InputError, match="x/y"):
        H = nx.MultiDiGraph()
        H.add_edge(1, 2)
        RoadNetwork.from_graph(H)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [("80", 80.0), ("60 mph", 60 * 1.609344), ("50;70", 50.0), (["100", "60"], 60.0), ("CN:urban", None), ("none", None), (None, None), (45, 45.0)],
)
def test_parse_maxspeed(value, kmh):
    got = parse_maxspeed(value)
    assert got == (pytest.approx(kmh) if kmh is not None else None)


# --------------------------------------------------------------------------- save/load
def test_save_load_round_trip(net, town, tmp_path):
    for network, name in ((net, "corridors.gpkg"), (town, "town.gpkg")):
        path = network.save(tmp_path / name)
        back = RoadNetwork.load(path)
        assert back.n_nodes == network.n_nodes and back.n_edges == network.n_edges
        np.testing.assert_array_equal(back.node_lon, network.node_lon)
        np.testing.assert_array_equal(back.edge_u, network.edge_u)
        np.testing.assert_array_equal(back.edge_length_m, network.edge_length_m)
        np.testing.assert_array_equal(back.edge_time_s, network.edge_time_s)
        assert list(back.edge_ref) == list(network.edge_ref)
        assert (back.length_csr != network.length_csr).nnz == 0
        assert back.source == network.source
    back = RoadNetwork.load(tmp_path / "corridors.gpkg")
    a, b = net.corridor_samples(1.0), back.corridor_samples(1.0)
    np.testing.assert_array_equal(a.node.to_numpy(), b.node.to_numpy())
    np.testing.assert_allclose(a.km.to_numpy(), b.km.to_numpy())
    # layers readable by any GIS: edges carry the contract's columns
    edges = gpd.read_file(tmp_path / "town.gpkg", layer="edges")
    assert {"u", "v", "length_m", "travel_time_s", "speed_kmh", "ref"} <= set(edges.columns)
    assert edges.crs.to_epsg() == 4326


def test_save_load_errors(net, tmp_path):
    with pytest.raises(InputError, match="gpkg"):
        net.save(tmp_path / "net.shp")
    with pytest.raises(InputError, match="not found"):
        RoadNetwork.load(tmp_path / "missing.gpkg")
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([104.7], [31.4]), crs="EPSG:4326").to_file(other, layer="pts")
    with pytest.raises(InputError, match="nodes"):
        RoadNetwork.load(other)


# --------------------------------------------------------------------------- real region
def _real_region():
    from planner.region import load_region

    return load_region("mianyang")  # a broken loader must fail the suite, never skip it


@pytest.fixture(scope="module")
def real_net():
    region = _real_region()
    return region, RoadNetwork.from_corridors(region.corridors)


def test_real_corridors_form_one_network(real_net):
    region, network = real_net
    n_comp, labels = connected_components(network.length_csr, directed=True, connection="strong")
    sizes = np.bincount(labels)
    assert sizes.max() == network.n_nodes, f"{n_comp} components, sizes {sorted(sizes)[-5:]}"
    samples = network.corridor_samples(1.0)
    assert samples.corridor_idx.nunique() == len(region.corridors)
    gaps = samples.groupby("corridor_idx").km.apply(lambda k: np.diff(k.to_numpy()).max() if len(k) > 1 else 0.0)
    assert gaps.max() <= 1.0 + 1e-9
    assert (network.edge_length_m >= straight_m(network, network.edge_u, network.edge_v) - 1e-9).all()
    total_km = samples.groupby("corridor_idx").km.max().sum()
    assert 300 < total_km < 5000
    assert math.isfinite(network.time_csr.data.sum())


# --------------------------------------------------------------------------- any UTM zone
def _grid_osm(path: Path, lon0: float, lat0: float, *, n: int = 7, step_deg: float = 0.008, seed: int = 7) -> Path:
    """A hand-made OSM extract: an ``n × n`` street grid (jittered nodes, intermediate shape
    points) around ``(lon0, lat0)``, written as OSM XML."""
    rng = np.random.default_rng(seed)
    nodes, ways = [], []
    ids = np.arange(1, n * n + 1).reshape(n, n)
    for i in range(n):
        for j in range(n):
            lon = lon0 + j * step_deg + rng.uniform(-0.15, 0.15) * step_deg
            lat = lat0 + i * step_deg + rng.uniform(-0.15, 0.15) * step_deg
            nodes.append((int(ids[i, j]), lon, lat))
    coords = {nid: (lon, lat) for nid, lon, lat in nodes}
    nid = n * n + 1
    highway = ["primary", "secondary", "residential", "tertiary"]
    wid = 1
    for line in [ids[i, :] for i in range(n)] + [ids[:, j] for j in range(n)]:
        refs = []
        for a, b in zip(line[:-1], line[1:]):
            refs.append(int(a))
            # a bent shape point between two junctions (not a junction itself)
            (la, pa), (lb, pb) = coords[int(a)], coords[int(b)]
            t = rng.uniform(0.3, 0.7)
            bend = rng.uniform(-0.2, 0.2) * step_deg
            coords[nid] = (la + t * (lb - la) + bend * (pb - pa) / step_deg, pa + t * (pb - pa) - bend * (lb - la) / step_deg)
            nodes.append((nid, *coords[nid]))
            refs.append(nid)
            nid += 1
        refs.append(int(line[-1]))
        ways.append((wid, refs, highway[wid % len(highway)]))
        wid += 1
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="yizhan-test">']
    parts += [f'  <node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>' for i, lon, lat in nodes]
    for w, refs, hw in ways:
        parts.append(f'  <way id="{w}" version="1">')
        parts += [f'    <nd ref="{r}"/>' for r in refs]
        parts.append(f'    <tag k="highway" v="{hw}"/>')
        parts.append("  </way>")
    parts.append("</osm>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "place, lon0, lat0, zone",
    [
        ("California", -121.95, 37.30, "EPSG:32610"),
        ("Bavaria", 11.50, 48.10, "EPSG:32632"),
        ("Sydney", 151.00, -33.85, "EPSG:32756"),
        ("Santiago", -70.65, -33.45, "EPSG:32719"),
        ("Mianyang", 104.70, 31.45, "EPSG:32648"),
    ],
)
def test_osm_lengths_great_circle_in_any_zone(tmp_path, place, lon0, lat0, zone):
    """Edge lengths from import-osm are within 0.5 % (median) and 2 % (worst edge) of
    great-circle lengths (osmnx's own ``length``) wherever the extract lies, and shortest
    paths within 0.5 % of the same graph weighted by great-circle lengths."""
    import osmnx as ox

    osm = _grid_osm(tmp_path / f"{place}.osm", lon0, lat0)
    net = RoadNetwork.from_osm_xml(osm)
    assert net.crs == zone  # the UTM zone of the extract's centre, not Mianyang's
    G = ox.graph_from_xml(osm, bidirectional=False, simplify=False, retain_all=True)
    gc = {}
    for u, v, d in G.edges(data=True):
        gc[(u, v)] = min(gc.get((u, v), math.inf), d["length"])
    osmid = net.node_osmid
    ours = np.array([net.edge_length_m[k] for k in range(net.n_edges)])
    theirs = np.array([gc.get((int(osmid[u]), int(osmid[v])), gc.get((int(osmid[v]), int(osmid[u]))))
                       for u, v in zip(net.edge_u, net.edge_v)], dtype=float)
    assert np.isfinite(theirs).all() and net.n_edges >= 2 * 2 * 7 * 6  # every street two-way
    rel = np.abs(ours - theirs) / theirs
    assert np.median(rel) < 0.005, f"{place}: median {np.median(rel):.4%}"
    assert rel.max() < 0.02, f"{place}: worst {rel.max():.4%}"
    # shortest paths: our CSR against networkx on the same graph with great-circle weights
    pos = {int(o): i for i, o in enumerate(osmid)}
    rng = np.random.default_rng(1)
    sources = rng.choice(net.n_nodes, size=5, replace=False)
    D = dijkstra(net.length_csr, indices=sources)
    for row, s in zip(D, sources):
        ref = nx.single_source_dijkstra_path_length(G, int(osmid[s]), weight="length")
        targets = [pos[t] for t in ref if t in pos and t != int(osmid[s])]
        ref_d = np.array([ref[int(osmid[t])] for t in targets])
        rel_p = np.abs(row[targets] - ref_d) / ref_d
        assert rel_p.max() < 0.005, f"{place}: path error {rel_p.max():.4%}"


def test_network_crs_argument_and_roundtrip(tmp_path, corridors):
    """A declared CRS is used and survives save/load; a geographic CRS is refused."""
    own = RoadNetwork.from_corridors(corridors)
    assert own.crs == "EPSG:32648"  # chosen from the data: the zone of the corridors' centre
    declared = RoadNetwork.from_corridors(corridors, crs="EPSG:32649")  # the next zone east
    assert declared.crs == "EPSG:32649"
    expect = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True).transform(declared.node_lon, declared.node_lat)
    np.testing.assert_allclose(declared.node_x, expect[0])
    np.testing.assert_allclose(declared.node_y, expect[1])
    assert not np.allclose(declared.node_x, TO_UTM.transform(declared.node_lon, declared.node_lat)[0])
    back = RoadNetwork.load(declared.save(tmp_path / "n.gpkg"))
    assert back.crs == "EPSG:32649"
    np.testing.assert_allclose(back.edge_length_m, declared.edge_length_m)
    with pytest.raises(InputError, match="projected"):
        RoadNetwork.from_corridors(corridors, crs="EPSG:4326")


def test_csr_against_brute_force_on_random_multigraphs():
    """Per (u, v): the shortest parallel edge (and its time), the fastest (and its length)."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        n, m = int(rng.integers(2, 12)), int(rng.integers(1, 60))
        net = RoadNetwork(104.7 + rng.random(n) * 0.01, 31.4 + rng.random(n) * 0.01, rng.integers(0, n, m),
                          rng.integers(0, n, m), np.round(rng.random(m) * 3000 + 1500, -3), rng.choice([30.0, 60.0], m))
        best: dict = {}
        for u, v, length, time in zip(net.edge_u, net.edge_v, net.edge_length_m, net.edge_time_s):
            if u != v:
                best.setdefault((int(u), int(v)), []).append((float(length), float(time)))
        pairs = sorted(best)
        assert net._csr_keys.tolist() == [u * n + v for u, v in pairs]
        assert net.length_csr.data.tolist() == [min(best[p])[0] for p in pairs]
        assert net._time_on_len.tolist() == [min(best[p])[1] for p in pairs]
        assert net.time_csr.data.tolist() == [min((t, length) for length, t in best[p])[0] for p in pairs]
        assert net._len_on_time.tolist() == [min((t, length) for length, t in best[p])[1] for p in pairs]


# --------------------------------------------------------------------------- edge snapping
def _shapely_candidates(network, x, y, *, radius=2000.0, margin=1000.0):
    """Brute force: every directed edge within max(radius, nearest + margin), as
    {(tail, head): (fraction, access_m)} (shapely on each straight edge)."""
    import shapely

    lines = shapely.linestrings(np.stack([
        np.column_stack([network.node_x[network.edge_u], network.node_y[network.edge_u]]),
        np.column_stack([network.node_x[network.edge_v], network.node_y[network.edge_v]]),
    ], axis=1))  # fmt: skip
    p = shapely.points(x, y)
    d = shapely.distance(lines, p)
    limit = max(radius, float(d.min()) + margin)
    out = {}
    for e in np.flatnonzero(d <= limit).tolist():
        f = float(shapely.line_locate_point(lines[e], p, normalized=True))
        out[(int(network.edge_u[e]), int(network.edge_v[e]))] = (f, float(d[e]))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_edge_snap_matches_brute_force(net, town, seed):
    """Every directed edge within the radius is a candidate, with the projection's fraction
    and access leg; out-seeds reach the head (and the tail of the reverse direction) with
    the partial length, in-seeds come from the tail."""
    rng = np.random.default_rng(seed)
    network = net if seed % 2 else town
    lo, hi = [network.node_lon.min() - 0.02, network.node_lat.min() - 0.02], [network.node_lon.max() + 0.02, network.node_lat.max() + 0.02]
    lon, lat = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
    (snap,) = network.snap_edges([lon], [lat])
    sn = network.edge_snapper
    x, y = network.project(lon, lat)
    expect = _shapely_candidates(network, x, y)
    got = {}
    for p, f, a in zip(snap.piece.tolist(), snap.f.tolist(), snap.access_m.tolist()):
        if sn.fwd[p] >= 0:
            got[(int(sn.tail[p]), int(sn.head[p]))] = (f, a)
        if sn.rev[p] >= 0:
            got[(int(sn.head[p]), int(sn.tail[p]))] = (1.0 - f, a)
    assert set(got) == set(expect)
    for key, (f, a) in expect.items():
        assert got[key][1] == pytest.approx(a, abs=1e-6)
        assert got[key][0] == pytest.approx(f, abs=1e-6)
    assert list(snap.access_m) == sorted(snap.access_m)
    node, dist, secs, cand, fwd = sn.out_seeds(snap, 30 / 3.6)
    L = {(int(u), int(v)): float(l) for u, v, l in zip(network.edge_u, network.edge_v, network.edge_length_m)}
    for v, d, c, is_fwd in zip(node.tolist(), dist.tolist(), cand.tolist(), fwd.tolist()):
        p = int(snap.piece[c])
        u = int(sn.tail[p] if is_fwd else sn.head[p])
        f, a = expect[(u, v)]
        assert d == pytest.approx(a + (1 - f) * L[(u, v)], abs=1e-6)
    node, dist, *_ = sn.in_seeds(snap, 30 / 3.6)
    for u, d in zip(node.tolist(), dist.tolist()):
        matches = [a + f * L[key] for key, (f, a) in expect.items() if key[0] == u]
        assert any(abs(d - m) < 1e-6 for m in matches)


@pytest.mark.parametrize("which", ["net", "town"])
def test_edge_snap_far_points_match_brute_force(request, which):
    """Points 1-80 km from the roads, inside and outside the snap grid, in every direction:
    the nearest road bounds the one scan, which still finds exactly the edges within
    ``max(radius, nearest + margin)``."""
    network = request.getfixturevalue(which)
    sn = network.edge_snapper
    x0, y0, x1, y1 = sn._bbox
    rng = np.random.default_rng(5)
    pts = [(rng.uniform(x0 - 80e3, x1 + 80e3), rng.uniform(y0 - 80e3, y1 + 80e3)) for _ in range(40)]
    pts += [(x0 - 30e3, y0 - 30e3), (x1 + 2e3, (y0 + y1) / 2), ((x0 + x1) / 2, y1 + 60e3), (x1 + 1e6, y0 - 1e6)]
    far = 0
    for x, y in pts:
        snap = sn.snap_xy(float(x), float(y))
        expect = _shapely_candidates(network, x, y)
        got = set()
        for p in snap.piece.tolist():
            if sn.fwd[p] >= 0:
                got.add((int(sn.tail[p]), int(sn.head[p])))
            if sn.rev[p] >= 0:
                got.add((int(sn.head[p]), int(sn.tail[p])))
        assert got == set(expect), (x, y)
        assert snap.nearest_m == pytest.approx(min(a for _, a in expect.values()), abs=1e-6)
        far += snap.nearest_m > 2 * RADIUS_M
    assert far >= 10  # the widened search was exercised


def test_edge_snap_one_way_and_nearest_only(town):
    """A one-way edge gives one direction only; a station keeps just its nearest edge(s)."""
    sn = town.edge_snapper
    one_way = np.flatnonzero((sn.fwd >= 0) & (sn.rev < 0))
    assert one_way.size
    p = int(one_way[0])
    mx = (town.node_x[sn.tail[p]] + town.node_x[sn.head[p]]) / 2
    my = (town.node_y[sn.tail[p]] + town.node_y[sn.head[p]]) / 2
    lon, lat = town.unproject(mx, my)
    (snap,) = town.snap_edges([lon], [lat])
    near = snap.nearest_only()
    assert near.access_m.max() <= 0.01 and p in near.piece.tolist()
    node, dist, _, cand, fwd = sn.out_seeds(near, 30 / 3.6)
    on_p = [n for n, c in zip(node.tolist(), cand.tolist()) if int(near.piece[c]) == p]
    assert on_p == [int(sn.head[p])]  # only onwards, never back against the one-way


def test_snap_edges_rejects_bad_points(net):
    with pytest.raises(InputError, match="finite"):
        net.snap_edges([float("nan")], [31.5])
    with pytest.raises(InputError, match="length"):
        net.snap_edges([104.7, 104.8], [31.5])
    assert net.snap_edges([], []) == []
