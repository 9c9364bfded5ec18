"""The optimality-cut dual bound (B4) holds for every relabelling (brute force), from any
node, at every λ, over kernel and C scales; and it is not vacuous."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert._cutdual import OptimalityCutBound
from certmodel.labelcert._response import flip_terms, smallest_sums
from certmodel.labelcert._stability import KernelGeometry
from tests.labelcert.oracles import random_instance, scaled_node, svm_z

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

_z = svm_z


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), B=st.integers(1, 3),
       logC=st.floats(-1.5, 1.5), logscale=st.floats(-4.0, 4.0), low_rank=st.booleans(),
       base_flips=st.integers(0, 2), loglam=st.floats(-3.0, 1.0), tuned=st.booleans(),
       sweeps=st.integers(0, 3))
def test_b4_bounds_every_relabelling(seed, n, B, logC, logscale, low_rank, base_flips, loglam,
                                     tuned, sweeps):
    K, y, K_test, C = scaled_node(seed, n, logC, logscale, low_rank, base_flips)
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    f0 = K_test @ z
    signs = np.where(f0 >= 0, 1.0, -1.0)
    V = signs[:, None] * K_test
    kappa, rest = geo.readout(K_test, C)
    cut = OptimalityCutBound(K, C, V, kappa, geo, B)
    cut.sweeps = sweeps  # the piece weights' start (0) and its descent: any θ is valid
    rows = np.arange(len(V))
    if tuned:
        cut.tune(z, y, np.ones(n, bool), B)
        lam = None
    else:
        lam = np.full((len(V), 1), 10.0 ** loglam)
    scale = C * np.abs(K_test).sum(axis=1) + 1e-300
    for r in range(1, B + 1):
        D0, beta = cut.terms(rows, z[None], y[None], np.array([r]), lam)
        worst = D0[:, 0] + smallest_sums(beta, np.ones((1, n), bool), np.array([r]))[:, 0]
        for S in itertools.combinations(range(n), r):
            yy = y.copy()
            yy[list(S)] *= -1
            d = V @ (_z(K, yy, C) - z)  # signed margin change
            # the set's own terms and the worst case over every set of at most r points
            assert np.all(d >= D0[:, 0] + beta[:, 0, list(S)].sum(axis=1) - rest
                          - 1e-7 * scale)
            assert np.all(d >= worst - rest - 1e-7 * scale)
        assert np.all(D0[:, 0] <= 1e-9 * scale)  # no change at all is bounded too


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), B=st.integers(1, 3),
       logC=st.floats(-1.5, 1.5), logscale=st.floats(-4.0, 4.0), base_flips=st.integers(0, 2),
       loglam=st.floats(-3.0, 1.0), sweeps=st.integers(0, 3))
def test_b4_child_bounds_hold_for_every_set_with_the_forced_flip(seed, n, B, logC, logscale,
                                                                 base_flips, loglam, sweeps):
    """The screen's form: child ``i`` of a node, its subtree ``{i} ∪ A'`` with ``A'``
    among the points after ``i`` (exact Gram terms of ``i``)."""
    K, y, K_test, C = scaled_node(seed, n, logC, logscale, False, base_flips)
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    V = np.where(K_test @ z >= 0, 1.0, -1.0)[:, None] * K_test
    kappa, rest = geo.readout(K_test, C)
    cut = OptimalityCutBound(K, C, V, kappa, geo, B)
    cut.sweeps = sweeps
    rows = np.arange(len(V))
    further = np.full(n, B - 1)
    allowed = np.arange(n)[None, :] > np.arange(n)[:, None]  # the points after i
    lam = np.full((len(V), 1), 10.0 ** loglam)
    b = cut.child_bounds(rows, z[None], y[None], np.zeros(n, int), np.arange(n), further,
                         allowed, lam)
    scale = C * np.abs(K_test).sum(axis=1) + 1e-300
    for i in range(n):
        for extra in range(B):
            for S in itertools.combinations(range(i + 1, n), extra):
                yy = y.copy()
                yy[[i, *S]] *= -1
                d = V @ (_z(K, yy, C) - z)
                assert np.all(d >= b[:, i] - rest - 1e-7 * scale)


def test_b4_is_tighter_than_b3_on_a_non_saturated_instance():
    """One flip on a C·rowsum ≈ 10 instance: the response the cut prices in must show."""
    K, y, K_test = random_instance(5, 14, m=6, d=3, ridge=0.1)
    y = y.astype(float)
    C = 10.0 / np.abs(K).sum(axis=1).max()
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    signs = np.where(K_test @ z >= 0, 1.0, -1.0)
    V = signs[:, None] * K_test
    kappa, rest = geo.readout(K_test, C)
    cut = OptimalityCutBound(K, C, V, kappa, geo, 1)
    cut.tune(z, y, np.ones(len(y), bool), 1)
    D0, beta = cut.terms(np.arange(len(V)), z[None], y[None], np.array([1]))
    b4 = D0[:, 0] + np.minimum(beta[:, 0], 0.0).min(axis=1)
    b3 = np.minimum(flip_terms(V, z[None], y[None], C, kappa, geo.diag_sqrt)[:, 0], 0).min(1)
    assert np.all(np.isfinite(b4))
    assert np.any(b4 > b3 + 1e-3 * np.abs(b3))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 12), logC=st.floats(-1.5, 1.5),
       logscale=st.floats(-4.0, 4.0), base_flips=st.integers(0, 2),
       loglam=st.floats(-3.0, 1.0), sweeps=st.integers(1, 4))
def test_b4_weight_descent_never_loosens_d0(seed, n, logC, logscale, base_flips, loglam,
                                             sweeps):
    """Coordinate descent on the piece weights is exact per coordinate on a convex QP:
    ``D₀`` (the bound on no change at all, ≤ 0) can only rise, at any λ and scale."""
    K, y, K_test, C = scaled_node(seed, n, logC, logscale, False, base_flips)
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    V = np.where(K_test @ z >= 0, 1.0, -1.0)[:, None] * K_test
    kappa, _ = geo.readout(K_test, C)
    lam = np.full((len(V), 1), 10.0 ** loglam)
    rows = np.arange(len(V))
    scale = C * np.abs(K_test).sum(axis=1) + 1e-300
    d0 = {}
    for k in (0, sweeps):
        cut = OptimalityCutBound(K, C, V, kappa, geo, 1)
        cut.sweeps = k
        d0[k] = cut.terms(rows, z[None], y[None], np.array([1]), lam)[0][:, 0]
    assert np.all(d0[sweeps] >= d0[0] - 1e-8 * scale)
    assert np.all(d0[sweeps] <= 1e-9 * scale)


def test_b4_weight_descent_tightens_the_bound_off_saturation():
    """On a C·rowsum ≈ 10 instance the descent must move ``D₀`` (the points off the
    margin take slopes) — the change that shrank the CBA n = 120 searches."""
    K, y, K_test = random_instance(5, 14, m=6, d=3, ridge=0.1)
    y = y.astype(float)
    C = 10.0 / np.abs(K).sum(axis=1).max()
    geo = KernelGeometry(K)
    z = _z(K, y, C)
    V = np.where(K_test @ z >= 0, 1.0, -1.0)[:, None] * K_test
    kappa, _ = geo.readout(K_test, C)
    rows = np.arange(len(V))
    lam = np.full((len(V), 1), 0.1)
    d0 = []
    for k in (0, 1):
        cut = OptimalityCutBound(K, C, V, kappa, geo, 1)
        cut.sweeps = k
        d0.append(cut.terms(rows, z[None], y[None], np.array([1]), lam)[0][:, 0])
    assert np.any(d0[1] > d0[0] + 1e-3 * np.abs(d0[0]))


def test_cut_bound_without_bound_tightening_is_refused():
    """Asked for without the geometry it would have no effect: refused, naming both; the
    default (None) follows bound_tightening, a non-boolean is refused by name."""
    import pytest

    from certmodel.exceptions import InvalidParameterError
    from certmodel.labelcert import LabelCertOptions

    with pytest.raises(InvalidParameterError, match="cut_bound.*bound_tightening"):
        LabelCertOptions(cut_bound=True, bound_tightening=False)
    assert LabelCertOptions(cut_bound=True).cut_bound
    assert LabelCertOptions(bound_tightening=False).cut_bound is None
    with pytest.raises(InvalidParameterError, match="cut_bound == 'yes'"):
        LabelCertOptions(cut_bound="yes")
    with pytest.raises(InvalidParameterError, match="cut_bound == 1"):
        LabelCertOptions(cut_bound=1)
    with pytest.raises(InvalidParameterError, match="cut_bound.*bound_tightening"):
        LabelCertOptions(cut_bound=np.True_, bound_tightening=False)


def test_cut_bound_is_on_by_default_and_off_when_asked():
    """The searches' geometry carries (B4) unless ``cut_bound=False``."""
    from certmodel.labelcert import LabelCertOptions
    from certmodel.labelcert._searchpath import _geometry

    K = np.eye(3) + 0.1
    prob = SimpleNamespace(K=K)
    assert _geometry(prob, LabelCertOptions(), True).cut_bound is True
    assert _geometry(prob, LabelCertOptions(cut_bound=True), True).cut_bound is True
    assert _geometry(prob, LabelCertOptions(cut_bound=False), True).cut_bound is False
    assert _geometry(prob, LabelCertOptions(bound_tightening=False), True) is None
    assert _geometry(prob, LabelCertOptions(cut_bound=np.False_), True).cut_bound is False
    assert LabelCertOptions(cut_bound=np.True_).cut_bound is True
