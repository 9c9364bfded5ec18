"""A collective record's stages share its ``time_limit``: the sample-wise screen's searches
stop at their deadline, and search, pairs and MILP get what the record has left.

Wiring tests (spies on the stages; deterministic) and one end-to-end check that records on
an instance nothing settles quickly stay near ``time_limit``.  Verdict exactness with these
caps is covered by the brute-force tests of the collective paths
(test_lc_collective_screen.py, test_lc_pairs.py): the caps only decide how long a stage may
run, never what it may conclude."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import certmodel.labelcert._collective as coll
import certmodel.labelcert._searchpath as sp
from certmodel.backends.base import backend_class
from certmodel.backends.isolated import IsolatedBackend
from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._problem import Problem, retrain_binary
from certmodel.labelcert._samplewise import certify_samplewise
from certmodel.learners import solve_svm_dual
from certmodel.results import Path, Verdict
from tests.labelcert.oracles import brute_binary, random_instance, random_threat, retrain_logits
from tests.threat.oracles import admissible_sets

# the search decides every record (no enumeration, no attack), so the spies see its calls
SEARCH_ONLY = LabelCertOptions(max_enumeration=1, search="always", attack=False,
                               beam_width=0, time_limit=30.0)


def _spy_search(monkeypatch):
    calls = []
    orig = sp._search

    def spy(prob, opts, alpha0, signs, rows, B, eps, geo, time_limit, split):
        calls.append((time.perf_counter(), time_limit))
        return orig(prob, opts, alpha0, signs, rows, B, eps, geo, time_limit, split)

    monkeypatch.setattr(sp, "_search", spy)
    return calls


def test_screen_search_does_not_start_after_its_deadline(monkeypatch):
    K, y, K_test = random_instance(5, 10, m=4)
    prob = Problem.create(K, y.astype(float), K_test, 5.0)
    calls = _spy_search(monkeypatch)
    recs = certify_samplewise(prob, [2, 3], SEARCH_ONLY, milp=False,
                              deadline=time.perf_counter() - 1.0)
    assert calls == []
    assert not any(r.path is Path.SEARCH for r in recs)


def test_screen_search_is_capped_at_the_time_left(monkeypatch):
    K, y, K_test = random_instance(6, 10, m=4)
    ypm = y.astype(float)
    prob = Problem.create(K, ypm, K_test, 5.0)
    calls = _spy_search(monkeypatch)
    deadline = time.perf_counter() + 5.0
    recs = certify_samplewise(prob, [2, 3], SEARCH_ONLY, milp=False, deadline=deadline)
    assert calls, "the search should have run"
    for started, limit in calls:
        assert limit <= deadline - started + 0.01  # computed just before the call
    # the search still decides, exactly
    for r in recs:
        if r.path is Path.SEARCH:
            t = int(r.test_index)
            worst = brute_binary(K, ypm, 5.0, K_test[t:t + 1], r.budget)[0]
            assert (r.verdict is Verdict.ROBUST) == (worst > 0)


def test_collective_record_stages_share_the_time_limit(monkeypatch):
    """Screen deadline ≤ SCREEN_SHARE·T per budget; search + pairs + MILP ≤ T less the
    record's share of the screen."""
    T = 8.0
    K, y, K_test = random_instance(11, 9, m=5)
    seen = {"search": [], "pairs": [], "milp": [], "screen": []}

    orig_screen = coll.certify_samplewise

    def screen(prob, budgets, opts, milp=True, deadline=None):
        seen["screen"].append((time.perf_counter(), deadline, len(budgets)))
        orig_screen(prob, budgets, opts, milp=milp, deadline=deadline)
        return []  # as if it had proven nothing: every record goes on to the later stages

    def searched(prob, B, U, opts, alpha0, signs, converged, cap, extra, scr):
        seen["search"].append((cap, scr.seconds))
        return None  # as if it had not finished

    orig_pairs = coll.pair_bound

    def pairs(prob, alpha0, signs, U, B, geo, cap, **kw):
        seen["pairs"].append(cap)
        return orig_pairs(prob, alpha0, signs, U, B, geo, cap, **kw)

    class Milp(coll.CollectiveMILP):
        def solve_count(self, *, warm_start=None, options=None):
            seen["milp"].append(options.time_limit)
            return super().solve_count(warm_start=warm_start, options=options)

    monkeypatch.setattr(coll, "collective_search", lambda *a, **k: {})  # to the screen
    monkeypatch.setattr(coll, "certify_samplewise", screen)
    monkeypatch.setattr(coll, "_screened_search", searched)
    monkeypatch.setattr(coll, "pair_bound", pairs)
    monkeypatch.setattr(coll, "CollectiveMILP", Milp)
    monkeypatch.setattr(coll, "_swapped", lambda *a, **k: None)  # no better incumbent
    opts = LabelCertOptions(time_limit=T, enumeration="auto", max_enumeration=1, beam_width=0)
    recs = certify(K, y.astype(float), K_test, 50.0, [2, 3], mode="collective",
                   options=opts)
    (start, deadline, J), = seen["screen"]
    assert deadline <= start + coll.SCREEN_SHARE * T * J + 1e-6
    milp_recs = [r for r in recs if r.path is Path.MILP]
    assert milp_recs, "the instance should leave a record to the MILP"
    assert len(seen["search"]) >= len(milp_recs) and len(seen["milp"]) == len(milp_recs)
    for (cap, screen_s), milp_t in zip(seen["search"], seen["milp"]):
        assert cap <= coll.SCREENED_SEARCH_SHARE * T + 1e-9
        assert milp_t <= T - screen_s + 1e-9 or milp_t == pytest.approx(coll.MIN_SHARE * T)
    for cap in seen["pairs"]:
        assert cap <= coll.PAIR_SHARE * T + 1e-9


