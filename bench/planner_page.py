"""The planners' page (``GET /planner``): first request after start and warm requests,
beside ``/healthz`` measured in the same run on the same server.

Starts the app the way ``make run`` does (gunicorn, 2 workers × 2 threads, as in the
Makefile; :func:`http_nearest.start_server`) on a throw-away registry with the embedded data,
waits for ``/healthz``, then:

1. ``/planner`` once on a fresh keep-alive connection — the first request after start;
2. ``/planner`` ``--repeat`` more times on that connection — the warm median;
3. ``/planner`` once on each of ``--connections`` new connections — the first request
   that lands on each other worker (the slowest is printed);
4. ``/planner?lang=en`` and ``/planner?radius_km=25`` once each: pages the server did
   not prepare at start (the app builds the default page's map while it starts), so
   their first request shows the cost of a cold map build;
5. ``/healthz`` the same way (first on a fresh connection, then the warm median).

Targets (issue 11): first request < 1 s, warm median < 0.3 s; ``--strict`` makes a miss
exit 2. Times are wall-clock on the client, so they include the loopback round trip.

Usage::

    .venv/bin/python bench/planner_page.py
    .venv/bin/python bench/planner_page.py --workers 1 --threads 4
    .venv/bin/python bench/planner_page.py --url http://127.0.0.1:5000   # a running `make run` (already warm?)
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_nearest import LOOPBACK, free_port, start_server  # noqa: E402

TARGET_FIRST_S = 1.0
TARGET_WARM_S = 0.3


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Language": "zh-CN"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t0
    if response.status != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
    return elapsed, len(body)


def measure(host: str, port: int, path: str, *, repeat: int, connections: int) -> dict:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    first, size = timed_get(conn, path)
    warm = [timed_get(conn, path)[0] for _ in range(repeat)]
    conn.close()
    others = []
    for _ in range(connections):
        c = http.client.HTTPConnection(host, port, timeout=120)
        others.append(timed_get(c, path)[0])
        c.close()
    return {"first": first, "warm": warm, "median": statistics.median(warm) if warm else first,
            "others_max": max(others, default=0.0),
            "bytes": size}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running server on loopback (default: start gunicorn as `make run`)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=16)  # gunicorn.conf.py
    ap.add_argument("--repeat", type=int, default=5, help="warm requests (median reported)")
    ap.add_argument("--connections", type=int, default=4, help="extra fresh connections (other workers' first)")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="yizhan-bench-planner-"))
    proc = None
    try:
        if args.url:
            url = args.url
        else:
            t0 = time.perf_counter()
            proc, url = start_server(workers=args.workers, threads=args.threads, port=free_port(), workdir=workdir)
            print(f"server: gunicorn {args.workers} workers × {args.threads} threads, "
                  f"/healthz answered {time.perf_counter() - t0:.1f} s after launch")
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit(f"only loopback targets: {url}")
        host, port = parts.hostname, parts.port or 80
        planner = measure(host, port, "/planner", repeat=args.repeat, connections=args.connections)
        cold = {path: measure(host, port, path, repeat=0, connections=0)["first"]
                for path in ("/planner?lang=en", "/planner?radius_km=25")}
        health = measure(host, port, "/healthz", repeat=args.repeat, connections=0)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
    print(f"{'':28}{'first':>11}{'warm median':>14}{'warm max':>11}")
    print(f"{'/healthz':28}{ms(health['first']):>11}{ms(health['median']):>14}{ms(max(health['warm'])):>11}")
    print(f"{'/planner':28}{ms(planner['first']):>11}{ms(planner['median']):>14}{ms(max(planner['warm'])):>11}")
    print(f"/planner first on {args.connections} other connections (other workers): max {ms(planner['others_max']).strip()}")
    for path, seconds in cold.items():
        print(f"{path:28}{ms(seconds):>11}   (first request; not prepared at start)")
    print(f"/planner page: {planner['bytes'] / 1000:.0f} kB")
    print(f"ratio /planner ÷ /healthz: first {planner['first'] / health['first']:.0f}×, "
          f"warm median {planner['median'] / health['median']:.1f}×")
    first = max(planner["first"], planner["others_max"], *cold.values())
    ok_first, ok_warm = first < TARGET_FIRST_S, planner["median"] < TARGET_WARM_S
    print(f"target first request < {TARGET_FIRST_S:g} s: {'met' if ok_first else 'NOT met'} ({first:.3f} s, slowest first request above)")
    print(f"target warm median < {TARGET_WARM_S:g} s: {'met' if ok_warm else 'NOT met'} ({planner['median']:.3f} s)")
    return 2 if args.strict and not (ok_first and ok_warm) else 0


if __name__ == "__main__":
    sys.exit(main())
