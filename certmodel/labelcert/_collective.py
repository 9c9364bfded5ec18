"""Collective LabelCert (Thm 2/4): how many test predictions can one relabelling change?

When there are at most ``max_enumeration`` relabellings, one exact enumeration pass gives the
largest number of changed predictions at every budget (path ``enumeration``).  Otherwise one
MILP per budget over the whole test set (spec §5.3): ``max Σ_t c_t`` with
``s_t p_t ≤ P_t (1 − c_t)``.  The certified count is ``|T| − floor(bound + 1e-6)`` from the
proven upper bound — sound on time-out.  The incumbent relabelling is replayed by retraining
and the test points it really changes are reported as ``attacked``.  In the saturated regime
the same question is a label-linear collective problem (no KKT block).

**Sample-wise screen.**  Before any collective MILP, the cheap sample-wise stages (attack,
stability bound, enumeration, relabelling search — no MILP; :func:`certify_samplewise` with
``milp=False``) run on every test point; its searches stop at a deadline of
``SCREEN_SHARE`` × ``time_limit`` per budget screened (each search call also at one
``time_limit``; with ``search_time`` set, each call at ``search_time`` and no deadline).  A point
proven robust at budget ``B`` cannot change under any admissible relabelling of budget ``B``, so
the count is at most ``|U|``, ``U`` the points not proven robust; every sample-wise witness
within ``B`` is replayed by retraining and the changes it causes on the *whole* test set are
counted, as is the relabelling of a beam attack on the count over ``U``
(:mod:`certmodel.labelcert._collective_beam`, from width ``beam_width``, widened while it
fits in ``BEAM_SHARE`` of the time limit); the best is grown
greedily by unions with the other witnesses that stay within ``B`` (each union retrained
and counted).  If a witness changes all of ``U`` the record is exact
(path ``samplewise``); otherwise the MILP counts only over ``U`` (a smaller objective, same
proven bound) and its incumbent competes with the best witness.

**Search over the unproven points.**  Before that MILP, the exact collective search
(:func:`~certmodel.labelcert._search.search_collective`) counts over ``U`` alone — the
points outside ``U`` never change at ``B``, so its count is the exact count of the whole
test set, and with few rows to keep open its bounds prune far more than over every test
point (and its pair conflicts, :mod:`certmodel.labelcert._count_pairs`, stay affordable).
It may use ``SCREENED_SEARCH_SHARE`` of the record's own time — ``time_limit``
less the record's share of the screen — (or ``search_time`` when set); finished, the record
is exact (path ``search``); otherwise the MILP gets the time left.  The screen's best
replayed witness is the search's starting incumbent; with ``search_workers > 1`` (or a
``search_scheduler``) the search runs split over processes or the dask cluster
(:mod:`certmodel.labelcert._split_search`).

**Swaps.**  If that search does not finish (and the MILP does not go first, below), a
swap local search
(:mod:`certmodel.labelcert._collective_swap`: drop one flip and take another, or add one,
every neighbour retrained exactly) starts from the screen's best relabelling for
``SWAP_SHARE`` of the time limit; a relabelling that changes more points, replayed, becomes
the best (measured on the open C·rowsum 10 records: one more point on four of eleven
within 1.3 s).  If it changes every unproven point the record is exact (path ``samplewise``).

**Pair separation.**  Then the pairs of unproven points are
separated by searches of combined test points (:mod:`certmodel.labelcert._pairs`) for
``PAIR_SHARE`` of the record's own time: the count is at most the largest clique of unseparated
points, and at most the largest set of unproven points that contains no set proven never to
change together (:mod:`certmodel.labelcert._conflicts`; it meets the replayed count when every
set one larger is refuted).  When that
bound meets the count of a replayed relabelling the record is exact (path ``pairs``);
otherwise it caps the MILP's proven bound (``extra["pair_bound"]``).

**The MILP** (:class:`~certmodel.milp.formulations.CollectiveMILP` over ``U``) gets the
sample-wise MILP's valid bounds on ``K z`` (:func:`_milp_bounds`; tighter KKT big-M), the
(S2) bound on each row's signed margin (tighter indicator big-M), the screen's best witness as
its warm start and every proven conflict set as a cut ``Σ_{t ∈ T} c_t ≤ |T| − 1``.

**MILP first where its bounds decide most KKT states.**  The bounds on ``K z`` fix, for
every training point whose interval excludes ``±1``, which side of the margin it is on under
every admissible relabelling; only the others (``extra["kkt_open_share"]``) leave the MILP
complementarity binaries to branch on.  Where that share is at most
``MILP_FIRST_OPEN_SHARE`` the search gets ``MILP_FIRST_SEARCH_SHARE`` of the record's own
time, the pairs none, and the MILP the rest (measured: C·rowsum 2 instances, share 0–0.71,
the MILP alone decides every open record in 5–24 s; C·rowsum 10, share ≥ 0.89, it decides
none in 60 s — there the search and the pairs keep their shares).

**Time.**  With ``time_limit = T`` a record's stages together stay within about ``T``: its
share of the screen (≤ ``SCREEN_SHARE · T`` for the searches; the attack, bound and
enumeration stages are not interrupted), then search and pairs from what is left, and the
MILP gets ``T`` less everything before it (at least ``MIN_SHARE · T``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import numpy as np

from certmodel.deadline import Deadline, stage_deadline
from certmodel.labelcert._collective_beam import collective_beam
from certmodel.labelcert._collective_swap import collective_swaps
from certmodel.labelcert._enumerate import (
    enumerate_collective,
    enumerate_linear_collective,
    enumeration_budget,
    threat_enumeration_budget,
)
from certmodel.labelcert._options import LabelCertOptions
from certmodel.labelcert._pairs import pair_bound
from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary
from certmodel.labelcert._records import threat_extra
from certmodel.labelcert._samplewise import certify_samplewise
from certmodel.labelcert._search import search_collective
from certmodel.labelcert._searchpath import (
    MILP_SECONDS_IF_UNLIMITED,
    _geometry,
    collective_search,
)
from certmodel.labelcert._split_search import search_collective_split, split_wanted
from certmodel.labelcert._stability import budget_bounds, readout_radius
from certmodel.learners import solve_svm_dual
from certmodel.milp.formulations import CollectiveMILP
from certmodel.results import CollectiveRecord, Path

SCREEN_SHARE = 0.25  # of a record's time_limit, at most, for its share of the screen's searches
SCREENED_SEARCH_SHARE = 0.85  # of the record's time after the screen: the search over U
PAIR_SHARE = 0.1  # ... then the pair separation (the MILP gets what is left: in the
# grids of docs/benchmarks.md it never lowered a bound once the search and pairs had run;
# with the search's own pair conflicts the separation decided no record the search left)
MIN_SHARE = 0.05  # of time_limit: the least a stage that starts is given
MILP_FIRST_OPEN_SHARE = 0.8  # at most this share of KKT states open: the MILP goes first ...
MILP_FIRST_SEARCH_SHARE = 0.25  # ... after a search of this share of the record (no pairs)
BEAM_SHARE = 0.05  # of time_limit: the collective beam widens while its next run fits
SWAP_SHARE = 0.05  # of time_limit: the swap local search after an unfinished search
BEAM_GROWTH = 4  # each wider beam: this many times the last width ...
BEAM_MAX_GROWTH = 16  # ... up to this many times beam_width

__all__ = ["certify_collective"]


def _saturated(prob: Problem, budgets: list[int], opts: LabelCertOptions,
               ) -> list[CollectiveRecord]:
    """Every α = C: ``f_t = C Σ_j K_tj y_j`` is label-linear.  Flipping ``j`` shifts the signed
    margin by ``−2C s_t K_tj ỹ_j``, so small budgets are enumerated without retraining; larger
    ones go to ScaLabelCert's collective MILP (adversary + indicators, no KKT block) with
    ``W = C · K_test``.  Both are exact."""
    from certmodel import scalabel

    y = prob.classes[prob.codes]
    f = prob.C * (prob.K_test @ prob.y_pm)
    signs = np.where(f >= 0, 1.0, -1.0)
    shift = -2.0 * prob.C * signs[:, None] * prob.K_test * prob.y_pm[None, :]
    B_enum = enumeration_budget(opts.enumeration, opts.max_enumeration, prob.n,
                                [B for B in budgets if B > 0])
    count, witness = (enumerate_linear_collective(signs * f, shift, B_enum) if B_enum > 0
                      else (None, None))
    out = []
    for B in budgets:
        t0 = time.perf_counter()
        if 0 < B <= B_enum:
            flips = np.zeros(prob.n, dtype=bool)
            flips[list(witness[B])] = True
            changed = np.flatnonzero(signs * f + shift[:, flips].sum(axis=1) <= 0)
            out.append(CollectiveRecord(
                budget=B, n_test=prob.m, certified_count=prob.m - int(count[B]),
                bound=float(count[B]), incumbent=len(changed), method="labelcert",
                path=Path.SATURATED, test_indices=tuple(prob.test_indices),
                attacked=tuple(prob.test_indices[changed]),
                relabelling=prob.relabelling_from_flips(flips),
                wall_time=time.perf_counter() - t0,
                extra={"C_saturated": True, "enumerated": True}))
            continue
        rec = scalabel.certify_collective(prob.C * prob.K_test, y, int(B), backend=opts.backend,
                                          time_limit=opts.time_limit,
                                          test_indices=prob.test_indices,
                                          options=opts.solver_options())
        path = Path.TRIVIAL if rec.path is Path.TRIVIAL else Path.SATURATED
        out.append(dataclasses.replace(rec, method="labelcert", path=path,
                                       extra={**rec.extra, "C_saturated": True}))
    return out


def certify_collective(prob: Problem, budgets: list[int], opts: LabelCertOptions,
                       ) -> list[CollectiveRecord]:
    if prob.threat.model.is_default:
        return _certify_collective(prob, budgets, opts)
    # a restricted threat model: the label-linear shortcuts do not take it, the general
    # paths (enumeration, search, MILP) are exact in every regime
    out = _certify_collective(prob, budgets, opts.replace(saturated=False))
    return [dataclasses.replace(r, extra={**r.extra, **threat_extra(prob)}) for r in out]


def _certify_collective(prob: Problem, budgets: list, opts: LabelCertOptions,
                        ) -> list[CollectiveRecord]:
    if opts.saturated and prob.saturated:
        return _saturated(prob, budgets, opts)
    y = prob.y_pm
    clean = solve_svm_dual(prob.K, y, prob.C)
    alpha0 = clean.alpha
    f = prob.K_test @ (y * alpha0)
    signs = np.where(f >= 0, 1.0, -1.0)
    # the pruning geometry (an eigendecomposition of K): the same for every budget, computed
    # once, when a record first needs it
    geometry = functools.cache(lambda: _geometry(prob, opts, clean.converged))
    out = []
    enumerated = _enumerate(prob, budgets, opts, alpha0, signs)
    enumerated.update(_searched(prob, [B for B in budgets if B not in enumerated], opts,
                                alpha0, signs, clean.converged))
    screen = _samplewise_screen(prob, [B for B in budgets if B > 0 and B not in enumerated],
                                opts, signs, alpha0)
    for B in budgets:
        t0 = time.perf_counter()
        clean_changed = np.flatnonzero(signs * f <= 0)
        if B in enumerated:
            out.append(enumerated[B])
            continue
        if B == 0:
            bound = float(len(clean_changed))
            out.append(CollectiveRecord(
                budget=0, n_test=prob.m, certified_count=prob.m - len(clean_changed),
                bound=bound, incumbent=len(clean_changed), method="labelcert",
                path=Path.TRIVIAL, test_indices=tuple(prob.test_indices),
                attacked=tuple(prob.test_indices[clean_changed]), relabelling={},
                wall_time=time.perf_counter() - t0))
            continue
        scr = screen.get(B)
        U = np.arange(prob.m) if scr is None else np.flatnonzero(~scr.robust)
        extra = {} if scr is None else {"samplewise_robust": int(prob.m - len(U))}
        if scr is not None and scr.settles():
            out.append(_screened_record(prob, B, scr, extra, time.perf_counter() - t0))
            continue
        milp_opts, conflicts = opts, []
        g_bounds, logit_bounds = _milp_bounds(prob, alpha0, signs, U, B, geometry())
        open_share = _kkt_open_share(g_bounds)
        if open_share is not None:
            extra = {**extra, "kkt_open_share": round(open_share, 4)}
        milp_first = open_share is not None and open_share <= MILP_FIRST_OPEN_SHARE
        if scr is not None and (opts.search == "always" or (
                opts.search == "auto" and opts.enumeration != "never")):
            # the record's time after its share of the screen: 85 % for the search,
            # 10 % for the pairs, the rest for the MILP (an explicit search_time caps each);
            # where the MILP's bounds decide most KKT states, a quarter for the search and
            # the rest for the MILP
            per = opts.time_limit if opts.time_limit is not None else \
                MILP_SECONDS_IF_UNLIMITED
            own = max(per - scr.seconds, MIN_SHARE * per)
            cap = opts.search_time if opts.search_time is not None else \
                (MILP_FIRST_SEARCH_SHARE if milp_first else SCREENED_SEARCH_SHARE) * own
            rec = _screened_search(prob, B, U, opts, alpha0, signs, geometry(), cap,
                                   extra, scr)
            if rec is not None:
                out.append(rec)
                continue
            if not milp_first:  # else the MILP's incumbents come first (and are exact)
                _swapped(prob, B, U, opts, alpha0, signs, scr)
                if scr.settles():  # the swaps changed every unproven point
                    out.append(_screened_record(prob, B, scr, extra,
                                                time.perf_counter() - t0))
                    continue
            if not milp_first:
                pair_cap = opts.search_time if opts.search_time is not None else \
                    PAIR_SHARE * own
                rec, pair_limit, conflicts = _paired(prob, B, U, opts, alpha0, signs,
                                                     geometry(), pair_cap, extra, scr, t0)
                if rec is not None:
                    out.append(rec)
                    continue
                if pair_limit is not None:
                    extra = {**extra, "pair_bound": pair_limit}
        pos = {int(u): k for k, u in enumerate(U)}
        model = CollectiveMILP(prob.K, y, prob.C, B, prob.K_test[U], signs[U],
                               linearization=opts.linearization, backend=opts.backend,
                               options=opts.solver_options(), threat=prob.threat,
                               complementarity=opts.complementarity, g_bounds=g_bounds,
                               logit_bounds=logit_bounds,
                               conflicts=[[pos[int(t)] for t in T] for T in conflicts])
        x0 = _milp_start(prob, model, alpha0, scr) if opts.warm_start else None
        if scr is not None and opts.time_limit is not None:  # the MILP gets what is left
            left = opts.time_limit - scr.seconds - (time.perf_counter() - t0)
            milp_opts = opts.replace(time_limit=max(left, MIN_SHARE * opts.time_limit))
        res = model.solve_count(warm_start=x0, options=milp_opts.solver_options())
        bound = float(res.bound) if res.bound is not None else float(len(U))
        bound = min(bound, float(len(U)))  # points outside U are proven robust at B
        if extra.get("pair_bound") is not None:  # proven by the pair separation
            bound = min(bound, float(extra["pair_bound"]))
        certified = prob.m - min(prob.m, math.floor(bound + 1e-6))
        relab, attacked, incumbent = None, (), None
        z = None
        if res.has_solution:
            flips = model.flips_of(res.x)
            try:
                z = retrain_binary(prob.K, np.where(flips, -y, y), prob.C)
            except RetrainFailed:  # the count bound stays valid; only the replay is lost
                z = None
        if z is not None:
            changed = np.flatnonzero(signs * (prob.K_test @ z) <= 0)
            relab = prob.relabelling_from_flips(flips)
            attacked = tuple(prob.test_indices[changed])
            incumbent = len(changed)
        if scr is not None and scr.count is not None and (incumbent is None
                                                          or scr.count > incumbent):
            incumbent, relab = scr.count, prob.relabelling_from_flips(scr.flips)
            attacked = tuple(prob.test_indices[scr.changed])
        out.append(CollectiveRecord(
            budget=B, n_test=prob.m, certified_count=int(max(0, certified)), bound=bound,
            incumbent=incumbent, method="labelcert", path=Path.MILP,
            test_indices=tuple(prob.test_indices), attacked=attacked, relabelling=relab,
            solver_status=res.termination.value, gap=res.gap,
            wall_time=time.perf_counter() - t0 + (0.0 if scr is None else scr.seconds),
            backend=opts.backend, extra={"model_size": list(model.size), **extra}))
    return out


def _milp_bounds(prob: Problem, alpha0: np.ndarray, signs: np.ndarray, U: np.ndarray, B,
                 geo):
    """``(g_bounds, logit_bounds)`` for the collective MILP over the rows ``U`` at ``B``
    (``(None, None)`` without the pruning geometry ``geo`` — it is None without
    ``bound_tightening``, a PSD kernel or an exact clean optimum):
    the sample-wise MILP's bounds on ``K z`` under every admissible relabelling
    (:func:`~certmodel.labelcert._stability.budget_bounds`, (S1) ∩ (B3)) and, with its radius
    ``Δ``, ``s_t p_t ≤ s_t p⁰_t + κ_t Δ + 2C√n ρ_t`` (S2) on each row's signed margin."""
    if geo is None:
        return None, None
    th = prob.threat
    b = budget_bounds(geo, prob.K, prob.y_pm, prob.C, alpha0, th.max_flips(B),
                      None if th.mask.all() else th.mask)
    if b is None:
        return None, None
    V = prob.K_test[U]
    margins = signs[U] * (V @ (prob.y_pm * alpha0))
    slack = 1e-9 * prob.C * np.abs(V).sum(axis=1)  # rounding: never cut a real margin off
    return b[:2], margins + readout_radius(geo, V, prob.C, b[2]) * (1.0 + 1e-9) + slack


