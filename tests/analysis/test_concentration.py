"""Concentration index (seed 003 §6.2, Figure 16) against examples worked out by hand."""

from __future__ import annotations

import math

import pytest

from ersattning.analysis.measures import concentration_index


def test_three_equal_areas_poorest_gets_most():
    # Areas ranked by income: poorest pays 3, middle 2, richest 1 per person, equal populations.
    # μ = 2; fractional ranks R = 1/6, 1/2, 5/6;
    # C = (2/μ) Σ f y R − 1 = (1/3)(3/6 + 2/2 + 5/6) − 1 = 7/9 − 1 = −2/9.
    # Lorenz ordinates q = 1/2, 5/6, 1; a_t = (y/μ)(2R − 1 − C) + 2 − q_{t−1} − q_t = 5/6, 8/9, 11/18;
    # var = (1/3)[(1/3)(25/36 + 64/81 + 121/324) − (7/9)²] = (1/3)(602/972 − 588/972) = 7/1458.
    c, se = concentration_index([3, 2, 1], [100, 100, 100], [200_000, 300_000, 400_000])
    assert c == pytest.approx(-2 / 9)
    assert se == pytest.approx(math.sqrt(7 / 1458))


def test_order_of_rows_does_not_matter_only_the_income_rank():
    c1, se1 = concentration_index([1, 3, 2], [100, 100, 100], [400_000, 200_000, 300_000])
    assert c1 == pytest.approx(-2 / 9)
    assert se1 == pytest.approx(math.sqrt(7 / 1458))


def test_equal_pay_everywhere_is_zero_and_richer_getting_more_is_positive():
    assert concentration_index([5, 5, 5, 5], [1, 2, 3, 4], [1, 2, 3, 4])[0] == pytest.approx(0.0)
    assert concentration_index([1, 2, 3], [1, 1, 1], [1, 2, 3])[0] == pytest.approx(2 / 9)


def test_population_weights_count():
    # Two areas: the poorer (weight 3) gets 1, the richer (weight 1) gets 2 per person.
    # f = 3/4, 1/4; μ = 3/4 + 2/4 = 5/4; R = 3/8, 7/8;
    # C = (2/μ)(3/4·1·3/8 + 1/4·2·7/8) − 1 = (8/5)(9/32 + 14/32) − 1 = (8/5)(23/32) − 1 = 23/20 − 1 = 3/20.
    c, _ = concentration_index([1, 2], [3, 1], [10, 20])
    assert c == pytest.approx(3 / 20)
