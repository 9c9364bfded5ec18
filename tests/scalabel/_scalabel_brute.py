"""Brute-force oracles for ScaLabelCert tests: enumerate relabellings and retrain exactly."""

from __future__ import annotations

import itertools

import numpy as np


def relabellings(codes, K: int, B: int):
    """Every relabelling (dict index -> new code) changing at most ``B`` points."""
    n = len(codes)
    yield {}
    for k in range(1, B + 1):
        for idx in itertools.combinations(range(n), k):
            choices = [[c for c in range(K) if c != codes[i]] for i in idx]
            for new in itertools.product(*choices):
                yield dict(zip(idx, new))


def onehot(codes, K):
    Y = np.zeros((len(codes), K))
    Y[np.arange(len(codes)), codes] = 1.0
    return Y


def retrain_logits(kind, K_train, K_test, codes_list, K, *, lam=0.0, C=None):
    """Logits (R, m, K) of the learner retrained on each labelling in ``codes_list``.

    ``krr``: one-hot targets, ``f = K_test (K + λI)^{-1} Y`` (one batched np.linalg.solve);
    ``svm``: saturated dual ``α ≡ C``, binary ``f_1 = C K_test y_pm`` (``f_0 = 0``) and
    one-vs-rest ``f_c = C K_test (2 Y_c − 1)`` otherwise.
    """
    Ys = np.stack([onehot(c, K) for c in codes_list])  # (R, n, K)
    R, n, _ = Ys.shape
    if kind == "krr":
        rhs = Ys.transpose(1, 0, 2).reshape(n, R * K)
        sol = np.linalg.solve(K_train + lam * np.eye(n), rhs).reshape(n, R, K).transpose(1, 0, 2)
        return np.einsum("tn,rnk->rtk", K_test, sol)
    if kind == "svm":
        if K == 2:
            y_pm = Ys[:, :, 1] - Ys[:, :, 0]
            f1 = C * np.einsum("tn,rn->rt", K_test, y_pm)
            return np.stack([np.zeros_like(f1), f1], axis=2)
        return C * np.einsum("tn,rnk->rtk", K_test, 2 * Ys - 1)
    raise ValueError(kind)


def margins_against(F, a):
    """``F[..., t, a_t] − max_{b≠a_t} F[..., t, b]``."""
    m = F.shape[-2]
    Fa = np.take_along_axis(F, a[None, :, None].repeat(F.shape[0], 0), axis=2)[..., 0]
    G = F.copy()
    G[:, np.arange(m), a] = -np.inf
    return Fa - G.max(axis=2)


def brute_force(kind, K_train, K_test, codes, K, B, **kw):
    """Worst margin at every budget 0..B and the changes-count of every relabelling.

    Returns ``(worst (B+1, m), margins (R, m), sizes (R,), rels list)`` where the clean
    prediction is taken from the clean retraining (ties to the smaller class index).
    """
    rels = list(relabellings(codes, K, B))
    codes_list = []
    for r in rels:
        c = np.array(codes).copy()
        for i, v in r.items():
            c[i] = v
        codes_list.append(c)
    F = retrain_logits(kind, K_train, K_test, codes_list, K, **kw)
    a = np.argmax(F[0], axis=1)
    M = margins_against(F, a)
    sizes = np.array([len(r) for r in rels])
    worst = np.stack([M[sizes <= b].min(axis=0) for b in range(B + 1)])
    return worst, M, sizes, rels, a
