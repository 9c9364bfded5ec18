"""The inexact multiclass relaxation decided by binary relabelling searches
(:func:`certmodel.labelcert._multiclass._relaxation_searched`, path ``search``).

Oracle: the relaxation itself by brute force — per one-vs-rest problem, every admissible flip
set of its ±1 labels (threat model projected as the MILPs do), exact retraining; ``L`` the
worst top-class logit, ``U`` the best rival logit.  A robust record's value must be a lower
bound of ``L − U`` (and the exact multiclass worst margin must then be positive).
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel import labelcert
from certmodel.labelcert import LabelCertOptions
from certmodel.labelcert._multiclass import (
    _clean,
    _ovr_threat,
    _relaxation_searched,
    class_bounds,
)
from certmodel.labelcert._problem import Problem
from certmodel.labelcert._stability import KernelGeometry
from certmodel.results import Path, Verdict
from tests.labelcert.oracles import clustered_multiclass, random_instance, retrain_logits
from tests.threat.oracles import admissible_sets, brute_multiclass_threat

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute_class(prob: Problem, k: int, sign: np.ndarray, budget) -> np.ndarray:
    """``min sign_t f_k(t)`` per test row over class ``k``'s admissible flip sets."""
    th = _ovr_threat(prob, k)
    yk = np.where(prob.codes == k, 1.0, -1.0)
    best = np.full(prob.m, np.inf)
    for S in admissible_sets(th, budget):
        yy = yk.copy()
        yy[list(S)] *= -1
        best = np.minimum(best, sign * retrain_logits(prob.K, yy, prob.C, prob.K_test))
    return best


def brute_relaxation(prob: Problem, t: int, top: int, budget) -> float:
    """``min f_top − max_{k≠top} max f_k`` over the per-class relaxations."""
    vals = {}
    for k in range(prob.n_classes):
        sign = np.full(prob.m, 1.0 if k == top else -1.0)
        vals[k] = sign[t] * brute_class(prob, k, sign, budget)[t]
    return vals[top] - max(v for k, v in vals.items() if k != top)


@contextlib.contextmanager
def _split_inline(parts: int):
    """Every class search of the relaxation runs split into ``parts`` parts, in this process
    (the split itself; processes are checked in
    :func:`test_relaxation_split_over_processes_keeps_the_records`)."""
    import certmodel.labelcert._multiclass as mc
    import certmodel.labelcert._searchpath as sp

    real = mc.search_binary_split
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sp, "SPLIT_MIN_SECONDS", 0.0)
        mp.setattr(mc, "search_binary_split",
                   lambda *a, **kw: real(*a, **{**kw, "workers": 1, "parts": parts}))
        yield LabelCertOptions(search_workers=2)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(5, 7), C=st.sampled_from([0.05, 0.5, 5.0]),
       threat_kind=st.sampled_from(["none", "mask", "cost", "targets"]), B=st.integers(1, 2),
       shift=st.floats(0.0, 1.0), parts=st.integers(0, 3))
def test_class_bounds_equal_or_bound_brute_force(seed, n, C, threat_kind, B, shift, parts):
    """Per class: ``ok`` iff brute force stays above the threshold; the bound never exceeds
    the brute-force minimum and equals it when the minimiser was visited.  ``parts > 0``:
    the pruned search split into that many parts (``search_workers``)."""
    K, labels, K_test, threat = _instance(seed, n, threat_kind)
    prob = Problem.create(K, labels, K_test, C, threat=threat)
    alphas, F, tops, _ = _clean(prob)
    geo = KernelGeometry(prob.K)
    rows = np.arange(prob.m)
    for k in range(3):
        sign = np.where(tops == k, 1.0, -1.0)
        f0 = sign * F[:, k]
        offset = f0 - shift * np.abs(f0) - 1e-3  # thresholds below the clean values
        if parts:
            with _split_inline(parts) as opts:
                got = class_bounds(prob, k, alphas[k], sign, offset, rows, B, geo, 60.0, opts)
        else:
            got = class_bounds(prob, k, alphas[k], sign, offset, rows, B, geo, 60.0)
        assert got is not None
        ok, bound = got
        truth = brute_class(prob, k, sign, B)
        tol = 1e-6 * (1 + C * np.abs(K_test).sum(axis=1))
        np.testing.assert_array_equal(ok, truth > offset + tol) if (
            np.abs(truth - offset) > tol).all() else None
        assert (bound[ok] <= truth[ok] + tol[ok]).all()
        # without pruning every relabelling is visited: the bound is the minimum itself
        ok2, exact = class_bounds(prob, k, alphas[k], sign, offset, rows, B, None, 60.0)
        np.testing.assert_array_equal(ok2, ok)
        np.testing.assert_allclose(exact[ok], truth[ok], atol=1e-9, rtol=1e-7)


def _instance(seed, n, threat_kind):
    """Three separated classes (so that the relaxation can prove something), test points near
    the class means."""
    return clustered_multiclass(seed, n, threat_kind=threat_kind)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(5, 7), C=st.sampled_from([0.05, 0.5, 5.0]),
       threat_kind=st.sampled_from(["none", "mask", "cost", "targets"]))
