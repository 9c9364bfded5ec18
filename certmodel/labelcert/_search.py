"""Exact branch-and-bound over relabellings: enumeration that skips provably harmless subtrees.

The search visits relabellings as a tree: the root is the clean labelling, a node is a set
``S`` of changed points (multiclass: with the new class of each) with a set ``A(S)`` of
points it may still flip (the root: every flippable point).  Each node orders ``A(S)`` most
harmful first by its own (B3) terms (:mod:`certmodel.labelcert._flip_order`); its child
adding ``i`` may flip only the points of ``A(S)`` after ``i`` in that order, so every
admissible relabelling is reached exactly once and the late children's subtrees hold only
the node's least harmful flips.  Every visited node is retrained exactly — batched,
warm-started from its parent (:func:`~certmodel.learners._svm_batch.solve_svm_dual_batch`), and only
KKT-checked solutions are used — so its test margins are exact.  One search serves every
test point and every budget at once.

**Pruning bound (valid).**  Let ``w`` be the exact SVM on the labels of node ``S`` and ``w'``
the SVM of any descendant, which relabels at most ``r`` more points, all of them in
``A(S)``.  The stability bound (S1) of
:mod:`certmodel.labelcert._stability`, applied with the node as the *clean* problem, gives
``‖w' − w‖ ≤ Δ_r(S)`` (:func:`stability_radius_batch`, a vectorised
:func:`~certmodel.labelcert._stability.stability_radius` over ``A(S)``), and (S2) gives for
test point ``t`` with read-out row ``v_t = K_test[t]``

    s_t f_t(w') ≥ s_t f_t(w) − κ(v_t) Δ_r(S) − 2C√n ρ(v_t) =: lb_t(S, r).            (B1)

Multiclass one-vs-rest: relabelling point ``i`` from class ``a`` to ``c`` changes only the
binary problems ``a`` and ``c``; problem ``k`` sees at most ``r`` flips in a subtree, all in
``A_k(S) = {i ∈ A(S) : y_i = k or k is a target}``, so with ``Δ^k_r(S)`` its radius

    f_a(w'_a) − f_k(w'_k) ≥ [f_a − κ_t Δ^a_r − ρ'_t] − [f_k + κ_t Δ^k_r + ρ'_t]       (B2)

for the clean top class ``a`` and every rival ``k`` (``ρ'_t = 2C√n ρ(v_t)``).  Binary and
collective searches also use the response-ball bound (B3) of
:mod:`certmodel.labelcert._response` — the node's margin plus the ``r`` most negative
per-point terms ``τ_i`` (``i ∈ A(S)``; a child's own flip is forced), no iteration — and
take the larger of (B3) and (B1) (B1's radius only where B3 does not already prune, and
only while it closes subtrees (B3) leaves open: :class:`RadiusGate`); the collective
search's count bound also uses pair conflicts (:mod:`certmodel.labelcert._count_pairs`: two
rows whose combined read-out stays positive never change together); the binary
searches also take the optimality-cut dual bound (B4) of :mod:`certmodel.labelcert._cutdual` (with
``LabelCertOptions.cut_bound``: :func:`attach_cut`) — the retrained SVM's
own optimality cut read out per flip, which prices in the other points' response (computed
where (B3) leaves a subtree open, while it closes ≥ 30 % of those; in the screen the child's
own flip gets its exact Gram terms, :func:`_children_b4`).  A
subtree is skipped for test point ``t`` only when ``lb_t > eps_t`` (its relabellings cannot
reach a margin ``≤ eps_t``); the smallest such bound is kept, so a ``robust`` verdict reports
``min(exact visited margins, pruning bounds) > eps_t`` — a proven lower bound.  A
``not_robust`` verdict carries the visited node whose retrained margin is ``≤ 0``.  The bound
needs a PSD kernel (checked by :class:`~certmodel.labelcert._stability.KernelGeometry`;
otherwise nothing is pruned and the search is plain enumeration).

**Budget monotonicity.**  A witness of cost ``c`` settles every budget ``≥ c`` of its test
point, so the test point's largest open budget — and the radius ``r`` its bound must cover —
shrinks during the search.  Threat models: only flippable points branch, a node's cost is
``Σ_{i∈S} cost_i`` and children must fit the largest open budget; the number of further
flips is at most ``⌊(B − cost(S)) / min cost⌋``; multiclass children move points only to
target classes.  A time-out leaves the undecided (test point, budget) pairs open, except
in the binary search for the test rows whose unexplored subtrees are all bounded: each node
on its stack keeps the (B1)/(B3) bounds computed when it was pushed, and a row for which
they all exceed ``eps`` is complete (:func:`_finished_rows`) — a joint search that runs out
of time still proves its easy rows.  No row is claimed ``robust`` with an unbounded
relabelling left.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from certmodel.labelcert._count_pairs import MAX_PAIR_ROWS, cover_bound, pair_margins, pair_rows
from certmodel.labelcert._cutdual import OptimalityCutBound
from certmodel.labelcert._flip_order import child_masks, has_later, node_ranks, node_ranks_ovr
from certmodel.labelcert._problem import Problem, RetrainFailed
from certmodel.labelcert._response import (
    Readout,
    drop_bounds,
    flip_pins,
    flip_terms,
    moving_points,
    row_blocks,
    smallest_sums,
    suffix_smallest_sums,
)
from certmodel.labelcert._stability import KernelGeometry, budget_bounds, hinge_gap
from certmodel.learners._svm_batch import solve_svm_dual_batch

__all__ = ["SearchResult", "RadiusGate", "attach_cut", "stability_radius_batch", "search_binary",
           "search_multiclass", "search_collective"]

_CHUNK = 2048  # children per batched retrain
_SCREEN = 4 * _CHUNK  # multiclass children bounded per block (bounded memory, time checks)
_ITERATIONS = 30
_COST_TOL = 1e-9
PAIR_GATE_SHARE = 0.1  # pair conflicts computed while they close ≥ this share of the open subtrees


def stability_radius_batch(a: np.ndarray, k: np.ndarray, C: float, r: int,
                           allowed: np.ndarray, target: np.ndarray | None = None,
                           ) -> np.ndarray:
    """Row-wise (S1) radius: ``Δ`` bound for every row of margins ``a`` (shape (p, n)).

    ``allowed`` (p, n) marks the points that may still be flipped below each node.  The
    same iteration as :func:`~certmodel.labelcert._stability.stability_radius`: start from
    ``Δ₀ = 2C Σ_{top r} k_i`` and iterate ``Δ ← √(C Σ_{top r} φ_i(Δ))`` with
    ``φ_i(Δ) = d(a_i − k_i Δ) − d(a_i) ≥ 0`` non-decreasing, so each iterate stays an upper
    bound; disallowed points contribute 0 (φ, k ≥ 0, so the top-r sum over the masked row
    equals the top-r sum over the allowed points, padded with zeros).

    ``target`` (p,), optional: the radius below which the caller can prune the row.  Every
    iterate is a valid upper bound, so a row stops as soon as it is ``≤ target`` (the bound
    suffices), when its target is unreachable (``≤ 0``), or when its decreasing steps
    extrapolate (geometrically) to a limit 5 % above the target — stopping early only returns a
    looser, still valid, bound.  Only unfinished rows are iterated.
    """
    p, n = a.shape
    if r <= 0 or p == 0:
        return np.zeros(p)
    r = min(r, n)

    def top_sum(v):
        if r >= v.shape[1]:
            return v.sum(axis=1)
        return np.partition(v, v.shape[1] - r, axis=1)[:, v.shape[1] - r:].sum(axis=1)

    delta = 2.0 * C * top_sum(np.where(allowed, k[None, :], 0.0))
    goal = np.full(p, -np.inf) if target is None else np.asarray(target, float) * (1 - 1e-8)
    todo = np.arange(p) if target is None else np.flatnonzero((goal > 0) & (delta > goal))
    step = np.full(p, np.inf)
    for it in range(_ITERATIONS):
        if not len(todo):
            break
        al, aa = allowed[todo], a[todo]
        d = delta[todo]
        phi = np.where(al, np.maximum(hinge_gap(aa - k[None, :] * d[:, None])
                                      - hinge_gap(aa), 0.0), 0.0)
        new = np.minimum(d, np.sqrt(C * top_sum(phi)))
        dec = d - new
        converged = dec <= d * 1e-6
        reached = new <= goal[todo]
        q = dec / np.where(step[todo] > 0, step[todo], np.inf)
        limit = new - np.where(q < 1.0, dec * q / np.maximum(1.0 - q, 1e-12), np.inf)
        hopeless = (it >= 3) & (limit > goal[todo] * 1.05) & np.isfinite(goal[todo])
        delta[todo], step[todo] = new, dec
        todo = todo[~(converged | reached | hopeless)]
    return delta * (1.0 + 1e-9) + 1e-12 * C * float(k.max(initial=0.0))


def _radius_target(M: np.ndarray, rest: np.ndarray, eps: np.ndarray,
                   kappa: np.ndarray) -> np.ndarray:
    """Largest radius ``Δ`` per column of margins ``M`` (rows: the test rows the bound must
    cover) with ``M − κΔ − rest > eps`` on every row: what (B1) needs to prune that column
    (``−inf`` where no radius suffices).  Only steers how long the radius is refined."""
    num = M - rest[:, None] - eps[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(kappa[:, None] > 0, num / kappa[:, None], np.where(num > 0, np.inf,
                                                                         -np.inf))
    return t.min(axis=0, initial=np.inf) if len(M) else np.full(M.shape[1], np.inf)


def single_flip_radius(a: np.ndarray, k: np.ndarray, C: float) -> np.ndarray:
    """(S1) for flip sets ``A = {i}`` of one point, element-wise: with ``a = a_i`` and
    ``k = k_i``, ``Δ² ≤ C φ_i(Δ)``; the same monotone iteration from ``Δ₀ = 2Ck`` (each
    iterate an upper bound), on 1-D arrays."""
    a = np.asarray(a, float)
    k = np.asarray(k, float)
    base = hinge_gap(a)
    delta = 2.0 * C * k
    for _ in range(_ITERATIONS):
        new = np.sqrt(C * np.maximum(hinge_gap(a - k * delta) - base, 0.0))
        stop = new >= delta * (1.0 - 1e-6)
        delta = np.minimum(delta, new)
        if stop.all():
            break
    return delta * (1.0 + 1e-9) + 1e-12 * C * float(k.max(initial=0.0))


def _max_flips_vec(remaining: np.ndarray, min_cost: float, n: int) -> np.ndarray:
    """Most further flips that fit into the remaining budgets (at least ``min_cost`` each)."""
    rem = np.asarray(remaining, float)
    out = np.floor((rem + _COST_TOL * np.maximum(1.0, rem)) / min_cost)
    return np.where(rem < -_COST_TOL, 0, np.minimum(n, out)).astype(int)


@dataclasses.dataclass
class SearchResult:
    """Per test row and budget (``budgets`` sorted): the verdict material of the search.

    ``visited[r, j]`` — smallest exact margin over visited relabellings of cost ≤ budgets[j]
    (``witness[r][j]`` attains it); ``pruned[r, j]`` — smallest pruning bound (B1/B2) of a
    skipped subtree that budget ``j`` would reach; ``complete[r]`` — the search of row ``r``
    finished (no time-out) for every budget still open when it started.
    """

    budgets: np.ndarray
    visited: np.ndarray
    pruned: np.ndarray
    witness: list
    complete: np.ndarray
    nodes: int = 0
    pruned_nodes: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of the process(es) that searched


def _flip_cost(prob: Problem):
    th = getattr(prob, "threat", None)
    if th is None:
        return np.ones(prob.n, bool), np.ones(prob.n), np.ones(prob.n_classes, bool)
    return np.asarray(th.mask, bool), np.asarray(th.cost, float), \
        np.asarray(th.target_mask, bool)


class _Tracker:
    """Book-keeping shared by the binary and multiclass searches (margins per row/budget)."""

    def __init__(self, budgets_open: np.ndarray, budgets: np.ndarray, eps: np.ndarray):
        self.budgets = budgets
        self.open = budgets_open.copy()  # (rows, J) bool
        R, J = budgets_open.shape
        self.visited = np.full((R, J), np.inf)
        self.pruned = np.full((R, J), np.inf)
        self.witness = [[None] * J for _ in range(R)]
        self.eps = eps

    def rmax(self) -> np.ndarray:
        """Largest open budget per row (−inf: nothing open)."""
        b = np.where(self.open, self.budgets[None, :], -np.inf)
        return b.max(axis=1)

    def visit(self, M: np.ndarray, cost: np.ndarray, nodes) -> None:
        """Exact margins ``M`` (rows, p) of nodes with costs ``cost`` (p,)."""
        for j, B in enumerate(self.budgets):
            fits = cost <= B + _COST_TOL * max(1.0, B)
            if not fits.any():
                continue
            Mj = np.where(fits[None, :], M, np.inf)
            arg = np.argmin(Mj, axis=1)
            mins = Mj[np.arange(len(M)), arg]
            for r in np.flatnonzero(mins < self.visited[:, j]):
                self.visited[r, j] = mins[r]
                self.witness[r][j] = nodes(arg[r])
        # a witness (margin ≤ 0) closes its budget and every larger one
        self.open &= ~(self.visited <= 0)

    def prune(self, rows_lb: np.ndarray, cost: np.ndarray) -> None:
        """Record pruning bounds ``rows_lb`` (rows, p) for subtrees below nodes of ``cost``."""
        for j, B in enumerate(self.budgets):
            reach = cost < B - _COST_TOL * max(1.0, B)
            if reach.any():
                lb = np.where(reach[None, :], rows_lb, np.inf).min(axis=1)
                self.pruned[:, j] = np.minimum(self.pruned[:, j], np.where(self.open[:, j], lb,
                                                                          np.inf))


class RadiusGate:
    """Whether to compute (B1)/(B2)'s iterated radius for the subtrees (B3) leaves open.

    Both bounds are valid and a subtree is skipped on the larger, so leaving (B1) out only
    ever prunes less — verdicts and soundness are unchanged.  On the C·rowsum-10, -4 and -2
    instances of ``benchmarks/bench_hard_regime`` (every family, n = 60 and 120, budgets 4
    and 8) (B3) dominated it everywhere: (B1) closed none of ≈ 9 M subtrees it was computed
    for and took ≈ 20 % of the search's time.  So a search computes it while it pays: after
    ``warmup`` subtrees tried with fewer than a share ``min_share`` closed by (B1) alone, it is
    computed only on every ``probe``-th call (each such call can re-enable it)."""

    def __init__(self, warmup: int = 2000, min_share: float = 1e-3, probe: int = 32):
        self.warmup, self.min_share, self.probe = warmup, min_share, probe
        self.tried = self.won = self.calls = 0

    def use(self) -> bool:
        """Compute the radius on this call?"""
        self.calls += 1
        if self.tried < self.warmup or self.won >= self.min_share * self.tried:
            return True
        return self.calls % self.probe == 0

    def record(self, tried: int, won: int) -> None:
        """``tried`` subtrees got the radius, ``won`` of them closed by it alone."""
        self.tried += int(tried)
        self.won += int(won)


def b3_readout(prob, geo, alpha0, y_pm, V, kappa, rest, budget, flippable, min_cost,
               ) -> Readout:
    """The (B3ᵁ) read-out for a search from the exact clean solution ``alpha0`` (labels
    ``y_pm``) up to ``budget``: ``U`` from the (S1)/(B3) bounds on ``K z'`` over every
    admissible relabelling (:func:`~certmodel.labelcert._stability.budget_bounds`), then
    :meth:`Readout.projected` (plain (B3) where every point may move)."""
    flips = int(_max_flips_vec(np.array([budget]), min_cost, prob.n)[0])
    bounds = budget_bounds(geo, prob.K, y_pm, prob.C, alpha0, flips, flippable)
    if bounds is None:
        return Readout.full(V, kappa, geo.diag_sqrt, rest)
    U = moving_points(bounds[0], bounds[1], y_pm, flippable)
    pin = flip_pins(bounds[0], bounds[1], y_pm)
    return Readout.projected(prob.K, V, kappa, geo.diag_sqrt, rest, U, prob.C, pin)


def attach_cut(ro: Readout, prob, geo, alpha0, y_pm, V, kappa, budget, flippable, min_cost,
               gated: bool = True) -> Readout:
    """Give a binary search's read-out the (B4) bound (``ro.cut``,
    :class:`~certmodel.labelcert._cutdual.OptimalityCutBound`, ``λ`` tuned at the root
    ``alpha0``) with its gate: (B4) is computed only where (B3) leaves subtrees open, and
    only while it closes a share of them (:class:`RadiusGate`, 30 %: on the CBA n = 120
    budget-8 searches it closes 78 % of the subtrees (B3) leaves open and shrinks the tree
    6–17×, on CSBM 19 % for a tree 4 % smaller at more CPU; ``gated=False``: always — the
    tree estimate, whose dives
    revisit nodes and would switch a gate off where the search keeps it on).  Only where
    ``geo.cut_bound`` (:class:`~certmodel.labelcert._options.LabelCertOptions`
    ``cut_bound``, on by default)."""
    if not getattr(geo, "cut_bound", False):
        return ro
    top = int(_max_flips_vec(np.array([budget]), min_cost, prob.n)[0])
    ro.cut = OptimalityCutBound(prob.K, prob.C, V, kappa, geo, top)
    ro.cut.tune(y_pm * alpha0, y_pm, np.asarray(flippable, bool), top)
    ro.cut.gate = RadiusGate(min_share=0.3) if gated else None
    return ro


def _need(lb: np.ndarray, eps: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Nodes (columns) whose subtree some active row still needs: ``lb_t ≤ eps_t``."""
    return ((lb <= eps[:, None]) & active[:, None]).any(axis=0)


