"""Pair conflicts in the collective search (:mod:`certmodel.labelcert._count_pairs`).

Random instances rarely have two test points that no relabelling changes together, so the
instances here are built to: pairs of test points ``x₀ ± δu`` straddling the clean decision
boundary (``x₀`` on it, ``u`` along the clean weight): each flips alone, both together only
if the prediction along ``u`` turns.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import _search
from certmodel.labelcert._count_pairs import cover_bound, pair_margins, pair_rows
from certmodel.labelcert._problem import Problem
from certmodel.labelcert._response import drop_bounds
from certmodel.labelcert._search import b3_readout, search_collective
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import solve_svm_dual
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import search_gates

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def straddling(seed: int, n: int = 8, pairs: int = 2, d: int = 3, logC: float = 0.0,
               logscale: float = 0.0):
    """``(K, y, K_test, C)``: a linear kernel (ridge 0.3) and ``2·pairs`` test points
    ``x₀ ± δu`` (``x₀`` on the clean boundary, ``u`` near the clean weight, ``δ`` random),
    the kernel scaled by ``10**logscale`` and ``C`` divided by it (the same SVM)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(rng.random(n) < 0.5, -1, 1)
    y[0], y[1] = 1, -1
    K = X @ X.T + 0.3 * np.eye(n)
    C = 10.0 ** logC
    w = X.T @ (y * solve_svm_dual(K, y.astype(float), C).alpha)
    T = []
    for _ in range(pairs):
        x0 = rng.normal(size=d)
        x0 -= (x0 @ w) / (w @ w) * w
        u = w / np.linalg.norm(w) + 0.3 * rng.normal(size=d)
        step = 10.0 ** rng.uniform(-2, -0.5)
        T += [x0 + step * u, x0 - step * u]
    s = 10.0 ** logscale
    return K * s, y, (np.array(T) @ X.T) * s, C / s


def _margins(prob, y_pm, signs):
    return signs * (prob.K_test @ (y_pm * solve_svm_dual(prob.K, y_pm, prob.C).alpha))


def _sets(prob, budget):
    th = prob.threat
    for b in range(prob.n + 1):
        for S in itertools.combinations(range(prob.n), b):
            if all(th.mask[i] for i in S) and th.cost[list(S)].sum() <= budget + 1e-9:
                yield S


@contextlib.contextmanager
def _spy_cover(seen: list):
    """Count the nodes where the pairs lower the count bound below the alive rows."""
    saved = _search.cover_bound

    def spy(alive, conflict, pa, pb):
        out = saved(alive, conflict, pa, pb)
        seen.append(int((out < alive.sum(axis=0)).sum()))
        return out

    _search.cover_bound = spy
    try:
        yield
    finally:
        _search.cover_bound = saved


