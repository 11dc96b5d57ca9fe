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
  :func:`werkzeug.security.generate_password_hash`, created_at), ``tokens`` (only the
  SHA-256 of each bearer token is stored, with its expiry), ``sessions`` (server-side
  staff sessions: the cookie holds a random id, the table its SHA-256, so logout, a new
  password, a new role or deleting the user ends every session at once) and
  ``login_failures`` (throttling that every web worker process shares). The rules and
  limits live in :mod:`planner.users`.
* **Private file.** A new registry and its ``-wal``/``-shm`` files are created mode 0600
  (they hold password and token hashes); opening an older registry tightens them.

Stations are stored as columns for the scalar fields plus JSON text for ``amenities``,
``charging`` and ``field_status``; ``county_name`` is derived when reading.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from planner import settings, users as rules
from planner.coords import to_wgs84
from planner.errors import ConflictError, InputError, NotFoundError, RegistryError, YizhanError
from planner.stations import COUNTIES, FIELDS, REQUIRED, merge_changes, normalise_record, validate_station

#: ``PRAGMA application_id`` of a Yizhan registry ("YZH1").
APPLICATION_ID = 0x595A4831
#: ``PRAGMA user_version``: bump and add a migration when the schema changes.
SCHEMA_VERSION = 2
ROLES: tuple[str, ...] = ("staff", "admin")
#: Seconds a write waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0

_SQLITE_HEADER = b"SQLite format 3\x00"
_JSON_COLUMNS = ("amenities", "charging", "field_status")
#: Stored columns: every record field except the derived county_name.
_COLUMNS = tuple(f for f in FIELDS if f != "county_name")
_TABLES = ("meta", "stations", "audit", "users", "tokens", "sessions", "login_failures")
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
        created_at TEXT NOT NULL,
        expires_at TEXT                    -- UTC ISO 8601
    )""",
    *(
        # schema version 2: server-side sessions and shared login throttling
        """CREATE TABLE sessions (
            id_hash   TEXT PRIMARY KEY,        -- sha256 hex of the id in the session cookie
            user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            created   REAL NOT NULL,           -- unix time
            last_seen REAL NOT NULL
        )""",
        "CREATE INDEX sessions_user ON sessions (user_name)",
        """CREATE TABLE login_failures (
            key          TEXT PRIMARY KEY,     -- 'user:<name>' or 'ip:<address>'
            failures     INTEGER NOT NULL,
            last_at      REAL NOT NULL,        -- unix time
            locked_until REAL NOT NULL
        )""",
    ),
    "INSERT INTO meta (key, value) VALUES ('generation', '0')",
    "INSERT INTO meta (key, value) VALUES ('app', 'yizhan-registry')",
)


#: Statements turning a version-1 registry into version 2 (run in one transaction).
_MIGRATE_1_TO_2 = (
    "ALTER TABLE tokens ADD COLUMN expires_at TEXT",
    *[statement for statement in _SCHEMA if statement.lstrip().startswith(("CREATE TABLE sessions",
                                                                          "CREATE INDEX sessions_user",
                                                                          "CREATE TABLE login_failures"))],
)


class ForbiddenError(YizhanError):
    """The user's role does not allow this change (e.g. staff retiring a station)."""

    code = "forbidden"


