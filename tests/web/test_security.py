"""Security and data safety (issue 9): each test here failed on the code before the fix.

Rights checks see normalised values; sessions and tokens can be ended; logins are
throttled across worker processes; passwords follow a policy; anonymous readers never see
staff names; CSV cells cannot run formulas; ``next=`` never leaves the site; hostile input
never gives a 500; the registry file is private; staff pages are never cached.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import stat
import time

import pytest

from planner.registry import Registry
from planner.workspace import Workspace
from tests.web.conftest import make_app
from tests.web.test_pages import csrf_token, login

RETIRED_SPELLINGS = ["retired ", "\tretired", "\nretired", "retired\u3000", "\u3000retired", "RETIRED",
                     "Retired", "\uff52\uff45\uff54\uff49\uff52\uff45\uff44", "retired\u200b", "\ufeffretired"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def registry_of(app) -> Registry:
    return app.extensions["yizhan"].workspace.registry


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


# ------------------------------------------------------------------ 2. one normalisation
@pytest.mark.parametrize("spelling", RETIRED_SPELLINGS)
def test_staff_cannot_retire_with_any_spelling(client, app, tokens, spelling):
    r = client.patch("/api/stations/MY-DH-05", json={"status": spelling},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 403, r.get_json()
    assert error_of(r)["code"] == "forbidden"
    stored = registry_of(app).get("MY-DH-05")
    assert stored["status"] == "open" and stored["version"] == 1


def test_staff_cannot_retire_inside_a_larger_change(client, app, tokens):
    r = client.patch("/api/stations/MY-DH-05", json={"status": " retired", "hours": "24h", "phone": "12328"},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 403
    assert registry_of(app).get("MY-DH-05")["status"] == "open"


@pytest.mark.parametrize("spelling", ["retired\u3000", "\tRETIRED "])
def test_admin_retirement_is_audited_as_retire_whatever_the_spelling(client, app, tokens, spelling):
    r = client.patch("/api/stations/MY-DH-05", json={"status": spelling},
                     headers={"If-Match": '"1"', **bearer(tokens["admin"])})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["properties"]["status"] == "retired"
    entry = registry_of(app).history("MY-DH-05")[0]
    assert entry["action"] == "retire" and entry["changes"]["status"] == {"before": "open", "after": "retired"}


def test_values_are_stored_normalised(client, app, tokens):
    r = client.patch("/api/stations/MY-DH-05", json={"name": "\u3000 绵阳\u200b ", "hours": "\uff12\uff14h",
                                                     "kind": " Service_Area\t"},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 200, r.get_json()
    stored = registry_of(app).get("MY-DH-05")
    assert (stored["name"], stored["hours"], stored["kind"]) == ("绵阳", "24h", "service_area")


# ------------------------------------------------------------------ 3. sessions
def _copy_session(src, dst):
    cookie = src.get_cookie("session")
    assert cookie is not None
    dst.set_cookie("session", cookie.value)


def _can_edit(client) -> bool:
    """Whether this client's session still works for a staff page and an API write."""
    page = client.get("/admin/stations/MY-DH-04")
    return page.status_code == 200


@pytest.mark.parametrize("how", ["logout", "password", "role", "delete"])
def test_copied_session_cookie_dies_with_the_session(app, users, how):
    victim, thief = app.test_client(), app.test_client()
    name, password = users["admin"]
    assert login(victim, name, password).status_code == 302
    _copy_session(victim, thief)
    assert _can_edit(thief)
    registry = registry_of(app)
    if how == "logout":
        victim.post("/admin/logout", data={"csrf_token": csrf_token(victim, "/admin/")})
    elif how == "password":
        registry.set_password(name, "a-brand-new-password")
    elif how == "role":
        registry.set_role(name, "staff")
    else:
        registry.delete_user(name)
    r = thief.get("/admin/stations/MY-DH-04")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    token = csrf_token(thief, "/admin/login")
    api = thief.patch("/api/stations/MY-DH-04", json={"hours": "24h"},
                      headers={"If-Match": '"1"', "X-CSRFToken": token})
    assert api.status_code == 401


