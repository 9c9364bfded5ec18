"""A swap local search on the collective count: more test points changed by one relabelling.

The beam (:mod:`certmodel.labelcert._collective_beam`) only ever adds flips, so a flip it
took early that a better set would not contain stays.  This search starts from a replayed
relabelling (the screen's best) and moves between flip sets of the budget:

* **swap**: drop one flipped point ``i``, flip another point ``j`` (every pair ``(i, j)``);
* **add**: flip one more point ``j`` while the budget allows.

Every neighbour is admissible (flippable points only, total cost within the budget) and is
retrained exactly in one batched solve (warm start: the current α with ``α_j = C``,
unconverged retrains dropped).  Each step moves to the best neighbour by the beam's score

    score = #{t ∈ U : m_t ≤ 0} + (Σ of the k largest progress values) / (|U| + 1),

``progress_t = clip(1 − m_t / |m⁰_t|, 0, 1)``, ``k`` the best count so far plus two, when it
beats the current set's; at a local optimum the search restarts from the best set found with
``KICK_FLIPS`` of its flips swapped for random admissible ones, whose best neighbour it
takes (a seeded generator: the same input gives the same output).  It stops at the
deadline, when every row of ``U`` changes, or after ``IDLE_KICKS`` restarts in a row that
did not raise the best count (on the open records of docs/benchmarks.md every gain came
within the first 20 steps).  The best count is returned with its flip
set: a heuristic incumbent, never a bound — the caller replays it by retraining before it
counts.
"""

from __future__ import annotations

import numpy as np

from certmodel.deadline import Deadline
from certmodel.labelcert._collective_beam import collective_score
from certmodel.labelcert._problem import Problem
from certmodel.learners._svm_batch import solve_svm_dual_batch

__all__ = ["collective_swaps"]

KICK_FLIPS = 2  # flips of the best set replaced at random when a step finds nothing better
IDLE_KICKS = 20  # restarts in a row that do not raise the best count: the search stops
SEED = 0  # the kicks' generator: deterministic runs


def _score(M: np.ndarray, scale: np.ndarray, best: int, ok: np.ndarray):
    """``(score, count)`` per row of ``M``: the beam's score and the changed rows (−1 where
    the retrain did not converge)."""
    return collective_score(M, scale, best, ok), np.where(ok, np.sum(M <= 0, axis=1), -1)


def collective_swaps(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U, budget: float,
                     start: np.ndarray, deadline: Deadline) -> tuple[int, np.ndarray]:
    """``(count, flips)``: the most rows of ``U`` changed (margin ``≤ 0`` after exact
    retraining) by a relabelling within ``budget`` the search visits from the admissible flip
    set ``start`` (module doc), and that relabelling; ``start``'s own count when no move
    helps.  Runs until ``deadline`` expires, every row of ``U`` changes or ``IDLE_KICKS``
    restarts in a row gain nothing."""
    n, C, y = prob.n, prob.C, prob.y_pm
    th = prob.threat
    U = np.asarray(U, dtype=int)
    V = np.asarray(signs, float)[U, None] * prob.K_test[U]
    alpha0 = np.asarray(alpha0, float)
    m0 = V @ (y * alpha0)
    scale = np.maximum(np.abs(m0), 1e-12 * C * np.abs(V).sum(axis=1) + 1e-300)
    tol = 1e-9 * max(1.0, abs(budget))
    rng = np.random.default_rng(SEED)

    def retrain(F: np.ndarray, A0: np.ndarray):
        Y = np.where(F, -y[None, :], y[None, :])
        A, ok = solve_svm_dual_batch(prob.K, Y, C, A0, check_start=False)
        return (Y * A) @ V.T, A, ok

    cur = np.asarray(start, bool).copy()
    M, A, ok = retrain(cur[None], alpha0[None].copy())
    if not ok[0]:
        return 0, cur
    sc, cnt = _score(M, scale, 0, ok)
    best, cur_score, cur_A = (int(cnt[0]), cur.copy()), float(sc[0]), A[0]
    idle = 0  # restarts since the best count last rose
    while best[0] < len(U) and idle < IDLE_KICKS and not deadline.expired():
        spent = float(th.cost[cur].sum())
        out = np.flatnonzero(th.mask & ~cur)
        drop = np.flatnonzero(cur)
        # swaps (i out, j in) whose cost fits, then the single adds
        ii, jj = np.meshgrid(drop, out, indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        fit = spent - th.cost[ii] + th.cost[jj] <= budget + tol
        ii, jj = ii[fit], jj[fit]
        add = out[spent + th.cost[out] <= budget + tol]
        rows = len(ii) + len(add)
        if rows == 0:
            break
        F = np.broadcast_to(cur, (rows, n)).copy()
        F[np.arange(len(ii)), ii] = False
        F[np.arange(len(ii)), jj] = True
        F[len(ii) + np.arange(len(add)), add] = True
        A0 = np.broadcast_to(cur_A, (rows, n)).copy()
        A0[np.arange(rows), np.concatenate([jj, add])] = C
        M, A, ok = retrain(F, A0)
        sc, cnt = _score(M, scale, best[0], ok)
        k = int(np.argmax(sc))
        if cnt[k] > best[0]:
            best, idle = (int(cnt[k]), F[k].copy()), 0
        if sc[k] > cur_score:
            cur, cur_score, cur_A = F[k], float(sc[k]), A[k]
            continue
        # a local optimum: restart from the best set with KICK_FLIPS flips replaced
        idle += 1
        cur = best[1].copy()
        for i in rng.permutation(np.flatnonzero(cur))[:KICK_FLIPS]:
            cur[i] = False
            spent = float(th.cost[cur].sum())
            free = np.flatnonzero(th.mask & ~cur & (spent + th.cost <= budget + tol))
            free = free[free != i]
            if len(free):
                cur[rng.choice(free)] = True
        M, A, ok = retrain(cur[None], alpha0[None].copy())
        if not ok[0]:
            cur, cur_score, cur_A = best[1].copy(), -np.inf, alpha0
            continue
        if int(np.sum(M[0] <= 0)) > best[0]:
            best, idle = (int(np.sum(M[0] <= 0)), cur.copy()), 0
        cur_score, cur_A = -np.inf, A[0]  # the kicked set's best neighbour is taken
    return best
