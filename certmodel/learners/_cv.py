"""Stratified k-fold cross-validation over a hyperparameter grid (``labelcert-spec.md`` §6.3)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from certmodel._validation import check_kernel_matrix, check_scalar
from certmodel.exceptions import InvalidParameterError
from certmodel.learners._base import encode_labels

__all__ = ["CVResult", "cross_validate", "stratified_kfold"]


def stratified_kfold(y, folds: int = 4,
                     seed: int | None = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold splits with scikit-learn's ``StratifiedKFold(shuffle=True)`` semantics.

    Reimplements the allocation of ``sklearn.model_selection.StratifiedKFold`` (classes encoded
    in order of first appearance, per-class fold allocation by round robin over the sorted labels,
    then a ``numpy.random.RandomState(seed).shuffle`` of each class's fold ids), so that the
    same ``seed`` gives the same folds.  ``seed=None`` means no shuffling.

    Returns
    -------
    list of (train_idx, test_idx)

    Examples
    --------
    >>> [t.tolist() for _, t in stratified_kfold([0, 0, 1, 1], folds=2, seed=None)]
    [[0, 2], [1, 3]]
    """
    y = np.asarray(y)
    folds = check_scalar(folds, "folds", numbers.Integral, min_val=2)
    _, y_idx, y_inv = np.unique(y, return_index=True, return_inverse=True)
    _, class_perm = np.unique(y_idx, return_inverse=True)
    y_enc = class_perm[y_inv.ravel()]
    n_classes = y_idx.size
    counts = np.bincount(y_enc)
    if np.all(folds > counts):
        raise InvalidParameterError(
            f"folds == {folds} cannot be greater than the number of members in each class "
            f"(class sizes {counts.tolist()})")
    y_order = np.sort(y_enc)
    allocation = np.asarray([np.bincount(y_order[i::folds], minlength=n_classes)
                             for i in range(folds)])
    rng = np.random.RandomState(seed) if seed is not None else None
    test_folds = np.empty(y.shape[0], dtype=np.int64)
    for k in range(n_classes):
        ids = np.arange(folds).repeat(allocation[:, k])
        if rng is not None:
            rng.shuffle(ids)
        test_folds[y_enc == k] = ids
    idx = np.arange(y.shape[0])
    return [(idx[test_folds != f], idx[test_folds == f]) for f in range(folds)]


@dataclass(frozen=True)
class CVResult:
    """Scores of a grid search.

    Attributes
    ----------
    grid : list
        Grid values in the order given.
    scores : ndarray of shape (len(grid), n_seeds, folds)
        Validation score of every (value, seed, fold).
    mean, std : ndarray of shape (len(grid),)
        Over all seeds and folds.
    best : object
        Grid value with the highest mean; ties go to the first in grid order.
    best_index : int
    metric : str
    """

    grid: list
    scores: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    best: object
    best_index: int
    metric: str = "accuracy"
    seeds: tuple = field(default=(0,))

    def to_rows(self) -> list[dict]:
        """One dict per grid value: ``value``, ``mean``, ``std``, ``best`` (for printing)."""
        return [{"value": v, "mean": float(m), "std": float(s), "best": i == self.best_index}
                for i, (v, m, s) in enumerate(zip(self.grid, self.mean, self.std, strict=True))]


def _accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def cross_validate(make_learner: Callable, K, y, grid: Sequence, *, folds: int = 4,
                   seeds: Sequence[int] = (0,), metric="accuracy") -> CVResult:
    """Grid search by stratified k-fold cross-validation on a precomputed kernel.

    For every grid value ``v``, seed ``s`` and fold: ``make_learner(v)`` (an unfitted learner with
    ``fit(K, y)``/``predict(K_test)``) is fitted on ``K[train][:, train]`` and scored on
    ``K[test][:, train]``.  Folds follow :func:`stratified_kfold` (``shuffle=True``,
    ``random_state=s``).

    Parameters
    ----------
    make_learner : callable
        ``value -> learner``.
    K : ndarray of shape (n, n)
    y : array-like of shape (n,)
    grid : sequence
        Hyperparameter values (non-empty).
    folds : int, default=4
    seeds : sequence of int, default=(0,)
    metric : "accuracy" or callable ``(y_true, y_pred) -> float`` (higher is better)

    Returns
    -------
    CVResult
        ``best`` is the value with the highest mean score, ties → first in grid order.

    Examples
    --------
    >>> from certmodel.learners import KernelRidge
    >>> K = np.eye(8) + 1.0
    >>> y = [0, 1] * 4
    >>> res = cross_validate(lambda v: KernelRidge(lam=v), K, y, [0.1, 1.0], folds=2)
    >>> res.best
    0.1
    """
    K = check_kernel_matrix(K, "K")
    n = K.shape[0]
    encode_labels(y, n)
    y = np.asarray(y)
    grid = list(grid)
    if not grid:
        raise InvalidParameterError("grid must be a non-empty sequence of values")
    seeds = tuple(seeds)
    if not seeds:
        raise InvalidParameterError("seeds must be a non-empty sequence of integers")
    if callable(metric):
        score_fn, metric_name = metric, getattr(metric, "__name__", "custom")
    elif metric == "accuracy":
        score_fn, metric_name = _accuracy, "accuracy"
    else:
        raise InvalidParameterError(
            f"unknown metric {metric!r}; expected 'accuracy' or a callable (y_true, y_pred)")
    splits = [stratified_kfold(y, folds, s) for s in seeds]
    scores = np.empty((len(grid), len(seeds), folds))
    for gi, value in enumerate(grid):
        for si, split in enumerate(splits):
            for fi, (tr, te) in enumerate(split):
                learner = make_learner(value)
                learner.fit(K[np.ix_(tr, tr)], y[tr])
                scores[gi, si, fi] = score_fn(y[te], learner.predict(K[np.ix_(te, tr)]))
    flat = scores.reshape(len(grid), -1)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1)
    best_index = int(np.flatnonzero(mean >= mean.max() - 1e-12)[0])
    return CVResult(grid, scores, mean, std, grid[best_index], best_index, metric_name, seeds)
