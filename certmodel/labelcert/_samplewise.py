"""Sample-wise binary LabelCert (Thm 1) with the exact shortcuts, chosen automatically.

For each test point ``t`` and budget ``B`` the worst margin is
``min_{y: ≤B flips} s_t · f_t(y)`` where ``f_t(y)`` is the SVM retrained on ``y``.  Paths, in
the order tried (each reported in the record's ``path``):

1. ``saturated`` — ``C < 1/max_i Σ_j |K_ij|``: every α = C, so ``f_t = C Σ_i K_ti y_i`` is
   label-linear and ScaLabelCert's sort is exact (spec §4);
2. ``trivial`` — budget 0: the clean margin decides;
3. ``attack`` — a greedy attack with exact retraining; a replayed success is a witness for
   every budget ≥ its size (monotonicity);
4. ``bound`` — the stability bound (:mod:`._stability`): the margin exceeds the most any
   relabelling within the budget can move the logit (PSD kernels);
5. ``enumeration`` — every relabelling with ≤ B flips retrained exactly, when there are at
   most ``max_enumeration`` of them (one pass serves all remaining test points);
   Then a beam attack (:func:`~._attack.beam_attack`, the ``beam_width`` lowest retrained
   margins kept per step) on the records still open, also path ``attack``;
6. ``search`` — branch and bound over relabellings (:mod:`._search`, exact retraining at
   the nodes, subtrees skipped by the stability bound) on the budgets where the cost model
   of :mod:`._searchpath` prefers it to the MILP;
7. ``milp`` — the KKT MILP (one model per budget, objective swapped per test point, warm
   start, decision mode, product bounds and big-M tightened by the stability bound);
   budgets are visited from the largest down so that one robust answer
   settles every smaller budget (``monotone``).

``robust`` needs a proven lower bound ``> eps·P_t``; ``not_robust`` a replayed witness;
everything else is ``unknown``.
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.backends.base import DecisionTarget
from certmodel.labelcert._attack import beam_attack, beam_stage, greedy_attacks
from certmodel.labelcert._enumerate import (
    enumerate_binary,
    enumerate_binary_costs,
    threat_enumeration_budget,
)
from certmodel.labelcert._options import LabelCertOptions
from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary
from certmodel.labelcert._records import make_record, put_enumerated, threat_extra
from certmodel.labelcert._searchpath import FALLBACK_SHARE, binary_search_records
from certmodel.labelcert._stability import KernelGeometry, budget_bounds, readout_radius
from certmodel.learners import solve_svm_dual
from certmodel.milp.formulations import BinaryMILP
from certmodel.milp.standard_form import Sense
from certmodel.results import CertificateRecord, Path, ValueKind, Verdict

__all__ = ["certify_samplewise", "saturated_records"]


def saturated_records(prob: Problem, budgets: list[int], weight: float,
                      ) -> list[CertificateRecord]:
    """Closed form in the saturated regime via ScaLabelCert with ``W = weight · K_test``."""
    from certmodel import scalabel

    t0 = time.perf_counter()
    y = prob.classes[prob.codes]
    recs = scalabel.certify(weight * prob.K_test, y, budgets, n_classes=None,
                            test_indices=prob.test_indices,
                            threat=None if prob.threat.model.is_default else prob.threat.model)
    per = (time.perf_counter() - t0) / max(len(recs), 1)
    out = []
    for r in recs:
        path = Path.TRIVIAL if r.path is Path.TRIVIAL else Path.SATURATED
        extra = {**r.extra, "C_saturated": True}
        if r.verdict is Verdict.UNKNOWN:  # knapsack node limit: leave it to the other paths
            extra["note"] = "cost knapsack not settled within its node limit"
        out.append(r.replace(method="labelcert", path=path, wall_time=per, extra=extra))
    return out


class _BudgetModels:
    """One MILP per budget, built lazily and reused for every test point."""

    def __init__(self, prob: Problem, opts: LabelCertOptions, bounds=None):
        self.prob, self.opts, self.models = prob, opts, {}
        self.bounds = bounds  # budget -> (g_lo, g_hi, delta) or None
        self.build_time = 0.0

    def get(self, budget: int) -> BinaryMILP:
        if budget not in self.models:
            t0 = time.perf_counter()
            b = self.bounds(budget) if self.bounds is not None else None
            self.models[budget] = BinaryMILP(
                self.prob.K, self.prob.y_pm, self.prob.C, budget,
                linearization=self.opts.linearization, backend=self.opts.backend,
                options=self.opts.solver_options(), g_bounds=None if b is None else b[:2],
                threat=self.prob.threat, complementarity=self.opts.complementarity)
            if self.prob.customize is not None:  # the user's edits to the open model
                self.prob.customize(self.models[budget].model)
            self.build_time += time.perf_counter() - t0
        return self.models[budget]


def _replay(prob: Problem, flips: np.ndarray, k_t: np.ndarray, sign: float) -> float:
    """Margin after retraining on the flipped labels (+inf if retraining fails: no witness)."""
    try:
        z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
    except RetrainFailed:
        return np.inf
    return float(sign * k_t @ z)


def _custom_extra(prob: Problem) -> dict:
    """``{"customized": name}`` when the user's ``customize`` function edited the MILPs."""
    fn = prob.customize
    if fn is None:
        return {}
    return {"customized": getattr(fn, "__qualname__", None) or repr(fn)}


