"""kNN / rNN label-flip radii equal exhaustive search over relabellings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from certmodel.ensemble.knn import knn_certify, radius_fraction, rnn_certify
from certmodel.exceptions import InvalidParameterError


def _brute_min_flips(predict, y, K):
    """Fewest relabelled training points that change ``predict(y)`` (n + 1: impossible)."""
    base = predict(y)
    n = y.size
    for r in range(1, n + 1):
        for idx in itertools.combinations(range(n), r):
            for new in itertools.product(range(K), repeat=r):
                if any(new[j] == y[i] for j, i in enumerate(idx)):
                    continue
                y2 = y.copy()
                y2[list(idx)] = new
                if predict(y2) != base:
                    return r
    return n + 1


@pytest.mark.parametrize("seed", range(25))
def test_knn_radius_equals_exhaustive(seed):
    rng = np.random.default_rng(seed)
    n, K = 7, 3
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    x = rng.normal(size=(1, 2))
    k = int(rng.integers(1, n + 1))
    res = knn_certify(X, y, x, k, n_classes=K)

    def predict(labels):
        return int(knn_certify(X, labels, x, k, n_classes=K).prediction[0])

    assert res.radius[0] == _brute_min_flips(predict, y, K) - 1


@pytest.mark.parametrize("seed", range(15))
def test_rnn_radius_equals_exhaustive(seed):
    rng = np.random.default_rng(50 + seed)
    n, K = 6, 3
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    x = rng.normal(size=(1, 2))
    r = float(rng.uniform(0.3, 2.5))
    res = rnn_certify(X, y, x, r, n_classes=K)
    if res.prediction[0] == -1:
        assert res.radius[0] == -1 and res.votes.sum() == 0
        return

    def predict(labels):
        return int(rnn_certify(X, labels, x, r, n_classes=K).prediction[0])

    assert res.radius[0] == _brute_min_flips(predict, y, K) - 1


def test_fraction_and_validation():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    res = knn_certify(X, [0, 0, 0, 1], np.array([[0.5]]), 3)
    assert res.prediction.tolist() == [0] and res.radius.tolist() == [1]
    assert res.radius_fraction().tolist() == [0.25]
    assert radius_fraction([2, 0], 8).tolist() == [0.25, 0.0]
    with pytest.raises(InvalidParameterError, match="k"):
        knn_certify(X, [0, 0, 0, 1], np.array([[0.5]]), 5)
    with pytest.raises(InvalidParameterError, match="X_test"):
        knn_certify(X, [0, 0, 0, 1], np.zeros((1, 2)), 2)
    with pytest.raises(InvalidParameterError, match="radius"):
        rnn_certify(X, [0, 0, 0, 1], np.array([[0.5]]), -1.0)


def test_ensemble_results_report_mcr_fraction():
    from certmodel.ensemble import certify_ensemble, certify_fa_ensemble

    rng = np.random.default_rng(3)
    X = rng.normal(size=(70, 3))
    y = (X[:, 0] > 0).astype(int)
    res = certify_ensemble(X[:60], y[:60], X[60:], partitions=5, y_test=y[60:])
    assert res.mcr_fraction() == pytest.approx(res.mcr() / 60)
    assert res.mcr_fraction("blackbox") == pytest.approx(res.mcr("blackbox") / 60)
    fa = certify_fa_ensemble(X[:60], y[:60], X[60:], k=3, d=2, y_test=y[60:])
    assert fa.mcr_fraction() == pytest.approx(fa.mcr() / 60)
