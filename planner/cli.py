"""Command line: ``python -m planner COMMAND [options]``.

Every command has ``--help``; ``--json`` prints one JSON document on stdout; bad input
exits with status 2 and a message on stderr that says what was wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import unicodedata
from pathlib import Path

from planner import settings
from planner.errors import InputError, YizhanError
from planner.provenance import label, text_line

EXIT_INPUT = 2


def _dump(obj) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (dt.date, dt.datetime, dt.time)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _workspace(args, **kw):
    from planner.workspace import Workspace

    return Workspace(region=args.region, db_path=args.db, network_path=getattr(args, "network", None),
                     demand_path=getattr(args, "demand", None), grid_path=getattr(args, "grid", None), **kw)


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    return "\n".join([line(columns)] + [line(row) for row in cells])


# ---------------------------------------------------------------- commands
def cmd_init_db(args) -> int:
    ws = _workspace(args)
    new = not ws.db_path.exists()
    n = len(ws.stations(include_retired=True))
    print(f"registry {ws.db_path}: {n} stations" + (" (new)" if new else ""))
    if args.illustrative_desk and new:
        from planner.desk import Desk, illustrative

        doc = illustrative.seed(Desk(ws))
        print(f"grid desk: {doc['requests']} requests and {doc['notices']} notices, all ILLUSTRATIVE "
              "(replace with `python -m planner desk import FILE`)")
    return 0


def cmd_stations(args) -> int:
    ws = _workspace(args)
    stations = ws.stations(include_retired=args.include_retired)
    if args.county:
        stations = [s for s in stations if args.county in (s.get("county"), s.get("county_name"))]
    if args.amenity:
        from planner.stations import AMENITIES

        unknown = [a for a in args.amenity if a not in AMENITIES]
        if unknown:
            raise InputError(f"unknown amenity {unknown[0]!r}; valid: {', '.join(AMENITIES)}")
        stations = [s for s in stations if all(s["amenities"].get(a) for a in args.amenity)]
    if args.json:
        _dump(stations)
        return 0
    rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "county": s.get("county_name", s.get("county")),
            "kind": s["kind"],
            "charging_kw": round(s["charging"].get("total_kw", 0)),
            "status": s["data_status"],
        }
        for s in stations
    ]
    print(_table(rows, ["id", "name", "county", "kind", "charging_kw", "status"]))
    return 0


def cmd_nearest(args) -> int:
    ws = _workspace(args)
    open_at = ws.now().time() if args.open_now else None  # the region's clock, not the machine's
    result = ws.nearest(
        args.lon, args.lat, k=args.k, amenities=args.amenity, min_power_kw=args.min_power_kw,
        coords=args.coords, open_at=open_at, vehicle=args.vehicle,
    )
    if args.json:
        _dump(result)
        return 0
    o = result["origin"]
    print(f"from ({o['lon']:.5f}, {o['lat']:.5f}), {o['snapped_km']:.2f} km to the road network")
    print(_table(result["results"], ["id", "name", "road_km", "drive_min", "straight_km"]))
    return 0


def cmd_coverage(args) -> int:
    ws = _workspace(args)
    result = ws.coverage(
        radius_km=args.radius_km, amenities=args.amenity, min_power_kw=args.min_power_kw,
        max_gap_km=args.max_gap_km,
    )
    if args.out:
        from planner.coverage import export_coverage

        export_coverage(ws.network, ws.index(), result, args.out, study_area=ws.region)
    if args.json:
        _dump(result)
        return 0
    print(
        f"radius {result['radius_km']} km: {result['covered_km']:.1f} of {result['corridor_km']:.1f} corridor km "
        f"covered ({100 * result['covered_share']:.1f}%)"
    )
    if result["gaps"]:
        print(_table(result["gaps"], ["corridor", "name_zh", "from_km", "to_km", "length_km"]))
    print(text_line(result["data_status"]))
    return 0


def cmd_access(args) -> int:
    ws = _workspace(args)
    gdf = ws.grid_access(by=args.by, amenities=args.amenity, min_power_kw=args.min_power_kw)
    status = ws.data_status(layers=("grid" if args.by == "grid" else "counties", "demand", "corridors"))
    if args.out:
        from planner.io import write_layers

        write_layers({f"access_{args.by}": gdf}, args.out, provenance=label(status))
    table = gdf.drop(columns="geometry")
    table["inputs_data_status"] = status
    if args.json:
        _dump(json.loads(table.to_json(orient="records", force_ascii=False)))
        return 0
    key = ["code", "name_zh"] if args.by == "county" else ["cell_id", "county"]
    shown = table[key + ["demand_weight", "mean_drive_min", "p90_drive_min", "share_within_30_min",
                         "share_within_60_min", "stations"]].round(2)
    if args.by == "grid":  # worst-served cells first: where a grid manager looks
        shown = shown[shown["demand_weight"] > 0].sort_values("mean_drive_min", ascending=False)
    print(_table(shown.to_dict("records"), list(shown.columns)))
    print(text_line(status))
    return 0


def cmd_suggest(args) -> int:
    ws = _workspace(args)
    options = {"amenities": tuple(args.amenity), "min_power_kw": args.min_power_kw, "cost": args.cost}
    if args.time_limit_s is not None:
        options["time_limit_s"] = args.time_limit_s
    if args.max_gap_km is not None:
        options["max_gap_km"] = args.max_gap_km
    result = ws.suggest(method=args.method, k=args.k, radius_km=args.radius_km, **options)
    for out in args.out or ():
        from planner.scenario import export_scenario

        export_scenario(result, out)
    if args.report:
        from planner.report import write_report

        write_report(result, args.report, workspace=ws)
    if args.json:
        _dump(result)
        return 0
    print(f"{result['method']}: {len(result['sites'])} new sites")
    print(_table(result["sites"], ["lon", "lat", "corridor", "source"]))
    keys = ["mean_drive_min", "p90_drive_min", "share_within_30_min", "share_within_60_min", "covered_km",
            "uncovered_km", "largest_gap_km"]
    print(_table([{"metric": k, "before": result["before"].get(k), "after": result["after"].get(k)} for k in keys],
                 ["metric", "before", "after"]))
    print(text_line(result["data_status"]))
    return 0


# -- charging (electric heavy trucks: FRLM sites, chargers per site) ------------------------
def cmd_charging(args) -> int:
    from planner.charging import charging_scenario, read_od_csv

    ws = _workspace(args)
    flows = read_od_csv(args.od, ws.network, coords=args.coords) if args.od else None
    result = charging_scenario(ws.region, ws.network, ws.stations(), range_km=args.range_km, k=args.k,
                               existing_only=args.existing_only, flows=flows, time_limit_s=args.time_limit_s)
    if args.json:
        _dump(result)
        return 0
    b, a = result["before"], result["after"]
    print(f"range {result['range_km']:g} km, {result['k']} new site(s); flows: {result['flows']['data_status']}")
    print(f"round trips feasible: {100 * b['flow_share']:.1f}% ({b['trucks_per_day']:.0f} trucks/day) before, "
          f"{100 * a['flow_share']:.1f}% ({a['trucks_per_day']:.0f}) after; optimal: {result['optimal']}")
    print(_table([{**s, "existing": "yes" if s["existing"] else "new"} for s in result["sites"]],
                 ["id", "name", "existing", "lon", "lat"]))
    print(_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items() if k != "wait_distribution"}
                  for c in result["capacity"]],
                 ["site", "trucks_per_day", "peak_per_hour", "chargers", "p_wait_over_15_min"]))
    bc = result["beichuan_check"]
    print(f"Beichuan: {bc['bays']} bays, {bc['trucks_per_day']:.0f} trucks/day, P(wait > 15 min) at the peak "
          f"{bc['p_wait_over_15_min']:.2g}; up to {bc['max_trucks_per_day_within_rule']} trucks/day within the rule")
    return 0


def _charging_parser(add) -> None:
    from planner.charging import MIN_POWER_KW

    sp = add("charging", cmd_charging,
             "electric heavy trucks: where k new megawatt charging sites let the most truck round trips "
             f"drive (FRLM; existing sites with >= {MIN_POWER_KW:g} kW bays stay open), and chargers per site")
    sp.add_argument("--range-km", type=float, required=True, help="truck range on a full charge, km")
    sp.add_argument("--k", type=int, default=1, help="number of new sites (default: %(default)s)")
    sp.add_argument("--existing-only", action="store_true", help="only the existing megawatt sites (k = 0)")
    sp.add_argument("--od", help="real O-D flows: CSV origin_lon,origin_lat,destination_lon,destination_lat,volume "
                                 "(default: the illustrative gravity flows)")
    sp.add_argument("--coords", choices=("wgs84", "gcj02"), default="wgs84", help="coordinates in --od")
    sp.add_argument("--time-limit-s", type=float, default=None, help="solver time limit")
    sp.add_argument("--json", action="store_true")
# -- end charging ------------------------------------------------------------------------------


def cmd_import_osm(args) -> int:
    import logging
    import time

    import numpy as np

    from planner.network import RoadNetwork

    logger = logging.getLogger("planner.network")
    # progress of long imports on stderr (planner.log's handler) unless --quiet
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    t0 = time.perf_counter()
    net = RoadNetwork.from_osm(args.file, retain_all=args.retain_all, cut_ways=args.cut_ways)
    read_s = time.perf_counter() - t0
    name = Path(args.file).name
    for suffix in (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    out = Path(args.out) if args.out else Path(args.file).with_name(f"{name}.network.gpkg")
    logger.info("writing %s (%s nodes, %s edges)", out, f"{net.n_nodes:,}", f"{net.n_edges:,}")
    net.save(out)
    rules = net.edge_rules or {}
    summary = {
        "file": str(args.file),
        "out": str(out),
        "arrays": str(out.with_suffix(".npz")) if out.suffix.lower() == ".gpkg" else str(out),
        "nodes": int(net.n_nodes),
        "edges": int(net.n_edges),
        "edges_with_limits": int(np.logical_or.reduce(
            [~np.isnan(rules[k]) for k in ("maxweight_t", "maxheight_m", "maxlength_m", "maxaxleload_t")]
        ).sum()) if rules else 0,
        "crs": net.crs,  # measured in the extract's own UTM zone; lengths geodesic
        "read_s": round(read_s, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    if args.json:
        _dump(summary)
    else:
        print(f"{summary['nodes']} nodes, {summary['edges']} directed edges, measured in {net.crs} → {out} "
              f"(read in {summary['read_s']} s, {summary['total_s']} s in all)")
        print(f"use it with: python -m planner nearest --network {out} --lon … --lat … [--vehicle 49t,4.2m,18m]")
    return 0


def cmd_fetch_osm(args) -> int:
    """Download a drivable network from OpenStreetMap (needs internet; the user asks for it)."""
    import osmnx as ox

    from planner.network import RoadNetwork

    G = ox.graph_from_place(args.place, network_type="drive", simplify=True)
    net = RoadNetwork.from_graph(G)
    out = Path(args.out)
    net.save(out)
    print(f"{net.n_nodes} nodes from OpenStreetMap for {args.place!r} → {out}")
    return 0


def cmd_export(args) -> int:
    ws = _workspace(args)
    out = Path(args.out)
    what = args.what
    from planner.io import export_stations, write_layers

    if what == "stations":
        export_stations(ws.stations(include_retired=args.include_retired), out)
    elif what == "network":
        if out.suffix.lower() != ".gpkg":
            raise InputError(f"the network exports to a GeoPackage (.gpkg), got {out.name!r}")
        ws.network.save(out)
    else:
        layers = {
            "counties": ws.region.counties,
            "corridors": ws.region.corridors,
            "anchors": ws.region.anchors,
            "grid": ws.region.grid,
            "demand": ws.region.demand,
        }
        if what != "all":
            layers = {what: layers[what]}
        write_layers(layers, out)
    print(f"wrote {what} → {out}")
    return 0


def cmd_import(args) -> int:
    from planner.io import read_station_changes

    ws = _workspace(args)
    items = read_station_changes(args.file, coords=args.coords)
    summary = ws.registry.import_stations([record for _label, record in items], actor=args.actor, partial=True,
                                          labels=[label for label, _record in items])
    print(f"{args.file} → {ws.db_path}: {summary['added']} added, {summary['updated']} updated (only the columns "
          f"the file has), {summary['unchanged']} unchanged")
    return 0


def cmd_import_gps(args) -> int:
    from planner.demand import import_gps_stops
    from planner.io import write_layers

    from planner.region import region_outline

    gdf = import_gps_stops(args.file, coords=args.coords, min_stop_min=args.min_stop_min,
                           region=region_outline(args.region))
    write_layers({"demand": gdf}, args.out)
    print(f"{int(gdf['weight'].sum())} stop events in {len(gdf)} cells → {args.out}")
    return 0


def _read_password(args) -> str:
    """A new password from standard input (``--password-stdin``) or asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass(f"password for {args.name}: ")
    if password != getpass.getpass("again: "):
        raise InputError("the two passwords differ; nothing was saved")
    return password


