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

Also here: the *beam* version (:func:`beam_attack`: the ``width`` lowest retrained margins are
kept after each step instead of one), and both for one-vs-rest multiclass SVMs
(:func:`greedy_attacks_multiclass`, :func:`beam_attack_multiclass`: a move relabels one point
and retrains the two binary problems it touches; target classes of the threat model only).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from certmodel.deadline import stage_deadline
from certmodel.labelcert._problem import Problem
from certmodel.learners._svm_batch import solve_svm_dual_batch
from certmodel.results import Path, ValueKind, Verdict

__all__ = ["AttackPath", "MulticlassAttackPath", "beam_attack", "beam_attack_multiclass",
           "beam_children", "beam_stage", "greedy_attacks", "greedy_attacks_multiclass"]


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


def _flip_scores(prob: Problem, sign, Y, Kt, A, flipped, spent, cost_limit) -> np.ndarray:
    """First-order effect of flipping each label on the signed margin, per row:
    ``2 s ỹ_i K_ti (α_i + C/2)`` (per unit cost with costs); ``−inf`` for points already
    flipped, not flippable, or whose cost would exceed the row's ``cost_limit``."""
    threat = prob.threat
    score = 2.0 * sign * Y * Kt * (A + 0.5 * prob.C)
    score[flipped] = -np.inf
    score[:, ~threat.mask] = -np.inf
    if not threat.unit_cost:
        score = np.where(score > 0, score / threat.cost[None, :], score)
        over = spent[:, None] + threat.cost[None, :] > \
            cost_limit[:, None] + 1e-9 * np.maximum(1.0, cost_limit[:, None])
        score[over] = -np.inf
    return score


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
        score = _flip_scores(prob, s[act, None], Y[act], Kt[act], A[act], F[act], spent[act],
                             cost_limit[act])
        cand = np.argsort(-score, axis=1, kind="stable")[:, :candidates]
        valid = np.isfinite(np.take_along_axis(score, cand, axis=1))
        owner = np.repeat(act, cand.shape[1])[valid.ravel()]
        flip = cand[valid]
        if not len(owner):
            break
        Yc = Y[owner].copy()
        Yc[np.arange(len(owner)), flip] *= -1.0
        Ac, ok = solve_svm_dual_batch(prob.K, Yc, C, A[owner], check_start=False)
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


@dataclasses.dataclass
class MulticlassAttackPath:
    """The multiclass greedy trajectory: after step ``k`` the training labels (class codes)
    are ``labels[k]`` and the retrained one-vs-rest margin is ``margins[k]``."""

    labels: list[np.ndarray]
    margins: list[float]
    costs: list[float]

    def first_success(self) -> int | None:
        """Smallest step whose retrained margin is ≤ 0 (None if never)."""
        for k, mg in enumerate(self.margins):
            if mg <= 0:
                return k
        return None


