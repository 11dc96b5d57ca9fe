"""Electric heavy trucks: freight flows, megawatt charging sites, and chargers per site.

Three steps, each usable alone:

1. **Truck flows** (:func:`od_points`, :func:`gravity_flows`, :func:`read_od_csv`):
   origin-destination volumes between the region's logistics hubs, freight generators
   (the Jiangyou steel cluster, the Beichuan gravel mines), county seats and gateways (the
   ends of the corridors at the region's edge). The embedded flows come from a gravity
   model on the *illustrative* demand layer and are labelled so; real O-D matrices
   (trucks per day) import from CSV.
2. **Where chargers go** (:func:`charging_scenario`): the flow-refuelling location model
   (:func:`planner.siting.solve_frlm`) on the corridor network, existing megawatt-class
   sites fixed open.
3. **How many chargers each site needs** (:func:`site_capacity`, :func:`erlang_c`):
   charging sessions per day from the flows a site serves, an hourly profile, the
   session time from battery size and charger power, and the fewest chargers that keep
   the chance of waiting more than 15 minutes below a target in an M/M/c (Erlang C)
   queue at the peak hour.

Every number that is a planning assumption is a named constant below, with its source or
the word *illustrative*.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from planner._validate import non_negative, positive, whole_number
from planner.errors import InputError

#: What counts as megawatt-class charging here: a bay of at least this power, kW. The
#: Beichuan station's slower bays are 600 kW, so 600 keeps the whole station in.
MIN_POWER_KW = 600.0
#: Battery of a heavy e-truck, kWh, and the charge window of one session (20 % → 80 %):
#: the Beichuan operator quotes "400 kWh to 80 % in ~15 min" at 1.44 MW (source key BC).
BATTERY_KWH = 400.0
SOC_FROM = 0.2
SOC_TO = 0.8
#: Power of a new megawatt bay, kW (the Beichuan 1.44 MW bays).
CHARGER_KW = 1440.0
#: Minutes per session spent other than charging: manoeuvre, plug, pay (illustrative).
OVERHEAD_MIN = 5.0
#: Energy per truck at Beichuan: >300,000 kWh/day over ~700 trucks/day ≈ 430 kWh (source BC).
BEICHUAN_KWH_PER_TRUCK = 300_000 / 700
BEICHUAN_TRUCKS_PER_DAY = 700
BEICHUAN_BAYS_KW = (1440.0,) * 18 + (600.0,) * 108
#: The waiting-time rule: P(wait > MAX_WAIT_MIN) must stay below P_WAIT_TARGET.
MAX_WAIT_MIN = 15.0
P_WAIT_TARGET = 0.05
#: Share of a day's charging sessions that arrive in each hour 0..23 (Asia/Shanghai):
#: ILLUSTRATIVE — freight moves mostly by day, with a morning and an afternoon peak and a
#: night trough; no published hourly counts for Mianyang were found.
HOURLY_PROFILE = np.array([
    1.5, 1.2, 1.0, 1.0, 1.3, 2.2, 3.6, 5.0, 6.2, 6.9, 7.0, 6.4,
    5.6, 5.8, 6.5, 6.9, 6.7, 5.9, 4.8, 3.9, 3.2, 2.7, 2.2, 1.5,
]) / 100.0
HOURLY_PROFILE = HOURLY_PROFILE / HOURLY_PROFILE.sum()
#: Gravity model (illustrative): T_ij ∝ m_i m_j / d_ij^GRAVITY_BETA, scaled to
#: TOTAL_TRUCKS_PER_DAY heavy e-truck round trips a day on the whole network.
GRAVITY_BETA = 1.5
TOTAL_TRUCKS_PER_DAY = 3000.0
#: O-D points closer than this by road are not a flow (a trip within one town), km.
MIN_FLOW_KM = 15.0
DATA_STATUS = "illustrative"
FLOW_SOURCE = (
    "illustrative: gravity model on Yizhan's illustrative demand layer between hubs, freight "
    "generators, county seats and gateways (planner.charging.gravity_flows); not observed counts"
)
#: Which anchors are O-D points, and as what.
OD_KINDS = {"logistics_hub": "hub", "freight_generator": "generator"}


# ------------------------------------------------------------------ the network as a graph
def network_graph(network) -> nx.Graph:
    """The road network as an undirected networkx graph with ``length_km`` per edge.

    Node ids are the :class:`planner.network.RoadNetwork` node ids; a road drivable in both
    directions keeps the shorter length. (The corridor network is two-way throughout.)
    """
    u = np.asarray(network.edge_u, dtype=np.int64)
    v = np.asarray(network.edge_v, dtype=np.int64)
    km = np.asarray(network.edge_length_m, dtype=np.float64) / 1000.0
    G = nx.Graph()
    G.add_nodes_from(range(int(network.n_nodes)))
    best: dict[tuple[int, int], float] = {}
    for a, b, length in zip(u.tolist(), v.tolist(), km.tolist()):
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        if length < best.get(key, math.inf):
            best[key] = length
    G.add_edges_from((a, b, {"length_km": length}) for (a, b), length in best.items())
    return G


# ------------------------------------------------------------------ flows
def od_points(region, network) -> pd.DataFrame:
    """The O-D points of the truck flows, snapped to the network.

    Hubs and freight generators (anchors), county seats (``TOWN-SEAT-*`` anchors) and
    gateways: anchors outside the region and the dead ends of the corridor network (where
    a corridor leaves the modelled area). Points on the same node are merged.

    Returns
    -------
    pandas.DataFrame
        ``id, name, kind (hub|generator|county_seat|gateway), lon, lat, node, data_status``.
    """
    rows = []
    a = region.anchors
    for rec in a.itertuples(index=False):
        kind = OD_KINDS.get(rec.kind)
        if kind is None and str(rec.id).startswith("TOWN-SEAT-"):
            kind = "county_seat"
        if kind is None and rec.in_region is False:
            kind = "gateway"
        if kind is None:
            continue
        rows.append({"id": str(rec.id), "name": rec.name_zh, "kind": kind, "lon": rec.geometry.x,
                     "lat": rec.geometry.y, "data_status": rec.data_status})
    deg = np.bincount(np.asarray(network.edge_u, dtype=np.int64), minlength=int(network.n_nodes))
    for i, node in enumerate(np.flatnonzero(deg == 1).tolist()):
        rows.append({"id": f"GW-END-{i + 1:02d}", "name": "corridor end (gateway)", "kind": "gateway",
                     "lon": float(network.node_lon[node]), "lat": float(network.node_lat[node]),
                     "data_status": "approximate"})
    df = pd.DataFrame(rows)
    nodes, snap_m = network.snap_many(df["lon"].to_numpy(float), df["lat"].to_numpy(float))
    df["node"] = np.asarray(nodes, dtype=np.int64)
    df["snap_m"] = snap_m
    df["lon"] = network.node_lon[df["node"]]
    df["lat"] = network.node_lat[df["node"]]
    # one O-D point per node, and gateways only where no other point already sits within 5 km
    df = df.drop_duplicates("node", keep="first").reset_index(drop=True)
    x, y = network.project(df["lon"].to_numpy(), df["lat"].to_numpy())
    keep = np.ones(len(df), dtype=bool)
    for i in range(len(df)):
        if df.at[i, "kind"] != "gateway" or not df.at[i, "id"].startswith("GW-END"):
            continue
        d = np.hypot(x[:i] - x[i], y[:i] - y[i])
        if (keep[:i] & (d < 5000)).any():
            keep[i] = False
    return df[keep].reset_index(drop=True)


def gravity_flows(region, network, *, total_trucks_per_day: float = TOTAL_TRUCKS_PER_DAY,
                  beta: float = GRAVITY_BETA, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Illustrative truck flows between O-D points by a gravity model.

    The mass of a point is the illustrative demand weight (truck stop events) nearest to
    it; gateways carry the median mass (through traffic). ``T_ij ∝ m_i m_j / d_ij^beta``
    with ``d_ij`` the road distance, over unordered pairs at least ``MIN_FLOW_KM`` apart,
    scaled so the volumes sum to ``total_trucks_per_day`` (round trips a day).

    Returns
    -------
    pandas.DataFrame
        ``origin, destination`` (network nodes), ``origin_id, destination_id``, ``road_km``,
        ``volume`` (trucks per day), ``data_status`` ("illustrative") and ``source``.
    """
    from scipy.sparse.csgraph import dijkstra

    total = positive(total_trucks_per_day, "total_trucks_per_day")
    beta = non_negative(beta, "beta")
    pts = od_points(region, network) if points is None else points
    demand = region.demand
    dx, dy = network.project(demand["lon"].to_numpy(float), demand["lat"].to_numpy(float))
    px, py = network.project(pts["lon"].to_numpy(float), pts["lat"].to_numpy(float))
    from scipy.spatial import cKDTree

    inner = (pts["kind"] != "gateway").to_numpy()
    _, j = cKDTree(np.column_stack([px[inner], py[inner]])).query(np.column_stack([dx, dy]))
    mass = np.zeros(len(pts))
    mass[np.flatnonzero(inner)] = np.bincount(j, weights=demand["weight"].to_numpy(float), minlength=int(inner.sum()))
    positive_mass = mass[inner][mass[inner] > 0]
    mass[~inner] = float(np.median(positive_mass)) if positive_mass.size else 1.0
    nodes = pts["node"].to_numpy(np.int64)
    D = dijkstra(network.length_csr, directed=True, indices=nodes)[:, nodes] / 1000.0
    i, k = np.triu_indices(len(pts), 1)
    dist = np.maximum(D[i, k], D[k, i])
    ok = np.isfinite(dist) & (dist >= MIN_FLOW_KM) & (mass[i] > 0) & (mass[k] > 0)
    i, k, dist = i[ok], k[ok], dist[ok]
    raw = mass[i] * mass[k] / dist ** beta
    volume = raw / raw.sum() * total
    return pd.DataFrame({
        "origin": nodes[i],
        "destination": nodes[k],
        "origin_id": pts["id"].to_numpy()[i],
        "destination_id": pts["id"].to_numpy()[k],
        "road_km": dist,
        "volume": volume,
        "data_status": DATA_STATUS,
        "source": FLOW_SOURCE,
    })