def _children_b3(MP, rr, R, c_par, pc, ic, later, AL, RK, cost, min_cost, ro, ZP, YP, C):
    """(B3) lower bounds (len(rr), q) on the margins of rows ``rr`` everywhere in the
    subtrees of the children ``(pc[q], ic[q])``, from their parents (margins ``MP``, ``z`` and
    labels ``ZP``/``YP``, allowed flips ``AL``, order ``RK`` (P, n)) before the children are
    retrained: the parent's margin less ``rest``, plus the term of the child's flip ``i``
    (forced), plus the most negative terms of at most ``⌊(R − cost(parent)) / min cost⌋ − 1``
    further points the child may flip (none when no further flip fits or ``later[q]``, whether
    the child may flip any point at all, is False).
    Valid for the child itself too (no further flip).  Returns ``(b3, room, rf)``: ``room[q]``
    whether a further flip fits, ``rf[q]`` the parent's flips left within ``R``."""
    n = ZP.shape[1]
    up, inv = np.unique(pc, return_inverse=True)
    # the parents' terms in their own order: a child's allowed set is a suffix there
    ordU = np.argsort(RK[up], axis=1)
    AL_r = np.take_along_axis(AL[up], ordU, axis=1)
    start = RK[pc, ic] + 1
    rf = _max_flips_vec(R - c_par[pc], min_cost, n)
    room = ((R - c_par[pc] - cost[ic]) >= min_cost - _COST_TOL) & later
    b3 = MP[np.ix_(rr, pc)] - ro.rest[rr, None]
    further = np.where(room, np.maximum(rf - 1, 0), 0)
    for blk in row_blocks(len(rr), len(up) * n):
        Tb = flip_terms(ro.V[rr[blk]], ZP[up], YP[up], C, ro.kappa[rr[blk]], ro.k, pin=ro.pin)
        b3[blk] += Tb[:, inv, ic] + suffix_smallest_sums(
            np.take_along_axis(Tb, ordU[None], axis=2), AL_r, inv, start, further)
    return b3, room, rf


