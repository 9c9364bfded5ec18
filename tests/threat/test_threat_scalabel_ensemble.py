"""ScaLabelCert and EnsembleCert costs under threat models equal brute force over every
admissible relabelling of a label-linear learner (logits f_c = Σ_i W_ti 1[y_i = c])."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel import scalabel
from certmodel.ensemble.costs import costs_from_minflips, costs_from_weights
from certmodel.scalabel import min_flips
from certmodel.scalabel.restricted import knapsack_max
from certmodel.threat import ThreatModel

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def relabellings(codes, threat, budget):
    """(labels, cost) of every admissible relabelling with cost ≤ budget."""
    idx = np.flatnonzero(threat.mask)
    targets = np.flatnonzero(threat.target_mask)
    for r in range(len(idx) + 1):
        for S in itertools.combinations(idx.tolist(), r):
            c = float(threat.cost[list(S)].sum())
            if not threat.within(c, budget):
                continue
            for new in itertools.product(*[[k for k in targets if k != codes[i]] for i in S]):
                lab = codes.copy()
                lab[list(S)] = new
                yield lab, c


def logits(W, lab, K):
    Y = np.zeros((len(lab), K))
    Y[np.arange(len(lab)), lab] = 1.0
    return W @ Y


@SETTINGS
@given(seed=st.integers(0, 10_000), K=st.sampled_from([2, 3]), costs=st.booleans())
def test_scalabel_restricted_equals_brute_force(seed, K, costs):
    rng = np.random.default_rng(seed)
    n, m = 6, 2
    W = rng.normal(size=(m, n))
    codes = rng.integers(0, K, n)
    tm = ThreatModel(flippable=rng.random(n) < 0.7,
                     cost=rng.choice([0.5, 1.0, 2.0], n) if costs else None,
                     targets=sorted(rng.choice(K, 2, replace=False).tolist()) if K > 2 else None)
    th = tm.resolve(n, K)
    budgets = [0, 1, 2.5] if costs else [0, 1, 2]
    recs = scalabel.certify(W, codes, budgets, n_classes=K, threat=tm, eps=0.0)
    F0 = logits(W, codes, K)
    a = np.argmax(F0, axis=1)
    for B in budgets:
        worst = np.full(m, np.inf)
        for lab, _ in relabellings(codes, th, B):
            F = logits(W, lab, K)
            G = F.copy()
            G[np.arange(m), a] = -np.inf
            worst = np.minimum(worst, F[np.arange(m), a] - G.max(axis=1))
        for t in range(m):
            r = next(r for r in recs if r.test_index == t and r.budget == B)
            assert abs(r.value - worst[t]) <= 1e-9 * (1 + np.abs(W[t]).sum()), (r, worst[t])
            assert (r.verdict.value == "robust") == (worst[t] > 0)


@SETTINGS
@given(seed=st.integers(0, 10_000), K=st.sampled_from([2, 3]))
def test_ensemble_costs_equal_brute_force(seed, K):
    rng = np.random.default_rng(seed)
    n, m = 6, 2
    W = rng.normal(size=(m, n))
    codes = rng.integers(0, K, n)
    th = ThreatModel(flippable=rng.random(n) < 0.8, cost=rng.integers(1, 3, n).astype(float),
                     targets=None).resolve(n, K)
    pred, costs = costs_from_weights(W, codes, K, th, eps=0.0)
    F0 = logits(W, codes, K)
    want = np.full((m, K), np.inf)
    want[np.arange(m), pred] = 0.0
    for lab, c in relabellings(codes, th, np.inf):
        F = logits(W, lab, K)
        for t in range(m):
            for k in range(K):
                if k != pred[t] and F[t, k] >= F[t, pred[t]]:
                    want[t, k] = min(want[t, k], c)
    np.testing.assert_allclose(costs, want)
    assert (pred == np.argmax(F0, axis=1)).all()


def test_ensemble_costs_unrestricted_match_minflips():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 9))
    codes = rng.integers(0, 3, 9)
    th = ThreatModel(cost=np.ones(9)).resolve(9, 3)
    pred, costs = costs_from_weights(W, codes, 3, th)
    mf = min_flips(W, codes, n_classes=3)
    np.testing.assert_allclose(costs, costs_from_minflips(mf.per_rival, mf.prediction, 9))


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_knapsack_exact(seed):
    rng = np.random.default_rng(seed)
    v, w = rng.random(9), rng.random(9) + 0.1
    cap = float(rng.random() * w.sum())
    best, upper, x = knapsack_max(v, w, cap)
    brute = max(float(v[list(S)].sum()) for r in range(10)
                for S in itertools.combinations(range(9), r) if w[list(S)].sum() <= cap)
    assert abs(best - brute) < 1e-12 and abs(upper - best) < 1e-12
    assert w[x].sum() <= cap + 1e-9 and abs(v[x].sum() - best) < 1e-12


def test_certify_ensemble_threat():
    from certmodel.ensemble import certify_ensemble

    rng = np.random.default_rng(1)
    X, y, Xt = rng.normal(size=(40, 4)), rng.integers(0, 2, 40), rng.normal(size=(5, 4))
    base = certify_ensemble(X, y, Xt, partitions=5)
    unit = certify_ensemble(X, y, Xt, partitions=5, threat=ThreatModel(cost=np.ones(40)))
    np.testing.assert_array_equal(base.whitebox_radius, unit.whitebox_radius)
    half = certify_ensemble(X, y, Xt, partitions=5,
                            threat=ThreatModel(flippable=np.arange(40) % 2 == 0))
    assert np.all(half.whitebox_radius >= base.whitebox_radius)  # fewer points: larger radius
    double = certify_ensemble(X, y, Xt, partitions=5, threat=ThreatModel(cost=2 * np.ones(40)))
    assert np.all(double.whitebox_radius >= base.whitebox_radius)


def test_knapsack_node_limit_keeps_a_valid_bound():
    rng = np.random.default_rng(7)
    v, w = rng.random(30), rng.random(30) + 0.1
    exact, _, _ = knapsack_max(v, w, 3.0)
    best, upper, x = knapsack_max(v, w, 3.0, node_limit=3)
    assert best <= exact + 1e-12 <= upper + 2e-12
    assert w[x].sum() <= 3.0 + 1e-9


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("costs", [False, True])
def test_scalabel_collective_threat_equals_brute_force(K, costs):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n, m = 6, 4
        W = rng.normal(size=(m, n))
        codes = rng.integers(0, K, n)
        tm = ThreatModel(flippable=rng.random(n) < 0.7,
                         cost=rng.choice([0.5, 1.0, 2.0], n) if costs else None,
                         targets=[0, 2] if K == 3 else None)
        th = tm.resolve(n, K)
        F0 = logits(W, codes, K)
        a = np.argmax(F0, axis=1)
        for B in ([1, 2] if not costs else [1.0, 2.5]):
            rec = scalabel.certify_collective(W, codes, B, n_classes=K, threat=tm, eps=0.0)
            best = 0
            for lab, _ in relabellings(codes, th, B):
                F = logits(W, lab, K)
                G = F.copy()
                G[np.arange(m), a] = -np.inf
                best = max(best, int(np.sum(F[np.arange(m), a] - G.max(axis=1) <= 0)))
            assert rec.certified_count == m - best, (rec, best)
            if rec.relabelling:
                lab = codes.copy()
                for i, c in rec.relabelling.items():
                    lab[i] = c
                assert th.admissible(lab != codes, B, lab)
