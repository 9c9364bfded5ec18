"""Collective certificates through the sample-wise screen (path ``samplewise``) and the MILP
restricted to the points the screen could not prove robust: brute force on every record,
with and without restricted threat models; witnesses replayed by retraining."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._problem import retrain_binary
from certmodel.results import Path
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import brute_collective, random_instance
from tests.threat.oracles import admissible_sets, retrain_logits

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NO_ENUM = LabelCertOptions(enumeration="never", search="never")


def _brute_threat(K, y, C, K_test, budget, resolved):
    f0 = retrain_logits(K, y, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    best = int(np.sum(s * f0 <= 0))
    for S in admissible_sets(resolved, budget):
        yy = np.asarray(y, float).copy()
        yy[list(S)] *= -1
        best = max(best, int(np.sum(s * retrain_logits(K, yy, C, K_test) <= 0)))
    return best


def _check(rec, K, y, K_test, C, truth):
    assert rec.bound + 1e-6 >= truth >= (rec.incumbent or 0)
    assert rec.certified_count == rec.n_test - int(np.floor(rec.bound + 1e-6))
    if rec.path is Path.SAMPLEWISE:
        assert rec.incumbent == truth == int(round(rec.bound))
    if rec.relabelling:
        flips = np.zeros(len(y), bool)
        flips[list(rec.relabelling)] = True
        ypm = np.asarray(y, float)
        z = retrain_binary(K, np.where(flips, -ypm, ypm), C)
        f0 = retrain_logits(K, ypm, C, K_test)
        s = np.where(f0 >= 0, 1.0, -1.0)
        assert int(np.sum(s * (K_test @ z) <= 0)) == rec.incumbent == len(rec.attacked)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), C=st.sampled_from([0.05, 1.0, 20.0]))
def test_collective_screen_matches_brute_force(seed, n, C):
    K, y, K_test = random_instance(seed, n, m=5)
    y = y.astype(float)
    recs = certify(K, y, K_test, C, [1, 2, 3], mode="collective", options=NO_ENUM)
    for rec in recs:
        assert rec.path in (Path.SAMPLEWISE, Path.MILP, Path.TRIVIAL, Path.SATURATED)
        _check(rec, K, y, K_test, C, brute_collective(K, y, C, K_test, rec.budget))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), costs=st.booleans())
def test_collective_screen_with_threat_models(seed, n, costs):
    K, y, K_test = random_instance(seed, n, m=4)
    y = y.astype(float)
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.7
    mask[0] = True
    cost = rng.choice([0.5, 1.0, 2.0], size=n) if costs else None
    threat = ThreatModel(flippable=mask, cost=cost)
    budgets = [1.0, 2.5] if costs else [1, 2]
    recs = certify(K, y, K_test, 2.0, budgets, mode="collective", options=NO_ENUM,
                   threat=threat)
    resolved = threat.resolve(n, 2)
    for rec in recs:
        truth = _brute_threat(K, y, 2.0, K_test, rec.budget, resolved)
        _check(rec, K, y, K_test, 2.0, truth)
        if rec.relabelling:
            assert all(mask[i] for i in rec.relabelling)


def test_screen_and_restricted_milp_both_used_on_one_instance():
    # seed 11: budget 1 needs the MILP over the unproven points, budgets 2-4 are settled by the
    # screen (a sample-wise witness changes every point not proven robust)
    K, y, K_test = random_instance(11, 6, m=4)
    recs = certify(K, y, K_test, 1.0, [1, 2, 3, 4], mode="collective", options=NO_ENUM)
    assert [r.path for r in recs] == [Path.MILP] + [Path.SAMPLEWISE] * 3
    assert recs[0].extra["samplewise_robust"] >= 0
    for rec in recs:
        _check(rec, K, y, K_test, 1.0, brute_collective(K, y, 1.0, K_test, rec.budget))


def test_screen_unites_witnesses_of_independent_points():
    """Non-vacuous for the union step: two test points that live on disjoint blocks of the
    kernel, each changed by one flip of its own block.  No single sample-wise witness changes
    both; the union of two (budget 2) does, and the screen settles the record exactly."""
    from certmodel.labelcert._collective import _combined, _samplewise_screen
    from certmodel.labelcert._problem import Problem

    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 2))
    X[:, 0] += np.array([1.0, 1.0, -1.0, -1.0])
    blocks = [X @ X.T + 0.3 * np.eye(4)] * 2  # the same block twice: symmetric points
    yb = [np.array([1.0, 1.0, -1.0, -1.0])] * 2
    tb = [np.array([0.2, 0.0]) @ X.T] * 2
    K = np.block([[blocks[0], np.zeros((4, 4))], [np.zeros((4, 4)), blocks[1]]])
    K_test = np.block([[tb[0], np.zeros(4)], [np.zeros(4), tb[1]]])
    y = np.concatenate(yb)
    prob = Problem.create(K, y, K_test, 1.0)
    f0 = retrain_logits(K, y, 1.0, K_test)
    signs = np.where(f0 >= 0, 1.0, -1.0)
    single = []
    for i in range(8):  # every one-flip witness changes at most one point
        yy = y.copy()
        yy[i] *= -1
        ch = np.flatnonzero(signs * retrain_logits(K, yy, 1.0, K_test) <= 0)
        assert len(ch) <= 1
        if len(ch):
            flips = np.zeros(8, bool)
            flips[i] = True
            single.append((flips, ch, 1.0))
    assert {int(w[1][0]) for w in single} == {0, 1}
    flips, changed, cost = _combined(prob, signs, single, 2)
    assert len(changed) == 2 and flips.sum() == 2 and cost == 2.0
    assert _brute_threat(K, y, 1.0, K_test, 2, prob.threat) == 2
    scr = _samplewise_screen(prob, [2], NO_ENUM, signs)[2]
    assert scr.count == 2 and scr.settles()
    recs = certify(K, y, K_test, 1.0, [2], mode="collective", options=NO_ENUM)
    assert recs[0].path is Path.SAMPLEWISE and recs[0].bound == 2 == recs[0].incumbent
    _check(recs[0], K, y, K_test, 1.0, 2)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), C=st.sampled_from([0.05, 1.0, 20.0]),
       restricted=st.booleans())
def test_search_over_unproven_points_matches_brute_force(seed, n, C, restricted):
    """The collective search over the points the screen left open (path ``search``) gives
    the exact count of the whole test set; its witness replays to it."""
    import pytest

    import certmodel.labelcert._collective as coll

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coll, "collective_search", lambda *a, **k: {})  # no full search
        _screened_search_case(seed, n, C, restricted)


def _screened_search_case(seed, n, C, restricted):
    K, y, K_test = random_instance(seed, n, m=5)
    y = y.astype(float)
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.7
    mask[0] = True
    threat = ThreatModel(flippable=mask) if restricted else None
    opts = LabelCertOptions(max_enumeration=1, beam_width=0)  # no enumeration, no beam
    recs = certify(K, y, K_test, C, [1, 2, 3], mode="collective", options=opts, threat=threat)
    resolved = (threat or ThreatModel()).resolve(n, 2)
    seen = set()
    for rec in recs:
        truth = _brute_threat(K, y, C, K_test, rec.budget, resolved)
        _check(rec, K, y, K_test, C, truth)
        seen.add(rec.path)
        if rec.path is Path.SEARCH:
            assert rec.bound == truth == rec.incumbent
            assert "samplewise_robust" in rec.extra
    assert Path.MILP not in seen  # the search finishes on instances this small


def test_search_over_unproven_points_is_used(monkeypatch):
    import certmodel.labelcert._collective as coll

    monkeypatch.setattr(coll, "collective_search", lambda *a, **k: {})
    K, y, K_test = random_instance(11, 6, m=4)
    opts = LabelCertOptions(max_enumeration=1, beam_width=0)
    recs = certify(K, y, K_test, 1.0, [1, 2, 3, 4], mode="collective", options=opts)
    assert recs[0].path is Path.SEARCH  # the MILP's record in the test above
    _check(recs[0], K, y, K_test, 1.0, brute_collective(K, y, 1.0, K_test, 1))


def test_search_over_unproven_points_honours_search_time(monkeypatch):
    import certmodel.labelcert._collective as coll

    monkeypatch.setattr(coll, "collective_search", lambda *a, **k: {})
    K, y, K_test = random_instance(11, 6, m=4)
    opts = LabelCertOptions(max_enumeration=1, beam_width=0, search_time=1e-9)
    recs = certify(K, y, K_test, 1.0, [1], mode="collective", options=opts)
    assert recs[0].path is Path.MILP  # the search had no time: the MILP decides
    _check(recs[0], K, y, K_test, 1.0, brute_collective(K, y, 1.0, K_test, 1))


def test_explicit_unit_costs_take_fractional_cost_budgets():
    """Per-point costs that are all 1 with a fractional budget (2.5: at most two points) are
    cost budgets, not refused as non-integers (a hypothesis draw found the refusal): the
    records keep the budget asked for and equal brute force, collective and sample-wise."""
    n = 6
    K, y, K_test = random_instance(160, n, m=4)
    y = y.astype(float)
    mask = np.array([True, True, False, True, True, True])
    threat = ThreatModel(flippable=mask, cost=np.ones(n))
    resolved = threat.resolve(n, 2)
    recs = certify(K, y, K_test, 2.0, [1.0, 2.5], mode="collective", options=NO_ENUM,
                   threat=threat)
    assert sorted(r.budget for r in recs) == [1, 2.5]
    for rec in recs:
        _check(rec, K, y, K_test, 2.0, _brute_threat(K, y, 2.0, K_test, rec.budget, resolved))
    assert _brute_threat(K, y, 2.0, K_test, 2.5, resolved) == \
        _brute_threat(K, y, 2.0, K_test, 2, resolved)
    for rec in certify(K, y, K_test, 2.0, [2.5], options=NO_ENUM, threat=threat):
        assert rec.budget == 2.5 and rec.verdict.value != "unknown"
        t = int(rec.test_index)
        worst = min(_margin(K, y, K_test, S, t) for S in admissible_sets(resolved, 2.5))
        assert (rec.verdict.value == "robust") == (worst > 0)


def _margin(K, y, K_test, S, t):
    """The signed margin of test point ``t`` (sign of the clean prediction) after flipping
    the labels of ``S`` and retraining exactly."""
    f0 = retrain_logits(K, y, 2.0, K_test)
    yy = np.asarray(y, float).copy()
    yy[list(S)] *= -1
    s = 1.0 if f0[t] >= 0 else -1.0
    return s * retrain_logits(K, yy, 2.0, K_test)[t]


def test_collective_beam_widens_within_its_share_of_the_time(monkeypatch):
    """The collective beam starts at ``beam_width`` and widens 4-fold (up to 16×) while the
    next run, predicted from the last, fits in ``BEAM_SHARE`` of the time limit: all three
    widths with time to spare, only the first when each run 'takes' longer than the share,
    none with ``beam_width=0``; the best count of all widths is the witness."""
    import time

    import certmodel.labelcert._collective as col
    from certmodel.labelcert._problem import Problem

    K, y, K_test = random_instance(4, 20, m=6)
    prob = Problem.create(K, y, K_test, 1.0)
    s = np.ones(prob.m)
    U = np.arange(prob.m)
    calls, pause = [], [0.0]

    def beam(prob, alpha0, signs, U, B, width, candidates, deadline):
        calls.append((width, candidates))
        time.sleep(pause[0])
        flips = np.zeros(prob.n, bool)
        flips[:width // 32] = True  # wider finds "more"
        return width // 32, flips

    monkeypatch.setattr(col, "collective_beam", beam)
    for limit, wait, want in [(60.0, 0.0, [32, 128, 512]), (2.0, 0.2, [32]),
                              (60.0, None, [])]:
        calls.clear()
        pause[0] = wait or 0.0
        opts = LabelCertOptions(time_limit=limit, beam_width=0 if wait is None else 32)
        got = col._beam_witness(prob, opts, None, s, U, 2)
        assert [w for w, _ in calls] == want and all(c == 32 for _, c in calls)
        if want:  # the widest beam's relabelling, replayed (flips the first 16 / 1 points)
            assert got and got[0][0].sum() == want[-1] // 32
        else:
            assert got == []
