"""What a set of stations achieves: demand-weighted access and corridor coverage (the
``before`` and ``after`` of a scenario), and the station record of a proposed site."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from planner import settings
from planner.coverage import access_summary, corridor_coverage, demand_access

__all__ = ["METRIC_KEYS", "proposed_station", "scenario_metrics"]

#: Metric keys every scenario reports (docs/interfaces.md, ``suggest --json``).
METRIC_KEYS = (
    "mean_drive_min", "p90_drive_min", "share_within_30_min", "share_within_60_min",
    "covered_km", "uncovered_km", "largest_gap_km",
)


def proposed_station(site: dict, number: int, *, amenities: Iterable[str] = (), min_power_kw: float | None = None) -> dict:
    """A station record for a proposed site: open 24 h, with every amenity and the
    charging power the scenario asks for (so the site passes the scenario's filters)."""
    try:
        from planner.stations import AMENITIES
    except ImportError:
        AMENITIES = tuple(amenities)
    power = float(min_power_kw) if min_power_kw else 0.0
    bays = [{"count": 1, "power_kw": power}] if power > 0 else []
    sid = f"NEW-{number:02d}"
    return {
        "id": sid,
        "name": f"{sid} proposed site / 拟建站点",
        "lon": float(site["lon"]),
        "lat": float(site["lat"]),
        "county": None,
        "kind": "service_area",
        "corridor": site.get("corridor"),
        "amenities": {a: True for a in AMENITIES},
        "charging": {"bays": bays, "total_kw": power, "max_power_kw": power, "swap": False},
        "hours": "24h",
        "status": "open",
        "data_status": "illustrative",
        "source": f"proposed by planner.scenario ({site.get('source')})",
    }


def scenario_metrics(network, stations: list[dict], demand: pd.DataFrame, *, radius_km: float,
                     max_gap_km: float = settings.MAX_GAP_KM, amenities: Iterable[str] = (),
                     min_power_kw: float | None = None, step_km: float = settings.CORRIDOR_STEP_KM,
                     study_area=None) -> tuple[dict, dict]:
    """Demand-weighted access and corridor coverage of a set of stations.

    Returns ``(metrics, coverage)``: ``metrics`` holds ``mean_drive_min``,
    ``p90_drive_min``, ``share_within_30_min``, ``share_within_60_min``,
    ``mean_road_km``, ``demand_weight``, ``share_within_radius`` (demand within
    ``radius_km`` by road), ``corridor_km``, ``covered_km``, ``uncovered_km``,
    ``covered_share``, ``largest_gap_km``, ``gaps``, ``largest_spacing_km``,
    ``stations`` (the city's own, external supply left out); ``coverage`` is
    :func:`planner.coverage.corridor_coverage` with samples, counted inside ``study_area``.
    """
    from planner.access import NearestIndex

    index = NearestIndex(network, stations, access_speed_kmh=settings.ACCESS_SPEED_KMH)
    acc = demand_access(demand, network, index, amenities=amenities, min_power_kw=min_power_kw)
    summary = access_summary(acc["drive_min"].to_numpy(), acc["weight"].to_numpy(), acc["road_km"].to_numpy())
    w = acc["weight"].to_numpy(float)
    within_r = float(w[acc["road_km"].to_numpy(float) <= radius_km].sum() / w.sum()) if w.sum() > 0 else float("nan")
    cov = corridor_coverage(network, index, radius_km=radius_km, step_km=step_km, max_gap_km=max_gap_km,
                            amenities=amenities, min_power_kw=min_power_kw, samples=True, study_area=study_area)
    metrics = {
        "mean_drive_min": _r(summary["mean_drive_min"], 3),
        "p90_drive_min": _r(summary["p90_drive_min"], 3),
        "share_within_30_min": _r(summary["share_within_30_min"], 4),
        "share_within_60_min": _r(summary["share_within_60_min"], 4),
        "mean_road_km": _r(summary["mean_road_km"], 3),
        "share_within_radius": _r(within_r, 4),
        "demand_weight": _r(summary["demand_weight"], 3),
        "corridor_km": cov["corridor_km"],
        "covered_km": cov["covered_km"],
        "uncovered_km": cov["uncovered_km"],
        "covered_share": cov["covered_share"],
        "largest_gap_km": cov["largest_gap_km"],
        "gaps": len(cov["gaps"]),
        "largest_spacing_km": max((s["largest_spacing_km"] for s in cov["spacing"]), default=0.0),
        "stations": cov["filters"]["eligible_stations"],
    }
    return metrics, cov


def _r(v, digits):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else v
