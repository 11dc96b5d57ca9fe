"""The siting tests can catch a wrong optimum: each deliberately broken solver makes them fail.

A mutant is applied by a tiny pytest plugin loaded into a fresh pytest process that runs the
p-median tests; the process must fail. A control run with no mutant must pass, so a failure
is the mutant's doing and not the harness's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MUTANTS = {
    "none": "",
    # the Lagrangian lower bound is inflated: the tree search prunes the optimum away
    "inflated_lagrangian_bound": """
        import planner.siting.lagrangian as LG
        _evaluate = LG.evaluate
        def evaluate(ct, floor, p, lam):
            value, rho, chosen = _evaluate(ct, floor, p, lam)
            return value + 0.05 * abs(value) + 1.0, rho, chosen
        LG.evaluate = evaluate
    """,
    # under a time limit the incumbent's cost is reported as the lower bound
    "invalid_bound_under_time_limit": """
        import dataclasses
        import planner.siting as S
        import planner.siting.p_median as PM
        _solve = PM.solve_p_median
        def solve_p_median(*args, **kwargs):
            res = _solve(*args, **kwargs)
            if kwargs.get("time_limit_s") is not None and not res.optimal:
                res = dataclasses.replace(res, lower_bound=res.objective, gap=0.0)
            return res
        PM.solve_p_median = S.solve_p_median = solve_p_median
    """,
    # every answer claims optimality
    "always_optimal": """
        import dataclasses
        import planner.siting as S
        import planner.siting.p_median as PM
        _solve = PM.solve_p_median
        def solve_p_median(*args, **kwargs):
            return dataclasses.replace(_solve(*args, **kwargs), optimal=True)
        PM.solve_p_median = S.solve_p_median = solve_p_median
    """,
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_siting_tests_catch_the_mutant(name, tmp_path):
    (tmp_path / "yizhan_mutant.py").write_text(textwrap.dedent(MUTANTS[name]), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "yizhan_mutant", "-q", "-x", "-p", "no:cacheprovider",
         "tests/test_siting.py", "-k", "p_median"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if name == "none":
        assert done.returncode == 0, done.stdout[-3000:]
    else:
        assert done.returncode == 1, f"mutant {name} survived:\n{done.stdout[-3000:]}"


FRLM_MUTANTS = {
    "none": "",
    # the search prunes too eagerly, as a bound that is too low would make it
    "frlm_bound_too_low": """
        import planner.siting.frlm_bnb as FB
        _search = FB.search
        def search(sets, pairs, volume, k, start, *, tol, **kwargs):
            return _search(sets, pairs, volume, k, start, tol=tol + 0.2 * float(volume.sum()), **kwargs)
        FB.search = search
    """,
    # a search stopped early reports its incumbent as proven
    "frlm_always_optimal": """
        import planner.siting.frlm_bnb as FB
        _search = FB.search
        def search(*args, **kwargs):
            chosen, value, optimal, upper, nodes = _search(*args, **kwargs)
            return chosen, value, True, value, nodes
        FB.search = search
    """,
    # stopped early, the incumbent's value is reported as the upper bound
    "frlm_upper_bound_is_the_incumbent": """
        import planner.siting.frlm_bnb as FB
        _search = FB.search
        def search(*args, **kwargs):
            chosen, value, optimal, upper, nodes = _search(*args, **kwargs)
            return chosen, value, optimal, value, nodes
        FB.search = search
    """,
}


@pytest.mark.parametrize("name", list(FRLM_MUTANTS))
def test_frlm_tests_catch_the_mutant(name, tmp_path):
    (tmp_path / "yizhan_mutant.py").write_text(textwrap.dedent(FRLM_MUTANTS[name]), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "yizhan_mutant", "-q", "-x", "-p", "no:cacheprovider",
         "tests/test_frlm_bnb.py", "tests/test_frlm.py", "-k", "bnb or brute or truthful"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if name == "none":
        assert done.returncode == 0, done.stdout[-3000:]
    else:
        assert done.returncode == 1, f"mutant {name} survived:\n{done.stdout[-3000:]}"