def test_role_is_read_on_every_request(app, users):
    """A demoted admin's new session has the staff role, and no old session keeps admin rights."""
    client = app.test_client()
    name, password = users["admin"]
    login(client, name, password)
    assert "retire" in client.get("/admin/stations/MY-DH-07").get_data(as_text=True)
    con = sqlite3.connect(registry_of(app).path)  # a role changed behind the app's back
    con.execute("UPDATE users SET role = 'staff' WHERE name = ?", (name,))
    con.commit()
    con.close()
    r = client.post("/admin/stations/MY-DH-07/retire",
                    data={"version": "1", "csrf_token": csrf_token(client, "/admin/")})
    assert r.status_code == 403
    assert registry_of(app).get("MY-DH-07")["status"] == "open"


def test_idle_and_old_sessions_end(app, users):
    client = app.test_client()
    login(client, *users["staff"])
    assert _can_edit(client)
    con = sqlite3.connect(registry_of(app).path)
    con.execute("UPDATE sessions SET last_seen = last_seen - 13 * 3600")
    con.commit()
    assert not _can_edit(client)
    login(client, *users["staff"])
    assert _can_edit(client)
    con.execute("UPDATE sessions SET created = created - 8 * 86400, last_seen = ?", (time.time(),))
    con.commit()
    con.close()
    assert not _can_edit(client)


def test_session_cookie_holds_no_role(app, users):
    from flask.sessions import SecureCookieSessionInterface

    client = app.test_client()
    login(client, *users["admin"])
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(client.get_cookie("session").value)
    assert set(data) <= {"sid", "csrf_token"} and "user" not in data


