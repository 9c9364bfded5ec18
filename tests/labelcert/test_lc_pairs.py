"""Pair separation (:mod:`certmodel.labelcert._pairs`, collective path ``pairs``) against
brute force: a pair proven separated is never changed together by any admissible
relabelling (every one enumerated and retrained exactly), a joint witness changes both, the
clique bound is never below the exact collective count, and an exact ``pairs`` record
equals it — kernels and C over six orders of magnitude, restricted threat models included.
The set stage (:mod:`certmodel.labelcert._conflicts`): a set proven a conflict is never
changed together, a joint witness changes every row, and the largest conflict-free set is
exact."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._conflicts import (
    _separate,
    joint_search,
    largest_free,
    refute_sets,
    separate_set,
)
from certmodel.labelcert._pairs import max_clique, pair_bound, separate_pair
from certmodel.labelcert._stability import KernelGeometry
from certmodel.results import Path
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import replayed_count, threat_problem
from tests.threat.oracles import admissible_sets, retrain_logits

SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _setup(seed, n, m, scale, C, restricted):
    return threat_problem(seed, n, m, scale, C, restricted)


def _changed_sets(prob, s, B):
    """For every admissible relabelling within ``B``: the set of test rows it changes."""
    out = []
    for S in admissible_sets(prob.threat, B):
        yy = prob.y_pm.copy()
        yy[list(S)] *= -1
        f = retrain_logits(prob.K, yy, prob.C, prob.K_test)
        out.append(frozenset(np.flatnonzero(s * f <= 0).tolist()))
    return out


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8), B=st.integers(1, 3),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), C=st.sampled_from([0.3, 3.0, 30.0]),
       restricted=st.booleans(), rounds=st.sampled_from([0, 1, 8]))
def test_separated_pairs_are_never_changed_together(seed, n, B, scale, C, restricted, rounds):
    """``rounds``: λ steps before the exact pair search takes over (0: that search alone).
    With unlimited time the pair search decides every pair: exactly the brute-force truth."""
    import certmodel.labelcert._pairs as pairs

    prob, a0, s = _setup(seed, n, 5, scale, C, restricted)
    geo = KernelGeometry(prob.K)
    changed = _changed_sets(prob, s, B)
    for a, b in itertools.combinations(range(prob.m), 2):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pairs, "MAX_ROUNDS", rounds)
            verdict, flips = separate_pair(prob, a0, s, a, b, B, geo, float("inf"))
        together = any(a in c and b in c for c in changed)
        assert verdict == ("joint" if together else "separated"), (a, b, verdict)
        if verdict == "joint":
            assert prob.threat.admissible(flips, B)
            yy = np.where(flips, -prob.y_pm, prob.y_pm)
            f = retrain_logits(prob.K, yy, prob.C, prob.K_test)
            assert s[a] * f[a] <= 0 and s[b] * f[b] <= 0


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8), B=st.integers(1, 3),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), restricted=st.booleans())
def test_clique_bound_is_never_below_the_exact_count(seed, n, B, scale, restricted):
    prob, a0, s = _setup(seed, n, 6, scale, 3.0, restricted)
    truth = max((len(c) for c in _changed_sets(prob, s, B)), default=0)
    geo = KernelGeometry(prob.K)
    pb = pair_bound(prob, a0, s, np.arange(prob.m), B, geo, 60.0)
    assert pb.bound >= truth
    assert pb.complete or pb.bound <= prob.m
    for w in pb.witnesses:  # each joint relabelling is admissible and changes two rows
        assert prob.threat.admissible(w, B)
        f = retrain_logits(prob.K, np.where(w, -prob.y_pm, prob.y_pm), prob.C, prob.K_test)
        assert int(np.sum(s * f <= 0)) >= 2
    # a target: the set refutation proves exactly the true count, never below it
    assert pair_bound(prob, a0, s, np.arange(prob.m), B, geo, 60.0, target=truth).bound \
        == truth
    if truth >= 1:
        assert pair_bound(prob, a0, s, np.arange(prob.m), B, geo, 60.0,
                          target=truth - 1).bound >= truth


def _check_joint(prob, s, flips, T, B):
    """``flips`` is admissible within ``B`` and, retrained, changes every row of ``T``."""
    assert prob.threat.admissible(flips, B)
    f = retrain_logits(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C, prob.K_test)
    assert (s[list(T)] * f[list(T)] <= 0).all()


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), B=st.integers(1, 3),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), restricted=st.booleans(), k=st.integers(1, 4),
       rounds=st.sampled_from([0, 1, 8]))
def test_set_separation_equals_brute_force(seed, n, B, scale, restricted, k, rounds):
    """``joint_search`` alone and ``separate_set`` (``rounds`` λ steps first) decide every set
    of ``k`` rows exactly with unlimited time; each joint witness replays."""
    prob, a0, s = _setup(seed, n, 5, scale, 3.0, restricted)
    geo = KernelGeometry(prob.K)
    changed = _changed_sets(prob, s, B)
    for T in itertools.combinations(range(prob.m), k):
        truth = "joint" if any(set(T) <= c for c in changed) else "separated"
        got, flips = joint_search(prob, a0, s, T, B, geo, float("inf"))
        assert got == truth, (T, got)
        verdict, flips2, found = separate_set(prob, a0, s, T, B, geo, float("inf"),
                                              rounds=rounds)
        assert verdict == truth, (T, verdict)
        for w in [flips, flips2]:
            if w is not None:
                _check_joint(prob, s, w, T, B)
        for w in found:  # every witness met on the way is admissible
            assert prob.threat.admissible(w, B)
        # the conflict a separation proves: the rows of T with a positive weight in λ
        verdict, _, _, core = _separate(prob, a0, s, T, B, geo, float("inf"), rounds=rounds)
        assert verdict == truth
        if verdict == "separated":
            assert core and set(core) <= set(T)
            assert not any(set(core) <= c for c in changed), (T, core)
        else:
            assert core == ()


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8), B=st.integers(1, 3),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), restricted=st.booleans())
def test_set_bound_is_exact_with_time_and_never_below_the_count(seed, n, B, scale, restricted):
    """From no conflicts, a target below the truth: the bound stays ≥ the exact count (any
    time), equals it given the time, and every witness changes ≥ 2 rows within ``B``."""
    prob, a0, s = _setup(seed, n, 6, scale, 3.0, restricted)
    truth = max((len(c) for c in _changed_sets(prob, s, B)), default=0)
    geo = KernelGeometry(prob.K)
    U = list(range(prob.m))
    for limit in (1e-3, 60.0):
        sb = refute_sets(prob, a0, s, U, [], B, geo, 0, time.perf_counter() + limit)
        assert sb.bound >= truth
        for w in sb.witnesses:
            assert prob.threat.admissible(w, B)
            f = retrain_logits(prob.K, np.where(w, -prob.y_pm, prob.y_pm), prob.C,
                               prob.K_test)
            assert int(np.sum(s * f <= 0)) >= 2
    assert sb.bound == truth
    changed = _changed_sets(prob, s, B)
    for c in sb.conflicts:  # every conflict is one: no relabelling changes all its rows
        assert not any(set(c) <= ch for ch in changed)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, 9), p=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_max_clique_equals_brute_force(k, p, seed):
    rng = np.random.default_rng(seed)
    nodes = list(range(k))
    edges = {frozenset(e) for e in itertools.combinations(nodes, 2) if rng.random() < p}

    def joined(u, v):
        return frozenset((u, v)) in edges

    best = max((r for r in range(k + 1) for S in itertools.combinations(nodes, r)
                if all(joined(u, v) for u, v in itertools.combinations(S, 2))), default=0)
    assert max_clique(nodes, joined) == best


@settings(max_examples=80, deadline=None)
@given(k=st.integers(0, 10), seed=st.integers(0, 10_000), sizes=st.lists(
    st.integers(2, 5), max_size=12))
def test_largest_free_equals_brute_force(k, seed, sizes):
    rng = np.random.default_rng(seed)
    nodes = [int(v) for v in rng.permutation(20)[:k]]  # arbitrary labels, any order
    conflicts = [tuple(rng.choice(nodes, size=min(z, k), replace=False).tolist())
                 for z in sizes if k >= 2]
    conflicts += [(99, nodes[0])] if k else []  # a conflict with a row outside: ignored

    def free(S):
        return not any(set(c) <= set(S) for c in conflicts)

    best = max((r for r in range(k + 1) for S in itertools.combinations(nodes, r) if free(S)),
               default=0)
    got = largest_free(nodes, conflicts)
    assert len(got) == best and free(got) and set(got) <= set(nodes)


def _force_pairs(monkeypatch):
    """No enumeration, and the collective searches 'do not finish' (as on large instances),
    so every budget the sample-wise screen leaves open reaches the pair separation."""
    import certmodel.labelcert._collective as col

    monkeypatch.setattr(col, "_enumerate", lambda *a, **kw: {})
    monkeypatch.setattr(col, "_searched", lambda *a, **kw: {})
    monkeypatch.setattr(col, "_screened_search", lambda *a, **kw: None)


def _records_and_truths(prob, s, restricted, time_limit):
    """``certify(mode="collective")`` at budgets 1–3 (the problem's threat model when
    ``restricted``): ``[(record, exact count)]``, each bound checked to cover the count and
    the count to cover the incumbent."""
    threat = None
    if restricted:
        threat = ThreatModel(flippable=prob.threat.mask, cost=prob.threat.cost)
    recs = certify(prob.K, prob.y_pm, prob.K_test, prob.C, [1, 2, 3], mode="collective",
                   options=LabelCertOptions(time_limit=time_limit), threat=threat)
    out = []
    for rec in recs:
        truth = max((len(c) for c in _changed_sets(prob, s, rec.budget)), default=0)
        assert rec.bound + 1e-6 >= truth >= (rec.incumbent or 0)
        out.append((rec, truth))
    return out


@pytest.mark.parametrize("restricted", [False, True])
def test_pairs_records_equal_brute_force(monkeypatch, restricted):
    """Through ``certify(mode="collective")``: every record's bound covers the exact count;
    a ``pairs`` record is exact and its relabelling replays to its count."""
    _force_pairs(monkeypatch)
    seen = set()
    for seed in range(12):
        prob, a0, s = _setup(seed, 7, 6, 1.0, 3.0, restricted)
        for rec, truth in _records_and_truths(prob, s, restricted, 30):
            seen.add(rec.path)
            if rec.path is Path.PAIRS:
                assert rec.incumbent == truth == int(round(rec.bound))
                assert replayed_count(prob, s, rec.relabelling, rec.budget) == rec.incumbent
    assert Path.PAIRS in seen  # the path is exercised, not only reachable


@pytest.mark.parametrize("restricted", [False, True])
def test_conflict_set_records_equal_brute_force(monkeypatch, restricted):
    """The pairs get no time (``SET_SHARE = 1``), so every bound below ``|U|`` comes from the
    conflict sets: each record's bound covers the exact count, an exact ``pairs`` record
    equals it and replays, and conflict sets are found."""
    import certmodel.labelcert._pairs as pairs

    _force_pairs(monkeypatch)
    monkeypatch.setattr(pairs, "SET_SHARE", 1.0)
    sets = 0
    for seed in range(12):
        prob, a0, s = _setup(seed, 7, 6, 1.0, 3.0, restricted)
        for rec, truth in _records_and_truths(prob, s, restricted, 30):
            if rec.path is Path.PAIRS:
                assert rec.extra["separated_pairs"] == 0
                sets += rec.extra["conflict_sets"]
                assert rec.incumbent == truth == int(round(rec.bound))
                assert replayed_count(prob, s, rec.relabelling, rec.budget) == rec.incumbent
    assert sets > 0  # the set stage decided records, not only the pairs


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       restricted=st.booleans())
def test_collective_milp_with_bounds_start_and_conflict_cuts_is_exact(seed, scale,
                                                                       restricted):
    """The pipeline's collective MILP — ``K z`` and margin bounds, the screen's witness as
    its start, the pairs' and sets' conflicts as cuts — solved to optimality equals the
    brute-force count: none of them cuts off the worst relabelling.  The pair stage's own
    record is dropped so that the MILP decides, and the cuts reach the model."""
    import certmodel.labelcert._collective as col
    from certmodel.milp.formulations import CollectiveMILP

    prob, a0, s = _setup(seed, 7, 6, scale, 3.0, restricted)
    built = []

    def milp(*a, **kw):
        model = CollectiveMILP(*a, **kw)
        built.append((kw["conflicts"], kw["g_bounds"] is not None, model))
        return model

    real = col._paired
    with pytest.MonkeyPatch.context() as mp:
        _force_pairs(mp)
        mp.setattr(col, "_paired", lambda *a, **kw: (None, None, real(*a, **kw)[2]))
        mp.setattr(col, "CollectiveMILP", milp)
        pairs = _records_and_truths(prob, s, restricted, 60)
    for rec, truth in pairs:
        if rec.path is Path.MILP:
            assert rec.solver_status == "optimal"
            assert int(round(rec.bound)) == truth
            assert replayed_count(prob, s, rec.relabelling, rec.budget) == rec.incumbent
    for conflicts, bounded, model in built:
        assert bounded  # a PSD kernel with an exact clean optimum: the bounds are used
        assert hasattr(model.model, "conflicts") == bool(conflicts)


@pytest.mark.parametrize("bad", [[[]], [[1, 1]], [[0, 2], [2, 0, 2]]])
def test_conflict_cuts_refuse_what_is_not_a_set(bad):
    from certmodel.exceptions import FormulationError
    from certmodel.milp.formulations import CollectiveMILP

    prob, a0, s = _setup(3, 6, 3, 1.0, 3.0, False)
    with pytest.raises(FormulationError, match="conflict sets must be non-empty sets"):
        CollectiveMILP(prob.K, prob.y_pm, prob.C, 1, prob.K_test, s, conflicts=bad)


def test_a_conflict_of_one_point_fixes_its_indicator():
    """``[[t]]``: the point never changes, ``c_t ≤ 0`` (the count loses exactly that row)."""
    import pyomo.environ as pyo

    from certmodel.milp.formulations import CollectiveMILP

    prob, a0, s = _setup(3, 6, 3, 1.0, 3.0, False)
    model = CollectiveMILP(prob.K, prob.y_pm, prob.C, 1, prob.K_test, s, conflicts=[[1]])
    cut = model.model.conflicts.cut[0]
    assert pyo.value(cut.upper) == 0 and "flipped.c[1]" in str(cut.body)
