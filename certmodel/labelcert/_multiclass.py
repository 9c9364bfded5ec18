"""Multiclass LabelCert: exact (Thm 3) and inexact (App. A.2) one-vs-rest certificates.

One-vs-rest SVMs ``f_k = Σ_j K_tj y^k_j α^k_j`` with ``y^k_i = +1`` iff ``y_i = k``; the
prediction is ``a = argmax_k f_k`` and the margin ``f_a − max_{k≠a} f_k``.

Both modes attack first (:func:`~._attack.greedy_attacks_multiclass`, then a beam attack
:func:`~._attack.beam_attack_multiclass`; replayed witnesses, path ``attack``), then prove
cheaply with the inexact relaxation's binary searches, then run the exact relabelling search
where the cost model prefers it, then MILPs for what is left.

* **exact** — ``min_labels (f_a − max_{k≠a} f_k) = min_{k≠a} min_labels (f_a − f_k)``: one
  coupled model (K KKT blocks + one-hot adversary), one objective per rival, decision mode;
  the first rival whose bound is not above ``eps`` and whose incumbent replays to a flip gives
  ``not_robust``.  Saturated regime: label-linear with ``W = 2C·K_test`` (ScaLabelCert).
  Small instances: exact enumeration.
* **inexact** — class by class on the binary model of the projected budget: a proven lower
  bound ``L`` of ``f_a`` and proven upper bounds ``U_k`` of ``f_k``; robust iff
  ``L − max_k U_k > eps``.  It never claims ``not_robust`` without a replayed witness (the
  reference's heuristic early exit and its row-0 runner-up bug are not reproduced).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from certmodel.backends.base import DecisionTarget
from certmodel.labelcert import _searchpath
from certmodel.labelcert._attack import (
    beam_attack_multiclass,
    beam_stage,
    greedy_attacks_multiclass,
)
from certmodel.labelcert._enumerate import (
    enumerate_multiclass,
    threat_enumeration_budget,
)
from certmodel.labelcert._options import LabelCertOptions
from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_ovr
from certmodel.labelcert._records import make_record, put_enumerated, threat_extra
from certmodel.labelcert._samplewise import saturated_records
from certmodel.labelcert._search import search_binary
from certmodel.labelcert._searchpath import multiclass_search_records
from certmodel.labelcert._split_search import search_binary_split, split_wanted
from certmodel.labelcert._stability import KernelGeometry
from certmodel.milp.formulations import BinaryMILP, MulticlassMILP
from certmodel.milp.standard_form import Sense
from certmodel.results import CertificateRecord, Path, ValueKind, Verdict

__all__ = ["certify_multiclass", "certify_multiclass_inexact"]


def _clean(prob: Problem):
    Z = retrain_ovr(prob.K, prob.codes, prob.n_classes, prob.C)
    alphas = np.abs(Z)
    F = prob.K_test @ Z.T
    tops = np.argmax(F, axis=1)
    ar = np.arange(prob.m)
    G = F.copy()
    G[ar, tops] = -np.inf
    margins = F[ar, tops] - G.max(axis=1)
    return alphas, F, tops, margins


def _replay(prob: Problem, labels: np.ndarray, k_t: np.ndarray, top: int) -> float:
    """Margin after retraining on ``labels`` (+inf if retraining fails: no witness)."""
    try:
        Z = retrain_ovr(prob.K, labels, prob.n_classes, prob.C)
    except RetrainFailed:
        return np.inf
    f = Z @ k_t
    return float(f[top] - np.max(np.delete(f, top)))


def _recorder(prob: Problem, opts: LabelCertOptions, dec: dict, pred, margins0):
    """``put(t, B, verdict, value, kind, path, labels=None, res=None, **extra)``: store the
    record of test point ``t`` at budget ``B`` in ``dec`` (relabelling decoded from labels)."""

    def put(t, B, verdict, value, kind, path, labels=None, res=None, **extra):
        relab = None if labels is None else prob.relabelling_from_labels(labels)
        dec[(t, B)] = make_record(
            test_index=prob.test_indices[t], budget=B, verdict=verdict, prediction=pred[t],
            clean_margin=margins0[t], value=value, value_kind=kind, path=path,
            relabelling=relab, res=res, backend=opts.backend, **threat_extra(prob), **extra)

    return put


def _attacked(prob: Problem, budgets: list, opts: LabelCertOptions, alphas, tops, dec: dict,
              put, times) -> None:
    """Attack first (:func:`~._attack.greedy_attacks_multiclass`): a replayed greedy success
    with ``k`` relabellings is a witness for every open budget that admits its cost (path
    ``attack``)."""
    if not opts.attack:
        return
    todo = {t: [B for B in budgets if B > 0 and (t, B) not in dec] for t in range(prob.m)}
    todo = {t: v for t, v in todo.items() if v}
    if not todo:
        return
    t0 = time.perf_counter()
    rows = np.array(sorted(todo), dtype=int)
    paths = greedy_attacks_multiclass(prob, alphas, tops, rows, [max(todo[t]) for t in rows])
    for t in rows:
        k = paths[t].first_success()
        if k is None:
            continue
        labels = paths[t].labels[k]
        replay = _replay(prob, labels, prob.K_test[t], tops[t])
        if replay > 0:  # only a replayed success is a witness
            continue
        for B in todo[t]:
            if prob.threat.within(paths[t].costs[k], B):
                put(t, B, Verdict.NOT_ROBUST, replay, ValueKind.WITNESS_MARGIN, Path.ATTACK,
                    labels=labels)
    times[rows] += (time.perf_counter() - t0) / len(rows)


def _beam_attacked(prob: Problem, budgets: list, opts: LabelCertOptions, alphas, tops,
                   dec: dict, put, times) -> None:
    """Before the MILPs: a beam attack (:func:`~._attack.beam_attack_multiclass`) on every
    target with open budgets, up to the largest; a replayed witness settles every open budget
    that admits its cost (path ``attack``).  The stage time limit bounds the whole stage."""

    def beam_one(t, budget):
        found = beam_attack_multiclass(prob, alphas, tops, t, budget, width=opts.beam_width)
        if found is None:
            return None
        labels = found[0]
        replay = _replay(prob, labels, prob.K_test[t], tops[t])
        if replay > 0:  # only a replayed success is a witness
            return None
        return replay, float(prob.threat.cost[labels != prob.codes].sum()), {"labels": labels}

    if opts.attack:
        beam_stage(prob, budgets, opts.beam_width, dec, put, times, beam_one)


def certify_multiclass(prob: Problem, budgets: list[int], opts: LabelCertOptions,
                       ) -> list[CertificateRecord]:
    if opts.saturated and prob.saturated:
        return saturated_records(prob, budgets, 2.0 * prob.C)
    alphas, F, tops, margins0 = _clean(prob)
    eps = opts.eps * prob.logit_bounds() * 2.0
    pred = prob.classes[tops]
    dec: dict[tuple[int, int], CertificateRecord] = {}
    times = np.zeros(prob.m)

    put = _recorder(prob, opts, dec, pred, margins0)

    for t in range(prob.m):
        for B in budgets:
            if margins0[t] <= 0:
                put(t, B, Verdict.NOT_ROBUST, margins0[t], ValueKind.WORST_MARGIN, Path.TRIVIAL,
                    labels=prob.codes.copy())
            elif B == 0:
                v = Verdict.ROBUST if margins0[t] > eps[t] else Verdict.UNKNOWN
                put(t, B, v, margins0[t], ValueKind.WORST_MARGIN, Path.TRIVIAL)
    _attacked(prob, budgets, opts, alphas, tops, dec, put, times)
    open_budgets = {B for t in range(prob.m) for B in budgets if (t, B) not in dec}
    threat = prob.threat
    B_enum = threat_enumeration_budget(opts.enumeration, opts.max_enumeration, threat,
                                       open_budgets, prob.n_classes)
    if B_enum is not None and B_enum > 0:
        rows = np.array([t for t in range(prob.m) if (t, B_enum) not in dec], dtype=int)
        if len(rows):
            t0 = time.perf_counter()
            try:
                worst, witness = enumerate_multiclass(
                    prob, alphas, tops, B_enum, rows,
                    None if threat.unit_cost else [B for B in open_budgets if B <= B_enum])
            except RetrainFailed:  # enumeration is only exact if every retrain converged
                rows, worst, witness = rows[:0], None, None
            times[rows] += (time.perf_counter() - t0) / max(len(rows), 1)

            def labels_of(pairs):
                labels = prob.codes.copy()
                for i, k in pairs:
                    labels[i] = k
                return {"labels": labels}

            put_enumerated(put, dec, rows, worst, witness, budgets, B_enum, eps, labels_of)
    # cheap stages first — the beam attack (witnesses), the relaxation's binary searches
    # (proofs) — then branch and bound over relabellings where the cost model prefers it to
    # the MILP (#12)
    _beam_attacked(prob, budgets, opts, alphas, tops, dec, put, times)
    # the inexact relaxation is a lower bound of the exact worst margin: where its binary
    # searches prove it positive, the exact record is robust too (path search)
    for key, rec in _relaxation_searched(prob, budgets, opts, alphas, F, tops, margins0, eps,
                                         pred, dec).items():
        dec[key] = rec
        times[key[0]] += rec.wall_time
    multiclass_search_records(prob, opts, alphas, tops, budgets, dec, put, eps, times)
    models: dict[int, MulticlassMILP] = {}
    for t in range(prob.m):
        todo = sorted((B for B in budgets if (t, B) not in dec), reverse=True)
        t0 = time.perf_counter()
        for B in todo:
            if (t, B) in dec:
                continue
            if B not in models:
                models[B] = MulticlassMILP(prob.K, prob.codes, prob.n_classes, prob.C, B,
                                           linearization=opts.linearization,
                                           backend=opts.backend, options=opts.solver_options(),
                                           threat=threat)
            model = models[B]
            x0 = model.start(prob.codes, alphas) if opts.warm_start else None
            verdict, value, labels, res = Verdict.ROBUST, np.inf, None, None
            for k in range(prob.n_classes):
                if k == tops[t]:
                    continue
                c = model.objective(prob.K_test[t], tops[t], k)
                decision = DecisionTarget(eps[t]) if opts.decision else None
                res = model.solve(c, Sense.MINIMIZE, warm_start=x0, decision=decision)
                if res.bound is not None and res.bound > eps[t]:
                    value = min(value, res.bound)
                    continue
                if res.has_solution and res.incumbent <= eps[t]:
                    cand = model.labels_of(res.x)
                    replay = _replay(prob, cand, prob.K_test[t], tops[t])
                    if replay <= 0:
                        verdict, value, labels = Verdict.NOT_ROBUST, replay, cand
                        break
                verdict = Verdict.UNKNOWN
                value = min(value, res.bound) if res.bound is not None else value
            kind = ValueKind.WITNESS_MARGIN if verdict is Verdict.NOT_ROBUST else \
                ValueKind.LOWER_BOUND
            put(t, B, verdict, None if not np.isfinite(value) else value, kind, Path.MILP,
                labels=labels, res=res)
            if opts.monotone and verdict is Verdict.ROBUST:
                for B2 in todo:
                    if B2 < B and (t, B2) not in dec:
                        put(t, B2, Verdict.ROBUST, value, ValueKind.LOWER_BOUND, Path.MONOTONE)
            if opts.monotone and verdict is Verdict.NOT_ROBUST:
                w = float(threat.cost[labels != prob.codes].sum())
                for B2 in todo:
                    if threat.within(w, B2) and (t, B2) not in dec:
                        put(t, B2, verdict, value, kind, Path.MONOTONE, labels=labels)
        times[t] += time.perf_counter() - t0
    return [dec[(t, B)].replace(wall_time=times[t] / len(budgets))
            for t in range(prob.m) for B in budgets]


def _searched(prob, budgets, opts, alphas, F, tops, margins0, eps, pred) -> dict:
    """Exact records (the exact worst margin is at least the inexact bound, so it may
    replace the relaxation): greedy and beam attacks, then the relaxation's own binary
    searches (cheap proofs), then the exact relabelling search on what is still open:
    ``{(t, B): record}``."""
    dec: dict[tuple[int, int], CertificateRecord] = {}
    times = np.zeros(prob.m)

    put = _recorder(prob, opts, dec, pred, margins0)

    for t in range(prob.m):  # trivial records are the inexact loop's own
        for B in budgets:
            if margins0[t] <= 0 or B == 0:
                dec[(t, B)] = None
    _attacked(prob, budgets, opts, alphas, tops, dec, put, times)
    _beam_attacked(prob, [B for B in budgets if B > 0], opts, alphas, tops, dec, put, times)
    relaxed = _relaxation_searched(prob, budgets, opts, alphas, F, tops, margins0, eps, pred,
                                   dec)
    for key, rec in relaxed.items():
        dec[key] = rec
        times[key[0]] += rec.wall_time
    multiclass_search_records(prob, opts, alphas, tops, budgets, dec, put, eps, times)
    return {k: v.replace(wall_time=times[k[0]] / len(budgets))
            for k, v in dec.items() if v is not None}


def _ovr_threat(prob: Problem, k: int):
    """The threat model projected on the one-vs-rest problem of class ``k`` (a relaxation):
    point ``i`` may enter class ``k`` iff ``k`` is a target, leave it iff some other class
    is; costs unchanged."""
    th = prob.threat
    others = th.target_mask.copy()
    others[k] = False
    move = np.where(prob.codes == k, others.any(), th.target_mask[k])
    return dataclasses.replace(th, mask=th.mask & move)


def class_bounds(prob: Problem, k: int, alpha: np.ndarray, signs: np.ndarray,
                 offset: np.ndarray, rows: np.ndarray, budget, geo, time_limit: float,
                 opts: LabelCertOptions | None = None):
    """One one-vs-rest problem of the relaxation: proven ``signs_t f_k(t) ≥ bound_t`` over every
    admissible flip set of class ``k``'s ±1 labels within ``budget``, for the test ``rows``.

    Returns ``(ok, bound)`` (arrays over ``rows``): ``ok`` where no relabelling reaches the
    threshold ``offset_t`` (then ``bound_t > offset_t`` is the minimum of exact visited values
    and pruning bounds), or None when the search timed out or a retrain failed.  With
    ``opts`` asking for split searches (``search_workers``/``search_scheduler``) a search
    not finished within ``SPLIT_MIN_SECONDS`` runs again split over the workers for the
    rest of ``time_limit`` (:func:`_class_search`)."""
    th = _ovr_threat(prob, k)
    pk = dataclasses.replace(prob, classes=np.array([0, 1]), codes=(prob.codes == k).astype(int),
                             threat=dataclasses.replace(th, target_mask=np.ones(2, bool)))
    try:
        res = _class_search(pk, alpha, signs, rows, budget, offset, geo, time_limit, opts)
    except RetrainFailed:
        return None
    if not res.complete.all():
        return None
    low = np.minimum(res.visited[:, 0], res.pruned[:, 0])
    return low > 0, low + offset[rows]


def _class_search(pk: Problem, alpha, signs, rows, budget, offset, geo, time_limit: float,
                  opts: LabelCertOptions | None):
    """The binary search of one class problem ``pk``: in this process, or — when ``opts``
    asks for split searches and it does not finish within ``SPLIT_MIN_SECONDS`` (starting
    the parts costs about a second, and most of these searches take milliseconds) — once
    more split over ``search_workers`` processes or the ``search_scheduler`` cluster for the
    rest of ``time_limit`` (the same exact result: :mod:`~._split_search`)."""
    args = (pk, alpha, signs, rows, [budget], np.ones((len(rows), 1), bool),
            np.zeros(len(signs)), geo)
    if opts is None or not split_wanted(opts):
        return search_binary(*args, time_limit=time_limit, offset=offset)
    first = min(time_limit, _searchpath.SPLIT_MIN_SECONDS)
    res = search_binary(*args, time_limit=first, offset=offset)
    if res.complete.all() or time_limit <= first:
        return res
    return search_binary_split(*args, time_limit=time_limit - first,
                               workers=opts.search_workers, scheduler=opts.search_scheduler,
                               offset=offset)


def _relaxation_searched(prob: Problem, budgets: list, opts: LabelCertOptions, alphas, F, tops,
                         margins0, eps, pred, skip) -> dict:
    """Robust records of the inexact relaxation, decided by binary relabelling searches.

    The relaxation (spec, inexact multiclass) bounds each one-vs-rest logit separately: ``f_a``
    of the clean top class ``a`` from below and every rival ``f_k`` from above, each over ``B``
    flips of that problem's ±1 labels (threat model projected by :func:`_ovr_threat`); robust
    iff ``min f_a − max_k max f_k > eps``.  With the split ``θ = f_a − (m₀ − eps)/2`` (``m₀``
    the clean margin) each class problem is one :func:`~._search.search_binary` over all open
    test rows, thresholds ``f_a ≥ θ + eps/2`` and ``f_k ≤ θ − eps/2`` as row offsets: a
    finished search whose rows never reach their threshold gives proven bounds ``L ≤ f_a`` and
    ``f_k ≤ U_k`` (``min`` of exact visited margins and pruning bounds), and the record is
    robust when ``L − max U > eps``.  When only one side misses its threshold, the split moves
    to the other side's proven bound (rivals: ``f_k < L − eps``; top: ``f_a > max U + eps``)
    and the missing side is searched once more.  Budgets run in increasing order, each search
    capped at ``search_time`` (default ``time_limit``, 60 s when None) split over the classes
    (and over ``search_workers`` processes when it takes longer than ``SPLIT_MIN_SECONDS``:
    :func:`_class_search`); a time-out stops the larger budgets, a row that fails stays open
    (MILPs, never a guess).
    Path ``search``."""
    if opts.search == "never" or not opts.bound_tightening or prob.n_classes < 3:
        return {}
    geo = KernelGeometry(prob.K)
    if not geo.psd:
        return {}
    cap = opts.search_time or opts.time_limit or 60.0
    theta = F[np.arange(prob.m), tops] - 0.5 * (margins0 - eps)
    out: dict = {}
    alive = np.array([margins0[t] > 2.0 * eps[t] for t in range(prob.m)])
    for B in sorted(b for b in budgets if b > 0):
        rows = np.array([t for t in range(prob.m) if alive[t] and (t, B) not in skip], int)
        if not len(rows):
            continue
        t0 = time.perf_counter()
        lower = np.full((prob.n_classes, prob.m), np.nan)
        okk = np.ones((prob.n_classes, prob.m), bool)
        finished = True

        def run(k, rows_k, offset, B=B, okk=okk, lower=lower):
            signs = np.where(tops == k, 1.0, -1.0)
            got = class_bounds(prob, k, alphas[k], signs, offset, rows_k, B, geo,
                               cap / prob.n_classes, opts)
            if got is not None:
                okk[k, rows_k], lower[k, rows_k] = got
            return got is not None

        for k in range(prob.n_classes):
            if not run(k, rows, np.where(tops == k, theta + 0.5 * eps, -theta + 0.5 * eps)):
                finished = False
                break
        if not finished:
            break
        # one repair per row: if only one side missed its threshold, move the split to the
        # other side's proven bound and search the missing side again
        ar = np.arange(prob.m)
        top_ok = okk[tops, ar]
        rival_ok = np.array([okk[np.arange(prob.n_classes) != tops[t], t].all()
                             for t in range(prob.m)])
        for k in range(prob.n_classes):
            fix_rival = rows[top_ok[rows] & ~okk[k, rows] & (tops[rows] != k)]
            if len(fix_rival):  # need f_k < L − eps
                if not run(k, fix_rival, -(lower[tops, ar] - eps)):
                    finished = False
                    break
            fix_top = rows[~top_ok[rows] & rival_ok[rows] & (tops[rows] == k)]
            if len(fix_top):  # need f_a > max_k U_k + eps
                U = np.array([max(-lower[j, t] for j in range(prob.n_classes) if j != tops[t])
                              if rival_ok[t] else np.inf for t in range(prob.m)])
                if not run(k, fix_top, np.where(np.isfinite(U), U + eps, 0.0)):
                    finished = False
                    break
        if not finished:
            break
        ok = okk.all(axis=0)
        seconds = (time.perf_counter() - t0) / len(rows)
        for t in rows:
            if not ok[t]:
                alive[t] = False  # the relaxation fails at this split: larger budgets too
                continue
            a = tops[t]
            U = max(-lower[k, t] for k in range(prob.n_classes) if k != a)
            value = lower[a, t] - U
            if value > eps[t]:
                out[(t, B)] = make_record(
                    test_index=prob.test_indices[t], budget=B, verdict=Verdict.ROBUST,
                    prediction=pred[t], clean_margin=margins0[t], value=value,
                    value_kind=ValueKind.LOWER_BOUND, path=Path.SEARCH, wall_time=seconds,
                    relaxation="inexact", **threat_extra(prob))
            else:
                alive[t] = False
    return out


def certify_multiclass_inexact(prob: Problem, budgets: list[int], opts: LabelCertOptions,
                               ) -> list[CertificateRecord]:
    if opts.saturated and prob.saturated:  # the exact closed form beats any relaxation
        return saturated_records(prob, budgets, 2.0 * prob.C)
    B_all = threat_enumeration_budget(opts.enumeration, opts.max_enumeration, prob.threat,
                                      budgets, prob.n_classes)
    if B_all is not None and B_all >= max(budgets):
        # every budget is enumerable: the exact certificate is cheaper than the relaxation's
        # MILPs and at least as strong (inexact ≤ exact worst margin)
        return certify_multiclass(prob, budgets, opts)
    alphas, F, tops, margins0 = _clean(prob)
    eps = opts.eps * prob.logit_bounds() * 2.0
    pred = prob.classes[tops]
    out = []
    searched = _searched(prob, budgets, opts, alphas, F, tops, margins0, eps, pred)
    # (the beam attack ran inside _searched, before the search, on every open record)
    models: dict[tuple[int, int], BinaryMILP] = {}
    for t in range(prob.m):
        for B in budgets:
            t0 = time.perf_counter()
            common = dict(test_index=prob.test_indices[t], budget=B, prediction=pred[t],
                          clean_margin=margins0[t], backend=opts.backend, **threat_extra(prob))
            if (t, B) in searched and margins0[t] > 0 and B > 0:  # exact, by the search
                out.append(searched[(t, B)])
                continue
            if margins0[t] <= 0 or B == 0:
                v = Verdict.ROBUST if margins0[t] > eps[t] else (
                    Verdict.NOT_ROBUST if margins0[t] <= 0 else Verdict.UNKNOWN)
                out.append(make_record(**common, verdict=v, value=margins0[t],
                                       value_kind=ValueKind.WORST_MARGIN, path=Path.TRIVIAL,
                                       relabelling={} if v is Verdict.NOT_ROBUST else None))
                continue
            bounds, witnesses, res = {}, [], None
            for k in range(prob.n_classes):
                key = (k, B)
                if key not in models:
                    yk = np.where(prob.codes == k, 1.0, -1.0)
                    models[key] = BinaryMILP(prob.K, yk, prob.C, B,
                                             linearization=opts.linearization,
                                             backend=opts.backend,
                                             options=opts.solver_options(),
                                             threat=_ovr_threat(prob, k),
                                             complementarity=opts.complementarity)
                model = models[key]
                sign = 1.0 if k == tops[t] else -1.0  # min f_a, max f_k (= min −f_k)
                yk = model.y_pm
                x0 = model.start(np.zeros(prob.n, bool), alphas[k]) if opts.warm_start else None
                res = model.solve(model.objective(prob.K_test[t], sign), Sense.MINIMIZE,
                                  warm_start=x0)
                bounds[k] = None if res.bound is None else sign * res.bound
                if res.has_solution:
                    flips = model.flips_of(res.x)
                    labels = prob.codes.copy()
                    for i in np.flatnonzero(flips):
                        labels[i] = k if yk[i] < 0 else (tops[t] if k != tops[t] else
                                                         int(np.argsort(F[t])[-2]))
                    witnesses.append(labels)
            L = bounds[tops[t]]
            U = [bounds[k] for k in range(prob.n_classes) if k != tops[t]]
            verdict, value, kind, labels = Verdict.UNKNOWN, None, ValueKind.NONE, None
            if L is not None and all(u is not None for u in U):
                value, kind = L - max(U), ValueKind.LOWER_BOUND
                if value > eps[t]:
                    verdict = Verdict.ROBUST
            if verdict is not Verdict.ROBUST:
                for cand in witnesses:
                    changed = cand != prob.codes
                    if changed.any() and prob.threat.admissible(changed, B, cand):
                        replay = _replay(prob, cand, prob.K_test[t], tops[t])
                        if replay <= 0:
                            verdict, value, kind, labels = (Verdict.NOT_ROBUST, replay,
                                                            ValueKind.WITNESS_MARGIN, cand)
                            break
            out.append(make_record(
                **common, verdict=verdict, value=value, value_kind=kind, path=Path.MILP,
                relabelling=None if labels is None else prob.relabelling_from_labels(labels),
                res=res, wall_time=time.perf_counter() - t0))
    return out
