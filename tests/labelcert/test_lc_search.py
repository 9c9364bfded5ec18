"""The branch-and-bound relabelling search equals brute force (binary, multiclass, collective),
including restricted threat models (flippable mask, per-point costs, target classes)."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from certmodel.labelcert._problem import Problem
from certmodel.labelcert._rival_search import search_multiclass_rivals
from certmodel.labelcert._search import (
    RadiusGate,
    search_binary,
    search_collective,
    search_multiclass,
    single_flip_radius,
    stability_radius_batch,
)
from certmodel.labelcert._split_search import (
    search_binary_split,
    search_collective_split,
    search_multiclass_split,
)
from certmodel.labelcert._stability import KernelGeometry, stability_radius
from certmodel.learners import solve_svm_dual
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import SEARCH_GATES, random_instance, search_gates

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _admissible_sets(n, budget, mask, cost):
    for b in range(0, n + 1):
        for S in itertools.combinations(range(n), b):
            if all(mask[i] for i in S) and sum(cost[i] for i in S) <= budget + 1e-9:
                yield S


def _z(K, y_pm, C):
    return y_pm * solve_svm_dual(K, y_pm, C).alpha


GATE = st.sampled_from(sorted(SEARCH_GATES))


def _ovr_oracle(K, K_test, codes, nK, C):
    """One-vs-rest brute-force helpers: clean ``alphas`` (K, n), clean top classes,
    ``logits(labels)`` (rows, K) retrained exactly, ``margin(F)`` against the clean tops."""
    def logits(lab):
        return np.stack([K_test @ _z(K, np.where(lab == k, 1.0, -1.0), C) for k in range(nK)],
                        axis=1)

    alphas = np.stack([solve_svm_dual(K, np.where(codes == k, 1.0, -1.0), C).alpha
                       for k in range(nK)])
    tops = np.argmax(logits(codes), axis=1)

    def margin(F):
        G = F.copy()
        G[np.arange(len(F)), tops] = -np.inf
        return F[np.arange(len(F)), tops] - G.max(axis=1)

    return alphas, tops, logits, margin


def _worst_ovr_margins(n, B, th, codes, nK, logits, margin):
    """Brute force: the smallest margin of every test row over every admissible relabelling
    (each flipped point to every target class but its own) within budget ``B``."""
    ref = margin(logits(codes))
    for S in _admissible_sets(n, B, th.mask, th.cost):
        choices = [[k for k in range(nK) if k != codes[i] and th.target_mask[k]] for i in S]
        for new in itertools.product(*choices):
            lab = codes.copy()
            lab[list(S)] = new
            ref = np.minimum(ref, margin(logits(lab)))
    return ref


def _threat(draw_mask, draw_cost, n, rng):
    mask = rng.random(n) < 0.7 if draw_mask else None
    cost = rng.choice([1.0, 1.5, 2.0], n) if draw_cost else None
    return ThreatModel(flippable=mask, cost=cost)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 8), logC=st.floats(-1.0, 1.0),
       mask=st.booleans(), cost=st.booleans(), order=st.booleans(), parts=st.integers(0, 3),
       gate=GATE, cut=st.booleans())
def test_binary_search_equals_brute_force(seed, n, logC, mask, cost, order, parts, gate, cut):
    """``parts > 0``: the search split into that many parts (in this process), merged.
    ``gate``: (B1)'s radius as :class:`RadiusGate` decides, never, or always.  ``cut``:
    also prune by (B4)."""
    rng = np.random.default_rng(seed)
    K, y, K_test = random_instance(seed, n, m=4)
    C = 10.0 ** logC
    prob = Problem.create(K, y, K_test, C, threat=_threat(mask, cost, n, rng))
    K, K_test, C = prob.K, prob.K_test, prob.C  # the validated (rescaled) instance
    th = prob.threat
    budgets = [1, 2, 3]
    y_pm = prob.y_pm
    alpha0 = solve_svm_dual(K, y_pm, C).alpha
    f = K_test @ (y_pm * alpha0)
    s = np.where(f >= 0, 1.0, -1.0)
    scale = C * np.abs(K_test).sum(axis=1)
    eps = 1e-6 * scale
    geo = KernelGeometry(K)
    geo.cut_bound = cut
    with search_gates(gate):
        if parts:
            res = search_binary_split(prob, alpha0, s, np.arange(4), budgets,
                                      np.ones((4, 3), bool), eps, geo, workers=1, parts=parts)
        else:
            res = search_binary(prob, alpha0, s, np.arange(4), budgets, np.ones((4, 3), bool),
                                eps, geo, order=order)
    assert res.complete.all()
    for j, B in enumerate(budgets):
        ref = np.full(4, np.inf)
        for S in _admissible_sets(n, B, th.mask, th.cost):
            yy = y_pm.copy()
            yy[list(S)] *= -1
            ref = np.minimum(ref, s * (K_test @ _z(K, yy, C)))
        tol = 1e-7 * scale
        # visited margins are attained (≥ the true worst); pruning bounds are lower bounds
        assert np.all(res.visited[:, j] >= ref - tol)
        lower = np.minimum(res.visited[:, j], res.pruned[:, j])
        # exact unless a witness closed the budget early (decision mode)
        assert np.all((lower <= ref + tol) | (res.visited[:, j] <= 0))
        for r in range(4):
            if res.visited[r, j] <= 0:  # a witness: admissible and replayed
                S = res.witness[r][j]
                assert th.admissible(np.array(S, dtype=int), B)
                yy = y_pm.copy()
                yy[list(S)] *= -1
                assert s[r] * K_test[r] @ _z(K, yy, C) <= tol[r]
            if lower[r] > eps[r]:
                assert ref[r] > 0
            if ref[r] <= 0:
                assert res.visited[r, j] <= tol[r]  # not robust: found, never pruned


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), mask=st.booleans(),
       cost=st.booleans(), order=st.booleans(), seeded=st.booleans(), parts=st.integers(0, 3),
       gate=GATE)
def test_collective_search_equals_brute_force(seed, n, mask, cost, order, seeded, parts, gate):
    """``seeded``: the search starts from a random admissible relabelling's replayed count
    (the collective screen's incumbent) — the counts stay exact.  ``parts > 0``: split into
    that many parts (in this process), merged.  ``gate``: (B1)'s radius and the pair
    conflicts as their gates decide, never, or always."""
    rng = np.random.default_rng(seed)
    K, y, K_test = random_instance(seed, n, m=5)
    C = 10.0 ** rng.uniform(-1, 1)
    prob = Problem.create(K, y, K_test, C, threat=_threat(mask, cost, n, rng))
    K, K_test, C = prob.K, prob.K_test, prob.C
    th = prob.threat
    y_pm = prob.y_pm
    alpha0 = solve_svm_dual(K, y_pm, C).alpha
    s = np.where(K_test @ (y_pm * alpha0) >= 0, 1.0, -1.0)
    budgets = [1, 2, 3]
    start = None
    if seeded:
        sets = [S for S in _admissible_sets(n, 3, th.mask, th.cost) if S]
        if sets:
            S0 = sets[rng.integers(len(sets))]
            yy = y_pm.copy()
            yy[list(S0)] *= -1
            start = (int(np.sum(s * (K_test @ _z(K, yy, C)) <= 0)), np.array(S0),
                     float(th.cost[list(S0)].sum()))
    geo = KernelGeometry(K)
    with search_gates(gate):
        if parts:
            count, wit, complete, _ = search_collective_split(
                prob, alpha0, s, budgets, geo, incumbent=start, workers=1, parts=parts)
        else:
            count, wit, complete, _ = search_collective(prob, alpha0, s, budgets, geo,
                                                        order=order, incumbent=start)
    assert complete
    for j, B in enumerate(budgets):
        best = 0
        for S in _admissible_sets(n, B, th.mask, th.cost):
            yy = y_pm.copy()
            yy[list(S)] *= -1
            best = max(best, int(np.sum(s * (K_test @ _z(K, yy, C)) <= 0)))
        assert count[j] == best
        assert th.admissible(np.array(wit[j], dtype=int), B)
        yy = y_pm.copy()  # the witness changes that many predictions when replayed
        yy[list(wit[j])] *= -1
        tol = 1e-9 * C * np.abs(K_test).sum(axis=1)
        assert int(np.sum(s * (K_test @ _z(K, yy, C)) <= tol)) >= count[j]


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 6), mask=st.booleans(),
       targets=st.booleans(), order=st.booleans(), parts=st.integers(0, 3), gate=GATE,
       rivalwise=st.booleans())
def test_multiclass_search_equals_brute_force(seed, n, mask, targets, order, parts, gate,
                                              rivalwise):
    """``rivalwise``: one rival at a time over each rival's reduced moves
    (:func:`~certmodel.labelcert._rival_search.search_multiclass_rivals`, the pipeline's)."""
    rng = np.random.default_rng(seed)
    K, _, K_test = random_instance(seed, n, m=3)
    labels = rng.integers(0, 3, n)
    labels[:3] = [0, 1, 2]
    C = 0.5
    threat = ThreatModel(flippable=rng.random(n) < 0.7 if mask else None,
                         targets=(0, 2) if targets else None)
    prob = Problem.create(K, labels, K_test, C, threat=threat)
    K, K_test, C = prob.K, prob.K_test, prob.C
    th = prob.threat
    nK = 3
    alphas, tops, logits, margin = _ovr_oracle(K, K_test, prob.codes, nK, C)
    budgets = [1, 2]
    scale = 2 * C * np.abs(K_test).sum(axis=1)
    eps = 1e-6 * scale
    with search_gates(gate):
        if parts:  # split into that many parts (in this process), merged
            res = search_multiclass_split(prob, alphas, tops, np.arange(3), budgets,
                                          np.ones((3, 2), bool), eps, KernelGeometry(K),
                                          workers=1, parts=parts)
        elif rivalwise:
            res = search_multiclass_rivals(prob, alphas, tops, np.arange(3), budgets,
                                           np.ones((3, 2), bool), eps, KernelGeometry(K),
                                           order=order)
        else:
            res = search_multiclass(prob, alphas, tops, np.arange(3), budgets,
                                    np.ones((3, 2), bool), eps, KernelGeometry(K), order=order)
    assert res.complete.all()
    for j, B in enumerate(budgets):
        ref = _worst_ovr_margins(n, B, th, labels, nK, logits, margin)
        tol = 1e-7 * scale
        assert np.all(res.visited[:, j] >= ref - tol)
        lower = np.minimum(res.visited[:, j], res.pruned[:, j])
        assert np.all((lower <= ref + tol) | (res.visited[:, j] <= 0))
        for r in range(3):
            if res.visited[r, j] <= 0:
                lab = labels.copy()
                for i, k in res.witness[r][j]:
                    lab[i] = k
                assert th.admissible(lab != labels, B, lab)
                assert margin(logits(lab))[r] <= tol[r]
            if ref[r] <= 0:
                assert res.visited[r, j] <= tol[r]


def test_radius_gate_stops_computing_a_radius_that_never_closes_a_subtree():
    gate = RadiusGate(warmup=100, min_share=0.01, probe=4)
    assert all(gate.use() for _ in range(3))  # warm-up: always
    gate.record(100, 0)  # 100 subtrees tried, none closed by the radius alone
    calls = [gate.use() for _ in range(12)]
    assert calls == [True, False, False, False] * 3  # only every 4th call (4, 8, 12) probes
    gate.record(50, 5)  # a probe finds it paying (5 of 150 ≥ 1 %): always again
    assert all(gate.use() for _ in range(8))


def test_batch_radius_at_least_as_tight_as_scalar():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 9)) * 2
    k = rng.random(9) + 0.1
    allowed = rng.random((5, 9)) < 0.6
    for r in (1, 2, 4):
        got = stability_radius_batch(a, k, 0.3, r, allowed)
        for p in range(5):
            assert got[p] <= stability_radius(a[p], k, 0.3, r, allowed[p]) * (1 + 1e-5) + 1e-12


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(1, 5), logC=st.floats(-3.0, 3.0))
def test_targeted_radius_stops_early_but_stays_an_upper_bound(seed, r, logC):
    """With a target the iteration may stop early: never below the full iteration's radius
    (so never below the true movement), ``Δ₀`` where no radius can help, and at or below the
    target whenever the full radius is comfortably below it."""
    rng = np.random.default_rng(seed)
    p, n = 40, 12
    C = 10.0 ** logC
    a = rng.normal(size=(p, n)) * 2
    k = rng.random(n) + 0.1
    allowed = rng.random((p, n)) < 0.7
    full = stability_radius_batch(a, k, C, r, allowed)
    target = full * rng.uniform(0.5, 2.0, p)
    target[:5] = -1.0
    got = stability_radius_batch(a, k, C, r, allowed, target)
    assert (got >= full * (1 - 1e-12)).all()
    d0 = 2 * C * np.sort(np.where(allowed[:5], k, 0.0), axis=1)[:, -r:].sum(axis=1)
    np.testing.assert_allclose(got[:5], d0 * (1 + 1e-9) + 1e-12 * C * k.max(), rtol=1e-12)
    easy = full < 0.5 * target
    assert (got[easy] <= target[easy]).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), logC=st.floats(-1.0, 1.0))
