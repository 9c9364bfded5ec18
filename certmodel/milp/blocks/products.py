"""Exact linearisation of the product of a ±1 label and a bounded quantity.

For ``y ∈ {−1, +1}`` (an affine expression of a binary) and ``x ∈ [L, U]``, the product
``w = y·x`` is represented exactly by the four big-M rows (spec §5.1 items 1–2; the
symmetric case ``L = −D, U = D`` is the reference's)

    w − x ≤ −L(1 − y),   x − w ≤ U(1 − y),   w + x ≤ U(1 + y),   −w − x ≤ −L(1 + y),

since ``y = 1`` forces ``w = x`` and ``y = −1`` forces ``w = −x``, the other pair being
slack because ``L ≤ x ≤ U``; ``w ∈ [min(L, −U), max(U, −L)]``.  When ``x ≥ 0`` is known
(``x = α``) the valid rows ``−x ≤ w ≤ x`` are added as well (they tighten the LP
relaxation; spec's ``−α ≤ z ≤ α``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyomo.environ as pyo

from certmodel.exceptions import FormulationError

__all__ = ["add_signed_product"]


def _per_index(name: str, index: list, value) -> dict:
    if callable(value):
        out = {k: float(value(k)) for k in index}
    elif np.ndim(value) == 0:
        out = {k: float(value) for k in index}
    else:
        arr = np.asarray(value, dtype=float)
        out = {k: float(arr[i]) for i, k in enumerate(index)}
    bad = [k for k, d in out.items() if not np.isfinite(d)]
    if bad:
        raise FormulationError(f"{name}: product bound must be finite, got {out[bad[0]]} at "
                               f"index {bad[0]}")
    return out


def add_signed_product(block: pyo.Block, name: str, index: Sequence, *,
                       y: Callable, x: Callable, bound: Callable | float | np.ndarray,
                       nonnegative_x: bool = False, lower=None) -> pyo.Var:
    """Add ``w[k] = y(k)·x(k)`` for every ``k`` in ``index`` to ``block`` and return ``w``.

    Parameters
    ----------
    block : pyomo Block
        Where the variable ``name`` and the constraint ``name + "_lin"`` are added.
    index : sequence
        Index set of the products.
    y, x : callable
        ``y(k)`` an expression taking values in {−1, +1} at integer points;
        ``x(k)`` an expression with ``|x(k)| ≤ bound(k)``.
    bound : callable, float or array
        The bound ``D_k ≥ max|x(k)|`` (finite, ≥ 0) — or, with ``lower``, the upper bound
        ``U_k ≥ max x(k)``.
    lower : callable, float or array, optional
        ``L_k ≤ min x(k)`` (default ``−bound``); must not exceed ``bound``.
    nonnegative_x : bool
        Add ``−x ≤ w ≤ x`` (valid when ``x ≥ 0``).
    """
    index = list(index)
    U = _per_index(name, index, bound)
    if lower is None:
        if any(d < 0 for d in U.values()):
            raise FormulationError(f"{name}: product bound must be >= 0")
        L = {k: -d for k, d in U.items()}
    else:
        L = _per_index(name, index, lower)
        bad = [k for k in index if L[k] > U[k]]
        if bad:
            raise FormulationError(f"{name}: lower bound {L[bad[0]]} > upper bound "
                                   f"{U[bad[0]]} at index {bad[0]}")

    def _key(k):
        return k[0] if len(k) == 1 else tuple(k)

    w = pyo.Var(index, bounds=lambda _, *k: (min(L[_key(k)], -U[_key(k)]),
                                             max(U[_key(k)], -L[_key(k)])))
    block.add_component(name, w)
    rows = 6 if nonnegative_x else 4

    def rule(_, *args):
        *k, r = args
        k = _key(k)
        wk, xk, yk, lo, up = w[k], x(k), y(k), L[k], U[k]
        if r == 0:
            return wk - xk <= -lo * (1 - yk)
        if r == 1:
            return xk - wk <= up * (1 - yk)
        if r == 2:
            return wk + xk <= up * (1 + yk)
        if r == 3:
            return -wk - xk <= -lo * (1 + yk)
        if r == 4:
            return wk <= xk
        return -wk <= xk

    block.add_component(name + "_lin", pyo.Constraint(index, range(rows), rule=rule))
    return w