def read_od_csv(path: str | Path, network, *, coords: str = "wgs84") -> pd.DataFrame:
    """Read a real O-D matrix: CSV with ``origin_lon, origin_lat, destination_lon,
    destination_lat, volume`` (trucks per day), one row per flow; points snap to the network.

    ``coords="gcj02"`` converts points copied from Amap. Bad rows raise InputError naming
    the row and the column; nothing is half-read.
    """
    from planner.coords import to_wgs84

    p = Path(path)
    if not p.is_file():
        raise InputError(f"O-D file not found: {str(p)!r}", fields={"od": "an existing .csv file"})
    need = ["origin_lon", "origin_lat", "destination_lon", "destination_lat", "volume"]
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{p.name} lacks column(s) {missing}; it needs {', '.join(need)}",
                             fields={"od": f"columns {', '.join(need)}"})
        rows = []
        for n, rec in enumerate(reader, start=2):
            vals = []
            for c in need:
                try:
                    v = float(rec[c])
                except (TypeError, ValueError):
                    raise InputError(f"{p.name} line {n}: {c}={rec[c]!r} is not a number",
                                     fields={"od": f"line {n}, column {c}"}) from None
                if not math.isfinite(v):
                    raise InputError(f"{p.name} line {n}: {c} must be finite", fields={"od": f"line {n}, column {c}"})
                vals.append(v)
            if vals[4] < 0:
                raise InputError(f"{p.name} line {n}: volume must be >= 0 (trucks per day)",
                                 fields={"od": f"line {n}, column volume"})
            rows.append(vals)
    if not rows:
        raise InputError(f"{p.name} has no flows", fields={"od": "at least one row"})
    arr = np.array(rows)
    pts = []
    for n, r in enumerate(arr, start=2):
        try:
            pts.append((*to_wgs84(r[0], r[1], coords), *to_wgs84(r[2], r[3], coords)))
        except InputError as exc:
            raise InputError(f"{p.name} line {n}: {exc.message}", fields={"od": f"line {n}"}) from None
    olon, olat, dlon, dlat = (np.array(c) for c in zip(*pts))
    o, _ = network.snap_many(olon, olat)
    d, _ = network.snap_many(dlon, dlat)
    df = pd.DataFrame({"origin": np.asarray(o, np.int64), "destination": np.asarray(d, np.int64), "volume": arr[:, 4]})
    same = df["origin"] == df["destination"]
    if same.any():
        n = int(np.flatnonzero(same.to_numpy())[0]) + 2
        raise InputError(f"{p.name} line {n}: origin and destination snap to the same road node; "
                         "a flow needs two different places", fields={"od": f"line {n}"})
    df["data_status"] = "imported"
    df["source"] = f"csv:{p.name}"
    return df


