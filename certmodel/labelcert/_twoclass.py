"""Two classes in a multiclass mode: the binary certificate, reported in multiclass units.

With labels ``{c0, c1}`` the one-vs-rest SVMs are mirror images: class ``c1``'s problem has
labels ``ỹ`` and class ``c0``'s has ``−ỹ``; ``Q = (yyᵀ)∘K`` is the same for both, so both have
the same ``α`` and ``f_{c1} = −f_{c0} = f``.  The multiclass margin ``f_top − f_other`` is
therefore exactly ``2|f|`` under every relabelling (a relabelling moves a point to the other
class, i.e. flips it), and the exact binary certificate decides every record of ``multiclass``
and of ``multiclass-inexact`` (whose relaxation is only needed for three or more classes).
Margins and bounds are doubled to the multiclass definition; verdicts are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from certmodel.results import CertificateRecord, ValueKind

__all__ = ["as_two_classes"]

_MARGIN_KINDS = (ValueKind.WORST_MARGIN, ValueKind.WITNESS_MARGIN, ValueKind.LOWER_BOUND)


def _to_multiclass_units(rec: CertificateRecord) -> CertificateRecord:
    value = rec.value
    if value is not None and rec.value_kind in _MARGIN_KINDS:
        value = 2.0 * value
    return rec.replace(clean_margin=2.0 * rec.clean_margin, value=value,
                       extra={**rec.extra, "two_classes": "binary certificate, margin 2|f|"})


def as_two_classes(binary_fn: Callable) -> Callable:
    """Wrap a binary certificate function ``fn(prob, budgets, opts)`` for a multiclass mode."""

    def run(prob, budgets, opts):
        return [_to_multiclass_units(r) for r in binary_fn(prob, budgets, opts)]

    return run
