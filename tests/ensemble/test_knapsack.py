"""EnsembleCert knapsack: DPA reduction (oracle 4) and exhaustive search (oracle 5)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.ensemble import count_votes, dpa_radius, whitebox_radius
from certmodel.exceptions import InvalidParameterError

METHODS = ["fast", "dp"]


@st.composite
def ensembles(draw, max_P=12, max_K=4, max_m=6):
    K = draw(st.integers(2, max_K))
    P = draw(st.integers(1, max_P))
    m = draw(st.integers(1, max_m))
    bp = np.array(draw(st.lists(st.lists(st.integers(0, K - 1), min_size=P, max_size=P),
                                min_size=m, max_size=m)))
    return bp, K


def unit_costs(bp, K):
    c = np.ones(bp.shape + (K,))
    np.put_along_axis(c, bp[:, :, None], 0.0, axis=2)
    return c


@settings(max_examples=150, deadline=None)
@given(ens=ensembles(), method=st.sampled_from(METHODS))
def test_unit_costs_reproduce_dpa(ens, method):
    bp, K = ens
    votes = count_votes(bp, K)
    r = whitebox_radius(bp, unit_costs(bp, K), method=method)
    np.testing.assert_array_equal(r, dpa_radius(votes, P=bp.shape[1]))


def test_dpa_formula_ties():
    # ties go to the smaller class: [2, 2] -> class 0, radius floor((2 - 2) / 2) = 0
    np.testing.assert_array_equal(dpa_radius([[2, 2], [3, 1], [1, 3], [0, 4], [5, 0]]),
                                  [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(dpa_radius([[2, 3, 3]]), [0])  # class 1 wins, 0 within 1
    np.testing.assert_array_equal(dpa_radius([[3, 2, 3]]), [0])  # class 0 wins tie with 2


@settings(max_examples=100, deadline=None)
@given(ens=ensembles(), seed=st.integers(0, 2**32 - 1), method=st.sampled_from(METHODS))
def test_costs_at_least_one_never_shrink_radius(ens, seed, method):
    bp, K = ens
    rng = np.random.default_rng(seed)
    c = rng.integers(1, 7, bp.shape + (K,)).astype(float)
    c[rng.random(c.shape) < 0.15] = np.inf
    np.put_along_axis(c, bp[:, :, None], 0.0, axis=2)
    r = whitebox_radius(bp, c, method=method)
    assert np.all(r >= whitebox_radius(bp, unit_costs(bp, K), method=method))
    assert np.all(r >= dpa_radius(count_votes(bp, K)))


def exhaustive_radius(bp_row, c_row, K):
    """Min total cost over every assignment of final base votes that changes the winner."""
    P = bp_row.size
    votes = np.bincount(bp_row, minlength=K)
    a = int(np.argmax(votes))
    best = np.inf
    for new in itertools.product(range(K), repeat=P):
        v = np.bincount(np.array(new), minlength=K)
        if int(np.argmax(v)) != a:
            cost = sum(c_row[p, new[p]] for p in range(P))
            best = min(best, cost)
    return best - 1


@settings(max_examples=60, deadline=None)
@given(ens=ensembles(max_P=7, max_K=3, max_m=2), seed=st.integers(0, 2**32 - 1),
       method=st.sampled_from(METHODS))
def test_knapsack_equals_exhaustive_search(ens, seed, method):
    bp, K = ens
    rng = np.random.default_rng(seed)
    c = rng.integers(1, 9, bp.shape + (K,)).astype(float)
    c[rng.random(c.shape) < 0.1] = np.inf
    np.put_along_axis(c, bp[:, :, None], 0.0, axis=2)
    r = whitebox_radius(bp, c, method=method)
    for t in range(bp.shape[0]):
        assert r[t] == exhaustive_radius(bp[t], c[t], K)


def test_fast_and_dp_agree_large():
    rng = np.random.default_rng(3)
    m, P, K = 40, 200, 5
    bp = np.where(rng.random((m, P)) < 0.5, 1, rng.integers(0, K, (m, P)))
    c = rng.integers(1, 30, (m, P, K)).astype(float)
    c[rng.random(c.shape) < 0.05] = np.inf
    np.put_along_axis(c, bp[:, :, None], 0.0, axis=2)
    np.testing.assert_array_equal(whitebox_radius(bp, c, method="fast"),
                                  whitebox_radius(bp, c, method="dp"))


def test_fractional_and_zero_costs_are_rounded_soundly():
    bp = np.array([[0, 0, 1]])
    c = np.array([[[0, 1.2], [0, 0.0], [0.5, 0]]])  # 1.2 -> 2, 0 -> 1 (a flip is needed)
    # rival 1 needs gain 2: one a-partition switching (cost 1 or 2) -> radius 0
    assert whitebox_radius(bp, c)[0] == 0


@pytest.mark.parametrize("bp, costs, match", [
    ([[0, 1]], [[[0, -1.0], [1.0, 0]]], "non-negative"),
    ([[0, 1]], [[[1.0, 1.0], [1.0, 0]]], "must be 0"),
    ([[0, 1]], [[[0, np.nan], [1.0, 0]]], "NaN"),
    ([[0, 1]], [[[0, 1.0]]], "shape"),
    ([[0, 2]], [[[0, 1.0], [1.0, 0]]], "outside"),
    ([[0.5, 1]], [[[0, 1.0], [1.0, 0]]], "integer"),
])
def test_bad_cost_inputs(bp, costs, match):
    with pytest.raises(InvalidParameterError, match=match):
        whitebox_radius(np.asarray(bp), np.asarray(costs))


def test_bad_votes():
    with pytest.raises(InvalidParameterError, match="sum to"):
        dpa_radius([[3, 1]], P=5)
    with pytest.raises(InvalidParameterError, match="non-negative"):
        dpa_radius([[3, -1]])
    with pytest.raises(InvalidParameterError, match="K >= 2"):
        dpa_radius([[3]])
    with pytest.raises(InvalidParameterError, match="unknown method"):
        whitebox_radius(np.array([[0]]), np.array([[[0, 1.0]]]), method="greedy")


def test_chunked_rows_match_single_rows(monkeypatch):
    """whitebox_radius works on chunks of test points (bounded memory); rows stay aligned."""
    import certmodel.ensemble.knapsack as ks

    rng = np.random.default_rng(3)
    m, P, K = 40, 30, 4
    monkeypatch.setattr(ks, "_ROW_BLOCK", 7 * K * (2 * P + 2))  # 7 rows per chunk
    bp = np.where(rng.random((m, P)) < 0.5, rng.integers(0, 3, (m, 1)), rng.integers(0, K, (m, P)))
    c = rng.integers(1, 9, (m, P, K)).astype(float)
    np.put_along_axis(c, bp[:, :, None], 0.0, axis=2)
    for method in ("fast", "dp"):
        r = whitebox_radius(bp, c, method=method)
        monkeypatch.setattr(ks, "_ROW_BLOCK", 1 << 22)
        np.testing.assert_array_equal(r, whitebox_radius(bp, c, method=method))
        monkeypatch.setattr(ks, "_ROW_BLOCK", 7 * K * (2 * P + 2))
    for t in (0, 1, 6, 7, 8, 39):
        assert r[t] == whitebox_radius(bp[t:t + 1], c[t:t + 1])[0]
