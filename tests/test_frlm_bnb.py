"""The FRLM branch and bound (planner.siting.frlm_bnb) against brute force on random set systems.

The search solves: choose k of m sites to maximise the volume of the groups whose every set
holds a chosen site. Random set systems are harder than road windows (no interval
structure), so every reduction inside the search — dead groups, the packing count of sites
a group needs, dominated sites, the reduced-cost closing, the charging bound — meets cases a
road network rarely makes. Each answer is checked against all combinations of k sites.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting import frlm_bnb


def covered_volume(sets, pairs, volume, chosen):
    hit = sets[:, np.asarray(chosen, dtype=bool)].any(axis=1)
    ok = np.ones(volume.size, dtype=bool)
    for g, s in pairs:
        ok[g] &= hit[s]
    return float(volume[ok].sum())


def brute(sets, pairs, volume, k):
    m = sets.shape[1]
    best = 0.0
    for combo in itertools.combinations(range(m), min(k, m)):
        mask = np.zeros(m, dtype=bool)
        mask[list(combo)] = True
        best = max(best, covered_volume(sets, pairs, volume, mask))
    return best


@st.composite
def set_systems(draw, integral=True):
    m = draw(st.integers(2, 9))
    n_sets = draw(st.integers(1, min(10, 2**m - 1)))
    masks = draw(st.lists(st.integers(1, 2**m - 1), min_size=n_sets, max_size=n_sets, unique=True))
    sets = np.array([[(mask >> j) & 1 for j in range(m)] for mask in masks], dtype=bool)
    n_groups = draw(st.integers(1, 12))
    pairs = []
    for g in range(n_groups):
        fam = draw(st.lists(st.integers(0, n_sets - 1), min_size=1, max_size=min(4, n_sets), unique=True))
        pairs += [(g, s) for s in fam]
    if integral:
        volume = np.array(draw(st.lists(st.integers(0, 40), min_size=n_groups, max_size=n_groups)), dtype=float)
    else:
        volume = np.array(draw(st.lists(st.floats(0.0, 40.0, allow_nan=False), min_size=n_groups,
                                        max_size=n_groups)))
    k = draw(st.integers(1, min(4, m)))
    start = np.zeros(m, dtype=bool)
    start[draw(st.lists(st.integers(0, m - 1), max_size=k, unique=True))] = True
    return sets, np.array(pairs, dtype=np.int64), volume, k, start


def _tol(volume, integral):
    return (1.0 - 1e-6) if integral else max(1e-9 * float(volume.sum()), 1e-12)


@settings(max_examples=300, deadline=None)
@given(set_systems(integral=True))
def test_search_equals_brute_force_integral_volumes(case):
    sets, pairs, volume, k, start = case
    best = brute(sets, pairs, volume, k)
    chosen, value, optimal, upper, nodes = frlm_bnb.search(sets, pairs, volume, k, start,
                                                           tol=_tol(volume, True), deadline=None)
    assert optimal and chosen.sum() <= k
    assert value == pytest.approx(best)
    assert covered_volume(sets, pairs, volume, chosen) == pytest.approx(best)  # the value is the chosen sites'
    assert upper == pytest.approx(best)


@settings(max_examples=200, deadline=None)
@given(set_systems(integral=False))
def test_search_equals_brute_force_fractional_volumes(case):
    sets, pairs, volume, k, start = case
    best = brute(sets, pairs, volume, k)
    chosen, value, optimal, upper, _ = frlm_bnb.search(sets, pairs, volume, k, start,
                                                       tol=_tol(volume, False), deadline=None)
    assert optimal and chosen.sum() <= k
    assert covered_volume(sets, pairs, volume, chosen) == pytest.approx(best, rel=1e-9, abs=1e-9)


def _hard_system(seed, m=14, n_sets=40, n_groups=60, k=4):
    """A random system on which the greedy start is far from the optimum."""
    rng = np.random.default_rng(seed)
    sets = rng.random((n_sets, m)) < 0.25
    sets[np.arange(n_sets), rng.integers(0, m, n_sets)] = True
    pairs = np.array([(g, s) for g in range(n_groups)
                      for s in rng.choice(n_sets, int(rng.integers(1, 4)), replace=False)], dtype=np.int64)
    volume = rng.integers(1, 50, n_groups).astype(float)
    return sets, pairs, volume, k


@pytest.mark.parametrize("seed", range(3))
def test_search_from_a_poor_start_and_truthful_when_stopped(seed):
    sets, pairs, volume, k = _hard_system(seed)
    best = brute(sets, pairs, volume, k)
    empty = np.zeros(sets.shape[1], dtype=bool)
    chosen, value, optimal, upper, nodes = frlm_bnb.search(sets, pairs, volume, k, empty,
                                                           tol=_tol(volume, True), deadline=None)
    assert optimal and nodes > 1
    assert covered_volume(sets, pairs, volume, chosen) == pytest.approx(best)
    # stopped before the first node: the start comes back, not optimal, with a valid bound
    chosen, value, optimal, upper, nodes = frlm_bnb.search(sets, pairs, volume, k, empty,
                                                           tol=_tol(volume, True), deadline=time.perf_counter() - 1)
    assert not optimal and nodes == 0 and value == 0.0 and upper >= best
    # stopped after one node at a time: whatever comes back is honest
    chosen, value, optimal, upper, nodes = frlm_bnb.search(sets, pairs, volume, k, empty,
                                                           tol=_tol(volume, True), deadline=None, node_chunk=1,
                                                           max_nodes=3)
    assert nodes == 3 and not optimal
    assert covered_volume(sets, pairs, volume, chosen) == pytest.approx(value) and value <= best
    assert upper >= best
