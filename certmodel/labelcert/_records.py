"""Helpers that turn decisions into :class:`~certmodel.results.CertificateRecord` objects."""

from __future__ import annotations

from certmodel.backends.base import SolveResult
from certmodel.results import CertificateRecord, Path, ValueKind, Verdict

METHOD = "labelcert"


def make_record(*, test_index: int, budget: int, verdict: Verdict, prediction: int,
                clean_margin: float, value, value_kind: ValueKind, path: Path,
                relabelling=None, res: SolveResult | None = None, backend: str | None = None,
                wall_time: float = 0.0, **extra) -> CertificateRecord:
    return CertificateRecord(
        test_index=int(test_index),
        budget=int(budget) if float(budget).is_integer() else float(budget), verdict=verdict,
        prediction=int(prediction), clean_margin=float(clean_margin),
        value=None if value is None else float(value), value_kind=value_kind,
        method=METHOD, path=path,
        solver_status=None if res is None else res.termination.value,
        gap=None if res is None else res.gap, wall_time=float(wall_time),
        backend=backend if res is not None else None, relabelling=relabelling,
        extra={k: v for k, v in {**extra, **_solver_reason(res)}.items() if v is not None})


def _solver_reason(res: SolveResult | None) -> dict:
    """Why a solve ended undecided (killed at the hard deadline, licence cap, solver error):
    the tail of the backend's log, kept in the record's ``extra["solver_log"]``."""
    if res is None or res.termination.value in ("optimal", "decided") or not res.log:
        return {}
    return {"solver_log": res.log[-2000:]}


def threat_extra(prob) -> dict:
    """``{"threat": ...}`` for a record's ``extra`` when the threat model is restricted."""
    return {} if prob.threat.model.is_default else {"threat": prob.threat.model.to_dict()}


def put_enumerated(put, dec, rows, worst, witness, budgets, B_enum: int, eps,
                   witness_kw) -> None:
    """Records from exact worst margins ``worst[r, B]`` (enumeration) for every open budget.

    ``robust`` if the margin exceeds ``eps[t]``, ``not_robust`` if it is ``≤ 0`` (with the
    relabelling ``witness_kw(witness[r][B])`` passed to ``put``), ``unknown`` in between.
    """
    for r, t in enumerate(rows):
        for B in budgets:
            if B > B_enum or (t, B) in dec:
                continue
            w = worst[r, B]
            if w > eps[t]:
                put(t, B, Verdict.ROBUST, w, ValueKind.WORST_MARGIN, Path.ENUMERATION)
            elif w <= 0:
                put(t, B, Verdict.NOT_ROBUST, w, ValueKind.WORST_MARGIN, Path.ENUMERATION,
                    **witness_kw(witness[r][B]))
            else:
                put(t, B, Verdict.UNKNOWN, w, ValueKind.WORST_MARGIN, Path.ENUMERATION,
                    note="worst margin within eps of 0")
