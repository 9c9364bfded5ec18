"""Exact enumeration: retrain on every relabelling within the budget (cheap when C(n, ≤B) is small).

Retraining does not depend on the test point, so one pass over the relabellings serves every
test point at once: for each relabelling ``S`` the retrained ``z_S`` gives all margins
``s_t · K_test[t] z_S`` in one matrix product.  The worst margin at budget ``b`` is the minimum
over ``|S| ≤ b`` (exact, with the minimising relabelling as witness); the collective count at
budget ``b`` is the maximum over ``|S| ≤ b`` of the number of margins ``≤ 0``.

Relabellings are visited level by level (``|S| = 1, 2, …``) in lexicographic order; each one
extends a parent from the previous level by one index larger than the parent's last, and its
SVM is retrained — in batches, :func:`~certmodel.learners._svm_batch.solve_svm_dual_batch` —
warm-started from the parent's solution (one label away).  Every retrain must pass the exact
KKT test, otherwise :class:`RetrainFailed` is raised and the caller falls back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from certmodel.deadline import DeadlineExceeded, stage_deadline
from certmodel.labelcert._problem import Problem, RetrainFailed
from certmodel.learners._svm_batch import solve_svm_dual_batch

__all__ = ["n_relabellings", "enumeration_budget", "binary_levels", "enumerate_binary",
           "enumerate_binary_costs", "threat_enumeration_budget",
           "enumerate_collective", "enumerate_linear_collective", "enumerate_multiclass"]

_CHUNK = 4096  # relabellings per batched retrain


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


def threat_enumeration_budget(mode: str, max_count: int, threat, open_budgets,
                              n_classes: int = 2):
    """:func:`enumeration_budget` for a threat model: a budget ``B`` admits at most
    ``n_relabellings(#flippable, max_flips(B), #targets + 1)`` relabellings."""
    best = None
    if mode == "never":
        return best
    nf = int(threat.mask.sum())
    kc = int(threat.target_mask.sum()) + 1 if n_classes > 2 else 2
    for B in sorted(open_budgets):
        if mode == "always" or n_relabellings(nf, threat.max_flips(B), max(kc, 2)) <= max_count:
            best = B
    return best


def _children(P: np.ndarray, n: int, choices: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Lexicographic extensions of the index sets ``P`` (rows, sorted) by one larger index.

    Returns ``(S, parent)``: the child sets and the row of ``P`` each extends.  With
    ``choices > 1`` every new index comes with each of ``choices`` options (multiclass:
    which other class), the option being returned as the last column of ``S``.
    """
    last = P[:, -1] if P.shape[1] else np.full(len(P), -1)
    counts = (n - 1 - last) * choices
    parent = np.repeat(np.arange(len(P)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    j = np.repeat(last + 1, counts) + offset // choices
    cols = [P[parent], j[:, None]]
    if choices > 1:
        cols.append((offset % choices)[:, None])
    return np.hstack(cols).astype(np.int64), parent


def _split(P: np.ndarray, n: int, choices: int = 1) -> Iterator[slice]:
    """Slices of parents whose children number about ``_CHUNK`` each."""
    last = P[:, -1] if P.shape[1] else np.full(len(P), -1)
    cum = np.cumsum((n - 1 - last) * choices)
    start = 0
    while start < len(P):
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + _CHUNK, side="right"))
        stop = max(stop, start + 1)
        yield slice(start, stop)
        start = stop


def _fits(cost: np.ndarray, budget: float) -> np.ndarray:
    """Vectorised :meth:`~certmodel.threat.ResolvedThreat.within`."""
    if not np.isfinite(budget):
        return np.ones(len(cost), dtype=bool)
    return cost <= budget + 1e-9 * max(1.0, abs(budget))


def _admissible_children(S: np.ndarray, par: np.ndarray, pcost: np.ndarray, threat,
                         max_cost: float):
    """Keep the children whose new index is flippable and whose total cost fits ``max_cost``.

    A dropped child is never extended, which is exact: every superset of a set with an
    unflippable point is inadmissible, and costs are positive, so supersets only cost more.
    """
    j = S[:, -1]
    cost = pcost[par] + threat.cost[j]
    keep = threat.mask[j] if threat.unit_cost else threat.mask[j] & _fits(cost, max_cost)
    return S[keep], par[keep], cost[keep]


class EnumerationTimeout(RetrainFailed, DeadlineExceeded):
    """The enumeration ran past the time limit; like a failed retrain, its partial result
    decides nothing and the caller falls back to the next path."""


def binary_levels(prob: Problem, alpha0: np.ndarray, budget: int, max_cost: float | None = None,
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(b, S, Z, cost)`` for every chunk of admissible flip sets ``S`` (shape (c, b)).

    ``b ≤ budget`` flips, only points of ``prob.threat.mask``, total cost ``≤ max_cost``
    (default: no cost limit beyond ``budget`` flips); ``cost[k]`` is the cost of ``S[k]``.
    ``Z[k] = y_S ∘ α_S`` is the exactly retrained SVM on the labels with ``S`` flipped.
    """
    K, C, y0, n = prob.K, prob.C, prob.y_pm, prob.n
    threat = prob.threat
    deadline = stage_deadline()  # the time limit bounds the enumeration too
    max_cost = np.inf if max_cost is None else float(max_cost)
    parents, palpha = np.zeros((1, 0), dtype=np.int64), np.asarray(alpha0, float)[None]
    pcost = np.zeros(1)
    for b in range(1, budget + 1):
        kids, kalpha, kcost = [], [], []
        for sl in _split(parents, n):
            S, par = _children(parents[sl], n)
            S, par, cost = _admissible_children(S, par, pcost[sl], threat, max_cost)
            if not len(S):
                continue
            Y = np.broadcast_to(y0, (len(S), n)).copy()
            rows = np.arange(len(S))[:, None]
            Y[rows, S] *= -1.0
            A, ok = solve_svm_dual_batch(K, Y, C, palpha[sl][par], check_start=False)
            if not ok.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point during "
                                    "enumeration")
            yield b, S, Y * A, cost
            if deadline.expired():  # incomplete: every caller falls back (RetrainFailed)
                raise EnumerationTimeout(f"enumeration stopped at the time limit of "
                                         f"{deadline.limit:g} s")
            if b < budget:
                kids.append(S)
                kalpha.append(A)
                kcost.append(cost)
        if b < budget:
            if not kids:  # no set of this size extends further (b = n)
                return
            parents, palpha = np.concatenate(kids), np.concatenate(kalpha)
            pcost = np.concatenate(kcost)


def enumerate_binary(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, budget: int,
                     rows: np.ndarray | None = None):
    """Worst margins for every ``b ≤ budget`` by enumeration (unit costs).

    Returns ``(worst, witness)``: ``worst[r, b]`` the exact worst margin of test row ``rows[r]``
    at budget ``b``; ``witness[r][b]`` the flip index tuple attaining it.  Only flippable points
    (``prob.threat.mask``) are flipped.
    """
    rows = np.arange(prob.m) if rows is None else np.asarray(rows)
    Kt = prob.K_test[rows] * signs[rows, None]
    worst = np.full((len(rows), budget + 1), np.inf)
    worst[:, 0] = Kt @ (prob.y_pm * alpha0)
    witness: list[list[tuple]] = [[() for _ in range(budget + 1)] for _ in rows]
    ar = np.arange(len(rows))
    level = 0
    for b, S, Z, _ in binary_levels(prob, alpha0, budget):
        if b != level:
            for b2 in range(level + 1, b + 1):
                worst[:, b2] = worst[:, b2 - 1]
                for r in ar:
                    witness[r][b2] = witness[r][b2 - 1]
            level = b
        M = Kt @ Z.T
        arg = np.argmin(M, axis=1)
        mins = M[ar, arg]
        for r in np.flatnonzero(mins < worst[:, b]):
            worst[r, b] = mins[r]
            witness[r][b] = tuple(int(i) for i in S[arg[r]])
    for b in range(level + 1, budget + 1):  # budgets above n: nothing more to flip
        worst[:, b] = worst[:, b - 1]
        for r in ar:
            witness[r][b] = witness[r][b - 1]
    return worst, witness


def enumerate_binary_costs(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, budgets,
                           rows: np.ndarray | None = None):
    """Worst margins at each *cost* budget in ``budgets`` by enumeration (any threat model).

    Every flippable set of total cost ``≤ max(budgets)`` is retrained exactly.  Returns
    ``(worst, witness)`` with ``worst[r, B]`` and ``witness[r][B]`` keyed by the budget values
    (dicts), as :func:`enumerate_binary` for unit costs.
    """
    rows = np.arange(prob.m) if rows is None else np.asarray(rows)
    budgets = sorted(budgets)
    B_max = budgets[-1]
    Kt = prob.K_test[rows] * signs[rows, None]
    w0 = Kt @ (prob.y_pm * alpha0)
    cols = {B: j for j, B in enumerate(budgets)}
    worst_arr = np.repeat(w0[:, None], len(budgets), axis=1)
    wit = [[() for _ in budgets] for _ in rows]
    ar = np.arange(len(rows))
    for _, S, Z, cost in binary_levels(prob, alpha0, prob.threat.max_flips(B_max), B_max):
        M = Kt @ Z.T
        for B, j in cols.items():
            ok = _fits(cost, B)
            if not ok.any():
                continue
            Mj = np.where(ok[None, :], M, np.inf)
            arg = np.argmin(Mj, axis=1)
            mins = Mj[ar, arg]
            for r in np.flatnonzero(mins < worst_arr[:, j]):
                worst_arr[r, j] = mins[r]
                wit[r][j] = tuple(int(i) for i in S[arg[r]])
    worst = {(r, B): worst_arr[r, j] for r in ar for B, j in cols.items()}
    witness = [{B: wit[r][j] for B, j in cols.items()} for r in ar]
    return _Keyed(worst), witness


class _Keyed(dict):
    """``worst[r, B]`` lookups for cost budgets (a dict keyed by ``(row, budget)``)."""


def enumerate_collective(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, budget: int,
                         cost_budgets=None):
    """Largest number of changed predictions (margin ``≤ 0``) per budget, with a witness.

    Returns ``(count, witness)``: ``count[b]`` exact for ``b ≤ budget``, ``witness[b]`` the
    flip index tuple attaining it.  Only admissible sets (``prob.threat``) are visited; with
    ``cost_budgets`` both are dicts keyed by those cost budgets.
    """
    Kt = prob.K_test * signs[:, None]
    threat = prob.threat
    cb = None if cost_budgets is None else sorted(cost_budgets)
    max_cost = None
    if cb is not None:
        budget, max_cost = threat.max_flips(cb[-1]), cb[-1]
    count = np.zeros(budget + 1, dtype=np.int64)
    count[0] = int(np.sum(Kt @ (prob.y_pm * alpha0) <= 0))
    witness: list[tuple] = [() for _ in range(budget + 1)]
    ccount = None if cb is None else {B: int(count[0]) for B in cb}
    cwit = None if cb is None else {B: () for B in cb}
    level = 0
    for b, S, Z, cost in binary_levels(prob, alpha0, budget, max_cost):
        if b != level:
            for b2 in range(level + 1, b + 1):
                count[b2], witness[b2] = count[b2 - 1], witness[b2 - 1]
            level = b
        changed = np.sum(Kt @ Z.T <= 0, axis=0)
        k = int(np.argmax(changed))
        if changed[k] > count[b]:
            count[b], witness[b] = int(changed[k]), tuple(int(i) for i in S[k])
        if cb is not None:
            for B in cb:
                ch = np.where(_fits(cost, B), changed, -1)
                k = int(np.argmax(ch))
                if ch[k] > ccount[B]:
                    ccount[B], cwit[B] = int(ch[k]), tuple(int(i) for i in S[k])
    for b in range(level + 1, budget + 1):  # budgets above n: nothing more to flip
        count[b], witness[b] = count[b - 1], witness[b - 1]
    if cb is not None:
        return ccount, cwit
    return count, witness


def enumerate_linear_collective(margins: np.ndarray, shift: np.ndarray, budget: int):
    """Collective count for a label-linear learner: no retraining at all.

    ``margins[t]`` is the clean signed margin; flipping training label ``j`` adds
    ``shift[t, j]`` to it (saturated SVM: ``−2C s_t K_tj ỹ_j``).  Returns ``(count, witness)``
    as :func:`enumerate_collective`, exact for every ``b ≤ budget``.
    """
    m, n = shift.shape
    count = np.zeros(budget + 1, dtype=np.int64)
    count[0] = int(np.sum(margins <= 0))
    witness: list[tuple] = [() for _ in range(budget + 1)]
    parents, psum = np.zeros((1, 0), dtype=np.int64), margins[None, :]
    for b in range(1, budget + 1):
        count[b], witness[b] = count[b - 1], witness[b - 1]
        kids, ksum = [], []
        for sl in _split(parents, n):
            S, par = _children(parents[sl], n)
            if not len(S):
                continue
            M = psum[sl][par] + shift[:, S[:, -1]].T  # (c, m) margins after flipping S
            changed = np.sum(M <= 0, axis=1)
            k = int(np.argmax(changed))
            if changed[k] > count[b]:
                count[b], witness[b] = int(changed[k]), tuple(int(i) for i in S[k])
            if b < budget:
                kids.append(S)
                ksum.append(M)
        if b < budget:
            if not kids:
                for b2 in range(b + 1, budget + 1):
                    count[b2], witness[b2] = count[b], witness[b]
                break
            parents, psum = np.concatenate(kids), np.concatenate(ksum)
    return count, witness


def enumerate_multiclass(prob: Problem, alpha0: np.ndarray, tops: np.ndarray, budget: int,
                         rows: np.ndarray | None = None, cost_budgets=None):
    """Multiclass analogue: relabel up to ``budget`` admissible points to admissible classes.

    ``alpha0`` has shape (K, n) (one-vs-rest clean solutions).  Margin of row ``t``:
    ``f_top(t) − max_{k≠top} f_k(t)``.  Only flippable points move, only to target classes
    (``prob.threat``).  Returns ``(worst, witness)`` with ``witness[r][b]`` a tuple of
    ``(index, new_class)`` pairs; with ``cost_budgets`` (per-point costs) every set of cost
    ``≤ max(cost_budgets)`` is visited and both are keyed by those budgets
    (``worst[r, B]``, ``witness[r][B]``) as in :func:`enumerate_binary_costs`.
    """
    rows = np.arange(prob.m) if rows is None else np.asarray(rows)
    Kt = prob.K_test[rows]
    nK, n, C, K = prob.n_classes, prob.n, prob.C, prob.K
    codes = prob.codes
    threat = prob.threat
    ar = np.arange(len(rows))
    cb = None if cost_budgets is None else sorted(cost_budgets)
    if cb is not None:
        budget = threat.max_flips(cb[-1])
    max_cost = np.inf if cb is None else cb[-1]

    top_of_row = np.asarray(tops)[rows]

    def margins(F):  # F: (rows, c, K) logits -> (rows, c) margins of the clean top class
        top = F[ar, :, top_of_row]
        G = F.copy()
        G[ar, :, top_of_row] = -np.inf
        return top - G.max(axis=2)

    Z0 = np.stack([np.where(codes == k, 1.0, -1.0) * alpha0[k] for k in range(nK)])
    worst = np.full((len(rows), budget + 1), np.inf)
    worst[:, 0] = margins((Kt @ Z0.T)[:, None, :])[:, 0]
    best: list[list[tuple]] = [[() for _ in range(budget + 1)] for _ in rows]
    cworst = None if cb is None else np.repeat(worst[:, :1], len(cb), axis=1)
    cbest = None if cb is None else [[() for _ in cb] for _ in rows]
    parents = np.zeros((1, 0), dtype=np.int64)
    plabels = codes[None].copy()
    palpha = np.asarray(alpha0, float)[None]  # (p, K, n)
    pcost = np.zeros(1)
    deadline = stage_deadline()  # the time limit bounds the enumeration too
    for b in range(1, budget + 1):
        worst[:, b] = worst[:, b - 1]
        for r in range(len(rows)):
            best[r][b] = best[r][b - 1]
        kids, klab, kalpha, kcost = [], [], [], []
        for sl in _split(parents, n, nK - 1):
            P = parents[sl]
            S, par = _children(P, n, nK - 1)
            if not len(S):
                continue
            j, opt = S[:, -2], S[:, -1]
            new = np.where(opt >= codes[j], opt + 1, opt)  # the opt-th class other than clean
            cost = pcost[sl][par] + threat.cost[j]
            keep = threat.mask[j] & threat.target_mask[new] & _fits(cost, max_cost)
            S, par, j, new, cost = S[keep], par[keep], j[keep], new[keep], cost[keep]
            if not len(S):
                continue
            labels = plabels[sl][par].copy()
            labels[np.arange(len(S)), j] = new
            Y = np.where(labels[:, None, :] == np.arange(nK)[None, :, None], 1.0, -1.0)
            # moving j from class a to class b changes the one-vs-rest labels of a and b
            # only: the other problems keep the parent's (exact) solutions
            s_ = np.arange(len(S))[:, None]
            pair = np.stack([plabels[sl][par][s_[:, 0], j], new], axis=1)  # (s, 2)
            A = palpha[sl][par].copy()
            A2, ok = solve_svm_dual_batch(K, Y[s_, pair].reshape(-1, n), C,
                                          A[s_, pair].reshape(-1, n), check_start=False)
            if not ok.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point during "
                                    "enumeration")
            if deadline.expired():  # incomplete: every caller falls back (RetrainFailed)
                raise EnumerationTimeout(f"enumeration stopped at the time limit of "
                                         f"{deadline.limit:g} s")
            A[s_, pair] = A2.reshape(len(S), 2, n)
            Z = Y * A
            F = np.einsum("rn,ckn->rck", Kt, Z)
            M = margins(F)
            arg = np.argmin(M, axis=1)
            mins = M[ar, arg]
            for r in np.flatnonzero(mins < worst[:, b]):
                worst[r, b] = mins[r]
                idx = S[arg[r], :-1]
                best[r][b] = tuple((int(i), int(labels[arg[r], i])) for i in idx)
            if cb is not None:
                for q, B in enumerate(cb):
                    fit = _fits(cost, B)
                    if not fit.any():
                        continue
                    Mq = np.where(fit[None, :], M, np.inf)
                    aq = np.argmin(Mq, axis=1)
                    for r in np.flatnonzero(Mq[ar, aq] < cworst[:, q]):
                        cworst[r, q] = Mq[r, aq[r]]
                        idx = S[aq[r], :-1]
                        cbest[r][q] = tuple((int(i), int(labels[aq[r], i])) for i in idx)
            if b < budget:
                kids.append(S[:, :-1])
                klab.append(labels)
                kalpha.append(A)
                kcost.append(cost)
        if b < budget:
            if not kids:  # b = n: later budgets add nothing
                for b2 in range(b + 1, budget + 1):
                    worst[:, b2] = worst[:, b]
                    for r in range(len(rows)):
                        best[r][b2] = best[r][b]
                break
            parents = np.concatenate(kids)
            plabels, palpha = np.concatenate(klab), np.concatenate(kalpha)
            pcost = np.concatenate(kcost)
    if cb is not None:
        keyed = _Keyed({(r, B): cworst[r, q] for r in ar for q, B in enumerate(cb)})
        return keyed, [{B: cbest[r][q] for q, B in enumerate(cb)} for r in ar]
    return worst, best
