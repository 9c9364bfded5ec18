"""A beam attack on the collective count: one relabelling that changes many test points.

The collective record is exact when a proven bound meets the count of a replayed
relabelling.  The sample-wise witnesses (and their unions) each aim at one point; this beam
aims at all of ``U`` (the test rows the screen could not prove robust) at once.

State: a flip set ``F`` with its exactly retrained SVM (``z = y_F ∘ α_F``) and the margins
``m_t = v_t · z`` of the rows ``t ∈ U`` (``v_t = s_t K_test[t]``).  Each step expands
every kept set by its ``candidates`` best single flips under the first-order score

    σ_i = Σ_{t ∈ U, m_t > 0} (2 ỹ_i v_{t,i} (α_i + C/2)) / m_t,

the drop of each unchanged row's margin at fixed α (the ``C/2`` keeps ``α_i = 0`` points in
play, as in :func:`~certmodel.labelcert._attack.greedy_attacks`) relative to what that row
still needs — per unit cost with a threat model's costs.  Children are deduplicated,
retrained in one batched solve (warm start: the parent's α with ``α_i = C``; unconverged
retrains dropped; :func:`~certmodel.labelcert._attack.beam_children`), counted exactly,
and the ``width`` best are kept by

    score = #{t ∈ U : m_t ≤ 0} + (Σ of the k largest progress values) / (|U| + 1),

``progress_t = clip(1 − m_t / |m⁰_t|, 0, 1)`` (1 for a changed row), ``k`` the best count so
far plus two: the count first, then how close the next rows are.  Only flippable points
whose cost keeps the set within the budget are children, so every visited set is
admissible.  The best count found is returned with its flip set: a heuristic incumbent,
never a bound — the caller replays it by retraining before it counts.
"""

from __future__ import annotations

import numpy as np

from certmodel.deadline import Deadline
from certmodel.labelcert._attack import beam_children
from certmodel.labelcert._problem import Problem

__all__ = ["collective_beam", "collective_score"]


def collective_score(M: np.ndarray, scale: np.ndarray, best: int,
                     ok: np.ndarray) -> np.ndarray:
    """The module's score of each row of margins ``M`` (flip sets × rows of ``U``):
    ``#{t : m_t ≤ 0} + (Σ of the k largest progress values) / (|U| + 1)``, ``k = best + 2``,
    ``progress_t = clip(1 − m_t / scale_t, 0, 1)`` (1 for a changed row); ``−inf`` where
    ``ok`` is False (the retrain did not converge)."""
    count = np.sum(M <= 0, axis=1)
    progress = np.where(M <= 0, 1.0, np.clip(1.0 - M / scale[None, :], 0.0, 1.0))
    k = min(best + 2, M.shape[1])
    lead = -np.sort(-progress, axis=1)[:, :k].sum(axis=1)
    return np.where(ok, count + lead / (M.shape[1] + 1), -np.inf)


def collective_beam(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U, budget: float,
                    width: int = 32, candidates: int = 32,
                    deadline: Deadline | None = None) -> tuple[int, np.ndarray]:
    """``(count, flips)``: the most rows of ``U`` one visited relabelling within ``budget``
    changes (margin ``≤ 0`` after exact retraining) and that relabelling (module doc).  The
    clean labelling (count of ``U``'s non-positive clean margins) when no step helps;
    ``deadline`` (optional) ends the beam early with the best so far."""
    n, C, y = prob.n, prob.C, prob.y_pm
    th = prob.threat
    U = np.asarray(U, dtype=int)
    V = np.asarray(signs, float)[U, None] * prob.K_test[U]
    m0 = V @ (y * np.asarray(alpha0, float))
    scale = np.maximum(np.abs(m0), 1e-12 * C * np.abs(V).sum(axis=1) + 1e-300)
    F = np.zeros((1, n), bool)
    A = np.asarray(alpha0, float)[None].copy()
    Y = y[None].copy()
    M = m0[None]
    spent = np.zeros(1)
    best = (int(np.sum(m0 <= 0)), F[0].copy())
    for _ in range(th.max_flips(budget)):
        if deadline is not None and deadline.expired():
            break
        w = np.where(M > 0, 1.0 / np.where(M > 0, M, 1.0), 0.0)  # (b, |U|)
        score = (w @ V) * (2.0 * Y * (A + C / 2.0)) / th.cost[None, :]  # (b, n)
        fits = th.mask[None, :] & ~F & (spent[:, None] + th.cost[None, :]
                                         <= budget + 1e-9 * max(1.0, abs(budget)))
        grown = beam_children(prob, F, A, np.where(fits, score, -np.inf), candidates)
        if grown is None:
            break
        Fc, Yc, Ac, ok = grown
        Mc = (Yc * Ac) @ V.T
        count = np.where(ok, np.sum(Mc <= 0, axis=1), -1)
        top = int(np.argmax(count))
        if count[top] > best[0]:
            best = (int(count[top]), Fc[top].copy())
        rank = collective_score(Mc, scale, best[0], ok)
        keep = np.argsort(-rank, kind="stable")[:width]
        keep = keep[np.isfinite(rank[keep])]
        if not len(keep):
            break
        F, Y, A, M = Fc[keep], Yc[keep], Ac[keep], Mc[keep]
        spent = F.astype(float) @ th.cost
    return best
