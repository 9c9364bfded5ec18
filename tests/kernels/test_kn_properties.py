"""Symmetry, positive semi-definiteness, no side effects, scale smoke test."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.kernels import architectures, graph_operator, ntk, ntk_cross

GRAPH_ARCHS = ["gcn", "sgc", "appnp", "gin", "graphsage", "gcn_skip_alpha", "gcn_skip_pc"]
OPTIONS = {"appnp": {"alpha": 0.2}}


def _random_graph(rng, n, d, p):
    X = rng.normal(size=(n, d)) + rng.normal()
    A = np.triu((rng.random((n, n)) < p).astype(float), 1)
    return X, A + A.T


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), d=st.integers(1, 4),
       p=st.floats(0.0, 1.0), arch=st.sampled_from(sorted(architectures())),
       norm=st.sampled_from([None, "row", "sym", "graphsage", "none"]),
       depth=st.integers(1, 3), zero_row=st.booleans())
def test_correct_mode_symmetric_psd(seed, n, d, p, arch, norm, depth, zero_row):
    rng = np.random.default_rng(seed)
    X, A = _random_graph(rng, n, d, p)
    if zero_row:
        X[0] = 0.0                         # zero-variance node: no NaN
    graph = arch in GRAPH_ARCHS
    K = ntk(arch, X, A if graph else None, normalization=norm if graph else None,
            depth=depth, **OPTIONS.get(arch, {}))
    assert K.shape == (n, n) and K.dtype == np.float64
    assert np.all(np.isfinite(K))
    assert np.array_equal(K, K.T)
    scale = max(np.abs(K).max(), 1e-300)
    # collinear points have u = ±1 up to round-off ε, which arccos amplifies to ~√ε
    assert np.linalg.eigvalsh(K).min() >= -1e-7 * scale


@pytest.mark.parametrize("arch", sorted(architectures()))
@pytest.mark.parametrize("parity", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_caller_arrays_unchanged(arch, parity, sparse):
    rng = np.random.default_rng(0)
    X, A = _random_graph(rng, 7, 3, 0.4)
    A[0, 0] = 3.0                      # the reference overwrote the caller's diagonal
    A[2, 5] = 0.5                      # and an asymmetric entry
    X_in = sp.csr_matrix(X) if sparse else X
    A_in = sp.csr_matrix(A) if sparse else A
    X_copy, A_copy = X.copy(), A.copy()
    graph = arch in GRAPH_ARCHS
    ntk(arch, X_in, A_in if graph else None, depth=2, parity=parity, **OPTIONS.get(arch, {}))
    if arch in ("fc", "mlp", "linear"):
        ntk_cross(arch, X_in, X_in[:3], parity=parity)
    graph_operator(A_in, "none")
    after_X = X_in.toarray() if sparse else X_in
    after_A = A_in.toarray() if sparse else A_in
    assert np.array_equal(after_X, X_copy) and np.array_equal(after_A, A_copy)


def test_sparse_and_dense_inputs_agree():
    rng = np.random.default_rng(1)
    X = (rng.random((20, 15)) < 0.2).astype(float)
    _, A = _random_graph(rng, 20, 1, 0.2)
    for arch in ("gcn", "gin", "gcn_skip_pc"):
        assert np.allclose(ntk(arch, sp.csr_array(X), sp.coo_matrix(A)), ntk(arch, X, A),
                           rtol=1e-13, atol=1e-13)


def test_cora_ml_size_smoke():
    """2810 nodes, 2879 sparse binary features, sparse A: GCN depth 1 in seconds."""
    rng = np.random.default_rng(0)
    n, d = 2810, 2879
    X = sp.random(n, d, density=18 / d, random_state=rng, format="csr")
    X.data[:] = 1.0
    A = sp.random(n, n, density=2.8 / n, random_state=rng, format="csr")
    A = ((A + A.T) > 0).astype(np.float64)
    t0 = time.perf_counter()
    K = ntk("gcn", X, A)
    elapsed = time.perf_counter() - t0
    print(f"Cora-ML-size GCN NTK: {elapsed:.2f} s")
    assert K.shape == (n, n) and np.all(np.isfinite(K))
    assert np.array_equal(K, K.T)