def _kkt_open_share(g_bounds) -> float | None:
    """The share of training points whose KKT state the MILP's valid bounds
    ``g_lo ≤ (K z)_i ≤ g_hi`` leave open: those where ``y (K z)_i = 1`` is possible for a
    label ``y = ±1`` (``α_i`` may be anywhere in ``[0, C]``).  On every other point the bounds
    fix which side of the margin it is on for every admissible relabelling, so the
    complementarity binaries left to branch on are at most this share of ``n`` (None without
    bounds)."""
    if g_bounds is None:
        return None
    lo, hi = np.asarray(g_bounds[0], float), np.asarray(g_bounds[1], float)
    if not len(lo):
        return None
    touches = ((lo <= 1.0) & (hi >= 1.0)) | ((lo <= -1.0) & (hi >= -1.0))
    return float(touches.mean())


def _milp_start(prob: Problem, model: CollectiveMILP, alpha0: np.ndarray,
                screen: _Screen | None) -> np.ndarray:
    """The MILP's warm start: the screen's best replayed witness (retrained exactly), else
    the clean labelling."""
    flips = None if screen is None else screen.flips
    if flips is not None:
        try:
            z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
            return model.start(flips, np.abs(z))
        except RetrainFailed:
            pass
    return model.start(np.zeros(prob.n, bool), alpha0)


