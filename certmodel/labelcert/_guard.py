"""Failure isolation: a crashing solver turns only the affected records into ``unknown``.

The certificate functions of this package decide every (test point, budget) of a call in one
pass that shares work (attack, enumeration, one MILP per budget).  If anything in that pass
raises — a backend error ("HiGHS rejected the model"), a solver crash, a numerical failure —
:func:`guarded` runs the call again one budget at a time and, where a budget still fails, one
(test point, budget) at a time (collective: one budget at a time), so every record that can
still be decided is, and each one that raises becomes
``unknown`` with ``solver_status="error"`` and the error in ``extra["error"]``.  ``unknown`` is
sound: it claims nothing.  Bad input (:class:`~certmodel.exceptions.InvalidParameterError`)
and a missing backend (:class:`~certmodel.exceptions.BackendUnavailableError`) still raise:
they are the caller's to fix, not a verdict.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from certmodel.exceptions import BackendUnavailableError, InvalidParameterError
from certmodel.labelcert._problem import Problem
from certmodel.learners import solve_svm_dual
from certmodel.results import CertificateRecord, CollectiveRecord, Path, ValueKind, Verdict

__all__ = ["guarded", "error_text"]

_PASS_THROUGH = (InvalidParameterError, BackendUnavailableError)


def error_text(e: BaseException) -> str:
    """``"Type: message"`` (one line, at most 500 characters)."""
    text = f"{type(e).__name__}: {e}".replace("\n", " ")
    return text if len(text) <= 500 else text[:497] + "..."


def _clean_predictions(prob: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Clean prediction and margin per test row (for the ``unknown`` records only)."""
    try:
        if prob.binary:
            y = prob.y_pm
            f = prob.K_test @ (y * solve_svm_dual(prob.K, y, prob.C, check_input=False).alpha)
            return np.where(f >= 0, prob.classes[1], prob.classes[0]), np.abs(f)
        F = np.empty((prob.m, prob.n_classes))
        for k in range(prob.n_classes):
            yk = np.where(prob.codes == k, 1.0, -1.0)
            F[:, k] = prob.K_test @ (yk * solve_svm_dual(prob.K, yk, prob.C,
                                                        check_input=False).alpha)
        order = np.sort(F, axis=1)
        return prob.classes[np.argmax(F, axis=1)], order[:, -1] - order[:, -2]
    except Exception:  # noqa: BLE001 - the records stay unknown either way
        return np.zeros(prob.m, dtype=int), np.full(prob.m, np.nan)


def _unknown(prob: Problem, row: int, budget, error: str, pred, margin) -> CertificateRecord:
    return CertificateRecord(
        test_index=int(prob.test_indices[row]), budget=budget, verdict=Verdict.UNKNOWN,
        prediction=int(pred[row]), clean_margin=float(margin[row]), value=None,
        value_kind=ValueKind.NONE, method="labelcert", path=Path.MILP, solver_status="error",
        extra={"error": error})


def _unknown_collective(prob: Problem, budget, error: str) -> CollectiveRecord:
    return CollectiveRecord(
        budget=budget, n_test=prob.m, certified_count=0, bound=float(prob.m), incumbent=None,
        method="labelcert", path=Path.MILP, test_indices=tuple(prob.test_indices),
        solver_status="error", extra={"error": error})


def guarded(run: Callable, prob: Problem, budgets: list, opts, *, collective: bool = False,
            ) -> list:
    """``run(prob, budgets, opts)``, isolating failures to the records they affect.

    Records come back in ``run``'s order: by test point, then budget (collective: budget).
    """
    try:
        return run(prob, budgets, opts)
    except _PASS_THROUGH:
        raise
    except Exception:  # noqa: BLE001 - isolated below, reported per record
        pass
    out: list = []
    if collective:
        for B in budgets:
            try:
                out.extend(run(prob, [B], opts))
            except _PASS_THROUGH:
                raise
            except Exception as e:  # noqa: BLE001
                out.append(_unknown_collective(prob, B, error_text(e)))
        return out
    # one budget at a time (shared work kept within a budget), then, for a budget that still
    # fails, one test point at a time
    got: dict[tuple[int, object], object] = {}
    row_of = {int(t): r for r, t in enumerate(prob.test_indices)}  # distinct (validated)
    pred, margin = None, None
    for B in budgets:
        try:
            for rec in run(prob, [B], opts):
                got[(row_of[rec.test_index], B)] = rec
            continue
        except _PASS_THROUGH:
            raise
        except Exception:  # noqa: BLE001 - isolated per test point below
            pass
        for r in range(prob.m):
            try:
                (got[(r, B)],) = run(prob.rows([r]), [B], opts)
            except _PASS_THROUGH:
                raise
            except Exception as e:  # noqa: BLE001
                if pred is None:
                    pred, margin = _clean_predictions(prob)
                got[(r, B)] = _unknown(prob, r, B, error_text(e), pred, margin)
    return [got[(r, B)] for r in range(prob.m) for B in budgets]
