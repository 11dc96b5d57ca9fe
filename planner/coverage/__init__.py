"""Coverage of the freight corridors and access from demand, measured by road.

Two questions, each answered by functions over arrays and (Geo)DataFrames:

* :func:`corridor_coverage` (:mod:`planner.coverage.corridors`): how much of every corridor
  lies within ``radius_km`` of a station by road, the gaps, and the largest spacing between
  consecutive stations against the 200 km reading of the national rule and the 4-hour
  driving rule;
* :func:`grid_access` / :func:`county_access` (:mod:`planner.coverage.demand_access`): per
  service grid cell or county, the demand-weighted mean and 90th-percentile drive time to the
  nearest station and the share of demand within 30 and 60 minutes.

Distances are road distances: network shortest paths (``RoadNetwork.length_csr``) plus the
straight access legs at either end, as :class:`planner.access.NearestIndex` defines them
(:mod:`planner.coverage.nearest`). Modules, bottom-up: ``nearest`` (which stations count,
nearest per node and point), ``intervals`` (pure corridor-profile maths) -> ``corridors``,
``demand_access`` -> ``layers`` (map lines, GIS layers, export).
"""

from planner.coverage.corridors import MAX_GAP_NOTE, ON_CORRIDOR_KM, corridor_coverage, corridor_samples_with_access
from planner.coverage.demand_access import (
    ACCESS_THRESHOLDS_MIN,
    access_summary,
    county_access,
    demand_access,
    grid_access,
    weighted_quantile,
    zone_access,
)
from planner.coverage.intervals import clip_intervals, inside_intervals, largest_spacing, profile_gaps
from planner.coverage.layers import coverage_layers, export_coverage, gap_lines
from planner.coverage.nearest import edge_access, fastest_per_node, nearest_tables, station_mask

__all__ = [
    "ACCESS_THRESHOLDS_MIN",
    "MAX_GAP_NOTE",
    "ON_CORRIDOR_KM",
    "access_summary",
    "clip_intervals",
    "corridor_coverage",
    "corridor_samples_with_access",
    "county_access",
    "coverage_layers",
    "demand_access",
    "edge_access",
    "export_coverage",
    "fastest_per_node",
    "gap_lines",
    "grid_access",
    "inside_intervals",
    "largest_spacing",
    "nearest_tables",
    "profile_gaps",
    "station_mask",
    "weighted_quantile",
    "zone_access",
]
