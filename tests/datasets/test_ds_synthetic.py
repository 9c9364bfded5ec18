"""CSBM and CBA generators (spec §1.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from certmodel import datasets
from certmodel.exceptions import InvalidParameterError


def _reference_csbm(n, seed, deg_in=3.16, deg_out=0.74, K=1.5, sigma=1.0):
    """The spec's sampling order, written out with explicit loops."""
    d = round(n / math.log(n) ** 2)
    mu = np.array([K * sigma / (2 * d ** 0.5)] * d, dtype=np.float32)
    cov = sigma ** 2 * np.identity(d, dtype=np.float32)
    p, q = 2 * deg_in / (n - 1), 2 * deg_out / (n - 1)
    rng = np.random.Generator(np.random.PCG64(seed))
    y = rng.integers(0, 2, size=n)
    X = np.zeros((n, d))
    X[y == 0] = rng.multivariate_normal(-mu, cov, int((y == 0).sum())).astype(np.float32)
    X[y == 1] = rng.multivariate_normal(mu, cov, int(y.sum())).astype(np.float32)
    P = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            P[i, j] = p if y[i] == y[j] else q
    A = rng.binomial(1, P)
    A = A + A.T
    order = np.argsort(y, kind="stable")
    return X[order], A[order][:, order], y[order]


def _reference_cba(n, seed, m=2, deg_in=3.16, deg_out=0.74, K=1.5, sigma=1.0):
    d = round(n / math.log(n) ** 2)
    mu = np.array([K * sigma / (2 * d ** 0.5)] * d, dtype=np.float32)
    cov = sigma ** 2 * np.identity(d, dtype=np.float32)
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 2, size=n)
    X = np.zeros((n, d))
    X[y == 0] = rs.multivariate_normal(-mu, cov, int((y == 0).sum())).astype(np.float32)
    X[y == 1] = rs.multivariate_normal(mu, cov, int(y.sum())).astype(np.float32)
    A, deg, aff = np.zeros((n, n)), np.ones(n), np.zeros(n)
    for i in range(n):
        aff[:i][y[:i] == y[i]] = deg_in
        aff[:i][y[:i] != y[i]] = deg_out
        if i > 0:
            w = deg[:i] * aff[:i]
            draw = rs.multinomial(m, w / np.sum(w)) > 0
            deg[:i] += draw
            deg[i] += np.sum(draw)
            A[:i, i] = draw
    A = A + A.T
    order = np.argsort(y, kind="stable")
    return X[order], A[order][:, order], y[order]


def test_csbm_parameters_at_n200():
    g = datasets.load("csbm")
    assert g.n_nodes == 200 and g.n_features == 7 and g.n_classes == 2
    m = g.meta
    assert m["d"] == 7
    assert m["mu"] == pytest.approx(np.full(7, 0.28347), abs=5e-6)
    assert m["p"] == pytest.approx(0.031759, abs=5e-7)
    assert m["q"] == pytest.approx(0.0074372, abs=5e-8)
    assert (m["n_trn_labeled"], m["n_val"], m["n_test"]) == (20, 20, 160)
    par = datasets.csbm_parameters(200, 3.16, 0.74, 1.5, 1.0)
    assert par["d"] == 7 and par["p"] == m["p"]


@pytest.mark.parametrize("seed", [0, 3])
def test_csbm_matches_reference_sampling_order(seed):
    g = datasets.load("csbm", seed=seed)
    X, A, y = _reference_csbm(200, seed)
    assert np.array_equal(g.y, y)
    assert np.array_equal(g.X, X)
    assert np.array_equal(g.A.toarray(), A)


def test_csbm_structure_and_stable_order():
    g = datasets.load("csbm", seed=1)
    assert np.all(np.diff(g.y) >= 0)                    # sorted by label
    ids = g.meta["node_ids"]
    for c in (0, 1):                                    # stable: sampling order within class
        assert np.all(np.diff(ids[g.y == c]) > 0)
    assert (g.A != g.A.T).nnz == 0 and not g.A.diagonal().any() and np.all(g.A.data == 1)
    assert np.array_equal(g.X.astype(np.float32).astype(np.float64), g.X)
    # class means are about ±mu
    mu = g.meta["mu"]
    assert np.abs(g.X[g.y == 1].mean(0) - mu).max() < 0.5
    assert np.abs(g.X[g.y == 0].mean(0) + mu).max() < 0.5


def test_csbm_reproducible_and_seed_dependent():
    a, b, c = (datasets.load("csbm", seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.X, b.X) and (a.A != b.A).nnz == 0 and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X[:5], c.X[:5])


def test_csbm_options():
    g = datasets.load("csbm", n=100, deg_in=5, deg_out=1, K=3, sigma=2)
    assert g.n_nodes == 100 and g.meta["n_test"] == 60 and g.meta["d"] == 5
    assert g.meta["mu"][0] == pytest.approx(3 * 2 / (2 * 5 ** 0.5), rel=1e-6)
    g = datasets.load("csbm", n_trn_labeled=10, n_val=10, n_test=180)
    assert g.n_nodes == 200
    with pytest.raises(InvalidParameterError, match="smaller"):
        datasets.load("csbm", n=30)
    with pytest.raises(InvalidParameterError, match="sigma"):
        datasets.load("csbm", sigma=0)
    with pytest.raises(InvalidParameterError, match="seed"):
        datasets.load("csbm", seed=1.5)
    with pytest.raises(InvalidParameterError, match="unknown option"):
        datasets.load("csbm", m=2)


@pytest.mark.parametrize("seed,m", [(0, 2), (4, 1), (2, 4)])
def test_cba_matches_reference_and_basics(seed, m):
    state = np.random.get_state()[1].copy()
    g = datasets.load("cba", seed=seed, m=m)
    assert np.array_equal(np.random.get_state()[1], state)   # global RNG untouched
    X, A, y = _reference_cba(200, seed, m=m)
    assert np.array_equal(g.y, y) and np.array_equal(g.X, X)
    assert np.array_equal(g.A.toarray(), A)
    assert g.n_nodes == 200 and g.n_features == 7 and g.meta["m"] == m
    assert (g.A != g.A.T).nnz == 0 and not g.A.diagonal().any()
    assert m <= g.n_edges <= m * 199                          # each new node adds 1..m edges
    assert connected_components(g.A, directed=False)[0] == 1
    assert np.all(np.diff(g.y) >= 0)


def test_cba_defaults_and_errors():
    g = datasets.load("cba")
    assert (g.meta["n_trn_labeled"], g.meta["n_val"], g.meta["n_test"]) == (10, 10, 180)
    with pytest.raises(InvalidParameterError, match="m"):
        datasets.load("cba", m=0)
