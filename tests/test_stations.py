"""Station schema: every field rule, messages in two languages, derived fields, opening hours."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.stations import (
    AMENITIES,
    COUNTIES,
    DATA_STATUSES,
    FIELDS,
    FREE_BASICS,
    KINDS,
    SEVEN_CATEGORIES,
    county_for_location,
    inside_region,
    is_external,
    is_open,
    localized_fields,
    location_bounds,
    merge_changes,
    parse_hours,
    region_available,
    validate_station,
)

ROOT = Path(__file__).resolve().parent.parent


def make_record(**overrides) -> dict:
    """A valid record: the Beichuan MW charging figures on an illustrative site."""
    record = {
        "id": "MY-BC-01",
        "name": "DEMO-司机之家-BC（示例）",
        "name_en": "DEMO Beichuan charging hub",
        "lon": 104.468,
        "lat": 31.617,
        "county": "510726",
        "kind": "charging_hub",
        "corridor": "G8513",
        "amenities": {"parking": True, "shower": True, "free_hot_water": True},
        "charging": {"bays": [{"count": 18, "power_kw": 1440}, {"count": 108, "power_kw": 600}], "swap": False},
        "hours": "24h",
        "phone": "0816-1234567",
        "parking_bays": 120,
        "daily_trucks": 700,
        "data_status": "approximate",
        "field_status": {"location": "approximate", "charging": "verified"},
        "source": "BC",
        "coord_precision_m": 5000,
        "as_of": "2025-08-22",
    }
    record.update(overrides)
    return record


def problems(record, *, partial=False) -> InputError:
    with pytest.raises(InputError) as info:
        validate_station(record, partial=partial)
    return info.value


def test_vocabularies_match_the_contract():
    assert SEVEN_CATEGORIES == ("parking", "rest", "dining", "shower", "laundry", "toilet", "other")
    assert FREE_BASICS == ("free_parking_rest", "free_hot_water", "free_food_reheat", "free_shower", "free_laundry")
    assert AMENITIES[:12] == SEVEN_CATEGORIES + FREE_BASICS
    assert {"secure_parking", "fuel", "repair", "wifi", "shop", "overnight_beds"} <= set(AMENITIES)
    assert KINDS == ("service_area", "logistics_hub", "fuel_station", "work_zone", "charging_hub", "town", "external")
    assert DATA_STATUSES == ("verified", "approximate", "illustrative")
    assert sorted(COUNTIES) == ["510703", "510704", "510705", "510722", "510723", "510725", "510726", "510727",
                                "510781"]
    assert COUNTIES["510726"] == ("北川羌族自治县", "Beichuan Qiang Autonomous County")


def test_valid_record_gets_derived_fields_and_defaults():
    clean = validate_station(make_record())
    assert list(clean) == list(FIELDS)
    assert clean["charging"]["total_kw"] == 90720
    assert clean["charging"]["max_power_kw"] == 1440
    assert clean["county_name"] == "北川羌族自治县"
    assert clean["amenities"]["shower"] is True and clean["amenities"]["laundry"] is False
    assert set(clean["amenities"]) == set(AMENITIES)
    assert clean["status"] == "open" and clean["coord_sys"] == "wgs84"
    assert clean["address"] is None and clean["notes"] is None


def test_validation_is_idempotent_and_ignores_version():
    clean = validate_station(make_record())
    assert validate_station({**clean, "version": 7}) == clean


def test_charging_defaults_to_none():
    clean = validate_station(make_record(charging=None))
    assert clean["charging"] == {"bays": [], "total_kw": 0.0, "max_power_kw": 0.0, "swap": False}


# (field override, expected key in fields, fragment of the English rule)
BAD = [
    ({"id": "my-dh-01"}, "id", "A-Z, 0-9"),
    ({"id": "X"}, "id", "2-32"),
    ({"name": "  "}, "name", "1-80"),
    ({"name": "长" * 81}, "name", "at most 80"),
    ({"name_en": 5}, "name_en", "text"),
    ({"lon": 120.1}, "lon", "lon must be a number between 103.7"),
    ({"lon": 120.1}, "lon", "(inside Mianyang, WGS-84); got 120.1"),
    ({"lat": 29.0}, "lat", "lat must be a number between 30.7"),
    ({"lon": "104.5"}, "lon", "must be a number"),
    ({"lon": float("nan")}, "lon", "must be a number"),
    ({"lon": True}, "lon", "must be a number"),
    ({"county": "510799"}, "county", "Mianyang county code"),
    ({"county": "510703", "county_name": "江油市"}, "county_name", "does not match"),
    ({"kind": "hotel"}, "kind", "valid: service_area"),
    ({"amenities": {"sauna": True}}, "amenities", "unknown amenity 'sauna'; valid: parking, rest"),
    ({"amenities": {"shower": "yes"}}, "amenities", "true or false"),
    ({"amenities": ["shower"]}, "amenities", "object"),
    ({"charging": {"bays": [{"count": 0, "power_kw": 600}]}}, "charging", "count must be a whole number"),
    ({"charging": {"bays": [{"count": -3, "power_kw": 600}]}}, "charging", "count"),
    ({"charging": {"bays": [{"count": 2, "power_kw": -1}]}}, "charging", "power_kw must be a number > 0"),
    ({"charging": {"bays": [{"count": 2, "power_kw": 1_440_000}]}}, "charging", "1.44 MW = 1440"),
    ({"charging": {"bays": [{"count": 2, "kw": 600}]}}, "charging", "bay 1"),
    ({"charging": {"bays": "18x1440"}}, "charging", "list"),
    ({"charging": {"bays": [{"count": 1, "power_kw": 600}], "total_kw": 5}}, "charging", "derived"),
    ({"charging": {"swap": "no"}}, "charging", "swap"),
    ({"charging": {"plugs": 3}}, "charging", "unknown charging key"),
    ({"hours": "25:00-01:00"}, "hours", "impossible time"),
    ({"hours": "8-22"}, "hours", "HH:MM-HH:MM"),
    ({"hours": "08:00-08:00"}, "hours", '"24h"'),
    ({"hours": 24}, "hours", "24h"),
    ({"phone": "call me"}, "phone", "digits"),
    ({"phone": "12"}, "phone", "3-20"),
    ({"parking_bays": -1}, "parking_bays", "whole number from 0"),
    ({"parking_bays": 2.5}, "parking_bays", "whole number"),
    ({"parking_bays": None}, "parking_bays", "whole number"),
    ({"daily_trucks": -5}, "daily_trucks", "or empty"),
    ({"status": "closed"}, "status", "open, retired"),
    ({"data_status": "guess"}, "data_status", "verified, approximate, illustrative"),
    ({"field_status": {"location": "guess"}}, "field_status", "must be one of"),
    ({"field_status": {"colour": "verified"}}, "field_status", "not a field"),
    ({"source": ""}, "source", "required"),
    ({"coord_sys": "utm"}, "coord_sys", "wgs84, gcj02, bd09"),
    ({"coord_precision_m": -1}, "coord_precision_m", "whole number"),
    ({"as_of": "2025-02-30"}, "as_of", "YYYY-MM-DD"),
    ({"as_of": "22/08/2025"}, "as_of", "YYYY-MM-DD"),
    ({"notes": "x" * 2001}, "notes", "at most 2000"),
    ({"sauna": True}, "sauna", "unknown field 'sauna'"),
]


@pytest.mark.parametrize(("override", "field", "fragment"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_each_field_rule_is_reported_in_english_and_chinese(override, field, fragment):
    err = problems(make_record(**override))
    assert set(err.fields) == {field}, err.fields
    assert fragment in err.fields[field]
    zh = localized_fields(err, "zh")
    assert set(zh) == {field}
    assert zh[field] != err.fields[field]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh[field]), zh[field]  # really Chinese
    assert localized_fields(err, "en") == err.fields


def test_all_problems_are_collected_at_once():
    err = problems(make_record(lon=120.1, amenities={"sauna": True}, hours="bad", parking_bays=-1))
    assert set(err.fields) == {"lon", "amenities", "hours", "parking_bays"}
    assert "unknown amenity 'sauna'" in str(err)


def test_required_fields_are_named():
    err = problems({"id": "MY-X1"})
    for field in ("name", "lon", "lat", "kind", "hours", "data_status", "source"):
        assert field in err.fields and "required" in err.fields[field]


def test_legacy_anxian_code_becomes_anzhou():
    clean = validate_station(make_record(county="510724", lon=104.57, lat=31.54))
    assert clean["county"] == "510705" and clean["county_name"] == "安州区"


def test_english_county_name_is_accepted_as_consistent():
    clean = validate_station(make_record(county_name="Beichuan Qiang Autonomous County"))
    assert clean["county_name"] == "北川羌族自治县"


def test_point_inside_bbox_but_outside_boundary_is_rejected_when_region_is_available():
    assert region_available()  # a broken region loader must fail here, not skip
    # The bounding box's south-west corner lies in Deyang/Chengdu, not Mianyang.
    assert not inside_region(103.80, 30.75)
    err = problems(make_record(lon=103.80, lat=30.75))
    assert "location" in err.fields and "outside the Mianyang boundary" in err.fields["location"]
    assert "绵阳" in localized_fields(err, "zh")["location"]


def test_bbox_is_always_checked():
    assert inside_region(104.757, 31.455)
    assert not inside_region(104.0, 30.5)
    assert not inside_region(106.0, 31.5)
    x0, y0, x1, y1 = location_bounds()
    assert 103.7 <= x0 <= 103.75 and 105.72 <= x1 <= 105.8 and 30.6 <= y0 <= 30.7 and 33.05 <= y1 <= 33.1


def test_missing_county_is_derived_from_location_or_reported():
    record = make_record(lon=104.757, lat=31.455)  # Fucheng seat
    del record["county"]
    assert county_for_location(104.757, 31.455) is not None
    clean = validate_station(record)
    assert clean["county"] in ("510703", "510704")  # the city centre straddles both
    assert clean["county_name"] == COUNTIES[clean["county"]][0]


def test_seed_stations_validate():
    path = ROOT / "geodata" / "mianyang" / "stations.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    clean = [validate_station(r) for r in records]
    assert len(clean) == 23
    assert len({c["id"] for c in clean}) == 23


# ------------------------------------------------------------------ partial (PATCH bodies)
def test_partial_validates_only_given_fields():
    assert validate_station({"amenities": {"shower": True}}, partial=True) == {"amenities": {"shower": True}}
    assert validate_station({"county": "510781"}, partial=True) == {"county": "510781", "county_name": "江油市"}
    out = validate_station({"charging": {"bays": [{"count": 2, "power_kw": 600}]}}, partial=True)
    assert out["charging"] == {"bays": [{"count": 2, "power_kw": 600.0}], "total_kw": 1200.0, "max_power_kw": 600.0}


def test_partial_rules():
    assert set(problems({"lon": 104.5}, partial=True).fields) == {"lat"}
    assert set(problems({"name": None}, partial=True).fields) == {"name"}
    assert set(problems({"county": ""}, partial=True).fields) == {"county"}
    assert "derived" in problems({"charging": {"total_kw": 10}}, partial=True).fields["charging"]
    assert "derived" in problems({"county_name": "江油市"}, partial=True).fields["county_name"]
    assert set(problems({"parking_bays": -2, "hours": "x"}, partial=True).fields) == {"parking_bays", "hours"}


def test_merge_changes_merges_nested_objects():
    current = {**validate_station(make_record()), "version": 3}
    merged = merge_changes(current, {"amenities": {"laundry": True}, "charging": {"swap": True},
                                     "field_status": {"hours": "verified"}})
    clean = validate_station(merged)
    assert clean["amenities"]["laundry"] is True and clean["amenities"]["shower"] is True
    assert clean["charging"]["swap"] is True and clean["charging"]["total_kw"] == 90720
    assert clean["field_status"] == {"location": "approximate", "charging": "verified", "hours": "verified"}


# ------------------------------------------------------------------ hours
@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        ("24h", dt.time(3, 0), True),
        ("24H", dt.time(23, 59), True),
        ("06:00-22:00", dt.time(5, 59), False),
        ("06:00-22:00", dt.time(6, 0), True),
        ("06:00-22:00", dt.time(21, 59), True),
        ("06:00-22:00", dt.time(22, 0), False),
        ("20:00-08:00", dt.time(23, 0), True),
        ("20:00-08:00", dt.time(0, 0), True),
        ("20:00-08:00", dt.time(7, 59), True),
        ("20:00-08:00", dt.time(8, 0), False),
        ("20:00-08:00", dt.time(12, 0), False),
        ("22:00-24:00", dt.time(23, 30), True),
        ("22:00-24:00", dt.time(0, 30), False),
        ("00:00-08:00", dt.time(0, 0), True),
    ],
)
def test_is_open(hours, at, expected):
    assert is_open(hours, at) is expected


def test_is_open_accepts_datetimes():
    assert is_open("06:00-22:00", dt.datetime(2025, 8, 22, 12, 0)) is True


@pytest.mark.parametrize("hours", ["", "always", "6:00-22:00", "06:00-25:00", "06:60-22:00", "10:00-10:00",
                                   "00:00-24:00", None, 24])
def test_malformed_hours_raise(hours):
    with pytest.raises(InputError) as info:
        is_open(hours, dt.time(12, 0))
    assert set(info.value.fields) == {"hours"}
    with pytest.raises(InputError):
        parse_hours(hours)


times = st.times()
hhmm = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@settings(max_examples=300, deadline=None)
@given(hhmm, hhmm, times)
def test_a_range_and_its_complement_never_agree(start, end, at):
    if start == end:
        return
    a = f"{start[0]:02d}:{start[1]:02d}"
    b = f"{end[0]:02d}:{end[1]:02d}"
    assert is_open(f"{a}-{b}", at) != is_open(f"{b}-{a}", at)


def test_validating_a_station_loads_no_demand_and_no_analysis_layers():
    """Validation needs the boundary and counties only: no demand simulation, no grid, no network."""
    import subprocess
    import sys

    code = (
        "import json, sys, planner.region as R\n"
        "from planner.stations import validate_station\n"
        "rec = json.load(open('geodata/mianyang/stations.json', encoding='utf-8'))[0]\n"
        "validate_station(rec)\n"
        "assert R._embedded_demand.cache_info().currsize == 0, 'demand was generated'\n"
        "assert R._load_cached.cache_info().currsize == 0, 'the whole region was loaded'\n"
        "assert 'planner.network' not in sys.modules and 'planner.demand' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# --------------------------------------------------------------------------- region bounds
#: A station of a neighbouring city, ~22 km outside Mianyang's boundary towards Deyang.
NEIGHBOUR = dict(id="DY-EXT-01", name="德阳某司机之家（外部，示例）", lon=104.5, lat=31.1, county="510604",
                 kind="external", data_status="illustrative", source="test: a neighbour's station (illustrative)")


def test_external_station_in_the_context_band_is_accepted():
    clean = validate_station(make_record(**NEIGHBOUR))
    assert clean["kind"] == "external" and clean["county"] == "510604" and clean["county_name"] is None
    assert is_external(clean) and not is_external(make_record())
    assert inside_region(104.5, 31.1, external=True) and not inside_region(104.5, 31.1)


def test_own_station_outside_the_study_area_is_rejected_and_told_about_external():
    record = make_record(**{**NEIGHBOUR, "kind": "service_area", "county": "510726"})
    err = problems(record)
    assert "location" in err.fields and "kind 'external'" in err.fields["location"]
    assert "external" in localized_fields(err, "zh")["location"]


def test_external_station_beyond_the_band_is_rejected():
    # Chengdu's centre: ~75 km from Mianyang's boundary, beyond the 50 km band
    err = problems(make_record(**{**NEIGHBOUR, "lon": 104.066, "lat": 30.657}))
    assert ("location" in err.fields and "50 km" in err.fields["location"]) or "lat" in err.fields
    assert not inside_region(104.066, 30.657, external=True)
    x0, y0, x1, y1 = location_bounds(external=True)
    sx0, sy0, sx1, sy1 = location_bounds()
    assert x0 < sx0 - 0.4 and y0 < sy0 - 0.4 and x1 > sx1 + 0.4 and y1 > sy1 + 0.4  # ~50 km each way


def test_external_county_must_be_an_administrative_code():
    err = problems(make_record(**{**NEIGHBOUR, "county": "Deyang"}))
    assert "county" in err.fields and "6-digit" in err.fields["county"]
