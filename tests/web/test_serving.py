"""The served configuration (``gunicorn.conf.py``, :mod:`webmap.gworker`) on a real gunicorn.

The drivers' API answers on the event loop; pages, planner runs and writes go to the
thread lane with their bodies read first. These tests start gunicorn as ``make run`` does
(one worker, two lane threads) on a throw-away registry.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, YIZHAN_DB=str(tmp / "r.sqlite"), YIZHAN_SECRET_KEY=secrets.token_hex(16), YIZHAN_TILES="none",
               WORKERS="1", THREADS="2", PYTHONPATH=str(ROOT), PORT=str(port), HOST="127.0.0.1")
    subprocess.run([sys.executable, "-m", "planner", "init-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app()"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
        time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 60) -> tuple[int, bytes, float]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    try:
        con.request(method, path, body=body, headers=headers or {})
        response = con.getresponse()
        return response.status, response.read(), time.perf_counter() - t0
    finally:
        con.close()


NEAREST = "/api/nearest?lon=104.75&lat=31.55&k=5&amenity=shower"


def test_pages_and_writes_go_through_the_thread_lane(server):
    status, page, _ = request(server, "GET", "/?lang=en")
    assert status == 200 and b"<html" in page.lower()
    # a body is read before the lane: the app sees it whole and answers with its own error
    status, body, _ = request(server, "POST", "/api/requests", json.dumps({"kind": "complaint"}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"]["fields"]["kind"]
    # and a body over the app's limit gets its 413, not a hang or a dropped connection
    status, body, _ = request(server, "POST", "/api/requests", b"x" * (2 * 2**20), {"Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["error"]["code"] == "request_entity_too_large"
    status, body, _ = request(server, "GET", NEAREST)
    assert status == 200 and json.loads(body)["results"]


def test_a_long_planner_request_does_not_stall_the_drivers(server):
    """``/planner/candidates.geojson`` computes for seconds on a fresh server (on one of
    the lane's threads); nearest answers meanwhile, from the loop."""
    done: dict[str, float] = {}

    def long_request():
        status, _, seconds = request(server, "GET", "/planner/candidates.geojson", timeout=300)
        assert status == 200
        done["end"] = time.perf_counter()
        done["seconds"] = seconds

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(0.3)  # the candidates are being computed now
    times = []
    for _ in range(3):
        status, _, seconds = request(server, "GET", NEAREST, timeout=60)
        assert status == 200
        times.append(seconds)
    last_nearest = time.perf_counter()
    worker.join()
    assert done["end"] > last_nearest, f"the planner request ({done['seconds']:.2f} s) ended first: nothing was tested"
    assert max(times) < 0.5, f"nearest waited for the planner request: {times}"
