"""Attack first: a greedy relabelling attack with exact SVM retraining.

For test point ``t`` with clean sign ``s``, each step flips the label that lowers the margin
``s · f_t`` the most among the ``candidates`` labels ranked by the first-order effect
``2 s ỹ_i K_ti (α_i + C/2)`` (the α term is the exact change at fixed α; the C/2 term keeps
points with α_i = 0 in play), retraining the SVM exactly for each candidate.  Only a
replayed success counts: the attack returns the margin *after retraining*, so a reported
success is a genuine witness.  All test points are attacked at once: every step retrains
all their candidates in one batched solve.

Threat model (``prob.threat``): only flippable points are candidates; with per-point costs
candidates are ranked by effect per unit cost and a step is taken only while the total cost
stays within the row's cost limit, so every trajectory prefix is admissible.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from certmodel.deadline import stage_deadline
from certmodel.labelcert._problem import Problem
from certmodel.learners._svm_batch import solve_svm_dual_batch

__all__ = ["AttackPath", "greedy_attacks"]


@dataclasses.dataclass
class AttackPath:
    """The greedy trajectory: after step ``k`` (k flips) the margin is ``margins[k]``."""

    flips: list[np.ndarray]  # flip masks, flips[k] has k flips
    alphas: list[np.ndarray]
    margins: list[float]
    costs: list[float] = dataclasses.field(default_factory=list)  # cost of flips[k]

    def cost(self, k: int) -> float:
        """Total flip cost after ``k`` steps (``k`` with unit costs)."""
        return self.costs[k] if self.costs else float(k)

    def first_success(self) -> int | None:
        """Smallest number of flips whose retrained margin is ≤ 0 (None if never)."""
        for k, mg in enumerate(self.margins):
            if mg <= 0:
                return k
        return None

    def best_within(self, budget: int) -> int:
        """Step (cost ≤ budget) with the lowest margin (for warm starts)."""
        from certmodel.threat import ResolvedThreat

        ok = [k for k in range(len(self.margins)) if ResolvedThreat.within(self.cost(k), budget)]
        return int(ok[int(np.argmin([self.margins[k] for k in ok]))])


def greedy_attacks(prob: Problem, alpha0: np.ndarray, rows, signs: np.ndarray, max_budgets,
                   candidates: int = 6) -> dict[int, AttackPath]:
    """Greedy attack on every test row in ``rows`` (up to ``max_budgets[r]`` flips, stopping
    at the first success), retraining all rows' candidates in one batched solve per step.

    ``max_budgets`` are cost budgets when the threat model has costs.  Returns
    ``{row: AttackPath}``.
    """
    rows = np.asarray(rows, dtype=int)
    n, C = prob.n, prob.C
    threat = prob.threat
    Kt = prob.K_test[rows]
    s = signs[rows]
    cost_limit = np.asarray(max_budgets, dtype=float)
    limit = np.array([threat.max_flips(b) for b in cost_limit], dtype=int)
    spent = np.zeros(len(rows))
    Y = np.broadcast_to(prob.y_pm, (len(rows), n)).copy()
    F = np.zeros((len(rows), n), dtype=bool)
    A = np.broadcast_to(alpha0, (len(rows), n)).copy()
    margin = s * np.einsum("rn,rn->r", Kt, Y * A)
    paths = {int(t): AttackPath([F[r].copy()], [A[r].copy()], [float(margin[r])], [0.0])
             for r, t in enumerate(rows)}
    deadline = stage_deadline()  # the time limit bounds the attack too
    for step in range(int(limit.max(initial=0))):
        if deadline.expired():  # the paths found so far stay valid (each step retrained)
            break
        act = np.flatnonzero((margin > 0) & (step < limit))
        if not len(act):
            break
        score = 2.0 * s[act, None] * Y[act] * Kt[act] * (A[act] + 0.5 * C)
        score[F[act]] = -np.inf
        score[:, ~threat.mask] = -np.inf
        if not threat.unit_cost:
            score = np.where(score > 0, score / threat.cost[None, :], score)
            over = spent[act, None] + threat.cost[None, :] > \
                cost_limit[act, None] + 1e-9 * np.maximum(1.0, cost_limit[act, None])
            score[over] = -np.inf
        cand = np.argsort(-score, axis=1, kind="stable")[:, :candidates]
        valid = np.isfinite(np.take_along_axis(score, cand, axis=1))
        owner = np.repeat(act, cand.shape[1])[valid.ravel()]
        flip = cand[valid]
        if not len(owner):
            break
        Yc = Y[owner].copy()
        Yc[np.arange(len(owner)), flip] *= -1.0
        Ac, ok = solve_svm_dual_batch(prob.K, Yc, C, A[owner])
        m2 = s[owner] * np.einsum("pn,pn->p", Kt[owner], Yc * Ac)
        m2[~ok] = np.inf  # never build a witness on an unconverged retrain
        for r in act:
            mine = np.flatnonzero(owner == r)
            if not len(mine) or not np.isfinite(m2[mine]).any():
                limit[r] = step  # nothing usable: stop this row
                continue
            k = mine[np.argmin(m2[mine])]
            Y[r], A[r], margin[r] = Yc[k], Ac[k], m2[k]
            F[r, flip[k]] = True
            spent[r] += threat.cost[flip[k]]
            p = paths[int(rows[r])]
            p.flips.append(F[r].copy())
            p.alphas.append(A[r].copy())
            p.margins.append(float(margin[r]))
            p.costs.append(float(spent[r]))
    return paths