def _children_b4(cut, MP, rr, pc, ic, further, AL, RK, ZP, YP, rest, eps, aP=None):
    """(B4) of :mod:`certmodel.labelcert._cutdual` for the children ``(pc[q], ic[q])``
    from their parents, as :func:`_children_b3`: the parent's margin less ``rest``, plus
    ``D₀`` and the child's own ``β`` and the most negative ``β`` of at most ``further[q]``
    points after ``ic[q]`` in the parent's order (one sweep per parent, the parent's
    Cauchy–Schwarz factor for every flip); where that leaves a child open (``≤ eps`` on a
    row), :meth:`~certmodel.labelcert._cutdual.OptimalityCutBound.child_bounds` — the
    child's own flip with its exact Gram terms.  ``aP`` (P, n), optional: the parents'
    ``ỹ∘(K z)`` (the screen has them).  Returns (len(rr), q)."""
    n = ZP.shape[1]
    up, inv = np.unique(pc, return_inverse=True)
    ordU = np.argsort(RK[up], axis=1)
    AL_r = np.take_along_axis(AL[up], ordU, axis=1)
    start = RK[pc, ic] + 1
    size = np.zeros(len(up), int)
    np.maximum.at(size, inv, 1 + further)
    b4 = MP[np.ix_(rr, pc)] - rest[rr, None]
    shared = b4.copy()
    parts = cut.node_terms(rr, ZP[up], YP[up], size, per_row=len(pc) * n,
                           G=None if aP is None else YP[up] * aP[up])
    for blk, D0, beta, _, _, _ in parts:
        beta = cut.slacked(beta, rr[blk])
        shared[blk] += D0[:, inv] + beta[:, inv, ic] + suffix_smallest_sums(
            np.take_along_axis(beta, ordU[None], axis=2), AL_r, inv, start, further)
    still = np.flatnonzero(_need(shared, eps[rr], np.ones(len(rr), bool)))
    if len(still):
        pc2, ic2 = pc[still], ic[still]
        shared[:, still] = np.maximum(shared[:, still], b4[:, still] + cut.child_bounds(
            rr, ZP[up], YP[up], inv[still], ic2, further[still],
            child_masks(AL, RK, pc2, ic2), parts=parts))
    return shared


def _screen(aP, MP, c_par, par, idx, Rmax, active, eps_r, kappa, rest, ksq, C, cost,
            AL, RK, min_cost, ro, ZP, YP, gate: RadiusGate | None = None):
    """Children ``(par[q], idx[q])`` whose whole subtree is harmless, decided *before*
    retraining them, with the parent as the base node (margins ``MP``, functional margins
    ``aP``, ``z`` and labels ``ZP``/``YP``, allowed flips ``AL`` and order ``RK`` (P, n)): the
    child's subtree flips ``i`` and at most ``⌊(R − cost(parent)) / min cost⌋ − 1`` more of
    its allowed points (:func:`~certmodel.labelcert._flip_order.child_masks`).  (B3) forces
    ``i`` (its term plus the most negative allowed ones, :func:`_children_b3`); (B1), for the
    children (B3) leaves open, bounds the radius over ``A ⊆ {i} ∪ allowed`` (only ``{i}`` when
    no further flip fits) — when ``gate`` (:class:`RadiusGate`) says it still pays.
    Returns ``(skip, lb)``."""
    q = len(par)
    lb = np.full((len(MP), q), -np.inf)
    cand = ~_need(MP[:, par], eps_r, active)
    if not cand.any():
        return np.zeros(q, bool), lb
    jj = np.arange(aP.shape[1])
    pc, ic = par[cand], idx[cand]
    later = has_later(AL, RK, pc, ic)
    single = None
    for R in np.unique(Rmax[active]):
        rr = np.flatnonzero(Rmax == R)
        b3, room, rf = _children_b3(MP, rr, R, c_par, pc, ic, later, AL, RK, cost,
                                    min_cost, ro, ZP, YP, C)
        Mr = MP[np.ix_(rr, pc)]
        open_ = _need(b3, eps_r[rr], np.ones(len(rr), bool))
        cut = getattr(ro, "cut", None)
        if cut is not None and open_.any() and (cut.gate is None or cut.gate.use()):
            oc = np.flatnonzero(open_)
            further = np.where(room, np.maximum(rf - 1, 0), 0)[oc]
            b3[:, oc] = np.maximum(b3[:, oc], _children_b4(
                cut, MP, rr, pc[oc], ic[oc], further, AL, RK, ZP, YP, ro.rest, eps_r, aP))
            still = _need(b3, eps_r[rr], np.ones(len(rr), bool))
            if cut.gate is not None:  # (B4) closed these of the subtrees (B3) left open
                cut.gate.record(len(oc), (open_ & ~still).sum())
            open_ = still
        if gate is not None and open_.any() and not gate.use():
            open_[:] = False
        delta = np.zeros(len(pc))
        # leaves of the subtree: A = {i} (one point, closed 1-D iteration)
        leaf = open_ & ~room
        if leaf.any():
            if single is None:
                single = single_flip_radius(aP[pc, ic], ksq[ic], C)
            delta[leaf] = single[leaf]
        for r_ in np.unique(rf[room & open_]):
            sel = room & open_ & (rf == r_)
            if r_ > 0:
                allowed = (jj[None, :] == ic[sel, None]) | child_masks(AL, RK, pc[sel], ic[sel])
                target = _radius_target(Mr[:, sel], rest[rr], eps_r[rr], kappa[rr])
                delta[sel] = stability_radius_batch(aP[pc[sel]], ksq, C, int(r_), allowed,
                                                    target)
        b1 = np.where(open_[None, :], Mr - (kappa[rr, None] * delta[None, :]
                                           + rest[rr, None]), -np.inf)
        both = np.maximum(b3, b1)
        if gate is not None and open_.any():
            gate.record(open_.sum(), (open_ & ~_need(both, eps_r[rr], np.ones(len(rr), bool)))
                        .sum())
        sub = np.full((len(rr), q), -np.inf)
        sub[:, cand] = both
        lb[rr] = sub
    lb[~active] = np.inf
    skip = cand & ~_need(lb, eps_r, active)
    return skip, lb


