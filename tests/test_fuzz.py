"""Fuzzing every HTTP route and every CLI command with hostile input (hypothesis).

Bars: no 5xx and no traceback, ever; every refusal under ``/api`` (and ``/healthz``) in the
one error shape ``{"error": {"code", "message", "fields"?}}``; every CLI run ends with exit
0 or 2 (argparse's usage errors are 2 as well) and never lets an exception escape.

Inputs mix plausible values with the ones that broke things before: lone surrogates,
invalid UTF-8, ``²`` and other non-ASCII digits, integers of 400 and 5,000 digits, NaN and
infinities, JSON nested 100,000 levels deep, CR/LF and tabs, ``//`` paths, files that are
not what their suffix says. Each (route, method) and each command gets a bounded number of
examples (``MAX_EXAMPLES``; fewer for the solver-backed ones) so the file runs in minutes.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_EXAMPLES = 50
#: Routes and commands that run solvers or write big files: fewer examples.
HEAVY = {"/planner", "/planner/scenario.<fmt>", "/planner/report.html", "suggest", "export", "access",
         "coverage", "import-gps", "import-osm"}
HEAVY_EXAMPLES = 8
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# ---------------------------------------------------------------------- hostile values
HOSTILE = [
    "", " ", "\u3000", "\t", "\r\n", "\x00", "\ud800", "\udfff", "\u00b2", "\u0663", "\uff11", "1" * 5000,
    "9" * 400, "-1", "0", "1e999", "-1e999", "nan", "NaN", "inf", "1.5", "104.75", "31.55", "104.75,31.55",
    "//evil.example", "/\\evil", "/%09/evil", "%0d%0a", "=HYPERLINK(1)", "<script>alert(1)</script>",
    "${alert(1)}", "`", "'", '"', "\\", "retired", " retired\u3000", "MY-DH-01", "MY-DH-99", "shower",
    "gcj02", "bd09", "wgs84", "kmeans", "p-median", "mclp", "lscp", "24h", "06:00-22:00", "true", "1", "3",
    "../../etc/passwd", "[" * 50, "{}", "\ufeff", "\u200b", "a" * 3000,
]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                 st.text(alphabet=st.characters(categories=["Cs", "Cc", "Zs", "Nd", "No"]), max_size=8))

IF_MATCH = ['"1"', "1", 'W/"1"', "*", "\u00b2", '"\u00b3"', "1" * 5000, '"' + "9" * 30 + '"', "\u0663", "-1", "0",
            "1e3", "", " ", "W/", '"', "\uff11"]
#: Numbers argparse accepts that the commands must still refuse or handle.
NUMERIC = ["104.75", "31.55", "nan", "inf", "-inf", "1e999", "9" * 400, "0", "-1", "1e-300", "3", "1", "25", "10000"]
INTEGERS = ["3", "0", "-1", "1", "9" * 400, "100000", "2"]
DEEP = "[" * 100000 + "]" * 100000
RAW_BODIES = [DEEP, '{"name": ' + DEEP + "}", '{"parking_bays": ' + "9" * 5000 + "}", '{"lon": ' + "9" * 400 + "}",
              '{"name": "\\ud800"}', '{"\\udfff": 1}', "\xff\xfe", "", "null", "[]", "{", '{"status": " retired"}']
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
              st.floats(allow_nan=True, allow_infinity=True), text),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.sampled_from(
                                   ["name", "status", "lon", "lat", "amenities", "charging", "bays", "count",
                                    "power_kw", "hours", "as_of", "kind", "county", "field_status", "version",
                                    "id", "phone", "parking_bays", "coord_sys", "shower"]), text),
                                   children, max_size=5)),
    max_leaves=12,
)
QUERY_NAMES = ["lon", "lat", "k", "amenity", "coords", "min_power_kw", "open_now", "route", "station", "from", "to",
               "detour_km", "radius_km", "samples", "include_retired", "method", "lang", "q", "retired", "next",
               "fmt", "date", "format", "device", "period", "state", "category", "grid", "channel"]
FORM_NAMES = ["username", "password", "name", "name_en", "kind", "corridor", "address", "hours", "phone",
              "source", "notes", "as_of", "data_status", "parking_bays", "daily_trucks", "coord_precision_m",
              "lon", "lat", "coord_sys", "amenity", "bay_count", "bay_kw", "swap", "orig", "version", "id",
              "county", "method", "k", "radius_km", "description", "category", "channel", "contact",
              "station_id", "corridor_km", "title", "body", "kind", "valid_from", "valid_to", "radius_km",
              "satisfaction", "money_recovered_cny", "platform", "note"]


def _q(value: str) -> str:
    return quote(value, safe="", errors="surrogatepass")


def _query(pairs) -> str:
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs)


def _header(value: str) -> str:
    """A header value as its bytes arrive: latin-1 text as is (``²`` is the byte 0xB2),
    anything else as its UTF-8 bytes read as latin-1 (what the server then sees)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("latin-1")
    return value.replace("\r", " ").replace("\n", " ")