# ------------------------------------------------------------------ 4. throttling, passwords, history
def test_many_wrong_passwords_then_the_right_one_is_refused(app, users):
    client = app.test_client()
    name, password = users["staff"]
    statuses = [login(client, name, f"wrong-{i}").status_code for i in range(30)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = login(client, name, password)
    assert right.status_code == 429
    assert "登录失败次数过多" in right.get_data(as_text=True)
    assert int(right.headers["Retry-After"]) >= 1
    # English too
    client.get("/admin/login?lang=en")
    assert "Too many failed logins" in login(client, name, password).get_data(as_text=True)
    # the wait ends: the right password works again and clears the count
    con = sqlite3.connect(registry_of(app).path)
    con.execute("UPDATE login_failures SET locked_until = 0")
    con.commit()
    con.close()
    assert login(client, name, password).status_code == 302


def test_throttling_is_shared_by_worker_processes(fresh_workspace, users, app):
    """Two apps on one registry (as two gunicorn workers): failures on one count on the other."""
    other_ws = Workspace(db_path=fresh_workspace.db_path)
    other_ws.__dict__["region"] = fresh_workspace.region
    other_ws.__dict__["network"] = fresh_workspace.network
    other = make_app(other_ws, TILES=None)
    name, password = users["staff"]
    first, second = app.test_client(), other.test_client()
    for i in range(3):
        assert login(first, name, f"wrong-{i}").status_code == 401
        assert login(second, name, f"wrong-{i}").status_code in (401, 429)
    assert login(second, name, password).status_code == 429
    assert login(first, name, password).status_code == 429


def test_one_address_trying_many_names_is_throttled(app, users):
    client = app.test_client()
    statuses = [login(client, f"user{i}", "wrong-password").status_code for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert login(client, *users["staff"]).status_code == 429  # from this address, for a while


@pytest.mark.parametrize(
    ("password", "needle"),
    [("a", "at least 10"), ("   ", "at least 10"), (" " * 12, "only spaces"), ("password", "at least 10"),
     ("password123", "common"), ("Password123", "common"), ("alice-long-name", "user name"), ("", "empty")],
)
def test_password_policy(tmp_path, password, needle):
    registry = Registry(tmp_path / "r.sqlite", create=True)
    from planner.errors import InputError

    name = "alice-long-name" if needle == "user name" else "alice"
    with pytest.raises(InputError) as info:
        registry.add_user(name, role="staff", password=password)
    assert needle in info.value.fields["password"]
    assert info.value.fields_zh["password"]  # and in Chinese
    assert registry.list_users() == []
    registry.add_user(name, role="staff", password="a long enough one")
    with pytest.raises(InputError):
        registry.set_password(name, password)
    assert registry.authenticate(name, "a long enough one")


def test_anonymous_history_shows_roles_not_names(client, app, users, tokens):
    client.patch("/api/stations/MY-DH-06", json={"hours": "24h", "phone": "12328"},
                 headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    anonymous = client.get("/api/stations/MY-DH-06/history")
    assert anonymous.status_code == 200
    assert [e["actor"] for e in anonymous.get_json()] == ["staff", "system"]
    named = client.get("/api/stations/MY-DH-06/history", headers=bearer(tokens["admin"])).get_json()
    assert named[0]["actor"] == users["staff"][0]
    staff = app.test_client()
    login(staff, *users["admin"])
    assert staff.get("/api/stations/MY-DH-06/history").get_json()[0]["actor"] == users["staff"][0]
    bad_token = client.get("/api/stations/MY-DH-06/history", headers=bearer("forged"))
    assert [e["actor"] for e in bad_token.get_json()] == ["staff", "system"]


# ------------------------------------------------------------------ 5. tokens
def test_tokens_expire_and_can_be_revoked_and_rotated(client, app, users):
    registry = registry_of(app)
    name = users["staff"][0]
    short = registry.issue_token(name, days=1)
    assert registry.list_tokens(name)[0]["expires_at"] > registry.list_tokens(name)[0]["created_at"]
    ok = client.patch("/api/stations/MY-DH-04", json={"phone": "12328"}, headers={"If-Match": '"1"', **bearer(short)})
    assert ok.status_code == 200
    con = sqlite3.connect(registry.path)
    con.execute("UPDATE tokens SET expires_at = '2020-01-01T00:00:00.000+00:00'")
    con.commit()
    con.close()
    expired = client.patch("/api/stations/MY-DH-04", json={"phone": "12329"}, headers={"If-Match": '"2"', **bearer(short)})
    assert expired.status_code == 401 and "expired" in error_of(expired)["message"]
    assert registry.list_tokens(name)[0]["expired"] is True
    first = registry.issue_token(name)
    second = registry.rotate_token(name, days=30)
    assert registry.user_for_token(first) is None and registry.user_for_token(second)["name"] == name
    assert registry.revoke_tokens(name) == 1
    assert registry.user_for_token(second) is None


def test_default_token_lifetime_is_90_days(app, users):
    import datetime as dt

    registry = registry_of(app)
    registry.issue_token(users["staff"][0])
    row = registry.list_tokens(users["staff"][0])[0]
    created, expires = dt.datetime.fromisoformat(row["created_at"]), dt.datetime.fromisoformat(row["expires_at"])
    assert abs((expires - created).total_seconds() - 90 * 86400) < 5


# ------------------------------------------------------------------ 6. CSV formulas
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\uff1dHYPERLINK(1)"]


def _csv_cells(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_public_csv_download_neutralises_formulas(client, app, tokens):
    registry = registry_of(app)
    for i, text in enumerate(FORMULAS[:4], start=1):
        sid = f"MY-DH-{i:02d}"
        registry.update(sid, {"name": text, "address": FORMULAS[4 + i % 2]}, expected_version=1, actor="t")
    r = client.get("/planner/export/stations.csv")
    assert r.status_code == 200
    rows = {row["id"]: row for row in _csv_cells(r.data)}
    for i, text in enumerate(FORMULAS[:4], start=1):
        row = rows[f"MY-DH-{i:02d}"]
        assert row["name"] == "'" + text
        assert row["address"].startswith("'")
    for row in rows.values():  # numbers stay numbers
        float(row["lon"]), float(row["lat"])
        assert not row["lon"].startswith("'")


def test_cli_export_neutralises_and_import_restores(tmp_path, fresh_workspace):
    from planner.cli import main

    db = fresh_workspace.db_path
    fresh_workspace.registry.update("MY-DH-01", {"name": FORMULAS[0], "notes": FORMULAS[5]}, expected_version=1, actor="t")
    out = tmp_path / "s.csv"
    assert main(["--db", str(db), "export", "stations", "--out", str(out)]) == 0
    row = [r for r in _csv_cells(out.read_bytes()) if r["id"] == "MY-DH-01"][0]
    assert row["name"] == "'" + FORMULAS[0] and row["notes"] == "'" + FORMULAS[5]
    from planner.io import read_stations

    back = [r for r in read_stations(out) if r["id"] == "MY-DH-01"][0]
    assert back["name"] == FORMULAS[0] and back["notes"] == FORMULAS[5]


def test_layer_csv_exports_neutralise_formulas(tmp_path):
    import pandas as pd

    from planner.io import write_layers

    out = write_layers({"t": pd.DataFrame({"name": ["=1+2", "ok", "@x"], "n": [-1.5, 2.0, 3.0]})},
                       tmp_path / "t.csv")
    rows = _csv_cells(out.read_bytes())
    assert [r["name"] for r in rows] == ["'=1+2", "ok", "'@x"]
    assert [r["n"] for r in rows] == ["-1.5", "2.0", "3.0"]


def test_scenario_csv_download_has_no_live_formula(client):
    r = client.get("/planner/scenario.csv?method=kmeans&k=2")
    assert r.status_code == 200
    for row in csv.reader(io.StringIO(r.data.decode("utf-8-sig"))):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell


# ------------------------------------------------------------------ 7. redirects
@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/%09/evil.example", "/\t/evil.example", "/\\evil.example", "/\\/evil.example",
     "https://evil.example/", "/%0d%0aSet-Cookie:x=1", "/\r\nLocation: //evil.example", "/ /evil.example",
     "\x00/evil", "/\x7f/evil.example", "/\u3000/evil.example", "/\u2028/evil.example", "javascript:alert(1)",
     "/%5cevil.example", "%2F%2Fevil.example"],
)
def test_login_never_redirects_off_site(client, users, target):
    from urllib.parse import quote

    name, password = users["staff"]
    token = csrf_token(client, "/admin/login")
    # as sent by a browser: the value percent-encoded once (so %09 arrives as a tab)
    r = client.post("/admin/login?next=" + quote(target, safe="%"), data={"username": name, "password": password,
                                                                          "csrf_token": token})
    assert r.status_code == 302, r.status_code
    assert r.headers["Location"] == "/admin/"  # the station list, never the given target


def test_login_keeps_a_same_site_next(client, users):
    name, password = users["staff"]
    token = csrf_token(client, "/admin/login")
    r = client.post("/admin/login?next=/admin/stations/MY-DH-03%3Fq%3D1", data={"username": name, "password": password,
                                                                            "csrf_token": token})
    assert r.headers["Location"] == "/admin/stations/MY-DH-03?q=1"


# ------------------------------------------------------------------ 8. no 500 from hostile input
def _deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"If-Match": '"1"'}, '{"parking_bays": ' + "9" * 5000 + "}"),
        ({"If-Match": '"1"'}, '{"lon": ' + "9" * 400 + ', "lat": 31.5}'),
        ({"If-Match": '"1"'}, '{"charging": {"bays": [{"count": 1, "power_kw": 1' + "0" * 400 + "}]}}"),
        ({"If-Match": '"1"'}, '{"daily_trucks": 100000000000000000000000000000}'),
        ({"If-Match": '"1"'}, '{"notes": ' + _deep(100000) + "}"),
        ({"If-Match": '"1"'}, '{"notes": ' + _deep(50) + "}"),
        ({"If-Match": '"1"'}, '{"name": "\\ud800"}'),
        ({"If-Match": '"1"'}, '{"\\ud800": 1}'),
        ({"If-Match": '"1"'}, '{"status": "\\udfff"}'),
        ({"If-Match": '"1"'}, b'{"name": "\xff\xfe"}'),
        ({"If-Match": "\u00b2"}, '{"hours": "24h"}'),
        ({"If-Match": "1" * 5000}, '{"hours": "24h"}'),
        ({"If-Match": '"\u0663"'}, '{"hours": "24h"}'),
        ({"If-Match": '"1"'}, '{"amenities": {"shower": ' + "1" * 5000 + "}}"),
        ({"If-Match": '"1"'}, '{"as_of": "2031-01-01"}'),
        ({"If-Match": '"1"'}, '{"coord_sys": "gcj02", "lon": 1e999, "lat": 31.5}'),
    ],
)
def test_hostile_patch_bodies_are_400_not_500(client, tokens, headers, body):
    hdrs = {**bearer(tokens["staff"]), "Content-Type": "application/json"}
    hdrs.update({k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()})
    r = client.patch("/api/stations/MY-DH-04", data=body, headers=hdrs)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    error_of(r)