def _subtree_bounds(M, Z, Y, cc, allowed, cand, Rmax, active, ro, eps_r, kappa, rest, ksq,
                    C, K, min_cost, gate: RadiusGate | None = None):
    """Lower bounds (rows, p) on every margin below the nodes ``cand`` (−inf elsewhere,
    +inf on inactive rows): the larger of (B3) of :mod:`certmodel.labelcert._response` and
    (B1); (B1)'s iterated radius is computed only for the nodes (B3) leaves open, and only
    when ``gate`` (:class:`RadiusGate`) says it still pays."""
    n = Z.shape[1]
    lb = np.where(cand[None, :], np.inf, -np.inf) * np.ones((len(M), 1))
    ci = np.flatnonzero(cand)
    a_c = None
    for R in np.unique(Rmax[active]):
        rr = np.flatnonzero(Rmax == R)
        r_flips = _max_flips_vec(R - cc[ci], min_cost, n)
        Mr = M[np.ix_(rr, ci)]
        b3 = Mr + drop_bounds(ro.V[rr], Z[ci], Y[ci], C, ro.kappa[rr], ro.k, allowed[ci],
                              r_flips, ro.pin) - ro.rest[rr, None]
        open_ = _need(b3, eps_r[rr], np.ones(len(rr), bool))
        cut = getattr(ro, "cut", None)
        if cut is not None and open_.any() and (cut.gate is None or cut.gate.use()):
            oc = np.flatnonzero(open_)
            b4 = Mr[:, oc] - ro.rest[rr, None]
            for blk in row_blocks(len(rr), len(oc) * n):
                D0, beta = cut.terms(rr[blk], Z[ci[oc]], Y[ci[oc]], r_flips[oc])
                b4[blk] += D0 + smallest_sums(beta, allowed[ci[oc]], r_flips[oc])
            b3[:, oc] = np.maximum(b3[:, oc], b4)
            still = _need(b3, eps_r[rr], np.ones(len(rr), bool))
            if cut.gate is not None:  # (B4) closed these of the subtrees (B3) left open
                cut.gate.record(len(oc), (open_ & ~still).sum())
            open_ = still
        if gate is not None and open_.any() and not gate.use():
            open_[:] = False
        delta = np.zeros(len(ci))
        for rf in np.unique(r_flips[open_]):
            sel = (r_flips == rf) & open_
            if rf > 0 and sel.any():
                if a_c is None:
                    a_c = Y[ci] * (Z[ci] @ K)
                target = _radius_target(Mr[:, sel], rest[rr], eps_r[rr], kappa[rr])
                delta[sel] = stability_radius_batch(a_c[sel], ksq, C, int(rf),
                                                    allowed[ci[sel]], target)
        b1 = np.where(open_[None, :], Mr - (kappa[rr, None] * delta[None, :]
                                           + rest[rr, None]), -np.inf)
        both = np.maximum(b3, b1)
        if gate is not None and open_.any():
            gate.record(open_.sum(), (open_ & ~_need(both, eps_r[rr], np.ones(len(rr), bool)))
                        .sum())
        lb[np.ix_(rr, ci)] = both
    return lb


def search_binary(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, rows: np.ndarray,
                  budgets: list, open_mask: np.ndarray, eps: np.ndarray,
                  geo: KernelGeometry | None, time_limit: float | None = None,
                  offset: np.ndarray | None = None, order: bool = True,
                  first_flips: np.ndarray | None = None,
                  root_ranks: np.ndarray | None = None) -> SearchResult:
    """Exact worst margins (or proofs that they exceed ``eps``) for test ``rows``.

    ``open_mask[r, j]``: budget ``budgets[j]`` of row ``rows[r]`` is still to be decided.
    ``geo`` (a PSD :class:`KernelGeometry`) enables pruning; ``None`` enumerates.
    ``offset`` (indexed like ``signs``): the margin of row ``t`` is ``signs_t f_t − offset_t``
    (a threshold other than 0: "witness" then means a relabelling reaching it).
    ``order``: consider flips most harmful first (the same relabellings and verdicts, a
    smaller pruned tree; :mod:`certmodel.labelcert._flip_order`); ``False`` keeps data order.
    ``first_flips`` (n,) bool and ``root_ranks`` (n,) int: one part of a split search
    (:mod:`certmodel.labelcert._split_search`) — the root orders its points by
    ``root_ranks`` and expands only the children adding a point of ``first_flips``, i.e.
    the flip sets whose first point in that order is in ``first_flips``.
    """
    t_start, c_start = time.perf_counter(), time.process_time()
    rows = np.asarray(rows, dtype=int)
    bud = np.asarray(sorted(budgets), dtype=float)
    K, C, n = prob.K, prob.C, prob.n
    flippable, cost, _ = _flip_cost(prob)
    min_cost = float(cost[flippable].min()) if flippable.any() else np.inf
    Kt = prob.K_test[rows] * signs[rows, None]
    off = np.zeros((len(rows), 1)) if offset is None else \
        np.asarray(offset, float)[rows][:, None]
    eps_r = np.asarray(eps, float)[rows]
    tr = _Tracker(np.asarray(open_mask, bool), bud, eps_r)
    use_bound = geo is not None and geo.psd
    y0 = prob.y_pm
    alpha0 = np.asarray(alpha0, float)
    if use_bound:
        kappa, rest = geo.readout(prob.K_test[rows], C)
        ksq = geo.diag_sqrt
        ro = b3_readout(prob, geo, alpha0, y0, Kt, kappa, rest, float(bud.max()), flippable,
                        min_cost)
        attach_cut(ro, prob, geo, alpha0, y0, Kt, kappa, float(bud.max()), flippable,
                   min_cost)
    tr.visit((Kt @ (y0 * alpha0))[:, None] - off, np.zeros(1), lambda a: ())  # clean
    # stack of (S (p, b) int, A (p, n), Y (p, n), c (p,), AL (p, n) flips still allowed,
    # LB (rows, p) lower bounds on the margins below each node: −inf where not computed)
    R0 = len(rows)
    stack = [(np.zeros((1, 0), np.int64), np.asarray(alpha0, float)[None], y0[None].copy(),
              np.zeros(1), flippable[None].copy(), np.full((R0, 1), -np.inf))]
    nodes = pruned = 0
    gate = RadiusGate()
    timed_out = False
    unfinished = None  # LB of a node whose children were not all processed (time-out)
    j = np.arange(n)
    while stack:
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            timed_out = True
            break
        S, A, Y, c, AL, LB = stack.pop()
        Rmax = tr.rmax()
        active = np.isfinite(Rmax)
        if not active.any():
            break
        Rtop = float(Rmax[active].max())
        # children: one allowed flip within the largest open budget; each node orders its
        # allowed flips (most harmful first for its own terms) and a child may flip only
        # the points after its own (:func:`~certmodel.labelcert._flip_order.child_masks`)
        ok = AL & (c[:, None] + cost[None, :] <= Rtop + _COST_TOL * max(1.0, Rtop))
        root = S.shape[1] == 0
        if root and first_flips is not None:
            ok &= np.asarray(first_flips, bool)[None, :]
        par, idx = np.nonzero(ok)
        ZP = Y * A
        MP = Kt @ ZP.T - off
        if root and root_ranks is not None:
            RK = np.asarray(root_ranks, int)[None, :]
        elif use_bound and order:
            ra = np.flatnonzero(active)
            RK = node_ranks(ro, ZP, Y, C, AL, ra, MP[ra],
                            _max_flips_vec(Rtop - c, min_cost, n), eps_r[ra])
        else:
            RK = np.broadcast_to(j, AL.shape)
        if use_bound and len(par):  # bound the children's subtrees before retraining them
            aP = Y * (ZP @ K)
            skip, lbP = _screen(aP, MP, c, par, idx, Rmax, active, eps_r, kappa, rest, ksq, C,
                                cost, AL, RK, min_cost, ro, ZP, Y, gate)
            if skip.any():
                pruned += int(skip.sum())
                tr.prune(lbP[:, skip], c[par[skip]])
                par, idx = par[~skip], idx[~skip]
        for lo in range(0, len(par), _CHUNK):
            if time_limit is not None and time.perf_counter() - t_start > time_limit:
                timed_out = True
                unfinished = LB
                break
            p, i = par[lo:lo + _CHUNK], idx[lo:lo + _CHUNK]
            Yc = Y[p].copy()
            Yc[np.arange(len(p)), i] *= -1.0
            A0 = A[p].copy()
            A0[np.arange(len(p)), i] = C  # warm start: the flipped point becomes a margin error
            Ac, conv = solve_svm_dual_batch(K, Yc, C, A0, check_start=False)
            if not conv.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point during search")
            Sc = np.hstack([S[p], i[:, None]])
            cc = c[p] + cost[i]
            Z = Yc * Ac
            M = Kt @ Z.T - off
            nodes += len(p)
            tr.visit(M, cc, lambda a, Sc=Sc: tuple(sorted(int(v) for v in Sc[a])))
            Rmax = tr.rmax()
            active = np.isfinite(Rmax)
            # children that can still have children of their own
            room = np.where(active[:, None], Rmax[:, None] - cc[None, :], -np.inf)  # (rows, p)
            allowed = child_masks(AL, RK, p, i)
            expandable = (room.max(axis=0, initial=-np.inf) >= min_cost - _COST_TOL) & \
                allowed.any(axis=1)
            if not expandable.any():
                continue
            keep = expandable.copy()
            lb = np.full((R0, len(p)), -np.inf)
            # a subtree can only be skipped if every active row's margin already exceeds eps
            # (lb ≤ margin): the bound is computed for those nodes only
            cand = expandable & ~_need(M, eps_r, active)
            if use_bound and cand.any():
                lb = _subtree_bounds(M, Z, Yc, cc, allowed, cand, Rmax, active, ro, eps_r,
                                     kappa, rest, ksq, C, K, min_cost, gate)
                keep = expandable & _need(lb, eps_r, active)
                gone = expandable & ~keep
                if gone.any():
                    pruned += int(gone.sum())
                    tr.prune(lb[:, gone], cc[gone])
            if keep.any():
                stack.append((Sc[keep], Ac[keep], Yc[keep], cc[keep], allowed[keep],
                              lb[:, keep]))
    complete = np.full(len(rows), not timed_out)
    if timed_out:
        complete = _finished_rows(tr, stack, unfinished, eps_r)
    return SearchResult(bud, tr.visited, tr.pruned, tr.witness, complete, nodes, pruned,
                        time.perf_counter() - t_start, time.process_time() - c_start)


