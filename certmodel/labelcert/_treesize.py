"""How long the binary relabelling search will take: Knuth's estimate of its tree.

The cost model of :mod:`certmodel.labelcert._searchpath` must compare the search with the
MILP time it replaces *before* running it.  Counting relabellings (``N(B) × retrain cost``)
ignores pruning, which is what makes the search fast: with the bounds (B1)/(B3ᵁ) of
:mod:`certmodel.labelcert._search` the budget-8 tree of CSBM n = 80 (``N ≈ 3·10¹⁰``
relabellings) is decided after 2.8·10⁶ retrains.  Knuth's estimator (Math. Comp. 29,
1975) measures the pruned tree instead: a *dive* walks from the root to a leaf, at each
node applying the search's own screen and subtree bound to all children (retraining those
the screen keeps, as the search would) and stepping into one expandable child chosen
uniformly at random.  With ``d_ℓ`` the number of expandable children at depth ``ℓ`` on the
path and ``r_ℓ`` the children retrained there,

    N̂ = Σ_ℓ (Π_{ℓ' < ℓ} d_ℓ') · r_ℓ

is an unbiased estimate of the number of retrained nodes of the search with a static
pruning rule (the real search also closes rows at witnesses, so it visits at most that
many).  The mean over ``dives`` dives times the measured CPU seconds per retrained node of
the dives (screens and bounds included) estimates the search's time.  It steers only the
choice of path — every verdict still comes from the exact search or the MILP.
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.labelcert._flip_order import child_masks, node_ranks
from certmodel.labelcert._problem import RetrainFailed
from certmodel.labelcert._search import (
    _COST_TOL,
    _flip_cost,
    _need,
    _screen,
    _subtree_bounds,
    attach_cut,
    b3_readout,
)
from certmodel.learners._svm_batch import solve_svm_dual_batch

__all__ = ["estimate_binary_search"]


def estimate_binary_search(prob, alpha0: np.ndarray, signs: np.ndarray, rows: np.ndarray,
                           budget: float, eps: np.ndarray, geo, dives: int = 24,
                           seed: int = 0, time_limit: float | None = None,
                           ) -> tuple[float, float]:
    """``(nodes, seconds)``: Knuth's estimate of the retrained nodes of
    :func:`~certmodel.labelcert._search.search_binary` (in its flip order) for test ``rows``
    at ``budget``, and
    that many times the measured CPU seconds per retrained node (``inf`` without a PSD
    geometry: the search would enumerate).  ``time_limit`` bounds the dives' wall time (the
    estimate then averages the dives finished, at least one)."""
    if geo is None or not geo.psd or len(rows) == 0:
        return np.inf, np.inf
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, int)
    K, C = prob.K, prob.C
    flippable, cost, _ = _flip_cost(prob)
    if not flippable.any():
        return 0.0, 0.0
    min_cost = float(cost[flippable].min())
    Kt = prob.K_test[rows] * signs[rows, None]
    eps_r = np.asarray(eps, float)[rows]
    kappa, rest = geo.readout(prob.K_test[rows], C)
    y0, alpha0 = prob.y_pm, np.asarray(alpha0, float)
    ro = attach_cut(b3_readout(prob, geo, alpha0, y0, Kt, kappa, rest, float(budget),
                               flippable, min_cost),
                    prob, geo, alpha0, y0, Kt, kappa, float(budget), flippable, min_cost,
                    gated=False)
    ksq = geo.diag_sqrt
    Rmax = np.full(len(rows), float(budget))
    active = np.ones(len(rows), bool)
    tol = _COST_TOL * max(1.0, float(budget))
    estimates = []
    retrained = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(dives):
        if estimates and time_limit is not None and time.perf_counter() - w0 > time_limit:
            break
        A, Y, c, AL = alpha0, y0.copy(), 0.0, flippable[None].copy()
        weight, total = 1.0, 0.0
        while True:
            kids = np.flatnonzero(AL[0] & (c + cost <= budget + tol))
            if not len(kids):
                break
            ZP = (Y * A)[None]
            RK = node_ranks(ro, ZP, Y[None], C, AL)  # the search's order at this node
            MP, aP = Kt @ ZP.T, Y[None] * (ZP @ K)
            zero = np.zeros(len(kids), int)
            skip, _ = _screen(aP, MP, np.array([c]), zero, kids, Rmax, active, eps_r, kappa,
                              rest, ksq, C, cost, AL, RK, min_cost, ro, ZP, Y[None])
            kids = kids[~skip]
            if not len(kids):
                break
            Yc = np.repeat(Y[None], len(kids), axis=0)
            Yc[np.arange(len(kids)), kids] *= -1.0
            A0 = np.repeat(A[None], len(kids), axis=0)
            A0[np.arange(len(kids)), kids] = C
            Ac, conv = solve_svm_dual_batch(K, Yc, C, A0, check_start=False)
            if not conv.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point (estimate)")
            retrained += len(kids)
            total += weight * len(kids)
            cc = c + cost[kids]
            Z = Yc * Ac
            M = Kt @ Z.T
            allowed = child_masks(AL, RK, np.zeros(len(kids), int), kids)
            expandable = (budget - cc >= min_cost - tol) & allowed.any(axis=1)
            keep = expandable.copy()
            cand = expandable & ~_need(M, eps_r, active)
            if cand.any():
                lb = _subtree_bounds(M, Z, Yc, cc, allowed, cand, Rmax, active, ro, eps_r,
                                     kappa, rest, ksq, C, K, min_cost)
                keep = expandable & _need(lb, eps_r, active)
            go = np.flatnonzero(keep)
            if not len(go):
                break
            weight *= len(go)
            q = int(rng.choice(go))
            A, Y, c, AL = Ac[q], Yc[q], float(cc[q]), allowed[q][None]
        estimates.append(total)
    nodes = float(np.mean(estimates))
    per_node = (time.process_time() - c0) / max(retrained, 1)
    return nodes, nodes * per_node