def test_radii_bound_the_real_movement(seed, logC):
    """‖w' − w‖ of exactly retrained SVMs never exceeds the radii (single flips, pairs)."""
    K, y, _ = random_instance(seed, 7)
    C = 10.0 ** logC
    y = y.astype(float)
    z = _z(K, y, C)
    a = y * (K @ z)
    k = np.sqrt(np.diag(K))
    single = single_flip_radius(a, k, C)
    pair = stability_radius_batch(a[None], k, C, 2, np.ones((1, 7), bool))[0]
    for S in itertools.chain(itertools.combinations(range(7), 1),
                             itertools.combinations(range(7), 2)):
        yy = y.copy()
        yy[list(S)] *= -1
        d = _z(K, yy, C) - z
        move = np.sqrt(max(d @ K @ d, 0.0))
        scale = 1e-7 * C * np.abs(K).sum()
        assert move <= pair + scale
        if len(S) == 1:
            assert move <= single[S[0]] + scale


# ---------------------------------------------------------------------------------------------
# the search inside the pipeline (path "search"): verdicts agree with brute force, witnesses
# replay; enumeration switched off (max_enumeration=0) so that the search decides
# ---------------------------------------------------------------------------------------------

def _replay_binary(prob, rec):
    flips = np.zeros(prob.n, bool)
    inv = {v: i for i, v in enumerate(prob.classes)}
    for i, lab in rec.relabelling.items():
        assert prob.codes[i] != inv[lab]
        flips[i] = True
    yy = np.where(flips, -prob.y_pm, prob.y_pm)
    return yy, flips


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8), restricted=st.booleans())
def test_pipeline_search_binary(seed, n, restricted):
    from certmodel.labelcert import certify
    from certmodel.labelcert._options import LabelCertOptions
    from certmodel.results import Path, Verdict

    rng = np.random.default_rng(seed)
    K, y, K_test = random_instance(seed, n, m=4)
    C = 10.0 ** rng.uniform(-0.5, 1)
    threat = _threat(True, True, n, rng) if restricted else None
    opts = LabelCertOptions(max_enumeration=0, search="always", attack=False,
                            cut_bound=bool(seed % 2))
    recs = certify(K, y, K_test, C, [1, 2, 3], options=opts, threat=threat)
    prob = Problem.create(K, y, K_test, C, threat=threat)
    Kp, Ktp, Cp, th = prob.K, prob.K_test, prob.C, prob.threat
    y_pm = prob.y_pm
    f0 = Ktp @ _z(Kp, y_pm, Cp)
    s = np.where(f0 >= 0, 1.0, -1.0)
    scale = Cp * np.abs(Ktp).sum(axis=1)
    # rare draws are decided before the search (e.g. by the bound): nothing to test there
    assume(any(r.path is Path.SEARCH for r in recs))
    for rec in recs:
        t = int(rec.test_index)
        ref = min(s[t] * Ktp[t] @ _z(Kp, np.where(np.isin(np.arange(n), S), -y_pm, y_pm), Cp)
                  for S in _admissible_sets(n, rec.budget, th.mask, th.cost))
        if rec.verdict is Verdict.ROBUST:
            assert ref > 0
        elif rec.verdict is Verdict.NOT_ROBUST:
            yy, flips = _replay_binary(prob, rec)
            assert th.admissible(flips, rec.budget)
            assert s[t] * Ktp[t] @ _z(Kp, yy, Cp) <= 1e-7 * scale[t]
        if rec.path is Path.SEARCH:
            assert rec.verdict is not Verdict.UNKNOWN or abs(ref) <= 1e-6 * scale[t]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6))