# ---------------------------------------------------------------------- the app
def _blueprints():
    from webmap import admin, api, assets, desk, driver, planning

    return (assets.bp, driver.bp, planning.bp, admin.bp, api.bp, desk.bp)


def _routes() -> list[tuple[str, str]]:
    """Every (rule, method) the app serves, from its blueprints (no workspace needed)."""
    from flask import Flask

    bare = Flask("routes")
    for bp in _blueprints():
        bare.register_blueprint(bp)
    return sorted((rule.rule, method) for rule in bare.url_map.iter_rules() if rule.endpoint != "static"
                  for method in rule.methods - {"HEAD", "OPTIONS"})


ROUTES = _routes()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, workspace):
    from planner.workspace import Workspace
    from tests.web.conftest import make_app

    ws = Workspace(db_path=tmp_path_factory.mktemp("fuzz") / "registry.sqlite")
    ws.__dict__["region"] = workspace.region
    ws.__dict__["network"] = workspace.network
    app = make_app(ws, TILES=None)
    registry = ws.registry
    registry.add_user("fz-staff", role="staff", password="fuzz-staff-pass")
    registry.add_user("fz-admin", role="admin", password="fuzz-admin-pass")
    return app


@pytest.fixture
def identities(fuzz_app):
    """Fresh logged-in clients and tokens per route (a fuzzed logout or password must not
    leave later routes anonymous; login throttling from earlier fuzzing is reset)."""
    import sqlite3

    from tests.web.test_pages import csrf_token, login

    registry = fuzz_app.extensions["yizhan"].workspace.registry
    con = sqlite3.connect(registry.path)
    con.execute("DELETE FROM login_failures")
    con.commit()
    con.close()
    tokens = {"staff": registry.issue_token("fz-staff"), "admin": registry.issue_token("fz-admin")}
    clients = {"anonymous": fuzz_app.test_client()}
    csrf = {}
    for role in ("staff", "admin"):
        client = fuzz_app.test_client()
        assert login(client, f"fz-{role}", f"fuzz-{role}-pass").status_code == 302
        clients[role] = client
        csrf[role] = csrf_token(client, "/admin/")
    return clients, csrf, tokens


def test_the_fuzzed_routes_are_every_route(fuzz_app):
    app = fuzz_app
    served = sorted((rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                    for method in rule.methods - {"HEAD", "OPTIONS"})
    assert served == ROUTES


def _check(response, path: str) -> None:
    status = response.status_code
    body = response.get_data()
    assert status < 500, (path, status, body[:400])
    assert b"Traceback" not in body
    if (path.startswith("/api/") or path == "/healthz") and status >= 400:
        doc = json.loads(body)
        assert set(doc) == {"error"}, doc
        assert {"code", "message"} <= set(doc["error"]) <= {"code", "message", "fields", "current"}, doc
        assert isinstance(doc["error"]["message"], str) and doc["error"]["message"]


def _path(rule: str, draw) -> str:
    parts = []
    for piece in rule.split("/"):
        if piece.startswith("<") and piece.endswith(">") or "<" in piece:
            prefix, _, rest = piece.partition("<")
            _name, _, suffix = rest.partition(">")
            if "fmt" in piece:
                value = draw(st.one_of(st.sampled_from(["csv", "geojson", "gpkg", "html", "exe"]), text))
            else:
                value = draw(st.one_of(st.sampled_from(["MY-DH-01", "MY-DH-03", "NOPE", "leaflet", "jquery",
                                                        "leaflet.js", "dist/leaflet.js"]), text))
            parts.append(prefix + _q(value) + suffix)
        else:
            parts.append(piece)
    return "/".join(parts)


@pytest.mark.parametrize(("rule", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_route_survives_hostile_input(identities, rule, method):
    clients, csrf, tokens = identities
    examples = HEAVY_EXAMPLES if rule in HEAVY else MAX_EXAMPLES

    @settings(FUZZ, max_examples=examples)
    @given(data=st.data())
    def run(data):
        draw = data.draw
        # mostly callers who get past authentication, so the handlers' own parsing is reached
        who = draw(st.sampled_from(["anonymous", "staff", "admin", "bearer-staff", "bearer-admin", "bearer-admin",
                                    "bearer-staff", "bad-token"]))
        client = clients[who] if who in clients else clients["anonymous"]
        headers = {}
        if who.startswith("bearer-"):
            headers["Authorization"] = f"Bearer {tokens[who.split('-')[1]]}"
        elif who == "bad-token":
            headers["Authorization"] = _header(draw(st.sampled_from(["Bearer x", "Bearer ", "Basic eA==", "\ud800"])))
        elif who in csrf and draw(st.integers(0, 3)):
            headers["X-CSRFToken"] = csrf[who]
        if draw(st.integers(0, 3)):
            headers["If-Match"] = _header(draw(st.one_of(st.sampled_from(IF_MATCH), text)))
        if draw(st.booleans()):
            headers["Accept-Language"] = _header(draw(text))
        path = _path(rule, draw)
        pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), text), text), max_size=6))
        url = path + ("?" + _query(pairs) if pairs else "")
        kwargs = {"headers": headers}
        if method == "PATCH":
            if draw(st.booleans()):
                body = draw(st.sampled_from(RAW_BODIES)).encode("utf-8", "surrogatepass")
            else:
                body = json.dumps(draw(json_values)).encode()
            kwargs.update(data=body, content_type="application/json")
        elif method == "POST":
            fields = draw(st.lists(st.tuples(st.sampled_from(FORM_NAMES), text), max_size=10))
            if who in csrf and draw(st.booleans()):
                fields.append(("csrf_token", csrf[who]))
            kwargs.update(data=_query(fields), content_type="application/x-www-form-urlencoded")
        response = client.open(url, method=method, **kwargs)
        _check(response, path)

    _sweep(clients, csrf, tokens, rule, method)
    run()


