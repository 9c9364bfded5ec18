"""LabelCert: exact certificates for the bias-free kernel SVM (the NTK of a wide network).

:func:`certify` is the entry point: sample-wise binary (Thm 1), collective (Thm 2/4), exact
multiclass (Thm 3) and inexact multiclass (App. A.2), each returning the shared records of
:mod:`certmodel.results`.  The MILPs come from :mod:`certmodel.milp.formulations`; the exact
shortcuts (saturated closed form, enumeration, attack first, budget monotonicity, decision
mode with warm starts) are chosen automatically and reported in each record's ``path``.
"""

from __future__ import annotations

import functools

from certmodel._validation import check_choice
from certmodel.blas import blas_threads
from certmodel.deadline import stage_time_limit
from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert._collective import certify_collective
from certmodel.labelcert._guard import guarded
from certmodel.labelcert._minflips import min_cost_records, min_flips_records
from certmodel.labelcert._multiclass import certify_multiclass, certify_multiclass_inexact
from certmodel.labelcert._options import MODES, LabelCertOptions
from certmodel.labelcert._problem import Problem, check_threat_budgets
from certmodel.labelcert._samplewise import certify_samplewise
from certmodel.labelcert._twoclass import as_two_classes
from certmodel.results import CertificateRecord, CollectiveRecord
from certmodel.threat import ThreatModel

__all__ = ["certify", "min_flips", "LabelCertOptions", "MODES", "Problem"]


def _customized(prob: Problem, mode: str, opts: LabelCertOptions, fn):
    """Validate ``customize`` and switch off every path that may not be exact for an edited
    model (the MILP alone decides).  The instance is kept in the caller's units (not
    rescaled) so that the user's constraints read as written."""
    if not callable(fn):
        raise InvalidParameterError(f"customize must be a callable fn(model), got {fn!r}")
    if mode != "samplewise" or not prob.binary:
        raise InvalidParameterError(
            f"customize is supported for mode='samplewise' with binary labels, got mode={mode!r}"
            f" with {prob.n_classes} classes")
    prob.customize = fn
    opts = opts.replace(saturated=False, attack=False, enumeration="never", search="never",
                        bound_tightening=False, monotone=False)
    return prob, opts


