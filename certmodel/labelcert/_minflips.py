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
        elif lo > prob.n:  # robust even when every label may change: impossible
            k = prob.n + 1
        else:
            k = None
        out.append(base.replace(
            budget=max_budget, verdict=verdict, min_flips=k,
            extra={**base.extra, "min_flips_lower": min(lo, up), "min_flips_upper": up}))
    return out
