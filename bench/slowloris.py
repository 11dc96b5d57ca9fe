"""Slow clients ("slowloris") against ``/api/nearest``: the served configuration vs the old one.

For each configuration this starts gunicorn on 127.0.0.1 with a throw-away registry, then

1. times ``--requests`` sequential ``GET /api/nearest`` requests (the baseline),
2. opens ``--slow`` connections that send a request line and then one header byte every
   ``--drip`` seconds, never finishing their headers, for at most ``--hold`` seconds,
3. times the same requests again while those connections are open (each request gives up
   after ``--timeout`` seconds and counts as stalled).

Configurations (same run, same machine):

* ``old``: what ``make run`` served before: ``--worker-class gthread --workers 2 --threads 2``;
* ``served``: ``gunicorn -c gunicorn.conf.py`` (``make run`` today).

It prints, per configuration, baseline and under-attack p50/max latency, the number of
stalled requests and the ratio of the medians. Target: the served configuration answers
every request with the slow connections open (0 stalled). Loopback only; the number of
connections and the time are bounded.

Usage::

    .venv/bin/python bench/slowloris.py                       # both configurations, 4 slow connections
    .venv/bin/python bench/slowloris.py --slow 8 --only served
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEAREST = "/api/nearest?lon=104.75&lat=31.55&k=3"
CONFIGS = {
    "old": ["--worker-class", "gthread", "--workers", "2", "--threads", "2"],
    "served": ["-c", str(ROOT / "gunicorn.conf.py")],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], workdir: Path, *, env_extra: dict | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn) if gunicorn.exists() else "gunicorn", *args, "--bind", f"127.0.0.1:{port}",
           "app:create_app()"]
    env = dict(os.environ, YIZHAN_DB=str(workdir / f"registry-{port}.sqlite"), YIZHAN_SECRET_KEY=secrets.token_hex(32),
               YIZHAN_TILES="none", PORT=str(port), PYTHONPATH=str(ROOT), **(env_extra or {}))
    log = open(workdir / f"server-{port}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n"
                             + (workdir / f"server-{port}.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    # every worker warm: a few nearest requests on fresh connections
                    for _ in range(6):
                        timed_get(port, NEAREST, timeout=60)
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not answer /healthz within 180 s")


def timed_get(port: int, path: str, *, timeout: float) -> float | None:
    """Seconds for one GET on a new connection; None if it failed or timed out."""
    t0 = time.perf_counter()
    try:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        con.request("GET", path)
        response = con.getresponse()
        response.read()
        con.close()
        return time.perf_counter() - t0 if response.status == 200 else None
    except OSError:
        return None


class SlowClients:
    """``n`` connections that drip their headers one byte at a time (bounded in time)."""

    def __init__(self, port: int, n: int, *, drip_s: float, hold_s: float):
        self.port, self.n, self.drip_s, self.hold_s = port, n, drip_s, hold_s
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._one, daemon=True) for _ in range(n)]
        self.cut_off = 0  # connections the server closed on them

    def _one(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return
        try:
            sock.sendall(b"GET /api/nearest?lon=104.75&lat=31.55 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            deadline = time.monotonic() + self.hold_s
            while not self.stop.is_set() and time.monotonic() < deadline:
                sock.sendall(b"X")
                if self.stop.wait(self.drip_s):
                    break
        except OSError:
            self.cut_off += 1
        finally:
            sock.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(1.0)  # let every slow connection reach a worker thread
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)


def measure(port: int, n: int, timeout: float) -> list[float | None]:
    return [timed_get(port, NEAREST, timeout=timeout) for _ in range(n)]


def summary(times: list[float | None]) -> tuple[float | None, float | None, int]:
    ok = [t for t in times if t is not None]
    return (statistics.median(ok) if ok else None, max(ok) if ok else None, len(times) - len(ok))


def fmt(t: float | None) -> str:
    return "—" if t is None else f"{1000 * t:.0f} ms"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--slow", type=int, default=4, help="slow connections (1-64; default %(default)s)")
    p.add_argument("--requests", type=int, default=10, help="timed requests per phase (default %(default)s)")
    p.add_argument("--drip", type=float, default=1.0, help="seconds between header bytes (default %(default)s)")
    p.add_argument("--hold", type=float, default=40.0, help="longest a slow connection stays (default %(default)s)")
    p.add_argument("--timeout", type=float, default=8.0, help="a request slower than this is stalled")
    p.add_argument("--only", choices=sorted(CONFIGS), help="run one configuration")
    p.add_argument("--keep", action="store_true", help="keep the server logs (the folder is printed)")
    args = p.parse_args(argv)
    if not 1 <= args.slow <= 64:
        p.error("--slow must be 1-64")
    results = {}
    tmp = tempfile.mkdtemp(prefix="yizhan-slowloris-")
    try:
        for name, cfg in CONFIGS.items():
            if args.only and name != args.only:
                continue
            if args.keep:
                print("logs in", tmp)
            proc, port = start(cfg, Path(tmp))
            try:
                base = measure(port, args.requests, args.timeout)
                with SlowClients(port, args.slow, drip_s=args.drip, hold_s=args.hold) as slow:
                    attacked = measure(port, args.requests, args.timeout)
                results[name] = (summary(base), summary(attacked), slow.cut_off)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.slow} slow connections (one header byte per {args.drip:g} s), {args.requests} × GET {NEAREST}")
    print(f"{'config':8} {'base p50':>9} {'base max':>9} {'slow p50':>9} {'slow max':>9} {'stalled':>8}  ratio")
    failed = False
    for name, ((b50, bmax, bfail), (s50, smax, sfail), _cut) in results.items():
        ratio = f"{s50 / b50:.2f}" if b50 and s50 else "—"
        print(f"{name:8} {fmt(b50):>9} {fmt(bmax):>9} {fmt(s50):>9} {fmt(smax):>9} {sfail:>5}/{args.requests}  {ratio}")
        if name == "served" and (sfail or bfail):
            failed = True
    if "served" in results:
        print("target (served: 0 stalled with the slow connections open):", "missed" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