# ------------------------------------------------------------------ queueing
def erlang_c(servers: int, offered_load: float) -> float:
    """P(an arrival waits) in an M/M/c queue with ``servers`` and offered load a = λ/μ.

    Computed through the Erlang B recursion (stable for hundreds of servers). Returns 1.0
    when the queue is unstable (a >= c).
    """
    c = whole_number(servers, "servers", minimum=1)
    a = non_negative(offered_load, "offered_load")
    if a >= c:
        return 1.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def p_wait_over(minutes: float, *, arrivals_per_h: float, service_min: float, servers: int) -> float:
    """P(wait > ``minutes``) in M/M/c: ``C(c, a) · exp(−(cμ − λ) t)`` (1.0 if unstable)."""
    lam = non_negative(arrivals_per_h, "arrivals_per_h") / 60.0
    mu = 1.0 / positive(service_min, "service_min")
    c = whole_number(servers, "servers", minimum=1)
    t = non_negative(minutes, "minutes")
    if lam == 0:
        return 0.0
    if lam >= c * mu:
        return 1.0
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def mean_wait_min(*, arrivals_per_h: float, service_min: float, servers: int) -> float:
    """Mean wait in M/M/c, minutes: ``C(c, a) / (cμ − λ)`` (inf if unstable)."""
    lam = arrivals_per_h / 60.0
    mu = 1.0 / service_min
    if lam == 0:
        return 0.0
    if lam >= servers * mu:
        return math.inf
    return erlang_c(servers, lam / mu) / (servers * mu - lam)


