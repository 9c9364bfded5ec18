"""Finite Aggregation: DPA reduction at d = 1, soundness by brute force, bad inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.ensemble import (
    certify_ensemble,
    certify_fa_ensemble,
    count_votes,
    dpa_radius,
    fa_buckets,
    fa_radius,
    fa_shifts,
    fa_spread,
    fa_training_sets,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.scalabel import krr_weights


@st.composite
def fa_instances(draw, max_kd=8, max_K=4, max_m=4):
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, max(1, max_kd // d)))
    kd = k * d
    K = draw(st.integers(2, max_K))
    m = draw(st.integers(1, max_m))
    bp = np.array(draw(st.lists(st.lists(st.integers(0, K - 1), min_size=kd, max_size=kd),
                                min_size=m, max_size=m)), dtype=np.int64)
    shifts = draw(st.lists(st.integers(0, kd - 1), min_size=d, max_size=d, unique=True))
    return bp, k, d, K, shifts


def paper_loop(bp_row, a, K, spread):
    """The released FA code's loop (FiniteAggregation_cerfity.py), written independently."""
    v = np.bincount(bp_row, minlength=K)
    best = spread.shape[0] + 10
    for c in range(K):
        if c == a:
            continue
        diff = v[a] - v[c] - (1 if c < a else 0)
        V = bp_row[spread]
        deltas = np.sort((1 + (V == a).astype(int) - (V == c).astype(int)).sum(axis=1))[::-1]
        r = 0
        while r < deltas.size and diff - deltas[r] >= 0:
            diff -= deltas[r]
            r += 1
        best = min(best, r)
    return best


@settings(max_examples=150, deadline=None)
@given(k=st.integers(1, 12), K=st.integers(2, 5), m=st.integers(1, 6),
       shift=st.integers(0, 11), seed=st.integers(0, 2**32 - 1))
def test_d1_is_dpa(k, K, m, shift, seed):
    bp = np.random.default_rng(seed).integers(0, K, (m, k))
    r = fa_radius(bp, k, 1, shifts=[shift % k], n_classes=K)
    np.testing.assert_array_equal(r, dpa_radius(count_votes(bp, K), P=k))
    np.testing.assert_array_equal(fa_radius(bp, k, 1, n_classes=K), r)  # paper shifts too


@settings(max_examples=120, deadline=None)
@given(inst=fa_instances())
def test_radius_matches_paper_greedy_and_is_sound(inst):
    """Brute force over the buckets the adversary corrupts: each corrupted bucket lets its d
    learners vote anything; no set of at most ρ buckets may change the ensemble vote."""
    bp, k, d, K, shifts = inst
    kd = k * d
    spread = fa_spread(k, d, shifts)
    rad = fa_radius(bp, k, d, shifts=shifts, n_classes=K)
    votes = count_votes(bp, K)
    for t in range(bp.shape[0]):
        a = int(np.argmax(votes[t]))
        assert rad[t] == paper_loop(bp[t], a, K, spread)
        assert 0 <= rad[t] < kd
        # soundness: every set S of rad[t] buckets (supersets are stronger, so size = rad)
        for S in itertools.combinations(range(kd), int(rad[t])):
            hit = np.unique(spread[list(S)].ravel()) if S else np.zeros(0, dtype=int)
            keep = np.delete(bp[t], hit)
            for b in range(K):
                v = np.bincount(keep, minlength=K)
                v[b] += hit.size
                assert int(np.argmax(v)) == a, (S, b)


@settings(max_examples=60, deadline=None)
@given(inst=fa_instances(max_kd=6))
def test_d1_radius_is_tight(inst):
    """At d = 1 (DPA) some set of ρ + 1 corrupted buckets does change the vote."""
    bp, k, d, K, shifts = inst
    if d != 1:
        return
    spread = fa_spread(k, d, shifts)
    rad = fa_radius(bp, k, d, shifts=shifts, n_classes=K)
    votes = count_votes(bp, K)
    for t in range(bp.shape[0]):
        a = int(np.argmax(votes[t]))
        # DPA is tight: some set of rad + 1 buckets flips the vote
        found = False
        for S in itertools.combinations(range(k), int(rad[t]) + 1):
            hit = np.unique(spread[list(S)].ravel())
            keep = np.delete(bp[t], hit)
            for b in range(K):
                v = np.bincount(keep, minlength=K)
                v[b] += hit.size
                found |= int(np.argmax(v)) != a
        assert found


def test_spread_and_training_sets():
    k, d = 3, 2
    s = fa_shifts(k, d, "consecutive")
    np.testing.assert_array_equal(s, [0, 1])
    np.testing.assert_array_equal(fa_spread(k, d, s)[4], [4, 5])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    b = fa_buckets(X, k, d)
    sets = fa_training_sets(b, k, d, "paper")
    assert len(sets) == 6
    # each point is used by exactly d learners, learner i by buckets (i - s_j) mod kd
    counts = np.bincount(np.concatenate(sets), minlength=40)
    np.testing.assert_array_equal(counts, d)
    sp = fa_spread(k, d)
    for i, I in enumerate(sets):
        assert set(b[I].tolist()) <= {h for h in range(6) if i in sp[h]}
    # buckets depend on the features only (sorted: balanced)
    sb = fa_buckets(X, k, d, partitioner="sorted")
    assert np.bincount(sb, minlength=6).max() - np.bincount(sb, minlength=6).min() <= 1


