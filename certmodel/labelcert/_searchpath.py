"""When and how the relabelling search decides records (path ``search``): the cost model.

The alternative to the search for an open (test point, budget) is the MILP, allowed
``time_limit`` seconds per record (60 s assumed when ``time_limit`` is None).  The search
of budget ``B`` visits at most ``N(B) = Σ_{b ≤ max_flips(B)} C(n_f, b) (k − 1)^b`` nodes
(``n_f`` flippable points, ``k − 1`` target choices per point), each costing one exact
retrain, measured on a probe batch of the root's children.  The search is run on the open
budgets with ``N(B) · cost ≤ allowance`` (``search="auto"``; every open budget with
``"always"``), where the allowance is the MILP time of the open records those budgets
cover; the search is capped at the allowance (or ``search_time``), so it never spends more
than the MILPs it replaces would be allowed.  When the plain count rejects a budget:

* binary — Knuth's estimate of the *pruned* tree (:mod:`certmodel.labelcert._treesize`:
  random dives that apply the search's own bounds, ≤ 5 % of the allowance per budget) ×
  the retrain cost replaces ``N(B)`` × it; the chosen budgets are then searched smallest
  first under the one cap, so a time-out at a large budget keeps the smaller ones' proofs;
* multiclass — a probe search at a small budget ``b`` (≤ 5 % of the allowance) measures the
  seconds per relabelling *including* the subtrees the bound skipped, and the plan is redone
  with ``N(B)`` × that.

With ``search_workers > 1`` (or a ``search_scheduler``) the binary search's estimated
seconds are divided by ``search_workers`` and a binary search expected to take at least
``SPLIT_MIN_SECONDS`` runs split over processes or the dask cluster
(:mod:`certmodel.labelcert._split_search`; the same exact result, less wall time).  The
exact multiclass records are searched one rival at a time
(:mod:`certmodel.labelcert._rival_search`; with ``search_workers`` the (top class, rival)
searches run as parallel tasks instead of splitting one search): on Citeseer (120
labelled, 6 classes, C = 1e-2) target 400 at budget 3 that is 21.3 CPU-s against ≈ 210 for
the joint search over every rival, which two processes split only 1.9× (the joint split,
:func:`~certmodel.labelcert._split_search.search_multiclass_split`, stays available).

A time-out leaves the records open for the MILP; results of a finished search are exact
(see :mod:`certmodel.labelcert._search`).
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.labelcert._enumerate import n_relabellings
from certmodel.labelcert._problem import RetrainFailed
from certmodel.labelcert._rival_search import search_multiclass_rivals
from certmodel.labelcert._search import search_binary, search_collective
from certmodel.labelcert._split_search import (
    search_binary_split,
    search_collective_split,
    split_wanted,
)
from certmodel.labelcert._stability import KernelGeometry
from certmodel.labelcert._treesize import estimate_binary_search
from certmodel.learners._svm_batch import solve_svm_dual_batch
from certmodel.results import Path, ValueKind, Verdict

__all__ = ["retrain_cost", "plan_search", "binary_search_records",
           "multiclass_search_records", "collective_search"]

MILP_SECONDS_IF_UNLIMITED = 60.0
PROBE_SHARE = 0.05  # a probe search may use this share of the MILP time it could save
_PROBE = 128
KNUTH_DIVES = 64  # dives of the tree estimate (each bounded by the probe share of time)
FALLBACK_SHARE = 0.5  # of a point's MILP allowance, searched where its own plan rejects
POOLED_MOST = 2.0  # a record searched alone: at most this many times its MILP allowance
JOINT_SHARE = 0.25  # of one record's MILP allowance: the most a joint tree of points may take
SPLIT_MIN_SECONDS = 2.0  # searches expected shorter run in-process (process start-up ≈ 1 s)


def retrain_cost(prob, alpha: np.ndarray, y_pm: np.ndarray) -> float:
    """Measured seconds per exact one-flip retrain (a probe batch of the root's children)."""
    idx = np.flatnonzero(prob.threat.mask)[:_PROBE]
    if not len(idx):
        return 0.0
    Y = np.broadcast_to(y_pm, (len(idx), prob.n)).copy()
    Y[np.arange(len(idx)), idx] *= -1.0
    A0 = np.broadcast_to(alpha, (len(idx), prob.n)).copy()
    A0[np.arange(len(idx)), idx] = 0.0
    t0 = time.process_time()
    solve_svm_dual_batch(prob.K, Y, prob.C, A0, check_start=False)
    return (time.process_time() - t0) / len(idx)


def _count(prob, B, n_classes: int) -> int:
    th = prob.threat
    choices = int(th.target_mask.sum()) if n_classes > 2 else 1
    return n_relabellings(int(th.mask.sum()), th.max_flips(B), choices + 1)


def plan_search(prob, opts, open_records: dict, unit: float, n_classes: int = 2,
                retrains_per_node: int = 1, seconds_of=None, limit: float = np.inf,
                per: float | None = None):
    """``(budgets, cap)``: the budgets to search and the time cap (``([], 0)``: none).

    ``open_records[B]`` is the number of open records at budget ``B``.  ``seconds_of(B)``,
    optional: an estimate of the search's seconds at ``B`` that accounts for pruning (Knuth's
    tree estimate); asked only where the plain count rejects ``B``.  ``limit``: the most
    seconds there are (a deadline's time left): no allowance is larger.  ``per``, optional:
    the seconds each open record is allowed (default: its MILP's ``time_limit``).
    """
    if opts.search == "never" or (opts.search == "auto" and opts.enumeration == "never"):
        return [], 0.0
    if per is None:
        per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    chosen, allowance = [], 0.0
    for B in sorted(b for b, k in open_records.items() if k > 0 and b > 0):
        allow = min(per * sum(k for b, k in open_records.items() if 0 < b <= B), limit)
        est = _count(prob, B, n_classes) * unit * retrains_per_node
        if opts.search == "auto" and est > allow and seconds_of is not None:
            est = min(est, seconds_of(B))
        if opts.search == "always" or est <= allow:
            chosen, allowance = [b for b in open_records if 0 < b <= B], allow
    if not chosen:
        return [], 0.0
    cap = opts.search_time if opts.search_time is not None else allowance
    return sorted(chosen), cap


def _geometry(prob, opts, converged: bool):
    """The kernel geometry for pruning: only with ``bound_tightening``, an exact (KKT-checked)
    clean solution and a PSD kernel (otherwise the search enumerates)."""
    if not (opts.bound_tightening and converged):
        return None
    geo = KernelGeometry(prob.K)
    geo.cut_bound = opts.cut_bound is not False  # None: on with bound_tightening
    return geo if geo.psd else None


def _put_results(res, rows, budgets, dec, put, eps, witness_kw, all_budgets=(),
                 cost_of=None):
    """Records from a search result; a witness of cost ``c`` also settles every other open
    budget ``≥ c`` in ``all_budgets`` (path ``monotone``, same relabelling)."""
    for r, t in enumerate(rows):
        for j in range(len(budgets)):
            if res.visited[r, j] <= 0 and cost_of is not None:
                c = cost_of(res.witness[r][j])
                for B2 in all_budgets:
                    if (t, B2) not in dec and B2 not in budgets and \
                            c <= B2 + 1e-9 * max(1.0, B2):
                        put(t, B2, Verdict.NOT_ROBUST, res.visited[r, j],
                            ValueKind.WITNESS_MARGIN, Path.MONOTONE,
                            **witness_kw(res.witness[r][j]))
        for j, B in enumerate(budgets):
            if (t, B) in dec:
                continue
            seen, pr = res.visited[r, j], res.pruned[r, j]
            extra = {"search_nodes": res.nodes}
            if seen <= 0:  # a visited, exactly retrained relabelling: a replayable witness
                put(t, B, Verdict.NOT_ROBUST, seen, ValueKind.WITNESS_MARGIN, Path.SEARCH,
                    **witness_kw(res.witness[r][j]), **extra)
            elif res.complete[r]:
                low = min(seen, pr)
                kind = ValueKind.WORST_MARGIN if pr > seen else ValueKind.LOWER_BOUND
                if low > eps[t]:
                    put(t, B, Verdict.ROBUST, low, kind, Path.SEARCH, **extra)
                elif pr > seen:  # exact worst margin in (0, eps]
                    put(t, B, Verdict.UNKNOWN, seen, ValueKind.WORST_MARGIN, Path.SEARCH,
                        note="worst margin within eps of 0", **extra)


def _probe_budget(prob, open_rec, unit, opts, n_classes: int = 2):
    """A small budget whose full search costs at most ``PROBE_SHARE`` of the allowance
    (None: none fits, or every open budget fits the plain count already)."""
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    allowance = per * sum(open_rec.values())
    best = None
    for b in range(1, int(np.ceil(max(open_rec))) + 1):
        if _count(prob, b, n_classes) * unit <= PROBE_SHARE * allowance:
            best = b
    return best


def _replan(prob, opts, open_rec, unit, chosen, cap, geo, probe, n_classes: int):
    """Redo the plan with the seconds per relabelling of a probe search (see module doc)
    when the plain count rejected the largest open budget."""
    last = max(b for b, k in open_rec.items() if k > 0)
    if last in chosen or geo is None or opts.search != "auto":
        return chosen, cap
    b = _probe_budget(prob, open_rec, unit, opts, n_classes)
    if b is None or b >= last:
        return chosen, cap
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    c0 = time.process_time()
    probe(b, 2 * PROBE_SHARE * per * sum(open_rec.values()))
    per_relabelling = (time.process_time() - c0) / max(_count(prob, b, n_classes), 1)
    return plan_search(prob, opts, open_rec, per_relabelling, n_classes)


def binary_search_records(prob, opts, alpha0, signs, budgets, dec, put, eps, times,
                          converged: bool, deadline: float | None = None) -> set:
    """Decide open binary sample-wise records by the search where the cost model says so.

    Cost of budget ``B``: the counted relabellings × the measured retrain cost, or — when
    that rejects ``B`` and the bound can prune — Knuth's estimate of the pruned tree
    (:mod:`certmodel.labelcert._treesize`, dives bounded by ``PROBE_SHARE`` of the MILP time
    at stake) × the retrain cost. The chosen budgets are searched smallest first under one
    time cap. The open test points are planned together first (one tree serves them all,
    allowed at most ``JOINT_SHARE`` of one record's MILP time); what that leaves open —
    rejected or timed out — goes to the points alone (:func:`_points_alone`): budget by
    budget, easiest point first, each record planned and searched within an equal share of
    the MILP time left for the open records (at most ``POOLED_MOST`` × its own), so the time
    the easy records leave passes on to the hard ones (CBA n = 120, budget 8: alone, with
    (B4), 18.6 and 85 CPU-s for the two hardest points, against one point's 60 s). Where
    even its own plan rejects a budget (the estimate is above the share — estimates of
    pruned trees are heavy-tailed) and ``time_limit`` is set, the point is still searched at
    that budget for ``FALLBACK_SHARE`` of its allowance (a planned search that timed out is
    not repeated); returns those points, whose MILPs then get the rest (``(1 −
    FALLBACK_SHARE) · time_limit`` each).

    ``deadline`` (a :func:`time.perf_counter` time), optional: no search or tree estimate
    runs past it — every cap above is cut to the time left, and nothing starts after it
    (the collective certificate's screen, whose records are not the caller's records);
    then the single points go first, budget by budget, easiest first
    (:func:`_points_alone`), and the joint plan, which accepts only searches expected to
    end before the deadline, gets the time they leave.
    """
    if opts.search == "never" or not any((t, B) not in dec for t in range(prob.m)
                                         for B in budgets):
        return set()
    t0 = time.perf_counter()
    unit = retrain_cost(prob, alpha0, prob.y_pm)
    geo = _geometry(prob, opts, converged)
    rows = [t for t in range(prob.m) if any((t, B) not in dec for B in budgets)]
    times[rows] += (time.perf_counter() - t0) / max(len(rows), 1)
    alone = geo is not None and opts.search == "auto" and opts.enumeration != "never"
    if deadline is not None and alone:
        # under a deadline the single points go first, easiest first, and a joint search
        # gets what they leave: a joint plan whose (heavy-tailed) estimate fits the
        # deadline could take all of it and prove nothing (CBA n = 120, budget 6: one joint
        # search over 8 points, 26 s, 1 proven; the points alone: 6 proven in 14 s)
        _points_alone(prob, opts, alpha0, signs, budgets, dec, put, eps, times, unit, geo,
                      rows, deadline)
        _plan_and_search(prob, opts, alpha0, signs, budgets, dec, put, eps, times, unit,
                         geo, range(prob.m), deadline=deadline)
        return set()
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    pool_end = t0 + per * sum((t, B) not in dec for t in rows for B in budgets)
    chosen = _plan_and_search(prob, opts, alpha0, signs, budgets, dec, put, eps, times, unit,
                              geo, range(prob.m), deadline=deadline, joint=True)
    if len(rows) > 1:  # what the joint tree left open (rejected or timed out) goes alone
        rest = [B for B in budgets if any((t, B) not in dec for t in rows)]
    else:  # the point's own plan: a planned search that timed out is not repeated
        rest = [B for B in budgets if B not in chosen]
    if not (rest and alone):
        return set()
    if deadline is not None:
        pool_end = min(pool_end, deadline)
    return _points_alone(prob, opts, alpha0, signs, rest, dec, put, eps, times, unit, geo,
                         rows, pool_end, most=POOLED_MOST * per)


def _points_alone(prob, opts, alpha0, signs, rest, dec, put, eps, times, unit, geo, rows,
                  deadline: float, most: float = np.inf) -> set:
    """The single-point searches of :func:`binary_search_records`: budget by budget
    (smallest first), the points easiest first (largest clean margin), each record planned
    — and, where its plan rejects the budget and ``time_limit`` is set, searched for
    ``FALLBACK_SHARE`` of its allowance — within an equal share of the time left before
    ``deadline`` among the open records still to go (this budget's later points and every
    larger budget's), at most ``most`` seconds: what an easy record leaves passes on to the
    harder ones.  A witness also settles the point's larger open budgets (monotone).
    Returns the points searched past a rejecting plan (their MILPs get the rest of
    ``time_limit``)."""
    margins = signs * (prob.K_test @ (prob.y_pm * alpha0))
    rows = sorted(rows, key=lambda t: -margins[t])
    fallback = set()
    for B in sorted(rest):
        todo = [t for t in rows if (t, B) not in dec]
        for q, t in enumerate(todo):
            left = deadline - time.perf_counter()
            if left <= 0:
                return fallback
            if (t, B) in dec:
                continue
            to_go = sum((u, B) not in dec for u in todo[q:]) + \
                sum((u, B2) not in dec for u in rows for B2 in rest if B2 > B)
            mine = min(left / to_go, most)  # this record's share
            until = time.perf_counter() + mine
            own = _plan_and_search(prob, opts, alpha0, signs, [B], dec, put, eps, times, unit,
                                   geo, [t], deadline=until, per_record=mine)
            if B not in own and (t, B) not in dec and opts.time_limit is not None:
                _plan_and_search(prob, opts, alpha0, signs, [B], dec, put, eps, times, unit,
                                 geo, [t], share=FALLBACK_SHARE, deadline=until)
                fallback.add(t)
            rec = dec.get((t, B)) if B < max(rest) else None
            if rec is not None and rec.verdict is Verdict.NOT_ROBUST and rec.relabelling:
                cost = float(prob.threat.cost[list(rec.relabelling)].sum())
                flips = np.zeros(prob.n, bool)
                flips[list(rec.relabelling)] = True
                for B2 in rest:
                    if B2 > B and (t, B2) not in dec and prob.threat.within(cost, B2):
                        put(t, B2, Verdict.NOT_ROBUST, rec.value, ValueKind.WITNESS_MARGIN,
                            Path.MONOTONE, flips=flips)
    return fallback


def _plan_and_search(prob, opts, alpha0, signs, budgets, dec, put, eps, times, unit, geo,
                     points, share: float | None = None, deadline: float | None = None,
                     joint: bool = False, per_record: float | None = None) -> list:
    """Plan (:func:`plan_search`) and run the binary search for the open records of the
    test ``points``: budgets smallest first under one deadline.  Returns the budgets
    chosen.  ``share``: no plan — search every open budget, capped at that share of the
    MILP allowance of the open records (or at ``search_time`` when set).  ``deadline``: every
    cap is cut to the time left before it (nothing runs once it has passed).  ``joint``:
    one tree for all ``points`` — allowed at most ``JOINT_SHARE`` of one record's MILP time,
    since it skips a subtree only where every row's bound closes it and orders the flips
    for no row in particular, and its estimate is low where it matters: where it would take
    longer, the points go alone (budget 8, with (B4): CBA n = 120, one tree over five points,
    estimated 89 s, had not finished after 120, alone the five took 124 CPU-s in all; CBA
    n = 80, three points, estimated 30 s, not finished after 60, alone 26 CPU-s in all).
    ``per_record``: the seconds each open record is allowed in the plan (default:
    ``time_limit``)."""
    left = np.inf if deadline is None else deadline - time.perf_counter()
    if left <= 0:
        return []
    points = list(points)
    open_rec = {B: sum((t, B) not in dec for t in points) for B in budgets}
    if not any(open_rec.values()):
        return []
    t0 = time.perf_counter()
    rows = np.array([t for t in points if any((t, B) not in dec for B in budgets)], dtype=int)
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    if per_record is not None and share is None:
        per = per_record
    if joint and len(rows) > 1:
        left = min(left, JOINT_SHARE * per)
    if share is not None:  # an explicit search_time still caps every search call
        chosen = sorted(B for B, k in open_rec.items() if k > 0)
        cap = opts.search_time if opts.search_time is not None else \
            share * per * sum(open_rec.values())
        return _search_budgets(prob, opts, alpha0, signs, chosen, budgets, dec, put, eps,
                               times, geo, points, min(cap, left), {})
    dive_time = min(PROBE_SHARE * per * sum(open_rec.values()) / len(open_rec),
                    PROBE_SHARE * left)

    speedup = _speedup(opts)
    chosen_seconds = {B: _count(prob, B, 2) * unit / speedup for B in budgets}

    def tree_seconds(B):  # wall seconds of the (split) search at B
        at_B = np.array([t for t in points if (t, B) not in dec], dtype=int)
        nodes, _ = estimate_binary_search(prob, alpha0, signs, at_B, B, eps, geo,
                                          dives=KNUTH_DIVES, time_limit=dive_time)
        chosen_seconds[B] = min(chosen_seconds[B], nodes * unit / speedup)
        return chosen_seconds[B]

    try:
        chosen, cap = plan_search(prob, opts, open_rec, unit / speedup,
                                  seconds_of=tree_seconds if geo is not None else None,
                                  limit=left, per=per)
    except RetrainFailed:
        return []
    times[rows] += (time.perf_counter() - t0) / max(len(rows), 1)  # the planning
    if not chosen:
        return []
    if deadline is not None:
        cap = min(cap, deadline - time.perf_counter())
    return _search_budgets(prob, opts, alpha0, signs, chosen, budgets, dec, put, eps, times,
                           geo, points, cap, chosen_seconds)


def _search_budgets(prob, opts, alpha0, signs, chosen, budgets, dec, put, eps, times, geo,
                    points, cap, expected) -> list:
    """Search the open records of ``points`` at the ``chosen`` budgets, smallest first,
    under one deadline ``cap`` seconds away (``expected[B]``: the plan's seconds for ``B``,
    which decide whether the search is split).  Returns ``chosen``."""
    def flips_of(S):
        flips = np.zeros(prob.n, bool)
        flips[list(S)] = True
        return {"flips": flips}

    # budget by budget, smallest first, under one deadline: a time-out at a large budget
    # keeps what the smaller ones proved; a witness settles the larger budgets (monotone)
    deadline = time.perf_counter() + cap
    for B in sorted(chosen):
        rows = np.array([t for t in points if (t, B) not in dec], dtype=int)
        left = deadline - time.perf_counter()
        if not len(rows) or left <= 0:
            continue
        t1 = time.perf_counter()
        try:
            res = _search(prob, opts, alpha0, signs, rows, B, eps, geo, left,
                          split=expected.get(B, np.inf) >= SPLIT_MIN_SECONDS)
        except RetrainFailed:
            return chosen
        _put_results(res, rows, [B], dec, put, eps, flips_of, budgets,
                     lambda S: float(prob.threat.cost[list(S)].sum()))
        times[rows] += (time.perf_counter() - t1) / max(len(rows), 1)
    return chosen


def _speedup(opts) -> int:
    """The factor the cost model divides a binary search's time by: ``search_workers``."""
    return opts.search_workers


def _search(prob, opts, alpha0, signs, rows, B, eps, geo, time_limit, split: bool):
    """One binary search of ``rows`` at budget ``B``: split over ``search_workers``
    processes or the dask ``search_scheduler`` (:mod:`certmodel.labelcert._split_search`)
    when asked for and ``split`` (the cost model expects at least ``SPLIT_MIN_SECONDS``),
    else in this process."""
    mask = np.ones((len(rows), 1), bool)
    if split and split_wanted(opts):
        return search_binary_split(prob, alpha0, signs, rows, [B], mask, eps, geo,
                                   time_limit=time_limit, workers=opts.search_workers,
                                   scheduler=opts.search_scheduler)
    return search_binary(prob, alpha0, signs, rows, [B], mask, eps, geo, time_limit=time_limit)


def multiclass_search_records(prob, opts, alphas, tops, budgets, dec, put, eps, times,
                              converged: bool = True) -> None:
    """Multiclass analogue of :func:`binary_search_records` (two retrains per node), one
    rival at a time (:func:`~certmodel.labelcert._rival_search.search_multiclass_rivals`;
    with ``search_workers`` or a ``search_scheduler`` its (top class, rival) searches run as
    parallel tasks).

    The open records are planned together (the probe-based plan of the module docstring);
    where the plan rejects a budget and ``time_limit`` is set, each test point still open
    there is searched alone for ``FALLBACK_SHARE`` of its records' MILP allowance first —
    ``K − 1`` rival MILPs of ``time_limit`` each per record (estimates of pruned trees are
    heavy-tailed: Citeseer target 400 at budget 3, estimated far above its allowance, is
    proven robust in 21–37 CPU-s; with one ``time_limit``'s half, 30 s of wall time, it was
    decided in one run and not in the next).  The MILP that follows keeps its own time limit
    per rival, so a record's search and MILP together stay within
    ``(1 + FALLBACK_SHARE) · (K − 1) · time_limit``."""
    open_rec = {B: sum((t, B) not in dec for t in range(prob.m)) for B in budgets}
    if not any(open_rec.values()) or opts.search == "never":
        return
    t0 = time.perf_counter()
    unit = retrain_cost(prob, alphas[0], np.where(prob.codes == 0, 1.0, -1.0))
    chosen, cap = plan_search(prob, opts, open_rec, unit, prob.n_classes, retrains_per_node=2)
    geo = _geometry(prob, opts, converged)
    rows = np.array([t for t in range(prob.m) if any((t, B) not in dec for B in budgets)],
                    dtype=int)

    def probe(b, limit):
        search_multiclass_rivals(prob, alphas, tops, rows, [b],
                                 np.ones((len(rows), 1), bool), eps, geo, time_limit=limit)

    def labels_of(pairs):
        labels = prob.codes.copy()
        for i, k in pairs:
            labels[i] = k
        return {"labels": labels}

    def cost_of(pairs):
        return float(prob.threat.cost[[i for i, _ in pairs]].sum())

    try:
        chosen, cap = _replan(prob, opts, open_rec, 2 * unit, chosen, cap, geo, probe,
                              prob.n_classes)
    except RetrainFailed:
        chosen = []
    # with search_workers / search_scheduler the (top class, rival) searches run as tasks
    # where the plain relabelling count × retrain cost reaches SPLIT_MIN_SECONDS (starting
    # the processes costs ≈ 1 s); a fallback search is one whose estimate was rejected
    par = {"workers": opts.search_workers, "scheduler": opts.search_scheduler} \
        if split_wanted(opts) else {}
    big = bool(chosen) and _count(prob, max(chosen), prob.n_classes) * 2 * unit \
        >= SPLIT_MIN_SECONDS
    times[rows] += (time.perf_counter() - t0) / max(len(rows), 1)
    if chosen:
        t0 = time.perf_counter()
        srows = np.array([t for t in range(prob.m) if any((t, B) not in dec for B in chosen)],
                         dtype=int)
        mask = np.array([[(t, B) not in dec for B in chosen] for t in srows], dtype=bool)
        try:
            res = search_multiclass_rivals(prob, alphas, tops, srows, chosen, mask, eps, geo,
                                           time_limit=cap, **(par if big else {}))
            _put_results(res, srows, chosen, dec, put, eps, labels_of, budgets, cost_of)
        except RetrainFailed:
            pass
        times[srows] += (time.perf_counter() - t0) / max(len(srows), 1)
    rejected = [B for B in budgets if B not in chosen]
    if not rejected or geo is None or opts.search != "auto" or opts.time_limit is None \
            or opts.enumeration == "never":
        return
    for t in rows:  # the fallback: each point alone at the budgets the plan rejected
        todo = [B for B in rejected if (t, B) not in dec]
        if not todo:
            continue
        t0 = time.perf_counter()
        cap = opts.search_time if opts.search_time is not None else \
            FALLBACK_SHARE * opts.time_limit * (prob.n_classes - 1) * len(todo)
        try:
            res = search_multiclass_rivals(prob, alphas, tops, np.array([t]), todo,
                                           np.ones((1, len(todo)), bool), eps, geo,
                                           time_limit=cap, **par)
            _put_results(res, np.array([t]), todo, dec, put, eps, labels_of, budgets,
                         cost_of)
        except RetrainFailed:
            pass
        times[t] += time.perf_counter() - t0


def collective_search(prob, opts, alpha0, signs, budgets, converged: bool = True):
    """``{B: (count, witness_flips, nodes)}`` for the budgets the collective search finished.

    Cost model as above with one MILP (``time_limit``) per open budget.
    """
    open_rec = {B: 1 for B in budgets if B > 0}
    if not open_rec or opts.search == "never":
        return {}
    unit = retrain_cost(prob, alpha0, prob.y_pm)
    chosen, cap = plan_search(prob, opts, open_rec, unit)
    if not chosen:
        return {}
    geo = _geometry(prob, opts, converged)
    try:
        if split_wanted(opts) and _count(prob, max(chosen), 2) * unit >= SPLIT_MIN_SECONDS:
            count, witness, complete, nodes = search_collective_split(
                prob, alpha0, signs, chosen, geo, time_limit=cap,
                workers=opts.search_workers, scheduler=opts.search_scheduler)
        else:
            count, witness, complete, nodes = search_collective(
                prob, alpha0, signs, chosen, geo, time_limit=cap)
    except RetrainFailed:
        return {}
    if not complete:
        return {}
    out = {}
    for j, B in enumerate(chosen):
        flips = np.zeros(prob.n, bool)
        flips[list(witness[j])] = True
        out[B] = (int(count[j]), flips, nodes)
    return out
