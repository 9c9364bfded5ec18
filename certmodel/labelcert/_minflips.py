"""The minimum number of flips that changes each prediction, by monotone bisection.

``k*(t) = min{B : worst margin of t under B flips ≤ 0}``; the certified radius is ``k* − 1``.
The worst margin is non-increasing in ``B`` (more flips include fewer), so ``robust at B``
gives ``k* > B`` and a witness with ``w`` flips gives ``k* ≤ w``.  One sample-wise pass over
the budgets ``1..B_cheap`` (one enumeration pass serves them all) settles most points; the
rest are bisected on ``(B_cheap, max_budget]`` with the full pipeline (attack, bound, MILP).
An ``unknown`` answer leaves the interval ``[lower, upper]`` open — never a guess.
"""

from __future__ import annotations

import numpy as np

from certmodel.labelcert._enumerate import n_relabellings
from certmodel.labelcert._options import LabelCertOptions
from certmodel.results import CertificateRecord, Verdict

__all__ = ["min_flips_records"]


def _sweep_budget(n: int, max_budget: int, opts: LabelCertOptions) -> int:
    B = 1
    while B < max_budget and n_relabellings(n, B + 1) <= opts.max_enumeration:
        B += 1
    return min(B, max_budget)


def min_flips_records(certify_fn, prob, max_budget: int, opts: LabelCertOptions,
                      ) -> list[CertificateRecord]:
    """One record per test point at ``budget = max_budget`` with ``min_flips`` when settled.

    ``extra["min_flips_lower"]``/``["min_flips_upper"]`` bracket ``k*`` (upper
    ``max_budget + 1`` means "robust up to ``max_budget``"); ``min_flips`` is set when they
    meet, and the record's verdict is for ``max_budget``.
    """
    m = prob.m
    lower = np.ones(m, dtype=int)  # k* ≥ 1 for a positive clean margin (0 handled below)
    upper = np.full(m, max_budget + 1)
    best: dict[int, CertificateRecord] = {}
    witness: dict[int, CertificateRecord] = {}

    def absorb(t: int, rec: CertificateRecord) -> None:
        if rec.verdict is Verdict.ROBUST:
            lower[t] = max(lower[t], rec.budget + 1)
            best.setdefault(t, rec)
            if rec.budget >= best[t].budget:
                best[t] = rec
        elif rec.verdict is Verdict.NOT_ROBUST:
            w = len(rec.relabelling or {})
            if w < upper[t]:
                upper[t] = w
                witness[t] = rec

    B_sweep = _sweep_budget(prob.n, max_budget, opts)
    recs = certify_fn(prob, list(range(1, B_sweep + 1)), opts)
    for r, rec in enumerate(recs):
        absorb(r // B_sweep, rec)
    for t in range(m):  # bisection on what the sweep left open
        while lower[t] < upper[t] and lower[t] <= max_budget:
            mid = (lower[t] + min(upper[t], max_budget + 1)) // 2
            mid = max(mid, lower[t])
            sub = prob.rows([t])
            rec = certify_fn(sub, [mid], opts)[0]
            absorb(t, rec)
            if rec.verdict is Verdict.UNKNOWN:
                break
    out = []
    for t in range(m):
        lo, up = int(lower[t]), int(upper[t])
        if up <= max_budget and t in witness:
            base, verdict = witness[t], Verdict.NOT_ROBUST
        elif lo > max_budget:
            base, verdict = best[t], Verdict.ROBUST
        else:
            base = best.get(t) or witness.get(t) or recs[t * B_sweep]
            verdict = Verdict.UNKNOWN
        if up == 0 or (lo == up and up <= max_budget):
            k = up
        elif lo > int(prob.threat.mask.sum()):  # robust with every flippable label changed
            k = prob.n + 1
        else:
            k = None
        out.append(base.replace(
            budget=max_budget, verdict=verdict, min_flips=k,
            extra={**base.extra, "min_flips_lower": min(lo, up), "min_flips_upper": up}))
    return out


MAX_LEVELS = 200_000  # distinct subset costs the minimum-cost bisection may visit


def cost_levels(threat, max_budget: float, limit: int = MAX_LEVELS) -> np.ndarray | None:
    """Sorted distinct costs ``≤ max_budget`` of flippable subsets (``0`` first), or ``None``
    when there are more than ``limit``.  The worst margin only changes at these values."""
    sums = {0.0}
    for c in np.sort(threat.cost[threat.mask]):
        new = {round(s + float(c), 12) for s in sums if threat.within(s + float(c), max_budget)}
        sums |= new
        if len(sums) > limit:
            return None
    return np.array(sorted(sums))


def min_cost_records(certify_fn, prob, max_budget: float, opts: LabelCertOptions,
                     ) -> list[CertificateRecord]:
    """Minimum *cost* of a relabelling that changes each prediction (per-point costs).

    ``c*(t) = min{cost(S) : S admissible, margin under S ≤ 0}``.  The worst margin is a step
    function of the cost budget that only changes at subset costs, so bisection over the
    sorted distinct subset costs ``L_0 = 0 < L_1 < …`` (:func:`cost_levels`) is exact:
    robust at ``L_k`` gives ``c* > L_k``; a witness of cost ``w`` gives ``c* ≤ w``.  Records
    carry ``extra["min_cost"]`` when settled (``inf``: no relabelling within
    ``max_budget``; ``None``: open, bracketed by ``min_cost_lower``/``min_cost_upper``
    levels) and ``min_flips = None`` (not a count).
    """
    from certmodel.exceptions import InvalidParameterError

    th = prob.threat
    levels = cost_levels(th, max_budget)
    if levels is None:
        raise InvalidParameterError(
            f"min_flips with per-point costs: more than {MAX_LEVELS} distinct subset costs up "
            f"to max_budget={max_budget}; use coarser (e.g. integer) costs or a smaller budget")
    m, L = prob.m, len(levels)
    lower = np.ones(m, dtype=int)  # index into levels: c* >= levels[lower]
    upper = np.full(m, L)  # c* <= levels[upper] (L: not within max_budget)
    best: dict[int, CertificateRecord] = {}
    witness: dict[int, CertificateRecord] = {}

    def level_of(cost: float) -> int:
        return int(np.searchsorted(levels, cost - 1e-9 * max(1.0, abs(cost))))

    def absorb(t: int, rec: CertificateRecord) -> None:
        if rec.verdict is Verdict.ROBUST:
            lower[t] = max(lower[t], level_of(rec.budget) + 1)
            if t not in best or rec.budget >= best[t].budget:
                best[t] = rec
        elif rec.verdict is Verdict.NOT_ROBUST:
            w = level_of(float(th.cost[list(rec.relabelling or {})].sum()))
            if w < upper[t]:
                upper[t] = w
                witness[t] = rec

    first = certify_fn(prob, [float(levels[min(1, L - 1)])], opts) if L > 1 else \
        certify_fn(prob, [0], opts)
    for t, rec in enumerate(first):
        absorb(t, rec)
    for t in range(m):
        if first[t].verdict is Verdict.NOT_ROBUST and not first[t].relabelling:
            upper[t] = 0
        while lower[t] < upper[t]:
            mid = (lower[t] + upper[t]) // 2
            if mid >= L:
                mid = L - 1
            rec = certify_fn(prob.rows([t]), [float(levels[mid])], opts)[0]
            absorb(t, rec)
            if rec.verdict is Verdict.UNKNOWN:
                break
            if rec.verdict is Verdict.ROBUST and mid == L - 1:
                break
    out = []
    for t in range(m):
        lo, up = int(lower[t]), int(upper[t])
        if up < L and t in witness:
            base, verdict = witness[t], Verdict.NOT_ROBUST
        elif up == 0:
            base, verdict = first[t], Verdict.NOT_ROBUST
        elif lo >= L:
            base, verdict = best[t], Verdict.ROBUST
        else:
            base = best.get(t) or witness.get(t) or first[t]
            verdict = Verdict.UNKNOWN
        if lo >= L:
            cost = float("inf")
        elif lo >= up:
            cost = float(levels[up])
        else:
            cost = None
        out.append(base.replace(
            budget=max_budget, verdict=verdict, min_flips=None,
            extra={**base.extra, "min_cost": cost,
                   "min_cost_lower": float(levels[min(lo, L - 1)]) if lo < L else float("inf"),
                   "min_cost_upper": float(levels[up]) if up < L else float("inf")}))
    return out