def _margins(F: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """``F`` (..., K) logits, ``tops`` broadcastable: ``f_top − max_{k≠top} f_k``."""
    top = np.take_along_axis(F, tops[..., None], axis=-1)[..., 0]
    G = F.copy()
    np.put_along_axis(G, tops[..., None], -np.inf, axis=-1)
    return top - G.max(axis=-1)


def _multiclass_children(prob: Problem, L, A, F, Kt, tp, moved, spent, cost_limit, margin,
                         candidates: int):
    """Expand states (rows of ``L`` labels, ``A`` (K, n) alphas, ``F`` logits, one test row
    ``Kt``/top ``tp`` each) by their ``candidates`` best relabellings ``(i, c)`` under the
    first-order logit changes, retrained exactly.  Returns ``(owner, point, Lc, Ac, Fc,
    margins)`` of the children (``margins`` +inf where a retrain did not converge)."""
    n, C, nK = prob.n, prob.C, prob.n_classes
    threat = prob.threat
    codes = prob.codes
    cls = np.arange(nK)
    s_ = len(L)
    # first-order logits after relabelling (i, c): (s, n, K(new class), K(logit))
    w = 2.0 * Kt
    Ao = np.take_along_axis(A, L[:, None, :], axis=1)[:, 0]  # α^o_i, o = current class
    Fa = np.broadcast_to(F[:, None, None, :], (s_, n, nK, nK)).copy()
    dec_o = -w * (Ao + 0.5 * C)
    inc_c = w[:, :, None] * (A.transpose(0, 2, 1) + 0.5 * C)  # (s, n, K): α^c_i
    ia, ii = np.meshgrid(np.arange(s_), np.arange(n), indexing="ij")
    for c in range(nK):
        Fa[ia, ii, c, L] += dec_o
        Fa[:, :, c, c] += inc_c[:, :, c]
    approx = _margins(Fa, np.broadcast_to(tp[:, None, None], (s_, n, nK)))
    ok = (threat.mask[:, None] & threat.target_mask[None, :] &
          (cls[None, :] != codes[:, None]))[None] & ~moved[:, :, None]
    if not threat.unit_cost:
        over = spent[:, None] + threat.cost[None, :] > \
            cost_limit[:, None] + 1e-9 * np.maximum(1.0, cost_limit[:, None])
        ok &= ~over[:, :, None]
        gain = margin[:, None, None] - approx
        approx = np.where(gain > 0, margin[:, None, None] - gain / threat.cost[None, :, None],
                          approx)
    approx = np.where(ok, approx, np.inf).reshape(s_, -1)
    cand = np.argsort(approx, axis=1, kind="stable")[:, :candidates]
    valid = np.isfinite(np.take_along_axis(approx, cand, axis=1))
    owner = np.repeat(np.arange(s_), cand.shape[1])[valid.ravel()]
    flat = cand[valid]
    pi, pc = flat // nK, flat % nK
    po = L[owner, pi]
    m_ = len(owner)
    ar = np.arange(m_)
    Lc = L[owner].copy()
    Lc[ar, pi] = pc
    Ac = A[owner].copy()
    if not m_:
        return owner, pi, Lc, Ac, np.zeros((0, nK)), np.zeros(0)
    prob_k = np.concatenate([po, pc])
    who = np.concatenate([ar, ar])
    Yb = np.where(Lc[who] == prob_k[:, None], 1.0, -1.0)
    Ab0 = Ac[who, prob_k].copy()
    Ab0[np.arange(2 * m_), np.concatenate([pi, pi])] = C
    Ab, conv = solve_svm_dual_batch(prob.K, Yb, C, Ab0)
    Ac[who, prob_k] = Ab
    Fc = np.einsum("pkn,pn->pk", np.where(Lc[:, None, :] == cls[None, :, None], 1.0, -1.0)
                   * Ac, Kt[owner])
    m2 = _margins(Fc, tp[owner])
    m2[~(conv[:m_] & conv[m_:])] = np.inf  # never build a witness on an unconverged retrain
    return owner, pi, Lc, Ac, Fc, m2


def _clean_state(prob: Problem, alphas, Kt, tp):
    """Labels, alphas, logits and margins of the clean model, one state per row of ``Kt``."""
    cls = np.arange(prob.n_classes)
    L = np.broadcast_to(prob.codes, (len(Kt), prob.n)).copy()
    A = np.broadcast_to(alphas, (len(Kt), prob.n_classes, prob.n)).copy()
    F = np.einsum("rkn,rn->rk", np.where(L[:, None, :] == cls[None, :, None], 1.0, -1.0) * A,
                  Kt)
    return L, A, F, _margins(F, tp)


def greedy_attacks_multiclass(prob: Problem, alphas: np.ndarray, tops: np.ndarray, rows,
                              max_budgets, candidates: int = 8,
                              ) -> dict[int, MulticlassAttackPath]:
    """Greedy relabelling attack on one-vs-rest SVMs, every test row in ``rows`` at once.

    Relabelling point ``i`` from class ``o`` to ``c`` flips ``y^o_i: +1 → −1`` and
    ``y^c_i: −1 → +1`` and leaves the other ``K − 2`` problems unchanged.  Candidates
    ``(i, c)`` are ranked by the margin ``f_a − max_{k≠a} f_k`` (``a`` the clean prediction)
    after the first-order logit changes ``Δf_o(t) = −2 K_ti (α^o_i + C/2)`` and
    ``Δf_c(t) = +2 K_ti (α^c_i + C/2)`` (as in :func:`greedy_attacks`); the best
    ``candidates`` per row are retrained exactly (the two touched problems, warm-started at the
    parent's α with ``α_i = C``) and the lowest *retrained* margin is taken.  Each point is
    relabelled at most once; only flippable points and target classes of ``prob.threat`` are
    used, and with costs a step is taken only while the total stays within the row's cost
    limit.  Returns ``{row: MulticlassAttackPath}``; a step's margin is exact, so a margin
    ``≤ 0`` is a witness (callers still replay it).
    """
    rows = np.asarray(rows, dtype=int)
    threat = prob.threat
    Kt = prob.K_test[rows]
    tp = np.asarray(tops)[rows]
    cost_limit = np.asarray(max_budgets, dtype=float)
    limit = np.array([threat.max_flips(b) for b in cost_limit], dtype=int)
    spent = np.zeros(len(rows))
    moved = np.zeros((len(rows), prob.n), dtype=bool)
    L, A, F, margin = _clean_state(prob, alphas, Kt, tp)
    paths = {int(t): MulticlassAttackPath([L[r].copy()], [float(margin[r])], [0.0])
             for r, t in enumerate(rows)}
    deadline = stage_deadline()
    for step in range(int(limit.max(initial=0))):
        if deadline.expired():
            break
        act = np.flatnonzero((margin > 0) & (step < limit))
        if not len(act):
            break
        owner, pi, Lc, Ac, Fc, m2 = _multiclass_children(
            prob, L[act], A[act], F[act], Kt[act], tp[act], moved[act], spent[act],
            cost_limit[act], margin[act], candidates)
        if not len(owner):
            break
        for u, r in enumerate(act):
            mine = np.flatnonzero(owner == u)
            if not len(mine) or not np.isfinite(m2[mine]).any():
                limit[r] = step
                continue
            k = mine[np.argmin(m2[mine])]
            L[r], A[r], F[r], margin[r] = Lc[k], Ac[k], Fc[k], m2[k]
            moved[r, pi[k]] = True
            spent[r] += threat.cost[pi[k]]
            p = paths[int(rows[r])]
            p.labels.append(L[r].copy())
            p.margins.append(float(margin[r]))
            p.costs.append(float(spent[r]))
    return paths


def beam_attack_multiclass(prob: Problem, alphas: np.ndarray, tops: np.ndarray, t: int,
                           budget: float, width: int = 32, candidates: int = 16,
                           ) -> tuple[np.ndarray, float] | None:
    """Beam-search version of :func:`greedy_attacks_multiclass` for test row ``t``: after each
    step the ``width`` relabellings with the lowest retrained margins are kept, each expanded
    by its ``candidates`` best first-order moves (deduplicated, retrained exactly).  Returns
    ``(labels, margin)`` at the first step where some relabelling reaches margin ``≤ 0``
    (fewest moves; the lowest margin among them), or None (also past the stage time
    limit)."""
    threat = prob.threat
    Kt1 = prob.K_test[t:t + 1]
    tp1 = np.asarray(tops)[t:t + 1]
    L, A, F, margin = _clean_state(prob, alphas, Kt1, tp1)
    moved = np.zeros((1, prob.n), dtype=bool)
    spent = np.zeros(1)
    deadline = stage_deadline()
    for _ in range(threat.max_flips(budget)):
        if deadline.expired():
            return None
        s_ = len(L)
        owner, _pi, Lc, Ac, Fc, m2 = _multiclass_children(
            prob, L, A, F, np.repeat(Kt1, s_, axis=0), np.repeat(tp1, s_), moved, spent,
            np.full(s_, float(budget)), margin, candidates)
        if not len(owner) or not np.isfinite(m2).any():
            return None
        _, first = np.unique(Lc, axis=0, return_index=True)
        Lc, Ac, Fc, m2 = Lc[first], Ac[first], Fc[first], m2[first]
        best = int(np.argmin(m2))
        if m2[best] <= 0:
            return Lc[best], float(m2[best])
        keep = np.argsort(m2, kind="stable")[:width]
        keep = keep[np.isfinite(m2[keep])]
        L, A, F, margin = Lc[keep], Ac[keep], Fc[keep], m2[keep]
        moved = L != prob.codes[None, :]
        spent = moved.astype(float) @ threat.cost
    return None


def beam_children(prob: Problem, F: np.ndarray, A: np.ndarray, score: np.ndarray,
                  candidates: int):
    """One beam step: every kept flip set ``F[p]`` (duals ``A[p]``) grows by each of its
    ``candidates`` best-scoring single flips (``score`` (b, n), ``−inf``: not allowed);
    children are deduplicated and retrained in one batched solve warm-started from the
    parent (the flipped point at ``α_i = C``).  Returns ``(Fc, Yc, Ac, converged)`` or None
    when no child is allowed."""
    C, y = prob.C, prob.y_pm
    cand = np.argsort(-score, axis=1, kind="stable")[:, :candidates]
    valid = np.isfinite(np.take_along_axis(score, cand, axis=1))
    parent = np.repeat(np.arange(len(F)), cand.shape[1])[valid.ravel()]
    flip = cand[valid]
    if not len(parent):
        return None
    Fc = F[parent].copy()
    Fc[np.arange(len(parent)), flip] = True
    Fc, first = np.unique(Fc, axis=0, return_index=True)
    parent, flip = parent[first], flip[first]
    Yc = np.where(Fc, -y[None, :], y[None, :])
    A0 = A[parent].copy()
    A0[np.arange(len(parent)), flip] = C
    Ac, ok = solve_svm_dual_batch(prob.K, Yc, C, A0, check_start=False)
    return Fc, Yc, Ac, ok


def beam_attack(prob: Problem, alpha0: np.ndarray, t: int, sign: float, budget: float,
                width: int = 32, candidates: int = 16) -> tuple[np.ndarray, float] | None:
    """Beam-search relabelling attack on test row ``t`` (binary), exact retraining throughout.

    The greedy attack keeps one trajectory; this one keeps the ``width`` flip sets with the
    lowest *retrained* margins ``sign · f_t`` after each step.  Every kept set is expanded by
    its ``candidates`` best single flips under the first-order score of
    :func:`greedy_attacks` (per unit cost with costs; only flippable points whose cost keeps
    the total within ``budget``); children are deduplicated, retrained in one batched solve
    (warm start: the parent's α with ``α_i = C``), and unconverged retrains are dropped.
    Returns ``(flips, margin)`` of the first step at which some set reaches margin ``≤ 0``
    (fewest flips; the lowest margin among them), or None (also when the stage time limit,
    :func:`~certmodel.deadline.stage_deadline`, passes first).
    """
    n = prob.n
    threat = prob.threat
    k_t = prob.K_test[t]
    y = prob.y_pm
    limit = threat.max_flips(budget)
    F = np.zeros((1, n), dtype=bool)
    A = np.asarray(alpha0, float)[None].copy()
    spent = np.zeros(1)
    Y = y[None].copy()
    deadline = stage_deadline()  # the time limit bounds the beam too (no witness: None)
    for _ in range(limit):
        if deadline.expired():
            return None
        score = _flip_scores(prob, sign, Y, k_t[None, :], A, F, spent,
                             np.full(len(F), float(budget)))
        grown = beam_children(prob, F, A, score, candidates)
        if grown is None:
            return None
        Fc, Yc, Ac, ok = grown
        margin = sign * (Yc * Ac) @ k_t
        margin[~ok] = np.inf  # never build a witness on an unconverged retrain
        if not np.isfinite(margin).any():
            return None
        best = int(np.argmin(margin))
        if margin[best] <= 0:
            return Fc[best], float(margin[best])
        keep = np.argsort(margin, kind="stable")[:width]
        keep = keep[np.isfinite(margin[keep])]
        F, Y, A = Fc[keep], Yc[keep], Ac[keep]
        spent = F.astype(float) @ threat.cost
    return None


def beam_stage(prob: Problem, budgets, beam_width: int, dec: dict, put, times,
               attack_one) -> None:
    """The pipelines' beam stage: for every test row with open budgets (``(t, B)`` not in
    ``dec``), ``attack_one(t, largest open budget)`` returns ``(margin, cost, witness)`` of a
    replayed relabelling (``witness``: the keyword arguments ``put`` records it with) or None;
    the witness settles every open budget that admits its cost (path ``attack``).  One stage
    time limit (:func:`~certmodel.deadline.stage_deadline`) bounds the whole stage; the
    seconds spent on row ``t`` are added to ``times[t]``."""
    if beam_width <= 0:
        return
    deadline = stage_deadline()
    for t in range(prob.m):
        todo = [B for B in budgets if B > 0 and (t, B) not in dec]
        if not todo:
            continue
        if deadline.expired():
            break
        t0 = time.perf_counter()
        found = attack_one(t, max(todo))
        times[t] += time.perf_counter() - t0
        if found is None:
            continue
        margin, cost, witness = found
        for B in todo:
            if prob.threat.within(cost, B):
                put(t, B, Verdict.NOT_ROBUST, margin, ValueKind.WITNESS_MARGIN, Path.ATTACK,
                    **witness)