def _admissible(prob: Problem, model: BinaryMILP, res, budget) -> bool:
    """A MILP witness is used only if it is admissible under the threat model and, for a
    customised model, satisfies every constraint of the (edited) model."""
    flips = model.flips_of(res.x)
    if not prob.threat.admissible(flips, budget):
        return False
    return prob.customize is None or model.satisfies(res.x)


def _milp_decide(prob, models, opts, t, k_t, sign, budget, eps_abs, start, options=None):
    """Solve the budget-B MILP for test row t; returns (verdict, value, kind, flips, res).
    ``options``: solver options for this record (default: the model's)."""
    model = models.get(budget)
    c = model.objective(k_t, sign)
    x0 = model.start(*start) if (opts.warm_start and start is not None) else None
    decision = DecisionTarget(eps_abs) if opts.decision else None
    res = model.solve(c, Sense.MINIMIZE, warm_start=x0, decision=decision, options=options)
    if res.has_solution and res.incumbent <= eps_abs:
        flips = model.flips_of(res.x)
        replay = _replay(prob, flips, k_t, sign) if _admissible(prob, model, res, budget) \
            else np.inf
        if replay <= 0:
            return Verdict.NOT_ROBUST, replay, ValueKind.WITNESS_MARGIN, flips, res
        if decision is not None:  # incumbent in the tolerance band: optimise to settle it
            res = model.solve(c, Sense.MINIMIZE, warm_start=res.x, decision=None,
                              options=options)
    if res.bound is not None and res.bound > eps_abs:
        kind = ValueKind.LOWER_BOUND
        return Verdict.ROBUST, res.bound, kind, None, res
    if res.has_solution and res.incumbent <= eps_abs:
        flips = model.flips_of(res.x)
        replay = _replay(prob, flips, k_t, sign) if _admissible(prob, model, res, budget) \
            else np.inf
        if replay <= 0:
            return Verdict.NOT_ROBUST, replay, ValueKind.WITNESS_MARGIN, flips, res
    value = res.bound
    return Verdict.UNKNOWN, value, ValueKind.LOWER_BOUND if value is not None else \
        ValueKind.NONE, None, res