@dataclasses.dataclass
class _Screen:
    """Sample-wise screen of one budget: ``robust[t]`` proven; the best replayed witness
    (``flips``, the test rows it changes, their ``count``; ``None`` without a witness)."""

    robust: np.ndarray
    flips: np.ndarray | None
    changed: np.ndarray | None
    count: int | None
    seconds: float

    def settles(self) -> bool:
        """Every point not proven robust is changed by the witness (or there is none)."""
        unproven = int((~self.robust).sum())
        return unproven == 0 or (self.count is not None and self.count >= unproven)


def _screened_record(prob: Problem, B, scr: _Screen, extra: dict, seconds: float,
                     ) -> CollectiveRecord:
    """The exact record of a budget the screen settles: count = number of unproven points."""
    k = int((~scr.robust).sum())
    return CollectiveRecord(
        budget=B, n_test=prob.m, certified_count=prob.m - k, bound=float(k), incumbent=k,
        method="labelcert", path=Path.SAMPLEWISE, test_indices=tuple(prob.test_indices),
        attacked=tuple(prob.test_indices[scr.changed]) if k else (),
        relabelling=prob.relabelling_from_flips(scr.flips) if k else {},
        wall_time=scr.seconds + seconds, extra=extra)


def _samplewise_screen(prob: Problem, budgets: list, opts: LabelCertOptions, signs: np.ndarray,
                       alpha0: np.ndarray | None = None) -> dict:
    """``{B: _Screen}`` from the sample-wise stages without MILPs and the collective beam
    (module docstring); ``alpha0``: the clean dual solution (solved here when None)."""
    if not budgets or prob.customize is not None or not opts.samplewise_screen:
        return {}
    t0 = time.perf_counter()
    cap = opts.search_time if opts.search_time is not None else opts.time_limit
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    # an explicit search_time is the user's cap on each search: then no screen deadline
    deadline = None if opts.search_time is not None else \
        t0 + SCREEN_SHARE * per * len(budgets)
    try:  # the screen only helps: if any of its stages fails, the MILP decides as before
        recs = certify_samplewise(prob, budgets, opts.replace(search_time=cap), milp=False,
                                  deadline=deadline)
    except (RetrainFailed, ArithmeticError, np.linalg.LinAlgError):
        return {}
    pos = {int(v): t for t, v in enumerate(prob.test_indices)}
    robust = {B: np.zeros(prob.m, bool) for B in budgets}
    witnesses: dict = {}
    for r in recs:
        if r.verdict.value == "robust":
            robust[r.budget][pos[int(r.test_index)]] = True
        elif r.verdict.value == "not_robust" and r.relabelling is not None:
            flips = np.zeros(prob.n, bool)
            flips[list(r.relabelling)] = True
            witnesses.setdefault(flips.tobytes(), flips)
    replayed = [w for w in (_replayed(prob, signs, f) for f in witnesses.values()) if w]
    out = {}
    for B in budgets:
        found = replayed + _beam_witness(prob, opts, alpha0, signs,
                                         np.flatnonzero(~robust[B]), B)
        best = _combined(prob, signs, found, B)
        flips, changed = (None, None) if best is None else best[:2]
        out[B] = _Screen(robust[B], flips, changed, None if changed is None else len(changed),
                         0.0)
    seconds = (time.perf_counter() - t0) / len(budgets)
    for scr in out.values():
        scr.seconds = seconds
    return out


