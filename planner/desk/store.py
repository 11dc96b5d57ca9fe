"""The desk's tables inside the station registry's SQLite file.

The desk keeps its own tables (all prefixed ``desk_``) in the same file as the station
registry (``YIZHAN_DB``), so one backup holds everything and every gunicorn worker sees the
same requests, notices, reach counts and rate-limit counters. Tables are created with
``CREATE TABLE IF NOT EXISTS`` on first use (idempotent; the registry's own schema is not
touched) and the file is kept private to its owner (mode 0600): it holds drivers' phones.

Like :mod:`planner.registry`: a fresh connection per operation, ``BEGIN IMMEDIATE`` for
writes, optimistic locking by ``version`` for request updates, and every state change
written to ``desk_transitions`` in the same transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from planner.errors import ConflictError, NotFoundError


_SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desk_requests (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    receipt             TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL,            -- request | station_report
    channel             TEXT NOT NULL,
    category            TEXT NOT NULL,
    description         TEXT NOT NULL,
    lon                 REAL,
    lat                 REAL,
    station_id          TEXT,
    corridor            TEXT,
    corridor_km         REAL,
    grid_id             TEXT,
    unit                TEXT,
    assigned_by         TEXT,                     -- contains | nearest
    grid_distance_km    REAL,
    contact_name        TEXT,                     -- private: staff only
    contact_phone       TEXT,                     -- private: staff only
    state               TEXT NOT NULL,
    received_at         TEXT NOT NULL,            -- ISO 8601, region time with offset
    transferred_at      TEXT,
    progress_at         TEXT,
    closed_at           TEXT,
    followed_up_at      TEXT,
    satisfaction        TEXT,                     -- satisfied | neutral | dissatisfied
    money_recovered_cny REAL,
    platform            TEXT,
    proposed_changes    TEXT,                     -- JSON, station reports
    resolution          TEXT,
    data_status         TEXT NOT NULL,
    source              TEXT NOT NULL,
    version             INTEGER NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS desk_requests_received ON desk_requests (received_at);
CREATE INDEX IF NOT EXISTS desk_requests_state ON desk_requests (state);
CREATE TABLE IF NOT EXISTS desk_transitions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    at         TEXT NOT NULL,                     -- ISO 8601, region time with offset
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,                     -- create | transition | update | import
    from_state TEXT,
    to_state   TEXT,
    note       TEXT,
    changes    TEXT NOT NULL                      -- JSON {field: {before, after}}
);
CREATE INDEX IF NOT EXISTS desk_transitions_request ON desk_transitions (request_id, seq);
CREATE TABLE IF NOT EXISTS desk_notices (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    target           TEXT NOT NULL,               -- JSON as given
    area_wkb         BLOB NOT NULL,               -- WGS-84 polygon
    valid_from       TEXT NOT NULL,
    valid_to         TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    reach_reported   INTEGER NOT NULL DEFAULT 0,  -- illustrative seed only
    data_status      TEXT NOT NULL,
    source           TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desk_reach (
    notice_id   INTEGER NOT NULL,
    device_hash TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    PRIMARY KEY (notice_id, device_hash)
);
CREATE TABLE IF NOT EXISTS desk_rate (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE TABLE IF NOT EXISTS desk_calendar (
    year      INTEGER PRIMARY KEY,
    schedule  TEXT NOT NULL,                      -- JSON {holidays, workdays, source}
    loaded_by TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desk_grids (
    grid_id     TEXT PRIMARY KEY,
    properties  TEXT NOT NULL,                    -- JSON: name, unit, contact, duty_phone, ...
    area_wkb    BLOB NOT NULL,
    data_status TEXT NOT NULL,
    source      TEXT NOT NULL
);
"""

REQUEST_COLUMNS = (
    "id", "receipt", "kind", "channel", "category", "description", "lon", "lat", "station_id", "corridor",
    "corridor_km", "grid_id", "unit", "assigned_by", "grid_distance_km", "contact_name", "contact_phone", "state",
    "received_at", "transferred_at", "progress_at", "closed_at", "followed_up_at", "satisfaction",
    "money_recovered_cny", "platform", "proposed_changes", "resolution", "data_status", "source", "version",
    "updated_at",
)


