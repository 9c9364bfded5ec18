"""Knuth's tree estimate (the search cost model) is unbiased for the search's retrained
nodes: on instances whose open rows are robust (no witness closes rows, so the pruning is
static) the mean over many dives equals the nodes ``search_binary`` retrains."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from certmodel.labelcert._problem import Problem
from certmodel.labelcert._search import search_binary
from certmodel.labelcert._stability import KernelGeometry
from certmodel.labelcert._treesize import estimate_binary_search
from certmodel.learners import solve_svm_dual
from tests.labelcert.oracles import random_instance


def _clustered(seed, n, m=8):
    """Two Gaussian clusters (labels = cluster, a few noisy): many robust test points."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, n + m)
    X = rng.normal(size=(n + m, 3)) + 1.2 * (2 * lab[:, None] - 1)
    y = np.where(lab[:n] == 1, 1, -1)
    y[rng.random(n) < 0.1] *= -1
    Kf = X @ X.T + 0.3 * np.eye(n + m)
    return Kf[:n, :n], y, Kf[n:, :n]


def _robust_rows_instance(seed, n, C, B, cut=False):
    K, y, K_test = _clustered(seed, n) if seed >= 0 else random_instance(-seed, n, m=8)
    prob = Problem.create(K, y, K_test, C)
    a0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    s = np.where(prob.K_test @ (prob.y_pm * a0) >= 0, 1.0, -1.0)
    eps = 1e-6 * prob.C * np.abs(prob.K_test).sum(axis=1)
    geo = KernelGeometry(prob.K)
    geo.cut_bound = cut
    res = search_binary(prob, a0, s, np.arange(8), [B], np.ones((8, 1), bool), eps, geo)
    rows = np.flatnonzero(np.minimum(res.visited, res.pruned)[:, 0] > eps)
    return prob, a0, s, eps, geo, rows


@pytest.mark.parametrize("cut", [False, True])
def test_estimate_matches_the_searched_tree(cut):
    """``cut``: the search and the estimate also prune by (B4)."""
    checked = 0
    for seed in range(40):
        prob, a0, s, eps, geo, rows = _robust_rows_instance(seed, 14, 0.05, 3, cut)
        if not len(rows):
            continue
        res = search_binary(prob, a0, s, rows, [3], np.ones((len(rows), 1), bool), eps, geo)
        assert res.complete.all()
        if res.nodes < 40:
            continue
        est, secs = estimate_binary_search(prob, a0, s, rows, 3, eps, geo, dives=400, seed=1)
        assert abs(est - res.nodes) <= 0.2 * res.nodes, (seed, est, res.nodes)
        assert secs > 0
        checked += 1
        if checked == 3:
            return
    raise AssertionError(f"only {checked} instances with a non-trivial robust tree")


def test_estimate_without_bound_or_rows():
    prob, a0, s, eps, geo, rows = _robust_rows_instance(1, 8, 2.0, 2)
    assert estimate_binary_search(prob, a0, s, rows, 2, eps, None) == (np.inf, np.inf)
    assert estimate_binary_search(prob, a0, s, np.zeros(0, int), 2, eps, geo) == \
        (np.inf, np.inf)


def test_points_rejected_together_are_planned_and_searched_alone(monkeypatch):
    """When the joint plan rejects a budget (one hard point makes the shared tree too big),
    every point still open is planned against its own allowance and searched alone; the
    verdicts are the exact search's."""
    import certmodel.labelcert._searchpath as sp
    from certmodel.labelcert import LabelCertOptions
    from certmodel.results import Verdict

    prob, a0, s, eps, geo, robust = _robust_rows_instance(3, 30, 0.2, 3)
    sizes = []

    def estimate(prob_, alpha0, signs, rows, B, eps_, geo_, **kw):
        sizes.append(len(rows))  # the joint tree "too big", a single point's tree cheap
        return (1e15, 1e15) if len(rows) > 1 else (1.0, 0.0)

    monkeypatch.setattr(sp, "estimate_binary_search", estimate)
    monkeypatch.setattr(sp, "retrain_cost", lambda *a: 1e-2)  # C(30, ≤3) × 10 ms > 8 × 1 s
    dec, paths = {}, {}

    def put(t, B, verdict, value, kind, path, **kw):
        dec[(t, B)] = verdict
        paths[(t, B)] = path

    opts = LabelCertOptions(time_limit=1.0)
    sp.binary_search_records(prob, opts, a0, s, [3], dec, put, eps, np.zeros(prob.m), True)
    assert sizes[0] == prob.m and set(sizes[1:]) == {1}
    assert len(sizes) == 1 + prob.m
    exact = search_binary(prob, a0, s, np.arange(prob.m), [3], np.ones((prob.m, 1), bool),
                          eps, geo)
    low = np.minimum(exact.visited, exact.pruned)[:, 0]
    for t in range(prob.m):
        assert str(paths[(t, 3)]) == "search"
        want = Verdict.ROBUST if low[t] > eps[t] else Verdict.NOT_ROBUST
        assert dec[(t, 3)] == want
    assert set(np.flatnonzero(low > eps)) == set(robust)