def certify(K, y, K_test, C, budgets, *, mode: str = "samplewise",
            options: LabelCertOptions | None = None, test_indices=None,
            threat: ThreatModel | None = None, customize=None,
            ) -> list[CertificateRecord] | list[CollectiveRecord]:
    """Certify the bias-free kernel SVM trained on ``(K, y)`` against label flips.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Training (labelled-set) kernel, symmetric.
    y : ndarray of shape (n,)
        Labels: two values (binary, e.g. ±1 or 0/1) or ``0..K-1``.
    K_test : ndarray of shape (m, n)
        Kernel between test and training points.
    C : float
        SVM box bound (> 0).
    budgets : int or sequence of int
        Numbers of relabelled training points, ``0..n``.
    mode : {"samplewise", "collective", "multiclass", "multiclass-inexact"}
        ``samplewise`` on a multiclass task runs the exact multiclass certificate.
    options : LabelCertOptions
    test_indices : sequence of int, optional
        Reported ``test_index`` of each row of ``K_test``.
    threat : ThreatModel, optional
        Which training points may be relabelled, at what cost, to which classes (default:
        any ``B`` points to any class).  With per-point costs the budgets are cost budgets
        (real numbers ``≥ 0``).  Every record carries ``extra["threat"]`` when restricted.
    customize : callable, optional
        ``customize(model)`` edits each sample-wise binary MILP (the open Pyomo model of
        :class:`~certmodel.milp.formulations.BinaryMILP`: ``model.adversary.flip[i]``,
        ``model.svm``, ...; built on the caller's ``K``, ``C``), e.g. adds variables and
        constraints.  Only the MILP decides then (every shortcut is off: it may not be exact
        for the edited model — express restrictions as a ``threat`` to keep them); a
        ``not_robust`` witness must satisfy the edited model's constraints and replay by
        retraining; records carry ``extra["customized"]``.

    Returns
    -------
    list of CertificateRecord (one per test point and budget), or of CollectiveRecord
    (one per budget) for ``mode="collective"``.

    Examples
    --------
    >>> import numpy as np
    >>> K = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 2.0]])
    >>> recs = certify(K, [1, 1, -1], K[:1], 0.1, [1])
    >>> recs[0].verdict.value, recs[0].path.value
    ('not_robust', 'saturated')
    """
    check_choice(mode, "mode", MODES)
    opts = options or LabelCertOptions()
    prob = Problem.create(K, y, K_test, C, test_indices, threat=threat)
    if customize is not None:
        prob, opts = _customized(prob, mode, opts, customize)
    else:
        prob = prob.canonical()
    bs = check_threat_budgets(budgets, prob)
    if mode == "collective" and not prob.binary:
        raise InvalidParameterError(
            "mode='collective' needs binary labels (the collective certificate is binary)")
    # a failing solver makes only the records it affects unknown (never an aborted call);
    # time_limit bounds every stage (enumeration, attack: stage_deadline; MILP: hard kill)
    with stage_time_limit(opts.time_limit), blas_threads(opts.blas_threads):
        if mode == "samplewise":
            if prob.binary:
                return guarded(certify_samplewise, prob, bs, opts)
            return guarded(certify_multiclass, prob, bs, opts)
        if mode == "collective":
            return guarded(certify_collective, prob, bs, opts, collective=True)
        if prob.binary and mode.startswith("multiclass"):  # two classes: the binary one
            return guarded(as_two_classes(certify_samplewise), prob, bs, opts)
        if mode == "multiclass":
            return guarded(certify_multiclass, prob, bs, opts)
        return guarded(certify_multiclass_inexact, prob, bs, opts)


def min_flips(K, y, K_test, C, max_budget: int, *, options: LabelCertOptions | None = None,
              test_indices=None, threat: ThreatModel | None = None) -> list[CertificateRecord]:
    """Minimum number of relabelled training points that changes each prediction.

    Sample-wise (binary or exact multiclass) certificates over the budgets ``1..max_budget``,
    exploiting monotonicity: one pass over the cheap budgets, bisection above them.  Returns
    one record per test point at ``budget = max_budget``; ``min_flips`` is the exact minimum
    when it is ``≤ max_budget`` (``n + 1``: no relabelling changes it; ``None``: not settled —
    ``extra["min_flips_lower"]``/``["min_flips_upper"]`` bracket it; upper ``max_budget + 1``
    means robust up to ``max_budget``).  The certified radius is ``min_flips − 1``.
    With a cost ``threat`` the budgets are cost budgets and ``min_flips`` is the minimum
    *cost* of a relabelling that changes the prediction (``extra["min_cost"]``).

    Examples
    --------
    >>> import numpy as np
    >>> K = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 2.0]])
    >>> [r.min_flips for r in min_flips(K, [1, 1, -1], K, 0.1, 3)]
    [1, 1, 1]
    """
    opts = options or LabelCertOptions()
    prob = Problem.create(K, y, K_test, C, test_indices, threat=threat).canonical()
    (max_budget,) = check_threat_budgets([max_budget], prob)
    if max_budget < 1 and (prob.threat.unit_cost or max_budget <= 0):
        raise InvalidParameterError(f"max_budget == {max_budget}, must be >= 1 (> 0 for a "
                                    "cost budget)")
    fn = certify_samplewise if prob.binary else certify_multiclass
    records = min_flips_records if prob.threat.unit_cost else min_cost_records
    with blas_threads(opts.blas_threads):
        return records(functools.partial(guarded, fn), prob, max_budget, opts)