def test_pipeline_search_multiclass_and_inexact(seed, n):
    from certmodel.labelcert import certify
    from certmodel.labelcert._options import LabelCertOptions
    from certmodel.results import Path, Verdict
    from tests.labelcert.oracles import brute_multiclass

    rng = np.random.default_rng(seed)
    K, _, K_test = random_instance(seed, n, m=3)
    labels = rng.integers(0, 3, n)
    labels[:3] = [0, 1, 2]
    opts = LabelCertOptions(max_enumeration=0, search="always", attack=False)  # search only
    exact = certify(K, labels, K_test, 0.5, [1, 2], mode="multiclass", options=opts)
    inexact = certify(K, labels, K_test, 0.5, [1, 2], mode="multiclass-inexact", options=opts)
    prob = Problem.create(K, labels, K_test, 0.5)
    assert any(r.path is Path.SEARCH for r in exact)
    for recs in (exact, inexact):
        for rec in recs:
            t = int(rec.test_index)
            ref, _ = brute_multiclass(prob.K, labels, 3, prob.C, prob.K_test, rec.budget)
            if rec.verdict is Verdict.ROBUST:
                assert ref[t] > 0
            elif rec.verdict is Verdict.NOT_ROBUST:
                assert ref[t] <= 1e-7 * prob.C * np.abs(prob.K_test[t]).sum()
                lab = labels.copy()
                for i, k in rec.relabelling.items():
                    lab[i] = k
                assert np.sum(lab != labels) <= rec.budget


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7))
def test_pipeline_search_collective(seed, n):
    from certmodel.labelcert import certify
    from certmodel.labelcert._options import LabelCertOptions
    from certmodel.results import Path
    from tests.labelcert.oracles import brute_collective

    K, y, K_test = random_instance(seed, n, m=5)
    C = 2.0
    opts = LabelCertOptions(max_enumeration=0, search="always", cut_bound=bool(seed % 2))
    recs = certify(K, y, K_test, C, [1, 2, 3], mode="collective", options=opts)
    prob = Problem.create(K, y, K_test, C)
    for rec in recs:
        assert rec.path is Path.SEARCH
        best = brute_collective(prob.K, prob.y_pm, prob.C, prob.K_test, rec.budget)
        assert rec.n_test - rec.certified_count == best
        assert len(rec.relabelling) <= rec.budget and rec.incumbent == best


