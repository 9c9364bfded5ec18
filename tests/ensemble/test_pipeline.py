"""Partitioners, cost adapters and the end-to-end ensemble certificate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.ensemble import (
    certify_ensemble,
    costs_from_certifier,
    costs_from_minflips,
    hash_partition,
    median_certified_robustness,
    partition_indices,
    sorted_partition,
    whitebox_radius,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.scalabel import certify, krr_weights, min_flips


def linear_kernel(A, B):
    return A @ B.T + 1.0


def data(seed, n=120, m=30, d=4, K=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    w = rng.normal(size=(d, K))
    y = np.argmax(X @ w + 0.5 * rng.normal(size=(n + m, K)), axis=1)
    return X[:n], y[:n], X[n:], y[n:]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), P=st.integers(1, 6))
def test_partitioners_depend_on_rows_only(seed, P):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 3))
    h = hash_partition(X, P, allow_empty=True)
    perm = rng.permutation(30)
    # a row's hash partition does not depend on the other rows or their order
    np.testing.assert_array_equal(hash_partition(X[perm], P, allow_empty=True), h[perm])
    s = sorted_partition(X, P)
    np.testing.assert_array_equal(sorted_partition(X[perm], P), s[perm])
    assert np.bincount(s, minlength=P).max() - np.bincount(s, minlength=P).min() <= 1


def test_partition_unchanged_by_labels():
    Xtr, ytr, Xte, yte = data(0)
    for partitioner in ("hash", "sorted"):
        a = certify_ensemble(Xtr, ytr, Xte, partitions=4, kernel=linear_kernel,
                             partitioner=partitioner)
        b = certify_ensemble(Xtr, 1 - ytr, Xte, partitions=4, kernel=linear_kernel,
                             partitioner=partitioner)
        np.testing.assert_array_equal(a.partition, b.partition)


def test_empty_partitions_are_refused():
    X = np.arange(6.0)[:, None]
    with pytest.raises(InvalidParameterError, match="empty"):
        hash_partition(X, 5)
    with pytest.raises(InvalidParameterError, match="partitions for"):
        sorted_partition(X, 7)
    with pytest.raises(InvalidParameterError, match="empty"):
        partition_indices(np.array([0, 0, 2]), 3)


@pytest.mark.parametrize("K, learner", [(2, "krr"), (3, "krr"), (2, "svm"), (3, "svm")])
def test_end_to_end_radii(K, learner):
    Xtr, ytr, Xte, yte = data(1, K=K)
    res = certify_ensemble(Xtr, ytr, Xte, partitions=5, kernel=linear_kernel, y_test=yte,
                           learner=learner, lam=0.1)
    assert res.votes.sum(axis=1).tolist() == [5] * len(yte)
    assert np.all(res.whitebox_radius >= res.blackbox_radius)
    assert res.clean_accuracy > 0.5
    assert res.mcr("whitebox") >= res.mcr("blackbox")
    r, acc = res.curve()
    assert acc[0] <= res.clean_accuracy and np.all(np.diff(acc) <= 0)
    recs = res.records([0, 1, 2])
    assert all(rec.method == "ensemble" for rec in recs)


def test_mcr_convention():
    # misclassified points count as -1: radii [5, 3, 1, 0] with the last two wrong
    assert median_certified_robustness([5, 3, 1, 0], [True, True, False, False]) == 3
    assert median_certified_robustness([5, 3, 1, 0], [True, False, False, False]) == -1
    assert median_certified_robustness([4, 2, 7], [True, True, True]) == 4


def test_binary_whitebox_attack_replay():
    """For binary KRR base models the costs are exact: r+1 flips built from the per-partition
    witnesses change the ensemble vote."""
    Xtr, ytr, Xte, _ = data(2, n=60, m=8, K=2)
    P, lam = 3, 0.1
    res = certify_ensemble(Xtr, ytr, Xte, partitions=P, kernel=linear_kernel, lam=lam)
    idx = partition_indices(res.partition, P)

    def ensemble_vote(labels, t):
        v = np.zeros(2, dtype=int)
        for I in idx:
            W = krr_weights(linear_kernel(Xtr[I], Xtr[I]), linear_kernel(Xte[t:t + 1], Xtr[I]),
                            lam)
            f = W[0] @ np.where(labels[I] == 1, 1.0, -1.0)
            v[1 if f > 0 else 0] += 1
        return int(np.argmax(v))

    replayed = 0
    for t in range(len(Xte)):
        r = res.whitebox_radius[t]
        if not np.isfinite(r):
            continue
        a = int(res.prediction[t])
        G = res.votes[t, a] - res.votes[t, 1 - a] + (1 - a > a)
        voters = [p for p in range(P) if res.base_pred[t, p] == a]
        voters.sort(key=lambda p: res.costs[t, p, 1 - a])
        chosen = voters[: (G + 1) // 2]
        assert sum(res.costs[t, p, 1 - a] for p in chosen) == r + 1
        labels = ytr.copy()
        for p in chosen:
            I = idx[p]
            W = krr_weights(linear_kernel(Xtr[I], Xtr[I]), linear_kernel(Xte[t:t + 1], Xtr[I]),
                            lam)
            rel = min_flips(W, ytr[I], n_classes=2).relabellings[0]
            for i, lab in rel.items():
                labels[I[i]] = lab
        assert (labels != ytr).sum() == r + 1
        assert ensemble_vote(labels, t) != a
        replayed += 1
    assert replayed > 0


def test_costs_from_certifier_matches_minflips():
    rng = np.random.default_rng(5)
    P, m, K = 3, 6, 3
    Ws = [rng.normal(size=(m, 7)) for _ in range(P)]
    ys = [rng.integers(0, K, 7) for _ in range(P)]
    mfs = [min_flips(W, y, n_classes=K) for W, y in zip(Ws, ys)]
    bp = np.stack([mf.prediction for mf in mfs], axis=1)

    def cert(p, B):
        return certify(Ws[p], ys[p], [B], n_classes=K)

    c = costs_from_certifier(cert, bp, K, range(0, 8), partition_sizes=[7] * P)
    exact_change = np.stack([np.where(mf.min_flips > 7, np.inf, mf.min_flips) for mf in mfs], 1)
    off = np.ones_like(c, dtype=bool)
    np.put_along_axis(off, bp[:, :, None], False, axis=2)
    np.testing.assert_array_equal(c.min(axis=2, where=off, initial=np.inf), exact_change)
    # per-class costs are at least the change cost, so the pairwise radius is at least as large
    pair = np.stack([costs_from_minflips(mf.per_rival, mf.prediction, 7) for mf in mfs], 1)
    assert np.all(whitebox_radius(bp, pair) >= whitebox_radius(bp, c))
    # coarse budgets: lower bound = largest robust budget + 1
    c2 = costs_from_certifier(cert, bp, K, [0, 2, 4])
    assert np.all(c2 <= np.where(np.isinf(c), 5, c))


def test_end_to_end_bad_inputs():
    Xtr, ytr, Xte, yte = data(3)
    with pytest.raises(InvalidParameterError, match="columns"):
        certify_ensemble(Xtr, ytr, Xte[:, :2], partitions=3, kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="entries"):
        certify_ensemble(Xtr, ytr[:-1], Xte, partitions=3, kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="unknown learner"):
        certify_ensemble(Xtr, ytr, Xte, partitions=3, learner="tree")
    with pytest.raises(InvalidParameterError, match="saturated"):
        certify_ensemble(Xtr, ytr, Xte, partitions=3, learner="svm", C=10.0,
                         kernel=linear_kernel)
    with pytest.raises(InvalidParameterError, match="y_test"):
        certify_ensemble(Xtr, ytr, Xte, partitions=3, y_test=yte[:-1], kernel=linear_kernel)


def test_default_fc_ntk_kernel_runs():
    Xtr, ytr, Xte, yte = data(4, n=60, m=10, K=3)
    res = certify_ensemble(Xtr, ytr, Xte, partitions=3, y_test=yte, partitioner="sorted")
    assert res.whitebox_radius.shape == (10,)
