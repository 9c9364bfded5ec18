"""The multiclass search bounds and retrains its children block by block (``_SCREEN``
children bounded at a time, ``_CHUNK`` retrained at a time, time limit checked in between):
with tiny blocks — many blocks and chunks per parent — it still equals brute force, in the
non-saturated regime where every retrain runs the batched active-set solver."""

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import certmodel.labelcert._search as search_mod
from certmodel.labelcert._problem import Problem
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import saturated_C, solve_svm_dual
from tests.labelcert.oracles import random_instance


def _logits(K, K_test, labels, C, nK):
    cols = []
    for k in range(nK):
        y = np.where(labels == k, 1.0, -1.0)
        cols.append(K_test @ (y * solve_svm_dual(K, y, C).alpha))
    return np.stack(cols, axis=1)


def _margins(F, tops):
    G = F.copy()
    G[np.arange(len(F)), tops] = -np.inf
    return F[np.arange(len(F)), tops] - G.max(axis=1)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 7), rel=st.floats(2.0, 20.0),
       screen=st.integers(1, 9), chunk=st.integers(1, 4))
def test_blocked_multiclass_search_equals_brute_force(seed, n, rel, screen, chunk):
    K, _, K_test = random_instance(seed, n, m=3)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    labels[:3] = [0, 1, 2]
    prob = Problem.create(K, labels, K_test, saturated_C(K) * rel)  # C·rowsum = rel
    K, K_test, C, nK = prob.K, prob.K_test, prob.C, 3
    alphas = np.stack([solve_svm_dual(K, np.where(labels == k, 1.0, -1.0), C).alpha
                       for k in range(nK)])
    F0 = _logits(K, K_test, labels, C, nK)
    tops = np.argmax(F0, axis=1)
    budgets = [1, 2]
    scale = 2 * C * np.abs(K_test).sum(axis=1)
    eps = 1e-6 * scale
    old = search_mod._SCREEN, search_mod._CHUNK
    search_mod._SCREEN, search_mod._CHUNK = screen, chunk
    try:
        res = search_mod.search_multiclass(prob, alphas, tops, np.arange(3), budgets,
                                           np.ones((3, 2), bool), eps, KernelGeometry(K))
    finally:
        search_mod._SCREEN, search_mod._CHUNK = old
    assert res.complete.all()
    tol = 1e-7 * scale
    ref = _margins(F0, tops)
    for j, B in enumerate(budgets):
        for S in itertools.combinations(range(n), B):
            for new in itertools.product(*[[k for k in range(nK) if k != labels[i]]
                                           for i in S]):
                lab = labels.copy()
                lab[list(S)] = new
                ref = np.minimum(ref, _margins(_logits(K, K_test, lab, C, nK), tops))
        # exact: never below the true worst margin; proven bounds never above it
        assert np.all(res.visited[:, j] >= ref - tol)
        lower = np.minimum(res.visited[:, j], res.pruned[:, j])
        assert np.all((lower <= ref + tol) | (res.visited[:, j] <= 0))
        for r in range(3):
            if res.visited[r, j] <= 0:  # the witness replays
                lab = labels.copy()
                for i, k in res.witness[r][j]:
                    lab[i] = k
                assert (lab != labels).sum() <= B
                assert _margins(_logits(K, K_test, lab, C, nK), tops)[r] <= tol[r]


def test_time_limit_zero_leaves_records_open():
    K, _, K_test = random_instance(3, 7, m=3)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    prob = Problem.create(K, labels, K_test, saturated_C(K) * 5.0)
    alphas = np.stack([solve_svm_dual(prob.K, np.where(labels == k, 1.0, -1.0), prob.C).alpha
                       for k in range(3)])
    tops = np.argmax(_logits(prob.K, prob.K_test, labels, prob.C, 3), axis=1)
    res = search_mod.search_multiclass(prob, alphas, tops, np.arange(3), [1, 2],
                                       np.ones((3, 2), bool), np.zeros(3),
                                       KernelGeometry(prob.K), time_limit=0.0)
    assert not res.complete.any()