def test_single_flip_radius_at_least_as_tight_as_scalar():
    rng = np.random.default_rng(1)
    a = rng.normal(size=20) * 2
    k = rng.random(20) + 0.1
    got = single_flip_radius(a, k, 0.7)
    for i in range(20):
        allowed = np.zeros(20, bool)
        allowed[i] = True
        assert got[i] <= stability_radius(a, k, 0.7, 1, allowed) * (1 + 1e-5) + 1e-9


def test_search_witness_settles_larger_budgets(monkeypatch):
    """A witness the search finds at a small budget decides every larger open budget
    (path monotone, the same relabelling, replayed)."""
    import certmodel.labelcert._searchpath as sp
    from certmodel.labelcert import certify
    from certmodel.labelcert._options import LabelCertOptions
    from certmodel.results import Path, Verdict

    real = sp.plan_search

    def only_budget_one(prob, opts, open_records, unit, n_classes=2, retrains_per_node=1,
                        **kw):
        chosen, cap = real(prob, opts, open_records, unit, n_classes, retrains_per_node, **kw)
        return [b for b in chosen if b <= 1], cap

    monkeypatch.setattr(sp, "plan_search", only_budget_one)
    for seed in range(40):
        K, y, K_test = random_instance(seed, 7, m=4)
        opts = LabelCertOptions(max_enumeration=0, search="always", attack=False,
                                time_limit=5)
        recs = certify(K, y, K_test, 5.0, [1, 2, 3], options=opts)
        mono = [r for r in recs if r.path is Path.MONOTONE and r.verdict is Verdict.NOT_ROBUST]
        if not mono:
            continue
        prob = Problem.create(K, y, K_test, 5.0)
        s = np.where(prob.K_test @ _z(prob.K, prob.y_pm, prob.C) >= 0, 1.0, -1.0)
        for rec in mono:
            yy, flips = _replay_binary(prob, rec)
            assert flips.sum() <= 1 < rec.budget
            t = int(rec.test_index)
            assert s[t] * prob.K_test[t] @ _z(prob.K, yy, prob.C) <= 0
        return
    raise AssertionError("no instance with a budget-1 witness found")


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 7), logC=st.floats(-1.0, 1.5),
       depth=st.integers(0, 1), shuffle=st.booleans())