def _sweep(clients, csrf, tokens, rule: str, method: str) -> None:
    """The known-hostile corpus, every value once, as an authorised caller (bearer token
    for the API, a logged-in admin with a valid CSRF token for forms): the random search
    above may not draw a given value in its examples, this sweep always does."""
    corpus = list(dict.fromkeys(HOSTILE + IF_MATCH))
    if rule in HEAVY:
        corpus = corpus[::3]
    for i, value in enumerate(corpus):
        path = "/".join(_q(value) if piece.startswith("<") else piece for piece in rule.split("/"))
        if "<fmt>" in rule:
            path = rule.replace("<fmt>", "csv")
        if "<station_id>" in rule:
            path = rule.replace("<station_id>", _q(value) if i % 2 else "MY-DH-01")
        if "<pkg>" in rule or "<path:" in rule:
            path = _path(rule, lambda strategy: value)
        url = path + "?" + _query([(name, value) for name in QUERY_NAMES])
        headers = {"If-Match": _header(value), "Accept-Language": _header(value)}
        kwargs: dict = {}
        if rule.startswith("/api/"):
            headers["Authorization"] = f"Bearer {tokens['admin']}"
            client = clients["anonymous"]
        else:
            client = clients["admin"]
            headers["X-CSRFToken"] = csrf["admin"]
        if method == "PATCH":
            body = RAW_BODIES[i % len(RAW_BODIES)] if i % 3 == 0 else json.dumps(
                {key: value for key in ("name", "status", "hours", "as_of", "lon", "lat", "parking_bays")})
            headers["If-Match"] = _header(value) if i % 2 else '"1"'
            kwargs.update(data=body.encode("utf-8", "surrogatepass"), content_type="application/json")
        elif method == "POST":
            fields = [(name, value) for name in FORM_NAMES] + [("csrf_token", csrf["admin"])]
            kwargs.update(data=_query(fields), content_type="application/x-www-form-urlencoded")
        if rule == "/admin/logout":
            continue  # would end the sweep's own session; the random search covers it
        response = client.open(url, method=method, headers=headers, **kwargs)
        _check(response, path)


# ---------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    files = {
        "not-gzip.osm.gz": b"<osm>plain</osm>",
        "not-bz2.osm.bz2": b"nope",
        "bad.osm": b"<osm><node id='1' lat='x' lon='y'/><way id='2'><nd ref='1'/></way>",
        "deep.geojson": DEEP.encode(),
        "deep-props.geojson": ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": '
                               '"Point", "coordinates": [104.7, 31.5]}, "properties": {"id": "MY-DH-01", "notes": '
                               + "[" * 3000 + "]" * 3000 + "}}]}").encode(),
        "latin1.csv": "id,name\nMY-DH-01,caf\xe9\n".encode("latin-1"),
        "formula.csv": b"id,name\nMY-DH-01,=HYPERLINK(1)\n",
        "empty.csv": b"",
        "huge-int.csv": b"id,parking_bays\nMY-DH-01," + b"9" * 5000 + b"\n",
        "gps.csv": b"vehicle,lon,lat,start,end\nA,104.7,31.5,x,y\n",
        "garbage.gpkg": b"SQLite format 3\x00garbage",
        "list.json": b"[1, 2, 3]",
        "nan.geojson": b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": '
                       b'"Point", "coordinates": [NaN, Infinity]}, "properties": {"id": "MY-DH-01"}}]}',
    }
    paths = []
    for name, content in files.items():
        (d / name).write_bytes(content)
        paths.append(str(d / name))
    (d / "folder.csv").mkdir()
    paths += [str(d / "folder.csv"), str(d / "missing.geojson")]
    outs = [str(d / "out.csv"), str(d / "out.geojson"), str(d / "out.gpkg"), str(d / "out.txt"), str(d / "folder.csv"),
            str(d / "no" / "such" / "dir" / "x.csv")]
    return paths, outs