@pytest.mark.parametrize(
    "tamper",
    [
        {"orig": '{"charging": 5, "amenities": [1]}'},
        {"orig": '{"charging": {"bays": [[1]]}}'},
        {"orig": _deep(100000)},
        {"orig": '{"name": "\\ud800", "amenities": {}, "charging": {"bays": [], "swap": false}}'},
        {"version": "\u00b2"},
        {"version": "1" * 5000},
        {"coord_sys": "mars"},
        {"lon": "1" + "0" * 400, "lat": "31.5"},
        {"parking_bays": "9" * 5000},
        {"bay_count": "9" * 5000, "bay_kw": "1e400"},
        {"name": "\x00\x1b[31m"},
        {"as_of": "2099-12-31"},
    ],
)
def test_tampered_edit_forms_are_refused_not_500(app, users, tamper):
    from tests.web.test_pages import edit_form, post_form

    client = app.test_client()
    login(client, *users["staff"])
    data = edit_form(client, "MY-DH-08")
    data.update(tamper)
    r = post_form(client, "/admin/stations/MY-DH-08", data)
    assert r.status_code < 500, r.get_data(as_text=True)[:500]
    assert registry_of(app).get("MY-DH-08")["version"] == 1


def test_future_verification_date_is_refused_in_china_time(client, app, tokens):
    import datetime as dt
    from zoneinfo import ZoneInfo

    REGION_TZ = ZoneInfo("Asia/Shanghai")  # Mianyang's zone, written independently of the code under test
    tomorrow = (dt.datetime.now(REGION_TZ).date() + dt.timedelta(days=1)).isoformat()
    r = client.patch("/api/stations/MY-DH-04", json={"as_of": tomorrow},
                     headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert r.status_code == 400 and "as_of" in error_of(r)["fields"]
    today = dt.datetime.now(REGION_TZ).date().isoformat()
    ok = client.patch("/api/stations/MY-DH-04", json={"as_of": today},
                      headers={"If-Match": '"1"', **bearer(tokens["staff"])})
    assert ok.status_code == 200


# ------------------------------------------------------------------ 10. private files
def test_registry_and_wal_files_are_private(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        registry = Registry(tmp_path / "new.sqlite", create=True)
        registry.add_user("alice", role="staff", password="a long enough one")
        con = sqlite3.connect(registry.path)  # keep a connection so -wal/-shm exist
        con.execute("SELECT count(*) FROM users").fetchone()
        files = [p for p in tmp_path.iterdir() if p.name.startswith("new.sqlite")]
        assert {p.name for p in files} >= {"new.sqlite", "new.sqlite-wal", "new.sqlite-shm"}
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))
        con.close()
    finally:
        os.umask(old)