def cmd_users(args) -> int:
    ws = _workspace(args)
    registry = ws.registry
    action = args.users_command
    if action == "add":
        registry.add_user(args.name, role=args.role, password=_read_password(args))
        print(f"user {args.name} ({args.role}) saved in {ws.db_path}")
    elif action == "passwd":
        registry.set_password(args.name, _read_password(args))
        print(f"password of {args.name} changed; their sessions and tokens were ended")
    elif action == "role":
        registry.set_role(args.name, args.role)
        print(f"{args.name} is now {args.role}; their sessions were ended")
    elif action == "delete":
        registry.delete_user(args.name)
        print(f"user {args.name} deleted with their sessions and tokens (the audit trail keeps the name)")
    elif action == "list":
        rows = registry.list_users()
        if args.json:
            _dump(rows)
        else:
            print(_table(rows, ["name", "role", "created_at"]))
    elif action == "token":
        print(registry.issue_token(args.name, days=args.days))
        print(f"valid for {args.days:g} days; revoke with `python -m planner users revoke {args.name}`",
              file=sys.stderr)
    elif action == "rotate":
        print(registry.rotate_token(args.name, days=args.days))
        print(f"every earlier token of {args.name} was revoked; this one is valid for {args.days:g} days",
              file=sys.stderr)
    elif action == "revoke":
        n = registry.revoke_tokens(args.name)
        print(f"revoked {n} token(s) of {args.name}")
    elif action == "tokens":
        rows = registry.list_tokens(args.name)
        if args.json:
            _dump(rows)
        else:
            print(_table(rows, ["user", "id", "created_at", "expires_at", "expired"]))
    else:  # pragma: no cover - argparse only offers the actions above
        raise InputError(f"unknown users action {action!r}; valid: {', '.join(USERS_ACTIONS)}")
    return 0


