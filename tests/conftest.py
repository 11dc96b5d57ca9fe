"""Shared fixtures. No test touches the user's registry: YIZHAN_DB points into a temp dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="yizhan-tests-"))
os.environ["YIZHAN_DB"] = str(_SESSION_TMP / "default-registry.sqlite")
os.environ.setdefault("YIZHAN_SECRET_KEY", "test-only-" + os.urandom(8).hex())

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def region():
    """The embedded Mianyang region (read-only)."""
    from planner.region import load_region

    return load_region("mianyang")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """A Workspace on a fresh seeded registry, shared by read-only tests."""
    from planner.workspace import Workspace

    db = tmp_path_factory.mktemp("ws") / "registry.sqlite"
    return Workspace(db_path=db)


@pytest.fixture
def fresh_workspace(tmp_path, workspace):
    """A Workspace with its own registry, reusing the session's region and network."""
    from planner.workspace import Workspace

    ws = Workspace(db_path=tmp_path / "registry.sqlite")
    ws.__dict__["region"] = workspace.region
    ws.__dict__["network"] = workspace.network
    return ws


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