def _finished_rows(tr: _Tracker, stack: list, unfinished, eps_r: np.ndarray) -> np.ndarray:
    """After a time-out of :func:`search_binary`: the rows whose unexplored relabellings
    are bounded anyway.  Every admissible relabelling was visited, lies in a pruned subtree
    (``tr.pruned``), or lies below a node still on the ``stack`` (or below the node whose
    children were being processed, ``unfinished``); each of those nodes carries the lower
    bounds of its subtree computed when it was pushed, per row for that row's largest open
    budget then — which only shrinks, so they stay valid.  A row is complete when all of
    them exceed its ``eps``; those bounds are folded into its open budgets' ``pruned``."""
    lbs = [e[5] for e in stack] + ([unfinished] if unfinished is not None else [])
    if not lbs:
        return np.ones(len(eps_r), bool)
    low = np.hstack(lbs).min(axis=1, initial=np.inf)
    done = low > eps_r
    fold = done[:, None] & tr.open
    tr.pruned = np.where(fold, np.minimum(tr.pruned, low[:, None]), tr.pruned)
    return done


def _ovr_margins(F: np.ndarray, tops: np.ndarray, rivals: np.ndarray) -> np.ndarray:
    """``F`` (rows, p, K) logits -> (rows, p) margins ``f_top − max_{k rival} f_k``
    (``rivals`` (rows, K) bool: every ``k ≠ top``, or one rival per row)."""
    ar = np.arange(len(tops))
    return F[ar, :, tops] - np.where(rivals[:, None, :], F, -np.inf).max(axis=2)


def rival_mask(tops_r: np.ndarray, n_classes: int,
               rivals_r: np.ndarray | None = None) -> np.ndarray:
    """(rows, K) bool: the classes a row's margin is taken against — every class but its
    top, or (``rivals_r``) the one rival of each row."""
    cls = np.arange(n_classes)[None, :]
    if rivals_r is None:
        return cls != np.asarray(tops_r)[:, None]
    return cls == np.asarray(rivals_r)[:, None]


def move_mask(prob: Problem, moves: np.ndarray | None = None) -> np.ndarray:
    """(n, K) bool: point ``j`` may move to class ``c`` — flippable, ``c`` a target and not
    its class, and (``moves``) allowed there."""
    flippable, _, targets = _flip_cost(prob)
    out = flippable[:, None] & targets[None, :] & \
        (prob.codes[:, None] != np.arange(prob.n_classes)[None, :])
    return out if moves is None else out & np.asarray(moves, bool)


def class_masks(codes: np.ndarray, moves: np.ndarray) -> list:
    """Per binary problem ``k`` the points a relabelling in ``moves`` can change there:
    those of class ``k`` that can move, and those that can move to ``k``."""
    movable = moves.any(axis=1)
    return [((codes == k) & movable) | moves[:, k] for k in range(moves.shape[1])]


def _screen_multiclass(aP, FP, MP, tops_r, rivals_r, c_par, par, j, new, codes, class_allowed,
                       Rmax, active,
                       eps_r, kappa, rest, ksq, C, cost, AL, RK, min_cost, ros, ZP, YP,
                       gate: RadiusGate | None = None):
    """Multiclass :func:`_screen`: child ``(par[q], j[q] → new[q])``'s subtree bounded from
    the parent (``z``/labels ``ZP``, ``YP`` of shape (P, K, n)).  Problem ``k`` sees the flip
    of ``j`` only if ``k ∈ {y_j, new}``, and further flips only at the points the child may
    still flip (after ``j`` in the parent's order ``RK``, within its allowed ``AL``) that leave
    ``k`` or (``k`` a target) move to it; a leaf child changes problems ``y_j`` and ``new``
    alone (every other ``f_k`` is exact).  Each logit's interval is the intersection of
    (B3ᵁ) (read-outs ``ros``; ``j``'s term forced in its two problems) and, for the
    children (B3ᵁ) leaves open, (B2) (when ``gate``, :class:`RadiusGate`, says it pays)."""
    q = len(par)
    n = aP.shape[2]
    nK = aP.shape[1]
    lb = np.full((len(MP), q), -np.inf)
    cand = ~_need(MP[:, par], eps_r, active)
    if not cand.any():
        return np.zeros(q, bool), lb
    jj = np.arange(n)
    pc, jc, nc = par[cand], j[cand], new[cand]
    oc = codes[jc]
    up_, inv = np.unique(pc, return_inverse=True)
    touched = (np.arange(nK)[None, :] == oc[:, None]) | (np.arange(nK)[None, :] == nc[:, None])
    has_more = has_later(AL, RK, pc, jc)
    ordU = np.argsort(RK[up_], axis=1)  # the parents' terms in their own order
    start = RK[pc, jc] + 1
    single = None
    for R in np.unique(Rmax[active]):
        rr = np.flatnonzero(Rmax == R)
        rf = _max_flips_vec(R - c_par[pc], min_cost, n)
        room = ((R - c_par[pc] - cost[jc]) >= min_cost - _COST_TOL) & has_more
        nxt = np.where(room, np.maximum(rf - 1, 0), 0)
        Fq = FP[rr][:, pc]  # (rows, q, K)
        lo, hi = Fq.copy(), Fq.copy()
        lower, upper = _sides(tops_r[rr], rivals_r[rr], nK)  # the sides the bound reads
        lo[:, :, ~lower] = -np.inf  # sides no margin bound reads stay unbounded
        hi[:, :, ~upper] = np.inf
        for k, ro in enumerate(ros):
            if not (lower[k] or upper[k]):
                continue
            allow_k = np.take_along_axis(AL[up_] & class_allowed[k][None, :],
                                         ordU, axis=1)
            for blk in row_blocks(len(rr), len(up_) * n):
                rb = rr[blk]
                for sign, out, need in ((1.0, lo, lower[k]), (-1.0, hi, upper[k])):
                    if not need:
                        continue
                    T = flip_terms(sign * ro.V[rb], ZP[up_, k], YP[up_, k], C, ro.kappa[rb],
                                   ro.k, pin=ro.pin)
                    own = np.where(touched[None, :, k], T[:, inv, jc], 0.0)
                    suf = suffix_smallest_sums(np.take_along_axis(T, ordU[None], axis=2),
                                               allow_k, inv, start, nxt)
                    out[blk, :, k] += sign * (own + suf - ro.rest[rb, None])
        open_ = _need(_ovr_bound(lo, hi, tops_r[rr], rivals_r[rr]), eps_r[rr],
                      np.ones(len(rr), bool))
        if gate is not None and open_.any() and not gate.use():
            open_[:] = False
        delta = np.full((len(pc), nK), np.inf)
        leaf = open_ & ~room
        if leaf.any():
            if single is None:
                single = np.stack([single_flip_radius(aP[pc, k, jc], ksq[jc], C)
                                   for k in range(nK)], axis=1)
            delta[leaf] = np.where(touched[leaf], single[leaf], 0.0)
        for r_ in np.unique(rf[room & open_]):
            sel = room & open_ & (rf == r_)
            if r_ <= 0:
                continue
            # (B2) exceeds eps once every class's radius is below this common target
            target = _radius_target(MP[np.ix_(rr, pc[sel])], 2.0 * rest[rr], eps_r[rr],
                                    2.0 * kappa[rr])
            later = child_masks(AL, RK, pc[sel], jc[sel])
            for k in range(nK):
                allow = (jj[None, :] == jc[sel, None]) & \
                    ((oc[sel] == k) | (nc[sel] == k))[:, None]
                allow |= later & class_allowed[k][None, :]
                delta[sel, k] = stability_radius_batch(aP[pc[sel], k], ksq, C, int(r_), allow,
                                                       target)
        fin = np.isfinite(delta)[None]
        rad = np.where(fin, kappa[rr, None, None] * np.where(fin, delta[None], 0.0)
                       + rest[rr, None, None], np.inf)
        lo = np.maximum(lo, Fq - rad)
        hi = np.minimum(hi, Fq + rad)
        both = _ovr_bound(lo, hi, tops_r[rr], rivals_r[rr])
        if gate is not None and open_.any():
            gate.record(open_.sum(), (open_ & ~_need(both, eps_r[rr], np.ones(len(rr), bool)))
                        .sum())
        sub = np.full((len(rr), q), -np.inf)
        sub[:, cand] = both
        lb[rr] = sub
    lb[~active] = np.inf
    skip = cand & ~_need(lb, eps_r, active)
    return skip, lb