USERS_ACTIONS = ("add", "passwd", "role", "delete", "list", "token", "rotate", "revoke", "tokens")


# ------------------------------------------------------------------ parser
def cmd_desk(args) -> int:
    """The grid service desk: deadlines, bulk import, calendar schedules, grids, illustrative data."""
    from planner.desk import deadlines, default_calendar, read_schedule

    action = args.desk_command
    if action == "deadlines":
        d = deadlines(args.received, closed_at=args.closed, calendar=default_calendar() if args.db is None else _desk(args).calendar())
        doc = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in d.items()}
        if args.json:
            _dump(doc)
        else:
            for k, v in doc.items():
                print(f"{k:13} {v}")
        return 0
    desk = _desk(args)
    if action == "import":
        doc = desk.import_file(args.file, actor=args.actor)
    elif action == "load-calendar":
        doc = desk.load_schedule(read_schedule(args.file, args.year), actor=args.actor)
    elif action == "import-grids":
        doc = desk.import_grids(args.file, layer=args.layer)
    elif action == "seed-illustrative":
        from planner.desk import illustrative

        doc = illustrative.seed(desk, seed=args.seed)
    elif action == "report":
        from planner.desk.reports import to_csv

        report = desk.report(args.period, args.date)
        if not args.json:
            sys.stdout.write(to_csv(report).replace("\r\n", "\n"))
            return 0
        doc = report
    else:  # queue
        doc = [{k: r[k] for k in ("id", "receipt", "state", "category", "grid_id")} | {"next": r["clock"]["next"],
               "seconds_left": r["clock"]["urgency_s"], "overdue": r["clock"]["overdue"]} for r in desk.queue()]
        if not args.json:
            print(_table(doc, ["receipt", "state", "category", "grid_id", "next", "seconds_left", "overdue"]) if doc
                  else "no open requests")
            return 0
    _dump(doc)
    return 0