def _beam_witness(prob: Problem, opts: LabelCertOptions, alpha0: np.ndarray | None,
                  signs: np.ndarray, U: np.ndarray, B) -> list:
    """The collective beam's relabelling over the unproven rows ``U`` at ``B``
    (:func:`~certmodel.labelcert._collective_beam.collective_beam`, candidates
    ``beam_width``; only with ``attack``), replayed by retraining: ``[(flips, changed,
    cost)]``, or ``[]`` when it changes nothing or the replay fails.

    The width starts at ``beam_width`` and grows ``BEAM_GROWTH``-fold (up to
    ``BEAM_MAX_GROWTH`` × ``beam_width``) while the next beam, predicted at
    ``BEAM_GROWTH`` + 1 times the last one's seconds, fits in ``BEAM_SHARE`` of the
    record's time limit: a wider beam keeps more partial relabellings whose changes come
    later (measured: width 512 changes one more point than 32 on random RBF and NTK
    instances, n = 60, budget 6, in 1.3 s)."""
    if not opts.attack or opts.beam_width <= 0 or not len(U):
        return []
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    t0 = time.perf_counter()
    width, best = opts.beam_width, (0, None)
    try:
        if alpha0 is None:
            alpha0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
        while True:
            t1 = time.perf_counter()
            count, flips = collective_beam(prob, alpha0, signs, U, B, width=width,
                                           candidates=opts.beam_width,
                                           deadline=stage_deadline())
            if count > best[0]:
                best = (count, flips)
            took, spent = time.perf_counter() - t1, time.perf_counter() - t0
            width *= BEAM_GROWTH
            if (best[0] >= len(U) or width > BEAM_MAX_GROWTH * opts.beam_width
                    or spent + (BEAM_GROWTH + 1) * took > BEAM_SHARE * per):
                break
    except RetrainFailed:
        pass
    count, flips = best
    if count <= 0 or flips is None or not flips.any():
        return []
    w = _replayed(prob, signs, flips)
    return [w] if w is not None else []