def test_collective_records_stay_near_their_time_limit():
    """End to end, nothing mocked: C·rowsum 10, budgets where neither enumeration nor a
    short search settles the count — each record (its share of the screen included) stays
    within ``time_limit`` plus a fixed allowance for the stages that are not interrupted
    (the solver process's start, the model build, attacks, replays: ≈ 1 s here).  Before
    the screen had a deadline the budget-4 record took 5.0 s of a 3 s limit; since the
    thirteenth session's faster retrains the search settles budget 4 (≈ 1.9 s) and budget 6
    is the one that reaches the MILP."""
    T = 3.0
    # the isolated solver's process server starts once per session (≈ 1 s, not a stage of
    # any record): start it here so that the records below are timed alone
    server = IsolatedBackend(backend_class("highs"))
    server._start()
    server.close()
    K, y, K_test = random_instance(4, 60, m=8)
    C = 10.0 / np.abs(K).sum(axis=1).max()
    recs = certify(K, y.astype(float), K_test, C, [4, 6, 10], mode="collective",
                   options=LabelCertOptions(time_limit=T))
    assert any(r.path is Path.MILP for r in recs)  # the stages ran out of time
    for r in recs:
        assert r.wall_time <= T + 1.5, (r.budget, r.path, r.wall_time)


def test_an_explicit_search_time_lifts_the_screen_deadline(monkeypatch):
    """``search_time`` is the user's own cap per search call: the screen then has no
    deadline and the collective search gets ``search_time``, not a share of the record."""
    K, y, K_test = random_instance(11, 9, m=5)
    seen = {}
    orig_screen = coll.certify_samplewise

    def screen(prob, budgets, opts, milp=True, deadline=None):
        seen["deadline"] = deadline
        orig_screen(prob, budgets, opts, milp=milp, deadline=deadline)
        return []

    def searched(prob, B, U, opts, alpha0, signs, converged, cap, extra, scr):
        seen["cap"] = cap
        return None

    monkeypatch.setattr(coll, "collective_search", lambda *a, **k: {})
    monkeypatch.setattr(coll, "certify_samplewise", screen)
    monkeypatch.setattr(coll, "_screened_search", searched)
    opts = LabelCertOptions(time_limit=4.0, search_time=7.0, max_enumeration=1, beam_width=0)
    certify(K, y.astype(float), K_test, 50.0, [2], mode="collective", options=opts)
    assert seen == {"deadline": None, "cap": 7.0}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 8), C=st.sampled_from([0.5, 5.0, 50.0]),
       restricted=st.booleans(), left=st.sampled_from([0.3, 30.0]))
