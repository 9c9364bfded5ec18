"""Node splits and budget arithmetic of the LabelCert protocol (spec §1.3, §5.6).

The random streams reproduce the reference: ``numpy.random.Generator(PCG64(seed))`` with the
same calls in the same order, so equal seeds give equal index arrays. One reference bug is
fixed: ``fraction_test`` is honoured (the reference always used 0.1, its default here).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from certmodel._validation import check_scalar
from certmodel.exceptions import InvalidParameterError

__all__ = ["Split", "split_inductive", "split_csbm", "labelcert_split", "budget_from_fraction"]


@dataclass(frozen=True, eq=False)
class Split:
    """Disjoint node index arrays (int64).

    Attributes
    ----------
    train, val, test, unlabeled : ndarray of int64
        ``unlabeled`` is every node in none of the other three (sorted).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    unlabeled: np.ndarray

    @property
    def labeled(self) -> np.ndarray:
        """``concat(train, val)``: the labelled set every LabelCert script trains on."""
        return np.concatenate((self.train, self.val))

    @property
    def unlabeled_and_test(self) -> np.ndarray:
        """``concat(unlabeled, test)``: every non-labelled node, in the reference's order."""
        return np.concatenate((self.unlabeled, self.test))


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu" or y.min() < 0:
        raise InvalidParameterError(
            f"y must be a non-empty 1-D array of labels 0..K-1, got dtype {y.dtype}, "
            f"shape {y.shape}")
    return y.astype(np.int64)


def _seed(seed) -> int:
    return 0 if seed is None else check_scalar(seed, "seed", numbers.Integral, min_val=0)


def split_inductive(y, n_per_class: int = 20, seed: int | None = 0, fraction_test: float = 0.1,
                    balance_test: bool = True) -> Split:
    """Class-balanced train/val split plus a test set; the rest is unlabeled.

    For each class ``c`` in order: permute its node ids; the first ``n_per_class`` are train,
    the next ``n_per_class`` val, the next ``ceil(fraction_test * |c|)`` test (or
    ``n_per_class`` if not ``balance_test``). Then train, val and test are each permuted once
    more (in that order).

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels ``0..K-1``.
    n_per_class : int
        Train (and val) nodes per class.
    seed : int or None
        Seed of ``Generator(PCG64(seed))``; None means 0 (as the reference).
    fraction_test : float in [0, 1]
        Fraction of each class put into the test set when ``balance_test``.
    balance_test : bool
        Take ``ceil(fraction_test * |c|)`` test nodes per class (True) or ``n_per_class``.

    Returns
    -------
    Split

    Raises
    ------
    InvalidParameterError
        If a class has fewer than ``2 * n_per_class`` nodes.
    """
    y = _labels(y)
    n_per_class = check_scalar(n_per_class, "n_per_class", numbers.Integral, min_val=0)
    fraction_test = check_scalar(fraction_test, "fraction_test", min_val=0, max_val=1)
    rng = np.random.Generator(np.random.PCG64(_seed(seed)))
    sizes = np.bincount(y)
    if balance_test:
        n_test = np.ceil(fraction_test * sizes).astype(int)
    else:
        n_test = np.full(sizes.shape, n_per_class)
    small = np.flatnonzero(sizes < 2 * n_per_class)
    if small.size:
        raise InvalidParameterError(
            f"n_per_class == {n_per_class} needs {2 * n_per_class} nodes per class, but "
            f"class {int(small[0])} has only {int(sizes[small[0]])}")
    train, val, test = [], [], []
    for c in range(sizes.size):
        perm = rng.permutation(np.flatnonzero(y == c))
        train.append(perm[:n_per_class])
        val.append(perm[n_per_class:2 * n_per_class])
        test.append(perm[2 * n_per_class:2 * n_per_class + n_test[c]])
    train, val, test = (rng.permutation(np.concatenate(part)).astype(np.int64)
                        for part in (train, val, test))
    unlabeled = np.setdiff1d(np.arange(y.size), np.concatenate((train, val, test)))
    return Split(train=train, val=val, test=test, unlabeled=unlabeled.astype(np.int64))