def chargers_needed(arrivals_per_h: float, service_min: float, *, max_wait_min: float = MAX_WAIT_MIN,
                    p_target: float = P_WAIT_TARGET) -> int:
    """Fewest chargers so that P(wait > ``max_wait_min``) <= ``p_target`` (at least 1)."""
    lam = non_negative(arrivals_per_h, "arrivals_per_h")
    s = positive(service_min, "service_min")
    if not (0 < p_target < 1):
        raise InputError(f"p_target must be between 0 and 1, got {p_target!r}", fields={"p_target": "(0, 1)"})
    c = max(1, int(math.floor(lam * s / 60.0)) + 1)
    while p_wait_over(max_wait_min, arrivals_per_h=lam, service_min=s, servers=c) > p_target:
        c += 1
    return c


def session_minutes(*, charger_kw: float = CHARGER_KW, energy_kwh: float | None = None,
                    battery_kwh: float = BATTERY_KWH, soc_from: float = SOC_FROM, soc_to: float = SOC_TO,
                    overhead_min: float = OVERHEAD_MIN) -> float:
    """Minutes a truck holds a charger: energy / power plus the overhead.

    The energy defaults to ``battery_kwh × (soc_to − soc_from)`` (400 kWh × 60 % = 240 kWh:
    10 min at 1.44 MW, 15 min with the 5 min overhead).
    """
    kw = positive(charger_kw, "charger_kw")
    if energy_kwh is None:
        energy_kwh = positive(battery_kwh, "battery_kwh") * (soc_to - soc_from)
    return positive(energy_kwh, "energy_kwh") / kw * 60.0 + non_negative(overhead_min, "overhead_min")


