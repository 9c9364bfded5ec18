"""The response-ball bound (B3) holds for every relabelling (brute force), both directions,
from any node (a relabelled problem as the base), over kernel and C scales."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert._response import flip_terms, smallest_sums
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import solve_svm_dual
from tests.labelcert.oracles import random_instance, scaled_node

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _z(K, y, C):
    return y * solve_svm_dual(K, y, C).alpha


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), B=st.integers(1, 3),
       logC=st.floats(-1.5, 1.5), logscale=st.floats(-3.0, 3.0), low_rank=st.booleans(),
       base_flips=st.integers(0, 2))
def test_b3_bounds_every_relabelling(seed, n, B, logC, logscale, low_rank, base_flips):
    K, y, K_test, C = scaled_node(seed, n, logC, logscale, low_rank, base_flips)
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    f0 = K_test @ z
    kappa, rest = geo.readout(K_test, C)
    lo_T = flip_terms(K_test, z[None], y[None], C, kappa, geo.diag_sqrt)[:, 0]
    hi_T = -flip_terms(-K_test, z[None], y[None], C, kappa, geo.diag_sqrt)[:, 0]  # mirror
    assert np.all(lo_T <= 1e-12 * np.abs(lo_T).max(initial=1.0))
    scale = C * np.abs(K_test).sum(axis=1) + 1e-300
    allowed = np.ones((1, n), bool)
    down = smallest_sums(lo_T[:, None], allowed, np.array([B]))[:, 0]
    up = -smallest_sums(-hi_T[:, None], allowed, np.array([B]))[:, 0]
    for b in range(1, B + 1):
        for S in itertools.combinations(range(n), b):
            yy = y.copy()
            yy[list(S)] *= -1
            d = K_test @ _z(K, yy, C) - f0
            S = list(S)
            # per flip set and over the budget (top-B sum), lower and upper
            assert np.all(d >= lo_T[:, S].sum(axis=1) - rest - 1e-7 * scale)
            assert np.all(d >= down - rest - 1e-7 * scale)
            assert np.all(d <= hi_T[:, S].sum(axis=1) + rest + 1e-7 * scale)
            assert np.all(d <= up + rest + 1e-7 * scale)


def test_b3_is_not_vacuous_and_tighter_than_cauchy_schwarz():
    """On an instance the bound must be finite, non-zero and below the (S2) single-flip
    drop κ·k_i·2C (the Cauchy–Schwarz read-out of the largest possible change)."""
    K, y, K_test = random_instance(3, 8, m=3)
    y = y.astype(float)
    C = 0.5
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    kappa, _ = geo.readout(K_test, C)
    T = flip_terms(K_test, z[None], y[None], C, kappa, geo.diag_sqrt)[:, 0]
    cs = kappa[:, None] * geo.diag_sqrt[None] * 2 * C
    assert np.all(T < 0)
    assert np.all(-T <= cs + 1e-12)
    assert np.any(-T < 0.8 * cs)


def test_smallest_sums_counts_only_allowed_negatives():
    T = np.array([[[-3.0, 1.0, -1.0, -2.0]]])
    allowed = np.array([[True, True, True, False]])
    assert smallest_sums(T, allowed, np.array([2]))[0, 0] == -4.0
    assert smallest_sums(T, allowed, np.array([3]))[0, 0] == -4.0  # +1 never counts
    assert smallest_sums(T, allowed, np.array([0]))[0, 0] == 0.0
    assert smallest_sums(T, allowed, np.array([9]))[0, 0] == -4.0


def _search_nodes(monkeypatch, use_b3: bool, seed: int):
    import certmodel.labelcert._search as search_mod
    from certmodel.labelcert._problem import Problem

    if not use_b3:  # (B3) vacuous: every term −inf, only (B1) can prune
        monkeypatch.setattr(search_mod, "flip_terms",
                            lambda V, Z, *a, **k: np.full((len(V),) + Z.shape, -np.inf))
    K, y, K_test = random_instance(seed, 14, m=6)
    prob = Problem.create(K, y, K_test, 0.05)
    alpha0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    f = prob.K_test @ (prob.y_pm * alpha0)
    s = np.where(f >= 0, 1.0, -1.0)
    eps = 1e-6 * prob.C * np.abs(prob.K_test).sum(axis=1)
    res = search_mod.search_binary(prob, alpha0, s, np.arange(6), [1, 2, 3, 4],
                                   np.ones((6, 4), bool), eps, KernelGeometry(prob.K))
    monkeypatch.undo()
    return res


def test_b3_prunes_more_than_b1_alone_with_the_same_verdicts(monkeypatch):
    with_b3 = _search_nodes(monkeypatch, True, 5)
    without = _search_nodes(monkeypatch, False, 5)
    assert with_b3.complete.all() and without.complete.all()
    assert with_b3.nodes < without.nodes
    for res in (with_b3, without):
        lower = np.minimum(res.visited, res.pruned)
        assert lower.shape == (6, 4)
    # the same decisions: robust (lower bound > 0) / not robust (a visited witness)
    np.testing.assert_array_equal(np.minimum(with_b3.visited, with_b3.pruned) > 0,
                                  np.minimum(without.visited, without.pruned) > 0)
    np.testing.assert_array_equal(with_b3.visited <= 0, without.visited <= 0)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), B=st.integers(1, 3),
       logC=st.floats(-2.5, 1.0), logscale=st.floats(-3.0, 3.0), mask=st.booleans())
def test_projected_b3_bounds_every_relabelling(seed, n, B, logC, logscale, mask):
    """(B3ᵁ): U from the budget's bounds on K z'; only U responds.  Small C makes U small
    (saturated points), where the bound approaches the exact flipped-point change."""
    from certmodel.labelcert._response import Readout, flip_pins, moving_points
    from certmodel.labelcert._stability import budget_bounds

    K, y, K_test = random_instance(seed, n, m=4)
    s_ = 10.0 ** logscale
    K, K_test = K * s_, K_test * s_
    C = 10.0 ** logC / s_
    y = y.astype(float)
    rng = np.random.default_rng(seed)
    allowed = rng.random(n) < 0.7 if mask else np.ones(n, bool)
    geo = KernelGeometry(K)
    alpha = solve_svm_dual(K, y, C).alpha
    z = y * alpha
    f0 = K_test @ z
    kappa, rest = geo.readout(K_test, C)
    lo, hi, _ = budget_bounds(geo, K, y, C, alpha, B, allowed)
    U = moving_points(lo, hi, y, allowed)
    ro = Readout.projected(K, K_test, kappa, geo.diag_sqrt, rest, U, C, flip_pins(lo, hi, y))
    T = flip_terms(ro.V, z[None], y[None], C, ro.kappa, ro.k, pin=ro.pin)[:, 0]
    Tu = flip_terms(-ro.V, z[None], y[None], C, ro.kappa, ro.k, pin=ro.pin)[:, 0]
    scale = C * np.abs(K_test).sum(axis=1) + 1e-300
    for b in range(1, B + 1):
        for S in itertools.combinations(np.flatnonzero(allowed), b):
            yy = y.copy()
            yy[list(S)] *= -1
            d = K_test @ _z(K, yy, C) - f0
            S = list(S)
            assert np.all(d >= T[:, S].sum(axis=1) - ro.rest - 1e-7 * scale)
            assert np.all(d <= -Tu[:, S].sum(axis=1) + ro.rest + 1e-7 * scale)


def test_projected_b3_is_exact_when_nothing_responds():
    """Tiny C: every point saturated and no margin can reach 1 — U is empty, every flipped
    point is pinned at α' = C, and (B3ᵁ) equals the retrained change exactly."""
    from certmodel.labelcert._response import Readout, flip_pins, moving_points
    from certmodel.labelcert._stability import budget_bounds

    K, y, K_test = random_instance(11, 6, m=3)
    y = y.astype(float)
    C = 1e-4
    geo = KernelGeometry(K)
    alpha = solve_svm_dual(K, y, C).alpha
    lo, hi, _ = budget_bounds(geo, K, y, C, alpha, 2)
    U = moving_points(lo, hi, y, np.ones(6, bool))
    pin = flip_pins(lo, hi, y)
    assert not U.any() and np.all(pin == 2)
    kappa, rest = geo.readout(K_test, C)
    ro = Readout.projected(K, K_test, kappa, geo.diag_sqrt, rest, U, C, pin)
    z = y * alpha
    T = flip_terms(ro.V, z[None], y[None], C, ro.kappa, ro.k, pin=ro.pin)[:, 0]
    for S in ([0, 3], [1, 2], [5]):
        yy = y.copy()
        yy[S] *= -1
        d = K_test @ _z(K, yy, C) - K_test @ z
        np.testing.assert_allclose(T[:, S].sum(axis=1), d, rtol=1e-9,
                                   atol=1e-9 * np.abs(d).max())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), per_parent=st.booleans())
def test_suffix_smallest_sums_equal_sorting_each_child(seed, per_parent):
    """The one-sweep suffix sums (the screen's hot loop) equal :func:`smallest_sums` of each
    child's own suffix set: the ``r`` smallest non-positive entries over allowed ``j ≥
    start``, ties and positive entries included."""
    from certmodel.labelcert._response import suffix_smallest_sums

    rng = np.random.default_rng(seed)
    rows, P, n, q = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 12), rng.integers(1, 20)
    T = np.round(rng.normal(size=(rows, P, n)), 1)  # rounded: ties occur
    allowed = rng.random((P, n) if per_parent else n) < 0.7
    parent = rng.integers(0, P, q)
    start = rng.integers(0, n, q)
    r = rng.integers(0, n + 2, q)
    got = suffix_smallest_sums(T, allowed, parent, start, r)
    al = allowed if per_parent else np.broadcast_to(allowed, (P, n))
    mask = al[parent] & (np.arange(n)[None, :] >= start[:, None])
    want = smallest_sums(T[:, parent], mask, r)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