def test_bad_inputs():
    bp = np.zeros((2, 6), dtype=int)
    with pytest.raises(InvalidParameterError, match="k\\*d = 2\\*2 = 4 columns"):
        fa_radius(bp, 2, 2)
    with pytest.raises(InvalidParameterError, match="integer"):
        fa_radius(bp.astype(float), 3, 2)
    with pytest.raises(InvalidParameterError, match="k == 0"):
        fa_radius(bp, 0, 2)
    with pytest.raises(InvalidParameterError, match="d == 0"):
        fa_shifts(3, 0)
    with pytest.raises(InvalidParameterError, match="d = 2 offsets"):
        fa_radius(bp, 3, 2, shifts=[1])
    with pytest.raises(InvalidParameterError, match="distinct"):
        fa_radius(bp, 3, 2, shifts=[1, 1])
    with pytest.raises(InvalidParameterError, match="0..5"):
        fa_radius(bp, 3, 2, shifts=[0, 6])
    with pytest.raises(InvalidParameterError, match="unknown shifts"):
        fa_shifts(3, 2, "stride")
    with pytest.raises(InvalidParameterError, match="outside 0..1"):
        fa_radius(np.full((1, 6), 2), 3, 2, n_classes=2)
    with pytest.raises(InvalidParameterError, match="no training point"):
        fa_training_sets(np.zeros(5, dtype=int), 4, 1)
    with pytest.raises(InvalidParameterError, match="0..3"):
        fa_training_sets(np.array([0, 4]), 2, 2)


def linear_kernel(A, B):
    return A @ B.T + 1.0


def data(seed, n=60, m=12, dim=3, K=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, dim))
    w = rng.normal(size=(dim, K))
    y = np.argmax(X @ w + 0.3 * rng.normal(size=(n + m, K)), axis=1)
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("K, learner", [(2, "krr"), (3, "krr"), (3, "svm")])
def test_pipeline_d1_equals_dpa_ensemble(K, learner):
    Xtr, ytr, Xte, yte = data(1, K=K)
    k = 4
    fa = certify_fa_ensemble(Xtr, ytr, Xte, k=k, d=1, learner=learner, kernel=linear_kernel,
                             y_test=yte, lam=0.1, shifts=[1])
    dp = certify_ensemble(Xtr, ytr, Xte, partitions=k, learner=learner, kernel=linear_kernel,
                          y_test=yte, lam=0.1)
    np.testing.assert_array_equal(fa.votes, dp.votes)
    np.testing.assert_array_equal(fa.radius, dp.blackbox_radius)
    # learner i trains on bucket (i - 1) mod k = DPA partition (i - 1) mod k
    np.testing.assert_array_equal(fa.base_pred, np.roll(dp.base_pred, 1, axis=1))
    assert fa.mcr() == dp.mcr("blackbox")


def test_pipeline_sound_against_real_label_flips():
    """End to end: retraining the FA ensemble after every flip set of size ≤ ρ keeps the vote."""
    Xtr, ytr, Xte, _ = data(5, n=16, m=20, K=2)
    k, d, lam = 4, 2, 0.2
    res = certify_fa_ensemble(Xtr, ytr, Xte, k=k, d=d, kernel=linear_kernel, lam=lam,
                              partitioner="sorted")
    sets = fa_training_sets(res.buckets, k, d, res.shifts)

    def vote(labels):
        v = np.zeros((len(Xte), 2), dtype=int)
        for I in sets:
            W = krr_weights(linear_kernel(Xtr[I], Xtr[I]), linear_kernel(Xte, Xtr[I]), lam)
            f = W @ np.where(labels[I] == 1, 1.0, -1.0)
            v[np.arange(len(Xte)), (f > 0).astype(int)] += 1
        return np.argmax(v, axis=1)

    np.testing.assert_array_equal(vote(ytr), res.prediction)
    checked = 0
    for r in range(1, int(res.radius.max()) + 1):
        rows = np.flatnonzero(res.radius >= r)
        for S in itertools.combinations(range(len(ytr)), r):
            lab = ytr.copy()
            lab[list(S)] = 1 - lab[list(S)]
            np.testing.assert_array_equal(vote(lab)[rows], res.prediction[rows])
            checked += 1
    assert checked > 16  # some test point has radius >= 2


def test_pipeline_bad_inputs():
    Xtr, ytr, Xte, yte = data(3)
    with pytest.raises(InvalidParameterError, match="buckets for 60"):
        certify_fa_ensemble(Xtr, ytr, Xte, k=40, d=2, kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="costs_from_certifier"):
        certify_fa_ensemble(Xtr, ytr, Xte, k=2, d=2, learner="svm", C=10.0,
                            kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="y_test"):
        certify_fa_ensemble(Xtr, ytr, Xte, k=2, d=2, y_test=yte[:-1], kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="C_factor == 1.5"):
        certify_fa_ensemble(Xtr, ytr, Xte, k=2, d=2, learner="svm", C_factor=1.5)


def test_dpa_svm_outside_saturated_regime_points_to_labelcert():
    Xtr, ytr, Xte, _ = data(4)
    with pytest.raises(InvalidParameterError,
                       match="partition 0 .*saturated.*costs_from_certifier"):
        certify_ensemble(Xtr, ytr, Xte, partitions=3, learner="svm", C=10.0,
                         kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="C_factor == 0"):
        certify_ensemble(Xtr, ytr, Xte, partitions=3, learner="svm", C_factor=0.0)