class ThrottledError(YizhanError):
    """Too many failed logins: wait ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _iso(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).isoformat(timespec="milliseconds")


def _unix(iso: str | None) -> float | None:
    try:
        return dt.datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


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
            self._create_atomically()
            return self._open(create=False)
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
        if user_version == 1 and check == "ok":
            self._migrate_1_to_2()
            app_id, user_version, tables, check = self._inspect()
        if user_version < SCHEMA_VERSION:
            raise RegistryError(
                f"registry {path} has schema version {user_version}, expected {SCHEMA_VERSION}, and no "
                f"migration exists. {_FIX_HINT}"
            )
        self._make_private()
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

    def _create_atomically(self) -> None:
        """Build a new registry beside the target (mode 0600), then hard-link it into place.

        The name appears only once the registry is complete, so several processes starting
        at once (gunicorn workers) never see a half-made file; the first link wins and the
        others use it.
        """
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}-", suffix=".new", dir=self.path.parent)  # 0600
        os.close(fd)
        try:
            self._initialise(Path(tmp))
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:  # a file system without hard links: create in place
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                    self._initialise()
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp + suffix)

    def _initialise(self, target: Path | None = None) -> None:
        target = self.path if target is None else target
        try:
            con = sqlite3.connect(str(target), timeout=BUSY_TIMEOUT_S, isolation_level=None)
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
                raise RegistryError(f"{target} is not empty; refusing to initialise it. {_FIX_HINT}")
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise RegistryError(f"cannot create registry {target}: {exc}") from exc
        finally:
            con.close()
        if target == self.path:
            self._make_private()

    def _migrate_1_to_2(self) -> None:
        """Add token expiry (existing tokens: 90 days from now), sessions and login throttling."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            if con.execute("PRAGMA user_version").fetchone()[0] == 1:  # not done by another process
                for statement in _MIGRATE_1_TO_2:
                    con.execute(statement)
                con.execute("UPDATE tokens SET expires_at = ?", (_iso(time.time() + rules.TOKEN_DAYS * 86400),))
                con.execute("PRAGMA user_version = 2")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise RegistryError(f"cannot upgrade registry {self.path} to schema version 2: {exc}") from exc
        finally:
            con.close()

    def _make_private(self) -> None:
        """Registry, WAL and shared-memory files readable by their owner only (0600).

        SQLite gives ``-wal``/``-shm`` the mode of the database file, so a file created 0600
        keeps them private; this also tightens registries made by older versions. Files
        owned by someone else are left as they are.
        """
        for suffix in ("", "-wal", "-shm"):
            target = Path(str(self.path) + suffix)
            with contextlib.suppress(FileNotFoundError, PermissionError):
                mode = stat.S_IMODE(target.stat().st_mode)
                if mode & 0o077:
                    os.chmod(target, mode & 0o700 or 0o600)

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

    def connect(self) -> sqlite3.Connection:
        """A new connection to the registry file (read-write, busy timeout, foreign keys on)."""
        return self._connect()

    @contextlib.contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
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
        with self.transaction(write=False) as con:
            rows = con.execute(sql + " ORDER BY id").fetchall()
        return [self._row_to_record(r) for r in rows]

    def get(self, station_id: str) -> dict:
        """One station (open or retired) with ``version``.

        Raises
        ------
        NotFoundError
            For an unknown id.
        """
        with self.transaction(write=False) as con:
            record = self._fetch(con, str(station_id))
        if record is None:
            raise NotFoundError(f"no station with id {station_id!r}; list ids with `python -m planner stations`")
        return record

    def count(self, *, include_retired: bool = True) -> int:
        """Number of stored stations."""
        sql = "SELECT count(*) FROM stations" + ("" if include_retired else " WHERE status = 'open'")
        with self.transaction(write=False) as con:
            return int(con.execute(sql).fetchone()[0])

    def generation(self) -> int:
        """A counter that increases with every committed station write (caches key on it).

        User and token writes do not change it: they never change what drivers see.
        """
        # Asked on every request (the web app's cache check), so each thread keeps one
        # read-only connection open for it. ``PRAGMA data_version`` on that connection
        # changes whenever another connection (any process) commits, and costs half the
        # SELECT: the counter is read again only then.
        reader = self._reader
        con = getattr(reader, "con", None)
        try:
            if con is None:
                con = reader.con = self._connect()
                reader.version = None
            version = con.execute("PRAGMA data_version").fetchone()[0]
            if version != reader.version:
                reader.generation = int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
                reader.version = version
            return reader.generation
        except sqlite3.Error as exc:
            reader.con = None
            if con is not None:
                con.close()
            raise RegistryError(f"registry {self.path}: {exc}") from exc

    def history(self, station_id: str, *, names: bool = True) -> list[dict]:
        """The audit trail of a station, newest first.

        Parameters
        ----------
        names
            False for anonymous readers: ``actor`` is then the actor's role (``"staff"``
            or ``"admin"``; ``"staff"`` for accounts since deleted or bulk imports) or
            ``"system"`` for the seed, never a person's name.

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
        with self.transaction(write=False) as con:
            rows = con.execute(
                "SELECT version, at, actor, action, changes FROM audit WHERE station_id = ? ORDER BY seq DESC",
                (str(station_id),),
            ).fetchall()
            exists = rows or con.execute("SELECT 1 FROM stations WHERE id = ?", (str(station_id),)).fetchone()
            roles = {} if names else dict(con.execute("SELECT name, role FROM users").fetchall())
        if not exists:
            raise NotFoundError(f"no station with id {station_id!r}")

        def actor(row) -> str:
            if names:
                return row["actor"]
            return "system" if row["action"] == "seed" else roles.get(row["actor"], "staff")

        return [
            {"version": r["version"], "at": r["at"], "actor": actor(r), "action": r["action"],
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
        records = [record for _label, record in _validate_many(stations)]
        with self.transaction(write=True) as con:
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
        with self.transaction(write=True) as con:
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
        may_retire: bool = True,
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
        may_retire
            Whether ``actor`` may retire stations (the admin role). Checked on the
            normalised, merged record: a change that ends with the station retired is a
            retirement (audited "retire") however ``status`` was spelt.

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
        ForbiddenError
            The change retires the station and ``may_retire`` is false.
        """
        return self._update(station_id, changes, expected_version=expected_version, actor=actor,
                            coords=coords, action="update", may_retire=may_retire)

    def retire(self, station_id: str, *, expected_version: int, actor: str) -> dict:
        """Retire a station (status "retired", audited "retire"); kept with its history.

        Retired stations are left out of :meth:`list_stations` by default and never
        offered by nearest-station searches. Retiring a retired station changes nothing.
        """
        return self._update(station_id, {"status": "retired"}, expected_version=expected_version,
                            actor=actor, coords="wgs84", action="retire")

    def _update(self, station_id, changes, *, expected_version, actor, coords, action, may_retire=True) -> dict:
        actor = _check_actor(actor)
        version = _check_version(expected_version)
        changes = normalise_record(changes)
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
        with self.transaction(write=True) as con:
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
            if new["status"] == "retired" and current["status"] != "retired":
                if not may_retire:
                    err = ForbiddenError(f"only admins may retire a station; {actor!r} may not retire "
                                         f"{current['id']}")
                    err.message_zh = f"只有管理员可以停用站点；{actor} 无权停用 {current['id']}"
                    raise err
                action = "retire"
            new_version = current["version"] + 1
            at = _now()
            self._replace(con, new, version=new_version, at=at)
            self._audit(con, new["id"], new_version, at, actor, action, diff)
            self._bump_generation(con)
        return {**new, "version": new_version}

    def import_stations(self, records: Iterable[Mapping[str, Any]], *, actor: str, partial: bool = False,
                        labels: Iterable[str] | None = None) -> dict:
        """Insert or update many stations in ONE transaction: all or nothing.

        Parameters
        ----------
        records
            Station records. With ``partial=False`` each is a whole record: an existing id
            is replaced by it. With ``partial=True`` (what ``python -m planner import``
            uses) a record carries only the fields its file had: an existing station gets
            exactly those fields changed and keeps every other one; a new station must
            carry every required field, and is refused naming the missing ones.
        actor
            Name recorded in the audit trail ("import").
        partial
            See ``records``.
        labels
            How to name each record in errors (e.g. ``"row 3"``); default ``"record N"``.

        Imports are bulk loads: they do not check versions, the audit trail keeps what they
        replaced. Records equal to the stored one are left alone.

        Returns
        -------
        dict
            ``{"added": n, "updated": n, "unchanged": n}``.

        Raises
        ------
        InputError
            Any invalid record, missing required field of a new station or repeated id
            (``fields`` keyed ``"record N (ID).field"``); nothing is written.
        """
        actor = _check_actor(actor)
        if not partial:
            clean = _validate_many(records, labels=labels)
        else:
            clean = _validate_many(records, labels=labels, partial=True)
        summary = {"added": 0, "updated": 0, "unchanged": 0}
        problems = _Problems()
        with self.transaction(write=True) as con:
            at = _now()
            for label, record in clean:
                current = self._fetch(con, record["id"])
                if partial:
                    try:
                        if current is None:
                            missing = [f for f in REQUIRED if record.get(f) in (None, "")]
                            if missing:
                                problems.add(f"{label}.columns",
                                             f"{record['id']} is a new station, so it needs "
                                             f"{', '.join(missing)} (missing)",
                                             f"{record['id']} 是新站点，缺少必填字段：{'、'.join(missing)}")
                                continue
                            record = validate_station(record)
                        else:
                            record = validate_station(merge_changes(current, record))
                    except InputError as err:
                        problems.extend(label, err)
                        continue
                if problems:
                    continue  # nothing will be written: only keep collecting problems
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
            if problems:
                raise problems.error("stations")
            if summary["added"] or summary["updated"]:
                self._bump_generation(con)
        return summary

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, *, role: str, password: str) -> dict:
        """Create a user with a hashed password (see :func:`planner.users.password_problem`).

        Raises
        ------
        InputError
            Bad name, role not staff|admin, a password the policy refuses, or the name is
            taken.
        """
        from werkzeug.security import generate_password_hash

        name = _check_user_name(name)
        problems: dict[str, tuple[str, str]] = {}
        if role not in ROLES:
            problems["role"] = (f"role must be one of {', '.join(ROLES)}; got {role!r}",
                                f"角色须为 {'、'.join(ROLES)} 之一；收到 {role!r}")
        weak = rules.password_problem(password, name)
        if weak:
            problems["password"] = weak
        if problems:
            raise _input_error("cannot add user: " + "; ".join(en for en, _ in problems.values()),
                               {k: en for k, (en, _) in problems.items()},
                               {k: zh for k, (_, zh) in problems.items()})
        record = {"name": name, "role": role, "created_at": _now()}
        password_hash = generate_password_hash(password)
        with self.transaction(write=True) as con:
            if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                rule = f"user {name!r} already exists; choose another name or use `users passwd`"
                raise _input_error(f"cannot add user: {rule}", {"name": rule},
                                   {"name": f"用户 {name!r} 已存在；请换一个名称"})
            con.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                        (name, role, password_hash, record["created_at"]))
        return record

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password; ends their sessions and revokes their tokens.

        Raises
        ------
        NotFoundError
            No such user.
        InputError
            The password policy refuses the password.
        """
        from werkzeug.security import generate_password_hash

        weak = rules.password_problem(password, name)
        if weak:
            raise _input_error(f"cannot set password: {weak[0]}", {"password": weak[0]}, {"password": weak[1]})
        password_hash = generate_password_hash(password)
        with self.transaction(write=True) as con:
            cur = con.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def set_role(self, name: str, role: str) -> None:
        """Change a user's role; their sessions end (they log in again with the new role)."""
        if role not in ROLES:
            rule = f"role must be one of {', '.join(ROLES)}; got {role!r}"
            raise _input_error(rule, {"role": rule}, {"role": f"角色须为 {'、'.join(ROLES)} 之一"})
        with self.transaction(write=True) as con:
            cur = con.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def delete_user(self, name: str) -> None:
        """Remove a user with their sessions and tokens (the audit trail keeps their name)."""
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            if con.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")

    def list_users(self) -> list[dict]:
        """Users as ``{"name", "role", "created_at"}`` (never the hashes), sorted by name."""
        with self.transaction(write=False) as con:
            rows = con.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()
        return [dict(r) for r in rows]

    def authenticate(self, name: str, password: str, *, client: str | None = None,
                     now: float | None = None) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` if the password matches, else None.

        Failed attempts are counted per account name and, when ``client`` (the remote
        address) is given, per client, in the registry, so every web worker process sees
        the same counts. After :data:`planner.users.FREE_FAILURES` failures each further
        attempt waits :data:`~planner.users.LOCK_BASE_S` × 2^n seconds (at most
        :data:`~planner.users.LOCK_MAX_S`); during a wait no password is checked.

        Raises
        ------
        ThrottledError
            While a wait is in force (``retry_after`` seconds).
        """
        from werkzeug.security import check_password_hash

        if not _encodable(name) or not _encodable(password) or not password or not name.strip():
            return None
        now = time.time() if now is None else now
        keys = [f"user:{name.strip().casefold()[:128]}"]
        if client:
            keys.append(f"ip:{client[:64]}")
        wait = self._login_wait(keys, now)
        if wait > 0:
            raise ThrottledError(f"too many failed logins; try again in {math.ceil(wait)} s",
                                 retry_after=wait)
        with self.transaction(write=False) as con:
            row = con.execute("SELECT name, role, created_at, password_hash FROM users WHERE name = ?",
                              (name,)).fetchone()
        if row is None:
            check_password_hash(_dummy_hash(), password)  # same work for unknown names
            ok = False
        else:
            ok = check_password_hash(row["password_hash"], password)
        if not ok:
            self._login_failed(keys, now)
            return None
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (keys[0],))
        return {"name": row["name"], "role": row["role"], "created_at": row["created_at"]}

    def _login_wait(self, keys: list[str], now: float) -> float:
        marks = ", ".join("?" * len(keys))
        with self.transaction(write=False) as con:
            rows = con.execute(f"SELECT locked_until FROM login_failures WHERE key IN ({marks})", keys).fetchall()
        return max([r["locked_until"] - now for r in rows] + [0.0])

    def _login_failed(self, keys: list[str], now: float) -> None:
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM login_failures WHERE last_at < ?", (now - rules.FAILURE_MEMORY_S,))
            for key in keys:
                row = con.execute("SELECT failures FROM login_failures WHERE key = ?", (key,)).fetchone()
                failures = (row["failures"] if row else 0) + 1
                free = rules.FREE_FAILURES["user" if key.startswith("user:") else "ip"]
                locked_until = 0.0
                if failures >= free:
                    locked_until = now + min(rules.LOCK_MAX_S, rules.LOCK_BASE_S * 2 ** min(failures - free, 30))
                con.execute("INSERT OR REPLACE INTO login_failures (key, failures, last_at, locked_until) "
                            "VALUES (?, ?, ?, ?)", (key, failures, now, locked_until))

    # ------------------------------------------------------------------ sessions
    def open_session(self, name: str, *, now: float | None = None) -> str:
        """Start a staff session; returns the random id the session cookie carries."""
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                        (now - rules.SESSION_IDLE_S, now - rules.SESSION_ABSOLUTE_S))
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NotFoundError(f"no user named {name!r}")
            con.execute("INSERT INTO sessions (id_hash, user_name, created, last_seen) VALUES (?, ?, ?, ?)",
                        (_token_hash(sid), name, now, now))
        return sid

    def session_user(self, sid: object, *, now: float | None = None) -> dict | None:
        """The user ``{"name", "role"}`` of a live session, with the role as stored now.

        None for an unknown, ended or expired session (idle longer than
        :data:`planner.users.SESSION_IDLE_S` or older than
        :data:`~planner.users.SESSION_ABSOLUTE_S`).
        """
        if not isinstance(sid, str) or not sid or len(sid) > 256:
            return None
        now = time.time() if now is None else now
        key = _token_hash(sid)
        with self.transaction(write=False) as con:
            row = con.execute(
                "SELECT u.name, u.role, s.created, s.last_seen FROM sessions s JOIN users u ON u.name = s.user_name "
                "WHERE s.id_hash = ?", (key,)).fetchone()
        if row is None:
            return None
        if now - row["last_seen"] > rules.SESSION_IDLE_S or now - row["created"] > rules.SESSION_ABSOLUTE_S:
            self.close_session(sid)
            return None
        if now - row["last_seen"] > rules.SESSION_TOUCH_S:
            with self.transaction(write=True) as con:
                con.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))
        return {"name": row["name"], "role": row["role"]}

    def close_session(self, sid: object) -> None:
        """End one session (logout)."""
        if isinstance(sid, str) and sid:
            with self.transaction(write=True) as con:
                con.execute("DELETE FROM sessions WHERE id_hash = ?", (_token_hash(sid),))

    def revoke_sessions(self, name: str) -> int:
        """End every session of a user; returns how many there were."""
        with self.transaction(write=True) as con:
            return con.execute("DELETE FROM sessions WHERE user_name = ?", (name,)).rowcount

    # ------------------------------------------------------------------ tokens
    def issue_token(self, name: str, *, days: float = rules.TOKEN_DAYS) -> str:
        """A new bearer token for a user, valid ``days`` days; only its SHA-256 is stored.

        Raises
        ------
        NotFoundError
            No such user.
        InputError
            ``days`` not in 1..:data:`planner.users.MAX_TOKEN_DAYS`.
        """
        days = _check_days(days)
        token = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            self._insert_token(con, name, token, days)
        return token

    def _insert_token(self, con, name: str, token: str, days: float) -> None:
        if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise NotFoundError(f"no user named {name!r}; add one with `python -m planner users add NAME`")
        created = time.time()
        con.execute("INSERT INTO tokens (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    (_token_hash(token), name, _iso(created), _iso(created + days * 86400)))

    def rotate_token(self, name: str, *, days: float = rules.TOKEN_DAYS) -> str:
        """Revoke every token of a user and issue one new token, in one transaction."""
        days = _check_days(days)
        token = secrets.token_urlsafe(32)
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM tokens WHERE user_name = ?", (name,))
            self._insert_token(con, name, token, days)
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many there were (NotFoundError)."""
        with self.transaction(write=True) as con:
            if not con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NotFoundError(f"no user named {name!r}; list users with `python -m planner users list`")
            return con.execute("DELETE FROM tokens WHERE user_name = ?", (name,)).rowcount

    def list_tokens(self, name: str | None = None) -> list[dict]:
        """Tokens as ``{"user", "id" (first 8 hex digits of the hash), "created_at",
        "expires_at", "expired"}``, oldest first (never the tokens themselves)."""
        sql = "SELECT user_name, token_hash, created_at, expires_at FROM tokens"
        params: tuple = ()
        if name is not None:
            sql, params = sql + " WHERE user_name = ?", (name,)
        with self.transaction(write=False) as con:
            rows = con.execute(sql + " ORDER BY created_at, token_hash", params).fetchall()
        now = time.time()
        return [{"user": r["user_name"], "id": r["token_hash"][:8], "created_at": r["created_at"],
                 "expires_at": r["expires_at"], "expired": (_unix(r["expires_at"]) or 0) <= now} for r in rows]

    def user_for_token(self, token: str) -> dict | None:
        """The user ``{"name", "role", "created_at"}`` of a live bearer token, else None
        (unknown, revoked or expired)."""
        if not isinstance(token, str) or not token or len(token) > 256:
            return None
        with self.transaction(write=False) as con:
            row = con.execute(
                "SELECT u.name, u.role, u.created_at, t.expires_at FROM tokens t JOIN users u ON u.name = t.user_name "
                "WHERE t.token_hash = ?", (_token_hash(token),)).fetchone()
        if row is None or (_unix(row["expires_at"]) or 0) <= time.time():
            return None
        return {"name": row["name"], "role": row["role"], "created_at": row["created_at"]}

    def revoke_token(self, token: str) -> bool:
        """Forget a bearer token; True if it existed."""
        if not isinstance(token, str) or not token:
            return False
        with self.transaction(write=True) as con:
            cur = con.execute("DELETE FROM tokens WHERE token_hash = ?", (_token_hash(token),))
        return cur.rowcount > 0


# ---------------------------------------------------------------------- helpers
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _encodable(text: object) -> bool:
    """Text SQLite and the password hash can take (no lone surrogates)."""
    if not isinstance(text, str):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_days(days: object) -> float:
    if isinstance(days, (int, float)) and not isinstance(days, bool) and 0 < days <= rules.MAX_TOKEN_DAYS:
        return float(days)
    rule = f"days must be a number from 1 to {rules.MAX_TOKEN_DAYS}; got {days!r}"
    raise _input_error(rule, {"days": rule}, {"days": f"有效天数须为 1 到 {rules.MAX_TOKEN_DAYS} 之间的数字"})


class _Problems:
    """Per-record problems of a bulk write, collected, then raised once."""

    def __init__(self):
        self.fields: dict[str, str] = {}
        self.fields_zh: dict[str, str] = {}

    def add(self, key: str, en: str, zh: str) -> None:
        self.fields[key] = en
        self.fields_zh[key] = zh

    def extend(self, label: str, err: InputError) -> None:
        zh = getattr(err, "fields_zh", {})
        for field, rule in err.fields.items():
            self.add(f"{label}.{field}", rule, zh.get(field, rule))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def error(self, what: str) -> InputError:
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.fields.items())[:5])
        more = f" (and {len(self.fields) - 5} more)" if len(self.fields) > 5 else ""
        return _input_error(f"{len(self.fields)} problem(s) in the {what}; nothing was written: {shown}{more}",
                            self.fields, self.fields_zh)


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


def _validate_many(records: Iterable[Mapping[str, Any]], *, labels: Iterable[str] | None = None,
                   partial: bool = False) -> list[tuple[str, dict]]:
    """Validate every record (``partial``: only the fields it has, but always an id), then
    raise once naming each bad record and repeated id; returns ``(label, record)`` pairs."""
    clean: list[tuple[str, dict]] = []
    problems = _Problems()
    seen: dict[str, str] = {}
    names = iter(labels) if labels is not None else None
    for i, record in enumerate(records, start=1):
        label = next(names, f"record {i}") if names is not None else f"record {i}"
        record = normalise_record(record)
        if isinstance(record, Mapping) and isinstance(record.get("id"), str) and record["id"]:
            label += f" ({record['id']})"
        try:
            item = validate_station(record, partial=partial)
        except InputError as err:
            problems.extend(label, err)
            continue
        if "id" not in item:
            problems.add(f"{label}.id", "id is required", "编号为必填项")
            continue
        if item["id"] in seen:
            problems.add(f"{label}.id", f"id {item['id']!r} repeats {seen[item['id']]}; ids must be unique",
                         f"编号 {item['id']!r} 与{seen[item['id']]}重复；编号须唯一")
            continue
        seen[item["id"]] = label.split(" (")[0]
        clean.append((label, item))
    if problems:
        raise problems.error("stations")
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
