"""The multiclass greedy attack (:func:`certmodel.labelcert._attack.greedy_attacks_multiclass`)
and its records (path ``attack``) in the exact and inexact multiclass pipelines.

Oracles: exact retraining of every step's labels (a step's margin is the retrained one-vs-rest
margin), the threat model's admissibility, and exact brute force over all relabellings for the
verdicts (an ``attack`` record is ``not_robust`` and brute force must agree).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._attack import beam_attack_multiclass, greedy_attacks_multiclass
from certmodel.labelcert._multiclass import _attacked, _clean, _recorder
from certmodel.labelcert._problem import Problem
from certmodel.results import Path, Verdict
from tests.labelcert.oracles import clustered_multiclass, ovr_logits, top_margin
from tests.threat.oracles import brute_multiclass_threat

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _instance(seed: int, n: int, n_classes: int, threat_kind: str, scale: float,
              noise: float = 0.8):
    """Overlapping classes (so that a few relabellings change predictions; fewer with less
    ``noise``), kernel scaled by ``scale``."""
    return clustered_multiclass(seed, n, n_classes, m=4, sep=1.2, noise=noise,
                                test_noise=noise, ridge=0.2, threat_kind=threat_kind,
                                scale=scale)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(5, 9), n_classes=st.integers(3, 4),
       threat_kind=st.sampled_from(["none", "mask", "cost", "targets"]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), C=st.sampled_from([0.05, 0.5, 5.0]),
       noise=st.sampled_from([0.3, 0.8]))
def test_every_step_is_exact_and_admissible(seed, n, n_classes, threat_kind, scale, C, noise):
    K, labels, K_test, threat = _instance(seed, n, n_classes, threat_kind, scale, noise)
    C = C / scale  # C·K fixed: the same problem at every kernel scale
    prob = Problem.create(K, labels, K_test, C, threat=threat)
    alphas, _, tops, margins0 = _clean(prob)
    budget = 3.0
    paths = greedy_attacks_multiclass(prob, alphas, tops, np.arange(prob.m), [budget] * prob.m)
    tol = 1e-7 * C * np.abs(K_test).sum(axis=1).max()
    for t, path in paths.items():
        assert path.margins[0] == pytest.approx(margins0[t], abs=tol)
        for k in range(1, len(path.labels)):
            lab = path.labels[k]
            changed = lab != prob.codes
            assert changed.sum() == k  # one new point per step, each relabelled once
            assert prob.threat.admissible(changed, budget, lab)
            assert path.costs[k] == pytest.approx(prob.threat.cost[changed].sum())
            F = ovr_logits(K, lab, n_classes, C, K_test[t:t + 1])[0]
            assert top_margin(F[None], np.array([tops[t]]))[0] == pytest.approx(
                path.margins[k], abs=tol)
            assert path.margins[k - 1] > 0  # the attack stops at its first success


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(5, 7),
       threat_kind=st.sampled_from(["none", "mask", "cost", "targets"]),
       mode=st.sampled_from(["multiclass", "multiclass-inexact"]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_attack_records_are_replayed_witnesses(seed, n, threat_kind, mode, scale):
    """Every ``attack`` record is not robust by brute force, its relabelling is admissible at
    its budget and flips the prediction when retrained; the other records stay sound."""
    K, labels, K_test, threat = _instance(seed, n, 3, threat_kind, scale)
    C = 0.5 / scale
    budgets = [1.0, 2.0] if threat_kind == "cost" else [1, 2]
    recs = certify(K, labels, K_test, C, budgets, mode=mode, threat=threat,
                   options=LabelCertOptions(max_enumeration=0, search="never",
                                            bound_tightening=False, time_limit=20))
    resolved = Problem.create(K, labels, K_test, C, threat=threat).threat
    for r in recs:
        t = r.test_index
        worst, _ = brute_multiclass_threat(K, labels, 3, C, K_test[t:t + 1], r.budget, resolved)
        tol = 1e-7 * C * np.abs(K_test[t]).sum()
        if r.verdict is Verdict.NOT_ROBUST:
            assert worst[0] <= tol
            lab = labels.copy()
            for i, c in r.relabelling.items():
                lab[i] = c
            assert resolved.admissible(lab != labels, r.budget, lab)
            F = ovr_logits(K, lab, 3, C, K_test[t:t + 1])[0]
            top = int(np.flatnonzero(np.unique(labels) == r.prediction)[0])
            assert F[top] - np.max(np.delete(F, top)) <= tol
        elif r.verdict is Verdict.ROBUST:
            assert worst[0] > -tol


def test_attack_decides_records_before_the_milps():
    """Non-vacuous: on seeded overlapping instances the pipeline's attack stage settles
    records (path ``attack``) that brute force confirms; switched off, it settles none."""
    hits = 0
    for seed in range(6):
        K, labels, K_test, _ = _instance(seed, 8, 3, "none", 1.0)
        prob = Problem.create(K, labels, K_test, 2.0)
        alphas, _, tops, margins0 = _clean(prob)
        for attack in (True, False):
            opts = LabelCertOptions(attack=attack)
            dec: dict = {}
            put = _recorder(prob, opts, dec, prob.classes[tops], margins0)
            _attacked(prob, [2], opts, alphas, tops, dec, put, np.zeros(prob.m))
            assert attack or not dec
            for (t, B), r in dec.items():
                assert r.path is Path.ATTACK and r.verdict is Verdict.NOT_ROBUST
                worst, _ = brute_multiclass_threat(K, labels, 3, 2.0, K_test[t:t + 1], B,
                                                   prob.threat)
                assert worst[0] <= 1e-9
                hits += 1
    assert hits > 0


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), budget=st.sampled_from([1, 2]),
       threat_kind=st.sampled_from(["none", "mask", "cost", "targets"]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), noise=st.sampled_from([0.3, 0.8]))
def test_exhaustive_beam_equals_brute_force(seed, n, budget, threat_kind, scale, noise):
    """With ``width`` and ``candidates`` covering every move and at most two moves the beam
    is exhaustive: a witness iff brute force has one, and the witness replays."""
    K, labels, K_test, threat = _instance(seed, n, 3, threat_kind, scale, noise)
    C = 0.5 / scale
    prob = Problem.create(K, labels, K_test, C, threat=threat)
    if prob.threat.max_flips(budget) > 2:
        budget = 1.0
    alphas, _, tops, margins0 = _clean(prob)
    for t in range(prob.m):
        if margins0[t] <= 0:
            continue
        worst, _ = brute_multiclass_threat(K, labels, 3, C, K_test[t:t + 1], budget,
                                           prob.threat)
        tol = 1e-7 * C * np.abs(K_test[t]).sum()
        if abs(worst[0]) <= tol:
            continue  # a tie: either answer is within the solver's accuracy
        found = beam_attack_multiclass(prob, alphas, tops, t, budget, width=3 * n,
                                       candidates=3 * n)
        assert (found is not None) == (worst[0] <= 0), (t, worst[0], found)
        if found is not None:
            lab, margin = found
            assert prob.threat.admissible(lab != prob.codes, budget, lab)
            F = ovr_logits(K, lab, 3, C, K_test[t:t + 1])[0]
            replay = top_margin(F[None], np.array([tops[t]]))[0]
            assert replay == pytest.approx(margin, abs=tol) and replay <= tol
