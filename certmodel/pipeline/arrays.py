"""Certificates for a precomputed kernel problem: one task of a run, or an instance file.

Dispatch only: LabelCert (:mod:`certmodel.labelcert`) for the SVM, ScaLabelCert
(:mod:`certmodel.scalabel`) for label-linear learners with weights from
:func:`certmodel.pipeline.fit.label_linear_weights`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from certmodel import scalabel
from certmodel._validation import check_choice
from certmodel.exceptions import BackendUnavailableError, InvalidParameterError
from certmodel.pipeline.config import LEARNERS, METHODS, MODES
from certmodel.pipeline.fit import label_linear_weights
from certmodel.results import CertificateRecord, CollectiveRecord, Path

__all__ = ["certify_arrays", "certify_task"]


def certify_arrays(K_train, y, K_test, C, budgets, *, method="labelcert", mode="samplewise",
                   learner="svm", ridge=1.0, solver="highs", time_limit=None,
                   eps: float | None = None, test_indices=None, labelcert_options=None,
                   threat=None) -> list[CertificateRecord | CollectiveRecord]:
    """Certificates for a precomputed kernel problem (one task of a run, or an instance file).

    Parameters
    ----------
    K_train : ndarray (n, n)
    y : ndarray (n,)
        ``±1`` (binary) or ``0..K-1`` labels.
    K_test : ndarray (m, n)
    C : float
        SVM box bound (``learner="svm"``).
    budgets : sequence of int
    method, mode, learner, ridge, solver, time_limit
        As in :class:`CertifyConfig`.
    eps : float, optional
        Soundness margin of LabelCert (default: its own, 1e-6 relative).
    test_indices : sequence of int, optional
        ``test_index`` of each row of ``K_test``.
    labelcert_options : LabelCertOptions, optional
        Base options of LabelCert (e.g. ``max_enumeration``); ``solver``, ``time_limit`` and
        ``eps`` above override its fields.
    threat : ThreatModel, optional
        Restricted threat model (flippable mask, per-point costs, target classes).
    """
    check_choice(method, "--method", METHODS)
    check_choice(mode, "--mode", MODES)
    check_choice(learner, "--learner", LEARNERS)
    from certmodel.backends.base import check_backend_name

    check_backend_name(solver, "solver")
    if method == "labelcert":
        if learner != "svm":
            raise InvalidParameterError("--method labelcert certifies the SVM: use --learner svm")
        # imported here, not at the top: LabelCert builds Pyomo models, and Pyomo is loaded
        # only when a MILP path is used
        from certmodel import labelcert
        from certmodel.labelcert import LabelCertOptions

        kw: dict[str, Any] = {"backend": solver, "time_limit": time_limit}
        if eps is not None:
            kw["eps"] = eps
        base = labelcert_options or LabelCertOptions()
        return labelcert.certify(K_train, y, K_test, C, list(budgets), mode=mode,
                                 options=base.replace(**kw), test_indices=test_indices,
                                 threat=threat)
    classes = np.unique(y)
    binary = classes.size <= 2 and set(classes.tolist()) <= {-1, 1}
    n_classes = 2 if binary else int(np.max(y)) + 1
    W = label_linear_weights(np.asarray(K_train, float), np.asarray(K_test, float), y, C,
                             learner, ridge, n_classes)
    if mode == "collective":
        return [_collective_or_error(W, y, B, solver, time_limit, test_indices, threat)
                for B in budgets]
    # sample-wise on labels 0..K-1 is the multiclass certificate (as in labelcert.certify)
    return scalabel.certify(W, y, list(budgets), test_indices=test_indices, threat=threat)


def _collective_or_error(W, y, budget, solver, time_limit, test_indices, threat=None,
                         ) -> CollectiveRecord:
    """ScaLabelCert's collective MILP for one budget; a solver failure certifies nothing
    (``certified_count = 0``, ``solver_status = "error"``) instead of aborting the call."""
    try:
        return scalabel.certify_collective(W, y, budget, backend=solver, time_limit=time_limit,
                                           test_indices=test_indices, threat=threat)
    except (InvalidParameterError, BackendUnavailableError):
        raise
    except Exception as e:  # noqa: BLE001 - reported in the record
        m = W.shape[0]
        idx = range(m) if test_indices is None else test_indices
        return CollectiveRecord(
            budget=budget, n_test=m, certified_count=0, bound=float(m), incumbent=None,
            method="scalabel", path=Path.MILP, test_indices=tuple(int(i) for i in idx),
            solver_status="error", extra={"error": f"{type(e).__name__}: {e}"[:500]})


def certify_task(payload: dict) -> list:
    """Worker entry point: one chunk of test points (module-level, picklable)."""
    return certify_arrays(**payload)
