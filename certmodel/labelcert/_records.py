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
        test_index=int(test_index), budget=int(budget), verdict=verdict,
        prediction=int(prediction), clean_margin=float(clean_margin),
        value=None if value is None else float(value), value_kind=value_kind,
        method=METHOD, path=path,
        solver_status=None if res is None else res.termination.value,
        gap=None if res is None else res.gap, wall_time=float(wall_time),
        backend=backend if res is not None else None, relabelling=relabelling,
        extra={k: v for k, v in extra.items() if v is not None})
