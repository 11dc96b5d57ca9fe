"""The embedded gazetteer: built from the region's own layers, searched tolerantly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner import gazetteer
from planner.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "query, expected",
    [
        ("江油", "COUNTY-510781"), ("江油市", "COUNTY-510781"), ("绵阳", "CITY-510700"), ("平武", "COUNTY-510727"),
        ("Pingwu", "COUNTY-510727"), ("pingwu", "COUNTY-510727"), ("PING WU", "COUNTY-510727"),
        ("jiang", "COUNTY-510781"), ("Jiangyou City", "COUNTY-510781"), ("北川", "COUNTY-510726"),
        ("xin'an", "SA-XINAN"), ("新安服务区", "SA-XINAN"), ("zhongba", "COUNTY-510781"), ("Mianyang", "CITY-510700"),
        ("两弹城", "IC-LIANGDANCHENG"), ("liangdancheng", "IC-LIANGDANCHENG"),
    ],
)
def test_search_finds_what_drivers_type(query, expected):
    assert gazetteer.search(query, limit=1)[0]["id"] == expected


def test_results_carry_names_position_and_honesty():
    places = gazetteer.search("三台", limit=5)
    assert places[0]["kind"] == "county" and places[0]["name_en"] == "Santai County"
    assert all({"name_zh", "name_en", "pinyin", "lon", "lat", "data_status", "source"} <= set(p) for p in places)
    assert all(not k.startswith("_") for p in places for k in p)
    assert all(p["data_status"] in ("verified", "approximate", "illustrative") for p in gazetteer.load()["places"])


@pytest.mark.parametrize("query", ["", "   ", "x" * 41])
def test_bad_queries_say_what_to_type(query):
    with pytest.raises(InputError) as err:
        gazetteer.search(query)
    assert "q" in err.value.fields


def test_unknown_place_is_an_empty_list():
    assert gazetteer.search("zzzz-nowhere") == []


def test_committed_gazetteer_is_what_the_script_builds(tmp_path):
    pytest.importorskip("pypinyin", reason="the build script needs pypinyin (build time only)")
    sys.path.insert(0, str(ROOT / "geodata" / "mianyang"))
    try:
        import build_gazetteer
    finally:
        sys.path.pop(0)
    committed = json.loads((ROOT / "geodata" / "mianyang" / "gazetteer.json").read_text(encoding="utf-8"))
    assert build_gazetteer.build() == committed


def test_runtime_never_imports_pypinyin():
    code = "import planner.gazetteer as g, sys; g.search('江油'); print('pypinyin' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