def test_children_b3_bounds_every_margin_below_a_child(seed, n, logC, depth, shuffle):
    """The bound the collective search skips children by *before* retraining them
    (:func:`~certmodel.labelcert._search._children_b3`): for every child ``(parent, i)`` and
    test row, at most the exact margin of the child itself and of every relabelling below it
    (``i`` plus up to ``r − 1`` of the points after ``i`` in the parent's order) — brute
    force, from the root and from a one-flip parent, in data or a random order, kernels
    and C over 2.5 orders of magnitude."""
    from certmodel.labelcert._flip_order import child_masks
    from certmodel.labelcert._search import _children_b3, b3_readout

    rng = np.random.default_rng(seed)
    K, y, K_test = random_instance(seed, n, m=4)
    scale = 10.0 ** rng.uniform(-2, 2)
    K, K_test = K * scale, K_test * scale
    prob = Problem.create(K, y, K_test, 10.0 ** logC / np.abs(K).sum(axis=1).max())
    K, K_test, C, y_pm = prob.K, prob.K_test, prob.C, prob.y_pm
    R = 3
    alpha0 = solve_svm_dual(K, y_pm, C).alpha
    signs = np.where(K_test @ (y_pm * alpha0) >= 0, 1.0, -1.0)
    Kt = K_test * signs[:, None]
    geo = KernelGeometry(K)
    kappa, rest = geo.readout(K_test, C)
    flippable = np.ones(n, bool)
    ro = b3_readout(prob, geo, alpha0, y_pm, Kt, kappa, rest, R, flippable, 1.0)
    S0 = [int(rng.integers(n))] if depth else []
    Y = y_pm.copy()
    Y[S0] *= -1
    Z = _z(K, Y, C)
    AL = flippable.copy()
    AL[S0] = False
    rank = rng.permutation(n) if shuffle else np.arange(n)
    par, idx = np.nonzero(AL[None, :])
    kids = child_masks(AL[None], rank[None], par, idx)
    cost = np.ones(n)
    b3, room, _ = _children_b3((Kt @ Z)[:, None], np.arange(len(Kt)), float(R),
                               np.array([float(len(S0))]), par, idx, kids.any(axis=1), AL[None],
                               rank[None], cost, 1.0, ro, Z[None], Y[None], C)
    tol = 1e-8 * C * np.abs(K_test).sum(axis=1)
    for q, i in enumerate(idx):
        later = np.flatnonzero(kids[q])
        extra = R - len(S0) - 1
        assert room[q] == (extra >= 1 and len(later) > 0)
        worst = np.full(len(Kt), np.inf)
        for r in range(0, max(extra, 0) + 1):
            for T in itertools.combinations(later, r):
                yy = Y.copy()
                yy[[i, *T]] *= -1
                worst = np.minimum(worst, Kt @ _z(K, yy, C))
        assert np.all(b3[:, q] <= worst + tol), (q, b3[:, q], worst)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 6), logC=st.floats(-1.0, 1.0),
       some_targets=st.booleans(), mask=st.booleans(), cost=st.booleans(),
       tasks=st.booleans())