def wait_distribution(*, arrivals_per_h: float, service_min: float, servers: int,
                      minutes: Sequence[float] = (0, 5, 10, 15, 30, 60)) -> list[dict]:
    """P(wait > t) for a few t, M/M/c: ``[{"minutes": t, "p": …}]``."""
    return [{"minutes": float(t), "p": p_wait_over(t, arrivals_per_h=arrivals_per_h, service_min=service_min,
                                                   servers=servers)} for t in minutes]


def site_capacity(sessions_per_day: float, *, charger_kw: float = CHARGER_KW, energy_kwh: float | None = None,
                  profile: Sequence[float] = HOURLY_PROFILE, max_wait_min: float = MAX_WAIT_MIN,
                  p_target: float = P_WAIT_TARGET, installed: int | None = None) -> dict:
    """Chargers a site needs for ``sessions_per_day`` charging sessions.

    The peak hour carries ``max(profile)`` of the day's sessions; arrivals are Poisson and
    session times exponential (M/M/c, Erlang C), which is the usual planning queue for
    charging bays. With ``installed`` bays the answer also says how that count fares.
    """
    prof = np.asarray(profile, dtype=float)
    if prof.shape != (24,) or (prof < 0).any() or not math.isclose(prof.sum(), 1.0, rel_tol=1e-6):
        raise InputError("profile must be 24 non-negative hourly shares summing to 1", fields={"profile": "24 shares, sum 1"})
    day = non_negative(sessions_per_day, "sessions_per_day")
    peak = day * float(prof.max())
    s = session_minutes(charger_kw=charger_kw, energy_kwh=energy_kwh)
    c = chargers_needed(peak, s, max_wait_min=max_wait_min, p_target=p_target)
    out = {
        "trucks_per_day": day,
        "peak_per_hour": peak,
        "peak_hour": int(prof.argmax()),
        "session_min": s,
        "charger_kw": float(charger_kw),
        "chargers": c,
        "p_wait_over_15_min": p_wait_over(max_wait_min, arrivals_per_h=peak, service_min=s, servers=c),
        "mean_wait_min": mean_wait_min(arrivals_per_h=peak, service_min=s, servers=c),
        "utilisation": peak * s / 60.0 / c,
        "wait_distribution": wait_distribution(arrivals_per_h=peak, service_min=s, servers=c),
    }
    if installed is not None:
        n = whole_number(installed, "installed", minimum=0)
        out["installed"] = n
        out["p_wait_over_15_min_installed"] = (
            p_wait_over(max_wait_min, arrivals_per_h=peak, service_min=s, servers=n) if n else (1.0 if peak else 0.0))
    return out


