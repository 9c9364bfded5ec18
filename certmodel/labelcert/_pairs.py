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

Each pair is decided by :func:`~certmodel.labelcert._conflicts.separate_set` on the two
rows (``λ`` by cutting planes on the dual function ``φ(λ) = min_S λ m̂_a(S) + (1 − λ)
m̂_b(S)``; where no ``λ`` separates the witnesses found, the exact collective search over the
two rows alone decides the pair for the time left).  A time-out or a failed retrain leaves
the pair joined: only proven separations shrink the bound.

When the clique bound stays above the count ``k`` of a known relabelling, the time left goes
to larger conflict sets (:func:`~certmodel.labelcert._conflicts.refute_sets`): the count is
at most the largest subset of the unproven points that contains no set proven never to change
together — the separated pairs and every larger set refuted there; it meets ``k`` once every
``k + 1`` rows that might change together are refuted.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np

from certmodel.labelcert._conflicts import refute_sets, separate_set
from certmodel.labelcert._problem import Problem

__all__ = ["PairBound", "pair_bound", "separate_pair", "max_clique"]

MAX_ROUNDS = 8  # searches per pair (λ steps)


@dataclasses.dataclass
class PairBound:
    """Outcome of :func:`pair_bound` on the test rows ``U``.

    Attributes
    ----------
    bound : int
        Proven: no relabelling within the budget changes more than ``bound`` of ``U``.
    separated : list of (int, int)
        The pairs of rows (indices into the problem's test rows) proven separated.
    conflicts : list of tuple
        The sets of rows the set stage proved never to change together (besides
        ``separated``).
    witnesses : list of ndarray (n,) bool
        Relabellings within the budget found to change at least two rows of ``U`` together
        (exactly retrained): one per joint pair, then those of the set stage.
    complete : bool
        Every pair was decided (separated, or changed together by a found relabelling).
    seconds : float
    """

    bound: int
    separated: list
    conflicts: list
    witnesses: list
    complete: bool
    seconds: float


def separate_pair(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, a: int, b: int,
                  budget, geo, deadline: float) -> tuple[str, np.ndarray | None]:
    """Decide whether test rows ``a`` and ``b`` are separated at ``budget`` (module doc).

    Returns ``("separated", None)``, ``("joint", flips)`` with a relabelling (within the
    budget) that changes both, or ``("open", None)`` (undecided by ``deadline``, a
    ``time.perf_counter()`` instant)."""
    verdict, flips, _ = separate_set(prob, alpha0, signs, [a, b], budget, geo, deadline,
                                     rounds=MAX_ROUNDS)
    return verdict, flips


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


SET_SHARE = 0.4  # of pair_bound's time kept for larger conflict sets (given a target)


def pair_bound(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U, budget, geo,
               time_limit: float, target: int | None = None, seeds: list = ()) -> PairBound:
    """The clique bound on how many of the test rows ``U`` one relabelling within ``budget``
    changes (module doc), spending at most ``time_limit`` seconds; pairs whose rows have the
    largest clean margins first.  ``target`` (the count a replayed relabelling already
    achieves): stop once the bound reaches it; if the pairs leave it above, ``SET_SHARE`` of
    the time goes to larger conflict sets
    (:func:`~certmodel.labelcert._conflicts.refute_sets`; ``seeds``: relabellings within the
    budget whose margins start its pool, with the pairs' joint ones)."""
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
    met: list = []  # every relabelling the pair searches retrained (the set stage's pool)
    joined: list = []  # pairs tried and not separated
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
        verdict, flips, found = separate_set(prob, alpha0, signs, [a, b], budget, geo,
                                             time.perf_counter() + per, rounds=MAX_ROUNDS)
        met += found
        tried += 1
        decided += verdict != "open"
        if verdict == "separated":
            sep.add(frozenset((a, b)))
            bound = clique()
        else:
            joined.append((a, b))
        if verdict == "joint":
            witnesses.append(flips)
    conflicts: list = []
    if target is not None and target < bound:
        sets = refute_sets(prob, alpha0, signs, U, [tuple(p) for p in sep], budget, geo,
                           target, deadline, seeds=met + list(seeds), failed=joined)
        bound = min(bound, sets.bound)
        conflicts = sets.conflicts[len(sep):]  # those the set stage refuted
        witnesses += sets.witnesses
    return PairBound(bound=bound, separated=sorted(tuple(sorted(p)) for p in sep),
                     conflicts=conflicts, witnesses=witnesses, complete=decided == len(pairs),
                     seconds=time.perf_counter() - t0)
