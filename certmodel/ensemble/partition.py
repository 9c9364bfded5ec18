"""Partitioners for DPA / SS-DPA: a deterministic function of the features, never the labels.

A label flip then moves no point between partitions and touches exactly one base model.

* :func:`hash_partition` (DPA): ``p(x) = int(sha256(bytes(x))[:8]) mod P`` over the row's
  float64 bytes (C order) — depends on the row alone;
* :func:`sorted_partition` (SS-DPA): rows sorted lexicographically by their feature values
  (ties, i.e. identical rows, by position), then ``p = rank mod P`` — balanced sizes.

Empty partitions are an error (:class:`~certmodel.exceptions.InvalidParameterError`): a base
model with no data has no defined vote; use fewer partitions.
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

from certmodel._validation import check_array, check_scalar
from certmodel.exceptions import InvalidParameterError

__all__ = ["hash_partition", "sorted_partition", "check_partition", "partition_indices"]


def _features(X) -> np.ndarray:
    X = check_array(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise InvalidParameterError(f"X must be a non-empty 2-D array (n, d), got {X.shape}")
    return np.ascontiguousarray(X.reshape(X.shape[0], -1))


def _check_P(P, n: int) -> int:
    P = int(check_scalar(P, "P", numbers.Integral, min_val=1))
    if P > n:
        raise InvalidParameterError(
            f"P == {P} partitions for {n} training points: every partition needs a point")
    return P


def check_partition(part, P: int) -> np.ndarray:
    """``part`` (n,) integers in ``0..P-1`` with no empty partition."""
    part = np.asarray(part)
    if part.ndim != 1 or part.dtype.kind not in "iu":
        raise InvalidParameterError(f"partition must be a 1-D integer array, got {part.shape}")
    if part.size and (part.min() < 0 or part.max() >= P):
        raise InvalidParameterError(f"partition ids must lie in 0..{P - 1}")
    sizes = np.bincount(part, minlength=P)
    empty = np.flatnonzero(sizes == 0)
    if empty.size:
        raise InvalidParameterError(
            f"{empty.size} of {P} partitions are empty (e.g. partition {int(empty[0])}); "
            "a base model needs training data — use fewer partitions or sorted_partition")
    return part.astype(np.int64)


def hash_partition(X, P: int, *, allow_empty: bool = False) -> np.ndarray:
    """DPA partition ``sha256(row bytes) mod P`` of every row of ``X`` (n, d) -> (n,) ids."""
    X = _features(X)
    P = _check_P(P, X.shape[0]) if not allow_empty else int(
        check_scalar(P, "P", numbers.Integral, min_val=1))
    part = np.fromiter(
        (int.from_bytes(hashlib.sha256(row.tobytes()).digest()[:8], "little") % P for row in X),
        dtype=np.int64, count=X.shape[0])
    return part if allow_empty else check_partition(part, P)


def sorted_partition(X, P: int) -> np.ndarray:
    """SS-DPA partition: lexicographic rank of each row of ``X`` (n, d), modulo ``P``."""
    X = _features(X)
    P = _check_P(P, X.shape[0])
    order = np.lexsort(X.T[::-1])  # first column is the primary key; stable for equal rows
    part = np.empty(X.shape[0], dtype=np.int64)
    part[order] = np.arange(X.shape[0]) % P
    return part


def partition_indices(part, P: int) -> list[np.ndarray]:
    """Training indices of every partition (ascending)."""
    part = check_partition(part, P)
    order = np.argsort(part, kind="stable")
    return np.split(order, np.cumsum(np.bincount(part, minlength=P))[:-1])
