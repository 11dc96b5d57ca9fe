"""The registry's stations: versioned records, their audit trail and bulk import.

* **Optimistic locking.** Every station row has a ``version`` (1 on insert, +1 per write).
  A write names the version it was based on; inside one ``BEGIN IMMEDIATE`` transaction
  the stored version is compared and the row written, so of two concurrent writes based on
  the same version one succeeds and the other gets :class:`~planner.errors.ConflictError`
  with the record as stored: nothing is lost silently.
* **Audit.** Every station write appends ``(station, version, at (UTC ISO), actor, action,
  changes)`` in the same transaction; ``changes`` holds ``{field: {"before", "after"}}``
  (amenities and field_status per key, e.g. ``"amenities.shower"``).
* **All or nothing.** :meth:`StationStore.seed` and :meth:`StationStore.import_stations`
  validate every record first and write in one transaction; any problem names its record
  and nothing is written.

Stations are stored as columns for the scalar fields plus JSON text for ``amenities``,
``charging`` and ``field_status``; ``county_name`` is derived when reading. Every record is
checked by :func:`planner.stations.validate_station`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from planner.errors import ConflictError, ForbiddenError, InputError, NotFoundError, RegistryError
from planner.registry.db import RegistryFile, now_iso
from planner.stations import (
    COUNTIES,
    FIELDS,
    REQUIRED,
    Problems,
    merge_changes,
    normalise_record,
    record_to_wgs84,
    validate_many,
    validate_station,
)

_JSON_COLUMNS = ("amenities", "charging", "field_status")
#: Stored columns: every record field except the derived county_name.
_COLUMNS = tuple(f for f in FIELDS if f != "county_name")


#: Bytes at the start of a WAL index: the first copy of its header (SQLite's file format,
#: "WAL-mode File Format", sqlite.org/walformat.html), whose ``iChange`` grows with every commit.
_WAL_HEADER_BYTES = 48


def _open_wal_index(path, con: sqlite3.Connection):
    """The database's WAL index (``<file>-shm``) opened read-only and unbuffered, or None when
    the database is not in WAL mode. ``con`` stays open meanwhile, so SQLite keeps the file;
    the file closes with its reader (garbage collection, or an error below)."""
    if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        return None
    try:
        return open(f"{path}-shm", "rb", buffering=0)  # noqa: SIM115 - kept open with the reader
    except OSError:
        return None


def _wal_header(shm) -> bytes | None:
    """The WAL index header now (``pread``: never a signal if the file shrinks), or None."""
    if shm is None:
        return None
    header = os.pread(shm.fileno(), _WAL_HEADER_BYTES, 0)
    return header if len(header) == _WAL_HEADER_BYTES else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class StationStore(RegistryFile):
    """Station reads and writes of a registry (a mixin of :class:`planner.registry.Registry`)."""

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
        # changes whenever another connection (any process) commits; the counter is read
        # again only then. Cheaper still, the header of the WAL index (the ``-shm`` file)
        # changes with every commit of any connection (its ``iChange`` counter): while its
        # first bytes are as they were at the last check, nothing was committed since.
        reader = self._reader
        con = getattr(reader, "con", None)
        try:
            if con is None:
                con = reader.con = self._connect()
                reader.version = reader.header = None
                reader.shm = _open_wal_index(self.path, con)
            header = _wal_header(reader.shm)
            if header is not None and header == reader.header:
                return reader.generation
            version = con.execute("PRAGMA data_version").fetchone()[0]
            if version != reader.version:
                reader.generation = int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
                reader.version = version
            reader.header = header  # read before the check: a commit in between shows next time
            return reader.generation
        except (sqlite3.Error, OSError) as exc:
            reader.con = None
            if con is not None:
                con.close()
            shm, reader.shm = getattr(reader, "shm", None), None
            if shm is not None:
                shm.close()
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
            at = now_iso()
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
        clean = validate_station(record_to_wgs84(record, coords))
        with self.transaction(write=True) as con:
            if con.execute("SELECT 1 FROM stations WHERE id = ?", (clean["id"],)).fetchone():
                rule = f"id {clean['id']!r} already exists; choose another id"
                raise InputError(f"cannot add station: {rule}", fields={"id": rule},
                                 fields_zh={"id": f"编号 {clean['id']!r} 已存在；请换一个编号"})
            self._insert(con, clean, version=1, actor=actor, action="add", at=now_iso())
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
            raise InputError(
                "changes must be a JSON object naming at least one field, e.g. {\"hours\": \"24h\"}",
                fields={"changes": "give at least one field to change"},
                fields_zh={"changes": "请至少提供一个要修改的字段"})
        fixed = {}
        if "id" in changes and changes["id"] != station_id:
            fixed["id"] = ("id cannot be changed; add a new station and retire this one",
                           "编号不可修改；请新增站点并停用此站点")
        if "version" in changes and changes["version"] != version:
            fixed["version"] = (f"version {changes['version']!r} in the body differs from expected_version "
                                f"{version}; send the version you edited as expected_version (If-Match)",
                                f"请求体中的版本 {changes['version']!r} 与 If-Match 版本 {version} 不一致")
        if fixed:
            raise InputError("invalid change: " + "; ".join(en for en, _ in fixed.values()),
                             fields={k: en for k, (en, _) in fixed.items()},
                             fields_zh={k: zh for k, (_, zh) in fixed.items()})
        body = record_to_wgs84({k: v for k, v in changes.items() if k not in ("id", "version")}, coords)
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
            at = now_iso()
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
        clean = _validate_many(records, labels=labels, partial=partial)
        summary = {"added": 0, "updated": 0, "unchanged": 0}
        problems = Problems()
        with self.transaction(write=True) as con:
            at = now_iso()
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
                raise problems.summary("invalid stations", done="written")
            if summary["added"] or summary["updated"]:
                self._bump_generation(con)
        return summary


def _check_actor(actor: object) -> str:
    if isinstance(actor, str) and actor.strip() and len(actor.strip()) <= 64:
        return actor.strip()
    raise InputError(f"actor must be a user name of 1-64 characters; got {actor!r}",
                     fields={"actor": "actor must be a user name of 1-64 characters"},
                     fields_zh={"actor": "操作人须为 1-64 个字符的用户名"})


def _check_version(version: object) -> int:
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    if isinstance(version, str) and version.strip().strip('"').isdigit():
        return _check_version(int(version.strip().strip('"')))
    rule = f"expected_version must be the whole number version you edited (1 or more); got {version!r}"
    raise InputError(rule, fields={"version": rule}, fields_zh={"version": f"版本号须为正整数；收到 {version!r}"})


def _validate_many(records: Iterable[Mapping[str, Any]], *, labels: Iterable[str] | None = None,
                   partial: bool = False) -> list[tuple[str, dict]]:
    """:func:`planner.stations.validate_many` of records labelled by ``labels`` (default
    ``"record N"``)."""
    names = iter(labels) if labels is not None else iter(())
    items = ((next(names, f"record {i}"), record) for i, record in enumerate(records, start=1))
    return validate_many(items, partial=partial, head="invalid stations", done="written")


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
