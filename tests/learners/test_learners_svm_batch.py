"""The batched SVM solver returns exact KKT points, equal (in logits) to the scalar solver."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.learners import saturated_C, solve_svm_dual, svm_kkt_residual
from certmodel.learners._svm_batch import solve_svm_dual_batch

from ._helpers import random_psd

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _scale(K, C):
    return max(1.0, C * np.abs(K).sum(axis=1).max())


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 25), low_rank=st.booleans(),
       logC_rel=st.floats(-1.0, 2.5), warm=st.booleans())
def test_batch_matches_scalar(seed, n, low_rank, logC_rel, warm):
    rng = np.random.default_rng(seed)
    K = random_psd(rng, n, rank=int(rng.integers(1, 6)) if low_rank else None)
    C = saturated_C(K) * 10.0 ** logC_rel
    y0 = rng.choice([-1.0, 1.0], n)
    Y = np.where(rng.random((30, n)) < 0.2, -y0, y0)
    alpha0 = solve_svm_dual(K, y0, C).alpha if warm else None
    A, ok = solve_svm_dual_batch(K, Y, C, alpha0)
    assert ok.all()
    for y, a in zip(Y, A):
        assert np.all(a >= 0) and np.all(a <= C)
        assert svm_kkt_residual(K, y, a, C) <= 1e-9 * _scale(K, C)
        ref = solve_svm_dual(K, y, C).alpha
        np.testing.assert_allclose(K @ (y * a), K @ (y * ref), atol=1e-7 * _scale(K, C))


def test_batch_reports_failure_on_indefinite_kernel():
    """Never a silent wrong answer: rows that fail the KKT test come back ``converged=False``."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 8))
    K = (X + X.T) / 2  # indefinite
    Y = rng.choice([-1.0, 1.0], (20, 8))
    A, ok = solve_svm_dual_batch(K, Y, 5.0)
    for y, a, good in zip(Y, A, ok):
        if good:
            assert svm_kkt_residual(K, y, a, 5.0) <= 1e-9 * _scale(K, 5.0)


def test_saturated_batch_is_C():
    K = np.eye(4)
    A, ok = solve_svm_dual_batch(K, np.ones((3, 4)), 0.5)
    assert ok.all() and np.all(A == 0.5)
