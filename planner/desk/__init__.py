"""The grid service desk: drivers' requests on the "2142" clock, notices, reports.

* :func:`deadlines` — the four due times of a request on China's working-day calendar;
* :class:`Desk` — one region's desk over its registry file: grids, requests, notices, reports;
* :mod:`planner.desk.illustrative` — a seeded year of illustrative requests and notices.

See docs/desk.md for the rules and their sources.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

from planner.desk.calendar import REGION_TZ, Schedule, WorkCalendar, deadlines

__all__ = ["REGION_TZ", "Desk", "Schedule", "WorkCalendar", "deadlines", "default_calendar", "read_schedule"]

_default_lock = threading.Lock()
_default_cache: dict = {}


def _schedules_in(path: Path) -> dict:
    """Schedules stored in a registry file, read-only (an absent file or table means none)."""
    if not path.is_file():
        return {}
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return {}
    try:
        rows = con.execute("SELECT year, schedule FROM desk_calendar").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    out = {}
    for year, text in rows:
        s = json.loads(text)
        out[int(year)] = Schedule(year, s["holidays"], s["workdays"], source=s.get("source", ""))
    return out


def default_calendar() -> WorkCalendar:
    """The package's calendar plus the schedules loaded into the default registry (``YIZHAN_DB``)."""
    from planner import settings

    path = settings.db_path()
    try:
        wal = Path(str(path) + "-wal")
        # writes land in the WAL first: its mtime changes when a schedule is loaded
        stamp = (str(path), path.stat().st_mtime_ns, wal.stat().st_mtime_ns if wal.exists() else 0)
    except OSError:
        stamp = (str(path), None, None)
    with _default_lock:
        if _default_cache.get("stamp") != stamp:
            _default_cache["stamp"] = stamp
            _default_cache["calendar"] = WorkCalendar(_schedules_in(path) if stamp[1] is not None else {})
        return _default_cache["calendar"]


def read_schedule(path: str | Path, year: int | None = None) -> Schedule:
    """A year's official schedule from CSV (``date,type`` with type holiday|workday) or JSON.

    JSON: ``{"year": 2027, "holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...],
    "source": "..."}``. CSV: a header ``date,type`` (``type`` is ``holiday`` or ``workday``;
    ``休``/``班`` also accepted) and optionally ``source`` on any row.
    """
    from planner.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"schedule file {path} does not exist", fields={"path": "file not found"})
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path} is not valid JSON: {exc}", fields={"path": "invalid JSON"}) from None
        if not isinstance(data, dict) or "holidays" not in data:
            raise InputError(f"{path}: expected {{\"year\", \"holidays\": [...], \"workdays\": [...]}}",
                             fields={"path": "missing holidays"})
        y = int(data.get("year") or year or 0)
        if not y:
            raise InputError(f"{path}: give the year", fields={"year": "required"})
        return Schedule(y, data.get("holidays", []), data.get("workdays", []), source=str(data.get("source", path.name)))
    import csv

    holidays, workdays, source = [], [], path.name
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"date", "type"} <= set(reader.fieldnames):
            raise InputError(f"{path}: the CSV needs columns date,type (type holiday or workday); "
                             f"found {reader.fieldnames}", fields={"path": "columns date,type"})
        for i, row in enumerate(reader, start=2):
            kind = (row.get("type") or "").strip().lower()
            if kind in ("holiday", "休", "off"):
                holidays.append(row["date"])
            elif kind in ("workday", "班", "work"):
                workdays.append(row["date"])
            else:
                raise InputError(f"{path} line {i}: type must be holiday or workday, got {row.get('type')!r}",
                                 fields={f"line {i}": "type holiday|workday"})
            if row.get("source"):
                source = row["source"]
    dates = holidays + workdays
    years = {str(d).strip()[:4] for d in dates}
    y = year or (int(years.pop()) if len(years) == 1 else None)
    if y is None:
        raise InputError(f"{path}: dates span years {sorted(years)}; one schedule per year", fields={"year": "one year"})
    return Schedule(y, holidays, workdays, source=source)