def _replayed(prob: Problem, signs: np.ndarray, flips: np.ndarray):
    """``(flips, changed, cost)``: the relabelling ``flips`` retrained, the test rows it
    changes and its cost; None when the retrain fails (no witness)."""
    try:
        z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
    except RetrainFailed:
        return None
    return flips, np.flatnonzero(signs * (prob.K_test @ z) <= 0), \
        float(prob.threat.cost[flips].sum())


def _combined(prob: Problem, signs: np.ndarray, replayed: list, B):
    """The best replayed witness within budget ``B``, grown greedily by unions with the
    others: starting from the witness that changes most test points, each further witness
    (most changes first) whose union stays admissible within ``B`` and may add a new point is
    united, retrained, and kept if the union changes more points.  Returns ``(flips,
    changed, cost)`` of a replayed relabelling, or None without an admissible witness."""
    th = prob.threat
    ok = [w for w in replayed if th.within(w[2], B) and th.admissible(w[0], B)]
    if not ok:
        return None
    ok.sort(key=lambda w: (-len(w[1]), w[2]))
    best = ok[0]
    for flips, changed, _ in ok[1:]:
        if np.isin(changed, best[1]).all():
            continue  # nothing new to gain from this witness
        union = best[0] | flips
        cost = float(th.cost[union].sum())
        if not (th.within(cost, B) and th.admissible(union, B)):
            continue
        try:
            z = retrain_binary(prob.K, np.where(union, -prob.y_pm, prob.y_pm), prob.C)
        except RetrainFailed:
            continue
        now = np.flatnonzero(signs * (prob.K_test @ z) <= 0)
        if len(now) > len(best[1]):
            best = (union, now, cost)
    return best