def now_iso() -> str:
    from planner.desk.calendar import REGION_TZ

    return dt.datetime.now(REGION_TZ).isoformat(timespec="seconds")


class DeskStore:
    """The desk tables in a registry file (which must exist and be a Yizhan registry)."""

    def __init__(self, path: str | Path):
        from planner.registry import Registry

        self.path = Path(path)
        self.registry = Registry(self.path)  # refuses anything that is not a Yizhan registry, never alters it
        with self._connect() as con:
            con.executescript(_SCHEMA)
        self.registry.make_private()  # the WAL and shared-memory files the schema write made

    def _connect(self) -> sqlite3.Connection:
        return self.registry.connect()

    def tx(self, *, write: bool):
        """One transaction on the registry file (the registry's own: busy handling, rollback)."""
        return self.registry.transaction(write=write)

    # ------------------------------------------------------------------ meta
    def salt(self) -> str:
        """A random per-registry salt for hashing device ids (made once, then kept in memory)."""
        cached = getattr(self, "_salt", None)
        if cached:
            return cached
        self._salt = self._load_salt()
        return self._salt

    def _load_salt(self) -> str:
        with self.tx(write=True) as con:
            row = con.execute("SELECT value FROM desk_meta WHERE key = 'device_salt'").fetchone()
            if row:
                return row["value"]
            value = secrets.token_hex(16)
            con.execute("INSERT INTO desk_meta (key, value) VALUES ('device_salt', ?)", (value,))
            return value

    def generation(self) -> int:
        with self.tx(write=False) as con:
            row = con.execute("SELECT value FROM desk_meta WHERE key = 'generation'").fetchone()
        return int(row["value"]) if row else 0

    @staticmethod
    def bump(con) -> None:
        con.execute("INSERT INTO desk_meta (key, value) VALUES ('generation', '1') ON CONFLICT (key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    # ------------------------------------------------------------------ calendar
    def schedules(self) -> dict:
        from planner.desk.calendar import Schedule

        with self.tx(write=False) as con:
            rows = con.execute("SELECT year, schedule FROM desk_calendar").fetchall()
        out = {}
        for row in rows:
            s = json.loads(row["schedule"])
            out[int(row["year"])] = Schedule(row["year"], s["holidays"], s["workdays"], source=s.get("source", ""))
        return out

    def save_schedule(self, schedule, *, actor: str) -> None:
        with self.tx(write=True) as con:
            con.execute("INSERT OR REPLACE INTO desk_calendar (year, schedule, loaded_by, loaded_at) VALUES (?, ?, ?, ?)",
                        (schedule.year, json.dumps(schedule.to_dict(), ensure_ascii=False), actor, now_iso()))
            self.bump(con)

    # ------------------------------------------------------------------ grids
    def load_grids(self) -> list[dict]:
        with self.tx(write=False) as con:
            rows = con.execute("SELECT * FROM desk_grids ORDER BY grid_id").fetchall()
        return [dict(r) for r in rows]

    def replace_grids(self, rows: list[dict]) -> None:
        """Replace every stored grid in one transaction (all or nothing)."""
        with self.tx(write=True) as con:
            con.execute("DELETE FROM desk_grids")
            con.executemany(
                "INSERT INTO desk_grids (grid_id, properties, area_wkb, data_status, source) VALUES (?, ?, ?, ?, ?)",
                [(r["grid_id"], json.dumps(r["properties"], ensure_ascii=False), r["area_wkb"], r["data_status"],
                  r["source"]) for r in rows])
            self.bump(con)

    # ------------------------------------------------------------------ requests
    @staticmethod
    def _request(row) -> dict:
        rec = {k: row[k] for k in REQUEST_COLUMNS}
        rec["proposed_changes"] = json.loads(rec["proposed_changes"]) if rec["proposed_changes"] else None
        return rec

    def insert_requests(self, records: list[dict], *, actor: str, action: str = "create") -> list[dict]:
        """Insert requests (receipt numbers made here) and their audit rows, all in one transaction."""
        out = []
        with self.tx(write=True) as con:
            for rec in records:
                day = rec["received_at"][:10].replace("-", "")
                prefix = f"YZ{day}-"
                last = con.execute("SELECT receipt FROM desk_requests WHERE receipt LIKE ? ORDER BY receipt DESC LIMIT 1",
                                   (prefix + "%",)).fetchone()
                n = int(last["receipt"].rsplit("-", 1)[1]) + 1 if last else 1
                values = dict(rec, receipt=f"{prefix}{n:04d}", version=1, updated_at=now_iso())
                if isinstance(values.get("proposed_changes"), dict):
                    values["proposed_changes"] = json.dumps(values["proposed_changes"], ensure_ascii=False)
                cols = [c for c in REQUEST_COLUMNS if c != "id" and c in values]
                cur = con.execute(f"INSERT INTO desk_requests ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                  [values[c] for c in cols])
                rid = cur.lastrowid
                history = rec.get("_history") or [(rec["received_at"], actor, action, None, rec["state"], None)]
                for at, who, act, before, after, note in history:
                    con.execute("INSERT INTO desk_transitions (request_id, version, at, actor, action, from_state, to_state, "
                                "note, changes) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
                                (rid, at, who, act, before, after, note, json.dumps({}, ensure_ascii=False)))
                out.append(self._request(con.execute("SELECT * FROM desk_requests WHERE id = ?", (rid,)).fetchone()))
            self.bump(con)
        return out

    def get_request(self, request_id) -> dict:
        with self.tx(write=False) as con:
            row = con.execute("SELECT * FROM desk_requests WHERE id = ? OR receipt = ?",
                              (request_id, str(request_id))).fetchone()
        if row is None:
            raise NotFoundError(f"no request {request_id!r}")
        return self._request(row)

    def list_requests(self, *, since: str | None = None, until: str | None = None, states=None) -> list[dict]:
        sql, params = "SELECT * FROM desk_requests WHERE 1 = 1", []
        if since:
            sql += " AND received_at >= ?"
            params.append(since)
        if until:
            sql += " AND received_at < ?"
            params.append(until)
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params.extend(states)
        with self.tx(write=False) as con:
            rows = con.execute(sql + " ORDER BY received_at, id", params).fetchall()
        return [self._request(r) for r in rows]

    def update_request(self, request_id: int, changes: dict, *, expected_version: int, actor: str, action: str,
                       from_state: str | None, to_state: str | None, note: str | None) -> dict:
        """Apply ``changes`` if the stored version is ``expected_version``; audit in the same transaction."""
        with self.tx(write=True) as con:
            row = con.execute("SELECT * FROM desk_requests WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no request {request_id!r}")
            current = self._request(row)
            if current["version"] != expected_version:
                last = con.execute("SELECT actor, at FROM desk_transitions WHERE request_id = ? ORDER BY seq DESC LIMIT 1",
                                   (request_id,)).fetchone()
                who = f" (last change by {last['actor']} at {last['at']})" if last else ""
                raise ConflictError(
                    f"request {current['receipt']} was changed by someone else: your change is based on version "
                    f"{expected_version}, it is now version {current['version']}{who}. Reload it and try again",
                    current=current)
            diff = {k: {"before": current.get(k), "after": v} for k, v in changes.items() if current.get(k) != v}
            if not diff and to_state is None:
                return current
            values = dict(changes)
            if isinstance(values.get("proposed_changes"), dict):
                values["proposed_changes"] = json.dumps(values["proposed_changes"], ensure_ascii=False)
            values["version"] = current["version"] + 1
            values["updated_at"] = now_iso()
            con.execute(f"UPDATE desk_requests SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                        [*values.values(), request_id])
            con.execute("INSERT INTO desk_transitions (request_id, version, at, actor, action, from_state, to_state, note, "
                        "changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (request_id, values["version"], values["updated_at"], actor, action, from_state, to_state, note,
                         json.dumps(diff, ensure_ascii=False, default=str)))
            self.bump(con)
            return self._request(con.execute("SELECT * FROM desk_requests WHERE id = ?", (request_id,)).fetchone())

    def transitions(self, request_id: int) -> list[dict]:
        with self.tx(write=False) as con:
            rows = con.execute("SELECT * FROM desk_transitions WHERE request_id = ? ORDER BY seq", (request_id,)).fetchall()
        return [dict(r, changes=json.loads(r["changes"])) for r in rows]

    # ------------------------------------------------------------------ notices
    def insert_notices(self, notices: list[dict]) -> list[int]:
        ids = []
        with self.tx(write=True) as con:
            for n in notices:
                cur = con.execute(
                    "INSERT INTO desk_notices (kind, title, body, target, area_wkb, valid_from, valid_to, created_by, "
                    "created_at, reach_reported, data_status, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (n["kind"], n["title"], n["body"], json.dumps(n["target"], ensure_ascii=False), n["area_wkb"],
                     n["valid_from"], n["valid_to"], n["created_by"], n["created_at"], int(n.get("reach_reported", 0)),
                     n["data_status"], n["source"]))
                ids.append(cur.lastrowid)
            self.bump(con)
        return ids

    def notices(self, *, active_at: str | None = None) -> list[dict]:
        sql = ("SELECT n.*, (SELECT count(*) FROM desk_reach r WHERE r.notice_id = n.id) AS reach_devices "
               "FROM desk_notices n")
        params: list[Any] = []
        if active_at:
            sql += " WHERE n.valid_from <= ? AND n.valid_to >= ?"
            params = [active_at, active_at]
        with self.tx(write=False) as con:
            rows = con.execute(sql + " ORDER BY n.valid_from DESC, n.id DESC", params).fetchall()
        return [dict(r, target=json.loads(r["target"])) for r in rows]

    def record_reach(self, notice_ids: list[int], device: str) -> int:
        """Count a device once per notice; returns how many notices it reached for the first time."""
        if not notice_ids:
            return 0
        digest = hashlib.sha256((self.salt() + ":" + device).encode("utf-8")).hexdigest()
        at = now_iso()
        added = 0
        with self.tx(write=True) as con:
            for nid in notice_ids:
                cur = con.execute("INSERT OR IGNORE INTO desk_reach (notice_id, device_hash, first_at) VALUES (?, ?, ?)",
                                  (nid, digest, at))
                added += cur.rowcount
        return added

    def delete_illustrative(self) -> None:
        """Remove illustrative requests (with their audit rows) and notices (with their reach)."""
        with self.tx(write=True) as con:
            con.execute("DELETE FROM desk_transitions WHERE request_id IN "
                        "(SELECT id FROM desk_requests WHERE data_status = 'illustrative')")
            con.execute("DELETE FROM desk_requests WHERE data_status = 'illustrative'")
            con.execute("DELETE FROM desk_reach WHERE notice_id IN (SELECT id FROM desk_notices WHERE data_status = 'illustrative')")
            con.execute("DELETE FROM desk_notices WHERE data_status = 'illustrative'")
            self.bump(con)

    # ------------------------------------------------------------------ rate limit
    def hit(self, key: str, *, limit: int, window_s: int) -> tuple[bool, int]:
        """Count one hit for ``key`` in the current fixed window: ``(allowed, seconds_to_wait)``."""
        now = int(dt.datetime.now(dt.timezone.utc).timestamp())
        window = now - now % window_s
        with self.tx(write=True) as con:
            con.execute("DELETE FROM desk_rate WHERE window_start < ?", (window - window_s,))
            row = con.execute("SELECT hits FROM desk_rate WHERE key = ? AND window_start = ?", (key, window)).fetchone()
            hits = (row["hits"] if row else 0) + 1
            if hits > limit:
                return False, window + window_s - now
            con.execute("INSERT OR REPLACE INTO desk_rate (key, window_start, hits) VALUES (?, ?, ?)", (key, window, hits))
        return True, 0