def _commands() -> list[str]:
    from planner.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


COMMANDS = _commands()


def _options(command: str):
    """(flag or None for positionals, action) of a subcommand (and of users' actions)."""
    from planner.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices[command]
    return parser


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory, workspace):
    """A seeded registry file for the CLI runs (copied from the session's)."""
    d = tmp_path_factory.mktemp("cli-fuzz")
    db = d / "registry.sqlite"
    workspace.registry  # noqa: B018 - make sure the session registry exists
    shutil.copy(workspace.db_path, db)
    return db


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_command_survives_hostile_input(cli_db, hostile_files, command):
    from planner.cli import main

    files, outs = hostile_files
    parser = _options(command)
    examples = HEAVY_EXAMPLES if command in HEAVY else MAX_EXAMPLES // 2

    def values_for(action, draw):
        if action.choices:
            return draw(st.one_of(st.sampled_from(sorted(map(str, action.choices))), text))
        if action.dest in ("file",):
            return draw(st.sampled_from(files))
        if action.dest in ("out", "report"):
            return draw(st.sampled_from(outs))
        return draw(text)

    def invoke(argv: list[str], password: str) -> None:
        if command == "init-db":
            argv[1] = str(cli_db.with_name("init-" + cli_db.name))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                _swap_stdin(io.StringIO(password + "\n")):
            try:
                code = main([_as_argv(a) for a in argv])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code
        assert code in (0, 2), (argv, code, err.getvalue()[-600:])
        assert "Traceback" not in err.getvalue()
        if code == 2 and err.getvalue():
            assert "error" in err.getvalue()

    # the known-hostile corpus, every value once in every option (choices cycled)
    corpus = list(dict.fromkeys(HOSTILE))
    if command in HEAVY:
        corpus = corpus[::4]
    targets = [(parser, [])]
    if command == "users":
        users_sub = next(a for a in parser._actions if a.dest == "users_command")
        targets = [(sub, [name]) for name, sub in sorted(users_sub.choices.items())]
    for target, prefix in targets:
        for i, value in enumerate(corpus):
            argv = ["--db", str(cli_db), command, *prefix]
            for act in target._actions:
                if act.dest in ("help", "users_command"):
                    continue
                if act.nargs == 0:
                    argv.append(act.option_strings[0])
                    continue
                if act.choices:
                    choices = sorted(map(str, act.choices))
                    item = choices[i % len(choices)] if i % 3 else value
                elif act.type is int:
                    item = INTEGERS[i % len(INTEGERS)]  # past argparse, into the command
                elif act.type is float or act.dest == "days":
                    item = NUMERIC[i % len(NUMERIC)]
                elif act.dest == "file":
                    item = files[i % len(files)]
                elif act.dest in ("out", "report"):
                    item = outs[i % len(outs)]
                else:
                    item = value
                argv += [act.option_strings[0], item] if act.option_strings else [item]
            if command == "fetch-osm":
                continue  # needs the internet
            invoke(argv, value)

    @settings(FUZZ, max_examples=examples)
    @given(data=st.data())
    def run(data):
        draw = data.draw
        argv = ["--db", str(cli_db), command]
        target = parser
        if command == "users":
            users_sub = next(a for a in parser._actions if a.dest == "users_command")
            action = draw(st.sampled_from(sorted(users_sub.choices)))
            argv.append(action)
            target = users_sub.choices[action]
        for act in target._actions:
            if act.dest in ("help", "users_command"):
                continue
            required = act.required or not act.option_strings
            if not required and not draw(st.booleans()):
                continue
            if required and not draw(st.integers(0, 9)):
                continue  # sometimes leave a required one out: argparse's usage error
            if act.nargs == 0:
                argv.append(act.option_strings[0])
                continue
            value = values_for(act, draw)
            if act.option_strings:
                argv += [act.option_strings[0], value]
            else:
                argv.append(value)
        if command == "fetch-osm" and "--place" in argv:
            return  # needs the internet; only its argument checks are fuzzed offline
        invoke(argv, draw(text))

    run()


def _as_argv(value: str) -> str:
    """What a process can receive as an argument: no NUL; bytes that are not UTF-8 arrive
    as surrogate escapes (os.fsdecode)."""
    raw = value.replace("\x00", "").encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def _swap_stdin(stream):
    import sys

    old = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = old



