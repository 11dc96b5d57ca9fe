"""Coordinate conversions (WGS-84 / GCJ-02 / BD-09) and navigation links."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import coords
from planner.coords import (
    MIANYANG_BBOX,
    amap_nav_url,
    baidu_nav_url,
    bd09_to_wgs84,
    check_lonlat,
    from_wgs84,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from planner.errors import InputError
from planner.stations import localized_fields

MIN_LON, MIN_LAT, MAX_LON, MAX_LAT = MIANYANG_BBOX
lons = st.floats(MIN_LON, MAX_LON, allow_nan=False)
lats = st.floats(MIN_LAT, MAX_LAT, allow_nan=False)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two (lon, lat) points, metres."""
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371000 * math.asin(math.sqrt(h))


def test_reference_vector_guards_lon_lat_order():
    # Published test vector of the GCJ-02 transform (Beijing, eviltransform): catches a lat/lon swap.
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(lons, lats)
def test_gcj02_round_trip_within_half_a_metre(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres((lon, lat), back) < 0.5


@settings(max_examples=300, deadline=None)
@given(lons, lats)
def test_gcj02_offset_in_mianyang_is_100_to_700_m(lon, lat):
    shifted = wgs84_to_gcj02(lon, lat)
    assert 100 <= metres((lon, lat), shifted) <= 700


@settings(max_examples=200, deadline=None)
@given(lons, lats)
def test_bd09_round_trip_within_half_a_metre(lon, lat):
    bd = wgs84_to_bd09(lon, lat)
    assert metres((lon, lat), bd) > 100  # BD-09 is really shifted
    assert metres((lon, lat), bd09_to_wgs84(*bd)) < 0.5


@pytest.mark.parametrize("point", [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (30.0, 60.0)])
def test_points_outside_china_are_unchanged(point):
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_wgs84(*point, "gcj02") == point


def test_to_and_from_wgs84_dispatch_on_system():
    wgs = (104.757, 31.455)
    assert to_wgs84(*wgs, "wgs84") == wgs
    for system in ("gcj02", "bd09", "GCJ-02", "BD09"):
        shifted = from_wgs84(*wgs, system)
        assert metres(shifted, wgs) > 100
        assert metres(to_wgs84(*shifted, system), wgs) < 0.01


def test_unknown_coordinate_system_lists_the_valid_ones():
    with pytest.raises(InputError, match="wgs84, gcj02, bd09") as info:
        to_wgs84(104.7, 31.4, "utm")
    assert set(info.value.fields) == {"coords"}
    assert "坐标系" in localized_fields(info.value, "zh")["coords"]


@pytest.mark.parametrize(
    ("lon", "lat", "bad"),
    [
        (float("nan"), 31.0, {"lon"}),
        (104.0, float("inf"), {"lat"}),
        (181.0, 31.0, {"lon"}),
        (104.0, -91.0, {"lat"}),
        ("104.0", 31.0, {"lon"}),
        (True, None, {"lon", "lat"}),
        (10**400, 31.0, {"lon"}),  # an int no float holds: a message, not an OverflowError
    ],
)
def test_check_lonlat_rejects_bad_values(lon, lat, bad):
    with pytest.raises(InputError) as info:
        check_lonlat(lon, lat)
    assert set(info.value.fields) == bad
    assert set(info.value.fields_zh) == bad


def test_check_lonlat_accepts_numpy_scalars():
    import numpy as np
    assert check_lonlat(np.float64(104.5), np.int64(31)) == (104.5, 31.0)


def test_amap_link_uses_gcj02_and_encodes_the_name():
    name = "DEMO-司机之家 A&B,1"
    url = amap_nav_url(104.757, 31.455, name)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/navigation")
    query = parse_qs(parts.query)
    lon_s, lat_s, name_s = query["to"][0].split(",", 2)
    g_lon, g_lat = wgs84_to_gcj02(104.757, 31.455)
    assert float(lon_s) == pytest.approx(g_lon, abs=1e-6)
    assert float(lat_s) == pytest.approx(g_lat, abs=1e-6)
    assert name_s == name
    assert query["mode"] == ["car"] and query["coordinate"] == ["gaode"] and query["callnative"] == ["1"]
    assert " " not in url and "&B" not in url


def test_baidu_links_use_bd09_lat_first():
    url = baidu_nav_url(104.757, 31.455, "站 & 点")
    parts = urlsplit(url)
    assert parts.netloc == "api.map.baidu.com" and parts.path == "/direction"
    query = parse_qs(parts.query)
    latlng, name = query["destination"][0].split("|")
    lat_s, lon_s = latlng.removeprefix("latlng:").split(",")
    b_lon, b_lat = wgs84_to_bd09(104.757, 31.455)
    assert (float(lat_s), float(lon_s)) == (pytest.approx(b_lat, abs=1e-6), pytest.approx(b_lon, abs=1e-6))
    assert name == "name:站 & 点"
    assert query["coord_type"] == ["bd09ll"] and query["mode"] == ["driving"] and query["output"] == ["html"]
    app = baidu_nav_url(104.757, 31.455, "x", app=True)
    assert app.startswith("baidumap://map/direction?destination=latlng:") and "coord_type=bd09ll" in app


def test_module_never_warns_for_foreign_points(recwarn):
    coords.wgs84_to_gcj02(2.35, 48.85)
    coords.gcj02_to_wgs84(2.35, 48.85)
    assert len(recwarn) == 0
