"""The station registry: one SQLite file with versioned stations, an audit trail and users.

Design
------
* **One file, checked before use.** :class:`Registry` refuses a missing file (unless
  ``create=True``), a file that is not SQLite, a damaged database and a SQLite database
  that is not a Yizhan registry (checked by ``PRAGMA application_id``, ``user_version`` and
  the table list). It raises :class:`~planner.errors.RegistryError` saying how to fix it and
  never overwrites or alters such a file.
* **Optimistic locking.** Every station row has a ``version`` (1 on insert, +1 per write).
  A write names the version it was based on; inside one ``BEGIN IMMEDIATE`` transaction
  the stored version is compared and the row written, so of two concurrent writes based on
  the same version one succeeds and the other gets :class:`~planner.errors.ConflictError`
  with the record as stored: nothing is lost silently.
* **Audit.** Every station write appends ``(station, version, at (UTC ISO), actor, action,
  changes)`` in the same transaction; ``changes`` holds ``{field: {"before", "after"}}``
  (amenities and field_status per key, e.g. ``"amenities.shower"``).
* **Connections.** A new ``sqlite3`` connection per operation (safe from any thread, e.g.
  Flask/gunicorn workers); WAL journal so readers never block the writer.
* **Users.** ``users`` (name, role staff|admin, password hash from
  :func:`werkzeug.security.generate_password_hash`, created_at) and ``tokens`` (only the
  SHA-256 of each bearer token is stored).

Stations are stored as columns for the scalar fields plus JSON text for ``amenities``,
``charging`` and ``field_status``; ``county_name`` is derived when reading.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from planner import settings
from planner.coords import to_wgs84
from planner.errors import ConflictError, InputError, NotFoundError, RegistryError
from planner.stations import COUNTIES, FIELDS, merge_changes, validate_station

#: ``PRAGMA application_id`` of a Yizhan registry ("YZH1").
APPLICATION_ID = 0x595A4831
#: ``PRAGMA user_version``: bump and add a migration when the schema changes.
SCHEMA_VERSION = 1
ROLES: tuple[str, ...] = ("staff", "admin")
#: Seconds a write waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0

_SQLITE_HEADER = b"SQLite format 3\x00"
_JSON_COLUMNS = ("amenities", "charging", "field_status")
#: Stored columns: every record field except the derived county_name.
_COLUMNS = tuple(f for f in FIELDS if f != "county_name")
_TABLES = ("meta", "stations", "audit", "users", "tokens")
_USER_RE = re.compile(r"^[\w.@-]{1,64}$")
_FIX_HINT = (
    "Point YIZHAN_DB (or --db) at a Yizhan registry, restore the file from a backup, "
    "or move it away and run `python -m planner init-db` to create a new registry"
)

_SCHEMA = (
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE stations (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        name_en           TEXT,
        lon               REAL NOT NULL,
        lat               REAL NOT NULL,
        county            TEXT NOT NULL,
        kind              TEXT NOT NULL,
        corridor          TEXT,
        address           TEXT,
        amenities         TEXT NOT NULL,   -- JSON {amenity: bool}
        charging          TEXT NOT NULL,   -- JSON {bays, total_kw, max_power_kw, swap}
        hours             TEXT NOT NULL,
        phone             TEXT,
        parking_bays      INTEGER NOT NULL,
        daily_trucks      INTEGER,
        status            TEXT NOT NULL CHECK (status IN ('open', 'retired')),
        data_status       TEXT NOT NULL,
        field_status      TEXT NOT NULL,   -- JSON {field: data_status}
        source            TEXT NOT NULL,
        coord_sys         TEXT NOT NULL,
        coord_precision_m INTEGER NOT NULL,
        as_of             TEXT NOT NULL,
        notes             TEXT,
        version           INTEGER NOT NULL CHECK (version >= 1),
        updated_at        TEXT NOT NULL
    )""",
    """CREATE TABLE audit (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        station_id TEXT NOT NULL,
        version    INTEGER NOT NULL,
        at         TEXT NOT NULL,          -- UTC, ISO 8601
        actor      TEXT NOT NULL,
        action     TEXT NOT NULL,          -- seed, add, update, retire, import
        changes    TEXT NOT NULL           -- JSON {field: {before, after}}
    )""",
    "CREATE INDEX audit_station ON audit (station_id, seq)",
    """CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
    )""",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,       -- sha256 hex of the bearer token
        user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        created_at TEXT NOT NULL
    )""",
    "INSERT INTO meta (key, value) VALUES ('generation', '0')",
    "INSERT INTO meta (key, value) VALUES ('app', 'yizhan-registry')",
)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _input_error(message: str, fields: dict[str, str], fields_zh: dict[str, str]) -> InputError:
    err = InputError(message, fields=fields)
    err.fields_zh = fields_zh  # type: ignore[attr-defined]
    return err


class Registry:
    """A station registry file.

    Parameters
    ----------
    path : str or Path, optional
        The SQLite file; default :func:`planner.settings.db_path` (``YIZHAN_DB``).
    create : bool
        Create the file (and its folder) when missing. An existing registry is opened as
        is; an existing empty file or empty SQLite database is initialised; anything else
        is refused, never overwritten.

    Raises
    ------
    RegistryError
        Missing file (``create=False``), not SQLite, damaged, not a Yizhan registry, or
        written by a newer Yizhan.

    Examples
    --------
    >>> reg = Registry(tmp_path / "r.sqlite", create=True)            # doctest: +SKIP
    >>> reg.seed(load_region().stations)                               # doctest: +SKIP
    >>> s = reg.get("MY-DH-01")                                        # doctest: +SKIP
    >>> reg.update(s["id"], {"amenities": {"shower": True}},           # doctest: +SKIP
    ...            expected_version=s["version"], actor="alice")
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = False):
        self.path = Path(path) if path is not None else settings.db_path()
        self._reader = threading.local()
        self._open(create=create)

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    # ------------------------------------------------------------------ file checks
    def _open(self, *, create: bool) -> None:
        path = self.path
        if path.is_dir():
            raise RegistryError(f"registry path {path} is a folder, not a file. {_FIX_HINT}")
        if not path.exists():
            if not create:
                raise RegistryError(
                    f"registry file {path} does not exist. Create it with `python -m planner init-db` "
                    "(uses YIZHAN_DB), or set YIZHAN_DB to an existing registry"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            self._initialise()
            return
        size = path.stat().st_size
        if size == 0:
            if not create:
                raise RegistryError(f"registry file {path} is empty (0 bytes), not a Yizhan registry. {_FIX_HINT}")
            self._initialise()
            return
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise RegistryError(
                f"{path} is not a SQLite database (its first bytes are {header[:16]!r}), so it is not a "
                f"Yizhan registry; it was left untouched. {_FIX_HINT}"
            )
        app_id, user_version, tables, check = self._inspect()
        if app_id != APPLICATION_ID:
            if not tables and user_version == 0 and create:
                self._initialise()  # an empty SQLite database: nothing to lose
                return
            listing = ", ".join(tables) if tables else "none"
            raise RegistryError(
                f"{path} is a SQLite database but not a Yizhan registry (application_id {app_id}, "
                f"tables: {listing}); it was left untouched. {_FIX_HINT}"
            )
        if user_version > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {path} has schema version {user_version}, newer than this Yizhan "
                f"understands ({SCHEMA_VERSION}); upgrade Yizhan or use another registry"
            )
        if user_version < SCHEMA_VERSION:
            raise RegistryError(
                f"registry {path} has schema version {user_version}, expected {SCHEMA_VERSION}, and no "
                f"migration exists. {_FIX_HINT}"
            )
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise RegistryError(f"registry {path} is damaged: tables {', '.join(missing)} are missing. {_FIX_HINT}")
        if check != "ok":
            raise RegistryError(f"registry {path} is damaged (integrity check: {check}). {_FIX_HINT}")

    def _inspect(self) -> tuple[int, int, list[str], str]:
        """Read identity and health through a read-only connection (never writes the file)."""
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry {self.path}: {exc}. {_FIX_HINT}") from exc
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            user_version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            check = "ok"
            if app_id == APPLICATION_ID:
                rows = con.execute("PRAGMA quick_check").fetchall()
                check = "; ".join(str(r[0]) for r in rows[:3])
        except sqlite3.DatabaseError as exc:
            raise RegistryError(
                f"{self.path} is damaged or not a SQLite database ({exc}); it was left untouched. {_FIX_HINT}"
            ) from exc
        finally:
            con.close()
        return int(app_id), int(user_version), tables, check

    def _initialise(self) -> None:
        try:
            con = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot create registry {self.path}: {exc}") from exc
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id == APPLICATION_ID:  # another process created it meanwhile
                con.execute("COMMIT")
                return
            if tables:
                con.execute("ROLLBACK")
                raise RegistryError(f"{self.path} is not empty; refusing to initialise it. {_FIX_HINT}")
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise RegistryError(f"cannot create registry {self.path}: {exc}") from exc
        finally:
            con.close()

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        # mode=rw: never silently create a new empty file if the registry was removed.
        uri = self.path.resolve().as_uri() + "?mode=rw"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry {self.path}: {exc}. {_FIX_HINT}") from exc
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection: committed on success, rolled back on any error."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield con
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise RegistryError(
                    f"registry {self.path} is busy (another write held it for over {BUSY_TIMEOUT_S:g} s); try again"
                ) from exc
            raise RegistryError(f"registry {self.path}: {exc}") from exc
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @staticmethod
    def _bump_generation(con: sqlite3.Connection) -> None:
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # ------------------------------------------------------------------ rows
    @staticmethod
    def _row_to_record(row: sqlite3.Row) -> dict:
        record: dict[str, Any] = {}
        for field in FIELDS:
            if field == "county_name":
                record[field] = COUNTIES[row["county"]][0] if row["county"] in COUNTIES else None
            elif field in _JSON_COLUMNS:
                record[field] = json.loads(row[field])
            else:
                record[field] = row[field]
        record["version"] = row["version"]
        return record

    def _fetch(self, con: sqlite3.Connection, station_id: str) -> dict | None:
        row = con.execute("SELECT * FROM stations WHERE id = ?", (station_id,)).fetchone()
        return None if row is None else self._row_to_record(row)

    @staticmethod
    def _values(record: Mapping[str, Any]) -> list[Any]:
        return [_dumps(record[c]) if c in _JSON_COLUMNS else record[c] for c in _COLUMNS]

    def _insert(self, con, record: Mapping[str, Any], *, version: int, actor: str, action: str, at: str) -> None:
        columns = ", ".join(_COLUMNS + ("version", "updated_at"))
        marks = ", ".join("?" * (len(_COLUMNS) + 2))
        con.execute(f"INSERT INTO stations ({columns}) VALUES ({marks})",
                    [*self._values(record), version, at])
        changes = _diff({}, record)
        self._audit(con, record["id"], version, at, actor, action, changes)

    def _replace(self, con, record: Mapping[str, Any], *, version: int, at: str) -> None:
        assignments = ", ".join(f"{c} = ?" for c in _COLUMNS if c != "id")
        values = [v for c, v in zip(_COLUMNS, self._values(record)) if c != "id"]
        con.execute(f"UPDATE stations SET {assignments}, version = ?, updated_at = ? WHERE id = ?",
                    [*values, version, at, record["id"]])

    @staticmethod
    def _audit(con, station_id: str, version: int, at: str, actor: str, action: str, changes: dict) -> None:
        con.execute(
            "INSERT INTO audit (station_id, version, at, actor, action, changes) VALUES (?, ?, ?, ?, ?, ?)",
            (station_id, version, at, actor, action, _dumps(changes)),
        )

    # ------------------------------------------------------------------ stations: read
    def list_stations(self, *, include_retired: bool = False) -> list[dict]:
        """All stations (open ones unless ``include_retired``), sorted by id, with ``version``."""
        sql = "SELECT * FROM stations"
        if not include_retired:
            sql += " WHERE status = 'open'"
        with self._transaction(write=False) as con:
            rows = con.execute(sql + " ORDER BY id").fetchall()
        return [self._row_to_record(r) for r in rows]

    def get(self, station_id: str) -> dict:
        """One station (open or retired) with ``version``.

        Raises
        ------
        NotFoundError
            For an unknown id.
        """
        with self._transaction(write=False) as con:
            record = self._fetch(con, str(station_id))
        if record is None:
            raise NotFoundError(f"no station with id {station_id!r}; list ids with `python -m planner stations`")
        return record

    def count(self, *, include_retired: bool = True) -> int:
        """Number of stored stations."""
        sql = "SELECT count(*) FROM stations" + ("" if include_retired else " WHERE status = 'open'")
        with self._transaction(write=False) as con:
            return int(con.execute(sql).fetchone()[0])

    def generation(self) -> int:
        """A counter that increases with every committed station write (caches key on it).

        User and token writes do not change it: they never change what drivers see.
        """
        # Asked on every request (the web app's cache check), so each thread keeps one
        # connection open for it; in autocommit mode every SELECT sees the latest commit.
        con = getattr(self._reader, "con", None)
        if con is None:
            con = self._reader.con = self._connect()
        try:
            return int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        except sqlite3.Error as exc:
            self._reader.con = None
            con.close()
            raise RegistryError(f"registry {self.path}: {exc}") from exc

    def history(self, station_id: str) -> list[dict]:
        """The audit trail of a station, newest first.

        Returns
        -------
        list of dict
            ``{"version", "at" (UTC ISO 8601), "actor", "action", "changes": {field:
            {"before", "after"}}}``.

        Raises
        ------
        NotFoundError
            For an id that never existed.
        """
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT version, at, actor, action, changes FROM audit WHERE station_id = ? ORDER BY seq DESC",
                (str(station_id),),
            ).fetchall()
            exists = rows or con.execute("SELECT 1 FROM stations WHERE id = ?", (str(station_id),)).fetchone()
        if not exists:
            raise NotFoundError(f"no station with id {station_id!r}")
        return [
            {"version": r["version"], "at": r["at"], "actor": r["actor"], "action": r["action"],
             "changes": json.loads(r["changes"])}
            for r in rows
        ]

    # ------------------------------------------------------------------ stations: write
    def seed(self, stations: Iterable[Mapping[str, Any]], *, actor: str = "seed") -> int:
        """Fill an empty registry with ``stations`` (validated, version 1, audited "seed").

        Returns the number of stations written: 0 when the registry already holds
        stations (seeding never touches existing data).

        Raises
        ------
        InputError
            If any record is invalid (nothing is written).
        """
        actor = _check_actor(actor)
        records = _validate_many(stations)
        with self._transaction(write=True) as con:
            if con.execute("SELECT count(*) FROM stations").fetchone()[0]:
                return 0
            at = _now()
            for record in records:
                self._insert(con, record, version=1, actor=actor, action="seed", at=at)
            if records:
                self._bump_generation(con)
        return len(records)

    def add(self, record: Mapping[str, Any], *, actor: str, coords: str = "wgs84") -> dict:
        """Add a new station (version 1, audited "add").

        Parameters
        ----------
        record
            A full station record (see :func:`planner.stations.validate_station`).
        actor
            Who is adding it (user name).
        coords
            System of ``record``'s lon/lat (``"gcj02"`` for points copied from Amap); they
            are converted to WGS-84 and ``coord_sys`` records the original system.

        Raises
        ------
        InputError
            Invalid record, or its id is taken.
        """
        actor = _check_actor(actor)
        clean = validate_station(_convert(record, coords))
        with self._transaction(write=True) as con:
            if con.execute("SELECT 1 FROM stations WHERE id = ?", (clean["id"],)).fetchone():
                rule = f"id {clean['id']!r} already exists; choose another id"
                raise _input_error(f"cannot add station: {rule}", {"id": rule},
                                   {"id": f"编号 {clean['id']!r} 已存在；请换一个编号"})
            self._insert(con, clean, version=1, actor=actor, action="add", at=_now())
            self._bump_generation(con)
        return {**clean, "version": 1}

    def update(
        self,
        station_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: str,
        coords: str = "wgs84",
    ) -> dict:
        """Change some fields of a station, if it is still at ``expected_version``.

        Parameters
        ----------
        station_id
            The station to change.
        changes
            A PATCH body: fields to change, named as in the record. ``amenities`` and
            ``field_status`` merge key by key (``{"amenities": {"shower": True}}`` leaves
            the other amenities alone); ``lon`` and ``lat`` change together.
        expected_version
            The version the edit was based on (HTTP ``If-Match``).
        actor
            Who makes the change (user name), kept in the audit trail.
        coords
            System of ``lon``/``lat`` in ``changes`` (``"wgs84"``, ``"gcj02"``, ``"bd09"``).

        Returns
        -------
        dict
            The stored record with its new ``version`` (unchanged when the change
            changes nothing).

        Raises
        ------
        InputError
            Invalid changes (``fields`` per field; nothing is written).
        NotFoundError
            Unknown station.
        ConflictError
            The station is no longer at ``expected_version``; ``current`` holds it.
        """
        return self._update(station_id, changes, expected_version=expected_version, actor=actor,
                            coords=coords, action="update")

    def retire(self, station_id: str, *, expected_version: int, actor: str) -> dict:
        """Retire a station (status "retired", audited "retire"); kept with its history.

        Retired stations are left out of :meth:`list_stations` by default and never
        offered by nearest-station searches. Retiring a retired station changes nothing.
        """
        return self._update(station_id, {"status": "retired"}, expected_version=expected_version,
                            actor=actor, coords="wgs84", action="retire")

    def _update(self, station_id, changes, *, expected_version, actor, coords, action) -> dict:
        actor = _check_actor(actor)
        version = _check_version(expected_version)
        if not isinstance(changes, Mapping) or not changes:
            raise _input_error(
                "changes must be a JSON object naming at least one field, e.g. {\"hours\": \"24h\"}",
                {"changes": "give at least one field to change"}, {"changes": "请至少提供一个要修改的字段"})
        fixed = {}
        if "id" in changes and changes["id"] != station_id:
            fixed["id"] = ("id cannot be changed; add a new station and retire this one",
                           "编号不可修改；请新增站点并停用此站点")
        if "version" in changes and changes["version"] != version:
            fixed["version"] = (f"version {changes['version']!r} in the body differs from expected_version "
                                f"{version}; send the version you edited as expected_version (If-Match)",
                                f"请求体中的版本 {changes['version']!r} 与 If-Match 版本 {version} 不一致")
        if fixed:
            raise _input_error("invalid change: " + "; ".join(en for en, _ in fixed.values()),
                               {k: en for k, (en, _) in fixed.items()}, {k: zh for k, (_, zh) in fixed.items()})
        body = _convert({k: v for k, v in changes.items() if k not in ("id", "version")}, coords)
        # Field errors named as the caller sent them. county_name (derived) is checked
        # against the merged record below, so a client may echo it back unchanged.
        validate_station({k: v for k, v in body.items() if k != "county_name"}, partial=True)
        with self._transaction(write=True) as con:
            current = self._fetch(con, str(station_id))
            if current is None:
                raise NotFoundError(f"no station with id {station_id!r}")
            if current["version"] != version:
                last = con.execute(
                    "SELECT actor, at FROM audit WHERE station_id = ? ORDER BY seq DESC LIMIT 1", (current["id"],)
                ).fetchone()
                who = f" (last change by {last['actor']} at {last['at']})" if last else ""
                raise ConflictError(
                    f"station {current['id']} was changed by someone else: your edit is based on version "
                    f"{version}, it is now version {current['version']}{who}. Reload it and apply your "
                    "change again",
                    current=current,
                )
            new = validate_station(merge_changes(current, body))
            diff = _diff(current, new)
            if not diff:
                return current
            new_version = current["version"] + 1
            at = _now()
            self._replace(con, new, version=new_version, at=at)
            self._audit(con, new["id"], new_version, at, actor, action, diff)
            self._bump_generation(con)
        return {**new, "version": new_version}

    def import_stations(self, records: Iterable[Mapping[str, Any]], *, actor: str) -> dict:
        """Insert or replace many stations in ONE transaction: all or nothing.

        Every record is validated first; records whose id exists replace the stored
        record (version +1, audited "import"; records equal to the stored one are left
        alone), new ids are added (version 1). Imports are bulk loads: they do not check
        versions, the audit trail keeps what they replaced.

        Returns
        -------
        dict
            ``{"added": n, "updated": n, "unchanged": n}``.

        Raises
        ------
        InputError
            Any invalid record or repeated id (``fields`` keyed ``"record N (ID).field"``);
            nothing is written.
        """
        actor = _check_actor(actor)
        clean = _validate_many(records)
        summary = {"added": 0, "updated": 0, "unchanged": 0}
        with self._transaction(write=True) as con:
            at = _now()
            for record in clean:
                current = self._fetch(con, record["id"])
                if current is None:
                    self._insert(con, record, version=1, actor=actor, action="import", at=at)
                    summary["added"] += 1
                    continue
                diff = _diff(current, record)
                if not diff:
                    summary["unchanged"] += 1
                    continue
                new_version = current["version"] + 1
                self._replace(con, record, version=new_version, at=at)
                self._audit(con, record["id"], new_version, at, actor, "import", diff)
                summary["updated"] += 1
            if summary["added"] or summary["updated"]:
                self._bump_generation(con)
        return summary

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, *, role: str, password: str) -> dict:
        """Create a user with a hashed password.

        Raises
        ------
        InputError
            Bad name, role not staff|admin, empty password, or the name is taken.
        """
        from werkzeug.security import generate_password_hash

        name = _check_user_name(name)
        problems: dict[str, tuple[str, str]] = {}
        if role not in ROLES:
            problems["role"] = (f"role must be one of {', '.join(ROLES)}; got {role!r}",
                                f"角色须为 {'、'.join(ROLES)} 之一；收到 {role!r}")
        if not isinstance(password, str) or not password:
            problems["password"] = ("password must not be empty", "密码不能为空")
        if problems:
            raise _input_error("cannot add user: " + "; ".join(en for en, _ in problems.values()),
                               {k: en for k, (en, _) in problems.items()},
                               {k: zh for k, (_, zh) in problems.items()})
        record = {"name": name, "role": role, "created_at": _now()}
        password_hash = generate_password_hash(password)
        with self._transaction(write=True) as con:
            if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                rule = f"user {name!r} already exists; choose another name or use set_password"
                raise _input_error(f"cannot add user: {rule}", {"name": rule},
                                   {"name": f"用户 {name!r} 已存在；请换一个名称"})
            con.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                        (name, role, password_hash, record["created_at"]))
        return record

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password and revoke their tokens (NotFoundError, InputError)."""
        from werkzeug.security import generate_password_hash

        if not isinstance(password, str) or not password:
            raise _input_error("password must not be empty", {"password": "password must not be empty"},
                               {"password": "密码不能为空"})
        password_hash = generate_password_hash(password)
        with self._transaction(write=True) as con:
            cur = con.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user named {name!r}")
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))

    def list_users(self) -> list[dict]:
        """Users as ``{"name", "role", "created_at"}`` (never the hashes), sorted by name."""
        with self._transaction(write=False) as con:
            rows = con.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()
        return [dict(r) for r in rows]

    def authenticate(self, name: str, password: str) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` if the password matches, else None."""
        from werkzeug.security import check_password_hash

        if not isinstance(name, str) or not isinstance(password, str) or not password:
            return None
        with self._transaction(write=False) as con:
            row = con.execute("SELECT name, role, created_at, password_hash FROM users WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            check_password_hash(_dummy_hash(), password)  # same work for unknown names
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return {"name": row["name"], "role": row["role"], "created_at": row["created_at"]}

    def issue_token(self, name: str) -> str:
        """A new bearer token for a user; only its SHA-256 is stored (NotFoundError)."""
        token = secrets.token_urlsafe(32)
        with self._transaction(write=True) as con:
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NotFoundError(f"no user named {name!r}; add one with `python -m planner users add NAME`")
            con.execute("INSERT INTO tokens (token_hash, user_name, created_at) VALUES (?, ?, ?)",
                        (_token_hash(token), name, _now()))
        return token

    def user_for_token(self, token: str) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` a bearer token belongs to, else None."""
        if not isinstance(token, str) or not token:
            return None
        with self._transaction(write=False) as con:
            row = con.execute(
                "SELECT u.name, u.role, u.created_at FROM tokens t JOIN users u ON u.name = t.user_name "
                "WHERE t.token_hash = ?", (_token_hash(token),)).fetchone()
        return None if row is None else dict(row)

    def revoke_token(self, token: str) -> bool:
        """Forget a bearer token; True if it existed."""
        if not isinstance(token, str) or not token:
            return False
        with self._transaction(write=True) as con:
            cur = con.execute("DELETE FROM tokens WHERE token_hash = ?", (_token_hash(token),))
        return cur.rowcount > 0


# ---------------------------------------------------------------------- helpers
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(secrets.token_urlsafe(16))


def _check_actor(actor: object) -> str:
    if isinstance(actor, str) and actor.strip() and len(actor.strip()) <= 64:
        return actor.strip()
    raise _input_error(f"actor must be a user name of 1-64 characters; got {actor!r}",
                       {"actor": "actor must be a user name of 1-64 characters"},
                       {"actor": "操作人须为 1-64 个字符的用户名"})


def _check_user_name(name: object) -> str:
    if isinstance(name, str) and _USER_RE.match(name.strip()):
        return name.strip()
    rule = f"user name must be 1-64 letters, digits or . _ @ -; got {name!r}"
    raise _input_error(f"cannot add user: {rule}", {"name": rule},
                       {"name": f"用户名须为 1-64 个字母、数字或 . _ @ -；收到 {name!r}"})


def _check_version(version: object) -> int:
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    if isinstance(version, str) and version.strip().strip('"').isdigit():
        return _check_version(int(version.strip().strip('"')))
    rule = f"expected_version must be the whole number version you edited (1 or more); got {version!r}"
    raise _input_error(rule, {"version": rule}, {"version": f"版本号须为正整数；收到 {version!r}"})


def _convert(record: Mapping[str, Any], coords: str) -> dict:
    """Convert lon/lat given in ``coords`` to WGS-84 and note the original system."""
    out = dict(record)
    if coords == "wgs84" or "lon" not in out or "lat" not in out:
        return out
    try:
        out["lon"], out["lat"] = to_wgs84(out["lon"], out["lat"], coords)
    except InputError:
        return out  # validate_station reports the bad numbers with the usual messages
    out["coord_sys"] = coords
    return out


def _validate_many(records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Validate every record, then raise once naming each bad record and repeated id."""
    clean: list[dict] = []
    fields: dict[str, str] = {}
    fields_zh: dict[str, str] = {}
    seen: dict[str, int] = {}
    for i, record in enumerate(records, start=1):
        label = f"record {i}"
        if isinstance(record, Mapping) and isinstance(record.get("id"), str):
            label += f" ({record['id']})"
        try:
            item = validate_station(record)
        except InputError as err:
            zh = getattr(err, "fields_zh", {})
            for field, rule in err.fields.items():
                fields[f"{label}.{field}"] = rule
                fields_zh[f"{label}.{field}"] = zh.get(field, rule)
            continue
        if item["id"] in seen:
            rule = f"id {item['id']!r} repeats record {seen[item['id']]}; ids must be unique"
            fields[f"{label}.id"] = rule
            fields_zh[f"{label}.id"] = f"编号 {item['id']!r} 与第 {seen[item['id']]} 条重复；编号须唯一"
            continue
        seen[item["id"]] = i
        clean.append(item)
    if fields:
        shown = "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:5])
        more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
        raise _input_error(f"{len(fields)} problem(s) in the stations; nothing was written: {shown}{more}",
                           fields, fields_zh)
    return clean


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict:
    """``{field: {"before", "after"}}`` for changed stored fields (amenities/field_status per key)."""
    changes: dict[str, dict] = {}
    for field in _COLUMNS:
        old, new = before.get(field), after.get(field)
        if field in ("amenities", "field_status") and (isinstance(old, Mapping) or isinstance(new, Mapping)):
            old_map, new_map = old or {}, new or {}
            if not before:  # a new record: one entry for the whole object
                changes[field] = {"before": None, "after": new}
                continue
            for key in list(old_map) + [k for k in new_map if k not in old_map]:
                if old_map.get(key) != new_map.get(key):
                    changes[f"{field}.{key}"] = {"before": old_map.get(key), "after": new_map.get(key)}
        elif old != new:
            changes[field] = {"before": old, "after": new}
    return changes
