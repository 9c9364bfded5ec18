"""Learner adapters, the collective MILP against brute force, and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from _scalabel_brute import brute_force, onehot
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.exceptions import InvalidParameterError
from certmodel.learners import saturated_C
from certmodel.results import CollectiveRecord, Path
from certmodel.scalabel import (
    certify,
    certify_collective,
    min_flips,
    replay,
    weights_for,
    worst_margin,
)


def kernels(seed, n, m):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, 3))
    Kall = X @ X.T + 0.5 * np.exp(-((X[:, None] - X[None]) ** 2).sum(-1))
    return Kall[:n, :n], Kall[n:, :n], X[:n], X[n:]


def test_krr_weights_reproduce_retraining():
    K, Kt, _, _ = kernels(0, 8, 3)
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    W = weights_for("krr", K, y, Kt, lam=0.3)
    F = Kt @ np.linalg.solve(K + 0.3 * np.eye(8), onehot(y, 3))
    np.testing.assert_allclose(W @ onehot(y, 3), F, rtol=1e-10, atol=1e-12)


def test_ntk_flow_limits():
    K, Kt, _, _ = kernels(1, 6, 2)
    y = np.array([1, -1, 1, -1, -1, 1])
    W_long = weights_for("ntk_flow", K, y, Kt, time=1e7, lr=1.0)
    np.testing.assert_allclose(W_long, weights_for("krr", K, y, Kt), rtol=1e-6, atol=1e-9)
    # explicit: f(τ) = k^T K^{-1} (I - expm(-η τ K)) y
    from scipy.linalg import expm

    W = weights_for("ntk_flow", K, y, Kt, time=0.3, lr=0.5)
    ref = Kt @ np.linalg.solve(K, np.eye(6) - expm(-0.15 * K))
    np.testing.assert_allclose(W, ref, rtol=1e-8, atol=1e-10)


def test_least_squares_weights():
    _, _, X, Xt = kernels(2, 7, 3)
    y = np.array([1, -1, 1, 1, -1, -1, 1])
    W = weights_for("least_squares", X, y, Xt, lam=0.1)
    beta = np.linalg.solve(X.T @ X + 0.1 * np.eye(3), X.T @ y)
    np.testing.assert_allclose(W @ y, Xt @ beta, rtol=1e-10)


def test_svm_saturated_weights_and_refusal():
    K, Kt, _, _ = kernels(3, 6, 2)
    c_sat = saturated_C(K)
    y = np.array([1, -1, 1, -1, -1, 1])
    W = weights_for("svm", K, y, Kt, C=0.5 * c_sat)
    np.testing.assert_allclose(W, 0.5 * c_sat * Kt)
    W3 = weights_for("svm", K, [0, 1, 2, 0, 1, 2], Kt, C=0.5 * c_sat)
    np.testing.assert_allclose(W3, c_sat * Kt)
    for C in (c_sat, 2 * c_sat):
        with pytest.raises(InvalidParameterError, match="saturated.*LabelCert"):
            weights_for("svm", K, y, Kt, C=C)
    with pytest.raises(InvalidParameterError, match="needs C"):
        weights_for("svm", K, y, Kt)


def test_learner_object_duck_typing():
    class Fake:
        def fit(self, K, y):
            self.K = K
            return self

        def weights(self, K_test):
            return np.asarray(K_test) * 2.0

    K, Kt, _, _ = kernels(4, 5, 2)
    np.testing.assert_allclose(weights_for(Fake(), K, [0, 1, 0, 1, 0], Kt), 2 * Kt)
    with pytest.raises(InvalidParameterError, match="learner"):
        weights_for(object(), K, [0, 1, 0, 1, 0], Kt)
    with pytest.raises(InvalidParameterError, match="unknown learner"):
        weights_for("forest", K, [0, 1, 0, 1, 0], Kt)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), m=st.integers(1, 5),
       K=st.sampled_from([2, 3]), B=st.integers(1, 3))
def test_collective_equals_brute_force(seed, n, m, K, B):
    B = min(B, n)
    K_train, K_test, _, _ = kernels(seed, n, m)
    codes = np.random.default_rng(seed + 1).integers(0, K, n)
    lam = 0.2
    W = weights_for("krr", K_train, codes, K_test, n_classes=K, lam=lam)
    _, M, sizes, rels, _ = brute_force("krr", K_train, K_test, codes, K, B, lam=lam)
    scale = np.abs(W).sum(axis=1)
    changed = (M <= 1e-12 * scale[None, :]).sum(axis=1)  # per relabelling
    best = int(changed.max())
    rec = certify_collective(W, codes, B, n_classes=K)
    assert isinstance(rec, CollectiveRecord)
    assert rec.certified_count == m - best
    assert rec.path in (Path.MILP, Path.TRIVIAL)
    assert len(rec.attacked) == best
    assert len(rec.relabelling) <= B
    assert set(replay(W, codes, rec.relabelling, n_classes=K).tolist()) == set(rec.attacked)
    # one relabelling for all points: never certifies fewer than the sample-wise certificate
    samplewise = sum(r.robust for r in certify(W, codes, [B], n_classes=K))
    assert rec.certified_count >= samplewise


def test_collective_binary_pm1_labels_and_budget_zero():
    K_train, K_test, _, _ = kernels(7, 6, 4)
    y = np.array([1, -1, 1, -1, -1, 1])
    W = weights_for("krr", K_train, y, K_test, lam=0.1)
    rec = certify_collective(W, y, 2, test_indices=[5, 6, 7, 8])
    assert set(rec.relabelling.values()) <= {-1, 1}
    assert set(rec.attacked) <= {5, 6, 7, 8}
    rec0 = certify_collective(W, y, 0)
    assert rec0.certified_count == 4 and rec0.path is Path.TRIVIAL


@pytest.mark.parametrize("bad, match", [
    (dict(W=np.ones((2, 3)), y=[0, 1]), "entries to match W"),
    (dict(W=np.array([[np.nan, 1.0]]), y=[0, 1]), "finite"),
    (dict(W=np.ones((2, 2)), y=[0, 3], n_classes=3), "outside"),
    (dict(W=np.ones((2, 2)), y=[-2, 1, ]), "labels 0..K-1"),
    (dict(W=np.ones((2, 2)), y=[0.5, 1]), "integer"),
    (dict(W=np.ones((2, 2, 2)), y=[0, 1]), "2-D"),
    (dict(W=np.ones((2, 2)), y=[0, 1], eps=-1.0), "eps"),
])
def test_bad_inputs(bad, match):
    with pytest.raises(InvalidParameterError, match=match):
        certify(budgets=[1], **bad)


def test_bad_budgets_and_indices():
    W, y = np.ones((2, 3)), [0, 1, 0]
    for b in (-1, 4, [1, -2], 1.5, []):
        with pytest.raises(InvalidParameterError, match="budget"):
            certify(W, y, b)
    with pytest.raises(InvalidParameterError, match="budget"):
        worst_margin(W, y, -1)
    with pytest.raises(InvalidParameterError, match="test_indices"):
        certify(W, y, [1], test_indices=[0])
    with pytest.raises(InvalidParameterError, match="budget"):
        certify_collective(W, y, -1)
    with pytest.raises(InvalidParameterError):
        min_flips(W, y, n_classes=1)