def split_csbm(y, n_trn_labeled: int, n_val: int, seed: int | None = 0) -> Split:
    """Split of a label-sorted two-class synthetic graph (CSBM/CBA).

    Class 0 (nodes ``0..n0-1``) and class 1 are permuted independently (class 0 first); per
    class the first ``n_trn_labeled/2`` are train, the next ``n_val/2`` val and **all**
    remaining nodes test. There are no unlabeled nodes.
    """
    y = _labels(y)
    n_trn_labeled = check_scalar(n_trn_labeled, "n_trn_labeled", numbers.Integral, min_val=0)
    n_val = check_scalar(n_val, "n_val", numbers.Integral, min_val=0)
    if y.max() > 1 or np.any(np.diff(y) < 0):
        raise InvalidParameterError("split_csbm needs binary labels sorted ascending "
                                    "(as load('csbm') / load('cba') return them)")
    if n_trn_labeled % 2 or n_val % 2:
        raise InvalidParameterError(
            f"n_trn_labeled ({n_trn_labeled}) and n_val ({n_val}) must be even "
            "(class-balanced split of two classes)")
    n0 = int(np.sum(y == 0))
    per_class_needed = (n_trn_labeled + n_val) // 2
    if min(n0, y.size - n0) < per_class_needed:
        raise InvalidParameterError(
            f"each class needs {per_class_needed} nodes, but the class sizes are "
            f"{[n0, y.size - n0]}")
    rng = np.random.Generator(np.random.PCG64(_seed(seed)))
    cls0 = rng.permutation(np.arange(n0))
    cls1 = rng.permutation(np.arange(n0, y.size))
    a, b = n_trn_labeled // 2, (n_trn_labeled + n_val) // 2
    train = np.concatenate((cls0[:a], cls1[:a]))
    val = np.concatenate((cls0[a:b], cls1[a:b]))
    test = np.concatenate((cls0[b:], cls1[b:]))
    return Split(train=train.astype(np.int64), val=val.astype(np.int64),
                 test=test.astype(np.int64), unlabeled=np.zeros(0, dtype=np.int64))


def labelcert_split(data, n_per_class: int | None = None, seed: int | None = None, *,
                    fraction_test: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(labeled, test)`` node ids as the LabelCert scripts use them.

    ``labeled = concat(train, val)`` and ``test`` = every other node
    (``concat(unlabeled, test)``).

    Parameters
    ----------
    data : GraphData or array of labels
        For graphs from ``load("csbm")``/``load("cba")`` the split is :func:`split_csbm` with
        the generator's ``n_trn_labeled``/``n_val`` (``n_per_class``, if given, sets both to
        ``2 * n_per_class``) and by default the generator's seed. Otherwise
        :func:`split_inductive` with ``n_per_class`` (required).
    n_per_class : int, optional
        Train (and val) nodes per class.
    seed : int, optional
        Split seed (default: the generator seed for synthetic graphs, else 0).
    fraction_test : float
        Passed to :func:`split_inductive` (only moves nodes between its test and unlabeled
        parts, so it does not change the result here).
    """
    meta = getattr(data, "meta", {}) or {}
    y = getattr(data, "y", data)
    if meta.get("generator") in ("csbm", "cba"):
        if n_per_class is None:
            n_trn, n_val = meta["n_trn_labeled"], meta["n_val"]
        else:
            n_per_class = check_scalar(n_per_class, "n_per_class", numbers.Integral, min_val=0)
            n_trn = n_val = 2 * n_per_class
        split = split_csbm(y, n_trn, n_val, meta["seed"] if seed is None else seed)
    else:
        if n_per_class is None:
            raise InvalidParameterError("n_per_class is required for non-synthetic graphs")
        split = split_inductive(y, n_per_class, seed, fraction_test=fraction_test)
    return split.labeled, split.unlabeled_and_test


def budget_from_fraction(delta, n: int):
    """Number of label flips ``int(delta * n)``, truncated exactly like the reference.

    ``delta`` may be a float or a sequence of floats (then a list of ints is returned).
    E.g. ``budget_from_fraction(0.7, 8) == 5`` and ``budget_from_fraction(0.1, 70) == 7``.
    """
    n = check_scalar(n, "n", numbers.Integral, min_val=0)
    if isinstance(delta, Sequence | np.ndarray):
        return [budget_from_fraction(d, n) for d in delta]
    delta = check_scalar(delta, "delta", min_val=0, max_val=1)
    return int(float(delta) * n)