def beichuan_check(*, trucks_per_day: float = BEICHUAN_TRUCKS_PER_DAY, bays_kw: Sequence[float] = BEICHUAN_BAYS_KW,
                   energy_kwh: float = BEICHUAN_KWH_PER_TRUCK, profile: Sequence[float] = HOURLY_PROFILE,
                   max_wait_min: float = MAX_WAIT_MIN, p_target: float = P_WAIT_TARGET) -> dict:
    """Do Beichuan's 126 bays (18 × 1.44 MW + 108 × 600 kW) carry its ~700 trucks a day?

    The two bay types are pooled into one M/M/c queue of c = 126 servers with the mean
    session of the mix (each bay's session = energy / its power + overhead; the pooled
    rate is the sum of the bays' rates): an approximation, since a real queue sends the
    next truck to the fastest free bay. Returns the wait at the peak hour, the most trucks
    a day the bays carry within the waiting rule, and the 1.44 MW bays alone would need.
    """
    bays = np.asarray(bays_kw, dtype=float)
    sessions = np.array([session_minutes(charger_kw=kw, energy_kwh=energy_kwh) for kw in bays])
    rate_per_h = float((60.0 / sessions).sum())
    c = len(bays)
    mean_s = c * 60.0 / rate_per_h
    prof = np.asarray(profile, dtype=float)
    peak = trucks_per_day * float(prof.max())

    def ok(day: float) -> bool:
        return p_wait_over(max_wait_min, arrivals_per_h=day * float(prof.max()), service_min=mean_s,
                           servers=c) <= p_target

    lo, hi = 0.0, rate_per_h / float(prof.max())  # at hi the peak hour fills every bay
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    fast = session_minutes(charger_kw=1440.0, energy_kwh=energy_kwh)
    return {
        "trucks_per_day": float(trucks_per_day),
        "energy_kwh_per_truck": float(energy_kwh),
        "bays": c,
        "peak_per_hour": peak,
        "mean_session_min": mean_s,
        "capacity_trucks_per_hour": rate_per_h,
        "utilisation_at_peak": peak / rate_per_h,
        "p_wait_over_15_min": p_wait_over(max_wait_min, arrivals_per_h=peak, service_min=mean_s, servers=c),
        "max_trucks_per_day_within_rule": math.floor(lo),
        "fast_bays_needed_alone": chargers_needed(peak, fast, max_wait_min=max_wait_min, p_target=p_target),
        "source": "BC (published bays and daily throughput); hourly profile and overhead illustrative",
    }


def _setup(region, network, stations, flows, min_power_kw):
    """Flows, graph, site records by node, existing megawatt nodes and candidate nodes."""
    from planner.candidates import candidate_sites

    min_power_kw = non_negative(min_power_kw, "min_power_kw")
    fl = gravity_flows(region, network) if flows is None else flows
    G = network_graph(network)
    mw = [s for s in stations if float((s.get("charging") or {}).get("max_power_kw") or 0) >= min_power_kw]
    ex_nodes, _ = network.snap_many([s["lon"] for s in mw], [s["lat"] for s in mw]) if mw else (np.zeros(0, int), None)
    ex_nodes = [int(n) for n in ex_nodes]
    by_node: dict[int, dict] = {}

    def lonlat(n):
        return {"lon": round(float(network.node_lon[n]), 6), "lat": round(float(network.node_lat[n]), 6)}

    for s, n in zip(mw, ex_nodes):
        by_node.setdefault(n, {"id": s["id"], "name": s["name"], **lonlat(n), "node": n, "existing": True,
                               "data_status": s.get("data_status"),
                               "installed_bays": sum(int(b.get("count", 0)) for b in s["charging"].get("bays", [])),
                               "charger_kw": float(s["charging"].get("max_power_kw") or CHARGER_KW)})
    others = [s for s in stations if s not in mw]
    if others:  # the other Driver's Homes could be upgraded
        on, _ = network.snap_many([s["lon"] for s in others], [s["lat"] for s in others])
        for s, n in zip(others, on):
            by_node.setdefault(int(n), {"id": s["id"], "name": s["name"], **lonlat(int(n)), "node": int(n),
                                        "existing": False, "data_status": s.get("data_status"), "upgrade_of": s["id"]})
    for rec in candidate_sites(region, network, sources=("anchor", "corridor")).itertuples(index=False):
        by_node.setdefault(int(rec.node), {"id": rec.id, "name": rec.name, **lonlat(int(rec.node)),
                                           "node": int(rec.node), "existing": False, "corridor": rec.corridor})
    return fl, G, by_node, sorted(set(ex_nodes)), sorted(by_node)


