"""Build ``gazetteer.json`` (place names drivers type) from the region's own layers.

Run from the repository root (re-runnable, deterministic)::

    .venv/bin/pip install pypinyin          # build time only; never imported at run time
    .venv/bin/python geodata/mianyang/build_gazetteer.py

Sources, both in this folder: ``counties.geojson`` (the 9 county-level units and their
seats) and ``anchors.geojson`` (towns, service and parking areas, logistics hubs,
interchanges, freight generators). Nothing else is read and nothing is downloaded. Every
place keeps the ``data_status`` and ``source`` of the row it came from; the prefecture
entry (绵阳市) is placed at the Fucheng seat and says so.

Names: Chinese as in the layer, English as in the layer, pinyin from ``pypinyin`` (tone
marks dropped) checked against the English name, with a short list of hand-set readings
where the two disagree (:data:`PINYIN_FIXES`). ``planner.gazetteer`` serves the file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "gazetteer.json"

#: Hand-set pinyin where the dictionary's first reading is not the place's (checked against
#: the English names in the layers).
PINYIN_FIXES: dict[str, str] = {
    "两弹城": "liangdancheng",  # 弹 dàn (bomb), not tán
    "花荄": "huagai",
    "潼川": "tongchuan",
    "松垭": "songya",
    "中坝": "zhongba",
    "南坝": "nanba",
    "榉溪": "juxi",
    "崴螺山": "weiluoshan",
    "旺瓢山": "wangpiaoshan",
    "游仙": "youxian",
    "新皂": "xinzao",
    "皂角铺": "zaojiaopu",
    "百顷": "baiqing",
    "药丛山": "yaocongshan",
    "磨家": "mojia",
}

#: Display kind per layer kind: (Chinese, English); "seat" is a county entry.
KINDS: dict[str, tuple[str, str]] = {
    "city": ("地级市", "prefecture city"),
    "county": ("区县", "county"),
    "town": ("城镇", "town"),
    "service_area": ("服务区", "service area"),
    "parking_area": ("停车区", "parking area"),
    "logistics_hub": ("物流园", "logistics hub"),
    "interchange": ("互通/枢纽", "interchange"),
    "freight_generator": ("货源地", "freight area"),
}

#: Suffixes dropped to make the short name people type (江油市 -> 江油, 新安服务区 -> 新安):
#: administrative ones for cities, counties and towns, facility ones for the rest.
ADMIN_SUFFIXES = ("羌族自治县", "自治县", "街道", "市", "县", "区", "镇")
FACILITY_SUFFIXES = ("服务区", "停车区", "互通", "枢纽", "物流基地", "智慧物流港", "物流港", "产业集群", "砂石矿区")


def base_zh(name: str) -> str:
    """The name without its bracketed qualifier: 罗江（德阳） -> 罗江."""
    return re.split(r"[（(]", name, maxsplit=1)[0].strip()


def short_zh(name: str, kind: str = "town") -> str:
    """The name people type: 北川羌族自治县 -> 北川, 新安服务区 -> 新安 (never shorter than 2 characters)."""
    base = base_zh(name)
    for suffix in ADMIN_SUFFIXES if kind in ("city", "county", "town") else FACILITY_SUFFIXES:
        if base.endswith(suffix) and len(base) - len(suffix) >= 2:
            return base[: -len(suffix)]
    return base


def pinyin(text: str) -> str:
    """Toneless pinyin of Chinese ``text`` as one lowercase word (ASCII kept as is)."""
    from pypinyin import lazy_pinyin  # build time only

    out = text
    for zh, py in sorted(PINYIN_FIXES.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(zh, f" {py} ")
    parts = []
    for chunk in re.split(r"(\s+)", out):
        if not chunk.strip():
            continue
        if re.fullmatch(r"[a-z']+", chunk):
            parts.append(chunk)
        else:
            parts.extend(p.lower() for p in lazy_pinyin(chunk) if p.strip())
    return re.sub(r"[^a-z0-9]", "", "".join(parts))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _check_pinyin(zh_short: str, py: str, name_en: str | None, problems: list[str]) -> None:
    """The pinyin of the short name should appear in the English name when that spells it."""
    if not name_en or not py:
        return
    en = _squash(name_en)
    if py in en:
        return
    # English names translate some parts (Science City, Transfar hub): only flag names
    # whose first English word looks like pinyin of the same length.
    first = _squash(re.split(r"[\s(]", name_en.strip(), maxsplit=1)[0])
    if first and abs(len(first) - len(py)) <= 2 and first[:2] == py[:2] and first != py:
        problems.append(f"{zh_short}: pinyin {py!r} vs English {name_en!r}")


def build() -> dict:
    counties = json.loads((HERE / "counties.geojson").read_text(encoding="utf-8"))["features"]
    anchors = json.loads((HERE / "anchors.geojson").read_text(encoding="utf-8"))["features"]
    county_names = {f["properties"]["code"]: (f["properties"]["name_zh"], f["properties"]["name_en"]) for f in counties}
    places: list[dict] = []
    problems: list[str] = []

    def add(pid, kind, name_zh, name_en, lon, lat, county, data_status, source, aliases=(), in_region=True):
        short = short_zh(name_zh, kind)
        py = pinyin(short)
        _check_pinyin(short, py, name_en, problems)
        alias_list = [a for a in dict.fromkeys([short, base_zh(name_zh), *aliases]) if a and a != name_zh]
        places.append({
            "id": pid,
            "kind": kind,
            "name_zh": name_zh,
            "name_en": name_en,
            "pinyin": py,
            "aliases": alias_list,
            "lon": round(float(lon), 5),
            "lat": round(float(lat), 5),
            "county": county,
            "county_zh": county_names.get(county, (None, None))[0],
            "county_en": county_names.get(county, (None, None))[1],
            "in_region": bool(in_region),
            "data_status": data_status,
            "source": source,
        })

    fucheng = next(f["properties"] for f in counties if f["properties"]["code"] == "510703")
    add("CITY-510700", "city", "绵阳市", "Mianyang City", fucheng["seat_lon"], fucheng["seat_lat"], "510703",
        fucheng["seat_data_status"], "placed at the Fucheng District seat (the city centre); counties.geojson",
        aliases=("绵阳市区", "Mianyang"))
    for f in sorted(counties, key=lambda f: f["properties"]["code"]):
        p = f["properties"]
        add(f"COUNTY-{p['code']}", "county", p["name_zh"], p["name_en"], p["seat_lon"], p["seat_lat"], p["code"],
            p["seat_data_status"], "county seat, counties.geojson (seat_lon, seat_lat)",
            aliases=(p["seat_zh"], short_zh(p["seat_zh"]), p["seat_en"]))
    for f in anchors:
        p = f["properties"]
        if str(p["id"]).startswith("TOWN-SEAT-"):
            continue  # the county entry above is the seat
        lon, lat = f["geometry"]["coordinates"]
        add(p["id"], p["kind"], p["name_zh"], p["name_en"], lon, lat, p.get("county"), p["data_status"],
            f"anchors.geojson {p['id']} ({p['source']})", in_region=p.get("in_region", True))

    if problems:
        raise SystemExit("pinyin disagrees with the English name; add to PINYIN_FIXES:\n  " + "\n  ".join(problems))
    statuses = {p["data_status"] for p in places}
    return {
        "region": "mianyang",
        "built_by": "geodata/mianyang/build_gazetteer.py",
        "data_status": "illustrative" if "illustrative" in statuses else "approximate",
        "source": "counties.geojson and anchors.geojson of this region; pinyin by pypinyin with hand-set fixes",
        "notes": "Positions as in the source layers: many are approximate or illustrative (see each place).",
        "kinds": {k: {"zh": zh, "en": en} for k, (zh, en) in KINDS.items()},
        "places": places,
    }


def main() -> int:
    data = build()
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(data['places'])} places, {len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