def _sides(tops_r, rivals_r, nK):
    """Which logit bounds a margin bound reads: ``(lower, upper)`` (K,) bool — the lower
    bound of every row's top class, the upper bound of every row's rivals."""
    lower = np.isin(np.arange(nK), tops_r)
    return lower, rivals_r.any(axis=0)


def _class_bounds(ros, Z, Y, C, allow, r, rows, tops_r, rivals_r):
    """(B3ᵁ) per binary problem ``k`` (read-out ``ros[k]``): ``(down, up)`` (rows, q, K)
    with every descendant's logit ``f_k ∈ [f_k + down_k − rest_k, f_k + up_k + rest_k]``,
    from ``Z``, ``Y`` (q, K, n); ``rest_k`` is folded in.  Only the sides the margin bound
    reads (:func:`_sides` of the rows' ``tops_r``/``rivals_r``) are computed; the others
    are left unbounded (``−inf`` / ``+inf``)."""
    nK = Z.shape[1]
    down = np.full((len(rows), Z.shape[0], nK), -np.inf)
    up = np.full_like(down, np.inf)
    lower, upper = _sides(tops_r, rivals_r, nK)
    for k, ro in enumerate(ros):
        if lower[k]:
            down[:, :, k] = drop_bounds(ro.V[rows], Z[:, k], Y[:, k], C, ro.kappa[rows],
                                        ro.k, allow[k], r, ro.pin) - ro.rest[rows, None]
        if upper[k]:
            up[:, :, k] = ro.rest[rows, None] - drop_bounds(
                -ro.V[rows], Z[:, k], Y[:, k], C, ro.kappa[rows], ro.k, allow[k], r, ro.pin)
    return down, up


def _subtree_bounds_multiclass(M, F, Z, Yall, cc, allowed, cand, Rmax, active, ros, tops_r,
                               rivals_r, eps_r, kappa, rest, ksq, C, K, min_cost,
                               class_allowed,
                               gate: RadiusGate | None = None):
    """Multiclass :func:`_subtree_bounds`: each logit ``f_k`` of a descendant lies in the
    intersection of its (B3) interval and its (B2) interval ``f_k ± (κ Δ^k_r + ρ')``; the
    margin bound is ``lo_top − max_{k ≠ top} hi_k`` (B2's radii only where B3 leaves the
    node open, and only when ``gate``, :class:`RadiusGate`, says it pays).  Problem ``k``
    sees flips only at points leaving ``k`` or moving to a target ``k``."""
    n, nK = Z.shape[2], Z.shape[1]
    lb = np.where(cand[None, :], np.inf, -np.inf) * np.ones((len(M), 1))
    ci = np.flatnonzero(cand)
    Zc, Yc = Z[ci], Yall[ci]
    allow = [allowed[ci] & class_allowed[k][None, :] for k in range(nK)]
    G = None
    for R in np.unique(Rmax[active]):
        rr = np.flatnonzero(Rmax == R)
        rf_all = _max_flips_vec(R - cc[ci], min_cost, n)
        Fc = F[rr][:, ci]  # (rows, q, K)
        down, up = _class_bounds(ros, Zc, Yc, C, allow, rf_all, rr, tops_r[rr],
                                 rivals_r[rr])
        lo_f, hi_f = Fc + down, Fc + up
        mar = _ovr_bound(lo_f, hi_f, tops_r[rr], rivals_r[rr])
        open_ = _need(mar, eps_r[rr], np.ones(len(rr), bool))
        if gate is not None and open_.any() and not gate.use():
            open_[:] = False
        if open_.any():
            if G is None:
                G = (Zc.reshape(-1, n) @ K).reshape(-1, nK, n)  # (q, K, n) = K z^k
            oi = np.flatnonzero(open_)
            delta = np.zeros((len(oi), nK))
            # (B2) exceeds eps once every class's radius is below this common target
            target = _radius_target(M[rr][:, ci[oi]], 2.0 * rest[rr], eps_r[rr],
                                    2.0 * kappa[rr])
            for k in range(nK):
                a_k = Yc[oi, k] * G[oi, k]
                for rf in np.unique(rf_all[oi]):
                    s_ = rf_all[oi] == rf
                    if rf > 0 and s_.any():
                        delta[s_, k] = stability_radius_batch(
                            a_k[s_], ksq, C, int(rf), allow[k][oi[s_]], target[s_])
            rad = kappa[rr, None, None] * delta[None] + rest[rr, None, None]
            lo_f[:, oi] = np.maximum(lo_f[:, oi], Fc[:, oi] - rad)
            hi_f[:, oi] = np.minimum(hi_f[:, oi], Fc[:, oi] + rad)
            mar[:, oi] = _ovr_bound(lo_f[:, oi], hi_f[:, oi], tops_r[rr], rivals_r[rr])
            if gate is not None:
                gate.record(len(oi), (~_need(mar[:, oi], eps_r[rr], np.ones(len(rr), bool)))
                            .sum())
        sub = lb[rr]
        sub[:, ci] = mar
        lb[rr] = sub
    return lb


def _ovr_bound(lo_f, hi_f, tops, rivals):
    """``lo_f[t, q, top_t] − max_{k rival of t} hi_f[t, q, k]`` (rows, q)."""
    ar = np.arange(len(tops))
    return lo_f[ar, :, tops] - np.where(rivals[:, None, :], hi_f, -np.inf).max(axis=2)


