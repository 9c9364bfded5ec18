"""Batched, level-by-level enumeration equals the brute-force oracles (hypothesis kernels)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert._enumerate import (
    _children,
    enumerate_binary,
    enumerate_collective,
    enumerate_multiclass,
    n_relabellings,
)
from certmodel.labelcert._problem import Problem
from certmodel.learners import solve_svm_dual
from tests.labelcert.oracles import (
    brute_binary,
    brute_collective,
    brute_multiclass,
    random_instance,
)

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def test_children_are_every_subset_once():
    n, b = 7, 3
    P = np.zeros((1, 0), dtype=np.int64)
    seen = []
    for _ in range(b):
        P, _ = _children(P, n)
        seen.append(len(P))
    assert [len(set(map(tuple, P)))] == [len(P)] and seen == [7, 21, 35]
    S, parent = _children(np.array([[0, 4]]), n, choices=2)
    assert S.tolist() == [[0, 4, 5, 0], [0, 4, 5, 1], [0, 4, 6, 0], [0, 4, 6, 1]]
    assert parent.tolist() == [0, 0, 0, 0]


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 8), B=st.integers(1, 3),
       logC=st.floats(-1.0, 1.0))
def test_binary_and_collective_equal_brute_force(seed, n, B, logC):
    K, y, K_test = random_instance(seed, n, m=4)
    C = 10.0 ** logC
    y_pm = np.where(y > 0, 1.0, -1.0)
    prob = Problem.create(K, y, K_test, C)
    alpha0 = solve_svm_dual(K, y_pm, C).alpha
    f = K_test @ (y_pm * alpha0)
    signs = np.where(f >= 0, 1.0, -1.0)
    worst, witness = enumerate_binary(prob, alpha0, signs, B)
    ref, _ = brute_binary(K, y_pm, C, K_test, B)
    scale = C * np.abs(K_test).sum(axis=1)
    np.testing.assert_allclose(worst[:, B], ref, atol=1e-7 * scale.max())
    for r in range(prob.m):
        for b in range(B + 1):
            S = list(witness[r][b])
            assert len(S) <= b
            yy = y_pm.copy()
            yy[S] *= -1
            z = yy * solve_svm_dual(K, yy, C).alpha
            if worst[r, b] > 0:  # the reported worst margin is attained by its witness
                assert abs(signs[r] * K_test[r] @ z - worst[r, b]) <= 1e-7 * scale[r]
            else:
                assert signs[r] * K_test[r] @ z <= 1e-7 * scale[r]
    count, wit = enumerate_collective(prob, alpha0, signs, B)
    assert count[B] == brute_collective(K, y_pm, C, K_test, B)
    assert len(wit[B]) <= B and np.all(np.diff(count) >= 0)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), B=st.integers(1, 2),
       nK=st.integers(3, 4))
def test_multiclass_equals_brute_force(seed, n, B, nK):
    """Exact worst margins equal brute force; with 4 classes every move leaves two
    one-vs-rest problems untouched (the enumeration keeps their parents' solutions)."""
    rng = np.random.default_rng(seed)
    K, _, K_test = random_instance(seed, n, m=3)
    labels = rng.integers(0, nK, n)
    labels[:nK] = np.arange(nK)
    C = 0.5
    prob = Problem.create(K, labels, K_test, C)
    alphas = np.stack([solve_svm_dual(K, np.where(labels == k, 1.0, -1.0), C).alpha
                       for k in range(nK)])
    ref, top = brute_multiclass(K, labels, nK, C, K_test, B)
    worst, best = enumerate_multiclass(prob, alphas, top, B)
    np.testing.assert_allclose(worst[:, B], ref, atol=1e-7)
    for r in range(prob.m):
        assert len(best[r][B]) <= B
        assert all(labels[i] != k for i, k in best[r][B])
    assert n_relabellings(n, B, 3) >= 1


def test_budget_above_n():
    K, y, K_test = random_instance(5, 3, m=2)
    y_pm = np.where(y > 0, 1.0, -1.0)
    prob = Problem.create(K, y, K_test, 1.0)
    alpha0 = solve_svm_dual(K, y_pm, 1.0).alpha
    signs = np.ones(2)
    worst, _ = enumerate_binary(prob, alpha0, signs, 5)
    assert np.all(np.isfinite(worst)) and np.all(worst[:, 5] == worst[:, 3])
    count, _ = enumerate_collective(prob, alpha0, signs, 5)
    assert count[5] == count[3]
    labels = np.array([0, 1, 2])
    prob3 = Problem.create(K, labels, K_test, 1.0)
    alphas = np.stack([solve_svm_dual(K, np.where(labels == k, 1.0, -1.0), 1.0).alpha
                       for k in range(3)])
    worst3, _ = enumerate_multiclass(prob3, alphas, np.zeros(2, int), 4)
    assert np.all(np.isfinite(worst3)) and np.all(worst3[:, 4] == worst3[:, 3])
