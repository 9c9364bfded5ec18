"""The batched solver's own active-set steps: single-flip retrains (the relabelling search's
workload) converge inside the batch — no scalar fall-back — to the scalar solver's solution,
at every kernel scale; exactly singular free blocks are handed on, never accepted unchecked."""

import numpy as np
import pytest

from certmodel.learners import saturated_C, solve_svm_dual, svm_kkt_residual
from certmodel.learners._svm_batch import _solve_batch, solve_svm_dual_batch


def _rbf(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 10.0), rng


def _single_flips(K, y0, C):
    """Every one-point flip of ``y0``, warm-started from the clean solution with α_j = 0."""
    n = len(y0)
    a0 = solve_svm_dual(K, y0, C).alpha
    Y = np.repeat(y0[None], n, axis=0)
    Y[np.arange(n), np.arange(n)] *= -1.0
    A0 = np.repeat(a0[None], n, axis=0)
    A0[np.arange(n), np.arange(n)] = 0.0
    return Y, A0


@pytest.mark.parametrize("n, rel, seed", [(40, 30.0, 0), (30, 30.0, 1), (60, 10.0, 1)])
@pytest.mark.parametrize("scale", [1.0, 2.0**-30, 1e-9, 1e9])
@pytest.mark.parametrize("check_start", [True, False])
def test_single_flips_converge_in_batch(n, rel, seed, scale, check_start):
    """Instances where the former lock-step iteration (clipped active-set steps between
    coordinate sweeps) handed rows to the scalar solver: every row now passes the exact KKT
    test inside the batch, and the logits equal the scalar solver's, for (cK, C/c) at any c —
    with or without testing the warm starts first (``check_start``)."""
    K0, rng = _rbf(n, seed)
    K = scale * K0
    C = saturated_C(K) * rel  # C·max row sum = rel: not saturated
    y0 = rng.choice([-1.0, 1.0], n)
    Y, A0 = _single_flips(K, y0, C)
    A, ok, fallbacks = _solve_batch(K, Y, C, A0, 1e-10, 3, 10, 2, check_start)
    assert ok.all() and fallbacks == 0
    rowsum = np.abs(K).sum(axis=1).max()
    for y, a in zip(Y, A):
        assert np.all(a >= 0.0) and np.all(a <= C)
        s = max(1.0, rowsum * a.max())
        assert svm_kkt_residual(K, y, a, C) <= 1e-10 * s
        ref = solve_svm_dual(K, y, C).alpha
        # logits K(y∘α) are scale-invariant under (K, C, α) → (cK, C/c, α/c)
        np.testing.assert_allclose(K @ (y * a), K @ (y * ref), atol=1e-7 * rel)


def test_exactly_singular_blocks_fall_back_and_converge():
    """Duplicated training points make free blocks exactly singular (LAPACK refuses them):
    those rows leave the active-set steps, and what comes back still passes the KKT test."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    X = np.vstack([X, X[:4]])
    K = X @ X.T
    C = saturated_C(K) * 20.0
    Y = rng.choice([-1.0, 1.0], (30, len(X)))
    A, ok = solve_svm_dual_batch(K, Y, C)
    assert ok.all()
    rowsum = np.abs(K).sum(axis=1).max()
    for y, a in zip(Y, A):
        assert svm_kkt_residual(K, y, a, C) <= 1e-10 * max(1.0, rowsum * a.max())
        ref = solve_svm_dual(K, y, C).alpha  # K singular: α not unique, K(y∘α) is
        np.testing.assert_allclose(K @ (y * a), K @ (y * ref), atol=1e-7 * 20.0)


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
def test_unchecked_warm_starts_that_are_solutions_come_back(scale):
    """``check_start=False`` skips testing the warm starts, not the solution test: warm
    starts that already are the solutions (and a mix with ones that are not) come back as
    KKT points with the same logits as the default path."""
    K0, rng = _rbf(30, 3)
    K = scale * K0
    C = saturated_C(K) * 20.0
    y0 = rng.choice([-1.0, 1.0], 30)
    Yf, Af = _single_flips(K, y0, C)
    a0 = solve_svm_dual(K, y0, C).alpha
    Y = np.vstack([np.repeat(y0[None], 5, axis=0), Yf])
    A0 = np.vstack([np.repeat(a0[None], 5, axis=0), Af])
    A, ok = solve_svm_dual_batch(K, Y, C, A0, check_start=False)
    B, ok_b = solve_svm_dual_batch(K, Y, C, A0)
    assert ok.all() and ok_b.all()
    rowsum = np.abs(K).sum(axis=1).max()
    for y, a in zip(Y, A):
        assert svm_kkt_residual(K, y, a, C) <= 1e-10 * max(1.0, rowsum * a.max())
    np.testing.assert_allclose((Y * A) @ K, (Y * B) @ K, atol=1e-7 * 20.0)
