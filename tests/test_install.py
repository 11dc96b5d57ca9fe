"""The project is installed into its environment: the CLI and notebooks work from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _env_without_pythonpath(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["YIZHAN_DB"] = str(tmp_path / "registry.sqlite")
    return env


def test_cli_runs_from_a_directory_outside_the_checkout(tmp_path):
    done = subprocess.run([sys.executable, "-m", "planner", "stations", "--json"], cwd=tmp_path,
                          env=_env_without_pythonpath(tmp_path), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    stations = json.loads(done.stdout)
    assert len(stations) >= 23 and all({"id", "lon", "lat", "data_status"} <= set(s) for s in stations)


def test_packages_import_outside_the_checkout(tmp_path):
    code = "import planner, webmap, geodata; print(geodata.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env_without_pythonpath(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("__init__.py")
