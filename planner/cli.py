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

    return Workspace(region=args.region, db_path=args.db, network_path=getattr(args, "network", None), **kw)


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
    n = len(ws.stations(include_retired=True))
    print(f"registry {ws.db_path}: {n} stations")
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
    open_at = dt.datetime.now().time() if args.open_now else None
    result = ws.nearest(
        args.lon, args.lat, k=args.k, amenities=args.amenity, min_power_kw=args.min_power_kw,
        coords=args.coords, open_at=open_at,
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

        export_coverage(ws.network, ws.index(), result, args.out)
    if args.json:
        _dump(result)
        return 0
    print(
        f"radius {result['radius_km']} km: {result['covered_km']:.1f} of {result['corridor_km']:.1f} corridor km "
        f"covered ({100 * result['covered_share']:.1f}%)"
    )
    if result["gaps"]:
        print(_table(result["gaps"], ["corridor", "name_zh", "from_km", "to_km", "length_km"]))
    return 0


def cmd_access(args) -> int:
    ws = _workspace(args)
    gdf = ws.grid_access(by=args.by, amenities=args.amenity, min_power_kw=args.min_power_kw)
    if args.out:
        from planner.io import write_layers

        write_layers({f"access_{args.by}": gdf}, args.out)
    table = gdf.drop(columns="geometry")
    if args.json:
        _dump(json.loads(table.to_json(orient="records", force_ascii=False)))
        return 0
    key = ["code", "name_zh"] if args.by == "county" else ["cell_id", "county"]
    shown = table[key + ["demand_weight", "mean_drive_min", "p90_drive_min", "share_within_30_min",
                         "share_within_60_min", "stations"]].round(2)
    if args.by == "grid":  # worst-served cells first: where a grid manager looks
        shown = shown[shown["demand_weight"] > 0].sort_values("mean_drive_min", ascending=False)
    print(_table(shown.to_dict("records"), list(shown.columns)))
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
    from planner.network import RoadNetwork

    net = RoadNetwork.from_osm_xml(args.file)
    out = Path(args.out or Path(args.file).with_suffix(".network.gpkg"))
    net.save(out)
    summary = {"file": str(args.file), "out": str(out), "nodes": int(net.n_nodes), "edges": int(net.length_csr.nnz)}
    if args.json:
        _dump(summary)
    else:
        print(f"{summary['nodes']} nodes, {summary['edges']} directed edges → {out}")
        print(f"use it with: python -m planner nearest --network {out} --lon … --lat …")
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
    from planner.io import read_stations

    ws = _workspace(args)
    records = read_stations(args.file, coords=args.coords)
    ws.registry.import_stations(records, actor=args.actor)
    print(f"imported {len(records)} stations from {args.file} into {ws.db_path}")
    return 0


def cmd_import_gps(args) -> int:
    from planner.demand import import_gps_stops
    from planner.io import write_layers

    gdf = import_gps_stops(args.file, coords=args.coords, min_stop_min=args.min_stop_min)
    write_layers({"demand": gdf}, args.out)
    print(f"{int(gdf['weight'].sum())} stop events in {len(gdf)} cells → {args.out}")
    return 0


def cmd_users(args) -> int:
    ws = _workspace(args)
    if args.users_command == "add":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
            if password != getpass.getpass("again: "):
                raise InputError("the two passwords differ; nothing was saved")
        ws.registry.add_user(args.name, role=args.role, password=password)
        print(f"user {args.name} ({args.role}) saved in {ws.db_path}")
    else:
        print(ws.registry.issue_token(args.name))
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    from planner.coords import COORD_SYSTEMS

    p = argparse.ArgumentParser(
        prog="python -m planner",
        description="Yizhan (驿站): plan and query the network of Driver's Homes (司机之家).",
    )
    p.add_argument("--region", default=settings.DEFAULT_REGION, help="embedded region (default: %(default)s)")
    p.add_argument("--db", default=None, help="registry file (default: $YIZHAN_DB or %s)" % settings.DEFAULT_DB_PATH)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    def filters(sp):
        sp.add_argument("--amenity", action="append", default=[], metavar="A",
                        help="only stations with this amenity (repeatable), e.g. shower, laundry, secure_parking")
        sp.add_argument("--min-power-kw", type=float, default=None, help="only stations with a charger of at least this power")

    def network(sp):
        sp.add_argument("--network", default=None, help="a network saved by import-osm (default: the region's corridors)")

    add("init-db", cmd_init_db, "create and seed the registry if it does not exist")

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
    filters(sp)
    network(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("coverage", cmd_coverage, "coverage and gaps along the freight corridors")
    sp.add_argument("--radius-km", type=float, default=settings.DEFAULT_RADIUS_KM,
                    help="a corridor point is covered when a station is within this road distance (default: %(default)s km)")
    sp.add_argument("--max-gap-km", type=float, default=settings.MAX_GAP_KM,
                    help="largest allowed spacing between stations along a corridor (default: %(default)s km; "
                         "our reading of the 2025 national action, see README)")
    sp.add_argument("--out", help="also write samples and gaps to a .gpkg/.geojson/.csv")
    filters(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("access", cmd_access, "demand-weighted drive time to the nearest station per grid cell or county")
    sp.add_argument("--by", choices=("grid", "county"), default="grid")
    sp.add_argument("--out", help="write the table with geometry to a .gpkg/.geojson/.csv")
    filters(sp)
    sp.add_argument("--json", action="store_true")

    sp = add("suggest", cmd_suggest, "suggest new station sites (existing stations stay open)")
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

    sp = add("import-osm", cmd_import_osm, "build a road network from an OpenStreetMap .osm/.osm.bz2 file (offline)")
    sp.add_argument("file")
    sp.add_argument("--out", help="GeoPackage to write (default: FILE.network.gpkg)")
    sp.add_argument("--json", action="store_true")

    sp = add("fetch-osm", cmd_fetch_osm, "download a drivable network from OpenStreetMap (needs internet)")
    sp.add_argument("--place", required=True, help='e.g. "涪城区, 绵阳市, 四川省, 中国"')
    sp.add_argument("--out", required=True, help="GeoPackage to write")

    sp = add("export", cmd_export, "export stations or layers to GeoPackage, GeoJSON or CSV")
    sp.add_argument("what", nargs="?", default="stations",
                    choices=("stations", "network", "counties", "corridors", "anchors", "grid", "demand", "all"))
    sp.add_argument("--out", required=True, help="file to write; the format follows the suffix")
    sp.add_argument("--include-retired", action="store_true")

    sp = add("import", cmd_import, "import stations from GeoJSON, CSV or GeoPackage (all or nothing)")
    sp.add_argument("file")
    sp.add_argument("--coords", choices=COORD_SYSTEMS, default="wgs84")
    sp.add_argument("--actor", default="cli-import", help="name recorded in the audit trail")

    sp = add("import-gps", cmd_import_gps, "aggregate truck GPS stop events (CSV: vehicle,lon,lat,start,end) into demand")
    sp.add_argument("file")
    sp.add_argument("--coords", choices=("wgs84", "gcj02"), default="wgs84")
    sp.add_argument("--min-stop-min", type=float, default=settings.MIN_BREAK_MIN)
    sp.add_argument("--out", required=True, help="demand layer to write (.gpkg/.geojson/.csv)")

    sp = add("users", cmd_users, "staff accounts")
    usub = sp.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    ua = usub.add_parser("add", help="add or update a user")
    ua.add_argument("name")
    ua.add_argument("--role", choices=("staff", "admin"), required=True)
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ut = usub.add_parser("token", help="print a new API bearer token for a user")
    ut.add_argument("name")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except YizhanError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for field, rule in exc.fields.items():
            print(f"  {field}: {rule}", file=sys.stderr)
        return EXIT_INPUT
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # stdout closed early (piped into `head`): not an error. Point stdout at devnull so
        # the interpreter's final flush does not raise again (Python docs, "SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
