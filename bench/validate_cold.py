"""Validating one station record in a fresh process, after the imports (issue 13's bar).

Each run is a new Python process that imports ``planner.stations`` and the libraries the
location check uses (geopandas, shapely, pyproj), then times, with ``time.perf_counter``:

1. ``first``: the first :func:`planner.stations.validate_station` of an embedded station
   (it reads the region's outline, boundary and counties, once per process);
2. ``warm``: the same record again (outline cached: the field rules alone);
3. ``outline``: in a separate process, :func:`planner.region.region_outline` alone, after
   the same imports: the baseline the first validation cannot go below.

Each process also checks that no demand was generated and no network was imported. Target:
``first`` < 50 ms (median); ``--strict`` makes a miss exit 2. The machine's load average is
printed with the figures: on the shared 2-core machine it dominates them.

Usage::

    .venv/bin/python bench/validate_cold.py            # 5 runs of each
    .venv/bin/python bench/validate_cold.py --runs 11
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0

IMPORTS = "import json, sys, time\nimport geopandas, shapely, pyproj\nimport planner.region as R\n"

VALIDATE = IMPORTS + """
from planner.stations import validate_station
rec = json.load(open('geodata/mianyang/stations.json', encoding='utf-8'))[0]
t0 = time.perf_counter(); validate_station(rec); t1 = time.perf_counter()
validate_station(rec); t2 = time.perf_counter()
assert R._embedded_demand.cache_info().currsize == 0, 'demand was generated'
assert 'planner.network' not in sys.modules and 'planner.demand' not in sys.modules
print(json.dumps({"first": (t1 - t0) * 1000, "warm": (t2 - t1) * 1000}))
"""

OUTLINE = IMPORTS + """
t0 = time.perf_counter(); R.region_outline('mianyang'); t1 = time.perf_counter()
print(json.dumps({"outline": (t1 - t0) * 1000}))
"""


def run(code: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (default 5)")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the median misses the target")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")

    load_before = os.getloadavg()[0]
    validations = [run(VALIDATE) for _ in range(args.runs)]
    outlines = [run(OUTLINE)["outline"] for _ in range(args.runs)]
    load_after = os.getloadavg()[0]

    first = statistics.median(v["first"] for v in validations)
    warm = statistics.median(v["warm"] for v in validations)
    outline = statistics.median(outlines)
    print(f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores; {args.runs} runs each")
    print(f"first validation (cold, after imports): median {first:.1f} ms "
          f"(min {min(v['first'] for v in validations):.1f}); target {TARGET_MS:g} ms: "
          f"{'met' if first < TARGET_MS else 'NOT met'} ({first / TARGET_MS:.2f}x the target)")
    print(f"region_outline alone (baseline):         median {outline:.1f} ms; "
          f"first validation = {first / outline:.2f}x the outline load")
    print(f"warm validation (outline cached):        median {warm:.2f} ms")
    return 2 if args.strict and first >= TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
