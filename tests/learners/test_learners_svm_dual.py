import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.exceptions import InvalidParameterError
from certmodel.learners import (
    is_saturated,
    saturated_C,
    solve_svm_dual,
    svm_dual_objective,
    svm_kkt_residual,
)

from ._helpers import random_psd, reference_box_qp

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _scale(K, C):
    return max(1.0, C * np.abs(K).sum(axis=1).max())


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 30), low_rank=st.booleans(),
       logC_rel=st.floats(-1.5, 2.5))
def test_kkt_and_objective_vs_reference(seed, n, low_rank, logC_rel):
    rng = np.random.default_rng(seed)
    K = random_psd(rng, n, rank=int(rng.integers(1, 8)) if low_rank else None)
    y = rng.choice([-1.0, 1.0], n)
    C = saturated_C(K) * 10.0 ** logC_rel  # across the saturated boundary
    sol = solve_svm_dual(K, y, C)
    assert sol.converged
    assert sol.kkt_residual <= 1e-9 * _scale(K, C)
    assert np.all(sol.alpha >= 0) and np.all(sol.alpha <= C)
    assert svm_kkt_residual(K, y, sol.alpha, C) == pytest.approx(sol.kkt_residual, abs=1e-12)
    _, fref = reference_box_qp(K, y, C)
    fobj = svm_dual_objective(K, y, sol.alpha)
    assert fobj <= fref + 1e-9 * max(1.0, abs(fref))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 30), low_rank=st.booleans(),
       logC_rel=st.floats(-0.5, 2.5))
def test_warm_start_same_logits(seed, n, low_rank, logC_rel):
    rng = np.random.default_rng(seed)
    K = random_psd(rng, n, rank=3 if low_rank else None)
    y = rng.choice([-1.0, 1.0], n)
    C = saturated_C(K) * 10.0 ** logC_rel
    cold = solve_svm_dual(K, y, C)
    y2 = y.copy()
    y2[rng.integers(n)] *= -1
    base = solve_svm_dual(K, y2, C)
    warm = solve_svm_dual(K, y, C, alpha0=base.alpha)
    assert warm.converged
    f_cold, f_warm = K @ (y * cold.alpha), K @ (y * warm.alpha)
    assert np.allclose(f_cold, f_warm, atol=1e-7 * _scale(K, C))


def test_singular_kernel_logits_unique():
    rng = np.random.default_rng(3)
    n, r = 40, 5
    X = rng.normal(size=(n, r))
    K = X @ X.T / r
    Kt = rng.normal(size=(7, r)) @ X.T / r
    y = rng.choice([-1.0, 1.0], n)
    C = 5.0
    sol = solve_svm_dual(K, y, C)
    assert sol.converged
    xref, _ = reference_box_qp(K, y, C)
    # logits agree with the (looser) reference solution although α is not unique
    assert np.allclose(Kt @ (y * sol.alpha), Kt @ (y * xref), atol=1e-5)


def test_saturated_regime_exact():
    rng = np.random.default_rng(0)
    K = random_psd(rng, 15)
    Cs = saturated_C(K)
    assert Cs == pytest.approx(1.0 / np.abs(K).sum(axis=1).max())
    assert is_saturated(K, 0.99 * Cs) and not is_saturated(K, Cs)
    y = rng.choice([-1.0, 1.0], 15)
    sol = solve_svm_dual(K, y, 0.5 * Cs)
    assert sol.method == "saturated" and sol.iterations == 0
    assert np.array_equal(sol.alpha, np.full(15, 0.5 * Cs))
    # the general solver finds the same point when told nothing
    assert solve_svm_dual(K, y, 0.999 * Cs).alpha == pytest.approx(0.999 * Cs)
    # just above the boundary α ≡ C stops being optimal for some labelling in general
    assert saturated_C(np.zeros((3, 3))) == np.inf


def test_simple_closed_forms():
    # identity kernel: α_i = min(1, C)
    for C in (0.3, 1.0, 4.0):
        sol = solve_svm_dual(np.eye(4), np.array([1, -1, 1, -1]), C)
        assert np.allclose(sol.alpha, min(1.0, C))
    # two identical points with opposite labels: a contradiction ⇒ both at C
    K = np.ones((2, 2))
    sol = solve_svm_dual(K, np.array([1, -1]), 3.0)
    assert np.allclose(sol.alpha, 3.0)


def test_indefinite_kernel_kkt_or_honest():
    rng = np.random.default_rng(5)
    K = random_psd(rng, 20, rank=4)
    E = rng.normal(size=(20, 20)) * 0.02
    K = K + (E + E.T) / 2
    y = rng.choice([-1.0, 1.0], 20)
    sol = solve_svm_dual(K, y, 2.0)
    assert np.all((sol.alpha >= 0) & (sol.alpha <= 2.0))
    res = svm_kkt_residual(K, y, sol.alpha, 2.0)
    assert res == pytest.approx(sol.kkt_residual, abs=1e-12)
    assert sol.converged == (res <= 1e-10 * _scale(K, 2.0))


def test_inputs_unchanged():
    rng = np.random.default_rng(1)
    K = random_psd(rng, 10)
    y = rng.choice([-1.0, 1.0], 10)
    a0 = rng.uniform(-1, 3, 10)
    copies = [K.copy(), y.copy(), a0.copy()]
    solve_svm_dual(K, y, 1.0, alpha0=a0)
    for before, after in zip(copies, [K, y, a0], strict=True):
        assert np.array_equal(before, after)


@pytest.mark.parametrize("kwargs, match", [
    ({"K": np.array([[1.0, np.nan], [np.nan, 1.0]])}, "finite"),
    ({"K": np.ones((2, 3))}, "square"),
    ({"K": np.array([[1.0, 0.5], [0.4, 1.0]])}, "symmetric"),
    ({"y": np.array([1.0, 0.0])}, "-1, \\+1"),
    ({"y": np.array([1.0, -1.0, 1.0])}, "2 entries"),
    ({"C": 0.0}, "C == 0"),
    ({"C": -1.0}, "C == -1"),
    ({"C": float("inf")}, "finite"),
    ({"alpha0": np.ones(3)}, "alpha0"),
])
def test_bad_inputs(kwargs, match):
    args = {"K": np.eye(2), "y": np.array([1.0, -1.0]), "C": 1.0}
    args.update(kwargs)
    a0 = args.pop("alpha0", None)
    with pytest.raises(InvalidParameterError, match=match):
        solve_svm_dual(args["K"], args["y"], args["C"], alpha0=a0)
