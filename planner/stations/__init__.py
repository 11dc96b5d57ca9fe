"""The station record: the one definition of a Driver's Home and of its checks.

A station record is a plain ``dict`` (the items of ``python -m planner stations --json``);
:func:`validate_station` checks one and returns a cleaned copy with the derived fields
(``county_name``, ``charging.total_kw``, ``charging.max_power_kw``) filled in, or raises one
:class:`~planner.errors.InputError` whose ``fields``/``fields_zh`` give every problem in
English and Chinese (:func:`localized_fields` picks the language).

The package reads bottom-up, one module per job; import from ``planner.stations``:

=============  ==========================================================================
``schema``     fields, vocabularies (amenities, kinds, counties), labels, limits
``text``       the one text normalisation (NFC/NFKC, edge spaces, case-folded codes)
``messages``   per-field problems in two languages, collected and raised once
``location``   study area, context band and county of a point (region outline, lazy)
``hours``      opening hours: ``parse_hours``, ``is_open``, ``opening``; ``region_today``
``validate``   ``validate_station`` (every field rule), ``merge_changes`` (PATCH),
               ``validate_many`` (a file or bulk write, all or nothing)
=============  ==========================================================================

Importing the package loads no region: the outline (boundary and counties, no demand) is
read on the first location check and cached for the process.
"""

from __future__ import annotations

from planner.stations.hours import is_open, opening, parse_hours, region_today
from planner.stations.location import (
    county_for_location,
    inside_region,
    location_bounds,
    record_to_wgs84,
    region_available,
)
from planner.stations.messages import Problems, localized_fields
from planner.stations.schema import (
    ADDRESS_MAX,
    AMENITIES,
    AMENITY_GROUPS,
    AMENITY_LABELS,
    CORRIDOR_MAX,
    COUNTIES,
    COUNTY_NAMES_EN,
    COUNTY_NAMES_ZH,
    DATA_STATUSES,
    DATE_RE,
    DEFAULTS,
    DERIVED,
    EXTERNAL_KIND,
    EXTRAS,
    FIELD_LABELS_ZH,
    FIELD_STATUS_EXTRA_KEYS,
    FIELDS,
    FREE_BASICS,
    HOURS_RE,
    ID_RE,
    KIND_LABELS,
    KINDS,
    LEGACY_COUNTY_CODES,
    MAX_BAY_COUNT,
    MAX_BAY_POWER_KW,
    MAX_COORD_PRECISION_M,
    MAX_DAILY_TRUCKS,
    MAX_PARKING_BAYS,
    NAME_MAX,
    NOTES_MAX,
    PHONE_RE,
    REQUIRED,
    SEVEN_CATEGORIES,
    SOURCE_MAX,
    STATUSES,
    is_external,
)
from planner.stations.text import CODE_FIELDS, NFKC_FIELDS, normalise_record, normalise_text
from planner.stations.validate import merge_changes, validate_many, validate_station

__all__ = [
    "ADDRESS_MAX", "AMENITIES", "AMENITY_GROUPS", "AMENITY_LABELS", "CODE_FIELDS", "CORRIDOR_MAX",
    "COUNTIES", "COUNTY_NAMES_EN", "COUNTY_NAMES_ZH", "DATA_STATUSES", "DATE_RE", "DEFAULTS", "DERIVED",
    "EXTERNAL_KIND", "EXTRAS", "FIELDS", "FIELD_LABELS_ZH", "FIELD_STATUS_EXTRA_KEYS", "FREE_BASICS",
    "HOURS_RE", "ID_RE", "KINDS", "KIND_LABELS", "LEGACY_COUNTY_CODES", "MAX_BAY_COUNT", "MAX_BAY_POWER_KW",
    "MAX_COORD_PRECISION_M", "MAX_DAILY_TRUCKS", "MAX_PARKING_BAYS", "NAME_MAX", "NFKC_FIELDS", "NOTES_MAX",
    "PHONE_RE", "Problems", "REQUIRED", "SEVEN_CATEGORIES", "SOURCE_MAX", "STATUSES",
    "county_for_location", "inside_region", "is_external", "is_open", "localized_fields", "location_bounds",
    "merge_changes", "normalise_record", "normalise_text", "opening", "parse_hours", "record_to_wgs84",
    "region_available",
    "region_today", "validate_many", "validate_station",
]
