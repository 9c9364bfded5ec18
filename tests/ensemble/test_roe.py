"""Run-Off Election: the DPA+ROE radius equals exhaustive search; FA+ROE is sound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from certmodel.ensemble import dpa_radius
from certmodel.ensemble.finite_aggregation import fa_spread
from certmodel.ensemble.roe import (
    dpa_roe_radius,
    fa_roe_radius,
    roe_min_models,
    roe_predict,
)
from certmodel.exceptions import InvalidParameterError


def _ranking_logits(K):
    """Logit vectors realising every strict ranking of K classes."""
    out = []
    for perm in itertools.permutations(range(K)):
        v = np.empty(K)
        v[list(perm)] = np.arange(K, 0, -1)
        out.append(v)
    return out


def _brute_min_models(L, models=None, groups=None):
    """Fewest replaced models (or groups of models) that change the ROE winner."""
    P, K = L.shape
    a = roe_predict(L)[0]
    ranks = _ranking_logits(K)
    groups = groups if groups is not None else [[p] for p in range(P)]
    for r in range(1, len(groups) + 1):
        for chosen in itertools.combinations(range(len(groups)), r):
            victims = sorted({p for g in chosen for p in groups[g]})
            for assign in itertools.product(range(len(ranks)), repeat=len(victims)):
                L2 = L.copy()
                for p, j in zip(victims, assign, strict=True):
                    L2[p] = ranks[j]
                if roe_predict(L2)[0] != a:
                    return r
    return len(groups) + 1


@pytest.mark.parametrize("seed", range(60))
def test_dpa_roe_radius_equals_exhaustive(seed):
    rng = np.random.default_rng(seed)
    K = 3 if seed % 3 else 4
    P = int(rng.integers(1, 6 if K == 3 else 4))
    L = rng.integers(0, 3, size=(P, K)).astype(float)      # small integers: many ties
    assert roe_min_models(L)[0] == _brute_min_models(L)
    assert dpa_roe_radius(L)[0] == _brute_min_models(L) - 1


@pytest.mark.parametrize("seed", range(20))
def test_two_classes_reduce_to_dpa(seed):
    rng = np.random.default_rng(100 + seed)
    P = int(rng.integers(1, 12))
    L = rng.normal(size=(4, P, 2))
    votes = np.stack([np.bincount(np.argmax(Lt, axis=1), minlength=2) for Lt in L])
    assert np.array_equal(roe_predict(L), np.argmax(votes, axis=1))
    assert np.array_equal(dpa_roe_radius(L), dpa_radius(votes))


def test_runoff_can_overturn_plurality():
    # round 1: class 0 has 2 votes, class 1 has 2, class 2 has 1; the class-2 voter ranks 1 > 0
    L = np.array([[3, 1, 0], [3, 1, 0], [0, 3, 1], [0, 3, 1], [0, 1, 3.0]])
    assert roe_predict(L)[0] == 1          # plurality (ties to the smaller index) would say 0


@pytest.mark.parametrize("seed", range(15))
def test_fa_roe_radius_is_sound(seed):
    rng = np.random.default_rng(200 + seed)
    k, d, K = 2, 2, 3
    L = rng.integers(0, 3, size=(k * d, K)).astype(float)
    spread = fa_spread(k, d, "consecutive")             # bucket h -> the d learners using it
    exact_buckets = _brute_min_models(L, groups=[list(s) for s in spread])
    assert fa_roe_radius(L, d)[0] <= exact_buckets - 1
    assert np.array_equal(fa_roe_radius(L, 1), dpa_roe_radius(L))


def test_validation():
    with pytest.raises(InvalidParameterError, match="logits"):
        roe_predict(np.zeros((2, 3, 1)))
    with pytest.raises(InvalidParameterError, match="d"):
        fa_roe_radius(np.zeros((1, 2, 2)), 0)


def test_certify_roe_ensemble_end_to_end():
    from certmodel.ensemble.roe import certify_roe_ensemble

    rng = np.random.default_rng(0)
    n, m, K = 160, 12, 3
    centers = rng.normal(size=(K, 4)) * 2
    y = rng.integers(0, K, n + m)
    y[:K] = np.arange(K)
    X = centers[y] + rng.normal(size=(n + m, 4))
    res = certify_roe_ensemble(X[:n], y[:n], X[n:], partitions=8, y_test=y[n:])
    assert res.logits.shape == (m, 8, K) and res.radius.shape == (m,)
    assert np.array_equal(res.prediction, roe_predict(res.logits))
    assert np.array_equal(res.radius, dpa_roe_radius(res.logits))
    assert 0 <= res.mcr_fraction() <= 1 and res.mcr("baseline") >= -1
    fa = certify_roe_ensemble(X[:n], y[:n], X[n:], partitions=4, d=2, y_test=y[n:])
    assert fa.logits.shape == (m, 8, K)
    assert np.all(fa.radius <= dpa_roe_radius(fa.logits))
    binary = certify_roe_ensemble(X[:n], (y[:n] > 0).astype(int), X[n:], partitions=7)
    assert np.array_equal(binary.prediction, binary.plurality)     # two classes: ROE = DPA
    assert np.array_equal(binary.radius, binary.baseline_radius)
