"""Static checks of the analysis notebooks (they are executed by nbmake: ``pytest --nbmake notebooks/``).

Each notebook is committed without outputs, runs on the ``python3`` kernel, states its
question first, has an UPPER_CASE constants cell, uses only the public API, plots, and
never opens the user's default registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PUBLIC = {"planner.workspace", "planner.region", "planner.coverage", "planner.scenario", "planner.report",
          "planner.demand", "planner.desk", "planner.desk.requests",
          "planner.charging"}


def test_the_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_corridor_coverage.ipynb", "02_clustering_vs_optimisation.ipynb", "03_electric_heavy_trucks.ipynb",
            "04_requests_as_demand.ipynb", "05_imported_data.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Question.**" in first.source
    assert any(re.search(r"^[A-Z][A-Z0-9_]+ = ", c.source, re.M) for c in code[:2]), "a constants cell comes first"
    source = "\n".join(c.source for c in code)
    imported = set(re.findall(r"^\s*(?:from|import)\s+(planner[\w.]*)", source, re.M))
    assert imported and imported <= PUBLIC, imported - PUBLIC
    assert "._" not in "".join(re.findall(r"planner[\w.]*", source)), "no private names"
    # the registry is a temporary file, never settings.db_path()
    assert re.search(r"Workspace\(db_path=", source) and "tempfile" in source
    assert len(re.findall(r"Workspace\(", source)) == len(re.findall(r"Workspace\(db_path=", source))
    assert "plt." in source or ".plot(" in source
