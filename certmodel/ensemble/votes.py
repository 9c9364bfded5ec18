"""Vote counting and the black-box DPA radius.

The ensemble predicts ``a = argmax_c v_c`` with ties broken toward the smaller class index.
Each flip changes at most one base model's vote, so (Levine & Feizi, ICLR 2021) the number of
flips tolerated is

    ρ = floor((v_a − max_{c≠a} (v_c + 1[c < a])) / 2).
"""

from __future__ import annotations

import numpy as np

from certmodel._validation import check_array
from certmodel.exceptions import InvalidParameterError

__all__ = ["count_votes", "dpa_radius", "ensemble_prediction"]


def check_base_pred(base_pred, columns: str = "P") -> np.ndarray:
    """Base-model votes as a 2-D integer array ``(m, columns)`` (a 1-D input is one row)."""
    bp = np.asarray(base_pred)
    if bp.ndim == 1:
        bp = bp[None, :]
    if bp.ndim != 2 or bp.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"base_pred must be an integer array of shape (m, {columns}), got shape "
            f"{bp.shape} dtype {bp.dtype}")
    return bp


def count_votes(base_pred, n_classes: int) -> np.ndarray:
    """Votes ``v[t, c] = #{p : base_pred[t, p] = c}`` of shape (m, K) from (m, P) votes."""
    bp = np.asarray(base_pred)
    if bp.ndim != 2 or bp.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"base_pred must be a 2-D integer array (m, P), got shape {bp.shape} dtype {bp.dtype}")
    if bp.size and (bp.min() < 0 or bp.max() >= n_classes):
        raise InvalidParameterError(
            f"base_pred holds classes outside 0..{n_classes - 1}: "
            f"min {int(bp.min())}, max {int(bp.max())}")
    m = bp.shape[0]
    v = np.zeros((m, n_classes), dtype=np.int64)
    np.add.at(v, (np.repeat(np.arange(m), bp.shape[1]), bp.ravel()), 1)
    return v


def _check_votes(votes, P: int | None) -> np.ndarray:
    v = check_array(votes, "votes", dtype=None)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.shape[1] < 2:
        raise InvalidParameterError(
            f"votes must have shape (m, K) with K >= 2 classes, got shape {v.shape}")
    if v.dtype.kind == "f":
        if not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
            raise InvalidParameterError("votes must be non-negative integers")
    elif v.dtype.kind not in "iu":
        raise InvalidParameterError(f"votes must be integers, got dtype {v.dtype}")
    v = v.astype(np.int64)
    if np.any(v < 0):
        raise InvalidParameterError("votes must be non-negative integers")
    if P is not None:
        s = v.sum(axis=1)
        if np.any(s != P):
            bad = int(np.flatnonzero(s != P)[0])
            raise InvalidParameterError(
                f"votes of test point {bad} sum to {int(s[bad])}, expected P = {P}")
    return v


def ensemble_prediction(votes) -> np.ndarray:
    """``argmax_c v_c`` per row, ties to the smaller class index."""
    return np.argmax(np.asarray(votes), axis=1)


def dpa_radius(votes, *, P: int | None = None) -> np.ndarray:
    """Black-box DPA radius of the predicted class for every row of ``votes``.

    Parameters
    ----------
    votes : array of int of shape (m, K)
        Vote counts per class.
    P : int, optional
        Number of partitions; when given, every row must sum to ``P``.

    Returns
    -------
    ndarray of int of shape (m,)
        ``floor((v_a − max_{c≠a} (v_c + 1[c < a])) / 2)``; always ``≥ 0``.
    """
    v = _check_votes(votes, P)
    m, K = v.shape
    a = np.argmax(v, axis=1)
    rival = v + (np.arange(K)[None, :] < a[:, None])
    rival[np.arange(m), a] = np.iinfo(np.int64).min
    return (v[np.arange(m), a] - rival.max(axis=1)) // 2
