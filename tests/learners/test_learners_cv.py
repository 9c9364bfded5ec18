import numpy as np
import pytest

from certmodel.exceptions import InvalidParameterError
from certmodel.learners import KernelRidge, KernelSVM, cross_validate, stratified_kfold

from ._helpers import random_psd


def test_stratified_kfold_partitions_and_stratifies():
    y = np.array([0] * 12 + [1] * 8 + [2] * 4)
    for seed in (0, 1, None):
        splits = stratified_kfold(y, 4, seed)
        tests = np.sort(np.concatenate([te for _, te in splits]))
        assert np.array_equal(tests, np.arange(24))
        for tr, te in splits:
            assert np.intersect1d(tr, te).size == 0
            assert np.bincount(y[te], minlength=3).tolist() == [3, 2, 1]
    a = stratified_kfold(y, 4, 0)
    b = stratified_kfold(y, 4, 0)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b, strict=True))


def test_stratified_kfold_matches_sklearn_reference_values():
    # StratifiedKFold(n_splits=2, shuffle=True, random_state=0).split(X, [0,0,0,0,1,1,1,1])
    # allocation: per class 2 + 2 test slots, fold ids shuffled by RandomState(0)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rng = np.random.RandomState(0)
    ids0 = np.array([0, 0, 1, 1])
    rng.shuffle(ids0)
    ids1 = np.array([0, 0, 1, 1])
    rng.shuffle(ids1)
    expected = np.concatenate([ids0, ids1])
    splits = stratified_kfold(y, 2, 0)
    assert np.array_equal(splits[0][1], np.flatnonzero(expected == 0))


def test_cross_validate_toy_problem_prefers_sensible_C():
    rng = np.random.default_rng(0)
    n = 40
    y = np.resize([0, 1], n)
    X = rng.normal(size=(n, 3)) + 2.5 * (2 * y[:, None] - 1) * np.array([1.0, 0, 0])
    K = X @ X.T
    grid = [1e-6, 1e-2, 1.0]
    res = cross_validate(lambda C: KernelSVM(C=C), K, y, grid, folds=4, seeds=(0, 1))
    assert res.scores.shape == (3, 2, 4)
    assert res.mean[2] > 0.85
    if np.all(res.mean == res.mean[0]):
        assert res.best == 1e-6  # ties → first in grid order
    # parity semantics with alpha_tol = 0.5 drop every α ≤ 0.5: small C predicts one class
    res2 = cross_validate(lambda C: KernelSVM(C=C, parity=True, alpha_tol=0.5), K, y,
                          [0.01, 0.1, 10.0], folds=4, seeds=(0,))
    assert res2.mean[0] == pytest.approx(0.5) and res2.best == 10.0
    rows = res.to_rows()
    assert [r["value"] for r in rows] == grid and sum(r["best"] for r in rows) == 1
    assert rows[res.best_index]["mean"] == pytest.approx(res.mean.max())


def test_cross_validate_ties_first_in_grid():
    K = np.eye(8) + 1.0
    y = [0, 1] * 4
    res = cross_validate(lambda v: KernelRidge(lam=v), K, y, [0.5, 0.1, 0.5], folds=2)
    best = int(np.flatnonzero(res.mean == res.mean.max())[0])
    assert res.best_index == best


def test_cross_validate_bad_inputs():
    K = np.eye(8) + 1.0
    y = [0, 1] * 4
    mk = lambda v: KernelRidge(lam=v)  # noqa: E731
    with pytest.raises(InvalidParameterError, match="grid"):
        cross_validate(mk, K, y, [])
    with pytest.raises(InvalidParameterError, match="metric"):
        cross_validate(mk, K, y, [1.0], metric="f1")
    with pytest.raises(InvalidParameterError, match="folds"):
        cross_validate(mk, K, y, [1.0], folds=5)
    with pytest.raises(InvalidParameterError, match="folds"):
        cross_validate(mk, K, y, [1.0], folds=1)


def test_cross_validate_arrays_unchanged():
    rng = np.random.default_rng(1)
    K = random_psd(rng, 16)
    y = np.resize([0, 1], 16)
    K0, y0 = K.copy(), y.copy()
    cross_validate(lambda v: KernelSVM(C=v), K, y, [0.1, 1.0], folds=2)
    assert np.array_equal(K, K0) and np.array_equal(y, y0)