def flow_share_by_k(region, network, stations: list[dict], *, ranges_km: Iterable[float], ks: Iterable[int],
                    flows: pd.DataFrame | None = None, min_power_kw: float = MIN_POWER_KW,
                    time_limit_s: float | None = None) -> pd.DataFrame:
    """Share of truck volume whose round trip is feasible, for each range and number of new
    sites (existing megawatt sites open), one FRLM instance per range.

    Returns a DataFrame ``range_km, k, flow_share, trucks_per_day, bound_share, optimal, sites``
    (``k = 0`` rows: the existing sites alone).
    """
    from planner.siting import FrlmInstance

    fl, G, by_node, existing, candidates = _setup(region, network, stations, flows, min_power_kw)
    total = float(fl["volume"].sum())
    rows = []
    for R in ranges_km:
        R = positive(R, "range_km")
        inst = FrlmInstance(G, fl[["origin", "destination", "volume"]], range_km=R, candidates=candidates,
                            existing=existing)
        for k in sorted({0, *(whole_number(k, "k", minimum=0) for k in ks)}):
            if len(existing) + k == 0:
                continue
            res = inst.solve(len(existing) + k, time_limit_s=time_limit_s)
            rows.append({"range_km": R, "k": k, "flow_share": res.covered_share, "trucks_per_day": res.covered_volume,
                         "bound_share": (res.upper_bound / total) if total else 1.0, "optimal": res.optimal,
                         "sites": [by_node[n]["id"] for n in res.selected]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the scenario
def charging_scenario(region, network, stations: list[dict], *, range_km: float, k: int,
                      existing_only: bool = False, flows: pd.DataFrame | None = None,
                      time_limit_s: float | None = None, min_power_kw: float = MIN_POWER_KW,
                      with_layers: bool = False) -> dict:
    """Where ``k`` new megawatt charging sites go so most truck volume can drive electric.

    Existing stations with a bay of at least ``min_power_kw`` stay open; candidates are
    the other Driver's Homes (upgrades), the service areas, parking areas, hubs and
    freight generators, and a point every 10 km along the corridors. Flows default to
    :func:`gravity_flows` (illustrative).

    Returns the ``charging --json`` document: ``range_km, k, sites, before, after,
    optimal, bound, capacity`` plus ``beichuan_check``, ``flows`` (how many, data status),
    ``infeasible_flows`` and ``solver`` details; with ``with_layers`` also ``layers``, the
    GeoJSON-ready map layers of :func:`charging_layers` (sites; flows covered or not).
    """
    from planner.siting import FrlmInstance, charging_stops

    R = positive(range_km, "range_km")
    k = 0 if existing_only else whole_number(k, "k", minimum=0)
    fl, G, by_node, existing, candidates = _setup(region, network, stations, flows, min_power_kw)
    inst = FrlmInstance(G, fl[["origin", "destination", "volume"]], range_km=R, candidates=candidates, existing=existing)
    p_before = len(existing)
    before = inst.solve(p_before) if p_before else None
    k_eff = min(k, inst.n_sites - p_before)
    after = inst.solve(p_before + k_eff, time_limit_s=time_limit_s) if p_before + k_eff > 0 else before
    total = float(fl["volume"].sum())

    def share(res) -> dict:
        covered = 0.0 if res is None else res.covered_volume
        return {"flow_share": covered / total if total else 1.0, "trucks_per_day": covered}

    chosen = [] if after is None else list(after.selected)
    stops = charging_stops(G, fl[["origin", "destination", "volume"]], chosen, range_km=R) if chosen else []
    sessions = {n: 0.0 for n in chosen}
    for vol, st in zip(fl["volume"].to_numpy(float), stops):
        for n, times in (st or {}).items():
            sessions[n] += vol * times
    sites = []
    capacity = []
    for n in chosen:
        info = dict(by_node[n])
        sites.append({key: info.get(key) for key in ("id", "name", "lon", "lat", "node", "existing", "corridor",
                                                       "upgrade_of", "data_status") if info.get(key) is not None
                      or key == "existing"})
        cap = site_capacity(sessions[n], charger_kw=info.get("charger_kw", CHARGER_KW),
                            installed=info.get("installed_bays"))
        capacity.append({"site": info["id"], **cap})
    result = {
        "range_km": R,
        "k": k_eff,
        "sites": sites,
        "before": share(before),
        "after": share(after),
        "optimal": True if after is None else bool(after.optimal),
        # proven upper bound on the "after" flow share (equal to it when optimal)
        "bound": share(before)["flow_share"] if after is None else (
            (after.upper_bound / total) if total else 1.0),
        "bound_trucks_per_day": share(before)["trucks_per_day"] if after is None else after.upper_bound,
        "capacity": capacity,
        "beichuan_check": beichuan_check(),
        "flows": {"count": int(len(fl)), "trucks_per_day": total,
                  "data_status": str(fl["data_status"].iloc[0]) if "data_status" in fl else "unknown",
                  "source": str(fl["source"].iloc[0]) if "source" in fl else None},
        "infeasible_flows": [] if after is None else [
            {**f, "origin": int(f["origin"]), "destination": int(f["destination"])} for f in after.infeasible_flows],
        "solver": None if after is None else {"method": after.method, "gap": after.gap, "runtime_s": after.runtime_s,
                                              "candidates": len(candidates)},
        "assumptions": {"battery_kwh": BATTERY_KWH, "soc_from": SOC_FROM, "soc_to": SOC_TO,
                        "charger_kw": CHARGER_KW, "overhead_min": OVERHEAD_MIN, "max_wait_min": MAX_WAIT_MIN,
                        "p_wait_target": P_WAIT_TARGET, "min_power_kw": min_power_kw,
                        "hourly_profile": "illustrative", "start_charge": "half (Kuby & Lim 2005)"},
        "data_status": DATA_STATUS,
    }
    if with_layers:
        result["layers"] = charging_layers(network, fl, chosen, range_km=R, site_info=sites, graph=G)
    return result


def charging_layers(network, flows: pd.DataFrame, sites: Iterable[int], *, range_km: float,
                    site_info: Iterable[dict] = (), graph: nx.Graph | None = None) -> dict:
    """GeoJSON-ready map layers: the charging sites, and each flow's route marked by
    whether its round trip is feasible with those sites.

    Parameters
    ----------
    network : planner.network.RoadNetwork
    flows : pandas.DataFrame
        ``origin, destination, volume`` (network nodes), e.g. ``gravity_flows(...)``.
    sites : iterable of int
        Open charging sites (network nodes), e.g. the ``node`` of each ``charging --json`` site.
    range_km : float
    site_info : iterable of dict
        Records with ``node`` (and ``id``, ``name``, ``existing``) to label the sites,
        e.g. ``charging_scenario(...)["sites"]``.

    Returns
    -------
    dict
        ``{"sites": FeatureCollection, "flows": FeatureCollection}`` in WGS-84. Flow
        features: ``origin, destination, volume, covered, max_gap_km, data_status``
        (LineString of the outbound route); site features: ``id, name, existing, node``.
    """
    from planner.siting import max_gap_check, shortest_paths

    G = network_graph(network) if graph is None else graph
    sites = [int(n) for n in sites]
    info = {int(s["node"]): s for s in site_info}
    fl = flows[["origin", "destination", "volume"]]
    gaps = max_gap_check(G, fl, sites, range_km=range_km)
    paths = shortest_paths(G, fl)
    status = flows["data_status"].astype(str).tolist() if "data_status" in flows else [DATA_STATUS] * len(flows)
    features = []
    for q, (path, gap) in enumerate(zip(paths, gaps.itertuples(index=False))):
        if path is None:
            continue
        coords = [[round(float(network.node_lon[n]), 6), round(float(network.node_lat[n]), 6)] for n in path]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"origin": int(fl["origin"].iloc[q]), "destination": int(fl["destination"].iloc[q]),
                           "volume": float(fl["volume"].iloc[q]), "covered": bool(gap.feasible),
                           "max_gap_km": float(gap.max_gap_km), "data_status": status[q]},
        })
    site_features = []
    for n in sites:
        s = info.get(n, {})
        site_features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(network.node_lon[n]), float(network.node_lat[n])]},
            "properties": {"id": s.get("id"), "name": s.get("name"), "existing": bool(s.get("existing", False)),
                           "node": n},
        })
    return {"sites": {"type": "FeatureCollection", "features": site_features},
            "flows": {"type": "FeatureCollection", "features": features}}