def _joint_tree_times_out(monkeypatch, limit: float):
    """Run :func:`binary_search_records` at budgets 2 and 3 with every plan accepting and
    every joint tree (more than one row) timing out without a verdict; returns ``(sp,
    calls, dec)``: the ``(rows, B, time_limit)`` of each search call and the records, after
    checking every record against the exact search."""
    import certmodel.labelcert._searchpath as sp
    from certmodel.labelcert import LabelCertOptions
    from certmodel.labelcert._search import SearchResult
    from certmodel.results import Verdict

    prob, a0, s, eps, geo, robust = _robust_rows_instance(3, 30, 0.2, 3)
    monkeypatch.setattr(sp, "estimate_binary_search", lambda *a, **k: (1.0, 0.0))
    monkeypatch.setattr(sp, "retrain_cost", lambda *a: 1e-2)
    calls, dec = [], {}
    real = sp._search

    def spy(prob_, opts_, alpha0, signs, rows, B, eps_, geo_, time_limit, split):
        calls.append((len(rows), B, time_limit))
        if len(rows) > 1:  # the joint tree: times out, decides nothing
            R = len(rows)
            return SearchResult(np.array([B], float), np.full((R, 1), np.inf),
                                np.full((R, 1), np.inf), [[None] for _ in range(R)],
                                np.zeros(R, bool))
        return real(prob_, opts_, alpha0, signs, rows, B, eps_, geo_, time_limit, split)

    def put(t, B, verdict, value, kind, path, flips=None, **kw):  # a record's fields
        relabelling = None if flips is None else tuple(np.flatnonzero(flips))
        dec[(t, B)] = SimpleNamespace(verdict=verdict, value=value, relabelling=relabelling)

    monkeypatch.setattr(sp, "_search", spy)
    sp.binary_search_records(prob, LabelCertOptions(time_limit=limit), a0, s, [2, 3], dec,
                             put, eps, np.zeros(prob.m), True)
    exact = search_binary(prob, a0, s, np.arange(prob.m), [2, 3],
                          np.ones((prob.m, 2), bool), eps, geo)
    low = np.minimum(exact.visited, exact.pruned)
    for t in range(prob.m):
        for j, B in enumerate([2, 3]):
            want = Verdict.ROBUST if low[t, j] > eps[t] else Verdict.NOT_ROBUST
            assert dec[(t, B)].verdict == want
    return sp, calls, dec


def test_a_joint_tree_gets_part_of_one_records_time_and_leaves_what_it_misses_to_the_points(
        monkeypatch):
    """The joint search of all open points is allowed JOINT_SHARE of one record's MILP time
    (not the sum over the records); when it times out (simulated), every point still open
    is planned and searched alone, with the exact search's verdicts."""
    sp, calls, dec = _joint_tree_times_out(monkeypatch, 1.0)
    joint = [tl for n, _, tl in calls if n > 1]
    assert joint and all(tl <= sp.JOINT_SHARE + 1e-9 for tl in joint)  # not 2 m
    m = len({t for t, _ in dec})
    assert calls[0][0] == m and len(calls) - len(joint) >= m  # then every point alone