def _swapped(prob: Problem, B, U: np.ndarray, opts: LabelCertOptions, alpha0: np.ndarray,
             signs: np.ndarray, screen: _Screen) -> None:
    """The swap local search (:mod:`certmodel.labelcert._collective_swap`) from the screen's
    best relabelling (the clean labels when there is none) for ``SWAP_SHARE`` of the time
    limit (only with ``attack``); a relabelling it finds that changes more test points, once
    replayed by retraining, replaces the screen's best."""
    if not opts.attack or not len(U):
        return
    per = opts.time_limit if opts.time_limit is not None else MILP_SECONDS_IF_UNLIMITED
    left = stage_deadline().remaining()
    seconds = SWAP_SHARE * per if left is None else min(SWAP_SHARE * per, left)
    if seconds <= 0:
        return
    start = screen.flips if screen.flips is not None else np.zeros(prob.n, bool)
    try:
        count, flips = collective_swaps(prob, alpha0, signs, U, B, start,
                                        Deadline.after(seconds))
    except RetrainFailed:
        return
    if count <= (screen.count or 0) or not flips.any():
        return
    w = _replayed(prob, signs, flips)
    th = prob.threat
    if w is not None and len(w[1]) > (screen.count or 0) and th.admissible(w[0], B):
        screen.flips, screen.changed, screen.count = w[0], w[1], len(w[1])


