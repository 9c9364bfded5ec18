"""Conflict sets: test points that no one relabelling changes together, and the bound they give.

A set ``T`` of test rows is a *conflict* at budget ``B`` when no admissible relabelling within
``B`` changes every row of ``T`` (signed margin ``m_t(S) = v_t · z(S) ≤ 0`` for all ``t ∈ T``,
``v_t = s_t K_test[t]``).  With the rows normalised, ``m̂_t = m_t / (C Σ_j |v_tj|)``, and any
weights ``λ ≥ 0``, ``Σ λ_t = 1``,

    all m_t(S) ≤ 0   ⟹   Σ_t λ_t m̂_t(S) = (Σ_t λ_t v̂_t) · z(S) ≤ 0,

the margin of one *combined* test point.  The sample-wise relabelling search
(:func:`~certmodel.labelcert._search.search_binary`) proving that point's margin above
``eps ≥ 0`` under every admissible relabelling therefore proves ``T`` a conflict — the pair
separation of :mod:`certmodel.labelcert._pairs` with the simplex in place of ``[0, 1]``.

``λ`` follows the concave dual ``φ(λ) = min_S λ · m̂(S)`` by cutting planes
(:func:`separate_set`): a search at ``λ`` either proves ``φ(λ) > eps`` or stops at an exactly
retrained witness ``S_j`` (its margins ``m̂(S_j)`` computed exactly; all ``≤ 0``: ``T`` is
changed together, and ``S_j`` shows it); the next ``λ`` maximises ``min_j λ · m̂(S_j)`` over
the simplex (a small LP).  When that maximum is ``≤ 0`` no ``λ`` separates the witnesses found
(a duality gap, or a real joint change) and the exact collective search over ``T`` alone
decides it for the time left (:func:`joint_search`).  Undecided by the deadline: no claim.
A row of weight ``λ_t = 0`` is not in the combined point, so a separation proves the rows of
positive weight (the *core*, often much smaller than ``T``) a conflict by themselves.

**Bound.**  The rows one relabelling changes contain no conflict, so the collective count over
``U`` is at most the size of the largest subset of ``U`` that contains no known conflict
(:func:`largest_free`).  Each conflict found can only lower it, so the bound is valid at any
time.  :func:`refute_sets` spends a time budget on it: with ``X`` a largest conflict-free set,
it tries ``X`` itself, then ``X`` less one row; the first conflict found restarts the
loop.  Each conflict found is its core, shrunk further by deletion (each row in turn is
dropped when the rest is still proven a conflict within a few times what the conflict
took): a small conflict excludes every free set that contains it, where ``X`` itself
excludes one.  The margins of every relabelling met so far (a pool over all rows) start each set's
cutting planes and order the candidates: most separable first, by the pool's best ``λ``
value on the set.  The loop ends when ``|X|`` meets the count of a relabelling (the bound is
then exact), when no candidate is refuted, or at the deadline.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy.optimize import linprog

from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary
from certmodel.labelcert._search import search_binary, search_collective

__all__ = ["SetBound", "separate_set", "joint_search", "largest_free", "refute_sets"]

MAX_ROUNDS = 8  # λ steps per set before the exact joint search takes over
EPS_REL = 1e-6  # soundness margin of a combined point: EPS_REL · C · Σ_j |row_j|
MAX_FREE_NODES = 200_000  # DFS nodes of largest_free before it gives up (no claim)
SHRINK_FACTOR = 2.0  # each deletion step toward a minimal conflict gets this many times ...
SHRINK_MIN_SECONDS = 0.25  # ... the time the conflict itself took, and at least this


@dataclasses.dataclass
class SetBound:
    """Outcome of :func:`refute_sets`: ``bound`` proven (no relabelling within the budget
    changes more of ``U``), the ``conflicts`` known (tuples of rows), the exactly retrained
    ``witnesses`` met on the way that change at least two rows of ``U`` (flip masks, each
    within the budget), ``seconds``."""

    bound: int
    conflicts: list
    witnesses: list
    seconds: float


def _normalised(prob: Problem, signs: np.ndarray, T: list) -> np.ndarray:
    V = prob.K_test[T] * np.asarray(signs, float)[T, None]
    scale = prob.C * np.abs(V).sum(axis=1)
    return V / np.where(scale > 0, scale, 1.0)[:, None]


def best_weights(points: list) -> tuple[np.ndarray, float]:
    """``argmax_{λ ∈ simplex} min_j λ · p_j`` and its value (an LP over the witnesses'
    normalised margins ``p_j``)."""
    P = np.asarray(points, float)
    k = P.shape[1]
    c = np.zeros(k + 1)
    c[-1] = -1.0  # maximise w  s.t.  w ≤ λ · p_j,  Σ λ = 1,  λ ≥ 0
    res = linprog(c, A_ub=np.hstack([-P, np.ones((len(P), 1))]), b_ub=np.zeros(len(P)),
                  A_eq=np.r_[np.ones(k), 0.0][None], b_eq=[1.0],
                  bounds=[(0.0, None)] * k + [(None, None)], method="highs")
    if res.status != 0:  # no λ to propose: treat as "no λ separates"
        return np.full(k, 1.0 / k), -np.inf
    lam = np.maximum(res.x[:k], 0.0)
    return lam / lam.sum(), float(-res.fun)


def _flips(prob: Problem, S) -> np.ndarray:
    flips = np.zeros(prob.n, bool)
    flips[list(S)] = True
    return flips


def separate_set(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, T, budget, geo,
                 deadline: float, rounds: int | None = None,
                 prior: np.ndarray | None = None) -> tuple[str, np.ndarray | None, list]:
    """Decide whether the test rows ``T`` are a conflict at ``budget`` (module doc).

    Returns ``(verdict, flips, witnesses)``: ``"separated"`` (a conflict, proven),
    ``"joint"`` with a relabelling ``flips`` within the budget that changes every row of
    ``T`` (exactly retrained), or ``"open"`` (undecided by ``deadline``, a
    ``time.perf_counter()`` instant); ``witnesses``: every relabelling retrained on the way
    (flip masks within the budget).  ``rounds``: λ steps (default ``MAX_ROUNDS``).
    ``prior`` (p, |T|): normalised margins ``m̂`` of relabellings known to be admissible (the
    cutting planes start from them; they only steer ``λ``, never decide)."""
    verdict, flips, witnesses, _ = _separate(prob, alpha0, signs, T, budget, geo, deadline,
                                             rounds, prior)
    return verdict, flips, witnesses


def _separate(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, T, budget, geo,
              deadline: float, rounds: int | None = None, prior: np.ndarray | None = None
              ) -> tuple[str, np.ndarray | None, list, tuple]:
    """:func:`separate_set` and, when separated, the conflict it proves: the rows of ``T``
    with a positive weight in the separating ``λ`` (a row of weight 0 is not in the combined
    point, so the rest are a conflict by themselves; all of ``T`` when the exact joint search
    separated it)."""
    T = [int(t) for t in T]
    Vn = _normalised(prob, signs, T)
    lam = np.full(len(T), 1.0 / len(T))
    points: list = [] if prior is None else [np.asarray(p, float) for p in prior]
    witnesses: list = []
    steps = MAX_ROUNDS if rounds is None else rounds
    if points and steps > 0:
        lam, value = best_weights(points)
        if value <= 0:  # the known relabellings leave no λ: straight to the exact search
            steps = 0
    for _ in range(steps):
        left = deadline - time.perf_counter()
        if left <= 0:
            return "open", None, witnesses, ()
        lam = np.where(lam > 1e-9 * lam.max(), lam, 0.0)  # exact zeros: a smaller conflict
        lam = lam / lam.sum()
        row = lam @ Vn
        virt = dataclasses.replace(prob, K_test=row[None], test_indices=np.zeros(1, int))
        eps = np.array([EPS_REL * prob.C * float(np.abs(row).sum())])
        try:
            res = search_binary(virt, alpha0, np.ones(1), np.zeros(1, int), [budget],
                                np.ones((1, 1), bool), eps, geo, time_limit=left)
        except RetrainFailed:
            return "open", None, witnesses, ()
        if not res.complete[0]:
            return "open", None, witnesses, ()
        if min(res.visited[0, 0], res.pruned[0, 0]) > eps[0]:
            # every admissible relabelling keeps the combined point above eps: the rows
            # that carry weight can never change together
            return "separated", None, witnesses, tuple(t for t, w in zip(T, lam) if w > 0)
        S = res.witness[0][0]
        if not res.visited[0, 0] <= 0 or S is None:  # within eps of 0, no witness
            break
        flips = _flips(prob, S)
        try:
            z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
        except RetrainFailed:
            return "open", None, witnesses, ()
        witnesses.append(flips)
        m = Vn @ z
        if (m <= 0).all():
            return "joint", flips, witnesses, ()
        points.append(m)
        lam, value = best_weights(points)
        if value <= 0:  # no λ separates these witnesses: a duality gap, or a joint change
            break
    verdict, flips = joint_search(prob, alpha0, signs, T, budget, geo, deadline)
    if flips is not None:
        witnesses.append(flips)
    return verdict, flips, witnesses, tuple(T) if verdict == "separated" else ()


def joint_search(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, T, budget, geo,
                 deadline: float) -> tuple[str, np.ndarray | None]:
    """The exact collective search (:func:`~certmodel.labelcert._search.search_collective`)
    over the rows ``T`` alone, started from the count ``|T| − 1`` (a threshold, not a claimed
    relabelling: it prunes every subtree that cannot change all of ``T``; no duality gap).
    ``("separated", None)`` when it finishes below ``|T|``, ``("joint", flips)`` when it
    reaches ``|T|`` (a visited, exactly retrained relabelling, replayed here), else
    ``("open", None)``."""
    left = deadline - time.perf_counter()
    if left <= 0:
        return "open", None
    T = [int(t) for t in T]
    try:
        count, witness, complete, _ = search_collective(
            prob.rows(T), alpha0, np.asarray(signs, float)[T], [budget], geo,
            time_limit=left, incumbent=(len(T) - 1, (), 0.0))
    except RetrainFailed:
        return "open", None
    if count[0] >= len(T):
        flips = _flips(prob, witness[0])
        try:
            z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
        except RetrainFailed:
            return "open", None
        if (_normalised(prob, signs, T) @ z <= 0).all():
            return "joint", flips
        return "open", None
    return ("separated", None) if complete else ("open", None)


def largest_free(U: list, conflicts: list) -> list | None:
    """A largest subset of ``U`` containing no set of ``conflicts`` (exact DFS on bit masks),
    or None when it needs more than ``MAX_FREE_NODES`` nodes (then no claim)."""
    U = [int(u) for u in U]
    bit = {u: 1 << i for i, u in enumerate(U)}
    masks = []
    for c in conflicts:
        if all(int(v) in bit for v in c):
            masks.append(sum(bit[int(v)] for v in c))
    by_last: list[list[int]] = [[] for _ in U]  # conflicts checked when their last row joins
    for c in masks:
        by_last[c.bit_length() - 1].append(c)
    best: tuple[int, int] = (-1, 0)
    nodes = 0

    def dfs(i: int, X: int, size: int) -> bool:
        nonlocal best, nodes
        nodes += 1
        if nodes > MAX_FREE_NODES:
            return False
        if size + len(U) - i <= best[0]:
            return True
        if i == len(U):
            best = (size, X)
            return True
        Xi = X | (1 << i)
        if all(c & Xi != c for c in by_last[i]) and not dfs(i + 1, Xi, size + 1):
            return False
        return dfs(i + 1, X, size)

    if not dfs(0, 0, 0):
        return None
    return [u for i, u in enumerate(U) if best[1] >> i & 1]


def refute_sets(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U, conflicts: list,
                budget, geo, target: int, deadline: float, seeds: list = (),
                failed: list = ()) -> SetBound:
    """The conflict bound on how many rows of ``U`` one relabelling within ``budget``
    changes (module doc), from the known ``conflicts`` (e.g. separated pairs) and the sets
    refuted before ``deadline``; ``target``: the count of a replayed relabelling (the loop
    stops once the bound meets it; witnesses that change more rows of ``U`` raise it).
    ``seeds``: relabellings within the budget (flip masks) whose margins start the pool;
    ``failed``: sets already tried and not refuted (their subsets are not tried again while
    shrinking a conflict)."""
    t0 = time.perf_counter()
    U = [int(u) for u in U]
    inU = np.zeros(prob.m, bool)
    inU[U] = True
    conflicts = [tuple(int(v) for v in c) for c in conflicts]
    witnesses: list = []
    tried: set = set()
    unrefuted = [frozenset(int(v) for v in c) for c in failed]
    Vn = _normalised(prob, signs, list(range(prob.m)))
    pool: list = []  # normalised margins of every test row under each relabelling met

    def met(flips: np.ndarray, keep: bool) -> None:
        nonlocal target
        try:
            z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
        except RetrainFailed:
            return
        m = Vn @ z
        pool.append(m)
        rows = np.flatnonzero((m <= 0) & inU)
        if keep and len(rows) >= 2:  # a candidate collective incumbent
            witnesses.append(flips)
        target = max(target, len(rows))

    def separability(T) -> float:
        """The pool's best λ value on ``T`` (higher: further from a joint change)."""
        return best_weights(np.asarray(pool)[:, list(T)])[1] if pool else 0.0

    def probe(T: tuple, until: float) -> tuple[str, tuple]:
        """``_separate`` on ``T`` until ``until`` (its witnesses join the pool; a set not
        refuted is remembered): ``(verdict, core)``."""
        prior = np.asarray(pool)[:, list(T)] if pool else None
        verdict, _, found, core = _separate(prob, alpha0, signs, T, budget, geo,
                                            min(until, deadline), prior=prior)
        for flips in found:
            met(flips, True)
        if verdict != "separated":
            unrefuted.append(frozenset(T))
        return verdict, core

    def attempt(T, share: float) -> str:
        tried.add(T)
        t1 = time.perf_counter()
        verdict, core = probe(T, t1 + share)
        if verdict == "separated":
            each = max(SHRINK_FACTOR * (time.perf_counter() - t1), SHRINK_MIN_SECONDS)
            conflicts.append(smaller(core, each))
        return verdict

    def smaller(core: tuple, each: float) -> tuple:
        """Deletion toward a minimal conflict: each row in turn (the one whose removal
        leaves the most separable set by the pool first) is dropped if the rest is still
        proven a conflict within ``each`` seconds."""
        core = tuple(core)
        if len(core) <= 2:
            return core
        for d in sorted(core, key=lambda d: -separability(tuple(u for u in core if u != d))):
            if len(core) <= 2 or time.perf_counter() >= deadline:
                break
            if d not in core:  # dropped with a zero weight already
                continue
            rest = tuple(u for u in core if u != d)
            if any(frozenset(rest) <= f for f in unrefuted):  # a superset was not refuted
                continue
            verdict, sub = probe(rest, time.perf_counter() + each)
            if verdict == "separated":
                core = sub
        return core

    for flips in seeds:
        met(np.asarray(flips, bool), False)
    while time.perf_counter() < deadline:
        X = largest_free(U, conflicts)
        if X is None or len(X) <= target:
            break
        # X first, then X less one row (the most separable by the pool first); each
        # candidate gets an equal share of the time left among those still to come
        refuted = False
        if tuple(X) not in tried:
            left = deadline - time.perf_counter()
            refuted = attempt(tuple(X), left / (len(X) + 1)) == "separated"
        if not refuted and len(X) > 2:
            todo = [tuple(u for u in X if u != d) for d in X]
            todo = sorted((T for T in todo if T not in tried), key=lambda T: -separability(T))
            for i, T in enumerate(todo):
                left = deadline - time.perf_counter()
                if left <= 0 or target >= len(X):
                    break
                if attempt(T, left / (len(todo) - i)) == "separated":
                    refuted = True
                    break
        if not refuted:
            break
    X = largest_free(U, conflicts)
    return SetBound(bound=len(U) if X is None else len(X), conflicts=conflicts,
                    witnesses=witnesses, seconds=time.perf_counter() - t0)