# the rival is no target: its top-class points can only move outside the pair (fails when
# the representative move is dropped)
@example(seed=17, n=4, logC=0.0, some_targets=True, mask=False, cost=False, tasks=False)
def test_rival_search_equals_brute_force_with_four_classes(seed, n, logC, some_targets, mask,
                                                           cost, tasks):
    """Four classes, so a point of the top class or the rival has several classes outside
    the pair to move to (one representative is searched): the rival-by-rival search equals
    brute force over every relabelling (all target classes), budgets up to 3, restricted
    threat models; a witness reports its relabelling's retrained margin.  ``tasks``: the
    (top class, rival) searches as tasks (in this process), merged."""
    rng = np.random.default_rng(seed)
    nK = 4
    K, _, K_test = random_instance(seed, n, m=3)
    labels = rng.integers(0, nK, n)
    labels[:nK] = np.arange(nK)
    targets = tuple(int(c) for c in sorted(rng.choice(nK, 3, replace=False))) \
        if some_targets else None
    threat = ThreatModel(flippable=rng.random(n) < 0.8 if mask else None, targets=targets,
                         cost=rng.choice([1.0, 2.0], n) if cost else None)
    prob = Problem.create(K, labels, K_test, 3 * 10.0 ** logC / np.abs(K).sum(axis=1).max(),
                          threat=threat)
    K, K_test, C, th, codes = prob.K, prob.K_test, prob.C, prob.threat, prob.codes
    alphas, tops, logits, margin = _ovr_oracle(K, K_test, codes, nK, C)
    budgets = [1, 2, 3]
    scale = 2 * C * np.abs(K_test).sum(axis=1)
    eps, tol = 1e-6 * scale, 1e-7 * scale
    res = search_multiclass_rivals(prob, alphas, tops, np.arange(3), budgets,
                                   np.ones((3, 3), bool), eps, KernelGeometry(K),
                                   workers=1 if tasks else None)
    assert res.complete.all()
    for j, B in enumerate(budgets):
        ref = _worst_ovr_margins(n, B, th, codes, nK, logits, margin)
        lower = np.minimum(res.visited[:, j], res.pruned[:, j])
        assert np.all(res.visited[:, j] >= ref - tol)
        assert np.all((lower <= ref + tol) | (res.visited[:, j] <= 0))
        for r in range(3):
            if ref[r] <= 0:
                assert res.visited[r, j] <= tol[r]
            if res.visited[r, j] <= 0:
                lab = codes.copy()
                for i, k in res.witness[r][j]:
                    lab[i] = k
                assert th.admissible(lab != codes, B, lab)
                assert abs(res.visited[r, j] - margin(logits(lab))[r]) <= tol[r]