def _screened_search(prob: Problem, B, U: np.ndarray, opts: LabelCertOptions,
                     alpha0: np.ndarray, signs: np.ndarray, geo, cap: float,
                     extra: dict, screen: _Screen) -> CollectiveRecord | None:
    """The exact record of budget ``B`` from the collective search over the unproven test
    points ``U`` (module docstring), or None when it does not finish within ``cap`` s.  The
    screen's best replayed witness starts the search as its incumbent."""
    if geo is None or not len(U):
        return None
    t0 = time.perf_counter()
    start = None
    if screen.flips is not None:
        start = (int(np.isin(screen.changed, U).sum()), np.flatnonzero(screen.flips),
                 float(prob.threat.cost[screen.flips].sum()))
    try:
        if split_wanted(opts):
            count, witness, complete, nodes = search_collective_split(
                prob.rows(U), alpha0, signs[U], [B], geo, time_limit=cap, incumbent=start,
                workers=opts.search_workers, scheduler=opts.search_scheduler)
        else:
            count, witness, complete, nodes = search_collective(
                prob.rows(U), alpha0, signs[U], [B], geo, time_limit=cap, incumbent=start)
    except RetrainFailed:
        return None
    if not complete:
        return None
    flips = np.zeros(prob.n, bool)
    flips[list(witness[0])] = True
    return _search_record(prob, B, int(count[0]), flips, signs,
                          time.perf_counter() - t0 + screen.seconds,
                          {**extra, "search_nodes": nodes})


def _paired(prob: Problem, B, U: np.ndarray, opts: LabelCertOptions, alpha0: np.ndarray,
            signs: np.ndarray, geo, cap: float, extra: dict, screen: _Screen,
            t0: float) -> tuple[CollectiveRecord | None, int | None, list]:
    """The pair separation of :mod:`certmodel.labelcert._pairs` over the unproven points
    ``U`` for up to ``cap`` s: ``(record, None, sets)`` when its bound meets the count of a
    replayed relabelling — an exact record, path ``pairs`` — else ``(None, bound, sets)``
    with the proven bound for the MILP's record (``None`` when it proves nothing below
    ``|U|``); ``sets``: the sets of test rows proven never to change together (separated
    pairs and conflict sets: cuts for the MILP).
    The pairs' joint relabellings are replayed and, with the screen's best witness, grown by
    unions within ``B`` (:func:`_combined`); a better one replaces the screen's best (the
    MILP record's incumbent then starts from it)."""
    if not opts.pair_separation or geo is None or len(U) < 2:
        return None, None, []
    best = screen.count or 0
    try:
        pb = pair_bound(prob, alpha0, signs, U, B, geo, cap, target=best,
                        seeds=[] if screen.flips is None else [screen.flips])
    except RetrainFailed:
        return None, None, []
    flips, changed = screen.flips, screen.changed
    if pb.witnesses:  # the pairs' joint relabellings and the screen's best, grown by unions
        found = [] if flips is None else [(flips, changed, float(prob.threat.cost[flips].sum()))]
        found += [w for w in (_replayed(prob, signs, f) for f in pb.witnesses) if w]
        grown = _combined(prob, signs, found, B)
        if grown is not None and len(grown[1]) > best:
            flips, changed, best = grown[0], grown[1], len(grown[1])
            screen.flips, screen.changed, screen.count = flips, changed, best
    sets = [tuple(p) for p in pb.separated] + [tuple(c) for c in pb.conflicts]
    if pb.bound >= len(U):
        return None, None, sets
    if flips is None or pb.bound > best:
        return None, pb.bound, sets
    return CollectiveRecord(
        budget=B, n_test=prob.m, certified_count=prob.m - pb.bound, bound=float(pb.bound),
        incumbent=best, method="labelcert", path=Path.PAIRS,
        test_indices=tuple(prob.test_indices), attacked=tuple(prob.test_indices[changed]),
        relabelling=prob.relabelling_from_flips(flips),
        wall_time=time.perf_counter() - t0 + screen.seconds,
        extra={**extra, "separated_pairs": len(pb.separated),
               "conflict_sets": len(pb.conflicts)}), None, sets


