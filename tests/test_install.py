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


def test_cli_logs_progress_with_verbose_and_nothing_by_default(tmp_path):
    env = _env_without_pythonpath(tmp_path)
    env.pop("YIZHAN_LOG_LEVEL", None)
    quiet = subprocess.run([sys.executable, "-m", "planner", "stations", "--json"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=180)
    loud = subprocess.run([sys.executable, "-m", "planner", "-v", "stations", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert quiet.returncode == loud.returncode == 0
    assert "INFO" not in quiet.stderr
    assert "INFO planner.cli: stations done in" in loud.stderr
    assert json.loads(loud.stdout) == json.loads(quiet.stdout)  # logs never reach stdout


def test_server_logs_request_line_status_and_time_without_query(tmp_path, caplog):
    import logging

    from app import create_app

    app = create_app({"TESTING": True, "YIZHAN_DB": str(tmp_path / "r.sqlite"), "SECRET_KEY": "x" * 32})
    with caplog.at_level(logging.INFO, logger="webmap.requests"):
        assert app.test_client().get("/api/nearest?lon=104.7&lat=31.5").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "webmap.requests"]
    assert any(line.startswith("GET /api/nearest 200 ") and line.endswith(" ms") for line in lines), lines
    assert not any("104.7" in line for line in lines)
