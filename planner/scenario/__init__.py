"""Scenarios: where should the next Driver's Homes go, and what do they change?

:func:`suggest` (:mod:`planner.scenario.suggest`) keeps the existing open stations open and
adds ``k`` new sites by weighted k-means, p-median, MCLP or LSCP, and measures access and
corridor coverage before and after. Modules, bottom-up: ``costs`` (cost matrices from the
network), ``metrics`` (before/after metrics, proposed station records), ``layers`` (GIS layers
and export) -> ``models`` (one runner per model family) -> ``suggest`` (checks, candidates,
the whole scenario).
"""

from planner.scenario.costs import node_to_columns
from planner.scenario.layers import export_scenario, scenario_layers
from planner.scenario.metrics import METRIC_KEYS, proposed_station, scenario_metrics
from planner.scenario.suggest import COSTS, METHODS, suggest

__all__ = [
    "COSTS",
    "METHODS",
    "METRIC_KEYS",
    "export_scenario",
    "node_to_columns",
    "proposed_station",
    "scenario_layers",
    "scenario_metrics",
    "suggest",
]
