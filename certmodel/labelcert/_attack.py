"""Attack first: a greedy relabelling attack with exact SVM retraining.

For test point ``t`` with clean sign ``s``, each step flips the label that lowers the margin
``s · f_t`` the most among the ``candidates`` labels ranked by the first-order effect
``2 s ỹ_i K_ti (α_i + C/2)`` (the α term is the exact change at fixed α; the C/2 term keeps
points with α_i = 0 in play), retraining the SVM exactly for each candidate.  Only a
replayed success counts: the attack returns the margin *after retraining*, so a reported
success is a genuine witness.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary

__all__ = ["AttackPath", "greedy_attack"]


@dataclasses.dataclass
class AttackPath:
    """The greedy trajectory: after step ``k`` (k flips) the margin is ``margins[k]``."""

    flips: list[np.ndarray]  # flip masks, flips[k] has k flips
    alphas: list[np.ndarray]
    margins: list[float]

    def first_success(self) -> int | None:
        """Smallest number of flips whose retrained margin is ≤ 0 (None if never)."""
        for k, mg in enumerate(self.margins):
            if mg <= 0:
                return k
        return None

    def best_within(self, budget: int) -> int:
        """Step (≤ budget) with the lowest margin (for warm starts)."""
        upto = self.margins[: budget + 1]
        return int(np.argmin(upto))


def greedy_attack(prob: Problem, alpha0: np.ndarray, k_t: np.ndarray, sign: float,
                  max_budget: int, candidates: int = 6) -> AttackPath:
    """Greedy attack on one test point up to ``max_budget`` flips (stops at the first success)."""
    y = prob.y_pm.copy()
    flips = np.zeros(prob.n, dtype=bool)
    alpha = alpha0.copy()
    margin = float(sign * k_t @ (y * alpha))
    path = AttackPath([flips.copy()], [alpha.copy()], [margin])
    for _ in range(max_budget):
        if margin <= 0:
            break
        score = 2.0 * sign * y * k_t * (alpha + 0.5 * prob.C)
        score[flips] = -np.inf
        order = np.argsort(-score, kind="stable")[:candidates]
        best = (np.inf, None, None)
        for i in order:
            if not np.isfinite(score[i]):
                continue
            y2 = y.copy()
            y2[i] = -y2[i]
            try:
                z2 = retrain_binary(prob.K, y2, prob.C, alpha)
            except RetrainFailed:  # never build a witness on an unconverged retrain
                continue
            a2 = y2 * z2
            m2 = float(sign * k_t @ z2)
            if m2 < best[0]:
                best = (m2, i, a2)
        if best[1] is None:
            break
        margin, i, alpha = best
        y[i] = -y[i]
        flips[i] = True
        path.flips.append(flips.copy())
        path.alphas.append(alpha.copy())
        path.margins.append(margin)
    return path