def test_multiclass_fallback_search_where_the_plan_rejects(monkeypatch):
    """Where the plan rejects a budget (here: every budget) and ``time_limit`` is set, each
    open test point is still searched alone — one rival at a time — for ``FALLBACK_SHARE``
    of its records' MILP allowance (``K − 1`` rival MILPs each); what it decides equals
    brute force."""
    from certmodel.labelcert import _searchpath, certify
    from certmodel.labelcert._options import LabelCertOptions
    from certmodel.results import Path, Verdict
    from tests.labelcert.oracles import brute_multiclass

    monkeypatch.setattr(_searchpath, "plan_search", lambda *a, **k: ([], 0.0))
    calls = []
    real = _searchpath.search_multiclass_rivals

    def spy(prob, alphas, tops, rows, budgets, *a, **k):
        calls.append((len(rows), len(budgets), k.get("time_limit")))
        return real(prob, alphas, tops, rows, budgets, *a, **k)

    monkeypatch.setattr(_searchpath, "search_multiclass_rivals", spy)
    rng = np.random.default_rng(3)
    K, _, K_test = random_instance(3, 7, m=3)
    labels = rng.integers(0, 3, 7)
    labels[:3] = [0, 1, 2]
    opts = LabelCertOptions(max_enumeration=0, attack=False, time_limit=4.0)
    recs = certify(K, labels, K_test, 0.5, [1, 2], mode="multiclass", options=opts)
    fallback = [c for c in calls if c[0] == 1 and c[2] == pytest.approx(
        _searchpath.FALLBACK_SHARE * 4.0 * (3 - 1) * c[1])]
    assert fallback, calls
    assert any(r.path is Path.SEARCH for r in recs)
    prob = Problem.create(K, labels, K_test, 0.5)
    for rec in recs:
        ref, _ = brute_multiclass(prob.K, labels, 3, prob.C, prob.K_test, rec.budget)
        t = int(rec.test_index)
        if rec.verdict is Verdict.ROBUST:
            assert ref[t] > 0
        elif rec.verdict is Verdict.NOT_ROBUST:
            assert ref[t] <= 1e-7 * prob.C * np.abs(prob.K_test[t]).sum()


