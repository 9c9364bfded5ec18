"""Splits (spec §1.3) and budget arithmetic (spec §5.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from certmodel import datasets
from certmodel.datasets import (
    Split,
    budget_from_fraction,
    labelcert_split,
    split_csbm,
    split_inductive,
)
from certmodel.exceptions import InvalidParameterError


@pytest.fixture(scope="module")
def coramlb(data_dir):
    return datasets.load("cora_ml_binary", data_dir=data_dir)


def _reference_inductive(y, n_per_class, seed, fraction_test=0.1):
    """The spec's call order: per-class permutation, then train, val, test permuted again."""
    rng = np.random.Generator(np.random.PCG64(seed))
    n_test = np.ceil(fraction_test * np.bincount(y))
    tr, va, te = [], [], []
    for c in range(y.max() + 1):
        perm = rng.permutation((y == c).nonzero()[0])
        tr.append(perm[:n_per_class])
        va.append(perm[n_per_class:2 * n_per_class])
        te.append(perm[2 * n_per_class:2 * n_per_class + int(n_test[c])])
    tr = rng.permutation(np.concatenate(tr))
    va = rng.permutation(np.concatenate(va))
    te = rng.permutation(np.concatenate(te))
    return tr, va, te


def _assert_partition(s: Split, n):
    parts = [s.train, s.val, s.test, s.unlabeled]
    allidx = np.concatenate(parts)
    assert len(allidx) == len(np.unique(allidx)) == n
    assert all(p.dtype == np.int64 for p in parts)
    assert np.array_equal(s.unlabeled, np.sort(s.unlabeled))


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_split_inductive_reference_order(coramlb, seed):
    y = coramlb.y
    s = split_inductive(y, 5, seed)
    tr, va, te = _reference_inductive(y, 5, seed)
    assert np.array_equal(s.train, tr) and np.array_equal(s.val, va)
    assert np.array_equal(s.test, te)
    _assert_partition(s, len(y))
    assert np.bincount(y[s.train]).tolist() == [5, 5]
    assert np.bincount(y[s.val]).tolist() == [5, 5]
    assert np.bincount(y[s.test]).tolist() == [math.ceil(0.1 * 449), math.ceil(0.1 * 786)]
    assert np.array_equal(s.labeled, np.concatenate((s.train, s.val)))
    assert len(s.unlabeled_and_test) == 1235 - 20 == 1215


def test_split_inductive_deterministic_and_options(coramlb):
    y = coramlb.y
    a, b, c = split_inductive(y, 5, 3), split_inductive(y, 5, 3), split_inductive(y, 5, 2)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)
    assert np.array_equal(split_inductive(y, 5, None).train, split_inductive(y, 5, 0).train)
    s = split_inductive(y, 5, 0, fraction_test=0.2)           # honoured (reference bug fixed)
    assert np.bincount(y[s.test]).tolist() == [90, 158]
    tr, va, te = _reference_inductive(y, 5, 0, fraction_test=0.2)
    assert np.array_equal(s.test, te)
    s = split_inductive(y, 5, 0, balance_test=False)
    assert np.bincount(y[s.test]).tolist() == [5, 5]
    _assert_partition(s, len(y))


def test_split_inductive_multiclass(data_dir):
    g = datasets.load("citeseer", data_dir=data_dir)
    s = split_inductive(g.y, 10, 0)
    _assert_partition(s, g.n_nodes)
    assert np.all(np.bincount(g.y[s.train]) == 10) and len(s.labeled) == 120


def test_split_inductive_errors():
    with pytest.raises(InvalidParameterError, match="class 1 has only 3"):
        split_inductive(np.array([0] * 10 + [1] * 3), 2, 0)
    with pytest.raises(InvalidParameterError, match="fraction_test"):
        split_inductive(np.array([0, 1] * 10), 2, 0, fraction_test=1.5)
    with pytest.raises(InvalidParameterError, match="labels"):
        split_inductive(np.array([0.5, 1.0]), 1, 0)


def test_split_csbm():
    g = datasets.load("csbm", seed=2)
    s = split_csbm(g.y, 20, 20, 2)
    _assert_partition(s, 200)
    assert len(s.unlabeled) == 0 and len(s.test) == 160
    assert np.bincount(g.y[s.train]).tolist() == [10, 10]
    assert np.bincount(g.y[s.val]).tolist() == [10, 10]
    rng = np.random.Generator(np.random.PCG64(2))
    n0 = int((g.y == 0).sum())
    c0, c1 = rng.permutation(np.arange(n0)), rng.permutation(np.arange(n0, 200))
    assert np.array_equal(s.train, np.concatenate((c0[:10], c1[:10])))
    assert np.array_equal(s.val, np.concatenate((c0[10:20], c1[10:20])))
    assert np.array_equal(s.test, np.concatenate((c0[20:], c1[20:])))
    with pytest.raises(InvalidParameterError, match="even"):
        split_csbm(g.y, 3, 2, 0)
    with pytest.raises(InvalidParameterError, match="sorted"):
        split_csbm(g.y[::-1], 2, 2, 0)


def test_labelcert_split(coramlb):
    labeled, test = labelcert_split(coramlb, n_per_class=5, seed=0)
    assert len(labeled) == 20 and len(test) == 1215
    assert len(np.intersect1d(labeled, test)) == 0
    assert np.array_equal(labeled, split_inductive(coramlb.y, 5, 0).labeled)
    l2, _ = labelcert_split(coramlb.y, 5, 0)                   # plain labels work too
    assert np.array_equal(l2, labeled)
    with pytest.raises(InvalidParameterError, match="n_per_class"):
        labelcert_split(coramlb)

    g = datasets.load("csbm", seed=3)
    labeled, test = labelcert_split(g)                          # generator's sizes and seed
    s = split_csbm(g.y, 20, 20, 3)
    assert np.array_equal(labeled, s.labeled) and np.array_equal(test, s.test)
    labeled, test = labelcert_split(g, n_per_class=5)           # 5 + 5 per class
    assert len(labeled) == 20 and len(test) == 180
    cba = datasets.load("cba")
    labeled, test = labelcert_split(cba)
    assert len(labeled) == 20 and len(test) == 180


BUDGETS = {
    8: {0.2: 1, 0.3: 2, 0.7: 5},
    20: {0.05: 1, 0.15: 3, 0.3: 6, 0.4: 8},
    40: {0.03: 1, 0.15: 6, 0.3: 12},
    70: {0.02: 1, 0.03: 2, 0.05: 3, 0.1: 7},
    120: {0.01: 1, 0.02: 2, 0.03: 3, 0.05: 6, 0.1: 12},
}


@pytest.mark.parametrize("n", sorted(BUDGETS))
def test_budget_from_fraction_spec_examples(n):
    for delta, budget in BUDGETS[n].items():
        assert budget_from_fraction(delta, n) == budget
        assert budget_from_fraction(delta, n) == int(delta * n)
    deltas = list(BUDGETS[n])
    assert budget_from_fraction(deltas, n) == [BUDGETS[n][d] for d in deltas]


def test_budget_from_fraction_edges():
    assert budget_from_fraction(1, 40) == 40 and budget_from_fraction(0.0, 40) == 0
    assert budget_from_fraction(np.float64(0.5), np.int64(9)) == 4
    with pytest.raises(InvalidParameterError):
        budget_from_fraction(1.5, 10)
    with pytest.raises(InvalidParameterError):
        budget_from_fraction(0.1, -1)
