"""The stability bound is valid (brute force) and the MILP tightened by it stays exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._stability import (
    KernelGeometry,
    budget_bounds,
    hinge_gap,
    readout_radius,
    stability_radius,
)
from certmodel.learners import solve_svm_dual
from certmodel.milp.formulations import BinaryMILP
from certmodel.milp.standard_form import Sense
from certmodel.results import Path, Verdict
from tests.labelcert.oracles import brute_binary, random_instance
from tests.labelcert.test_lc_milp_exactness import OPTS

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def test_hinge_gap_and_radius_basics():
    a = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(hinge_gap(a), [3.0, 1.0, 0.0, -1.0, -3.0])
    assert stability_radius(a, np.ones(5), 1.0, 0) == 0.0
    # Δ² ≤ C Σ φ(Δ) ≤ 2CΔ Σ k  ⇒  Δ ≤ 2C Σ_top-r k
    assert stability_radius(a, np.ones(5), 0.1, 2) <= 2 * 0.1 * 2 * (1 + 1e-6)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), B=st.integers(1, 3),
       logC=st.floats(-1.5, 1.5), low_rank=st.booleans())
def test_bounds_contain_every_retrained_svm(seed, n, B, logC, low_rank):
    K, y, K_test = random_instance(seed, n, m=4, d=2 if low_rank else 3,
                                   ridge=0.0 if low_rank else 0.3)
    C = 10.0 ** logC
    y = y.astype(float)
    geo = KernelGeometry(K)
    assert geo.psd
    alpha = solve_svm_dual(K, y, C).alpha
    g_lo, g_hi, delta = budget_bounds(geo, K, y, C, alpha, B)
    rad = readout_radius(geo, K_test, C, delta)
    f0 = K_test @ (y * alpha)
    scale = C * np.abs(K).sum() + 1e-12
    for b in range(1, B + 1):
        for S in itertools.combinations(range(n), b):
            yy = y.copy()
            yy[list(S)] *= -1
            z = yy * solve_svm_dual(K, yy, C).alpha
            g = K @ z
            assert np.all(g >= g_lo - 1e-8 * scale) and np.all(g <= g_hi + 1e-8 * scale)
            assert np.all(np.abs(K_test @ z - f0) <= rad + 1e-8 * scale)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), B=st.integers(1, 3),
       C=st.sampled_from([0.3, 1.0, 5.0]))
@pytest.mark.parametrize("linearization", ["compact", "reference"])
def test_tightened_milp_equals_brute_force(linearization, seed, n, B, C):
    K, y, K_test = random_instance(seed, n)
    y = y.astype(float)
    worst, _ = brute_binary(K, y, C, K_test, B)
    alpha = solve_svm_dual(K, y, C).alpha
    g_lo, g_hi, _ = budget_bounds(KernelGeometry(K), K, y, C, alpha, B)
    model = BinaryMILP(K, y, C, B, linearization=linearization, options=OPTS,
                       g_bounds=(g_lo, g_hi))
    f = K_test @ (y * alpha)
    for t in range(K_test.shape[0]):
        s = 1.0 if f[t] >= 0 else -1.0
        res = model.solve(model.objective(K_test[t], s), Sense.MINIMIZE,
                          warm_start=model.start(np.zeros(n, bool), alpha))
        assert res.termination.value == "optimal"
        scale = C * np.abs(K_test[t]).sum()
        assert abs(res.incumbent - worst[t]) <= 1e-6 * scale + 1e-8


def test_bound_path_decides_large_margins_soundly():
    """C just above the saturated regime, well separated: the bound path certifies."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(2, 0.3, (4, 2)), rng.normal(-2, 0.3, (4, 2))])
    K = X @ X.T + 0.1 * np.eye(8)
    y = np.array([1, 1, 1, 1, -1, -1, -1, -1])
    K_test = np.array([[3.0, 3.0], [-3.0, -3.0]]) @ X.T
    C = 0.02  # C·max row sum ≈ 1.7
    recs = certify(K, y, K_test, C, [1], options=LabelCertOptions(attack=False))
    worst, _ = brute_binary(K, y, C, K_test, 1)
    assert any(r.path is Path.BOUND for r in recs)
    for r in recs:
        if r.path is Path.BOUND:
            assert r.verdict is Verdict.ROBUST and 0 < r.value <= worst[r.test_index] + 1e-9


def test_indefinite_kernel_disables_the_bound():
    K = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert not KernelGeometry(K).psd
    assert budget_bounds(KernelGeometry(K), K, np.array([1.0, -1.0]), 1.0,
                         np.array([0.5, 0.5]), 1) is None
