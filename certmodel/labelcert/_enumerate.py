"""Exact enumeration: retrain on every relabelling within the budget (cheap when C(n, ≤B) is small).

Retraining does not depend on the test point, so one pass over the relabellings serves every
test point at once: for each relabelling ``S`` the retrained ``z_S`` gives all margins
``s_t · K_test[t] z_S`` in one matrix product.  The worst margin at budget ``b`` is the minimum
over ``|S| ≤ b`` (exact, with the minimising relabelling as witness).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from certmodel.labelcert._problem import Problem, retrain_binary, retrain_ovr

__all__ = ["n_relabellings", "enumeration_budget", "enumerate_binary", "enumerate_multiclass"]


def n_relabellings(n: int, budget: int, n_classes: int = 2) -> int:
    """``Σ_{b ≤ B} C(n, b) (K − 1)^b`` relabellings with at most ``B`` changes."""
    return sum(math.comb(n, b) * (n_classes - 1) ** b for b in range(budget + 1))


def enumeration_budget(mode: str, max_count: int, n: int, open_budgets, n_classes: int = 2,
                       ) -> int:
    """Largest open budget worth enumerating (``-1``: none).

    ``mode="always"`` takes the largest open budget, ``"never"`` none, ``"auto"`` the largest
    with at most ``max_count`` relabellings (:func:`n_relabellings`).
    """
    best = -1
    if mode == "never":
        return best
    for B in sorted(open_budgets):
        if mode == "always" or n_relabellings(n, B, n_classes) <= max_count:
            best = B
    return best


def enumerate_binary(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, budget: int,
                     rows: np.ndarray | None = None):
    """Worst margins for every ``b ≤ budget`` by enumeration.

    Returns ``(worst, witness)``: ``worst[r, b]`` the exact worst margin of test row ``rows[r]``
    at budget ``b``; ``witness[r][b]`` the flip index tuple attaining it.
    """
    rows = np.arange(prob.m) if rows is None else rows
    Kt = prob.K_test[rows] * signs[rows, None]
    y0 = prob.y_pm
    worst = np.full((len(rows), budget + 1), np.inf)
    best_set: list[list[tuple]] = [[() for _ in range(budget + 1)] for _ in rows]
    arg = np.full(len(rows), -1)
    for b in range(budget + 1):
        subsets = list(itertools.combinations(range(prob.n), b))
        if b > 0:
            worst[:, b] = worst[:, b - 1]
            for r in range(len(rows)):
                best_set[r][b] = best_set[r][b - 1]
        for start in range(0, len(subsets), 256):
            chunk = subsets[start:start + 256]
            Z = np.empty((len(chunk), prob.n))
            for k, S in enumerate(chunk):
                y = y0.copy()
                y[list(S)] *= -1
                Z[k] = retrain_binary(prob.K, y, prob.C, alpha0)
            M = Kt @ Z.T  # (rows, chunk)
            arg = np.argmin(M, axis=1)
            mins = M[np.arange(len(rows)), arg]
            better = mins < worst[:, b]
            worst[better, b] = mins[better]
            for r in np.flatnonzero(better):
                best_set[r][b] = chunk[arg[r]]
    return worst, best_set


def enumerate_multiclass(prob: Problem, alpha0: np.ndarray, tops: np.ndarray, budget: int,
                         rows: np.ndarray | None = None):
    """Multiclass analogue: relabel up to ``budget`` points to any other class.

    Margin of row ``t``: ``f_top(t) − max_{k≠top} f_k(t)``.  Returns ``(worst, witness)`` with
    ``witness[r][b]`` a tuple of ``(index, new_class)`` pairs.
    """
    rows = np.arange(prob.m) if rows is None else rows
    Kt = prob.K_test[rows]
    K = prob.n_classes
    worst = np.full((len(rows), budget + 1), np.inf)
    best: list[list[tuple]] = [[() for _ in range(budget + 1)] for _ in rows]
    ar = np.arange(len(rows))
    for b in range(budget + 1):
        if b > 0:
            worst[:, b] = worst[:, b - 1]
            for r in range(len(rows)):
                best[r][b] = best[r][b - 1]
        for S in itertools.combinations(range(prob.n), b):
            others = [[k for k in range(K) if k != prob.codes[i]] for i in S]
            for new in itertools.product(*others):
                labels = prob.codes.copy()
                labels[list(S)] = new
                Z = retrain_ovr(prob.K, labels, K, prob.C, alpha0)
                F = Kt @ Z.T  # (rows, K)
                top = F[ar, tops]
                F[ar, tops] = -np.inf
                margin = top - F.max(axis=1)
                better = margin < worst[:, b]
                worst[better, b] = margin[better]
                for r in np.flatnonzero(better):
                    best[r][b] = tuple(zip(S, new))
    return worst, best