def _search_record(prob: Problem, B, count: int, flips: np.ndarray, signs: np.ndarray,
                   seconds: float, extra: dict) -> CollectiveRecord | None:
    """The exact record (path ``search``) of a finished collective search: the proven
    ``count`` and its witness ``flips`` replayed by retraining on the whole test set (it was
    retrained in the search; never trusted blindly).  None if the replay fails."""
    try:
        z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
    except RetrainFailed:
        return None
    changed = np.flatnonzero(signs * (prob.K_test @ z) <= 0)
    return CollectiveRecord(
        budget=B, n_test=prob.m, certified_count=prob.m - count, bound=float(count),
        incumbent=len(changed), method="labelcert", path=Path.SEARCH,
        test_indices=tuple(prob.test_indices), attacked=tuple(prob.test_indices[changed]),
        relabelling=prob.relabelling_from_flips(flips), wall_time=seconds, extra=extra)


def _searched(prob: Problem, budgets: list, opts: LabelCertOptions, alpha0: np.ndarray,
              signs: np.ndarray, converged: bool) -> dict[int, CollectiveRecord]:
    """Exact records of the relabelling search (path ``search``) where the cost model of
    :mod:`._searchpath` prefers it to the collective MILP."""
    t0 = time.perf_counter()
    found = collective_search(prob, opts, alpha0, signs, [B for B in budgets if B > 0],
                              converged)
    out = {}
    for B, (count, flips, nodes) in found.items():
        rec = _search_record(prob, B, count, flips, signs,
                             (time.perf_counter() - t0) / max(len(found), 1),
                             {"search_nodes": nodes})
        if rec is not None:
            out[B] = rec
    return out


def _enumerate(prob: Problem, budgets: list[int], opts: LabelCertOptions, alpha0: np.ndarray,
               signs: np.ndarray) -> dict[int, CollectiveRecord]:
    """Exact records for every positive budget up to the largest cheap one (one pass)."""
    threat = prob.threat
    B_enum = threat_enumeration_budget(opts.enumeration, opts.max_enumeration, threat,
                                       [B for B in budgets if B > 0])
    if B_enum is None or B_enum <= 0:
        return {}
    t0 = time.perf_counter()
    try:
        count, witness = enumerate_collective(
            prob, alpha0, signs, B_enum,
            None if threat.unit_cost else [B for B in budgets if 0 < B <= B_enum])
    except RetrainFailed:  # only exact if every retrain converged: leave it to the MILP
        return {}
    per = (time.perf_counter() - t0) / len([B for B in budgets if 0 < B <= B_enum])
    out = {}
    for B in budgets:
        if not 0 < B <= B_enum:
            continue
        flips = np.zeros(prob.n, dtype=bool)
        flips[list(witness[B])] = True
        z = retrain_binary(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C)
        changed = np.flatnonzero(signs * (prob.K_test @ z) <= 0)
        out[B] = CollectiveRecord(
            budget=B, n_test=prob.m, certified_count=prob.m - int(count[B]),
            bound=float(count[B]), incumbent=len(changed), method="labelcert",
            path=Path.ENUMERATION, test_indices=tuple(prob.test_indices),
            attacked=tuple(prob.test_indices[changed]),
            relabelling=prob.relabelling_from_flips(flips), wall_time=per,
            extra={"relabellings": int(sum(math.comb(int(threat.mask.sum()), b)
                                           for b in range(threat.max_flips(B) + 1)))})
    return out