def test_single_points_under_a_deadline_equal_brute_force(seed, n, C, restricted, left):
    """Under a deadline the single-point searches run budget by budget, easiest first
    (the joint plan is made to reject here, so they decide everything): every record they
    decide equals brute force, witnesses (also the monotone ones) replay."""
    K, y, K_test = random_instance(seed, n, m=4)
    threat = random_threat(seed, n) if restricted else None
    prob = Problem.create(K, y.astype(float), K_test, C, threat=threat)
    orig = sp._plan_and_search

    def no_joint(prob_, opts, alpha0, signs, budgets, dec, put, eps, times, unit, geo,
                 points, **kw):
        if len(list(points)) > 1:
            return []
        return orig(prob_, opts, alpha0, signs, budgets, dec, put, eps, times, unit, geo,
                    points, **kw)

    opts = LabelCertOptions(max_enumeration=1, attack=False, beam_width=0, time_limit=30.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sp, "_plan_and_search", no_joint)
        recs = certify_samplewise(prob, [1, 2, 3], opts, milp=False,
                                  deadline=time.perf_counter() + left)
    f0 = prob.K_test @ (prob.y_pm * solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha)
    sign = np.where(f0 >= 0, 1.0, -1.0)
    worst = {}
    for B in (1, 2, 3):
        w = sign * f0
        for S in admissible_sets(prob.threat, B):
            yy = prob.y_pm.copy()
            yy[list(S)] *= -1
            w = np.minimum(w, sign * retrain_logits(prob.K, yy, prob.C, prob.K_test))
        worst[B] = w
    assert recs
    for r in recs:
        t = int(np.flatnonzero(prob.test_indices == r.test_index)[0])
        if r.verdict is Verdict.NOT_ROBUST:
            flips = np.zeros(prob.n, bool)
            flips[list(r.relabelling)] = True
            assert prob.threat.admissible(flips, r.budget)
            z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
            assert sign[t] * (prob.K_test[t] @ z) <= 0
        elif r.verdict is Verdict.ROBUST:
            assert worst[r.budget][t] > 0