def search_multiclass(prob: Problem, alphas: np.ndarray, tops: np.ndarray, rows: np.ndarray,
                      budgets: list, open_mask: np.ndarray, eps: np.ndarray,
                      geo: KernelGeometry | None, time_limit: float | None = None,
                      order: bool = True, first_flips: np.ndarray | None = None,
                      root_ranks: np.ndarray | None = None, rivals: np.ndarray | None = None,
                      moves: np.ndarray | None = None) -> SearchResult:
    """Multiclass (one-vs-rest) analogue of :func:`search_binary` (``order``, ``first_flips``
    and ``root_ranks`` as there: a part of a split search expands only the root's children
    that move a point of ``first_flips``).

    ``rivals`` (indexed like ``tops``), optional: the margin of row ``t`` is taken against the
    one class ``rivals[t]``, ``f_top − f_rival``, instead of every other class; ``moves``
    (n, K) bool, optional: the only (point, new class) moves searched (with the threat
    model's).  Both serve :func:`search_multiclass_rivals`.

    A child relabels point ``j`` from its clean class ``a`` to a target ``c``: only the binary
    problems ``a`` and ``c`` are retrained (the other ``K − 2`` SVMs are the parent's); the
    pruning bound is (B2).  ``witness[r][j]`` is a tuple of ``(index, new_class)`` pairs.
    """
    t_start, c_start = time.perf_counter(), time.process_time()
    rows = np.asarray(rows, dtype=int)
    bud = np.asarray(sorted(budgets), dtype=float)
    K, C, n, nK = prob.K, prob.C, prob.n, prob.n_classes
    codes = prob.codes
    flippable, cost, targets = _flip_cost(prob)
    min_cost = float(cost[flippable].min()) if flippable.any() else np.inf
    Kt = prob.K_test[rows]
    tops_r = np.asarray(tops)[rows]
    rivals_r = rival_mask(tops_r, nK, None if rivals is None else np.asarray(rivals)[rows])
    mv = move_mask(prob, moves)
    class_allowed = class_masks(codes, mv)
    eps_r = np.asarray(eps, float)[rows]
    tr = _Tracker(np.asarray(open_mask, bool), bud, eps_r)
    use_bound = geo is not None and geo.psd
    cls = np.arange(nK)
    A0 = np.asarray(alphas, float)
    if use_bound:
        kappa, rest = geo.readout(Kt, C)
        ksq = geo.diag_sqrt
        # problem k sees flips of points leaving k or (k a target) moving to k
        ros = [b3_readout(prob, geo, A0[k], np.where(codes == k, 1.0, -1.0), Kt, kappa, rest,
                          float(bud.max()), class_allowed[k], min_cost)
               for k in range(nK)]
    # (new class option o of point j): the o-th target class other than codes[j]
    opts = [np.flatnonzero(mv[j_]) for j_ in range(n)]
    cj = np.concatenate([np.full(len(o), j_) for j_, o in enumerate(opts)]).astype(np.int64)
    cc_new = np.concatenate(opts).astype(np.int64) if len(cj) else np.zeros(0, np.int64)

    Z0 = np.where(codes[None, :] == cls[:, None], 1.0, -1.0) * A0
    tr.visit(_ovr_margins((Kt @ Z0.T)[:, None, :], tops_r, rivals_r), np.zeros(1),
             lambda a: ())
    # stack entries: (pairs (p, b, 2) int, labels (p, n), A (p, K, n), c (p,), AL (p, n))
    stack = [(np.zeros((1, 0, 2), np.int64), codes[None].copy(), A0[None], np.zeros(1),
              mv.any(axis=1)[None].copy())]
    nodes = pruned = 0
    gate = RadiusGate()
    timed_out = False
    jj = np.arange(n)
    while stack:
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            timed_out = True
            break
        S, L, A, c, AL = stack.pop()
        Rmax = tr.rmax()
        active = np.isfinite(Rmax)
        if not active.any():
            break
        Rtop = float(Rmax[active].max())
        # children: an allowed point to another class; each node orders its allowed points
        # (most harmful first for its own terms) and a child flips only later ones
        ok = AL[:, cj] & \
            (c[:, None] + cost[cj][None, :] <= Rtop + _COST_TOL * max(1.0, Rtop))
        root = S.shape[1] == 0
        if root and first_flips is not None:
            ok &= np.asarray(first_flips, bool)[cj][None, :]
        par_all, opt_all = np.nonzero(ok)
        YP = np.where(L[:, None, :] == cls[None, :, None], 1.0, -1.0)
        ZP = YP * A
        if root and root_ranks is not None:
            RK = np.asarray(root_ranks, int)[None, :]
        elif use_bound and order:
            ra = np.flatnonzero(active)
            RK = node_ranks_ovr(ros, ZP, YP, C, AL, class_allowed, ra, tops_r[ra],
                                rivals_r[ra])
        else:
            RK = np.broadcast_to(jj, AL.shape)
        if use_bound and len(par_all):
            # BLAS products (np.einsum without optimize loops in C): (r, p, K) and (p, K, n)
            FP = (ZP.reshape(-1, n) @ Kt.T).reshape(len(ZP), nK, -1).transpose(2, 0, 1)
            aP = YP * (ZP.reshape(-1, n) @ K).reshape(ZP.shape)
            MP = _ovr_margins(FP, tops_r, rivals_r)
        # children in blocks of _SCREEN: each block is bounded from its parents (skipped
        # subtrees are never retrained), then retrained in chunks of _CHUNK; the time limit
        # is checked before every block and chunk
        blocks = [(par_all[s_:s_ + _SCREEN], opt_all[s_:s_ + _SCREEN])
                  for s_ in range(0, len(par_all), _SCREEN)]
        chunks = []
        while blocks or chunks:
            if time_limit is not None and time.perf_counter() - t_start > time_limit:
                timed_out = True
                break
            if not chunks:
                par, opt = blocks.pop(0)
                if use_bound:  # bound the children's subtrees before retraining them
                    Rmax = tr.rmax()
                    active = np.isfinite(Rmax)
                    if not active.any():
                        break
                    skip, lbP = _screen_multiclass(
                        aP, FP, MP, tops_r, rivals_r, c, par, cj[opt], cc_new[opt], codes,
                        class_allowed,
                        Rmax, active, eps_r, kappa, rest, ksq, C, cost, AL, RK, min_cost,
                        ros, ZP, YP, gate)
                    if skip.any():
                        pruned += int(skip.sum())
                        tr.prune(lbP[:, skip], c[par[skip]])
                        par, opt = par[~skip], opt[~skip]
                chunks = [(par[s_:s_ + _CHUNK], opt[s_:s_ + _CHUNK])
                          for s_ in range(0, len(par), _CHUNK)]
                continue
            p, o = chunks.pop(0)
            j, new = cj[o], cc_new[o]
            old = codes[j]
            m_ = len(p)
            ar = np.arange(m_)
            Lc = L[p].copy()
            Lc[ar, j] = new
            Ac = A[p].copy()
            # retrain the two binary problems the relabelling touches: old and new class
            prob_k = np.concatenate([old, new])
            who = np.concatenate([ar, ar])
            Yb = np.where(Lc[who] == prob_k[:, None], 1.0, -1.0)
            Ab0 = Ac[who, prob_k].copy()
            # warm start: the parent's α with the relabelled point at the upper bound (it
            # usually violates the margin under its new label; Citeseer: 2.62 instead of
            # 2.97 active-set solves per retrain with α_j = 0, 3.30 with the parent's α_j)
            Ab0[np.arange(2 * m_), np.concatenate([j, j])] = C
            Ab, conv = solve_svm_dual_batch(K, Yb, C, Ab0, check_start=False)
            if not conv.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point during search")
            Ac[who, prob_k] = Ab
            Yall = np.where(Lc[:, None, :] == cls[None, :, None], 1.0, -1.0)  # (p, K, n)
            Z = Yall * Ac
            F = (Z.reshape(-1, n) @ Kt.T).reshape(m_, nK, -1).transpose(2, 0, 1)  # (r, p, K)
            M = _ovr_margins(F, tops_r, rivals_r)
            Sc = np.concatenate([S[p], np.stack([j, new], axis=1)[:, None, :]], axis=1)
            cc = c[p] + cost[j]
            nodes += m_
            tr.visit(M, cc, lambda a, Sc=Sc: tuple(sorted((int(u), int(v))
                                                          for u, v in Sc[a])))
            Rmax = tr.rmax()
            active = np.isfinite(Rmax)
            room = np.where(active[:, None], Rmax[:, None] - cc[None, :], -np.inf)
            allowed = child_masks(AL, RK, p, j)
            expandable = (room.max(axis=0, initial=-np.inf) >= min_cost - _COST_TOL) & \
                allowed.any(axis=1)
            if not expandable.any():
                continue
            keep = expandable.copy()
            cand = expandable & ~_need(M, eps_r, active)
            if use_bound and cand.any():
                lb = _subtree_bounds_multiclass(
                    M, F, Z, Yall, cc, allowed, cand, Rmax, active, ros, tops_r, rivals_r,
                    eps_r, kappa, rest, ksq, C, K, min_cost, class_allowed, gate)
                keep = expandable & _need(lb, eps_r, active)
                gone = expandable & ~keep
                if gone.any():
                    pruned += int(gone.sum())
                    tr.prune(lb[:, gone], cc[gone])
            if keep.any():
                stack.append((Sc[keep], Lc[keep], Ac[keep], cc[keep], allowed[keep]))
    complete = np.full(len(rows), not timed_out)
    return SearchResult(bud, tr.visited, tr.pruned, tr.witness, complete, nodes, pruned,
                        time.perf_counter() - t_start, time.process_time() - c_start)


