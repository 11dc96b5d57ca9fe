"""Tests for planner.siting: p-median, MCLP and LSCP against brute force, bad inputs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError, InputError
from planner.siting import SitingResult, objective_value, solve_lscp, solve_mclp, solve_p_median

ROOT = Path(__file__).resolve().parents[1]


# -- brute force references ---------------------------------------------------------------
def brute_p_median(C, p, w=None, fixed=()):
    w = np.ones(C.shape[0]) if w is None else np.asarray(w, float)
    best = np.inf
    for S in itertools.combinations(range(C.shape[1]), p):
        if set(fixed) <= set(S):
            best = min(best, float(np.sum(w * C[:, list(S)].min(axis=1))))
    return best


def brute_mclp(C, p, r, w=None, fixed=()):
    w = np.ones(C.shape[0]) if w is None else np.asarray(w, float)
    A = C <= r
    return max(
        float(w[A[:, list(S)].any(axis=1)].sum())
        for S in itertools.combinations(range(C.shape[1]), p)
        if set(fixed) <= set(S)
    )


def brute_lscp(C, r, fixed=()):
    A = C <= r
    free = [j for j in range(C.shape[1]) if j not in fixed]
    for k in range(len(free) + 1):
        for S in itertools.combinations(free, k):
            if A[:, list(S) + list(fixed)].any(axis=1).all():
                return k
    return None


def random_instance(seed, *, integer):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 16))
    m = int(rng.integers(2, 12))
    C = rng.integers(0, 60, (n, m)).astype(float) if integer else rng.random((n, m)) * 10.0
    w = rng.integers(0, 6, n).astype(float) if seed % 3 == 0 else (rng.random(n) * 3 if seed % 3 == 1 else None)
    n_fixed = int(rng.integers(0, min(3, m)))
    fixed = sorted(int(j) for j in rng.choice(m, n_fixed, replace=False))
    p = int(rng.integers(max(1, n_fixed), m + 1))
    return C, w, fixed, p


def weighted(C, w, sel):
    w = np.ones(C.shape[0]) if w is None else np.asarray(w, float)
    return float(np.sum(w * C[:, sel].min(axis=1)))


# -- p-median -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(40))
def test_p_median_matches_brute_force(seed):
    C, w, fixed, p = random_instance(seed, integer=seed % 2 == 0)
    res = solve_p_median(C, p, weights=w, fixed=fixed or None)
    best = brute_p_median(C, p, w, fixed)
    assert res.optimal
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-9)
    assert len(res.selected) == p
    assert res.selected == sorted(res.selected)
    assert set(fixed) <= set(res.selected)
    assert res.objective == pytest.approx(weighted(C, w, res.selected), rel=1e-12, abs=1e-12)
    assert res.lower_bound <= res.objective + 1e-9
    assert res.gap is not None and res.gap <= 1.01 * res.extra["tolerance"]


@pytest.mark.parametrize("seed", range(12))
def test_p_median_heuristic_path_is_feasible_with_valid_bound(seed):
    C, w, fixed, p = random_instance(100 + seed, integer=seed % 2 == 0)
    best = brute_p_median(C, p, w, fixed)
    res = solve_p_median(C, p, weights=w, fixed=fixed or None, method="heuristic")
    assert len(res.selected) == p and set(fixed) <= set(res.selected)
    assert res.objective == pytest.approx(weighted(C, w, res.selected), rel=1e-12, abs=1e-12)
    assert res.objective >= best - 1e-9
    assert res.lower_bound is not None
    assert res.lower_bound <= best + 1e-6 * max(1.0, best)
    if res.optimal:
        assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-9)


def pmed_like(n, seed):
    """OR-Library-style instance: n nodes, n^2/50 edges of length 1..100, shortest paths."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import shortest_path

    rng = np.random.default_rng(seed)
    edges = set()
    for k in range(1, n):  # spanning tree: node k joins an earlier node
        a = int(rng.integers(0, k))
        edges.add((a, k))
    while len(edges) < max(n - 1, n * n // 50):
        a, b = (int(v) for v in rng.integers(0, n, 2))
        if a != b:
            edges.add((min(a, b), max(a, b)))
    e = np.array(sorted(edges))
    g = coo_array((rng.integers(1, 101, len(e)).astype(float), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False)


def classical_mip_optimum(C, p):
    """Reference optimum from the full classical formulation solved by HiGHS."""
    from planner.siting._highs import csc_from_coo, solve_mip

    n, m = C.shape
    nx = n * m
    ids = np.arange(nx)
    rows = np.concatenate([ids // m, n + ids, n + ids, np.full(m, n + nx)])
    cols = np.concatenate([m + ids, m + ids, ids % m, np.arange(m)])
    vals = np.concatenate([np.ones(nx), np.ones(nx), -np.ones(nx), np.ones(m)])
    a_start, a_index, a_value = csc_from_coo(rows, cols, vals, m + nx)
    out = solve_mip(
        col_cost=np.concatenate([np.zeros(m), C.ravel()]),
        col_lower=np.zeros(m + nx),
        col_upper=np.ones(m + nx),
        integrality=np.concatenate([np.ones(m), np.zeros(nx)]).astype(np.int32),
        a_start=a_start,
        a_index=a_index,
        a_value=a_value,
        row_lower=np.concatenate([np.ones(n), np.full(nx, -np.inf), [p]]),
        row_upper=np.concatenate([np.ones(n), np.zeros(nx), [p]]),
        mip_abs_gap=1e-6,
    )
    assert out.status == "optimal"
    return out.objective


@pytest.mark.parametrize(("n", "p", "seed"), [(60, 5, 1), (60, 20, 2), (80, 8, 3)])
def test_p_median_matches_full_mip_on_graph_instances(n, p, seed):
    C = pmed_like(n, seed)
    res = solve_p_median(C, p)
    assert res.optimal
    assert res.objective == pytest.approx(classical_mip_optimum(C, p), abs=1e-6)


def test_p_median_time_limit_returns_honest_bound():
    C = pmed_like(120, 7)
    exact = solve_p_median(C, 6)
    res = solve_p_median(C, 6, time_limit_s=1e-3)
    assert len(res.selected) == 6
    assert res.lower_bound is not None and res.lower_bound <= exact.objective + 1e-9
    assert res.objective >= exact.objective - 1e-9
    if res.optimal:
        assert res.objective == pytest.approx(exact.objective)


#: Seeds of random integer instances on which greedy + fast interchange stop at a local
#: optimum and the Lagrangian root bound is not tight, so only branching (driven by valid
#: bounds) reaches the optimum. Found by a search over seeds; the tests below re-check both
#: properties so a change of generator cannot make them vacuous.
HARD_SEEDS = (8, 10, 40, 82, 118, 134, 164, 192, 226, 244, 246, 254)


def hard_instance(seed):
    rng = np.random.default_rng(seed)
    n, m, p = int(rng.integers(12, 30)), int(rng.integers(9, 14)), int(rng.integers(2, 5))
    return rng.integers(1, 100, (n, m)).astype(float), p


@pytest.mark.parametrize("seed", HARD_SEEDS)
def test_p_median_branches_to_the_optimum(seed):
    C, p = hard_instance(seed)
    best = brute_p_median(C, p)
    res = solve_p_median(C, p)
    # the instance is hard: the heuristics alone are wrong and the tree search branches
    assert res.extra["upper_bound_heuristic"] > best + 0.5
    assert res.extra["bnb"]["nodes"] > 1
    assert res.optimal
    assert res.objective == best
    assert res.lower_bound == best


def test_p_median_time_limited_claims_are_honest_on_hard_instances():
    stopped_short = 0
    for seed in HARD_SEEDS:
        C, p = hard_instance(seed)
        best = brute_p_median(C, p)
        res = solve_p_median(C, p, time_limit_s=1e-6)
        assert len(res.selected) == p
        assert res.objective >= best
        assert res.lower_bound is not None and 0 < res.lower_bound <= best + 1e-9, (seed, res.lower_bound, best)
        if res.optimal:
            assert res.objective == best, seed
        else:
            assert res.gap is None or res.gap >= 0
        stopped_short += res.objective > best
    # the budget really cut the search short somewhere, so the checks above had teeth
    assert stopped_short >= 3


@pytest.mark.parametrize("seed", range(6))
def test_p_median_bounds_agree_with_an_independent_mip(seed):
    """scipy's milp (its own model of the classical formulation) as the reference optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    rng = np.random.default_rng(500 + seed)
    n, m, p = 40, 18, 3 + seed % 3
    C = rng.integers(1, 100, (n, m)).astype(float)
    nx = n * m
    ids = np.arange(nx)
    # variables: y_j (m), x_ij (n*m); sum_j x_ij = 1; x_ij <= y_j; sum_j y_j = p
    rows = np.concatenate([ids // m, n + ids, n + ids, np.full(m, n + nx)])
    cols = np.concatenate([m + ids, m + ids, ids % m, np.arange(m)])
    vals = np.concatenate([np.ones(nx), np.ones(nx), -np.ones(nx), np.ones(m)])
    A = coo_array((vals, (rows, cols)), shape=(n + nx + 1, m + nx)).tocsr()
    lo = np.concatenate([np.ones(n), np.full(nx, -np.inf), [p]])
    hi = np.concatenate([np.ones(n), np.zeros(nx), [p]])
    ref = milp(np.concatenate([np.zeros(m), C.ravel()]), constraints=LinearConstraint(A, lo, hi),
               integrality=np.concatenate([np.ones(m), np.zeros(nx)]), bounds=Bounds(0, 1))
    assert ref.success
    res = solve_p_median(C, p)
    assert res.optimal and res.objective == pytest.approx(ref.fun, abs=1e-6)
    limited = solve_p_median(C, p, time_limit_s=1e-6)
    assert limited.lower_bound is None or limited.lower_bound <= ref.fun + 1e-6
    if limited.optimal:
        assert limited.objective == pytest.approx(ref.fun, abs=1e-6)


def test_p_median_counts_fixed_columns_in_p():
    C = np.array([[0.0, 5, 9, 9], [5, 0, 9, 9], [9, 9, 0, 1], [9, 9, 1, 0]])
    res = solve_p_median(C, 2, fixed=[0])
    assert res.selected[0] == 0 and len(res.selected) == 2
    assert res.objective == pytest.approx(brute_p_median(C, 2, fixed=[0]))
    only_fixed = solve_p_median(C, 1, fixed=[3])
    assert only_fixed.selected == [3] and only_fixed.optimal


def test_p_median_unreachable_pairs():
    inf = np.inf
    C = np.array([[0.0, 2, inf], [2, 0, inf], [inf, inf, 0], [inf, 3, 1]])
    res = solve_p_median(C, 2)
    assert res.optimal and res.selected == [1, 2]
    assert res.objective == pytest.approx(2 + 0 + 0 + 1)
    with pytest.raises(InfeasibleError, match=r"at least 2 columns"):
        solve_p_median(C[:3], 1)


def test_p_median_row_reaching_nothing_is_infeasible():
    C = np.array([[1.0, 2.0], [np.inf, np.inf], [3.0, 1.0]])
    with pytest.raises(InfeasibleError, match=r"1 demand row\(s\) cannot reach any candidate.*\[1\]"):
        solve_p_median(C, 1)


def test_objective_value_helper_and_zero_weights():
    C = np.array([[1.0, 4.0], [np.inf, 2.0]])
    assert objective_value(C, [2.0, 0.0], [0]) == 2.0
    res = solve_p_median(C, 1, weights=[2.0, 0.0])
    assert res.selected == [0] and res.objective == 2.0


# -- MCLP ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(25))
def test_mclp_matches_brute_force(seed):
    C, w, fixed, p = random_instance(200 + seed, integer=seed % 2 == 0)
    r = float(np.quantile(C, 0.4))
    if r <= 0:
        r = 1.0
    res = solve_mclp(C, p, r, weights=w, fixed=fixed or None)
    assert res.optimal
    assert res.objective == pytest.approx(brute_mclp(C, p, r, w, fixed))
    assert len(res.selected) == p and set(fixed) <= set(res.selected)
    ww = np.ones(C.shape[0]) if w is None else np.asarray(w)
    assert res.objective == pytest.approx(float(ww[(C[:, res.selected] <= r).any(axis=1)].sum()))
    assert res.lower_bound is None  # maximisation: the bound is an upper bound
    assert res.extra["upper_bound"] == pytest.approx(res.objective)


def test_mclp_heuristic_upper_bound_is_valid():
    rng = np.random.default_rng(5)
    C = rng.random((14, 9)) * 10
    best = brute_mclp(C, 3, 4.0)
    res = solve_mclp(C, 3, 4.0, method="heuristic")
    assert res.objective <= best + 1e-9
    assert res.extra["upper_bound"] >= best - 1e-9


# -- LSCP ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(25))
def test_lscp_matches_brute_force(seed):
    C, _, fixed, _ = random_instance(300 + seed, integer=seed % 2 == 0)
    r = float(C.min(axis=1).max()) * 1.05 + 1e-9  # every row coverable
    res = solve_lscp(C, r, fixed=fixed or None)
    assert res.optimal
    assert res.objective == brute_lscp(C, r, fixed)
    assert (C[:, res.selected] <= r).any(axis=1).all()
    assert set(fixed) <= set(res.selected)
    assert res.objective == len(res.selected) - len(fixed)
    assert res.extra["max_cost_to_nearest"] <= r


def test_lscp_infeasible_radius_names_count_and_radius():
    C = np.array([[1.0, 9.0], [8.0, 7.0], [2.0, 3.0]])
    with pytest.raises(InfeasibleError, match=r"1 of 3 rows have no candidate within radius 5.*smallest radius that covers every row is 7"):
        solve_lscp(C, 5.0)
    with pytest.raises(InfeasibleError, match=r"cannot reach any candidate at any radius"):
        solve_lscp(np.array([[1.0, 2.0], [np.inf, np.inf]]), 5.0)


# -- bad input ----------------------------------------------------------------------------
C3 = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: solve_p_median(C3, 0), InputError, r"p must be >= 1.*p=0"),
        (lambda: solve_p_median(C3, -2), InputError, r"p=-2"),
        (lambda: solve_p_median(C3, 4), InfeasibleError, r"p=4 exceeds the 3 candidate columns"),
        (lambda: solve_p_median(C3, 1, fixed=[0, 2]), InfeasibleError, r"p=1 is smaller than the 2 fixed"),
        (lambda: solve_p_median(C3, 2.5), InputError, r"p must be an integer; got 2.5"),
        (lambda: solve_p_median(np.zeros((0, 3)), 1), InputError, r"no demand rows \(shape \(0, 3\)\)"),
        (lambda: solve_p_median(np.zeros((2, 0)), 1), InputError, r"no candidate columns"),
        (lambda: solve_p_median([1.0, 2.0], 1), InputError, r"must be 2-D.*got 1-D"),
        (lambda: solve_p_median(C3, 1, weights=[1.0, -2.0]), InputError, r"1 negative value\(s\) \(smallest -2.0\)"),
        (lambda: solve_p_median(C3, 1, weights=[1.0, 2.0, 3.0]), InputError, r"shape \(2,\).*got shape \(3,\)"),
        (lambda: solve_p_median(C3, 1, weights=[1.0, np.nan]), InputError, r"1 non-finite"),
        (lambda: solve_p_median(np.array([[np.nan, 1.0]]), 1), InputError, r"1 NaN value"),
        (lambda: solve_p_median(np.array([[-1.0, 1.0]]), 1), InputError, r"1 negative value\(s\) \(smallest -1.0\)"),
        (lambda: solve_p_median(np.array([[-np.inf, 1.0]]), 1), InputError, r"-inf"),
        (lambda: solve_p_median(C3, 1, fixed=[5]), InputError, r"\[5\] outside 0..2"),
        (lambda: solve_p_median(C3, 2, fixed=[1, 1]), InputError, r"repeats column index\(es\) \[1\]"),
        (lambda: solve_p_median(C3, 1, time_limit_s=0), InputError, r"time_limit_s must be > 0"),
        (lambda: solve_p_median(C3, 1, method="fast"), InputError, r"method must be one of"),
        (lambda: solve_mclp(C3, 1, 0.0), InputError, r"radius must be finite and > 0; got 0.0"),
        (lambda: solve_mclp(C3, 1, -3), InputError, r"got -3.0"),
        (lambda: solve_mclp(C3, 0, 1.0), InputError, r"p=0"),
        (lambda: solve_mclp(C3, 5, 1.0), InfeasibleError, r"p=5 exceeds the 3"),
        (lambda: solve_mclp(C3, 1, 1.0, weights=[-1.0, 1.0]), InputError, r"negative"),
        (lambda: solve_lscp(C3, 0), InputError, r"radius must be finite and > 0"),
        (lambda: solve_lscp(C3, float("nan")), InputError, r"radius must be finite"),
        (lambda: solve_lscp(C3, 1.0, rel_gap=200), InputError, r"RELATIVE optimality gap.*got 200.0"),
        (lambda: solve_lscp(np.zeros((0, 2)), 1.0), InputError, r"no demand rows"),
        (lambda: solve_lscp(C3, 1.0, fixed=[3]), InputError, r"\[3\] outside 0..2"),
    ],
)
def test_bad_inputs_raise_with_numbers(call, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        call()
    assert info.value.fields  # names the offending argument


# -- invariants and result type -------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 9),
    m=st.integers(1, 7),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_p_median_invariants(n, m, seed, data):
    rng = np.random.default_rng(seed)
    C = rng.integers(0, 30, (n, m)).astype(float)
    p = data.draw(st.integers(1, m))
    w = rng.random(n) * 4
    res = solve_p_median(C, p, weights=w)
    assert len(res.selected) == p == len(set(res.selected))
    assert res.objective == pytest.approx(objective_value(C, w, res.selected), rel=1e-12, abs=1e-12)
    assert res.lower_bound <= res.objective + 1e-9
    assert res.optimal


def test_result_is_frozen_and_json_ready():
    res = solve_p_median(C3, 2)
    assert isinstance(res, SitingResult)
    with pytest.raises(AttributeError):
        res.objective = 0.0  # type: ignore[misc]
    doc = json.loads(json.dumps(res.to_dict()))
    assert doc["selected"] == res.selected and doc["optimal"] is True


def test_highs_banner_does_not_reach_stdout():
    code = (
        "import json, numpy as np\n"
        "from planner.siting import solve_mclp\n"
        "r = solve_mclp(np.array([[0.0, 5.0], [5.0, 0.0], [1.0, 9.0]]), 1, 2.0)\n"
        "print(json.dumps(r.to_dict()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    doc = json.loads(out.stdout)  # stdout is exactly one JSON document
    assert doc["objective"] == 2.0