def _small_ovr(n, nK, seed=11):
    """A random ``nK``-class instance (4 test rows, C·rowsum 2): ``(prob, _ovr_oracle(…),
    eps)``."""
    rng = np.random.default_rng(seed)
    K, _, K_test = random_instance(seed, n, m=4)
    labels = rng.integers(0, nK, n)
    labels[:nK] = np.arange(nK)
    prob = Problem.create(K, labels, K_test, 2.0 / np.abs(K).sum(axis=1).max())
    eps = 1e-6 * 2 * prob.C * np.abs(prob.K_test).sum(axis=1)
    return prob, _ovr_oracle(prob.K, prob.K_test, prob.codes, nK, prob.C), eps


def test_rival_searches_on_two_processes_equal_one_process():
    """The (top class, rival) searches as tasks on two local processes give the verdicts,
    margins and witnesses' validity of the searches one after the other."""
    prob, (alphas, tops, logits, margin), eps = _small_ovr(n=9, nK=4)
    args = (prob, alphas, tops, np.arange(4), [1, 2, 3], np.ones((4, 3), bool), eps,
            KernelGeometry(prob.K))
    one = search_multiclass_rivals(*args)
    two = search_multiclass_rivals(*args, workers=2)
    assert one.complete.all() and two.complete.all()
    lo1, lo2 = np.minimum(one.visited, one.pruned), np.minimum(two.visited, two.pruned)
    assert np.array_equal(lo1 > eps[:, None], lo2 > eps[:, None])
    for r, j in zip(*np.nonzero(two.visited <= 0)):
        lab = prob.codes.copy()
        for i, k in two.witness[r][j]:
            lab[i] = k
        assert margin(logits(lab))[r] <= 1e-7 * 2 * prob.C * np.abs(prob.K_test[r]).sum()

def test_a_failed_rival_task_leaves_its_rows_incomplete(monkeypatch):
    """A (top class, rival) task that fails gives no result: its rows are not complete (their
    open records stay ``unknown``), the other rows are unaffected."""
    from certmodel.labelcert import _rival_search

    prob, (alphas, tops, _, _), eps = _small_ovr(n=8, nK=3)
    real = _rival_search._run_rival
    bad = (int(tops[0]), (int(tops[0]) + 1) % 3)

    def failing(task):
        if (task.top, task.rival) == bad:
            raise RuntimeError("worker lost")
        return real(task)

    monkeypatch.setattr(_rival_search, "_run_rival", failing)
    res = search_multiclass_rivals(prob, alphas, tops, np.arange(4), [1, 2],
                                   np.ones((4, 2), bool), eps, KernelGeometry(prob.K),
                                   workers=1)
    hit = tops[:4] == bad[0]
    assert not res.complete[hit].any()
    assert res.complete[~hit].all()
