"""Fixtures for the web app: an app per test on its own temp registry, a live server,
staff accounts, and Playwright on Debian's chromium (docs/development.md).

Every app is built by ``create_app`` with a Workspace whose registry file lives in the
test's ``tmp_path`` (region and road network are shared read-only with the session, to
keep the suite fast). Nothing touches the user's default registry.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app import create_app

CHROMIUM = Path("/usr/bin/chromium")
STAFF = ("wang", "staff-pass-1")
ADMIN = ("li", "admin-pass-1")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: A WGS-84 tile source configured by tests that need one (the browser blocks it).
TILE_HOST = "tile.openstreetmap.org"
TILES = f"https://{TILE_HOST}/{{z}}/{{x}}/{{y}}.png"


def make_app(workspace, **config):
    return create_app({"TESTING": True, "WORKSPACE": workspace, **config})


@pytest.fixture
def app(fresh_workspace):
    """An app on a fresh seeded registry in tmp_path, with tiles off."""
    return make_app(fresh_workspace, TILES=None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(app):
    """A staff and an admin account in the app's registry; returns {role: (name, password)}."""
    registry = app.extensions["yizhan"].workspace.registry
    registry.add_user(STAFF[0], role="staff", password=STAFF[1])
    registry.add_user(ADMIN[0], role="admin", password=ADMIN[1])
    return {"staff": STAFF, "admin": ADMIN}


@pytest.fixture
def tokens(app, users):
    registry = app.extensions["yizhan"].workspace.registry
    return {role: registry.issue_token(name) for role, (name, _pw) in users.items()}


class LiveServer:
    """The app on 127.0.0.1:<free port> in a thread (werkzeug, threaded)."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def live_server_tiles(fresh_workspace):
    """A live server with OpenStreetMap tiles configured (the browser blocks them)."""
    with LiveServer(make_app(fresh_workspace, TILES=TILES)) as server:
        yield server


# ------------------------------------------------------------------ Playwright
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():  # a missing browser must fail the suite, not hide it (.ci/run installs it)
        pytest.fail(f"browser tests need Debian chromium at {CHROMIUM} (apt-get install --no-install-recommends chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 412, "height": 860}}


class Recorder:
    """Routes every request: same-origin ones continue, all others are recorded and aborted."""

    def __init__(self):
        self.external: list[str] = []
        self.local: list[str] = []

    def __call__(self, route):
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if host in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            self.local.append(url)
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    @property
    def external_hosts(self) -> set[str]:
        return {urlsplit(u).hostname for u in self.external}


@pytest.fixture
def recorder(context):
    rec = Recorder()
    context.route("**/*", rec)
    return rec


@pytest.fixture
def page_errors(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "ERR_FAILED" not in msg.text else None)
    return errors
