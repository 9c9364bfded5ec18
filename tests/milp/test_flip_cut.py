"""The optimality cut (FC) of :mod:`certmodel.milp.blocks.flipcut`.

* (FC) itself, with ``‖δ‖²``, holds at the exact retrained SVM of every relabelling (brute
  force, kernels and C over many orders of magnitude, any reference α⁰);
* adding the cut block to the open models never changes their optimum (sample-wise worst margin
  = brute force, collective count = brute force), with and without a threat model;
* the LP relaxation with the cut is never weaker than without it;
* misuse is refused loudly.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.backends.base import SolveOptions
from certmodel.exceptions import FormulationError
from certmodel.learners._svm_dual import solve_svm_dual
from certmodel.milp import collective_model, multiclass_model, samplewise_model, solve_model
from certmodel.milp.blocks import add_flip_optimality_cut
from certmodel.milp.blocks.flipcut import flip_cut_pieces
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import brute_binary, brute_collective, random_instance
from tests.threat.oracles import brute_binary_threat

TIGHT = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)
SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pieces_max(pieces, s):
    return np.max(pieces[:, :, 0] * s[:, None] + pieces[:, :, 1], axis=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), logC=st.floats(-3, 3),
       logscale=st.floats(-6, 6), exact_ref=st.booleans())
def test_cut_holds_at_every_retrained_svm(seed, n, logC, logscale, exact_ref):
    K, y, _ = random_instance(seed, n)
    K = K * 10.0 ** logscale
    C = 10.0 ** logC / 10.0 ** logscale  # C·K spans saturated to hard-margin regimes
    y = y.astype(float)
    rng = np.random.default_rng(seed)
    alpha0 = solve_svm_dual(K, y, C).alpha if exact_ref else rng.uniform(0, C, n)
    g0 = K @ (y * alpha0)
    a, rho = y * g0, alpha0 / C
    pb, pc = flip_cut_pieces(a, rho)
    for r in range(0, min(n, 3) + 1):
        for A in itertools.combinations(range(n), r):
            yp = y.copy()
            yp[list(A)] *= -1
            zp = yp * solve_svm_dual(K, yp, C).alpha
            d = zp - y * alpha0
            s = y * (K @ d)
            flipped = np.zeros(n, bool)
            flipped[list(A)] = True
            terms = np.where(flipped, _pieces_max(pc, s), _pieces_max(pb, s))
            lhs = float(d @ K @ d) / C + terms.sum()
            scale = 1.0 + np.abs(terms).sum() + float(np.abs(d) @ np.abs(K) @ np.abs(d)) / C
            assert lhs <= 1e-7 * scale, (A, lhs)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), B=st.integers(1, 3),
       C=st.sampled_from([0.05, 1.0, 20.0]))
def test_samplewise_optimum_unchanged_by_cut(seed, n, B, C):
    K, y, K_test = random_instance(seed, n)
    worst, _ = brute_binary(K, y, C, K_test, B)
    m = samplewise_model(K, y, C, B, K_test[0])
    add_flip_optimality_cut(m, K)
    res = solve_model(m, options=TIGHT)
    assert res.termination.value == "optimal"
    assert res.incumbent == pytest.approx(worst[0], abs=1e-6 * (1 + abs(worst[0])))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), B=st.integers(1, 2))
def test_samplewise_with_threat_model_unchanged_by_cut(seed, n, B):
    K, y, K_test = random_instance(seed, n)
    mask = np.arange(n) % 2 == 0
    threat = ThreatModel(flippable=mask)
    worst = brute_binary_threat(K, y, 1.0, K_test, B, threat.resolve(n, 2))[0]
    m = samplewise_model(K, y, 1.0, B, K_test[0], threat=threat)
    add_flip_optimality_cut(m, K)
    res = solve_model(m, options=TIGHT)
    assert res.incumbent == pytest.approx(worst[0], abs=1e-6 * (1 + abs(worst[0])))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), B=st.integers(1, 2))
def test_collective_optimum_unchanged_by_cut(seed, n, B):
    K, y, K_test = random_instance(seed, n, m=4)
    best = brute_collective(K, y, 1.0, K_test, B)
    m = collective_model(K, y, 1.0, B, K_test)
    add_flip_optimality_cut(m, K)
    res = solve_model(m, options=TIGHT)
    assert round(res.incumbent) == best


def test_lp_relaxation_not_weaker_with_cut():
    K, y, K_test = random_instance(3, 7)
    values = []
    for cut in (False, True):
        m = samplewise_model(K, y, 5.0, 3, K_test[1])
        if cut:
            add_flip_optimality_cut(m, K)
        pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
        res = solve_model(m, options=TIGHT)
        assert res.termination.value == "optimal"
        values.append(res.incumbent)
    assert values[1] >= values[0] - 1e-9


def test_misuse_is_refused():
    K, y, K_test = random_instance(0, 5)
    m = samplewise_model(K, y, 1.0, 1, K_test[0])
    with pytest.raises(FormulationError, match="shape"):
        add_flip_optimality_cut(m, K[:4, :4])
    add_flip_optimality_cut(m, K)
    with pytest.raises(FormulationError, match="already has"):
        add_flip_optimality_cut(m, K)
    labels = np.arange(6) % 3
    Km, _, Kt = random_instance(1, 6)
    mm = multiclass_model(Km, labels, 1.0, 1, Kt[0])
    with pytest.raises(FormulationError, match="binary"):
        add_flip_optimality_cut(mm, Km)