def _num(value):
    """Query-string numbers arrive as text; anything unparsable goes on to check_lonlat's message."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


class Desk:
    """The grid service desk of one workspace (its registry file holds the desk's tables).

    Parameters
    ----------
    workspace : planner.workspace.Workspace
    """

    def __init__(self, workspace):
        from planner.desk.store import DeskStore

        self.ws = workspace
        self.store = DeskStore(workspace.registry.path)
        self._lock = threading.Lock()
        self._cache: dict = {}

    def _cached(self, key, build):
        gen = self.store.generation()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        value = build()
        with self._lock:
            self._cache[key] = (gen, value)
        return value

    # ------------------------------------------------------------------ calendar
    def calendar(self) -> WorkCalendar:
        return self._cached("calendar", lambda: WorkCalendar(self.store.schedules()))

    def load_schedule(self, schedule: Schedule, *, actor: str) -> dict:
        self.store.save_schedule(schedule, actor=actor)
        return {"year": schedule.year, "holidays": len(schedule.holidays), "workdays": len(schedule.workdays)}

    def deadlines(self, received_at, *, closed_at=None) -> dict:
        return deadlines(received_at, closed_at=closed_at, calendar=self.calendar())

    # ------------------------------------------------------------------ grids
    def grids(self):
        from planner.desk.grids import ServiceGrids, default_service_grids

        def build():
            rows = self.store.load_grids()
            return ServiceGrids.from_rows(rows) if rows else ServiceGrids.from_gdf(default_service_grids(self.ws.region))

        return self._cached("grids", build)

    def import_grids(self, path, *, layer=None) -> dict:
        from planner.desk.grids import ServiceGrids, read_service_grids

        grids = ServiceGrids.from_gdf(read_service_grids(path, layer=layer))
        self.store.replace_grids(grids.to_rows())
        return {"grids": len(grids.records), "data_status": sorted({r["data_status"] for r in grids.records})}

    # ------------------------------------------------------------------ requests
    def locate(self, spec: dict) -> dict:
        """lon/lat (WGS-84) and the grid assignment for a location spec."""
        from planner.coords import check_coord_system, to_wgs84
        from planner.errors import InputError

        out: dict = {"station_id": None, "corridor": None, "corridor_km": None}
        if spec["type"] == "point":
            lon, lat = to_wgs84(spec["lon"], spec["lat"], check_coord_system(spec["coords"]))
        elif spec["type"] == "station":
            st = self.ws.registry.get(spec["station_id"])
            lon, lat = st["lon"], st["lat"]
            out["station_id"] = st["id"]
        else:
            from planner.projection import project_geometry, unproject_geometry, utm_crs_for

            cor = self.ws.region.corridors
            match = cor[cor["id"].astype(str) == spec["corridor"]]
            if match.empty:
                raise InputError(f"corridor: unknown corridor {spec['corridor']!r}; corridors: "
                                 f"{', '.join(cor['id'].astype(str))}", fields={"corridor": "未知路段 / unknown corridor"})
            line = match.geometry.iloc[0]
            crs = utm_crs_for(line.centroid.x, line.centroid.y)
            line_m = project_geometry(line, crs)
            if spec["km"] * 1000 > line_m.length + 1:
                raise InputError(f"km: corridor {spec['corridor']} is {line_m.length / 1000:.1f} km long; got {spec['km']}",
                                 fields={"km": "beyond the corridor's end / 超出路段长度"})
            p = unproject_geometry(line_m.interpolate(spec["km"] * 1000), crs)
            lon, lat = p.x, p.y
            out["corridor"], out["corridor_km"] = spec["corridor"], spec["km"]
        a = self.grids().assign(lon, lat)
        out.update(lon=round(float(lon), 6), lat=round(float(lat), 6), grid_id=a["grid_id"], unit=a["unit"],
                   assigned_by=a["assigned_by"], grid_distance_km=a["distance_km"])
        return out

    def prepare_request(self, payload: dict, *, anonymous: bool = False) -> dict:
        """A validated, located request record (not stored)."""
        from planner.desk.requests import location_spec, validate_new

        rec = validate_new(payload, anonymous=anonymous)
        spec = location_spec(payload)
        if rec["kind"] == "station_report":
            self.ws.registry.get(str(payload["station_id"]))  # NotFoundError for an unknown station
            rec["station_id"] = str(payload["station_id"])
        rec.update({k: v for k, v in self.locate(spec).items() if v is not None or k not in rec})
        rec.update(data_status="verified", source=f"desk ({rec['channel']})")
        return rec

    def create_request(self, payload: dict, *, actor: str, anonymous: bool = False) -> dict:
        """Validate, locate, assign to a grid and store a new request (state ``received``)."""
        return self.store.insert_requests([self.prepare_request(payload, anonymous=anonymous)], actor=actor)[0]

    def import_file(self, path, *, actor: str) -> dict:
        """Bulk import from a hotline export (CSV or Excel): every row checked, then all or nothing."""
        from planner.desk.requests import read_requests_file
        from planner.errors import InputError, YizhanError
        from planner.stations import Problems

        rows = read_requests_file(path)
        records, problems = [], Problems()
        for i, payload in rows:
            try:
                records.append(self.prepare_request(payload))
            except InputError as exc:
                if exc.fields:
                    problems.extend(f"row {i}", exc)
                else:
                    problems.add(f"row {i}", exc.message)
            except YizhanError as exc:
                problems.add(f"row {i}", exc.message)
        if problems:
            raise problems.summary(f"{path}", done="imported")
        stored = self.store.insert_requests(records, actor=actor, action="import")
        return {"imported": len(stored), "first": stored[0]["receipt"] if stored else None,
                "nearest_assigned": sum(1 for r in stored if r["assigned_by"] == "nearest")}

    def import_records(self, records: list[dict], *, actor: str) -> list[dict]:
        """Insert already-complete records (illustrative seed, bulk import) in one transaction."""
        return self.store.insert_requests(records, actor=actor, action="import")

    def get(self, request_id) -> dict:
        return self.store.get_request(request_id)

    def update(self, request_id, changes: dict, *, expected_version: int, actor: str, now=None) -> dict:
        from planner.desk.requests import check_transition

        now = now or dt.datetime.now(REGION_TZ)
        record = self.store.get_request(request_id)
        values, new_state = check_transition(record, changes, now=now)
        return self.store.update_request(
            record["id"], values, expected_version=expected_version, actor=actor,
            action="transition" if new_state else "update", from_state=record["state"] if new_state else None,
            to_state=new_state, note=changes.get("note"))

    def queue(self, *, now=None, include_done: bool = False, lang: str = "zh") -> list[dict]:
        """Open requests with their clocks, most urgent first (overdue, then least time left)."""
        from planner.desk.requests import STATES, staff_view

        now = now or dt.datetime.now(REGION_TZ)
        states = None if include_done else list(STATES[:-1])
        cal = self.calendar()
        items = [staff_view(r, now=now, calendar=cal, lang=lang) for r in self.store.list_requests(states=states)]
        far = float("inf")
        items.sort(key=lambda r: (r["clock"]["urgency_s"] if r["clock"]["urgency_s"] is not None else far, r["id"]))
        return items

    # ------------------------------------------------------------------ notices
    def create_notice(self, payload: dict, *, actor: str, now=None) -> dict:
        from planner.desk.notices import validate_notice

        n = validate_notice(payload, grids=self.grids(), corridors=self.ws.region.corridors, actor=actor, now=now)
        nid = self.store.insert_notices([n])[0]
        return next(x for x in self.store.notices() if x["id"] == nid)

    def notices_at(self, lon, lat, *, now=None, device: str | None = None) -> list[dict]:
        from planner.coords import check_lonlat
        from planner.desk.notices import in_force

        lon, lat = check_lonlat(_num(lon), _num(lat))
        now = now or dt.datetime.now(REGION_TZ)
        active = self.store.notices(active_at=now.isoformat(timespec="seconds"))
        found = in_force(active, lon, lat, now=now)
        if device and found:
            self.store.record_reach([n["id"] for n in found], device)
        return found

    def notices(self) -> list[dict]:
        return self.store.notices()

    # ------------------------------------------------------------------ reports
    def report(self, period: str, date, *, now=None) -> dict:
        from planner.desk.reports import build_report

        return build_report(self, period, date, now=now)
