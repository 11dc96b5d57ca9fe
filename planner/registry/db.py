"""The registry file: one SQLite database, checked before use, never overwritten.

* **One file, checked before use.** :class:`RegistryFile` refuses a missing file (unless
  ``create=True``), a file that is not SQLite, a damaged database and a SQLite database
  that is not a Yizhan registry (checked by ``PRAGMA application_id``, ``user_version`` and
  the table list). It raises :class:`~planner.errors.RegistryError` saying how to fix it and
  never overwrites or alters such a file.
* **Schema and migrations.** :data:`SCHEMA` creates every table (stations, audit, users,
  tokens, sessions, login failures); ``user_version`` names the schema and an older
  registry is migrated in one transaction when opened.
* **Connections.** A new ``sqlite3`` connection per operation (safe from any thread, e.g.
  Flask/gunicorn workers); WAL journal so readers never block the writer; a writer waits
  :data:`BUSY_TIMEOUT_S` for another, then gets a :class:`~planner.errors.RegistryError`.
* **Private file.** A new registry and its ``-wal``/``-shm`` files are created mode 0600
  (they hold password and token hashes); opening an older registry tightens them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from planner import settings
from planner.errors import RegistryError
from planner.registry import policy

#: ``PRAGMA application_id`` of a Yizhan registry ("YZH1").
APPLICATION_ID = 0x595A4831
#: ``PRAGMA user_version``: bump and add a migration when the schema changes.
SCHEMA_VERSION = 2
#: Seconds a write waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0

_SQLITE_HEADER = b"SQLite format 3\x00"
TABLES = ("meta", "stations", "audit", "users", "tokens", "sessions", "login_failures")
FIX_HINT = (
    "Point YIZHAN_DB (or --db) at a Yizhan registry, restore the file from a backup, "
    "or move it away and run `python -m planner init-db` to create a new registry"
)

SCHEMA = (
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
MIGRATE_1_TO_2 = (
    "ALTER TABLE tokens ADD COLUMN expires_at TEXT",
    *[statement for statement in SCHEMA if statement.lstrip().startswith(("CREATE TABLE sessions",
                                                                          "CREATE INDEX sessions_user",
                                                                          "CREATE TABLE login_failures"))],
)


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds (what the registry stores)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def iso_from_unix(unix: float) -> str:
    """A unix time as the registry's UTC ISO 8601 text."""
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).isoformat(timespec="milliseconds")


def unix_from_iso(iso: str | None) -> float | None:
    """The unix time of stored ISO 8601 text; None for none or unreadable text."""
    try:
        return dt.datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


class RegistryFile:
    """The registry's SQLite file: checked before use, created atomically, migrated, kept
    private; fresh connections and transactions with one busy and rollback policy.

    :class:`planner.registry.Registry` adds the stations and the staff accounts on top; the
    desk store (:mod:`planner.desk.store`) shares its connections and transactions.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = False):
        self.path = Path(path) if path is not None else settings.db_path()
        self._reader = threading.local()
        self._open(create=create)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # ------------------------------------------------------------------ file checks
    def _open(self, *, create: bool) -> None:
        path = self.path
        if path.is_dir():
            raise RegistryError(f"registry path {path} is a folder, not a file. {FIX_HINT}")
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
                raise RegistryError(f"registry file {path} is empty (0 bytes), not a Yizhan registry. {FIX_HINT}")
            self._initialise()
            return
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise RegistryError(
                f"{path} is not a SQLite database (its first bytes are {header[:16]!r}), so it is not a "
                f"Yizhan registry; it was left untouched. {FIX_HINT}"
            )
        app_id, user_version, tables, check = self._inspect()
        if app_id != APPLICATION_ID:
            if not tables and user_version == 0 and create:
                self._initialise()  # an empty SQLite database: nothing to lose
                return
            listing = ", ".join(tables) if tables else "none"
            raise RegistryError(
                f"{path} is a SQLite database but not a Yizhan registry (application_id {app_id}, "
                f"tables: {listing}); it was left untouched. {FIX_HINT}"
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
                f"migration exists. {FIX_HINT}"
            )
        self.make_private()
        missing = [t for t in TABLES if t not in tables]
        if missing:
            raise RegistryError(f"registry {path} is damaged: tables {', '.join(missing)} are missing. {FIX_HINT}")
        if check != "ok":
            raise RegistryError(f"registry {path} is damaged (integrity check: {check}). {FIX_HINT}")

    def _inspect(self) -> tuple[int, int, list[str], str]:
        """Read identity and health through a read-only connection (never writes the file)."""
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry {self.path}: {exc}. {FIX_HINT}") from exc
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
                f"{self.path} is damaged or not a SQLite database ({exc}); it was left untouched. {FIX_HINT}"
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
                raise RegistryError(f"{target} is not empty; refusing to initialise it. {FIX_HINT}")
            for statement in SCHEMA:
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
            self.make_private()

    def _migrate_1_to_2(self) -> None:
        """Add token expiry (existing tokens: 90 days from now), sessions and login throttling."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            if con.execute("PRAGMA user_version").fetchone()[0] == 1:  # not done by another process
                for statement in MIGRATE_1_TO_2:
                    con.execute(statement)
                con.execute("UPDATE tokens SET expires_at = ?", (iso_from_unix(time.time() + policy.TOKEN_DAYS * 86400),))
                con.execute("PRAGMA user_version = 2")
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise RegistryError(f"cannot upgrade registry {self.path} to schema version 2: {exc}") from exc
        finally:
            con.close()

    def make_private(self) -> None:
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
            raise RegistryError(f"cannot open registry {self.path}: {exc}. {FIX_HINT}") from exc
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
