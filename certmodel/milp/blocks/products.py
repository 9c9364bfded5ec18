"""Exact linearisation of the product of a ±1 label and a bounded quantity.

For ``y ∈ {−1, +1}`` (an affine expression of a binary) and ``x ∈ [−D, D]``, the product
``w = y·x`` is represented exactly by the four big-M rows (spec §5.1 items 1–2)

    w − x ≤ D(1 − y),   x − w ≤ D(1 − y),   w + x ≤ D(1 + y),   −w − x ≤ D(1 + y),

since ``y = 1`` forces ``w = x`` and ``y = −1`` forces ``w = −x``, the other pair being
slack because ``|x| ≤ D``.  When ``x ≥ 0`` is known (``x = α``) the valid rows
``−x ≤ w ≤ x`` are added as well (they tighten the LP relaxation; spec's ``−α ≤ z ≤ α``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyomo.environ as pyo

from certmodel.exceptions import FormulationError

__all__ = ["add_signed_product"]


def add_signed_product(block: pyo.Block, name: str, index: Sequence, *,
                       y: Callable, x: Callable, bound: Callable | float | np.ndarray,
                       nonnegative_x: bool = False) -> pyo.Var:
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
        The bound ``D_k ≥ max|x(k)|``; must be finite and ≥ 0.
    nonnegative_x : bool
        Add ``−x ≤ w ≤ x`` (valid when ``x ≥ 0``).
    """
    index = list(index)
    if callable(bound):
        D = {k: float(bound(k)) for k in index}
    elif np.ndim(bound) == 0:
        D = {k: float(bound) for k in index}
    else:
        arr = np.asarray(bound, dtype=float)
        D = {k: float(arr[i]) for i, k in enumerate(index)}
    bad = [k for k, d in D.items() if not (np.isfinite(d) and d >= 0)]
    if bad:
        raise FormulationError(f"{name}: product bound must be finite and >= 0, got "
                               f"{D[bad[0]]} at index {bad[0]}")
    def _key(k):
        return k[0] if len(k) == 1 else tuple(k)

    w = pyo.Var(index, bounds=lambda _, *k: (-D[_key(k)], D[_key(k)]))
    block.add_component(name, w)
    rows = 6 if nonnegative_x else 4

    def rule(_, *args):
        *k, r = args
        k = _key(k)
        wk, xk, yk, d = w[k], x(k), y(k), D[k]
        if r == 0:
            return wk - xk <= d * (1 - yk)
        if r == 1:
            return xk - wk <= d * (1 - yk)
        if r == 2:
            return wk + xk <= d * (1 + yk)
        if r == 3:
            return -wk - xk <= d * (1 + yk)
        if r == 4:
            return wk <= xk
        return -wk <= xk

    block.add_component(name + "_lin", pyo.Constraint(index, range(rows), rule=rule))
    return w
