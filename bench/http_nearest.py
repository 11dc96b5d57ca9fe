"""HTTP load run: ``/api/nearest`` beside ``/healthz`` on the same server, same run.

By default this starts the app the way ``make run`` does (gunicorn with ``gunicorn.conf.py``:
2 event-loop workers, the drivers' API on the loop) on 127.0.0.1 with a throw-away registry, then runs
a bounded load of ``--concurrency`` clients (default 32) for ``--duration`` seconds per
endpoint (default 10 s). The load comes from ``wrk`` (Debian package ``wrk``; C, so it leaves
the two cores to the server) when installed, else from a Python thread pool with one
keep-alive ``http.client`` connection per client (``--client python`` forces it):

1. ``GET /healthz`` — the floor: routing, headers and the WSGI server itself;
2. ``GET /api/nearest?lon=&lat=&k=5[&filters]`` — random points inside Mianyang (seeded),
   as the drivers' map asks (``k`` = the app's ``NEAREST_K``): half without filters, the
   rest with the map's filter chips (one or two amenities, ``open_now=1``,
   ``min_power_kw=600``). The map's ``route=1`` is a separate question (``/api/route``'s
   work) and is left out.

It runs the pair ``--runs`` times (default 3) and prints requests/s and p50/p90/p99/max
latency for each, the ratio of the two throughputs per run and its median, and checks: zero
errors (every response 200; exit 1 otherwise), and the target — in the median of the runs,
nearest keeps ≥ 70 % of healthz throughput with p99 < 50 ms (``--strict`` makes a miss
exit 2). Within a run the two endpoints take turns in 1-s slices (``--slice``), so a change
in the machine's load (other jobs on the same cores) hits both alike; each run also prints
the server's CPU time per request (from ``/proc``, when this script started the server) and
the load average.

Usage::

    .venv/bin/python bench/http_nearest.py                      # start gunicorn as `make run`
    .venv/bin/python bench/http_nearest.py --workers 1 --duration 5
    .venv/bin/python bench/http_nearest.py --url http://127.0.0.1:5000   # a running `make run`

Only loopback targets are accepted: this is a load generator.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET_RATIO = 0.70
TARGET_P99_MS = 50.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*, workers: int, threads: int, port: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn 'app:create_app()', as `make run` starts it, on a temp registry."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # the served configuration itself (gunicorn.conf.py, as `make run`), workers/threads via its env
    cmd = [str(gunicorn) if gunicorn.exists() else "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app()"]
    env = dict(os.environ, YIZHAN_DB=str(workdir / "registry.sqlite"), YIZHAN_SECRET_KEY=secrets.token_hex(32),
               YIZHAN_TILES="", PORT=str(port), HOST="127.0.0.1", WORKERS=str(workers), THREADS=str(threads))
    # seed the registry first: workers that start together would otherwise race to create it
    subprocess.run([sys.executable, "-m", "planner", "init-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {workdir / 'server.log'}:\n"
                             + (workdir / "server.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not answer /healthz within 120 s")


def region_points(n: int, *, seed: int = 2025) -> list[tuple[float, float]]:
    """``n`` random points inside the Mianyang boundary (seeded)."""
    sys.path.insert(0, str(ROOT))
    from planner.region import load_region

    region = load_region("mianyang")
    x0, y0, x1, y1 = region.bbox
    rng = random.Random(seed)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if region.contains(lon, lat):
            out.append((round(lon, 5), round(lat, 5)))
    return out


#: The drivers' map's filter chips (webmap/templates/driver.html) as query strings, and how
#: often each is sent (seeded): half the requests carry none.
FILTER_MIX: tuple[tuple[str, float], ...] = (
    ("", 0.5),
    ("&amenity=shower", 0.1),
    ("&amenity=secure_parking", 0.05),
    ("&amenity=dining&amenity=laundry", 0.1),
    ("&open_now=1", 0.15),
    ("&min_power_kw=600", 0.1),
)


def nearest_paths(points: list[tuple[float, float]], *, k: int, seed: int = 2025) -> list[str]:
    """One ``/api/nearest`` query per point, with filters drawn from :data:`FILTER_MIX`."""
    rng = random.Random(seed)
    filters, weights = zip(*FILTER_MIX)
    return [f"/api/nearest?lon={x}&lat={y}&k={k}{rng.choices(filters, weights)[0]}" for x, y in points]


def server_cpu_s(proc: subprocess.Popen | None) -> float | None:
    """CPU seconds used so far by the server and its workers (Linux ``/proc``), else None.

    A worker that was replaced loses its count; the caller discards negative differences.
    """
    if proc is None or not Path("/proc").is_dir():
        return None
    pids = [proc.pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    except OSError:
        return None
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def merge(parts: list[dict]) -> dict:
    """One result from slices of the same endpoint: Python clients' percentiles from every
    latency; wrk's (which reports percentiles only) as the request-weighted mean of the slices'."""
    n = sum(p["requests"] for p in parts)
    out = {"requests": n, "errors": sum(p["errors"] for p in parts),
           "error_samples": [e for p in parts for e in p["error_samples"]][:5],
           "rps": n / sum(p["elapsed_s"] for p in parts), "max_ms": max(p["max_ms"] for p in parts)}
    for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms"):
        out[key] = sum(p[key] * p["requests"] for p in parts) / n if n else float("nan")
    if "latencies" in parts[0]:
        lat = sorted(v for p in parts for v in p["latencies"])
        for q, key in ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.99, "p99_ms")):
            out[key] = lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
    return out


def run_load(url: str, paths: list[str], *, concurrency: int, duration_s: float) -> dict:
    """``concurrency`` clients, each on one keep-alive connection, cycling through ``paths``."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    start = time.monotonic() + 0.2
    deadline = start + duration_s
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        bad: list[str] = []
        j = i * 7919
        while time.monotonic() < start:
            time.sleep(0.001)
        while True:
            t0 = time.monotonic()
            if t0 >= deadline:
                break
            path = paths[j % len(paths)]
            j += 1
            try:
                conn.request("GET", path, headers={"Accept": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    bad.append(f"{response.status} {path}")
            except (OSError, http.client.HTTPException) as exc:
                bad.append(f"{type(exc).__name__} {path}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            mine.append(time.monotonic() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    elapsed = time.monotonic() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "elapsed_s": elapsed,
        "latencies": latencies,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("YIZHAN_BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {["Accept"] = "application/json"})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %f %f %f %f %f\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def run_wrk(url: str, paths: list[str], *, concurrency: int, duration_s: float, workdir: Path) -> dict:
    """The same load from ``wrk`` (C): ``concurrency`` keep-alive connections on 2 threads."""
    script, listing = workdir / "paths.lua", workdir / "paths.txt"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    cmd = ["wrk", "-t2", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "-s", str(script), url + "/"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 60,
                         env=dict(os.environ, YIZHAN_BENCH_PATHS=str(listing))).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    n, io_errors, status_errors, dur_us, p50, p90, p99, mx, mean = (float(v) for v in line.split()[1:])
    return {
        "requests": int(n), "errors": int(io_errors + status_errors),
        "error_samples": [f"{int(status_errors)} non-2xx, {int(io_errors)} socket errors"] if io_errors + status_errors else [],
        "elapsed_s": dur_us / 1e6, "rps": n / (dur_us / 1e6), "p50_ms": p50 / 1000, "p90_ms": p90 / 1000, "p99_ms": p99 / 1000,
        "max_ms": mx / 1000, "mean_ms": mean / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on 127.0.0.1 (default: start gunicorn as `make run`)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")),
                        help="gunicorn --workers when this script starts the server (Makefile: WORKERS=2)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "4")),
                        help="gunicorn threads per worker for the thread lane (gunicorn.conf.py: THREADS=4)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk if installed (auto), or Python threads")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint and run (default 10)")
    parser.add_argument("--slice", type=float, default=1.0,
                        help="the endpoints take turns in slices of this many seconds (default 1)")
    parser.add_argument("--points", type=int, default=5000, help="distinct random query points")
    parser.add_argument("--runs", type=int, default=3, help="healthz/nearest pairs; the median ratio is judged (default 3)")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="yizhan-bench-"))
    proc = None
    try:
        if args.url:
            host = urlsplit(args.url).hostname
            if host not in LOOPBACK:
                parser.error(f"--url must point at this machine (127.0.0.1/localhost), got {host!r}")
            url = args.url.rstrip("/")
            where = f"{url} (running server)"
        else:
            proc, url = start_server(workers=args.workers, threads=args.threads, port=free_port(), workdir=workdir)
            where = (f"{url}: gunicorn -c gunicorn.conf.py (WORKERS={args.workers}, THREADS={args.threads}) "
                     "'app:create_app()' (as `make run`)")
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        if args.client == "wrk" and not shutil.which("wrk"):
            parser.error("--client wrk: wrk is not installed (apt-get install wrk)")
        points = region_points(args.points)
        from webmap.config import defaults

        queries = nearest_paths(points, k=int(defaults()["NEAREST_K"]))
        # warm-up: every worker answers a few requests before the clock starts
        for path in queries[:40]:
            with urllib.request.urlopen(url + path, timeout=120) as r:
                r.read()

        print(f"server: {where}")
        slices = max(1, round(args.duration / args.slice))
        per_slice = args.duration / slices
        print(f"load: {'wrk' if use_wrk else 'Python threads'}, {args.concurrency} clients (keep-alive), "
              f"{args.duration:g} s per endpoint and run in {slices} alternating slices, "
              f"{len(points)} random points in Mianyang ({sum(1 for q in queries if '&' in q.split('k=')[1])} "
              f"with filters); {os.cpu_count()} CPU cores shared by server and clients")
        ratios, p99s, errors, samples = [], [], 0, []
        endpoints = (("/healthz", ["/healthz"]), ("/api/nearest", queries))
        for run in range(1, args.runs + 1):
            parts: dict[str, list[dict]] = {name: [] for name, _ in endpoints}
            cpu: dict[str, float] = {name: 0.0 for name, _ in endpoints}
            for i in range(slices):
                for name, paths in endpoints if i % 2 == 0 else endpoints[::-1]:
                    off = (run * slices + i) * 1777 % len(paths)  # each slice starts elsewhere in the list
                    paths = paths[off:] + paths[:off]
                    c0 = server_cpu_s(proc)
                    if use_wrk:
                        r = run_wrk(url, paths, concurrency=args.concurrency, duration_s=per_slice, workdir=workdir)
                    else:
                        r = run_load(url, paths, concurrency=args.concurrency, duration_s=per_slice)
                    c1 = server_cpu_s(proc)
                    parts[name].append(r)
                    if c0 is not None and c1 is not None and c1 >= c0:
                        cpu[name] += c1 - c0
            results = {name: merge(p) for name, p in parts.items()}
            for name, r in results.items():
                cpu_us = f"  server CPU {cpu[name] / r['requests'] * 1e6:5.0f} µs/req" if proc is not None and r["requests"] else ""
                print(f"run {run} {name:14s} {r['requests']:7d} req  {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                      f"p90 {r['p90_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms  "
                      f"errors {r['errors']}{cpu_us}", flush=True)
            health, near = results["/healthz"], results["/api/nearest"]
            ratios.append(near["rps"] / health["rps"] if health["rps"] else float("nan"))
            p99s.append(near["p99_ms"])
            errors += health["errors"] + near["errors"]
            samples += health["error_samples"] + near["error_samples"]
            print(f"run {run}: nearest/healthz throughput {ratios[-1]:.0%}; load average (1 min) "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
        ratio, p99 = statistics.median(ratios), statistics.median(p99s)
        met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
        print(f"median of {args.runs} runs: nearest/healthz throughput {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}; runs "
              f"{', '.join(f'{r:.0%}' for r in ratios)}); nearest p99 {p99:.1f} ms (target < {TARGET_P99_MS:g} ms): "
              f"{'MET' if met else 'MISSED'}; load average (1 min) {os.getloadavg()[0]:.1f}")
        if errors:
            print(f"ERRORS: {errors} failed requests, e.g. {samples[:5]}")
            return 1
        print("zero errors")
        return 0 if met or not args.strict else 2
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