def test_relaxation_search_is_a_valid_bound_of_the_relaxation(seed, n, C, threat_kind):
    K, labels, K_test, threat = _instance(seed, n, threat_kind)
    prob = Problem.create(K, labels, K_test, C, threat=threat)
    alphas, F, tops, margins0 = _clean(prob)
    opts = LabelCertOptions()
    eps = opts.eps * prob.logit_bounds() * 2.0
    budgets = [1.0, 2.0] if threat_kind == "cost" else [1, 2]
    out = _relaxation_searched(prob, budgets, opts, alphas, F, tops, margins0, eps,
                               prob.classes[tops], {})
    resolved = prob.threat
    for (t, B), rec in out.items():
        assert rec.verdict is Verdict.ROBUST and rec.path is Path.SEARCH
        relax = brute_relaxation(prob, t, tops[t], B)
        tol = 1e-6 * (1 + 2 * C * np.abs(K_test[t]).sum())
        assert rec.value <= relax + tol, (t, B, rec.value, relax)
        assert relax > 0
        worst, _ = brute_multiclass_threat(K, labels, 3, C, K_test[t:t + 1], B, resolved)
        assert worst[0] > -tol


def test_relaxation_search_decides_robust_records_in_the_pipeline():
    # a wide margin instance: the relaxation proves budget 1; the records say so
    K, _, K_test = random_instance(2, 7, m=3)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    prob = Problem.create(K, labels, K_test, 0.3)
    alphas, F, tops, margins0 = _clean(prob)
    opts = LabelCertOptions()
    eps = opts.eps * prob.logit_bounds() * 2.0
    out = _relaxation_searched(prob, [1, 2], opts, alphas, F, tops, margins0, eps,
                               prob.classes[tops], {})
    for (t, B), rec in out.items():
        assert brute_relaxation(prob, t, tops[t], B) >= rec.value - 1e-9
    recs = labelcert.certify(K, labels, K_test, 0.3, [1, 2], mode="multiclass-inexact",
                             options=LabelCertOptions(max_enumeration=0))
    by = {(r.test_index, r.budget): r for r in recs}
    for t, B in out:
        assert by[(t, B)].verdict is Verdict.ROBUST


def test_relaxation_search_off_when_search_never():
    K, labels, K_test, _ = _instance(1, 6, "none")
    prob = Problem.create(K, labels, K_test, 0.5)
    alphas, F, tops, margins0 = _clean(prob)
    opts = LabelCertOptions(search="never")
    assert _relaxation_searched(prob, [1], opts, alphas, F, tops, margins0,
                                np.zeros(prob.m), prob.classes[tops], {}) == {}
    assert dataclasses.is_dataclass(opts)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), threat_kind=st.sampled_from(["none", "mask", "targets"]))
def test_exact_multiclass_uses_the_relaxation_soundly(seed, threat_kind):
    """Exact mode: a record proven by the relaxation is robust by exact brute force (the
    exact search is switched off so that the relaxation decides what it can)."""
    import certmodel.labelcert._multiclass as mc

    K, labels, K_test, threat = _instance(seed, 6, threat_kind)
    original = mc.multiclass_search_records
    mc.multiclass_search_records = lambda *a, **k: None
    try:
        recs = labelcert.certify(K, labels, K_test, 0.5, [1, 2], mode="multiclass",
                                 threat=threat, options=LabelCertOptions(max_enumeration=0))
    finally:
        mc.multiclass_search_records = original
    resolved = Problem.create(K, labels, K_test, 0.5, threat=threat).threat
    for r in recs:
        if r.extra.get("relaxation") == "inexact":
            assert r.verdict is Verdict.ROBUST and r.path is Path.SEARCH
            worst, _ = brute_multiclass_threat(K, labels, 3, 0.5,
                                               K_test[r.test_index:r.test_index + 1],
                                               r.budget, resolved)
            assert worst[0] > 0 and r.value <= worst[0] + 1e-9


def test_relaxation_split_over_processes_keeps_the_records(monkeypatch):
    """``search_workers=2``: a class search that outlasts ``SPLIT_MIN_SECONDS`` (0 here)
    runs again over two processes; the relaxation's records are the in-process ones."""
    import certmodel.labelcert._multiclass as mc
    import certmodel.labelcert._searchpath as sp

    calls, real = [], mc.search_binary_split

    def spy(*a, **kw):
        calls.append(kw["workers"])
        return real(*a, **kw)

    K, labels, K_test, _ = _instance(3, 9, "none")
    prob = Problem.create(K, labels, K_test, 0.5)
    alphas, F, tops, margins0 = _clean(prob)
    eps = LabelCertOptions().eps * prob.logit_bounds() * 2.0
    args = (prob, [1, 2])
    rest = (alphas, F, tops, margins0, eps, prob.classes[tops], {})
    one = _relaxation_searched(*args, LabelCertOptions(), *rest)
    monkeypatch.setattr(sp, "SPLIT_MIN_SECONDS", 0.0)
    monkeypatch.setattr(mc, "search_binary_split", spy)
    two = _relaxation_searched(*args, LabelCertOptions(search_workers=2), *rest)
    assert calls and set(calls) == {2}
    assert one.keys() == two.keys() and one
    for key in one:
        assert one[key].verdict is two[key].verdict
        np.testing.assert_allclose(two[key].value, one[key].value, rtol=1e-9, atol=1e-12)