@settings(max_examples=60, deadline=None)
@given(R=st.integers(1, 7), q=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_cover_bound_bounds_every_conflict_free_set(R, q, seed):
    """``max |I| ≤ cover ≤ #alive`` over the sets ``I`` of alive rows without a conflicting
    pair (brute force), per node."""
    rng = np.random.default_rng(seed)
    pa, pb = np.triu_indices(R, 1)
    alive = rng.random((R, q)) < 0.7
    conflict = rng.random((len(pa), q)) < rng.random()
    got = cover_bound(alive, conflict, pa, pb)
    for j in range(q):
        rows = np.flatnonzero(alive[:, j])
        bad = {(int(a), int(b)) for a, b, c in zip(pa, pb, conflict[:, j]) if c}
        best = 0
        for k in range(len(rows) + 1):
            for I in itertools.combinations(rows, k):
                if not any((int(a), int(b)) in bad for a, b in itertools.combinations(I, 2)):
                    best = max(best, k)
        assert best <= got[j] <= len(rows)
    assert np.array_equal(cover_bound(alive, np.zeros_like(conflict), pa, pb),
                          alive.sum(axis=0))


def _verified_conflicts(K, y, K_test, C, base, r, flippable) -> int:
    """At the node that flips ``base`` (signs of the clean problem), every pair whose (B3)
    bound over ``≤ r`` further flips of ``flippable`` points is ``> 0`` has no such
    relabelling that changes both predictions (brute force).  Returns how many there were."""
    signs = np.where(K_test @ (y * solve_svm_dual(K, y.astype(float), C).alpha) >= 0, 1.0, -1.0)
    yb = y.astype(float)
    yb[list(base)] *= -1
    if abs(yb.sum()) == len(yb):  # one class left: no SVM problem
        return 0
    prob = Problem.create(K, np.where(yb > 0, 1, -1), K_test, C)
    y0 = prob.y_pm
    alpha = solve_svm_dual(prob.K, y0, prob.C).alpha
    z0 = y0 * alpha
    V = prob.K_test * signs[:, None]
    geo = KernelGeometry(prob.K)
    allowed = flippable.copy()
    allowed[list(base)] = False
    pa, pb, scale, Vp = pair_rows(V, prob.C)
    kp, rp = geo.readout(Vp, prob.C)
    pro = b3_readout(prob, geo, alpha, y0, Vp, kp, rp, float(r), allowed, 1.0)
    lbp = pair_margins((V @ z0)[:, None], pa, pb, scale)[:, 0] + drop_bounds(
        pro.V, z0[None], y0[None], prob.C, pro.kappa, pro.k, allowed[None], np.array([r]),
        pro.pin)[:, 0] - pro.rest
    conflict = lbp > 0
    for b in range(r + 1):
        for S in itertools.combinations(np.flatnonzero(allowed), b):
            yy = y0.copy()
            yy[list(S)] *= -1
            changed = _margins(prob, yy, signs) <= 0
            assert not np.any(conflict & changed[pa] & changed[pb])
    return int(conflict.sum())


@SETTINGS
@given(seed=st.integers(0, 10_000), logC=st.floats(-1.5, 0.5), logscale=st.floats(-3.0, 3.0),
       r=st.integers(1, 2), mask=st.booleans())
def test_pair_conflicts_are_never_changed_together(seed, logC, logscale, r, mask):
    """At the clean node and every node one flip below it, no conflicting pair is changed
    together by any ``≤ r`` further flips; kernels scaled by 1e-3…1e3, threat masks."""
    K, y, K_test, C = straddling(seed, logC=logC, logscale=logscale)
    n = len(y)
    flippable = np.random.default_rng(seed).random(n) < 0.7 if mask else np.ones(n, bool)
    for base in itertools.chain([()], ((i,) for i in np.flatnonzero(flippable))):
        _verified_conflicts(K, y, K_test, C, base, r, flippable)


def test_pair_conflicts_occur_and_hold():
    """Not vacuous: on these instances (``C`` small enough that the prediction along ``u``
    is robust) there are conflicts, and each holds (brute force)."""
    found = 0
    for seed in range(3):
        K, y, K_test, C = straddling(seed, logC=-1.0)
        for base in itertools.chain([()], itertools.combinations(range(len(y)), 1)):
            found += _verified_conflicts(K, y, K_test, C, base, 1, np.ones(len(y), bool))
    assert found > 0


@SETTINGS
@given(seed=st.integers(0, 10_000), logC=st.floats(-1.5, 1.0), logscale=st.floats(-3.0, 3.0),
       mask=st.booleans(), cost=st.booleans(), seeded=st.booleans())
def test_collective_search_with_pairs_equals_brute_force(seed, logC, logscale, mask, cost,
                                                         seeded):
    """The pairs computed at every node (gate always on): the counts stay exact and each
    witness is admissible and replays, under masks and costs, kernels scaled by 1e-3…1e3."""
    rng = np.random.default_rng(seed)
    K, y, K_test, C = straddling(seed, logC=logC, logscale=logscale)
    n = len(y)
    threat = ThreatModel(flippable=rng.random(n) < 0.7 if mask else None,
                         cost=rng.choice([1.0, 1.5, 2.0], n) if cost else None)
    prob = Problem.create(K, y, K_test, C, threat=threat)
    y0 = prob.y_pm
    alpha0 = solve_svm_dual(prob.K, y0, prob.C).alpha
    signs = np.where(prob.K_test @ (y0 * alpha0) >= 0, 1.0, -1.0)
    budgets = [1, 2, 3]
    start = None
    sets = [S for S in _sets(prob, 3) if S]
    if seeded and sets:
        S0 = sets[rng.integers(len(sets))]
        yy = y0.copy()
        yy[list(S0)] *= -1
        start = (int(np.sum(_margins(prob, yy, signs) <= 0)), np.array(S0),
                 float(prob.threat.cost[list(S0)].sum()))
    with search_gates("always"):
        count, wit, complete, _ = search_collective(prob, alpha0, signs, budgets,
                                                    KernelGeometry(prob.K), incumbent=start)
    assert complete
    for j, B in enumerate(budgets):
        best = 0
        for S in _sets(prob, B):
            yy = y0.copy()
            yy[list(S)] *= -1
            best = max(best, int(np.sum(_margins(prob, yy, signs) <= 0)))
        assert count[j] == best
        assert prob.threat.admissible(np.array(wit[j], dtype=int), B)
        yy = y0.copy()
        yy[list(wit[j])] *= -1
        tol = 1e-9 * prob.C * np.abs(prob.K_test).sum(axis=1)
        assert int(np.sum(_margins(prob, yy, signs) <= tol)) >= count[j]


def _search_budget_2(seed: int, seen: list) -> None:
    """The collective search at budget 2 on :func:`straddling` ``seed`` (cover bounds spied
    into ``seen``) equals brute force."""
    K, y, K_test, C = straddling(seed)
    prob = Problem.create(K, y, K_test, C)
    y0 = prob.y_pm
    alpha0 = solve_svm_dual(prob.K, y0, prob.C).alpha
    signs = np.where(prob.K_test @ (y0 * alpha0) >= 0, 1.0, -1.0)
    with _spy_cover(seen):
        count, _, complete, _ = search_collective(prob, alpha0, signs, [2],
                                                  KernelGeometry(prob.K))
    assert complete
    best = max(int(np.sum(_margins(prob, y0 * np.where(np.isin(np.arange(len(y0)), S),
                                                         -1.0, 1.0), signs) <= 0))
               for S in _sets(prob, 2))
    assert count[0] == best


def test_pairs_lower_the_count_bound_and_keep_it_exact():
    """Not vacuous: on these instances the pairs lower the count bound at some nodes, and
    the counts equal brute force."""
    seen: list = []
    for seed in range(4):
        _search_budget_2(seed, seen)
    assert sum(seen) > 0


def test_no_pairs_past_the_row_limit(monkeypatch):
    """Above ``MAX_PAIR_ROWS`` rows the search builds no pairs (their number grows as
    rows²) and stays exact."""
    monkeypatch.setattr(_search, "MAX_PAIR_ROWS", 3)
    seen: list = []
    _search_budget_2(0, seen)
    assert seen == []