def test_records_alone_share_the_time_the_easy_ones_leave(monkeypatch):
    """Searched alone, each record's allowance is an equal share of the MILP time left for
    the open records still to go, at most ``POOLED_MOST`` × its own: the points that come
    later get what the earlier, finished searches left (more than one point's time), never
    more than the cap, and the verdicts are the exact search's."""
    limit = 1.0
    sp, calls, _ = _joint_tree_times_out(monkeypatch, limit)
    caps = [tl for n, _, tl in calls if n == 1]
    assert caps and all(c <= sp.POOLED_MOST * limit + 1e-9 for c in caps)
    assert max(caps) > 1.2 * limit  # what the finished searches left
    assert caps[0] < limit  # the first record: its share of the pool, not more


def _rejecting(monkeypatch):
    """Every plan rejects (tree estimate and count far above any allowance)."""
    import certmodel.labelcert._searchpath as sp

    monkeypatch.setattr(sp, "estimate_binary_search", lambda *a, **k: (1e15, 1e15))
    monkeypatch.setattr(sp, "retrain_cost", lambda *a: 1e3)
    return sp


def test_rejected_points_are_still_searched_for_part_of_their_allowance(monkeypatch):
    """Where even a point's own plan rejects its budgets (estimates are heavy-tailed), it is
    searched for FALLBACK_SHARE of its MILP allowance: a finished search gives the exact
    verdicts; without a time limit there is no fallback (the MILP runs to the end)."""
    from certmodel.labelcert import LabelCertOptions
    from certmodel.results import Verdict

    sp = _rejecting(monkeypatch)
    prob, a0, s, eps, geo, robust = _robust_rows_instance(3, 30, 0.2, 3)
    caps = []
    real = sp._search

    def spy(prob_, opts_, alpha0, signs, rows, B, eps_, geo_, time_limit, split):
        caps.append(time_limit)
        return real(prob_, opts_, alpha0, signs, rows, B, eps_, geo_, time_limit, split)

    monkeypatch.setattr(sp, "_search", spy)
    for limit, search_time in ((None, None), (4.0, 0.7), (4.0, None)):
        dec, caps[:] = {}, []

        def put(t, B, verdict, value, kind, path, dec=dec, **kw):
            dec[(t, B)] = verdict

        opts = LabelCertOptions(time_limit=limit, search_time=search_time)
        got = sp.binary_search_records(prob, opts, a0, s, [3], dec, put, eps,
                                       np.zeros(prob.m), True)
        if limit is None:
            assert got == set() and not dec and not caps
            continue
        assert got == set(range(prob.m)) and len(caps) == prob.m
        cap = search_time if search_time is not None else sp.FALLBACK_SHARE * limit
        assert all(c <= cap + 1e-9 for c in caps)  # an explicit search_time caps it
    exact = search_binary(prob, a0, s, np.arange(prob.m), [3], np.ones((prob.m, 1), bool),
                          eps, geo)
    low = np.minimum(exact.visited, exact.pruned)[:, 0]
    for t in range(prob.m):
        assert dec[(t, 3)] == (Verdict.ROBUST if low[t] > eps[t] else Verdict.NOT_ROBUST)


def test_milps_after_a_fallback_search_get_the_rest_of_their_time(monkeypatch):
    """The fallback search timed out (simulated): the point's MILPs run with
    ``(1 − FALLBACK_SHARE) · time_limit``."""
    import certmodel.labelcert._samplewise as sw
    from certmodel import labelcert
    from certmodel.labelcert import LabelCertOptions
    from certmodel.labelcert._search import SearchResult

    sp = _rejecting(monkeypatch)

    def timed_out(prob_, opts_, alpha0, signs, rows, B, *a, **k):
        R = len(rows)
        return SearchResult(np.array([B], float), np.full((R, 1), np.inf),
                            np.full((R, 1), np.inf), [[None] for _ in range(R)],
                            np.zeros(R, bool))

    monkeypatch.setattr(sp, "_search", timed_out)
    limits = []
    real = sw._milp_decide

    def spy(*a, **k):
        opt = a[9] if len(a) > 9 else k.get("options")
        limits.append(None if opt is None else opt.time_limit)
        return real(*a, **k)

    monkeypatch.setattr(sw, "_milp_decide", spy)
    K, y, K_test = _clustered(4, 24, m=3)
    opts = LabelCertOptions(time_limit=2.0, attack=False, max_enumeration=0)
    recs = labelcert.certify(K, y, K_test, 0.5, [3], options=opts)
    assert limits and all(v == (1 - sp.FALLBACK_SHARE) * 2.0 for v in limits)
    assert len(recs) == 3
