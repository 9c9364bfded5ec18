"""Closed forms and identities of certmodel.kernels (correct mode)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from certmodel.kernels import (
    architectures,
    dense,
    graph_operator,
    input_kernel,
    ntk,
    ntk_cross,
    propagate,
    relu,
    relu_expectations,
    serial,
)


def _graph(n=9, d=4, p=0.35, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    A = np.triu((rng.random((n, n)) < p).astype(float), 1)
    return X, A + A.T


def _arccos(M):
    """Independent arc-cosine kernels (κ1 scaled by q, κ0) of a covariance M."""
    d = np.diag(M)
    q = np.sqrt(np.outer(d, d))
    u = np.clip(M / q, -1, 1)
    np.fill_diagonal(u, 1.0)
    t = np.arccos(u)
    return q * (np.sin(t) + (np.pi - t) * np.cos(t)) / np.pi, (np.pi - t) / np.pi


def test_architectures_listed():
    assert set(architectures()) == {"gcn", "sgc", "appnp", "gin", "graphsage", "gcn_skip_alpha",
                                    "gcn_skip_pc", "mlp", "linear", "fc"}


def test_relu_expectations_monte_carlo():
    """E = 2E[relu(a)relu(b)], Ė = 2E[relu'(a)relu'(b)] for a Gaussian pair."""
    C = np.array([[1.5, -0.4], [-0.4, 0.8]])
    z = np.random.default_rng(1).multivariate_normal(np.zeros(2), C, size=2_000_000)
    r = np.maximum(z, 0)
    E, Ed = relu_expectations(C, np.diag(C), np.diag(C), square=True)
    assert E[0, 1] == pytest.approx(2 * np.mean(r[:, 0] * r[:, 1]), rel=1e-2)
    assert Ed[0, 1] == pytest.approx(2 * np.mean((z[:, 0] > 0) & (z[:, 1] > 0)), rel=1e-2)
    assert np.allclose(np.diag(E), np.diag(C)) and np.allclose(np.diag(Ed), 1.0)


def test_linear_is_gram():
    X, _ = _graph()
    assert np.allclose(ntk("linear", X), X @ X.T, rtol=1e-13, atol=1e-13)
    Xt = X[:3] + 1.0
    assert np.allclose(ntk_cross("linear", X, Xt), Xt @ X.T, rtol=1e-13)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("norm", ["row", "sym"])
def test_sgc_closed_form(depth, norm):
    X, A = _graph()
    S = graph_operator(A, norm).toarray()
    P = np.linalg.matrix_power(S, depth + 1)
    expected = (depth + 1) * P @ X @ X.T @ P.T
    assert np.allclose(ntk("sgc", X, A, normalization=norm, depth=depth), expected,
                       rtol=1e-12, atol=1e-12)
    # parity mode only adds the float32 round-trip of earlier terms
    assert np.allclose(ntk("sgc", X, A, normalization=norm, depth=depth, parity=True),
                       expected, rtol=1e-6)


def test_gcn_depth1_closed_form():
    X, A = _graph()
    S = graph_operator(A, "row").toarray()
    sig = S @ X @ X.T @ S.T
    E, Ed = _arccos(sig)
    expected = S @ (sig * Ed) @ S.T + S @ E @ S.T
    assert np.allclose(ntk("gcn", X, A), expected, rtol=1e-12, atol=1e-12)


def test_gcn_depth2_recursion():
    X, A = _graph()
    S = graph_operator(A, "sym").toarray()
    s0 = S @ X @ X.T @ S.T
    E1, D1 = _arccos(s0)
    s1 = S @ E1 @ S.T
    K1 = s1 + S @ (s0 * D1) @ S.T
    E2, D2 = _arccos(s1)
    K2 = S @ E2 @ S.T + S @ (K1 * D2) @ S.T
    assert np.allclose(ntk("gcn", X, A, normalization="sym", depth=2), K2, rtol=1e-12)


def test_graphsage_is_gcn_with_graphsage_operator():
    X, A = _graph()
    assert np.allclose(ntk("graphsage", X, A), ntk("gcn", X, A, normalization="graphsage"))


def test_mlp_formula_and_appnp_alpha1():
    X, A = _graph()
    sig = X @ X.T + 1.0
    E, Ed = _arccos(sig)
    expected = sig * Ed + E + 1.0
    K = ntk("mlp", X)
    assert np.allclose(K, expected, rtol=1e-12)
    assert np.array_equal(ntk("appnp", X, A, alpha=1.0), K)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_appnp_explicit_propagation(alpha):
    X, A = _graph()
    Sh = graph_operator(A, "sym").toarray()
    Pi = np.eye(len(A))
    for _ in range(4):
        Pi = (1 - alpha) * Sh @ Pi + alpha * np.eye(len(A))
    expected = Pi @ ntk("mlp", X) @ Pi.T
    assert np.allclose(ntk("appnp", X, A, alpha=alpha, iterations=4), expected, rtol=1e-12)


def test_gin_formula():
    X, A = _graph()
    S = A + np.eye(len(A))
    sig = S @ X @ X.T @ S.T
    E, Ed = _arccos(sig)
    assert np.allclose(ntk("gin", X, A), sig * Ed + E, rtol=1e-12)


def test_fc_formula_with_bias():
    X, _ = _graph(d=5)
    b = 0.3
    s0 = X @ X.T / 5 + b
    E, Ed = _arccos(s0)
    s1 = E + b
    assert np.allclose(ntk("fc", X, bias_var=b), s0 * Ed + s1, rtol=1e-12)
    E2, Ed2 = _arccos(s1)
    assert np.allclose(ntk("fc", X, bias_var=b, depth=2), (s0 * Ed + s1) * Ed2 + E2 + b,
                       rtol=1e-12)


def test_skip_alpha_zero_is_gcn_and_pc_formula():
    X, A = _graph()
    assert np.allclose(ntk("gcn_skip_alpha", X, A, alpha=0.0), ntk("gcn", X, A), rtol=1e-12)
    S = graph_operator(A, "row").toarray()
    s0 = S @ X @ X.T @ S.T
    E, Ed = _arccos(s0)
    expected = S @ (s0 * Ed) @ S.T + S @ E @ S.T + s0
    assert np.allclose(ntk("gcn_skip_pc", X, A), expected, rtol=1e-12)


@pytest.mark.parametrize("arch,opts", [("fc", {"bias_var": 0.2}), ("mlp", {}), ("linear", {})])
@pytest.mark.parametrize("depth", [1, 3])
def test_cross_matches_joint_kernel(arch, opts, depth):
    rng = np.random.default_rng(3)
    Xtr, Xte = rng.normal(size=(7, 4)), rng.normal(size=(3, 4))
    joint = ntk(arch, np.vstack([Xtr, Xte]), depth=depth, **opts)
    cross = ntk_cross(arch, Xtr, Xte, depth=depth, **opts)
    assert cross.shape == (3, 7)
    assert np.allclose(cross, joint[7:, :7], rtol=1e-12, atol=1e-12)
    # same points: u_ii = 1 − O(ε) instead of exactly 1, and arccos amplifies that to √ε
    assert np.allclose(ntk_cross(arch, Xtr, Xtr, depth=depth, **opts),
                       ntk(arch, Xtr, depth=depth, **opts), rtol=1e-7)


def test_cross_sparse_inputs():
    rng = np.random.default_rng(4)
    Xtr, Xte = (rng.random((6, 5)) < 0.4) * 1.0, (rng.random((2, 5)) < 0.4) * 1.0 + 0.0
    Xte[:, 0] = 1.0
    dense_k = ntk_cross("fc", Xtr, Xte, depth=2)
    assert np.allclose(ntk_cross("fc", sp.csr_matrix(Xtr), sp.csr_array(Xte), depth=2), dense_k)


def test_custom_composition_equals_registered_gcn():
    X, A = _graph()
    S = graph_operator(A, "row")
    layer = serial(relu(), propagate(S), dense())
    k = serial(propagate(S), dense(), layer, layer)(input_kernel(X))
    assert np.array_equal(k.ntk, ntk("gcn", X, A, depth=2))


class TestGraphOperator:
    A = np.array([[5.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0, 0.0],
                  [0.0, 1.0, 0.0, 0.0],
                  [0.0, 7.0, 0.0, 0.0]])   # diagonal and lower-only entries are dropped
    U = np.array([[0.0, 1.0, 0.0, 0.0],
                  [1.0, 0.0, 1.0, 0.0],
                  [0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0]])

    def test_row(self):
        At = self.U + np.eye(4)
        assert np.allclose(graph_operator(self.A, "row").toarray(), At / At.sum(1)[:, None])

    def test_sym(self):
        At = self.U + np.eye(4)
        r = 1 / np.sqrt(At.sum(1))
        S = graph_operator(sp.csr_matrix(self.A), "sym_normalization")
        assert sp.issparse(S)
        assert np.allclose(S.toarray(), r[:, None] * At * r[None, :])

    def test_graphsage(self):
        deg = self.U.sum(1)
        expected = np.eye(4) + np.divide(self.U, deg[:, None], out=np.zeros((4, 4)),
                                         where=deg[:, None] > 0)
        assert np.allclose(graph_operator(self.A, "graphsage").toarray(), expected)

    @pytest.mark.parametrize("name", ["none", "gin"])
    def test_none_keeps_a_with_unit_diagonal(self, name):
        expected = self.A.copy()
        np.fill_diagonal(expected, 1.0)
        assert np.allclose(graph_operator(self.A, name).toarray(), expected)

    def test_weighted(self):
        W = 0.5 * self.U
        S = graph_operator(W, "row").toarray()
        assert np.allclose(S, (W + np.eye(4)) / (W + np.eye(4)).sum(1)[:, None])


def test_kernel_is_immutable_and_layers_return_new_kernels():
    import dataclasses

    X, _ = _graph()
    k0 = input_kernel(X)
    with pytest.raises(dataclasses.FrozenInstanceError):
        k0.nngp = None
    k1 = serial(dense(bias_var=1.0), relu())(k0)
    assert k1 is not k0 and np.array_equal(k0.nngp, X @ X.T) and not np.any(k0.ntk)
