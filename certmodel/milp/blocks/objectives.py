"""Objective building blocks: test logits, flip indicators (collective), max over rivals.

* Logit of test point ``t``: ``p_t = Σ_j K_tj z_j`` with ``|p_t| ≤ P_t = C Σ_j |K_tj|``.
* Flip indicators (spec §5.3): binary ``c_t`` with ``m_t ≤ P_t (1 − c_t)`` where ``m_t`` is the
  signed margin of test point ``t`` — ``c_t = 1`` only if the margin is driven to ``≤ 0``;
  maximising ``Σ_t c_t`` counts predictions one relabelling can change.
* Max over rivals (spec §5.4): ``m ≥ p_k`` for every rival ``k`` and
  ``m ≤ p_k + M_k (1 − β_k)``, ``Σ_k β_k = 1`` — so ``m = max_k p_k`` exactly, with
  ``M_k = max_j U_j + L_k`` from the logit bounds ``p_k ∈ [−L_k, U_k]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyomo.environ as pyo

from certmodel.exceptions import FormulationError

__all__ = ["logit_expression", "logit_bound", "add_flip_indicators", "add_max_over"]


def logit_expression(k_t: np.ndarray, z) -> pyo.Expression:
    """``p_t = Σ_j k_t[j] z_j`` (zero kernel entries skipped)."""
    return sum(float(k_t[j]) * z[j] for j in np.flatnonzero(k_t))


def logit_bound(k_t: np.ndarray, C: float) -> float:
    """``P_t = C Σ_j |k_t[j]|`` — no labelling moves ``|p_t|`` above it."""
    return float(C * np.abs(k_t).sum())


def add_flip_indicators(parent: pyo.Block, name: str, margins: Mapping | Sequence,
                        bounds: Mapping | Sequence) -> pyo.Block:
    """Add binaries ``c[t]`` with ``margin_t ≤ bound_t (1 − c_t)`` and the expression ``count``.

    Parameters
    ----------
    margins : mapping or sequence of expressions
        Signed margin of each test point (positive = clean prediction kept).
    bounds : mapping or sequence of float
        ``bound_t ≥ max margin_t`` (finite).
    """
    keys = list(margins.keys()) if isinstance(margins, Mapping) else list(range(len(margins)))
    bnd = {t: float(bounds[t]) for t in keys}
    if not all(np.isfinite(v) and v >= 0 for v in bnd.values()):
        raise FormulationError(f"{name}: indicator bounds must be finite and >= 0")
    b = pyo.Block()
    parent.add_component(name, b)
    b.T = pyo.Set(initialize=keys)
    b.c = pyo.Var(b.T, domain=pyo.Binary)
    b.link = pyo.Constraint(b.T, rule=lambda blk, t: margins[t] <= bnd[t] * (1 - blk.c[t]))
    b.count = pyo.Expression(expr=sum(b.c[t] for t in b.T))
    return b


def add_conflict_cuts(parent: pyo.Block, name: str, c, sets: Sequence) -> pyo.Block:
    """Add ``Σ_{t ∈ T} c_t ≤ |T| − 1`` for every set ``T`` of indicator keys in ``sets``:
    sets of test points proven never to change together (conflict sets of
    :mod:`certmodel.labelcert._conflicts`), valid cuts on the count of changed predictions
    (a set of one key: ``c_t ≤ 0``, that point never changes)."""
    sets = [tuple(T) for T in sets]
    bad = [T for T in sets if len(T) < 1 or len(set(T)) != len(T)]
    if bad:
        raise FormulationError(f"{name}: conflict sets must be non-empty sets of distinct "
                               f"keys, got {bad[0]!r}")
    b = pyo.Block()
    parent.add_component(name, b)
    b.S = pyo.RangeSet(0, len(sets) - 1) if sets else pyo.Set(initialize=[])
    b.cut = pyo.Constraint(b.S, rule=lambda blk, k: sum(c[t] for t in sets[k])
                           <= len(sets[k]) - 1)
    return b


def add_max_over(parent: pyo.Block, name: str, exprs: Mapping, lower: Mapping,
                 upper: Mapping) -> pyo.Block:
    """Add ``m = max_k exprs[k]`` exactly, with ``lower[k] ≤ exprs[k] ≤ upper[k]``.

    Returns a block with variable ``m`` and binaries ``beta[k]`` (which rival attains the max).
    """
    keys = list(exprs.keys())
    if not keys:
        raise FormulationError(f"{name}: max over an empty set")
    U = max(float(upper[k]) for k in keys)
    L = min(float(lower[k]) for k in keys)
    b = pyo.Block()
    parent.add_component(name, b)
    b.K = pyo.Set(initialize=keys)
    b.m = pyo.Var(bounds=(L, U))
    b.beta = pyo.Var(b.K, domain=pyo.Binary)
    b.above = pyo.Constraint(b.K, rule=lambda blk, k: blk.m >= exprs[k])
    b.attained = pyo.Constraint(
        b.K, rule=lambda blk, k: blk.m <= exprs[k] + (U - float(lower[k])) * (1 - blk.beta[k]))
    b.one = pyo.Constraint(expr=sum(b.beta[k] for k in b.K) == 1)
    return b