def search_collective(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, budgets: list,
                      geo: KernelGeometry | None, time_limit: float | None = None,
                      order: bool = True, incumbent: tuple | None = None,
                      first_flips: np.ndarray | None = None,
                      root_ranks: np.ndarray | None = None):
    """Largest number of changed predictions (margin ``≤ 0``) per budget, exactly.

    Branch and bound on the count: below a node of cost ``c`` at most
    ``ub = #{t : lb_t(S, r) ≤ 0}`` predictions can change (the larger of B3 and B1, ``r`` the
    flips that fit into the largest budget); the subtree is skipped iff ``ub`` does not
    exceed the best count found so far at every budget it could reach, so the final counts
    are exact.  ``order`` as in :func:`search_binary`.  ``incumbent = (count, flips, cost)``:
    a relabelling known (replayed) to change ``count`` of these test points, the starting
    best count of every budget ``≥ cost`` (it prunes from the first node).  ``first_flips``
    and ``root_ranks``: one part of a split search, as in :func:`search_binary`.  Returns
    ``(count, witness, complete, nodes)`` with ``count[j]``/``witness[j]`` per sorted budget.
    """
    t_start = time.perf_counter()
    bud = np.asarray(sorted(budgets), dtype=float)
    K, C, n = prob.K, prob.C, prob.n
    flippable, cost, _ = _flip_cost(prob)
    min_cost = float(cost[flippable].min()) if flippable.any() else np.inf
    Kt = prob.K_test * signs[:, None]
    y0 = prob.y_pm
    m0 = Kt @ (y0 * alpha0)
    count = np.full(len(bud), int(np.sum(m0 <= 0)))
    witness: list[tuple] = [() for _ in bud]
    if incumbent is not None:
        k0, S0, c0 = incumbent
        for jb, B in enumerate(bud):
            if c0 <= B + _COST_TOL * max(1.0, B) and k0 > count[jb]:
                count[jb], witness[jb] = int(k0), tuple(sorted(int(v) for v in S0))
    use_bound = geo is not None and geo.psd
    Rtop = float(bud.max()) if len(bud) else 0.0
    alpha0 = np.asarray(alpha0, float)
    pro = None  # the pairs' read-out, where pair conflicts are used
    if use_bound:
        kappa, rest = geo.readout(prob.K_test, C)
        ksq = geo.diag_sqrt
        # no (B4) here: a count closes only when several rows' bounds close at once, and
        # (B4) took 1.0–2.5× the CPU of the search without it for at most 1.8× fewer nodes
        # (C·rowsum 10, n = 60–120, budgets 5–8: e.g. CSBM n = 80 budget 8 59.6 → 29.1 CPU-s)
        V, kap, rst = Kt, kappa, rest
        if 2 <= len(Kt) <= MAX_PAIR_ROWS:  # pair conflicts (:mod:`._count_pairs`)
            pa, pb, scale, Vp = pair_rows(Kt, C)
            kp, rp = geo.readout(Vp, C)
            V, kap, rst = np.vstack([Kt, Vp]), np.concatenate([kappa, kp]), \
                np.concatenate([rest, rp])
            pair_gate = RadiusGate(min_share=PAIR_GATE_SHARE)
        both = b3_readout(prob, geo, alpha0, y0, V, kap, rst, Rtop, flippable, min_cost)
        ro = both.rows(np.arange(len(Kt)))  # the rows and the pairs: one read-out, split
        if len(V) > len(Kt):
            pro = both.rows(np.arange(len(Kt), len(V)))
    stack = [(np.zeros((1, 0), np.int64), alpha0[None], y0[None].copy(), np.zeros(1),
              flippable[None].copy())]
    nodes = 0
    gate = RadiusGate()
    timed_out = False
    jj = np.arange(n)
    while stack:
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            timed_out = True
            break
        S, A, Y, c, AL = stack.pop()
        # each node orders its allowed flips (most harmful first for its own terms), as in
        # search_binary; a child may flip only the points after its own
        ok = AL & (c[:, None] + cost[None, :] <= Rtop + _COST_TOL * max(1.0, Rtop))
        root = S.shape[1] == 0
        if root and first_flips is not None:
            ok &= np.asarray(first_flips, bool)[None, :]
        par, idx = np.nonzero(ok)
        ZP = Y * A
        MP = Kt @ ZP.T
        if root and root_ranks is not None:
            RK = np.asarray(root_ranks, int)[None, :]
        elif use_bound and order:
            RK = node_ranks(ro, ZP, Y, C, AL, None, MP, _max_flips_vec(Rtop - c, min_cost, n),
                            np.zeros(len(MP)))
        else:
            RK = np.broadcast_to(jj, AL.shape)
        kids = child_masks(AL, RK, par, idx)  # (q, n): what each child may still flip
        if use_bound and len(par):
            # children whose whole subtree (the child included) cannot beat the best count
            # at the smallest budget the child fits: skipped before they are retrained
            b3, room, rf = _children_b3(MP, np.arange(len(MP)), Rtop, c, par, idx,
                                        kids.any(axis=1), AL, RK, cost, min_cost, ro, ZP, Y,
                                        C)
            fit = np.searchsorted(bud, c[par] + cost[idx] - _COST_TOL * max(1.0, Rtop),
                                  side="left")
            keep_q = np.sum(b3 <= 0, axis=0) > count[np.minimum(fit, len(bud) - 1)]
            if pro is not None and keep_q.any() and pair_gate.use():
                kq = np.flatnonzero(keep_q)
                alive = b3[:, kq] <= 0
                pp = np.flatnonzero((alive[pa] & alive[pb]).any(axis=1))  # pairs that matter
                conflict = np.zeros((len(pa), len(kq)), bool)
                conflict[pp] = _children_b3(pair_margins(MP, pa, pb, scale), pp, Rtop, c,
                                            par[kq], idx[kq], kids[kq].any(axis=1), AL, RK,
                                            cost, min_cost, pro, ZP, Y, C)[0] > 0
                still = cover_bound(alive, conflict, pa, pb) > \
                    count[np.minimum(fit[kq], len(bud) - 1)]
                pair_gate.record(len(kq), (~still).sum())
                keep_q[kq] = still
            par, idx, kids = par[keep_q], idx[keep_q], kids[keep_q]
        for lo in range(0, len(par), _CHUNK):
            if time_limit is not None and time.perf_counter() - t_start > time_limit:
                timed_out = True
                break
            p, i = par[lo:lo + _CHUNK], idx[lo:lo + _CHUNK]
            Yc = Y[p].copy()
            Yc[np.arange(len(p)), i] *= -1.0
            A0 = A[p].copy()
            A0[np.arange(len(p)), i] = C
            Ac, conv = solve_svm_dual_batch(K, Yc, C, A0, check_start=False)
            if not conv.all():
                raise RetrainFailed("SVM retraining did not reach a KKT point during search")
            Sc = np.hstack([S[p], i[:, None]])
            cc = c[p] + cost[i]
            Z = Yc * Ac
            M = Kt @ Z.T
            nodes += len(p)
            changed = np.sum(M <= 0, axis=0)
            for jb, B in enumerate(bud):
                fits = cc <= B + _COST_TOL * max(1.0, B)
                if fits.any():
                    k = int(np.argmax(np.where(fits, changed, -1)))
                    if fits[k] and changed[k] > count[jb]:
                        count[jb] = int(changed[k])
                        witness[jb] = tuple(sorted(int(v) for v in Sc[k]))
            allowed = kids[lo:lo + _CHUNK]
            expandable = (Rtop - cc >= min_cost - _COST_TOL) & allowed.any(axis=1)
            if not expandable.any():
                continue
            # best count at the smallest budget each subtree can reach (count is monotone)
            reach = np.searchsorted(bud, cc + _COST_TOL, side="left")
            reach = np.minimum(reach, len(bud) - 1)
            best = count[reach]
            cand = expandable & (changed <= best)
            keep = expandable.copy()
            if use_bound and cand.any():
                rf_all = _max_flips_vec(Rtop - cc, min_cost, n)
                ci = np.flatnonzero(cand)
                # (B3) first; (B1)'s radius only where (B3) cannot settle the count
                lb = M[:, ci] + drop_bounds(ro.V, Z[ci], Yc[ci], C, ro.kappa, ro.k,
                                            allowed[ci], rf_all[ci], ro.pin) - ro.rest[:, None]
                open_ = np.sum(lb <= 0, axis=0) > best[ci]
                if open_.any() and not gate.use():
                    open_[:] = False
                delta = np.zeros(len(ci))
                for rf in np.unique(rf_all[ci][open_]):
                    sel = open_ & (rf_all[ci] == rf)
                    if rf > 0 and sel.any():
                        a = Yc[ci[sel]] * (Z[ci[sel]] @ K)
                        delta[sel] = stability_radius_batch(a, ksq, C, int(rf),
                                                            allowed[ci[sel]])
                b1 = M[:, ci] - (kappa[:, None] * delta[None, :] + rest[:, None])
                lb = np.where(open_[None, :], np.maximum(lb, b1), lb)
                ub = np.sum(lb <= 0, axis=0)
                if open_.any():
                    gate.record(open_.sum(), (open_ & (ub <= best[ci])).sum())
                po = np.flatnonzero(ub > best[ci])
                if pro is not None and len(po) and pair_gate.use():
                    nq = ci[po]
                    alive = lb[:, po] <= 0
                    pp = np.flatnonzero((alive[pa] & alive[pb]).any(axis=1))
                    conflict = np.zeros((len(pa), len(po)), bool)
                    conflict[pp] = pair_margins(M[:, nq], pa[pp], pb[pp], scale) + drop_bounds(
                        pro.V[pp], Z[nq], Yc[nq], C, pro.kappa[pp], pro.k, allowed[nq],
                        rf_all[nq], pro.pin) - pro.rest[pp, None] > 0
                    ub[po] = np.minimum(ub[po], cover_bound(alive, conflict, pa, pb))
                    pair_gate.record(len(po), (ub[po] <= best[nq]).sum())
                keep = expandable.copy()
                keep[ci[ub <= best[ci]]] = False
            if keep.any():
                stack.append((Sc[keep], Ac[keep], Yc[keep], cc[keep], allowed[keep]))
    return count, witness, not timed_out, nodes
