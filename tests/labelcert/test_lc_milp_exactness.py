"""The MILP optimum equals brute force (every relabelling, exact retraining) on tiny instances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.backends.base import SolveOptions
from certmodel.learners import solve_svm_dual
from certmodel.milp.formulations import BinaryMILP, CollectiveMILP, MulticlassMILP
from certmodel.milp.standard_form import Sense
from tests.conftest import requires_gurobi
from tests.labelcert.oracles import (
    brute_binary,
    brute_collective,
    brute_multiclass,
    random_instance,
)

OPTS = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)
SETTINGS = settings(max_examples=5, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _milp_worst(K, y, C, K_test, B, linearization, backend="highs"):
    model = BinaryMILP(K, y, C, B, linearization=linearization, backend=backend, options=OPTS)
    alpha = solve_svm_dual(K, y, C).alpha
    f = K_test @ (y * alpha)
    out = []
    for t in range(K_test.shape[0]):
        s = 1.0 if f[t] >= 0 else -1.0
        res = model.solve(model.objective(K_test[t], s), Sense.MINIMIZE,
                          warm_start=model.start(np.zeros(len(y), bool), alpha))
        assert res.termination.value == "optimal", res
        assert res.bound <= res.incumbent + 1e-7
        out.append(res.incumbent)
    return np.array(out)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), B=st.integers(1, 3),
       C=st.sampled_from([0.3, 1.0, 5.0]))
@pytest.mark.parametrize("linearization", ["compact", "reference"])
def test_binary_milp_equals_brute_force(linearization, seed, n, B, C):
    K, y, K_test = random_instance(seed, n)
    worst, _ = brute_binary(K, y, C, K_test, B)
    got = _milp_worst(K, y.astype(float), C, K_test, B, linearization)
    scale = C * np.abs(K_test).sum(axis=1)
    np.testing.assert_allclose(got, worst, atol=1e-6 * scale.max() + 1e-8)


@requires_gurobi
@pytest.mark.gurobi
@pytest.mark.parametrize("linearization", ["compact", "reference"])
def test_binary_milp_gurobi_equals_brute_force(linearization):
    for seed in range(3):
        K, y, K_test = random_instance(seed, 6)
        worst, _ = brute_binary(K, y, 1.0, K_test, 2)
        got = _milp_worst(K, y.astype(float), 1.0, K_test, 2, linearization, backend="gurobi")
        np.testing.assert_allclose(got, worst, atol=1e-5)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), B=st.integers(1, 3))
def test_collective_milp_equals_brute_force(seed, n, B):
    K, y, K_test = random_instance(seed, n, m=4)
    C = 1.0
    best = brute_collective(K, y, C, K_test, B)
    alpha = solve_svm_dual(K, y.astype(float), C).alpha
    f = K_test @ (y * alpha)
    signs = np.where(f >= 0, 1.0, -1.0)
    model = CollectiveMILP(K, y, C, B, K_test, signs, options=OPTS)
    res = model.solve_count(warm_start=model.start(np.zeros(n, bool), alpha))
    assert res.termination.value == "optimal"
    assert int(np.floor(res.bound + 1e-6)) == best


@SETTINGS
@given(seed=st.integers(0, 10_000), B=st.integers(1, 2))
@pytest.mark.parametrize("rivals", ["split", "max"])
def test_multiclass_milp_equals_brute_force(rivals, seed, B):
    n, n_classes, C = 5, 3, 1.0
    K, _, K_test = random_instance(seed, n, m=2)
    labels = np.random.default_rng(seed).integers(0, n_classes, n)
    worst, top = brute_multiclass(K, labels, n_classes, C, K_test, B)
    for t in range(K_test.shape[0]):
        if rivals == "split":
            model = MulticlassMILP(K, labels, n_classes, C, B, options=OPTS)
            got = min(model.solve(model.objective(K_test[t], top[t], k), Sense.MINIMIZE).incumbent
                      for k in range(n_classes) if k != top[t])
        else:
            model = MulticlassMILP(K, labels, n_classes, C, B, options=OPTS, rivals="max",
                                   test_kernel_row=K_test[t], top=int(top[t]))
            res = model.solve(model.form.c, Sense.MINIMIZE)
            got = res.incumbent
        assert got == pytest.approx(worst[t], abs=1e-6)
