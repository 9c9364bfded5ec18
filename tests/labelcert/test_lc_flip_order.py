"""The searches' flip order (most harmful first): a renumbering that keeps every verdict and
witness (brute force in test_lc_search.py runs both orders) and shrinks the pruned tree."""

from __future__ import annotations

import numpy as np

from certmodel.labelcert._flip_order import harm_keys, harm_order, permute_readout
from certmodel.labelcert._problem import Problem
from certmodel.labelcert._response import Readout, flip_terms
from certmodel.labelcert._search import search_binary
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import solve_svm_dual
from tests.labelcert.oracles import random_instance


def test_harm_order_puts_flippable_points_by_decreasing_key_first():
    keys = np.array([0.2, 1.0, -0.5, 0.7, 0.7, 0.9])
    flippable = np.array([True, True, True, True, True, False])
    perm = harm_order(keys, flippable)
    np.testing.assert_array_equal(perm, [1, 3, 4, 0, 2, 5])  # ties in data order, 5 last


def test_harm_keys_are_each_rows_share_of_its_worst_term():
    rng = np.random.default_rng(0)
    K, y, K_test = random_instance(3, 9, m=2)
    y = np.where(y > 0, 1.0, -1.0)
    C = 0.7
    z = y * solve_svm_dual(K, y, C).alpha
    geo = KernelGeometry(K)
    kappa, rest = geo.readout(K_test, C)
    ro = Readout.full(K_test * rng.choice([-1.0, 1.0], (2, 1)), kappa, geo.diag_sqrt, rest)
    T = flip_terms(ro.V, z[None], y[None], C, ro.kappa, ro.k)[:, 0, :]
    keys = harm_keys(ro, z, y, C)
    np.testing.assert_allclose(keys, (T / T.min(axis=1, keepdims=True)).max(axis=0))
    # the point with the most negative term of some row comes first
    first = harm_order(keys, np.ones(9, bool))[0]
    assert first in set(np.argmin(T, axis=1))
    # renumbering the read-out renumbers the terms
    perm = rng.permutation(9)
    rp = permute_readout(ro, perm)
    Tp = flip_terms(rp.V, z[perm][None], y[perm][None], C, rp.kappa, rp.k)[:, 0, :]
    np.testing.assert_allclose(Tp, T[:, perm])


def _search(order: bool, seed: int = 5):
    K, y, K_test = random_instance(seed, 14, m=6)
    prob = Problem.create(K, y, K_test, 0.05)
    alpha0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    s = np.where(prob.K_test @ (prob.y_pm * alpha0) >= 0, 1.0, -1.0)
    eps = 1e-6 * prob.C * np.abs(prob.K_test).sum(axis=1)
    return search_binary(prob, alpha0, s, np.arange(6), [1, 2, 3, 4], np.ones((6, 4), bool),
                         eps, KernelGeometry(prob.K), order=order)


def test_harm_order_keeps_the_decisions_and_retrains_fewer_nodes():
    ordered, data = _search(True), _search(False)
    assert ordered.complete.all() and data.complete.all()
    np.testing.assert_array_equal(np.minimum(ordered.visited, ordered.pruned) > 0,
                                  np.minimum(data.visited, data.pruned) > 0)
    np.testing.assert_array_equal(ordered.visited <= 0, data.visited <= 0)
    assert ordered.nodes < data.nodes