def test_an_old_world_readable_registry_is_tightened(tmp_path):
    import os

    path = tmp_path / "old.sqlite"
    Registry(path, create=True)
    os.chmod(path, 0o644)
    Registry(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ------------------------------------------------------------------ headers and cookies
def test_staff_pages_are_never_cached(client, users):
    login(client, *users["staff"])
    for path in ("/admin/", "/admin/stations/MY-DH-01", "/admin/stations/MY-DH-01/history", "/admin/login"):
        r = client.get(path)
        assert r.headers["Cache-Control"] == "no-store", path
    assert client.get("/api/stations/MY-DH-01/history").headers["Cache-Control"] == "no-store"
    anonymous = client.application.test_client()
    assert anonymous.get("/api/stations").headers["Cache-Control"] == "no-cache"  # public data may be cached


def test_secure_cookies_and_proxy_fix_are_configurable(fresh_workspace, monkeypatch, users):
    monkeypatch.setenv("YIZHAN_SECURE_COOKIES", "1")
    monkeypatch.setenv("YIZHAN_PROXY_FIX", "1")
    from app import create_app

    app = create_app({"TESTING": True, "WORKSPACE": fresh_workspace, "TILES": None})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    r = client.get("/admin/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in r.headers["Set-Cookie"]
    # the throttle counts the forwarded client address
    name, _ = users["staff"]
    for i in range(20):
        token = csrf_token(client, "/admin/login")
        client.post("/admin/login", data={"username": f"n{i}", "password": "wrong-password", "csrf_token": token},
                    headers={"X-Forwarded-For": "203.0.113.9"})
    con = sqlite3.connect(fresh_workspace.db_path)
    keys = {k for (k,) in con.execute("SELECT key FROM login_failures WHERE key LIKE 'ip:%'")}
    con.close()
    assert keys == {"ip:203.0.113.9"}


# ------------------------------------------------------------------ 9. slow clients
def test_slow_clients_do_not_stall_nearest_on_the_served_configuration(tmp_path):
    """gunicorn with gunicorn.conf.py (as `make run`), one worker to spare the CPU: four
    connections dripping their headers must not delay /api/nearest (the old 2-thread
    gthread setup answered none of these while they were open; bench/slowloris.py)."""
    import http.client
    import os
    import secrets
    import socket
    import subprocess
    import sys
    import threading
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, YIZHAN_DB=str(tmp_path / "r.sqlite"), YIZHAN_SECRET_KEY=secrets.token_hex(16),
               YIZHAN_TILES="none", WORKERS="1", PYTHONPATH=str(root), PORT=str(port), HOST="127.0.0.1")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "-c", str(root / "gunicorn.conf.py"), "app:create_app()"], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()

    def get(path: str, timeout: float) -> float:
        t0 = time.perf_counter()
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        con.request("GET", path)
        assert con.getresponse().status == 200
        con.close()
        return time.perf_counter() - t0

    def slow():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /api/nearest?lon=104.75&lat=31.55 HTTP/1.1\r\nHost: x\r\n")
            while not stop.wait(0.5):
                try:
                    sock.sendall(b"X")
                except OSError:
                    return

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get("/healthz", 2)
                break
            except (OSError, AssertionError):
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.5)
        get("/api/nearest?lon=104.75&lat=31.55&k=3", 60)  # warm
        drips = [threading.Thread(target=slow, daemon=True) for _ in range(4)]
        for t in drips:
            t.start()
        time.sleep(1.0)
        times = [get("/api/nearest?lon=104.75&lat=31.55&k=3", 10) for _ in range(5)]
        assert max(times) < 2.0, times
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)


def test_header_deadline_cuts_off_a_slow_client(tmp_path):
    """More slow clients than threads: each is cut off after the head deadline."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, YIZHAN_DB=str(tmp_path / "r.sqlite"), YIZHAN_TILES="none", WORKERS="1", THREADS="2",
               YIZHAN_HEADER_TIMEOUT_S="2", PYTHONPATH=str(root), PORT=str(port), HOST="127.0.0.1")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([str(gunicorn), "-c", str(root / "gunicorn.conf.py"), "app:create_app()"], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                    probe.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                    if b"200" in probe.recv(100):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.5)
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 8:
            try:
                sock.sendall(b"X")
                sock.settimeout(0.5)
                if sock.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        sock.close()
        assert closed and time.monotonic() - t0 < 5, "the slow client was not cut off after the 2 s deadline"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_writes_a_private_secret_key(tmp_path):
    """`make run`'s secret key file is created 0600 (never readable by others, not even briefly)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "Makefile", tmp_path / "Makefile")
    done = subprocess.run(["make", "instance/secret_key", f"BIN={Path(sys.executable).parent}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    key = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