def test_under_a_deadline_single_points_are_searched_before_any_joint_search(monkeypatch):
    """A joint plan whose estimate fits the deadline could take all of it and prove
    nothing: under a deadline every open point is first searched alone (easiest first);
    a joint search, if any, comes after them and only over points they left open."""
    K, y, K_test = random_instance(11, 9, m=5)
    prob = Problem.create(K, y.astype(float), K_test, 50.0)
    calls = []
    orig = sp._search

    def spy(prob_, opts, alpha0, signs, rows, B, *a, **k):
        calls.append((tuple(int(r) for r in rows), B))
        return orig(prob_, opts, alpha0, signs, rows, B, *a, **k)

    monkeypatch.setattr(sp, "_search", spy)
    opts = LabelCertOptions(max_enumeration=1, attack=False, beam_width=0, time_limit=30.0)
    certify_samplewise(prob, [2, 3], opts, milp=False, deadline=time.perf_counter() + 30.0)
    assert calls
    singles = [c for c in calls if len(c[0]) == 1]
    first_joint = next((q for q, c in enumerate(calls) if len(c[0]) > 1), len(calls))
    assert all(len(c[0]) == 1 for c in calls[:first_joint])
    assert {c[0][0] for c in singles} >= {r for c in calls[first_joint:] for r in c[0]}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 8), B=st.integers(1, 3),
       logC=st.floats(-2.0, 2.0), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_kkt_states_outside_the_open_share_never_change(seed, n, B, logC, scale):
    """The points ``_kkt_open_share`` counts as decided keep which side of ``y (K z)_i = 1``
    they are on, for either label, under every relabelling within ``B`` (brute force,
    exact retraining; kernels over six orders of magnitude)."""
    from certmodel.labelcert._searchpath import _geometry

    K, y, K_test = random_instance(seed, n, m=3)
    K, K_test = K * scale, K_test * scale
    C = 10.0 ** logC / scale
    prob = Problem.create(K, y.astype(float), K_test, C)
    clean = solve_svm_dual(prob.K, prob.y_pm, prob.C)
    s = np.where(prob.K_test @ (prob.y_pm * clean.alpha) >= 0, 1.0, -1.0)
    geo = _geometry(prob, LabelCertOptions(), clean.converged)
    g_bounds, _ = coll._milp_bounds(prob, clean.alpha, s, np.arange(prob.m), B, geo)
    if g_bounds is None:
        return
    share = coll._kkt_open_share(g_bounds)
    lo, hi = g_bounds
    decided = ~(((lo <= 1) & (hi >= 1)) | ((lo <= -1) & (hi >= -1)))
    assert share == pytest.approx(1.0 - decided.mean())
    sides = set()
    for S in admissible_sets(prob.threat, B):
        yy = prob.y_pm.copy()
        yy[list(S)] *= -1
        g = prob.K @ retrain_binary(prob.K, yy, prob.C)
        tol = 1e-7 * (1.0 + np.abs(g))
        assert (g[decided] >= lo[decided] - tol[decided]).all()
        assert (g[decided] <= hi[decided] + tol[decided]).all()
        sides.add(tuple(np.r_[g[decided] > 1.0, g[decided] > -1.0]))
    assert len(sides) <= 1


@pytest.mark.parametrize("share, milp_first", [(0.1, True), (0.95, False), (None, False)])
def test_records_whose_kkt_states_are_mostly_decided_go_to_the_milp_first(
        monkeypatch, share, milp_first):
    """Open share ≤ MILP_FIRST_OPEN_SHARE: the search gets MILP_FIRST_SEARCH_SHARE of the
    record's own time and the pairs none (the MILP the rest); above it, or without bounds
    (None), the default split.  The share is reported in ``extra``."""
    T = 8.0
    K, y, K_test = random_instance(11, 9, m=5)
    seen = {"search": [], "pairs": []}

    def searched(prob, B, U, opts, alpha0, signs, geo, cap, extra, scr):
        seen["search"].append((cap, scr.seconds))
        return None

    def paired(prob, B, U, opts, alpha0, signs, geo, cap, extra, scr, t0):
        seen["pairs"].append(cap)
        return None, None, []

    monkeypatch.setattr(coll, "collective_search", lambda *a, **k: {})
    monkeypatch.setattr(coll, "certify_samplewise", lambda *a, **k: [])  # proves nothing
    monkeypatch.setattr(coll, "_screened_search", searched)
    monkeypatch.setattr(coll, "_paired", paired)
    monkeypatch.setattr(coll, "_kkt_open_share", lambda g: share)
    opts = LabelCertOptions(time_limit=T, enumeration="auto", max_enumeration=1, beam_width=0,
                            attack=False)
    recs = certify(K, y.astype(float), K_test, 50.0, [2, 3], mode="collective",
                   options=opts)
    milp_recs = [r for r in recs if r.path is Path.MILP]
    assert milp_recs and seen["search"]
    for cap, screen_s in seen["search"]:
        own = max(T - screen_s, coll.MIN_SHARE * T)
        want = coll.MILP_FIRST_SEARCH_SHARE if milp_first else coll.SCREENED_SEARCH_SHARE
        assert cap == pytest.approx(want * own)
    assert (seen["pairs"] == []) == milp_first
    for r in milp_recs:
        assert r.extra.get("kkt_open_share") == (None if share is None else share)
