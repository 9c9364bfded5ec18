"""Sample-wise ScaLabelCert records for label-linear learners (one record per point and budget)."""

from __future__ import annotations

import time
import types

import numpy as np

from certmodel._validation import check_budgets, check_test_indices
from certmodel.results import CertificateRecord, Path, ValueKind, Verdict
from certmodel.scalabel._inputs import prepare
from certmodel.scalabel.restricted import certify_restricted
from certmodel.scalabel.sort import _analyse
from certmodel.threat import resolve_threat

__all__ = ["certify", "DEFAULT_EPS"]

DEFAULT_EPS = 1e-12
"""Relative tie tolerance: margins ``≤ DEFAULT_EPS · Σ_i |W_ti|`` count as ties (not robust)."""


def certify(W, y, budgets, *, n_classes=None, test_indices=None,
            eps: float = DEFAULT_EPS, threat=None) -> list[CertificateRecord]:
    """Exact sample-wise certificates for a label-linear learner at every budget.

    The verdict at budget ``B`` is ``robust`` iff the exact worst margin
    ``min_{b≠a} (M_ab − S_b(B)) > eps · Σ_i |W_ti|`` (see :mod:`certmodel.scalabel.sort`);
    otherwise ``not_robust`` with the relabelling realising that worst margin.  The value is
    an optimum computed in float64, so a verdict is never ``unknown``; ``eps`` only guards
    ties against round-off (a tie is not robust).

    Parameters
    ----------
    W : array of shape (m, n)
        Label-independent weights: ``f_c(x_t) = Σ_i W[t, i] 1[y_i = c]`` (binary:
        ``f = W @ y_pm``).  See :func:`certmodel.scalabel.weights_for`.
    y : array of shape (n,)
        Training labels: ``0..K-1``, or ``±1`` for a binary task.  Predictions and
        relabellings are reported in these label values.
    budgets : int or sequence of int
        Budgets ``0..n``.
    n_classes : int, optional
        Number of classes; default: 2 for ``±1`` labels, else ``max(y) + 1`` (at least 2).
    test_indices : sequence of int, optional
        ``test_index`` of each row of ``W`` (default ``0..m-1``).
    eps : float, default=1e-12
        Relative tie tolerance (``eps=0``: plain strict comparison in float64).
    threat : ThreatModel, optional
        Restricted threat model (flippable mask, per-point costs — budgets are then cost
        budgets —, target classes): handled by :mod:`certmodel.scalabel.restricted` (masked
        sort; exact knapsack branch and bound for costs, where a sort is not exact).

    Returns
    -------
    list of CertificateRecord
        Ordered by test point, then budget.  ``min_flips`` is the minimum number of
        relabels that changes or ties the prediction (``n + 1``: impossible); the certified
        radius is ``min_flips − 1``.  ``path`` is ``trivial`` at budget 0 or when the clean
        margin is not positive, else ``sort``.
    """
    t_start = time.perf_counter()
    prob = prepare(W, y, n_classes=n_classes, eps=eps)
    resolved = resolve_threat(threat, prob.n, prob.n_classes)
    if resolved.unit_cost:
        bs = check_budgets(budgets, prob.n)
    else:
        from certmodel.labelcert._problem import check_threat_budgets

        bs = check_threat_budgets(budgets, types.SimpleNamespace(threat=resolved, n=prob.n))
    if test_indices is None:
        test_indices = np.arange(prob.m)
    test_indices = check_test_indices(test_indices, prob.m)
    if not resolved.model.is_default:
        recs = certify_restricted(prob.W, prob.codes, prob.classes, bs, resolved,
                                  test_indices, prob.eps)
        per = (time.perf_counter() - t_start) / max(1, len(recs))
        return [r.replace(wall_time=per) for r in recs]
    an = _analyse(prob, bs)
    per = (time.perf_counter() - t_start) / max(1, prob.m * len(bs))
    records = []
    for t in range(prob.m):
        pred = int(prob.classes[an.pred[t]])
        eps_abs = float(an.eps_abs[t])
        trivial_clean = an.clean_margin[t] <= eps_abs
        for B in bs:
            wm = float(an.worst[B][t])
            robust = wm > eps_abs
            records.append(CertificateRecord(
                test_index=int(test_indices[t]), budget=B,
                verdict=Verdict.ROBUST if robust else Verdict.NOT_ROBUST,
                prediction=pred, clean_margin=float(an.clean_margin[t]), value=wm,
                value_kind=ValueKind.WORST_MARGIN, method="scalabel",
                path=Path.TRIVIAL if (B == 0 or trivial_clean) else Path.SORT,
                wall_time=per, relabelling=None if robust else an.worst_relabel[B][t],
                min_flips=int(an.min_flips[t]),
                extra={"eps_abs": eps_abs,
                       "rival": int(prob.classes[an.worst_rival[B][t]])},
            ))
    return records
