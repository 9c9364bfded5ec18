"""Validation and label encoding shared by the ScaLabelCert entry points."""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from certmodel._validation import check_array, check_labels, check_scalar
from certmodel.exceptions import InvalidParameterError

__all__ = ["Problem", "prepare"]


@dataclasses.dataclass(frozen=True)
class Problem:
    """Validated inputs: weights ``W`` (m, n), class codes (n,), class values (K,)."""

    W: np.ndarray
    codes: np.ndarray
    classes: np.ndarray
    eps: float

    @property
    def n(self) -> int:
        return self.W.shape[1]

    @property
    def m(self) -> int:
        return self.W.shape[0]

    @property
    def n_classes(self) -> int:
        return self.classes.size


def encode_labels(y, n: int, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: class values and each label's code in ``0..K-1``.

    With ``n_classes`` given, labels must be ``0..n_classes-1``.  Otherwise labels in
    ``{-1, +1}`` with at least one ``-1`` are a binary task with classes ``[-1, +1]`` (code 1
    is ``+1``, so ``f_1 - f_0 = W @ y_pm``), and any other labels must be ``0..K-1`` with
    ``K = max(max(y) + 1, 2)`` (classes absent from ``y`` can still be flipped to; labels all
    equal to 1 are therefore read as classes ``{0, 1}``).
    """
    if n_classes is not None:
        n_classes = check_scalar(n_classes, "n_classes", numbers.Integral, min_val=2)
        return check_labels(y, n, n_classes=n_classes)
    _, _ = check_labels(y, n)
    y = np.asarray(y).astype(np.int64)
    vals = set(np.unique(y).tolist())
    if vals <= {-1, 1} and -1 in vals:
        return np.array([-1, 1]), (y == 1).astype(np.int64)
    if min(vals) < 0:
        raise InvalidParameterError(
            f"y must hold labels 0..K-1 (or -1/+1 for a binary task), got {sorted(vals)[:10]}")
    K = max(max(vals) + 1, 2)
    return np.arange(K), y


def prepare(W, y, *, n_classes=None, eps=1e-12) -> Problem:
    """Validate ``W`` (m, n) finite, ``y`` (n,) labels and ``eps >= 0``."""
    W = check_array(W, "W")
    if W.ndim == 1:
        W = W[None, :]
    if W.ndim != 2 or W.shape[1] == 0:
        raise InvalidParameterError(
            f"W must be a 2-D array of shape (m, n) with n >= 1, got shape {W.shape}")
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.shape[0] != W.shape[1]:
        raise InvalidParameterError(
            f"y must be 1-D with {W.shape[1]} entries to match W of shape {W.shape}, "
            f"got shape {y_arr.shape}")
    classes, codes = encode_labels(y, W.shape[1], n_classes)
    eps = float(check_scalar(eps, "eps", min_val=0.0))
    return Problem(W=np.ascontiguousarray(W), codes=codes, classes=classes, eps=eps)
