"""Pair separation: a bound on the collective count from searches of combined test points.

The margin of test point ``t`` after a relabelling ``S`` is linear in the retrained SVM,
``m_t(S) = v_t · z(S)`` with ``v_t = s_t K_test[t]``.  If one relabelling changes both ``a``
and ``b`` (``m_a(S) ≤ 0`` and ``m_b(S) ≤ 0``), then for every ``λ ∈ [0, 1]``

    λ m_a(S) + (1 − λ) m_b(S) = (λ v_a + (1 − λ) v_b) · z(S) ≤ 0,

the margin of a *combined* test point with read-out ``λ v_a + (1 − λ) v_b``.  The
sample-wise relabelling search (:func:`~certmodel.labelcert._search.search_binary`: exact
retraining, subtrees skipped by valid bounds) proving the combined point robust at budget
``B`` — every admissible relabelling keeps its margin above ``eps`` — therefore proves that
no relabelling within ``B`` changes both: ``a`` and ``b`` are *separated*.  The test points
one relabelling changes are pairwise not separated, so the collective count is at most the
largest clique of the "not separated" graph (:func:`max_clique`) — a bound the per-point
bounds cannot give, since a flip that harms ``a`` may help ``b`` and the combined point sees
both.

``λ`` follows the dual function ``φ(λ) = min_S λ m_a(S) + (1 − λ) m_b(S)`` (concave): a
search at ``λ`` either proves ``φ(λ) > eps`` or stops at an exactly retrained witness ``S``,
whose margins ``(m_a(S), m_b(S))`` are computed exactly.  Both ``≤ 0``: ``S`` changes both
(not separated; it is also a collective witness).  Otherwise the next ``λ`` maximises the
minimum of the lines ``λ m_a(S) + (1 − λ) m_b(S)`` over the witnesses found; when that
maximum is ``≤ 0`` no ``λ`` separates these witnesses (a duality gap, or a real joint
change), and the exact collective search over the two points alone decides the pair for the
time left (:func:`_pair_search`: count ``< 2`` separates, ``2`` comes with a joint
relabelling).  A time-out or a failed retrain leaves the pair joined: only proven
separations shrink the bound.

When the clique bound stays above the count ``k`` of a known relabelling, the time left
tries to refute every set of ``k + 1`` pairwise unseparated points: the exact collective
search over such a set alone, started from the count ``k``, prunes every subtree that
cannot change the whole set; if it finishes for every set, no relabelling changes ``k + 1``
points (any ``k + 1`` changed points would form such a set) and the bound is ``k``.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np

from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary
from certmodel.labelcert._search import search_binary, search_collective

__all__ = ["PairBound", "pair_bound", "separate_pair", "changed_together", "max_clique"]

MAX_ROUNDS = 8  # searches per pair (λ steps)
EPS_REL = 1e-6  # soundness margin of a combined point: EPS_REL · C · Σ_j |row_j|


@dataclasses.dataclass
class PairBound:
    """Outcome of :func:`pair_bound` on the test rows ``U``.

    Attributes
    ----------
    bound : int
        Proven: no relabelling within the budget changes more than ``bound`` of ``U``.
    separated : list of (int, int)
        The pairs of rows (indices into the problem's test rows) proven separated.
    witnesses : list of ndarray (n,) bool
        The relabellings found to change two rows of ``U`` together (exactly retrained),
        one per such pair, in the order found.
    complete : bool
        Every pair was decided (separated, or changed together by a found relabelling).
    seconds : float
    """

    bound: int
    separated: list
    witnesses: list
    complete: bool
    seconds: float


def _best_lambda(points: list) -> tuple[float, float]:
    """``argmax_λ min_{(p, q)} λ p + (1 − λ) q`` over ``λ ∈ [0, 1]`` and its value."""
    cands = {0.0, 1.0}
    for (p1, q1), (p2, q2) in itertools.combinations(points, 2):
        den = (p1 - q1) - (p2 - q2)
        if den != 0.0:
            lam = (q2 - q1) / den
            if 0.0 < lam < 1.0:
                cands.add(float(lam))
    best = max(cands, key=lambda lam: min(lam * p + (1 - lam) * q for p, q in points))
    return best, min(best * p + (1 - best) * q for p, q in points)


def separate_pair(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, a: int, b: int,
                  budget, geo, deadline: float) -> tuple[str, np.ndarray | None]:
    """Decide whether test rows ``a`` and ``b`` are separated at ``budget`` (module doc).

    Returns ``("separated", None)``, ``("joint", flips)`` with a relabelling (within the
    budget) that changes both, or ``("open", None)`` (undecided by ``deadline``, a
    ``time.perf_counter()`` instant)."""
    V = prob.K_test[[a, b]] * np.asarray(signs, float)[[a, b], None]
    lam = 0.5
    points: list = []
    for _ in range(MAX_ROUNDS):
        left = deadline - time.perf_counter()
        if left <= 0:
            return "open", None
        row = lam * V[0] + (1.0 - lam) * V[1]
        virt = dataclasses.replace(prob, K_test=row[None], test_indices=np.zeros(1, int))
        eps = np.array([EPS_REL * prob.C * float(np.abs(row).sum())])
        try:
            res = search_binary(virt, alpha0, np.ones(1), np.zeros(1, int), [budget],
                                np.ones((1, 1), bool), eps, geo, time_limit=left)
        except RetrainFailed:
            return "open", None
        if not res.complete[0]:
            return "open", None
        if min(res.visited[0, 0], res.pruned[0, 0]) > eps[0]:
            return "separated", None  # every admissible relabelling keeps it above eps
        S = res.witness[0][0]
        if not res.visited[0, 0] <= 0 or S is None:  # within eps of 0, no witness: undecided
            break
        flips = _flips(prob, S)
        m = _margins(prob, V, flips)
        if m is None:
            return "open", None
        if m[0] <= 0 and m[1] <= 0:
            return "joint", flips
        points.append(m)
        lam, value = _best_lambda(points)
        if value <= 0:  # no λ separates these witnesses: a duality gap, or a joint change
            break
    return _pair_search(prob, alpha0, signs, a, b, V, budget, geo, deadline)


def _flips(prob: Problem, S) -> np.ndarray:
    flips = np.zeros(prob.n, bool)
    flips[list(S)] = True
    return flips


def _margins(prob: Problem, V: np.ndarray, flips: np.ndarray) -> tuple | None:
    """The exact margins ``V · z`` after retraining on the relabelling ``flips``."""
    try:
        z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
    except RetrainFailed:
        return None
    return tuple((V @ z).tolist())


def changed_together(prob: Problem, alpha0, signs, T, budget, geo, deadline: float) -> bool | None:
    """Can one relabelling within ``budget`` change every test row of ``T``?  ``False`` when
    the exact collective search over ``T`` alone, started from the count ``|T| − 1``, finishes
    without reaching ``|T|`` (it then prunes every subtree that cannot change all of ``T``;
    the starting count is a threshold, not a claimed relabelling); ``True`` when it reaches
    ``|T|`` (a visited, exactly retrained relabelling); ``None`` undecided by ``deadline``."""
    left = deadline - time.perf_counter()
    if left <= 0:
        return None
    T = [int(t) for t in T]
    try:
        count, _, complete, _ = search_collective(
            prob.rows(T), alpha0, np.asarray(signs, float)[T], [budget], geo,
            time_limit=left, incumbent=(len(T) - 1, (), 0.0))
    except RetrainFailed:
        return None
    if count[0] >= len(T):
        return True
    return False if complete else None


def _pair_search(prob: Problem, alpha0, signs, a: int, b: int, V: np.ndarray, budget, geo,
                 deadline: float) -> tuple[str, np.ndarray | None]:
    """Where no ``λ`` separates: the exact collective search
    (:func:`~certmodel.labelcert._search.search_collective`) over the two rows alone — no
    duality gap; a subtree is skipped once either row's bound stays above 0.  Finished,
    its count is exact: ``< 2`` separates the pair, ``2`` comes with a relabelling that
    changes both (replayed here)."""
    left = deadline - time.perf_counter()
    if left <= 0:
        return "open", None
    try:
        count, witness, complete, _ = search_collective(
            prob.rows([a, b]), alpha0, np.asarray(signs, float)[[a, b]], [budget], geo,
            time_limit=left)
    except RetrainFailed:
        return "open", None
    if not complete:
        return "open", None
    if count[0] < 2:
        return "separated", None
    flips = _flips(prob, witness[0])
    m = _margins(prob, V, flips)
    if m is not None and m[0] <= 0 and m[1] <= 0:
        return "joint", flips
    return "open", None


def max_clique(nodes: list, joined) -> int:
    """Size of the largest set of ``nodes`` that are pairwise ``joined(u, v)`` (exact;
    Bron–Kerbosch with pivoting — the sets here have at most a few dozen nodes)."""
    adj = {u: {v for v in nodes if v != u and joined(u, v)} for u in nodes}
    best = 0

    def expand(R: int, P: set, X: set):
        nonlocal best
        if not P and not X:
            best = max(best, R)
            return
        if R + len(P) <= best:
            return
        pivot = max(P | X, key=lambda u: len(adj[u] & P))
        for v in list(P - adj[pivot]):
            expand(R + 1, P & adj[v], X & adj[v])
            P = P - {v}
            X = X | {v}

    expand(0, set(nodes), set())
    return best


MAX_SETS = 200  # (target + 1)-cliques the set refutation tries at most
SET_SHARE = 0.4  # of pair_bound's time kept for the set refutation (when given a target)


def _cliques(nodes: list, joined, k: int, limit: int) -> list:
    """Up to ``limit`` sets of ``k`` of ``nodes`` that are pairwise ``joined`` (each once,
    grown in the order of ``nodes`` by later joined nodes only)."""
    out: list = []

    def grow(chosen: list, cands: list):
        if len(out) >= limit:
            return
        if len(chosen) == k:
            out.append(tuple(chosen))
            return
        for i, v in enumerate(cands):
            if len(chosen) + len(cands) - i < k:
                return
            grow(chosen + [v], [u for u in cands[i + 1:] if joined(u, v)])

    grow([], list(nodes))
    return out


def _refute_cliques(prob, alpha0, signs, U, sep, budget, geo, target: int,
                    deadline: float) -> int:
    """``target`` when no set of ``target + 1`` pairwise unseparated rows of ``U`` can be
    changed together (:func:`changed_together` refutes each, before ``deadline``) — every
    relabelling then changes at most ``target`` of ``U`` — else ``len(U)`` (no claim)."""
    sets = _cliques(U, lambda u, v: frozenset((u, v)) not in sep, target + 1, MAX_SETS + 1)
    if len(sets) > MAX_SETS:
        return len(U)
    for i, T in enumerate(sets):
        share = (deadline - time.perf_counter()) / (len(sets) - i)
        if share <= 0 or changed_together(prob, alpha0, signs, T, budget, geo,
                                          time.perf_counter() + share) is not False:
            return len(U)
    return target


def pair_bound(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U, budget, geo,
               time_limit: float, target: int | None = None) -> PairBound:
    """The clique bound on how many of the test rows ``U`` one relabelling within ``budget``
    changes (module doc), spending at most ``time_limit`` seconds; pairs whose rows have the
    largest clean margins first.  ``target`` (the count a replayed relabelling already
    achieves): stop once the bound reaches it; if the pairs leave it above, the time left
    tries to refute every ``target + 1`` pairwise unseparated rows as a set
    (:func:`changed_together`), which proves the bound ``target``."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    # with a target, the pairs leave SET_SHARE of the time to the set refutation
    pairs_end = deadline if target is None else t0 + (1.0 - SET_SHARE) * time_limit
    U = [int(t) for t in U]
    margins = (prob.K_test[U] * np.asarray(signs, float)[U, None]) @ (prob.y_pm * alpha0)
    order = [U[i] for i in np.argsort(-margins)]  # large margins separate most easily
    sep: set = set()
    decided = tried = 0
    witnesses: list = []
    pairs = list(itertools.combinations(order, 2))

    def clique() -> int:
        return max_clique(U, lambda u, v: frozenset((u, v)) not in sep) if U else 0

    bound = clique()
    for a, b in pairs:
        if target is not None and bound <= target:
            break
        per = max((pairs_end - time.perf_counter()) / max(1, len(pairs) - tried), 0.0)
        if per <= 0:
            break
        verdict, flips = separate_pair(prob, alpha0, signs, a, b, budget, geo,
                                       time.perf_counter() + per)
        tried += 1
        decided += verdict != "open"
        if verdict == "separated":
            sep.add(frozenset((a, b)))
            bound = clique()
        elif verdict == "joint":
            witnesses.append(flips)
    if target is not None and target < bound:
        bound = min(bound, _refute_cliques(prob, alpha0, signs, U, sep, budget, geo, target,
                                           deadline))
    return PairBound(bound=bound, separated=sorted(tuple(sorted(p)) for p in sep),
                     witnesses=witnesses, complete=decided == len(pairs),
                     seconds=time.perf_counter() - t0)
