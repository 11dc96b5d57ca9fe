"""Chargers per site: Erlang C against a seeded discrete-event simulation of the same
M/M/c queue, the chargers-needed rule, session times, Beichuan's 126 bays, bad input."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from planner.charging import (
    HOURLY_PROFILE,
    beichuan_check,
    chargers_needed,
    erlang_c,
    mean_wait_min,
    p_wait_over,
    session_minutes,
    site_capacity,
)
from planner.errors import InputError


def simulate_waits(lam_per_min, service_min, servers, n, seed):
    """First-come-first-served M/M/c: Poisson arrivals, exponential sessions; waits in minutes."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam_per_min, n))
    services = rng.exponential(service_min, n)
    free = [0.0] * servers  # when each charger frees up
    heapq.heapify(free)
    waits = np.empty(n)
    for i in range(n):
        t0 = heapq.heappop(free)
        start = max(arrivals[i], t0)
        waits[i] = start - arrivals[i]
        heapq.heappush(free, start + services[i])
    return waits


def batch_ci(x, batches=25):
    """Mean and 99 % half-width by batch means (waits of successive trucks are correlated)."""
    b = np.array_split(x, batches)
    means = np.array([m.mean() for m in b])
    return means.mean(), 2.797 * means.std(ddof=1) / math.sqrt(batches)  # t(0.995, 24)


@pytest.mark.parametrize(("arrivals_per_h", "service_min", "servers"), [(40.0, 15.0, 12), (20.0, 29.0, 12), (8.0, 15.0, 3)])
def test_erlang_c_matches_a_discrete_event_simulation(arrivals_per_h, service_min, servers):
    n = 200_000
    waits = simulate_waits(arrivals_per_h / 60.0, service_min, servers, n, seed=11)[n // 20:]  # drop the warm-up
    for t in (0.0, 5.0, 15.0):
        est, half = batch_ci((waits > t).astype(float))
        formula = p_wait_over(t, arrivals_per_h=arrivals_per_h, service_min=service_min, servers=servers)
        assert abs(est - formula) <= half + 1e-3, (t, est, formula, half)
    est, half = batch_ci(waits)
    assert abs(est - mean_wait_min(arrivals_per_h=arrivals_per_h, service_min=service_min, servers=servers)) <= half


def test_erlang_c_known_values_and_limits():
    # c = 1 is M/M/1: P(wait) = rho
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    # a textbook value: c = 2, a = 1 -> 1/3
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(5, 5.0) == 1.0  # unstable
    assert erlang_c(300, 250.0) < 1 and math.isfinite(erlang_c(300, 250.0))


def test_chargers_needed_is_the_fewest_meeting_the_rule():
    for lam, s in [(47.2, 15.0), (5.0, 29.0), (120.0, 15.0), (0.5, 15.0)]:
        c = chargers_needed(lam, s, max_wait_min=15, p_target=0.05)
        assert p_wait_over(15, arrivals_per_h=lam, service_min=s, servers=c) <= 0.05
        if c > 1:
            assert p_wait_over(15, arrivals_per_h=lam, service_min=s, servers=c - 1) > 0.05
    assert chargers_needed(0.0, 15.0) == 1


def test_session_time_from_battery_and_power():
    # 400 kWh from 20 % to 80 % at 1.44 MW: 10 min of charging plus 5 min overhead
    assert session_minutes() == pytest.approx(15.0)
    assert session_minutes(charger_kw=600.0) == pytest.approx(240 / 600 * 60 + 5)
    assert session_minutes(energy_kwh=430.0, charger_kw=1440.0, overhead_min=0) == pytest.approx(430 / 24)


def test_site_capacity_peak_hour_and_installed_bays():
    cap = site_capacity(700.0, installed=4)
    assert cap["peak_per_hour"] == pytest.approx(700 * HOURLY_PROFILE.max())
    assert HOURLY_PROFILE.sum() == pytest.approx(1.0)
    assert cap["chargers"] == chargers_needed(cap["peak_per_hour"], 15.0)
    assert cap["p_wait_over_15_min"] <= 0.05 < cap["p_wait_over_15_min_installed"]
    dist = cap["wait_distribution"]
    assert [d["minutes"] for d in dist] == sorted(d["minutes"] for d in dist)
    assert all(a["p"] >= b["p"] for a, b in zip(dist, dist[1:]))


def test_beichuan_bays_carry_700_trucks_a_day():
    bc = beichuan_check()
    assert bc["bays"] == 126
    assert bc["energy_kwh_per_truck"] == pytest.approx(300_000 / 700)
    assert bc["p_wait_over_15_min"] < 0.05
    assert bc["max_trucks_per_day_within_rule"] > 700
    # at the capacity it reports, the rule holds; a little above, it breaks
    m = bc["max_trucks_per_day_within_rule"]
    s = bc["mean_session_min"]
    peak = max(HOURLY_PROFILE)
    assert p_wait_over(15, arrivals_per_h=m * peak, service_min=s, servers=126) <= 0.05
    assert p_wait_over(15, arrivals_per_h=(m + 2) * peak, service_min=s, servers=126) > 0.05


def test_bad_input():
    with pytest.raises(InputError):
        erlang_c(0, 1.0)
    with pytest.raises(InputError):
        p_wait_over(15, arrivals_per_h=-1, service_min=15, servers=2)
    with pytest.raises(InputError):
        session_minutes(charger_kw=0)
    with pytest.raises(InputError) as e:
        site_capacity(100, profile=[1.0] * 24)
    assert "profile" in e.value.fields
    with pytest.raises(InputError):
        chargers_needed(10, 15, p_target=1.5)
