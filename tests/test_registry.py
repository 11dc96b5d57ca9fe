"""Station registry: CRUD, versions, audit, concurrency, file checks, users and tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading

import pytest

from planner.coords import wgs84_to_gcj02
from planner.errors import ConflictError, InputError, NotFoundError, RegistryError
from planner.registry import APPLICATION_ID, SCHEMA_VERSION, Registry


def make_record(i: int = 1, **overrides) -> dict:
    record = {
        "id": f"MY-T-{i:02d}",
        "name": f"DEMO-司机之家-{i:02d}（示例）",
        "lon": 104.70 + 0.01 * i,
        "lat": 31.50 + 0.01 * i,
        "county": "510704",
        "kind": "service_area",
        "amenities": {"parking": True, "toilet": True},
        "charging": {"bays": [{"count": 2, "power_kw": 600}]},
        "hours": "24h",
        "parking_bays": 40,
        "data_status": "illustrative",
        "source": "illustrative: test fixture",
        "as_of": "2025-10-16",
    }
    record.update(overrides)
    return record


@pytest.fixture
def reg(tmp_path):
    registry = Registry(tmp_path / "registry.sqlite", create=True)
    assert registry.seed([make_record(i) for i in (1, 2, 3)], actor="seed") == 3
    return registry


def snapshot(registry: Registry) -> tuple:
    stations = registry.list_stations(include_retired=True)
    return stations, registry.generation(), [registry.history(s["id"]) for s in stations]


# ------------------------------------------------------------------ CRUD
def test_seed_list_get(reg):
    stations = reg.list_stations()
    assert [s["id"] for s in stations] == ["MY-T-01", "MY-T-02", "MY-T-03"]
    s = reg.get("MY-T-02")
    assert s["version"] == 1 and s["county_name"] == "游仙区"
    assert s["charging"]["total_kw"] == 1200.0
    assert reg.seed([make_record(9)]) == 0  # only when empty
    assert reg.count() == 3
    with pytest.raises(NotFoundError, match="MY-NOPE"):
        reg.get("MY-NOPE")


def test_update_bumps_version_merges_and_audits(reg):
    before = reg.get("MY-T-01")
    gen = reg.generation()
    after = reg.update("MY-T-01", {"amenities": {"shower": True}, "hours": "06:00-22:00"},
                       expected_version=1, actor="alice")
    assert after["version"] == 2
    assert after["amenities"]["shower"] is True and after["amenities"]["parking"] is True
    assert reg.get("MY-T-01") == after
    assert reg.generation() > gen
    latest = reg.history("MY-T-01")[0]
    assert latest["version"] == 2 and latest["actor"] == "alice" and latest["action"] == "update"
    assert latest["changes"] == {
        "amenities.shower": {"before": False, "after": True},
        "hours": {"before": before["hours"], "after": "06:00-22:00"},
    }
    at = dt.datetime.fromisoformat(latest["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - at).total_seconds()) < 60


def test_history_is_newest_first(reg):
    reg.update("MY-T-01", {"parking_bays": 50}, expected_version=1, actor="a")
    reg.update("MY-T-01", {"parking_bays": 60}, expected_version=2, actor="b")
    history = reg.history("MY-T-01")
    assert [h["version"] for h in history] == [3, 2, 1]
    assert [h["action"] for h in history] == ["update", "update", "seed"]
    assert history[0]["changes"] == {"parking_bays": {"before": 50, "after": 60}}
    assert history[2]["changes"]["id"] == {"before": None, "after": "MY-T-01"}
    with pytest.raises(NotFoundError):
        reg.history("MY-NOPE")


def test_moving_a_station_takes_lon_and_lat(reg):
    moved = reg.update("MY-T-01", {"lon": 104.76, "lat": 31.46}, expected_version=1, actor="a")
    assert (moved["lon"], moved["lat"]) == (104.76, 31.46)


def test_update_with_gcj02_coordinates_is_converted(reg):
    g_lon, g_lat = wgs84_to_gcj02(104.76, 31.46)
    moved = reg.update("MY-T-01", {"lon": g_lon, "lat": g_lat}, expected_version=1, actor="a", coords="gcj02")
    assert moved["lon"] == pytest.approx(104.76, abs=1e-6) and moved["lat"] == pytest.approx(31.46, abs=1e-6)
    assert moved["coord_sys"] == "gcj02"


def test_an_unknown_coordinate_system_is_refused_not_stored_as_wgs84(reg):
    g_lon, g_lat = wgs84_to_gcj02(104.76, 31.46)
    with pytest.raises(InputError) as info:
        reg.update("MY-T-01", {"lon": g_lon, "lat": g_lat}, expected_version=1, actor="a", coords="amap")
    assert set(info.value.fields) == {"coords"} and info.value.fields_zh["coords"]
    assert reg.get("MY-T-01")["version"] == 1  # nothing written


def test_coordinate_system_names_are_normalised_before_they_are_recorded(reg):
    g_lon, g_lat = wgs84_to_gcj02(104.76, 31.46)
    moved = reg.update("MY-T-01", {"lon": g_lon, "lat": g_lat}, expected_version=1, actor="a", coords="GCJ-02")
    assert moved["coord_sys"] == "gcj02" and moved["lon"] == pytest.approx(104.76, abs=1e-6)


def test_echoed_record_with_one_change_is_accepted(reg):
    body = {**reg.get("MY-T-01"), "hours": "07:00-23:00"}  # id, version, county_name echoed back
    updated = reg.update("MY-T-01", body, expected_version=1, actor="a")
    assert updated["version"] == 2
    assert reg.history("MY-T-01")[0]["changes"] == {"hours": {"before": "24h", "after": "07:00-23:00"}}
    with pytest.raises(InputError) as info:
        reg.update("MY-T-01", {**updated, "county_name": "江油市"}, expected_version=2, actor="a")
    assert set(info.value.fields) == {"county_name"}


def test_no_op_update_keeps_the_version(reg):
    same = reg.update("MY-T-01", {"hours": "24h"}, expected_version=1, actor="a")
    assert same["version"] == 1 and len(reg.history("MY-T-01")) == 1


def test_add_and_duplicate_id(reg):
    added = reg.add(make_record(7), actor="admin")
    assert added["version"] == 1 and reg.get("MY-T-07")["name"] == added["name"]
    assert reg.history("MY-T-07")[0]["action"] == "add"
    before = snapshot(reg)
    with pytest.raises(InputError, match="already exists") as info:
        reg.add(make_record(7), actor="admin")
    assert set(info.value.fields) == {"id"}
    assert snapshot(reg) == before


def test_retire_hides_from_list_and_is_audited(reg):
    retired = reg.retire("MY-T-02", expected_version=1, actor="admin")
    assert retired["status"] == "retired" and retired["version"] == 2
    assert "MY-T-02" not in [s["id"] for s in reg.list_stations()]
    assert "MY-T-02" in [s["id"] for s in reg.list_stations(include_retired=True)]
    assert reg.get("MY-T-02")["status"] == "retired"
    entry = reg.history("MY-T-02")[0]
    assert entry["action"] == "retire" and entry["changes"] == {"status": {"before": "open", "after": "retired"}}
    with pytest.raises(ConflictError):
        reg.retire("MY-T-02", expected_version=1, actor="admin")


# ------------------------------------------------------------------ failed writes change nothing
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amenities": {"sauna": True}}, "amenities"),
        ({"lon": 120.0, "lat": 31.5}, "lon"),
        ({"parking_bays": -1}, "parking_bays"),
        ({"hours": "late"}, "hours"),
        ({"id": "MY-OTHER"}, "id"),
        ({"version": 5}, "version"),
        ({}, "changes"),
    ],
)
def test_invalid_update_changes_nothing(reg, changes, field):
    before = snapshot(reg)
    with pytest.raises(InputError) as info:
        reg.update("MY-T-01", changes, expected_version=1, actor="a")
    assert field in info.value.fields
    assert info.value.fields_zh.keys() == info.value.fields.keys()
    assert snapshot(reg) == before


def test_stale_version_conflicts_with_current_record(reg):
    reg.update("MY-T-01", {"parking_bays": 41}, expected_version=1, actor="alice")
    before = snapshot(reg)
    with pytest.raises(ConflictError, match="version 1, it is now version 2") as info:
        reg.update("MY-T-01", {"parking_bays": 99}, expected_version=1, actor="bob")
    assert info.value.current["parking_bays"] == 41 and info.value.current["version"] == 2
    assert snapshot(reg) == before


def test_bad_arguments(reg):
    with pytest.raises(NotFoundError):
        reg.update("MY-NOPE", {"hours": "24h"}, expected_version=1, actor="a")
    with pytest.raises(InputError, match="expected_version"):
        reg.update("MY-T-01", {"hours": "24h"}, expected_version=0, actor="a")
    with pytest.raises(InputError, match="actor"):
        reg.update("MY-T-01", {"hours": "24h"}, expected_version=1, actor="")


# ------------------------------------------------------------------ concurrency
def test_two_concurrent_updates_same_version_one_wins(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path, create=True).seed([make_record(1)])
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def worker(name: str, bays: int) -> None:
        registry = Registry(path)  # its own object and connections
        barrier.wait()
        try:
            results[name] = registry.update("MY-T-01", {"parking_bays": bays}, expected_version=1, actor=name)
        except ConflictError as exc:
            results[name] = exc

    threads = [threading.Thread(target=worker, args=(n, b)) for n, b in (("alice", 11), ("bob", 22))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    conflicts = [r for r in results.values() if isinstance(r, ConflictError)]
    wins = [r for r in results.values() if isinstance(r, dict)]
    assert len(conflicts) == 1 and len(wins) == 1
    stored = Registry(path).get("MY-T-01")
    assert stored["version"] == 2 and stored["parking_bays"] == wins[0]["parking_bays"]
    assert conflicts[0].current["parking_bays"] == wins[0]["parking_bays"]
    updates = [h for h in Registry(path).history("MY-T-01") if h["action"] == "update"]
    assert len(updates) == 1


def test_concurrent_writers_with_retry_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path, create=True).seed([make_record(1, daily_trucks=0)])
    n_threads, n_increments = 4, 8

    def worker() -> None:
        registry = Registry(path)
        for _ in range(n_increments):
            while True:
                current = registry.get("MY-T-01")
                try:
                    registry.update("MY-T-01", {"daily_trucks": current["daily_trucks"] + 1},
                                    expected_version=current["version"], actor="w")
                    break
                except ConflictError:
                    continue

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stored = Registry(path).get("MY-T-01")
    assert stored["daily_trucks"] == n_threads * n_increments
    assert stored["version"] == 1 + n_threads * n_increments
    assert len(Registry(path).history("MY-T-01")) == 1 + n_threads * n_increments


# ------------------------------------------------------------------ import (all or nothing)
def test_import_upserts_in_one_transaction(reg):
    changed = make_record(1, parking_bays=77)
    summary = reg.import_stations([changed, make_record(2), make_record(8)], actor="importer")
    assert summary == {"added": 1, "updated": 1, "unchanged": 1}
    assert reg.get("MY-T-01")["parking_bays"] == 77 and reg.get("MY-T-01")["version"] == 2
    assert reg.get("MY-T-08")["version"] == 1
    assert reg.history("MY-T-01")[0]["action"] == "import"
    assert reg.history("MY-T-02")[0]["action"] == "seed"


@pytest.mark.parametrize(
    "bad",
    [
        [make_record(1, parking_bays=5), make_record(9), make_record(10, lon=999)],
        [make_record(9), make_record(9, name="again")],
    ],
)
def test_failed_import_changes_nothing(reg, bad):
    before = snapshot(reg)
    with pytest.raises(InputError, match="nothing was written") as info:
        reg.import_stations(bad, actor="importer")
    assert any(key.startswith("record ") for key in info.value.fields)
    assert snapshot(reg) == before


def test_failed_seed_writes_nothing(tmp_path):
    registry = Registry(tmp_path / "r.sqlite", create=True)
    with pytest.raises(InputError):
        registry.seed([make_record(1), make_record(2, kind="hotel")])
    assert registry.list_stations(include_retired=True) == [] and registry.generation() == 0


# ------------------------------------------------------------------ the file
def test_new_file_is_a_wal_registry_with_schema_version(tmp_path):
    path = tmp_path / "sub" / "r.sqlite"
    Registry(path, create=True)
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    finally:
        con.close()
    Registry(path)  # reopens without create


def test_default_path_comes_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("YIZHAN_DB", str(tmp_path / "env.sqlite"))
    registry = Registry(create=True)
    assert registry.path == tmp_path / "env.sqlite" and registry.path.exists()


def test_missing_file_is_not_created(tmp_path):
    path = tmp_path / "missing.sqlite"
    with pytest.raises(RegistryError, match="init-db"):
        Registry(path)
    assert not path.exists()


def test_garbage_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    for create in (False, True):
        with pytest.raises(RegistryError, match="not a SQLite database.*init-db"):
            Registry(path, create=create)
    assert path.read_bytes() == garbage


def test_damaged_sqlite_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path, create=True).seed([make_record(1)])
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the header
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="damaged|not a Yizhan registry"):
        Registry(path, create=True)
    assert path.read_bytes() == bytes(data)


def test_other_sqlite_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (n INTEGER)")
    con.execute("INSERT INTO invoices VALUES (42)")
    con.commit()
    con.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for create in (False, True):
        with pytest.raises(RegistryError, match="not a Yizhan registry.*invoices"):
            Registry(path, create=create)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_empty_sqlite_database_is_initialised_only_with_create(tmp_path):
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    path.touch()
    with pytest.raises(RegistryError):
        Registry(path)
    Registry(path, create=True).seed([make_record(1)])
    assert Registry(path).count() == 1


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path, create=True)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(RegistryError, match="newer"):
        Registry(path)


def test_folder_is_refused(tmp_path):
    with pytest.raises(RegistryError, match="folder"):
        Registry(tmp_path, create=True)


def test_removed_file_is_not_recreated_silently(tmp_path):
    path = tmp_path / "r.sqlite"
    registry = Registry(path, create=True)
    path.unlink()
    with pytest.raises(RegistryError):
        registry.list_stations()
    assert not path.exists()


# ------------------------------------------------------------------ users and tokens
def test_users_and_passwords(reg):
    user = reg.add_user("alice", role="staff", password="correct horse")
    assert user["name"] == "alice" and user["role"] == "staff"
    assert reg.authenticate("alice", "correct horse")["role"] == "staff"
    assert reg.authenticate("alice", "wrong") is None
    assert reg.authenticate("nobody", "correct horse") is None
    assert reg.list_users() == [user]
    con = sqlite3.connect(reg.path)
    (stored,) = con.execute("SELECT password_hash FROM users WHERE name = 'alice'").fetchone()
    con.close()
    assert "correct horse" not in stored and stored.split(":")[0] in ("scrypt", "pbkdf2")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "bob", "role": "root", "password": "pw-long-enough"}, "role"),
        ({"name": "bob", "role": "staff", "password": ""}, "password"),
        ({"name": "bad name!", "role": "staff", "password": "pw-long-enough"}, "name"),
    ],
)
def test_invalid_users_are_refused(reg, kwargs, field):
    name = kwargs.pop("name")
    with pytest.raises(InputError) as info:
        reg.add_user(name, **kwargs)
    assert field in info.value.fields
    assert reg.list_users() == []


def test_duplicate_user(reg):
    reg.add_user("alice", role="admin", password="pw-long-enough")
    with pytest.raises(InputError, match="already exists"):
        reg.add_user("alice", role="staff", password="other-password")
    assert reg.authenticate("alice", "pw-long-enough")["role"] == "admin"


def test_tokens_are_stored_as_hashes(reg):
    reg.add_user("alice", role="admin", password="pw-long-enough")
    token = reg.issue_token("alice")
    assert len(token) >= 40
    assert reg.user_for_token(token)["name"] == "alice"
    assert reg.user_for_token(token + "x") is None
    assert reg.user_for_token("") is None
    con = sqlite3.connect(reg.path)
    rows = con.execute("SELECT token_hash FROM tokens").fetchall()
    con.close()
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),)]
    with pytest.raises(NotFoundError):
        reg.issue_token("nobody")
    reg.set_password("alice", "new-password-9")
    assert reg.user_for_token(token) is None  # a password change revokes tokens
    assert reg.authenticate("alice", "new-password-9") is not None


def test_user_writes_do_not_change_station_generation(reg):
    gen = reg.generation()
    reg.add_user("alice", role="staff", password="pw-long-enough")
    reg.issue_token("alice")
    assert reg.generation() == gen


def test_generation_sees_commits_of_other_connections_and_processes(reg, tmp_path):
    """The cached counter (``PRAGMA data_version``) follows writes made through another
    Registry object, a raw connection and another process, each read once."""
    import multiprocessing

    gen = reg.generation()
    assert reg.generation() == gen  # asked again with nothing committed
    other = Registry(reg.path)
    other.update("MY-T-01", {"hours": "06:00-22:00"}, expected_version=1, actor="alice")
    assert reg.generation() == other.generation() > gen
    gen = reg.generation()
    with sqlite3.connect(reg.path, isolation_level=None) as con:
        con.execute("UPDATE meta SET value = value + 5 WHERE key = 'generation'")
    assert reg.generation() == gen + 5
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pool.apply(_bump_generation, (str(reg.path),))
    assert reg.generation() == gen + 6
    seen = []
    thread = threading.Thread(target=lambda: seen.append(reg.generation()))  # its own reader connection
    thread.start()
    thread.join()
    assert seen == [gen + 6]


def test_generation_asks_sqlite_only_after_a_commit(reg):
    """Between commits the counter comes from the WAL index header, with no query; every
    commit (another connection's, a checkpoint that restarts the WAL, a rollback's no-op)
    is noticed on the next call."""
    statements: list[str] = []
    gen = reg.generation()
    reg._reader.con.set_trace_callback(statements.append)
    for _ in range(5):
        assert reg.generation() == gen
    assert statements == []  # unchanged header: answered without SQLite
    with sqlite3.connect(reg.path, isolation_level=None) as con:
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        assert reg.generation() == gen + 1
        assert statements, "a commit must send the reader back to SQLite"
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")  # a fresh WAL
        assert reg.generation() == gen + 2
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE meta SET value = value + 100 WHERE key = 'generation'")
        con.execute("ROLLBACK")
    assert reg.generation() == gen + 2
    statements.clear()
    assert reg.generation() == gen + 2 and statements == []


def _bump_generation(path: str) -> None:
    with sqlite3.connect(path, isolation_level=None) as con:
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")


def _open_registry(path: str) -> str:
    from planner.registry import Registry as R

    return repr(len(R(path, create=True).list_users()))


def test_processes_creating_one_registry_at_once_all_succeed(tmp_path):
    """gunicorn workers start together: none may see a half-made file (it appears complete)."""
    from concurrent.futures import ProcessPoolExecutor

    for attempt in range(3):
        path = str(tmp_path / f"race-{attempt}.sqlite")
        with ProcessPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(_open_registry, [path] * 8))
        assert results == ["0"] * 8
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".race-{attempt}")) == []


# ------------------------------------------------------------------ accounts from the CLI (issues 9 and 11)
def _users_cli(db, *argv, stdin: str | None = None):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "planner", "--db", str(db), "users", *argv], input=stdin,
                          text=True, capture_output=True, cwd=root, timeout=120)


def test_cli_passwd_token_rotate_revoke(tmp_path):
    db = tmp_path / "u.sqlite"
    weak = _users_cli(db, "add", "alice", "--role", "staff", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "at least 10 characters" in weak.stderr and "Traceback" not in weak.stderr
    assert _users_cli(db, "add", "alice", "--role", "staff", "--password-stdin", stdin="first-password\n").returncode == 0
    reg = Registry(db)
    sid = reg.open_session("alice")
    token = _users_cli(db, "token", "alice", "--days", "7").stdout.strip()
    assert reg.user_for_token(token)["name"] == "alice"
    listed = json.loads(_users_cli(db, "tokens", "alice", "--json").stdout)
    assert len(listed) == 1 and listed[0]["expired"] is False and token not in json.dumps(listed)
    assert listed[0]["id"] == hashlib.sha256(token.encode()).hexdigest()[:8]
    done = _users_cli(db, "passwd", "alice", "--password-stdin", stdin="second-password\n")
    assert done.returncode == 0, done.stderr
    assert reg.authenticate("alice", "second-password") and reg.authenticate("alice", "first-password") is None
    assert reg.session_user(sid) is None and reg.user_for_token(token) is None  # both ended
    same = _users_cli(db, "passwd", "alice", "--password-stdin", stdin="alice\n")
    assert same.returncode == 2 and "password" in same.stderr
    nobody = _users_cli(db, "passwd", "nobody", "--password-stdin", stdin="long-enough-password\n")
    assert nobody.returncode == 2 and "no user named" in nobody.stderr
    first = _users_cli(db, "token", "alice").stdout.strip()
    second = _users_cli(db, "rotate", "alice", "--days", "30").stdout.strip()
    assert reg.user_for_token(first) is None and reg.user_for_token(second)["name"] == "alice"
    revoked = _users_cli(db, "revoke", "alice")
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout
    assert reg.user_for_token(second) is None
    bad_days = _users_cli(db, "token", "alice", "--days", "0")
    assert bad_days.returncode == 2 and "days" in bad_days.stderr
    assert _users_cli(db, "role", "alice", "--role", "admin").returncode == 0
    assert reg.list_users()[0]["role"] == "admin"
    assert _users_cli(db, "delete", "alice").returncode == 0 and reg.list_users() == []


def test_version_1_registry_is_upgraded_in_place(tmp_path):
    """A registry made before sessions and token expiry: opened, upgraded, nothing lost."""
    path = tmp_path / "v1.sqlite"
    reg = Registry(path, create=True)
    reg.add_user("alice", role="staff", password="a long enough one")
    token = reg.issue_token("alice")
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE sessions; DROP TABLE login_failures; "
                      "CREATE TABLE t2 AS SELECT token_hash, user_name, created_at FROM tokens; DROP TABLE tokens; "
                      "CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES users (name) "
                      "ON DELETE CASCADE, created_at TEXT NOT NULL); INSERT INTO tokens SELECT * FROM t2; DROP TABLE t2; "
                      "PRAGMA user_version = 1;")
    con.close()
    reg = Registry(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
    assert reg.user_for_token(token)["name"] == "alice"  # kept, now with an expiry
    assert reg.list_tokens("alice")[0]["expires_at"]
    assert reg.session_user(reg.open_session("alice"))["name"] == "alice"


def test_kill_9_during_writes_loses_no_acknowledged_write(tmp_path):
    """A writer process killed with SIGKILL mid-stream: every write it acknowledged is
    stored, the file passes integrity_check and still opens as a registry."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "k.sqlite"
    Registry(path, create=True).add_user("alice", role="staff", password="a long enough one")
    script = (
        "import sys\n"
        "from planner.registry import Registry\n"
        "from planner.region import load_region\n"
        f"reg = Registry({str(path)!r})\n"
        "reg.seed(load_region().stations)\n"
        "v = reg.get('MY-DH-01')['version']\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    v = reg.update('MY-DH-01', {'notes': f'write {i}'}, expected_version=v, actor='alice')['version']\n"
        "    reg.open_session('alice')\n"
        "    print(i, v, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(root)))
    acknowledged = []
    deadline = time.monotonic() + 120
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(tuple(map(int, line.split())))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(acknowledged) >= 150, "the writer did not get going"
    last_i, last_v = acknowledged[-1]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    stored = Registry(path).get("MY-DH-01")
    assert stored["version"] >= last_v  # the kill may land after a commit, before its print
    history = {h["version"]: h for h in Registry(path).history("MY-DH-01")}
    for i, v in acknowledged:
        assert history[v]["changes"]["notes"]["after"] == f"write {i}"
