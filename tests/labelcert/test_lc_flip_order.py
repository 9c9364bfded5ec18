"""The searches' per-node flip order (most harmful first): every flip set still reached
exactly once, the verdicts kept (brute force in test_lc_search.py runs both orders), the
pruned tree smaller."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.labelcert._problem import Problem
from certmodel.labelcert._response import Readout, flip_terms
from certmodel.labelcert._search import search_binary
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import solve_svm_dual
from tests.labelcert.oracles import random_instance


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


def test_per_node_orders_enumerate_every_flip_set_exactly_once():
    """Children restricted by child_masks, whatever order each node picks, reach every set
    of at most r allowed points exactly once (the searches' completeness)."""
    from certmodel.labelcert._flip_order import child_masks, ranks_from_keys

    rng = np.random.default_rng(1)
    n, r = 7, 4
    allowed0 = rng.random(n) < 0.8
    seen: list[tuple] = []

    def expand(S, AL):
        rank = ranks_from_keys(rng.normal(size=(1, n)), AL[None])  # a fresh order per node
        for i in np.flatnonzero(AL):
            child = (*S, int(i))
            seen.append(tuple(sorted(child)))
            if len(child) < r:
                expand(child, child_masks(AL[None], rank, np.array([0]), np.array([i]))[0])

    expand((), allowed0)
    import itertools
    want = [c for k in range(1, r + 1)
            for c in itertools.combinations(np.flatnonzero(allowed0).tolist(), k)]
    assert sorted(seen) == sorted(want)


def test_node_ranks_sort_by_the_nodes_own_terms_and_open_rows():
    from certmodel.labelcert._flip_order import node_keys, node_ranks

    K, y, K_test = random_instance(11, 8, m=3)
    y = np.where(y > 0, 1.0, -1.0)
    C = 0.4
    geo = KernelGeometry(K)
    kappa, rest = geo.readout(K_test, C)
    ro = Readout.full(K_test, kappa, geo.diag_sqrt, rest)
    Y = np.stack([y, y * np.where(np.arange(8) == 2, -1.0, 1.0)])
    Z = np.stack([yy * solve_svm_dual(K, yy, C).alpha for yy in Y])
    allowed = np.ones((2, 8), bool)
    allowed[1, 2] = False
    rank = node_ranks(ro, Z, Y, C, allowed)
    keys = node_keys(ro, Z, Y, C, allowed)
    for p in range(2):
        order = np.argsort(rank[p])
        assert not allowed[p, order[-1]] or allowed[p].all()
        ks = keys[p, order][allowed[p, order]]
        assert np.all(np.diff(ks) <= 0)  # allowed points by decreasing key, then the rest
    # only rows still open count: with row 0 alone open the keys are row 0's shares
    T = flip_terms(ro.V, Z, Y, C, ro.kappa, ro.k)  # (rows, 2, n)
    margins = np.array([[-1.0, -1.0], [1e9, 1e9], [1e9, 1e9]])
    k0 = node_keys(ro, Z, Y, C, allowed, None, margins, np.array([2, 2]), np.zeros(3))
    np.testing.assert_allclose(k0, T[0] / T[0].min(axis=1, keepdims=True))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), P=st.integers(1, 4))
def test_has_later_is_whether_the_child_mask_has_a_point(seed, n, P):
    """:func:`has_later` (no (q, n) masks) equals ``child_masks(…).any(axis=1)``, including
    parents with nothing allowed and children at the last allowed point."""
    from certmodel.labelcert._flip_order import child_masks, has_later

    rng = np.random.default_rng(seed)
    allowed = rng.random((P, n)) < 0.6
    rank = np.stack([rng.permutation(n) for _ in range(P)])
    par, idx = np.nonzero(allowed)
    assert np.array_equal(has_later(allowed, rank, par, idx),
                          child_masks(allowed, rank, par, idx).any(axis=1))
