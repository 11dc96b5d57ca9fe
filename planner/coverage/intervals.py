"""Pure maths of a corridor profile: gaps beyond a radius, spacing between stations, and
the stretches inside the study area (km intervals along one corridor)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["clip_intervals", "inside_intervals", "largest_spacing", "profile_gaps"]


def profile_gaps(km: np.ndarray, road_km: np.ndarray, radius_km: float) -> list[tuple[float, float]]:
    """Stretches of one corridor whose road distance to a station exceeds ``radius_km``.

    Parameters
    ----------
    km : array
        Linear reference of each sample, km from the corridor start (any order).
    road_km : array
        Road distance from each sample to the nearest station, km (``inf`` when none
        is reachable).
    radius_km : float
        Coverage radius, km.

    Returns
    -------
    list of (from_km, to_km)
        Where a stretch starts or ends between two samples, the boundary is
        interpolated linearly (road distance changes at most 1 km per km along a
        road); a corridor end inside a gap closes it. A gap never reaches past a
        covered sample, so adding stations that cover every sample removes every gap.
    """
    km = np.asarray(km, float)
    d = np.asarray(road_km, float)
    if km.size == 0:
        return []
    order = np.argsort(km, kind="stable")
    km, d = km[order], d[order]
    out_flags = ~(d <= radius_km)  # NaN and inf count as uncovered
    n = km.size
    gaps: list[tuple[float, float]] = []
    for i, j in _true_runs(out_flags):
        start = km[0] if i == 0 else _crossing(km[i - 1], d[i - 1], km[i], d[i], radius_km)
        end = km[-1] if j == n - 1 else _crossing(km[j + 1], d[j + 1], km[j], d[j], radius_km)
        gaps.append((float(start), float(end)))
    return gaps


def _true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` index of every maximal run of True in a boolean array."""
    f = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]]).astype(np.int8)
    edges = np.diff(f)
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def _crossing(k_in: float, d_in: float, k_out: float, d_out: float, radius: float) -> float:
    """Where the distance profile crosses ``radius`` between a covered and an uncovered sample."""
    if not np.isfinite(d_out) or d_out <= d_in:
        return 0.5 * (k_in + k_out)
    t = (radius - d_in) / (d_out - d_in)
    return k_in + min(max(t, 0.0), 1.0) * (k_out - k_in)


def largest_spacing(station_km: Iterable[float], length_km: float,
                    within: Sequence[tuple[float, float]] | None = None) -> tuple[float, float, float]:
    """Largest distance along a corridor between consecutive stations, ends included.

    ``within`` (km intervals, e.g. the study area's stretches of the corridor) keeps only
    the spacings that overlap one of them. Returns ``(spacing_km, from_km, to_km)``; with no
    station it is the whole corridor.
    """
    points = sorted({0.0, float(length_km), *(min(max(float(k), 0.0), float(length_km)) for k in station_km)})
    best = (0.0, 0.0, 0.0)
    for a, b in zip(points[:-1], points[1:]):
        if within is not None and not any(lo < b and a < hi for lo, hi in within):
            continue
        if b - a > best[0]:
            best = (b - a, a, b)
    return best


def inside_intervals(km: np.ndarray, inside: np.ndarray) -> list[tuple[float, float]]:
    """Stretches ``(from_km, to_km)`` of a corridor inside the study area, from per-node flags.

    ``km`` are consecutive node positions along the corridor (sorted), ``inside`` whether
    each node lies in the study area; a crossing is placed midway between an inside and an
    outside node (nodes are at most a segment, 250 m by default, apart).
    """
    km = np.asarray(km, float)
    inside = np.asarray(inside, dtype=bool)
    out: list[tuple[float, float]] = []
    n = km.size
    for i, j in _true_runs(inside):
        a = km[0] if i == 0 else 0.5 * (km[i - 1] + km[i])
        b = km[-1] if j == n - 1 else 0.5 * (km[j] + km[j + 1])
        if b > a:
            out.append((float(a), float(b)))
    return out


def clip_intervals(pieces: Iterable[tuple[float, float]], within: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of ``pieces`` inside ``within`` (both lists of km intervals)."""
    out = []
    for a, b in pieces:
        for lo, hi in within:
            x, y = max(a, lo), min(b, hi)
            if y > x:
                out.append((x, y))
    return out