def _desk(args):
    from planner.desk import Desk

    return Desk(_workspace(args))


def build_parser() -> argparse.ArgumentParser:
    from planner.coords import COORD_SYSTEMS

    p = argparse.ArgumentParser(
        prog="python -m planner",
        description="Yizhan (驿站): plan and query the network of Driver's Homes (司机之家).",
    )
    p.add_argument("--region", default=settings.DEFAULT_REGION, help="embedded region (default: %(default)s)")
    p.add_argument("--db", default=None, help="registry file (default: $YIZHAN_DB or %s)" % settings.DEFAULT_DB_PATH)
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0,
                      help="log progress to stderr (-v: INFO, -vv: DEBUG; default: $YIZHAN_LOG_LEVEL or WARNING)")
    loud.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    def filters(sp):
        sp.add_argument("--amenity", action="append", default=[], metavar="A",
                        help="only stations with this amenity (repeatable), e.g. shower, laundry, secure_parking")
        sp.add_argument("--min-power-kw", type=float, default=None, help="only stations with a charger of at least this power")

    def inputs(sp):
        sp.add_argument("--demand", default=None, metavar="FILE",
                        help="real demand points (.gpkg/.geojson/.csv, e.g. from import-gps) instead of the embedded ones")
        sp.add_argument("--grid", default=None, metavar="FILE",
                        help="real service-grid polygons (.gpkg/.geojson) instead of the embedded cells")

    def network(sp):
        sp.add_argument("--network", default=None, help="a network saved by import-osm, .gpkg or .npz (default: the region's corridors)")

    sp = add("init-db", cmd_init_db, "create and seed the registry if it does not exist")
    sp.add_argument("--illustrative-desk", action="store_true",
                    help="when the registry is new, also seed the grid desk's illustrative year (the demo `make run` serves)")

    sp = add("stations", cmd_stations, "list the stations in the registry")
    sp.add_argument("--county", help="county code or name")
    sp.add_argument("--amenity", action="append", default=[], metavar="A")
    sp.add_argument("--include-retired", action="store_true")
    sp.add_argument("--json", action="store_true")

    sp = add("nearest", cmd_nearest, "nearest stations by road from a point")
    sp.add_argument("--lon", type=float, required=True)
    sp.add_argument("--lat", type=float, required=True)
    sp.add_argument("--k", type=int, default=3, help="number of stations (default: %(default)s)")
    sp.add_argument("--coords", choices=COORD_SYSTEMS, default="wgs84",
                    help="coordinate system of --lon/--lat (gcj02 as Amap shows it; default: %(default)s)")
    sp.add_argument("--open-now", action="store_true", help="only stations open at this moment")
    sp.add_argument("--vehicle", default=None, metavar="W,H,L",
                    help="the vehicle: weight, height, length[, axle load], e.g. 49t,4.2m,18m, or 'van'; roads it may "
                         "not use are skipped (default: 49-t six-axle tractor-semitrailer, 4.0 m, 18.1 m, 11.5 t axle)")
    filters(sp)
    network(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("coverage", cmd_coverage, "coverage and gaps along the freight corridors")
    inputs(sp)
    sp.add_argument("--radius-km", type=float, default=settings.DEFAULT_RADIUS_KM,
                    help="a corridor point is covered when a station is within this road distance (default: %(default)s km)")
    sp.add_argument("--max-gap-km", type=float, default=settings.MAX_GAP_KM,
                    help="largest allowed spacing between stations along a corridor (default: %(default)s km; "
                         "our reading of the 2025 national action, see README)")
    sp.add_argument("--out", help="also write samples and gaps to a .gpkg/.geojson/.csv")
    filters(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("access", cmd_access, "demand-weighted drive time to the nearest station per grid cell or county")
    inputs(sp)
    sp.add_argument("--by", choices=("grid", "county"), default="grid")
    sp.add_argument("--out", help="write the table with geometry to a .gpkg/.geojson/.csv")
    filters(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("suggest", cmd_suggest, "suggest new station sites (existing stations stay open)")
    inputs(sp)
    sp.add_argument("--method", required=True, choices=("kmeans", "p-median", "mclp", "lscp"))
    sp.add_argument("--k", type=int, default=None, help="number of new sites (optional for lscp)")
    sp.add_argument("--radius-km", type=float, default=settings.DEFAULT_RADIUS_KM,
                    help="coverage radius for mclp/lscp and the metrics (default: %(default)s km)")
    sp.add_argument("--cost", choices=("road_km", "drive_min"), default="road_km",
                    help="what p-median minimises, demand-weighted (default: %(default)s)")
    sp.add_argument("--max-gap-km", type=float, default=None,
                    help="lscp: also keep every spacing along the corridors under this many km")
    sp.add_argument("--time-limit-s", type=float, default=None, help="solver time limit")
    filters(sp)
    sp.add_argument("--out", action="append", help="export sites and metrics (.gpkg, .geojson, .csv; repeatable)")
    sp.add_argument("--report", help="write a self-contained HTML report")
    sp.add_argument("--json", action="store_true")

    _charging_parser(add)

    sp = add("import-osm", cmd_import_osm,
             "build a road network from an OpenStreetMap .osm.pbf/.osm/.osm.bz2/.osm.gz extract (offline, streaming)")
    sp.add_argument("file")
    sp.add_argument("--out", help="GeoPackage to write, with a fast-loading .npz beside it (default: NAME.network.gpkg); "
                                  "or a .npz alone")
    sp.add_argument("--retain-all", action="store_true", help="keep every connected piece (default: the largest only)")
    sp.add_argument("--cut-ways", action="store_true",
                    help="the extract was cut by a box without completing its ways (e.g. BBBike): keep the parts of "
                         "ways inside it (default: refuse a way whose nodes are missing)")
    sp.add_argument("--quiet", action="store_true", help="no progress messages")
    sp.add_argument("--json", action="store_true")

    sp = add("fetch-osm", cmd_fetch_osm, "download a drivable network from OpenStreetMap (needs internet)")
    sp.add_argument("--place", required=True, help='e.g. "涪城区, 绵阳市, 四川省, 中国"')
    sp.add_argument("--out", required=True, help="GeoPackage to write")

    sp = add("export", cmd_export, "export stations or layers to GeoPackage, GeoJSON or CSV")
    sp.add_argument("what", nargs="?", default="stations",
                    choices=("stations", "network", "counties", "corridors", "anchors", "grid", "demand", "all"))
    sp.add_argument("--out", required=True, help="file to write; the format follows the suffix")
    sp.add_argument("--include-retired", action="store_true")

    sp = add("import", cmd_import, "import stations from GeoJSON, CSV or GeoPackage (all or nothing): existing "
             "stations change only in the columns the file has; new ones need every required column")
    sp.add_argument("file")
    sp.add_argument("--coords", choices=COORD_SYSTEMS, default="wgs84")
    sp.add_argument("--actor", default="cli-import", help="name recorded in the audit trail")

    sp = add("import-gps", cmd_import_gps, "aggregate truck GPS stop events (CSV: vehicle,lon,lat,start,end) into demand")
    sp.add_argument("file")
    sp.add_argument("--coords", choices=("wgs84", "gcj02"), default="wgs84")
    sp.add_argument("--min-stop-min", type=float, default=settings.MIN_BREAK_MIN)
    sp.add_argument("--out", required=True, help="demand layer to write (.gpkg/.geojson/.csv)")

    from planner.registry import policy as rules

    sp = add("users", cmd_users, "staff accounts and API tokens")
    usub = sp.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    password_rule = (f"at least {rules.MIN_PASSWORD_LENGTH} characters, not only spaces, not a common password, "
                     "not the user name")
    ua = usub.add_parser("add", help="add a user", description=f"Add a user. Password: {password_rule}.")
    ua.add_argument("name")
    ua.add_argument("--role", choices=("staff", "admin"), required=True)
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    up = usub.add_parser("passwd", help="set a new password (ends the user's sessions and tokens)",
                         description=f"Set a user's password. Password: {password_rule}.")
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ur = usub.add_parser("role", help="change a user's role (ends their sessions)")
    ur.add_argument("name")
    ur.add_argument("--role", choices=("staff", "admin"), required=True)
    ud = usub.add_parser("delete", help="delete a user with their sessions and tokens")
    ud.add_argument("name")
    ul = usub.add_parser("list", help="list users")
    ul.add_argument("--json", action="store_true")

    def days(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
        if not 0 < value <= rules.MAX_TOKEN_DAYS:
            raise argparse.ArgumentTypeError(f"days must be from 1 to {rules.MAX_TOKEN_DAYS}; got {text}")
        return value

    ut = usub.add_parser("token", help="print a new API bearer token for a user")
    ut.add_argument("name")
    ut.add_argument("--days", type=days, default=rules.TOKEN_DAYS, help="lifetime in days (default: %(default)s)")
    uo = usub.add_parser("rotate", help="revoke every token of a user and print a new one")
    uo.add_argument("name")
    uo.add_argument("--days", type=days, default=rules.TOKEN_DAYS, help="lifetime in days (default: %(default)s)")
    uv = usub.add_parser("revoke", help="revoke every token of a user")
    uv.add_argument("name")
    uk = usub.add_parser("tokens", help="list tokens (never the tokens themselves): user, id, created, expiry")
    uk.add_argument("name", nargs="?")
    uk.add_argument("--json", action="store_true")

    sp = add("desk", cmd_desk, "grid service desk: 2142 deadlines, request import, calendar, grids, reports")
    dsub = sp.add_subparsers(dest="desk_command", required=True, metavar="ACTION")
    d = dsub.add_parser("deadlines", help="the 2142 due times of a request (naive times are Asia/Shanghai)")
    d.add_argument("--received", required=True, help="ISO 8601, e.g. 2026-09-30T16:00")
    d.add_argument("--closed", default=None, help="ISO 8601 time the request was closed (adds follow_up_by)")
    d.add_argument("--json", action="store_true")
    d = dsub.add_parser("import", help="import requests from a CSV or Excel hotline export (all or nothing)")
    d.add_argument("file")
    d.add_argument("--actor", default="cli-import", help="name recorded in the audit trail")
    d = dsub.add_parser("load-calendar", help="load a year's official holiday schedule (CSV date,type or JSON)")
    d.add_argument("file")
    d.add_argument("--year", type=int, default=None)
    d.add_argument("--actor", default="cli")
    d = dsub.add_parser("import-grids", help="replace the service grids by polygons from a GeoPackage/GeoJSON")
    d.add_argument("file")
    d.add_argument("--layer", default=None)
    d = dsub.add_parser("seed-illustrative", help="(re)generate the illustrative year of requests and notices")
    d.add_argument("--seed", type=int, default=2025)
    d = dsub.add_parser("report", help="daily/weekly/monthly report as CSV (or --json)")
    d.add_argument("period", choices=("daily", "weekly", "monthly"))
    d.add_argument("--date", required=True, help="YYYY-MM-DD inside the period")
    d.add_argument("--json", action="store_true")
    d = dsub.add_parser("queue", help="open requests, most urgent first")
    d.add_argument("--json", action="store_true")
    return p


def _known_input_failures() -> tuple[type[BaseException], ...]:
    import csv
    import lzma
    import zlib
    from xml.etree.ElementTree import ParseError

    return (OSError, EOFError, RecursionError, UnicodeError, zlib.error, lzma.LZMAError, csv.Error, ParseError,
            json.JSONDecodeError)


#: Exceptions that mean "the input is unusable" when they escape a command (OSError covers
#: missing files, permissions, gzip.BadGzipFile and bz2's "Invalid data stream").
KNOWN_INPUT_FAILURES = _known_input_failures()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read (a JSON/XML file with thousands of levels?)"
    if isinstance(exc, UnicodeError):
        return f"the input is not valid UTF-8 text ({exc}); save it as UTF-8"
    if isinstance(exc, EOFError):
        return f"the input file ends too early (truncated or damaged): {exc}"
    text = str(exc) or type(exc).__name__
    if type(exc).__name__ == "BadGzipFile" or "gzip" in text.lower():
        return f"{text}: the file is not a gzip archive (.gz); check the file or give the plain .osm"
    return text


def main(argv: list[str] | None = None) -> int:
    import logging
    import time

    from planner import log as yizhan_log

    parser = build_parser()
    args = parser.parse_args(argv)
    yizhan_log.configure("ERROR" if args.quiet else ("DEBUG" if args.verbose > 1 else "INFO" if args.verbose else None))
    started = time.perf_counter()
    try:
        status = args.fn(args)
        logging.getLogger("planner.cli").info("%s done in %.2f s", args.command, time.perf_counter() - started)
        return status
    except YizhanError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for field, rule in exc.fields.items():
            print(f"  {field}: {rule}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # stdout closed early (piped into `head`): not an error. Point stdout at devnull so
        # the interpreter's final flush does not raise again (Python docs, "SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KNOWN_INPUT_FAILURES as exc:
        # A file or value the user gave that a library refused (not gzip, not UTF-8, nested
        # too deeply, unreadable, ...): a message and exit 2, never a traceback.
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return EXIT_INPUT