def certify_samplewise(prob: Problem, budgets: list[int], opts: LabelCertOptions, *,
                       milp: bool = True, deadline: float | None = None,
                       ) -> list[CertificateRecord]:
    """Binary sample-wise certificates for every test row and budget (see module docstring).

    ``milp=False`` stops before the MILP stage and returns only the records the cheaper
    stages decided (the collective certificate's screen, :mod:`._collective`); ``deadline``
    (a :func:`time.perf_counter` time) then bounds its relabelling searches and tree
    estimates (:func:`~._searchpath.binary_search_records`)."""
    if opts.saturated and prob.saturated:
        return saturated_records(prob, budgets, prob.C)
    y = prob.y_pm
    clean = solve_svm_dual(prob.K, y, prob.C)
    alpha0 = clean.alpha
    f = prob.K_test @ (y * alpha0)
    signs = np.where(f >= 0, 1.0, -1.0)
    margins0 = signs * f
    pred = np.where(signs > 0, prob.classes[1], prob.classes[0])
    eps = opts.eps * prob.logit_bounds()
    threat = prob.threat
    dec: dict[tuple[int, int], CertificateRecord] = {}
    times = np.zeros(prob.m)
    backend = opts.backend

    def put(t, B, verdict, value, kind, path, flips=None, res=None, **extra):
        relab = None if flips is None else prob.relabelling_from_flips(flips)
        dec[(t, B)] = make_record(
            test_index=prob.test_indices[t], budget=B, verdict=verdict, prediction=pred[t],
            clean_margin=margins0[t], value=value, value_kind=kind, path=path,
            relabelling=relab, res=res, backend=backend, **threat_extra(prob),
            **_custom_extra(prob), **extra)

    # budget 0 and non-positive clean margins (not for a customised model: the user's
    # constraints may exclude the clean labelling, so the MILP decides every record)
    for t in range(prob.m if prob.customize is None else 0):
        if margins0[t] <= 0:
            for B in budgets:
                put(t, B, Verdict.NOT_ROBUST, margins0[t], ValueKind.WORST_MARGIN, Path.TRIVIAL,
                    flips=np.zeros(prob.n, bool))
        elif 0 in budgets:
            v = Verdict.ROBUST if margins0[t] > eps[t] else Verdict.UNKNOWN
            put(t, 0, v, margins0[t], ValueKind.WORST_MARGIN, Path.TRIVIAL)

    # attack first: a replayed greedy success is a witness for every budget >= its size
    paths = {}
    if opts.attack:
        todo = {t: [B for B in budgets if (t, B) not in dec] for t in range(prob.m)}
        todo = {t: v for t, v in todo.items() if v}
        if todo:
            t0 = time.perf_counter()
            rows = np.array(sorted(todo), dtype=int)
            paths = greedy_attacks(prob, alpha0, rows, signs, [max(todo[t]) for t in rows])
            times[rows] += (time.perf_counter() - t0) / len(rows)
            for t in rows:
                k = paths[t].first_success()
                if k is None:
                    continue
                for B in todo[t]:
                    if threat.within(paths[t].cost(k), B):
                        put(t, B, Verdict.NOT_ROBUST, paths[t].margins[k],
                            ValueKind.WITNESS_MARGIN, Path.ATTACK, flips=paths[t].flips[k])

    # the stability bound: margins larger than the most the budget can move the logit
    stability = None
    if opts.bound_tightening and clean.converged:  # the bound needs the exact clean optimum
        geo = KernelGeometry(prob.K)
        cache: dict[int, tuple | None] = {}

        def stability(B):  # over every admissible set: ≤ max_flips(B) flippable points
            if B not in cache:
                cache[B] = budget_bounds(geo, prob.K, y, prob.C, alpha0, threat.max_flips(B),
                                         None if threat.mask.all() else threat.mask)
            return cache[B]

        for B in sorted(set(budgets) - {0}):
            todo = [t for t in range(prob.m) if (t, B) not in dec]
            if not todo or stability(B) is None:
                continue
            t0 = time.perf_counter()
            lower = margins0[todo] - readout_radius(geo, prob.K_test[todo], prob.C,
                                                    stability(B)[2])
            for t, lb in zip(todo, lower):
                if lb > eps[t]:
                    put(t, B, Verdict.ROBUST, lb, ValueKind.LOWER_BOUND, Path.BOUND)
            times[todo] += (time.perf_counter() - t0) / len(todo)

    # exact enumeration, one pass for all test points, up to the largest cheap budget
    open_budgets = {B for t in range(prob.m) for B in budgets if (t, B) not in dec}
    B_enum = threat_enumeration_budget(opts.enumeration, opts.max_enumeration, threat,
                                       open_budgets)
    if B_enum is not None and B_enum > 0:
        rows = np.array([t for t in range(prob.m)
                         if any((t, B) not in dec for B in budgets if B <= B_enum)], dtype=int)
        if len(rows):
            t0 = time.perf_counter()
            try:
                if threat.unit_cost:
                    worst, witness = enumerate_binary(prob, alpha0, signs, B_enum, rows)
                else:
                    worst, witness = enumerate_binary_costs(
                        prob, alpha0, signs, [B for B in open_budgets if B <= B_enum], rows)
            except RetrainFailed:  # enumeration is only exact if every retrain converged
                rows, worst, witness = rows[:0], None, None
            times[rows] += (time.perf_counter() - t0) / max(len(rows), 1)

            def flips_of(S):
                flips = np.zeros(prob.n, bool)
                flips[list(S)] = True
                return {"flips": flips}

            put_enumerated(put, dec, rows, worst, witness, budgets, B_enum, eps, flips_of)

    # a beam attack on what is still open, before the search and the MILPs spend their time
    def beam_one(t, budget):
        found = beam_attack(prob, alpha0, t, signs[t], budget, width=opts.beam_width)
        if found is None:
            return None
        flips, margin = found
        return margin, float(threat.cost[flips].sum()), {"flips": flips}

    if opts.attack:
        beam_stage(prob, budgets, opts.beam_width, dec, put, times, beam_one)

    # branch and bound over relabellings where the cost model prefers it to the MILP (#12)
    searched = binary_search_records(prob, opts, alpha0, signs, budgets, dec, put, eps, times,
                                     clean.converged, deadline=deadline)
    # a point the search tried as a fallback (FALLBACK_SHARE of its allowance) leaves its
    # MILPs the rest of their time limit
    short = None if opts.time_limit is None else \
        opts.solver_options().replace(time_limit=(1 - FALLBACK_SHARE) * opts.time_limit)

    if not milp:
        return [dec[(t, B)].replace(wall_time=times[t] / len(budgets))
                for t in range(prob.m) for B in budgets if (t, B) in dec]
    models = _BudgetModels(prob, opts, stability)
    own: dict[tuple[int, int], float] = {}  # seconds of the MILP solve of (t, B)
    for t in range(prob.m):
        todo = [B for B in budgets if (t, B) not in dec]
        if not todo:
            continue
        t0, build0 = time.perf_counter(), models.build_time
        k_t, s = prob.K_test[t], signs[t]
        path = paths.get(t)
        for B in sorted(todo, reverse=True):
            if (t, B) in dec:
                continue
            start = (np.zeros(prob.n, bool), alpha0)
            if path is not None:
                k = path.best_within(B)
                start = (path.flips[k], path.alphas[k])
            tb, bb = time.perf_counter(), models.build_time
            verdict, value, kind, flips, res = _milp_decide(
                prob, models, opts, t, k_t, s, B, eps[t], start,
                short if t in searched else None)
            own[(t, B)] = time.perf_counter() - tb - (models.build_time - bb)  # this budget's
            put(t, B, verdict, value, kind, Path.MILP, flips=flips, res=res)
            if not opts.monotone:
                continue
            if verdict is Verdict.ROBUST:
                for B2 in todo:
                    if B2 < B and (t, B2) not in dec:
                        put(t, B2, Verdict.ROBUST, value, ValueKind.LOWER_BOUND, Path.MONOTONE)
            elif verdict is Verdict.NOT_ROBUST:
                w = float(threat.cost[flips].sum())
                for B2 in todo:
                    if threat.within(w, B2) and (t, B2) not in dec:
                        put(t, B2, Verdict.NOT_ROBUST, value, ValueKind.WITNESS_MARGIN,
                            Path.MONOTONE, flips=flips)
        # model builds are shared by every test point: spread evenly below, not charged here;
        # each MILP solve is charged to its own budget (own), the rest split over budgets
        times[t] += time.perf_counter() - t0 - (models.build_time - build0) \
            - sum(own.get((t, B), 0.0) for B in todo)
    if models.models:
        times += models.build_time / prob.m
    out = []
    for t in range(prob.m):
        for B in budgets:
            out.append(dec[(t, B)].replace(
                wall_time=times[t] / len(budgets) + own.get((t, B), 0.0)))
    return out
