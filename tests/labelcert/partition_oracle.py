"""An SVM oracle independent of certmodel's solver: enumerate every active-set partition.

For a positive definite ``K`` the bias-free SVM dual ``min ½αᵀQα − 1ᵀα, 0 ≤ α ≤ C`` has one
KKT point.  Each partition of the indices into (α = 0, free, α = C) fixes a candidate: the
free block solves ``Q_FF α_F = 1 − C Q_FU 1``.  The candidate with the smallest *relative*
KKT violation (box violation / ``min(C, max|α|)``, gradient violation / ``1 + (|Q| α)_i``;
both scale-invariant)
is the solution.  3ⁿ partitions, so small ``n`` only (``n ≤ 7``); every partition of a
labelling is solved in one batched ``numpy.linalg.solve``.  No tolerance depends on ``C``.
"""

from __future__ import annotations

import itertools

import numpy as np

_PARTS: dict[int, np.ndarray] = {}


def _partitions(n: int) -> np.ndarray:
    if n not in _PARTS:
        _PARTS[n] = np.array(list(itertools.product((-1, 0, 1), repeat=n)), dtype=np.int8)
    return _PARTS[n]


def oracle_alpha(K: np.ndarray, y: np.ndarray, C: float) -> np.ndarray:
    """The dual solution α of the bias-free SVM (``K`` positive definite, ``n ≤ 7``)."""
    n = K.shape[0]
    y = np.asarray(y, float)
    Q = np.outer(y, y) * K
    P = _partitions(n)  # -1 lower, 0 free, +1 upper
    free = P == 0
    A = np.where(P > 0, C, 0.0)
    # free block: Q_FF α_F = 1 − Q_F,U C  (padded with identity rows elsewhere)
    M = np.where(free[:, :, None] & free[:, None, :], Q[None], 0.0)
    M[:, np.arange(n), np.arange(n)] = np.where(free, np.diag(Q)[None], 1.0)
    rhs = np.where(free, 1.0 - A @ Q, 0.0)
    with np.errstate(all="ignore"):
        sol = np.linalg.solve(M, rhs[:, :, None])[:, :, 0]
    A = np.where(free, sol, A)
    G = A @ Q - 1.0
    scale = 1.0 + A.clip(0) @ np.abs(Q)
    size = np.minimum(np.abs(A).max(axis=1), C)
    with np.errstate(all="ignore"):
        box = np.maximum(np.maximum(-A, A - C), 0.0).max(axis=1) / size
    grad = np.where(P < 0, -G, np.where(P > 0, G, np.abs(G))).clip(0) / scale
    score = np.maximum(box, grad.max(axis=1))
    score[~np.isfinite(score)] = np.inf
    return np.clip(A[int(np.argmin(score))], 0.0, C)


def oracle_logits(K, y, C, K_test) -> np.ndarray:
    y = np.asarray(y, float)
    return K_test @ (y * oracle_alpha(K, y, C))


def oracle_worst(K, y, C, K_test, budget: int):
    """(worst signed margin per test point over ≤ budget flips, clean signs, logit scale)."""
    y = np.asarray(y, float)
    f0 = oracle_logits(K, y, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    worst = s * f0
    for b in range(1, budget + 1):
        for S in itertools.combinations(range(len(y)), b):
            yy = y.copy()
            yy[list(S)] *= -1
            worst = np.minimum(worst, s * oracle_logits(K, yy, C, K_test))
    return worst, s, f0
